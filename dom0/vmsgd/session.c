/* A control channel per process of a guest domain (up to
 * max_sessions_per_domain; "several processes of a domain" below): serve
 * it, greet the guest, and
 * hand its requests (offer, open, serve results, closes) to the broker
 * (broker.c, which owns the services and channels); send what the broker
 * tells a guest (session_notify). The guest is untrusted: every message is
 * size-checked, copied and parsed by vmsg_proto_recv() into a bounded
 * arena, and every field validated. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/platform.h>
#include <vmsg/uv.h>
#include <vmsg/vmsg_service.pb-c.h>
#include <vmsg/xen.h>

#include "vmsg_chan_internal.h"
#include "vmsg_text.h"
#include "broker.h"

/* Control messages are small; a larger one is dropped unread. */
#define CTL_MSG_MAX VMSG_CTL_MSG_MAX
/* A send to a guest that has left no room in a 64 KiB ring: the guest is
 * not reading its control channel; it is reset rather than waited for. */
#define SEND_TIMEOUT_MS 0

struct session *session_find(struct vmsgd *d, uint16_t num)
{
	for (struct session *s = d->sessions; s; s = s->next)
		if (s->num == num)
			return s;
	return NULL;
}

void session_count_clients(struct vmsgd *d, uint32_t uid, uint32_t *user,
			   uint32_t *all)
{
	*user = *all = 0;
	for (struct session *s = d->sessions; s; s = s->next) {
		if (s->dying)
			continue;
		(*all)++;
		*user += s->uid == uid;
	}
}

bool session_domain_served(struct vmsgd *d, uint16_t domid)
{
	for (struct session *s = d->sessions; s; s = s->next)
		if (s->domid == domid)
			return true;
	return false;
}

/* How logs name a session: its domain, and where the domain holds more
 * than one control channel, the session's number after a slash
 * ("5/32769"). Two buffers: one log line may name two sessions. */
static const char *sname(const struct session *s)
{
	static char buf[2][16];
	static int k;
	k ^= 1;
	if (s->num == s->domid)
		snprintf(buf[k], sizeof buf[k], "%u", (unsigned)s->domid);
	else
		snprintf(buf[k], sizeof buf[k], "%u/%u", (unsigned)s->domid,
			 (unsigned)s->num);
	return buf[k];
}

static const struct vmsg_uv_callbacks ctl_callbacks;
static void session_reset(struct session *s, const char *why);
static void backoff_note(struct session *s);
static void arm_backoff(struct vmsgd *d);
static void stop_poll(struct session *s);

static int serve(struct session *s)
{
	char path[128];
	int r = s->d->sops->serve(s, &s->chan, path, sizeof path);
	if (r < 0) {
		s->chan = NULL;
		return r;
	}
	/* libvmsg-uv does the fd's ack-and-drain rule, with the policy's
	 * budget per wake-up (the rest after the loop's other I/O, so that
	 * one flooding guest cannot starve the others). */
	if ((r = vmsg_uv_start(&s->uv, s->d->loop, s->chan, &ctl_callbacks,
			       s)) < 0) {
		vmsgd_log(LOG_WARN, "domain %s: cannot watch its control "
				    "channel: %s",
			  sname(s), vmsg_strerror(r));
		vmsg_chan_close(s->chan);
		s->chan = NULL;
		return r;
	}
	(void)vmsg_uv_set_budget(s->uv, s->d->pol.limits.messages_per_wakeup);
	s->polling = true;
	s->state = SESS_WAITING;
	s->served_ms = vmsgd_now_ms();
	s->partial.since_ms = 0;
	vmsgd_log(LOG_DEBUG, "domain %s: control channel at %s",
		  sname(s), path);
	return 0;
}

/* A session numbered `num` of domain `dom`, served. */
static int session_make(struct vmsgd *d, uint16_t num, uint16_t dom,
			uint32_t uid, int pid)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->num = num;
	s->domid = dom;
	s->uid = uid;
	s->pid = pid;
	s->born_ms = vmsgd_now_ms();
	vmsg_arena_init(&s->arena, s->arena_buf, sizeof s->arena_buf);
	/* Before serve: the keys (Xen) go inside the mark. */
	int r = d->sops->mark(s, true);
	if (r < 0) {
		free(s);
		return r;
	}
	if ((r = serve(s)) < 0) {
		(void)d->sops->mark(s, false);
		free(s);
		return r;
	}
	s->next = d->sessions;
	d->sessions = s;
	if (d->pol.host)
		vmsgd_log(LOG_INFO, "domain %u: up: host client, user %s "
				    "(uid %u), pid %d",
			  (unsigned)num, s->user, (unsigned)uid, pid);
	else if (num == dom)
		vmsgd_log(LOG_INFO, "domain %u: up", (unsigned)dom);
	else
		vmsgd_log(LOG_INFO, "domain %s: up (another control channel of "
				    "the domain, for its next process)",
			  sname(s));
	return 0;
}

