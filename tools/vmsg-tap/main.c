/* vmsg-tap: a TAP device bridged to an Ethernet link over a channel.
 *
 * One poll loop over three fds: the TAP device, the channel's event, and a
 * signal pipe. Both directions go in batches: up to --batch frames read
 * from the device, then one flush (one kick); up to --batch frames taken
 * from the link and written to the device, then the space announced once.
 * One batch each way per turn of the loop: a peer that keeps the link's
 * ring full (it fills it faster than the device takes frames, a write(2)
 * each) gets a batch a turn like the device and the signals, and cannot
 * hold the loop.
 *
 * Backpressure, bounded: when the link's ring is full, the one frame in
 * hand is kept and the device is not read again until the channel says
 * there is room; the device's own queue (txqueuelen) fills meanwhile and
 * the kernel drops there, counted in the device's tx_dropped. A frame the
 * device refuses (its write fails) is dropped and counted here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/host.h>
#include <vmsg/net.h>

#ifdef VMSG_TAP_SERVICE
#include <vmsg/service.h>
#include <vmsg/xen.h>
#endif

#include "bridge.h"
#include "tap.h"
#include "vmsg_clock.h"

#define TAP_BUF (VMSG_NET_MAX_MSG + 64u)

struct bridge {
	struct tap_opts o;
	int tapfd;
	vmsg_chan *chan;
	struct vmsg_net net;
	bool was_up;
	uint8_t buf[TAP_BUF]; /* the frame in hand from the device */
	size_t held;          /* its length, when the ring was full */
	bool rx_more;         /* the link had a whole batch: look again at
				 the next turn, without waiting */
	uint64_t next_try_ms; /* client: next connection attempt */
	int last_err;         /* client: why the last attempt failed */
#ifdef VMSG_TAP_SERVICE
	vmsg_ctl *ctl; /* --service: our control channel to vmsgd */
#endif
	/* counters of our own (the link's are in net.st) */
	uint64_t tap_rx, tap_tx, tap_tx_drop, tap_big, down_drop, connects;
};

static int sigpipe_fd[2] = {-1, -1};

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;
	(void)!write(sigpipe_fd[1], &b, 1);
	errno = e;
}

static void say(const struct bridge *b, const char *fmt, const char *a)
{
	char msg[400];

	if (b->o.quiet)
		return;
	snprintf(msg, sizeof msg, fmt, a);
	/* One write per line: bridges sharing a log do not interleave. */
	fprintf(stderr, "vmsg-tap %s: %s\n", b->o.dev, msg);
}

static void print_stats(const struct bridge *b)
{
	const struct vmsg_net_stats *s = &b->net.st;
	fprintf(stderr,
		"vmsg-tap %s: link %s; device->link %" PRIu64 " frames %" PRIu64
		" bytes, link->device %" PRIu64 " frames %" PRIu64 " bytes; "
		"dropped: device write %" PRIu64 ", link down %" PRIu64
		", too big %" PRIu64 "; ring full %" PRIu64 " times; "
		"link rx runt %" PRIu64 " big %" PRIu64 " early %" PRIu64
		" bad-hello %" PRIu64 " unknown %" PRIu64 "; ups %" PRIu64
		" downs %" PRIu64 "\n",
		b->o.dev, b->net.up ? "up" : "down", s->tx_frames, s->tx_bytes,
		b->tap_tx, s->rx_bytes, b->tap_tx_drop, b->down_drop,
		b->tap_big + s->tx_bad, s->tx_full, s->rx_runt, s->rx_big,
		s->rx_early, s->rx_bad_hello, s->rx_unknown, s->link_ups,
		s->link_downs);
}

static struct vmsg_net_config net_config(const struct bridge *b)
{
	struct vmsg_net_config cfg = {.mtu = b->o.mtu};
	memcpy(cfg.mac, b->o.mac, 6);
	return cfg;
}

