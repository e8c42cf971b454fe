/* How a block appliance's core (ramdisk.c, overlay.c, mirror.c) waits for
 * its consumer, so that a Linux program can stop it in order. The cores
 * block in the channel's own calls by default, as a unikernel does (it has
 * no signal to stop for). A Linux program gives a wait of its own instead
 * (blk_signal.c for vmsg-ramdisk and vmsg-overlay; blk_stop.c, over
 * guest_stop_requested(), for the SDK's -appliance programs), and the core
 * then looks at the ring without blocking and calls it when there is
 * nothing to read, or no room for a reply.
 *
 * A stop ends serving in order, within a bound: the requests already in
 * the ring when it comes are answered (the consumer sent them before the
 * stop), but a consumer that takes no replies (its ring stays full) or
 * keeps sending must not hold the program for ever. So from the stop on,
 * what is in flight has BLK_STOP_GRACE_MS: after that the wait says so
 * (-ETIMEDOUT), the core returns, and its caller closes the channel (the
 * consumer sees it close; what was not answered is lost to it, as on any
 * channel that closes).
 *
 * Freestanding (the cores are one source for both builds). */
#ifndef BLK_WAIT_H
#define BLK_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include <vmsg/chan.h>

#include "vmsg_errno.h"

/* What is in flight at a stop gets this long, from the stop, to be
 * answered and taken by the consumer (docs/storage.md and the programs'
 * usage texts say 5 s). */
#define BLK_STOP_GRACE_MS 5000u

/* What a wait is for. A stop is -ESHUTDOWN (an errno a unikernel build
 * has: vmsg_errno.h). */
enum blk_wait_for {
	/* Do not wait: 0 before a stop, -ESHUTDOWN after it while the
	 * grace lasts, -ETIMEDOUT once it is over (c is not used: it may
	 * be NULL). */
	BLK_WAIT_LOOK,
	/* A request (or a consumer): c's event, 0, or a stop (then at
	 * once, as BLK_WAIT_LOOK). */
	BLK_WAIT_REQUEST,
	/* Room for a reply: c's event, 0, also after a stop while the
	 * grace lasts; -ETIMEDOUT once it is over. */
	BLK_WAIT_ROOM,
};

struct blk_wait {
	/* Wait for `what` on channel c and take c's event (the caller then
	 * looks at c without blocking; 0 may also come early, for nothing).
	 * A negative errno as above, or the wait's own error. NULL: no such
	 * wait, the core blocks in the channel's calls. */
	int (*wait)(void *ctx, vmsg_chan *c, enum blk_wait_for what);
	void *ctx;
};

/* For the waits' implementations: what a wait for `what` says once a
 * stop has come, first seen at *stop_ns (set to now_ns at the first call;
 * a clock where 0 never comes): -ETIMEDOUT once the grace is over;
 * -ESHUTDOWN at once for anything but room; 0 for room, *ms (-1: no
 * limit) cut to the grace left. */
static inline int blk_wait_after_stop(uint64_t *stop_ns, uint64_t now_ns,
				      enum blk_wait_for what, int *ms)
{
	if (*stop_ns == 0)
		*stop_ns = now_ns;
	uint64_t end = *stop_ns + (uint64_t)BLK_STOP_GRACE_MS * 1000000u;
	if (now_ns >= end)
		return -ETIMEDOUT;
	if (what != BLK_WAIT_ROOM)
		return -ESHUTDOWN;
	unsigned left = (unsigned)((end - now_ns + 999999u) / 1000000u);
	if (*ms < 0 || left < (unsigned)*ms)
		*ms = (int)left;
	return 0;
}

/* vmsg_chan_accept(c, -1) through w: 0, -EPIPE (the consumer came and
 * went), w's stop (-ESHUTDOWN, -ETIMEDOUT), or another error. */
static inline int blk_wait_accept(const struct blk_wait *w, vmsg_chan *c)
{
	if (!w->wait)
		return vmsg_chan_accept(c, -1);
	for (;;) {
		int r = w->wait(w->ctx, c, BLK_WAIT_LOOK);
		if (r < 0)
			return r;
		if ((r = vmsg_chan_accept(c, 0)) != -EAGAIN)
			return r;
		if ((r = w->wait(w->ctx, c, BLK_WAIT_REQUEST)) < 0)
			return r;
	}
}

/* How serving a consumer ended, for the log: r the core's value, stopped
 * whether a stop came. */
static inline const char *blk_end_text(int r, bool stopped)
{
	if (!stopped)
		return r == -EPIPE ? "closed" : vmsg_strerror(r);
	return r == -ESHUTDOWN
		       ? "stopped, its requests answered"
		       : "stopped, its replies not all taken within the grace";
}

/* The core's vmsg_chan_peek(c, m, -1) through w. Once w says stop, what
 * is already in the ring is still presented (the consumer sent it before
 * the stop: it gets its answer) while the grace lasts, and then w's value
 * is returned (-ESHUTDOWN; -ETIMEDOUT when the grace ran out first). */
static inline int blk_wait_peek(const struct blk_wait *w, vmsg_chan *c,
				struct vmsg_msg *m)
{
	if (!w->wait)
		return vmsg_chan_peek(c, m, -1);
	for (;;) {
		int stop = w->wait(w->ctx, c, BLK_WAIT_LOOK);
		if (stop == -ETIMEDOUT)
			return stop;
		/* -EAGAIN asks the peer for the kick that ends the wait. */
		int r = vmsg_chan_peek(c, m, 0);
		if (r != -EAGAIN)
			return r;
		if (stop < 0)
			return stop;
		/* A stop during the wait: the loop looks at the ring once
		 * more first. */
		r = w->wait(w->ctx, c, BLK_WAIT_REQUEST);
		if (r < 0 && r != -ESHUTDOWN && r != -ETIMEDOUT)
			return r;
	}
}

/* The timeout for a core's send (a reply, or its reservation) through w:
 * -1 without a wait (block until there is room), 0 with one; then
 *	do r = send(..., blk_wait_ms(w));
 *	while (blk_wait_again(w, c, &r));
 * waits for room through w while the send says -EAGAIN (a fragmented
 * reply goes on where it stopped: vmsg_chan_send). */
static inline int blk_wait_ms(const struct blk_wait *w)
{
	return w->wait ? 0 : -1;
}

/* Whether to send again: *r was -EAGAIN and w found room may have come.
 * When w says no more (the grace is over), *r becomes its error. */
static inline bool blk_wait_again(const struct blk_wait *w, vmsg_chan *c,
				  int *r)
{
	if (*r != -EAGAIN || !w->wait)
		return false;
	int s = w->wait(w->ctx, c, BLK_WAIT_ROOM);
	if (s < 0) {
		*r = s;
		return false;
	}
	return true;
}

#endif