int session_new(struct vmsgd *d, uint16_t domid, uint32_t uid, int pid)
{
	if (session_find(d, domid))
		return 0;
	return session_make(d, domid, domid, uid, pid);
}

/* ---- several processes of a domain (Xen) ---------------------------------
 *
 * A control channel is one process's: its event channel's port binds
 * once, so a second process of the domain that finds the same keys fails
 * at the bind, before it maps anything (the cli_live compare-and-swap is
 * a second guard; docs/protocol.md), and cannot share it. So once a domain's
 * process has been greeted on its channel, vmsgd serves the domain
 * another one, a spare, at the same path, under a new session number
 * (SESS_EXTRA_FIRST up): the domain's next process finds it there. At
 * most one channel of a domain waits at a time (a path holds one set of
 * keys), and at most max_sessions_per_domain are served at once (each
 * costs dom0 a granted page and an event channel); with all in use, a
 * further process finds the domain's folder without keys and its library
 * says so at its deadline (-EBUSY). When a process leaves and a spare
 * waits already, its session goes; else it is served again, as before. */

/* A free number for a further session: from SESS_EXTRA_FIRST up, going
 * round, so that a new one seldom gets the number a recent one had. */
static int extra_number(struct vmsgd *d)
{
	const unsigned span = 0x10000u - SESS_EXTRA_FIRST;
	for (unsigned i = 0; i < span; i++) {
		d->next_extra = (uint16_t)(d->next_extra + 1);
		if (d->next_extra < SESS_EXTRA_FIRST)
			d->next_extra = SESS_EXTRA_FIRST;
		if (!session_find(d, d->next_extra))
			return d->next_extra;
	}
	return -EUSERS;
}

/* Another session of s's domain whose channel waits for a process (or is
 * being served again): the domain's next process will find it. */
static struct session *waiting_sibling(const struct session *s)
{
	for (struct session *o = s->d->sessions; o; o = o->next)
		if (o != s && o->domid == s->domid && !o->dying &&
		    o->state != SESS_READY)
			return o;
	return NULL;
}

/* Serve domain `dom` a spare control channel if none of its channels
 * waits and it has fewer than max_sessions_per_domain. Xen only (a host
 * client is one process: its next one comes through the rendezvous). */
static void spare_check(struct vmsgd *d, uint16_t dom)
{
	if (!d->sops->respawn || d->stopping)
		return;
	unsigned n = 0;
	struct session *any = NULL;
	for (struct session *s = d->sessions; s; s = s->next) {
		if (s->domid != dom || s->dying)
			continue;
		if (s->state != SESS_READY)
			return; /* one waits already, or is held back */
		n++;
		any = s;
	}
	if (!any)
		return; /* the domain is not served */
	if (n >= d->pol.limits.max_sessions) {
		vmsgd_log(LOG_DEBUG, "domain %u: %u control channels in use, "
				     "its limit (max_sessions_per_domain)",
			  (unsigned)dom, n);
		return;
	}
	int num = extra_number(d);
	int r = num < 0 ? num : session_make(d, (uint16_t)num, dom, 0, 0);
	if (r < 0) {
		vmsgd_log(r == -ENOMEM ? LOG_WARN : LOG_DEBUG,
			  "domain %u: cannot serve another control channel yet "
			  "(%s); trying again",
			  (unsigned)dom, vmsg_strerror(r));
		d->spare_retry = true;
	}
}

/* ---- sending ------------------------------------------------------------ */

static int send_msg(struct session *s, uint16_t type, const ProtobufCMessage *m)
{
	if (!s || s->state != SESS_READY)
		return -ENOTCONN;
	int r = vmsg_proto_send(s->chan, type, m, 0, SEND_TIMEOUT_MS);
	if (r < 0) {
		vmsgd_log(LOG_WARN, "domain %s: send failed (%s)",
			  sname(s), vmsg_strerror(r));
		session_reset(s, "control channel stuck or broken");
	}
	return r;
}

