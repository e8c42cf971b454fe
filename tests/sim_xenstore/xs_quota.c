/* sim_xs_quota: vmsg-xenstored enforces Xen 4.17 xenstored's per-domain
 * quotas at exactly Xen's numbers, with Xen's errors, for unprivileged
 * domains only (domain 0 is exempt from each), and gives the room back
 * when a node is removed, a watch dropped or a transaction ended:
 *
 *   nodes        1000 owned, ENOSPC; 999 through a transaction's commit,
 *                whose check counts dom0 too
 *   entry size   node record (24 + 8/permission + value + children's
 *                names) below 2048 bytes, ENOSPC
 *   permissions  5 entries, ENOSPC
 *   watches      129 (Xen compares `> 128` before adding), E2BIG
 *   transactions 11 open (`> 10`), ENOSPC
 *   outstanding  20 requests in flight: no error, the 21st waits
 *   path length  2048 bytes after "/local/domain/<id>/", or in all
 *                without that prefix, EINVAL; for dom0 too
 *
 * Each error is checked through libxenstore's errno and, for one request
 * per quota, as the XS_ERROR string on the wire. The last part starts a
 * second daemon with xenstored's quota options. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>
#include <xenstore.h>

#include "vmsg_test.h"
#include "xs_harness.h"

/* ---- a raw client, to see the wire --------------------------------------- */

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		ASSERT_TRUE(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* Appends one request to buf (at *off); sent later, all at once. */
static void put_msg(char *buf, size_t cap, size_t *off, uint32_t type,
		    uint32_t req_id, const void *pl, uint32_t len)
{
	struct xsd_sockmsg h = {.type = type, .req_id = req_id, .len = len};
	ASSERT_LE(*off + sizeof(h) + len, cap);
	memcpy(buf + *off, &h, sizeof(h));
	memcpy(buf + *off + sizeof(h), pl, len);
	*off += sizeof(h) + len;
}

/* Reads one message within timeout_ms: 1, or 0 if none came. */
static int read_msg(int fd, struct xsd_sockmsg *h, char *pl, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) == 0)
		return 0;
	ASSERT_EQ(recv(fd, h, sizeof(*h), MSG_WAITALL), (ssize_t)sizeof(*h));
	ASSERT_LE(h->len, XENSTORE_PAYLOAD_MAX);
	if (h->len)
		ASSERT_EQ(recv(fd, pl, h->len, MSG_WAITALL), (ssize_t)h->len);
	return 1;
}

/* The reply to one request, skipping watch events: asserts it is XS_ERROR
 * with the given string. */
static void expect_wire_error(int fd, uint32_t type, const void *pl,
			      uint32_t len, const char *err)
{
	char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t off = 0;
	put_msg(buf, sizeof(buf), &off, type, 42, pl, len);
	send_all(fd, buf, off);
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];
	do
		ASSERT_EQ(read_msg(fd, &h, r, 30000), 1);
	while (h.type == XS_WATCH_EVENT);
	r[h.len] = '\0';
	ASSERT_EQ(h.type, XS_ERROR);
	ASSERT_EQ(h.req_id, 42);
	if (strcmp(r, err) != 0)
		VMSG_TEST_FAIL("wire error '%s', expected '%s'", r, err);
}

/* ---- libxenstore helpers ---------------------------------------------------- */

static void ok_write(struct xs_handle *x, xs_transaction_t t, const char *p,
		     const char *v, size_t n)
{
	if (!xs_write(x, t, p, v, (unsigned)n))
		VMSG_TEST_FAIL("write %s: %s", p, strerror(errno));
}

static void fail_write(struct xs_handle *x, xs_transaction_t t,
		       const char *p, const char *v, size_t n, int err)
{
	if (xs_write(x, t, p, v, (unsigned)n))
		VMSG_TEST_FAIL("write %s succeeded", p);
	ASSERT_EQ(errno, err);
}

static void absent(struct xs_handle *x, const char *p)
{
	unsigned len;
	void *v = xs_read(x, XBT_NULL, p, &len);
	if (v)
		VMSG_TEST_FAIL("%s exists", p);
	ASSERT_EQ(errno, ENOENT);
}

