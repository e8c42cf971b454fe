/* vmsg-blockd: offer an image file or block device, or an NBD server's
 * export (--nbd URI), as a vmsg block service: through vmsgd (--service
 * NAME), on direct Xen channels to chosen domains (--xen DOMID[:PORT]: how
 * dom0 reaches guests, since vmsgd brokers guest domains only) or on a
 * host-backend path (--listen PATH, no vmsgd: for tests, benchmarks and
 * same-host use); --xen with either. docs/storage.md has the command
 * lines. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/host.h>
#include <vmsg/version.h>
#ifdef BLOCKD_SERVICE
#include <vmsg/service.h>
#include <vmsg/xen.h>
#endif

#include "blockd.h"
#include "vmsg_clock.h"

#define DEFAULT_DEPTH 64u
#define DEFAULT_MAX_REQ (4u * 1024u * 1024u)
#define DEFAULT_MAX_BUFFERED (32u * 1024u * 1024u)
/* --max-buffered-total, unless given: this many times --max-buffered
 * (256 MiB with the defaults). Eight consumers may each use all of their
 * own bound before any is held to one request at a time (docs/storage.md
 * argues the figure). */
#define DEFAULT_TOTAL_TIMES 8u
/* How long a source may leave requests unanswered (--nbd-timeout). */
#define DEFAULT_NBD_TIMEOUT_S 30u
/* How long a consumer may leave a request incomplete (--partial-timeout):
 * vmsgd's partial_message_ms by default. */
#define DEFAULT_PARTIAL_TIMEOUT_S 30u
#define MAX_CONNS 64u
#define MAX_XEN 64u
#define XEN_RING (256u * 1024u)

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmsg-blockd [options] (--listen PATH | --service NAME |\n"
"                              --xen DOMID[:PORT] ...) (IMAGE | --nbd URI)\n"
"\n"
"Offer IMAGE (a regular file or a block device) as a vmsg block device\n"
"(docs/block.md) to any number of consumers at once, with asynchronous\n"
"I/O through io_uring. FLUSH is an fdatasync of IMAGE; FUA writes are\n"
"O_DSYNC writes.\n"
"\n"
"With --nbd URI, offer the export of an NBD server instead (qemu-nbd, nbdkit\n"
"and its plugins, ...), through libnbd: size, block sizes, read-only and\n"
"flush/FUA/trim/write-zeroes follow what the server offers. If the server\n"
"goes away, or answers nothing for --nbd-timeout while requests wait,\n"
"every request is answered EIO (the daemon stays up; restart it to serve\n"
"the source again).\n"
"\n"
"  -n, --nbd URI           the disk is the NBD export at URI, as libnbd's\n"
"                          nbd_connect_uri takes it: nbd://HOST[:PORT]/EXPORT,\n"
"                          nbd+unix:///EXPORT?socket=PATH, nbds://... (TLS)\n"
"  -T, --nbd-timeout SEC   with --nbd: requests in flight and no answer for\n"
"                          SEC seconds means the server is gone (default\n"
"                          %u; 0: wait for ever)\n"
"  -l, --listen PATH       serve consumers on the host backend at PATH\n"
"                          (a UNIX socket path; no vmsgd needed)\n"
"  -s, --service NAME      offer service NAME through vmsgd (its policy\n"
"                          decides who may open it; in a guest: vmsgd\n"
"                          brokers guest domains only)\n"
"  -x, --xen DOMID[:PORT]  serve domain DOMID on a direct Xen channel at\n"
"                          /local/domain/<us>/data/vchan/DOMID/PORT (PORT:\n"
"                          disk), one consumer at a time, served again\n"
"                          after each; repeatable (up to %u), alone or\n"
"                          with --listen or --service. The command line\n"
"                          is the policy: the domains named here, and no\n"
"                          other, may connect\n"
"  -r, --read-only         refuse writes (opens IMAGE read-only); with --nbd\n"
"                          the disk is read-only also when the server is\n"
"  -b, --block-size N      logical block size, 512..65536 (default 512; with\n"
"                          --nbd, at least the server's minimum)\n"
"  -d, --depth N           requests outstanding per consumer (default %u)\n"
"  -m, --max-req BYTES     largest request (default %u; with --nbd, at\n"
"                          most the server's maximum)\n"
"  -c, --max-conns N       consumers at once (default %u)\n"
"  -B, --max-buffered BYTES\n"
"                          memory one consumer's requests may hold in this\n"
"                          process at once, 65536..4294967295 (default\n"
"                          %u): past it, its next requests wait in its\n"
"                          ring until its replies go out, so a consumer\n"
"                          that never reads them costs about this plus\n"
"                          --max-req, not depth x max-req. A request\n"
"                          counts its buffer, 64 KiB for any of up to\n"
"                          64 KiB; its reassembly buffer for messages\n"
"                          larger than a ring frame counts too (freed\n"
"                          after a second with no request)\n"
"  -M, --max-buffered-total BYTES\n"
"                          the same for all consumers at once, at least\n"
"                          65536 (default %u x --max-buffered, %u MiB):\n"
"                          past it, idle reassembly buffers are freed and\n"
"                          a consumer's next requests wait in its ring\n"
"                          while its requests hold any, so each has one\n"
"                          request at a time, and the daemon holds at most\n"
"                          this plus one request and one reassembly buffer\n"
"                          per consumer\n"
"  -P, --partial-timeout SEC\n"
"                          a consumer that leaves a request larger than a\n"
"                          ring frame incomplete for SEC seconds, while it\n"
"                          may send the rest, is dropped: its reassembly\n"
"                          buffer cannot be freed before (default %u; 0:\n"
"                          never)\n"
"  -w, --wait MS           how long to wait for vmsgd, or the NBD server, at\n"
"                          start (10000)\n"
"  -S, --spin-us N         after each request or reply, look for the next\n"
"                          for N microseconds before sleeping (default 0:\n"
"                          sleep at once): a CPU kept busy for less latency\n"
"                          where waking up costs more (a VM whose idle\n"
"                          CPUs halt); at most 1000000\n"
"  -q, --quiet             no log of consumers coming and going\n"
"  -V, --version           the version\n"
"  -h, --help              this text\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT, 1 IMAGE, the NBD server, the listen\n"
"path or vmsgd unusable, 2 bad usage.\n",
		DEFAULT_NBD_TIMEOUT_S, MAX_XEN, DEFAULT_DEPTH, DEFAULT_MAX_REQ,
		MAX_CONNS, DEFAULT_MAX_BUFFERED, DEFAULT_TOTAL_TIMES,
		DEFAULT_TOTAL_TIMES * (DEFAULT_MAX_BUFFERED >> 20),
		DEFAULT_PARTIAL_TIMEOUT_S);
}

