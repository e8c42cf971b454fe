/* Fuzz target: vmsg-blockd's request path (dom0/blockd/conn.c, unchanged:
 * conn_add, blockd_step, bio_done) against hostile consumers, each the
 * fuzz input on an in-memory channel (fuzz_peer.h), over a RAM disk that
 * stands in for the file and nbd backends (struct backend_ops): it
 * completes a request at once or holds it for a later step, as the input
 * says, so completions come out of order and while channels end; and it
 * reads some READs straight into their replies' frames (read_into), or
 * refuses after scribbling on the frame, which is then dropped unsent.
 *
 * Input: a configuration, then operations.
 *   [blocks: 1] disk of 1 + blocks % 64 blocks of 512 bytes
 *   [flags: 1]  INFO flags (READ_ONLY, FLUSH, FUA, TRIM, WRITE_ZEROES);
 *               bit 7: conns are added as multi_conn
 *   [depth: 1]  the most the daemon grants, 1 + depth % 128
 *   [max_req: 1] likewise, 512 * (1 + max_req % 16) bytes
 *   [held: 1]   --max-buffered, 512 * (1 + held) bytes, and
 *               --max-buffered-total the same: one conn meets its own
 *               bound first, two or three meet the total
 *   [conns: 1]  --max-conns, 1 + conns % 3
 *   [orders: 1] the channels' ring orders (fuzz_peer_orders)
 *   [fail: 1]   the RAM disk fails (-EIO) a request whose id % 8 is a set
 *               bit of this
 * Operations, [op: 1] % 9 then:
 *   0 a consumer comes (conn_add)
 *   1 HELLO [slot][variant][depth][max_req]: valid, bad magic, bad
 *     version, bad size, depth 0, max_req below a block
 *   2 REQ [slot][id][op][flags][offset: 2][length: 2][tweak]: any
 *     operation, offset, length, flags, ids from a small set (duplicates)
 *     or any 64 bits; tweak makes offset or length unaligned or the
 *     message's size wrong
 *   3 any message [slot][type: 2][len: 2][bytes]
 *   4 the consumer reads the replies in its ring [slot]
 *   5 a step of the daemon [n][pick][at_once]: the disk first completes
 *     n of the requests it holds, in an order pick chooses; the requests
 *     it starts in the step it completes at once or holds by the bits of
 *     at_once, in turn (kept for the steps that follow)
 *   6 the consumer closes [slot]
 *   7 a flood [slot][n][kind]: n requests with fresh ids (READs, or
 *     requests the daemon answers at once)
 *   8 settle: the consumers read everything and the disk completes all it
 *     holds, step after step, until nothing moves
 *
 * Checked, besides sanitizers and leaks (everything is freed after each
 * input: the consumers close at the end and every conn must go):
 *  - every message a consumer gets is INFO once, after its HELLO, granting
 *    what docs/block.md says (min of both sides), or a REPLY to a request
 *    it sent and has not had answered (the oldest one with that id), with
 *    the status docs/block.md gives such a request (or the disk's) and a
 *    length of the request's (READ, status 0) or 0;
 *  - a READ answered 0 carries the disk's bytes as the acknowledged writes
 *    left them, where no write to its range was outstanding meanwhile;
 *  - the disk is given only requests that passed the checks, never more
 *    at once per conn than its granted depth (with the replies queued);
 *    each request holds what bio_held says for its data (its struct,
 *    and the pool's buffer whole, one of its own size, or none without
 *    data); k->held is the sum of its
 *    requests', under --max-buffered + one request of max_req, 0 with
 *    none; k->kept is what vmsg_chan_rx_kept says of its channel, and
 *    held + kept is under --max-buffered + one request and one
 *    reassembly buffer; d->held_total is the sum of the conns' held +
 *    kept, under --max-buffered-total + one request and one reassembly
 *    buffer per conn; a reassembly buffer left after a step is one
 *    still collecting a message, or one of a live conn that read a
 *    request within the last second (of the harness's clock: each step
 *    100 ms later) while the daemon is under the total; at most 64
 *    requests read per conn per step;
 *  - after each step, a conn that may read on (its requests holding
 *    nothing, or under --max-buffered with its reassembly buffer and
 *    under --max-buffered-total; not at its budget: k->more) has no whole
 *    request left unread in its ring: main.c would sleep, and nothing
 *    would wake it for them (a conn parked at the total when others freed
 *    under it included, or one whose reassembly buffer was freed);
 *  - after each step, a conn that may read on and has had a request
 *    incomplete in its channel at every step end for a second (the
 *    --partial-timeout given, PARTIAL_MS), no request completed
 *    meanwhile, is ended (-ETIMEDOUT), and no other conn is ended so;
 *  - after a settle, a conn whose consumer closed or sent what breaks the
 *    protocol (docs/block.md, "Bad input"), or was ended so, is gone, and one that did
 *    neither is still there with every request answered (others are
 *    served whatever one of them does);
 *  - conn_add refuses past --max-conns, and only then. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/block.h>

#include "blk_oracle.h"
#include "blockd.h"
#include "fuzz_peer.h"

#define LB 512u
#define MAX_BLOCKS 64u
#define MAX_REQ_MAX (16u * LB)
#define NSLOT 3u
#define MAXQ 512u       /* requests a consumer has outstanding, at most */
#define MAX_DEPTH 128u  /* the most the daemon grants (the input's depth) */
#define MAX_HELD (NSLOT * MAX_DEPTH) /* bios the disk may hold at once */
/* conn.c's READ_BUDGET: requests read from one conn in one step. */
#define READ_BUDGET 64u
/* Steps a settle may take: a reply goes out at most a ring (1 KiB at the
 * least) per step, and MAXQ replies of MAX_REQ_MAX take 4096 of them. */
