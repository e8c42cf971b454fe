/* The unikernels' blk_app_wait_init (blk_app.h): no wait of our own. A
 * unikernel has no signal to stop for (guest_stop_requested() is always
 * false there), so its cores block in the channel's calls, waking for
 * nothing else; the Linux programs link blk_stop.c. */
#include "blk_app.h"

void blk_app_wait_init(struct blk_wait *w)
{
	*w = (struct blk_wait){0};
}