static void chan_opts(const struct blockd *d, struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->rx_ring_size = o->tx_ring_size = 1024u * 1024u;
	o->max_msg = (size_t)d->info.max_req + 64u;
}

/* ---- consumers on a host-backend path --------------------------------- */

static const char *listen_path;
static vmsg_chan *waiting; /* the channel the next consumer connects to */

static int listen_next(struct blockd *d)
{
	struct vmsg_chan_opts o;
	chan_opts(d, &o);
	int r = vmsg_host_serve(&waiting, listen_path, &o);
	if (r < 0) {
		waiting = NULL;
		fprintf(stderr, "vmsg-blockd: listen on %s: %s\n", listen_path,
			vmsg_strerror(r));
	}
	return r;
}

/* The waiting channel got its consumer: it becomes a conn, and a new
 * channel waits at the same path. */
static int host_accept(struct blockd *d)
{
	if (!waiting)
		return listen_next(d);
	(void)vmsg_chan_ack(waiting);
	int r = vmsg_chan_accept(waiting, 0);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return 0;
	if (r < 0) {
		/* It came and went: wait for the next at once. */
		(void)vmsg_chan_reopen(waiting);
		return 0;
	}
	vmsg_chan *c = waiting;
	waiting = NULL;
	if ((r = conn_add(d, c, 0, true)) < 0) {
		fprintf(stderr, "vmsg-blockd: consumer refused: %s\n",
			vmsg_strerror(r));
		vmsg_chan_close(c);
	} else {
		LOG(d, "consumer %u: connected on %s", d->next_id, listen_path);
	}
	return listen_next(d);
}

