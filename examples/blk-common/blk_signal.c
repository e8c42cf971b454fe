/* Stop signals for the block appliances' Linux programs (blk_signal.h). */
#define _GNU_SOURCE
#include "blk_signal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

static volatile sig_atomic_t stop_signal;
static sigset_t orig_mask; /* the mask before ours: ppoll's */

static void on_signal(int sig)
{
	stop_signal = sig;
}

void blk_signal_init(void)
{
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig_mask);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int blk_signal_stopped(void)
{
	if (!stop_signal) {
		/* Blocked, a signal waits for the next ppoll: look for it
		 * (before serving, the program waits in no ppoll). */
		sigset_t p;
		if (sigpending(&p) == 0)
			stop_signal = sigismember(&p, SIGTERM) ? SIGTERM
				    : sigismember(&p, SIGINT)  ? SIGINT
							       : 0;
	}
	return stop_signal;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* When the stop was first seen (now_ns), for its grace. */
static uint64_t stop_ns;

int blk_signal_wait(void *ctx, vmsg_chan *c, enum blk_wait_for what)
{
	(void)ctx;
	int ms = -1, r;
	if (stop_signal &&
	    (r = blk_wait_after_stop(&stop_ns, now_ns(), what, &ms)) < 0)
		return r;
	if (what == BLK_WAIT_LOOK)
		return 0;
	int fd = vmsg_chan_fd(c);
	if (fd < 0)
		return fd;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	/* The signals are blocked except inside ppoll: one that came since
	 * the flag was read is delivered here, and ends the wait. */
	if (ppoll(&p, 1, ms < 0 ? NULL : &ts, &orig_mask) < 0 &&
	    errno != EINTR)
		return -errno;
	if (stop_signal &&
	    (r = blk_wait_after_stop(&stop_ns, now_ns(), what, &ms)) < 0)
		return r;
	vmsg_chan_ack(c);
	return 0;
}