static void send_result(struct session *s, uint32_t req_id, int code,
			const char *text)
{
	Vmsg__Service__Result res = VMSG__SERVICE__RESULT__INIT;
	res.req_id = req_id;
	res.code = code;
	res.text = (char *)(text ? text : "");
	/* The guest hears why; dom0's admin must too. */
	if (code == -ENOMEM)
		vmsgd_log(LOG_WARN, "domain %s: request %u refused: out of "
				    "memory",
			  sname(s), (unsigned)req_id);
	(void)send_msg(s, VMSG_TYPE_SVC_RESULT, &res.base);
}

/* ---- what the broker tells guests (struct broker_notify) ----------------- */

static bool peer_of(struct vmsgd *d, uint16_t sess, struct broker_peer *p)
{
	struct session *s = session_find(d, sess);
	if (!s)
		return false;
	p->uid = s->uid;
	p->setup_msg = s->setup_msg;
	p->admit = s->admit;
	p->spare_msg = s->spare_msg;
	return s->state == SESS_READY;
}

static void notify_result(struct vmsgd *d, uint16_t sess, uint32_t req_id,
			  int code, const char *text)
{
	struct session *s = session_find(d, sess);
	if (s)
		send_result(s, req_id, code, text);
}

static int notify_serve(struct vmsgd *d, const struct channel *c,
			uint16_t consumer_domid, uint32_t connect_timeout_ms,
			uint32_t consumer_uid)
{
	Vmsg__Service__Serve sv = VMSG__SERVICE__SERVE__INIT;
	sv.serve_id = c->id;
	sv.service = (char *)c->service;
	sv.consumer_domid = consumer_domid;
	/* The real consumer where vmsgd connects in its place (a relayed
	 * channel), so that the provider never mistakes it for dom0
	 * (vmsg_service_peer.domid). A listen bridge's consumer is dom0's
	 * socket: none (0). */
	if (consumer_domid != c->consumer)
		sv.relayed_for = c->consumer;
	/* (c->consumer is the domain: a process of the provider's own
	 * domain is its consumer as any other.) */
	sv.path = (char *)c->path;
	sv.rx_ring_size = c->ring_size;
	sv.tx_ring_size = c->ring_size;
	sv.max_msg = c->max_msg;
	sv.connect_timeout_ms = connect_timeout_ms;
	sv.by_message = c->by_msg ? 1 : 0;
	sv.consumer_uid = consumer_uid;
	sv.after = c->state == CH_SPARE ? c->spare_after : 0;
	sv.admit = c->admit ? 1 : 0;
	return send_msg(session_find(d, c->prov_sess), VMSG_TYPE_SVC_SERVE,
			&sv.base);
}

static int notify_opened(struct vmsgd *d, const struct channel *c,
			 uint16_t at_domid, const char *path,
			 uint32_t provider_uid)
{
	Vmsg__Service__Opened op = VMSG__SERVICE__OPENED__INIT;
	op.req_id = c->req_id;
	op.provider_domid = at_domid;
	op.path = (char *)path;
	op.max_msg = c->max_msg;
	op.channel_id = c->id;
	/* Setup by message: the consumer maps and binds these directly. */
	op.ring_ref = c->ring_ref;
	op.event_port = c->event_port;
	/* Host mode: the consumer's library accepts only this uid there. */
	op.provider_uid = provider_uid;
	return send_msg(session_find(d, c->cons_sess), VMSG_TYPE_SVC_OPENED,
			&op.base);
}

static void notify_closed(struct vmsgd *d, uint16_t sess, uint32_t id)
{
	Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
	cl.channel_id = id;
	(void)send_msg(session_find(d, sess), VMSG_TYPE_SVC_CLOSED, &cl.base);
}

static void notify_spare(struct vmsgd *d, const struct channel *c)
{
	struct session *s = session_find(d, c->cons_sess);
	if (!s || !s->spare_msg)
		return; /* a library that would not know it */
	Vmsg__Service__Spare sp = VMSG__SERVICE__SPARE__INIT;
	sp.channel_id = c->id;
	sp.service = (char *)c->service;
	sp.provider_domid = c->provider;
	sp.path = (char *)c->path;
	sp.max_msg = c->max_msg;
	sp.ring_ref = c->prov_ref;
	sp.event_port = c->prov_port;
	(void)send_msg(s, VMSG_TYPE_SVC_SPARE, &sp.base);
}

const struct broker_notify session_notify = {
	.peer = peer_of,
	.result = notify_result,
	.serve = notify_serve,
	.opened = notify_opened,
	.closed = notify_closed,
	.spare = notify_spare,
};

