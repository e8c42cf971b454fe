/* integ_hostile_peer: a peer process connects normally, then writes the
 * shared page and ring bytes by hand while the victim (this process) sends
 * and receives with short timeouts. It must never crash, hang or touch
 * memory out of bounds (the ASan flavour checks the heap; views into the
 * ring are checked against the ring's bounds here), and each round kind
 * holds it to one promise.
 *
 * The peer is an honest sender and an attacker at once. Its honest
 * messages are numbered: message n's type, length and bytes follow from
 * the round's seed and n alone (honest_msg), and the victim compares every
 * message it is handed with the one it expects next. Every frame the
 * attacker writes is one a correct victim must refuse (-EPROTO, sticky:
 * state BROKEN, every later call says so), and the honest numbering skips
 * a number after each, so a victim that skips or accepts such a frame and
 * goes on is caught by the next message it delivers. The attacker never
 * writes what a correct victim could not tell from an honest peer's
 * writes: bytes of frames already published, the victim's read index, or
 * its write index moved ahead into unpublished bytes.
 *
 * Round kinds, each with the victim as server and as client, seeded:
 *   INDEX   honest traffic both ways while the peer scribbles on what the
 *           victim must keep private copies of or may ignore (the orders,
 *           the notify bytes): no error may come of it. Then, with the
 *           victim idle, the peer makes one index impossible and holds it:
 *           the victim's rx prod more than a ring ahead of its cons or
 *           behind it (with a well-formed trap message, one the honest
 *           sender never sent, where the victim would read next), or its
 *           tx cons ahead of its prod or more than a ring behind it. The
 *           victim must answer -EPROTO: before delivering anything but
 *           the honest messages already sent, and before writing more
 *           than one ring's worth of frames.
 *   FRAMES  honest messages (single frames and fragment sequences), then,
 *           once per round first and then one frame in seven, a frame to
 *           refuse: unknown flags, a length past half the ring, CONT
 *           without a start, an over-size announcement whose fragments do
 *           not add up, the type changing mid-message, more bytes than
 *           announced, a misaligned index, a PAD that claims too much or a
 *           third PAD in a row, a random header with an unknown flag, a
 *           frame that would wrap past the ring's end. The victim must
 *           deliver exactly the honest messages before the first of them,
 *           then answer -EPROTO.
 *   CHAOS   FRAMES traffic, with random bytes in the orders, live and
 *           notify bytes, in the indices of the ring the victim writes,
 *           in the ring bytes it must not read (its tx ring, the
 *           unpublished part of its rx ring), and its rx prod set to
 *           impossible values or moved back. Whatever the victim ends with
 *           (-EPROTO, -EPIPE, a timeout), what it delivered must be
 *           honest messages in order.
 *   BADPAGE the hostile server publishes impossible orders: connect must
 *           fail with -EPROTO
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsg/frame.h>

#include "integ.h"
#include "vmsg_barrier.h"
#include "vmsg_chan_internal.h"

#define MAX_MSG (256u * 1024u)
#define CALL_MS 20               /* every victim call has this timeout */
#define CALL_LIMIT_NS 5000000000ull /* a call longer than this is a hang */
#define CHAOS_NS 1500000000ull   /* CHAOS rounds, at most */
/* FRAMES rounds end at their -EPROTO, which must come within this (a
 * starved peer on a loaded machine may take a while to write its first
 * attack); the INDEX noise phase ends after NOISE_OPS victim calls, or
 * this; then -EPROTO must come within PHASE2_NS. */
#define SLOW_NS 20000000000ull
#define NOISE_OPS 200            /* INDEX: victim calls before the bad index */
#define PHASE2_NS 5000000000ull

#define ROUNDS 20 /* of each kind, victim as server and as client */

/* Honest messages: at most this long, so that each fits one frame of the
 * smallest ring (1 KiB: 504 bytes); one in four is sent as 2 to 4
 * fragments all the same. */
#define HONEST_MAX 300u
#define TRAP_GAP 1000u /* the trap is honest message number next + this */
#define VICTIM_MSG 64u /* INDEX, tx variants: the victim's messages */

enum kind { INDEX, FRAMES, CHAOS, BADPAGE };
static const char *kind_name[] = { "index", "frames", "chaos", "badpage" };

/* INDEX: the index made impossible (the victim's view). */
enum bad_index { RX_AHEAD, RX_BEHIND, TX_AHEAD, TX_BEHIND };
static const char *bad_name[] = { "rx prod > cons + size", "rx prod < cons",
				  "tx cons > prod", "tx cons < prod - size" };

