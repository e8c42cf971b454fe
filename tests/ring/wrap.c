/* ring_wrap: every way a byte stream can meet the end of a ring.
 *
 * For rings of order 10, 11, 12 (every start offset), 13 and 16 (a sample
 * that includes every offset near the end), in both directions, from each
 * start offset: crossing writes and reads (copy, in-place span/consume and
 * in-place tx_publish), full and empty rings, a partial stream write into a
 * nearly full ring, all-or-nothing send/recv, and a random mix checked
 * against a model. After every step data_ready/buffer_space must equal what
 * can actually be moved. Free-running indices are also started just below
 * 2^32 so the 32-bit wrap is crossed too. Canary bytes around and between
 * the rings catch any stray copy.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/ring.h>

#include "ring_pair.h"
#include "vmsg_test.h"

#define PAT_LEN (16u << 16) /* 16 times the largest ring tested */

static uint8_t *pat;
static uint8_t *out;

struct dir {
	struct ring_pair *p;
	int which;
	struct vmsg_ring_end *w, *r;
	uint32_t size;
	uint32_t start; /* index both ends begin at */
};

static void check_counts(const struct dir *d, uint32_t inflight)
{
	ASSERT_EQ(vmsg_ring_data_ready(d->r), inflight);
	ASSERT_EQ(vmsg_ring_buffer_space(d->w), d->size - inflight);
}

static void reset(struct dir *d, uint32_t start)
{
	d->start = start;
	if (d->which == RING_LEFT)
		ring_pair_reset(d->p, start, 0);
	else
		ring_pair_reset(d->p, 0, start);
	d->w = ring_pair_writer(d->p, d->which);
	d->r = ring_pair_reader(d->p, d->which);
	check_counts(d, 0);
}

/* Empty ring: nothing to read, everything to write. */
static void step_empty(struct dir *d, uint32_t start)
{
	const uint8_t *sp = NULL;
	reset(d, start);
	ASSERT_EQ(vmsg_ring_read(d->r, out, d->size), 0);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, 1), 0);
	ASSERT_EQ(vmsg_ring_rx_span(d->r, &sp), 0);
	ASSERT_TRUE(sp == d->r->rx.data + (start & (d->size - 1)));
	check_counts(d, 0);
}

/* A write that crosses the end, read back with the copying calls in two
 * pieces (the second asks for more than is ready). */
static void step_cross_copy(struct dir *d, uint32_t start, const uint8_t *src)
{
	uint32_t off = start & (d->size - 1);
	uint32_t len = d->size - off + off % 13 + 1;
	if (len > d->size)
		len = d->size;
	reset(d, start);
	ASSERT_EQ(vmsg_ring_write(d->w, src, len), len);
	check_counts(d, len);

	const uint8_t *sp = NULL;
	uint32_t to_end = d->size - off;
	ASSERT_EQ(vmsg_ring_rx_span(d->r, &sp), len < to_end ? len : to_end);
	ASSERT_TRUE(sp == d->r->rx.data + off);
	ASSERT_MEM_EQ(sp, src, len < to_end ? len : to_end);

	uint32_t k = len / 3;
	ASSERT_EQ(vmsg_ring_read(d->r, out, k), k);
	check_counts(d, len - k);
	ASSERT_EQ(vmsg_ring_read(d->r, out + k, d->size), len - k);
	ASSERT_MEM_EQ(out, src, len);
	check_counts(d, 0);
	ASSERT_EQ(vmsg_ring_read(d->r, out, 1), 0);
}

/* The in-place primitives: write straight into the ring with tx_publish
 * (split at the end as a frame writer would), read with rx_span and
 * rx_consume; a crossing stretch takes exactly two spans. */
static void step_cross_inplace(struct dir *d, uint32_t start,
			       const uint8_t *src)
{
	uint32_t off = start & (d->size - 1);
	uint32_t len = d->size - off + off % 7 + 1;
	if (len > d->size)
		len = d->size;
	reset(d, start);

	uint32_t first = d->size - off < len ? d->size - off : len;
	memcpy(d->w->tx.data + off, src, first);
	vmsg_ring_tx_publish(d->w, first);
	check_counts(d, first);
	memcpy(d->w->tx.data, src + first, len - first);
	vmsg_ring_tx_publish(d->w, len - first);
	check_counts(d, len);

	uint32_t got = 0;
	int spans = 0;
	while (got < len) {
		const uint8_t *sp = NULL;
		int n = vmsg_ring_rx_span(d->r, &sp);
		ASSERT_GT(n, 0);
		ASSERT_TRUE(sp == d->r->rx.data + ((start + got) &
						   (d->size - 1)));
		ASSERT_MEM_EQ(sp, src + got, (size_t)n);
		/* Consume in two steps to check partial consumption. */
		uint32_t half = (uint32_t)n / 2;
		vmsg_ring_rx_consume(d->r, half);
		check_counts(d, len - got - half);
		vmsg_ring_rx_consume(d->r, (uint32_t)n - half);
		got += (uint32_t)n;
		check_counts(d, len - got);
		spans++;
	}
	ASSERT_EQ(spans, off != 0 && len > d->size - off ? 2 : 1);
	ASSERT_EQ(vmsg_ring_rx_span(d->r, &(const uint8_t *){NULL}), 0);
}

