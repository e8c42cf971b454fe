/* Results of a sweep and their three renderings: a human table, JSON and
 * CSV. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

#define BENCH_MAX_RUNS 99

/* The latency CDF kept per run (ping-pong, setup): the value at each of
 * these percentiles, for plots (bench/run-all). */
#define BENCH_CDF_N 25
extern const double bench_cdf_pct[BENCH_CDF_N];

/* One run, summarised (times in ns). */
struct bench_run_sum {
	uint64_t ops, bytes, elapsed_ns;
	uint64_t min, p50, p90, p99, p999, max;
	uint64_t cdf[BENCH_CDF_N]; /* at bench_cdf_pct[]; 0s when no samples */
	double mean, msgs_per_s, bytes_per_s;
};

/* One measurement point: a transport at one point of the sweep. */
struct bench_row {
	const struct bench_transport *t;
	struct bench_params p; /* p.wait is the wait it really used */
	int nruns, median;     /* median: index into run[] */
	struct bench_run_sum run[BENCH_MAX_RUNS];
	double spread_min, spread_max; /* of the run metric */
	int err;
	char errmsg[200];
	/* Filled by bench_report_ratios(). */
	const struct bench_row *ref, *unix_row;
	double ratio, ratio_unix; /* < 0: no reference in this run */
};

struct bench_report {
	enum bench_cmd cmd;
	int cpu[2];
	int runs;
	struct bench_row *rows;
	size_t nrows;
};

void bench_run_summarise(const struct bench_params *p,
			 const struct bench_side_result *r,
			 struct bench_run_sum *s);
/* Choose the median run and the spread of the metric (p50 for ping-pong
 * and setup, messages/s for stream). */
void bench_row_finish(enum bench_cmd cmd, struct bench_row *row);
void bench_report_ratios(struct bench_report *rep);

const char *bench_cmd_name(enum bench_cmd c);
const char *bench_wait_name(enum bench_wait w);

void bench_report_table(FILE *f, const struct bench_report *rep);
/* 0, or -ENOMEM when the document could not be built or printed. */
int bench_report_json(FILE *f, const struct bench_report *rep);
void bench_report_csv(FILE *f, const struct bench_report *rep);

#endif
