/* integ_hostile_peer: a peer process connects normally, then rewrites the
 * shared page and ring bytes while the victim (this process) sends and
 * receives with short timeouts. The victim must answer -EPROTO (sticky:
 * state BROKEN, every later call says so), or keep working on what is still
 * valid, or time out, or see -EPIPE; it must never crash, hang or touch
 * memory out of bounds (the ASan flavour checks the heap; views into the
 * ring are checked against the ring's bounds here).
 *
 * Round kinds, each with the victim as server and as client, seeded:
 *   INDEX   random and adversarial prod/cons of both rings, the orders and
 *           the notify bytes, then an impossible index held in place: the
 *           victim must report -EPROTO (asserted in every such round)
 *   FRAMES  hand-made frames: valid ones mixed with unknown flags, lengths
 *           past the ring's end (0xffffffff, size, size+1), bad pads,
 *           broken fragment sequences, over-size announcements, a
 *           misaligned index
 *   CHAOS   random values anywhere in the control page (live bytes too)
 *           and in the ring bytes
 *   BADPAGE the hostile server publishes impossible orders: connect must
 *           fail with -EPROTO
 */
#include <errno.h>
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
#define ROUND_NS 1500000000ull   /* FRAMES and CHAOS rounds */
#define INDEX_ROUND_NS 10000000000ull /* INDEX: until -EPROTO, at most */

#define ROUNDS 20 /* of each kind, victim as server and as client */

enum kind { INDEX, FRAMES, CHAOS, BADPAGE };
static const char *kind_name[] = { "index", "frames", "chaos", "badpage" };

struct round {
	enum kind kind;
	bool victim_server;
	uint64_t seed;
	uint32_t ring; /* ring size the server asks for */
	unsigned variant;
	const char *path;
	int ready_wr; /* the hostile peer writes one byte when set up */
};

/* ---- the hostile peer ------------------------------------------------- */

static uint32_t adversarial(uint64_t *s, uint32_t base, uint32_t size)
{
	switch (vmsg_test_rand(s) % 8) {
	case 0: return 0;
	case 1: return 0xffffffffu;
	case 2: return size;
	case 3: return size + 1;
	case 4: return base - 1 - (uint32_t)(vmsg_test_rand(s) % 64);
	case 5: return base + size + 1 + (uint32_t)(vmsg_test_rand(s) % 64);
	case 6: return base + (uint32_t)(vmsg_test_rand(s) % (size + 1));
	default: return (uint32_t)vmsg_test_rand(s);
	}
}

/* Write one frame header at our write index of `r` (the victim's rx
 * ring), padding to the ring's start first if needed. Returns the bytes
 * the header claims, 0 if there is no room now. */
static uint32_t put_hdr(struct vmsg_ring *r, uint32_t *wp, uint32_t len,
			uint16_t type, uint16_t flags, uint32_t room)
{
	uint32_t cons = vmsg__load_acquire(&r->sh->cons);
	uint32_t off = *wp & (r->size - 1), tail = r->size - off;
	uint32_t need = vmsg_frame_size(len < room ? len : room);
	uint8_t h[8];

	if (tail < need) { /* a valid PAD frame to the end */
		if (r->size - (*wp - cons) < tail + need)
			return 0;
		uint32_t pl = tail - VMSG_FRAME_HDR_SIZE;
		memset(h, 0, 8);
		memcpy(h, &pl, 4);
		memcpy(r->data + off, h, 8);
		*wp += tail;
		off = 0;
	}
	if (r->size - (*wp - cons) < need)
		return 0;
	memcpy(h, &len, 4);
	memcpy(h + 4, &type, 2);
	memcpy(h + 6, &flags, 2);
	memcpy(r->data + off, h, 8);
	return need;
}

/* One frame; payload random, or starting with `total` for a first
 * fragment. Published at once. `claim` bytes of ring are taken, which may
 * be less than the header says (for lying headers). */
