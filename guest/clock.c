/* The monotonic clock: Xen's system time, from the time record Xen keeps
 * for vCPU 0 in shared_info, extrapolated with the TSC (time_record.h has
 * the arithmetic). Xen bumps `version` to odd before it rewrites the
 * record and to even after, so a reader retries until it saw one even
 * version on both sides of its copy. SCHEDOP_poll deadlines are in this
 * same time. The result never goes below what was last returned.
 */
#include "guest_internal.h"

#include "time_record.h"
#include "vmsg_barrier.h"

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	/* lfence: the TSC is read after the record, not speculated ahead. */
	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

uint64_t guest__now_ns(void)
{
	struct xen_vcpu_time_info *t = &guest__m.shared->vcpu_info[0].time;
	uint32_t v;
	uint64_t tsc_ts, sys;
	uint32_t mul;
	int8_t shift;

	do {
		v = vmsg__load_acquire(&t->version);
		tsc_ts = vmsg__read_once(&t->tsc_timestamp);
		sys = vmsg__read_once(&t->system_time);
		mul = vmsg__read_once(&t->tsc_to_system_mul);
		shift = vmsg__read_once(&t->tsc_shift);
		/* The copy completes before version is read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != vmsg__read_once(&t->version));

	static uint64_t last; /* one vCPU: no race */
	uint64_t tsc = rdtsc();
	uint64_t now = guest__time_at(tsc, tsc_ts, sys, mul, shift);
	if (now < last)
		now = last;
	last = now;
	return now;
}
