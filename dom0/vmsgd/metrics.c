/* vmsgd's Prometheus endpoint ([daemon] metrics = unix:PATH or
 * tcp:127.x.x.x:PORT, docs/vmsgd.md "Metrics"): GET /metrics in the text
 * exposition format (version 0.0.4).
 *
 * libmicrohttpd speaks HTTP; it runs inside vmsgd's libuv loop, not in a
 * thread of its own: MHD_USE_EPOLL without an internal thread gives one
 * epoll fd, watched by a uv_poll, and MHD_get_timeout() arms a uv_timer.
 * Every MHD callback therefore runs on the loop's thread, and the handler
 * reads vmsgd's lists as they are, with no lock and no copy.
 *
 * The listening socket is ours (made here, handed to MHD): a UNIX socket
 * or a loopback TCP port (policy.c refuses any other address); port 0
 * picks a free one, which the "metrics on" log line names.
 */
#include "broker.h"

#ifdef VMSGD_HAVE_METRICS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include <vmsg/version.h>

/* Connections at once, and how long an idle one may stay (a scraper
 * needs one; nothing here waits on a client). */
#define METRICS_CONNECTIONS 8
#define METRICS_IDLE_S 10

struct metrics {
	struct vmsgd *d;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int lfd;
	bool unix_sock;
	char path[108];
	char bound[160];
};

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The body: every family with HELP and TYPE, then its samples. Label
 * values need no escaping: service names are [A-Za-z0-9._-], the rest
 * are numbers and fixed words. */
