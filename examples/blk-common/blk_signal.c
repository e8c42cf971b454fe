/* Stop signals for the block appliances' Linux programs (blk_signal.h). */
#define _GNU_SOURCE
#include "blk_signal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>

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
	return stop_signal;
}

int blk_signal_wait(void *ctx, vmsg_chan *c)
{
	(void)ctx;
	if (stop_signal)
		return -ECANCELED;
	int fd = vmsg_chan_fd(c);
	if (fd < 0)
		return fd;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	/* The signals are blocked except inside ppoll: one that came since
	 * the flag was read is delivered here, and ends the wait. */
	if (ppoll(&p, 1, NULL, &orig_mask) < 0 && errno != EINTR)
		return -errno;
	if (stop_signal)
		return -ECANCELED;
	vmsg_chan_ack(c);
	return 0;
}

int blk_signal_accept(vmsg_chan *c)
{
	for (;;) {
		int r = vmsg_chan_accept(c, 0);
		if (r != -EAGAIN)
			return r;
		if ((r = blk_signal_wait(NULL, c)) < 0)
			return r;
	}
}
