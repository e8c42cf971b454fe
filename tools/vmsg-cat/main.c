/* vmsg-cat: netcat for channels. See docs/vmsg-cat.md or --help. */
#define _GNU_SOURCE
#include "cat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int stop_sig;
static int stop_pipe[2] = { -1, -1 };

/* SIGINT/SIGTERM/SIGHUP: note it and wake the poll loop, which closes the
 * channel in order (a server withdraws its socket or xenstore keys). */
static void on_signal(int sig)
{
	int saved = errno;
	char b = (char)sig;

	stop_sig = sig;
	if (write(stop_pipe[1], &b, 1) < 0) {
		/* full: a wake-up is already pending */
	}
	errno = saved;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct cat_opts o;
	vmsg_chan *c = NULL;
	bool exit_now;
	int r;

	r = cat_parse(&o, argc, argv, &exit_now);
	if (r != CAT_EXIT_OK || exit_now)
		return r;
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		cat_err("pipe: %s", strerror(errno));
		return CAT_EXIT_FAIL;
	}
	/* A closed stdout shows as EPIPE from write(), reported there. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (o.backend == CAT_SERVICE) {
		r = cat_service(&o, stop_pipe[0], &stop_sig);
	} else {
		r = cat_open(&o, &c, stop_pipe[0], &stop_sig);
		if (r == CAT_EXIT_OK) {
			r = cat_pump(&o, c, STDIN_FILENO, STDOUT_FILENO,
				     stop_pipe[0], &stop_sig);
			/* Orderly: the peer still gets all we sent. */
			vmsg_chan_close(c);
		}
	}
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	return r;
}