struct round {
	enum kind kind;
	bool victim_server;
	uint64_t seed;
	uint32_t ring; /* ring size both sides ask for (orders 10 and 11 may
			* not be the same: then one ring is twice as large) */
	unsigned variant;
	const char *path;
	int ready_wr;  /* peer -> victim: set up (one byte) */
	int go_rd;     /* victim -> peer (INDEX): idle, make the index bad */
	int report_wr; /* peer -> victim: one struct report */
};

/* What the peer tells the victim, once: at the INDEX switch, or before it
 * publishes its first frame to refuse (FRAMES, CHAOS). */
struct report {
	uint32_t honest;  /* honest messages published before it */
	uint32_t variant; /* INDEX: enum bad_index; FRAMES: `exact` */
	uint32_t delta;   /* INDEX: how far out of range */
};

struct honest {
	uint16_t type;
	uint32_t len;
	unsigned frags;
	uint8_t b[HONEST_MAX];
};

/* Honest message number `seq` of the round with this seed. */
static void honest_msg(uint64_t seed, uint32_t seq, struct honest *h)
{
	uint64_t s = (seed ^ (0x9e3779b97f4a7c15ull * (seq + 1ull))) | 1;
	uint64_t v = vmsg_test_rand(&s);

	h->type = (uint16_t)(INTEG_TYPE + v % 16);
	h->len = (uint32_t)((v >> 8) % (HONEST_MAX + 1));
	h->frags = (v >> 20) % 4 == 0 ? 2 + (unsigned)((v >> 24) % 3) : 1;
	/* A continuation carries at least one byte (docs/protocol.md): a
	 * message shorter than its fragments goes in one frame. */
	if (h->len < h->frags)
		h->frags = 1;
	integ_fill_random(&s, h->b, h->len);
	if (h->len >= 4) /* for a readable failure message */
		memcpy(h->b, &seq, 4);
}

/* ---- the hostile peer ------------------------------------------------- */

/* The peer's writing side: the victim's rx ring. */
struct writer {
	struct vmsg_ring *r;
	uint32_t wp;      /* our write index; private */
	uint32_t seq;     /* the next honest message */
	uint64_t seed;    /* of the honest messages */
	bool attacked;    /* a frame to refuse is out */
	unsigned first;   /* the first attack: after this many messages, */
	unsigned kind;    /* ... of this kind */
	int report_wr;
};

static void put_hdr(uint8_t *at, uint32_t len, uint16_t type, uint16_t flags)
{
	memcpy(at, &len, 4);
	memcpy(at + 4, &type, 2);
	memcpy(at + 6, &flags, 2);
}

/* Free bytes from our write index, by the victim's cons (which only the
 * victim writes: we never scribble on it). */
static uint32_t room(const struct writer *w)
{
	uint32_t used = w->wp - vmsg__load_acquire(&w->r->sh->cons);

	return used > w->r->size ? 0 : w->r->size - used;
}

/* Write one frame's header at *wp, with a PAD to the ring's end first when
 * it would not fit before it, and advance *wp past it; nothing is
 * published. Returns its payload, NULL when there is no room now. */
static uint8_t *put_frame(struct writer *w, uint32_t *wp, uint32_t len,
			  uint16_t type, uint16_t flags)
{
	struct vmsg_ring *r = w->r;
	uint32_t need = vmsg_frame_size(len);
	uint32_t off = *wp & (r->size - 1), tail = r->size - off;
	uint32_t pad = need > tail ? tail : 0;
	uint32_t used = *wp - vmsg__load_acquire(&r->sh->cons);

	if (used > r->size || r->size - used < pad + need)
		return NULL;
	if (pad) {
		put_hdr(r->data + off, tail - VMSG_FRAME_HDR_SIZE,
			VMSG_TYPE_PAD, 0);
		*wp += tail;
		off = 0;
	}
	put_hdr(r->data + off, len, type, flags);
	*wp += need;
	return r->data + off + VMSG_FRAME_HDR_SIZE;
}

/* Write honest message w->seq (or the one `gap` after it, unnumbered: the
 * INDEX trap) at our index; published unless `publish` is false. */
static bool write_honest(struct writer *w, uint32_t gap, bool publish)
{
	struct honest h;
	uint32_t wp = w->wp;
	uint8_t *p;

	honest_msg(w->seed, w->seq + gap, &h);
	for (unsigned i = 0; i < h.frags; i++) {
		uint32_t a = h.len * i / h.frags, b = h.len * (i + 1) / h.frags;
		uint32_t pre = h.frags > 1 && i == 0 ? 8 : 0;
		uint16_t fl = 0;

		if (h.frags > 1)
			fl = (uint16_t)((i ? VMSG_FRAME_CONT : 0) |
					(i + 1 < h.frags ? VMSG_FRAME_MORE : 0));
		if (!(p = put_frame(w, &wp, pre + b - a, h.type, fl)))
			return false;
		if (pre) {
			uint64_t total = h.len;
			memcpy(p, &total, 8);
		}
		memcpy(p + pre, h.b + a, b - a);
	}
	if (!publish)
		return true;
	w->wp = wp;
	w->seq++;
	vmsg__store_release(&w->r->sh->prod, wp);
	return true;
}

