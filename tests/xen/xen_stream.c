/* xen_stream.c - one end of a checked transfer between two domains on real
 * Xen, the program the tests/xen scenarios run in dom0 and in the guests.
 *
 * Built twice from this file: `vmsg-xen-stream` over libvmsg's Xen backend
 * (vmsg/xen.h, through the shared libvmsg.so), and, with XS_VCHAN defined,
 * `vchan-xen-stream` over Debian's libxenvchan. Both speak the same
 * exchange, so any pair of them (vmsg-vmsg, vmsg-vchan, vchan-vmsg,
 * vchan-vchan) can be put on the two ends of a channel:
 *
 *   1. the server publishes at PATH for domain PEER and waits for the
 *      client; the client connects to domain PEER's channel at PATH;
 *   2. --rtt N: N round trips of 64 bytes (server sends, client echoes);
 *   3. --down BYTES: server -> client stream;
 *   4. --up BYTES: client -> server stream; "inf" sends until the channel
 *      breaks, and the server then reports when it saw the close.
 * A vmsg client waits up to --wait SECS (default 120) for the server's
 * keys; a libxenvchan client does not wait.
 *
 * Named services (vmsg only): a PATH of the form svc/NAME (no colon: the
 * scenarios hand guests their arguments colon-separated) goes through
 * vmsgd instead of a xenstore path of our choosing. The server offers
 * service NAME (vmsg/service.h) and takes the first channel vmsgd brokers,
 * which must come from domain PEER (0: any); the client opens NAME
 * (retrying while it is not offered yet, up to --wait). --hold SECS makes
 * the server keep the channel open that long after the streams, before the
 * closing handshake, so that the scenario can look at it with vmsgctl.
 *
 * --fan N (svc/NAME only), before the exchange, on the same control
 * channel: the client opens N channels of service NAME.fan and holds them
 * all at once, sends one typed message on each and checks its echo,
 * prints "XS fan open n=N", waits --fan-hold SECS (default 5), closes
 * them all, prints "XS fan closed n=N" and waits as long again (the
 * scenario counts vmsgd's channels in both pauses). The server offers
 * NAME.fan too, accepts N channels of it, echoes on each until its
 * consumer closes it and prints "XS fan served n=N" once all N are gone;
 * then the exchange on NAME goes on as without --fan.
 *
 * --setup N (paths of our own, both libraries), before everything else:
 * N channels at PATH-s0, PATH-s1, ... one after another; the client's
 * clock runs from its connect to the server's first byte on each (the
 * server publishes the next one off the clock, after the client has
 * answered), and it prints the median and the least of all but the first.
 *
 * Each stream is generated from a seeded PRNG; the receiver checks every
 * byte against the same generator (the first wrong offset fails the run)
 * and both ends print an FNV-1a checksum of what they sent or received, for
 * the scenario to compare. Raw byte-stream mode is the default (what a
 * libxenvchan peer speaks); --msg (vmsg only, both ends) carries the
 * streams as typed messages of --chunk bytes instead.
 *
 * Output (stdout, one line each, parsed by the scenario scripts):
 *   XS setup lib=L n=N p50_us=US min_us=US   (--setup, client)
 *   XS connected role=R lib=L after=SECONDS
 *   XS rtt lib=L n=N us=MICROSECONDS
 *   XS sent|recv dir=down|up bytes=N fnv=HEX secs=S MiBps=X
 *   XS progress dir=up bytes=N           (once, after the first MiB)
 *   XS closed at=REALTIME bytes=N        (the peer went away mid-stream)
 *   XS service name=S [channel=ID peer=DOMID]   (svc/ paths; server:
 *                                        the consumer vmsgd named)
 *   XS holding secs=N                    (--hold, before it sleeps)
 * Exit 0 when every phase completed and checked out; 1 otherwise, with the
 * reason on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef XS_VCHAN
#include <libxenvchan.h>
#define XS_LIB "vchan"
#else
#include <vmsg/chan.h>
#include <vmsg/service.h>
#include <vmsg/xen.h>
#define XS_LIB "vmsg"
#define XS_SVC_PREFIX "svc/"
#endif

#define XS_RTT_LEN 64
#define XS_MAX_CHUNK (1u << 20)
#define XS_FNV_INIT 0xcbf29ce484222325ULL
#define XS_INF UINT64_MAX

struct xs_opts {
	bool server;
	bool msg;
	unsigned peer;
	const char *path;
	uint64_t rtt, down, up;
	size_t chunk;
	uint64_t seed;
	int wait_ms; /* client: how long to wait for the server's keys */
	unsigned hold; /* server: seconds to keep the channel before closing */
	unsigned fan, fan_hold; /* --fan N, --fan-hold SECS */
	unsigned setup; /* --setup N */
