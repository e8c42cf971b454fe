/* Relayed channels: vmsgd holds both ends and copies typed messages.
 *
 * The provider serves a channel for domain 0 (vmsgd connects to it as a
 * xen client); vmsgd serves the consumer's end itself under
 * /local/domain/0/data/vmsgd/relay/<id>, readable by the consumer only.
 * Each direction copies one message at a time: peek at the source, send
 * it to the destination without waiting, release it from the source only
 * once it is all in. A full destination leaves the message peeked (a
 * fragmented one half sent: vmsg_chan_send goes on with the same
 * arguments) and stops that direction until the destination's reader
 * makes room and kicks us; nothing else waits on it, so a stalled reader
 * stalls its own channel only. Types and payloads pass unchanged; the
 * bytes are never parsed here.
 *
 * Every call is non-blocking. The only waits are xenstore requests while
 * setting up (connect looks the provider's keys up once, timeout 0: the
 * provider answered Serve only after publishing them) and at close, as
 * for the control channels.
 *
 * Ending: a source whose peer closed reports -EPIPE only after everything
 * it sent was taken, so both ends are then closed in order (vmsg_chan_close
 * keeps what we committed readable). A destination that is gone stops its
 * direction; the other still drains until its source says -EPIPE. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/xen.h>

#include "vmsg_xen_msg.h"
#include "broker.h"

#define RELAY_PATH_PREFIX "/local/domain/0/data/vmsgd/relay"
/* Per wake-up and direction: then let the loop serve the others (an idle
 * handle brings us back at once). */
#define BUDGET_MSGS 64
#define BUDGET_BYTES (256u * 1024u)

enum { C2P = 0, P2C = 1 };

struct relay {
	struct vmsgd *d;
	struct relay *next;      /* d->relays */
	struct channel *c;       /* NULL once detached */
	vmsg_chan *end[2];       /* [C2P]: consumer's (we serve), [P2C]:
				    provider's (we are its client) */
	uv_poll_t poll[2];
	uv_idle_t idle;
	int handles;             /* open uv handles */
	bool accepted;           /* the consumer has connected */
	bool held[2];            /* a message of this direction's source is
				    peeked, not yet all in the destination */
	bool dead[2];            /* this direction's destination is gone */
	bool idling;
	uint64_t stalls[2];
	uint64_t dropped[2];     /* over max_msg: dropped by the source end */
	struct vmsg__partial_watch partial[2]; /* of each source end */
	/* What each source end holds, in two domains' totals (bounds.c):
	 * acct[dir], its writer's data (GUEST_WRITES), and for_reader[dir],
	 * a whole message of it that waits for room at the destination
	 * (GUEST_READS of the destination's domain: the reader's). Joined
	 * once c is relayed, synced after each copy turn, left when c is
	 * detached. Either's .held: that direction is held back, its writer
	 * has max_queued_bytes in vmsgd, or its reader has that much waiting
	 * for it (bounds.c resumes it: relay_resume). */
	struct guest_end acct[2], for_reader[2];
	struct relay_side {
		struct relay *r;
		int dir;
	} side[2]; /* the count callbacks' argument, per direction */
};

static void on_poll(uv_poll_t *h, int status, int events);
static void on_idle(uv_idle_t *h);

static bool relay_waiting(const struct channel *c)
{
	return c->relay && !c->relay->accepted;
}

static bool relay_counters(const struct channel *c, struct chan_counters *k)
{
	memset(k, 0, sizeof *k);
	struct relay *r = c->relay;
	if (!r)
		return false;
	struct vmsg_chan_stats cs, ps;
	memset(&cs, 0, sizeof cs);
	memset(&ps, 0, sizeof ps);
	(void)vmsg_chan_stats(r->end[C2P], &cs);
	(void)vmsg_chan_stats(r->end[P2C], &ps);
	/* What reached each destination end (sent by vmsgd). */
	k->c2p_bytes = ps.tx_bytes;
	k->c2p_msgs = ps.tx_msgs;
	k->p2c_bytes = cs.tx_bytes;
	k->p2c_msgs = cs.tx_msgs;
	k->c2p_stalls = r->stalls[C2P];
	k->p2c_stalls = r->stalls[P2C];
	k->kicks_sent = cs.kicks_sent + ps.kicks_sent;
	k->kicks_suppressed = cs.kicks_suppressed + ps.kicks_suppressed;
	return true;
}

