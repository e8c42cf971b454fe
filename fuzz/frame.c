/* Fuzz target: the frame parser (vmsg_frame_peek / release) and the
 * reassembly of fragmented messages (vmsg_reasm_feed), reading a ring
 * whose bytes and producer index the input writes as a hostile peer
 * would: whole ring contents, then rewrites of bytes and indices between
 * reads.
 *
 * Input: [order: 1][reasm cap: 2][start index: 4] then operations
 *   0 OFF(2) LEN(1) BYTES   write bytes into the ring at OFF
 *   1 N(4)                  publish prod = our cons + N (any value)
 *   2 P(4)                  publish prod = P
 *   3 K(1)                  read up to K frames: peek, reassemble, release
 *   other                   a full read (up to 256 frames)
 * The ring is first filled from the rest of the input's start.
 *
 * Checked beyond "no crash": a frame handed out lies inside the ring and
 * inside what was published; reassembly never reports more than its
 * capacity; once the end is broken it stays broken. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/frame.h>
#include <vmsg/ring.h>

#include "fuzz_peer.h"

static _Alignas(4096) uint8_t page[4096];
static _Alignas(4096) uint8_t ring_pages[4 * 4096];
static uint8_t reasm_buf[8192];

static void read_frames(struct vmsg_ring_end *e, struct vmsg_reasm *r,
			unsigned k)
{
	const uint8_t *lo = e->rx.data, *hi = e->rx.data + e->rx.size;

	for (unsigned i = 0; i < k; i++) {
		struct vmsg_frame f;
		uint32_t before = e->rx.idx;
		int n = vmsg_frame_peek(e, &f);
		if (n <= 0) {
			if (n < 0)
				CHECK(e->error == n && n == -EPROTO);
			return;
		}
		/* The frame is inside the ring and inside what the peer
		 * published (prod as last read, validated). */
		CHECK(f.data >= lo + 8 && f.data + f.len <= hi);
		CHECK(f.size >= f.len + 8 && f.size % 8 == 0);
		CHECK(e->rx.peer - e->rx.idx >= f.size);
		CHECK(f.len <= e->rx.size / 2 - 8);
		int fr = vmsg_reasm_feed(r, &f);
		CHECK(fr == 1 || fr == 0 || fr == -EPROTO || fr == -EMSGSIZE);
		CHECK(r->len <= r->cap || r->skipping);
		if (fr == 1)
			CHECK(r->len <= r->cap);
		CHECK(vmsg_frame_release(e, &f) >= 0);
		CHECK(e->rx.idx - before >= f.size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct vmsg_vchan_page *pg = (struct vmsg_vchan_page *)page;
	struct vmsg_ring_end e;
	struct vmsg_reasm r;
	/* The right ring (server to client) is the one we read: order 10,
	 * 11 (in the page, the left one then of the other in-page order) or
	 * 12..14 (pages of their own). */
	unsigned ro = 10 + fuzz_u8(&in) % 5;
	unsigned lo = ro == 10 ? 11 : 10;
	size_t cap = fuzz_u16(&in) % sizeof(reasm_buf);
	uint32_t start = fuzz_u32(&in) & ~7u;
	uint32_t grants[4] = {0, 1, 2, 3};
	uint8_t *right;
	int rc;

	memset(page, 0, sizeof(page));
	rc = vmsg_ring_page_init(pg, lo, ro, grants, vmsg_ring_order_pages(ro));
	CHECK(rc == 0);
	right = ro < 12 ? page + vmsg_ring_order_offset(ro) : ring_pages;
	/* Start anywhere in the index space (wrap included). */
	pg->right.cons = pg->right.prod = start;
	rc = vmsg_ring_end_init(&e, pg, false, page + vmsg_ring_order_offset(lo),
				lo, right, ro);
	CHECK(rc == 0);
	vmsg_reasm_init(&r, reasm_buf, cap);

	uint32_t rsize = 1u << ro;
	size_t n;
	const uint8_t *fill = fuzz_bytes(&in, fuzz_u16(&in) % (rsize + 1), &n);
	size_t at = start & (rsize - 1), first = n < rsize - at ? n : rsize - at;
	memcpy(right + at, fill, first); /* up to the ring's end, */
	memcpy(right, fill + first, n - first); /* then from its start */
	pg->right.prod = start + (uint32_t)n;

	while (fuzz_in_left(&in)) {
		int was_broken = e.error;
		switch (fuzz_u8(&in)) {
		case 0: {
			uint32_t off = fuzz_u16(&in) & (rsize - 1);
			const uint8_t *b = fuzz_bytes(&in, fuzz_u8(&in), &n);
			if (n > rsize - off)
				n = rsize - off;
			memcpy(right + off, b, n);
			break;
		}
		case 1:
			pg->right.prod = e.rx.idx + fuzz_u32(&in);
			break;
		case 2:
			pg->right.prod = fuzz_u32(&in);
			break;
		case 3:
			read_frames(&e, &r, fuzz_u8(&in));
			break;
		default:
			read_frames(&e, &r, 256);
		}
		/* Broken is sticky. */
		if (was_broken)
			CHECK(e.error == was_broken);
	}
	read_frames(&e, &r, 256);
	return 0;
}