static void render(struct vmsgd *d, FILE *f)
{
	family(f, "vmsgd_build_info", "gauge", "vmsgd's version (always 1).");
	fprintf(f, "vmsgd_build_info{version=\"%s\"} 1\n", vmsg_version());

	unsigned nsvc = 0;
	for (const struct service *v = broker_services(d); v; v = v->next)
		nsvc++;
	family(f, "vmsgd_services", "gauge", "Services offered now.");
	fprintf(f, "vmsgd_services %u\n", nsvc);
	family(f, "vmsgd_service_channels", "gauge",
	       "Channels of each offered service now.");
	for (const struct service *v = broker_services(d); v; v = v->next) {
		unsigned n = 0;
		for (const struct channel *c = broker_channels(d); c; c = c->next)
			n += !strcmp(c->service, v->name);
		fprintf(f, "vmsgd_service_channels{service=\"%s\",provider=\"%u\"} %u\n",
			v->name, (unsigned)v->provider, n);
	}

	family(f, "vmsgd_channels", "gauge",
	       "Channels vmsgd has brokered and still knows, by mode.");
	for (int i = 0; i < CHM_COUNT; i++) {
		const struct transport *t = broker_transport(d, i);
		unsigned n = 0;
		for (const struct channel *c = broker_channels(d); c; c = c->next)
			n += c->tp == t;
		fprintf(f, "vmsgd_channels{mode=\"%s\"} %u\n", t->metric, n);
	}

	/* Per channel, for the channels whose data passes vmsgd (relayed
	 * and bridged; direct ones never pass dom0). A channel's series
	 * end with it; sum by (service) gives a service's traffic. */
	family(f, "vmsgd_channel_bytes_total", "counter",
	       "Bytes vmsgd copied on a channel, by direction.");
	family(f, "vmsgd_channel_messages_total", "counter",
	       "Messages vmsgd copied on a channel, by direction.");
	family(f, "vmsgd_channel_stalls_total", "counter",
	       "Times a copy stopped on a full destination, by direction.");
	family(f, "vmsgd_channel_kicks_total", "counter",
	       "Event notifications vmsgd sent, or saved (suppressed).");
	for (const struct channel *c = broker_channels(d); c; c = c->next) {
		struct chan_counters k;
		if (!broker_counters(c, &k))
			continue;
		char lb[160];
		snprintf(lb, sizeof lb,
			 "channel=\"%u\",service=\"%s\",mode=\"%s\"", c->id,
			 c->service, c->tp->metric);
		fprintf(f,
			"vmsgd_channel_bytes_total{%s,direction=\"to_provider\"} %llu\n"
			"vmsgd_channel_bytes_total{%s,direction=\"to_consumer\"} %llu\n"
			"vmsgd_channel_messages_total{%s,direction=\"to_provider\"} %llu\n"
			"vmsgd_channel_messages_total{%s,direction=\"to_consumer\"} %llu\n"
			"vmsgd_channel_stalls_total{%s,direction=\"to_provider\"} %llu\n"
			"vmsgd_channel_stalls_total{%s,direction=\"to_consumer\"} %llu\n"
			"vmsgd_channel_kicks_total{%s,kind=\"sent\"} %llu\n"
			"vmsgd_channel_kicks_total{%s,kind=\"suppressed\"} %llu\n",
			lb, (unsigned long long)k.c2p_bytes, lb,
			(unsigned long long)k.p2c_bytes, lb,
			(unsigned long long)k.c2p_msgs, lb,
			(unsigned long long)k.p2c_msgs, lb,
			(unsigned long long)k.c2p_stalls, lb,
			(unsigned long long)k.p2c_stalls, lb,
			(unsigned long long)k.kicks_sent, lb,
			(unsigned long long)k.kicks_suppressed);
	}

	/* Per guest with a control channel state in vmsgd. */
	family(f, "vmsgd_guest_connects_total", "counter",
	       "Times a guest's control channel came up (Hello).");
	family(f, "vmsgd_guest_resets_total", "counter",
	       "Times vmsgd reset a guest's control channel.");
	family(f, "vmsgd_guest_refused_total", "counter",
	       "A guest's requests refused (policy, channel limits).");
	family(f, "vmsgd_guest_rate_limited_total", "counter",
	       "A guest's requests refused for the request rate.");
	family(f, "vmsgd_guest_bad_messages_total", "counter",
	       "A guest's malformed, unknown or oversized messages.");
	for (const struct session *s = d->sessions; s; s = s->next)
		fprintf(f,
			"vmsgd_guest_connects_total{domain=\"%u\"} %llu\n"
			"vmsgd_guest_resets_total{domain=\"%u\"} %llu\n"
			"vmsgd_guest_refused_total{domain=\"%u\"} %llu\n"
			"vmsgd_guest_rate_limited_total{domain=\"%u\"} %llu\n"
			"vmsgd_guest_bad_messages_total{domain=\"%u\"} %llu\n",
			(unsigned)s->num, (unsigned long long)s->connects,
			(unsigned)s->num, (unsigned long long)s->resets,
			(unsigned)s->num, (unsigned long long)s->refused,
			(unsigned)s->num, (unsigned long long)s->rl.limited,
			(unsigned)s->num, (unsigned long long)s->rl.bad);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     char *body, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	(void)version;
	(void)upload;
	if (*upload_size)
		return MHD_NO; /* no request of ours has a body */
	(void)con_cls;
	char *body = NULL;
	size_t len = 0;
	unsigned status = MHD_HTTP_OK;
	const char *type = "text/plain; version=0.0.4; charset=utf-8";
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		fprintf(f, "vmsgd metrics: GET /metrics only\n");
		type = "text/plain; charset=utf-8";
	} else if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		fprintf(f, "vmsgd metrics: not here; GET /metrics\n");
		type = "text/plain; charset=utf-8";
	} else {
		render(m->d, f);
	}
	if (fclose(f) != 0) {
		free(body);
		return MHD_NO;
	}
	return reply(conn, status, body, len, type);
}

static void run_mhd(struct metrics *m);

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	run_mhd(h->data);
}

static void on_timer(uv_timer_t *h)
{
	run_mhd(h->data);
}

/* Let MHD do what is ready, then wake it again when it asks to be. */
static void run_mhd(struct metrics *m)
{
	(void)MHD_run(m->mhd);
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES)
		uv_timer_start(&m->timer, on_timer, ms, 0);
	else
		uv_timer_stop(&m->timer);
}