/* The domain that writes into direction dir's source end. */
static uint16_t writer(const struct relay *r, int dir)
{
	return dir == C2P ? r->c->consumer : r->c->provider;
}

/* The bytes of a whole fragmented message direction `dir`'s source end
 * presents, peeked and waiting for room at the destination (r->held):
 * its reader's to count. */
static uint64_t waiting_bytes(const struct relay *r, int dir)
{
	size_t held = 0;
	if (!r->held[dir] || vmsg_chan_rx_partial(r->end[dir], &held) < 0)
		return 0;
	return held;
}

/* The bytes of its writer's messages a source end holds: its reassembly
 * buffer's written bytes (a fragmented message incomplete, or passed on
 * but its pages not yet freed), less a whole one that waits for room at
 * the destination (for_reader's). trim: free the buffer first if nothing
 * in it is wanted. */
static uint64_t end_kept(void *arg, bool trim)
{
	const struct relay_side *sd = arg;
	size_t kept = 0;
	if (vmsg_chan_rx_kept(sd->r->end[sd->dir], trim, &kept) < 0)
		return 0;
	return kept - waiting_bytes(sd->r, sd->dir); /* kept >= held */
}

/* for_reader's count. */
static uint64_t end_waiting(void *arg, bool trim)
{
	const struct relay_side *sd = arg;
	(void)trim; /* a message presented is wanted: nothing to free */
	return waiting_bytes(sd->r, sd->dir);
}

/* Is a fragmented message part-way into this direction's source end? */
static bool end_collecting(void *arg)
{
	const struct relay_side *sd = arg;
	return vmsg_chan_rx_partial(sd->r->end[sd->dir], NULL) == 1;
}

/* The recount of guests_check: the same bytes, from the channel. */
static uint64_t relay_queued(const struct channel *c, uint16_t domid,
			     enum guest_pool pool)
{
	const struct relay *r = c->relay;
	uint64_t n = 0;
	for (int dir = 0; r && dir < 2; dir++) {
		/* GUEST_READS: the destination's, the other writer. */
		int who = pool == GUEST_WRITES ? dir : !dir;
		if (writer(r, who) != domid)
			continue;
		n += pool == GUEST_WRITES
			     ? end_kept((void *)&r->side[dir], false)
			     : end_waiting((void *)&r->side[dir], false);
	}
	return n;
}

/* A direction held back by its writer's max_queued_bytes may go on (its
 * writer's data left vmsgd: bounds.c's guest_wake or the tick's
 * guests_wake): copy on the next loop turn (not now: an end found closed
 * would forget c under our caller). */
static void relay_resume(void *owner)
{
	struct relay *r = owner;
	if (r->c && !r->idling) {
		uv_idle_start(&r->idle, on_idle);
		r->idling = true;
	}
}

/* Has a message on one of c's ends stayed incomplete beyond the policy's
 * partial_message_ms? */
static bool relay_tick(struct channel *c, uint64_t now)
{
	struct relay *r = c->relay;
	if (!r)
		return false; /* pending: not served yet */
	const struct rl_limits *l = &r->d->pol.limits;
	for (int dir = 0; dir < 2; dir++)
		if (vmsg__partial_expired(&r->partial[dir], r->end[dir],
					  l->partial_message_ms, now))
			return true;
	return false;
}