static void publish(struct writer *w, uint32_t wp)
{
	w->wp = wp;
	vmsg__store_release(&w->r->sh->prod, wp);
}

/* Before the first attack is published: tell the victim how many honest
 * messages came before it, and whether it must have them all before it
 * refuses the attack (`exact`: not so for a misaligned index, which the
 * victim sees as soon as it reads the index). */
static void first_attack(struct writer *w, bool exact)
{
	struct report rep = { w->seq, exact, 0 };

	if (w->attacked)
		return;
	integ_write_full(w->report_wr, &rep, sizeof(rep));
	w->attacked = true;
}

/* A length no honest frame has: more than half the ring's payload. */
static uint32_t bad_len(uint64_t *s, uint32_t size)
{
	switch (vmsg_test_rand(s) % 6) {
	case 0: return size / 2 - VMSG_FRAME_HDR_SIZE + 1;
	case 1: return size / 2;
	case 2: return size;
	case 3: return size + 1;
	case 4: return 0xffffffffu;
	default:
		return size / 2 + (uint32_t)(vmsg_test_rand(s) % (0xffffffffu -
							     size / 2));
	}
}

/* Write one frame (or index) a correct victim must refuse, of kind k. The
 * report goes out before it is published; the honest numbering skips one.
 * Returns false when there is no room for it now (nothing written). */
static bool write_attack(struct writer *w, uint64_t *s, unsigned k)
{
	struct vmsg_ring *r = w->r;
	uint32_t size = r->size, wp = w->wp;
	uint32_t tail = size - (wp & (size - 1));
	uint16_t t = INTEG_TYPE;
	uint64_t total;
	uint8_t *p;

	if (room(w) < 16) /* for a header and a misaligned index */
		return false;
	switch (k) {
	case 0: /* unknown flags */
		p = put_frame(w, &wp, 16, t,
			      (uint16_t)(4u << (vmsg_test_rand(s) % 14) |
					 (vmsg_test_rand(s) % 4)));
		if (!p)
			return false;
		integ_fill_random(s, p, 16);
		break;
	case 1: /* a length past half the ring; only the header published */
		put_hdr(r->data + (wp & (size - 1)), bad_len(s, size), t, 0);
		wp += 8;
		break;
	case 2: /* CONT without a start */
		if (!(p = put_frame(w, &wp, 32, t, VMSG_FRAME_CONT)))
			return false;
		integ_fill_random(s, p, 32);
		break;
	case 3: /* over max_msg: -EMSGSIZE; then fragments that do not add
		 * up to the announced total: -EPROTO */
		total = vmsg_test_rand(s) % 2 ? 1ull << 40 : MAX_MSG + 1ull;
		if (!(p = put_frame(w, &wp, 64, t, VMSG_FRAME_MORE)))
			return false;
		memcpy(p, &total, 8);
		if (!put_frame(w, &wp, 64, t, VMSG_FRAME_CONT))
			return false;
		break;
	case 4: /* the type changes mid-message (the bytes add up) */
		total = 56 + 64;
		if (!(p = put_frame(w, &wp, 64, t, VMSG_FRAME_MORE)))
			return false;
		memcpy(p, &total, 8);
		if (!put_frame(w, &wp, 64, t + 1, VMSG_FRAME_CONT))
			return false;
		break;
	case 5: /* more bytes than announced */
		total = 60;
		if (!(p = put_frame(w, &wp, 64, t, VMSG_FRAME_MORE)))
			return false;
		memcpy(p, &total, 8);
		if (!put_frame(w, &wp, 200, t, VMSG_FRAME_CONT))
			return false;
		break;
	case 6: { /* a misaligned index, over a header with every flag set
		   * (what the victim reads there once an aligned index
		   * covers it) */
		uint32_t odd = 1 + (uint32_t)(vmsg_test_rand(s) % 7);
		memset(r->data + (wp & (size - 1)), 0xff, 8);
		first_attack(w, false);
		vmsg__store_release(&r->sh->prod, wp + odd);
		w->wp = wp + 8;
		w->seq++;
		return true;
	}
	case 7: /* a PAD that claims too much, or a third PAD in a row */
		if (vmsg_test_rand(s) % 2) {
			put_hdr(r->data + (wp & (size - 1)), bad_len(s, size),
				VMSG_TYPE_PAD, 0);
			wp += 8;
		} else {
			for (int i = 0; i < 3; i++)
				if (!put_frame(w, &wp, 0, VMSG_TYPE_PAD, 0))
					return false;
		}
		break;
	case 8: { /* a random header, with one unknown flag at least */
		uint64_t h = vmsg_test_rand(s);
		h |= (uint64_t)(4u << (vmsg_test_rand(s) % 14)) << 48;
		memcpy(r->data + (wp & (size - 1)), &h, 8);
		wp += 8;
		break;
	}
	default: /* a frame that would wrap: its length is the tail's, with
		  * only the header published (needs a tail short enough
		  * that the half-ring check does not see it first) */
		if (tail > size / 2 - VMSG_FRAME_HDR_SIZE)
			return write_attack(w, s, 0);
		put_hdr(r->data + (wp & (size - 1)), tail, t, 0);
		wp += 8;
		break;
	}
	first_attack(w, true);
	w->seq++; /* the victim must never see this number */
	publish(w, wp);
	return true;
}