#define SETTLE_ROUNDS 10000


struct ent {
	uint64_t id;
	uint64_t off;
	uint32_t len;
	uint16_t op, flags;
	uint8_t errs;   /* acceptable errors; 0: the disk's status */
	bool tainted;   /* a write to its range was outstanding meanwhile */
	bool raw;       /* a WRITE of the input's bytes: not kept */
	uint32_t seq;   /* a WRITE's data: pattern(seq, i) */
};

struct slot {
	bool used;        /* fp set up (fini at the end) */
	bool open;        /* a conn of the daemon, not yet freed */
	bool freed;
	bool refused;     /* conn_add said no */
	bool peer_closed;
	bool broken;      /* sent something that surely breaks the protocol */
	bool expired;     /* its conn ended at --partial-timeout */
	/* The model of that: since when (g.now_ms; 0: not) a request has
	 * been incomplete in its channel, read on (rx_msgs) no further */
	uint64_t psince, pmsgs;
	bool maybe;       /* sent something that may (timing decides) */
	int hello;        /* 0 none, 1 valid, 2 one whose fate is open */
	bool info;        /* INFO received */
	uint32_t gdepth, gmax; /* what the valid HELLO must be granted */
	struct fuzz_peer fp;
	vmsg_chan *c;
	struct conn *k;
	uint64_t prev_requests;
	struct ent q[MAXQ];
	unsigned nq;
	struct vmsg_reasm ra;
	uint8_t rbuf[VMSG_BLK_REPLY_HDR + MAX_REQ_MAX + 64];
};

static struct {
	struct blockd d;
	struct slot s[NSLOT];
	uint8_t ram[MAX_BLOCKS * LB];
	uint8_t shadow[MAX_BLOCKS * LB]; /* as acknowledged writes left it */
	bool uncertain[MAX_BLOCKS];      /* a write never acknowledged */
	struct bio *held[MAX_HELD];
	unsigned nheld;
	uint8_t fail;
	uint8_t orders;
	bool multi;
	unsigned complete_n; /* the next step completes this many, */
	uint8_t pick;        /* picked by this */
	bool complete_all;
	uint8_t at_once;     /* the n-th start completes at once: bit n % 8 */
	unsigned started;
	unsigned into_asked; /* read_into calls, every other one refused */
	uint64_t frames;     /* frames the consumers took */
	uint32_t seq;
	uint64_t next_id;
	/* The clock blockd_step is given: each step is STEP_MS later, so
	 * reassembly buffers go idle within a run (conn.c's KEPT_IDLE_MS). */
	uint64_t now_ms;
} g;

#define STEP_MS 100u
/* conn.c's KEPT_IDLE_MS: a conn that read no request for this long has
 * its reassembly buffer freed at the end of a step. */
#define KEPT_IDLE_MS 1000u
/* --partial-timeout: ten steps (30 s would be 300, more than most inputs
 * take). */
#define PARTIAL_MS 1000u

static uint8_t msg[VMSG_BLK_REQ_HDR + 65536 + 64];

