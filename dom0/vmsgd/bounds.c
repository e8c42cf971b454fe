/* What one guest can make vmsgd hold (docs/vmsgd.md, "Limits"): the bytes
 * of its data queued in vmsgd (max_queued_bytes_per_domain), its opens in
 * progress (max_pending_opens_per_domain) and how long a fragmented message
 * may stay incomplete (partial_message_ms, watched with vmsg_partial.h,
 * which vmsg-blockd shares, by session.c and relay.c). The pending opens
 * are counted by the broker (broker_pending_opens), the back-off after
 * resets by session.c. */
#include "broker.h"

uint64_t guest_queued(struct vmsgd *d, uint16_t domid)
{
	uint64_t n = 0;
	for (const struct channel *c = broker_channels(d); c; c = c->next)
		if (c->tp->queued)
			n += c->tp->queued(c, domid);
	return n;
}

void guests_trim(struct vmsgd *d)
{
	for (const struct channel *c = broker_channels(d); c; c = c->next)
		if (c->tp->trim)
			c->tp->trim(c);
}

bool guest_may_queue(struct vmsgd *d, uint16_t domid)
{
	uint64_t lim = d->pol.limits.max_queued_bytes;
	if (domid == 0 || guest_queued(d, domid) < lim)
		return true;
	/* A reassembly buffer keeps the pages of the largest message it
	 * collected, and counts them, until it is freed: free the idle ones
	 * before holding a guest back (a stream of messages each larger
	 * than the bound would otherwise go one per tick). */
	guests_trim(d);
	return guest_queued(d, domid) < lim;
}
