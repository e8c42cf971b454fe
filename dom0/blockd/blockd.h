/* vmsg-blockd: a disk offered as a vmsg block service (docs/block.md,
 * docs/storage.md). One thread: a poll loop over the channels, the disk
 * backend's descriptor and the way consumers arrive (a host-backend path,
 * vmsgd, direct Xen channels).
 *
 * The disk is one of two backends behind struct backend_ops, with the
 * conns' protocol code (conn.c) shared: an image file or block device
 * through io_uring (file.c), or an NBD server through libnbd's
 * asynchronous API (nbd.c). */
#ifndef BLOCKD_H
#define BLOCKD_H

#include <stdbool.h>
#include <stdint.h>

#include <vmsg/block.h>
#include <vmsg/chan.h>

#include "vmsg_partial.h"

struct blockd;

/* One request on its way through the disk and back. buf holds
 * VMSG_BLK_REPLY_HDR bytes of room for the reply's header, then the data:
 * a READ's reply is sent from it as one message, without a copy. */
struct bio {
	struct conn *conn;
	struct vmsg_blk_request rq; /* rq.data is not kept (released) */
	int32_t status;
	uint32_t done;      /* bytes read/written so far (short transfers) */
	bool nbd_pending;   /* nbd.c: issued, its completion not yet seen */
	bool pooled;        /* buf is of the pool's size (conn.c) */
	/* The memory this request holds, counted in its conn's held: the
	 * struct, and buf when it is not hdr below (bio_held) */
	uint32_t held;
	struct bio *next;   /* a conn's reply queue, or the backlog */
	uint8_t *buf;       /* hdr below for a request without data */
	uint8_t hdr[VMSG_BLK_REPLY_HDR];
};

/* One consumer's channel. */
struct conn {
	struct blockd *d;
	vmsg_chan *c;
	vmsg_blk_server *srv;
	void *srv_mem;
	uint32_t id;        /* for the log */
	uint16_t domid;     /* service and --xen modes; 0 in host mode */
	void *owner;        /* the --xen listener it came from (main.c), or NULL */
	bool hello;
	bool closing;       /* the channel ended: free once inflight is 0 */
	bool more;          /* requests left unread at the step's budget:
			     * look again without sleeping (conn.c) */
	bool parked;        /* stopped at --max-buffered-total, under its
			     * own --max-buffered (conn.c) */
	bool partial_timeout; /* ended by --partial-timeout (end: -ETIMEDOUT) */
	int end;            /* why it ended (-EPIPE, -EPROTO, ...) */
	uint64_t held;      /* what its requests hold now (their bios' held) */
	/* Its channel's reassembly buffer, as vmsg_chan_rx_kept last said
	 * (conn.c: counted with held), and when it last read a request (the
	 * buffer is freed after a while without one) */
	size_t kept;
	uint64_t last_ms;
	/* How long a request has stayed incomplete in it while we would
	 * read the rest (--partial-timeout, conn.c) */
	struct vmsg__partial_watch partial;
	unsigned inflight;  /* bios the backend still holds */
	struct bio *rq_head, *rq_tail; /* replies waiting to be sent */
	uint64_t requests, bytes;
	unsigned unsent;    /* requests read since replies were last sent */
	/* The id last answered straight into the ring (conn.c's
	 * reply_now), until a call that may publish its reply: still
	 * outstanding, as the consumer cannot have seen the reply */
	bool unpub;
	uint64_t unpub_id;
	struct conn *next;
};

/* A disk backend. Each bio given to start ends with exactly one
 * bio_done, from start itself or from a later step. */
struct backend_ops {
	/* Begin b's operation (its buffer stays b's until bio_done). */
	void (*start)(struct blockd *d, struct bio *b);
	/* Optional: read h's whole range into dst now, without waiting for
	 * the disk (a page-cached file), or return false having read
	 * nothing useful (dst's bytes are then garbage). conn.c reads a
	 * READ's data straight into its reply's frame this way. */
	bool (*read_into)(struct blockd *d, const struct vmsg_blk_req_hdr *h,
			  void *dst);
	/* Reap what has completed and move I/O on, without waiting. */
	void (*step)(struct blockd *d);
	/* Hand what start prepared to the disk (the end of a step). */
	void (*submit)(struct blockd *d);
	/* The descriptor and poll events that mean work for step, or -1
	 * (nothing to wait for). */
	int (*poll_fd)(struct blockd *d, short *events);
	/* Optional: in how many ms step must run even if the descriptor
	 * stays quiet (a deadline of its own), or -1 for none. */
	int (*due_ms)(struct blockd *d);
	void (*fini)(struct blockd *d);
};