static unsigned count_kids(struct xs_handle *x, const char *p, char first)
{
	unsigned n = 0, cnt = 0;
	char **d = xs_directory(x, XBT_NULL, p, &n);
	ASSERT_TRUE(d != NULL);
	for (unsigned i = 0; i < n; i++)
		cnt += d[i][0] == first;
	free(d);
	return cnt;
}

/* ---- nodes (domain 5) ----------------------------------------------------------- */

static void nodes(const struct xsh *h, struct xs_handle *x0)
{
	struct xs_handle *x5 = xsh_open(h, 5);
	char p[64];
	/* Domain 5 owns its home already: 1 node. Each step below creates
	 * exactly one, directories of at most 100 (the entry-size quota
	 * bounds a directory's list of children too). */
	unsigned owned = 1;
	ASSERT_TRUE(xs_mkdir(x5, XBT_NULL, "q"));
	owned++;
	for (int g = 0; owned < 1000; g++) {
		snprintf(p, sizeof(p), "q/g%d", g);
		ASSERT_TRUE(xs_mkdir(x5, XBT_NULL, p));
		owned++;
		for (int j = 0; j < 100 && owned < 1000; j++, owned++) {
			snprintf(p, sizeof(p), "q/g%d/n%d", g, j);
			ok_write(x5, XBT_NULL, p, "", 0);
		}
	}
	/* At 1000: the next is refused, also on the wire. */
	fail_write(x5, XBT_NULL, "q/over", "x", 1, ENOSPC);
	int fd = dial(xsh_sock(h, 5));
	expect_wire_error(fd, XS_WRITE, "q/over\0x", 8, "ENOSPC");
	close(fd);
	absent(x5, "/local/domain/5/q/over");

	/* Removing one gives its room back, for one node only: a request
	 * creating two is refused whole. */
	ASSERT_TRUE(xs_rm(x5, XBT_NULL, "q/g0/n0"));
	fail_write(x5, XBT_NULL, "q/m/a", "", 0, ENOSPC);
	absent(x5, "/local/domain/5/q/m");
	ok_write(x5, XBT_NULL, "q/m", "", 0);
	fail_write(x5, XBT_NULL, "q/m2", "", 0, ENOSPC);

	/* Through a transaction: at 999, creating one more is accepted
	 * inside but refused at commit (Xen compares `>=` there). */
	ASSERT_TRUE(xs_rm(x5, XBT_NULL, "q/m"));
	xs_transaction_t t = xs_transaction_start(x5);
	ASSERT_NE(t, XBT_NULL);
	ok_write(x5, t, "q/t1", "", 0);
	ASSERT_TRUE(!xs_transaction_end(x5, t, false));
	ASSERT_EQ(errno, ENOSPC);
	absent(x5, "/local/domain/5/q/t1");
	/* Outside one, the 1000th is fine. */
	ok_write(x5, XBT_NULL, "q/t1", "", 0);

	/* dom0 is exempt: it may create nodes domain 5 owns beyond the
	 * quota (they count for 5), and as many of its own as it likes. */
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "/local/domain/5/q/from0-%d", i);
		ok_write(x0, XBT_NULL, p, "", 0);
	}
	fail_write(x5, XBT_NULL, "q/over", "", 0, ENOSPC);
	for (int i = 0; i < 1100; i++) {
		snprintf(p, sizeof(p), "/tool/many/n%d", i);
		ok_write(x0, XBT_NULL, p, "", 0);
	}
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/tool/many"));
	/* Removing the subtree gives it all back. */
	ASSERT_TRUE(xs_rm(x5, XBT_NULL, "q"));
	ok_write(x5, XBT_NULL, "q/again", "", 0);
	xs_close(x5);
}

/* Xen 4.17's commit check counts every domain a domU's transaction
 * changed, dom0 too (domain 7). */
