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

static void list_services(struct vmsgd *d, struct sbuf *b, bool json)
{
	if (json)
		sb_printf(b, "{\"services\":[");
	else
		sb_printf(b, "%-24s %-8s %-8s %s\n", "SERVICE", "PROVIDER",
			  "MODE", "CHANNELS");
	bool first = true;
	for (struct service *v = d->services; v; v = v->next) {
		unsigned chans = 0;
		for (struct channel *c = d->channels; c; c = c->next)
			chans += !strcmp(c->service, v->name);
		/* Names are [A-Za-z0-9._-]: nothing to escape. */
		if (json)
			sb_printf(b,
				  "%s{\"name\":\"%s\",\"provider\":%u,"
				  "\"mode\":\"direct\",\"channels\":%u}",
				  first ? "" : ",", v->name,
				  (unsigned)v->provider, chans);
		else
			sb_printf(b, "%-24s %-8u %-8s %u\n", v->name,
				  (unsigned)v->provider, "direct", chans);
		first = false;
	}
	if (json)
		sb_printf(b, "]}\n");
}

static void list_channels(struct vmsgd *d, struct sbuf *b, bool json)
{
	if (json)
		sb_printf(b, "{\"channels\":[");
	else
		sb_printf(b, "%-6s %-24s %-8s %-8s %-8s %s\n", "ID", "SERVICE",
			  "PROVIDER", "CONSUMER", "STATE", "PATH");
	bool first = true;
	for (struct channel *c = d->channels; c; c = c->next) {
		const char *st = c->state == CH_OPEN ? "open" : "pending";
		if (json)
			sb_printf(b,
				  "%s{\"id\":%u,\"service\":\"%s\",\"provider\":"
				  "%u,\"consumer\":%u,\"state\":\"%s\","
				  "\"mode\":\"direct\",\"path\":\"%s\"}",
				  first ? "" : ",", c->id, c->service,
				  (unsigned)c->provider, (unsigned)c->consumer,
				  st, c->path);
		else
			sb_printf(b, "%-6u %-24s %-8u %-8u %-8s %s\n", c->id,
				  c->service, (unsigned)c->provider,
				  (unsigned)c->consumer, st, c->path);
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
			  "\"services\":[",
			  d->config, vmsgd_log_level_name(vmsgd_log_level));
	else
		sb_printf(b, "config %s\nlog_level %s\n\n%-24s %-16s %-16s "
			     "%-6s %-8s %-10s %s\n",
			  d->config, vmsgd_log_level_name(vmsgd_log_level),
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
				  "\"open\":\"%s\",\"mode\":\"direct\","
				  "\"max_channels_per_domain\":%u,"
				  "\"ring_size\":%u,\"max_msg\":%llu}",
				  i ? "," : "", s->name, off, opn,
				  s->max_channels, s->ring_size,
				  (unsigned long long)s->max_msg);
		else
			sb_printf(b, "%-24s %-16s %-16s %-6s %-8u %-10u %llu\n",
				  s->name, off, opn, "direct", s->max_channels,
				  s->ring_size, (unsigned long long)s->max_msg);
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
