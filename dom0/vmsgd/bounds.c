/* What one guest can make vmsgd hold (docs/vmsgd.md, "Limits"): the bytes
 * of its data queued in vmsgd (max_queued_bytes_per_domain), its opens in
 * progress (max_pending_opens_per_domain) and how long a fragmented message
 * may stay incomplete (partial_message_ms). The pending opens are counted
 * by the broker (broker_pending_opens), the back-off after resets by
 * session.c. */
#include "broker.h"

bool partial_expired(struct partial_watch *w, vmsg_chan *ch,
		     uint32_t limit_ms, uint64_t now)
{
	struct vmsg_chan_stats st;
	if (!ch || vmsg_chan_rx_partial(ch, NULL) != 1 ||
	    vmsg_chan_stats(ch, &st) < 0) {
		w->since_ms = 0;
		return false;
	}
	/* Sampled by the tick: a message completed since the last look means
	 * this incomplete one is another (a stream of large messages is
	 * fragmented nearly all the time, each one briefly). */
	if (!w->since_ms || st.rx_msgs != w->msgs) {
		w->since_ms = now;
		w->msgs = st.rx_msgs;
		return false;
	}
	return now - w->since_ms >= limit_ms;
}

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
