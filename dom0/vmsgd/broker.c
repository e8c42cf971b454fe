/* The broker: the one owner of vmsgd's services and channels (broker.h).
 *
 * Admission (name, policy, per-consumer and pending-open limits, ids) is
 * written here once, for a guest's Open and for a listen bridge's
 * connection alike; so is the channel's state machine (pending -> open ->
 * lingering -> forgotten) and its deadlines.
 *
 * Dependency direction, chosen so that no two files call each other:
 *
 *     main.c ─┬─> session.c ─────────────┐
 *             ├─> relay.c ──> bounds.c ──┤
 *             ├─> bridges.c ─> bridge.c ─┼─> broker.c ─> policy.c, log.c
 *             ├─> direct.c ──────────────┤
 *             └─> ctlsock.c, metrics.c ──┘
 *
 * Callers name the broker; the broker names none of them. What differs
 * by mode it asks of the channel's struct transport (c->tp), and what a
 * guest must hear it hands to struct broker_notify (session.c's, which
 * builds and sends the control message). Both tables reach it through
 * broker_init() from main.c. A call back through them may change the
 * lists (a failed send resets that guest's session, which drops its
 * state here): each such call is followed by a lookup, never by a use
 * of what was held before it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "broker.h"

/* How long an open waits for the provider when the guest gives no
 * timeout, and the most it may ask for. A listen bridge's connection
 * waits the default. */
#define OPEN_DEFAULT_MS 30000u
#define OPEN_MAX_MS 300000u
/* The least a consumer gets to connect to vmsgd's end after Opened. */
#define CONNECT_GRACE_MS 1000u
/* A direct channel the consumer closed stays counted until its provider
 * says it closed its end too, or this long: the provider's library closes
 * a channel nobody connected to at once when told, and by its connect
 * deadline anyway; what a provider keeps longer (a channel its consumer
 * used) is its own doing, not the consumer's. */
#define DIRECT_LINGER_MS VMSG_SERVICE_CONNECT_MAX_MS
/* An open nobody waits for any more (its consumer left, or its wait
 * ended) whose Serve the provider has not answered stays counted against
 * its consumer until the answer, or this long past the open's deadline.
 * A provider's library answers a Serve as soon as it reads it: one that
 * has not by then is not reading its control channel, and the Closed
 * vmsgd sends it then waits in its ring behind the Serve. So a consumer
 * whose opens ask tiny waits (or that leaves at once) puts at most
 * max_pending_opens_per_domain Serves in front of a stalled provider per
 * SERVE_GRACE_MS, where it could put one per Open. */
#define SERVE_GRACE_MS 10000u
/* The largest event port a provider may answer (Xen's FIFO ABI limit,
 * as the library's check of xenstore's event-channel key). */
#define SETUP_PORT_MAX ((1u << 17) - 1)
/* Spare channels (the policy's spare: yes, or auto). vmsgd retires a spare
 * nobody took after SPARE_MS, well inside the provider's own connect
 * deadline for it (Serve asks VMSG_SERVICE_CONNECT_MAX_MS, 30 s): a taken
 * spare leaves its consumer at least 10 s to connect. A provider holds at
 * most SPARES_PER_PROVIDER of them (per control channel), a few of the 32
 * served channels its library keeps (CTL_QUEUE), so that spares never
 * crowd out the channels consumers ask for. */
#define SPARE_MS 20000u
#define SPARES_PER_PROVIDER 4u
/* spare = auto (the default): a spare only for a consumer session that
 * opens the service again within SPARE_AUTO_MS of its last Open, one
 * that opens channel after channel. A process that holds one channel for
 * long never has the provider serve a second. */
#define SPARE_AUTO_MS 2000u

struct broker {
	struct service *services;
	struct channel *channels;
	uint32_t next_id;
	const struct broker_notify *notify;
	const struct transport *tp[CHM_COUNT];
};

int broker_init(struct vmsgd *d, const struct broker_notify *n,
		const struct transport *const tp[CHM_COUNT])
{
	struct broker *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->notify = n;
	for (int i = 0; i < CHM_COUNT; i++)
		b->tp[i] = tp[i];
	/* Channel ids start at a random point: the channels an earlier
	 * (killed) vmsgd brokered live on with their ids in their paths
	 * (/local/domain/P/data/vmsg/svc/ID), and a new channel must not be
	 * published over one of them. */
	if (getrandom(&b->next_id, sizeof b->next_id, 0) !=
	    (ssize_t)sizeof b->next_id)
		b->next_id = (uint32_t)time(NULL) * 2654435761u;
	b->next_id &= 0x7fffffffu;
	d->broker = b;
	return 0;
}

