/* Private: the monotonic clock of the Linux builds, in nanoseconds (what
 * struct vmsg_platform_ops' now_ns gives on Linux) or milliseconds, for
 * the library's Linux code and for the programs of this tree (vmsgd,
 * vmsg-blockd, the nbdkit plugin, vmsg-cat, vmsg-tap). Freestanding code
 * asks its platform instead (the unikernel's is Xen system time). The
 * examples keep their own: they use the public API only. */
#ifndef VMSG_CLOCK_H
#define VMSG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t vmsg__clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t vmsg__clock_ms(void)
{
	return vmsg__clock_ns() / 1000000u;
}

#endif