/* ---- requests ----------------------------------------------------------- */

/* A refused request: one log line, within the guest's log budget (a
 * guest that floods refused requests must not flood dom0's log). */
static void log_denied(struct session *s, const char *text)
{
	uint32_t sup = 0;
	s->refused++;
	if (!rl_log(&s->rl, &s->d->pol.limits, vmsgd_now_ms(), &sup))
		return;
	char more[48] = "";
	if (sup)
		snprintf(more, sizeof more, " (%u more not logged)", sup);
	vmsgd_log(LOG_WARN, "denied: %s%s", text, more);
}

/* What the broker needs to know of who asks. */
static struct broker_who who(const struct session *s)
{
	return (struct broker_who){.domid = s->domid,
				   .sess = s->num,
				   .uid = s->uid,
				   .user = s->user};
}

/* The broker's answer to a request: 0 (it answers later, or now: ok),
 * or a refusal to send; those by policy or limit are logged too. */
static void answer(struct session *s, uint32_t req_id, int r,
		   const char *text)
{
	if (r == -EACCES || r == -EUSERS || r == -EBUSY)
		log_denied(s, text);
	send_result(s, req_id, r, text);
}

static void on_offer(struct session *s, const Vmsg__Service__Offer *m)
{
	char text[200];
	struct broker_who w = who(s);
	int r = broker_offer(s->d, &w, m->service, text, sizeof text);
	answer(s, m->req_id, r, r < 0 ? text : NULL);
}

static void on_open(struct session *s, const Vmsg__Service__Open *m)
{
	char text[200];
	struct broker_who w = who(s);
	int r = broker_open(s->d, &w, m->service, m->req_id, m->timeout_ms,
			    NULL, text, sizeof text);
	if (r < 0)
		answer(s, m->req_id, r, text);
}

static void on_serve_result(struct session *s,
			    const Vmsg__Service__ServeResult *m)
{
	char why[100] = "";
	if (m->code != 0)
		vmsg__text_copy(why, sizeof why, m->text);
	broker_serve_result(s->d, s->num, m->serve_id, m->code, why,
			    m->ring_ref, m->event_port);
}

static void on_closed(struct session *s, const Vmsg__Service__Closed *m)
{
	broker_closed(s->d, s->num, m->channel_id);
}

static const ProtobufCMessageDescriptor *desc_of(uint16_t type)
{
	switch (type) {
	case VMSG_TYPE_HELLO:
		return &vmsg__control__hello__descriptor;
	case VMSG_TYPE_ERROR:
		return &vmsg__control__error__descriptor;
	case VMSG_TYPE_SVC_OFFER:
		return &vmsg__service__offer__descriptor;
	case VMSG_TYPE_SVC_OPEN:
		return &vmsg__service__open__descriptor;
	case VMSG_TYPE_SVC_SERVE_RESULT:
		return &vmsg__service__serve_result__descriptor;
	case VMSG_TYPE_SVC_CLOSED:
		return &vmsg__service__closed__descriptor;
	default:
		return NULL;
	}
}

static void client_left(struct session *s, int why);

static void send_hello(struct session *s)
{
	Vmsg__Control__Hello h = VMSG__CONTROL__HELLO__INIT;
	h.version = VMSG_PROTO_VERSION;
	h.features = VMSG_FEATURES_SUPPORTED | VMSG_FEATURE_SVC_SETUP_MSG |
		     VMSG_FEATURE_SVC_ADMIT | VMSG_FEATURE_SVC_SPARE;
	h.max_msg = CTL_MSG_MAX;
	h.name = (char *)"vmsgd";
	int r = vmsg_proto_send(s->chan, VMSG_TYPE_HELLO, &h.base, 0, 0);
	/* -EPIPE: the process connected and left before we greeted it; it
	 * left like any other (no reset, no back-off). */
	if (r == -EPIPE)
		client_left(s, r);
	else if (r < 0)
		session_reset(s, "cannot send Hello");
}