#define ATTACK_KINDS 10

/* One step of FRAMES traffic: an honest message, or (first after
 * w->first honest messages, then one time in seven) an attack. */
static void frames_step(struct writer *w, uint64_t *s)
{
	bool attack = w->attacked ? vmsg_test_rand(s) % 7 == 0
				  : w->seq >= w->first;

	if (!attack)
		write_honest(w, 0, true);
	else if (!w->attacked)
		write_attack(w, s, w->kind);
	else { /* not a misaligned index (6): the victim would see it at
		* once, before honest messages it must still deliver */
		unsigned k = (unsigned)(vmsg_test_rand(s) % (ATTACK_KINDS - 1));
		write_attack(w, s, k < 6 ? k : k + 1);
	}
}

/* Consume whatever the victim sent, as a peer would. */
static void consume(struct vmsg_ring_end *e)
{
	vmsg__store_release(&e->rx.sh->cons, vmsg__load_acquire(&e->rx.sh->prod));
}

/* CHAOS: random bytes where a correct victim must refuse or ignore them. */
static void chaos_step(struct vmsg_ring_end *e, struct writer *w, uint64_t *s)
{
	uint64_t v = vmsg_test_rand(s);
	uint8_t *pg = (uint8_t *)e->page;
	uint32_t size = w->r->size;

	switch (v % 16) {
	case 0: /* orders, live and notify bytes */
		pg[16 + (v >> 8) % 8] = (uint8_t)(v >> 32);
		break;
	case 1: /* the indices of the ring the victim writes */
		((uint8_t *)&e->rx.sh->cons)[(v >> 8) % 4] = (uint8_t)(v >> 32);
		break;
	case 2:
		((uint8_t *)&e->rx.sh->prod)[(v >> 8) % 4] = (uint8_t)(v >> 32);
		break;
	case 3: /* the victim's tx ring, which it never reads */
		e->rx.data[(v >> 8) & (e->rx.size - 1)] = (uint8_t)(v >> 32);
		break;
	case 4: { /* the unpublished part of its rx ring */
		uint32_t n = room(w);
		if (n)
			w->r->data[(w->wp + (uint32_t)((v >> 8) % n)) &
				   (size - 1)] = (uint8_t)(v >> 32);
		break;
	}
	case 5: { /* its rx prod: impossible, or moved back (never ahead
		   * into unpublished bytes, which it could not tell from
		   * honest ones) */
		uint32_t cons = vmsg__load_acquire(&w->r->sh->cons), p;
		if (w->wp - cons > size)
			break;
		switch ((v >> 8) % 4) {
		case 0: p = w->wp + size + 1 + (uint32_t)(v >> 40) % 4096; break;
		case 1: p = cons - 1 - (uint32_t)(v >> 40) % 64; break;
		case 2: p = cons + (uint32_t)(v >> 40) % (w->wp - cons + 1); break;
		default: p = (uint32_t)(v >> 32);
		}
		if (p - w->wp - 1 < size) /* ahead, within a ring: no */
			p = w->wp;
		vmsg__store_release(&w->r->sh->prod, p);
		break;
	}
	default:
		frames_step(w, s);
	}
}

/* INDEX: the victim has taken every honest message and is idle; make the
 * chosen index impossible. */
