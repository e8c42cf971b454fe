/* The policy's bridges ([bridge NAME]): the listeners (a stream
 * listener's accept is here, a seqpacket one's in bridge_dgram.c), dom0's
 * services of the connect bridges, the socket kind each connection takes,
 * reload and stop. Above bridge.c (the connection's life) and
 * bridge_dgram.c: it names both, neither names it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge.h"

/* ---- connect bridges: the socket kind ------------------------------------ */

/* A guest opens a connect bridge's service: serve, connect the socket;
 * the answer comes when the socket is up. 0 or -errno (why filled). */
static int bridge_out_start(struct vmsgd *d, struct channel *c, void *arg,
			    char *why, size_t cap)
{
	(void)arg;
	const struct policy_bridge *br =
		policy_bridge_connect(&d->pol, c->service);
	if (!br) { /* the broker found it there a moment ago */
		snprintf(why, cap, "service '%s' is not offered", c->service);
		return -ENOENT;
	}
	return bridge_out_serve(d, c, br,
				br->seqpacket ? &bridge_dgram_ops
					      : &bridge_stream_ops,
				why, cap);
}

const struct transport bridge_out_transport = {
	.name = "bridge-out",
	.metric = "bridge_connect",
	.holds_end = true,
	.shows_bridge = true,
	.start = bridge_out_start,
	.detach = bridge_detach,
	.waiting = bridge_waiting,
	.counters = bridge_counters,
	.guest_closed = bridge_guest_closed,
	.queued = bridge_queued,
};

/* ---- listen bridges: a stream connection ---------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct vmsgd *d = l->d;
	if (status < 0 || d->stopping)
		return;
	struct bconn *b = bridge_conn_new(d, true, &bridge_stream_ops);
	if (!b)
		return;
	bridge_sock_init(b, l->b.is_tcp);
	if (uv_accept(server, &b->u.s) < 0) {
		bridge_conn_close(b);
		return;
	}
	b->sock_ok = true;
	char peer[160];
	snprintf(peer, sizeof peer, "%s", l->bound);
	if (l->b.is_tcp) {
		struct sockaddr_storage ss;
		int len = sizeof ss;
		char ip[64] = "?";
		if (uv_tcp_getpeername(&b->u.tcp, (struct sockaddr *)&ss,
				       &len) == 0) {
			int port = 0;
			if (ss.ss_family == AF_INET6) {
				uv_ip6_name((void *)&ss, ip, sizeof ip);
				port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
				snprintf(peer, sizeof peer, "tcp:[%s]:%d", ip,
					 port);
			} else {
				uv_ip4_name((void *)&ss, ip, sizeof ip);
				port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
				snprintf(peer, sizeof peer, "tcp:%s:%d", ip, port);
			}
		}
	}
	bridge_accepted(l, b, peer);
}

/* ---- listeners ---------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h)
{
	free(h->data);
}

static void listener_close(struct listener *l)
{
	if (l->b.seqpacket) {
		bridge_dgram_unlisten(l);
		return;
	}
	if (!l->b.is_tcp)
		unlink(l->b.path);
	uv_close(&l->u.h, on_listener_closed);
}

static int listener_start(struct vmsgd *d, const struct policy_bridge *pb,
			  struct listener **out, char *err, size_t cap)
{
	struct listener *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	l->d = d;
	l->b = *pb;
	l->fd = -1;
	int r;
	if (pb->seqpacket) {
		snprintf(l->bound, sizeof l->bound, "%s", pb->addr);
		r = bridge_dgram_listen(l);
		if (r < 0) {
			snprintf(err, cap, "%s:%d: [bridge %s]: cannot listen "
					   "on %s: %s",
				 d->config, pb->line, pb->name, pb->addr,
				 r == -EEXIST ? "the path exists and is not a "
						"socket"
					      : strerror(-r));
			free(l);
			return -1;
		}
	} else if (pb->is_tcp) {
		uv_tcp_init(d->loop, &l->u.tcp);
		l->u.h.data = l;
		struct sockaddr_storage ss;
		if (pb->ipv6)
			uv_ip6_addr(pb->host, pb->port, (void *)&ss);
		else
			uv_ip4_addr(pb->host, pb->port, (void *)&ss);
		r = uv_tcp_bind(&l->u.tcp, (void *)&ss, 0);
		if (r == 0)
			r = uv_listen(&l->u.s, 64, on_connection);
		if (r == 0) {
			int len = sizeof ss;
			r = uv_tcp_getsockname(&l->u.tcp, (void *)&ss, &len);
		}
		if (r == 0) {
			int port = ntohs(pb->ipv6
				? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
			snprintf(l->bound, sizeof l->bound,
				 pb->ipv6 ? "tcp:[%s]:%d" : "tcp:%s:%d",
				 pb->host, port);
		}
	} else {
		uv_pipe_init(d->loop, &l->u.pipe, 0);
		l->u.h.data = l;
		snprintf(l->bound, sizeof l->bound, "%s", pb->addr);
		/* A stale socket of a dead vmsgd is replaced; a live one, or
		 * anything that is not a socket, is not touched. */
		struct stat sb;
		r = 0;
		if (lstat(pb->path, &sb) == 0) {
			if (!S_ISSOCK(sb.st_mode)) {
				r = UV_EEXIST;
			} else {
				int s = socket(AF_UNIX, SOCK_STREAM, 0);
				struct sockaddr_un a = {.sun_family = AF_UNIX};
				snprintf(a.sun_path, sizeof a.sun_path, "%s",
					 pb->path);
				/* EPROTOTYPE: a live socket of another
				 * type (a seqpacket: listener). */
				int c = s >= 0 ? connect(s, (void *)&a,
							 sizeof a)
					       : -1;
				bool live = c == 0 ||
					    (s >= 0 && errno == EPROTOTYPE);
				if (s >= 0)
					close(s);
				if (live)
					r = UV_EADDRINUSE;
				else
					unlink(pb->path);
			}
		}
		if (r == 0) {
			/* root and root's group: the socket is as open as
			 * the service behind it. */
			mode_t old = umask(0117);
			r = uv_pipe_bind(&l->u.pipe, pb->path);
			umask(old);
		}
		if (r == 0)
			r = uv_listen(&l->u.s, 64, on_connection);
		if (r < 0 && r != UV_EEXIST && r != UV_EADDRINUSE)
			unlink(pb->path);
	}
	if (r < 0) {
		snprintf(err, cap, "%s:%d: [bridge %s]: cannot listen on %s: %s",
			 d->config, pb->line, pb->name, pb->addr,
			 r == UV_EEXIST ? "the path exists and is not a socket"
					: uv_strerror(r));
		uv_close(&l->u.h, on_listener_closed);
		return -1;
	}
	vmsgd_log(LOG_INFO, "bridge %s: '%s' on %s", pb->name, pb->service,
		  l->bound);
	*out = l;
	return 0;
}