static void commit_counts_dom0(const struct xsh *h, struct xs_handle *x0)
{
	struct xs_handle *x7 = xsh_open(h, 7);
	char p[64];
	for (int i = 0; i < 1100; i++) {
		snprintf(p, sizeof(p), "/tool/many/n%d", i);
		ok_write(x0, XBT_NULL, p, "", 0);
	}
	/* A node of dom0's that domain 7 may write, and so remove. */
	ok_write(x0, XBT_NULL, "/local/domain/7/z", "", 0);
	struct xs_permissions pe[2] = {
		{.id = 0, .perms = XS_PERM_NONE},
		{.id = 7, .perms = XS_PERM_READ | XS_PERM_WRITE}};
	ASSERT_TRUE(xs_set_permissions(x0, XBT_NULL, "/local/domain/7/z", pe,
				       2));
	/* Creating a node and removing dom0's: dom0 ends owning 1000 or
	 * more, the commit fails. */
	xs_transaction_t t = xs_transaction_start(x7);
	ASSERT_NE(t, XBT_NULL);
	ok_write(x7, t, "c1", "", 0);
	ASSERT_TRUE(xs_rm(x7, t, "z"));
	ASSERT_TRUE(!xs_transaction_end(x7, t, false));
	ASSERT_EQ(errno, ENOSPC);
	absent(x7, "/local/domain/7/c1");
	unsigned len;
	char *still = xs_read(x7, XBT_NULL, "z", &len);
	ASSERT_TRUE(still != NULL);
	free(still);
	/* Removing alone creates nothing: no check. */
	t = xs_transaction_start(x7);
	ASSERT_NE(t, XBT_NULL);
	ASSERT_TRUE(xs_rm(x7, t, "z"));
	ASSERT_TRUE(xs_transaction_end(x7, t, false));
	absent(x7, "/local/domain/7/z");
	/* With dom0 below the quota, both in one transaction commit. */
	ok_write(x0, XBT_NULL, "/local/domain/7/z", "", 0);
	ASSERT_TRUE(xs_set_permissions(x0, XBT_NULL, "/local/domain/7/z", pe,
				       2));
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/tool/many"));
	t = xs_transaction_start(x7);
	ASSERT_NE(t, XBT_NULL);
	ok_write(x7, t, "c1", "", 0);
	ASSERT_TRUE(xs_rm(x7, t, "z"));
	ASSERT_TRUE(xs_transaction_end(x7, t, false));
	absent(x7, "/local/domain/7/z");
	ASSERT_TRUE(xs_rm(x7, XBT_NULL, "c1"));
	xs_close(x7);
}

/* ---- entry size and permissions (domain 6) --------------------------------- */