/* Full ring: a stream write of twice the ring moves exactly what
 * buffer_space promised; nothing more fits; oversize packets are refused
 * with -EMSGSIZE; a full-ring recv gets it all back. */
static void step_full(struct dir *d, uint32_t start, const uint8_t *src)
{
	reset(d, start);
	int space = vmsg_ring_buffer_space(d->w);
	ASSERT_EQ(space, d->size);
	ASSERT_EQ(vmsg_ring_write(d->w, src, 2 * (size_t)d->size), space);
	check_counts(d, d->size);
	ASSERT_EQ(vmsg_ring_write(d->w, src, 1), 0);
	ASSERT_EQ(vmsg_ring_send(d->w, src, 1), 0);
	ASSERT_EQ(vmsg_ring_send(d->w, src, d->size + 1), -EMSGSIZE);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, d->size + 1), -EMSGSIZE);
	check_counts(d, d->size);
	int ready = vmsg_ring_data_ready(d->r);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, d->size), ready);
	ASSERT_MEM_EQ(out, src, d->size);
	check_counts(d, 0);
}

/* Nearly full: a stream write is cut to the 3 bytes that still fit. */
static void step_partial(struct dir *d, uint32_t start, const uint8_t *src)
{
	reset(d, start);
	ASSERT_EQ(vmsg_ring_send(d->w, src, d->size - 3), d->size - 3);
	check_counts(d, d->size - 3);
	ASSERT_EQ(vmsg_ring_write(d->w, src + d->size - 3, 10), 3);
	check_counts(d, d->size);
	ASSERT_EQ(vmsg_ring_read(d->r, out, d->size + 100), d->size);
	ASSERT_MEM_EQ(out, src, d->size);
	check_counts(d, 0);
}

/* Packets: send refuses what does not fit and changes nothing; recv of
 * more than is ready returns 0 and changes nothing. */
static void step_packets(struct dir *d, uint32_t start, const uint8_t *src)
{
	uint32_t h = d->size / 2 + start % 7;
	reset(d, start);
	ASSERT_EQ(vmsg_ring_send(d->w, src, h), h);
	check_counts(d, h);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, h + 1), 0);
	check_counts(d, h);
	ASSERT_EQ(vmsg_ring_send(d->w, src + h, d->size - h + 1), 0);
	check_counts(d, h);
	ASSERT_EQ(vmsg_ring_send(d->w, src + h, d->size - h), d->size - h);
	check_counts(d, d->size);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, h), h);
	ASSERT_MEM_EQ(out, src, h);
	check_counts(d, d->size - h);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, d->size - h + 1), 0);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, d->size - h), d->size - h);
	ASSERT_MEM_EQ(out, src + h, d->size - h);
	check_counts(d, 0);
	ASSERT_EQ(vmsg_ring_send(d->w, src, 0), 0);
	ASSERT_EQ(vmsg_ring_recv(d->r, out, 0), 0);
	check_counts(d, 0);
}

