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
 * O(channels). A guest at its bound has only its own ends trimmed.
 *
 * An end stopped by its guest's bound is on that domain's list of held-back
 * ends (guest_hold_back), in the order they stopped; as the guest's data
 * leaves vmsgd (a bridge's socket write completes: guest_wake; the tick:
 * guests_wake) the oldest are resumed first, while the domain may queue.
 * So a write completing costs O(1) when the guest has none held back, and
 * else a walk of that guest's held-back ends, never of every connection;
 * and the ends held longest go first: an end that stopped early is not
 * passed over by newer ones again and again.
 *
 * Two totals per domain (enum guest_pool), each with its own held-back
 * ends and the same bound: what it writes (its messages collected, its
 * connect bridges' queued socket writes: GUEST_WRITES) and the whole
 * messages of others' that wait in vmsgd for it to read (a relayed
 * message its ring has no room for: GUEST_READS). A message that waits for its reader is
 * the reader's doing, not the writer's: counted against the writer, a
 * consumer that opened channels to a provider and read none of its
 * large replies would have filled the provider's bound and held back its
 * replies to every other consumer. Counted against the reader, it holds
 * back only what is on its way to that reader; and the reader's own
 * messages go on, since its two totals never hold each other back. */
#include <errno.h>
#include <stdlib.h>

#include "broker.h"

/* A domain's record exists while it has ends (and until the tick's trim
 * after the last one left), found by domid in a small hash table: a few
 * domains, each found in a step or two. */
#define GUEST_BUCKETS 64u

struct guest_dom {
	struct guest_dom *next;   /* its bucket's */
	enum guest_pool pool;     /* which of the domain's totals */
	struct guest_end *ends;   /* its ends, joined (doubly linked) */
	/* Its held-back ends, oldest first (hprev/hnext), and how many. */
	struct guest_end *held, *held_tail;
	unsigned nheld;
	uint64_t queued;          /* the sum of its ends' counted */
	/* The end let past the bound to finish the message it collects
	 * (may_finish), while it does */
	struct guest_end *finisher;
	uint16_t domid;
};

int guests_init(struct vmsgd *d)
{
	d->guests = calloc(GUEST_BUCKETS, sizeof *d->guests);
	if (!d->guests)
		return -ENOMEM;
	uv_timer_init(d->loop, &d->wake_soon);
	d->wake_soon.data = d;
	return 0;
}

void guests_stop(struct vmsgd *d)
{
	uv_close((uv_handle_t *)&d->wake_soon, NULL);
}

static void on_wake_soon(uv_timer_t *t)
{
	guests_wake(t->data);
}

/* guests_wake at the loop's next turn (a 0 ms timer: several calls before
 * it make one walk), for wake-ups found where a resume must not run: it
 * pumps a bridge connection or relay at once, which may end channels, so
 * not inside a close path. Nothing once vmsgd is stopping (its handles
 * are closing). */
static void wake_soon(struct vmsgd *d)
{
	if (!d->stopping && !uv_is_active((uv_handle_t *)&d->wake_soon))
		uv_timer_start(&d->wake_soon, on_wake_soon, 0, 0);
}

void guests_free(struct vmsgd *d)
{
	for (unsigned i = 0; d->guests && i < GUEST_BUCKETS; i++)
		for (struct guest_dom *g = d->guests[i], *n; g; g = n) {
			n = g->next;
			free(g);
		}
	free(d->guests);
	d->guests = NULL;
}

static struct guest_dom *find(struct vmsgd *d, uint16_t domid,
			      enum guest_pool pool)
{
	struct guest_dom *g = d->guests[domid % GUEST_BUCKETS];
	while (g && (g->domid != domid || g->pool != pool))
		g = g->next;
	return g;
}

int guest_join(struct vmsgd *d, struct guest_end *e, uint16_t domid,
	       enum guest_pool pool, uint64_t (*count)(void *arg, bool trim),
	       bool (*collecting)(void *arg), void *arg,
	       void (*resume)(void *owner), void *owner)
{
	struct guest_dom *g = find(d, domid, pool);
	if (!g) {
		if (!(g = calloc(1, sizeof *g)))
			return -ENOMEM;
		g->domid = domid;
		g->pool = pool;
		g->next = d->guests[domid % GUEST_BUCKETS];
		d->guests[domid % GUEST_BUCKETS] = g;
	}
	e->dom = g;
	e->count = count;
	e->collecting = collecting;
	e->arg = arg;
	e->resume = resume;
	e->owner = owner;
	e->counted = 0;
	e->held = false;
	e->hprev = e->hnext = NULL;
	e->prev = NULL;
	e->next = g->ends;
	if (g->ends)
		g->ends->prev = e;
	g->ends = e;
	return 0;
}

