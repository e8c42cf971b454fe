/* The vmsgctl socket: a UNIX stream socket, mode 0600, peers checked with
 * SO_PEERCRED (root or vmsgd's own user). One request line per connection
 * ("list services json\n"); the answer is "ok\n" or "error: TEXT\n", then
 * the body (a table, or one JSON document), then vmsgd closes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmsg_json.h"
#include "broker.h"

#define REQ_MAX 256

struct client {
	uv_pipe_t pipe;
	struct vmsgd *d;
	char req[REQ_MAX];
	size_t len;
	bool answered;
	uv_write_t wr;
	char *out;
};

/* A connection we have no memory for is still served, from this one
 * static client, with oom_answer: one left in the backlog would stop
 * libuv from accepting any other (it waits for uv_accept), and every
 * later vmsgctl would hang; one accepted and closed at once, before its
 * request is read, would reach vmsgctl as a reset, not as our answer.
 * While it is in use, a second one is left waiting (as before). */
static struct client spare;
static bool spare_busy;

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom; /* a piece could not be added: the answer is incomplete */
};

/* What a client gets when its answer cannot be built (no allocation). */
static const char oom_answer[] = "error: out of memory\n";

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0,
				  fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *np = realloc(b->p, cap);
		if (!np) {
			/* Never an answer with a piece missing: the whole
			 * answer becomes oom_answer (on_read). */
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static const char *sess_state(const struct session *s)
{
	return s->state == SESS_READY	 ? "connected"
	       : s->state == SESS_HELLO	 ? "greeting"
	       : session_backing_off(s) ? "backoff"
					 : "waiting";
}

/* ---- JSON ----------------------------------------------------------------
 * Every JSON answer is built with jansson (common/vmsg_json.h), so that no
 * string can change the document's shape: a guest's Hello name (sanitised
 * to printable ASCII, but '"' and '\' are printable), a socket path from
 * the policy or the config file's own path all pass through json_string().
 * Allocation failures make the whole answer an error. */

/* Print `root` (consumed) as one compact line after "ok\n", or an error
 * if it could not be built. */
static void json_answer(struct sbuf *b, json_t *root, bool ok)
{
	const size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII;
	char *text = ok && root ? json_dumps(root, flags) : NULL;
	json_decref(root);
	if (!text) {
		sb_printf(b, "error: out of memory\n");
		return;
	}
	sb_printf(b, "ok\n%s\n", text);
	free(text);
}

static void count_domain(struct vmsgd *d, const struct session *s,
			 unsigned *offers, unsigned *chans)
{
	*offers = *chans = 0;
	for (const struct service *v = broker_services(d); v; v = v->next)
		*offers += v->prov_sess == s->num;
	for (struct channel *c = broker_channels(d); c; c = c->next)
		*chans += c->prov_sess == s->num || c->cons_sess == s->num;
}

static void list_domains(struct vmsgd *d, struct sbuf *b)
{
	/* Host mode: each client is a process; say whose (its number
	 * stands where a domid would). */
	bool host = d->pol.host;
	if (host)
		sb_printf(b, "ok\n%-6s %-10s %-8s %-8s %-10s %-10s %-16s %-8s "
			     "%s\n",
			  "DOMID", "STATE", "OFFERS", "CHANNELS", "QUEUED",
			  "WAITING", "USER", "PID", "CLIENT");
	else
		sb_printf(b, "ok\n%-6s %-10s %-8s %-8s %-10s %-10s %s\n",
			  "DOMID", "STATE", "OFFERS", "CHANNELS", "QUEUED",
			  "WAITING", "CLIENT");
	for (struct session *s = d->sessions; s; s = s->next) {
		if (s->dying)
			continue;
		unsigned offers, chans;
		count_domain(d, s, &offers, &chans);
		unsigned long long q = guest_queued(d, s->domid, GUEST_WRITES),
				   w = guest_queued(d, s->domid, GUEST_READS);
		if (host)
			sb_printf(b, "%-6u %-10s %-8u %-8u %-10llu %-10llu %-16s "
				     "%-8d %s\n",
				  (unsigned)s->domid, sess_state(s), offers,
				  chans, q, w, s->user, s->pid,
				  s->state == SESS_READY ? s->peer_name : "-");
		else
			sb_printf(b, "%-6u %-10s %-8u %-8u %-10llu %-10llu %s\n",
				  (unsigned)s->domid, sess_state(s), offers,
				  chans, q, w,
				  s->state == SESS_READY ? s->peer_name : "-");
	}
}

static void list_domains_json(struct vmsgd *d, struct sbuf *b)
{
	json_t *root = json_object(), *arr = json_array();
	bool ok = root && vmsg__json_set(root, "domains", json_incref(arr));
	for (struct session *s = d->sessions; ok && s; s = s->next) {
		if (s->dying)
			continue;
		unsigned offers, chans;
		count_domain(d, s, &offers, &chans);
		json_t *o = json_object();
		/* The Hello name is the guest's word: a string, never
		 * anything else. */
		ok = vmsg__json_push(arr, json_incref(o)) &&
		     vmsg__json_set(o, "domid", vmsg__json_uint(s->domid)) &&
		     vmsg__json_set(o, "state",
				    vmsg__json_str(sess_state(s))) &&
		     vmsg__json_set(o, "offers", vmsg__json_uint(offers)) &&
		     vmsg__json_set(o, "channels", vmsg__json_uint(chans)) &&
		     vmsg__json_set(o, "queued_bytes",
				    vmsg__json_uint(guest_queued(
					    d, s->domid, GUEST_WRITES))) &&
		     vmsg__json_set(o, "waiting_bytes",
				    vmsg__json_uint(guest_queued(
					    d, s->domid, GUEST_READS))) &&
		     vmsg__json_set(o, "pending_opens",
				    vmsg__json_uint(
					    broker_pending_opens(d, s->domid))) &&
		     vmsg__json_set(o, "client",
				    vmsg__json_str(s->state == SESS_READY
							   ? s->peer_name
							   : "")) &&
		     /* A domain's control channels, one per process: the
		      * session's number tells them apart. */
		     vmsg__json_set(o, "session", vmsg__json_uint(s->num));
		/* Host mode: the kernel's word on who the client is. */
		if (ok && d->pol.host)
			ok = vmsg__json_set(o, "uid", vmsg__json_uint(s->uid)) &&
			     vmsg__json_set(o, "pid",
					    vmsg__json_uint((unsigned)s->pid)) &&
			     vmsg__json_set(o, "user", vmsg__json_str(s->user));
		json_decref(o);
	}
	json_decref(arr);
	json_answer(b, root, ok);
}

static const char *mode_name(const struct vmsgd *d, const char *service)
{
	const struct policy_service *ps = policy_find(&d->pol, service);
	if (policy_bridge_connect(&d->pol, service))
		return "bridge";
	return ps && ps->mode == MODE_RELAYED ? "relayed" : "direct";
}

/* A bridge's address as vmsgctl shows it: a listen bridge's bound one. */
static const char *bridge_addr(struct vmsgd *d, const struct policy_bridge *br)
{
	if (br->listen && bridge_bound(d, br->name))
		return bridge_bound(d, br->name);
	return br->addr;
}

/* The bridges of a service: "listen NAME ADDR, ..." */
static void bridges_of(struct vmsgd *d, const char *service, struct sbuf *b)
{
	bool first = true;
	for (size_t i = 0; i < d->pol.nbr; i++) {
		const struct policy_bridge *br = &d->pol.br[i];
		if (strcmp(br->service, service))
			continue;
		sb_printf(b, "%s%s %s %s", first ? "" : ", ",
			  br->listen ? "listen" : "connect", br->name,
			  bridge_addr(d, br));
		first = false;
	}
	if (first)
		sb_printf(b, "-");
}

/* The same as an array of {"name", "listen"|"connect": ADDR}. */
static json_t *bridges_json(struct vmsgd *d, const char *service)
{
	json_t *arr = json_array();
	bool ok = arr != NULL;
	for (size_t i = 0; ok && i < d->pol.nbr; i++) {
		const struct policy_bridge *br = &d->pol.br[i];
		if (strcmp(br->service, service))
			continue;
		json_t *o = json_object();
		ok = vmsg__json_push(arr, json_incref(o)) &&
		     vmsg__json_set(o, "name", vmsg__json_str(br->name)) &&
		     vmsg__json_set(o, br->listen ? "listen" : "connect",
				    vmsg__json_str(bridge_addr(d, br)));
		json_decref(o);
	}
	if (!ok) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* Listen bridges whose service nobody offers now are listed too: is the
 * policy's bridge i the first of such a service? */
static bool unoffered_bridge(struct vmsgd *d, size_t i)
{
	const struct policy_bridge *br = &d->pol.br[i];
	for (const struct service *v = broker_services(d); v; v = v->next)
		if (!strcmp(v->name, br->service))
			return false;
	for (size_t j = 0; j < i; j++)
		if (!strcmp(d->pol.br[j].service, br->service))
			return false;
	return true;
}

static unsigned service_chans(struct vmsgd *d, const char *name)
{
	unsigned n = 0;
	for (struct channel *c = broker_channels(d); c; c = c->next)
		n += !strcmp(c->service, name);
	return n;
}

static void list_services(struct vmsgd *d, struct sbuf *b)
{
	sb_printf(b, "ok\n%-24s %-8s %-8s %-8s %s\n", "SERVICE", "PROVIDER",
		  "MODE", "CHANNELS", "BRIDGES");
	for (const struct service *v = broker_services(d); v; v = v->next) {
		sb_printf(b, "%-24s %-8u %-8s %-8u ", v->name,
			  (unsigned)v->provider, mode_name(d, v->name),
			  service_chans(d, v->name));
		bridges_of(d, v->name, b);
		sb_printf(b, "\n");
	}
	for (size_t i = 0; i < d->pol.nbr; i++) {
		const struct policy_bridge *br = &d->pol.br[i];
		if (!unoffered_bridge(d, i))
			continue;
		sb_printf(b, "%-24s %-8s %-8s %-8u ", br->service, "-",
			  mode_name(d, br->service), 0u);
		bridges_of(d, br->service, b);
		sb_printf(b, "\n");
	}
}

/* One service object; provider < 0: nobody offers it (null). */
/* provider -1: a listen bridge's service nobody offers (v NULL). */
static bool service_json(struct vmsgd *d, json_t *arr, const char *name,
			 int provider, const struct service *v)
{
	json_t *o = json_object();
	json_t *prov = provider < 0 ? json_null()
				    : vmsg__json_uint((unsigned)provider);
	unsigned chans = provider < 0 ? 0 : service_chans(d, name);
	bool ok = vmsg__json_push(arr, json_incref(o)) &&
		  vmsg__json_set(o, "name", vmsg__json_str(name)) &&
		  vmsg__json_set(o, "provider", json_incref(prov)) &&
		  vmsg__json_set(o, "mode", vmsg__json_str(mode_name(d, name))) &&
		  vmsg__json_set(o, "channels", vmsg__json_uint(chans)) &&
		  vmsg__json_set(o, "bridges", bridges_json(d, name)) &&
		  vmsg__json_set(o, "spare_opens",
				 vmsg__json_uint(v ? v->spare_opens : 0));
	json_decref(prov);
	json_decref(o);
	return ok;
}

static void list_services_json(struct vmsgd *d, struct sbuf *b)
{
	json_t *root = json_object(), *arr = json_array();
	bool ok = root && vmsg__json_set(root, "services", json_incref(arr));
	for (const struct service *v = broker_services(d); ok && v; v = v->next)
		ok = service_json(d, arr, v->name, v->provider, v);
	for (size_t i = 0; ok && i < d->pol.nbr; i++)
		if (unoffered_bridge(d, i))
			ok = service_json(d, arr, d->pol.br[i].service, -1,
					  NULL);
	json_decref(arr);
	json_answer(b, root, ok);
}

static const char *chan_state(const struct channel *c)
{
	return c->state == CH_OPEN     ? "open"
	       : c->state == CH_LINGER ? "lingering"
	       : c->state == CH_SPARE  ? (spare_served(c) ? "spare"
						      : "spare-asked")
				       : "pending";
}

static void list_channels(struct vmsgd *d, struct sbuf *b)
{
	sb_printf(b,
		  "ok\n%-10s %-16s %-4s %-4s %-9s %-10s %-18s %-18s %-9s "
		  "%-13s %s\n",
		  "ID", "SERVICE", "PROV", "CONS", "STATE", "MODE",
		  "TO-PROV B/MSGS", "TO-CONS B/MSGS", "STALLS",
		  "KICKS SENT/SUP", "PATH");
	for (struct channel *c = broker_channels(d); c; c = c->next) {
		struct chan_counters k;
		char tp[40] = "-", tc[40] = "-", stl[40] = "-", ks[40] = "-";
		if (broker_counters(c, &k)) {
			snprintf(tp, sizeof tp, "%llu/%llu",
				 (unsigned long long)k.c2p_bytes,
				 (unsigned long long)k.c2p_msgs);
			snprintf(tc, sizeof tc, "%llu/%llu",
				 (unsigned long long)k.p2c_bytes,
				 (unsigned long long)k.p2c_msgs);
			snprintf(stl, sizeof stl, "%llu/%llu",
				 (unsigned long long)k.c2p_stalls,
				 (unsigned long long)k.p2c_stalls);
			snprintf(ks, sizeof ks, "%llu/%llu",
				 (unsigned long long)k.kicks_sent,
				 (unsigned long long)k.kicks_suppressed);
		}
		sb_printf(b,
			  "%-10u %-16s %-4u %-4u %-9s %-10s %-18s %-18s "
			  "%-9s %-13s %s\n",
			  c->id, c->service, (unsigned)c->provider,
			  (unsigned)c->consumer,
			  chan_state(c), c->tp->name, tp, tc, stl, ks,
			  c->tp->shows_relay_path ? c->relay_path
			  : c->sock[0]		 ? c->sock
						 : c->path);
	}
}

static json_t *counters_json(const struct chan_counters *k)
{
	json_t *o = json_object();
	bool ok = o &&
		  vmsg__json_set(o, "to_provider_bytes",
				 vmsg__json_uint(k->c2p_bytes)) &&
		  vmsg__json_set(o, "to_provider_msgs",
				 vmsg__json_uint(k->c2p_msgs)) &&
		  vmsg__json_set(o, "to_consumer_bytes",
				 vmsg__json_uint(k->p2c_bytes)) &&
		  vmsg__json_set(o, "to_consumer_msgs",
				 vmsg__json_uint(k->p2c_msgs)) &&
		  vmsg__json_set(o, "to_provider_stalls",
				 vmsg__json_uint(k->c2p_stalls)) &&
		  vmsg__json_set(o, "to_consumer_stalls",
				 vmsg__json_uint(k->p2c_stalls)) &&
		  vmsg__json_set(o, "kicks_sent",
				 vmsg__json_uint(k->kicks_sent)) &&
		  vmsg__json_set(o, "kicks_suppressed",
				 vmsg__json_uint(k->kicks_suppressed));
	if (ok && k->has_sock)
		ok = vmsg__json_set(o, "socket_rx_bytes",
				    vmsg__json_uint(k->sock_rx_bytes)) &&
		     vmsg__json_set(o, "socket_tx_bytes",
				    vmsg__json_uint(k->sock_tx_bytes));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool channel_json(json_t *arr, const struct channel *c)
{
	json_t *o = json_object();
	bool ok =
		vmsg__json_push(arr, json_incref(o)) &&
		vmsg__json_set(o, "id", vmsg__json_uint(c->id)) &&
		vmsg__json_set(o, "service", vmsg__json_str(c->service)) &&
		vmsg__json_set(o, "provider", vmsg__json_uint(c->provider)) &&
		vmsg__json_set(o, "consumer", vmsg__json_uint(c->consumer)) &&
		vmsg__json_set(o, "state", vmsg__json_str(chan_state(c))) &&
		vmsg__json_set(o, "mode", vmsg__json_str(c->tp->name)) &&
		vmsg__json_set(o, "path", vmsg__json_str(c->path));
	if (ok && c->tp->shows_relay_path)
		ok = vmsg__json_set(o, "relay_path",
				    vmsg__json_str(c->relay_path));
	if (ok && c->tp->shows_bridge)
		ok = vmsg__json_set(o, "bridge", vmsg__json_str(c->bridge)) &&
		     vmsg__json_set(o, "socket", vmsg__json_str(c->sock));
	struct chan_counters k;
	if (ok)
		ok = vmsg__json_set(o, "counters",
				    broker_counters(c, &k) ? counters_json(&k)
						       : json_null());
	json_decref(o);
	return ok;
}

static void list_channels_json(struct vmsgd *d, struct sbuf *b)
{
	json_t *root = json_object(), *arr = json_array();
	bool ok = root && vmsg__json_set(root, "channels", json_incref(arr));
	for (struct channel *c = broker_channels(d); ok && c; c = c->next)
		ok = channel_json(arr, c);
	json_decref(arr);
	json_answer(b, root, ok);
}

static const char *svc_mode(const struct policy_service *s)
{
	return s->mode == MODE_RELAYED ? "relayed" : "direct";
}

static void show_policy(struct vmsgd *d, struct sbuf *b)
{
	const struct policy *p = &d->pol;
	const struct rl_limits *l = &p->limits;
	sb_printf(b,
		  "ok\nconfig %s\nlog_level %s\nbridge_flush_ms %u\n"
		  "requests_per_s %u\nrequests_burst %u\nabuse_per_s %u\n"
		  "abuse_burst %u\nlog_per_s %u\nlog_burst %u\n"
		  "messages_per_wakeup %u\nmax_queued_bytes_per_domain %u\n"
		  "max_pending_opens_per_domain %u\npartial_message_ms %u\n"
		  "reset_backoff_ms %u\nreset_backoff_max_ms %u\n"
		  "max_sessions_per_domain %u\nmax_clients_per_user %u\n"
		  "max_host_clients %u\n\n%-24s "
		  "%-16s %-16s %-6s %-8s %-10s %s\n",
		  d->config, vmsgd_log_level_name(vmsgd_log_level),
		  p->bridge_flush_ms, l->requests_per_s, l->requests_burst,
		  l->abuse_per_s, l->abuse_burst, l->log_per_s, l->log_burst,
		  l->messages_per_wakeup, l->max_queued_bytes,
		  l->max_pending_opens, l->partial_message_ms,
		  l->reset_backoff_ms, l->reset_backoff_max_ms,
		  l->max_sessions, l->max_clients_per_user,
		  l->max_host_clients, "SERVICE",
		  "OFFER", "OPEN", "MODE",
		  "MAXCHAN", "RING", "MAX_MSG");
	/* Host mode: the lists name users (names where the uid has one). */
	if (p->host)
		sb_printf(b, "(backend host, host_dir %s: OFFER and OPEN name "
			     "users)\n",
			  d->host_dir);
	for (size_t i = 0; i < p->nsvc; i++) {
		const struct policy_service *s = &p->svc[i];
		char off[128], opn[128];
		policy_domlist_str(&s->offer, off, sizeof off);
		policy_domlist_str(&s->open, opn, sizeof opn);
		sb_printf(b, "%-24s %-16s %-16s %-6s %-8u %-10u %llu\n",
			  s->name, off, opn, svc_mode(s), s->max_channels,
			  s->ring_size, (unsigned long long)s->max_msg);
	}
	if (p->nbr)
		sb_printf(b, "\n%-24s %-24s %-8s %s\n", "BRIDGE", "SERVICE",
			  "KIND", "ADDRESS");
	for (size_t i = 0; i < p->nbr; i++) {
		const struct policy_bridge *br = &p->br[i];
		char mt[32] = "";
		if (br->seqpacket)
			snprintf(mt, sizeof mt, " msg_type %u",
				 (unsigned)br->msg_type);
		sb_printf(b, "%-24s %-24s %-8s %s%s\n", br->name, br->service,
			  br->listen ? "listen" : "connect", br->addr, mt);
	}
}

static void show_policy_json(struct vmsgd *d, struct sbuf *b)
{
	const struct policy *p = &d->pol;
	json_t *root = json_object(), *svcs = json_array(), *brs = json_array();
	bool ok = root &&
		  vmsg__json_set(root, "config", vmsg__json_str(d->config)) &&
		  vmsg__json_set(root, "log_level",
				 vmsg__json_str(vmsgd_log_level_name(
					 vmsgd_log_level))) &&
		  vmsg__json_set(root, "bridge_flush_ms",
				 vmsg__json_uint(p->bridge_flush_ms)) &&
		  vmsg__json_set(root, "requests_per_s",
				 vmsg__json_uint(p->limits.requests_per_s)) &&
		  vmsg__json_set(root, "requests_burst",
				 vmsg__json_uint(p->limits.requests_burst)) &&
		  vmsg__json_set(root, "abuse_per_s",
				 vmsg__json_uint(p->limits.abuse_per_s)) &&
		  vmsg__json_set(root, "abuse_burst",
				 vmsg__json_uint(p->limits.abuse_burst)) &&
		  vmsg__json_set(root, "log_per_s",
				 vmsg__json_uint(p->limits.log_per_s)) &&
		  vmsg__json_set(root, "log_burst",
				 vmsg__json_uint(p->limits.log_burst)) &&
		  vmsg__json_set(root, "messages_per_wakeup",
				 vmsg__json_uint(p->limits.messages_per_wakeup)) &&
		  vmsg__json_set(root, "max_queued_bytes_per_domain",
				 vmsg__json_uint(p->limits.max_queued_bytes)) &&
		  vmsg__json_set(root, "max_pending_opens_per_domain",
				 vmsg__json_uint(p->limits.max_pending_opens)) &&
		  vmsg__json_set(root, "partial_message_ms",
				 vmsg__json_uint(p->limits.partial_message_ms)) &&
		  vmsg__json_set(root, "reset_backoff_ms",
				 vmsg__json_uint(p->limits.reset_backoff_ms)) &&
		  vmsg__json_set(root, "reset_backoff_max_ms",
				 vmsg__json_uint(
					 p->limits.reset_backoff_max_ms)) &&
		  vmsg__json_set(root, "max_sessions_per_domain",
				 vmsg__json_uint(p->limits.max_sessions)) &&
		  vmsg__json_set(root, "max_clients_per_user",
				 vmsg__json_uint(
					 p->limits.max_clients_per_user)) &&
		  vmsg__json_set(root, "max_host_clients",
				 vmsg__json_uint(p->limits.max_host_clients)) &&
		  vmsg__json_set(root, "backend",
				 vmsg__json_str(p->host ? "host" : "xen")) &&
		  (!p->host || vmsg__json_set(root, "host_dir",
					      vmsg__json_str(d->host_dir))) &&
		  vmsg__json_set(root, "services", json_incref(svcs)) &&
		  vmsg__json_set(root, "bridges", json_incref(brs));
	for (size_t i = 0; ok && i < p->nsvc; i++) {
		const struct policy_service *s = &p->svc[i];
		char off[128], opn[128];
		policy_domlist_str(&s->offer, off, sizeof off);
		policy_domlist_str(&s->open, opn, sizeof opn);
		json_t *o = json_object();
		ok = vmsg__json_push(svcs, json_incref(o)) &&
		     vmsg__json_set(o, "name", vmsg__json_str(s->name)) &&
		     vmsg__json_set(o, "offer", vmsg__json_str(off)) &&
		     vmsg__json_set(o, "open", vmsg__json_str(opn)) &&
		     vmsg__json_set(o, "mode", vmsg__json_str(svc_mode(s))) &&
		     vmsg__json_set(o, "max_channels_per_domain",
				    vmsg__json_uint(s->max_channels)) &&
		     vmsg__json_set(o, "ring_size",
				    vmsg__json_uint(s->ring_size)) &&
		     vmsg__json_set(o, "max_msg",
				    vmsg__json_uint(s->max_msg)) &&
		     vmsg__json_set(o, "setup",
				    vmsg__json_str(s->setup_xenstore
							   ? "xenstore"
							   : "message")) &&
		     vmsg__json_set(o, "spare",
				    vmsg__json_str(s->spare == SPARE_YES  ? "yes"
						   : s->spare == SPARE_NO ? "no"
									  : "auto"));
		json_decref(o);
	}
	for (size_t i = 0; ok && i < p->nbr; i++) {
		const struct policy_bridge *br = &p->br[i];
		json_t *o = json_object();
		ok = vmsg__json_push(brs, json_incref(o)) &&
		     vmsg__json_set(o, "name", vmsg__json_str(br->name)) &&
		     vmsg__json_set(o, "service",
				    vmsg__json_str(br->service)) &&
		     vmsg__json_set(o, br->listen ? "listen" : "connect",
				    vmsg__json_str(br->addr)) &&
		     (!br->seqpacket ||
		      vmsg__json_set(o, "msg_type",
				     vmsg__json_uint(br->msg_type)));
		json_decref(o);
	}
	json_decref(svcs);
	json_decref(brs);
	json_answer(b, root, ok);
}

static void answer(struct client *c, struct sbuf *b)
{
	struct vmsgd *d = c->d;
	char *words[4] = {0};
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(c->req, " \t\r", &save); t && n < 4;
	     t = strtok_r(NULL, " \t\r", &save))
		words[n++] = t;
	bool json = n > 0 && !strcmp(words[n - 1], "json");
	if (json)
		n--;
	if (n == 2 && !strcmp(words[0], "list")) {
		if (!strcmp(words[1], "domains")) {
			/* The tests' check: the queued bytes shown are what
			 * the channels hold (bounds.c). */
			if (d->check_queued)
				guests_check(d);
			(json ? list_domains_json : list_domains)(d, b);
		} else if (!strcmp(words[1], "services"))
			(json ? list_services_json : list_services)(d, b);
		else if (!strcmp(words[1], "channels"))
			(json ? list_channels_json : list_channels)(d, b);
		else
			sb_printf(b, "error: list what? domains, services "
				     "or channels\n");
		return;
	}
	if (n == 1 && !strcmp(words[0], "policy")) {
		(json ? show_policy_json : show_policy)(d, b);
		return;
	}
	if (n == 1 && !strcmp(words[0], "reload")) {
		char err[512];
		if (vmsgd_reload(d, err, sizeof err) < 0)
			sb_printf(b, "error: %s\n", err);
		else
			sb_printf(b, "ok\n");
		return;
	}
	sb_printf(b, "error: unknown request '%s'\n", n ? words[0] : "");
}

static void on_client_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	free(c->out);
	if (c == &spare)
		spare_busy = false;
	else
		free(c);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	struct client *c = w->data;
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct client *c = h->data;
	buf->base = c->req + c->len;
	buf->len = sizeof c->req - 1 - c->len;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct client *c = st->data;
	if (c->answered)
		return;
	if (n < 0) {
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	char *nl = strchr(c->req, '\n');
	if (!nl && c->len < sizeof c->req - 1)
		return;
	if (nl)
		*nl = '\0';
	c->answered = true;
	uv_read_stop(st);
	struct sbuf b = {0};
	if (c == &spare)
		b.oom = true; /* no memory for it: no answer but oom_answer */
	else if (!nl)
		sb_printf(&b, "error: request too long\n");
	else
		answer(c, &b);
	uv_buf_t out;
	if (b.oom || !b.p) {
		vmsgd_log(LOG_WARN, "vmsgctl: cannot build the answer: out of "
				    "memory");
		free(b.p);
		out = uv_buf_init((char *)oom_answer, sizeof oom_answer - 1);
	} else {
		c->out = b.p;
		out = uv_buf_init(b.p, (unsigned)b.len);
	}
	c->wr.data = c;
	if (uv_write(&c->wr, st, &out, 1, on_written) < 0)
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct vmsgd *d = server->data;
	if (status < 0)
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		vmsgd_log(LOG_WARN, "vmsgctl: a client: out of memory%s",
			  spare_busy ? "; left waiting" : "");
		if (spare_busy)
			return;
		spare_busy = true;
		c = &spare;
		memset(c, 0, sizeof *c);
	}
	c->d = d;
	uv_pipe_init(d->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	/* The socket's mode already keeps others out; check anyway. */
	uv_os_fd_t fd;
	struct ucred cr;
	socklen_t len = sizeof cr;
	int r = uv_fileno((uv_handle_t *)&c->pipe, &fd);
	if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		r = -errno;
	if (r < 0) {
		/* No credentials, no answer (and no uid to log). */
		vmsgd_log(LOG_WARN, "vmsgctl: refused a peer: cannot read its "
				    "credentials (%s)",
			  strerror(-r));
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	if (cr.uid != 0 && cr.uid != geteuid()) {
		vmsgd_log(LOG_WARN, "vmsgctl: refused a peer (uid %u)",
			  (unsigned)cr.uid);
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int ctlsock_start(struct vmsgd *d)
{
	snprintf(d->ctl_path, sizeof d->ctl_path, "%s",
		 d->pol.control_socket);
	uv_pipe_init(d->loop, &d->ctl, 0);
	d->ctl.data = d;
	/* A stale socket of a dead vmsgd is replaced; a live one is not
	 * (connect succeeds). */
	struct stat sb;
	if (stat(d->ctl_path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof a.sun_path, "%s", d->ctl_path);
		int live = s >= 0 && connect(s, (void *)&a, sizeof a) == 0;
		if (s >= 0)
			close(s);
		if (live) {
			vmsgd_log(LOG_ERROR, "%s: another vmsgd is running",
				  d->ctl_path);
			uv_close((uv_handle_t *)&d->ctl, NULL);
			return -1;
		}
		unlink(d->ctl_path);
	}
	mode_t old = umask(0177);
	int r = uv_pipe_bind(&d->ctl, d->ctl_path);
	umask(old);
	if (r == 0)
		r = chmod(d->ctl_path, 0600) < 0 ? -errno : 0;
	if (r == 0)
		r = uv_listen((uv_stream_t *)&d->ctl, 16, on_connection);
	if (r < 0) {
		vmsgd_log(LOG_ERROR, "control socket %s: %s", d->ctl_path,
			  uv_strerror(r));
		uv_close((uv_handle_t *)&d->ctl, NULL);
		return -1;
	}
	d->ctl_open = true;
	return 0;
}

void ctlsock_stop(struct vmsgd *d)
{
	if (!d->ctl_open)
		return;
	d->ctl_open = false;
	uv_close((uv_handle_t *)&d->ctl, NULL);
	unlink(d->ctl_path);
}
