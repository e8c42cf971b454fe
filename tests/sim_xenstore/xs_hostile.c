/* sim_xs_hostile: raw clients that break the wire protocol are
 * disconnected, and the daemon keeps serving everyone else: a payload
 * longer than XENSTORE_PAYLOAD_MAX, an unknown type, a daemon-only type,
 * arguments without their terminating nul, garbage, a message cut short,
 * and a client that never reads its replies (dom0: bounded output queue;
 * a domU: Xen's outstanding-requests quota stops reading it). After
 * each, a libxenstore client still works; the daemon exits cleanly at the
 * end (run under ASan in the sanitizer build). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>
#include <xenstore.h>

#include "vmsg_test.h"
#include "xs_harness.h"

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

static void send_msg(int fd, uint32_t type, const void *pl, uint32_t len)
{
	struct xsd_sockmsg h = {.type = type, .req_id = 7, .tx_id = 0,
				.len = len};
	send_all(fd, &h, sizeof(h));
	if (len)
		send_all(fd, pl, len);
}

/* Reads until the daemon hangs up; replies it sent before are skipped. */
static void expect_hangup(int fd)
{
	char buf[4096];
	for (int i = 0; i < 600; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) == 0)
			continue;
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return;
		ASSERT_TRUE(r > 0);
	}
	VMSG_TEST_FAIL("daemon did not hang up within 60 s");
}

/* A well-formed request on a raw socket gets its reply. */
static void expect_reply(int fd, uint32_t type, const char *payload)
{
	struct xsd_sockmsg h;
	ASSERT_EQ(recv(fd, &h, sizeof(h), MSG_WAITALL), (ssize_t)sizeof(h));
	ASSERT_EQ(h.type, type);
	ASSERT_EQ(h.req_id, 7);
	char buf[XENSTORE_PAYLOAD_MAX];
	ASSERT_LE(h.len, sizeof(buf));
	ASSERT_EQ(recv(fd, buf, h.len, MSG_WAITALL), (ssize_t)h.len);
	ASSERT_EQ(h.len, strlen(payload) + 1);
	ASSERT_MEM_EQ(buf, payload, h.len);
}

/* The same for a request of any id; fails after 30 s without one. */
static void expect_reply_any(int fd, uint32_t type, const char *payload)
{
	struct timeval tv = {.tv_sec = 30};
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	struct xsd_sockmsg h;
	ASSERT_EQ(recv(fd, &h, sizeof(h), MSG_WAITALL), (ssize_t)sizeof(h));
	ASSERT_EQ(h.type, type);
	char buf[XENSTORE_PAYLOAD_MAX];
	ASSERT_EQ(h.len, strlen(payload) + 1);
	ASSERT_EQ(recv(fd, buf, h.len, MSG_WAITALL), (ssize_t)h.len);
	ASSERT_MEM_EQ(buf, payload, h.len);
}

static void still_serving(struct xs_handle *good, int round)
{
	char val[32];
	snprintf(val, sizeof(val), "round %d", round);
	ASSERT_TRUE(xs_write(good, XBT_NULL, "/alive", val, strlen(val)));
	unsigned len;
	char *v = xs_read(good, XBT_NULL, "/alive", &len);
	ASSERT_TRUE(v && strcmp(v, val) == 0);
	free(v);
}

/* Waits for the reply to request `req_id` (skipping watch events); returns
 * false if the daemon hung up instead. Each request gets exactly one. */
static bool await_reply(int fd, uint32_t req_id)
{
	for (;;) {
		struct xsd_sockmsg h;
		ssize_t r = recv(fd, &h, sizeof(h), MSG_WAITALL);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return false;
		if (r < 0 && errno == EAGAIN)
			VMSG_TEST_FAIL("no reply to request %u within 30 s",
				       req_id);
		ASSERT_EQ(r, (ssize_t)sizeof(h));
		ASSERT_LE(h.len, XENSTORE_PAYLOAD_MAX);
		char buf[XENSTORE_PAYLOAD_MAX];
		if (h.len) {
			r = recv(fd, buf, h.len, MSG_WAITALL);
			if (r == 0 || (r < 0 && errno == ECONNRESET))
				return false;
			ASSERT_EQ(r, (ssize_t)h.len);
		}
		if (h.type != XS_WATCH_EVENT && h.req_id == req_id)
			return true;
	}
}

