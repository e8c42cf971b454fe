/* frame_frag: messages cut into frames by vmsg_frag_tx_step() and
 * reassembled by vmsg_reasm_feed(), writer and reader alternating in one
 * thread (step until the ring fills, commit, drain, step again). Random
 * sizes up to 16 MiB through rings of orders 12..16, checksums compared;
 * sizes at the frame boundaries with the exact frame count and flag
 * sequence checked; the reassembly cap: an over-size message gives
 * -EMSGSIZE and the next message still arrives intact.
 * Optional argument: the PRNG seed (printed). */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "frame_pair.h"

#define MIB ((size_t)1 << 20)
#define MSG_MAX (16 * MIB)

struct expect {
	size_t len;
	uint64_t fnv;
	uint16_t type;
	bool oversize;
	size_t nframes;
};

enum { QN = 64 };

struct ctx {
	struct frame_pair p;
	struct vmsg_frame_tx tx;
	struct vmsg_reasm r;
	struct expect q[QN];
	unsigned head, tail;
	size_t seen;  /* frames of the head message seen so far */
	uint32_t max; /* max payload */
	uint64_t delivered, dropped, frames;
};

static uint8_t *msgbuf;

static size_t frames_for(size_t len, uint32_t max)
{
	if (len <= max)
		return 1;
	size_t rest = len - (max - 8); /* the first frame carries the prefix */
	return 1 + (rest + max - 1) / max;
}

static uint16_t flags_for(size_t k, size_t n)
{
	if (n == 1)
		return 0;
	if (k == 0)
		return VMSG_FRAME_MORE;
	if (k == n - 1)
		return VMSG_FRAME_CONT;
	return VMSG_FRAME_MORE | VMSG_FRAME_CONT;
}

/* Read every published frame, checking each against the expected
 * sequence of the message at the head of the queue. */
static void drain(struct ctx *c)
{
	struct vmsg_frame f;
	int rc;

	while ((rc = vmsg_frame_peek(&c->p.srv, &f)) == 1) {
		ASSERT_TRUE(c->head != c->tail);
		struct expect *e = &c->q[c->head % QN];
		ASSERT_EQ(f.type, e->type);
		ASSERT_EQ(f.flags, flags_for(c->seen, e->nframes));
		ASSERT_LE(f.len, c->max);
		int fr = vmsg_reasm_feed(&c->r, &f);
		ASSERT_GE(vmsg_frame_release(&c->p.srv, &f), 0);
		c->frames++;
		bool last = ++c->seen == e->nframes;
		if (e->oversize) {
			ASSERT_EQ(fr, c->seen == 1 ? -EMSGSIZE : 0);
		} else if (!last) {
			ASSERT_EQ(fr, 0);
		} else {
			ASSERT_EQ(fr, 1);
			ASSERT_EQ(c->r.len, e->len);
			ASSERT_EQ(c->r.type, e->type);
			ASSERT_TRUE(vmsg_test_fnv(VMSG_TEST_FNV_INIT, c->r.buf,
						  c->r.len) == e->fnv);
		}
		if (last) {
			if (e->oversize)
				c->dropped++;
			else
				c->delivered++;
			c->head++;
			c->seen = 0;
		}
	}
	ASSERT_EQ(rc, 0);
}

static void send_msg(struct ctx *c, size_t len, uint16_t type, uint64_t *seed)
{
	struct vmsg_frag_tx s;
	struct expect *e;
	size_t i;

	ASSERT_LE(len, MSG_MAX);
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = vmsg_test_rand(seed);
		memcpy(msgbuf + i, &v, 8);
	}
	for (; i < len; i++)
		msgbuf[i] = (uint8_t)vmsg_test_rand(seed);

	if (c->tail - c->head == QN)
		drain(c);
	ASSERT_LT(c->tail - c->head, QN);
	e = &c->q[c->tail++ % QN];
	e->len = len;
	e->type = type;
	e->fnv = vmsg_test_fnv(VMSG_TEST_FNV_INIT, msgbuf, len);
	e->oversize = len > c->r.cap;
	e->nframes = frames_for(len, c->max);

	vmsg_frag_tx_init(&s, type, len ? msgbuf : NULL, len);
	/* Each round after a drain starts on an empty ring, where at least
	 * one frame always fits: nframes + 1 rounds at most. */
	for (size_t round = 0;; round++) {
		ASSERT_LE(round, e->nframes + 1);
		int rc = vmsg_frag_tx_step(&c->p.cli, &c->tx, &s);
		ASSERT_GE(rc, 0);
		ASSERT_GE(vmsg_frame_commit(&c->p.cli, &c->tx), 0);
		if (rc == 1)
			break;
		drain(c);
		ASSERT_EQ(c->p.srv.rx.idx, c->p.cli.tx.idx);
	}
	ASSERT_EQ(s.off, len);
	/* The source buffer is free for reuse now: the bytes are in the
	 * ring. Scribble on it to prove it. */
	if (len)
		memset(msgbuf, 0x5a, len);
}

