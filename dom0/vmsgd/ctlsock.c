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

#include "vmsgd.h"

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

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
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
		if (!np)
			return;
		b->p = np;
		b->cap = cap;
	}
}

static const char *sess_state(const struct session *s)
{
	return s->state == SESS_READY ? "connected"
	       : s->state == SESS_HELLO ? "greeting"
					: "waiting";
}

static void list_domains(struct vmsgd *d, struct sbuf *b, bool json)
{
	if (json)
		sb_printf(b, "{\"domains\":[");
	else
		sb_printf(b, "%-6s %-10s %-8s %-8s %s\n", "DOMID", "STATE",
			  "OFFERS", "CHANNELS", "CLIENT");
	bool first = true;
	for (struct session *s = d->sessions; s; s = s->next) {
		if (s->dying)
			continue;
		unsigned offers = 0, chans = 0;
		for (struct service *v = d->services; v; v = v->next)
			offers += v->provider == s->domid;
		for (struct channel *c = d->channels; c; c = c->next)
			chans += c->provider == s->domid ||
				 c->consumer == s->domid;
		if (json)
			sb_printf(b,
				  "%s{\"domid\":%u,\"state\":\"%s\",\"offers\":"
				  "%u,\"channels\":%u,\"client\":\"%s\"}",
				  first ? "" : ",", (unsigned)s->domid,
				  sess_state(s), offers, chans,
				  s->state == SESS_READY ? s->peer_name : "");
		else
			sb_printf(b, "%-6u %-10s %-8u %-8u %s\n",
				  (unsigned)s->domid, sess_state(s), offers,
				  chans,
				  s->state == SESS_READY ? s->peer_name : "-");
		first = false;
	}
	if (json)
		sb_printf(b, "]}\n");
}

static const char *mode_name(const struct vmsgd *d, const char *service)
{
	const struct policy_service *ps = policy_find(&d->pol, service);
	if (policy_bridge_connect(&d->pol, service))
		return "bridge";
	return ps && ps->mode == MODE_RELAYED ? "relayed" : "direct";
}

/* The bridges of a service, "listen NAME ADDR, ..." (JSON: an array of
 * objects). Addresses are checked at load (no quotes or controls in
 * them? paths may hold anything printable): escaped for JSON. */
static void sb_json_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			sb_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			sb_printf(b, "\\u%04x", ch);
		else
			sb_printf(b, "%c", ch);
	}
	sb_printf(b, "\"");
}

static void bridges_of(struct vmsgd *d, const char *service, struct sbuf *b,
		       bool json)
{
	bool first = true;
	for (size_t i = 0; i < d->pol.nbr; i++) {
		const struct policy_bridge *br = &d->pol.br[i];
		if (strcmp(br->service, service))
			continue;
		const char *addr = br->addr;
		if (br->listen && bridge_bound(d, br->name))
			addr = bridge_bound(d, br->name);
		if (json) {
			sb_printf(b, "%s{\"name\":\"%s\",\"%s\":",
				  first ? "" : ",", br->name,
				  br->listen ? "listen" : "connect");
			sb_json_str(b, addr);
			sb_printf(b, "}");
		} else {
			sb_printf(b, "%s%s %s %s", first ? "" : ", ",
				  br->listen ? "listen" : "connect", br->name,
				  addr);
		}
		first = false;
	}
	if (!json && first)
		sb_printf(b, "-");
}

static void list_services(struct vmsgd *d, struct sbuf *b, bool json)
{
	if (json)
		sb_printf(b, "{\"services\":[");
	else
		sb_printf(b, "%-24s %-8s %-8s %-8s %s\n", "SERVICE",
			  "PROVIDER", "MODE", "CHANNELS", "BRIDGES");
	bool first = true;
	for (struct service *v = d->services; v; v = v->next) {
		unsigned chans = 0;
		for (struct channel *c = d->channels; c; c = c->next)
			chans += !strcmp(c->service, v->name);
		/* Names are [A-Za-z0-9._-]: nothing to escape. */
		if (json) {
			sb_printf(b,
				  "%s{\"name\":\"%s\",\"provider\":%u,"
				  "\"mode\":\"%s\",\"channels\":%u,"
				  "\"bridges\":[",
				  first ? "" : ",", v->name,
				  (unsigned)v->provider, mode_name(d, v->name),
				  chans);
			bridges_of(d, v->name, b, true);
			sb_printf(b, "]}");
		} else {
			sb_printf(b, "%-24s %-8u %-8s %-8u ", v->name,
				  (unsigned)v->provider, mode_name(d, v->name),
				  chans);
			bridges_of(d, v->name, b, false);
			sb_printf(b, "\n");
		}
		first = false;
	}
	/* Listen bridges whose service nobody offers now. */
	for (size_t i = 0; i < d->pol.nbr; i++) {
		const struct policy_bridge *br = &d->pol.br[i];
		bool seen = false;
		for (struct service *v = d->services; v && !seen; v = v->next)
			seen = !strcmp(v->name, br->service);
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(d->pol.br[j].service, br->service);
		if (seen)
			continue;
		if (json) {
			sb_printf(b,
				  "%s{\"name\":\"%s\",\"provider\":null,"
				  "\"mode\":\"%s\",\"channels\":0,"
				  "\"bridges\":[",
				  first ? "" : ",", br->service,
				  mode_name(d, br->service));
			bridges_of(d, br->service, b, true);
			sb_printf(b, "]}");
		} else {
			sb_printf(b, "%-24s %-8s %-8s %-8u ", br->service, "-",
				  mode_name(d, br->service), 0u);
			bridges_of(d, br->service, b, false);
			sb_printf(b, "\n");
		}
		first = false;
	}
	if (json)
		sb_printf(b, "]}\n");
}

