/* The drop-in libxenvchan: I/O, waiting and state, with libxenvchan's
 * return values (-1 and errno on error, 0 for "not now" in non-blocking
 * mode) over vmsg's raw byte stream.
 *
 * What changes for programs, inside that contract (docs/libxenvchan.md):
 * - an impossible index or live byte written by the peer makes the call
 *   return -1 with errno EPROTO, and is_open() 0 from then on, where
 *   libxenvchan would treat the ring as empty or full and wait forever;
 * - data the peer wrote before it closed is still delivered: is_open()
 *   says 1 until it has all been read, read()/recv() return it, and -1
 *   (errno EPIPE) only once the stream is drained;
 * - a destroyed peer domain is seen as closed (vmsg's Xen platform).
 *
 * Blocking: the `blocking` bitfield of struct libxenvchan is read at every
 * call, as programs set it directly. */
#define _GNU_SOURCE
#include "vchan_private.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>

#include <vmsg/ring.h>

#include "vmsg_barrier.h"
#include "vmsg_chan_internal.h"
#include "vmsg_ring_inline.h"
#include "xenplat_os.h"

#define IO_MAX ((size_t)INT_MAX) /* counts are returned as int */

static int fail(int neg_errno)
{
	errno = -neg_errno;
	return -1;
}

static bool blocking(struct libxenvchan *ctrl)
{
	return ctrl->blocking != 0; /* a signed 1-bit field: 1 reads as -1 */
}

/* Has the peer closed or died (or broken the protocol)? Unlike
 * vmsg_chan_state(), which says OPEN while data sent before the close is
 * still unread, this is about the peer itself: nothing more will come. */
static bool peer_done(struct vchan_dropin *d)
{
	int st = vmsg_chan_state(d->c);
	if (st == VMSG_CHAN_CLOSED || st == VMSG_CHAN_BROKEN)
		return true;
	/* Acquire: pairs with the peer's (or the platform's, at its death)
	 * store-release of its live byte, as vmsg_chan_state's own read. */
	return vmsg__load_acquire(d->e->peer_live) == VMSG_LIVE_GONE;
}

/* The error to report for a stream that ended: EPROTO if it broke. */
static int ended(struct vchan_dropin *d)
{
	return fail(vmsg_chan_state(d->c) == VMSG_CHAN_BROKEN ? -EPROTO : -EPIPE);
}

/* A vmsg result to libxenvchan's convention. */
static int io_result(struct vchan_dropin *d, int r)
{
	if (r >= 0)
		return r;
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return 0;
	if (r == -EPIPE)
		return ended(d);
	return fail(r);
}

/* Ask the peer for a kick (`bit`): every time, a locked set of the bit
 * and a full barrier before the caller's next look at the ring, as
 * libxenvchan's request_notify does. Skipping the request while the bit
 * still read as set (it saved polling programs a locked write per look)
 * lost wake-ups: on real Xen, Debian's vchan-socket-proxy on the drop-in
 * in dom0 went to sleep in select() with data in its ring and no request
 * in the page (dropin-pv failed 7 of 8 runs with a fuzzer busy on the
 * other CPU; without the skip, 3 of 3 passed, 2 of them under that load). */
static void request(struct vmsg_ring_end *e, unsigned bit)
{
	vmsg_ring_request_notify(e, bit);
}

/* Sleep until the next event of the channel (data, space, a client, a
 * close, the peer's death) and consume it. Where the channel's fd carries
 * its events alone, in one read of the event device, as libxenvchan's own
 * wait (vmsg__xenplat_sleep). Where it also carries the platform's own
 * business (dom0's xenstore watch for a destroyed peer), by polling the fd
 * and then acking it: that returns after a wake-up with nothing new,
 * which libxenvchan's callers already take, since an event never says
 * what changed; the platform's sleep would instead sleep on through it,
 * and a program that saw the fd readable in select() and called
 * libxenvchan_wait() would hang there until the peer's next event. */