const char *bridge_bound(struct vmsgd *d, const char *name)
{
	for (struct listener *l = d->listeners; l; l = l->next)
		if (!strcmp(l->b.name, name))
			return l->bound;
	return NULL;
}

/* ---- starting, reloading, stopping ------------------------------------- */

static struct listener *listener_at(struct vmsgd *d, const char *addr)
{
	for (struct listener *l = d->listeners; l; l = l->next)
		if (!strcmp(l->b.addr, addr))
			return l;
	return NULL;
}

int bridges_apply(struct vmsgd *d, const struct policy *np, char *err,
		  size_t cap)
{
	if (broker_bridges_check(d, np, err, cap) < 0)
		return -1;
	/* New listeners first: if one fails, drop those and change
	 * nothing. */
	struct listener *added = NULL;
	for (size_t i = 0; i < np->nbr; i++) {
		const struct policy_bridge *b = &np->br[i];
		if (!b->listen || listener_at(d, b->addr))
			continue;
		struct listener *l;
		if (listener_start(d, b, &l, err, cap) < 0) {
			while (added) {
				struct listener *n = added->next;
				listener_close(added);
				added = n;
			}
			return -1;
		}
		l->next = added;
		added = l;
	}
	/* Old listeners: kept (with the new section's name and service) or
	 * closed. Their connections stay, as channels do on a reload. */
	for (struct listener **pp = &d->listeners; *pp;) {
		struct listener *l = *pp;
		const struct policy_bridge *keep = NULL;
		for (size_t i = 0; i < np->nbr && !keep; i++)
			if (np->br[i].listen && !strcmp(np->br[i].addr, l->b.addr))
				keep = &np->br[i];
		if (keep) {
			l->b = *keep;
			pp = &l->next;
			continue;
		}
		vmsgd_log(LOG_INFO, "bridge %s: no longer listening on %s",
			  l->b.name, l->bound);
		*pp = l->next;
		listener_close(l);
	}
	while (added) {
		struct listener *n = added->next;
		added->next = d->listeners;
		d->listeners = added;
		added = n;
	}
	/* dom0's services: those of connect bridges. */
	broker_bridges_sync(d, np);
	return 0;
}

int bridges_init(struct vmsgd *d)
{
	char err[512];
	if (bridges_apply(d, &d->pol, err, sizeof err) < 0) {
		vmsgd_log(LOG_ERROR, "%s", err);
		return -1;
	}
	return 0;
}

void bridges_stop(struct vmsgd *d)
{
	while (d->listeners) {
		struct listener *l = d->listeners;
		d->listeners = l->next;
		listener_close(l);
	}
	bridge_conns_stop(d);
}
