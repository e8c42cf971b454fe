/* Socket bridges, inside vmsgd: what bridge.c (the lifecycle, byte-stream
 * sockets over uv_tcp/uv_pipe) shares with bridge_dgram.c (SOCK_SEQPACKET
 * sockets, one message per datagram). The connection's life (opening the
 * guest's service or serving it, linger after the socket's EOF, the
 * bounded flush after the guest's close, counters) is bridge.c's; what a
 * kind of socket does differently is behind struct bsock_ops. */
#ifndef VMSGD_BRIDGE_H
#define VMSGD_BRIDGE_H

#include "broker.h"

#define CHUNK (64u * 1024u) /* stream: one ring read / socket read */
/* Where vmsgd serves a connect bridge's channel for the guest. */
#define BRIDGE_PATH_PREFIX "/local/domain/0/data/vmsgd/bridge"

struct bconn;

/* The socket side of a connection. Every function is called on the loop,
 * never after close(). */
struct bsock_ops {
	/* Connect bridge: start connecting to br's socket; on success or
	 * failure later, call bridge_connected(). 0, or -errno with why
	 * filled. */
	int (*connect)(struct bconn *b, const struct policy_bridge *br,
		       char *why, size_t cap);
	/* The channel is ready (and the socket connected): start reading
	 * the socket. Also called again after a stall; a no-op while it
	 * reads, after its EOF, or while input waits for the ring. */
	void (*start)(struct bconn *b);
	/* The channel's fd was readable (after the ack): move socket input
	 * that waited for room into the ring, then the ring's data to the
	 * socket, until either blocks. May end the connection. */
	void (*pump)(struct bconn *b);
	/* Bytes read from the channel that the socket has not taken yet. */
	size_t (*queued)(const struct bconn *b);
	/* Close the socket. flush: first hand it what is queued (the flush
	 * timer bounds that); returns true when it does so. The channel end
	 * is still open during this call and closed right after it. Each
	 * handle closed goes through bridge_handle_closed. */
	bool (*close)(struct bconn *b, bool flush);
	/* Drop what is queued and close the socket now (the flush limit
	 * passed, or vmsgd stops); after close(). */
	void (*cut)(struct bconn *b);
	/* Free what the socket side holds (NULL: nothing); b is freed
	 * next. */
	void (*destroy)(struct bconn *b);
};

extern const struct bsock_ops bridge_stream_ops, bridge_dgram_ops;

struct listener {
	struct listener *next;
	struct vmsgd *d;
	struct policy_bridge b;
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
		uv_poll_t poll; /* seqpacket: the listening fd */
	} u;
	int fd; /* seqpacket: the listening socket, else -1 */
	uv_timer_t pause; /* seqpacket: accept failed (EMFILE): retry later */
	bool pause_init;
	int closing; /* seqpacket: handles still closing */
	char bound[160]; /* the address actually bound (tcp port 0) */
};

/* A seqpacket connection's socket side (bridge_dgram.c). */
struct bdgram;

struct bconn {
	struct vmsgd *d;
	struct bconn *next; /* d->bconns */
	struct channel *c;  /* NULL once detached */
	const struct bsock_ops *ops;
	bool in;            /* listen bridge: the socket is the consumer */
	uint16_t guest;     /* the domain at the channel's other end */
	vmsg_chan *ch;
	uv_poll_t poll;
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} u;
	struct bdgram *dg;  /* seqpacket */
	uv_connect_t creq;
	uv_shutdown_t sreq;
	uv_timer_t linger; /* started at the socket's EOF */
	uv_timer_t flush;  /* bounds the flush after the guest's close */
	int handles;
	bool poll_init, sock_init, linger_init, flush_init;
	bool cut;          /* the flush limit passed: drop what is left */
	bool chan_ready;  /* connected (in) / served (out) */
	bool accepted;    /* out: the guest has connected */
	bool sock_ok;     /* accepted / connected */
	bool reading, sock_eof, sock_err, closing;
	bool in_stalled, out_stalled;
	size_t inlen, inoff; /* socket bytes not yet in the ring */
	size_t wq;           /* memory the uv_write queue holds: payloads
				and their requests */
	uint64_t sock_rx, sock_tx, in_chunks, out_chunks;
	uint64_t in_stalls, out_stalls;
	struct vmsg_chan_stats last; /* the channel end's, once it is closed */
	/* Its guest's data it holds (bridge_queued's bytes), in the guest's
	 * total (bounds.c): joined with its channel, synced after each turn
	 * that may change it, left when c->bconn no longer points here.
	 * acct.held: out_stalled by the guest's max_queued_bytes. */
	struct guest_end acct;
	char inbuf[CHUNK];
};

/* Shared by the socket sides (bridge.c). */
/* End the connection: the channel ends (logged with why), the socket is
 * closed (flushed when it may be). */
void bridge_end(struct bconn *b, const char *why);
/* The socket said EOF: it sends no more; linger for the guest's last
 * words. */
void bridge_sock_eof(struct bconn *b);
/* The guest still sends: restart the linger after EOF, if running. */
void bridge_guest_talks(struct bconn *b);
/* The socket took what was queued after close() (or failed to): close
 * it and the flush timer. */
void bridge_flushed(struct bconn *b);
/* A connect bridge's socket is connected (status 0) or not (-errno). */
void bridge_connected(struct bconn *b, int status);
/* A listen bridge accepted a connection b (socket set up, sock_ok) from
 * `peer`: open the guest's service for it, or close it. */
void bridge_accepted(struct listener *l, struct bconn *b, const char *peer);
struct bconn *bridge_conn_new(struct vmsgd *d, bool in,
			      const struct bsock_ops *ops);
/* Close b before it was attached to a channel. */
void bridge_conn_close(struct bconn *b);
/* uv_close callback of every handle of b. */
void bridge_handle_closed(uv_handle_t *h);
/* The end of the channel's words: "the guest closed the channel" for
 * -EPIPE, else "the channel broke". */
const char *bridge_chan_why(int e);

/* Serve the guest's end of a connect bridge's channel c and start
 * connecting br's socket with `ops` (bridges.c picks them). 0, or -errno
 * with why (the broker fails c, which detaches what was made). */
int bridge_out_serve(struct vmsgd *d, struct channel *c,
		     const struct policy_bridge *br,
		     const struct bsock_ops *ops, char *why, size_t cap);
/* Set up b's stream socket handle (uv_tcp or uv_pipe). */
void bridge_sock_init(struct bconn *b, bool tcp);
/* vmsgd stops: end every bridged channel, cut the flushes. */
void bridge_conns_stop(struct vmsgd *d);
/* The hooks of struct transport both bridge transports share (broker.h
 * says what each does). */
bool bridge_waiting(const struct channel *c);
bool bridge_detach(struct channel *c);
void bridge_guest_closed(struct channel *c);
uint64_t bridge_queued(const struct channel *c, uint16_t domid,
		       enum guest_pool pool);
/* b joins its guest's total of queued bytes (once c->bconn is b): 0 or
 * -ENOMEM. */
int bridge_join(struct bconn *b);
/* What b holds may have changed: report it (bounds.c). */
void bridge_account(struct bconn *b);
bool bridge_counters(const struct channel *c, struct chan_counters *k);

/* bridge_dgram.c: a seqpacket listener on l->b.path (the stale-socket
 * rule of unix: listeners), and its close. */
int bridge_dgram_listen(struct listener *l);
void bridge_dgram_unlisten(struct listener *l);

#endif