static const char *chan_mode_name(const struct channel *c)
{
	switch (c->mode) {
	case CHM_RELAYED:
		return "relayed";
	case CHM_BRIDGE_IN:
		return "bridge-in";
	case CHM_BRIDGE_OUT:
		return "bridge-out";
	default:
		return "direct";
	}
}

/* Counters of vmsgd's own ends; false for direct channels, whose data
 * never passes dom0. */
static bool counters_of(const struct channel *c, struct chan_counters *k)
{
	if (c->relay) {
		relay_counters(c, k);
		return true;
	}
	if (c->bconn) {
		bridge_counters(c, k);
		return true;
	}
	return false;
}

static void list_channels(struct vmsgd *d, struct sbuf *b, bool json)
{
	if (json)
		sb_printf(b, "{\"channels\":[");
	else
		sb_printf(b, "%-10s %-16s %-4s %-4s %-9s %-10s %-18s %-18s "
			     "%-9s %-13s %s\n",
			  "ID", "SERVICE", "PROV", "CONS", "STATE", "MODE",
			  "TO-PROV B/MSGS", "TO-CONS B/MSGS", "STALLS",
			  "KICKS SENT/SUP", "PATH");
	bool first = true;
	for (struct channel *c = d->channels; c; c = c->next) {
		const char *st = c->state == CH_OPEN	 ? "open"
				 : c->state == CH_LINGER ? "lingering"
							 : "pending";
		struct chan_counters k;
		bool has = counters_of(c, &k);
		if (json) {
			sb_printf(b,
				  "%s{\"id\":%u,\"service\":\"%s\",\"provider\":"
				  "%u,\"consumer\":%u,\"state\":\"%s\","
				  "\"mode\":\"%s\",\"path\":\"%s\"",
				  first ? "" : ",", c->id, c->service,
				  (unsigned)c->provider, (unsigned)c->consumer,
				  st, chan_mode_name(c), c->path);
			if (c->mode == CHM_RELAYED)
				sb_printf(b, ",\"relay_path\":\"%s\"",
					  c->relay_path);
			if (c->bconn || c->mode == CHM_BRIDGE_IN ||
			    c->mode == CHM_BRIDGE_OUT) {
				sb_printf(b, ",\"bridge\":\"%s\",\"socket\":",
					  c->bridge);
				sb_json_str(b, c->sock);
			}
			if (!has) {
				sb_printf(b, ",\"counters\":null}");
			} else {
				sb_printf(b,
					  ",\"counters\":{\"to_provider_bytes\":"
					  "%llu,\"to_provider_msgs\":%llu,"
					  "\"to_consumer_bytes\":%llu,"
					  "\"to_consumer_msgs\":%llu,"
					  "\"to_provider_stalls\":%llu,"
					  "\"to_consumer_stalls\":%llu,"
					  "\"kicks_sent\":%llu,"
					  "\"kicks_suppressed\":%llu",
					  (unsigned long long)k.c2p_bytes,
					  (unsigned long long)k.c2p_msgs,
					  (unsigned long long)k.p2c_bytes,
					  (unsigned long long)k.p2c_msgs,
					  (unsigned long long)k.c2p_stalls,
					  (unsigned long long)k.p2c_stalls,
					  (unsigned long long)k.kicks_sent,
					  (unsigned long long)k.kicks_suppressed);
				if (k.has_sock)
					sb_printf(b,
						  ",\"socket_rx_bytes\":%llu,"
						  "\"socket_tx_bytes\":%llu",
						  (unsigned long long)k.sock_rx_bytes,
						  (unsigned long long)k.sock_tx_bytes);
				sb_printf(b, "}}");
			}
		} else {
			char tp[40] = "-", tc[40] = "-", stl[40] = "-",
			     ks[40] = "-";
			if (has) {
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
			sb_printf(b, "%-10u %-16s %-4u %-4u %-9s %-10s %-18s "
				     "%-18s %-9s %-13s %s\n",
				  c->id, c->service, (unsigned)c->provider,
				  (unsigned)c->consumer, st, chan_mode_name(c),
				  tp, tc, stl, ks,
				  c->mode == CHM_RELAYED ? c->relay_path
				  : c->sock[0]		  ? c->sock
							  : c->path);
		}
		first = false;
	}
	if (json)
		sb_printf(b, "]}\n");
}

static void show_policy(struct vmsgd *d, struct sbuf *b, bool json)
{
	const struct policy *p = &d->pol;
	if (json)
		sb_printf(b,
			  "{\"config\":\"%s\",\"log_level\":\"%s\","
			  "\"bridge_flush_ms\":%u,\"services\":[",
			  d->config, vmsgd_log_level_name(vmsgd_log_level),
			  p->bridge_flush_ms);
	else
		sb_printf(b, "config %s\nlog_level %s\nbridge_flush_ms %u\n\n"
			     "%-24s %-16s %-16s %-6s %-8s %-10s %s\n",
			  d->config, vmsgd_log_level_name(vmsgd_log_level),
			  p->bridge_flush_ms,
			  "SERVICE", "OFFER", "OPEN", "MODE", "MAXCHAN",
			  "RING", "MAX_MSG");
	for (size_t i = 0; i < p->nsvc; i++) {
		const struct policy_service *s = &p->svc[i];
		char off[128], opn[128];
		policy_domlist_str(&s->offer, off, sizeof off);
		policy_domlist_str(&s->open, opn, sizeof opn);
		if (json)
			sb_printf(b,
				  "%s{\"name\":\"%s\",\"offer\":\"%s\","
				  "\"open\":\"%s\",\"mode\":\"%s\","
				  "\"max_channels_per_domain\":%u,"
				  "\"ring_size\":%u,\"max_msg\":%llu}",
				  i ? "," : "", s->name, off, opn,
				  s->mode == MODE_RELAYED ? "relayed" : "direct",
				  s->max_channels, s->ring_size,
				  (unsigned long long)s->max_msg);
		else
			sb_printf(b, "%-24s %-16s %-16s %-6s %-8u %-10u %llu\n",
				  s->name, off, opn,
				  s->mode == MODE_RELAYED ? "relayed" : "direct",
				  s->max_channels,
				  s->ring_size, (unsigned long long)s->max_msg);
	}
	if (json)
		sb_printf(b, "],\"bridges\":[");
	else if (p->nbr)
		sb_printf(b, "\n%-24s %-24s %-8s %s\n", "BRIDGE", "SERVICE",
			  "KIND", "ADDRESS");
	for (size_t i = 0; i < p->nbr; i++) {
		const struct policy_bridge *br = &p->br[i];
		if (json) {
			sb_printf(b, "%s{\"name\":\"%s\",\"service\":\"%s\","
				     "\"%s\":",
				  i ? "," : "", br->name, br->service,
				  br->listen ? "listen" : "connect");
			sb_json_str(b, br->addr);
			sb_printf(b, "}");
		} else {
			sb_printf(b, "%-24s %-24s %-8s %s\n", br->name,
				  br->service, br->listen ? "listen" : "connect",
				  br->addr);
		}
	}
	if (json)
		sb_printf(b, "]}\n");
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
		struct sbuf body = {0};
		if (!strcmp(words[1], "domains"))
			list_domains(d, &body, json);
		else if (!strcmp(words[1], "services"))
			list_services(d, &body, json);
		else if (!strcmp(words[1], "channels"))
			list_channels(d, &body, json);
		else {
			sb_printf(b, "error: list what? domains, services "
				     "or channels\n");
			return;
		}
		sb_printf(b, "ok\n%s", body.p ? body.p : "");
		free(body.p);
		return;
	}
	if (n == 1 && !strcmp(words[0], "policy")) {
		sb_printf(b, "ok\n");
		show_policy(d, b, json);
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
	if (!nl)
		sb_printf(&b, "error: request too long\n");
	else
		answer(c, &b);
	if (!b.p) {
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	c->out = b.p;
	uv_buf_t out = uv_buf_init(b.p, (unsigned)b.len);
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
	if (!c)
		return;
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
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		vmsgd_log(LOG_WARN, "vmsgctl: refused a peer (uid %d)",
			  (int)cr.uid);
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
