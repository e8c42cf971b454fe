/* frame_hostile: the reader against a peer that lies. Headers are crafted
 * directly in the shared ring bytes and prod is published by hand: a frame
 * not yet fully published waits (0), impossible headers (past the ring's
 * end, huge lengths, unknown flags, misaligned indices, PAD abuse) give
 * -EPROTO, and -EPROTO is sticky. Then bad fragment sequences (written
 * with reserve, which allows any flag combination) through peek and
 * vmsg_reasm_feed: CONT first, new start mid-message, type change,
 * over-size total, totals that do not add up, short first fragment, empty
 * continuations. */
#include <stdint.h>

#include "frame_pair.h"

#define RING 1024u /* order 10: the left ring the server reads */

static struct frame_pair p;

/* A fresh pair with the left ring's indices at `idx`. */
static void fresh(uint32_t idx)
{
	frame_pair_close(&p);
	frame_pair_open(&p, 10, 11);
	frame_pair_attach(&p, idx, 0);
}

static void publish(uint32_t prod)
{
	__atomic_store_n(&p.page->left.prod, prod, __ATOMIC_RELEASE);
}

static void expect_broken(void)
{
	struct vmsg_frame f = {.size = 8};
	struct vmsg_frame_tx tx = {0};
	void *pl;
	uint32_t cons = p.page->left.cons;

	ASSERT_EQ(p.srv.error, -EPROTO);
	/* Sticky: even a good frame at the read index is refused now, and
	 * nothing moves. */
	frame_put_raw(p.left, p.srv.rx.idx % RING, 0, 0x100, 0);
	publish(p.srv.rx.idx + 8);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), -EPROTO);
	ASSERT_EQ(vmsg_frame_release(&p.srv, &f), -EPROTO);
	ASSERT_EQ(vmsg_frame_reserve(&p.srv, &tx, 0x100, 0, 0, &pl), -EPROTO);
	ASSERT_EQ(vmsg_ring_data_ready(&p.srv), -EPROTO);
	ASSERT_EQ(p.page->left.cons, cons);
}

static void peek_expect(int want)
{
	struct vmsg_frame f;

	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), want);
	if (want == -EPROTO)
		expect_broken();
}

static void headers(void)
{
	struct vmsg_frame f;

	/* Length past the published bytes: not there yet, wait. */
	fresh(0);
	frame_put_raw(p.left, 0, 100, 0x100, 0);
	peek_expect(0); /* nothing published */
	publish(8);
	peek_expect(0); /* header only */
	publish(104);
	peek_expect(0); /* payload one aligned word short */
	ASSERT_EQ(p.srv.error, 0);
	publish(112);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_EQ(f.len, 100);
	ASSERT_EQ(f.size, 112);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	ASSERT_EQ(p.page->left.cons, 112);

	/* The largest legal frame (half the ring) is accepted... */
	fresh(0);
	frame_put_raw(p.left, 0, RING / 2 - 8, 0x100, 0);
	publish(RING);
	peek_expect(1);
	/* ...one byte more is not, even though it is published and fits
	 * before the ring's end. */
	fresh(0);
	frame_put_raw(p.left, 0, RING / 2 - 7, 0x100, 0);
	publish(RING);
	peek_expect(-EPROTO);

	/* Length past the ring's end: published or not, -EPROTO. */
	fresh(1008);
	frame_put_raw(p.left, 1008, 100, 0x100, 0);
	publish(1008 + 16);
	peek_expect(-EPROTO);
	fresh(1008);
	frame_put_raw(p.left, 1008, 9, 0x100, 0); /* 24 bytes, 16 left */
	publish(1008 + 24);
	peek_expect(-EPROTO);
	/* Near the 2^32 index wrap too. */
	fresh(0u - 16u);
	frame_put_raw(p.left, RING - 16, 100, 0x100, 0);
	publish(100);
	peek_expect(-EPROTO);

	/* Huge lengths: no overflow in the size computation. */
	fresh(0);
	frame_put_raw(p.left, 0, 0xffffffffu, 0x100, 0);
	publish(RING);
	peek_expect(-EPROTO);
	fresh(0);
	frame_put_raw(p.left, 0, 0xfffffff8u, 0x100, 0);
	publish(8);
	peek_expect(-EPROTO);

	/* Unknown flag bits. */
	fresh(0);
	frame_put_raw(p.left, 0, 0, 0x100, 0x4);
	publish(8);
	peek_expect(-EPROTO);
	fresh(0);
	frame_put_raw(p.left, 0, 0, 0x100, 0x8000);
	publish(8);
	peek_expect(-EPROTO);

	/* Misaligned prod (the span ends off the 8-byte grid). */
	fresh(0);
	frame_put_raw(p.left, 0, 0, 0x100, 0);
	publish(4);
	peek_expect(-EPROTO);
	fresh(0);
	frame_put_raw(p.left, 0, 0, 0x100, 0);
	publish(12);
	peek_expect(-EPROTO);

	/* Misaligned read index (the peer's initial cons was off grid). */
	fresh(4);
	frame_put_raw(p.left, 4, 0, 0x100, 0);
	publish(4 + 16);
	peek_expect(-EPROTO);
	/* ...and a misaligned write index makes reserve refuse. */
	{
		struct vmsg_frame_tx tx = {0};
		void *pl;
		fresh(4);
		ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 0, &pl),
			  -EPROTO);
		ASSERT_EQ(p.cli.error, -EPROTO);
		ASSERT_EQ(p.page->left.prod, 4);
	}

	/* An impossible prod (more than the ring) is the ring layer's
	 * -EPROTO, and sticky too. */
	fresh(0);
	publish(RING + 8);
	peek_expect(-EPROTO);
}

