/* Log-linear latency histogram: see hist.h for the bucket scheme and its
 * error bound. */
#include "hist.h"

#include <string.h>

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned bench_hist_index(uint64_t v)
{
	unsigned msb, shift, idx;

	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS + 1 */
	if (msb >= BENCH_HIST_TOP_BIT)
		return BENCH_HIST_BUCKETS - 1;
	shift = msb - BENCH_HIST_SUB_BITS; /* v >> shift is in [SUB, 2*SUB) */
	idx = (shift + 1) * BENCH_HIST_SUB + (unsigned)(v >> shift) - BENCH_HIST_SUB;
	return idx;
}

void bench_hist_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
	unsigned shift;

	if (idx < 2 * BENCH_HIST_SUB) {
		*lo = *hi = idx;
		return;
	}
	shift = idx / BENCH_HIST_SUB - 1;
	*lo = (uint64_t)(BENCH_HIST_SUB + idx % BENCH_HIST_SUB) << shift;
	*hi = *lo + ((uint64_t)1 << shift) - 1;
	if (idx == BENCH_HIST_BUCKETS - 1)
		*hi = UINT64_MAX; /* the overflow bucket */
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	uint64_t rank, seen = 0, lo, hi, v;

	if (h->n == 0)
		return 0;
	if (p <= 0)
		return h->min;
	if (p >= 100)
		return h->max;
	rank = (uint64_t)(p / 100.0 * (double)h->n);
	if ((double)rank < p / 100.0 * (double)h->n)
		rank++; /* ceil */
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen < rank)
			continue;
		bench_hist_range(i, &lo, &hi);
		v = lo + (hi - lo) / 2;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->n ? (double)h->sum / (double)h->n : 0.0;
}
