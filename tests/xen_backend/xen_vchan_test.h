/* The libxenvchan side of the Xen backend tests: Debian's unmodified
 * library (linked with -lxenvchan), driven non-blocking with poll on its
 * event fd, streaming the same seeded data as xen_test.h. */
#ifndef XEN_VCHAN_TEST_H
#define XEN_VCHAN_TEST_H

#include "xen_test.h"

#include <libxenvchan.h>

/* Block until the channel has an event (fails the test after a while). */
static inline void xv_wait_event(struct libxenvchan *c)
{
	struct pollfd pf = {.fd = libxenvchan_fd_for_select(c),
			    .events = POLLIN};
	int r;
	while ((r = poll(&pf, 1, SIM_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (r != 1)
		VMSG_TEST_FAIL("libxenvchan: no event within %d ms",
			       SIM_WAIT_MS);
	ASSERT_EQ(libxenvchan_wait(c), 0);
}

static inline void xv_write_all(struct libxenvchan *c, const void *p,
				size_t n)
{
	const unsigned char *b = p;
	for (size_t off = 0; off < n;) {
		int w = libxenvchan_write(c, b + off, n - off);
		ASSERT_GE(w, 0);
		if (w == 0) {
			ASSERT_EQ(libxenvchan_is_open(c), 1);
			xv_wait_event(c);
		}
		off += (size_t)w;
	}
}

static inline uint64_t xv_send(struct libxenvchan *c, uint64_t total,
			       uint64_t seed)
{
	static unsigned char buf[XT_CHUNK];
	uint64_t h = VMSG_TEST_FNV_INIT;
	while (total) {
		size_t n = total < sizeof buf ? (size_t)total : sizeof buf;
		xt_fill(&seed, buf, n);
		h = vmsg_test_fnv(h, buf, n);
		xv_write_all(c, buf, n);
		total -= n;
	}
	return h;
}

/* Read exactly n bytes. */
static inline void xv_read_all(struct libxenvchan *c, void *p, size_t n,
			       uint64_t *h, uint64_t *t0)
{
	unsigned char *b = p;
	for (size_t off = 0; off < n;) {
		int r = libxenvchan_read(c, b + off, n - off);
		ASSERT_GE(r, 0);
		if (r == 0) {
			if (libxenvchan_is_open(c) != 1)
				VMSG_TEST_FAIL("libxenvchan: peer gone with "
					       "%zu bytes missing", n - off);
			xv_wait_event(c);
			continue;
		}
		if (t0 && !*t0)
			*t0 = xt_now_ns();
		if (h)
			*h = vmsg_test_fnv(*h, b + off, (size_t)r);
		off += (size_t)r;
	}
}

static inline uint64_t xv_recv(struct libxenvchan *c, uint64_t total,
			       uint64_t *ns)
{
	static unsigned char buf[XT_CHUNK];
	uint64_t h = VMSG_TEST_FNV_INIT, t0 = 0;
	while (total) {
		size_t n = total < sizeof buf ? (size_t)total : sizeof buf;
		xv_read_all(c, buf, n, &h, &t0);
		total -= n;
	}
	if (ns)
		*ns = xt_now_ns() - t0;
	return h;
}

/* The peer closed (or died): is_open() drops to 0 with no data left. */
static inline void xv_expect_closed(struct libxenvchan *c)
{
	while (libxenvchan_is_open(c) != 0) {
		ASSERT_EQ(libxenvchan_data_ready(c), 0);
		xv_wait_event(c);
	}
	ASSERT_EQ(libxenvchan_data_ready(c), 0);
}

#endif
