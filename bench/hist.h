/* Latency histogram with log-linear buckets and a bounded relative error.
 *
 * Values (nanoseconds) below 2 * BENCH_HIST_SUB are counted exactly, one
 * bucket each. Above that, every power of two [2^k, 2^(k+1)) is split into
 * BENCH_HIST_SUB (64) equal buckets of width 2^(k-6). A bucket's lower
 * bound is at least 64 times its width, so the value reported for a bucket
 * (the midpoint of its integer range) is within width/2 <= value/128 of every
 * value that fell in it: relative error at most 1/128 (0.79 %). Values of
 * 2^BENCH_HIST_TOP_BIT ns (about 18 minutes) and more share an overflow
 * bucket, reported as max.
 * min and max are kept exactly, and percentiles are clamped to them.
 *
 * Percentiles are nearest-rank: the p-th percentile is the value of the
 * sample of rank ceil(p/100 * n) (1-based) in sorted order.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_TOP_BIT 40
/* Exact buckets 0..2*SUB-1, then SUB buckets for each power of two from
 * 2^(SUB_BITS+1) to 2^(TOP_BIT-1), then one overflow bucket. */
#define BENCH_HIST_BUCKETS                                                     \
	((BENCH_HIST_TOP_BIT - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB + 1)

struct bench_hist {
	uint64_t n, sum, min, max;
	uint64_t count[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
/* The bucket index of value v, and a bucket's integer range [lo, hi]. */
unsigned bench_hist_index(uint64_t v);
void bench_hist_range(unsigned idx, uint64_t *lo, uint64_t *hi);

static inline void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->count[bench_hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* The p-th percentile (0 <= p <= 100); 0 when the histogram is empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
double bench_hist_mean(const struct bench_hist *h);

#endif
