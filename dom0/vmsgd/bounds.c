/* What one guest can make vmsgd hold (docs/vmsgd.md, "Limits"): the bytes
 * of its data queued in vmsgd (max_queued_bytes_per_domain), its opens in
 * progress (max_pending_opens_per_domain) and how long a fragmented message
 * may stay incomplete (partial_message_ms, watched with vmsg_partial.h,
 * which vmsg-blockd shares, by session.c and relay.c). The pending opens
 * are counted by the broker (broker_pending_opens), the back-off after
 * resets by session.c.
 *
 * The queued bytes are asked for on every copy turn of every relayed and
 * bridged channel, so they are a running total per domain (struct
 * guest_end, vmsgd.h), never a walk of the channels: with a guest holding
 * thousands of channels, a walk made every message anybody sent cost
 * O(channels). A guest at its bound has only its own ends trimmed. */
#include <errno.h>
#include <stdlib.h>

#include "broker.h"

/* One per possible domid: 65536 records of a few words, allocated zeroed
 * at start; the pages of the domids never used are never touched. */
#define GUEST_DOMS 65536u

struct guest_dom {
	struct guest_end *ends;   /* its ends, joined (doubly linked) */
	struct guest_dom *next;   /* d->guests_active, while listed */
	uint64_t queued;          /* the sum of its ends' counted */
	uint16_t domid;
	bool listed;              /* on d->guests_active */
};

int guests_init(struct vmsgd *d)
{
	d->guests = calloc(GUEST_DOMS, sizeof *d->guests);
	if (!d->guests)
		return -ENOMEM;
	for (unsigned i = 0; i < GUEST_DOMS; i++)
		d->guests[i].domid = (uint16_t)i;
	return 0;
}

void guests_free(struct vmsgd *d)
{
	free(d->guests);
	free(d->recount);
	d->guests = NULL;
	d->recount = NULL;
	d->guests_active = NULL;
}

void guest_join(struct vmsgd *d, struct guest_end *e, uint16_t domid,
		uint64_t (*count)(void *arg, bool trim), void *arg)
{
	struct guest_dom *g = &d->guests[domid];
	e->count = count;
	e->arg = arg;
	e->counted = 0;
	e->domid = domid;
	e->joined = true;
	e->prev = NULL;
	e->next = g->ends;
	if (g->ends)
		g->ends->prev = e;
	g->ends = e;
	/* Listed for the tick's trim; a domain whose ends have all left is
	 * unlisted by the next trim. */
	if (!g->listed) {
		g->listed = true;
		g->next = d->guests_active;
		d->guests_active = g;
	}
}

/* Move e's domain's total to what e holds now (n). */
static void settle(struct vmsgd *d, struct guest_end *e, uint64_t n)
{
	struct guest_dom *g = &d->guests[e->domid];
	/* Unsigned: e->counted is part of g->queued, so this never wraps. */
	g->queued = g->queued - e->counted + n;
	e->counted = n;
}

void guest_sync(struct vmsgd *d, struct guest_end *e)
{
	if (e->joined)
		settle(d, e, e->count(e->arg, false));
}

void guest_leave(struct vmsgd *d, struct guest_end *e)
{
	if (!e->joined)
		return;
	struct guest_dom *g = &d->guests[e->domid];
	settle(d, e, 0);
	if (e->prev)
		e->prev->next = e->next;
	else
		g->ends = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	e->joined = false;
}

uint64_t guest_queued(struct vmsgd *d, uint16_t domid)
{
	return d->guests[domid].queued;
}

/* Free the idle reassembly buffers of g's ends, and count them again. */
static void trim_dom(struct vmsgd *d, struct guest_dom *g)
{
	for (struct guest_end *e = g->ends; e; e = e->next)
		settle(d, e, e->count(e->arg, true));
}

void guests_trim(struct vmsgd *d)
{
	for (struct guest_dom **pp = &d->guests_active; *pp;) {
		struct guest_dom *g = *pp;
		if (!g->ends) {
			*pp = g->next;
			g->listed = false;
			continue;
		}
		trim_dom(d, g);
		pp = &g->next;
	}
}

bool guest_may_queue(struct vmsgd *d, uint16_t domid)
{
	uint64_t lim = d->pol.limits.max_queued_bytes;
	if (domid == 0 || guest_queued(d, domid) < lim)
		return true;
	/* A reassembly buffer keeps the pages of the largest message it
	 * collected, and counts them, until it is freed: free this guest's
	 * idle ones before holding it back (a stream of messages each larger
	 * than the bound would otherwise go one per tick). */
	trim_dom(d, &d->guests[domid]);
	return guest_queued(d, domid) < lim;
}

/* Does domain `domid`'s total match the recount? Logs and aborts if not:
 * a transport forgot to report a change (or to leave), and the bound is
 * being enforced on a wrong figure. */
static void check_dom(struct vmsgd *d, uint16_t domid)
{
	uint64_t run = d->guests[domid].queued, re = d->recount[domid];
	if (run == re)
		return;
	vmsgd_log(LOG_ERROR, "queued bytes of domain %u: the running total "
			     "says %llu, its channels hold %llu: aborting "
			     "(VMSGD_CHECK_QUEUED)",
		  (unsigned)domid, (unsigned long long)run,
		  (unsigned long long)re);
	abort();
}

void guests_check(struct vmsgd *d)
{
	if (!d->recount &&
	    !(d->recount = calloc(GUEST_DOMS, sizeof *d->recount)))
		return; /* no memory for the check: skip it this time */
	struct channel *c;
	/* The recount: what each transport says each channel holds of its
	 * two domains' data (the old way of counting). */
	for (c = broker_channels(d); c; c = c->next) {
		if (!c->tp->queued)
			continue;
		d->recount[c->provider] += c->tp->queued(c, c->provider);
		if (c->consumer != c->provider)
			d->recount[c->consumer] +=
				c->tp->queued(c, c->consumer);
	}
	for (c = broker_channels(d); c; c = c->next) {
		check_dom(d, c->provider);
		check_dom(d, c->consumer);
	}
	/* Domains with ends but no channel left must be at 0 too. */
	for (struct guest_dom *g = d->guests_active; g; g = g->next)
		check_dom(d, g->domid);
	for (c = broker_channels(d); c; c = c->next)
		d->recount[c->provider] = d->recount[c->consumer] = 0;
}
