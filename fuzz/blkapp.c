/* Fuzz target: the storage appliances' request logic, the copy-on-write
 * overlay (examples/blk-overlay/overlay.c: overlay_serve) and the mirror
 * (examples/blk-mirror/mirror.c: mirror_serve), unchanged, each between a
 * hostile consumer above and hostile lower disks below, all of them the
 * fuzz input on in-memory channels (fuzz_peer.h). The appliances block
 * (one request at a time, every wait without a timeout): every wait of
 * theirs on any of their channels is the harness's turn, which plays the
 * consumer and the lower disks from the input. Once the input is spent
 * the disks answer everything correctly and the consumer reads every
 * reply, then closes: the appliance must return.
 *
 * Input: a configuration, then operations.
 *   [mode: 1]     bit 0: 0 the overlay (one lower disk, its base), 1 the
 *                 mirror (two legs)
 *   [size: 1]     the lower disks' size, 1024 * (1 + size % 32) bytes
 *   per lower disk, four bytes:
 *     [shape]     bit 0: logical block 1024 (else 512); bits 1-5 INFO
 *                 flags READ_ONLY, FLUSH, FUA, TRIM, WRITE_ZEROES
 *     [max_req]   granted max_req, lb * (1 + max_req % (16 KiB / lb))
 *     [depth]     granted depth, 1 + depth % 4 (the appliance asks 4)
 *     [orders]    the channel's ring orders (fuzz_peer_orders)
 *   [max_req: 1]  the appliance's own limit, 512 * (1 + max_req % 32)
 *   [depth: 1]    the depth it offers, 1 + depth % 64
 *   [orders: 1]   the consumer channel's ring orders
 * Operations, [op: 1] % 12 then:
 *   0 HELLO [variant][depth][max_req]: valid, bad magic, bad version,
 *     bad size, depth 0, max_req below a block
 *   1 REQ [id][op][flags][offset][length][tweak]: any operation, offset,
 *     length, flags; ids from a small set (duplicates) or any 64 bits;
 *     tweak makes the offset overflow or the message's size wrong
 *   2 any other message [type: 2][len][bytes] (never a REQ: a REQ's data
 *     must be the harness's to be modelled)
 *   3 [hold]: the consumer reads its replies now; bit 0 of hold: from
 *     now on it reads them only when told (its ring fills), else at
 *     every turn
 *   4 the consumer closes
 *   5 a flood [n][kind]: n READs or WRITEs, fresh ids
 *   6 a disk answers one request it holds [leg][pick], correctly
 *   7 a disk answers every request it holds [leg], correctly
 *   8 a disk sends garbage [leg][kind][x]: a reply with a wrong id, a
 *     wrong length, a positive or too negative status, short, a message
 *     of another type, or a second reply to an answered request
 *   9 a disk answers a request it holds with an error [leg][which]
 *  10 a disk dies (its channel's live byte goes) [leg]
 *  11 silence: nothing happens (the appliance's wait times out a round:
 *     its clock, the waiting channel's, moves on by the whole timeout;
 *     on a lower disk the appliance waits for, that is the rest of the
 *     silence it allows, LTIMEOUT_S, blk_lower.h)
 *
 * Checked, besides sanitizers and leaks (the overlay's memory is exactly
 * the disk's size and a byte per block, as its app allocates it within
 * limit=, so a write past it is an ASan report):
 *  - the consumer gets INFO once, after a valid HELLO, granting what
 *    docs/block.md says (min of both sides), with the flags the appliance
 *    documents (overlay.h, mirror.h); then REPLYs, each to the oldest
 *    request it sent and has not had answered (the appliances answer in
 *    order), with the status docs/block.md gives a bad request and the
 *    right length;
 *  - overlay: a valid WRITE, TRIM, WRITE_ZEROES or FLUSH is answered 0
 *    (the base is never asked); a valid READ 0, or the status the base
 *    gave the read it was waiting on (-EIO for a base whose channel ended
 *    or sent garbage), or -EIO once the base misbehaved; after a -EIO the
 *    overlay serves nothing more and returns -EIO; it returns -EIO only
 *    when the base misbehaved; the base is sent only READs, inside it;
 *  - mirror: a valid request is answered 0 while a leg was up, -EIO when
 *    both had been dropped; a leg is dropped (leg_failed, once) only when
 *    it misbehaved, and always when it misbehaved on a request the mirror
 *    was waiting for, before that request's reply (silence counts as
 *    misbehaviour only once the disk's clock has run LTIMEOUT_S past the
 *    last reply it sent whole: a drop for silence, -ETIMEDOUT, before
 *    that fails, and so does an overlay that gives its base up earlier;
 *    -EIO from the overlay after it is allowed); every request a leg
 *    gets is the consumer's (op, range, flags, a WRITE's very bytes),
 *    inside the leg and within what it offers; an acknowledged WRITE,
 *    TRIM or WRITE_ZEROES is on every leg still up when it was answered;
 *  - a READ answered 0 carries the bytes that acknowledged writes left
 *    (the base's elsewhere, for the overlay);
 *  - the appliance returns -EPIPE only when the consumer closed, -EPROTO
 *    only when it broke the protocol, -EIO only as above, and never
 *    waits for ever once everything is answered. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/block.h>

#include "blk_oracle.h"
#include "fuzz_peer.h"
#include "mirror.h"
#include "overlay.h"

#define LMAX (16u * 1024u)   /* max_req the appliance's clients ask for */
#define LDEPTH 4u            /* their depth (as blk_app.c's) */
#define MAX_SIZE (32u * 1024u)
#define APP_MAX (16u * 1024u) /* the appliance's max_req, at most */
#define CMAXQ 256u           /* requests the consumer has unanswered */
#define MAX_EV 2048u /* more than a 4 KiB input can make */
#define END_TURNS 20000u     /* turns after the input, at most */
/* The lower disks' limit on silence: the appliances' default. */
#define LTIMEOUT_S BLK_LOWER_TIMEOUT_S