static int wait_event(struct vchan_dropin *d)
{
	int r = vmsg__xenplat_sleep(vmsg__chan_platform(d->c));
	if (r == -EINTR)
		return fail(r); /* a signal ends the wait, as a read would */
	if (r != -EAGAIN)
		return r < 0 ? fail(r) : 0;
	struct pollfd pf = { .fd = vmsg_chan_fd(d->c), .events = POLLIN };
	if (pf.fd < 0)
		return fail(pf.fd);
	if (poll(&pf, 1, -1) < 0)
		return -1; /* EINTR: a signal ends the wait, as a read would */
	r = vmsg_chan_ack(d->c);
	return r < 0 ? fail(r) : 0;
}

int libxenvchan_wait(struct libxenvchan *ctrl)
{
	return wait_event(vchan_of(ctrl));
}

int libxenvchan_fd_for_select(struct libxenvchan *ctrl)
{
	int fd = vmsg_chan_fd(vchan_of(ctrl)->c);
	return fd < 0 ? fail(fd) : fd;
}

int libxenvchan_is_open(struct libxenvchan *ctrl)
{
	switch (vmsg_chan_state(vchan_of(ctrl)->c)) {
	case VMSG_CHAN_WAITING:
		return 2;
	case VMSG_CHAN_OPEN:
		return 1;
	default: /* closed (and drained), died, or broke the protocol */
		return 0;
	}
}

/* Both ask the peer for a kick when the value changes, as libxenvchan's
 * do: a program that polls fd_for_select() after them is woken. A broken
 * ring reports 0 (is_open() then says 0, and I/O fails with EPROTO). */
int libxenvchan_data_ready(struct libxenvchan *ctrl)
{
	struct vmsg_ring_end *e = vchan_of(ctrl)->e;
	request(e, VMSG_NOTIFY_WRITE);
	int n = vmsg__rx_ready(e);
	/* A broken index stays in the ring end: is_open() says 0 from now. */
	return n < 0 ? 0 : n;
}

int libxenvchan_buffer_space(struct libxenvchan *ctrl)
{
	struct vmsg_ring_end *e = vchan_of(ctrl)->e;
	request(e, VMSG_NOTIFY_READ);
	int n = vmsg__tx_space(e);
	return n < 0 ? 0 : n;
}

/* A partial read or write leaves the program waiting on fd_for_select()
 * for the rest, so it must have asked the peer for that kick, as
 * libxenvchan does whenever a call finds less than it wanted: vmsg's own
 * calls ask only when they find nothing. So read() and write() look at
 * the ring first and, finding less than asked for, ask before the copy,
 * whose own look at the peer's index then follows the request (a new one
 * ends with a full barrier: either the peer sees our bit after it
 * publishes, or that look sees what it published). One request and one copy per
 * call, as libxenvchan's; a second request, and a second look through
 * vmsg's waiting code, cost every partial call of a batched stream a
 * locked write to the shared line more.
 *
 * A call that found nothing and waited inside vmsg_chan_read (blocking)
 * was woken by a kick, which cleared the request: more_read asks again
 * and takes what came meanwhile. */
static int more_read(struct vchan_dropin *d, char *buf, size_t size, int got)
{
	if (got <= 0 || (size_t)got >= size)
		return got;
	request(d->e, VMSG_NOTIFY_WRITE);
	if (vmsg__rx_ready(d->e) == 0)
		return got; /* (a broken index: the read below records it) */
	int r = vmsg_chan_read(d->c, buf + got, size - (size_t)got, 0);
	return r > 0 ? got + r : got;
}

/* The first look of read() and write(): `have` bytes (ready, or space)
 * against the `size` asked for. Short: ask for a kick (`bit`). Nothing
 * at all in a non-blocking call: look once more after the request and,
 * still nothing with the peer there, 0 at once, without vmsg's waiting
 * code (which would ask again). Returns 0 for that, 1 to go on. */
static int first_look(struct vchan_dropin *d, int have, size_t size,
		      unsigned bit, bool block)
{
	if (have < 0 || (size_t)have >= size)
		return 1; /* enough, or broken: the copy says which */
	request(d->e, bit);
	if (have > 0 || block)
		return 1;
	have = bit == VMSG_NOTIFY_WRITE ? vmsg__rx_ready(d->e)
					: vmsg__tx_space(d->e);
	/* Peer gone (or broken): vmsg's calls give the data sent before the
	 * close, EPIPE once drained, or the error. */
	return have != 0 || peer_done(d);
}