/* The link came up or went down: the device's carrier and MTU follow. */
static void link_changed(struct bridge *b)
{
	char err[256];

	if (b->net.up == b->was_up)
		return;
	b->was_up = b->net.up;
	if (b->net.up) {
		char msg[64];
		const uint8_t *m = b->net.peer_mac;
		if (tap_set_mtu(b->o.dev, b->net.mtu, err, sizeof err) < 0)
			say(b, "%s", err);
		snprintf(msg, sizeof msg,
			 "mtu %u, peer %02x:%02x:%02x:%02x:%02x:%02x",
			 b->net.mtu, m[0], m[1], m[2], m[3], m[4], m[5]);
		say(b, "link up (%s)", msg);
	} else {
		say(b, "%s", "link down");
	}
	tap_carrier(b->tapfd, b->net.up);
}

/* --service: open the service through vmsgd (the control channel is
 * opened once and reconnects by itself after a vmsgd restart). */
static int open_service(struct bridge *b)
{
#ifdef VMSG_TAP_SERVICE
	int r;
	if (!b->ctl && (r = vmsg_ctl_open(&b->ctl, 1000)) < 0) {
		b->ctl = NULL;
		if (r != b->last_err) /* what to do about it, once */
			say(b, "vmsgd: %s", vmsg_ctl_strerror(r));
		b->last_err = r; /* said: try_connect() need not */
		return r;
	}
	return vmsg_service_open(b->ctl, b->o.service, &b->chan, 2000);
#else
	(void)b;
	return -ENOTSUP;
#endif
}

/* --xen DOMID --port NAME: connect to the channel domain DOMID serves us
 * at the conventional path (vmsg_xen_path). Without waiting: the loop
 * tries again after retry_ms. */
static int connect_xen(struct bridge *b, const struct vmsg_chan_opts *co)
{
#ifdef VMSG_TAP_SERVICE
	char path[160];
	uint16_t us;
	int r = vmsg_xen_own_domid(&us);
	if (r < 0)
		return r;
	r = vmsg_xen_path(path, sizeof path, (uint16_t)b->o.xen_domid, us,
			  b->o.port);
	if (r < 0)
		return r;
	return vmsg_xen_connect(&b->chan, (uint16_t)b->o.xen_domid, path, co,
				0);
#else
	(void)b;
	(void)co;
	return -ENOTSUP;
#endif
}

/* vmsgd's text for the last refusal, or "". */
static const char *ctl_text(struct bridge *b)
{
#ifdef VMSG_TAP_SERVICE
	if (b->ctl)
		return vmsg_ctl_error(b->ctl);
#endif
	(void)b;
	return "";
}

static void close_channel(struct bridge *b)
{
#ifdef VMSG_TAP_SERVICE
	if (b->ctl) {
		vmsg_service_close(b->ctl, b->chan);
		return;
	}
#endif
	vmsg_chan_close(b->chan);
}

/* Client: try to connect; the next try after retry_ms. */
static void try_connect(struct bridge *b)
{
	struct vmsg_net_config cfg = net_config(b);
	struct vmsg_chan_opts co;
	int r;

	if (vmsg__clock_ms() < b->next_try_ms)
		return;
	vmsg_chan_opts_init(&co);
	co.max_msg = VMSG_NET_MAX_MSG;
	if (b->o.service)
		r = open_service(b);
	else if (b->o.xen_domid >= 0)
		r = connect_xen(b, &co);
	else
		r = vmsg_host_connect(&b->chan, b->o.path, &co, 0);
	if (r < 0) {
		b->chan = NULL;
		b->next_try_ms = vmsg__clock_ms() + b->o.retry_ms;
		if (r != b->last_err) { /* say why once, not at every retry */
			char why[256];
			snprintf(why, sizeof why, "%s%s%s", vmsg_strerror(r),
				 ctl_text(b)[0] ? ": " : "", ctl_text(b));
			say(b, "no channel yet (retrying): %s", why);
		}
		b->last_err = r;
		return;
	}
	b->last_err = 0;
	b->connects++;
	struct vmsg_net_stats keep = b->net.st; /* counters span connections */
	vmsg_net_init(&b->net, b->chan, &cfg); /* cfg.mtu checked by opts */
	b->net.st = keep;
}

