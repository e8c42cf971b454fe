/* Measurement helpers for vmsg-pingpong: a monotonic clock, CPU pinning and
 * latency summaries (percentiles of a sorted sample array). */
#ifndef PINGPONG_MEASURE_H
#define PINGPONG_MEASURE_H

#include <stddef.h>
#include <stdint.h>

struct lat_summary {
	size_t n;
	double min_us, mean_us, p50_us, p99_us, max_us;
	double msgs_per_s; /* one-way messages per second: 2 per round trip */
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t pp_now_ns(void);

/* Pin the calling process to one CPU; cpu < 0 does nothing. Returns 0 or
 * -errno. */
int pp_pin_cpu(int cpu);

/* Sort samples[0..n) (round-trip times in ns) in place and summarise them;
 * elapsed_ns is the wall time of the whole measured run. */
void pp_summarize(uint64_t *samples, size_t n, uint64_t elapsed_ns,
		  struct lat_summary *s);

/* The table: a header line, then one row per transport. */
void pp_print_header(void);
void pp_print_row(const char *name, const struct lat_summary *s);

#endif
