/* Socket bridges ([bridge NAME] in the policy).
 *
 * listen: a uv_tcp/uv_pipe listener in dom0. Each accepted connection makes
 * vmsgd, as domain 0, open the guest's service: the provider is asked to
 * serve a channel for domain 0 and vmsgd connects to it (CHM_BRIDGE_IN).
 * connect: dom0 offers `service` to guests. A guest's open makes vmsgd
 * serve a channel for that guest under /local/domain/0/data/vmsgd/bridge/
 * <id> and connect a socket to the target; the guest hears Opened once the
 * socket is up, or the connect error (CHM_BRIDGE_OUT).
 *
 * This file is a connection's life and the listen bridges' transport
 * (bridge_in_transport); the listeners, dom0's services, the socket kind a
 * connection takes and bridge_out_transport are bridges.c's, and the
 * channel itself is the broker's (broker.c): a connection asks it to
 * admit, open, fail, end or forget its channel.
 *
 * The socket side is behind struct bsock_ops (bridge.h): here the byte
 * streams of unix: and tcp: bridges; bridge_dgram.c has the seqpacket:
 * bridges, whose channel carries one typed message per datagram. The rest
 * of this comment is about both, but for the copying.
 *
 * A stream bridge's channel carries a raw byte stream (vmsg_chan_read/
 * write). Copying is non-blocking both ways, with backpressure:
 *   socket -> channel: one buffer; while it cannot all go into the ring,
 *     the socket is not read (uv_read_stop) until the ring's reader kicks.
 *   channel -> socket: chunks go to uv_write; above WQ_MAX bytes queued,
 *     or the guest's max_queued_bytes across all of vmsgd, the ring is not
 *     read until writes complete.
 * Endings: EOF from the socket stops reading it, and the channel goes on
 * delivering to the socket until the channel closes, or until the guest has
 * sent nothing for EOF_LINGER_MS: a byte stream has no half-close, so a
 * guest that waits for more input (a line server) would otherwise hold a
 * dead connection for ever. The channel closed
 * (after everything in it was read) or gone: pending socket writes are
 * flushed (uv_shutdown), then the socket closes. A socket error closes the
 * channel. The counters are those of vmsgd's channel end plus the socket's
 * byte counts.
 * Lingering: once the guest has closed (its Closed message, the channel's
 * close, or its control channel gone), what it sent and the socket has not
 * taken yet is a flush, bounded by the policy's bridge_flush_ms from that
 * moment; a socket that does not read gets no more. Meanwhile the channel
 * stays listed as lingering and counted against its consumer; the channel
 * end (event channel, grants, xenstore) is closed as soon as everything in
 * it has been read, so what lingers longest is the socket and its write
 * queue. */
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

#include <vmsg/xen.h>

#include "bridge.h"

#define WQ_MAX (256u * 1024u) /* socket write queue bound */
#define EOF_LINGER_MS 2000u   /* after the socket's EOF, guest silence */

struct wreq {
	uv_write_t req;
	struct bconn *b;
	size_t len;
	char data[];
};

/* ---- counters ----------------------------------------------------------- */

bool bridge_counters(const struct channel *c, struct chan_counters *k)
{
	memset(k, 0, sizeof *k);
	struct bconn *b = c->bconn;
	if (!b)
		return false;
	struct vmsg_chan_stats st = b->last;
	if (b->ch)
		(void)vmsg_chan_stats(b->ch, &st);
	/* socket -> ring is in_*, ring -> socket out_*. Messages of a byte
	 * stream: the chunks passed (one read or write each); of a seqpacket
	 * bridge: the datagrams (one message each). */
	uint64_t s2r_b = st.tx_bytes, r2s_b = st.rx_bytes;
	if (b->in) { /* consumer = socket */
		k->c2p_bytes = s2r_b;
		k->c2p_msgs = b->in_chunks;
		k->c2p_stalls = b->in_stalls;
		k->p2c_bytes = r2s_b;
		k->p2c_msgs = b->out_chunks;
		k->p2c_stalls = b->out_stalls;
	} else { /* consumer = guest */
		k->c2p_bytes = r2s_b;
		k->c2p_msgs = b->out_chunks;
		k->c2p_stalls = b->out_stalls;
		k->p2c_bytes = s2r_b;
		k->p2c_msgs = b->in_chunks;
		k->p2c_stalls = b->in_stalls;
	}
	k->kicks_sent = st.kicks_sent;
	k->kicks_suppressed = st.kicks_suppressed;
	k->has_sock = true;
	k->sock_rx_bytes = b->sock_rx;
	k->sock_tx_bytes = b->sock_tx;
	return true;
}

