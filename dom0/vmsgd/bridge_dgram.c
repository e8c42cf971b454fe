/* seqpacket: bridges: SOCK_SEQPACKET UNIX sockets whose datagrams are the
 * channel's typed messages, one for one, so that socket programs keep
 * their message boundaries end to end. The connection's life is bridge.c's;
 * this is its socket side (struct bsock_ops) and the listener.
 *
 * libuv has no SEQPACKET streams: the sockets are uv_poll handles, read and
 * written with non-blocking recv/send (MSG_DONTWAIT | MSG_NOSIGNAL).
 *   socket -> ring: a datagram's size is learned first (MSG_PEEK |
 *     MSG_TRUNC), so that one over the service's max_msg ends the
 *     connection instead of being cut; then it is received whole and sent
 *     as one message of the bridge's msg_type. While the ring has no room
 *     for it, that one datagram waits here and the socket is not read
 *     (POLLIN off) until the channel's reader kicks.
 *   ring -> socket: zero-copy. A message is peeked in the ring, sent as one
 *     datagram, and released only once the kernel took it; on EAGAIN it
 *     stays peeked and POLLOUT is awaited. There is no write queue: the
 *     ring is the queue. The message's type is not carried.
 * An empty datagram and the socket's EOF both make recv() return 0; the
 * socket has SO_PASSCRED set, so a datagram comes with credentials and the
 * EOF without. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge.h"

/* Datagrams read per wake-up (the socket's poll is level-triggered: it
 * comes back for the rest) and messages sent per wake-up (then POLLOUT
 * brings us back), so that one busy connection does not hold the loop. */
#define BUDGET 64
/* Beyond the largest datagram: the socket buffer's room for the kernel's
 * per-datagram overhead and a second, smaller datagram in flight. */
#define SOCKBUF_SLACK (64u * 1024u)
/* About the largest datagram Linux builds (one kmalloc'ed buffer: 4 MiB
 * passes, 16 MiB fails with ENOBUFS): a larger send buffer would only let
 * a peer that does not read pin more of dom0's memory. */
#define DGRAM_CEILING (4u << 20)
/* A listener whose accept failed for want of fds waits this long. */
#define ACCEPT_PAUSE_MS 500u

struct bdgram {
	uv_poll_t poll;
	int fd;
	int events;         /* what poll watches now (UV_READABLE, ...) */
	uint16_t type;      /* the bridge's msg_type */
	bool bufs_set;      /* the socket buffers were raised */
	bool connecting;    /* connect bridge: until the first POLLOUT */
	bool held_in;       /* in[0..b->inlen) waits for room in the ring */
	bool held_out;      /* m is peeked in the ring, not yet sent */
	bool more_out;      /* the send budget ran out: POLLOUT to go on */
	bool flushing;      /* closed: copy[] still goes to the socket */
	unsigned char *in;
	size_t in_cap;
	struct vmsg_msg m;
	unsigned char *copy; /* the held message, out of the closed ring */
	size_t copy_len;
};

static void on_sock(uv_poll_t *h, int status, int events);

static uint64_t max_msg(const struct bconn *b)
{
	return b->c ? b->c->max_msg : 0;
}

/* Watch what the connection waits for: nothing while closed or stalled. */
static void update(struct bconn *b)
{
	struct bdgram *g = b->dg;
	if (!b->sock_init || uv_is_closing((uv_handle_t *)&g->poll))
		return;
	int ev = 0;
	if (g->connecting || g->held_out || g->more_out || g->flushing)
		ev |= UV_WRITABLE;
	if (!b->closing && !g->connecting && b->sock_ok && b->chan_ready &&
	    !b->sock_eof && !g->held_in)
		ev |= UV_READABLE;
	if (ev == g->events)
		return;
	g->events = ev;
	if (ev)
		uv_poll_start(&g->poll, ev, on_sock);
	else
		uv_poll_stop(&g->poll);
}

/* Both directions may send datagrams of up to max_msg: raise the buffers
 * (SO_SNDBUFFORCE as root, else as far as net.core.wmem_max allows; the
 * kernel refuses a datagram over the send buffer with EMSGSIZE), to at
 * most DGRAM_CEILING + SOCKBUF_SLACK (the kernel doubles it). */