static void unlink_relay(struct relay *r)
{
	for (struct relay **pp = &r->d->relays; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

static void on_closed(uv_handle_t *h)
{
	struct relay *r = h->data;
	if (--r->handles > 0)
		return;
	/* The fds are the channels': close them only now, with no handle
	 * polling them. Orderly: what we committed stays readable. */
	for (int i = 0; i < 2; i++) {
		if (r->end[i])
			(void)vmsg_chan_flush(r->end[i]);
		vmsg_chan_close(r->end[i]);
	}
	unlink_relay(r);
	free(r);
}

/* The channel is being forgotten: close both ends (orderly). */
static bool relay_detach(struct channel *c)
{
	struct relay *r = c->relay;
	c->relay = NULL;
	if (!r)
		return false;
	/* Its ends count no more (they close a loop turn later). */
	for (int dir = 0; dir < 2; dir++) {
		guest_leave(r->d, &r->acct[dir]);
		guest_leave(r->d, &r->for_reader[dir]);
	}
	r->c = NULL;
	/* Publish what is committed now: the handles close a loop turn
	 * later. */
	for (int i = 0; i < 2; i++)
		if (r->end[i])
			(void)vmsg_chan_flush(r->end[i]);
	for (int i = 0; i < 2; i++)
		if (!uv_is_closing((uv_handle_t *)&r->poll[i]))
			uv_close((uv_handle_t *)&r->poll[i], on_closed);
	if (!uv_is_closing((uv_handle_t *)&r->idle))
		uv_close((uv_handle_t *)&r->idle, on_closed);
	return false;
}

/* The relay is over: forget the channel (which detaches and closes). */
static void finish(struct relay *r, const char *why)
{
	if (r->c)
		broker_end(r->d, r->c, why);
}

enum { GO_IDLE, GO_MORE, GO_STALLED, SRC_CLOSED, BROKEN };

/* Copy messages of one direction until the source has none, the
 * destination is full, or the budget is spent. */
static int copy(struct relay *r, int dir)
{
	vmsg_chan *src = r->end[dir], *dst = r->end[!dir];
	size_t bytes = 0;
	/* A fragmented message is collected in vmsgd's memory before it is
	 * passed on: while the writer has its max_queued_bytes here, or the
	 * reader has that much waiting for it, leave the writer's messages
	 * in its ring (held back: relay_resume). Looked at once per turn: a
	 * turn takes at most about 1 MiB more (the library's receive
	 * budget, BUDGET_BYTES). A message peeked (held) goes on: the end
	 * was not held back when it peeked it. Both are asked, so that each
	 * total that holds the direction back has it on its list. */
	if (!r->held[dir]) {
		bool w = guest_hold_back(r->d, &r->acct[dir]);
		if (guest_hold_back(r->d, &r->for_reader[dir]) || w)
			return GO_STALLED;
	}
	for (int n = 0;; n++) {
		if (n >= BUDGET_MSGS || bytes >= BUDGET_BYTES)
			return GO_MORE;
		struct vmsg_msg m;
		int e = vmsg_chan_peek(src, &m, 0);
		if (e == -EAGAIN)
			return GO_IDLE;
		if (e == -EPIPE)
			return SRC_CLOSED; /* all it sent has been taken */
		if (e == -EMSGSIZE) {
			r->dropped[dir]++;
			continue; /* over max_msg: the library dropped it */
		}
		if (e < 0)
			return BROKEN;
		if (r->dead[dir]) {
			/* Nobody to deliver to: drain, so that the source's
			 * close can be seen. */
			if (vmsg_chan_release(src) < 0)
				return BROKEN;
			continue;
		}
		e = vmsg_chan_send(dst, m.type, m.data, m.len, VMSG_SEND_MORE,
				   0);
		if (e == -EAGAIN) {
			/* Keep it peeked; the destination kicks when it has
			 * made room (vmsg_chan_send asked it to). */
			if (!r->held[dir])
				r->stalls[dir]++;
			r->held[dir] = true;
			return GO_STALLED;
		}
		if (e < 0) {
			/* The destination closed or broke: this direction is
			 * over; the source is drained until it closes too. */
			r->dead[dir] = true;
			r->held[dir] = false;
			if (e != -EPIPE)
				return BROKEN;
			continue;
		}
		r->held[dir] = false;
		bytes += m.len;
		if (vmsg_chan_release(src) < 0)
			return BROKEN;
	}
}

static void pump(struct relay *r)
{
	if (!r->c)
		return;
	for (int i = 0; i < 2; i++)
		(void)vmsg_chan_ack(r->end[i]);
	if (!r->accepted) {
		int e = vmsg_chan_accept(r->end[C2P], 0);
		if (e == 0) {
			r->accepted = true;
			vmsgd_log(LOG_DEBUG, "channel %u: consumer connected",
				  r->c->id);
		} else if (e != -EAGAIN) {
			finish(r, "the consumer came and went");
			return;
		}
	}
	bool more = false;
	for (int dir = 0; dir < 2; dir++) {
		int res = copy(r, dir);
		/* What the turn left in the source end, before the other
		 * direction asks for the bound (it may be the same guest);
		 * what it passed on may let the writer's held-back ends go
		 * on (O(1) when there are none; bounds.c). */
		guest_sync(r->d, &r->acct[dir]);
		guest_sync(r->d, &r->for_reader[dir]);
		guest_wake(r->d, &r->acct[dir]);
		guest_wake(r->d, &r->for_reader[dir]);
		if (res == GO_MORE)
			more = true;
		if (res == SRC_CLOSED) {
			finish(r, dir == C2P ? "closed by the consumer"
					     : "closed by the provider");
			return;
		}
		if (res == BROKEN) {
			finish(r, "an end broke the channel protocol");
			return;
		}
	}
	/* Publish what was sent with SEND_MORE, and announce released
	 * space to writers (one kick each at most). */
	for (int i = 0; i < 2; i++)
		if (vmsg_chan_flush(r->end[i]) < 0) {
			finish(r, "an end broke the channel protocol");
			return;
		}
	if (more && !r->idling) {
		uv_idle_start(&r->idle, on_idle);
		r->idling = true;
	} else if (!more && r->idling) {
		uv_idle_stop(&r->idle);
		r->idling = false;
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct relay *r = h->data;
	if (status < 0) {
		finish(r, uv_strerror(status));
		return;
	}
	pump(r);
}

static void on_idle(uv_idle_t *h)
{
	pump(h->data);
}

/* The provider has served a relayed channel: connect to it, serve the
 * consumer's end. 0, or -errno with why filled. */
static int relay_start(struct vmsgd *d, struct channel *c, char *why,
		       size_t cap)
{
	struct relay *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(why, cap, "vmsgd is out of memory");
		return -ENOMEM;
	}
	r->d = d;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)c->max_msg;
	o.rx_ring_size = o.tx_ring_size = c->ring_size;
	/* We read each end until it has nothing: batch the releases. */
	o.rx_batch = true;
	/* Each end by message where it was agreed (docs/protocol.md, "Setup
	 * by message"), else through xenstore at its path. */
	int e = c->by_msg ? vmsg__xen_connect_msg(&r->end[P2C], c->provider,
						   c->path, c->prov_ref,
						   c->prov_port, &o)
			  : vmsg_xen_connect(&r->end[P2C], c->provider,
					     c->path, &o, 0);
	if (e < 0) {
		snprintf(why, cap, "service '%s': cannot connect to provider "
				   "domain %u's channel: %s",
			 c->service, (unsigned)c->provider, vmsg_strerror(e));
		free(r);
		return e;
	}
	/* A client takes the rings the provider laid out: hold it to the
	 * policy. */
	if ((e = broker_check_rings(c, r->end[P2C], why, cap)) < 0) {
		vmsg_chan_close(r->end[P2C]);
		free(r);
		return e;
	}
	snprintf(c->relay_path, sizeof c->relay_path, RELAY_PATH_PREFIX "/%u",
		 c->id);
	e = broker_consumer_by_msg(d, c)
		    ? vmsg__xen_serve_msg(&r->end[C2P], c->consumer,
					  c->relay_path, &o, &c->ring_ref,
					  &c->event_port)
		    : vmsg_xen_serve(&r->end[C2P], c->consumer, c->relay_path,
				     &o);
	if (e < 0) {
		snprintf(why, cap, "service '%s': vmsgd cannot serve the "
				   "relayed channel: %s",
			 c->service, vmsg_strerror(e));
		vmsg_chan_close(r->end[P2C]);
		free(r);
		return e;
	}
	/* Each source end counts against its writer (writer(): consumer for
	 * C2P, provider for P2C), and what waits in it for the destination
	 * against the other. */
	int joined = 0;
	const uint16_t dom[2] = {[C2P] = c->consumer, [P2C] = c->provider};
	for (int dir = 0; dir < 2; dir++) {
		r->side[dir] = (struct relay_side){r, dir};
		if (guest_join(d, &r->acct[dir], dom[dir], GUEST_WRITES,
			       end_kept, end_collecting, &r->side[dir],
			       relay_resume, r) < 0 ||
		    guest_join(d, &r->for_reader[dir], dom[!dir],
			       GUEST_READS, end_waiting, end_collecting,
			       &r->side[dir], relay_resume, r) < 0)
			break;
		joined++;
	}
	if (joined < 2) {
		snprintf(why, cap, "vmsgd is out of memory");
		for (int k = 0; k < 2; k++) {
			guest_leave(d, &r->acct[k]);
			guest_leave(d, &r->for_reader[k]);
		}
		for (int k = 0; k < 2; k++)
			vmsg_chan_close(r->end[k]);
		free(r);
		return -ENOMEM;
	}
	r->next = d->relays;
	d->relays = r;
	for (int i = 0; i < 2; i++) {
		int fd = vmsg_chan_fd(r->end[i]);
		if (fd < 0 || uv_poll_init(d->loop, &r->poll[i], fd) < 0) {
			snprintf(why, cap, "vmsgd cannot poll the channel");
			for (int k = 0; k < 2; k++) {
				guest_leave(d, &r->acct[k]);
				guest_leave(d, &r->for_reader[k]);
			}
			if (i == 0) {
				unlink_relay(r);
				for (int k = 0; k < 2; k++)
					vmsg_chan_close(r->end[k]);
				free(r);
			} else {
				/* on_closed closes the ends and frees. */
				uv_close((uv_handle_t *)&r->poll[0], on_closed);
			}
			return -EIO;
		}
		r->poll[i].data = r;
		r->handles++;
	}
	uv_idle_init(d->loop, &r->idle);
	r->idle.data = r;
	r->handles++;
	r->c = c;
	c->relay = r;
	for (int i = 0; i < 2; i++)
		uv_poll_start(&r->poll[i], UV_READABLE, on_poll);
	vmsgd_log(LOG_DEBUG, "channel %u: relaying %s <-> %s", c->id,
		  c->relay_path, c->path);
	/* The provider may have sent already: look on the next turn (not
	 * now: an end found closed would forget c under our caller). */
	uv_idle_start(&r->idle, on_idle);
	r->idling = true;
	return 0;
}

static void relay_served(struct vmsgd *d, struct channel *c)
{
	char why[200];
	int r = relay_start(d, c, why, sizeof why);
	if (r < 0) {
		broker_fail(d, c, r, why);
		return;
	}
	broker_opened(d, c, 0, c->relay_path);
}

/* vmsgd is the provider's consumer: it can always be set up by message;
 * the consumer's end is, where its library can (relay_start). */
static bool relay_by_msg(struct vmsgd *d, const struct channel *c)
{
	(void)d;
	(void)c;
	return true;
}

const struct transport relay_transport = {
	.name = "relayed",
	.metric = "relayed",
	.holds_end = true,
	.asks_provider = true,
	.serve_dom0 = true,
	.shows_relay_path = true,
	.by_msg = relay_by_msg,
	.served = relay_served,
	.detach = relay_detach,
	.waiting = relay_waiting,
	.tick = relay_tick,
	.counters = relay_counters,
	.queued = relay_queued,
};

void relays_close_all(struct vmsgd *d)
{
	/* Oldest last in the list: close newest first, each in order. */
	for (;;) {
		struct relay *r = d->relays;
		while (r && !r->c)
			r = r->next;
		if (!r)
			break;
		/* Pass on what has arrived (as much as fits), then close. */
		pump(r);
		if (r->c)
			broker_end(d, r->c, "vmsgd is stopping");
	}
}
