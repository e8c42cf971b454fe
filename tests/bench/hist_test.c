/* bench_hist: the log-linear histogram of vmsg-bench. Checks that every
 * value maps to a bucket whose range holds it, that the reported value is
 * within the documented relative error (1/128) over 0..2^40, that buckets
 * tile the line with no gap or overlap, and that percentiles of known
 * distributions come out right (uniform, constant, two-point). */
#include "hist.h"
#include "vmsg_test.h"

#include <math.h>

static double rel_err(uint64_t got, uint64_t want)
{
	double d = (double)got - (double)want;

	return want ? fabs(d) / (double)want : (got ? 1.0 : 0.0);
}

/* Every value lands in a bucket holding it, and its midpoint is close. */
static void check_value(uint64_t v)
{
	unsigned idx = bench_hist_index(v);
	uint64_t lo, hi, mid;

	ASSERT_LT(idx, BENCH_HIST_BUCKETS);
	bench_hist_range(idx, &lo, &hi);
	if (v >= (1ull << BENCH_HIST_TOP_BIT)) {
		ASSERT_EQ(idx, BENCH_HIST_BUCKETS - 1);
		return;
	}
	if (v < lo || v > hi)
		VMSG_TEST_FAIL("%llu outside bucket %u [%llu, %llu]",
			       (unsigned long long)v, idx,
			       (unsigned long long)lo, (unsigned long long)hi);
	mid = lo + (hi - lo) / 2;
	if (rel_err(mid, v) > 1.0 / 128)
		VMSG_TEST_FAIL("%llu reported as %llu: error %g > 1/128",
			       (unsigned long long)v, (unsigned long long)mid,
			       rel_err(mid, v));
}

static void test_bound(void)
{
	uint64_t seed = 12345;

	for (uint64_t v = 0; v < 100000; v++)
		check_value(v);
	for (unsigned b = 0; b < 64; b++) { /* around every power of two */
		uint64_t p = 1ull << b;
		check_value(p - 1);
		check_value(p);
		check_value(p + 1);
	}
	for (int i = 0; i < 1000000; i++) /* log-uniform over 2^0..2^40 */
		check_value(vmsg_test_rand(&seed) >>
			    (24 + vmsg_test_rand(&seed) % 40));
}

/* Consecutive buckets are adjacent: hi(i) + 1 == lo(i + 1). */
static void test_tiling(void)
{
	uint64_t lo, hi, lo2, hi2;

	for (unsigned i = 0; i + 2 < BENCH_HIST_BUCKETS; i++) {
		bench_hist_range(i, &lo, &hi);
		bench_hist_range(i + 1, &lo2, &hi2);
		ASSERT_LE(lo, hi);
		ASSERT_EQ(hi + 1, lo2);
		ASSERT_EQ(bench_hist_index(lo), i);
		ASSERT_EQ(bench_hist_index(hi), i);
	}
}

static void test_percentiles(void)
{
	static struct bench_hist h;
	struct {
		double p;
		uint64_t want;
	} uni[] = { { 50, 50000 }, { 90, 90000 }, { 99, 99000 },
		    { 99.9, 99900 }, { 0, 1 }, { 100, 100000 } };

	/* Uniform 1..100000: the p-th percentile is p * 1000. */
	bench_hist_init(&h);
	ASSERT_EQ(bench_hist_percentile(&h, 50), 0);
	for (uint64_t v = 1; v <= 100000; v++)
		bench_hist_add(&h, v);
	ASSERT_EQ(h.n, 100000);
	ASSERT_EQ(h.min, 1);
	ASSERT_EQ(h.max, 100000);
	for (size_t i = 0; i < sizeof(uni) / sizeof(uni[0]); i++) {
		uint64_t got = bench_hist_percentile(&h, uni[i].p);
		if (rel_err(got, uni[i].want) > 1.0 / 128)
			VMSG_TEST_FAIL("p%g: %llu, want %llu +- 1/128", uni[i].p,
				       (unsigned long long)got,
				       (unsigned long long)uni[i].want);
	}
	ASSERT_TRUE(fabs(bench_hist_mean(&h) - 50000.5) < 1e-6);

	/* A constant: every percentile is exactly it (clamped to min/max). */
	bench_hist_init(&h);
	for (int i = 0; i < 1000; i++)
		bench_hist_add(&h, 123456789);
	ASSERT_EQ(bench_hist_percentile(&h, 50), 123456789);
	ASSERT_EQ(bench_hist_percentile(&h, 99.9), 123456789);

	/* Two points: 990 samples at 1000 ns, 10 at 1 ms. Nearest rank:
	 * p99 is rank 990 (1000 ns), p99.9 rank 999 (1 ms). */
	bench_hist_init(&h);
	for (int i = 0; i < 990; i++)
		bench_hist_add(&h, 1000);
	for (int i = 0; i < 10; i++)
		bench_hist_add(&h, 1000000);
	ASSERT_TRUE(rel_err(bench_hist_percentile(&h, 50), 1000) <= 1.0 / 128);
	ASSERT_TRUE(rel_err(bench_hist_percentile(&h, 99), 1000) <= 1.0 / 128);
	ASSERT_TRUE(rel_err(bench_hist_percentile(&h, 99.9), 1000000) <=
		    1.0 / 128);
	ASSERT_EQ(bench_hist_percentile(&h, 100), 1000000);
	ASSERT_EQ(bench_hist_percentile(&h, 0), 1000);
}

int main(void)
{
	test_bound();
	test_tiling();
	test_percentiles();
	printf("bench_hist: ok\n");
	return 0;
}