/* ---- consumers on direct Xen channels (--xen) ------------------------- */

#ifdef BLOCKD_SERVICE
/* One --xen DOMID[:PORT]: a channel served to that domain, one consumer
 * at a time; when its consumer goes (on_close), the path is served
 * afresh. */
struct xen_listener {
	uint16_t domid;
	char path[256];
	vmsg_chan *waiting; /* published, no consumer yet */
	bool busy;          /* its consumer is a conn */
	bool served;        /* published once: a later failure is retried */
	bool warned;        /* ... and logged once */
};
static struct xen_listener xen_ls[MAX_XEN];
static unsigned n_xen;

static int xen_accept(struct blockd *d)
{
	for (unsigned i = 0; i < n_xen; i++) {
		struct xen_listener *l = &xen_ls[i];
		if (l->busy)
			continue;
		if (!l->waiting) {
			struct vmsg_chan_opts o;
			chan_opts(d, &o);
			/* dom0's grants come from gntalloc, whose default limit
			 * is 1024 pages for all of dom0: 256 KiB rings (129
			 * pages a channel) let several guests be served. */
			o.rx_ring_size = o.tx_ring_size = XEN_RING;
			int r = vmsg_xen_serve(&l->waiting, l->domid, l->path, &o);
			if (r < 0) {
				l->waiting = NULL;
				/* At start: the command line cannot be served
				 * (exit 1). Later (dom0 short of grants, say):
				 * the others go on, this one is tried again
				 * every tick. */
				if (!l->served || !l->warned)
					fprintf(stderr, "vmsg-blockd: serve %s: %s%s\n",
						l->path, vmsg_strerror(r),
						l->served ? " (trying again)" : "");
				if (!l->served)
					return r;
				l->warned = true;
				continue;
			}
			l->served = true;
			l->warned = false;
		}
		(void)vmsg_chan_ack(l->waiting);
		int r = vmsg_chan_accept(l->waiting, 0);
		if (r == -EAGAIN || r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			/* It came and went: serve the path afresh. */
			vmsg_chan_close(l->waiting);
			l->waiting = NULL;
			continue;
		}
		vmsg_chan *c = l->waiting;
		l->waiting = NULL;
		/* One consumer at a time here: no MULTI_CONN, or an NBD
		 * client in that domain would open more and be refused. */
		if ((r = conn_add(d, c, l->domid, false)) < 0) {
			fprintf(stderr, "vmsg-blockd: dom%u on %s refused: %s\n",
				l->domid, l->path, vmsg_strerror(r));
			vmsg_chan_close(c);
			continue;
		}
		d->conns->owner = l; /* conn_add puts it first */
		l->busy = true;
		LOG(d, "consumer %u: dom%u connected on %s", d->next_id,
		    l->domid, l->path);
	}
	return 0;
}

/* --xen DOMID[:PORT] into the next listener's domid and path. */
static bool xen_arg(const char *arg)
{
	char *end;
	const char *port = "disk";
	errno = 0;
	unsigned long dom = strtoul(arg, &end, 10);
	if (errno || end == arg || dom >= VMSG_DOMID_LIMIT ||
	    (*end && *end != ':') || n_xen == MAX_XEN)
		return false;
	if (*end == ':')
		port = end + 1;
	/* Ports take service names' alphabet: no '/', nothing xenstore
	 * refuses. */
	if (!vmsg_service_name_ok(port))
		return false;
	uint16_t us;
	int r = vmsg_xen_own_domid(&us);
	if (r < 0) {
		fprintf(stderr, "vmsg-blockd: --xen: our domain id: %s\n",
			vmsg_strerror(r));
		exit(1);
	}
	if (vmsg_xen_path(xen_ls[n_xen].path, sizeof(xen_ls[n_xen].path), us,
			  (uint16_t)dom, port) < 0)
		return false;
	for (unsigned i = 0; i < n_xen; i++)
		if (strcmp(xen_ls[i].path, xen_ls[n_xen].path) == 0)
			return false; /* the same channel twice */
	xen_ls[n_xen++].domid = (uint16_t)dom;
	return true;
}
#endif

