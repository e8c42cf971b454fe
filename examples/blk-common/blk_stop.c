/* The SDK appliances' stop, Linux programs (blk_app.h: blk_app_wait_init):
 * guest_stop_requested() (SIGTERM or SIGINT) looked at between waits of
 * at most BLK_STOP_LOOK_MS, since a signal does not end the SDK's waits
 * (its handler restarts them). The unikernels link blk_stop_none.c
 * instead: a unikernel has no signals, and its cores block in the
 * channel's calls as they always have. */
#include <vmsg/guest.h>
#include <vmsg/waitset.h>

#include "blk_app.h"

/* The longest a wait lasts before it looks for a stop: how late a stop is
 * seen by an appliance waiting for its consumer. */
#define BLK_STOP_LOOK_MS 200

static uint64_t stop_ns; /* when the stop was first seen (guest_now_ns) */
static struct vmsg_waitset ws; /* the channel waited on, for one wait */

static int stop_wait(void *ctx, vmsg_chan *c, enum blk_wait_for what)
{
	struct vmsg_waitset_event ev;
	int ms = BLK_STOP_LOOK_MS, r;

	(void)ctx;
	if (guest_stop_requested() &&
	    (r = blk_wait_after_stop(&stop_ns, guest_now_ns(), what, &ms)) < 0)
		return r;
	if (what == BLK_WAIT_LOOK)
		return 0;
	if ((r = vmsg_waitset_add(&ws, c, 0)) < 0)
		return r;
	r = vmsg_waitset_wait(&ws, &ev, 1, ms); /* c's event, taken */
	(void)vmsg_waitset_remove(&ws, c);
	if (r < 0)
		return r;
	if (guest_stop_requested() &&
	    (r = blk_wait_after_stop(&stop_ns, guest_now_ns(), what, &ms)) < 0)
		return r;
	return 0;
}

void blk_app_wait_init(struct blk_wait *w)
{
	vmsg_waitset_init(&ws);
	(void)guest_stop_requested(); /* from now on, a signal stops us */
	*w = (struct blk_wait){.wait = stop_wait};
}