/* Move e's domain's total to what e holds now (n). */
static void settle(struct guest_end *e, uint64_t n)
{
	/* Unsigned: e->counted is part of the total, so this never wraps. */
	e->dom->queued = e->dom->queued - e->counted + n;
	e->counted = n;
}

void guest_sync(struct vmsgd *d, struct guest_end *e)
{
	(void)d;
	if (e->dom)
		settle(e, e->count(e->arg, false));
}

/* e joins (held: at the tail) or leaves its domain's held-back ends. */
static void set_held(struct guest_end *e, bool held)
{
	struct guest_dom *g = e->dom;
	if (e->held == held)
		return; /* a held end keeps its place */
	e->held = held;
	if (held) {
		e->hnext = NULL;
		e->hprev = g->held_tail;
		if (g->held_tail)
			g->held_tail->hnext = e;
		else
			g->held = e;
		g->held_tail = e;
		g->nheld++;
		return;
	}
	if (e->hprev)
		e->hprev->hnext = e->hnext;
	else
		g->held = e->hnext;
	if (e->hnext)
		e->hnext->hprev = e->hprev;
	else
		g->held_tail = e->hprev;
	e->hprev = e->hnext = NULL;
	g->nheld--;
}

void guest_leave(struct vmsgd *d, struct guest_end *e)
{
	struct guest_dom *g = e->dom;
	if (!g)
		return;
	/* Room (its bytes) or the finisher's slot may come free for the
	 * ends of its domain held back at the bound: resume them soon, not
	 * at the tick, up to 500 ms later (a channel of a guest at its
	 * bound that closes mid-message left its other channels stalled
	 * that long). Not from here: the caller is tearing e's owner down. */
	bool freed = e->counted > 0 || g->finisher == e;
	settle(e, 0);
	set_held(e, false);
	if (g->finisher == e)
		g->finisher = NULL;
	if (freed && g->held)
		wake_soon(d);
	if (e->prev)
		e->prev->next = e->next;
	else
		g->ends = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	e->dom = NULL; /* the record goes at the tick's trim if unused */
}

uint64_t guest_queued(struct vmsgd *d, uint16_t domid, enum guest_pool pool)
{
	struct guest_dom *g = find(d, domid, pool);
	return g ? g->queued : 0;
}

/* Free the idle reassembly buffers of g's ends, and count them again. */
static void trim_dom(struct guest_dom *g)
{
	for (struct guest_end *e = g->ends; e; e = e->next)
		settle(e, e->count(e->arg, true));
}

void guests_trim(struct vmsgd *d)
{
	for (unsigned i = 0; i < GUEST_BUCKETS; i++)
		for (struct guest_dom **pp = &d->guests[i]; *pp;) {
			struct guest_dom *g = *pp;
			if (!g->ends) { /* its last end left: 0 counted */
				*pp = g->next;
				free(g);
				continue;
			}
			trim_dom(g);
			pp = &g->next;
		}
}

/* May vmsgd take more into g's total (below max_queued_bytes, once its
 * ends' idle reassembly buffers are freed)? dom0 (a listen bridge's
 * socket) always may. */
static bool guest_may_queue(struct vmsgd *d, struct guest_dom *g)
{
	uint64_t lim = d->pol.limits.max_queued_bytes;
	if (g->domid == 0 || g->queued < lim)
		return true;
	/* A reassembly buffer keeps the pages of the largest message it
	 * collected, and counts them, until it is freed: free this guest's
	 * idle ones before holding it back (a stream of messages each larger
	 * than the bound would otherwise go one per tick). */
	trim_dom(g);
	return g->queued < lim;
}

/* Is the guest's finisher slot free: no end finishing a message past the
 * bound, or the one that did has nothing here any more (its message left
 * vmsgd; counted after the trim of guest_may_queue)? */
static bool finish_free(const struct guest_dom *g)
{
	const struct guest_end *f = g->finisher;
	return !f || (!f->collecting(f->arg) && !f->counted);
}

/* At the bound, may e go on anyway, to finish the message it is
 * collecting? Ends of one guest each part-way through a fragmented
 * message, whose parts together reach the bound, would otherwise hold
 * each other back for good: none of those messages completes, so none of
 * their buffers can be freed (two seqpacket: bridges of 48 KiB messages
 * under a bound of 64 KiB did). So one end at a time, the guest's
 * finisher, collects on until its message is whole, and the next may
 * only once that message has left vmsgd (a destination that does not
 * take it holds the guest back, as at the bound): the bound is passed by
 * at most one message (max_msg) per guest, never one per channel. */