static bool frame(struct vmsg_ring *r, uint32_t *wp, uint64_t *s, uint32_t len,
		  uint16_t type, uint16_t flags, uint64_t total, uint32_t room)
{
	uint32_t need = put_hdr(r, wp, len, type, flags, room);
	uint32_t off;

	if (!need)
		return false;
	off = (*wp & (r->size - 1)) + VMSG_FRAME_HDR_SIZE;
	integ_fill_random(s, r->data + off, need - VMSG_FRAME_HDR_SIZE);
	if (flags & VMSG_FRAME_MORE && !(flags & VMSG_FRAME_CONT) && len >= 8)
		memcpy(r->data + off, &total, 8);
	*wp += need;
	vmsg__store_release(&r->sh->prod, *wp);
	return true;
}

static void hostile_frames(struct vmsg_ring_end *e, uint32_t *wp, uint64_t *s)
{
	struct vmsg_ring *r = &e->tx;
	uint16_t t = INTEG_TYPE;
	uint32_t big = r->size; /* any length claim up to this is in bounds */

	/* Mostly valid traffic, so that the victim has work between the
	 * attacks; one frame in seven is hostile. */
	unsigned k = (unsigned)(vmsg_test_rand(s) % 63);

	switch (k < 9 ? k : k < 20 ? 9 : 10) {
	case 0: /* unknown flags */
		frame(r, wp, s, 16, t, (uint16_t)(4u << (vmsg_test_rand(s) % 14)),
		      0, big);
		break;
	case 1: /* a length past the ring's end, only the header published */
		frame(r, wp, s, adversarial(s, big, big), t, 0, 0, 0);
		break;
	case 2: /* CONT without a start */
		frame(r, wp, s, 32, t, VMSG_FRAME_CONT, 0, big);
		break;
	case 3: /* announces more than max_msg: dropped, the rest skipped */
		frame(r, wp, s, 64, t, VMSG_FRAME_MORE, 1ull << 40, big);
		frame(r, wp, s, 64, t, VMSG_FRAME_CONT, 0, big);
		break;
	case 4: /* the type changes mid-message */
		frame(r, wp, s, 64, t, VMSG_FRAME_MORE, 200, big);
		frame(r, wp, s, 64, t + 1, VMSG_FRAME_CONT, 0, big);
		break;
	case 5: /* more bytes than announced */
		frame(r, wp, s, 64, t, VMSG_FRAME_MORE, 60, big);
		frame(r, wp, s, 200, t, VMSG_FRAME_CONT, 0, big);
		break;
	case 6: /* a misaligned index */
		*wp += 1 + (uint32_t)(vmsg_test_rand(s) % 7);
		vmsg__store_release(&r->sh->prod, *wp);
		*wp = (*wp + 7) & ~7u;
		break;
	case 7: /* a PAD frame that claims more than the ring holds */
		frame(r, wp, s, adversarial(s, big, big), VMSG_TYPE_PAD, 0, 0, 0);
		break;
	case 8: { /* a header of random bytes */
		uint64_t h = vmsg_test_rand(s);
		uint32_t off = *wp & (r->size - 1);
		if (r->size - (*wp - vmsg__load_acquire(&r->sh->cons)) < 8)
			break;
		memcpy(r->data + off, &h, 8);
		*wp += 8;
		vmsg__store_release(&r->sh->prod, *wp);
		break;
	}
	case 9: { /* a well-formed fragment sequence */
		uint32_t a = 8 + (uint32_t)(vmsg_test_rand(s) % 100), b = 50;
		frame(r, wp, s, a, t, VMSG_FRAME_MORE, a - 8 + b + b, big);
		frame(r, wp, s, b, t, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 0, big);
		frame(r, wp, s, b, t, VMSG_FRAME_CONT, 0, big);
		break;
	}
	default: /* a valid message */
		frame(r, wp, s, (uint32_t)(vmsg_test_rand(s) % 300), t, 0, 0, big);
	}
}

/* Random bytes at a random place of the control page or a ring. */
static void hostile_chaos(struct vmsg_ring_end *e, uint64_t *s)
{
	uint64_t v = vmsg_test_rand(s);
	uint8_t *pg = (uint8_t *)e->page;

	switch (v % 16) {
	case 0: /* the fixed header: indices, orders, live, notify */
		pg[(v >> 8) % VMSG_VCHAN_GRANTS_OFFSET] = (uint8_t)(v >> 32);
		break;
	case 1:
		e->tx.data[(v >> 8) & (e->tx.size - 1)] = (uint8_t)(v >> 32);
		break;
	case 2: {
		uint32_t *ix[4] = { &e->page->left.prod, &e->page->left.cons,
				    &e->page->right.prod, &e->page->right.cons };
		vmsg__store_release(ix[(v >> 8) % 4],
				    adversarial(s, *ix[(v >> 8) % 4], e->tx.size));
		break;
	}
	default:
		hostile_frames(e, &e->tx.idx, s);
	}
}

