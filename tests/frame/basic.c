/* frame_basic: single frames through a ring pair. Round trips of every
 * size 0..max_payload with the pad frame checked in the raw ring bytes at
 * each wrap, 8-byte alignment of payloads, exact -EAGAIN accounting with
 * frames in flight, -EMSGSIZE / -EINVAL, and trim. */
#include <stdint.h>
#include <time.h>

#include "frame_pair.h"

static uint8_t pat(uint32_t len, uint32_t i)
{
	return (uint8_t)(len * 7u + i * 13u + 1u);
}

static void fill(void *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)p)[i] = pat(len, i);
}

static void check(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != pat(len, i))
			VMSG_TEST_FAIL("payload of len %u differs at %u", len,
				       i);
}

/* Every payload size, one frame in flight at a time. */
static void round_trip_all_sizes(unsigned order)
{
	struct frame_pair p;
	struct vmsg_frame_tx tx = {0};
	struct vmsg_frame f;
	uint32_t size = 1u << order, mask = size - 1;
	int pads = 0;

	frame_pair_open(&p, order, order == 10 ? 11 : 10);
	uint32_t max = vmsg_frame_max_payload(&p.cli);
	ASSERT_EQ(max, size / 2 - 8);
	ASSERT_EQ(vmsg_frame_max_payload(&p.srv), (1u << p.ro) / 2 - 8);

	for (uint32_t round = 0; round < 2; round++) {
		for (uint32_t len = 0; len <= max; len++) {
			uint32_t pos = p.cli.tx.idx & mask;
			uint32_t to_end = size - pos;
			int want_pad = vmsg_frame_size(len) > to_end;
			uint16_t type = (uint16_t)(1 + len % 0xfffe);
			uint16_t flags = (uint16_t)(len & VMSG_FRAME_FLAGS_KNOWN);
			void *pl;

			ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, type, flags,
						     len, &pl),
				  0);
			ASSERT_EQ((uintptr_t)pl % 8, 0);
			ASSERT_TRUE((uint8_t *)pl ==
				    p.left + (want_pad ? 0 : pos) + 8);
			fill(pl, len);
			/* Nothing visible before the commit. */
			ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 0);
			ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
			ASSERT_EQ(tx.pending, 0);

			uint32_t rlen;
			uint16_t rtype, rflags;
			frame_raw_hdr(p.left, pos, &rlen, &rtype, &rflags);
			if (want_pad) {
				pads++;
				ASSERT_EQ(rtype, VMSG_TYPE_PAD);
				ASSERT_EQ(rlen, to_end - 8);
				ASSERT_EQ(rflags, 0);
				frame_raw_hdr(p.left, 0, &rlen, &rtype,
					      &rflags);
			}
			ASSERT_EQ(rtype, type);
			ASSERT_EQ(rlen, len);
			ASSERT_EQ(rflags, flags);

			ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
			ASSERT_EQ(f.type, type); /* never the pad */
			ASSERT_EQ(f.flags, flags);
			ASSERT_EQ(f.len, len);
			ASSERT_EQ(f.size, vmsg_frame_size(len));
			ASSERT_TRUE(f.data == pl);
			ASSERT_EQ((uintptr_t)f.data % 8, 0);
			check(f.data, len);
			/* Peek does not consume. */
			ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
			ASSERT_EQ(f.len, len);
			ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
			ASSERT_EQ(p.srv.rx.idx, p.cli.tx.idx);
			ASSERT_EQ(p.page->left.cons, p.page->left.prod);
			ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 0);
		}
	}
	/* 2*(max+1) frames of growing size wrap the ring many times, and a
	 * pad is needed at each wrap that does not land exactly on 0. */
	ASSERT_GT(pads, 2);
	frame_pair_close(&p);
}

/* Random sizes with many frames in flight: reserve succeeds exactly when
 * pad + frame fit in the space the reader left, and frames come out in
 * order. Starts near the 2^32 index wrap. */
static void random_in_flight(unsigned order, uint64_t seed)
{
	enum { Q = 1024 };
	struct frame_pair p;
	struct vmsg_frame_tx tx = {0};
	struct vmsg_frame f;
	uint32_t q_len[Q];
	uint16_t q_type[Q];
	unsigned q_head = 0, q_tail = 0;
	uint32_t size = 1u << order, mask = size - 1;
	unsigned eagain = 0, delivered = 0;

	frame_pair_open(&p, order, order == 10 ? 11 : 10);
	frame_pair_attach(&p, 0u - 4096u, 0);
	uint32_t max = vmsg_frame_max_payload(&p.cli);

	for (int it = 0; it < 40000; it++) {
		if (vmsg_test_rand(&seed) % 2 && q_tail - q_head < Q) {
			uint64_t r = vmsg_test_rand(&seed);
			uint32_t len = (uint32_t)(r % 4 == 0 ? (r >> 8) % (max + 1)
							  : (r >> 8) % 64);
			uint16_t type = (uint16_t)(0x100 + (r >> 40) % 0xff00);
			uint32_t pos = p.cli.tx.idx & mask;
			uint32_t fs = vmsg_frame_size(len);
			uint32_t need = fs + (fs > size - pos ? size - pos : 0);
			uint32_t space = size - (p.cli.tx.idx - p.srv.rx.idx);
			void *pl;
			int rc = vmsg_frame_reserve(&p.cli, &tx, type, 0, len,
						    &pl);
			if (need > space) {
				ASSERT_EQ(rc, -EAGAIN);
				eagain++;
				continue;
			}
			ASSERT_EQ(rc, 0);
			fill(pl, len);
			ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
			q_len[q_tail % Q] = len;
			q_type[q_tail % Q] = type;
			q_tail++;
		} else {
			int rc = vmsg_frame_peek(&p.srv, &f);
			if (q_head == q_tail) {
				ASSERT_EQ(rc, 0);
				continue;
			}
			ASSERT_EQ(rc, 1);
			ASSERT_EQ(f.len, q_len[q_head % Q]);
			ASSERT_EQ(f.type, q_type[q_head % Q]);
			ASSERT_EQ((uintptr_t)f.data % 8, 0);
			check(f.data, f.len);
			ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
			q_head++;
			delivered++;
		}
	}
	ASSERT_GT(eagain, 0);
	ASSERT_GT(delivered, 1000);
	ASSERT_LT(p.cli.tx.idx, 0x80000000u); /* the index wrapped */
	frame_pair_close(&p);
}