static void on_hello(struct session *s, uint16_t type, ProtobufCMessage *m)
{
	if (type != VMSG_TYPE_HELLO) {
		session_reset(s, "first message is not a Hello");
		return;
	}
	const Vmsg__Control__Hello *h = (const void *)m;
	if (VMSG_PROTO_VERSION_MAJOR_OF(h->version) != VMSG_PROTO_VERSION_MAJOR) {
		(void)vmsg_proto_send_error(s->chan, -EPROTONOSUPPORT,
					    "vmsgd speaks protocol 1.x",
					    VMSG_TYPE_HELLO, 0);
		session_reset(s, "incompatible protocol version");
		return;
	}
	vmsg__text_copy(s->peer_name, sizeof s->peer_name, h->name);
	s->setup_msg = (h->features & VMSG_FEATURE_SVC_SETUP_MSG) != 0;
	s->admit = s->setup_msg && (h->features & VMSG_FEATURE_SVC_ADMIT);
	s->spare_msg = s->setup_msg && (h->features & VMSG_FEATURE_SVC_SPARE);
	s->state = SESS_READY;
	s->connects++;
	vmsgd_log(LOG_INFO, "domain %s: connected ('%s')", sname(s),
		  s->peer_name);
	/* The domain's next process needs a channel of its own. */
	spare_check(s->d, s->domid);
}

/* A bad message from the guest (malformed, unknown, oversized, out of
 * place): dropped, logged at most log_per_s times a second per guest,
 * and counted; a guest that keeps sending them loses its control channel
 * (it may connect again, but its abuse bucket stays empty a while). Returns
 * false when the channel was reset. */
static bool bad_input(struct session *s, const char *what, uint16_t type)
{
	uint64_t now = vmsgd_now_ms();
	uint32_t sup = 0;
	if (rl_log(&s->rl, &s->d->pol.limits, now, &sup)) {
		char more[48] = "";
		if (sup)
			snprintf(more, sizeof more, " (%u more not logged)", sup);
		char t[24] = "";
		if (type)
			snprintf(t, sizeof t, " (type 0x%04x)", type);
		vmsgd_log(LOG_WARN, "domain %s: %s%s dropped%s",
			  sname(s), what, t, more);
	}
	if (rl_abuse(&s->rl, &s->d->pol.limits, now)) {
		session_reset(s, "persistent bad input or flooding");
		return false;
	}
	return true;
}

/* Offer and Open cost a token each; over the rate, the guest gets a
 * Result -EAGAIN "rate limited" and an abuse mark. */
static bool rate_ok(struct session *s, uint32_t req_id)
{
	uint64_t now = vmsgd_now_ms();
	if (rl_request(&s->rl, &s->d->pol.limits, now) == 0)
		return true;
	uint32_t sup = 0;
	if (rl_log(&s->rl, &s->d->pol.limits, now, &sup))
		vmsgd_log(LOG_WARN, "domain %s: rate limited (%llu requests "
				    "refused so far)",
			  sname(s), (unsigned long long)s->rl.limited);
	send_result(s, req_id, -EAGAIN, "rate limited: too many requests");
	if (s->polling && rl_abuse(&s->rl, &s->d->pol.limits, now))
		session_reset(s, "persistent flooding");
	return false;
}

static void dispatch(struct session *s, uint16_t type, ProtobufCMessage *m)
{
	if (s->state == SESS_HELLO) {
		on_hello(s, type, m);
		return;
	}
	switch (type) {
	case VMSG_TYPE_SVC_OFFER:
		if (rate_ok(s, ((const Vmsg__Service__Offer *)(void *)m)->req_id))
			on_offer(s, (const void *)m);
		break;
	case VMSG_TYPE_SVC_OPEN:
		if (rate_ok(s, ((const Vmsg__Service__Open *)(void *)m)->req_id))
			on_open(s, (const void *)m);
		break;
	case VMSG_TYPE_SVC_SERVE_RESULT:
		on_serve_result(s, (const void *)m);
		break;
	case VMSG_TYPE_SVC_CLOSED:
		on_closed(s, (const void *)m);
		break;
	default:
		/* A Hello or Error after the greeting. */
		(void)bad_input(s, "message out of place", type);
	}
}

/* Its process has left or was reset, its state dropped: a Xen domain
 * gets a fresh control channel for its next process; a host client
 * (one connection, one process) is forgotten: it comes back, if it does,
 * through the rendezvous as a new client. */