static void entry_size(const struct xsh *h, struct xs_handle *x0)
{
	struct xs_handle *x6 = xsh_open(h, 6);
	static char v[4096];
	memset(v, 'v', sizeof(v));
	/* One permission entry (inherited from the home, [n6]): 24 + 8 +
	 * value < 2048, so 2015 bytes fit, 2016 do not. */
	ok_write(x6, XBT_NULL, "esz", v, 2015);
	fail_write(x6, XBT_NULL, "esz", v, 2016, ENOSPC);
	fail_write(x6, XBT_NULL, "esz-new", v, 2016, ENOSPC);
	absent(x6, "/local/domain/6/esz-new");
	int fd = dial(xsh_sock(h, 6));
	char req[2100] = "esz";
	memcpy(req + 4, v, 2016);
	expect_wire_error(fd, XS_WRITE, req, 4 + 2016, "ENOSPC");
	/* dom0 is exempt. */
	ok_write(x0, XBT_NULL, "/local/domain/6/esz", v, 4000);

	/* A directory's list of children counts: 335 names of 5 bytes
	 * (+ nul) make 2010, 336 would make 2016. */
	char p[64];
	for (int i = 0; i < 335; i++) {
		snprintf(p, sizeof(p), "kids/c%04d", i);
		ASSERT_TRUE(xs_mkdir(x6, XBT_NULL, p));
	}
	ASSERT_TRUE(!xs_mkdir(x6, XBT_NULL, "kids/c9999"));
	ASSERT_EQ(errno, ENOSPC);
	ASSERT_TRUE(xs_rm(x6, XBT_NULL, "kids/c0000"));
	ASSERT_TRUE(xs_mkdir(x6, XBT_NULL, "kids/c9999"));
	ASSERT_TRUE(!xs_mkdir(x6, XBT_NULL, "kids/c9998"));
	ASSERT_EQ(errno, ENOSPC);
	ASSERT_TRUE(xs_mkdir(x0, XBT_NULL, "/local/domain/6/kids/c9998"));

	/* Permissions are part of the record: a 2000-byte value takes 2
	 * entries (2040 bytes), not 3 (2048). */
	ok_write(x6, XBT_NULL, "sp", v, 2000);
	struct xs_permissions pe[6] = {
		{.id = 6, .perms = XS_PERM_NONE}, {.id = 5, .perms = XS_PERM_READ},
		{.id = 7, .perms = XS_PERM_READ}, {.id = 8, .perms = XS_PERM_READ},
		{.id = 9, .perms = XS_PERM_READ}, {.id = 10, .perms = XS_PERM_READ},
	};
	ASSERT_TRUE(xs_set_permissions(x6, XBT_NULL, "sp", pe, 2));
	ASSERT_TRUE(!xs_set_permissions(x6, XBT_NULL, "sp", pe, 3));
	ASSERT_EQ(errno, ENOSPC);

	/* Permission entries: 5, not 6 (dom0: any number). */
	ok_write(x6, XBT_NULL, "pq", "", 0);
	ASSERT_TRUE(xs_set_permissions(x6, XBT_NULL, "pq", pe, 5));
	ASSERT_TRUE(!xs_set_permissions(x6, XBT_NULL, "pq", pe, 6));
	ASSERT_EQ(errno, ENOSPC);
	static const char six[] = "pq\0n6\0r5\0r7\0r8\0r9\0r10";
	expect_wire_error(fd, XS_SET_PERMS, six, sizeof(six), "ENOSPC");
	ASSERT_TRUE(xs_set_permissions(x0, XBT_NULL, "/local/domain/6/pq", pe,
				       6));
	close(fd);
	ASSERT_TRUE(xs_rm(x6, XBT_NULL, "kids"));
	xs_close(x6);
}

/* ---- watches and transactions (domain 6, two connections) ---------------- */

static void watches(const struct xsh *h, struct xs_handle *x0)
{
	struct xs_handle *a = xsh_open(h, 6), *b = xsh_open(h, 6);
	char tok[16];
	/* The domain's watches count together, whichever connection holds
	 * them: 100 here and 29 there make Xen's 129. */
	for (int i = 0; i < 129; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		if (!xs_watch(i < 100 ? a : b, "w", tok))
			VMSG_TEST_FAIL("watch %d: %s", i, strerror(errno));
	}
	ASSERT_TRUE(!xs_watch(a, "w", "over"));
	ASSERT_EQ(errno, E2BIG);
	ASSERT_TRUE(!xs_watch(b, "w", "over"));
	ASSERT_EQ(errno, E2BIG);
	int fd = dial(xsh_sock(h, 6));
	expect_wire_error(fd, XS_WATCH, "w\0over", 7, "E2BIG");
	/* Unwatching one gives its room back. */
	ASSERT_TRUE(xs_unwatch(b, "w", "t100"));
	ASSERT_TRUE(xs_watch(a, "w", "again"));
	ASSERT_TRUE(!xs_watch(a, "w", "over"));
	ASSERT_EQ(errno, E2BIG);
	/* Closing a connection gives back all of its watches (28 on b),
	 * once the daemon has seen the close: retried until then. */
	xs_close(b);
	b = NULL;
	for (int round = 0; round < 500 && !b; round++) {
		b = xsh_open(h, 6);
		int i = 0;
		for (; i < 28; i++) {
			snprintf(tok, sizeof(tok), "u%d", i);
			if (!xs_watch(b, "w", tok))
				break;
		}
		if (i < 28) {
			ASSERT_EQ(errno, E2BIG);
			xs_close(b);
			b = NULL;
			usleep(10000);
		}
	}
	ASSERT_TRUE(b != NULL);
	ASSERT_TRUE(!xs_watch(b, "w", "over"));
	ASSERT_EQ(errno, E2BIG);
	/* dom0 is exempt. */
	for (int i = 0; i < 300; i++) {
		snprintf(tok, sizeof(tok), "z%d", i);
		ASSERT_TRUE(xs_watch(x0, "/local/domain/6/w", tok));
	}
	for (int i = 0; i < 300; i++) {
		snprintf(tok, sizeof(tok), "z%d", i);
		ASSERT_TRUE(xs_unwatch(x0, "/local/domain/6/w", tok));
	}
	close(fd);
	xs_close(a);
	xs_close(b);
}