struct blockd {
	const struct backend_ops *be;
	struct vmsg_blk_info info;
	/* The backend's own state (file.c's struct file_disk, nbd.c's struct
	 * nbd_disk), made by its open and freed by its fini: none of it is
	 * conn.c's, which builds without liburing and libnbd (fuzz/blockd.c
	 * gives it a backend of its own). */
	void *be_state;
	uint32_t nbd_timeout_ms; /* --nbd-timeout (nbd.c; 0: never) */
	struct conn *conns;
	unsigned nconns, max_conns;
	/* --max-buffered: a conn whose requests and reassembly buffer hold
	 * this many bytes (held + kept) reads no more requests until replies
	 * free some, unless its requests hold nothing (conn.c) */
	uint64_t max_held;
	/* --max-buffered-total: the same for all conns together (held_total
	 * is the sum of their held + kept); past it, a conn reads on only
	 * while its requests hold nothing, so each gets one request at a
	 * time, and idle reassembly buffers are freed (conn.c) */
	uint64_t max_held_total, held_total;
	bool parked;            /* some conn is parked (conn.c) */
	/* --partial-timeout: a conn whose request stays incomplete this
	 * long, while it may send the rest, is ended (conn.c; 0: never) */
	uint32_t partial_ms;
	uint64_t now_ms;        /* the clock blockd_step was given */
	uint32_t next_id;
	bool quiet;
	/* --spin-us: after a request read or a reply sent, keep looking for
	 * this long without sleeping (0: sleep at once) */
	uint64_t spin_ns;
	uint64_t moved;         /* requests read and replies sent, ever */
	struct bio *pool;       /* bios to reuse (conn.c) */
	unsigned npool;
};

/* A request with data of at most this many bytes (and at most --max-req)
 * gets a buffer of the pool's (conn.c). */
#define BLOCKD_POOL_DATA (64u * 1024u)

/* The data bytes of a pooled buffer: BLOCKD_POOL_DATA, or --max-req where
 * that is less (no request needs more). */
static inline uint32_t blockd_pool_data(const struct blockd *d)
{
	return d->info.max_req < BLOCKD_POOL_DATA ? d->info.max_req
						  : BLOCKD_POOL_DATA;
}

/* The memory a request with `data` bytes of data (0: an operation
 * without data, or one answered with an error at once) holds in
 * vmsg-blockd: its struct bio, and a buffer for the reply's header and
 * the data, a pooled one for up to blockd_pool_data(d) bytes. What
 * --max-buffered and --max-buffered-total count (struct bio's held). */
static inline uint32_t bio_held(const struct blockd *d, uint32_t data)
{
	uint32_t pd = blockd_pool_data(d);
	return (uint32_t)sizeof(struct bio) +
	       (data ? VMSG_BLK_REPLY_HDR + (data < pd ? pd : data) : 0);
}

/* Take over an open channel as a new consumer (the channel becomes the
 * conn's; closed by conn_free). multi_conn: others may come at the same
 * address at once (a host path, a service), so INFO says MULTI_CONN: every
 * consumer is served from the one backend, whose FLUSH covers them all.
 * Returns 0 or -ENOMEM / -EUSERS. */
int conn_add(struct blockd *d, vmsg_chan *c, uint16_t domid, bool multi_conn);

/* Do all the work there is on every conn without waiting: read requests,
 * start their I/O, reap completions, send replies; free ended conns whose
 * I/O has drained (calling close_cb for each), and idle reassembly
 * buffers; end conns whose request stayed incomplete for --partial-timeout
 * (partial_timeout set, freed at the next step). now_ms: a monotonic clock in ms (main.c's CLOCK_MONOTONIC; the
 * fuzz harness's own). */
void blockd_step(struct blockd *d, uint64_t now_ms,
		 void (*close_cb)(struct blockd *d, struct conn *k));

/* In how many ms blockd_step must run again, at the latest, to free a
 * reassembly buffer gone idle or to end a conn at --partial-timeout, or
 * -1 (neither due). */
int blockd_due_ms(const struct blockd *d, uint64_t now_ms);

/* Free the bios kept for reuse (at exit). */
void blockd_pool_free(struct blockd *d);

/* A backend's end of bio b: queue its reply with status (0 or -errno). */
void bio_done(struct bio *b, int32_t status);

/* The file backend: open image (regular file or block device; read-only
 * if ro), fill d->info's size, block sizes and flags for block size bs,
 * set up io_uring. Returns 0, or -1 with the reason printed. */
int file_backend_open(struct blockd *d, const char *image, bool ro,
		      uint32_t bs);

/* The nbd backend: connect to the NBD server at uri (an NBD URI as
 * nbd_connect_uri takes it) and fill d->info from what the server offers
 * (size, block sizes, read-only, flush, FUA, trim, zero); the logical
 * block is at least bs, requests at most d->info.max_req (set before).
 * A server not yet there (no socket, connection refused) is tried again
 * for up to wait_ms. Returns 0, or -1 with the reason printed. */
int nbd_backend_open(struct blockd *d, const char *uri, bool ro,
		     uint32_t bs, uint32_t wait_ms);

#define LOG(d, ...)                                                  \
	do {                                                         \
		if (!(d)->quiet) {                                   \
			fprintf(stderr, "vmsg-blockd: " __VA_ARGS__);  \
			fputc('\n', stderr);                         \
		}                                                    \
	} while (0)

#endif