/* ---- consumers through vmsgd ------------------------------------------ */

#ifdef BLOCKD_SERVICE
static vmsg_ctl *ctl;

static int service_accept(struct blockd *d)
{
	for (;;) {
		vmsg_chan *c;
		struct vmsg_service_peer peer;
		int r = vmsg_service_accept(ctl, &c, &peer, 0);
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
		if ((r = conn_add(d, c, peer.domid, true)) < 0) {
			fprintf(stderr, "vmsg-blockd: channel %u from dom%u "
				"refused: %s\n", peer.channel_id, peer.domid,
				vmsg_strerror(r));
			vmsg_service_close(ctl, c);
			continue;
		}
		LOG(d, "consumer %u: dom%u opened %s (channel %u)", d->next_id,
		    peer.domid, peer.service, peer.channel_id);
	}
}
#endif

static void on_close(struct blockd *d, struct conn *k)
{
	if (k->partial_timeout)
		fprintf(stderr, "vmsg-blockd: consumer %u: dropped: a request "
			"left incomplete for %u s (--partial-timeout)\n",
			k->id, d->partial_ms / 1000u);
	else if (k->end == 0)
		LOG(d, "consumer %u: closed at shutdown (%llu requests, %llu "
		    "bytes)", k->id, (unsigned long long)k->requests,
		    (unsigned long long)k->bytes);
	else if (k->end == -EPIPE)
		LOG(d, "consumer %u: closed (%llu requests, %llu bytes)", k->id,
		    (unsigned long long)k->requests,
		    (unsigned long long)k->bytes);
	else
		fprintf(stderr, "vmsg-blockd: consumer %u: dropped: %s\n",
			k->id, vmsg_strerror(k->end));
#ifdef BLOCKD_SERVICE
	if (k->owner) {
		/* xen_accept serves its path again. */
		((struct xen_listener *)k->owner)->busy = false;
		vmsg_chan_close(k->c);
		return;
	}
	if (ctl) {
		vmsg_service_close(ctl, k->c);
		return;
	}
#endif
	vmsg_chan_close(k->c);
}

