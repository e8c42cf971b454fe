/* One control channel per guest domain: serve it, greet the guest, and
 * handle its requests (offer, open, serve results, closes). The guest is
 * untrusted: every message is size-checked, copied and parsed by
 * vmsg_proto_recv() into a bounded arena, and every field validated. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsg/uv.h>
#include <vmsg/vmsg_service.pb-c.h>
#include <vmsg/xen.h>

#include "vmsg_text.h"
#include "vmsgd.h"

/* Control messages are small; a larger one is dropped unread. */
#define CTL_MSG_MAX VMSG_CTL_MSG_MAX
/* How long an open waits for the provider when the guest gives no
 * timeout, and the most it may ask for. */
#define OPEN_DEFAULT_MS 30000u
#define OPEN_MAX_MS 300000u
/* The least a consumer gets to connect to vmsgd's end after Opened. */
#define CONNECT_GRACE_MS 1000u
/* A send to a guest that has left no room in a 64 KiB ring: the guest is
 * not reading its control channel; it is reset rather than waited for. */
#define SEND_TIMEOUT_MS 0
/* A direct channel the consumer closed stays counted until its provider
 * says it closed its end too, or this long: the provider's library closes
 * a channel nobody connected to at once when told, and by its connect
 * deadline anyway; what a provider keeps longer (a channel its consumer
 * used) is its own doing, not the consumer's. */
#define DIRECT_LINGER_MS VMSG_SERVICE_CONNECT_MAX_MS
/* The largest event port a provider may answer (Xen's FIFO ABI limit,
 * as the library's check of xenstore's event-channel key). */
#define SETUP_PORT_MAX ((1u << 17) - 1)

uint64_t vmsgd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct session *session_find(struct vmsgd *d, uint16_t domid)
{
	for (struct session *s = d->sessions; s; s = s->next)
		if (s->domid == domid)
			return s;
	return NULL;
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
		vmsgd_log(LOG_WARN, "domain %u: cannot watch its control "
				    "channel: %s",
			  (unsigned)s->domid, vmsg_strerror(r));
		vmsg_chan_close(s->chan);
		s->chan = NULL;
		return r;
	}
	(void)vmsg_uv_set_budget(s->uv, s->d->pol.limits.messages_per_wakeup);
	s->polling = true;
	s->state = SESS_WAITING;
	s->served_ms = vmsgd_now_ms();
	s->partial.since_ms = 0;
	vmsgd_log(LOG_DEBUG, "domain %u: control channel at %s",
		  (unsigned)s->domid, path);
	return 0;
}

int session_new(struct vmsgd *d, uint16_t domid, uint32_t uid, int pid)
{
	if (session_find(d, domid))
		return 0;
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->domid = domid;
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
			  (unsigned)domid, s->user, (unsigned)uid, pid);
	else
		vmsgd_log(LOG_INFO, "domain %u: up", (unsigned)domid);
	return 0;
}

/* ---- sending ------------------------------------------------------------ */

