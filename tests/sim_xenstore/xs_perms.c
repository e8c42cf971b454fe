/* sim_xs_perms: Xen's permission semantics, with domains 5 and 7
 * introduced by domain 0 through libxenstore and each speaking through its
 * own socket: owner and per-domain read/write, domain 0 privileged,
 * inheritance with the unprivileged creator as owner, EACCES rather than
 * ENOENT under an unreadable parent, no giving nodes away, and cleanup on
 * release (the quotas: sim_xs_quota). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "vmsg_test.h"
#include "xs_harness.h"

static void expect_read(struct xs_handle *xs, const char *path,
			const char *want)
{
	unsigned len;
	char *v = xs_read(xs, XBT_NULL, path, &len);
	if (!v)
		VMSG_TEST_FAIL("read %s: %s", path, strerror(errno));
	ASSERT_EQ(len, strlen(want));
	ASSERT_TRUE(strcmp(v, want) == 0);
	free(v);
}

static void expect_read_err(struct xs_handle *xs, const char *path, int e)
{
	unsigned len;
	char *v = xs_read(xs, XBT_NULL, path, &len);
	ASSERT_TRUE(v == NULL);
	ASSERT_EQ(errno, e);
}

static void expect_write_err(struct xs_handle *xs, const char *path, int e)
{
	ASSERT_TRUE(!xs_write(xs, XBT_NULL, path, "x", 1));
	ASSERT_EQ(errno, e);
}

static void expect_owner(struct xs_handle *xs, const char *path,
			 unsigned owner, unsigned n)
{
	unsigned num;
	struct xs_permissions *p = xs_get_permissions(xs, XBT_NULL, path, &num);
	if (!p)
		VMSG_TEST_FAIL("get_permissions %s: %s", path, strerror(errno));
	ASSERT_EQ(p[0].id, owner);
	ASSERT_EQ(num, n);
	free(p);
}

int main(int argc, char **argv)
{
	ASSERT_EQ(argc, 2);
	xsh_need_utils();
	struct xsh h;
	xsh_start(&h, argv[1]);
	char out[4096];

	struct xs_handle *x0 = xsh_open(&h, 0);
	ASSERT_TRUE(!xs_is_domain_introduced(x0, 5));
	ASSERT_TRUE(xs_introduce_domain(x0, 5, 1005, 15));
	ASSERT_TRUE(xs_introduce_domain(x0, 7, 1007, 17));
	/* Repeating an introduce with the same page is accepted. */
	ASSERT_TRUE(xs_introduce_domain(x0, 7, 1007, 17));
	ASSERT_TRUE(xs_is_domain_introduced(x0, 5));
	ASSERT_TRUE(xs_is_domain_introduced(x0, 0));
	ASSERT_TRUE(xsh_exists(xsh_sock(&h, 5)));
	ASSERT_TRUE(xsh_exists(xsh_sock(&h, 7)));
	char *dp = xs_get_domain_path(x0, 5);
	ASSERT_TRUE(dp && strcmp(dp, "/local/domain/5") == 0);
	free(dp);
	/* The home exists, owned by the domain, closed to others. */
	expect_owner(x0, "/local/domain/5", 5, 1);

	struct xs_handle *x5 = xsh_open(&h, 5);
	struct xs_handle *x7 = xsh_open(&h, 7);
	/* Only domain 0 may introduce. */
	ASSERT_TRUE(!xs_introduce_domain(x5, 9, 1, 1));
	ASSERT_EQ(errno, EACCES);

	/* dom0 writes under dom5's home (the node inherits owner 5) and makes
	 * it readable by 5 only, with Debian's xenstore-chmod. */
	ASSERT_EQ(xsh_run(&h, 0, out, sizeof(out),
			  (const char *const[]){"xenstore-write",
						"/local/domain/5/data/x",
						"secret", NULL}),
		  0);
	expect_owner(x0, "/local/domain/5/data/x", 5, 1);
	ASSERT_EQ(xsh_run(&h, 0, out, sizeof(out),
			  (const char *const[]){"xenstore-chmod",
						"/local/domain/5/data/x", "n0",
						"r5", NULL}),
		  0);
	expect_owner(x0, "/local/domain/5/data/x", 0, 2);

	/* Domain 5 reads it, with xenstore-read on its own socket too. */
	expect_read(x5, "/local/domain/5/data/x", "secret");
	ASSERT_EQ(xsh_run(&h, 5, out, sizeof(out),
			  (const char *const[]){"xenstore-read",
						"/local/domain/5/data/x", NULL}),
		  0);
	ASSERT_TRUE(strcmp(out, "secret\n") == 0);
	/* ...but may not write it (r5 is read-only, owner is 0). */
	expect_write_err(x5, "/local/domain/5/data/x", EACCES);

	/* Domain 7 can neither read it nor learn what exists there. */
	expect_read_err(x7, "/local/domain/5/data/x", EACCES);
	ASSERT_NE(xsh_run(&h, 7, out, sizeof(out),
			  (const char *const[]){"xenstore-read",
						"/local/domain/5/data/x", NULL}),
		  0);
	expect_read_err(x7, "/local/domain/5/nothing-here", EACCES);
	expect_write_err(x7, "/local/domain/5/data/y", EACCES);
	expect_write_err(x7, "/local/domain/5/new", EACCES);
	expect_write_err(x7, "/top-level", EACCES);
	ASSERT_TRUE(!xs_rm(x7, XBT_NULL, "/local/domain/5/data"));
	ASSERT_EQ(errno, EACCES);
	/* While a missing node under a readable one is plain ENOENT. */
	expect_read_err(x5, "/local/domain/5/nothing-here", ENOENT);

	/* A domain owns what it creates, relative paths are under its home. */
	ASSERT_TRUE(xs_write(x5, XBT_NULL, "shared/y", "hi7", 3));
	expect_owner(x0, "/local/domain/5/shared/y", 5, 1);
	expect_owner(x0, "/local/domain/5/shared", 5, 1);
	expect_read_err(x7, "/local/domain/5/shared/y", EACCES);
	/* The owner grants read to 7. */
	struct xs_permissions p[2] = {{.id = 5, .perms = XS_PERM_NONE},
				      {.id = 7, .perms = XS_PERM_READ}};
	ASSERT_TRUE(xs_set_permissions(x5, XBT_NULL, "shared/y", p, 2));
	expect_read(x7, "/local/domain/5/shared/y", "hi7");
	expect_write_err(x7, "/local/domain/5/shared/y", EACCES);
	/* Only the owner may change permissions; it may not give the node
	 * away; domain 0 may do both. */
	ASSERT_TRUE(!xs_set_permissions(x7, XBT_NULL, "/local/domain/5/shared/y",
					p, 2));
	ASSERT_EQ(errno, EACCES);
	struct xs_permissions give[1] = {{.id = 7, .perms = XS_PERM_NONE}};
	ASSERT_TRUE(!xs_set_permissions(x5, XBT_NULL, "shared/y", give, 1));
	ASSERT_EQ(errno, EPERM);
	p[1].perms = XS_PERM_READ | XS_PERM_WRITE;
	ASSERT_TRUE(xs_set_permissions(x0, XBT_NULL, "/local/domain/5/shared/y",
				       p, 2));
	ASSERT_TRUE(xs_write(x7, XBT_NULL, "/local/domain/5/shared/y", "by7", 3));
	expect_read(x5, "shared/y", "by7");
	/* Writing an existing node does not change its owner. */
	expect_owner(x0, "/local/domain/5/shared/y", 5, 2);

	/* dom0 writing under a domU's home keeps the domU as owner. */
	ASSERT_TRUE(xs_write(x0, XBT_NULL, "/local/domain/7/from0", "z", 1));
	expect_owner(x0, "/local/domain/7/from0", 7, 1);
	expect_read(x7, "from0", "z");

	/* The quotas (nodes and the rest): sim_xs_quota. */
	ASSERT_TRUE(xs_write(x7, XBT_NULL, "q/again", "", 0));

	/* Release of 7: its socket and connections go, the nodes it owned
	 * are removed, and it leaves the ACLs of others. */
	ASSERT_TRUE(xs_release_domain(x0, 7));
	ASSERT_TRUE(!xsh_exists(xsh_sock(&h, 7)));
	ASSERT_TRUE(!xs_is_domain_introduced(x0, 7));
	expect_read_err(x0, "/local/domain/7", ENOENT);
	expect_owner(x0, "/local/domain/5/shared/y", 5, 1);
	unsigned len;
	ASSERT_TRUE(xs_read(x7, XBT_NULL, "from0", &len) == NULL);
	ASSERT_TRUE(!xs_release_domain(x0, 7));
	ASSERT_EQ(errno, ENOENT);

	xs_close(x7);
	xs_close(x5);
	xs_close(x0);
	xsh_stop(&h);
	return 0;
}