/* Error statuses a disk may answer with (valid on the wire). */
static const int32_t disk_errs[] = {-EIO, -ENOSPC, -EINVAL, -EROFS, -ENOMEM,
				    -4095};

struct ent {
	uint64_t id, off;
	uint32_t len;
	uint16_t op, flags;
	uint8_t errs;  /* the errors it may get; 0: a valid request */
	uint32_t seq;  /* a WRITE's data: pattern(seq, i) */
};

struct lreq {
	struct vmsg_blk_req_hdr h;
	uint8_t data[LMAX];
};

struct lower {
	bool used;
	bool dead;      /* its live byte is gone */
	bool broken;    /* garbage sent: its client is (or will be) done */
	bool bad_ever;  /* dead, broken or answered an error */
	struct fuzz_peer fp;
	vmsg_chan *c;
	vmsg_blk_client *cl;
	void *clmem;
	struct vmsg_blk_info info; /* what it granted */
	uint8_t ram[MAX_SIZE];
	struct vmsg_reasm ra;
	uint8_t rbuf[VMSG_BLK_REQ_HDR + LMAX + 64];
	struct lreq pend[LDEPTH];
	unsigned npend;
	uint64_t last_id; /* the last request it answered */
	bool answered;
	/* Its clock when a reply of its last went out whole (or at start):
	 * the appliance hears nothing later than that, so it may give the
	 * disk up for silence only LTIMEOUT_S after it. */
	uint64_t heard_ns;
	bool silence_seen; /* that long silent at some point */
	int64_t drop_n;   /* mirror: requests answered when it was dropped */
};

/* A misbehaviour of a lower disk on a request the appliance waited for,
 * while it was serving the consumer's request n. */
struct ev {
	unsigned leg;
	uint64_t n;
	int32_t status; /* what the overlay must answer */
};

static struct {
	bool mirror;
	struct overlay ov;
	struct mirror mi;
	const struct vmsg_blk_info *ai; /* the appliance's offer */
	uint64_t *nreq;                 /* its requests counter */
	struct lower l[2];
	unsigned nl;
	uint32_t size;
	/* the consumer */
	struct fuzz_peer fp;
	vmsg_chan *c;
	struct vmsg_reasm ra;
	uint8_t rbuf[VMSG_BLK_REPLY_HDR + APP_MAX + 64];
	bool closed, broken, hold;
	int hello;     /* 0 none, 1 valid (granted gdepth, gmax) */
	bool info;
	uint32_t gdepth, gmax;
	struct ent q[CMAXQ];
	unsigned nq;
	uint64_t replies; /* REPLYs read */
	bool eio_seen;    /* overlay: a valid request answered -EIO */
	/* the model */
	uint8_t shadow[MAX_SIZE];
	bool uncertain[MAX_SIZE];
	struct ev ev[MAX_EV];
	unsigned nev;
	bool ev_lost;
	uint32_t seq;
	uint64_t next_id;
	/* the input */
	struct fuzz_in in;
	bool ending;
	unsigned end_turns;
} g;

static uint8_t msg[VMSG_BLK_REQ_HDR + APP_MAX * 2 + 64];

/* FUZZ_VERBOSE set: say what each turn does and how the run ended. */
static bool verbose(void)
{
	static int v = -1;
	if (v < 0)
		v = getenv("FUZZ_VERBOSE") != NULL;
	return v;
}