/* ---- one connection ----------------------------------------------------- */

static void bconn_close(struct bconn *b);

static void end(struct bconn *b, const char *why)
{
	if (b->c)
		broker_end(b->d, b->c, why); /* detaches: bconn_close */
	else
		bconn_close(b);
}

void bridge_end(struct bconn *b, const char *why)
{
	end(b, why);
}

const char *bridge_chan_why(int e)
{
	return e == -EPIPE ? "the guest closed the channel"
			   : "the channel broke";
}

static void on_handle_closed(uv_handle_t *h)
{
	struct bconn *b = h->data;
	if (--b->handles > 0)
		return;
	/* Orderly: what we wrote stays readable by the guest. */
	vmsg_chan_close(b->ch);
	for (struct bconn **pp = &b->d->bconns; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	guest_leave(b->d, &b->acct);
	/* Still attached only while lingering: the flush is over. */
	if (b->c) {
		struct channel *c = b->c;
		c->bconn = NULL;
		b->c = NULL;
		broker_forget(b->d, c);
	}
	if (b->ops->destroy)
		b->ops->destroy(b);
	free(b);
}

void bridge_handle_closed(uv_handle_t *h)
{
	on_handle_closed(h);
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_handle_closed);
}

/* The channel end is no longer needed: keep its counters, release it
 * (orderly: what we wrote stays readable by the guest). */
static void chan_release(struct bconn *b)
{
	if (!b->ch)
		return;
	(void)vmsg_chan_stats(b->ch, &b->last);
	vmsg_chan_close(b->ch);
	b->ch = NULL;
	bridge_account(b); /* its reassembly buffer went with it */
}

static void on_poll_closed(uv_handle_t *h)
{
	chan_release(h->data);
	on_handle_closed(h);
}

void bridge_flushed(struct bconn *b)
{
	b->ops->cut(b);
	if (b->flush_init)
		close_handle((uv_handle_t *)&b->flush);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	bridge_flushed(req->data);
}

static void on_flush_timeout(uv_timer_t *t)
{
	struct bconn *b = t->data;
	b->cut = true;
	vmsgd_log(LOG_WARN, "channel %u: the socket did not take what the "
			    "guest sent within %u ms: %zu bytes queued for it "
			    "%s dropped",
		  b->c ? b->c->id : 0, b->d->pol.bridge_flush_ms,
		  b->ops->queued(b),
		  b->closing ? "are" : "and the rest of the channel are");
	if (!b->closing) { /* still reading the channel: end it now */
		end(b, "the guest closed and the socket did not take the rest "
		       "in time");
		return;
	}
	bridge_flushed(b);
}

/* The guest has closed: from now on the socket gets bridge_flush_ms for
 * the rest (started once). */
static void flush_start(struct bconn *b)
{
	if (b->flush_init || uv_timer_init(b->d->loop, &b->flush) != 0)
		return;
	b->flush.data = b;
	b->flush_init = true;
	b->handles++;
	uv_timer_start(&b->flush, on_flush_timeout, b->d->pol.bridge_flush_ms,
		       0);
}

/* Is there something queued that the socket may still take? */
static bool must_flush(const struct bconn *b)
{
	return b->sock_init && b->sock_ok && b->ops->queued(b) > 0 &&
	       !b->sock_err &&
	       !b->cut && !b->d->stopping;
}