int libxenvchan_read(struct libxenvchan *ctrl, void *data, size_t size)
{
	struct vchan_dropin *d = vchan_of(ctrl);
	bool block = blocking(ctrl);
	if (size > IO_MAX)
		size = IO_MAX;
	int ready = vmsg__rx_ready(d->e);
	if (!first_look(d, ready, size, VMSG_NOTIFY_WRITE, block))
		return 0;
	/* At least one byte, waiting for it when blocking. */
	int r = io_result(d, vmsg_chan_read(d->c, data, size, block ? -1 : 0));
	return ready == 0 ? more_read(d, data, size, r) : r;
}

int libxenvchan_write(struct libxenvchan *ctrl, const void *data, size_t size)
{
	struct vchan_dropin *d = vchan_of(ctrl);
	if (size > IO_MAX)
		size = IO_MAX;
	if (!blocking(ctrl)) {
		if (!first_look(d, vmsg__tx_space(d->e), size, VMSG_NOTIFY_READ,
				false))
			return 0;
		return io_result(d, vmsg_chan_write(d->c, data, size, 0));
	}
	/* Blocking: all of it, as libxenvchan's blocking write does. */
	size_t pos = 0;
	while (pos < size) {
		int r = vmsg_chan_write(d->c, (const char *)data + pos, size - pos, -1);
		if (r < 0)
			return io_result(d, r) < 0 ? -1 : fail(-EIO);
		pos += (size_t)r;
	}
	return (int)size;
}

/* recv and send move exactly `size` bytes or none. Each loop asks the
 * peer for a kick before its last check, so the wait that follows cannot
 * miss the peer's progress (the request ends with a full barrier: the
 * peer sees our bit after its publish, or we see what it published).
 * recv looks at the peer's liveness only once the ring is seen short
 * twice (before and after the request): once per call that finds too
 * little, as libxenvchan's is_open() look. */
int libxenvchan_recv(struct libxenvchan *ctrl, void *data, size_t size)
{
	struct vchan_dropin *d = vchan_of(ctrl);
	struct vmsg_ring_end *e = d->e;
	bool armed = false;

	if (size > IO_MAX)
		return fail(-EMSGSIZE);
	for (;;) {
		int ready = vmsg__rx_ready(e);
		if (ready < 0)
			return ended(d);
		if (size <= (size_t)ready) /* all there: one read takes it */
			return io_result(d, vmsg_chan_read(d->c, data, size, 0));
		if (!armed) {
			request(e, VMSG_NOTIFY_WRITE);
			armed = true;
			continue;
		}
		if (peer_done(d)) {
			/* The peer may have sent its last message and closed
			 * since `ready` was read: its data precede its close
			 * (peer_done's acquire), so one more look sees them.
			 * Only then is what is left never whole. */
			ready = vmsg__rx_ready(e);
			if (ready >= 0 && size <= (size_t)ready)
				return io_result(d, vmsg_chan_read(d->c, data, size, 0));
			return ended(d);
		}
		if (!blocking(ctrl))
			return 0;
		if (size > d->rd_size)
			return fail(-EMSGSIZE); /* can never be whole */
		if (wait_event(d) < 0)
			return -1;
		armed = false; /* a kick clears the peer's copy of our bit */
	}
}

int libxenvchan_send(struct libxenvchan *ctrl, const void *data, size_t size)
{
	struct vchan_dropin *d = vchan_of(ctrl);
	struct vmsg_ring_end *e = d->e;
	bool armed = false;

	if (size > IO_MAX)
		return fail(-EMSGSIZE);
	for (;;) {
		if (peer_done(d))
			return ended(d);
		int space = vmsg__tx_space(e);
		if (space < 0)
			return ended(d);
		if (size <= (size_t)space) /* fits: one write takes it all */
			return io_result(d, vmsg_chan_write(d->c, data, size, 0));
		if (!armed) {
			request(e, VMSG_NOTIFY_READ);
			armed = true;
			continue;
		}
		if (!blocking(ctrl))
			return 0;
		if (size > d->wr_size)
			return fail(-EMSGSIZE);
		if (wait_event(d) < 0)
			return -1;
		armed = false;
	}
}