static void session_after(struct session *s)
{
	if (s->d->sops->respawn) {
		struct session *w = waiting_sibling(s);
		if (s->serve_at_ms > vmsgd_now_ms()) {
			/* Held back: the domain gets no channel before then,
			 * not even a spare that waits already (a process that
			 * keeps breaking its channel would take it and be
			 * served another at once). Channels a process has
			 * connected to are left alone. */
			for (struct session *o = s->d->sessions; o; o = o->next)
				if (o != s && o->domid == s->domid && !o->dying &&
				    o->state == SESS_WAITING && o->polling &&
				    !o->respawn) {
					vmsgd_log(LOG_DEBUG, "domain %s: spare "
							     "control channel "
							     "withdrawn "
							     "(back-off)",
						  sname(o));
					/* Its keys go now: its close comes
					 * after this one's (libuv closes in
					 * reverse), and the process, seeing
					 * its channel closed, would find
					 * them in between. (The ack: the
					 * Xen platform withdraws at its next
					 * wait, ack or destroy.) */
					struct vmsg_platform *pf =
						vmsg__chan_platform(o->chan);
					pf->ops->unpublish(pf);
					(void)pf->ops->ack(pf);
					o->dying = true;
					stop_poll(o);
				}
		} else if (w) {
			/* The domain's next process has a channel already:
			 * this session goes (the domain stays marked). Its
			 * resets in a row go on counting there. */
			if (w->backoff_level < s->backoff_level)
				w->backoff_level = s->backoff_level;
			/* So do its counters and rate limits (vmsgctl's and
			 * the metrics' per domain): a domain used by one
			 * process at a time sees them add up as before. */
			w->connects += s->connects;
			w->resets += s->resets;
			w->refused += s->refused;
			struct rl_state rl = s->rl;
			rl.limited += w->rl.limited;
			rl.bad += w->rl.bad;
			w->rl = rl;
			s->dying = true;
			stop_poll(s); /* on_uv_closed frees it */
			return;
		}
		s->respawn = true;
		stop_poll(s);
		return;
	}
	(void)s->d->sops->mark(s, false);
	s->dying = true;
	stop_poll(s); /* on_uv_closed frees it */
}

/* The guest's process has gone (its end closed or broke): forget what it
 * offered and opened, and serve a fresh channel for the next one. Not
 * vmsg_chan_reopen(): the old client's unmap notification may still be on
 * its way and would clear the live byte of the re-laid page; a new page
 * (new grants) cannot be hit by it. */
static void client_left(struct session *s, int why)
{
	/* A guest that closed its end (or died: the same -EPIPE) left;
	 * anything else is a channel it broke (a corrupt index or frame,
	 * -EPROTO) or one we could not serve, and docs/vmsgd.md promises
	 * such resets at warn. */
	if (why == -EPIPE)
		vmsgd_log(LOG_INFO, "domain %s: disconnected",
			  sname(s));
	else
		vmsgd_log(LOG_WARN, "domain %s: resetting its control channel: "
				    "%s",
			  sname(s),
			  why == -EPROTO ? "it broke the channel protocol"
					 : vmsg_strerror(why));
	if (why != -EPIPE)
		backoff_note(s);
	s->state = SESS_WAITING;
	broker_drop_session(s->d, s->num, why == -EPIPE);
	session_after(s);
}

/* The guest's process connected to its control channel: greet it. */
static void on_connected(vmsg_uv *u)
{
	struct session *s = vmsg_uv_data(u);
	s->state = SESS_HELLO;
	send_hello(s);
}

/* One message of the guest's, at the head of its ring. Every path
 * consumes it (vmsg_proto_recv, or a release): one left unconsumed would
 * pause the channel (vmsg/uv.h). */
static void on_message(vmsg_uv *u, const struct vmsg_msg *msg)
{
	struct session *s = vmsg_uv_data(u);
	/* A reload's new budget applies from the next wake-up on. */
	(void)vmsg_uv_set_budget(u, s->d->pol.limits.messages_per_wakeup);
	const ProtobufCMessageDescriptor *desc = desc_of(msg->type);
	if (!desc) {
		uint16_t t = msg->type;
		int r = vmsg_chan_release(s->chan);
		if (r < 0)
			client_left(s, r);
		else
			(void)bad_input(s, "unknown message type", t);
		return;
	}
	uint16_t type, peeked_type = msg->type;
	ProtobufCMessage *pm;
	vmsg_arena_reset(&s->arena);
	int r = vmsg_proto_recv(s->chan, desc, &s->arena, &type, &pm, 0);
	if (r == -EBADMSG || r == -ENOMEM) {
		(void)bad_input(s, "malformed message", peeked_type);
		return;
	}
	if (r < 0) {
		client_left(s, r);
		return;
	}
	dispatch(s, type, pm);
}

/* A message over CTL_MSG_MAX, dropped unread by the library. */
static void on_dropped(vmsg_uv *u, int err)
{
	(void)err;
	(void)bad_input(vmsg_uv_data(u), "oversized message", 0);
}

/* The guest closed its end (-EPIPE, after everything it sent), broke the
 * channel (-EPROTO) or the channel failed. */