/* The channel closed or broke: the link is down. A client drops the
 * channel and connects again later; a server waits for its next client. */
static void channel_gone(struct bridge *b, int err)
{
	char why[64];
	snprintf(why, sizeof why, "%s", vmsg_strerror(err));
	link_changed(b);
	say(b, "channel: %s", why);
	b->held = 0;
	b->rx_more = false;
	if (b->o.listen) {
		int r = vmsg_chan_reopen(b->chan);
		if (r < 0) {
			fprintf(stderr, "vmsg-tap: reopening %s: %s\n",
				b->o.path, vmsg_strerror(r));
			exit(1);
		}
		vmsg_net_reset(&b->net, b->chan);
		return;
	}
	struct vmsg_net_stats keep = b->net.st;
	close_channel(b);
	b->chan = NULL;
	b->net.st = keep;
	b->net.up = false;
	b->next_try_ms = vmsg__clock_ms() + b->o.retry_ms;
}

static void to_device(void *arg, const uint8_t *frame, size_t len)
{
	struct bridge *b = arg;
	/* The frame is a view into the ring; write() copies it into the
	 * kernel, which treats it as any packet from the wire. */
	if (write(b->tapfd, frame, len) == (ssize_t)len)
		b->tap_tx++;
	else
		b->tap_tx_drop++;
}

/* Link -> device, one batch. A whole batch may mean more in the ring:
 * b->rx_more asks the loop to come back at its next turn, after the
 * device and the signals (the event was consumed: no kick comes for what
 * is already there). */
static void link_to_device(struct bridge *b)
{
	int r;

	b->rx_more = false;
	if (!b->chan)
		return;
	vmsg_chan_ack(b->chan);
	r = vmsg_net_rx(&b->net, to_device, b, b->o.batch);
	vmsg_net_flush(&b->net); /* announce the space, send the HELLO */
	if (r < 0) {
		channel_gone(b, r);
		return;
	}
	b->rx_more = r == (int)b->o.batch;
	link_changed(b);
}

/* Device -> link: the frame in hand first, then up to a batch more;
 * stops at a full ring with the frame kept. */
static void device_to_link(struct bridge *b)
{
	unsigned n = 0;
	int r;

	while (n < b->o.batch) {
		if (!b->held) {
			ssize_t got = read(b->tapfd, b->buf, sizeof b->buf);
			if (got < 0)
				break; /* EAGAIN: the device is drained */
			b->tap_rx++;
			if ((size_t)got >= sizeof b->buf) {
				b->tap_big++;
				continue;
			}
			if (!b->net.up) {
				b->down_drop++;
				continue;
			}
			b->held = (size_t)got;
		}
		r = vmsg_net_tx(&b->net, b->buf, b->held);
		if (r == -EAGAIN)
			break; /* kept: the channel's event says when */
		b->held = 0;
		if (r == -EPIPE || r == -EPROTO) {
			channel_gone(b, r);
			return;
		}
		n++; /* sent, or a frame the link refuses (counted) */
	}
	if (b->chan && vmsg_net_flush(&b->net) < 0)
		link_to_device(b); /* it will see the channel's end */
}