static void bad_index(struct vmsg_ring_end *e, struct writer *w, uint64_t *s,
		      unsigned variant)
{
	static const uint32_t rx_delta[] = { 1, 7, 8, 64, 1000, 0x40000000 };
	static const uint32_t tx_ahead[] = { 1, 2, 3, 4 }; /* rings */
	static const uint32_t tx_behind[] = { 1, 8, 64, 1000, 1u << 20,
					      0x40000000 };
	uint32_t pick = (uint32_t)vmsg_test_rand(s);
	uint32_t rx_size = w->r->size, tx_size = e->rx.size; /* the victim's */
	struct report rep = { w->seq, variant % 4, 0 };

	/* The victim flushed before going idle: its published cons is its
	 * read index, its published prod its write index. */
	consume(e);
	ASSERT_EQ(vmsg__load_acquire(&w->r->sh->cons), w->wp);
	uint32_t rx_cons = w->wp;
	uint32_t tx_prod = vmsg__load_acquire(&e->rx.sh->prod);

	switch (rep.variant) {
	case RX_AHEAD:
	case RX_BEHIND:
		/* The trap: a well-formed message the honest sender never
		 * sent, where the victim reads next. */
		ASSERT_TRUE(write_honest(w, TRAP_GAP, false));
		rep.delta = rx_delta[pick % 6];
		vmsg__store_release(&w->r->sh->prod,
				    rep.variant == RX_AHEAD
					    ? rx_cons + rx_size + rep.delta
					    : rx_cons - rep.delta);
		break;
	case TX_AHEAD:
		/* At least a ring ahead, so that a victim without the check
		 * could write more than a ring's worth. */
		rep.delta = tx_ahead[pick % 4] * tx_size + pick % tx_size;
		vmsg__store_release(&e->rx.sh->cons, tx_prod + rep.delta);
		break;
	default:
		rep.delta = tx_behind[pick % 6];
		vmsg__store_release(&e->rx.sh->cons,
				    tx_prod - tx_size - rep.delta);
	}
	/* Only now: the victim looks as soon as it reads this. */
	integ_write_full(w->report_wr, &rep, sizeof(rep));
}

static int hostile(void *arg)
{
	const struct round *rd = arg;
	struct vmsg_chan_opts o;
	struct vmsg_ring_end *e;
	struct vmsg_platform *p;
	uint64_t s = rd->seed;
	struct writer w;
	int stage = 0; /* INDEX: noise, quiet, the bad index held */
	vmsg_chan *c;
	int r;

	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = rd->ring;
	if (rd->victim_server) {
		r = integ_connect(&c, rd->path, &o, 20000);
	} else {
		r = integ_serve(&c, rd->path, &o);
	}
	if (r < 0)
		VMSG_TEST_FAIL("hostile setup: %s", vmsg_strerror(r));
	e = vmsg__chan_ring(c);
	p = vmsg__chan_platform(c);
	ASSERT_TRUE(e != NULL && p != NULL);
	w = (struct writer){ .r = &e->tx, .wp = e->tx.idx,
			     .seed = rd->seed ^ 0x4e0e57ull,
			     .first = 5 + (unsigned)(vmsg_test_rand(&s) % 36),
			     .kind = rd->variant % ATTACK_KINDS,
			     .report_wr = rd->report_wr };
	if (rd->kind == BADPAGE) {
		static const uint16_t bad[][2] = { { 9, 10 }, { 10, 21 },
			{ 0, 0 }, { 0xffff, 12 }, { 10, 10 }, { 11, 11 } };
		unsigned i = rd->variant % 6;
		e->page->left_order = bad[i][0];
		e->page->right_order = bad[i][1];
	}
	integ_write_full(rd->ready_wr, "r", 1);
	if (!rd->victim_server) {
		char up = 0;
		vmsg_chan_accept(c, 20000); /* whatever the victim makes of it */
		/* The attacks start once the victim's connect has returned
		 * (its 'c'; EOF when it failed): accept may return before the
		 * client has read the page (the host backend admits it on its
		 * hello), and changing the orders under a connect that reads
		 * them is a round of its own (BADPAGE). */
		(void)!read(rd->go_rd, &up, 1);
	}
	ASSERT_EQ(fcntl(rd->go_rd, F_SETFL, O_NONBLOCK), 0);

	/* Until the victim kills us. */
	for (;;) {
		uint64_t v = vmsg_test_rand(&s);
		char go = 0;

		switch (rd->kind) {
		case INDEX:
			if (stage == 2)
				break;
			if (read(rd->go_rd, &go, 1) == 1 && go == 'g') {
				/* Quiet: the victim takes what was sent. */
				struct report rep = { w.seq, 0, 0 };
				integ_write_full(rd->report_wr, &rep,
						 sizeof(rep));
				stage = 1;
			} else if (stage == 1 && go == 'b') {
				bad_index(e, &w, &s, rd->variant);
				stage = 2;
				break;
			}
			consume(e);
			if (stage == 1)
				break;
			/* What the victim keeps private copies of (the
			 * orders) or only reads as hints (notify bytes). */
			if (v & 0x100)
				e->page->left_order = (uint16_t)(v >> 16);
			if (v & 0x200)
				e->page->right_order = (uint16_t)(v >> 32);
			if (v & 0x400)
				e->page->cli_notify = (uint8_t)(v >> 40);
			if (v & 0x800)
				e->page->srv_notify = (uint8_t)(v >> 48);
			write_honest(&w, 0, true);
			break;
		case FRAMES:
			frames_step(&w, &s);
			consume(e);
			break;
		case CHAOS:
			chaos_step(e, &w, &s);
			consume(e);
			break;
		case BADPAGE:
			break;
		}
		if (v % 4 == 0 && stage != 2)
			p->ops->notify(p);
		usleep(200);
	}
}

