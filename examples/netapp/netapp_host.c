/* netapp on Linux: the host-backend driver of an appliance.
 *
 * usage: APPLIANCE dir=DIR [KEY=VALUE...]
 * Serves the appliance's ports as host-backend channels at DIR/port0,
 * DIR/port1, ... (a TAP bridge or another appliance connects to each), one
 * client per port at a time: when a port's client leaves or dies, its
 * channel is reopened for the next. The other KEY=VALUE arguments are the
 * appliance's configuration, as a unikernel's command line would be.
 * Counters go to stderr on SIGUSR1 and at exit (SIGTERM, SIGINT).
 *
 * On Xen (direct channels, services through vmsgd) the same appliance
 * source builds over the unikernel SDK instead (netapp_sdk.c): a PVH
 * unikernel and a Linux program, NAME-unikernel and NAME-appliance.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/host.h>
#include <vmsg/version.h>

#include "netapp_app.h"

static int sig_fd[2] = {-1, -1};

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;
	(void)!write(sig_fd[1], &b, 1);
	errno = e;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void print_line(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static struct netapp app;
static vmsg_chan *chans[NETAPP_MAX_PORTS];


/* Port i's channel has ended: its path waits for the next client.
 * Returns 0 or -errno. */
static int port_ended(unsigned i)
{
	int e = vmsg_chan_reopen(chans[i]);
	if (e < 0)
		return e;
	netapp_attach(&app, i, chans[i]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	char *rest[64];
	int nrest = 0, r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s dir=DIR [KEY=VALUE...]\n%s"
			       "SIGUSR1 prints the counters; SIGTERM or SIGINT "
			       "prints them and ends it:\nthe ports' channels "
			       "closed, their sockets in DIR removed, status 0\n",
			       netapp_app.name, netapp_app.usage);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("%s %s\n", netapp_app.name, vmsg_version());
			return 0;
		}
		if (!strncmp(argv[i], "dir=", 4))
			dir = argv[i] + 4;
		else if (!strncmp(argv[i], "service=", 8)) {
			fprintf(stderr, "%s: service=: this is the host-backend "
					"build; %s-appliance (or the unikernel) "
					"offers services through vmsgd\n",
				netapp_app.name, netapp_app.name);
			return 2;
		} else if (nrest < 64)
			rest[nrest++] = argv[i];
		else {
			fprintf(stderr, "%s: too many arguments\n",
				netapp_app.name);
			return 2;
		}
	}
	if (!dir || !*dir) {
		fprintf(stderr, "%s: give dir=DIR (where the ports are served)"
				"\nusage: %s dir=DIR [KEY=VALUE...]\n",
			netapp_app.name, netapp_app.name);
		return 2;
	}
	char err[256] = "";
	if (netapp_app.configure(&app, nrest, rest, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\nTry '%s --help'.\n", netapp_app.name,
			err, netapp_app.name);
		return 2;
	}
	app.print = print_line;
	if (pipe2(sig_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("pipe");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned i = 0; i < app.nports; i++) {
		char path[256];
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		o.max_msg = VMSG_NET_MAX_MSG;
		o.rx_ring_size = o.tx_ring_size = 256u * 1024u;
		snprintf(path, sizeof path, "%s/port%u", dir, i);
		if ((r = vmsg_host_serve(&chans[i], path, &o)) < 0) {
			/* A host path: the error is the filesystem's. */
			fprintf(stderr, "%s: serving port %u at %s: %s\n",
				app.name, i, path, strerror(-r));
			return 1;
		}
		netapp_attach(&app, i, chans[i]);
	}
	fprintf(stderr, "%s: %u ports at %s/port0..%u\n", app.name,
			app.nports, dir, app.nports - 1);

	for (;;) {
		struct pollfd p[NETAPP_MAX_PORTS + 2];
		p[0] = (struct pollfd){.fd = sig_fd[0], .events = POLLIN};
		for (unsigned i = 0; i < app.nports; i++)
			p[i + 1] = (struct pollfd){
				.fd = chans[i] ? vmsg_chan_fd(chans[i]) : -1,
				.events = POLLIN};
		nfds_t np = app.nports + 1;
		/* A second's timeout drives the appliance's ageing. */
		if (poll(p, np, 1000) < 0 && errno != EINTR) {
			perror("poll");
			return 1;
		}
		if (p[0].revents & POLLIN) {
			unsigned char s;
			bool stop = false;
			while (read(sig_fd[0], &s, 1) == 1) {
				if (s == SIGUSR1)
					netapp_stats(&app);
				else
					stop = true;
			}
			if (stop)
				break;
		}
		app.now_ms = now_ms();
		bool more = true;
		for (unsigned i = 0; i < app.nports; i++)
			if (p[i + 1].revents)
				vmsg_chan_ack(chans[i]);
		/* Round-robin over the ports, a batch each, until none has
		 * more: no port starves the others. */
		for (unsigned round = 0; more && round < 1024; round++) {
			more = false;
			for (unsigned i = 0; i < app.nports; i++) {
				if (!chans[i] || (round == 0 && !p[i + 1].revents))
					continue;
				r = netapp_poll(&app, i);
				if (r == 1)
					more = true;
				else if (r < 0) {
					int e = port_ended(i);
					if (e < 0) {
						fprintf(stderr,
							"%s: reopening port "
							"%u: %s\n",
							app.name, i,
							vmsg_strerror(e));
						return 1;
					}
				}
			}
			netapp_flush(&app);
		}
	}
	netapp_stats(&app);
	for (unsigned i = 0; i < app.nports; i++)
		vmsg_chan_close(chans[i]);
	return 0;
}