static void on_ctl_closed(vmsg_uv *u, int err)
{
	client_left(vmsg_uv_data(u), err);
}

static const struct vmsg_uv_callbacks ctl_callbacks = {
	.connected = on_connected,
	.message = on_message,
	.dropped = on_dropped,
	.closed = on_ctl_closed,
};

/* ---- back-off ----------------------------------------------------------- */

/* vmsgd resets a guest's control channel (flooding, a protocol break, a
 * message left incomplete...): a guest that reconnects at once and does it
 * again must not cost vmsgd a fresh channel (grants, an event channel,
 * xenstore keys) each time. The first reset serves the next channel at
 * once; each further one in a row holds it back reset_backoff_ms,
 * doubling up to reset_backoff_max_ms. A guest whose channel stays up
 * that long without a reset starts over. */
static void backoff_note(struct session *s)
{
	const struct rl_limits *l = &s->d->pol.limits;
	uint64_t now = vmsgd_now_ms();
	if (now - s->served_ms >= l->reset_backoff_max_ms)
		s->backoff_level = 0;
	uint32_t n = s->backoff_level;
	if (s->backoff_level < 32)
		s->backoff_level++;
	s->serve_at_ms = 0;
	if (n == 0)
		return;
	uint64_t ms = (uint64_t)l->reset_backoff_ms << (n - 1 < 31 ? n - 1 : 31);
	if (ms > l->reset_backoff_max_ms)
		ms = l->reset_backoff_max_ms;
	s->serve_at_ms = now + ms;
	uint32_t sup = 0;
	if (rl_log(&s->rl, l, now, &sup)) {
		char more[48] = "";
		if (sup)
			snprintf(more, sizeof more, " (%u more not logged)", sup);
		vmsgd_log(LOG_WARN, "domain %s: reset %u times in a row: its "
				    "next control channel in %llu ms (back-off)%s",
			  sname(s), n + 1, (unsigned long long)ms,
			  more);
	}
}

bool session_backing_off(const struct session *s)
{
	return s->reserve && s->serve_at_ms > vmsgd_now_ms();
}

static void on_backoff(uv_timer_t *t)
{
	sessions_serve_due(t->data);
}

/* Start d->backoff for the earliest channel held back. */
static void arm_backoff(struct vmsgd *d)
{
	uint64_t now = vmsgd_now_ms(), first = 0;
	for (struct session *s = d->sessions; s; s = s->next)
		if (s->reserve && !s->dying && s->serve_at_ms > now &&
		    (!first || s->serve_at_ms < first))
			first = s->serve_at_ms;
	if (first)
		uv_timer_start(&d->backoff, on_backoff, first - now, 0);
}

void sessions_serve_due(struct vmsgd *d)
{
	uint64_t now = vmsgd_now_ms();
	/* Control channels whose back-off is over or whose re-serve failed
	 * (session_gone frees a dying one: none of these is). */
	for (struct session *s = d->sessions; s && !d->stopping; s = s->next) {
		if (!s->reserve || s->dying || s->serve_at_ms > now)
			continue;
		s->reserve = false;
		if (serve(s) < 0)
			s->reserve = true;
		else
			vmsgd_log(s->serve_at_ms ? LOG_DEBUG : LOG_INFO,
				  "domain %s: control channel served again",
				  sname(s));
		s->serve_at_ms = 0;
	}
	if (!d->stopping)
		arm_backoff(d);
}

/* ---- teardown ----------------------------------------------------------- */