static void bconn_close(struct bconn *b)
{
	if (b->closing)
		return;
	b->closing = true;
	if (b->poll_init)
		uv_close((uv_handle_t *)&b->poll, on_poll_closed);
	else
		chan_release(b);
	if (b->linger_init)
		uv_close((uv_handle_t *)&b->linger, on_handle_closed);
	/* Flush what we queued for the socket, unless it failed, the flush
	 * limit passed or vmsgd is stopping (a peer that never reads must
	 * not hold the exit up). The channel end closes after this (its
	 * poll's close callback). */
	bool flushing = b->sock_init && b->ops->close(b, must_flush(b));
	if (flushing)
		flush_start(b);
	else if (b->flush_init)
		close_handle((uv_handle_t *)&b->flush);
	if (b->handles == 0) {
		b->handles = 1;
		b->poll.data = b;
		on_handle_closed((uv_handle_t *)&b->poll);
	}
}

/* Bridge out: is vmsgd's end for the guest still waiting for it? */
bool bridge_waiting(const struct channel *c)
{
	return c->bconn && !c->bconn->in && !c->bconn->accepted;
}

/* The channel is being forgotten: close the channel end and the socket.
 * Returns true when the socket still has to take what the guest sent:
 * the bridge keeps c (then lingering) and calls broker_forget(c) when it
 * is done, within the policy's bridge_flush_ms; false: c->bconn is
 * cleared and c can go. */
bool bridge_detach(struct channel *c)
{
	struct bconn *b = c->bconn;
	if (!b)
		return false;
	/* The socket still has what the guest sent to take: the channel
	 * lingers (listed, counted) until the flush ends; b keeps it. */
	bool linger = must_flush(b);
	if (linger)
		vmsgd_log(LOG_INFO, "channel %u: lingering: %zu bytes still go "
				    "to %s (for at most %u ms)",
			  c->id, b->ops->queued(b), c->sock,
			  b->d->pol.bridge_flush_ms);
	if (!linger || b->closing) {
		guest_leave(b->d, &b->acct);
		c->bconn = NULL;
		b->c = NULL;
		linger = false;
	}
	bconn_close(b);
	return linger;
}

/* The guest's end of an open bridged channel says Closed: the channel
 * lingers (the rest goes to the socket within bridge_flush_ms, then it
 * ends). */
void bridge_guest_closed(struct channel *c)
{
	struct bconn *b = c->bconn;
	if (!b || b->closing)
		return;
	/* What it sent before is still read and passed on, but the socket
	 * gets a bounded time for it. */
	c->state = CH_LINGER;
	flush_start(b);
}

static void pump_out(struct bconn *b);
static void push_in(struct bconn *b);

/* What b holds of its guest's data: its socket write queue, and what
 * its channel end collects of the guest's fragmented messages (a
 * seqpacket: bridge's does; a byte stream's never). trim: first free the
 * end's reassembly buffer if nothing in it is wanted.
 *
 * A listen bridge's socket is an outside client: what waits for it to
 * read (the write queue, a whole message peeked for its next datagram)
 * is that client's doing, not the guest's, and counted against the
 * guest, clients that read nothing would hold back the guest's every
 * other connection and relayed channel. It is bounded per connection
 * (WQ_MAX, a message) and the connections by the service's
 * max_channels_per_domain for domain 0. A connect bridge's socket is
 * dom0's own server: there the guest's bound covers the queue. */
static uint64_t bconn_held(void *arg, bool trim)
{
	struct bconn *b = arg;
	size_t kept = 0, whole = 0;
	uint64_t n = b->in ? 0 : b->wq;
	if (b->ch && vmsg_chan_rx_kept(b->ch, trim, &kept) >= 0) {
		n += kept;
		/* Not part-way into the end (0): a message it holds is
		 * whole, presented for the socket (kept >= whole). */
		if (b->in && vmsg_chan_rx_partial(b->ch, &whole) == 0)
			n -= whole;
	}
	return n;
}

/* Is b's channel end part-way through one of the guest's fragmented
 * messages (a seqpacket: bridge's; a byte stream's never is)? */
static bool bconn_collecting(void *arg)
{
	const struct bconn *b = arg;
	return b->ch && vmsg_chan_rx_partial(b->ch, NULL) == 1;
}

