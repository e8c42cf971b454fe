/* Measurement helpers for vmsg-pingpong. */
#define _GNU_SOURCE
#include "measure.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t pp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pp_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array: the smallest sample with at
 * least p% of the samples at or below it. */
static uint64_t percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

void pp_summarize(uint64_t *samples, size_t n, uint64_t elapsed_ns,
		  struct lat_summary *s)
{
	double sum = 0;

	*s = (struct lat_summary){ .n = n };
	if (n == 0)
		return;
	qsort(samples, n, sizeof(*samples), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)samples[i];
	s->min_us = (double)samples[0] / 1e3;
	s->max_us = (double)samples[n - 1] / 1e3;
	s->mean_us = sum / (double)n / 1e3;
	s->p50_us = (double)percentile(samples, n, 50) / 1e3;
	s->p99_us = (double)percentile(samples, n, 99) / 1e3;
	if (elapsed_ns)
		s->msgs_per_s = 2.0 * (double)n / ((double)elapsed_ns / 1e9);
}

void pp_print_header(void)
{
	printf("%-10s %10s %10s %10s %10s %10s %12s\n", "transport", "min_us",
	       "mean_us", "p50_us", "p99_us", "max_us", "msgs/s");
}

void pp_print_row(const char *name, const struct lat_summary *s)
{
	printf("%-10s %10.2f %10.2f %10.2f %10.2f %10.2f %12.0f\n", name,
	       s->min_us, s->mean_us, s->p50_us, s->p99_us, s->max_us,
	       s->msgs_per_s);
}