static void transactions(const struct xsh *h, struct xs_handle *x0)
{
	struct xs_handle *a = xsh_open(h, 6), *b = xsh_open(h, 6);
	xs_transaction_t t[12];
	/* 11 open ones (Xen compares `> 10` before opening), on either
	 * connection of the domain. */
	for (int i = 0; i < 11; i++) {
		t[i] = xs_transaction_start(i < 6 ? a : b);
		if (t[i] == XBT_NULL)
			VMSG_TEST_FAIL("transaction %d: %s", i, strerror(errno));
	}
	ASSERT_EQ(xs_transaction_start(a), XBT_NULL);
	ASSERT_EQ(errno, ENOSPC);
	ASSERT_EQ(xs_transaction_start(b), XBT_NULL);
	ASSERT_EQ(errno, ENOSPC);
	int fd = dial(xsh_sock(h, 6));
	expect_wire_error(fd, XS_TRANSACTION_START, "", 1, "ENOSPC");
	/* Ending one (commit or abort) gives its room back. */
	ASSERT_TRUE(xs_transaction_end(a, t[0], false));
	t[0] = xs_transaction_start(b);
	ASSERT_NE(t[0], XBT_NULL);
	ASSERT_EQ(xs_transaction_start(a), XBT_NULL);
	ASSERT_EQ(errno, ENOSPC);
	ASSERT_TRUE(xs_transaction_end(a, t[1], true));
	t[1] = xs_transaction_start(a);
	ASSERT_NE(t[1], XBT_NULL);
	/* dom0 is exempt. */
	xs_transaction_t z[40];
	for (int i = 0; i < 40; i++) {
		z[i] = xs_transaction_start(x0);
		ASSERT_NE(z[i], XBT_NULL);
	}
	for (int i = 0; i < 40; i++)
		ASSERT_TRUE(xs_transaction_end(x0, z[i], false));
	/* Closing a connection ends its transactions, once the daemon has
	 * seen the close: retried until then. */
	close(fd);
	xs_close(a);
	xs_close(b);
	a = NULL;
	for (int round = 0; round < 500 && !a; round++) {
		a = xsh_open(h, 6);
		int i = 0;
		while (i < 11 && (t[i] = xs_transaction_start(a)) != XBT_NULL)
			i++;
		if (i < 11) {
			ASSERT_EQ(errno, ENOSPC);
			xs_close(a);
			a = NULL;
			usleep(10000);
		}
	}
	ASSERT_TRUE(a != NULL);
	ASSERT_EQ(xs_transaction_start(a), XBT_NULL);
	ASSERT_EQ(errno, ENOSPC);
	xs_close(a);
}

/* ---- outstanding requests (domain 6) ---------------------------------------- */

/* Makes the watcher's queue back up: dom0 (never stalled) writes under
 * /tool/fill until the watcher's socket buffer is surely full, so that
 * every further event to it waits in the daemon. */
static void stall(struct xs_handle *x0, int *next)
{
	long wmem = 212992;
	FILE *f = fopen("/proc/sys/net/core/wmem_default", "r");
	if (f) {
		if (fscanf(f, "%ld", &wmem) != 1)
			wmem = 212992;
		fclose(f);
	}
	/* Each event carries a 1000-byte token; the daemon drops a
	 * connection with 1 MiB queued, which this must stay under. */
	long n = wmem / 1000 + 50;
	if (n * 1100 > 900 * 1024) {
		fprintf(stderr, "wmem_default %ld is too large for this test\n",
			wmem);
		exit(VMSG_TEST_SKIP);
	}
	char p[64];
	for (long i = 0; i < n; i++, (*next)++) {
		snprintf(p, sizeof(p), "/tool/fill/f%d", *next);
		ok_write(x0, XBT_NULL, p, "", 0);
	}
}