/* The recount of guests_check: the same bytes, from the channel
 * (lingering connections too: they stay attached to their channel). A
 * bridge holds nothing for a guest to read: a socket's data waits in the
 * socket. */
uint64_t bridge_queued(const struct channel *c, uint16_t domid,
		       enum guest_pool pool)
{
	const struct bconn *b = c->bconn;
	if (!b || b->guest != domid || pool != GUEST_WRITES)
		return 0;
	return bconn_held((void *)b, false);
}

/* Held back by its guest's bound, the guest may queue again: read on. */
static void bconn_resume(void *owner)
{
	struct bconn *b = owner;
	if (b->closing)
		return;
	b->out_stalled = false;
	b->ops->pump(b); /* may end b: freed a loop turn later */
	bridge_account(b);
}

int bridge_join(struct bconn *b)
{
	return guest_join(b->d, &b->acct, b->guest, GUEST_WRITES, bconn_held,
			  bconn_collecting, b, bconn_resume, b);
}

void bridge_account(struct bconn *b)
{
	guest_sync(b->d, &b->acct);
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct bconn *b = w->b;
	b->wq -= sizeof *w + w->len;
	if (status == 0)
		b->sock_tx += w->len;
	free(w);
	bridge_account(b);
	if (b->closing)
		return;
	if (status < 0) {
		b->sock_err = true;
		end(b, "socket write failed");
		return;
	}
	if (b->out_stalled && !b->acct.held && b->wq < WQ_MAX) {
		b->out_stalled = false;
		pump_out(b);
		bridge_account(b);
	}
	/* Its guest's ends held back by the bound, b's included: O(1) when
	 * there are none (bounds.c). */
	guest_wake(b->d, &b->acct);
}