static void pads(void)
{
	struct vmsg_frame f;

	/* PAD at the tail, then a frame at 0: consumed silently. */
	fresh(1000 - 1000 % 8);
	frame_put_raw(p.left, 1000, 16, VMSG_TYPE_PAD, 0);
	frame_put_raw(p.left, 0, 3, 0x100, 0);
	publish(1000 + 24 + 16);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_EQ(f.type, 0x100);
	ASSERT_EQ(f.len, 3);
	ASSERT_TRUE(f.data == p.left + 8);
	ASSERT_EQ(p.page->left.cons, 1024); /* the pad is gone */
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	ASSERT_EQ(p.page->left.cons, 1040);

	/* A pad alone: consumed, then "nothing yet". */
	fresh(1000);
	frame_put_raw(p.left, 1000, 16, VMSG_TYPE_PAD, 0);
	publish(1024);
	peek_expect(0);
	ASSERT_EQ(p.page->left.cons, 1024);

	/* Pad at the tail, pad at offset 0, frame: tolerated. */
	fresh(1000);
	frame_put_raw(p.left, 1000, 16, VMSG_TYPE_PAD, 0);
	frame_put_raw(p.left, 0, 8, VMSG_TYPE_PAD, 0);
	frame_put_raw(p.left, 16, 0, 0x100, 0);
	publish(1024 + 24);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_TRUE(f.data == p.left + 24);

	/* A pad running past the ring's end. */
	fresh(1000);
	frame_put_raw(p.left, 1000, 24, VMSG_TYPE_PAD, 0);
	publish(1024 + 8);
	peek_expect(-EPROTO);

	/* A pad with flags. */
	fresh(0);
	frame_put_raw(p.left, 0, 0, VMSG_TYPE_PAD, VMSG_FRAME_MORE);
	publish(8);
	peek_expect(-EPROTO);

	/* A whole ring of empty pads: peek does not loop through them (nor
	 * forever, were the peer to keep publishing more). */
	fresh(0);
	for (uint32_t off = 0; off < RING; off += 8)
		frame_put_raw(p.left, off, 0, VMSG_TYPE_PAD, 0);
	publish(RING);
	peek_expect(-EPROTO);
	ASSERT_LE(p.page->left.cons, 16);
}

/* Write one frame with reserve (any flags), payload given. */
static void put(uint16_t type, uint16_t flags, const void *data, uint32_t len)
{
	struct vmsg_frame_tx tx = {0};
	void *pl;

	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, type, flags, len, &pl), 0);
	if (len)
		memcpy(pl, data, len);
	ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
}

/* A first fragment: u64 LE total, then `body` bytes. */
static void put_first(uint16_t type, uint64_t total, uint32_t body)
{
	uint8_t b[256] = {0};

	ASSERT_LE(body + 8, sizeof(b));
	memcpy(b, &total, 8);
	for (uint32_t i = 0; i < body; i++)
		b[8 + i] = (uint8_t)i;
	put(type, VMSG_FRAME_MORE, b, body + 8);
}

static void put_data(uint16_t type, uint16_t flags, uint32_t len)
{
	uint8_t b[256];

	ASSERT_LE(len, sizeof(b));
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(0x80 + i);
	put(type, flags, b, len);
}

/* Feed the next frame to the reassembler. */
static int feed(struct vmsg_reasm *r)
{
	struct vmsg_frame f;

	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	int rc = vmsg_reasm_feed(r, &f);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	return rc;
}

