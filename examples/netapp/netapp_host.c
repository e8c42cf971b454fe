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
 * usage: APPLIANCE service=NAME [KEY=VALUE...]   (Xen builds)
 * Offers service NAME through vmsgd instead: every channel a consumer
 * opens (a vmsg-tap --service NAME in another domain, say) becomes a port
 * while it lasts, up to the appliance's ports; ports come and go as
 * consumers open and close.
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

#ifdef NETAPP_SERVICE
#include <vmsg/service.h>
#endif

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

#ifdef NETAPP_SERVICE
static vmsg_ctl *ctl;

/* Take every channel vmsgd's consumers have opened: each gets a free
 * port, or is closed when there is none. */
static void accept_ports(void)
{
	struct vmsg_service_peer peer;
	vmsg_chan *c;

	while (vmsg_service_accept(ctl, &c, &peer, 0) == 0) {
		unsigned i = 0;
		while (i < app.nports && chans[i])
			i++;
		if (i == app.nports) {
			fprintf(stderr, "%s: no free port for domain %u\n",
				app.name, peer.domid);
			vmsg_service_close(ctl, c);
			continue;
		}
		chans[i] = c;
		netapp_attach(&app, i, c);
		fprintf(stderr, "%s: port %u: domain %u\n", app.name, i,
			peer.domid);
	}
}
#endif

static void port_ended_close(unsigned i)
{
#ifdef NETAPP_SERVICE
	if (ctl) {
		vmsg_service_close(ctl, chans[i]);
		return;
	}
#endif
	vmsg_chan_close(chans[i]);
}

/* Port i's channel has ended: a served path waits for its next client; a
 * channel from vmsgd is closed and the port freed. Returns 0 or -errno. */
static int port_ended(unsigned i)
{
#ifdef NETAPP_SERVICE
	if (ctl) {
		vmsg_service_close(ctl, chans[i]);
		chans[i] = NULL;
		netapp_detach(&app, i);
		return 0;
	}
#endif
	int e = vmsg_chan_reopen(chans[i]);
	if (e < 0)
		return e;
	netapp_attach(&app, i, chans[i]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *service = NULL;
	char *rest[64];
	int nrest = 0, r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s dir=DIR [KEY=VALUE...]\n%s",
			       netapp_app.name, netapp_app.usage);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("%s %s\n", netapp_app.name, vmsg_version());
			return 0;
		}
		if (!strncmp(argv[i], "dir=", 4))
			dir = argv[i] + 4;
		else if (!strncmp(argv[i], "service=", 8))
			service = argv[i] + 8;
		else if (nrest < 64)
			rest[nrest++] = argv[i];
	}
	if ((!dir || !*dir) == (!service || !*service)) {
		fprintf(stderr, "%s: give dir=DIR (where the ports are served)"
				" or service=NAME (offered through vmsgd)"
				"\nusage: %s dir=DIR [KEY=VALUE...]\n",
			netapp_app.name, netapp_app.name);
		return 2;
	}
#ifndef NETAPP_SERVICE
	if (service) {
		fprintf(stderr, "%s: service=: this build has no Xen backend "
				"(services through vmsgd need it)\n",
			netapp_app.name);
		return 2;
	}
#endif
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

#ifdef NETAPP_SERVICE
	if (service) {
		if ((r = vmsg_ctl_open(&ctl, 10000)) < 0) {
			fprintf(stderr, "%s: vmsgd: %s\n", app.name,
				vmsg_ctl_strerror(r));
			return 1;
		}
		if ((r = vmsg_service_offer(ctl, service, 10000)) < 0) {
			fprintf(stderr, "%s: offering %s through vmsgd: %s%s%s\n",
				app.name, service, vmsg_strerror(r),
				*vmsg_ctl_error(ctl) ? ": " : "",
				vmsg_ctl_error(ctl));
			return 1;
		}
		fprintf(stderr, "%s: offering %s, up to %u ports\n", app.name,
			service, app.nports);
	}
#endif
	for (unsigned i = 0; !service && i < app.nports; i++) {
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
	if (!service)
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
#ifdef NETAPP_SERVICE
		if (ctl)
			p[np++] = (struct pollfd){.fd = vmsg_ctl_fd(ctl),
						  .events = POLLIN};
#endif
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
#ifdef NETAPP_SERVICE
		if (ctl)
			accept_ports();
#endif
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
		if (chans[i])
			port_ended_close(i);
#ifdef NETAPP_SERVICE
	vmsg_ctl_close(ctl);
#endif
	return 0;
}