/* The index held impossible until the victim sees it: its rx prod ahead
 * of its cons by more than the ring, or its tx cons past its prod. */
static void hold_bad_index(struct vmsg_ring_end *e, bool victim_rx,
			   uint32_t delta)
{
	if (victim_rx) {
		uint32_t cons = vmsg__load_acquire(&e->tx.sh->cons);
		vmsg__store_release(&e->tx.sh->prod, cons + e->tx.size + delta);
	} else {
		uint32_t prod = vmsg__load_acquire(&e->rx.sh->prod);
		vmsg__store_release(&e->rx.sh->cons, prod + delta);
	}
}

static int hostile(void *arg)
{
	const struct round *rd = arg;
	struct vmsg_chan_opts o;
	struct vmsg_ring_end *e;
	struct vmsg_platform *p;
	uint64_t s = rd->seed;
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
	if (rd->kind == BADPAGE) {
		static const uint16_t bad[][2] = { { 9, 10 }, { 10, 21 },
			{ 0, 0 }, { 0xffff, 12 }, { 10, 10 }, { 11, 11 } };
		unsigned i = rd->variant % 6;
		e->page->left_order = bad[i][0];
		e->page->right_order = bad[i][1];
	}
	integ_write_full(rd->ready_wr, "r", 1);
	if (!rd->victim_server)
		vmsg_chan_accept(c, 20000); /* whatever the victim makes of it */

	/* Until the victim kills us. */
	for (unsigned long it = 0;; it++) {
		uint64_t v = vmsg_test_rand(&s);

		switch (rd->kind) {
		case INDEX:
			if (it < 400) { /* random phase */
				uint32_t *ix[4] = { &e->page->left.prod,
						    &e->page->left.cons,
						    &e->page->right.prod,
						    &e->page->right.cons };
				uint32_t *x = ix[v % 4];
				vmsg__store_release(x, adversarial(&s, *x,
								   e->tx.size));
				if (v & 0x100)
					e->page->left_order = (uint16_t)(v >> 16);
				if (v & 0x200)
					e->page->right_order = (uint16_t)(v >> 32);
				if (v & 0x400)
					e->page->cli_notify = (uint8_t)(v >> 40);
				if (v & 0x800)
					e->page->srv_notify = (uint8_t)(v >> 48);
			} else {
				hold_bad_index(e, rd->seed & 1,
					       1 + (uint32_t)(v % 1000));
			}
			break;
		case FRAMES:
			hostile_frames(e, &e->tx.idx, &s);
			/* consume what the victim sends, as a peer would */
			vmsg__store_release(&e->rx.sh->cons,
					    vmsg__load_acquire(&e->rx.sh->prod));
			break;
		case CHAOS:
			hostile_chaos(e, &s);
			break;
		case BADPAGE:
			break;
		}
		if (v % 4 == 0)
			p->ops->notify(p);
		usleep(rd->kind == INDEX && it < 400 ? 50 : 200);
	}
}

/* ---- the victim ------------------------------------------------------ */

struct tally {
	unsigned ok, eproto, epipe, etimedout, eagain, emsgsize;
};

static void check_result(int r, struct tally *t, const char *op)
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
	volatile uint8_t sum = 0;

	ASSERT_LE(m->len, MAX_MSG);
	if (d >= lo && d < hi) {
		ASSERT_LE(m->len, (size_t)(hi - d));
		return;
	}
	ASSERT_TRUE(m->len == 0 || d != NULL);
	for (size_t i = 0; i < m->len; i++)
		sum += d[i];
}

