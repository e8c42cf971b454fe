/* sim_xs_watch: watches through Debian's libxenstore and xenstore-watch.
 * A watch fires once when set, then for writes and removals at or below
 * its path (and for the removal of a parent), not for other paths, not for
 * nodes the watcher may not read; relative watches report relative paths;
 * @introduceDomain / @releaseDomain fire on introduce / release, after
 * which domN.sock is gone. "No event" is checked by ordering: a later
 * sentinel write must be the next event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "vmsg_test.h"
#include "xs_harness.h"

static void expect_event(struct xs_handle *xs, const char *path,
			 const char *token)
{
	char **v = xsh_next_event(xs);
	if (strcmp(v[XS_WATCH_PATH], path) != 0 ||
	    strcmp(v[XS_WATCH_TOKEN], token) != 0)
		VMSG_TEST_FAIL("event (%s, %s), wanted (%s, %s)",
			       v[XS_WATCH_PATH], v[XS_WATCH_TOKEN], path, token);
	free(v);
}

static void put(struct xs_handle *xs, const char *path, const char *val)
{
	if (!xs_write(xs, XBT_NULL, path, val, (unsigned)strlen(val)))
		VMSG_TEST_FAIL("write %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	ASSERT_EQ(argc, 2);
	xsh_need_utils();
	struct xsh h;
	xsh_start(&h, argv[1]);
	struct xs_handle *w = xsh_open(&h, 0);
	struct xs_handle *x0 = xsh_open(&h, 0);

	ASSERT_TRUE(xs_watch(w, "/w", "tok"));
	expect_event(w, "/w", "tok"); /* fired once when set */
	put(x0, "/w/a", "1");
	expect_event(w, "/w/a", "tok");
	put(x0, "/elsewhere", "1"); /* not under /w: no event */
	put(x0, "/w", "self");
	expect_event(w, "/w", "tok");
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/w/a"));
	expect_event(w, "/w/a", "tok");

	/* A watch below a removed subtree fires too. */
	ASSERT_TRUE(xs_watch(w, "/p/q/r", "deep"));
	expect_event(w, "/p/q/r", "deep");
	put(x0, "/p/q/r", "x");
	expect_event(w, "/p/q/r", "deep");
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/p"));
	expect_event(w, "/p/q/r", "deep");
	ASSERT_TRUE(xs_unwatch(w, "/p/q/r", "deep"));
	ASSERT_TRUE(!xs_unwatch(w, "/p/q/r", "deep"));
	ASSERT_EQ(errno, ENOENT);
	put(x0, "/p/q/r", "y"); /* unwatched: no event */
	put(x0, "/w/sentinel", "");
	expect_event(w, "/w/sentinel", "tok");

	/* A transaction's changes fire at commit. */
	xs_transaction_t t = xs_transaction_start(x0);
	put(x0, "/elsewhere", "2");
	ASSERT_TRUE(xs_write(x0, t, "/w/in-txn", "1", 1));
	ASSERT_TRUE(xs_transaction_end(x0, t, false));
	expect_event(w, "/w/in-txn", "tok");

	/* Special watches. */
	ASSERT_TRUE(xs_watch(w, "@introduceDomain", "intro"));
	expect_event(w, "@introduceDomain", "intro");
	ASSERT_TRUE(xs_watch(w, "@releaseDomain", "rel"));
	expect_event(w, "@releaseDomain", "rel");
	ASSERT_TRUE(xs_introduce_domain(x0, 9, 1009, 19));
	ASSERT_TRUE(xsh_exists(xsh_sock(&h, 9)));
	expect_event(w, "@introduceDomain", "intro");

	/* Domain 9: relative watches, and only readable nodes. */
	struct xs_handle *d9 = xsh_open(&h, 9);
	ASSERT_TRUE(xs_watch(d9, "data", "rel9"));
	expect_event(d9, "data", "rel9");
	ASSERT_TRUE(xs_watch(d9, "/local/domain/9/data/abs", "abs9"));
	expect_event(d9, "/local/domain/9/data/abs", "abs9");
	put(x0, "/local/domain/9/data/k", "v");
	expect_event(d9, "data/k", "rel9");
	put(x0, "/local/domain/9/data/abs", "v");
	char **v1 = xsh_next_event(d9), **v2 = xsh_next_event(d9);
	/* The same change, once per matching watch, in either order. */
	ASSERT_TRUE((strcmp(v1[XS_WATCH_TOKEN], "rel9") == 0 &&
		     strcmp(v1[XS_WATCH_PATH], "data/abs") == 0 &&
		     strcmp(v2[XS_WATCH_PATH], "/local/domain/9/data/abs") == 0) ||
		    (strcmp(v2[XS_WATCH_TOKEN], "rel9") == 0 &&
		     strcmp(v2[XS_WATCH_PATH], "data/abs") == 0 &&
		     strcmp(v1[XS_WATCH_PATH], "/local/domain/9/data/abs") == 0));
	free(v1);
	free(v2);
	/* dom0 makes a node under 9's home unreadable to 9: no event. */
	put(x0, "/local/domain/9/data/hidden", "");
	expect_event(d9, "data/hidden", "rel9");
	struct xs_permissions np[1] = {{.id = 0, .perms = XS_PERM_NONE}};
	ASSERT_TRUE(xs_set_permissions(x0, XBT_NULL,
				       "/local/domain/9/data/hidden", np, 1));
	put(x0, "/local/domain/9/data/hidden", "secret");
	put(x0, "/local/domain/9/data/sentinel", "");
	expect_event(d9, "data/sentinel", "rel9");
	/* Special events reach privileged connections only. */
	ASSERT_TRUE(xs_watch(d9, "@releaseDomain", "rel9"));
	expect_event(d9, "@releaseDomain", "rel9");

	/* Debian's xenstore-watch, as domain 0: first the initial event,
	 * then the write. */
	char sock[320];
	snprintf(sock, sizeof(sock), "XENSTORED_PATH=%s", xsh_sock(&h, 0));
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s xenstore-watch -n 2 /uw", sock);
	FILE *f = popen(cmd, "r");
	ASSERT_TRUE(f != NULL);
	char line[256];
	ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
	ASSERT_TRUE(strcmp(line, "/uw\n") == 0);
	put(x0, "/uw/x", "1");
	ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
	ASSERT_TRUE(strcmp(line, "/uw/x\n") == 0);
	ASSERT_EQ(pclose(f), 0);

	/* Release: the event, the socket gone, 9's connection closed. */
	ASSERT_TRUE(xs_release_domain(x0, 9));
	ASSERT_TRUE(!xsh_exists(xsh_sock(&h, 9)));
	/* Releasing removed 9's home, which /w does not cover; the next
	 * event on w is the release. */
	expect_event(w, "@releaseDomain", "rel");
	unsigned len;
	ASSERT_TRUE(xs_read(d9, XBT_NULL, "data/k", &len) == NULL);

	/* Duplicates; dom0 is exempt from the watch quota (a domU's is
	 * tested in sim_xs_quota). */
	ASSERT_TRUE(!xs_watch(w, "/w", "tok"));
	ASSERT_EQ(errno, EEXIST);
	for (int i = 0; i < 200; i++) {
		char tok[16];
		snprintf(tok, sizeof(tok), "q%d", i);
		ASSERT_TRUE(xs_watch(w, "/quota", tok));
		expect_event(w, "/quota", tok);
	}

	xs_close(d9);
	xs_close(x0);
	xs_close(w);
	xsh_stop(&h);
	return 0;
}