static void on_uv_closed(vmsg_uv *u)
{
	struct session *s = vmsg_uv_data(u);
	s->uv = NULL;
	s->closing = false;
	vmsg_chan_close(s->chan);
	s->chan = NULL;
	if (s->respawn && !s->dying && !s->d->stopping) {
		s->respawn = false;
		if (s->serve_at_ms > vmsgd_now_ms()) {
			/* Backing off: sessions_serve_due serves it. */
			s->reserve = true;
			arm_backoff(s->d);
			return;
		}
		if (serve(s) == 0)
			return;
		/* serve() said why. Not given up: a guest reconnecting
		 * later must find a channel (sessions_tick tries again). */
		vmsgd_log(LOG_ERROR, "domain %s: control channel lost; "
				     "serving it again from the tick",
			  sname(s));
		s->reserve = true;
	}
	if (s->dying) {
		struct vmsgd *d = s->d;
		for (struct session **pp = &d->sessions; *pp;
		     pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		/* The domain's own number goes to the channel that waits for
		 * its next process (no broker state is kept under a number
		 * that is not up), so that a domain used by one process at a
		 * time is known by its domid, as before. */
		struct session *w = s->num == s->domid && !d->stopping
					    ? waiting_sibling(s)
					    : NULL;
		if (w && !session_find(d, s->domid)) {
			vmsgd_log(LOG_DEBUG, "domain %s: numbered %u now",
				  sname(w), (unsigned)s->domid);
			w->num = s->domid;
		}
		free(s);
		/* A domain re-created under this id while its predecessor's
		 * session was closing was seen then (its @introduceDomain
		 * came) but not served, the id being taken: its world looks
		 * again now that it is free (xs.c). */
		if (!d->stopping && d->sops->freed)
			d->sops->freed(d);
	}
}

static void stop_poll(struct session *s)
{
	if (!s->polling)
		return;
	s->polling = false;
	s->closing = true;
	vmsg_uv_close(s->uv, on_uv_closed);
}

/* Throw the channel away and serve a fresh one (the guest sees -EPIPE). */
static void session_reset(struct session *s, const char *why)
{
	if (!s->polling)
		return;
	vmsgd_log(LOG_WARN, "domain %s: resetting its control channel: %s",
		  sname(s), why);
	s->resets++;
	backoff_note(s);
	s->state = SESS_WAITING;
	broker_drop_session(s->d, s->num, false);
	session_after(s);
}

/* One session of a domain that is gone (or of vmsgd stopping). */
static void one_gone(struct vmsgd *d, struct session *s)
{
	(void)d->sops->mark(s, false); /* with what is left inside */
	s->dying = true;
	s->state = SESS_WAITING;
	broker_drop_session(d, s->num, true);
	if (s->polling) {
		stop_poll(s); /* on_uv_closed frees it */
	} else if (!s->closing) {
		/* A reset whose re-serve failed: nothing is held. */
		for (struct session **pp = &d->sessions; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		vmsg_chan_close(s->chan);
		free(s);
	}
}

void session_gone(struct vmsgd *d, uint16_t domid)
{
	bool said = false;
	/* Each pass ends one session; what that does (sends to other
	 * sessions, frees) may change the list: start over. */
	for (;;) {
		struct session *s = d->sessions;
		while (s && (s->domid != domid || s->dying))
			s = s->next;
		if (!s)
			return;
		if (!said && !d->stopping)
			vmsgd_log(LOG_INFO, "domain %u: gone", (unsigned)domid);
		said = true;
		one_gone(d, s);
	}
}

void session_close_all(struct vmsgd *d)
{
	/* The broker has answered every pending open, and the transports
	 * have closed the channels vmsgd holds ends of (main.c's stop):
	 * each domain's channels are closed now (the guests see an orderly
	 * -EPIPE). */
	for (;;) {
		struct session *s = d->sessions;
		while (s && s->dying)
			s = s->next;
		if (!s)
			return;
		session_gone(d, s->domid);
	}
}

void sessions_tick(struct vmsgd *d)
{
	uint64_t now = vmsgd_now_ms();
	const uint32_t partial_ms = d->pol.limits.partial_message_ms;
	sessions_serve_due(d);
	/* Spares that could not be served (Xen). */
	if (d->spare_retry && !d->stopping) {
		d->spare_retry = false;
		for (struct session *s = d->sessions; s; s = s->next)
			if (!s->dying && s->state == SESS_READY)
				spare_check(d, s->domid);
	}
	/* Host mode: a client that never came to its control channel
	 * (session_gone frees it later, from its close callback). */
	for (struct session *s = d->sessions; s && d->pol.host && !d->stopping;
	     s = s->next) {
		if (s->state == SESS_WAITING && !s->dying && s->polling &&
		    now - s->born_ms > HOST_CONNECT_MS) {
			vmsgd_log(LOG_INFO, "domain %s: never connected to its "
					    "control channel (pid %d)",
				  sname(s), s->pid);
			session_gone(d, s->domid);
		}
	}
	/* A message left incomplete on a control channel holds up the
	 * guest's requests behind it and (up to 4096 bytes) vmsgd's memory;
	 * the guest's library never does that. */
	for (struct session *s = d->sessions; s; s = s->next) {
		if (!s->polling ||
		    !vmsg__partial_expired(&s->partial, s->chan, partial_ms,
					   now))
			continue;
		char why[96];
		snprintf(why, sizeof why, "a message stayed incomplete for %u "
					  "ms (partial_message_ms)",
			 partial_ms);
		session_reset(s, why);
	}
}