static bool may_finish(struct guest_dom *g, struct guest_end *e)
{
	if (g->finisher != e && !finish_free(g))
		return false; /* another's message comes first */
	g->finisher = NULL;
	if (!e->collecting(e->arg))
		return false;
	g->finisher = e;
	return true;
}

bool guest_hold_back(struct vmsgd *d, struct guest_end *e)
{
	struct guest_dom *g = e->dom;
	if (!g)
		return false;
	bool hold;
	if (g->pool == GUEST_READS)
		/* A message part-way into vmsgd is its writer's (counted in
		 * its writes) until it is whole: it goes on, or its writer
		 * would wait, and its partial_message_ms run out, for a
		 * reader's slowness. So the reader's total is passed by the
		 * messages being collected for it when it reached the
		 * bound, each taken under its writer's. */
		hold = !e->collecting(e->arg) && !guest_may_queue(d, g);
	else
		hold = !guest_may_queue(d, g) && !may_finish(g, e);
	set_held(e, hold);
	return hold;
}

/* Resume g's held-back ends, oldest first, while g may queue; over the
 * bound, the oldest that may finish its message. Each is taken off the
 * list before its resume, which may put it back (at the
 * tail: its turn is over), end it or others (guest_leave takes them off),
 * or join new ends; g itself stays (records go only at guests_trim). At
 * most the ends held at the start are resumed: one that holds itself back
 * again is not resumed twice. */
static void wake_dom(struct vmsgd *d, struct guest_dom *g)
{
	for (unsigned n = g->nheld; n > 0 && g->held; n--) {
		struct guest_end *e = g->held;
		if (!guest_may_queue(d, g)) {
			/* Over the bound one of them may still finish the
			 * message it is collecting (may_finish): the oldest
			 * such, once the slot is free; it takes the slot. */
			if (!finish_free(g))
				return;
			while (e && !e->collecting(e->arg))
				e = e->hnext;
			if (e) {
				set_held(e, false);
				e->resume(e->owner);
			}
			return;
		}
		set_held(e, false);
		e->resume(e->owner);
	}
}

void guest_wake(struct vmsgd *d, struct guest_end *e)
{
	if (e->dom && e->dom->held) /* O(1) when none is held back */
		wake_dom(d, e->dom);
}

void guests_wake(struct vmsgd *d)
{
	/* A resume may add a record (a new end of a new domain) at the head
	 * of a bucket: not visited now (it has nothing held); none goes. */
	for (unsigned i = 0; i < GUEST_BUCKETS; i++)
		for (struct guest_dom *g = d->guests[i]; g; g = g->next)
			if (g->held)
				wake_dom(d, g);
}

/* The recount of domain `domid`'s total `pool`: what each channel's
 * transport says its ends hold of that domain's data (the old way of
 * counting). */
static uint64_t recount(struct vmsgd *d, uint16_t domid, enum guest_pool pool)
{
	uint64_t n = 0;
	for (struct channel *c = broker_channels(d); c; c = c->next)
		if (c->tp->queued &&
		    (c->provider == domid || c->consumer == domid))
			n += c->tp->queued(c, domid, pool);
	return n;
}

/* Do domain `domid`'s totals match the recount? Logs and aborts if not:
 * a transport forgot to report a change (or to leave), and the bound is
 * being enforced on a wrong figure. */
static void check_dom(struct vmsgd *d, uint16_t domid)
{
	for (int pool = GUEST_WRITES; pool <= GUEST_READS; pool++) {
		uint64_t run = guest_queued(d, domid, pool),
			 re = recount(d, domid, pool);
		if (run == re)
			continue;
		vmsgd_log(LOG_ERROR, "%s bytes of domain %u: the running "
				     "total says %llu, its channels hold "
				     "%llu: aborting (VMSGD_CHECK_QUEUED)",
			  pool == GUEST_WRITES ? "queued" : "waiting",
			  (unsigned)domid, (unsigned long long)run,
			  (unsigned long long)re);
		abort();
	}
}

/* O(domains x channels): for the tests only. */
void guests_check(struct vmsgd *d)
{
	for (struct channel *c = broker_channels(d); c; c = c->next) {
		check_dom(d, c->provider);
		check_dom(d, c->consumer);
	}
	/* Domains with ends but no channel left must be at 0 too. */
	for (unsigned i = 0; i < GUEST_BUCKETS; i++)
		for (struct guest_dom *g = d->guests[i]; g; g = g->next)
			check_dom(d, g->domid);
}