/* ---- the victim ------------------------------------------------------ */

struct tally {
	unsigned ok, delivered, eproto, epipe, etimedout, eagain, emsgsize;
};

static void count_result(int r, struct tally *t, const char *op)
{
	switch (r) {
	case -EPROTO: t->eproto++; break;
	case -EPIPE: t->epipe++; break;
	case -ETIMEDOUT: t->etimedout++; break;
	case -EAGAIN: t->eagain++; break;
	case -EMSGSIZE: t->emsgsize++; break;
	default:
		if (r < 0)
			VMSG_TEST_FAIL("%s: unexpected %d (%s)", op, r,
				       vmsg_strerror(r));
		t->ok++;
	}
}

/* A presented message must lie inside the rx ring or be private memory
 * (which ASan checks when we read it all). */
static void check_view(vmsg_chan *c, const struct vmsg_msg *m)
{
	const struct vmsg_ring *rx = &vmsg__chan_ring(c)->rx;
	const uint8_t *d = m->data, *lo = rx->data, *hi = rx->data + rx->size;

	ASSERT_LE(m->len, MAX_MSG);
	if (d >= lo && d < hi) {
		ASSERT_LE(m->len, (size_t)(hi - d));
		return;
	}
	ASSERT_TRUE(m->len == 0 || d != NULL);
}

/* A delivered message must be the honest sender's next one. */
static void check_msg(const struct round *rd, struct tally *t, uint16_t type,
		      const uint8_t *d, size_t len)
{
	struct honest h;
	uint32_t seq = 0;

	honest_msg(rd->seed ^ 0x4e0e57ull, t->delivered, &h);
	if (len >= 4)
		memcpy(&seq, d, 4);
	if (type != h.type || len != h.len || memcmp(d, h.b, len) != 0)
		VMSG_TEST_FAIL("delivered message %u is not the honest one: "
			       "type 0x%x, %zu bytes, starts with %u; sent: "
			       "type 0x%x, %u bytes",
			       t->delivered, type, len, seq, h.type, h.len);
	t->delivered++;
}

/* One receive, by recv or by peek and release; checks what came. */
static int receive(vmsg_chan *c, const struct round *rd, struct tally *t,
		   bool by_peek, int timeout_ms)
{
	static uint8_t in[MAX_MSG];
	struct vmsg_msg m;
	uint16_t type;
	int r;

	if (!by_peek) {
		r = vmsg_chan_recv(c, &type, in, sizeof(in), timeout_ms);
		if (r >= 0) {
			ASSERT_LE(r, sizeof(in));
			check_msg(rd, t, type, in, (size_t)r);
		}
		return r;
	}
	r = vmsg_chan_peek(c, &m, timeout_ms);
	if (r == 0) {
		check_view(c, &m);
		check_msg(rd, t, m.type, m.data, m.len);
		r = vmsg_chan_release(c);
	}
	return r;
}

/* After -EPROTO: the channel is broken for good. */
static void check_broken(vmsg_chan *c)
{
	static uint8_t b[16];

	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_BROKEN);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, sizeof(b), 0), -EPROTO);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, b, 1, 0, 0), -EPROTO);
}

/* Random sends, receives and peeks until -EPROTO or -EPIPE, the time is
 * up, or `ops` calls (0: no limit). Returns the last result. */
