/* xen_publish_again: the Xen platform's publish called again while its
 * keys are up (a server that reopens before it saw its client come in)
 * writes them anew, in Linux as in the unikernel (one core,
 * lib/xenplat/xenplat_store.c): publish, publish again with other values,
 * both keys carry the new ones with the same permissions, and unpublish
 * removes them and the directory the first publish made (at the platform's
 * next ack, not at once: lib/xenplat/xenplat_store.c). */
#include "xen_test.h"

#include <xenstore.h>

#define DIR_PATH "/local/domain/0/data/vchan/1/again"

static void expect_key(struct xs_handle *xs, const char *leaf,
		       const char *want)
{
	char key[256];
	unsigned len = 0;
	snprintf(key, sizeof key, "%s/%s", DIR_PATH, leaf);
	char *v = xs_read(xs, XBT_NULL, key, &len);
	if (!want) {
		ASSERT_TRUE(v == NULL && errno == ENOENT);
		return;
	}
	ASSERT_TRUE(v != NULL);
	ASSERT_EQ(len, strlen(want));
	ASSERT_MEM_EQ(v, want, len);
	free(v);
	unsigned n = 0;
	struct xs_permissions *p = xs_get_permissions(xs, XBT_NULL, key, &n);
	ASSERT_TRUE(p != NULL);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(p[0].id, 0);
	ASSERT_EQ(p[0].perms, XS_PERM_NONE);
	ASSERT_EQ(p[1].id, 1);
	ASSERT_EQ(p[1].perms, XS_PERM_READ);
	free(p);
}

static int role_server(void)
{
	struct vmsg_platform *p;
	struct xs_handle *xs = xs_open(0);
	ASSERT_TRUE(xs != NULL);
	ASSERT_EQ(vmsg_xen_platform_new(&p, 1, DIR_PATH, true), 0);
	ASSERT_EQ(p->ops->publish(p, 12345, 17), 0);
	expect_key(xs, "ring-ref", "12345");
	expect_key(xs, "event-channel", "17");
	/* Again, keys still up: written anew, not refused. */
	ASSERT_EQ(p->ops->publish(p, 678, 19), 0);
	expect_key(xs, "ring-ref", "678");
	expect_key(xs, "event-channel", "19");
	/* Unpublish asks; the keys go at the platform's next wait, ack or
	 * destroy (so that a server's first message does not wait for the
	 * xenstore transaction). */
	p->ops->unpublish(p);
	expect_key(xs, "ring-ref", "678");
	(void)p->ops->ack(p);
	expect_key(xs, "ring-ref", NULL);
	expect_key(xs, "event-channel", NULL);
	unsigned n = 0;
	char **d = xs_directory(xs, XBT_NULL, DIR_PATH, &n);
	ASSERT_TRUE(d == NULL && errno == ENOENT); /* made by publish: gone */
	p->ops->destroy(p);
	xs_close(xs);
	return 0;
}

int main(int argc, char **argv)
{
	char self[4096];
	if (argc >= 5) {
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		if (!strcmp(argv[1], "server"))
			return role_server();
		return 2;
	}
	xt_driver_init(self, sizeof self, 120);
	struct xt_role s;
	xt_spawn(&s, 0, self, "server", "-", NULL, NULL);
	xt_role_done(&s, 0);
	puts("xen_publish_again: ok");
	return 0;
}
