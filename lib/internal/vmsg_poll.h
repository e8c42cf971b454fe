/* Private, Linux builds: waiting on file descriptors to a deadline on
 * vmsg__clock_ns() (the host backend's and the Xen backend's waits). */
#ifndef VMSG_POLL_H
#define VMSG_POLL_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>

#include "vmsg_clock.h"

/* No deadline: wait until something comes. */
#define VMSG_POLL_FOREVER UINT64_MAX

/* The deadline `ms` milliseconds from now (ms < 0: VMSG_POLL_FOREVER). */
static inline uint64_t vmsg__deadline_in(int ms)
{
	return ms < 0 ? VMSG_POLL_FOREVER
		      : vmsg__clock_ns() + (uint64_t)ms * 1000000u;
}

/* poll()'s and epoll_wait()'s timeout for a deadline: -1 for none, 0 once
 * it has passed, else the milliseconds left rounded up (never wake early
 * and spin). */
static inline int vmsg__poll_ms(uint64_t deadline_ns)
{
	if (deadline_ns == VMSG_POLL_FOREVER)
		return -1;
	uint64_t now = vmsg__clock_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Poll pf[0..n-1] until one of them brings an event or the deadline
 * passes. Each readable fd is handed to take(ctx, i, revents), which
 * consumes what it holds and says what that was: 1 an event (fired[i] is
 * set), 0 housekeeping only (then the wait goes on with the time left),
 * < 0 an error, returned at once. Returns how many fired, 0 at the
 * deadline, or -errno. */
static inline int vmsg__poll_events(struct pollfd *pf, unsigned n,
				    uint64_t deadline_ns,
				    int (*take)(void *ctx, unsigned i,
						short revents),
				    void *ctx, uint8_t *fired)
{
	for (;;) {
		int t = vmsg__poll_ms(deadline_ns);
		int k = poll(pf, n, t);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int count = 0;
		for (unsigned i = 0; k > 0 && i < n; i++) {
			if (!pf[i].revents)
				continue;
			int r = take(ctx, i, pf[i].revents);
			if (r < 0)
				return r;
			if (r > 0) {
				fired[i] = 1;
				count++;
			}
		}
		if (count || t == 0)
			return count;
	}
}

#endif