static int traffic(vmsg_chan *c, const struct round *rd, struct tally *t,
		   uint64_t *s, uint64_t ns, unsigned ops, bool finish)
{
	static uint8_t out[MAX_MSG];
	size_t pend_len = 0; /* an interrupted send to finish first */
	int mf = vmsg_chan_max_frame(c), r = 0;
	uint64_t end = integ_now_ns() + ns;

	ASSERT_GT(mf, 0);
	for (unsigned n = 0; integ_now_ns() < end && (!ops || n < ops); n++) {
		uint64_t v = vmsg_test_rand(s), t0 = integ_now_ns();
		const char *op = "send";
		size_t len;

		switch (v % 4) {
		case 0:
		case 1:
			len = pend_len ? pend_len
			      : v % 8 ? 1 + (v >> 8) % 200
				      : (size_t)mf * 2 + (v >> 8) % 1000;
			r = vmsg_chan_send(c, INTEG_TYPE, out, len, 0, CALL_MS);
			pend_len = r == -ETIMEDOUT || r == -EAGAIN ? len : 0;
			break;
		default:
			op = v % 4 == 2 ? "recv" : "peek";
			r = receive(c, rd, t, v % 4 == 3, CALL_MS);
		}
		if (integ_now_ns() - t0 > CALL_LIMIT_NS)
			VMSG_TEST_FAIL("%s took %.1f s with a %d ms timeout", op,
				       (double)(integ_now_ns() - t0) / 1e9,
				       CALL_MS);
		count_result(r, t, op);
		if (r == -EPROTO) {
			check_broken(c);
			return r;
		}
		if (r == -EPIPE)
			return r;
	}
	/* `finish`: an interrupted send would make the next one -EBUSY. */
	end = integ_now_ns() + CALL_LIMIT_NS;
	while (finish && pend_len && integ_now_ns() < end &&
	       (r = vmsg_chan_send(c, INTEG_TYPE, out, pend_len, 0,
				   CALL_MS)) == -ETIMEDOUT)
		;
	return r;
}

/* INDEX, after the noise: the peer holds one index impossible. */
static void index_phase(vmsg_chan *c, const struct round *rd, struct tally *t,
			int go_wr, int report_rd)
{
	static uint8_t out[VICTIM_MSG];
	uint64_t end = integ_now_ns() + PHASE2_NS;
	uint32_t wrote = 0, size = vmsg__chan_ring(c)->tx.size;
	struct report rep;
	int r;

	/* Quiet: take every honest message sent, publish our cons. */
	integ_write_full(go_wr, "g", 1);
	integ_read_full(report_rd, &rep, sizeof(rep));
	while (t->delivered < rep.honest)
		if ((r = receive(c, rd, t, t->delivered % 2, CALL_MS)) < 0)
			VMSG_TEST_FAIL("honest message %u of %u: %s",
				       t->delivered, rep.honest,
				       vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_flush(c), 0);
	integ_write_full(go_wr, "b", 1);
	integ_read_full(report_rd, &rep, sizeof(rep));
	ASSERT_EQ(rep.honest, t->delivered);
	printf("  bad index: %s by %u, after %u honest messages\n",
	       bad_name[rep.variant], rep.delta, rep.honest);
	for (unsigned n = 0;; n++) {
		if (integ_now_ns() > end)
			VMSG_TEST_FAIL("no -EPROTO in %.0f s with %s",
				       PHASE2_NS / 1e9, bad_name[rep.variant]);
		if (rep.variant == RX_AHEAD || rep.variant == RX_BEHIND) {
			/* Everything honest is taken: -EPROTO at once, not
			 * a wait, nor the trap (check_msg fails on it). */
			r = receive(c, rd, t, n % 2, CALL_MS);
			if (r == -EPROTO)
				break;
			VMSG_TEST_FAIL("receive with %s: %d (%s), not EPROTO",
				       bad_name[rep.variant], r,
				       vmsg_strerror(r));
		} else {
			/* Nobody consumes: the victim may fill what it knew
			 * to be free, at most a ring, then -EPROTO. */
			r = vmsg_chan_send(c, INTEG_TYPE, out, sizeof(out), 0,
					   CALL_MS);
			if (r == -EPROTO)
				break;
			if (r != (int)sizeof(out))
				VMSG_TEST_FAIL("send with %s: %d (%s), not "
					       "EPROTO", bad_name[rep.variant],
					       r, vmsg_strerror(r));
			wrote += vmsg_frame_size(sizeof(out));
			if (wrote > size)
				VMSG_TEST_FAIL("wrote %u bytes of frames into "
					       "a %u-byte ring with %s",
					       wrote, size,
					       bad_name[rep.variant]);
		}
	}
	t->eproto++;
	check_broken(c);
}

static void victim(vmsg_chan *c, const struct round *rd, struct tally *t,
		   int go_wr, int report_rd)
{
	uint64_t s = rd->seed ^ 0x77;
	struct report rep;
	int r;

	switch (rd->kind) {
	case INDEX:
		/* The noise must not break anything. */
		r = traffic(c, rd, t, &s, SLOW_NS, NOISE_OPS, true);
		if (r < 0 && r != -ETIMEDOUT)
			VMSG_TEST_FAIL("noise phase: %s", vmsg_strerror(r));
		if (t->eproto || t->epipe || t->emsgsize)
			VMSG_TEST_FAIL("noise phase: EPROTO %u, EPIPE %u, "
				       "EMSGSIZE %u", t->eproto, t->epipe,
				       t->emsgsize);
		index_phase(c, rd, t, go_wr, report_rd);
		break;
	case FRAMES:
		traffic(c, rd, t, &s, SLOW_NS, 0, false);
		/* Every honest message before the first attack, then the
		 * attack refused. */
		ASSERT_EQ(t->eproto, 1);
		integ_read_full(report_rd, &rep, sizeof(rep));
		if (rep.variant)
			ASSERT_EQ(t->delivered, rep.honest);
		ASSERT_LE(t->delivered, rep.honest);
		break;
	default: /* CHAOS: what came was checked as it came */
		traffic(c, rd, t, &s, CHAOS_NS, 0, false);
	}
}

