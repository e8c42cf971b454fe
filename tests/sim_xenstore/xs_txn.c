/* sim_xs_txn: transactions through Debian's libxenstore. Two concurrent
 * transactions on one node: the first to commit wins, the other gets
 * EAGAIN; abort discards; a transaction sees its own writes and nobody
 * else does before commit; transactions on unrelated nodes both commit; a
 * plain write to a node a transaction read makes the commit fail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "vmsg_test.h"
#include "xs_harness.h"

static void expect(struct xs_handle *xs, xs_transaction_t t, const char *path,
		   const char *want)
{
	unsigned len;
	char *v = xs_read(xs, t, path, &len);
	if (!want) {
		ASSERT_TRUE(v == NULL);
		ASSERT_EQ(errno, ENOENT);
		return;
	}
	if (!v)
		VMSG_TEST_FAIL("read %s: %s", path, strerror(errno));
	ASSERT_TRUE(strcmp(v, want) == 0);
	free(v);
}

static void put(struct xs_handle *xs, xs_transaction_t t, const char *path,
		const char *val)
{
	if (!xs_write(xs, t, path, val, (unsigned)strlen(val)))
		VMSG_TEST_FAIL("write %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	ASSERT_EQ(argc, 2);
	struct xsh h;
	xsh_start(&h, argv[1]);
	struct xs_handle *a = xsh_open(&h, 0);
	struct xs_handle *b = xsh_open(&h, 0);
	put(a, XBT_NULL, "/t/n", "start");
	put(a, XBT_NULL, "/t/p/x", "");
	put(a, XBT_NULL, "/t/q/x", "");

	/* Both read and write the same node; the first commit wins. */
	xs_transaction_t t1 = xs_transaction_start(a);
	xs_transaction_t t2 = xs_transaction_start(b);
	ASSERT_NE(t1, XBT_NULL);
	ASSERT_NE(t2, XBT_NULL);
	expect(a, t1, "/t/n", "start");
	expect(b, t2, "/t/n", "start");
	put(a, t1, "/t/n", "one");
	put(b, t2, "/t/n", "two");
	/* Each sees its own write; outside, nothing changed yet. */
	expect(a, t1, "/t/n", "one");
	expect(b, t2, "/t/n", "two");
	expect(a, XBT_NULL, "/t/n", "start");
	ASSERT_TRUE(xs_transaction_end(a, t1, false));
	ASSERT_TRUE(!xs_transaction_end(b, t2, false));
	ASSERT_EQ(errno, EAGAIN);
	expect(a, XBT_NULL, "/t/n", "one");
	/* The failed transaction is gone. */
	unsigned len;
	ASSERT_TRUE(xs_read(b, t2, "/t/n", &len) == NULL);
	ASSERT_EQ(errno, ENOENT);

	/* Abort discards writes, creations and removals. */
	xs_transaction_t t3 = xs_transaction_start(a);
	put(a, t3, "/t/n", "aborted");
	put(a, t3, "/t/new/deep", "x");
	ASSERT_TRUE(xs_rm(a, t3, "/t/p"));
	expect(a, t3, "/t/new/deep", "x");
	expect(a, t3, "/t/p/x", NULL);
	ASSERT_TRUE(xs_transaction_end(a, t3, true));
	expect(a, XBT_NULL, "/t/n", "one");
	expect(a, XBT_NULL, "/t/new", NULL);
	expect(a, XBT_NULL, "/t/p/x", "");

	/* Commit applies all of it at once. */
	xs_transaction_t t4 = xs_transaction_start(a);
	put(a, t4, "/t/new/deep", "x");
	ASSERT_TRUE(xs_rm(a, t4, "/t/p"));
	unsigned num;
	char **dir = xs_directory(a, t4, "/t", &num);
	ASSERT_TRUE(dir != NULL);
	ASSERT_EQ(num, 3); /* n, q, new */
	free(dir);
	expect(b, XBT_NULL, "/t/new/deep", NULL);
	ASSERT_TRUE(xs_transaction_end(a, t4, false));
	expect(b, XBT_NULL, "/t/new/deep", "x");
	expect(b, XBT_NULL, "/t/p", NULL);

	/* Unrelated nodes: both commit. */
	t1 = xs_transaction_start(a);
	t2 = xs_transaction_start(b);
	put(a, t1, "/t/q/x", "from a");
	put(b, t2, "/t/new/deep", "from b");
	ASSERT_TRUE(xs_transaction_end(b, t2, false));
	ASSERT_TRUE(xs_transaction_end(a, t1, false));
	expect(a, XBT_NULL, "/t/q/x", "from a");
	expect(a, XBT_NULL, "/t/new/deep", "from b");

	/* A plain write to a node the transaction only read. */
	t1 = xs_transaction_start(a);
	expect(a, t1, "/t/n", "one");
	put(a, t1, "/t/q/x", "derived");
	put(b, XBT_NULL, "/t/n", "changed");
	ASSERT_TRUE(!xs_transaction_end(a, t1, false));
	ASSERT_EQ(errno, EAGAIN);
	expect(a, XBT_NULL, "/t/q/x", "from a");

	/* Someone else creating a node the transaction saw missing. */
	t1 = xs_transaction_start(a);
	expect(a, t1, "/t/later", NULL);
	put(a, t1, "/t/q/x", "derived");
	put(b, XBT_NULL, "/t/later", "here");
	ASSERT_TRUE(!xs_transaction_end(a, t1, false));
	ASSERT_EQ(errno, EAGAIN);

	/* Unknown transaction ids are refused. */
	ASSERT_TRUE(xs_read(a, 12345, "/t/n", &len) == NULL);
	ASSERT_EQ(errno, ENOENT);

	/* dom0 is exempt from the transaction quota (a domU's is tested
	 * in sim_xs_quota). */
	xs_transaction_t many[30];
	for (int i = 0; i < 30; i++) {
		many[i] = xs_transaction_start(a);
		ASSERT_NE(many[i], XBT_NULL);
	}
	for (int i = 0; i < 30; i++)
		ASSERT_TRUE(xs_transaction_end(a, many[i], true));

	/* Closing a connection drops its open transactions. */
	t2 = xs_transaction_start(b);
	put(b, t2, "/t/dropped", "x");
	xs_close(b);
	expect(a, XBT_NULL, "/t/dropped", NULL);

	xs_close(a);
	xsh_stop(&h);
	return 0;
}
