/* A lower disk with a limit on silence (blk_lower.h). */
#include "blk_lower.h"

#include "vmsg_chan_internal.h"
#include "vmsg_errno.h"

void blk_lower_init(struct blk_lower *l, vmsg_blk_client *cl, vmsg_chan *c,
		    unsigned timeout_s)
{
	l->cl = cl;
	l->timeout_ns = (uint64_t)timeout_s * 1000000000u;
	l->p = vmsg__chan_platform(c);
	l->heard_ns = 0;
	l->silent = false;
}

static uint64_t now_ns(struct blk_lower *l)
{
	return l->p->ops->now_ns(l->p);
}

/* Milliseconds the provider may stay silent from now: -1 with no limit,
 * 0 when it has used them all up. */
static int ms_left(struct blk_lower *l)
{
	if (!l->timeout_ns)
		return -1;
	uint64_t now = now_ns(l), end = l->heard_ns + l->timeout_ns;
	if (now >= end)
		return 0;
	return (int)((end - now + 999999u) / 1000000u); /* <= 86400000 */
}

/* The provider is taken as gone: what waits on it fails, and so does
 * everything after (the client keeps the error; its channel is not read
 * again). */
static void give_up(struct blk_lower *l)
{
	l->silent = true;
	(void)vmsg_blk_client_abort(l->cl, -ETIMEDOUT);
}

int blk_lower_submit(struct blk_lower *l, const struct vmsg_blk_io *io)
{
	if (l->silent)
		return -ETIMEDOUT;
	if (vmsg_blk_client_outstanding(l->cl) == 0)
		l->heard_ns = now_ns(l); /* it owes nothing yet: start here */
	for (;;) {
		int ms = ms_left(l);
		if (ms == 0) {
			/* No room in the channel for all that time: the
			 * provider is not reading either. */
			give_up(l);
			return -ETIMEDOUT;
		}
		int r = vmsg_blk_client_submit(l->cl, io, ms);
		/* -ETIMEDOUT: lib/block's deadline (the same clock) has
		 * passed; ms_left says 0 now, unless it woke a little early. */
		if (r != -ETIMEDOUT)
			return r;
	}
}

int blk_lower_wait(struct blk_lower *l, int32_t *status)
{
	struct vmsg_blk_done d;
	for (;;) {
		if (vmsg_blk_client_outstanding(l->cl) == 0)
			return -EINVAL;
		/* reap returns 0 when ms passes with nothing come (or early:
		 * a kick that brought no reply); the loop looks again. At the
		 * limit, a last look without waiting before giving up. */
		int ms = l->silent ? 0 : ms_left(l);
		int n = vmsg_blk_client_reap(l->cl, &d, 1, ms);
		if (n < 0)
			return n;
		if (n == 1) {
			l->heard_ns = now_ns(l); /* a reply: silence starts again */
			*status = d.status;
			return 0;
		}
		if (ms == 0 && !l->silent)
			give_up(l); /* its requests complete with -ETIMEDOUT */
	}
}

int blk_lower_io(struct blk_lower *l, unsigned op, void *buf, uint32_t length,
		 uint64_t offset, unsigned flags)
{
	struct vmsg_blk_io io = {
		.op = (uint16_t)op, .flags = (uint16_t)flags, .length = length,
		.offset = offset, .buf = buf, .user = 0,
	};
	int32_t st;
	int r = blk_lower_submit(l, &io);
	if (r == 0)
		r = blk_lower_wait(l, &st);
	return r < 0 ? r : st;
}