/* After an error the reassembler takes a good message again. */
static void feed_good(struct vmsg_reasm *r)
{
	put_first(0x300, 20, 12);
	put_data(0x300, VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(r), 0);
	ASSERT_EQ(feed(r), 1);
	ASSERT_EQ(r->len, 20);
	ASSERT_EQ(r->type, 0x300);
	ASSERT_EQ(r->buf[11], 11);
	ASSERT_EQ(r->buf[12], 0x80);
	put_data(0x301, 0, 5);
	ASSERT_EQ(feed(r), 1);
	ASSERT_EQ(r->len, 5);
	ASSERT_EQ(r->type, 0x301);
}

static void fragments(void)
{
	uint8_t buf[64];
	struct vmsg_reasm r;

	fresh(0);
	vmsg_reasm_init(&r, buf, sizeof(buf));
	feed_good(&r);

	/* CONT (or MORE|CONT) with no message started. */
	put_data(0x100, VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), -EPROTO);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* A new start mid-message: flags 0, or MORE again. */
	put_first(0x100, 40, 8);
	put_data(0x100, 0, 8);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	put_first(0x100, 40, 8);
	put_first(0x100, 40, 8);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* Type change between fragments. */
	put_first(0x100, 40, 8);
	put_data(0x101, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* Total smaller than the sum of the fragments. */
	put_first(0x100, 20, 16);
	put_data(0x100, VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	put_first(0x100, 20, 16);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	/* ...already in the first fragment. */
	put_first(0x100, 4, 16);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* Total larger than the sum at the last fragment. */
	put_first(0x100, 40, 16);
	put_data(0x100, VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* A first fragment too short for its length prefix. */
	put_data(0x100, VMSG_FRAME_MORE, 7);
	ASSERT_EQ(feed(&r), -EPROTO);
	put_data(0x100, VMSG_FRAME_MORE, 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* Over-size totals: -EMSGSIZE once, the rest of the message is
	 * dropped, the next message arrives. */
	put_first(0x100, sizeof(buf) + 1, 16);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 40);
	put_data(0x100, VMSG_FRAME_CONT, 9);
	ASSERT_EQ(feed(&r), -EMSGSIZE);
	ASSERT_TRUE(r.skipping);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_TRUE(!r.skipping && !r.active);
	feed_good(&r);
	put_first(0x100, UINT64_MAX, 16);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 200);
	put_data(0x100, VMSG_FRAME_CONT, 200);
	ASSERT_EQ(feed(&r), -EMSGSIZE);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO); /* ended short of its total */
	feed_good(&r);
	/* While dropping, the sequence is still checked. */
	put_first(0x100, 1000, 16);
	put_data(0x100, 0, 8);
	ASSERT_EQ(feed(&r), -EMSGSIZE);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);
	put_first(0x100, 1000, 16);
	put_data(0x101, VMSG_FRAME_CONT, 8);
	ASSERT_EQ(feed(&r), -EMSGSIZE);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);
	/* A single frame above the cap. */
	put_data(0x100, 0, sizeof(buf) + 1);
	ASSERT_EQ(feed(&r), -EMSGSIZE);
	ASSERT_TRUE(!r.skipping && !r.active);
	feed_good(&r);

	/* An empty continuation makes no progress: a peer could send them
	 * for ever, the reader told "more to come" each time. Middle or
	 * last, collected or dropped, it breaks the sequence. */
	put_first(0x100, 40, 8);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 0);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	ASSERT_TRUE(!r.skipping && !r.active);
	feed_good(&r);
	put_first(0x100, 16, 16);
	put_data(0x100, VMSG_FRAME_CONT, 0);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);
	put_first(0x100, 1000, 16);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 0);
	ASSERT_EQ(feed(&r), -EMSGSIZE);
	ASSERT_EQ(feed(&r), -EPROTO);
	ASSERT_TRUE(!r.skipping && !r.active);
	feed_good(&r);
	put_first(0x100, 0, 0); /* MORE with nothing to follow */
	put_data(0x100, VMSG_FRAME_CONT, 0);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), -EPROTO);
	feed_good(&r);

	/* Exactly the cap, fragmented (an empty first body) and whole. */
	put_first(0x100, sizeof(buf), 0);
	put_data(0x100, VMSG_FRAME_MORE | VMSG_FRAME_CONT, 1);
	put_data(0x100, VMSG_FRAME_CONT, sizeof(buf) - 1);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), 0);
	ASSERT_EQ(feed(&r), 1);
	ASSERT_EQ(r.len, sizeof(buf));
	put_data(0x100, 0, sizeof(buf));
	ASSERT_EQ(feed(&r), 1);

	/* None of this broke the ring end. */
	ASSERT_EQ(p.srv.error, 0);
	ASSERT_EQ(p.page->left.cons, p.page->left.prod);
}

int main(void)
{
	frame_pair_open(&p, 10, 11);
	headers();
	pads();
	fragments();
	frame_pair_close(&p);
	printf("ok\n");
	return 0;
}