static uint8_t pattern(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool write_like(uint16_t op)
{
	return op == VMSG_BLK_OP_WRITE || op == VMSG_BLK_OP_TRIM ||
	       op == VMSG_BLK_OP_WRITE_ZEROES;
}

/* Send one message from a harness end; false when it could not go (the
 * previous one is still in parts, or the end is closed). */
static bool send(struct fuzz_peer *fp, uint16_t type, const void *p, size_t n)
{
	if (fuzz_peer_pump(fp) != 1)
		return false;
	return fuzz_peer_send(fp, type, p, n) >= 0;
}

static void add_ev(unsigned leg, int32_t status)
{
	if (g.nev < MAX_EV)
		g.ev[g.nev++] = (struct ev){leg, *g.nreq, status};
	else
		g.ev_lost = true; /* the checks that need them are off */
}

/* ---- the lower disks ------------------------------------------------ */

/* Has lower disk l said nothing for the appliance's limit (its clock, the
 * one the appliance's waits on it use)? Then it misbehaved: the
 * appliance may drop it (mirror) or answer -EIO (overlay). Looked at
 * before anything the harness does in a turn, and before each check that
 * needs it, so that a reply sent later does not hide it. */
static bool silent_long(struct lower *l)
{
	return l->used && l->fp.now_ns - l->heard_ns >= LTIMEOUT_S * 1000000000ull;
}

static void note_silence(void)
{
	for (unsigned i = 0; i < g.nl; i++) {
		struct lower *l = &g.l[i];
		if (silent_long(l))
			l->silence_seen = l->bad_ever = true;
	}
}

/* A request from the appliance to lower disk li: check it, hold it. */
static void lower_req(unsigned li, const uint8_t *p, size_t n)
{
	struct lower *l = &g.l[li];
	struct vmsg_blk_req_hdr h;
	CHECK(n >= VMSG_BLK_REQ_HDR);
	vmsg_blk_get_req(p, &h);
	CHECK(n == VMSG_BLK_REQ_HDR + (h.op == VMSG_BLK_OP_WRITE ? h.length : 0));
	CHECK(l->npend < l->info.depth);
	uint32_t lb = l->info.logical_block;
	if (h.op == VMSG_BLK_OP_FLUSH) {
		CHECK(h.offset == 0 && h.length == 0 && h.flags == 0);
		CHECK(l->info.flags & VMSG_BLK_F_FLUSH);
	} else {
		CHECK(h.op >= VMSG_BLK_OP_READ && h.op <= VMSG_BLK_OP_WRITE_ZEROES);
		CHECK(h.length > 0 && h.length <= l->info.max_req);
		CHECK(h.offset % lb == 0 && h.length % lb == 0);
		CHECK(h.offset <= g.size && h.length <= g.size - h.offset);
		CHECK((h.flags & ~VMSG_BLK_REQ_FUA) == 0);
		CHECK(!(h.flags & VMSG_BLK_REQ_FUA) ||
		      (l->info.flags & VMSG_BLK_F_FUA));
		if (h.op != VMSG_BLK_OP_READ)
			CHECK(!(l->info.flags & VMSG_BLK_F_READ_ONLY));
		if (h.op == VMSG_BLK_OP_TRIM)
			CHECK(l->info.flags & VMSG_BLK_F_TRIM);
		if (h.op == VMSG_BLK_OP_WRITE_ZEROES)
			CHECK(l->info.flags & VMSG_BLK_F_WRITE_ZEROES);
	}
	for (unsigned i = 0; i < l->npend; i++)
		CHECK(l->pend[i].h.id != h.id);
	if (!g.mirror) {
		/* The base is only read. */
		CHECK(h.op == VMSG_BLK_OP_READ && h.flags == 0);
	} else {
		/* The consumer's request, as it sent it: an unanswered one
		 * (the reply may be in its ring, unread). */
		bool found = false;
		for (unsigned i = 0; i < g.nq && !found; i++) {
			const struct ent *e = &g.q[i];
			if (e->errs || e->op != h.op || e->flags != h.flags ||
			    (h.op != VMSG_BLK_OP_FLUSH &&
			     (e->off != h.offset || e->len != h.length)))
				continue;
			found = true;
			for (uint32_t j = 0; found && h.op == VMSG_BLK_OP_WRITE &&
					     j < h.length; j++)
				found = p[VMSG_BLK_REQ_HDR + j] == pattern(e->seq, j);
		}
		CHECK(found);
	}
	struct lreq *q = &l->pend[l->npend++];
	q->h = h;
	if (h.op == VMSG_BLK_OP_WRITE)
		memcpy(q->data, p + VMSG_BLK_REQ_HDR, h.length);
}

/* Take what the appliance sent lower disk li. */
static void lower_pull(unsigned li)
{
	struct lower *l = &g.l[li];
	struct vmsg_frame f;
	int r;
	if (!l->used || l->dead)
		return;
	/* The rest of a message in parts (garbage included): a reply is
	 * heard once all of it is out. */
	bool parts = l->fp.frag_busy;
	if (fuzz_peer_pump(&l->fp) == 1 && parts && !l->broken)
		l->heard_ns = l->fp.now_ns;
	if (l->broken)
		return;
	for (unsigned n = 0; n < 4096 && (r = vmsg_frame_peek(&l->fp.end, &f)) != 0; n++) {
		CHECK(r == 1);
		r = vmsg_reasm_feed(&l->ra, &f);
		CHECK(r >= 0);
		(void)vmsg_frame_release(&l->fp.end, &f);
		if (r == 1) {
			CHECK(l->ra.type == VMSG_TYPE_BLK_REQ);
			lower_req(li, l->ra.buf, l->ra.len);
		}
	}
}

static struct lower *pick_lower(void)
{
	unsigned i = fuzz_u8(&g.in) % g.nl;
	struct lower *l = &g.l[i];
	return l->used && !l->dead && !l->broken ? l : NULL;
}

/* Answer pend[k] of l with status (0: carried out, its data if a READ). */
static bool lower_answer(struct lower *l, unsigned k, int32_t status)
{
	struct lreq *q = &l->pend[k];
	uint32_t len = q->h.length;
	bool data = status == 0 && q->h.op == VMSG_BLK_OP_READ;
	vmsg_blk_put_reply(msg, q->h.id, status, data ? len : 0);
	if (data)
		memcpy(msg + VMSG_BLK_REPLY_HDR, l->ram + q->h.offset, len);
	if (!send(&l->fp, VMSG_TYPE_BLK_REPLY, msg,
		  VMSG_BLK_REPLY_HDR + (data ? len : 0)))
		return false;
	if (status == 0 && q->h.op == VMSG_BLK_OP_WRITE)
		memcpy(l->ram + q->h.offset, q->data, len);
	else if (status == 0 && (q->h.op == VMSG_BLK_OP_TRIM ||
				 q->h.op == VMSG_BLK_OP_WRITE_ZEROES))
		memset(l->ram + q->h.offset, 0, len);
	l->last_id = q->h.id;
	l->answered = true;
	if (!l->fp.frag_busy)
		l->heard_ns = l->fp.now_ns; /* else once the rest is out */
	memmove(&l->pend[k], &l->pend[k + 1], (l->npend - k - 1) * sizeof(l->pend[0]));
	l->npend--;
	return true;
}

static void op_answer(bool all)
{
	struct lower *l = pick_lower();
	unsigned pick = all ? 0 : fuzz_u8(&g.in);
	if (!l)
		return;
	if (all) {
		while (l->npend && lower_answer(l, 0, 0))
			;
	} else if (l->npend) {
		(void)lower_answer(l, pick % l->npend, 0);
	}
}

static void op_error(void)
{
	struct lower *l = pick_lower();
	uint8_t which = fuzz_u8(&g.in);
	if (!l || !l->npend)
		return;
	int32_t st = disk_errs[which % (sizeof(disk_errs) / sizeof(disk_errs[0]))];
	if (lower_answer(l, which / 8 % l->npend, st)) {
		l->bad_ever = true;
		add_ev((unsigned)(l - g.l), st);
	}
}

static void op_garbage(void)
{
	struct lower *l = pick_lower();
	uint8_t kind = fuzz_u8(&g.in), x = fuzz_u8(&g.in);
	if (!l)
		return;
	uint64_t id = l->npend ? l->pend[0].h.id : l->last_id;
	const struct lreq *q = l->npend ? &l->pend[0] : NULL;
	size_t n = VMSG_BLK_REPLY_HDR;
	uint16_t type = VMSG_TYPE_BLK_REPLY;
	switch (kind % 6) {
	case 0: /* an id never asked */
		vmsg_blk_put_reply(msg, id ^ (1ull + x), 0, 0);
		break;
	case 1: /* a length not the request's */
		if (q && q->h.op == VMSG_BLK_OP_READ) {
			uint32_t len = x % 2 ? q->h.length + 512u : q->h.length / 2;
			vmsg_blk_put_reply(msg, id, 0, len);
			memset(msg + n, 0x5a, len);
			n += len;
		} else {
			vmsg_blk_put_reply(msg, id, 0, 512);
			memset(msg + n, 0x5a, 512);
			n += 512;
		}
		break;
	case 2: /* a status out of range */
		vmsg_blk_put_reply(msg, id, x % 2 ? 1 + x : -4096 - x, 0);
		break;
	case 3: /* short */
		vmsg_blk_put_reply(msg, id, 0, 0);
		n = x % VMSG_BLK_REPLY_HDR;
		break;
	case 4: /* another type */
		type = x % 2 ? VMSG_TYPE_BLK_INFO : (uint16_t)(0x0b04 + x);
		memset(msg, x, 40);
		n = 40;
		break;
	default: /* an answered request's id again */
		if (!l->answered)
			return;
		vmsg_blk_put_reply(msg, l->last_id, 0, 0);
		break;
	}
	if (!send(&l->fp, type, msg, n))
		return;
	if (verbose())
		fprintf(stderr, "disk %u: garbage %u (type %#x, %zu bytes), "
			"%u held\n", (unsigned)(l - g.l), kind % 6u, type, n,
			l->npend);
	l->broken = l->bad_ever = true;
	if (l->npend)
		add_ev((unsigned)(l - g.l), -EIO);
	l->npend = 0;
}

static void lower_die(struct lower *l)
{
	l->fp.page->srv_live = VMSG_LIVE_GONE;
	l->dead = l->bad_ever = true;
	/* A request waited for, or a reply the appliance had not all of. */
	if (l->npend || l->fp.frag_busy)
		add_ev((unsigned)(l - g.l), -EIO);
	l->npend = 0;
}

/* ---- the consumer --------------------------------------------------- */

static void got_info(const uint8_t *p, size_t len)
{
	CHECK(g.hello == 1 && !g.info && len == VMSG_BLK_INFO_SIZE);
	g.info = true;
	uint32_t w[10];
	for (unsigned i = 0; i < 10; i++)
		w[i] = get32(p + 4 * i);
	CHECK(w[0] == VMSG_BLK_MAGIC && w[1] == VMSG_BLK_VERSION);
	CHECK(((uint64_t)w[3] << 32 | w[2]) == g.size);
	CHECK(w[4] == g.ai->logical_block && w[5] == g.ai->physical_block);
	CHECK(w[6] == g.gmax && w[7] == g.gdepth);
	uint32_t want = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			VMSG_BLK_F_WRITE_ZEROES;
	if (g.mirror) {
		/* mirror.h: read-only if either leg is; FUA, TRIM and
		 * WRITE_ZEROES if both offer them; FLUSH always. */
		uint32_t a = g.l[0].info.flags, b = g.l[1].info.flags;
		want = VMSG_BLK_F_FLUSH | ((a | b) & VMSG_BLK_F_READ_ONLY) |
		       (a & b & (VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
				 VMSG_BLK_F_WRITE_ZEROES));
	}
	CHECK(w[8] == want);
	struct vmsg_blk_info i = {g.size, w[4], w[5], w[6], w[7], w[8]};
	CHECK(vmsg_blk_info_check(&i) == 0);
}

/* Was leg i up when the consumer's request k was answered? */
static bool leg_up_at(unsigned i, uint64_t k)
{
	return g.l[i].drop_n < 0 || (uint64_t)g.l[i].drop_n > k;
}

static void got_reply(const uint8_t *p, size_t len)
{
	CHECK(len >= VMSG_BLK_REPLY_HDR);
	uint64_t id = get64(p);
	int32_t status = (int32_t)get32(p + 8);
	uint32_t dlen = get32(p + 12);
	uint64_t k = g.replies++;
	/* The appliances answer in order: the oldest unanswered request. */
	CHECK(g.nq > 0 && g.q[0].id == id);
	struct ent e = g.q[0];
	memmove(&g.q[0], &g.q[1], (g.nq - 1) * sizeof(g.q[0]));
	g.nq--;
	CHECK(status <= 0 && status >= -4095);
	bool data = status == 0 && e.op == VMSG_BLK_OP_READ;
	CHECK(dlen == (data ? e.len : 0));
	CHECK(len == VMSG_BLK_REPLY_HDR + (size_t)dlen);
	CHECK(!g.eio_seen); /* the overlay ends at its base's -EIO */
	note_silence();
	if (e.errs) {
		CHECK(blk_oracle_match(e.errs, status));
		return;
	}
	/* Misbehaviours of the lower disks while this one was served. */
	bool had_ev = false;
	int32_t ev_status = 0;
	for (unsigned i = 0; i < g.nev; i++) {
		if (g.ev[i].n > k)
			continue;
		if (g.mirror) {
			/* Dropped, at the latest while serving request n. */
			CHECK(!leg_up_at(g.ev[i].leg, g.ev[i].n));
		} else if (g.ev[i].n == k && !had_ev) {
			had_ev = true;
			ev_status = g.ev[i].status;
		}
	}
	if (g.mirror) {
		bool up = leg_up_at(0, k) || leg_up_at(1, k);
		CHECK(status == (up ? 0 : -EIO));
	} else {
		if (e.op != VMSG_BLK_OP_READ)
			CHECK(status == 0);
		else if (had_ev)
			/* The base's own answer; -EIO if the overlay had
			 * already given the base up for a silence that really
			 * ran the limit (the answer came after). */
			CHECK(status == ev_status ||
			      (status == -EIO && g.ov.base.silent &&
			       g.l[0].silence_seen));
		else if (!g.ev_lost)
			CHECK(status == 0 || (status == -EIO && g.l[0].bad_ever));
		g.eio_seen = status == -EIO;
	}
	if (data) {
		for (uint32_t j = 0; j < e.len; j++)
			CHECK(g.uncertain[e.off + j] ||
			      p[VMSG_BLK_REPLY_HDR + j] == g.shadow[e.off + j]);
	}
	if (!write_like(e.op))
		return;
	if (status != 0) {
		memset(g.uncertain + e.off, 1, e.len);
		return;
	}
	for (uint32_t j = 0; j < e.len; j++) {
		g.shadow[e.off + j] = e.op == VMSG_BLK_OP_WRITE ? pattern(e.seq, j) : 0;
		g.uncertain[e.off + j] = false;
	}
	/* mirror: on every leg up when it was answered, unless a later
	 * request the mirror may have carried out since covers it. */
	for (unsigned i = 0; g.mirror && i < 2; i++) {
		if (!leg_up_at(i, k))
			continue;
		bool later = false;
		for (unsigned j = 0; j < g.nq; j++)
			later |= write_like(g.q[j].op) &&
				 g.q[j].off < e.off + e.len &&
				 e.off < g.q[j].off + g.q[j].len;
		if (!later)
			CHECK(memcmp(g.l[i].ram + e.off, g.shadow + e.off, e.len) == 0);
	}
}

/* Read and check what the appliance sent the consumer; how many frames. */
static unsigned take_replies(void)
{
	struct vmsg_frame f;
	unsigned n = 0;
	int r;
	if (g.closed)
		return 0;
	for (; n < 100000 && (r = vmsg_frame_peek(&g.fp.end, &f)) != 0; n++) {
		CHECK(r == 1);
		r = vmsg_reasm_feed(&g.ra, &f);
		CHECK(r >= 0);
		(void)vmsg_frame_release(&g.fp.end, &f);
		if (r == 1 && g.ra.type == VMSG_TYPE_BLK_INFO) {
			got_info(g.ra.buf, g.ra.len);
		} else if (r == 1) {
			CHECK(g.ra.type == VMSG_TYPE_BLK_REPLY && g.info);
			got_reply(g.ra.buf, g.ra.len);
		}
	}
	return n;
}

/* What the model expects of a message the consumer sent. */
static void model(uint16_t type, const uint8_t *p, size_t n, uint32_t seq)
{
	uint32_t lb = g.ai->logical_block;
	if (g.broken)
		return; /* nothing after a break is read */
	if (n > g.ai->max_req + 64u) {
		g.broken = true; /* over the channel's max_msg */
		return;
	}
	if (type == VMSG_TYPE_BLK_HELLO && !g.hello) {
		uint32_t depth = get32(p + 8), max_req = get32(p + 12);
		if (n != VMSG_BLK_HELLO_SIZE || get32(p) != VMSG_BLK_MAGIC ||
		    (p[4] | p[5] << 8) != VMSG_BLK_VERSION || depth == 0 ||
		    max_req < lb) {
			g.broken = true;
			return;
		}
		g.hello = 1;
		g.gdepth = depth < g.ai->depth ? depth : g.ai->depth;
		g.gmax = max_req < g.ai->max_req ? max_req & ~(lb - 1)
						 : g.ai->max_req;
		return;
	}
	if (!g.hello || type != VMSG_TYPE_BLK_REQ || n < VMSG_BLK_REQ_HDR) {
		g.broken = true;
		return;
	}
	struct vmsg_blk_req_hdr h;
	vmsg_blk_get_req(p, &h);
	if (n != VMSG_BLK_REQ_HDR + (h.op == VMSG_BLK_OP_WRITE ? h.length : 0)) {
		g.broken = true;
		return;
	}
	CHECK(g.nq < CMAXQ);
	struct ent e = {.id = h.id, .off = h.offset, .len = h.length,
			.op = h.op, .flags = h.flags, .seq = seq};
	e.errs = blk_oracle_errs(&h, g.ai->flags, lb, g.gmax, g.size);
	g.q[g.nq++] = e;
}

/* Send a message from the consumer and model it. */
static void csend(uint16_t type, const uint8_t *p, size_t n, uint32_t seq)
{
	if (g.closed || g.nq >= CMAXQ)
		return;
	if (send(&g.fp, type, p, n))
		model(type, p, n, seq);
}

static void op_hello(void)
{
	uint8_t v = fuzz_u8(&g.in), d = fuzz_u8(&g.in), m = fuzz_u8(&g.in);
	vmsg_blk_put_hello(msg, 1u + d % 128u, 512u * (1u + m % 40u));
	size_t n = VMSG_BLK_HELLO_SIZE;
	switch (v % 8) {
	case 1: msg[0] ^= 1; break;
	case 2: msg[4] = 2; break;
	case 3: n = v % 2 ? 12 : 20; break;
	case 4: memset(msg + 8, 0, 4); break;
	case 5: memset(msg + 12, 0, 4); msg[13] = 1; break; /* 256 bytes */
	default: break;
	}
	csend(VMSG_TYPE_BLK_HELLO, msg, n, 0);
}

static uint64_t pick_id(uint8_t sel)
{
	if (sel < 200)
		return sel % 8;
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | fuzz_u8(&g.in);
	return id;
}

static void req(uint64_t id, uint16_t op, uint16_t flags, uint64_t off,
		uint32_t len, uint8_t tweak)
{
	struct vmsg_blk_req_hdr h = {id, off, len, op, flags};
	if (tweak & 0x40)
		h.offset = UINT64_MAX - (h.offset & 0xffff); /* overflows */
	vmsg_blk_put_req(msg, &h);
	size_t n = VMSG_BLK_REQ_HDR;
	uint32_t seq = 0;
	if (op == VMSG_BLK_OP_WRITE && len <= APP_MAX * 2) {
		seq = ++g.seq;
		for (uint32_t j = 0; j < len; j++)
			msg[n + j] = pattern(seq, j);
		n += len;
	}
	if (tweak & 0x80)
		n = n > VMSG_BLK_REQ_HDR ? n - 8 : n + 8; /* size not the header's */
	csend(VMSG_TYPE_BLK_REQ, msg, n, seq);
}

static void op_req(void)
{
	uint8_t sel = fuzz_u8(&g.in);
	uint64_t id = pick_id(sel);
	uint8_t op = fuzz_u8(&g.in), fl = fuzz_u8(&g.in);
	uint8_t off = fuzz_u8(&g.in), len = fuzz_u8(&g.in), tweak = fuzz_u8(&g.in);
	uint16_t o = op < 240 ? (uint16_t)(1 + op % 5) : (uint16_t)(op % 9);
	uint16_t flags = fl < 200 ? (fl % 2 ? VMSG_BLK_REQ_FUA : 0) : fl;
	uint64_t offset = (uint64_t)(off % 70) * 512u;
	uint32_t length = (uint32_t)(len % 36) * 512u;
	if (tweak & 1)
		offset += 1 + tweak % 511;
	if (tweak & 2)
		length += 1 + tweak % 511;
	if (o == VMSG_BLK_OP_FLUSH && !(tweak & 4))
		offset = length = flags = 0;
	req(id, o, flags, offset, length, tweak);
}

static void op_raw(void)
{
	uint16_t type = fuzz_u16(&g.in);
	uint8_t n = fuzz_u8(&g.in);
	size_t k;
	const uint8_t *p = fuzz_bytes(&g.in, n, &k);
	/* The block protocol's range (lib/chan keeps no type of its own
	 * there): a second HELLO, an INFO or REPLY, unknown types. */
	type = (uint16_t)(0x0b00u | (type & 0xffu));
	if (type == VMSG_TYPE_BLK_REQ)
		type = 0x0b04;
	memcpy(msg, p, k);
	csend(type, msg, k, 0);
}

static void op_flood(void)
{
	uint8_t n = fuzz_u8(&g.in), kind = fuzz_u8(&g.in);
	uint32_t lb = g.ai->logical_block;
	for (unsigned i = 0; i < n % 64u; i++) {
		uint64_t off = (uint64_t)((kind + i * 3u) % (g.size / lb)) * lb;
		uint16_t op = kind % 2 ? VMSG_BLK_OP_WRITE : VMSG_BLK_OP_READ;
		req(0x1000 + g.next_id++, op, 0, off, lb, 0);
	}
}

static void consumer_close(void)
{
	if (g.closed)
		return;
	/* The live byte of our end (the harness is the channel's server). */
	g.fp.page->srv_live = VMSG_LIVE_GONE;
	g.closed = true;
}

/* ---- the turns ------------------------------------------------------ */

static void check_legs(void)
{
	for (unsigned i = 0; g.mirror && i < 2; i++)
		CHECK(!g.mi.leg[i].failed || g.l[i].bad_ever);
}

/* Everything answered: the disks answer what they hold, the consumer
 * reads, and once the appliance waits on it with nothing left to read
 * (not for room for a reply: then there was something to take), closes. */
static int end_turn(struct fuzz_peer *fp)
{
	CHECK(++g.end_turns < END_TURNS); /* a wait that never ends */
	for (unsigned i = 0; i < g.nl; i++) {
		struct lower *l = &g.l[i];
		lower_pull(i);
		if (l->used && !l->dead && !l->broken)
			while (l->npend && lower_answer(l, 0, 0))
				;
	}
	unsigned took = take_replies();
	if (fp == &g.fp && !g.closed && !took && fuzz_peer_pump(&g.fp) == 1 &&
	    g.fp.page->right.prod == g.fp.page->right.cons)
		consumer_close();
	return 1;
}

static int turn(struct fuzz_peer *fp)
{
	note_silence(); /* before a reply the disks send now hides it */
	for (unsigned i = 0; i < g.nl; i++)
		lower_pull(i);
	if (!g.closed)
		(void)fuzz_peer_pump(&g.fp);
	check_legs();
	if (!fuzz_in_left(&g.in))
		g.ending = true;
	if (g.ending)
		return end_turn(fp);
	if (!g.hold)
		take_replies();
	int r = 1;
	uint8_t op = fuzz_u8(&g.in) % 12;
	if (verbose())
		fprintf(stderr, "turn on %s: op %u; served %llu, legs dropped "
			"at %lld, %lld; held %u, %u\n", fp == &g.fp ? "consumer" :
			fp == &g.l[0].fp ? "disk 0" : "disk 1", op,
			(unsigned long long)*g.nreq, (long long)g.l[0].drop_n,
			(long long)g.l[1].drop_n, g.l[0].npend, g.l[1].npend);
	switch (op) {
	case 0: op_hello(); break;
	case 1: op_req(); break;
	case 2: op_raw(); break;
	case 3:
		g.hold = fuzz_u8(&g.in) & 1;
		take_replies();
		break;
	case 4: consumer_close(); break;
	case 5: op_flood(); break;
	case 6: op_answer(false); break;
	case 7: op_answer(true); break;
	case 8: op_garbage(); break;
	case 9: op_error(); break;
	case 10: {
		struct lower *l = pick_lower();
		if (l)
			lower_die(l);
		break;
	}
	default: r = 0; break;
	}
	return r;
}

static void leg_failed(struct mirror *m, unsigned leg, int err)
{
	(void)m;
	CHECK(leg < 2 && err < 0 && g.l[leg].drop_n < 0);
	g.l[leg].drop_n = (int64_t)g.mi.requests;
	/* Silence: only after the limit (the harness has had no turn since
	 * the mirror's wait ended, so nothing has been sent meanwhile). */
	if (err == -ETIMEDOUT) {
		CHECK(silent_long(&g.l[leg]));
		g.l[leg].silence_seen = g.l[leg].bad_ever = true;
	}
	CHECK(g.l[leg].bad_ever);
}

/* ---- set-up --------------------------------------------------------- */

static void lower_open(unsigned i)
{
	struct lower *l = &g.l[i];
	uint8_t shape = fuzz_u8(&g.in), mx = fuzz_u8(&g.in);
	uint8_t dp = fuzz_u8(&g.in), orders = fuzz_u8(&g.in);
	uint32_t lb = shape & 1 ? 1024u : 512u;
	l->info = (struct vmsg_blk_info){
		.size = g.size, .logical_block = lb, .physical_block = 4096,
		.max_req = lb * (1u + mx % (LMAX / lb)),
		.depth = 1u + dp % LDEPTH, .flags = (shape >> 1) & 0x1f};
	l->drop_n = -1;
	unsigned lo, ro;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = LMAX + 64u;
	fuzz_peer_orders(orders, &lo, &ro);
	CHECK(fuzz_peer_connect(&l->fp, lo, ro, &o, &l->c) == 0);
	l->used = true;
	vmsg_reasm_init(&l->ra, l->rbuf, sizeof(l->rbuf));
	for (uint32_t j = 0; j < g.size; j++)
		l->ram[j] = pattern(0xffffffffu, j);
	/* The INFO waits in the ring for the client's HELLO. */
	uint8_t info[VMSG_BLK_INFO_SIZE];
	vmsg_blk_put_info(info, &l->info);
	CHECK(send(&l->fp, VMSG_TYPE_BLK_INFO, info, sizeof(info)));
	size_t sz = vmsg_blk_client_size(LDEPTH, LMAX);
	l->clmem = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	CHECK(l->clmem);
	CHECK(vmsg_blk_client_init(&l->cl, l->clmem, sz, l->c, LDEPTH, LMAX,
				   1000) == 0);
	l->heard_ns = l->fp.now_ns;
	/* Its HELLO. */
	struct vmsg_frame f;
	CHECK(vmsg_frame_peek(&l->fp.end, &f) == 1);
	CHECK(vmsg_reasm_feed(&l->ra, &f) == 1);
	(void)vmsg_frame_release(&l->fp.end, &f);
	CHECK(l->ra.type == VMSG_TYPE_BLK_HELLO && l->ra.len == VMSG_BLK_HELLO_SIZE);
	CHECK(get32(l->ra.buf + 8) == LDEPTH && get32(l->ra.buf + 12) == LMAX);
	l->fp.on_wait = turn;
}

static void lower_close(struct lower *l)
{
	if (!l->used)
		return;
	if (l->cl)
		vmsg_blk_client_fini(l->cl);
	vmsg_chan_close(l->c);
	fuzz_peer_fini(&l->fp);
	free(l->clmem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&g, 0, sizeof(g));
	g.in = (struct fuzz_in){data, size};
	g.mirror = fuzz_u8(&g.in) & 1;
	g.l[1].drop_n = -1; /* the overlay's: none */
	g.size = 1024u * (1u + fuzz_u8(&g.in) % 32u);
	g.nl = g.mirror ? 2 : 1;
	for (unsigned i = 0; i < g.nl; i++)
		lower_open(i);
	uint32_t amax = 512u * (1u + fuzz_u8(&g.in) % 32u);
	uint32_t adepth = 1u + fuzz_u8(&g.in) % 64u;
	uint8_t corders = fuzz_u8(&g.in);
	void **srv_mem, **stage;
	size_t *srv_size;
	int r;
	if (g.mirror) {
		blk_lower_init(&g.mi.leg[0].lower, g.l[0].cl, g.l[0].c,
			       LTIMEOUT_S);
		blk_lower_init(&g.mi.leg[1].lower, g.l[1].cl, g.l[1].c,
			       LTIMEOUT_S);
		g.mi.leg_failed = leg_failed;
		r = mirror_init(&g.mi, amax, adepth);
		g.ai = &g.mi.info;
		g.nreq = &g.mi.requests;
		srv_mem = &g.mi.srv_mem;
		srv_size = &g.mi.srv_size;
		stage = (void **)&g.mi.stage;
	} else {
		blk_lower_init(&g.ov.base, g.l[0].cl, g.l[0].c, LTIMEOUT_S);
		r = overlay_init(&g.ov, amax, adepth);
		g.ai = &g.ov.info;
		g.nreq = &g.ov.requests;
		srv_mem = &g.ov.srv_mem;
		srv_size = &g.ov.srv_size;
		stage = (void **)&g.ov.stage;
		/* Exactly what overlay_app.c takes within limit=. */
		g.ov.data = calloc(1, g.size);
		g.ov.written = calloc(1, g.size / g.ov.info.logical_block);
		CHECK(g.ov.data && g.ov.written);
	}
	if (r == 0) {
		CHECK(g.ai->size == g.size && g.ai->depth == adepth &&
		      g.ai->max_req <= amax && vmsg_blk_info_check(g.ai) == 0);
		*srv_size = vmsg_blk_server_size(adepth);
		*srv_mem = aligned_alloc(8, (*srv_size + 7) & ~(size_t)7);
		*stage = malloc(VMSG_BLK_REPLY_HDR + g.ai->max_req);
		CHECK(*srv_mem && *stage);
		for (uint32_t j = 0; j < g.size; j++)
			g.shadow[j] = pattern(0xffffffffu, j);
		unsigned lo, ro;
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		o.max_msg = g.ai->max_req + 64u; /* as blk_chan_opts, scaled */
		fuzz_peer_orders(corders, &lo, &ro);
		CHECK(fuzz_peer_connect(&g.fp, lo, ro, &o, &g.c) == 0);
		vmsg_reasm_init(&g.ra, g.rbuf, sizeof(g.rbuf));
		g.fp.on_wait = turn;

		r = g.mirror ? mirror_serve(&g.mi, g.c) : overlay_serve(&g.ov, g.c);

		note_silence();
		check_legs();
		if (!g.closed)
			take_replies();
		if (verbose())
			fprintf(stderr, "%s: returned %d; %llu requests served, "
				"%llu replies read, %u unanswered, %u disk "
				"misbehaviours; closed %d, broken %d; legs dropped "
				"at %lld, %lld\n", g.mirror ? "mirror" : "overlay", r,
				(unsigned long long)*g.nreq,
				(unsigned long long)g.replies, g.nq, g.nev, g.closed,
				g.broken, (long long)g.l[0].drop_n,
				(long long)g.l[1].drop_n);
		CHECK(r == -EPIPE || r == -EPROTO || r == -EIO);
		CHECK(r != -EPIPE || g.closed);
		CHECK(r != -EPROTO || g.broken);
		if (g.mirror) {
			CHECK(r != -EIO || mirror_legs_up(&g.mi) == 0);
			for (unsigned i = 0; i < g.nev; i++)
				if (g.ev[i].n < g.mi.requests)
					CHECK(!leg_up_at(g.ev[i].leg, g.ev[i].n));
		} else {
			CHECK(r != -EIO || g.l[0].bad_ever);
			/* Given up for silence only after the limit. */
			CHECK(!g.ov.base.silent || g.l[0].silence_seen);
		}
		vmsg_chan_close(g.c);
		fuzz_peer_fini(&g.fp);
	}
	for (unsigned i = 0; i < g.nl; i++)
		lower_close(&g.l[i]);
	free(*srv_mem);
	free(*stage);
	free(g.ov.data);
	free(g.ov.written);
	return 0;
}