static int setup(struct bridge *b)
{
	char err[256];
	int r;

	if (b->o.netns && tap_enter_netns(b->o.netns, err, sizeof err) < 0)
		goto fail;
	if ((b->tapfd = tap_open(b->o.dev, err, sizeof err)) < 0)
		goto fail;
	if (b->o.have_mac &&
	    tap_set_mac(b->o.dev, b->o.mac, err, sizeof err) < 0)
		goto fail;
	if (tap_get_mac(b->o.dev, b->o.mac, err, sizeof err) < 0 ||
	    tap_set_mtu(b->o.dev, b->o.mtu, err, sizeof err) < 0)
		goto fail;
	tap_carrier(b->tapfd, false);
	if (tap_up(b->o.dev, err, sizeof err) < 0)
		goto fail;
	if (b->o.listen) {
		struct vmsg_chan_opts co;
		struct vmsg_net_config cfg = net_config(b);
		vmsg_chan_opts_init(&co);
		co.max_msg = VMSG_NET_MAX_MSG;
		co.rx_ring_size = co.tx_ring_size = b->o.ring_size;
		if ((r = vmsg_host_serve(&b->chan, b->o.path, &co)) < 0) {
			snprintf(err, sizeof err, "serving %s: %s", b->o.path,
				 strerror(-r)); /* a host path: the filesystem's */
			goto fail;
		}
		vmsg_net_init(&b->net, b->chan, &cfg);
	}
	return 0;
fail:
	fprintf(stderr, "vmsg-tap: %s\n", err);
	return -1;
}

int main(int argc, char **argv)
{
	static struct bridge b;
	int r = tap_parse_opts(&b.o, argc, argv);

	if (r != 0)
		return r > 0 ? 0 : 2;
	if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("vmsg-tap: pipe");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (setup(&b) < 0)
		return 1;
#ifndef VMSG_TAP_SERVICE
	if (b.o.service || b.o.xen_domid >= 0) {
		fprintf(stderr, "vmsg-tap: --service, --xen: this build has no "
				"Xen backend\n");
		return 1;
	}
#endif
	if (b.o.xen_domid >= 0) {
		char what[96];
		snprintf(what, sizeof what, "domain %d's port %s", b.o.xen_domid,
			 b.o.port);
		say(&b, "bridging %s", what);
	} else {
		say(&b, "bridging %s", b.o.service ? b.o.service : b.o.path);
	}

	for (;;) {
		struct pollfd p[3];
		int np = 0, timeout = -1, tap_i = -1, chan_i = -1;

		if (!b.chan && !b.o.listen) {
			try_connect(&b);
			if (b.chan)
				link_to_device(&b); /* HELLO out at once */
		}
		p[np++] = (struct pollfd){.fd = sigpipe_fd[0], .events = POLLIN};
		if (b.chan) {
			chan_i = np;
			p[np++] = (struct pollfd){.fd = vmsg_chan_fd(b.chan),
						  .events = POLLIN};
		} else {
			timeout = (int)b.o.retry_ms;
		}
		if (b.rx_more)
			timeout = 0; /* the rest of the link's ring */
		/* Read the device only with room to send: a held frame
		 * means the ring was full (backpressure). While the link is
		 * down the carrier is off and the stack sends little; what it
		 * does send is read and dropped, counted. */
		if (!b.held) {
			tap_i = np;
			p[np++] = (struct pollfd){.fd = b.tapfd, .events = POLLIN};
		}
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			perror("vmsg-tap: poll");
			return 1;
		}
		if (p[0].revents & POLLIN) {
			unsigned char sig;
			bool stop = false;
			while (read(sigpipe_fd[0], &sig, 1) == 1) {
				if (sig == SIGUSR1)
					print_stats(&b);
				else
					stop = true;
			}
			if (stop)
				break;
		}
		if (chan_i >= 0 && (p[chan_i].revents || b.rx_more))
			link_to_device(&b);
		if (b.chan && (b.held || (tap_i >= 0 && p[tap_i].revents)))
			device_to_link(&b);
		else if (!b.chan && tap_i >= 0 && p[tap_i].revents) {
			while (read(b.tapfd, b.buf, sizeof b.buf) >= 0)
				b.down_drop++;
		}
	}
	print_stats(&b);
	if (b.chan)
		close_channel(&b);
#ifdef VMSG_TAP_SERVICE
	vmsg_ctl_close(b.ctl);
#endif
	close(b.tapfd);
	return 0;
}