static int run(struct blockd *d, const sigset_t *orig)
{
	struct pollfd *p = calloc(d->max_conns + 2 + MAX_XEN, sizeof(*p));
	int r = 0;
	if (!p) {
		fprintf(stderr, "vmsg-blockd: %s\n", vmsg_strerror(-ENOMEM));
		return -ENOMEM;
	}

	uint64_t last_move = 0;
	while (!stop_signal) {
		uint64_t moved = d->moved;
		if (listen_path && (r = host_accept(d)) < 0)
			break;
#ifdef BLOCKD_SERVICE
		if (ctl && (r = service_accept(d)) < 0) {
			fprintf(stderr, "vmsg-blockd: vmsgd: %s\n",
				vmsg_strerror(r));
			break;
		}
		if ((r = xen_accept(d)) < 0)
			break;
#endif
		blockd_step(d, vmsg__clock_ms(), on_close);
		nfds_t n = 0;
		short ev;
		int bfd = d->be->poll_fd(d, &ev);
		if (bfd >= 0)
			p[n++] = (struct pollfd){ .fd = bfd, .events = ev };
		if (listen_path && waiting)
			p[n++] = (struct pollfd){ .fd = vmsg_chan_fd(waiting),
						  .events = POLLIN };
#ifdef BLOCKD_SERVICE
		if (ctl) {
			/* Made at the first call: that one can fail. */
			int cfd = vmsg_ctl_fd(ctl);
			if (cfd < 0) {
				fprintf(stderr, "vmsg-blockd: vmsg_ctl_fd: %s\n",
					vmsg_strerror(cfd));
				r = cfd;
				break;
			}
			p[n++] = (struct pollfd){ .fd = cfd, .events = POLLIN };
		}
		/* A listener to serve again (its consumer just went) or
		 * waiting: a consumer's connect is looked for at least every
		 * 100 ms too, whether or not its driver kicked the port. */
		bool xen_waiting = false;
		for (unsigned i = 0; i < n_xen; i++) {
			if (xen_ls[i].busy)
				continue;
			xen_waiting = true;
			if (!xen_ls[i].waiting)
				continue;
			p[n++] = (struct pollfd){ .fd = vmsg_chan_fd(xen_ls[i].waiting),
						  .events = POLLIN };
		}
#else
		const bool xen_waiting = false;
#endif
		bool busy = false;
		for (struct conn *k = d->conns; k; k = k->next) {
			if (k->closing) {
				busy = busy || k->inflight == 0;
				continue;
			}
			busy = busy || k->more;
			p[n++] = (struct pollfd){ .fd = vmsg_chan_fd(k->c),
						  .events = POLLIN };
		}
		/* The longest sleep: none when busy (a conn to free, or one
		 * with requests left at its budget), 100 ms while a --xen
		 * listener waits, until the backend's own deadline, or until
		 * a reassembly buffer is to be freed or a conn ended at
		 * --partial-timeout (blockd_due_ms). */
		int ms = busy ? 0 : xen_waiting ? 100 : -1;
		int due = d->be->due_ms ? d->be->due_ms(d) : -1;
		if (due >= 0 && (ms < 0 || due < ms))
			ms = due;
		due = blockd_due_ms(d, vmsg__clock_ms());
		if (due >= 0 && (ms < 0 || due < ms))
			ms = due;
		/* --spin-us: within that long of the last request or reply,
		 * look again at once. ppoll still runs (no wait), so the
		 * signals and the other fds are seen while spinning. */
		if (d->spin_ns) {
			uint64_t ns = vmsg__clock_ns();
			if (d->moved != moved)
				last_move = ns;
			if (ns - last_move < d->spin_ns)
				ms = 0;
		}
		const struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
		/* Signals are blocked except inside ppoll: none is missed. */
		if (ppoll(p, n, ms >= 0 ? &t : NULL, orig) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	free(p);
	return r;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	/* strtoull takes "-1" as ULLONG_MAX: no sign. */
	if (s[strspn(s, " \t")] == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

int main(int argc, char **argv)
{
	static struct blockd d;
	const char *service = NULL, *nbd_uri = NULL;
	bool ro = false;
	uint32_t bs = 512, depth = DEFAULT_DEPTH, max_req = DEFAULT_MAX_REQ;
	uint32_t max_conns = MAX_CONNS, wait_ms = 10000;
	uint32_t max_buffered = DEFAULT_MAX_BUFFERED;
	uint64_t max_total = 0; /* 0: DEFAULT_TOTAL_TIMES x max_buffered */
	uint32_t nbd_timeout_s = DEFAULT_NBD_TIMEOUT_S;
	uint32_t partial_s = DEFAULT_PARTIAL_TIMEOUT_S;
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"nbd", required_argument, NULL, 'n'},
		{"nbd-timeout", required_argument, NULL, 'T'},
		{"service", required_argument, NULL, 's'},
		{"xen", required_argument, NULL, 'x'},
		{"read-only", no_argument, NULL, 'r'},
		{"block-size", required_argument, NULL, 'b'},
		{"depth", required_argument, NULL, 'd'},
		{"max-req", required_argument, NULL, 'm'},
		{"max-conns", required_argument, NULL, 'c'},
		{"max-buffered", required_argument, NULL, 'B'},
		{"max-buffered-total", required_argument, NULL, 'M'},
		{"partial-timeout", required_argument, NULL, 'P'},
		{"wait", required_argument, NULL, 'w'},
		{"quiet", no_argument, NULL, 'q'},
		{"spin-us", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "l:n:T:s:x:rb:d:m:c:B:M:P:w:S:qhV", opts, NULL)) != -1) {
		switch (o) {
		case 'l': listen_path = optarg; break;
		case 'n': nbd_uri = optarg; break;
		case 'T':
			if (!parse_u32(optarg, 0, 86400, &nbd_timeout_s)) {
				fprintf(stderr, "vmsg-blockd: --nbd-timeout %s: "
					"expected 0..86400 seconds\n", optarg);
				return 2;
			}
			break;
		case 's': service = optarg; break;
		case 'x':
#ifdef BLOCKD_SERVICE
			if (!xen_arg(optarg)) {
				fprintf(stderr, "vmsg-blockd: --xen %s: expected "
					"DOMID[:PORT], a domain id and a port "
					"name of [A-Za-z0-9._-] (at most %u "
					"--xen, each channel once)\n", optarg,
					MAX_XEN);
				return 2;
			}
#else
			fprintf(stderr, "vmsg-blockd: --xen: built without the "
				"Xen backend\n");
			return 2;
#endif
			break;
		case 'r': ro = true; break;
		case 'b':
			if (!parse_u32(optarg, VMSG_BLK_MIN_BLOCK,
				       VMSG_BLK_MAX_BLOCK, &bs) || (bs & (bs - 1))) {
				fprintf(stderr, "vmsg-blockd: --block-size %s: "
					"expected a power of two, 512..65536\n",
					optarg);
				return 2;
			}
			break;
		case 'd':
			if (!parse_u32(optarg, 1, VMSG_BLK_MAX_DEPTH, &depth)) {
				fprintf(stderr, "vmsg-blockd: --depth %s: expected "
					"1..%u\n", optarg, VMSG_BLK_MAX_DEPTH);
				return 2;
			}
			break;
		case 'm':
			if (!parse_u32(optarg, VMSG_BLK_MIN_BLOCK,
				       VMSG_BLK_MAX_REQ_LIMIT, &max_req)) {
				fprintf(stderr, "vmsg-blockd: --max-req %s: "
					"expected %u..%u\n", optarg,
					VMSG_BLK_MIN_BLOCK, VMSG_BLK_MAX_REQ_LIMIT);
				return 2;
			}
			break;
		case 'c':
			if (!parse_u32(optarg, 1, 4096, &max_conns)) {
				fprintf(stderr, "vmsg-blockd: --max-conns %s: "
					"expected 1..4096\n", optarg);
				return 2;
			}
			break;
		case 'B':
			if (!parse_u32(optarg, 65536, UINT32_MAX,
				       &max_buffered)) {
				fprintf(stderr, "vmsg-blockd: --max-buffered %s: "
					"expected 65536..4294967295 bytes\n",
					optarg);
				return 2;
			}
			break;
		case 'M':
			if (!parse_u64(optarg, 65536, UINT64_MAX, &max_total)) {
				fprintf(stderr, "vmsg-blockd: --max-buffered-total "
					"%s: expected at least 65536 bytes\n",
					optarg);
				return 2;
			}
			break;
		case 'P':
			if (!parse_u32(optarg, 0, 86400, &partial_s)) {
				fprintf(stderr, "vmsg-blockd: --partial-timeout "
					"%s: expected 0..86400 seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
			if (!parse_u32(optarg, 0, 3600000, &wait_ms)) {
				fprintf(stderr, "vmsg-blockd: --wait %s: expected "
					"0..3600000 ms\n", optarg);
				return 2;
			}
			break;
		case 'q': d.quiet = true; break;
		case 'S': {
			uint32_t us;
			if (!parse_u32(optarg, 0, 1000000, &us)) {
				fprintf(stderr, "vmsg-blockd: --spin-us %s: not "
					"0..1000000\n", optarg);
				return 2;
			}
			d.spin_ns = (uint64_t)us * 1000u;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf("vmsg-blockd %s\n", vmsg_version()); return 0;
		default:
			fprintf(stderr, "try 'vmsg-blockd --help'\n");
			return 2;
		}
	}
#ifdef BLOCKD_SERVICE
	bool xen = n_xen > 0;
#else
	const bool xen = false;
#endif
	if (optind != argc - !nbd_uri || (!listen_path && !service && !xen) ||
	    (listen_path && service)) {
		fprintf(stderr, "vmsg-blockd: %s\ntry 'vmsg-blockd --help'\n",
			nbd_uri && optind < argc ? "IMAGE or --nbd URI, not both"
			: optind >= argc ? "no IMAGE given (nor --nbd URI)"
			: optind < argc - 1 ? "one IMAGE only"
			: listen_path && service ? "one of --listen and --service, not both"
					    : "give --listen PATH, --service NAME "
					      "or --xen DOMID[:PORT]");
		return 2;
	}
#ifndef BLOCKD_NBD
	if (nbd_uri) {
		fprintf(stderr, "vmsg-blockd: --nbd: built without libnbd\n");
		return 2;
	}
#endif
#ifndef BLOCKD_SERVICE
	if (service) {
		fprintf(stderr, "vmsg-blockd: --service: built without the Xen "
			"backend (no vmsgd client)\n");
		return 2;
	}
#else
	if (service && !vmsg_service_name_ok(service)) {
		fprintf(stderr, "vmsg-blockd: --service '%s': names are 1..%d "
			"of [A-Za-z0-9._-]\n", service, VMSG_SERVICE_NAME_MAX);
		return 2;
	}
#endif
	max_req -= max_req % bs;
	if (max_req < bs)
		max_req = bs;

	d.info.depth = depth;
	d.info.max_req = max_req;
	d.max_conns = max_conns;
	d.max_held = max_buffered;
	d.max_held_total = max_total ? max_total
				     : (uint64_t)DEFAULT_TOTAL_TIMES * max_buffered;
	d.nbd_timeout_ms = nbd_timeout_s * 1000u;
	d.partial_ms = partial_s * 1000u;
	/* What the log calls the disk. */
	const char *disk = nbd_uri ? nbd_uri : argv[optind];
#ifdef BLOCKD_NBD
	if (nbd_uri) {
		if (nbd_backend_open(&d, nbd_uri, ro, bs, wait_ms) < 0)
			return 1;
		ro = d.info.flags & VMSG_BLK_F_READ_ONLY;
	} else
#endif
	if (file_backend_open(&d, argv[optind], ro, bs) < 0)
		return 1;
	int r;

	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (listen_path) {
		if (listen_next(&d) < 0)
			return 1;
		LOG(&d, "%s: %llu bytes%s, serving on %s", disk,
		    (unsigned long long)d.info.size, ro ? ", read-only" : "",
		    listen_path);
	}
#ifdef BLOCKD_SERVICE
	if (service) {
		if ((r = vmsg_ctl_open(&ctl, (int)wait_ms)) < 0) {
			fprintf(stderr, "vmsg-blockd: vmsgd: %s\n", vmsg_strerror(r));
			return 1;
		}
		if ((r = vmsg_service_offer(ctl, service, (int)wait_ms)) < 0) {
			fprintf(stderr, "vmsg-blockd: offer '%s': %s%s%s\n",
				service, vmsg_strerror(r),
				*vmsg_ctl_error(ctl) ? ": " : "",
				vmsg_ctl_error(ctl));
			vmsg_ctl_close(ctl);
			return 1;
		}
		LOG(&d, "%s: %llu bytes%s, dom%d offers %s", disk,
		    (unsigned long long)d.info.size, ro ? ", read-only" : "",
		    vmsg_ctl_domid(ctl), service);
	}
#endif
#ifdef BLOCKD_SERVICE
	for (unsigned i = 0; i < n_xen; i++)
		LOG(&d, "%s: %llu bytes%s, serving dom%u at %s", disk,
		    (unsigned long long)d.info.size, ro ? ", read-only" : "",
		    xen_ls[i].domid, xen_ls[i].path);
#endif
	r = run(&d, &orig);
	if (stop_signal)
		LOG(&d, "signal %d: stopping (%u consumers)", (int)stop_signal,
		    d.nconns);
	for (struct conn *k = d.conns; k; k = k->next)
		k->closing = true;
	/* Let the backend finish what it holds, then free. */
	while (d.conns) {
		blockd_step(&d, vmsg__clock_ms(), on_close);
		if (d.conns)
			usleep(1000);
	}
	if (waiting)
		vmsg_chan_close(waiting);
#ifdef BLOCKD_SERVICE
	for (unsigned i = 0; i < n_xen; i++)
		if (xen_ls[i].waiting)
			vmsg_chan_close(xen_ls[i].waiting);
#endif
#ifdef BLOCKD_SERVICE
	if (ctl)
		vmsg_ctl_close(ctl);
#endif
	d.be->fini(&d);
	blockd_pool_free(&d);
	return r < 0 && !stop_signal ? 1 : 0;
}