static uint8_t pattern(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static struct slot *slot_of(const struct conn *k)
{
	for (unsigned i = 0; i < NSLOT; i++)
		if (g.s[i].open && g.s[i].k == k)
			return &g.s[i];
	return NULL;
}

static bool write_like(uint16_t op)
{
	return op == VMSG_BLK_OP_WRITE || op == VMSG_BLK_OP_TRIM ||
	       op == VMSG_BLK_OP_WRITE_ZEROES;
}

static bool overlaps(const struct ent *a, const struct ent *b)
{
	return a->off < b->off + b->len && b->off < a->off + a->len;
}

static int32_t disk_status(uint64_t id)
{
	return (g.fail >> (id & 7)) & 1 ? -EIO : 0;
}

/* ---- the RAM disk --------------------------------------------------- */

/* What b holds: its struct, a buffer of the pool's size for a READ or
 * WRITE that passed the checks with up to that much data, one of its own
 * size for a larger one, none for the rest (checked against conn.c's
 * accounts of it). */
static uint32_t held_of(const struct bio *b)
{
	bool data = b->rq.status == 0 && (b->rq.h.op == VMSG_BLK_OP_READ ||
					  b->rq.h.op == VMSG_BLK_OP_WRITE);
	uint32_t pool = g.d.info.max_req < BLOCKD_POOL_DATA ? g.d.info.max_req
							   : BLOCKD_POOL_DATA;
	uint32_t len = b->rq.h.length;
	uint32_t want = (uint32_t)sizeof(struct bio) +
			(data ? VMSG_BLK_REPLY_HDR + (len < pool ? pool : len) : 0);
	CHECK(b->held == want);
	CHECK(b->pooled == (data && len <= pool));
	return b->held;
}

/* The most one request may hold (one of max_req), and one reassembly
 * buffer (the channel's max_msg, as op_open sets it). */
static uint64_t most_request(void)
{
	return bio_held(&g.d, g.d.info.max_req);
}

static uint64_t most_kept(void)
{
	return (uint64_t)g.d.info.max_req + 64u;
}

/* The bios of k: those the disk holds, and the replies conn.c queued.
 * Returns how many; *data gets the bytes they hold (held_of). */
static unsigned bios_of(const struct conn *k, uint64_t *data)
{
	unsigned n = 0;
	*data = 0;
	for (unsigned i = 0; i < g.nheld; i++) {
		const struct bio *b = g.held[i];
		if (b->conn != k)
			continue;
		n++;
		*data += held_of(b);
	}
	unsigned q = 0;
	for (const struct bio *b = k->rq_head; b; b = b->next) {
		CHECK(++q <= VMSG_BLK_MAX_DEPTH);
		n++;
		*data += held_of(b);
	}
	return n;
}

/* conn.c's accounts of k against what is there. */
static void check_conn(const struct conn *k)
{
	uint64_t data;
	unsigned n = bios_of(k, &data);
	const struct vmsg_blk_info *gi = vmsg_blk_server_info(k->srv);
	unsigned inflight = 0;
	for (unsigned i = 0; i < g.nheld; i++)
		inflight += g.held[i]->conn == k;
	CHECK(k->inflight == inflight);
	if (!gi) {
		CHECK(n == 0 && k->held == 0);
		return;
	}
	CHECK(n <= gi->depth);
	CHECK(k->held == data);
	CHECK(k->held < g.d.max_held + most_request());
	CHECK(k->held + k->kept < g.d.max_held + most_request() + most_kept());
	if (n == 0)
		CHECK(k->held == 0);
}

static void ram_do(struct bio *b, int32_t status)
{
	const struct vmsg_blk_req_hdr *h = &b->rq.h;
	uint8_t *data = b->buf + VMSG_BLK_REPLY_HDR;
	if (status == 0) {
		switch (h->op) {
		case VMSG_BLK_OP_READ:
			memcpy(data, g.ram + h->offset, h->length);
			break;
		case VMSG_BLK_OP_WRITE:
			memcpy(g.ram + h->offset, data, h->length);
			break;
		case VMSG_BLK_OP_TRIM:
		case VMSG_BLK_OP_WRITE_ZEROES:
			memset(g.ram + h->offset, 0, h->length);
			break;
		}
	}
	bio_done(b, status);
}

static void ram_start(struct blockd *d, struct bio *b)
{
	const struct vmsg_blk_req_hdr *h = &b->rq.h;
	struct slot *s = slot_of(b->conn);
	const struct vmsg_blk_info *gi = vmsg_blk_server_info(b->conn->srv);
	(void)d;
	/* Only requests that passed the checks reach the disk. */
	CHECK(s && gi && !b->conn->closing && b->rq.status == 0);
	switch (h->op) {
	case VMSG_BLK_OP_FLUSH:
		CHECK(gi->flags & VMSG_BLK_F_FLUSH);
		CHECK(h->offset == 0 && h->length == 0 && h->flags == 0);
		break;
	case VMSG_BLK_OP_READ:
	case VMSG_BLK_OP_WRITE:
	case VMSG_BLK_OP_TRIM:
	case VMSG_BLK_OP_WRITE_ZEROES:
		CHECK(h->op == VMSG_BLK_OP_READ ||
		      !(gi->flags & VMSG_BLK_F_READ_ONLY));
		CHECK(h->length && h->length % LB == 0 && h->offset % LB == 0);
		CHECK(h->length <= gi->max_req);
		CHECK(h->offset <= gi->size && h->length <= gi->size - h->offset);
		(void)held_of(b);
		break;
	default:
		CHECK(!"an operation the helper refuses");
	}
	CHECK(g.nheld < MAX_HELD);
	g.held[g.nheld++] = b;
	/* At most the granted depth at once, queued replies included. */
	uint64_t data;
	CHECK(bios_of(b->conn, &data) <= gi->depth);
	if (g.at_once >> (g.started++ % 8) & 1) {
		g.held[--g.nheld] = NULL;
		ram_do(b, disk_status(h->id));
	}
}

/* Complete what the plan says, in the order the input picks. */
static void ram_step(struct blockd *d)
{
	(void)d;
	unsigned n = g.complete_all ? g.nheld : g.complete_n;
	g.complete_n = 0;
	for (unsigned j = 0; j < n && g.nheld; j++) {
		unsigned i = g.complete_all ? 0 : (g.pick + j * 37u) % g.nheld;
		struct bio *b = g.held[i];
		g.held[i] = g.held[--g.nheld];
		ram_do(b, disk_status(b->rq.h.id));
	}
}

static void ram_submit(struct blockd *d)
{
	(void)d;
}

static int ram_poll_fd(struct blockd *d, short *events)
{
	(void)d;
	*events = 0;
	return -1;
}

static void ram_fini(struct blockd *d)
{
	(void)d;
}

/* backend_ops.read_into: a READ whose turn (the at_once bits, as for a
 * start) says "at once" and that the disk does not fail is read here,
 * into its reply's frame in the ring, every other time it is asked; when
 * it says no it scribbles on dst first: the frame is dropped unsent
 * (vmsg_chan_unreserve), and a consumer that saw it would find a reply
 * that is not the disk's. */
static bool ram_read_into(struct blockd *d, const struct vmsg_blk_req_hdr *h,
			  void *dst)
{
	/* Only READs that passed the checks, as for a start. */
	CHECK(h->op == VMSG_BLK_OP_READ);
	CHECK(h->length && h->length % LB == 0 && h->offset % LB == 0);
	CHECK(h->offset <= d->info.size &&
	      h->length <= d->info.size - h->offset);
	if ((g.into_asked++ & 1) || !(g.at_once >> (g.started % 8) & 1) ||
	    disk_status(h->id) != 0) {
		memset(dst, 0xa5, h->length);
		return false;
	}
	g.started++;
	memcpy(dst, g.ram + h->offset, h->length);
	return true;
}

static const struct backend_ops ram_ops = {
	.start = ram_start,
	.read_into = ram_read_into,
	.step = ram_step,
	.submit = ram_submit,
	.poll_fd = ram_poll_fd,
	.fini = ram_fini,
};

/* ---- the consumers' side ------------------------------------------- */

static void mark_uncertain(const struct ent *e)
{
	for (uint64_t b = e->off / LB; b < (e->off + e->len + LB - 1) / LB &&
					b < MAX_BLOCKS; b++)
		g.uncertain[b] = true;
}

static void got_reply(struct slot *s, const uint8_t *p, size_t len)
{
	CHECK(len >= VMSG_BLK_REPLY_HDR);
	uint64_t id = 0;
	for (int i = 7; i >= 0; i--)
		id = id << 8 | p[i];
	int32_t status = (int32_t)((uint32_t)p[8] | (uint32_t)p[9] << 8 |
				   (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24);
	uint32_t dlen = (uint32_t)p[12] | (uint32_t)p[13] << 8 |
			(uint32_t)p[14] << 16 | (uint32_t)p[15] << 24;
	/* A reply to a request sent and not yet answered: the oldest with
	 * that id (the daemon took a second one only once the first's reply
	 * was in the ring). */
	unsigned i = 0;
	while (i < s->nq && s->q[i].id != id)
		i++;
	CHECK(i < s->nq);
	struct ent e = s->q[i];
	memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof(s->q[0]));
	s->nq--;
	CHECK(status <= 0 && status >= -4095);
	if (e.errs) {
		CHECK(blk_oracle_match(e.errs, status));
	} else {
		CHECK(status == disk_status(e.id));
	}
	bool data = status == 0 && e.op == VMSG_BLK_OP_READ;
	CHECK(dlen == (data ? e.len : 0));
	CHECK(len == VMSG_BLK_REPLY_HDR + (size_t)dlen);
	if (data && !e.tainted)
		CHECK(memcmp(p + VMSG_BLK_REPLY_HDR, g.shadow + e.off, e.len) == 0);
	if (status == 0 && e.op == VMSG_BLK_OP_WRITE && e.raw)
		mark_uncertain(&e);
	else if (status == 0 && e.op == VMSG_BLK_OP_WRITE)
		for (uint32_t j = 0; j < e.len; j++)
			g.shadow[e.off + j] = pattern(e.seq, j);
	if (status == 0 && (e.op == VMSG_BLK_OP_TRIM ||
			    e.op == VMSG_BLK_OP_WRITE_ZEROES))
		memset(g.shadow + e.off, 0, e.len);
}

static void got_info(struct slot *s, const uint8_t *p, size_t len)
{
	CHECK(s->hello && !s->info && len == VMSG_BLK_INFO_SIZE);
	s->info = true;
	uint32_t w[10];
	for (unsigned i = 0; i < 10; i++)
		w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	CHECK(w[0] == VMSG_BLK_MAGIC && w[1] == VMSG_BLK_VERSION);
	CHECK(((uint64_t)w[3] << 32 | w[2]) == g.d.info.size);
	CHECK(w[4] == LB && w[5] == g.d.info.physical_block);
	CHECK(w[8] == (g.d.info.flags | (g.multi ? VMSG_BLK_F_MULTI_CONN : 0)));
	if (s->hello == 1)
		CHECK(w[6] == s->gmax && w[7] == s->gdepth);
	/* The model for a HELLO whose fate was open: what was granted. */
	s->gmax = w[6];
	s->gdepth = w[7];
}

/* Read and check everything the daemon sent s. */
static void take_replies(struct slot *s)
{
	struct vmsg_frame f;
	int r;
	if (!s->used)
		return;
	for (unsigned n = 0; n < 100000 && (r = vmsg_frame_peek(&s->fp.end, &f)) != 0; n++) {
		CHECK(r == 1);
		r = vmsg_reasm_feed(&s->ra, &f);
		CHECK(r >= 0);
		(void)vmsg_frame_release(&s->fp.end, &f);
		g.frames++;
		if (r == 1 && s->ra.type == VMSG_TYPE_BLK_INFO) {
			got_info(s, s->ra.buf, s->ra.len);
		} else if (r == 1) {
			CHECK(s->ra.type == VMSG_TYPE_BLK_REPLY && s->info);
			got_reply(s, s->ra.buf, s->ra.len);
		}
	}
}

/* The daemon freed s's conn. */
static void on_close(struct blockd *d, struct conn *k)
{
	struct slot *s = slot_of(k);
	(void)d;
	CHECK(s);
	CHECK(k->closing && k->inflight == 0 && !k->rq_head && k->held == 0);
	for (unsigned i = 0; i < g.nheld; i++)
		CHECK(g.held[i]->conn != k);
	vmsg_chan_close(k->c);
	/* What it sent before it closed is still for the consumer. */
	if (!s->peer_closed)
		take_replies(s);
	/* Writes it never answered may or may not have been done. */
	for (unsigned i = 0; i < s->nq; i++)
		if (write_like(s->q[i].op) && !s->q[i].errs)
			mark_uncertain(&s->q[i]);
	s->nq = 0;
	s->open = false;
	s->freed = true;
	s->k = NULL;
	s->c = NULL;
}

/* After a step, --partial-timeout (conn.c's partial_check): a conn that
 * may read (may: conn.c's may_buffer) and has had a request incomplete
 * in its channel, no request completed meanwhile, at every step end for
 * PARTIAL_MS is ended by this step (closing, partial_timeout), and no
 * other conn is. A conn ended otherwise is not timed. */
static void check_partial(struct slot *s, bool may)
{
	struct conn *k = s->k;
	if (s->expired)
		return; /* ended: freed once its I/O is done */
	if (k->closing && !k->partial_timeout) {
		s->psince = 0;
		return;
	}
	struct vmsg_chan_stats st;
	CHECK(vmsg_chan_stats(k->c, &st) == 0);
	if (!may || vmsg_chan_rx_partial(k->c, NULL) != 1) {
		s->psince = 0;
	} else if (!s->psince || st.rx_msgs != s->pmsgs) {
		s->psince = g.now_ms;
		s->pmsgs = st.rx_msgs;
	}
	bool due = s->psince && g.now_ms - s->psince >= PARTIAL_MS;
	CHECK(due == k->partial_timeout);
	CHECK(!due || (k->closing && k->end == -ETIMEDOUT));
	/* Nothing it sends now is read: as a break of the protocol. */
	if (due)
		s->expired = s->broken = true;
}

static void step(void)
{
	unsigned pends[NSLOT];
	for (unsigned i = 0; i < NSLOT; i++)
		pends[i] = g.s[i].fp.pends;
	g.now_ms += STEP_MS;
	blockd_step(&g.d, g.now_ms, on_close);
	uint64_t total = 0;
	unsigned nconns = 0;
	for (const struct conn *k = g.d.conns; k; k = k->next, nconns++) {
		size_t kept;
		CHECK(vmsg_chan_rx_kept(k->c, false, &kept) == 0);
		CHECK(k->kept == kept);
		total += k->held + k->kept;
	}
	/* A reassembly buffer left after a step is one still collecting a
	 * message, or one of a conn alive that read a request less than
	 * KEPT_IDLE_MS ago while the daemon is under the total (the trims
	 * only lower held_total: at the total now, it was at the trims). */
	for (const struct conn *k = g.d.conns; k; k = k->next)
		CHECK(k->kept == 0 || vmsg_chan_rx_partial(k->c, NULL) == 1 ||
		      (!k->closing && total < g.d.max_held_total &&
		       g.now_ms - k->last_ms < KEPT_IDLE_MS));
	CHECK(g.d.held_total == total);
	CHECK(total < g.d.max_held_total +
		      (uint64_t)nconns * (most_request() + most_kept()));
	for (unsigned i = 0; i < NSLOT; i++) {
		struct slot *s = &g.s[i];
		if (!s->open)
			continue;
		struct conn *k = s->k;
		CHECK(k->requests - s->prev_requests <= READ_BUDGET);
		s->prev_requests = k->requests;
		check_conn(k);
		/* main.c sleeps after a step unless a conn says more. One
		 * that may read (conn.c's may_buffer) and leaves whole
		 * messages unread in its ring would not be woken for them:
		 * the consumer's kick for them came before (or never will,
		 * when it waits for replies), and no event of the channel's
		 * own is pending (fp.pends: the library's budget). */
		const struct vmsg_vchan_page *pg = s->fp.page;
		bool may = k->held == 0 ||
			   (k->held + k->kept < g.d.max_held &&
			    g.d.held_total < g.d.max_held_total);
		if (!k->closing && !k->more && may &&
		    !s->fp.frag_busy && s->fp.pends == pends[i])
			CHECK(pg->right.prod == pg->right.cons);
		check_partial(s, may);
	}
	for (unsigned i = 0; i < g.nheld; i++)
		CHECK(slot_of(g.held[i]->conn));
}

/* Send one message from s; false when it could not go (the previous one
 * is still in parts, or s is closed). */
static bool send(struct slot *s, uint16_t type, const uint8_t *p, size_t n)
{
	if (!s->used || s->peer_closed || fuzz_peer_pump(&s->fp) != 1)
		return false;
	return fuzz_peer_send(&s->fp, type, p, n) >= 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* What the model expects of a message s sent; a WRITE's data is
 * pattern(seq, i), or the input's bytes when seq is 0. */
static void model(struct slot *s, uint16_t type, const uint8_t *p, size_t n,
		  uint32_t seq)
{
	if (s->broken)
		return; /* nothing after a break is read */
	if (n > g.d.info.max_req + 64u) {
		s->broken = true; /* over the channel's max_msg */
		return;
	}
	if (type == VMSG_TYPE_BLK_HELLO && !s->hello) {
		if (n != VMSG_BLK_HELLO_SIZE || get32(p) != VMSG_BLK_MAGIC ||
		    (p[4] | p[5] << 8) != VMSG_BLK_VERSION) {
			s->broken = true;
			return;
		}
		uint32_t depth = get32(p + 8), max_req = get32(p + 12);
		if (depth == 0 || max_req < LB) {
			s->hello = 2; /* docs/block.md does not say */
			s->maybe = true;
			return;
		}
		s->hello = 1;
		s->gdepth = depth < g.d.info.depth ? depth : g.d.info.depth;
		s->gmax = max_req < g.d.info.max_req ? max_req & ~(LB - 1)
						     : g.d.info.max_req;
		return;
	}
	if (!s->hello || type != VMSG_TYPE_BLK_REQ || n < VMSG_BLK_REQ_HDR) {
		s->broken = true;
		return;
	}
	struct vmsg_blk_req_hdr h;
	vmsg_blk_get_req(p, &h);
	if (n != VMSG_BLK_REQ_HDR + (h.op == VMSG_BLK_OP_WRITE ? h.length : 0)) {
		s->broken = true;
		return;
	}
	struct ent e = {.id = h.id, .off = h.offset, .len = h.length,
			.op = h.op, .flags = h.flags, .seq = seq, .raw = !seq};
	/* An id still outstanding, or more than depth: a break, unless the
	 * daemon sent the replies that end them before it read this. */
	for (unsigned i = 0; i < s->nq; i++)
		s->maybe |= s->q[i].id == h.id;
	s->maybe |= s->nq >= s->gdepth;
	e.errs = blk_oracle_errs(&h, g.d.info.flags, LB, s->gmax,
				 g.d.info.size);
	/* Reads and writes to the same range at once: the read's data is not
	 * checked. */
	bool modifies = !e.errs && write_like(e.op) && disk_status(e.id) == 0;
	if (!e.errs && e.op == VMSG_BLK_OP_READ) {
		for (uint64_t b = e.off / LB; b < (e.off + e.len) / LB; b++)
			e.tainted |= g.uncertain[b];
	}
	for (unsigned j = 0; j < NSLOT; j++) {
		struct slot *o = &g.s[j];
		for (unsigned i = 0; i < o->nq; i++) {
			struct ent *x = &o->q[i];
			if (x->errs || !overlaps(x, &e))
				continue;
			if (modifies && x->op == VMSG_BLK_OP_READ)
				x->tainted = true;
			if (e.op == VMSG_BLK_OP_READ && write_like(x->op) &&
			    disk_status(x->id) == 0)
				e.tainted = true;
		}
	}
	s->q[s->nq++] = e;
}

/* Send a request; extra bytes after its header (a WRITE: more or fewer
 * than its length) make its size wrong. */
static void send_req(struct slot *s, uint64_t id, uint16_t op, uint16_t flags,
		     uint64_t off, uint32_t len, int extra)
{
	if (!s->used || s->nq >= MAXQ)
		return;
	struct vmsg_blk_req_hdr h = {id, off, len, op, flags};
	size_t n = VMSG_BLK_REQ_HDR;
	vmsg_blk_put_req(msg, &h);
	uint32_t seq = ++g.seq;
	if (op == VMSG_BLK_OP_WRITE) {
		/* extra: the message carries more or fewer bytes than the
		 * header says. */
		int64_t dl = (int64_t)len + extra;
		if (dl < 0 || dl > 65536)
			dl = len > 65536 ? 65536 : len;
		for (uint32_t j = 0; j < (uint32_t)dl; j++)
			msg[VMSG_BLK_REQ_HDR + j] = pattern(seq, j);
		n += (size_t)dl;
	} else if (extra > 0) {
		memset(msg + VMSG_BLK_REQ_HDR, 0, (size_t)extra);
		n += (size_t)extra;
	}
	if (!send(s, VMSG_TYPE_BLK_REQ, msg, n))
		return;
	model(s, VMSG_TYPE_BLK_REQ, msg, n, seq);
}

static struct slot *pick(struct fuzz_in *in)
{
	struct slot *s = &g.s[fuzz_u8(in) % NSLOT];
	return s->open ? s : NULL;
}

static void op_open(void)
{
	unsigned i = 0;
	while (i < NSLOT && g.s[i].used)
		i++;
	if (i == NSLOT)
		return;
	struct slot *s = &g.s[i];
	unsigned lo, ro;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)g.d.info.max_req + 64u; /* as main.c's chan_opts */
	fuzz_peer_orders(g.orders + i, &lo, &ro);
	CHECK(fuzz_peer_connect(&s->fp, lo, ro, &o, &s->c) == 0);
	s->used = true;
	vmsg_reasm_init(&s->ra, s->rbuf, sizeof(s->rbuf));
	unsigned before = g.d.nconns;
	int r = conn_add(&g.d, s->c, 0, g.multi);
	CHECK(r == (before >= g.d.max_conns ? -EUSERS : 0));
	if (r < 0) {
		vmsg_chan_close(s->c);
		s->c = NULL;
		s->refused = true;
		return;
	}
	CHECK(g.d.conns && g.d.conns->c == s->c && g.d.nconns == before + 1);
	s->k = g.d.conns;
	s->open = true;
}

static void op_hello(struct fuzz_in *in)
{
	struct slot *s = pick(in);
	uint8_t v = fuzz_u8(in), dp = fuzz_u8(in), mr = fuzz_u8(in);
	uint8_t b[VMSG_BLK_HELLO_SIZE + 4] = {0};
	size_t n = VMSG_BLK_HELLO_SIZE;
	uint32_t w[4] = {VMSG_BLK_MAGIC, VMSG_BLK_VERSION, 1u + dp,
			 LB * (1u + mr % 32u)};
	switch (v % 6) {
	case 1: w[0] ^= 1u << (v >> 3 & 31); break;
	case 2: w[1] = 2u + (v >> 3); break;
	case 3: n = v & 8 ? 8 : sizeof(b); break;
	case 4: w[2] = 0; break;
	case 5: w[3] = v >> 3; break; /* below a block */
	}
	for (unsigned i = 0; i < 4; i++)
		for (unsigned j = 0; j < 4; j++)
			b[4 * i + j] = (uint8_t)(w[i] >> (8 * j));
	if (s && send(s, VMSG_TYPE_BLK_HELLO, b, n))
		model(s, VMSG_TYPE_BLK_HELLO, b, n, 0);
}

static void op_req(struct fuzz_in *in)
{
	struct slot *s = pick(in);
	uint8_t ids = fuzz_u8(in), op = fuzz_u8(in), fl = fuzz_u8(in);
	uint16_t off = fuzz_u16(in), len = fuzz_u16(in);
	uint8_t tw = fuzz_u8(in);
	uint64_t id = ids & 0x80 ? (uint64_t)fuzz_u32(in) << 32 | fuzz_u32(in)
				 : ids & 7u;
	uint64_t o = tw & 1 ? off : (uint64_t)(off % (MAX_BLOCKS + 2)) * LB;
	uint32_t l = tw & 2 ? len : (uint32_t)(len % 20u) * LB;
	if (tw & 0x40)
		o = UINT64_MAX - (uint64_t)LB * (off & 3) - LB + 1; /* overflows */
	uint16_t flags = fl & 0x80 ? fl : fl & 1;
	if (op % 8 == VMSG_BLK_OP_FLUSH && !(tw & 4))
		o = l = flags = 0;
	int extra = tw & 8 ? (tw & 0x10 ? -8 : 8) : 0;
	if (s)
		send_req(s, id, op % 8, flags, o, l, extra);
}

static void op_raw(struct fuzz_in *in)
{
	struct slot *s = pick(in);
	uint16_t type = fuzz_u16(in);
	size_t n, want = fuzz_u16(in);
	const uint8_t *p = fuzz_bytes(in, want, &n);
	if (s && s->nq < MAXQ && send(s, type, p, n))
		model(s, type, p, n, 0);
}

static void op_flood(struct fuzz_in *in)
{
	struct slot *s = pick(in);
	unsigned n = fuzz_u8(in);
	uint8_t kind = fuzz_u8(in);
	for (unsigned i = 0; s && i < n; i++) {
		uint32_t blocks = (uint32_t)(g.d.info.size / LB);
		uint32_t l = kind & 1 ? g.d.info.max_req : LB;
		if (l > g.d.info.size)
			l = (uint32_t)g.d.info.size;
		uint64_t o = (uint64_t)((i * 7u) % (blocks - l / LB + 1)) * LB;
		/* kind 2: misaligned, answered at once without I/O */
		send_req(s, ++g.next_id, VMSG_BLK_OP_READ, 0, o + (kind & 2),
			 l, 0);
	}
}

static void op_close(struct fuzz_in *in)
{
	struct slot *s = pick(in);
	if (!s || s->peer_closed)
		return;
	/* The live byte of our end (the harness is the channel's server). */
	s->fp.page->srv_live = VMSG_LIVE_GONE;
	s->peer_closed = true;
}

/* The consumers read all, the disk completes all, until nothing moves;
 * then each conn is gone or served as its consumer deserves. */
static void settle(void)
{
	unsigned quiet = 0;
	for (int round = 0; round < SETTLE_ROUNDS && quiet < 3; round++) {
		uint64_t moved = g.d.moved, frames = g.frames;
		bool busy = g.nheld > 0;
		for (unsigned i = 0; i < NSLOT; i++) {
			struct slot *s = &g.s[i];
			if (!s->open)
				continue;
			if (!s->peer_closed) {
				busy |= fuzz_peer_pump(&s->fp) == 0;
				take_replies(s);
			}
			busy |= s->k->closing;
		}
		g.complete_all = true;
		step();
		g.complete_all = false;
		/* A reply going out in parts moves frames, not d->moved. */
		quiet = busy || g.d.moved != moved || g.frames != frames
			? 0 : quiet + 1;
	}
	/* Still moving after all those steps: a conn that ended and never
	 * goes, or one kept busy for ever. */
	CHECK(quiet >= 3);
	for (unsigned i = 0; i < NSLOT; i++) {
		struct slot *s = &g.s[i];
		if (!s->used)
			continue;
		if (s->open && !s->peer_closed)
			take_replies(s);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "settle: consumer %u: %s%s%s%s, hello %d info %d, "
				"%u unanswered, %llu requests read\n", i,
				s->refused ? "refused" : s->open ? "open" : "freed",
				s->peer_closed ? ", closed" : "",
				s->expired ? ", left a request incomplete" :
				s->broken ? ", broke the protocol" : "",
				s->maybe ? ", may have broken it" : "", s->hello,
				s->info, s->nq,
				(unsigned long long)(s->k ? s->k->requests : 0));
		if (getenv("FUZZ_VERBOSE") && s->open)
			fprintf(stderr, "settle: consumer %u: held %llu, inflight %u, "
				"replies queued %d, closing %d, more %d\n", i,
				(unsigned long long)s->k->held, s->k->inflight,
				s->k->rq_head != NULL, s->k->closing, s->k->more);
		if (s->refused)
			continue;
		if (s->broken || s->peer_closed)
			CHECK(s->freed);
		else if (!s->maybe) {
			/* Served: still there, everything answered. */
			CHECK(s->open && !s->k->closing);
			CHECK(s->nq == 0);
			CHECK(s->info == (s->hello == 1));
		}
		if (s->open)
			CHECK(s->k->held == 0 && s->k->inflight == 0);
	}
	CHECK(g.nheld == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};

	memset(&g, 0, sizeof(g));
	struct blockd *d = &g.d;
	uint32_t blocks = 1u + fuzz_u8(&in) % MAX_BLOCKS;
	uint8_t fl = fuzz_u8(&in);
	d->be = &ram_ops;
	d->quiet = true;
	d->info.size = (uint64_t)blocks * LB;
	d->info.logical_block = LB;
	d->info.physical_block = 4096;
	d->info.flags = fl & (VMSG_BLK_F_READ_ONLY | VMSG_BLK_F_FLUSH |
			      VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			      VMSG_BLK_F_WRITE_ZEROES);
	g.multi = fl & 0x80;
	d->info.depth = 1u + fuzz_u8(&in) % MAX_DEPTH;
	d->info.max_req = LB * (1u + fuzz_u8(&in) % 16u);
	d->max_held = LB * (1u + (uint64_t)fuzz_u8(&in));
	d->max_held_total = d->max_held;
	d->partial_ms = PARTIAL_MS;
	d->max_conns = 1u + fuzz_u8(&in) % NSLOT;
	g.orders = fuzz_u8(&in);
	g.fail = fuzz_u8(&in);
	CHECK(vmsg_blk_info_check(&d->info) == 0);
	/* The disk starts with something to read back. */
	for (uint32_t i = 0; i < sizeof(g.ram); i++)
		g.ram[i] = g.shadow[i] = pattern(0xffffffffu, i);

	while (fuzz_in_left(&in)) {
		switch (fuzz_u8(&in) % 9) {
		case 0: op_open(); break;
		case 1: op_hello(&in); break;
		case 2: op_req(&in); break;
		case 3: op_raw(&in); break;
		case 4: {
			struct slot *s = pick(&in);
			if (s && !s->peer_closed)
				take_replies(s);
			break;
		}
		case 5:
			g.complete_n = fuzz_u8(&in);
			g.pick = fuzz_u8(&in);
			g.at_once = fuzz_u8(&in);
			step();
			break;
		case 6: op_close(&in); break;
		case 7: op_flood(&in); break;
		default: settle(); break;
		}
	}
	settle();
	/* Every consumer goes: every conn must follow. */
	for (unsigned i = 0; i < NSLOT; i++)
		if (g.s[i].open && !g.s[i].peer_closed) {
			g.s[i].fp.page->srv_live = VMSG_LIVE_GONE;
			g.s[i].peer_closed = true;
		}
	settle();
	CHECK(!d->conns && d->nconns == 0);
	for (unsigned i = 0; i < NSLOT; i++)
		if (g.s[i].used)
			fuzz_peer_fini(&g.s[i].fp);
	blockd_pool_free(d);
	return 0;
}
