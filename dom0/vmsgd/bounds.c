/* What one guest can make vmsgd hold (docs/vmsgd.md, "Limits"): the bytes
 * of its data queued in vmsgd (max_queued_bytes_per_domain), its opens in
 * progress (max_pending_opens_per_domain) and how long a fragmented message
 * may stay incomplete (partial_message_ms). The back-off after resets is
 * session.c's. */
#include "vmsgd.h"

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
	uint64_t n = bridges_queued(d, domid);
	for (struct channel *c = d->channels; c; c = c->next)
		if (c->relay)
			n += relay_queued(c, domid);
	return n;
}

bool guest_may_queue(struct vmsgd *d, uint16_t domid)
{
	return domid == 0 ||
	       guest_queued(d, domid) < d->pol.limits.max_queued_bytes;
}

uint32_t guest_pending_opens(struct vmsgd *d, uint16_t domid)
{
	uint32_t n = 0;
	for (struct channel *c = d->channels; c; c = c->next)
		if (c->consumer == domid &&
		    (c->state == CH_PENDING ||
		     (c->state == CH_OPEN &&
		      ((c->mode == CHM_RELAYED && relay_waiting(c)) ||
		       (c->mode == CHM_BRIDGE_OUT && bridge_waiting(c))))))
			n++;
	return n;
}