/* Random operations against a model of the stream. */
static void step_random(struct dir *d, uint32_t start, uint64_t *seed)
{
	uint32_t wpos = 0, rpos = 0;
	reset(d, start);
	for (int i = 0; i < 12; i++) {
		uint32_t inflight = wpos - rpos;
		uint64_t x = vmsg_test_rand(seed);
		uint32_t n = (uint32_t)(x >> 8) % (d->size + d->size / 2) + 1;
		int op = (int)(x & 3);
		int got;
		if (wpos + n + d->size > PAT_LEN)
			op |= 2; /* only read near the pattern's end */
		switch (op) {
		case 0: /* stream write */
			got = vmsg_ring_write(d->w, pat + wpos, n);
			ASSERT_EQ(got, n < d->size - inflight
					       ? n
					       : d->size - inflight);
			wpos += (uint32_t)got;
			break;
		case 1: /* packet write */
			got = vmsg_ring_send(d->w, pat + wpos, n);
			if (n > d->size)
				ASSERT_EQ(got, -EMSGSIZE);
			else
				ASSERT_EQ(got, n <= d->size - inflight ? n : 0);
			if (got > 0)
				wpos += (uint32_t)got;
			break;
		case 2: /* stream read */
			got = vmsg_ring_read(d->r, out, n);
			ASSERT_EQ(got, n < inflight ? n : inflight);
			ASSERT_MEM_EQ(out, pat + rpos, (size_t)got);
			rpos += (uint32_t)got;
			break;
		default: /* packet read */
			got = vmsg_ring_recv(d->r, out, n);
			if (n > d->size)
				ASSERT_EQ(got, -EMSGSIZE);
			else
				ASSERT_EQ(got, n <= inflight ? n : 0);
			if (got > 0) {
				ASSERT_MEM_EQ(out, pat + rpos, (size_t)got);
				rpos += (uint32_t)got;
			}
			break;
		}
		check_counts(d, wpos - rpos);
	}
}

/* Index bases: plain, at 2^31, and just below 2^32 so the counters wrap
 * to 0 in the middle of the operations. All are multiples of the size,
 * so the ring offset is the same. */
static uint32_t start_index(uint32_t size, uint32_t off, unsigned variant)
{
	static const uint32_t bases[3] = {0u, 0x80000000u, 0u};
	uint32_t base = variant % 3 == 2 ? 0u - 2u * size : bases[variant % 3];
	return base + off;
}

static void run_offset(struct dir *d, uint32_t off, uint64_t *seed)
{
	for (unsigned v = 0; v < 3; v++) {
		uint32_t s = start_index(d->size, off, v);
		const uint8_t *src =
			pat + (vmsg_test_rand(seed) % (PAT_LEN - 2 * d->size));
		step_empty(d, s);
		step_cross_copy(d, s, src);
		step_cross_inplace(d, s, src);
		step_full(d, s, src);
		step_partial(d, s, src);
		step_packets(d, s, src);
		step_random(d, s, seed);
	}
}

static void run_direction(struct ring_pair *p, int which, uint64_t *seed)
{
	struct dir d = {.p = p, .which = which};
	unsigned order = p->order[which];
	d.size = (uint32_t)1 << order;

	ring_pair_fill_canary(p, which == RING_LEFT, which == RING_RIGHT);
	if (order <= 12) {
		for (uint32_t off = 0; off < d.size; off++)
			run_offset(&d, off, seed);
	} else {
		/* Every offset within 64 of either end, the middle, and a
		 * random sample. */
		for (uint32_t off = 0; off < 64; off++) {
			run_offset(&d, off, seed);
			run_offset(&d, d.size - 1 - off, seed);
		}
		run_offset(&d, d.size / 2, seed);
		for (int i = 0; i < 64; i++)
			run_offset(&d, (uint32_t)vmsg_test_rand(seed) &
					       (d.size - 1),
				   seed);
	}
	ring_pair_check_canary(p, which == RING_LEFT, which == RING_RIGHT);
}

int main(void)
{
	static const unsigned pairs[][2] = {
		{10, 11}, {11, 10}, {12, 13}, {13, 12}, {16, 10}, {10, 16},
	};
	uint64_t seed = 0x5eed0001u;
	if (getenv("VMSG_TEST_SEED"))
		seed = strtoull(getenv("VMSG_TEST_SEED"), NULL, 0);
	fprintf(stderr, "seed 0x%" PRIx64 "\n", seed);

	pat = malloc(PAT_LEN);
	out = malloc(PAT_LEN);
	ASSERT_TRUE(pat != NULL && out != NULL);
	uint64_t ps = seed;
	for (uint32_t i = 0; i < PAT_LEN; i += 8) {
		uint64_t x = vmsg_test_rand(&ps);
		memcpy(pat + i, &x, 8);
	}

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct ring_pair p;
		ring_pair_open(&p, pairs[i][0], pairs[i][1]);
		for (int which = RING_LEFT; which <= RING_RIGHT; which++) {
			fprintf(stderr, "orders (%u,%u): %s ring, order %u\n",
				pairs[i][0], pairs[i][1],
				which == RING_LEFT ? "left" : "right",
				p.order[which]);
			run_direction(&p, which, &seed);
		}
		ring_pair_close(&p);
	}
	free(pat);
	free(out);
	return 0;
}