/* Sends `n` writes of <dir>/<prefix><i> in one go. */
static void pipeline(int fd, const char *dir, const char *prefix, int n)
{
	static char buf[64 * 1024];
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		char pl[96];
		int k = snprintf(pl, sizeof(pl), "%s/%s%d", dir, prefix, i);
		put_msg(buf, sizeof(buf), &off, XS_WRITE, 100 + (uint32_t)i, pl,
			(uint32_t)k + 2); /* path, nul, 1 byte of value (nul) */
	}
	send_all(fd, buf, off);
}

/* Counts replies to our writes arriving within ms (events skipped). */
static int replies(int fd, int ms)
{
	int n = 0;
	struct xsd_sockmsg h;
	static char pl[XENSTORE_PAYLOAD_MAX];
	while (read_msg(fd, &h, pl, ms)) {
		if (h.type == XS_WATCH_EVENT)
			continue;
		ASSERT_EQ(h.type, XS_WRITE);
		n++;
	}
	return n;
}

static void outstanding(const struct xsh *h, struct xs_handle *x0)
{
	/* A dom0 watcher that does not read: events to it stay queued. */
	int w = dial(xsh_sock(h, 0));
	static char tokw[2 * XENSTORE_PAYLOAD_MAX];
	memcpy(tokw, "/tool/fill\0", 11);
	memset(tokw + 11, 'T', 1000);
	tokw[11 + 1000] = '\0';
	char buf[4096];
	size_t off = 0;
	put_msg(buf, sizeof(buf), &off, XS_WATCH, 1, tokw, 11 + 1001);
	memcpy(tokw, "/local/domain/6/o\0", 18);
	memset(tokw + 18, 'T', 1000);
	tokw[18 + 1000] = '\0';
	char buf2[4096];
	size_t off2 = 0;
	put_msg(buf2, sizeof(buf2), &off2, XS_WATCH, 2, tokw, 18 + 1001);
	send_all(w, buf, off);
	send_all(w, buf2, off2);
	ASSERT_TRUE(xs_mkdir(x0, XBT_NULL, "/local/domain/6/o"));
	int fill = 0;
	stall(x0, &fill);

	/* Domain 6 sends 30 writes at once, each firing an event at the
	 * stalled watcher: 20 are handled, then the domain waits. */
	int d = dial(xsh_sock(h, 6));
	pipeline(d, "o", "d", 30);
	int got = replies(d, 3000);
	ASSERT_EQ(got, 20);
	ASSERT_EQ(count_kids(x0, "/local/domain/6/o", 'd'), 20);
	/* dom0 goes on meanwhile, and a second connection of domain 6
	 * waits too. */
	int d2 = dial(xsh_sock(h, 6));
	pipeline(d2, "o", "e", 1);
	ASSERT_EQ(replies(d2, 500), 0);

	/* The watcher reads: the events go out, the requests are no longer
	 * outstanding, and the rest are handled. */
	struct xsd_sockmsg mh;
	static char pl[XENSTORE_PAYLOAD_MAX];
	for (int i = 0; i < 3000 && got < 30; i++) {
		while (read_msg(w, &mh, pl, 0))
			;
		got += replies(d, 10);
	}
	ASSERT_EQ(got, 30);
	ASSERT_EQ(count_kids(x0, "/local/domain/6/o", 'd'), 30);
	for (int i = 0; i < 1000 && !replies(d2, 10); i++)
		while (read_msg(w, &mh, pl, 0))
			;
	ASSERT_EQ(count_kids(x0, "/local/domain/6/o", 'e'), 1);

	/* dom0 is exempt: with the watcher stalled again, a dom0
	 * connection's 30 pipelined writes are all handled. */
	while (read_msg(w, &mh, pl, 100))
		;
	stall(x0, &fill);
	int z = dial(xsh_sock(h, 0));
	pipeline(z, "/local/domain/6/o", "z", 30);
	ASSERT_EQ(replies(z, 3000), 30);
	close(z);
	close(d);
	close(d2);
	close(w);
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/tool/fill"));
}