#ifndef XS_VCHAN
	vmsg_ctl *ctl; /* svc/ paths: our control channel to vmsgd */
#endif
};

static double now_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double now_real(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the stream generator and checksum -------------------------------- */

struct xs_gen {
	uint64_t state, word;
	unsigned left; /* bytes of `word` not yet handed out */
};

static void gen_init(struct xs_gen *g, uint64_t seed, unsigned dir)
{
	g->state = (seed ^ (0x9e3779b97f4a7c15ULL * (dir + 1))) | 1;
	g->left = 0;
}

static uint8_t gen_byte(struct xs_gen *g)
{
	if (g->left == 0) { /* xorshift64* */
		uint64_t x = g->state;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		g->state = x;
		g->word = x * 0x2545F4914F6CDD1DULL;
		g->left = 8;
	}
	uint8_t b = (uint8_t)g->word;
	g->word >>= 8;
	g->left--;
	return b;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- the two libraries behind four calls ------------------------------ */

#ifdef XS_VCHAN
typedef struct libxenvchan xs_chan;

/* Server: publish at path (64 KiB each way, as vmsg's default rings). */
static int xs_publish(xs_chan **out, const struct xs_opts *o, const char *path)
{
	struct libxenvchan *c = libxenvchan_server_init(NULL, (int)o->peer,
							path, 65536, 65536);
	if (!c)
		return errno ? -errno : -EIO;
	c->blocking = 1;
	*out = c;
	return 0;
}

/* Server: wait for the client. */
static int xs_accept(xs_chan *c)
{
	while (libxenvchan_is_open(c) == 2)
		if (libxenvchan_wait(c) < 0)
			return -EIO;
	return 0;
}

/* Client: connect at path (no waiting for the keys: -ENOENT and such). */
static int xs_connect(xs_chan **out, const struct xs_opts *o, const char *path)
{
	struct libxenvchan *c = libxenvchan_client_init(NULL, (int)o->peer,
							path);
	if (!c)
		return errno ? -errno : -EIO;
	c->blocking = 1;
	*out = c;
	return 0;
}

static int xs_open(xs_chan **out, struct xs_opts *o)
{
	if (!o->server)
		return xs_connect(out, o, o->path);
	int r = xs_publish(out, o, o->path);
	return r < 0 ? r : xs_accept(*out);
}

/* Write all of buf. */
static int xs_write(xs_chan *c, const void *buf, size_t len, bool msg)
{
	(void)msg;
	return libxenvchan_write(c, buf, len) == (int)len ? 0 : -EPIPE;
}

/* Read 1..cap bytes; -EPIPE once the peer is gone. */
static int xs_read(xs_chan *c, void *buf, size_t cap, bool msg)
{
	(void)msg;
	int r = libxenvchan_read(c, buf, cap);
	return r > 0 ? r : -EPIPE;
}

static void xs_close(xs_chan *c, struct xs_opts *o)
{
	(void)o;
	libxenvchan_close(c);
}

static void xs_drop(xs_chan *c)
{
	libxenvchan_close(c);
}

static const char *xs_err(int e)
{
	return strerror(-e);
}
#else
typedef vmsg_chan xs_chan;

#define XS_FAN_MAX 1000u

/* Client: open `o->fan` channels of `fan` (retrying while it is not
 * offered yet), all held at once, one echoed message on each; hold, close
 * them all, hold. */
static int fan_client(struct xs_opts *o, const char *fan)
{
	static vmsg_chan *ch[XS_FAN_MAX];
	double until = now_mono() + o->wait_ms / 1000.0, t0 = now_mono();
	int r = 0;
	unsigned n = 0;
	for (; n < o->fan; n++) {
		while ((r = vmsg_service_open(o->ctl, fan, &ch[n],
					      o->wait_ms)) == -ENOENT &&
		       n == 0 && now_mono() < until)
			usleep(200 * 1000);
		if (r < 0) {
			fprintf(stderr, "open of %s channel %u: %s (%s)\n", fan,
				n + 1, strerror(-r), vmsg_ctl_error(o->ctl));
			break;
		}
	}
	double opened = now_mono() - t0;
	for (unsigned i = 0; r == 0 && i < n; i++) {
		uint32_t v = 0xfa000000u + i, back = 0;
		uint16_t t = 0;
		r = vmsg_chan_send(ch[i], 2, &v, sizeof v, 0, o->wait_ms);
		if (r >= 0)
			r = vmsg_chan_recv(ch[i], &t, &back, sizeof back,
					   o->wait_ms);
		if (r >= 0 && (r != (int)sizeof v || t != 2 || back != v)) {
			fprintf(stderr, "%s channel %u: a wrong echo\n", fan,
				i + 1);
			r = -EBADMSG;
		}
		if (r < 0 && r != -EBADMSG)
			fprintf(stderr, "%s channel %u: %s\n", fan, i + 1,
				strerror(-r));
		r = r < 0 ? r : 0;
	}
	if (r == 0) {
		printf("XS fan open n=%u secs=%.3f\n", n, opened);
		sleep(o->fan_hold);
	}
	for (unsigned i = 0; i < n; i++)
		vmsg_service_close(o->ctl, ch[i]);
	if (r == 0) {
		printf("XS fan closed n=%u\n", n);
		sleep(o->fan_hold);
	}
	return r;
}

/* Server: accept `o->fan` channels of `fan`, echo on each until its
 * consumer closes it; returns once all are accepted and closed. */
static int fan_server(struct xs_opts *o)
{
	static vmsg_chan *ch[XS_FAN_MAX];
	static struct pollfd p[XS_FAN_MAX + 1];
	unsigned n = 0, taken = 0;
	uint8_t buf[64];
	while (taken < o->fan || n > 0) {
		p[0] = (struct pollfd){.fd = vmsg_ctl_fd(o->ctl),
				       .events = POLLIN};
		for (unsigned i = 0; i < n; i++)
			p[1 + i] = (struct pollfd){.fd = vmsg_chan_fd(ch[i]),
						   .events = POLLIN};
		poll(p, 1 + n, 200);
		vmsg_chan *c;
		int r = -EAGAIN;
		while (taken < o->fan &&
		       (r = vmsg_service_accept(o->ctl, &c, NULL, 0)) == 0) {
			ch[n++] = c;
			taken++;
		}
		if (taken < o->fan && r != -EAGAIN) {
			fprintf(stderr, "fan accept: %s\n", strerror(-r));
			return r;
		}
		for (unsigned i = 0; i < n; i++) {
			uint16_t t;
			(void)vmsg_chan_ack(ch[i]);
			while ((r = vmsg_chan_recv(ch[i], &t, buf, sizeof buf,
						   0)) >= 0)
				if ((r = vmsg_chan_send(ch[i], t, buf, (size_t)r,
							0, o->wait_ms)) < 0)
					break;
			if (r == -EPIPE) {
				vmsg_service_close(o->ctl, ch[i]);
				ch[i--] = ch[--n];
			} else if (r != -EAGAIN) {
				fprintf(stderr, "fan echo: %s\n", strerror(-r));
				return r;
			}
		}
	}
	printf("XS fan served n=%u\n", taken);
	return 0;
}

/* svc/NAME: offer NAME and accept the first channel (server), or open it
 * (client), through vmsgd. The ring sizes and message limit are the
 * policy's. --fan first: see the top. */
static int svc_open(xs_chan **out, struct xs_opts *o, const char *name)
{
	int r = vmsg_ctl_open(&o->ctl, o->wait_ms);
	if (r < 0)
		return r;
	struct vmsg_service_peer who = {0};
	char fan[VMSG_SERVICE_NAME_MAX + 1];
	if (o->fan && (size_t)snprintf(fan, sizeof fan, "%s.fan", name) >=
			      sizeof fan)
		r = -ENAMETOOLONG;
	if (r == 0 && o->fan && o->server) {
		r = vmsg_service_offer(o->ctl, fan, o->wait_ms);
		if (r == 0)
			r = vmsg_service_offer(o->ctl, name, o->wait_ms);
		if (r == 0)
			r = fan_server(o);
	} else if (r == 0 && o->fan) {
		r = fan_client(o, fan);
	} else if (r == 0 && o->server) {
		r = vmsg_service_offer(o->ctl, name, o->wait_ms);
	}
	if (o->server) {
		if (r == 0)
			r = vmsg_service_accept(o->ctl, out, &who, -1);
		if (r == 0 && o->peer != 0 && who.domid != o->peer) {
			fprintf(stderr, "channel %u is from domain %u, not %u\n",
				who.channel_id, who.domid, o->peer);
			vmsg_service_close(o->ctl, *out);
			r = -EACCES;
		}
		if (r == 0) {
			r = vmsg_chan_accept(*out, -1);
			if (r < 0)
				vmsg_service_close(o->ctl, *out);
		}
	} else if (r == 0) {
		/* The provider may not have offered it yet. */
		double until = now_mono() + o->wait_ms / 1000.0;
		while ((r = vmsg_service_open(o->ctl, name, out, o->wait_ms)) ==
			       -ENOENT &&
		       now_mono() < until)
			usleep(200 * 1000);
	}
	if (r < 0) {
		fprintf(stderr, "vmsgd: %s\n", vmsg_ctl_error(o->ctl));
		vmsg_ctl_close(o->ctl);
		o->ctl = NULL;
		return r;
	}
	if (o->server) /* the consumer and channel, as vmsgd named them */
		printf("XS service name=%s channel=%u peer=%u\n", name,
		       who.channel_id, who.domid);
	else
		printf("XS service name=%s\n", name);
	return 0;
}

static void chan_opts(struct vmsg_chan_opts *co, const struct xs_opts *o)
{
	vmsg_chan_opts_init(co);
	if (o->msg && co->max_msg < o->chunk)
		co->max_msg = o->chunk;
}

static int xs_publish(xs_chan **out, const struct xs_opts *o, const char *path)
{
	struct vmsg_chan_opts co;
	chan_opts(&co, o);
	return vmsg_xen_serve(out, (uint16_t)o->peer, path, &co);
}

static int xs_accept(xs_chan *c)
{
	return vmsg_chan_accept(c, -1);
}

static int xs_connect(xs_chan **out, const struct xs_opts *o, const char *path)
{
	struct vmsg_chan_opts co;
	chan_opts(&co, o);
	return vmsg_xen_connect(out, (uint16_t)o->peer, path, &co, o->wait_ms);
}

static int xs_open(xs_chan **out, struct xs_opts *o)
{
	if (strncmp(o->path, XS_SVC_PREFIX, strlen(XS_SVC_PREFIX)) == 0)
		return svc_open(out, o, o->path + strlen(XS_SVC_PREFIX));
	if (!o->server)
		return xs_connect(out, o, o->path);
	int r = xs_publish(out, o, o->path);
	if (r < 0)
		return r;
	r = xs_accept(*out);
	if (r < 0)
		vmsg_chan_close(*out);
	return r;
}

static int xs_write(xs_chan *c, const void *buf, size_t len, bool msg)
{
	if (msg) {
		int r = vmsg_chan_send(c, 1, buf, len, 0, -1);
		return r < 0 ? r : 0;
	}
	const uint8_t *p = buf;
	while (len > 0) {
		int r = vmsg_chan_write(c, p, len, -1);
		if (r < 0)
			return r;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int xs_read(xs_chan *c, void *buf, size_t cap, bool msg)
{
	if (msg) {
		uint16_t type = 0;
		int r = vmsg_chan_recv(c, &type, buf, cap, -1);
		if (r >= 0 && type != 1)
			return -EBADMSG;
		return r == 0 ? -ENODATA : r;
	}
	return vmsg_chan_read(c, buf, cap, -1);
}

static void xs_close(xs_chan *c, struct xs_opts *o)
{
	if (o->ctl) { /* tell vmsgd, then leave it */
		vmsg_service_close(o->ctl, c);
		vmsg_ctl_close(o->ctl);
		o->ctl = NULL;
		return;
	}
	vmsg_chan_close(c);
}

static void xs_drop(xs_chan *c)
{
	vmsg_chan_close(c);
}

static const char *xs_err(int e)
{
	return vmsg_strerror(e);
}
#endif

/* ---- the phases -------------------------------------------------------- */

/* Read exactly len bytes (raw mode may return them in pieces). */
static int read_full(xs_chan *c, uint8_t *buf, size_t len, bool msg)
{
	size_t got = 0;
	while (got < len) {
		int r = xs_read(c, buf + got, len - got, msg);
		if (r < 0)
			return r;
		got += (size_t)r;
	}
	return 0;
}

static int phase_rtt(xs_chan *c, const struct xs_opts *o)
{
	uint8_t buf[XS_RTT_LEN];
	double t0 = now_mono();
	for (uint64_t i = 0; i < o->rtt; i++) {
		int r;
		if (o->server) {
			memset(buf, (int)(i & 0xff), sizeof buf);
			r = xs_write(c, buf, sizeof buf, o->msg);
			if (r == 0)
				r = read_full(c, buf, sizeof buf, o->msg);
			if (r == 0 && buf[0] != (uint8_t)(i + 1))
				r = -EBADMSG;
		} else {
			r = read_full(c, buf, sizeof buf, o->msg);
			buf[0]++;
			if (r == 0)
				r = xs_write(c, buf, sizeof buf, o->msg);
		}
		if (r < 0) {
			fprintf(stderr, "rtt %" PRIu64 ": %s\n", i, xs_err(r));
			return r;
		}
	}
	if (o->rtt > 0)
		printf("XS rtt lib=%s n=%" PRIu64 " us=%.1f\n", XS_LIB, o->rtt,
		       (now_mono() - t0) * 1e6 / (double)o->rtt);
	return 0;
}

/* --setup N, before the exchange: N channels one after another at PATH-sI.
 * The client's clock runs from its connect to the server's first byte, as
 * vmsg-bench setup's; then it answers a byte, the server publishes channel
 * I+1 (off the clock, as vmsg-bench's server publishes before the clock
 * starts) and says so with a last byte, and the client closes. The first
 * is left out (the client may have started before the server). */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Client: connect at path, retrying up to --wait while the server is not
 * there yet (libxenvchan's client does not wait; vmsg's does, itself). */
static int connect_retry(xs_chan **out, const struct xs_opts *o,
			 const char *path)
{
	double t0 = now_mono();
	int r;
	while ((r = xs_connect(out, o, path)) < 0 &&
	       now_mono() - t0 < o->wait_ms / 1e3)
		usleep(10000);
	return r;
}

static int phase_setup(const struct xs_opts *o)
{
	char path[2][256];
	double *us = calloc(o->setup, sizeof *us);
	xs_chan *c = NULL, *next = NULL;
	int r = us ? 0 : -ENOMEM;
	for (unsigned i = 0; r == 0 && i < o->setup; i++) {
		snprintf(path[i & 1], sizeof path[0], "%s-s%u", o->path, i);
		snprintf(path[!(i & 1)], sizeof path[0], "%s-s%u", o->path,
			 i + 1);
		uint8_t b = 0x5a;
		if (o->server) {
			if (i == 0)
				r = xs_publish(&next, o, path[0]);
			c = next;
			next = NULL;
			if (r == 0)
				r = xs_accept(c);
			if (r == 0)
				r = xs_write(c, &b, 1, false);
			if (r == 0)
				r = read_full(c, &b, 1, false);
			if (r == 0 && i + 1 < o->setup)
				r = xs_publish(&next, o, path[!(i & 1)]);
			if (r == 0)
				r = xs_write(c, &b, 1, false);
			/* Until the client has closed. */
			while (r == 0 && xs_read(c, &b, 1, false) > 0)
				;
		} else {
			double t0 = now_mono();
			r = i == 0 ? connect_retry(&c, o, path[0])
				   : xs_connect(&c, o, path[i & 1]);
			if (r == 0)
				r = read_full(c, &b, 1, false);
			us[i] = (now_mono() - t0) * 1e6;
			if (r == 0)
				r = xs_write(c, &b, 1, false);
			if (r == 0) /* the next one is up */
				r = read_full(c, &b, 1, false);
		}
		if (c)
			xs_drop(c);
		c = NULL;
		if (r < 0)
			fprintf(stderr, "setup %u: %s\n", i, xs_err(r));
	}
	if (next)
		xs_drop(next);
	if (r == 0 && !o->server && o->setup > 1) {
		qsort(us + 1, o->setup - 1, sizeof *us, cmp_double);
		printf("XS setup lib=%s n=%u p50_us=%.1f min_us=%.1f\n", XS_LIB,
		       o->setup - 1, us[1 + (o->setup - 1) / 2], us[1]);
	}
	free(us);
	return r;
}

static void report(const char *what, const char *dir, uint64_t bytes,
		   uint64_t h, double secs)
{
	printf("XS %s lib=%s dir=%s bytes=%" PRIu64 " fnv=%016" PRIx64
	       " secs=%.3f MiBps=%.1f\n",
	       what, XS_LIB, dir, bytes, h, secs,
	       secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
}

static int phase_send(xs_chan *c, const struct xs_opts *o, unsigned dir,
		      uint64_t total, uint8_t *buf)
{
	const char *name = dir == 0 ? "down" : "up";
	struct xs_gen g;
	uint64_t h = XS_FNV_INIT, sent = 0;
	double t0 = now_mono();
	gen_init(&g, o->seed, dir);
	while (sent < total) {
		size_t n = o->chunk;
		if (total != XS_INF && total - sent < n)
			n = (size_t)(total - sent);
		for (size_t i = 0; i < n; i++)
			buf[i] = gen_byte(&g);
		int r = xs_write(c, buf, n, o->msg);
		if (r < 0) {
			fprintf(stderr, "send %s at %" PRIu64 ": %s\n", name,
				sent, xs_err(r));
			return r;
		}
		h = fnv(h, buf, n);
		sent += n;
	}
	report("sent", name, sent, h, now_mono() - t0);
	return 0;
}

/* Say where a stream went wrong and how: the first bad byte, how many of
 * the rest of this read are bad too (g continues the expected stream after
 * `want`), and whether they repeat the bytes one page or ring earlier, the
 * mark of a stale or misordered read. */
static void mismatch(const char *name, uint64_t got, const uint8_t *buf,
		     int i, int r, uint8_t want, struct xs_gen g)
{
	int bad = 1, last_bad = i;
	for (int j = i + 1; j < r; j++)
		if (buf[j] != gen_byte(&g)) {
			bad++;
			last_bad = j;
		}
	fprintf(stderr,
		"recv %s: wrong byte at offset %" PRIu64 " (0x%" PRIx64
		"): got 0x%02x want 0x%02x; read of %d bytes, index %d; %d bad "
		"bytes in it, the last at index %d\n",
		name, got + (uint64_t)i, got + (uint64_t)i, buf[i], want, r, i,
		bad, last_bad);
	for (int lag = 1024; lag <= 65536 && lag <= i; lag *= 2) {
		int same = 0;
		while (i + same < r && buf[i + same] == buf[i + same - lag])
			same++;
		if (same >= 16)
			fprintf(stderr,
				"recv %s: %d bytes from there repeat those "
				"%d bytes before\n",
				name, same, lag);
	}
}

static int phase_recv(xs_chan *c, const struct xs_opts *o, unsigned dir,
		      uint64_t total, uint8_t *buf)
{
	const char *name = dir == 0 ? "down" : "up";
	struct xs_gen g;
	uint64_t h = XS_FNV_INIT, got = 0;
	bool told = false;
	double t0 = now_mono();
	gen_init(&g, o->seed, dir);
	while (got < total) {
		size_t cap = o->chunk;
		if (total != XS_INF && total - got < cap)
			cap = (size_t)(total - got);
		int r = xs_read(c, buf, cap, o->msg);
		if (r < 0 && total == XS_INF) {
			/* The scenario killed the sender's domain: say when
			 * we noticed, in wall-clock time it can compare. */
			printf("XS closed at=%.6f bytes=%" PRIu64 " err=%s\n",
			       now_real(), got, xs_err(r));
			return 0;
		}
		if (r < 0) {
			fprintf(stderr, "recv %s at %" PRIu64 ": %s\n", name,
				got, xs_err(r));
			return r;
		}
		for (int i = 0; i < r; i++) {
			uint8_t want = gen_byte(&g);
			if (buf[i] != want) {
				mismatch(name, got, buf, i, r, want, g);
				return -EBADMSG;
			}
		}
		h = fnv(h, buf, (size_t)r);
		got += (uint64_t)r;
		if (!told && got >= (1u << 20)) {
			printf("XS progress dir=%s bytes=%" PRIu64 "\n", name,
			       got);
			told = true;
		}
	}
	report("recv", name, got, h, now_mono() - t0);
	return 0;
}

/* ---- command line ------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr,
		"usage: %s-xen-stream server|client PEER-DOMID PATH [--rtt N]\n"
		"       [--down BYTES] [--up BYTES|inf] [--chunk BYTES] [--seed N]\n"
		"       [--wait SECS] [--hold SECS] [--setup N]%s\n",
		XS_LIB,
#ifdef XS_VCHAN
		""
#else
		" [--msg]\n"
		"       [--fan N] [--fan-hold SECS]\n"
		"       PATH svc/NAME: service NAME through vmsgd"
#endif
	);
	return 2;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (strcmp(s, "inf") == 0) {
		*v = XS_INF;
		return true;
	}
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) { /* K, M suffixes: binary */
	case 'K':
		x <<= 10;
		end++;
		break;
	case 'M':
		x <<= 20;
		end++;
		break;
	default:
		break;
	}
	*v = x;
	return *end == '\0';
}

static int parse(struct xs_opts *o, int argc, char **argv)
{
	uint64_t v;
	if (argc < 4)
		return -1;
	o->server = strcmp(argv[1], "server") == 0;
	if (!o->server && strcmp(argv[1], "client") != 0)
		return -1;
	if (!parse_u64(argv[2], &v) || v >= 0x7ff0)
		return -1;
	o->peer = (unsigned)v;
	o->path = argv[3];
	o->chunk = 16384;
	o->seed = 1;
	o->wait_ms = 120000;
	o->fan_hold = 5;
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--msg") == 0) {
#ifdef XS_VCHAN
			return -1;
#else
			o->msg = true;
			continue;
#endif
		}
		if (i + 1 >= argc || !parse_u64(argv[i + 1], &v))
			return -1;
		i++;
		if (strcmp(a, "--rtt") == 0 && v != XS_INF)
			o->rtt = v;
		else if (strcmp(a, "--down") == 0 && v != XS_INF)
			o->down = v;
		else if (strcmp(a, "--up") == 0)
			o->up = v;
		else if (strcmp(a, "--chunk") == 0 && v > 0 &&
			 v <= XS_MAX_CHUNK)
			o->chunk = (size_t)v;
		else if (strcmp(a, "--seed") == 0)
			o->seed = v;
		else if (strcmp(a, "--wait") == 0 && v <= 3600)
			o->wait_ms = (int)v * 1000;
		else if (strcmp(a, "--hold") == 0 && v <= 3600)
			o->hold = (unsigned)v;
		else if (strcmp(a, "--setup") == 0 && v <= 10000)
			o->setup = (unsigned)v;
#ifndef XS_VCHAN
		else if (strcmp(a, "--fan") == 0 && v <= XS_FAN_MAX)
			o->fan = (unsigned)v;
		else if (strcmp(a, "--fan-hold") == 0 && v <= 600)
			o->fan_hold = (unsigned)v;
#endif
		else
			return -1;
	}
	/* --fan: named services only; --setup: paths of our own. */
	bool svc = strncmp(o->path, "svc/", 4) == 0;
	return (o->fan && !svc) || (o->setup && svc) ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct xs_opts o = {0};
	if (parse(&o, argc, argv) < 0)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	uint8_t *buf = malloc(o.chunk > XS_RTT_LEN ? o.chunk : XS_RTT_LEN);
	if (!buf)
		return 1;
	xs_chan *c = NULL;
	if (o.setup > 0 && phase_setup(&o) < 0) {
		free(buf);
		return 1;
	}
	double t0 = now_mono();
	/* After --setup the client may be first at the main path too. */
	int r = o.setup > 0 && !o.server ? connect_retry(&c, &o, o.path)
					 : xs_open(&c, &o);
	if (r < 0) {
		fprintf(stderr, "%s %s: %s\n", o.server ? "serve" : "connect",
			o.path, xs_err(r));
		free(buf);
		return 1;
	}
	printf("XS connected role=%s lib=%s after=%.3f\n",
	       o.server ? "server" : "client", XS_LIB, now_mono() - t0);

	r = phase_rtt(c, &o);
	if (r == 0 && o.down > 0)
		r = o.server ? phase_send(c, &o, 0, o.down, buf)
			     : phase_recv(c, &o, 0, o.down, buf);
	if (r == 0 && o.up > 0)
		r = o.server ? phase_recv(c, &o, 1, o.up, buf)
			     : phase_send(c, &o, 1, o.up, buf);
	if (r == 0 && !o.server) {
		/* Let the server read the tail before our close reaches
		 * it: libxenvchan's reader gives up on a closed channel
		 * even with data left. One byte back means it has all. */
		uint8_t done;
		(void)read_full(c, &done, 1, o.msg);
	} else if (r == 0 && o.up != XS_INF) {
		if (o.hold > 0) {
			printf("XS holding secs=%u\n", o.hold);
			sleep(o.hold);
		}
		uint8_t done = 0x5a;
		(void)xs_write(c, &done, 1, o.msg);
	}
	xs_close(c, &o);
	free(buf);
	return r == 0 ? 0 : 1;
}