void broker_free(struct vmsgd *d)
{
	struct broker *b = d->broker;
	if (!b)
		return;
	for (struct service *v = b->services, *n; v; v = n) {
		n = v->next;
		free(v);
	}
	for (struct channel *c = b->channels, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	free(b);
	d->broker = NULL;
}

/* ---- lookup and iteration ----------------------------------------------- */

const struct service *broker_services(const struct vmsgd *d)
{
	return d->broker->services;
}

struct channel *broker_channels(const struct vmsgd *d)
{
	return d->broker->channels;
}

static struct service *service_find(struct vmsgd *d, const char *name)
{
	for (struct service *v = d->broker->services; v; v = v->next)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

const struct service *broker_service_find(const struct vmsgd *d,
					  const char *name)
{
	return service_find((struct vmsgd *)d, name);
}

struct channel *broker_lookup(struct vmsgd *d, uint32_t id)
{
	for (struct channel *c = d->broker->channels; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

const struct transport *broker_transport(const struct vmsgd *d, int mode)
{
	return d->broker->tp[mode];
}

bool broker_counters(const struct channel *c, struct chan_counters *k)
{
	return c->tp->counters && c->tp->counters(c, k);
}

static bool waiting(const struct channel *c)
{
	return c->tp->waiting && c->tp->waiting(c);
}

/* Lingering only until its provider answers Serve: the consumer of a
 * channel whose end vmsgd would hold (relayed, listen bridge) left, or
 * its open timed out, while it was asked (serve_linger). */
static bool awaits_serve(const struct channel *c)
{
	return c->state == CH_LINGER && c->asked && c->tp->holds_end;
}

uint32_t broker_pending_opens(struct vmsgd *d, uint16_t domid)
{
	uint32_t n = 0;
	for (struct channel *c = d->broker->channels; c; c = c->next)
		if (c->consumer == domid &&
		    (c->state == CH_PENDING || awaits_serve(c) ||
		     (c->state == CH_OPEN && waiting(c))))
			n++;
	return n;
}

/* A new channel id, path-safe and never 0; ids still in use (after a
 * wrap) are skipped. */
static uint32_t new_id(struct vmsgd *d)
{
	struct broker *b = d->broker;
	do {
		if (++b->next_id == 0)
			b->next_id = 1;
	} while (broker_lookup(d, b->next_id));
	return b->next_id;
}

/* When an Open that asked to wait timeout_ms (0: the default) gives up. */
static uint64_t open_deadline(uint32_t timeout_ms)
{
	uint32_t wait = timeout_ms ? timeout_ms : OPEN_DEFAULT_MS;
	return vmsgd_now_ms() + (wait > OPEN_MAX_MS ? OPEN_MAX_MS : wait);
}

/* Session `sess` (0: dom0, nobody's). */
static bool peer(struct vmsgd *d, uint16_t sess, struct broker_peer *p)
{
	memset(p, 0, sizeof *p);
	return sess != 0 && d->broker->notify->peer(d, sess, p);
}

/* ---- the channel state machine ------------------------------------------ */

/* Forget a channel; what its transport holds is released (orderly: what
 * vmsgd's ends committed stays readable). A transport that still drains
 * an end keeps the channel, lingering, until broker_forget. */
static void unlink_channel(struct vmsgd *d, struct channel *c)
{
	if (c->tp->detach && c->tp->detach(c)) {
		c->state = CH_LINGER;
		return;
	}
	for (struct channel **pp = &d->broker->channels; *pp;
	     pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			free(c);
			return;
		}
}

static void serve_linger(struct vmsgd *d, struct channel *c);
static void direct_linger(struct vmsgd *d, struct channel *c);

void broker_end(struct vmsgd *d, struct channel *c, const char *why)
{
	vmsgd_log(LOG_INFO, "channel %u of '%s' (domain %u -> %u) ended: %s",
		  c->id, c->service, (unsigned)c->consumer,
		  (unsigned)c->provider, why);
	/* A listen bridge's socket closed while the provider had the
	 * Serve. */
	if (c->state == CH_PENDING && c->asked && c->tp->holds_end)
		serve_linger(d, c);
	else
		unlink_channel(d, c);
}

void broker_forget(struct vmsgd *d, struct channel *c)
{
	vmsgd_log(LOG_DEBUG, "channel %u of '%s': no longer lingering", c->id,
		  c->service);
	unlink_channel(d, c);
}

/* Open c fails with code for its consumer; c is forgotten, or (linger:
 * its Serve is out) kept, counted against the consumer, until the
 * provider answers (serve_linger, direct_linger). */
static void fail_open(struct vmsgd *d, struct channel *c, int code,
		      const char *text, bool linger)
{
	vmsgd_log(LOG_INFO, "open of '%s' by domain %u failed: %s", c->service,
		  (unsigned)c->consumer, text);
	uint16_t consumer = c->cons_sess;
	uint32_t req = c->req_id;
	if (linger && c->tp->holds_end) {
		serve_linger(d, c);
	} else if (linger) {
		/* A direct open: the provider is told Closed now, and its
		 * library closes what it serves for it and says so. The
		 * consumer's session, answered below and never told where
		 * the channel is, has nothing of it: no session holds it any
		 * more (its domain is charged, c->consumer), so the session's
		 * Closed for the id finds nothing, and its end or reset, or a
		 * later session under its number, does not touch it. */
		c->cons_sess = 0;
		direct_linger(d, c); /* c may be gone */
	} else {
		unlink_channel(d, c);
	}
	if (consumer)
		d->broker->notify->result(d, consumer, req, code, text);
}

void broker_fail(struct vmsgd *d, struct channel *c, int code,
		 const char *text)
{
	fail_open(d, c, code, text, false);
}

static void make_spare(struct vmsgd *d, const struct channel *c);

void broker_opened(struct vmsgd *d, struct channel *c, uint16_t at_domid,
		   const char *path)
{
	struct broker_peer pp;
	(void)peer(d, c->prov_sess, &pp); /* its uid, up or not */
	uint32_t provider_uid = pp.uid;
	c->state = CH_OPEN;
	/* Where vmsgd serves the consumer's end, the consumer must connect
	 * within the wait its Open asked for (its library connects at once
	 * and gives up then), with a little grace after this answer. */
	uint64_t grace = vmsgd_now_ms() + CONNECT_GRACE_MS;
	if (c->deadline_ms < grace)
		c->deadline_ms = grace;
	vmsgd_log(LOG_INFO, "channel %u: domain %u -> '%s' (domain %u) at %s",
		  c->id, (unsigned)c->consumer, c->service,
		  (unsigned)c->provider, path);
	uint32_t id = c->id;
	if (d->broker->notify->opened(d, c, at_domid, path, provider_uid) <
	    0) {
		c = broker_lookup(d, id);
		if (c)
			unlink_channel(d, c);
		return;
	}
	/* After the answer: the consumer connects while the provider
	 * serves the next one. */
	make_spare(d, c);
}

int broker_check_rings(const struct channel *c, vmsg_chan *end, char *why,
		       size_t cap)
{
	uint32_t rx = 0, tx = 0;
	if (vmsg_chan_ring_sizes(end, &rx, &tx) < 0)
		return -EPROTO;
	if (rx <= c->ring_size && tx <= c->ring_size)
		return 0;
	/* Serve asked for ring_size each way; a provider that lays out more
	 * (up to 1 MiB) makes vmsgd hold and copy more than the policy says,
	 * per channel it opens. */
	snprintf(why, cap,
		 "service '%s': provider domain %u laid out rings of %u and "
		 "%u bytes, over the policy's ring_size %u",
		 c->service, (unsigned)c->provider, rx, tx, c->ring_size);
	return -EPROTO;
}

bool broker_consumer_by_msg(struct vmsgd *d, const struct channel *c)
{
	struct broker_peer p;
	return !c->setup_xenstore && peer(d, c->cons_sess, &p) && p.setup_msg;
}

/* Ask the provider to serve channel c: for its consumer, or for vmsgd
 * (domain 0) where vmsgd holds the consumer's end. 0, or -errno when the
 * provider's session failed (c may be gone). */
static int request_serve(struct vmsgd *d, struct channel *c)
{
	uint16_t consumer_domid = c->tp->serve_dom0 ? 0 : c->consumer;
	/* The provider keeps the channel for a consumer that does not come
	 * as long as the consumer's open may still connect: what is left of
	 * its wait, and the grace after Opened (as for vmsgd's own ends). */
	uint64_t now = vmsgd_now_ms();
	uint64_t left = c->deadline_ms > now ? c->deadline_ms - now : 0;
	/* Setup by message when the provider's library announced it and
	 * the transport can (a direct channel's consumer too; vmsgd, as a
	 * relayed channel's consumer, can; a listen bridge keeps
	 * xenstore). */
	struct broker_peer pp, cp;
	(void)peer(d, c->prov_sess, &pp); /* up or not: Serve finds out */
	bool prov_msg = !c->setup_xenstore && pp.setup_msg;
	c->by_msg = prov_msg && c->tp->by_msg && c->tp->by_msg(d, c);
	/* Host mode: the provider's library lets only this uid in. */
	(void)peer(d, c->cons_sess, &cp);
	uint32_t consumer_uid = cp.uid;
	/* The consumer is told as soon as the provider answers, and comes:
	 * the provider may hand the channel out at once (its accept need not
	 * wait for the consumer's connect, nor the consumer for its wake-up
	 * on that connect). Not where vmsgd is the consumer (it connects as
	 * soon as it is answered anyway). */
	c->admit = c->by_msg && !c->tp->serve_dom0 && cp.admit;
	c->asked = true;
	vmsgd_log(LOG_DEBUG, "open of '%s' by domain %u: asking domain %u "
			     "(channel %u, %s, %s)",
		  c->service, (unsigned)c->consumer, (unsigned)c->provider,
		  c->id, c->tp->holds_end ? "through dom0" : "direct",
		  c->by_msg ? "by message" : "through xenstore");
	return d->broker->notify->serve(d, c, consumer_domid,
					(uint32_t)(left + CONNECT_GRACE_MS),
					consumer_uid);
}

/* A new channel of service `service` (its policy ps) from the provider's
 * session to the consumer's, listed, with a fresh id and its path; or
 * NULL (out of memory). The caller sets what differs. */
static struct channel *channel_new(struct vmsgd *d, const char *service,
				   const struct policy_service *ps,
				   uint16_t provider, uint16_t prov_sess,
				   uint16_t consumer, uint16_t cons_sess,
				   const struct transport *tp, int state)
{
	struct channel *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->id = new_id(d);
	snprintf(c->service, sizeof c->service, "%s", service);
	c->provider = provider;
	c->prov_sess = prov_sess;
	c->consumer = consumer;
	c->cons_sess = cons_sess;
	c->state = state;
	c->tp = tp;
	c->max_msg = ps->max_msg;
	c->ring_size = ps->ring_size;
	d->sops->chan_path(d, c->provider, c->id, c->path, sizeof c->path);
	c->next = d->broker->channels;
	d->broker->channels = c;
	return c;
}

/* ---- spare channels -------------------------------------------------------- */

/* Forget spare c and tell its provider (Closed: its library closes what it
 * serves and answers Closed, which finds nothing). c is gone on return; a
 * failed send resets the provider's session. */
static void retire_spare(struct vmsgd *d, struct channel *c, const char *why)
{
	uint16_t prov = c->prov_sess;
	uint32_t id = c->id;
	vmsgd_log(LOG_DEBUG, "spare channel %u of '%s' for domain %u retired: "
			     "%s",
		  id, c->service, (unsigned)c->consumer, why);
	uint16_t cons = c->cons_sess;
	bool served = spare_served(c);
	unlink_channel(d, c);
	struct broker_peer p;
	/* Withdrawn from a consumer that was sent Spare for it (unless that
	 * consumer is why: gone), before the provider hears: once it closes
	 * the spare, its grant and port may name another channel, and the
	 * consumer reads this before it maps a spare ahead (ahead.c). */
	if (served && !d->stopping && peer(d, cons, &p) && p.spare_msg)
		d->broker->notify->closed(d, cons, id);
	if (!d->stopping && peer(d, prov, &p))
		d->broker->notify->closed(d, prov, id);
}

static struct channel *spare_of(struct vmsgd *d, uint16_t cons_sess,
				const char *service)
{
	for (struct channel *c = d->broker->channels; c; c = c->next)
		if (c->state == CH_SPARE && c->cons_sess == cons_sess &&
		    !strcmp(c->service, service))
			return c;
	return NULL;
}

/* The channels of `service` domain `domid` holds as its consumer (a spare
 * is not its yet). */
static uint32_t consumer_channels(struct vmsgd *d, uint16_t domid,
				  const char *service)
{
	uint32_t n = 0;
	for (struct channel *c = d->broker->channels; c; c = c->next)
		n += c->consumer == domid && c->state != CH_SPARE &&
		     !strcmp(c->service, service);
	return n;
}

/* Direct channel c has just opened, set up by message. If its service's
 * policy says spare = yes (or auto, and the session opened the service
 * within SPARE_AUTO_MS before), have the provider serve the next one for
 * the same consumer session now, while nobody waits for it: that session's
 * next Open is then answered at once. Bounded: one per consumer session
 * and service, SPARES_PER_PROVIDER per provider session, and none for a
 * consumer at its max_channels_per_domain (counting c). */
static void make_spare(struct vmsgd *d, const struct channel *c)
{
	if (c->tp->holds_end || !c->tp->asks_provider || !c->by_msg ||
	    !c->cons_sess || d->stopping)
		return;
	const struct policy_service *ps = policy_find(&d->pol, c->service);
	if (!ps || ps->spare == SPARE_NO ||
	    (ps->spare == SPARE_AUTO && !c->reopen) || ps->setup_xenstore ||
	    ps->mode != MODE_DIRECT || spare_of(d, c->cons_sess, c->service))
		return;
	uint32_t held = 0;
	for (struct channel *x = d->broker->channels; x; x = x->next)
		held += x->state == CH_SPARE && x->prov_sess == c->prov_sess;
	if (held >= SPARES_PER_PROVIDER ||
	    consumer_channels(d, c->consumer, c->service) >= ps->max_channels)
		return;
	struct channel *s = channel_new(d, c->service, ps, c->provider,
					c->prov_sess, c->consumer, c->cons_sess,
					c->tp, CH_SPARE);
	if (!s) {
		/* Only a spare: the next Open goes the usual way. */
		vmsgd_log(LOG_WARN, "no spare channel of '%s' for domain "
				       "%u: out of memory",
			  c->service, (unsigned)c->consumer);
		return;
	}
	s->by_msg = true;
	/* As for any Serve: an Open that takes the spare before its
	 * ServeResult and then gives up lingers until the provider answers
	 * (fail_open, direct_linger). */
	s->asked = true;
	s->spare_after = c->id;
	s->deadline_ms = vmsgd_now_ms() + SPARE_MS;
	vmsgd_log(LOG_DEBUG, "asking domain %u for spare channel %u of '%s' "
			     "for domain %u",
		  (unsigned)s->provider, s->id, s->service,
		  (unsigned)s->consumer);
	uint32_t id = s->id;
	/* The provider keeps it as long as it may; vmsgd retires it first
	 * (SPARE_MS). */
	if (d->broker->notify->serve(d, s, s->consumer,
				     VMSG_SERVICE_CONNECT_MAX_MS, 0) < 0) {
		s = broker_lookup(d, id);
		if (s)
			unlink_channel(d, s);
	}
}

/* Whether session sess opened v within SPARE_AUTO_MS before now (spare =
 * auto); this Open is remembered either way, in place of the oldest. */
static bool opened_lately(struct service *v, uint16_t sess, uint64_t now)
{
	size_t oldest = 0, n = sizeof v->recent / sizeof v->recent[0];
	for (size_t i = 0; i < n; i++) {
		if (v->recent[i].sess == sess && v->recent[i].ms) {
			bool lately = now - v->recent[i].ms <= SPARE_AUTO_MS;
			v->recent[i].ms = now;
			return lately;
		}
		if (v->recent[i].ms < v->recent[oldest].ms)
			oldest = i;
	}
	v->recent[oldest].sess = sess;
	v->recent[oldest].ms = now;
	return false;
}

/* The spare session w holds of service v, if this Open can take it: by
 * the provider that offers v, under the policy as it is. One that no
 * longer fits (a reload, a re-offer) is left to the next tick to retire
 * (retiring it here could reset the provider's session, and v with it);
 * this Open takes the usual path. */
static struct channel *take_spare(struct vmsgd *d, const struct broker_who *w,
				  const struct service *v,
				  const struct policy_service *ps)
{
	struct channel *s = spare_of(d, w->sess, v->name);
	if (!s)
		return NULL;
	if (s->prov_sess != v->prov_sess || ps->spare == SPARE_NO ||
	    ps->setup_xenstore || ps->mode != MODE_DIRECT ||
	    s->ring_size != ps->ring_size || s->max_msg != ps->max_msg ||
	    !broker_consumer_by_msg(d, s)) {
		s->deadline_ms = 0;
		return NULL;
	}
	return s;
}

/* The consumer of a direct channel closed it or went away, or its open
 * timed out while its Serve was out (fail_open). Its provider may still
 * hold its end, served and perhaps never connected to, or serve it yet:
 * tell it (Closed{id}; its library closes such a channel, or the one it
 * serves from the Serve ahead of this Closed in its ring, and answers
 * Closed), and keep counting the channel against the consumer until it
 * answers or DIRECT_LINGER_MS pass. Without that, a consumer opening with
 * waits of 1 ms would have the provider serve, and keep, one channel per
 * Open. The channel may be gone on return (a failed send resets the
 * provider's session). */
static void direct_linger(struct vmsgd *d, struct channel *c)
{
	struct broker_peer p;
	if (d->stopping || !peer(d, c->prov_sess, &p)) {
		unlink_channel(d, c); /* nobody holds the other end */
		return;
	}
	c->state = CH_LINGER;
	c->deadline_ms = vmsgd_now_ms() + DIRECT_LINGER_MS;
	d->broker->notify->closed(d, c->prov_sess, c->id);
}

/* The consumer of pending channel c, whose end vmsgd would hold (relayed,
 * a listen bridge's), is gone, or its open timed out (the consumer was
 * told), while its Serve is still with the provider. The provider may
 * serve it yet, and its library then keeps the channel (one of the few
 * it holds) for a consumer that will not come: so c stays listed,
 * lingering, and counted against the consumer (its channels and its
 * opens in progress), until the ServeResult comes (served: the provider
 * is told Closed) or SERVE_GRACE_MS past the open's deadline (the
 * provider is told Closed then). Without that, a guest that opens and
 * leaves, or opens with a wait of 1 ms, again and again, has the
 * provider hold Serve after Serve that no limit of its counts. What the
 * transport holds goes now. */
static void serve_linger(struct vmsgd *d, struct channel *c)
{
	struct broker_peer p;
	if (d->stopping || !peer(d, c->prov_sess, &p)) {
		unlink_channel(d, c); /* nobody will answer */
		return;
	}
	c->state = CH_LINGER;
	/* A pending channel's transport holds no data to drain (a listen
	 * bridge's socket has not been read from): detach never keeps it. */
	if (c->tp->detach)
		(void)c->tp->detach(c);
	c->cons_sess = 0; /* nobody to answer any more */
	c->deadline_ms += SERVE_GRACE_MS;
	vmsgd_log(LOG_DEBUG, "channel %u of '%s': nobody waits for it; "
			     "lingering until domain %u answers Serve",
		  c->id, c->service, (unsigned)c->provider);
}

/* Forget lingering channel c whose Serve is still unanswered (its open's
 * deadline and SERVE_GRACE_MS passed, or the provider answered: code is
 * its answer), and
 * tell the provider to close what it serves or may yet serve for it (its
 * library drops a Serve it has not answered, closes one it served, and
 * ignores an id it does not know). Not after an error: the provider
 * holds nothing. c is gone on return; a failed send resets the
 * provider's session. */
static void serve_unlinger(struct vmsgd *d, struct channel *c, int code)
{
	uint16_t prov = c->prov_sess;
	uint32_t id = c->id;
	unlink_channel(d, c);
	struct broker_peer p;
	if (code == 0 && !d->stopping && peer(d, prov, &p))
		d->broker->notify->closed(d, prov, id);
}

/* The provider of direct channel `id` is gone (its domain, or its
 * process's control channel): tell the consumer's session, whose library
 * marks the channel's peer gone. A destroyed domain runs no unmap
 * notification, so without this a consumer would wait on the channel for
 * ever. Old libraries skip it (they know no served channel of that id). */
static void tell_consumer(struct vmsgd *d, uint16_t consumer,
			  uint16_t consumer_dom, uint32_t id)
{
	struct broker_peer p;
	if (d->stopping || !peer(d, consumer, &p))
		return;
	vmsgd_log(LOG_DEBUG, "channel %u: telling domain %u its provider is "
			     "gone",
		  id, (unsigned)consumer_dom);
	d->broker->notify->closed(d, consumer, id);
}

/* Session `sess` goes. Everything below compares sessions, not domains:
 * two processes of one domain are two sessions, and a channel between
 * them (one offers, the other opens) is a channel between two peers. */
void broker_drop_session(struct vmsgd *d, uint16_t sess, bool ended)
{
	struct broker *b = d->broker;
	for (struct service **pp = &b->services; *pp;) {
		struct service *v = *pp;
		if (v->prov_sess == sess) {
			vmsgd_log(LOG_INFO, "service '%s' of domain %u removed",
				  v->name, (unsigned)v->provider);
			*pp = v->next;
			free(v);
		} else {
			/* Its number may go to the domain's next process,
			 * which has opened nothing yet (spare = auto). */
			for (size_t i = 0; i < sizeof v->recent /
						       sizeof v->recent[0];
			     i++)
				if (v->recent[i].sess == sess)
					v->recent[i].ms = 0;
			pp = &v->next;
		}
	}
	/* Failing a pending open sends to its consumer, and a failed send
	 * resets that session, which changes the list: start over each time.
	 * What lingers stays (it ends by itself), except a direct channel
	 * whose provider is the one going, or one that waits for its
	 * ServeResult: the provider's end goes with it. A pending channel
	 * vmsgd holds an end of, whose consumer is going, lingers until its
	 * provider answers (serve_linger). */
	for (;;) {
		struct channel *c = b->channels;
		while (c &&
		       !((c->prov_sess == sess || c->cons_sess == sess) &&
			 (c->state != CH_LINGER ||
			  ((!c->tp->holds_end || awaits_serve(c)) &&
			   c->prov_sess == sess))))
			c = c->next;
		if (!c)
			break;
		if (c->state == CH_SPARE) {
			if (c->prov_sess == sess)
				unlink_channel(d, c); /* gone with it */
			else
				retire_spare(d, c, "its consumer went away");
		} else if (c->state != CH_LINGER && !c->tp->holds_end &&
			   c->cons_sess == sess && c->prov_sess != sess) {
			/* Open, or asked of the provider: it may serve. */
			direct_linger(d, c);
		} else if (c->state == CH_PENDING && c->asked &&
			   c->tp->holds_end && c->cons_sess == sess &&
			   c->prov_sess != sess) {
			serve_linger(d, c);
		} else if (c->state == CH_PENDING && c->prov_sess == sess &&
			   c->cons_sess != sess) {
			char text[160];
			snprintf(text, sizeof text,
				 "service '%s': provider domain %u went away",
				 c->service, (unsigned)c->provider);
			broker_fail(d, c, -EHOSTDOWN, text);
		} else {
			vmsgd_log(LOG_DEBUG, "channel %u of '%s' forgotten",
				  c->id, c->service);
			bool tell = ended && !c->tp->holds_end &&
				    c->state == CH_OPEN &&
				    c->prov_sess == sess &&
				    c->cons_sess != sess;
			uint16_t consumer = c->cons_sess;
			uint16_t consumer_dom = c->consumer;
			uint32_t id = c->id;
			/* Forgotten first: a failed send resets the
			 * consumer's session, which walks the list. */
			unlink_channel(d, c);
			if (tell)
				tell_consumer(d, consumer, consumer_dom, id);
		}
	}
}

/* ---- admission ------------------------------------------------------------ */

/* A valid name, and the policy's offer or open list allowing w. The
 * service's policy, or NULL with text and -errno in *err. */
static const struct policy_service *permitted(struct vmsgd *d,
					     const struct broker_who *w,
					     const char *name, bool open,
					     int *err, char *text, size_t cap)
{
	if (!vmsg_service_name_ok(name)) {
		snprintf(text, cap, "bad service name");
		*err = -EINVAL;
		return NULL;
	}
	const struct policy_service *ps = policy_find(&d->pol, name);
	/* Host mode: the policy names users; a Xen policy, domains. */
	bool host = d->pol.host;
	if (ps && policy_allows(open ? &ps->open : &ps->offer,
				host ? w->uid : w->domid))
		return ps;
	if (host)
		snprintf(text, cap, "service '%s': user %s (uid %u) may not "
				    "%s it (policy)",
			 name, w->user, (unsigned)w->uid,
			 open ? "open" : "offer");
	else
		snprintf(text, cap, "service '%s': domain %u may not %s it "
				    "(policy)",
			 name, (unsigned)w->domid, open ? "open" : "offer");
	*err = -EACCES;
	return NULL;
}

int broker_offer(struct vmsgd *d, const struct broker_who *w,
		 const char *name, char *text, size_t cap)
{
	int err = 0;
	if (!permitted(d, w, name, false, &err, text, cap))
		return err;
	struct service *v = service_find(d, name);
	if (v) {
		snprintf(text, cap, "service '%s' is already offered by domain "
				    "%u",
			 name, (unsigned)v->provider);
		return -EEXIST;
	}
	v = calloc(1, sizeof *v);
	if (!v) {
		snprintf(text, cap, "vmsgd is out of memory");
		return -ENOMEM;
	}
	snprintf(v->name, sizeof v->name, "%s", name);
	v->provider = w->domid;
	v->prov_sess = w->sess;
	v->next = d->broker->services;
	d->broker->services = v;
	vmsgd_log(LOG_INFO, "service '%s' offered by domain %u", v->name,
		  (unsigned)w->domid);
	return 0;
}

/* Which transport a new channel of v takes: a listen bridge's socket
 * (consumer 0) opens a guest's service; a guest opens dom0's (a connect
 * bridge) or a guest's, direct or relayed as the policy says. -1: not
 * offered to this consumer. */
static int mode_of(struct vmsgd *d, const struct service *v,
		   const struct policy_service *ps, bool bridge_in)
{
	struct broker_peer p;
	if (v->provider == 0)
		return !bridge_in && policy_bridge_connect(&d->pol, v->name)
			       ? CHM_BRIDGE_OUT
			       : -1;
	if (!peer(d, v->prov_sess, &p))
		return -1;
	if (bridge_in)
		return CHM_BRIDGE_IN;
	return ps->mode == MODE_RELAYED ? CHM_RELAYED : CHM_DIRECT;
}

int broker_open(struct vmsgd *d, const struct broker_who *w,
		const char *name, uint32_t req_id, uint32_t timeout_ms,
		void *arg, char *text, size_t cap)
{
	int err = 0;
	uint16_t consumer = w ? w->domid : 0;
	const struct policy_service *ps =
		w ? permitted(d, w, name, true, &err, text, cap)
		  : policy_find(&d->pol, name);
	if (w && !ps)
		return err;
	struct service *v = service_find(d, name);
	int mode = v && ps ? mode_of(d, v, ps, !w) : -1;
	if (mode < 0) {
		snprintf(text, cap, "service '%s' is not offered", name);
		return -ENOENT;
	}
	uint32_t mine = consumer_channels(d, consumer, name);
	if (mine >= ps->max_channels) {
		if (w)
			snprintf(text, cap, "service '%s': domain %u has its "
					    "limit of %u channels",
				 name, (unsigned)consumer, ps->max_channels);
		else
			snprintf(text, cap, "service '%s' has its limit of %u "
					    "channels",
				 name, ps->max_channels);
		return -EUSERS;
	}
	/* Each pending open holds a channel and, for the ends vmsgd serves,
	 * event channels, grants and xenstore keys until it times out: a
	 * guest opening many services at once, or one whose provider does
	 * not answer, is bounded across services too. (A listen bridge's
	 * connections are bounded by max_channels alone.) */
	uint32_t pending = w ? broker_pending_opens(d, consumer) : 0;
	if (w && pending >= d->pol.limits.max_pending_opens) {
		snprintf(text, cap, "domain %u has %u opens in progress, its "
				    "limit (max_pending_opens_per_domain)",
			 (unsigned)consumer, pending);
		return -EBUSY;
	}
	bool reopen = w && opened_lately(v, w->sess, vmsgd_now_ms());
	struct channel *c = mode == CHM_DIRECT && w ? take_spare(d, w, v, ps)
						    : NULL;
	if (c) {
		/* This Open's channel from here on. Served already: answered
		 * at once, as if the provider had just done it for this Open;
		 * else when its ServeResult comes, as any pending open (the
		 * provider has it in hand, earlier than a new Serve), and,
		 * asked, it lingers if its wait ends first (fail_open). */
		vmsgd_log(LOG_DEBUG, "open of '%s' by domain %u: takes spare "
				     "channel %u%s",
			  name, (unsigned)consumer, c->id,
			  spare_served(c) ? "" : " (not served yet)");
		c->state = CH_PENDING;
		c->req_id = req_id;
		c->reopen = reopen;
		c->deadline_ms = open_deadline(timeout_ms);
		v->spare_opens++;
		if (spare_served(c))
			c->tp->served(d, c);
		return 0;
	}
	c = channel_new(d, name, ps, v->provider, v->prov_sess, consumer,
			w ? w->sess : 0, d->broker->tp[mode], CH_PENDING);
	if (!c) {
		snprintf(text, cap, "vmsgd is out of memory");
		return -ENOMEM;
	}
	c->req_id = req_id;
	c->setup_xenstore = ps->setup_xenstore;
	c->reopen = reopen;
	c->deadline_ms = open_deadline(timeout_ms);

	char why[300];
	int r = c->tp->start ? c->tp->start(d, c, arg, why, sizeof why) : 0;
	if (r < 0) {
		broker_fail(d, c, r, why);
		return 0;
	}
	uint32_t id = c->id;
	if (c->tp->asks_provider && request_serve(d, c) < 0) {
		/* The reset may already have failed it. */
		c = broker_lookup(d, id);
		if (c)
			broker_fail(d, c, -EHOSTDOWN,
				    "the provider is not reachable");
	}
	return 0;
}

/* ---- the provider's answers ---------------------------------------------- */

/* What a provider's library answers for a channel set up by message:
 * a grant reference and a port it could have read from xenstore (the
 * library checks xenstore's keys the same way). */
static bool setup_values_ok(uint32_t ring_ref, uint32_t event_port)
{
	return ring_ref != 0 && event_port != 0 &&
	       event_port <= SETUP_PORT_MAX;
}

void broker_serve_result(struct vmsgd *d, uint16_t provider, uint32_t id,
			 int code, const char *text, uint32_t ring_ref,
			 uint32_t event_port)
{
	struct channel *c = broker_lookup(d, id);
	if (c && c->prov_sess == provider && c->state == CH_SPARE &&
	    !spare_served(c)) {
		c->asked = false;
		if (code != 0) {
			vmsgd_log(LOG_DEBUG, "spare channel %u of '%s': not "
					     "served: %s",
				  id, c->service, text);
			unlink_channel(d, c); /* it holds nothing */
		} else if (!setup_values_ok(ring_ref, event_port)) {
			retire_spare(d, c, "a bad grant reference or port");
		} else {
			c->prov_ref = ring_ref;
			c->prov_port = event_port;
			/* Its consumer may map it while we answer the Open
			 * that takes it. Last: c may go with a reset. */
			d->broker->notify->spare(d, c);
		}
		return;
	}
	/* A direct channel whose consumer left, or whose wait ended, while
	 * the provider had the Serve (direct_linger told it Closed): if it
	 * could not serve, it holds nothing; if it served, it answers that
	 * Closed, which ends the linger. */
	if (c && c->prov_sess == provider && c->state == CH_LINGER &&
	    !c->tp->holds_end && code != 0) {
		unlink_channel(d, c);
		return;
	}
	if (c && c->prov_sess == provider && c->state == CH_LINGER &&
	    !c->tp->holds_end && c->asked) {
		c->asked = false; /* a second answer is stray */
		vmsgd_log(LOG_DEBUG, "channel %u of '%s': domain %u served it "
				     "after its open ended; lingering until "
				     "it says it closed it",
			  id, c->service, (unsigned)c->provider);
		return;
	}
	/* The consumer left while the provider had the Serve: nobody will
	 * connect to what it served. */
	if (c && c->prov_sess == provider && awaits_serve(c)) {
		vmsgd_log(LOG_DEBUG, "channel %u of '%s': nobody waited for "
				     "it when domain %u answered",
			  id, c->service, (unsigned)c->provider);
		serve_unlinger(d, c, code);
		return;
	}
	/* Only the provider it was asked of may answer, once. */
	if (!c || c->prov_sess != provider || c->state != CH_PENDING) {
		vmsgd_log(LOG_DEBUG, "domain %u: stray serve result %u",
			  (unsigned)provider, id);
		/* Forgotten while its Serve was on the way (a channel that
		 * lingered past DIRECT_LINGER_MS, or past its deadline and
		 * SERVE_GRACE_MS: that provider was told Closed already, a
		 * second one does no harm): nobody will connect to what the
		 * provider served, and its library would keep it, one of the
		 * few it holds, until its connect deadline, counted against
		 * no one. Tell it to close it. (An id still listed is left
		 * alone: another session's, or a second answer.) */
		if (!c && code == 0)
			d->broker->notify->closed(d, provider, id);
		return;
	}
	c->asked = false;
	if (code != 0) {
		char msg[240];
		snprintf(msg, sizeof msg,
			 "service '%s': provider domain %u could not serve: %s",
			 c->service, (unsigned)c->provider, text);
		broker_fail(d, c, (code < 0 && code >= -4095) ? code : -EIO,
			    msg);
		return;
	}
	if (c->by_msg && !setup_values_ok(ring_ref, event_port)) {
		/* The provider's library broke the protocol: the consumer gets
		 * a clear error, not a mapping of garbage. What the provider
		 * may hold, it is told to close. */
		char msg[240];
		snprintf(msg, sizeof msg,
			 "service '%s': provider domain %u answered setup by "
			 "message with a bad grant reference (%u) or event "
			 "port (%u)",
			 c->service, (unsigned)c->provider, ring_ref,
			 event_port);
		broker_fail(d, c, -EPROTO, msg);
		d->broker->notify->closed(d, provider, id);
		return;
	}
	if (c->by_msg) {
		c->prov_ref = ring_ref;
		c->prov_port = event_port;
	}
	c->tp->served(d, c);
}

void broker_closed(struct vmsgd *d, uint16_t sess, uint32_t id)
{
	struct channel *c = broker_lookup(d, id);
	/* (A spare is the consumer's only once taken: nothing of its to
	 * close before.) */
	if (!c || (c->prov_sess != sess && c->cons_sess != sess) ||
	    c->state == CH_PENDING ||
	    (c->state == CH_SPARE && c->prov_sess != sess))
		return;
	if (c->tp->holds_end) {
		/* vmsgd holds an end: it sees the close on the channel itself,
		 * after everything sent before it has been passed on. A
		 * bridge's socket then gets a bounded time for the rest. */
		vmsgd_log(LOG_DEBUG, "channel %u: domain %u says it closed",
			  c->id,
			  (unsigned)(c->prov_sess == sess ? c->provider
							  : c->consumer));
		if (c->tp->guest_closed && c->state == CH_OPEN)
			c->tp->guest_closed(c);
		return;
	}
	if (c->prov_sess == sess) {
		/* The provider's end is gone: nothing is held any more. */
		vmsgd_log(LOG_INFO, "channel %u of '%s' closed by domain %u "
				    "(provider)",
			  c->id, c->service, (unsigned)c->provider);
		unlink_channel(d, c);
		return;
	}
	if (c->state == CH_LINGER)
		return;
	vmsgd_log(LOG_INFO, "channel %u of '%s' closed by domain %u", c->id,
		  c->service, (unsigned)c->consumer);
	direct_linger(d, c);
}

/* ---- time ------------------------------------------------------------------ */

void broker_tick(struct vmsgd *d)
{
	uint64_t now = vmsgd_now_ms();
	const uint32_t partial_ms = d->pol.limits.partial_message_ms;
	for (struct channel *c = d->broker->channels, *next; c; c = next) {
		next = c->next;
		if (c->tp->tick && c->tp->tick(c, now)) {
			char why[96];
			snprintf(why, sizeof why, "a message stayed incomplete "
						  "for %u ms "
						  "(partial_message_ms)",
				 partial_ms);
			broker_end(d, c, why);
			next = d->broker->channels;
			continue;
		}
		if (now < c->deadline_ms)
			continue;
		if (c->state == CH_SPARE) {
			retire_spare(d, c, "nobody took it, or it no longer "
					   "fits the policy");
			next = d->broker->channels;
			continue;
		}
		if (awaits_serve(c)) {
			vmsgd_log(LOG_INFO, "channel %u of '%s': domain %u "
					    "never answered Serve",
				  c->id, c->service, (unsigned)c->provider);
			serve_unlinger(d, c, 0);
			next = d->broker->channels;
			continue;
		}
		if (c->state == CH_LINGER) {
			/* A transport's linger ends on its own timer. */
			if (!c->tp->holds_end) {
				vmsgd_log(LOG_INFO, "channel %u of '%s': "
						    "domain %u never said it "
						    "closed its end",
					  c->id, c->service,
					  (unsigned)c->provider);
				unlink_channel(d, c);
			}
			continue;
		}
		if (c->state == CH_OPEN) {
			if (waiting(c)) {
				broker_end(d, c, "the consumer never connected");
				next = d->broker->channels;
			}
			continue;
		}
		char text[160];
		snprintf(text, sizeof text,
			 "service '%s': provider domain %u did not answer",
			 c->service, (unsigned)c->provider);
		/* Its Serve still out: the consumer hears it now, the
		 * channel lingers until the provider answers. */
		fail_open(d, c, -ETIMEDOUT, text, c->asked);
		/* the list may have changed under us */
		next = d->broker->channels;
	}
}

void broker_fail_pending(struct vmsgd *d)
{
	for (;;) {
		struct channel *c = d->broker->channels;
		while (c && c->state != CH_PENDING)
			c = c->next;
		if (!c)
			break;
		broker_fail(d, c, -ESHUTDOWN, "vmsgd is stopping");
	}
}

/* ---- dom0's services ------------------------------------------------------ */

int broker_bridges_check(struct vmsgd *d, const struct policy *np, char *err,
			 size_t cap)
{
	/* A new connect bridge cannot take a name a guest offers. */
	for (size_t i = 0; i < np->nbr; i++) {
		const struct policy_bridge *b = &np->br[i];
		struct service *v = b->listen ? NULL : service_find(d, b->service);
		if (v && v->provider != 0) {
			snprintf(err, cap, "%s:%d: [bridge %s]: service '%s' "
					   "is offered by domain %u now",
				 d->config, b->line, b->name, b->service,
				 (unsigned)v->provider);
			return -1;
		}
	}
	return 0;
}

void broker_bridges_sync(struct vmsgd *d, const struct policy *np)
{
	for (struct service **pp = &d->broker->services; *pp;) {
		struct service *v = *pp;
		if (v->provider == 0 && !policy_bridge_connect(np, v->name)) {
			vmsgd_log(LOG_INFO, "service '%s' of dom0 removed",
				  v->name);
			*pp = v->next;
			free(v);
		} else {
			pp = &v->next;
		}
	}
	for (size_t i = 0; i < np->nbr; i++) {
		const struct policy_bridge *b = &np->br[i];
		if (b->listen || service_find(d, b->service))
			continue;
		struct service *v = calloc(1, sizeof *v);
		if (!v)
			continue; /* not offered; logged below */
		snprintf(v->name, sizeof v->name, "%s", b->service);
		v->provider = 0;
		v->prov_sess = 0;
		v->next = d->broker->services;
		d->broker->services = v;
		vmsgd_log(LOG_INFO, "bridge %s: '%s' offered by dom0 (%s)",
			  b->name, b->service, b->addr);
	}
}