static int dial_timed(const char *path)
{
	int fd = dial(path);
	struct timeval tv = {.tv_sec = 30};
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void fuzz(const char *s0, const char *s3, struct xs_handle *good)
{
	static const char *const pieces[] = {
		"/", "/fz", "/fz/a", "/fz/a/b", "fz/rel", "/local/domain/3",
		"/local/domain/3/x", "@introduceDomain", "@releaseDomain",
		"T", "F", "0", "1", "3", "4", "65535", "99999", "r3", "b0",
		"w3", "n0", "x9", "", "//", "/fz/", "tok", "/local/domain",
	};
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	uint64_t seed = 42;
	int fds[2] = {dial_timed(s0), dial_timed(s3)};
	int replies = 0, hangups = 0;
	for (int i = 0; i < 20000; i++) {
		int which = (int)(vmsg_test_rand(&seed) & 1);
		char pl[512];
		uint32_t len = 0;
		unsigned nargs = (unsigned)(vmsg_test_rand(&seed) % 5);
		for (unsigned k = 0; k < nargs; k++) {
			const char *a = pieces[vmsg_test_rand(&seed) % np];
			size_t al = strlen(a) + 1;
			memcpy(pl + len, a, al);
			len += (uint32_t)al;
		}
		/* Sometimes drop the final nul. */
		if (len && vmsg_test_rand(&seed) % 8 == 0)
			len--;
		struct xsd_sockmsg h = {
			.type = (uint32_t)(vmsg_test_rand(&seed) % XS_TYPE_COUNT),
			.req_id = (uint32_t)i + 1,
			.tx_id = (uint32_t)(vmsg_test_rand(&seed) % 4),
			.len = len};
		/* Never release dom3 or introduce others: keep the layout. */
		if (h.type == XS_RELEASE || h.type == XS_INTRODUCE)
			h.type = XS_READ;
		if (send(fds[which], &h, sizeof(h), MSG_NOSIGNAL) !=
			    (ssize_t)sizeof(h) ||
		    (len && send(fds[which], pl, len, MSG_NOSIGNAL) !=
				    (ssize_t)len)) {
			VMSG_TEST_FAIL("send: %s", strerror(errno));
		}
		if (await_reply(fds[which], h.req_id)) {
			replies++;
		} else {
			hangups++;
			close(fds[which]);
			fds[which] = dial_timed(which ? s3 : s0);
		}
		if (i % 1000 == 0)
			still_serving(good, 1000 + i);
	}
	close(fds[0]);
	close(fds[1]);
	/* Both outcomes were exercised, many times. */
	ASSERT_GT(replies, 1000);
	ASSERT_GT(hangups, 1000);
}

int main(int argc, char **argv)
{
	ASSERT_EQ(argc, 2);
	struct xsh h;
	xsh_start(&h, argv[1]);
	struct xs_handle *good = xsh_open(&h, 0);
	ASSERT_TRUE(xs_introduce_domain(good, 3, 1, 1));
	const char *s0 = strdup(xsh_sock(&h, 0));
	const char *s3 = strdup(xsh_sock(&h, 3));
	int round = 0;
	int fd;

	/* 1. A payload longer than the protocol's maximum. */
	fd = dial(s0);
	struct xsd_sockmsg big = {.type = XS_READ, .len = XENSTORE_PAYLOAD_MAX + 1};
	send_all(fd, &big, sizeof(big));
	expect_hangup(fd);
	close(fd);
	still_serving(good, round++);

	/* 2. Unknown types, and types only the daemon may send. */
	static const uint32_t bad_types[] = {XS_TYPE_COUNT, 20, 999, XS_INVALID,
					     XS_WATCH_EVENT, XS_ERROR};
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		fd = dial(i % 2 ? s3 : s0);
		send_msg(fd, bad_types[i], "x", 2);
		expect_hangup(fd);
		close(fd);
		still_serving(good, round++);
	}

	/* 3. Arguments without their nul, or the wrong number of them. */
	static const struct {
		uint32_t type;
		const char *pl;
		uint32_t len;
	} bad_args[] = {
		{XS_READ, "/alive", 6},
		{XS_READ, "/a\0/b", 6},
		{XS_WRITE, "/no-nul-anywhere", 16},
		{XS_WATCH, "/only-path", 11},
		{XS_INTRODUCE, "5\0001", 4},
		{XS_SET_PERMS, "/alive\0n0", 9},
		{XS_DIRECTORY, "", 0},
		{XS_TRANSACTION_END, "T", 1},
	};
	for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
		fd = dial(i % 2 ? s3 : s0);
		send_msg(fd, bad_args[i].type, bad_args[i].pl, bad_args[i].len);
		expect_hangup(fd);
		close(fd);
		still_serving(good, round++);
	}

	/* 4. Garbage. */
	fd = dial(s3);
	unsigned char junk[256];
	uint64_t seed = 0x5eed;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(vmsg_test_rand(&seed) | 0x80);
	send_all(fd, junk, sizeof(junk));
	expect_hangup(fd);
	close(fd);
	still_serving(good, round++);

	/* 5. A message cut short, then the client goes away. */
	fd = dial(s0);
	struct xsd_sockmsg cut = {.type = XS_WRITE, .len = 100};
	send_all(fd, &cut, sizeof(cut));
	send_all(fd, "/half", 5);
	close(fd);
	still_serving(good, round++);

	/* 6. Well-formed but wrong requests get error replies, not hangups;
	 * a domU may not introduce or release. */
	fd = dial(s3);
	send_msg(fd, XS_READ, "bad..path", 10);
	expect_reply(fd, XS_ERROR, "EINVAL");
	send_msg(fd, XS_INTRODUCE, "4\0001\0001", 6);
	expect_reply(fd, XS_ERROR, "EACCES");
	send_msg(fd, XS_RELEASE, "3", 2);
	expect_reply(fd, XS_ERROR, "EACCES");
	send_msg(fd, XS_READ, "/local/domain/0", 16);
	expect_reply(fd, XS_ERROR, "EACCES");
	send_msg(fd, XS_GET_DOMAIN_PATH, "3", 2);
	expect_reply(fd, XS_GET_DOMAIN_PATH, "/local/domain/3");
	close(fd);

	/* 7. A client that sends requests and never reads the replies: from
	 * dom0 it is cut off once its queue is full, instead of growing the
	 * daemon; from a domU, Xen's outstanding-requests quota stops the
	 * daemon reading it first (so its sends block), and it stays
	 * connected. */
	for (int dom = 0; dom < 2; dom++) {
		fd = dial(dom == 0 ? s0 : s3);
		ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
		unsigned char req[sizeof(struct xsd_sockmsg) + 32];
		struct xsd_sockmsg rh = {.type = XS_GET_DOMAIN_PATH, .len = 2};
		memcpy(req, &rh, sizeof(rh));
		memcpy(req + sizeof(rh), "3", 2);
		size_t rlen = sizeof(rh) + 2, sent = 0, off = 0;
		int cut_off = 0, blocked = 0;
		for (long i = 0; i < 10000000 && !cut_off && !blocked; i++) {
			ssize_t w = send(fd, req + off, rlen - off,
					 MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				/* A domU's sends stay blocked for good. */
				blocked = poll(&p, 1, dom ? 2000 : 100) == 0 &&
					  dom;
				continue;
			}
			if (w < 0) {
				ASSERT_TRUE(errno == EPIPE ||
					    errno == ECONNRESET);
				cut_off = 1;
				break;
			}
			off += (size_t)w;
			if (off == rlen) {
				off = 0;
				sent++;
			}
		}
		if (dom == 0) {
			ASSERT_TRUE(cut_off);
			/* It took at least a queue's worth of replies. */
			ASSERT_GT(sent * (sizeof(rh) + 16), (1u << 20));
		} else {
			ASSERT_TRUE(blocked);
			ASSERT_TRUE(!cut_off);
			/* Well short of the 1 MiB queue, which the domain
			 * never reaches. */
			ASSERT_LT(sent * (sizeof(rh) + 16), (1u << 20));
			/* Reading lets it go on: every whole request sent
			 * is answered. */
			ASSERT_EQ(fcntl(fd, F_SETFL, 0), 0);
			for (size_t k = 0; k < sent; k++)
				expect_reply_any(fd, XS_GET_DOMAIN_PATH,
						 "/local/domain/3");
		}
		close(fd);
		still_serving(good, round++);
	}

	/* 8. Structured fuzz: requests of every type built from plausible
	 * pieces (paths, numbers, perms, T/F) with random transaction ids,
	 * from dom0 and dom3; malformed ones get the connection dropped, so
	 * redial. Replies are drained as they come. */
	fuzz(s0, s3, good);
	still_serving(good, round++);

	/* The daemon still introduces, releases and stops cleanly. */
	ASSERT_TRUE(xs_release_domain(good, 3));
	ASSERT_TRUE(!xsh_exists(s3));
	xs_close(good);
	free((void *)s0);
	free((void *)s3);
	xsh_stop(&h);
	return 0;
}