static void raise_bufs(struct bconn *b)
{
	struct bdgram *g = b->dg;
	if (g->bufs_set || !b->c)
		return;
	g->bufs_set = true;
	uint64_t m = max_msg(b);
	int v = (int)((m < DGRAM_CEILING ? m : DGRAM_CEILING) + SOCKBUF_SLACK);
	if (setsockopt(g->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
		(void)setsockopt(g->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	if (setsockopt(g->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
		(void)setsockopt(g->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

/* The held datagram into the ring: 0, -EAGAIN (the ring is full: wait
 * for the reader's kick), or another error (the connection ended). */
static int push(struct bconn *b)
{
	struct bdgram *g = b->dg;
	/* A fragmented message stopped by a full ring goes on with the same
	 * arguments (as relay.c's copy). */
	int n = vmsg_chan_send(b->ch, g->type, g->in, b->inlen, 0, 0);
	if (n == -EAGAIN) {
		if (!b->in_stalled) {
			b->in_stalled = true;
			b->in_stalls++;
		}
		return n;
	}
	if (n < 0) {
		bridge_end(b, bridge_chan_why(n));
		return n;
	}
	g->held_in = false;
	b->in_stalled = false;
	b->in_chunks++;
	return 0;
}

/* Socket -> ring, datagram by datagram, while both go. */
static void read_sock(struct bconn *b)
{
	struct bdgram *g = b->dg;
	for (int i = 0; i < BUDGET && !b->closing; i++) {
		if (g->held_in && push(b) < 0)
			return;
		if (b->sock_eof)
			return;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} cm;
		struct msghdr mh = {.msg_control = cm.buf,
				    .msg_controllen = sizeof cm.buf};
		ssize_t n = recvmsg(g->fd, &mh,
				    MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			b->sock_err = true;
			bridge_end(b, strerror(errno));
			return;
		}
		if (n == 0 && mh.msg_controllen == 0) {
			bridge_sock_eof(b); /* no datagram: the EOF */
			return;
		}
		if ((uint64_t)n > max_msg(b)) {
			char why[200];
			snprintf(why, sizeof why,
				 "a datagram of %zd bytes from the socket is "
				 "over the service's max_msg of %llu bytes",
				 n, (unsigned long long)max_msg(b));
			vmsgd_log(LOG_WARN, "channel %u: %s: ending the "
					    "connection",
				  b->c->id, why);
			b->sock_err = true; /* not flushed: it broke the rule */
			bridge_end(b, why);
			return;
		}
		if ((size_t)n > g->in_cap || !g->in) {
			/* Never NULL, even for an empty datagram. */
			size_t sz = n ? (size_t)n : 1;
			void *p = realloc(g->in, sz);
			if (!p) /* try again at the next event */
				return;
			g->in = p;
			g->in_cap = sz;
		}
		ssize_t r = recv(g->fd, g->in, (size_t)n, MSG_DONTWAIT);
		if (r != n) { /* the datagram we peeked: cannot change */
			b->sock_err = true;
			bridge_end(b, r < 0 ? strerror(errno)
					    : "a datagram changed under peek");
			return;
		}
		b->sock_rx += (uint64_t)n;
		b->inlen = (size_t)n;
		g->held_in = true;
	}
	if (g->held_in && !b->closing)
		(void)push(b);
}

/* Ring -> socket: each message one datagram, released once sent. */
static void write_sock(struct bconn *b)
{
	struct bdgram *g = b->dg;
	g->more_out = false;
	for (int i = 0; !b->closing; i++) {
		if (!g->held_out) {
			if (i >= BUDGET) {
				g->more_out = true;
				return;
			}
			/* A fragmented message is collected in vmsgd's memory
			 * by the peek: while the guest has its
			 * max_queued_bytes here, leave its messages in the
			 * ring (guest_wake resumes; bounds.c). What the
			 * last peek and release left is reported first. */
			bridge_account(b);
			if (guest_hold_back(b->d, &b->acct))
				return;
			int e = vmsg_chan_peek(b->ch, &g->m, 0);
			if (e == -EAGAIN)
				return;
			if (e == -EMSGSIZE)
				continue; /* over max_msg: the library dropped it */
			if (e < 0) {
				bridge_end(b, bridge_chan_why(e));
				return;
			}
			g->held_out = true;
			bridge_guest_talks(b);
		}
		ssize_t n = send(g->fd, g->m.data, g->m.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!b->out_stalled) {
				b->out_stalled = true;
				b->out_stalls++;
			}
			return; /* kept peeked; update() asks for POLLOUT */
		}
		if (n < 0 && (errno == EMSGSIZE || errno == ENOBUFS)) {
			int sb = 0;
			socklen_t sl = sizeof sb;
			(void)getsockopt(g->fd, SOL_SOCKET, SO_SNDBUF, &sb, &sl);
			char why[240];
			snprintf(why, sizeof why,
				 "the socket cannot take a message of %zu bytes "
				 "as one datagram (%s; its send buffer is %d "
				 "bytes)",
				 g->m.len, strerror(errno), sb);
			vmsgd_log(LOG_WARN, "channel %u: %s: ending the "
					    "connection",
				  b->c ? b->c->id : 0, why);
			b->sock_err = true;
			bridge_end(b, why);
			return;
		}
		if (n < 0) {
			b->sock_err = true;
			bridge_end(b, strerror(errno));
			return;
		}
		/* SEQPACKET sends all of it or nothing. */
		b->sock_tx += (uint64_t)n;
		b->out_chunks++;
		b->out_stalled = false;
		g->held_out = false;
		int e = vmsg_chan_release(b->ch);
		if (e < 0) {
			bridge_end(b, bridge_chan_why(e));
			return;
		}
		/* A message collected here has left: the guest's held-back
		 * ends may go on (O(1) when there are none; bounds.c, whose
		 * trim at the bound counts this end's buffer afresh). */
		guest_wake(b->d, &b->acct);
	}
}

/* Closed with a message to flush: send its copy, then close. */
static void flush_copy(struct bconn *b)
{
	struct bdgram *g = b->dg;
	ssize_t n = send(g->fd, g->copy, g->copy_len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n >= 0) {
		b->sock_tx += (uint64_t)n;
		b->out_chunks++;
	}
	g->flushing = false;
	bridge_flushed(b);
}

static void on_sock(uv_poll_t *h, int status, int events)
{
	struct bconn *b = h->data;
	struct bdgram *g = b->dg;
	if (b->closing) {
		if (g->flushing)
			flush_copy(b);
		return;
	}
	if (status < 0) {
		b->sock_err = true;
		bridge_end(b, uv_strerror(status));
		return;
	}
	if (g->connecting) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		g->connecting = false;
		bridge_connected(b, -err); /* starts, or ends, b */
		if (!b->closing)
			update(b);
		return;
	}
	if (events & UV_WRITABLE)
		write_sock(b);
	if (!b->closing && (events & UV_READABLE))
		read_sock(b);
	bridge_account(b);
	if (!b->closing)
		update(b);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct bconn *b = h->data;
	close(b->dg->fd);
	b->dg->fd = -1;
	bridge_handle_closed(h);
}

/* Set up b's socket side on fd (non-blocking; its own from now on). */
static int attach(struct bconn *b, int fd, uint16_t type)
{
	struct bdgram *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
	    uv_poll_init(b->d->loop, &g->poll, fd) < 0) {
		free(g);
		return -EIO;
	}
	g->fd = fd;
	g->type = type;
	g->poll.data = b;
	b->dg = g;
	b->sock_init = true;
	b->handles++;
	return 0;
}

static int dg_connect(struct bconn *b, const struct policy_bridge *br,
		      char *why, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", br->path);
	int e = fd < 0 ? -errno : 0;
	if (!e && connect(fd, (void *)&a, sizeof a) < 0 &&
	    errno != EINPROGRESS)
		e = -errno; /* EAGAIN: its backlog is full */
	if (!e) {
		e = attach(b, fd, br->msg_type);
		if (!e)
			fd = -1; /* the poll's now */
	}
	if (fd >= 0)
		close(fd);
	if (e < 0) {
		snprintf(why, cap, "service '%s': dom0 cannot connect to %s: "
				   "%s",
			 b->c->service, br->addr, strerror(-e));
		return e;
	}
	/* A UNIX connect is done or refused at once; the first POLLOUT
	 * makes it the same event as a TCP connect's. */
	b->dg->connecting = true;
	raise_bufs(b);
	update(b);
	return 0;
}

static void dg_start(struct bconn *b)
{
	raise_bufs(b);
	update(b);
}

static void dg_pump(struct bconn *b)
{
	if (!b->sock_ok || b->dg->connecting)
		return;
	if (b->dg->held_in && push(b) < 0 && b->closing)
		return;
	write_sock(b);
	if (!b->closing)
		update(b);
}

static size_t dg_queued(const struct bconn *b)
{
	const struct bdgram *g = b->dg;
	if (!g)
		return 0;
	return g->flushing ? g->copy_len : g->held_out ? g->m.len : 0;
}

static bool dg_close(struct bconn *b, bool flush)
{
	struct bdgram *g = b->dg;
	/* The channel end closes next: a held message goes on from a
	 * copy. */
	if (flush && g->held_out)
		g->copy = malloc(g->m.len ? g->m.len : 1);
	if (flush && g->held_out && g->copy) {
		memcpy(g->copy, g->m.data, g->m.len);
		g->copy_len = g->m.len;
		g->flushing = true;
	}
	g->held_out = g->held_in = g->more_out = false;
	if (g->flushing) {
		update(b); /* POLLOUT only */
		return true;
	}
	uv_close((uv_handle_t *)&g->poll, on_sock_closed);
	return false;
}

static void dg_cut(struct bconn *b)
{
	struct bdgram *g = b->dg;
	g->flushing = false;
	if (!uv_is_closing((uv_handle_t *)&g->poll))
		uv_close((uv_handle_t *)&g->poll, on_sock_closed);
}

static void dg_destroy(struct bconn *b)
{
	struct bdgram *g = b->dg;
	if (!g)
		return;
	free(g->in);
	free(g->copy);
	free(g);
	b->dg = NULL;
}

const struct bsock_ops bridge_dgram_ops = {
	.connect = dg_connect,
	.start = dg_start,
	.pump = dg_pump,
	.queued = dg_queued,
	.close = dg_close,
	.cut = dg_cut,
	.destroy = dg_destroy,
};

/* ---- the listener ------------------------------------------------------- */

static void on_listen(uv_poll_t *h, int status, int events);

static void on_pause_over(uv_timer_t *t)
{
	struct listener *l = t->data;
	uv_poll_start(&l->u.poll, UV_READABLE, on_listen);
}

static void on_listen(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct listener *l = h->data;
	if (status < 0 || l->d->stopping)
		return;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(l->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/* Out of fds (EMFILE, ENFILE) or memory: the socket
			 * stays readable, so polling it again at once would
			 * spin. Wait a while; the client waits in the
			 * backlog meanwhile. */
			vmsgd_log(LOG_WARN, "bridge %s: accept: %s: pausing "
					    "the listener for %u ms",
				  l->b.name, strerror(errno), ACCEPT_PAUSE_MS);
			if (!l->pause_init &&
			    uv_timer_init(l->d->loop, &l->pause) == 0) {
				l->pause.data = l;
				l->pause_init = true;
			}
			if (l->pause_init) {
				uv_poll_stop(&l->u.poll);
				uv_timer_start(&l->pause, on_pause_over,
					       ACCEPT_PAUSE_MS, 0);
			}
			return;
		}
		struct bconn *b = bridge_conn_new(l->d, true, &bridge_dgram_ops);
		if (!b || attach(b, fd, l->b.msg_type) < 0) {
			close(fd);
			if (b)
				bridge_conn_close(b);
			return;
		}
		b->sock_ok = true;
		bridge_accepted(l, b, l->bound); /* raise_bufs once served */
	}
}

int bridge_dgram_listen(struct listener *l)
{
	const char *path = l->b.path;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	/* As for unix: listeners: a stale socket of a dead vmsgd is
	 * replaced; a live one, or anything that is not a socket, is not
	 * touched. */
	struct stat sb;
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			return -EEXIST;
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int c = s >= 0 ? connect(s, (void *)&a, sizeof a) : -1;
		/* A live stream socket there refuses us with EPROTOTYPE, a
		 * dead one with ECONNREFUSED. */
		bool live = c == 0 || (s >= 0 && errno == EPROTOTYPE);
		if (s >= 0)
			close(s);
		if (live)
			return -EADDRINUSE;
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	/* root and root's group: the socket is as open as the service
	 * behind it. */
	mode_t old = umask(0117);
	int e = bind(fd, (void *)&a, sizeof a) < 0 ? -errno : 0;
	umask(old);
	if (!e && listen(fd, 64) < 0)
		e = -errno;
	if (!e && uv_poll_init(l->d->loop, &l->u.poll, fd) < 0)
		e = -EIO;
	if (e < 0) {
		if (e != -EADDRINUSE)
			unlink(path);
		close(fd);
		return e;
	}
	l->fd = fd;
	l->u.poll.data = l;
	uv_poll_start(&l->u.poll, UV_READABLE, on_listen);
	return 0;
}

static void on_unlistened(uv_handle_t *h)
{
	struct listener *l = h->data;
	if (--l->closing > 0)
		return;
	close(l->fd);
	free(l);
}

void bridge_dgram_unlisten(struct listener *l)
{
	unlink(l->b.path);
	l->closing = 1 + l->pause_init;
	uv_close(&l->u.h, on_unlistened);
	if (l->pause_init)
		uv_close((uv_handle_t *)&l->pause, on_unlistened);
}