/* ---- path length (domain 7, and dom0) ------------------------------------- */

/* prefix (ending in '/') then 'a's up to `total` bytes in all, a '/'
 * after every 99 of them (components stay small: a parent's record holds
 * its children's names), never at the end. */
static const char *long_path(const char *prefix, size_t total)
{
	static char out[4096];
	size_t plen = strlen(prefix), n = plen;
	ASSERT_LT(total, sizeof(out));
	memcpy(out, prefix, plen);
	for (; n < total; n++)
		out[n] = (n - plen) % 100 == 99 && n + 1 < total ? '/' : 'a';
	out[n] = '\0';
	return out;
}

/* Writes `path` (fails the test unless that gives `err`, 0 for success)
 * and, on success, reads it back. */
static void path_write(struct xs_handle *x, const char *path, int err)
{
	bool ok = xs_write(x, XBT_NULL, path, "v", 1);
	if (ok != (err == 0))
		VMSG_TEST_FAIL("write of a %zu-byte path: %s, expected %s",
			       strlen(path), ok ? "written" : strerror(errno),
			       err ? strerror(err) : "written");
	if (!ok) {
		ASSERT_EQ(errno, err);
		return;
	}
	unsigned len;
	char *v = xs_read(x, XBT_NULL, path, &len);
	ASSERT_TRUE(v != NULL);
	free(v);
}

static void paths(const struct xsh *h, struct xs_handle *x0)
{
	struct xs_handle *x7 = xsh_open(h, 7);
	/* Relative: 2048 bytes fit, measured after /local/domain/7/. */
	path_write(x7, long_path("data/", 2048), 0);
	path_write(x7, long_path("data/", 2049), EINVAL);
	/* The same absolute: the home prefix does not count. */
	path_write(x7, long_path("/local/domain/7/data/", 16 + 2048), 0);
	path_write(x7, long_path("/local/domain/7/data/", 16 + 2049), EINVAL);
	/* Reading or watching one over the quota is EINVAL too (the read
	 * also on the wire); unwatching one matches no watch: ENOENT. */
	const char *over = long_path("data/", 2049);
	unsigned len;
	ASSERT_TRUE(xs_read(x7, XBT_NULL, over, &len) == NULL);
	ASSERT_EQ(errno, EINVAL);
	int fd = dial(xsh_sock(h, 7));
	expect_wire_error(fd, XS_READ, over, (uint32_t)strlen(over) + 1,
			  "EINVAL");
	close(fd);
	ASSERT_TRUE(!xs_watch(x7, over, "t"));
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(!xs_unwatch(x7, over, "t"));
	ASSERT_EQ(errno, ENOENT);
	const char *fits = long_path("data/", 2048);
	ASSERT_TRUE(xs_watch(x7, fits, "t"));
	ASSERT_TRUE(xs_unwatch(x7, fits, "t"));
	ASSERT_TRUE(xs_rm(x7, XBT_NULL, "data"));

	/* Not exempt: dom0 has the same limit, outside a home measured
	 * from the root... */
	path_write(x0, long_path("/tool/", 2048), 0);
	path_write(x0, long_path("/tool/", 2049), EINVAL);
	path_write(x0, long_path("/local/domain/0/", 16 + 2048), 0);
	path_write(x0, long_path("/local/domain/0/", 16 + 2049), EINVAL);
	/* ...and a home is "/local/domain/" with 1 to 5 digits: with 6,
	 * the whole path counts. */
	path_write(x0, long_path("/local/domain/12345/", 20 + 2048), 0);
	path_write(x0, long_path("/local/domain/123456/", 2048), 0);
	path_write(x0, long_path("/local/domain/123456/", 2049), EINVAL);
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/tool"));
	char first[128];
	snprintf(first, sizeof(first), "/local/domain/0/%s", long_path("", 99));
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, first));
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/local/domain/12345"));
	ASSERT_TRUE(xs_rm(x0, XBT_NULL, "/local/domain/123456"));
	xs_close(x7);
}