static void ctx_open(struct ctx *c, unsigned order, uint8_t *rbuf, size_t cap)
{
	memset(c, 0, sizeof(*c));
	frame_pair_open(&c->p, order, 10);
	vmsg_reasm_init(&c->r, rbuf, cap);
	c->max = vmsg_frame_max_payload(&c->p.cli);
	ASSERT_EQ(c->max, (1u << order) / 2 - 8);
}

static void ctx_close(struct ctx *c)
{
	drain(c);
	ASSERT_EQ(c->head, c->tail);
	ASSERT_EQ(c->seen, 0);
	ASSERT_TRUE(!c->r.active && !c->r.skipping);
	frame_pair_close(&c->p);
}

static size_t rand_size(uint64_t *seed, uint32_t max)
{
	uint64_t r = vmsg_test_rand(seed);
	switch (r % 10) {
	case 0:
		return (size_t)(r >> 8) % (MSG_MAX + 1);
	case 1:
	case 2:
		return (size_t)(r >> 8) % (256 * 1024);
	default:
		return (size_t)(r >> 8) % (3 * (size_t)max + 1);
	}
}

static void random_sizes(unsigned order, uint8_t *rbuf, uint64_t *seed,
			 bool with_max)
{
	struct ctx c;

	ctx_open(&c, order, rbuf, MSG_MAX);
	for (int i = 0; i < 30; i++) {
		uint16_t type = (uint16_t)(1 + vmsg_test_rand(seed) % 0xffff);
		send_msg(&c, rand_size(seed, c.max), type, seed);
	}
	if (with_max)
		send_msg(&c, MSG_MAX, 0x4242, seed);
	ctx_close(&c);
	ASSERT_EQ(c.delivered, 30 + (with_max ? 1 : 0));
	printf("order %u: %llu messages in %llu frames\n", order,
	       (unsigned long long)c.delivered, (unsigned long long)c.frames);
}

static void boundaries(unsigned order, uint8_t *rbuf, uint64_t *seed)
{
	struct ctx c;

	ctx_open(&c, order, rbuf, MSG_MAX);
	size_t m = c.max, first = m - 8;
	size_t sizes[] = {0,         1,         7,           8,
			  m - 1,     m,         m + 1,       first + m - 1,
			  first + m, first + m + 1, 2 * m,   3 * m,
			  first + 5 * m, first + 5 * m + 1, 10 * m};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		send_msg(&c, sizes[i], (uint16_t)(0x100 + i), seed);
		/* Frame counts at the edges: max fits one frame, one byte
		 * more needs two; the first frame carries 8 prefix bytes. */
		if (sizes[i] == m)
			ASSERT_EQ(c.q[(c.tail - 1) % QN].nframes, 1);
		if (sizes[i] == m + 1 || sizes[i] == first + m)
			ASSERT_EQ(c.q[(c.tail - 1) % QN].nframes, 2);
		if (sizes[i] == first + m + 1)
			ASSERT_EQ(c.q[(c.tail - 1) % QN].nframes, 3);
		/* Every other one alone in the ring, the rest queued. */
		if (i % 2)
			drain(&c);
	}
	ctx_close(&c);
	ASSERT_EQ(c.delivered, sizeof(sizes) / sizeof(sizes[0]));
}

static void cap_enforced(uint8_t *rbuf, uint64_t *seed)
{
	struct ctx c;

	/* Fragmented over-size messages (cap of a few frames). */
	ctx_open(&c, 12, rbuf, 3 * 2040 + 5);
	size_t cap = c.r.cap;
	send_msg(&c, cap, 0x100, seed);
	send_msg(&c, cap + 1, 0x101, seed);
	send_msg(&c, 17, 0x102, seed);
	send_msg(&c, 10 * cap, 0x103, seed);
	send_msg(&c, cap, 0x104, seed);
	drain(&c);
	send_msg(&c, 5 * cap, 0x105, seed);
	send_msg(&c, 2041, 0x106, seed);
	ctx_close(&c);
	ASSERT_EQ(c.delivered, 4);
	ASSERT_EQ(c.dropped, 3);

	/* A cap below one frame: a single over-size frame is dropped too. */
	ctx_open(&c, 12, rbuf, 100);
	send_msg(&c, 101, 0x200, seed);
	send_msg(&c, 100, 0x201, seed);
	send_msg(&c, 2040, 0x202, seed);
	send_msg(&c, 5000, 0x203, seed);
	send_msg(&c, 0, 0x204, seed);
	send_msg(&c, 99, 0x205, seed);
	ctx_close(&c);
	ASSERT_EQ(c.delivered, 3);
	ASSERT_EQ(c.dropped, 3);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0)
				 : 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	if (seed == 0)
		seed = 1;
	printf("frame_frag seed %#" PRIx64 "\n", seed);
	fflush(stdout);

	msgbuf = malloc(MSG_MAX);
	uint8_t *rbuf = malloc(MSG_MAX);
	ASSERT_TRUE(msgbuf && rbuf);

	cap_enforced(rbuf, &seed);
	unsigned max_order = 12 + (unsigned)(seed % 5);
	for (unsigned order = 12; order <= 16; order++) {
		boundaries(order, rbuf, &seed);
		random_sizes(order, rbuf, &seed, order == max_order);
	}
	free(msgbuf);
	free(rbuf);
	printf("ok\n");
	return 0;
}