static int send_msg(struct session *s, uint16_t type, const ProtobufCMessage *m)
{
	if (!s || s->state != SESS_READY)
		return -ENOTCONN;
	int r = vmsg_proto_send(s->chan, type, m, 0, SEND_TIMEOUT_MS);
	if (r < 0) {
		vmsgd_log(LOG_WARN, "domain %u: send failed (%s)",
			  (unsigned)s->domid, vmsg_strerror(r));
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
		vmsgd_log(LOG_WARN, "domain %u: request %u refused: out of "
				    "memory",
			  (unsigned)s->domid, (unsigned)req_id);
	(void)send_msg(s, VMSG_TYPE_SVC_RESULT, &res.base);
}

/* ---- services and channels --------------------------------------------- */

static struct service *service_find(struct vmsgd *d, const char *name)
{
	for (struct service *v = d->services; v; v = v->next)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

/* Forget a channel; a relay or bridge it has is closed (orderly: what
 * vmsgd's ends committed stays readable). A bridge that still hands its
 * socket what the guest sent keeps the channel, lingering, until
 * channel_forget. */
static void channel_unlink(struct vmsgd *d, struct channel *c)
{
	if (c->bconn && bridge_detach(c)) {
		c->state = CH_LINGER;
		return;
	}
	for (struct channel **pp = &d->channels; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			if (c->relay)
				relay_detach(c);
			if (c->bconn)
				bridge_detach(c);
			free(c);
			return;
		}
}

static struct channel *channel_find(struct vmsgd *d, uint32_t id)
{
	for (struct channel *c = d->channels; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

struct channel *channel_lookup(struct vmsgd *d, uint32_t id)
{
	return channel_find(d, id);
}

uint32_t channel_new_id(struct vmsgd *d)
{
	/* Skip ids still in use (after a wrap). */
	do {
		if (++d->next_id == 0)
			d->next_id = 1;
	} while (channel_find(d, d->next_id));
	return d->next_id;
}

void channel_end(struct vmsgd *d, struct channel *c, const char *why)
{
	vmsgd_log(LOG_INFO, "channel %u of '%s' (domain %u -> %u) ended: %s",
		  c->id, c->service, (unsigned)c->consumer,
		  (unsigned)c->provider, why);
	channel_unlink(d, c);
}

void channel_forget(struct vmsgd *d, struct channel *c)
{
	vmsgd_log(LOG_DEBUG, "channel %u of '%s': no longer lingering", c->id,
		  c->service);
	c->bconn = NULL;
	channel_unlink(d, c);
}

/* The consumer of a direct channel closed it or went away. Its provider
 * may still hold its end, served and perhaps never connected to: tell it
 * (Closed{id}; its library closes such a channel and answers Closed), and
 * keep counting the channel against the consumer until it answers or
 * DIRECT_LINGER_MS pass. The channel may be gone on return (a failed send
 * resets the provider's session). */
static void direct_linger(struct vmsgd *d, struct channel *c)
{
	struct session *ps = session_find(d, c->provider);
	if (d->stopping || !ps || ps->state != SESS_READY) {
		channel_unlink(d, c); /* nobody holds the other end */
		return;
	}
	c->state = CH_LINGER;
	c->deadline_ms = vmsgd_now_ms() + DIRECT_LINGER_MS;
	Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
	cl.channel_id = c->id;
	(void)send_msg(ps, VMSG_TYPE_SVC_CLOSED, &cl.base);
}

/* A pending open fails: tell the consumer, forget the channel. */
static void pending_fail(struct vmsgd *d, struct channel *c, int code,
			 const char *text)
{
	vmsgd_log(LOG_INFO, "open of '%s' by domain %u failed: %s", c->service,
		  (unsigned)c->consumer, text);
	struct session *cs = session_find(d, c->consumer);
	uint32_t req = c->req_id;
	channel_unlink(d, c);
	if (cs)
		send_result(cs, req, code, text);
}

void channel_fail(struct vmsgd *d, struct channel *c, int code,
		  const char *text)
{
	pending_fail(d, c, code, text);
}

int channel_check_rings(const struct channel *c, vmsg_chan *end, char *why,
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

bool channel_consumer_by_msg(struct vmsgd *d, const struct channel *c)
{
	struct session *cs = session_find(d, c->consumer);
	return !c->setup_xenstore && cs && cs->state == SESS_READY &&
	       cs->setup_msg;
}

int channel_request_serve(struct vmsgd *d, struct channel *c,
			  uint16_t consumer_domid)
{
	struct session *ps_sess = session_find(d, c->provider);
	Vmsg__Service__Serve sv = VMSG__SERVICE__SERVE__INIT;
	sv.serve_id = c->id;
	sv.service = c->service;
	sv.consumer_domid = consumer_domid;
	/* The real consumer of a relayed channel, so that the provider
	 * never mistakes it for dom0 (vmsg_service_peer.domid). */
	if (c->mode == CHM_RELAYED)
		sv.relayed_for = c->consumer;
	sv.path = c->path;
	sv.rx_ring_size = c->ring_size;
	sv.tx_ring_size = c->ring_size;
	sv.max_msg = c->max_msg;
	/* The provider keeps the channel for a consumer that does not come
	 * as long as the consumer's open may still connect: what is left of
	 * its wait, and the grace after Opened (as for vmsgd's own ends). */
	uint64_t now = vmsgd_now_ms();
	uint64_t left = c->deadline_ms > now ? c->deadline_ms - now : 0;
	sv.connect_timeout_ms = (uint32_t)(left + CONNECT_GRACE_MS);
	/* Setup by message when the provider's library announced it, and
	 * for a direct channel the consumer's too; for a relayed one vmsgd
	 * is the consumer and can. A listen bridge's end (bridge.c) keeps
	 * xenstore. */
	bool prov_msg = !c->setup_xenstore && ps_sess && ps_sess->setup_msg;
	c->by_msg = prov_msg &&
		    ((c->mode == CHM_DIRECT && consumer_domid == c->consumer &&
		      channel_consumer_by_msg(d, c)) ||
		     c->mode == CHM_RELAYED);
	sv.by_message = c->by_msg ? 1 : 0;
	/* Host mode: the provider's library lets only this uid in. */
	struct session *cs = session_find(d, c->consumer);
	sv.consumer_uid = cs ? cs->uid : 0;
	vmsgd_log(LOG_DEBUG, "open of '%s' by domain %u: asking domain %u "
			     "(channel %u, %s, %s)",
		  c->service, (unsigned)c->consumer, (unsigned)c->provider,
		  c->id,
		  c->mode == CHM_DIRECT ? "direct" : "through dom0",
		  c->by_msg ? "by message" : "through xenstore");
	return send_msg(ps_sess, VMSG_TYPE_SVC_SERVE, &sv.base);
}

/* The provider of direct channel `id` is gone (its domain, or its
 * control channel): tell the consumer, whose library marks the channel's
 * peer gone. A destroyed domain runs no unmap notification, so without
 * this a consumer would wait on the channel for ever. Old libraries skip
 * it (they know no served channel of that id). */
static void tell_consumer(struct vmsgd *d, uint16_t consumer, uint32_t id)
{
	struct session *cs = session_find(d, consumer);
	if (d->stopping || !cs || cs->state != SESS_READY)
		return;
	vmsgd_log(LOG_DEBUG, "channel %u: telling domain %u its provider is "
			     "gone",
		  id, (unsigned)consumer);
	Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
	cl.channel_id = id;
	(void)send_msg(cs, VMSG_TYPE_SVC_CLOSED, &cl.base);
}

/* Everything of domain `domid` goes: its offers and channels. `ended`:
 * the domain or its control channel's process is gone (not a reset by
 * vmsgd), and consumers of its open direct channels are told. */
static void drop_domain_state(struct vmsgd *d, uint16_t domid, bool ended)
{
	for (struct service **pp = &d->services; *pp;) {
		struct service *v = *pp;
		if (v->provider == domid) {
			vmsgd_log(LOG_INFO, "service '%s' of domain %u removed",
				  v->name, (unsigned)domid);
			*pp = v->next;
			free(v);
		} else {
			pp = &v->next;
		}
	}
	/* Failing a pending open sends to its consumer, and a failed send
	 * resets that session, which changes the list: start over each time.
	 * What lingers stays (it ends by itself), except a direct channel
	 * whose provider is the one going: its end goes with it. */
	for (;;) {
		struct channel *c = d->channels;
		while (c && !((c->provider == domid || c->consumer == domid) &&
			      (c->state != CH_LINGER ||
			       (c->mode == CHM_DIRECT && c->provider == domid))))
			c = c->next;
		if (!c)
			break;
		if (c->state != CH_LINGER && c->mode == CHM_DIRECT &&
		    c->consumer == domid && c->provider != domid) {
			/* Open, or asked of the provider: it may serve. */
			direct_linger(d, c);
		} else if (c->state == CH_PENDING && c->provider == domid &&
			   c->consumer != domid) {
			char text[160];
			snprintf(text, sizeof text,
				 "service '%s': provider domain %u went away",
				 c->service, (unsigned)domid);
			pending_fail(d, c, -EHOSTDOWN, text);
		} else {
			vmsgd_log(LOG_DEBUG, "channel %u of '%s' forgotten",
				  c->id, c->service);
			bool tell = ended && c->mode == CHM_DIRECT &&
				    c->state == CH_OPEN &&
				    c->provider == domid &&
				    c->consumer != domid;
			uint16_t consumer = c->consumer;
			uint32_t id = c->id;
			/* Forgotten first: a failed send resets the
			 * consumer's session, which walks the list. */
			channel_unlink(d, c);
			if (tell)
				tell_consumer(d, consumer, id);
		}
	}
}

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

/* ---- requests ----------------------------------------------------------- */

/* The checks every request starts with: a valid name, and the policy's
 * offer or open list allowing the requester. The service's policy, or NULL
 * with the guest answered (and a refusal logged). */
static const struct policy_service *permitted(struct session *s,
					     uint32_t req_id, const char *name,
					     bool open)
{
	if (!vmsg_service_name_ok(name)) {
		send_result(s, req_id, -EINVAL, "bad service name");
		return NULL;
	}
	const struct policy_service *ps = policy_find(&s->d->pol, name);
	/* Host mode: the policy names users; a Xen policy, domains. */
	bool host = s->d->pol.host;
	if (ps && policy_allows(open ? &ps->open : &ps->offer,
				host ? s->uid : s->domid))
		return ps;
	char text[200];
	if (host)
		snprintf(text, sizeof text, "service '%s': user %s (uid %u) "
					    "may not %s it (policy)",
			 name, s->user, (unsigned)s->uid,
			 open ? "open" : "offer");
	else
		snprintf(text, sizeof text, "service '%s': domain %u may not "
					    "%s it (policy)",
			 name, (unsigned)s->domid, open ? "open" : "offer");
	log_denied(s, text);
	send_result(s, req_id, -EACCES, text);
	return NULL;
}

static void on_offer(struct session *s, const Vmsg__Service__Offer *m)
{
	struct vmsgd *d = s->d;
	char text[200];
	if (!permitted(s, m->req_id, m->service, false))
		return;
	struct service *v = service_find(d, m->service);
	if (v) {
		snprintf(text, sizeof text,
			 "service '%s' is already offered by domain %u",
			 m->service, (unsigned)v->provider);
		send_result(s, m->req_id, -EEXIST, text);
		return;
	}
	v = calloc(1, sizeof *v);
	if (!v) {
		send_result(s, m->req_id, -ENOMEM, "vmsgd is out of memory");
		return;
	}
	snprintf(v->name, sizeof v->name, "%s", m->service);
	v->provider = s->domid;
	v->next = d->services;
	d->services = v;
	vmsgd_log(LOG_INFO, "service '%s' offered by domain %u", v->name,
		  (unsigned)s->domid);
	send_result(s, m->req_id, 0, NULL);
}

static void on_open(struct session *s, const Vmsg__Service__Open *m)
{
	struct vmsgd *d = s->d;
	char text[200];
	const struct policy_service *ps =
		permitted(s, m->req_id, m->service, true);
	if (!ps)
		return;
	struct service *v = service_find(d, m->service);
	const struct policy_bridge *br =
		v && v->provider == 0 ? policy_bridge_connect(&d->pol, v->name)
				      : NULL;
	struct session *ps_sess = v ? session_find(d, v->provider) : NULL;
	if (!v || (!br && (!ps_sess || ps_sess->state != SESS_READY))) {
		snprintf(text, sizeof text, "service '%s' is not offered",
			 m->service);
		send_result(s, m->req_id, -ENOENT, text);
		return;
	}
	uint32_t mine = 0;
	for (struct channel *c = d->channels; c; c = c->next)
		if (c->consumer == s->domid && !strcmp(c->service, m->service))
			mine++;
	if (mine >= ps->max_channels) {
		snprintf(text, sizeof text,
			 "service '%s': domain %u has its limit of %u channels",
			 m->service, (unsigned)s->domid, ps->max_channels);
		log_denied(s, text);
		send_result(s, m->req_id, -EUSERS, text);
		return;
	}
	/* Each pending open holds a channel and, for the ends vmsgd serves,
	 * event channels, grants and xenstore keys until it times out: a
	 * guest opening many services at once, or one whose provider does
	 * not answer, is bounded across services too. */
	uint32_t pending = guest_pending_opens(d, s->domid);
	if (pending >= d->pol.limits.max_pending_opens) {
		snprintf(text, sizeof text,
			 "domain %u has %u opens in progress, its limit "
			 "(max_pending_opens_per_domain)",
			 (unsigned)s->domid, pending);
		log_denied(s, text);
		send_result(s, m->req_id, -EBUSY, text);
		return;
	}
	struct channel *c = calloc(1, sizeof *c);
	if (!c) {
		send_result(s, m->req_id, -ENOMEM, "vmsgd is out of memory");
		return;
	}
	c->id = channel_new_id(d);
	snprintf(c->service, sizeof c->service, "%s", m->service);
	c->provider = v->provider;
	c->consumer = s->domid;
	c->state = CH_PENDING;
	c->mode = br ? CHM_BRIDGE_OUT
		     : ps->mode == MODE_RELAYED ? CHM_RELAYED : CHM_DIRECT;
	c->req_id = m->req_id;
	c->max_msg = ps->max_msg;
	c->ring_size = ps->ring_size;
	c->setup_xenstore = ps->setup_xenstore;
	uint32_t wait = m->timeout_ms ? m->timeout_ms : OPEN_DEFAULT_MS;
	c->deadline_ms = vmsgd_now_ms() + (wait > OPEN_MAX_MS ? OPEN_MAX_MS
							       : wait);
	d->sops->chan_path(d, c->provider, c->id, c->path, sizeof c->path);
	c->next = d->channels;
	d->channels = c;

	uint32_t id = c->id;
	if (br) {
		/* dom0 provides it through a socket: no Serve to ask. */
		int r = bridge_open(d, c, br, text, sizeof text);
		if (r < 0)
			pending_fail(d, c, r, text);
		return;
	}
	/* Relayed: the provider serves vmsgd (domain 0), which serves the
	 * consumer in turn (relay.c). */
	if (channel_request_serve(d, c, c->mode == CHM_RELAYED ? 0
							 : c->consumer) < 0) {
		/* The reset may already have failed it. */
		c = channel_find(d, id);
		if (c)
			pending_fail(d, c, -EHOSTDOWN,
				     "the provider is not reachable");
	}
}

static void on_serve_result(struct session *s,
			    const Vmsg__Service__ServeResult *m)
{
	struct vmsgd *d = s->d;
	struct channel *c = channel_find(d, m->serve_id);
	/* The consumer left while its open was pending: if the provider
	 * could not serve, it holds nothing (else it answers our Closed). */
	if (c && c->provider == s->domid && c->state == CH_LINGER &&
	    c->mode == CHM_DIRECT && m->code != 0) {
		channel_unlink(d, c);
		return;
	}
	/* Only the provider it was asked of may answer, once. */
	if (!c || c->provider != s->domid || c->state != CH_PENDING) {
		vmsgd_log(LOG_DEBUG, "domain %u: stray serve result %u",
			  (unsigned)s->domid, m->serve_id);
		return;
	}
	if (m->code != 0) {
		char text[240], why[100];
		vmsg__text_copy(why, sizeof why, m->text);
		snprintf(text, sizeof text,
			 "service '%s': provider domain %u could not serve: %s",
			 c->service, (unsigned)c->provider, why);
		int code = (m->code < 0 && m->code >= -4095) ? m->code : -EIO;
		pending_fail(d, c, code, text);
		return;
	}
	if (c->by_msg && !(m->ring_ref != 0 && m->event_port != 0 &&
			   m->event_port <= SETUP_PORT_MAX)) {
		/* The provider's library broke the protocol: the consumer gets
		 * a clear error, not a mapping of garbage. What the provider
		 * may hold, it is told to close. */
		char text[240];
		snprintf(text, sizeof text,
			 "service '%s': provider domain %u answered setup by "
			 "message with a bad grant reference (%u) or event "
			 "port (%u)",
			 c->service, (unsigned)c->provider, m->ring_ref,
			 m->event_port);
		uint32_t id = c->id;
		pending_fail(d, c, -EPROTO, text);
		Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
		cl.channel_id = id;
		(void)send_msg(s, VMSG_TYPE_SVC_CLOSED, &cl.base);
		return;
	}
	if (c->by_msg) {
		c->prov_ref = m->ring_ref;
		c->prov_port = m->event_port;
		if (c->mode == CHM_DIRECT) {
			c->ring_ref = m->ring_ref;
			c->event_port = m->event_port;
		}
	}
	if (c->mode == CHM_BRIDGE_IN) {
		bridge_served(d, c);
		return;
	}
	if (c->mode == CHM_RELAYED) {
		char why[200];
		int r = relay_start(d, c, why, sizeof why);
		if (r < 0) {
			pending_fail(d, c, r, why);
			return;
		}
		channel_opened(d, c, 0, c->relay_path);
		return;
	}
	channel_opened(d, c, c->provider, c->path);
}

void channel_opened(struct vmsgd *d, struct channel *c, uint16_t at_domid,
		    const char *path)
{
	struct session *cs = session_find(d, c->consumer);
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
	struct session *ps = session_find(d, c->provider);
	op.provider_uid = ps ? ps->uid : 0;
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
	if (send_msg(cs, VMSG_TYPE_SVC_OPENED, &op.base) < 0) {
		c = channel_find(d, id);
		if (c)
			channel_unlink(d, c);
	}
}

static void on_closed(struct session *s, const Vmsg__Service__Closed *m)
{
	struct channel *c = channel_find(s->d, m->channel_id);
	if (!c || (c->provider != s->domid && c->consumer != s->domid) ||
	    c->state == CH_PENDING)
		return;
	if (c->mode != CHM_DIRECT) {
		/* vmsgd holds an end: it sees the close on the channel itself,
		 * after everything sent before it has been passed on. A
		 * bridge's socket then gets a bounded time for the rest. */
		vmsgd_log(LOG_DEBUG, "channel %u: domain %u says it closed",
			  c->id, (unsigned)s->domid);
		if (c->bconn && c->state == CH_OPEN)
			bridge_guest_closed(c);
		return;
	}
	if (c->provider == s->domid) {
		/* The provider's end is gone: nothing is held any more. */
		vmsgd_log(LOG_INFO, "channel %u of '%s' closed by domain %u "
				    "(provider)",
			  c->id, c->service, (unsigned)s->domid);
		channel_unlink(s->d, c);
		return;
	}
	if (c->state == CH_LINGER)
		return;
	vmsgd_log(LOG_INFO, "channel %u of '%s' closed by domain %u", c->id,
		  c->service, (unsigned)s->domid);
	direct_linger(s->d, c);
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

static void send_hello(struct session *s)
{
	Vmsg__Control__Hello h = VMSG__CONTROL__HELLO__INIT;
	h.version = VMSG_PROTO_VERSION;
	h.features = VMSG_FEATURES_SUPPORTED | VMSG_FEATURE_SVC_SETUP_MSG;
	h.max_msg = CTL_MSG_MAX;
	h.name = (char *)"vmsgd";
	int r = vmsg_proto_send(s->chan, VMSG_TYPE_HELLO, &h.base, 0, 0);
	if (r < 0)
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
	s->state = SESS_READY;
	s->connects++;
	vmsgd_log(LOG_INFO, "domain %u: connected ('%s')", (unsigned)s->domid,
		  s->peer_name);
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
		vmsgd_log(LOG_WARN, "domain %u: %s%s dropped%s",
			  (unsigned)s->domid, what, t, more);
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
		vmsgd_log(LOG_WARN, "domain %u: rate limited (%llu requests "
				    "refused so far)",
			  (unsigned)s->domid, (unsigned long long)s->rl.limited);
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
		vmsgd_log(LOG_INFO, "domain %u: disconnected",
			  (unsigned)s->domid);
	else
		vmsgd_log(LOG_WARN, "domain %u: resetting its control channel: "
				    "%s",
			  (unsigned)s->domid,
			  why == -EPROTO ? "it broke the channel protocol"
					 : vmsg_strerror(why));
	if (why != -EPIPE)
		backoff_note(s);
	s->state = SESS_WAITING;
	drop_domain_state(s->d, s->domid, why == -EPIPE);
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
		vmsgd_log(LOG_WARN, "domain %u: reset %u times in a row: its "
				    "next control channel in %llu ms (back-off)%s",
			  (unsigned)s->domid, n + 1, (unsigned long long)ms,
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
				  "domain %u: control channel served again",
				  (unsigned)s->domid);
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
		vmsgd_log(LOG_ERROR, "domain %u: control channel lost; "
				     "serving it again from the tick",
			  (unsigned)s->domid);
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
		free(s);
		/* A domain re-created under this id while its predecessor's
		 * session was closing was seen then (its @introduceDomain
		 * came) but not served, the id being taken: look again now
		 * that it is free. (The simulator reuses a domid at once;
		 * Xen does so only after the id space wraps.) */
		if (!d->stopping && !d->pol.host)
			xs_rescan(d);
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
	vmsgd_log(LOG_WARN, "domain %u: resetting its control channel: %s",
		  (unsigned)s->domid, why);
	s->resets++;
	backoff_note(s);
	s->state = SESS_WAITING;
	drop_domain_state(s->d, s->domid, false);
	session_after(s);
}

void session_gone(struct vmsgd *d, uint16_t domid)
{
	struct session *s = session_find(d, domid);
	if (!s || s->dying)
		return;
	if (!d->stopping)
		vmsgd_log(LOG_INFO, "domain %u: gone", (unsigned)domid);
	(void)d->sops->mark(s, false); /* with what is left inside */
	s->dying = true;
	s->state = SESS_WAITING;
	drop_domain_state(d, domid, true);
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

void session_close_all(struct vmsgd *d)
{
	/* In order: first every pending open is answered, then each
	 * domain's channel is closed (the guest sees an orderly -EPIPE). */
	for (;;) {
		struct channel *c = d->channels;
		while (c && c->state != CH_PENDING)
			c = c->next;
		if (!c)
			break;
		pending_fail(d, c, -ESHUTDOWN, "vmsgd is stopping");
	}
	/* Then the channels vmsgd holds ends of, each closed in order (what
	 * it passed on stays readable), the bridges' listeners, and then
	 * the control channels. */
	relays_close_all(d);
	bridges_stop(d);
	struct session *s = d->sessions;
	while (s) {
		struct session *next = s->next;
		session_gone(d, s->domid);
		s = next;
	}
}

void sessions_tick(struct vmsgd *d)
{
	uint64_t now = vmsgd_now_ms();
	const uint32_t partial_ms = d->pol.limits.partial_message_ms;
	sessions_serve_due(d);
	/* Host mode: a client that never came to its control channel
	 * (session_gone frees it later, from its close callback). */
	for (struct session *s = d->sessions; s && d->pol.host && !d->stopping;
	     s = s->next) {
		if (s->state == SESS_WAITING && !s->dying && s->polling &&
		    now - s->born_ms > HOST_CONNECT_MS) {
			vmsgd_log(LOG_INFO, "domain %u: never connected to its "
					    "control channel (pid %d)",
				  (unsigned)s->domid, s->pid);
			session_gone(d, s->domid);
		}
	}
	/* A message left incomplete on a control channel holds up the
	 * guest's requests behind it and (up to 4096 bytes) vmsgd's memory;
	 * the guest's library never does that. */
	for (struct session *s = d->sessions; s; s = s->next) {
		if (!s->polling ||
		    !partial_expired(&s->partial, s->chan, partial_ms, now))
			continue;
		char why[96];
		snprintf(why, sizeof why, "a message stayed incomplete for %u "
					  "ms (partial_message_ms)",
			 partial_ms);
		session_reset(s, why);
	}
	bridges_tick(d);
	for (struct channel *c = d->channels, *next; c; c = next) {
		next = c->next;
		if (c->relay && relay_tick(c, now)) {
			char why[96];
			snprintf(why, sizeof why, "a message stayed incomplete "
						  "for %u ms "
						  "(partial_message_ms)",
				 partial_ms);
			channel_end(d, c, why);
			next = d->channels;
			continue;
		}
		if (now < c->deadline_ms)
			continue;
		if (c->state == CH_LINGER) {
			/* A bridge's linger ends on its own timer. */
			if (c->mode == CHM_DIRECT) {
				vmsgd_log(LOG_INFO, "channel %u of '%s': "
						    "domain %u never said it "
						    "closed its end",
					  c->id, c->service,
					  (unsigned)c->provider);
				channel_unlink(d, c);
			}
			continue;
		}
		if (c->state == CH_OPEN) {
			if ((c->mode == CHM_RELAYED && relay_waiting(c)) ||
			    (c->mode == CHM_BRIDGE_OUT && bridge_waiting(c))) {
				channel_end(d, c, "the consumer never connected");
				next = d->channels;
			}
			continue;
		}
		char text[160];
		snprintf(text, sizeof text,
			 "service '%s': provider domain %u did not answer",
			 c->service, (unsigned)c->provider);
		pending_fail(d, c, -ETIMEDOUT, text);
		/* the list may have changed under us */
		next = d->channels;
	}
}