/* Ring -> socket, while the write queue is below its bound. */
static void pump_out(struct bconn *b)
{
	if (b->closing || !b->chan_ready || !b->sock_ok)
		return;
	/* Held back: stopped for the guest's bound, not this queue's
	 * (guest_wake resumes it). */
	while (b->wq < WQ_MAX && !guest_hold_back(b->d, &b->acct)) {
		struct wreq *w = malloc(sizeof *w + CHUNK);
		if (!w)
			return; /* try again at the next event */
		int n = vmsg_chan_read(b->ch, w->data, CHUNK, 0);
		if (n == -EAGAIN) {
			free(w);
			return;
		}
		if (n <= 0) {
			free(w);
			end(b, n == -EPIPE ? "the guest closed the channel"
					   : "the channel broke");
			return;
		}
		/* Hold only what was read: a guest writing a byte at a time
		 * to a socket that does not read would otherwise make each
		 * byte cost a whole chunk. */
		struct wreq *fit = realloc(w, sizeof *w + (size_t)n);
		if (fit)
			w = fit;
		w->b = b;
		w->len = (size_t)n;
		uv_buf_t buf = uv_buf_init(w->data, (unsigned)n);
		if (uv_write(&w->req, &b->u.s, &buf, 1, on_write) < 0) {
			free(w);
			b->sock_err = true;
			end(b, "socket write failed");
			return;
		}
		b->wq += sizeof *w + (size_t)n;
		bridge_account(b); /* before the next chunk asks the bound */
		b->out_chunks++;
		bridge_guest_talks(b);
	}
	if (!b->out_stalled) {
		b->out_stalled = true;
		b->out_stalls++;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct bconn *b = h->data;
	/* Reading stops whenever a buffer is left over, so it is free. */
	*buf = uv_buf_init(b->inbuf, b->inlen ? 0 : (unsigned)sizeof b->inbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void start_reading(struct bconn *b)
{
	if (b->reading || b->sock_eof || !b->sock_ok || b->closing)
		return;
	if (uv_read_start(&b->u.s, on_alloc, on_read) == 0)
		b->reading = true;
}

/* Socket bytes -> ring; a full ring stops the socket's reading. */
static void push_in(struct bconn *b)
{
	while (!b->closing && b->inoff < b->inlen) {
		int n = vmsg_chan_write(b->ch, b->inbuf + b->inoff,
					b->inlen - b->inoff, 0);
		if (n == -EAGAIN) {
			if (!b->in_stalled) {
				b->in_stalled = true;
				b->in_stalls++;
			}
			if (b->reading) {
				uv_read_stop(&b->u.s);
				b->reading = false;
			}
			return;
		}
		if (n < 0) {
			end(b, n == -EPIPE ? "the guest closed the channel"
					   : "the channel broke");
			return;
		}
		b->inoff += (size_t)n;
		b->in_chunks++;
	}
	if (b->closing)
		return;
	b->inlen = b->inoff = 0;
	b->in_stalled = false;
	start_reading(b);
}

static void on_linger(uv_timer_t *t)
{
	end(t->data, "the socket closed and the guest sent nothing more");
}

void bridge_sock_eof(struct bconn *b)
{
	/* The peer will send no more; it may still read. */
	b->sock_eof = true;
	if (b->linger_init || uv_timer_init(b->d->loop, &b->linger) != 0)
		return;
	b->linger.data = b;
	b->linger_init = true;
	b->handles++;
	uv_timer_start(&b->linger, on_linger, EOF_LINGER_MS, EOF_LINGER_MS);
}

void bridge_guest_talks(struct bconn *b)
{
	if (b->linger_init) /* after the socket's EOF: wait on */
		uv_timer_again(&b->linger);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct bconn *b = s->data;
	if (b->closing || n == 0)
		return;
	if (n == UV_EOF) {
		uv_read_stop(s);
		b->reading = false;
		bridge_sock_eof(b);
		return;
	}
	if (n < 0) {
		b->sock_err = true;
		end(b, uv_strerror((int)n));
		return;
	}
	b->sock_rx += (uint64_t)n;
	b->inlen = (size_t)n;
	b->inoff = 0;
	push_in(b);
}

static void on_chan(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct bconn *b = h->data;
	if (b->closing)
		return;
	if (status < 0) {
		end(b, uv_strerror(status));
		return;
	}
	(void)vmsg_chan_ack(b->ch);
	if (!b->in && !b->accepted) {
		int e = vmsg_chan_accept(b->ch, 0);
		if (e == 0)
			b->accepted = true;
		else if (e != -EAGAIN) {
			end(b, "the guest came and went");
			return;
		}
	}
	b->ops->pump(b);
	bridge_account(b);
}

static int poll_chan(struct bconn *b)
{
	int fd = vmsg_chan_fd(b->ch);
	if (fd < 0 || uv_poll_init(b->d->loop, &b->poll, fd) < 0)
		return -EIO;
	b->poll.data = b;
	b->poll_init = true;
	b->handles++;
	uv_poll_start(&b->poll, UV_READABLE, on_chan);
	b->chan_ready = true;
	return 0;
}

struct bconn *bridge_conn_new(struct vmsgd *d, bool in,
			      const struct bsock_ops *ops)
{
	struct bconn *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->d = d;
	b->in = in;
	b->ops = ops;
	b->next = d->bconns;
	d->bconns = b;
	return b;
}

void bridge_sock_init(struct bconn *b, bool tcp)
{
	if (tcp)
		uv_tcp_init(b->d->loop, &b->u.tcp);
	else
		uv_pipe_init(b->d->loop, &b->u.pipe, 0);
	b->u.h.data = b;
	b->sock_init = true;
	b->handles++;
}

/* ---- listen bridges: a connection opens the guest's service -------------- */

void bridge_conn_close(struct bconn *b)
{
	bconn_close(b);
}

/* What a listen bridge's connection hands its channel's start. */
struct accepted {
	struct listener *l;
	struct bconn *b;
	const char *peer;
};

void bridge_accepted(struct listener *l, struct bconn *b, const char *peer)
{
	struct accepted a = {.l = l, .b = b, .peer = peer};
	char text[200];
	int r = broker_open(l->d, NULL, l->b.service, 0, 0, &a, text,
			    sizeof text);
	if (r < 0) {
		vmsgd_log(LOG_WARN, "bridge %s: connection from %s refused: %s",
			  l->b.name, peer, text);
		bconn_close(b);
	}
}

/* The broker admitted the connection's channel: b is its end. */
static int bridge_in_start(struct vmsgd *d, struct channel *c, void *arg,
			   char *why, size_t cap)
{
	(void)d;
	struct accepted *a = arg;
	struct bconn *b = a->b;
	b->guest = c->provider;
	snprintf(c->bridge, sizeof c->bridge, "%s", a->l->b.name);
	snprintf(c->sock, sizeof c->sock, "%s", a->peer);
	c->bconn = b;
	b->c = c;
	if (bridge_join(b) < 0) { /* the broker fails c: detached */
		snprintf(why, cap, "vmsgd is out of memory");
		return -ENOMEM;
	}
	vmsgd_log(LOG_INFO, "bridge %s: connection from %s opens '%s' "
			    "(channel %u)",
		  a->l->b.name, a->peer, c->service, c->id);
	return 0;
}

/* A listen bridge's channel was served by the provider: connect. */
static void bridge_served(struct vmsgd *d, struct channel *c)
{
	struct bconn *b = c->bconn;
	if (!b) {
		broker_end(d, c, "its socket is gone");
		return;
	}
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)c->max_msg;
	/* The provider published before it answered: look once. */
	int e = vmsg_xen_connect(&b->ch, c->provider, c->path, &o, 0);
	if (e < 0) {
		char why[200];
		snprintf(why, sizeof why, "cannot connect to the provider's "
					  "channel: %s",
			 vmsg_strerror(e));
		b->ch = NULL;
		broker_end(d, c, why);
		return;
	}
	char why[200]; /* the rings the provider laid out, as in relay.c */
	if (broker_check_rings(c, b->ch, why, sizeof why) < 0) {
		broker_end(d, c, why);
		return;
	}
	if (poll_chan(b) < 0) {
		broker_end(d, c, "cannot poll the channel");
		return;
	}
	c->state = CH_OPEN;
	vmsgd_log(LOG_INFO, "channel %u: %s -> '%s' (domain %u) at %s",
		  c->id, c->sock, c->service, (unsigned)c->provider, c->path);
	b->ops->start(b);
	b->ops->pump(b);
	bridge_account(b);
}

/* ---- connect bridges: a guest's open connects a socket ------------------ */

static void on_connect(uv_connect_t *req, int status)
{
	bridge_connected(req->data, status);
}

void bridge_connected(struct bconn *b, int status)
{
	if (b->closing || !b->c)
		return; /* given up on (timeout, the guest went) */
	struct channel *c = b->c;
	if (status < 0) {
		char text[300];
		snprintf(text, sizeof text, "service '%s': dom0 cannot connect "
					    "to %s: %s",
			 c->service, c->sock, uv_strerror(status));
		/* libuv's codes are negative errno values on Linux. */
		broker_fail(b->d, c, status >= -4095 ? status : -EIO, text);
		return;
	}
	b->sock_ok = true;
	broker_opened(b->d, c, 0, c->path);
	/* broker_opened may have dropped it (the guest's control channel
	 * failed); then b is closing. */
	if (b->closing)
		return;
	b->ops->start(b);
	b->ops->pump(b);
	bridge_account(b);
}

static int stream_connect(struct bconn *b, const struct policy_bridge *br,
			  char *why, size_t cap)
{
	struct channel *c = b->c;
	bridge_sock_init(b, br->is_tcp);
	b->creq.data = b;
	if (br->is_tcp) {
		struct sockaddr_storage ss;
		if (br->ipv6)
			uv_ip6_addr(br->host, br->port, (void *)&ss);
		else
			uv_ip4_addr(br->host, br->port, (void *)&ss);
		int e = uv_tcp_connect(&b->creq, &b->u.tcp, (void *)&ss,
				       on_connect);
		if (e < 0) {
			snprintf(why, cap, "service '%s': dom0 cannot connect "
					   "to %s: %s",
				 c->service, br->addr, uv_strerror(e));
			return e;
		}
	} else {
		uv_pipe_connect(&b->creq, &b->u.pipe, br->path, on_connect);
	}
	return 0;
}

int bridge_out_serve(struct vmsgd *d, struct channel *c,
		     const struct policy_bridge *br,
		     const struct bsock_ops *ops, char *why, size_t cap)
{
	struct bconn *b = bridge_conn_new(d, false, ops);
	if (!b) {
		snprintf(why, cap, "vmsgd is out of memory");
		return -ENOMEM;
	}
	c->bconn = b;
	b->c = c;
	b->guest = c->consumer;
	if (bridge_join(b) < 0) {
		snprintf(why, cap, "vmsgd is out of memory");
		return -ENOMEM; /* the broker's broker_fail detaches b */
	}
	snprintf(c->bridge, sizeof c->bridge, "%s", br->name);
	snprintf(c->sock, sizeof c->sock, "%s", br->addr);
	snprintf(c->path, sizeof c->path, BRIDGE_PATH_PREFIX "/%u", c->id);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = c->ring_size;
	o.max_msg = (size_t)c->max_msg;
	int e = vmsg_xen_serve(&b->ch, c->consumer, c->path, &o);
	if (e < 0) {
		b->ch = NULL;
		snprintf(why, cap, "service '%s': vmsgd cannot serve the "
				   "channel: %s",
			 c->service, vmsg_strerror(e));
		return e; /* the broker's broker_fail detaches b */
	}
	if (poll_chan(b) < 0) {
		snprintf(why, cap, "vmsgd cannot poll the channel");
		return -EIO;
	}
	e = b->ops->connect(b, br, why, cap);
	if (e < 0)
		return e;
	vmsgd_log(LOG_DEBUG, "channel %u: bridge %s connecting to %s for "
			     "domain %u",
		  c->id, br->name, br->addr, (unsigned)c->consumer);
	return 0;
}

void bridge_conns_stop(struct vmsgd *d)
{
	/* Each bridged channel ends (pending ones included); connections
	 * still flushing are cut, so that vmsgd can exit. */
	for (;;) {
		struct channel *c = broker_channels(d);
		while (c && !c->bconn)
			c = c->next;
		if (!c)
			break;
		broker_end(d, c, "vmsgd is stopping");
	}
	for (struct bconn *b = d->bconns; b; b = b->next) {
		if (b->sock_init)
			b->ops->cut(b);
		if (b->flush_init)
			close_handle((uv_handle_t *)&b->flush);
	}
}

/* ---- the byte stream's socket side --------------------------------------- */

static void stream_start(struct bconn *b)
{
	start_reading(b);
}

static void stream_pump(struct bconn *b)
{
	if (b->inlen)
		push_in(b);
	pump_out(b);
}

static size_t stream_queued(const struct bconn *b)
{
	return b->wq;
}

static bool stream_close(struct bconn *b, bool flush)
{
	if (b->reading)
		uv_read_stop(&b->u.s);
	b->reading = false;
	b->sreq.data = b;
	bool flushing =
		flush && uv_shutdown(&b->sreq, &b->u.s, on_shutdown) == 0;
	if (!flushing)
		uv_close(&b->u.h, on_handle_closed);
	return flushing;
}

static void stream_cut(struct bconn *b)
{
	close_handle(&b->u.h);
}

const struct bsock_ops bridge_stream_ops = {
	.connect = stream_connect,
	.start = stream_start,
	.pump = stream_pump,
	.queued = stream_queued,
	.close = stream_close,
	.cut = stream_cut,
};

/* ---- the transports ------------------------------------------------------ */

const struct transport bridge_in_transport = {
	.name = "bridge-in",
	.metric = "bridge_listen",
	.holds_end = true,
	.asks_provider = true,
	.serve_dom0 = true,
	.shows_bridge = true,
	.start = bridge_in_start,
	.served = bridge_served,
	.detach = bridge_detach,
	.waiting = bridge_waiting,
	.counters = bridge_counters,
	.guest_closed = bridge_guest_closed,
	.queued = bridge_queued,
};