/* Our listening socket for the address; m->bound says where it is. */
static int listen_on(struct metrics *m, const struct policy_bridge *a)
{
	int fd;
	if (a->is_tcp) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (a->ipv6) {
			uv_ip6_addr(a->host, a->port, (void *)&ss);
			sl = sizeof(struct sockaddr_in6);
		} else {
			uv_ip4_addr(a->host, a->port, (void *)&ss);
			sl = sizeof(struct sockaddr_in);
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (fd < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    bind(fd, (void *)&ss, sl) < 0 || listen(fd, 16) < 0 ||
		    getsockname(fd, (void *)&ss, &sl) < 0)
			goto fail;
		int port = ntohs(a->ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					 : ((struct sockaddr_in *)&ss)->sin_port);
		snprintf(m->bound, sizeof m->bound,
			 a->ipv6 ? "http://[%s]:%d/metrics"
				 : "http://%s:%d/metrics",
			 a->host, port);
		return fd;
	}
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	snprintf(su.sun_path, sizeof su.sun_path, "%s", a->path);
	/* A stale socket of a dead vmsgd is replaced; anything that is not
	 * a socket is left alone (bind then fails and says so). */
	struct stat sb;
	if (lstat(a->path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(a->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (void *)&su, sizeof su) < 0 || listen(fd, 16) < 0)
		goto fail;
	m->unix_sock = true;
	snprintf(m->path, sizeof m->path, "%s", a->path);
	snprintf(m->bound, sizeof m->bound, "unix:%s (GET /metrics)", a->path);
	return fd;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return -1;
}

int metrics_start(struct vmsgd *d)
{
	if (!d->pol.has_metrics)
		return 0;
	struct metrics *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	m->d = d;
	m->lfd = listen_on(m, &d->pol.metrics);
	if (m->lfd < 0) {
		vmsgd_log(LOG_ERROR, "metrics: cannot listen on %s: %s",
			  d->pol.metrics.addr, strerror(errno));
		free(m);
		return -1;
	}
	m->mhd = MHD_start_daemon(
		MHD_USE_EPOLL, 0, NULL, NULL, on_request, m,
		MHD_OPTION_LISTEN_SOCKET, m->lfd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_S,
		MHD_OPTION_END);
	const union MHD_DaemonInfo *info =
		m->mhd ? MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD)
		       : NULL;
	if (!info) {
		vmsgd_log(LOG_ERROR, "metrics: libmicrohttpd did not start");
		if (m->mhd)
			MHD_stop_daemon(m->mhd);
		close(m->lfd);
		free(m);
		return -1;
	}
	uv_poll_init(d->loop, &m->poll, info->epoll_fd);
	uv_timer_init(d->loop, &m->timer);
	m->poll.data = m->timer.data = m;
	uv_poll_start(&m->poll, UV_READABLE, on_poll);
	d->metrics = m;
	vmsgd_log(LOG_INFO, "metrics on %s", m->bound);
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct metrics *m = h->data;
	/* Both handles are closed, the timer last. */
	if (h == (uv_handle_t *)&m->timer)
		free(m);
}

void metrics_stop(struct vmsgd *d)
{
	struct metrics *m = d->metrics;
	if (!m)
		return;
	d->metrics = NULL;
	uv_poll_stop(&m->poll);
	uv_timer_stop(&m->timer);
	/* Quiesced first, MHD hands the listening socket back instead of
	 * closing it at stop: it is closed once, here. */
	MHD_socket l = MHD_quiesce_daemon(m->mhd);
	MHD_stop_daemon(m->mhd); /* its epoll fd and the connections */
	if (l != MHD_INVALID_SOCKET)
		close(l);
	if (m->unix_sock)
		unlink(m->path);
	uv_close((uv_handle_t *)&m->poll, on_closed);
	uv_close((uv_handle_t *)&m->timer, on_closed);
}

#else /* built without libmicrohttpd: policy.c refuses a metrics key */

int metrics_start(struct vmsgd *d)
{
	(void)d;
	return 0;
}

void metrics_stop(struct vmsgd *d)
{
	(void)d;
}

#endif