/* ---- the options ---------------------------------------------------------------- */

static void options(const char *bin)
{
	struct xsh h;
	const char *const args[] = {"--watch-nb", "3", "-t", "0",
				    "--entry-nb", "5", "-S", "100",
				    "-A", "1", "--quota", "outstanding=1",
				    "--path-max", "100", NULL};
	xsh_start_args(&h, bin, args);
	struct xs_handle *x0 = xsh_open(&h, 0);
	ASSERT_TRUE(xs_introduce_domain(x0, 5, 1005, 15));
	struct xs_handle *x5 = xsh_open(&h, 5);
	for (int i = 0; i < 4; i++) {
		char tok[8];
		snprintf(tok, sizeof(tok), "t%d", i);
		ASSERT_TRUE(xs_watch(x5, "w", tok));
	}
	ASSERT_TRUE(!xs_watch(x5, "w", "over"));
	ASSERT_EQ(errno, E2BIG);
	xs_transaction_t t = xs_transaction_start(x5);
	ASSERT_NE(t, XBT_NULL);
	ASSERT_EQ(xs_transaction_start(x5), XBT_NULL);
	ASSERT_EQ(errno, ENOSPC);
	ASSERT_TRUE(xs_transaction_end(x5, t, false));
	/* home + 4 = 5 nodes */
	ok_write(x5, XBT_NULL, "a/b/c/d", "", 0);
	fail_write(x5, XBT_NULL, "e", "", 0, ENOSPC);
	ASSERT_TRUE(xs_rm(x5, XBT_NULL, "a"));
	static char v[100];
	ok_write(x5, XBT_NULL, "v", v, 100 - 32 - 1);
	fail_write(x5, XBT_NULL, "v", v, 100 - 32, ENOSPC);
	struct xs_permissions pe[2] = {{.id = 5, .perms = XS_PERM_NONE},
				       {.id = 6, .perms = XS_PERM_READ}};
	ASSERT_TRUE(!xs_set_permissions(x5, XBT_NULL, "v", pe, 2));
	ASSERT_EQ(errno, ENOSPC);
	/* --path-max 100, for dom0 too. */
	path_write(x0, long_path("/tool/", 100), 0);
	path_write(x0, long_path("/tool/", 101), EINVAL);
	ASSERT_TRUE(xs_rm(x5, XBT_NULL, "v"));
	path_write(x5, long_path("/local/domain/5/", 16 + 3), 0);
	path_write(x5, long_path("/local/domain/5/", 16 + 101), EINVAL);
	xs_close(x5);
	xs_close(x0);
	xsh_stop(&h);

	/* Above 2048 it is 2048, as xenstored caps it. */
	const char *const big[] = {"-M", "5000", NULL};
	xsh_start_args(&h, bin, big);
	x0 = xsh_open(&h, 0);
	path_write(x0, long_path("/tool/", 2048), 0);
	path_write(x0, long_path("/tool/", 2049), EINVAL);
	xs_close(x0);
	xsh_stop(&h);

	/* A bad value is refused at start. */
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		execl(bin, bin, "--dir", "/nonexistent", "--foreground",
		      "--watch-nb", "lots", (char *)NULL);
		_exit(127);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 2);
}

int main(int argc, char **argv)
{
	ASSERT_EQ(argc, 2);
	struct xsh h;
	xsh_start(&h, argv[1]);
	struct xs_handle *x0 = xsh_open(&h, 0);
	ASSERT_TRUE(xs_introduce_domain(x0, 5, 1005, 15));
	ASSERT_TRUE(xs_introduce_domain(x0, 6, 1006, 16));
	ASSERT_TRUE(xs_introduce_domain(x0, 7, 1007, 17));

	nodes(&h, x0);
	entry_size(&h, x0);
	watches(&h, x0);
	transactions(&h, x0);
	outstanding(&h, x0);
	paths(&h, x0);
	commit_counts_dom0(&h, x0);

	xs_close(x0);
	xsh_stop(&h);
	options(argv[1]);
	return 0;
}