static void victim(vmsg_chan *c, const struct round *rd, struct tally *t)
{
	static uint8_t out[MAX_MSG], in[MAX_MSG];
	uint64_t s = rd->seed ^ 0x77, end, limit;
	size_t pend_len = 0; /* an interrupted send to finish first */
	struct vmsg_msg m;
	int mf = vmsg_chan_max_frame(c), r = 0;

	ASSERT_GT(mf, 0);
	limit = rd->kind == INDEX ? INDEX_ROUND_NS : ROUND_NS;
	end = integ_now_ns() + limit;
	while (integ_now_ns() < end) {
		uint64_t v = vmsg_test_rand(&s), t0 = integ_now_ns();
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
		case 2:
			op = "recv";
			r = vmsg_chan_recv(c, NULL, in, sizeof(in), CALL_MS);
			if (r >= 0)
				ASSERT_LE(r, sizeof(in));
			break;
		default:
			op = "peek";
			r = vmsg_chan_peek(c, &m, CALL_MS);
			if (r == 0) {
				check_view(c, &m);
				r = vmsg_chan_release(c);
			}
		}
		if (integ_now_ns() - t0 > CALL_LIMIT_NS)
			VMSG_TEST_FAIL("%s took %.1f s with a %d ms timeout", op,
				       (double)(integ_now_ns() - t0) / 1e9,
				       CALL_MS);
		check_result(r, t, op);
		if (r == -EPROTO) {
			/* Sticky: the channel is broken for good. */
			ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_BROKEN);
			ASSERT_EQ(vmsg_chan_recv(c, NULL, in, sizeof(in), 0),
				  -EPROTO);
			ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, out, 1, 0, 0),
				  -EPROTO);
			return;
		}
		if (r == -EPIPE)
			return;
	}
}

static void run_round(struct round *rd, unsigned n, unsigned *index_eproto)
{
	struct vmsg_chan_opts o;
	struct integ_tmp tmp;
	struct tally t = { 0 };
	vmsg_chan *c = NULL;
	int ready[2], fds, r;
	uint8_t b;
	pid_t pid;

	integ_tmp_make(&tmp);
	fds = integ_count_fds();
	ASSERT_EQ(pipe(ready), 0);
	rd->path = tmp.path;
	rd->ready_wr = ready[1];
	pid = integ_fork(hostile, rd);

	vmsg_chan_opts_init(&o);
	o.max_msg = MAX_MSG;
	o.rx_ring_size = o.tx_ring_size = rd->ring;
	if (rd->victim_server) {
		if ((r = integ_serve(&c, tmp.path, &o)) < 0)
			VMSG_TEST_FAIL("victim serve: %s", vmsg_strerror(r));
		r = vmsg_chan_accept(c, 20000);
		if (r == -EPROTO) {
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
		}
	}
	if (c) {
		victim(c, rd, &t);
		vmsg_chan_close(c);
	}
	kill(pid, SIGKILL);
	ASSERT_EQ(integ_reap(pid), 128 + SIGKILL);
	close(ready[0]);
	close(ready[1]);
	ASSERT_EQ(integ_count_fds(), fds);
	integ_tmp_drop(&tmp);

	printf("round %2u %-7s victim=%-6s ring=%-6u seed=%016llx: ok %u, "
	       "EPROTO %u, EPIPE %u, ETIMEDOUT %u, EAGAIN %u, EMSGSIZE %u\n",
	       n, kind_name[rd->kind], rd->victim_server ? "server" : "client",
	       rd->ring, (unsigned long long)rd->seed, t.ok, t.eproto, t.epipe,
	       t.etimedout, t.eagain, t.emsgsize);
	fflush(stdout);
	if (rd->kind == INDEX) {
		/* The held index is impossible: detection must have fired. */
		ASSERT_EQ(t.eproto, 1);
		(*index_eproto)++;
	}
}

int main(int argc, char **argv)
{
	static const uint32_t rings[] = { 1024, 2048, 4096, 65536 };
	static const enum kind kinds[] = { INDEX, FRAMES, CHAOS, BADPAGE };
	uint64_t seed = 0x5eed0000c0ffeeull;
	unsigned index_eproto = 0, n = 0;

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
				run_round(&rd, n, &index_eproto);
			}
		}
	}
	ASSERT_GE(index_eproto, 1);
	return 0;
}