static void run_round(struct round *rd, unsigned n)
{
	struct vmsg_chan_opts o;
	struct integ_tmp tmp;
	struct tally t = { 0 };
	vmsg_chan *c = NULL;
	int ready[2], go[2], report[2], fds, r;
	uint8_t b;
	pid_t pid;

	integ_tmp_make(&tmp);
	fds = vmsg_test_count_fds();
	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(report), 0);
	rd->path = tmp.path;
	rd->ready_wr = ready[1];
	rd->go_rd = go[0];
	rd->report_wr = report[1];
	pid = integ_fork(hostile, rd);
	/* Only the peer writes these: its death is EOF here, not a hang. */
	close(ready[1]);
	close(report[1]);
	close(go[0]);

	vmsg_chan_opts_init(&o);
	o.max_msg = MAX_MSG;
	o.rx_ring_size = o.tx_ring_size = rd->ring;
	if (rd->victim_server) {
		if ((r = integ_serve(&c, tmp.path, &o)) < 0)
			VMSG_TEST_FAIL("victim serve: %s", vmsg_strerror(r));
		r = vmsg_chan_accept(c, 20000);
		if (r == -EPROTO && rd->kind == CHAOS) {
			/* The peer's damage (a live byte no state has) came
			 * before our accept looked: refused there. */
			t.eproto++;
			vmsg_chan_close(c);
			c = NULL;
		} else if (r < 0) {
			VMSG_TEST_FAIL("victim accept: %s", vmsg_strerror(r));
		}
		integ_read_full(ready[0], &b, 1);
	} else {
		integ_read_full(ready[0], &b, 1);
		r = integ_connect(&c, tmp.path, &o, 20000);
		if (rd->kind == BADPAGE) {
			ASSERT_EQ(r, -EPROTO);
			ASSERT_TRUE(c == NULL);
			t.eproto++;
		} else if (r < 0) {
			VMSG_TEST_FAIL("victim connect: %s", vmsg_strerror(r));
		} else {
			integ_write_full(go[1], "c", 1);
		}
	}
	if (c) {
		victim(c, rd, &t, go[1], report[0]);
		vmsg_chan_close(c);
	}
	kill(pid, SIGKILL);
	ASSERT_EQ(integ_reap(pid), 128 + SIGKILL);
	close(ready[0]);
	close(report[0]);
	close(go[1]);
	ASSERT_EQ(vmsg_test_count_fds(), fds);
	integ_tmp_drop(&tmp);

	printf("round %2u %-7s victim=%-6s ring=%-6u seed=%016llx: ok %u "
	       "(delivered %u), EPROTO %u, EPIPE %u, ETIMEDOUT %u, EAGAIN %u, "
	       "EMSGSIZE %u\n",
	       n, kind_name[rd->kind], rd->victim_server ? "server" : "client",
	       rd->ring, (unsigned long long)rd->seed, t.ok, t.delivered,
	       t.eproto, t.epipe, t.etimedout, t.eagain, t.emsgsize);
	fflush(stdout);
	if (rd->kind == INDEX || rd->kind == BADPAGE)
		ASSERT_EQ(t.eproto, 1);
}

int main(int argc, char **argv)
{
	static const uint32_t rings[] = { 1024, 2048, 4096, 65536 };
	static const enum kind kinds[] = { INDEX, FRAMES, CHAOS, BADPAGE };
	uint64_t seed = 0x5eed0000c0ffeeull;
	unsigned n = 0;

	integ_init(&argc, &argv);

	if (getenv("VMSG_TEST_SEED"))
		seed = strtoull(getenv("VMSG_TEST_SEED"), NULL, 0);
	printf("hostile peer rounds, seed 0x%llx\n", (unsigned long long)seed);
	for (unsigned i = 0; i < ROUNDS; i++) {
		for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			for (int side = 0; side < 2; side++, n++) {
				struct round rd = {
					.kind = kinds[k],
					.victim_server = side == 0 &&
							 kinds[k] != BADPAGE,
					.seed = vmsg_test_rand(&seed),
					.ring = rings[(n + i) % 4],
					.variant = i * 2 + (unsigned)side,
				};
				run_round(&rd, n);
			}
		}
	}
	return 0;
}