static void full_and_errors(void)
{
	struct frame_pair p;
	struct vmsg_frame_tx tx = {0};
	struct vmsg_frame f;
	void *pl;

	frame_pair_open(&p, 10, 11);
	uint32_t max = vmsg_frame_max_payload(&p.cli);
	ASSERT_EQ(max, 504);

	/* Argument errors, and nothing reserved by them. */
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 1, 0, max + 1, &pl),
		  -EMSGSIZE);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 1, 0, UINT32_MAX, &pl),
		  -EMSGSIZE);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, VMSG_TYPE_PAD, 0, 8, &pl),
		  -EINVAL);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 1, 0x4, 8, &pl), -EINVAL);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 1, 0x8000, 8, &pl),
		  -EINVAL);
	ASSERT_EQ(tx.pending, 0);
	ASSERT_EQ(vmsg_frame_commit(&p.cli, &tx), 0); /* nothing to publish */
	ASSERT_EQ(p.page->left.prod, 0);

	/* Four 256-byte frames fill the 1 KiB ring; pending counts too. */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 248, &pl),
			  0);
	ASSERT_EQ(tx.pending, 1024);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 0, &pl), -EAGAIN);
	ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 0, &pl), -EAGAIN);
	/* Reading one frame frees room for exactly one more. */
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x101, 0, 248, &pl), 0);
	ASSERT_TRUE((uint8_t *)pl == p.left + 8);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, 0, &pl), -EAGAIN);
	ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
		ASSERT_EQ(f.type, i == 3 ? 0x101 : 0x100);
		ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	}
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 0);

	/* The largest frame plus the largest pad before it still fit an
	 * empty ring: idx at 520 leaves 504 to the end. */
	frame_pair_attach(&p, 520, 0);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x100, 0, max, &pl), 0);
	ASSERT_TRUE((uint8_t *)pl == p.left + 8);
	ASSERT_EQ(tx.pending, 504 + 512);
	ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_EQ(f.len, max);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	ASSERT_EQ(p.srv.rx.idx, 520 + 1016);
	frame_pair_close(&p);
}

static void trim(void)
{
	struct frame_pair p;
	struct vmsg_frame_tx tx = {0};
	struct vmsg_frame f;
	void *pl, *pl2;

	frame_pair_open(&p, 10, 11);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, p.left + 8, 0), -EINVAL);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x200, VMSG_FRAME_MORE, 100,
				     &pl),
		  0);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, pl, 101), -EINVAL);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, (uint8_t *)pl + 8, 10),
		  -EINVAL);
	fill(pl, 10);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, pl, 10), 0);
	ASSERT_EQ(tx.pending, 24);
	/* Shrinking further is fine, growing back past the trim is not. */
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, pl, 11), -EINVAL);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x201, 0, 5, &pl2), 0);
	ASSERT_TRUE((uint8_t *)pl2 == (uint8_t *)pl + 24);
	fill(pl2, 5);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, pl, 5), -EINVAL); /* not last */
	ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, pl2, 0), -EINVAL); /* committed */
	ASSERT_EQ(p.page->left.prod, 24 + 16);

	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_EQ(f.type, 0x200);
	ASSERT_EQ(f.flags, VMSG_FRAME_MORE);
	ASSERT_EQ(f.len, 10);
	ASSERT_EQ(f.size, 24);
	check(f.data, 10);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_EQ(f.type, 0x201);
	ASSERT_EQ(f.len, 5);
	check(f.data, 5);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);

	/* Trim of a frame that needed a pad: the pad stays, the frame
	 * shrinks at offset 0. */
	frame_pair_attach(&p, 1008, 0);
	ASSERT_EQ(vmsg_frame_reserve(&p.cli, &tx, 0x202, 0, 100, &pl), 0);
	ASSERT_EQ(tx.pending, 16 + 112);
	ASSERT_EQ(vmsg_frame_trim(&p.cli, &tx, pl, 0), 0);
	ASSERT_EQ(tx.pending, 16 + 8);
	ASSERT_GE(vmsg_frame_commit(&p.cli, &tx), 0);
	ASSERT_EQ(vmsg_frame_peek(&p.srv, &f), 1);
	ASSERT_EQ(f.type, 0x202);
	ASSERT_EQ(f.len, 0);
	ASSERT_TRUE(f.data == p.left + 8);
	ASSERT_GE(vmsg_frame_release(&p.srv, &f), 0);
	ASSERT_EQ(p.srv.rx.idx, 1008 + 24);
	frame_pair_close(&p);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0)
				 : 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	if (seed == 0)
		seed = 1;
	printf("frame_basic seed %#" PRIx64 "\n", seed);
	fflush(stdout);

	full_and_errors();
	trim();
	round_trip_all_sizes(10);
	round_trip_all_sizes(12);
	random_in_flight(10, seed);
	random_in_flight(13, seed + 1);
	printf("ok\n");
	return 0;
}
