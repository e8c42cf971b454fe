/* How a block appliance's core (ramdisk.c, overlay.c) waits for its
 * consumer, so that a Linux program can stop it in order. The cores block
 * in the channel's own calls by default, as a unikernel does (it has no
 * signal to stop for). A Linux program gives a wait of its own instead
 * (blk_signal.c: the channel's fd or SIGTERM/SIGINT, whichever comes
 * first), and the core then looks at the ring without blocking and calls
 * it when there is nothing to read.
 *
 * Freestanding (the cores are one source for both builds). */
#ifndef BLK_WAIT_H
#define BLK_WAIT_H

#include <vmsg/chan.h>

#include "vmsg_errno.h"

struct blk_wait {
	/* Wait until channel c may have work, and take its event. 0 when
	 * it may; a negative errno to stop serving. NULL: no such wait,
	 * the core blocks in the channel's calls. */
	int (*wait)(void *ctx, vmsg_chan *c);
	void *ctx;
};

/* The core's vmsg_chan_peek(c, m, -1) through w. Once w says stop, what
 * is already in the ring is still presented (the consumer sent it before
 * the stop: it gets its answer), and then w's value is returned. */
static inline int blk_wait_peek(const struct blk_wait *w, vmsg_chan *c,
				struct vmsg_msg *m)
{
	int stop = 0;

	if (!w->wait)
		return vmsg_chan_peek(c, m, -1);
	for (;;) {
		/* -EAGAIN asks the peer for the kick that ends the wait. */
		int r = vmsg_chan_peek(c, m, 0);
		if (r != -EAGAIN)
			return r;
		if (stop)
			return stop;
		r = w->wait(w->ctx, c);
		if (r < 0)
			stop = r; /* one more look at the ring first */
	}
}

#endif
