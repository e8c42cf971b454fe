/* vmsg-blk-bench: one disk workload set against one of
 *   file:PATH   the image itself: pread/pwrite at depth 1, io_uring deeper
 *               (the requests of a batch in one submit)
 *   vmsg:PATH   lib/block's client to a provider on a host-backend path
 *   svc:NAME    lib/block's client to a block service through vmsgd (run
 *               it under `xensim run --domid N`)
 *   nbd:URI     an NBD server through libnbd (nbdkit vmsg, nbdkit file, ...)
 * reporting 4 KiB random-read IOPS at depth 1 (and its p50 latency) and
 * at depth 32, and 1 MiB sequential read and write MB/s (depth 8). The
 * script bench/block-run runs it against the (a)-(d). Writes go to
 * the first 256 MiB of the disk: give it a scratch image. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libnbd.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/block.h>
#include <vmsg/host.h>
#ifdef BENCH_HAVE_SERVICE
#include <vmsg/service.h>
#endif

#define MAXQ 64

struct eng {
	int (*submit)(struct eng *e, bool write, void *buf, uint32_t len,
		      uint64_t off, int tag);
	int (*wait)(struct eng *e, int *tags, int max);
	uint64_t size;
	int depth; /* of the current workload */
	/* file */
	int fd;
	struct io_uring ring;
	int sync_done[MAXQ], nsync;
	/* vmsg */
	vmsg_chan *c;
	vmsg_blk_client *cl;
	/* nbd */
	struct nbd_handle *nbd;
	int64_t cookie[MAXQ];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "vmsg-blk-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- file ---- */
static int file_submit(struct eng *e, bool w, void *buf, uint32_t len,
		       uint64_t off, int tag)
{
	if (e->depth == 1) {
		ssize_t n = w ? pwrite(e->fd, buf, len, (off_t)off)
			      : pread(e->fd, buf, len, (off_t)off);
		if (n != (ssize_t)len)
			die("pread/pwrite", errno);
		e->sync_done[e->nsync++] = tag;
		return 0;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	if (w)
		io_uring_prep_write(sqe, e->fd, buf, len, off);
	else
		io_uring_prep_read(sqe, e->fd, buf, len, off);
	io_uring_sqe_set_data64(sqe, (uint64_t)tag);
	return 0; /* submitted with the others at the next wait */
}

static int file_wait(struct eng *e, int *tags, int max)
{
	if (e->nsync) {
		int n = e->nsync;
		memcpy(tags, e->sync_done, sizeof(int) * (size_t)n);
		e->nsync = 0;
		return n;
	}
	struct io_uring_cqe *cqe;
	int n = 0;
	/* Every request prepared since the last wait in one system call,
	 * as a program driving a deep queue does: the limit (a) stands for
	 * pays one submit per batch, not one per request. */
	int r = io_uring_submit_and_wait(&e->ring, 1);
	if (r < 0)
		die("io_uring_submit_and_wait", -r);
	if (io_uring_peek_cqe(&e->ring, &cqe) != 0)
		die("io_uring_peek_cqe", EIO);
	while (n < max && io_uring_peek_cqe(&e->ring, &cqe) == 0) {
		if (cqe->res < 0)
			die("io", -cqe->res);
		tags[n++] = (int)cqe->user_data;
		io_uring_cqe_seen(&e->ring, cqe);
	}
	return n;
}

/* ---- vmsg ---- */
static int vmsg_submit(struct eng *e, bool w, void *buf, uint32_t len,
		       uint64_t off, int tag)
{
	struct vmsg_blk_io io = { w ? VMSG_BLK_OP_WRITE : VMSG_BLK_OP_READ, 0,
				  len, off, buf, (uint64_t)tag };
	int r = vmsg_blk_client_submit(e->cl, &io, -1);
	if (r < 0)
		die("submit", -r);
	return 0;
}

static int vmsg_wait(struct eng *e, int *tags, int max)
{
	struct vmsg_blk_done d[MAXQ];
	int n = vmsg_blk_client_reap(e->cl, d, (unsigned)max, -1);
	if (n < 0)
		die("reap", -n);
	for (int i = 0; i < n; i++) {
		if (d[i].status)
			die("io", -d[i].status);
		tags[i] = (int)d[i].user;
	}
	return n;
}

/* ---- nbd ---- */
static int nbd_submit(struct eng *e, bool w, void *buf, uint32_t len,
		      uint64_t off, int tag)
{
	int64_t c = w ? nbd_aio_pwrite(e->nbd, buf, len, off,
				       NBD_NULL_COMPLETION, 0)
		      : nbd_aio_pread(e->nbd, buf, len, off,
				      NBD_NULL_COMPLETION, 0);
	if (c < 0) {
		fprintf(stderr, "vmsg-blk-bench: %s\n", nbd_get_error());
		exit(1);
	}
	e->cookie[tag] = c;
	return 0;
}

static int nbd_wait(struct eng *e, int *tags, int max)
{
	for (;;) {
		int n = 0;
		int64_t c;
		while (n < max && (c = nbd_aio_peek_command_completed(e->nbd)) > 0) {
			if (nbd_aio_command_completed(e->nbd, c) < 0) {
				fprintf(stderr, "vmsg-blk-bench: %s\n", nbd_get_error());
				exit(1);
			}
			for (int t = 0; t < MAXQ; t++)
				if (e->cookie[t] == c) {
					tags[n++] = t;
					e->cookie[t] = 0;
					break;
				}
		}
		if (n)
			return n;
		if (nbd_poll(e->nbd, -1) < 0) {
			fprintf(stderr, "vmsg-blk-bench: %s\n", nbd_get_error());
			exit(1);
		}
	}
}

/* --spin-us: the vmsg channel's spin budget (opts.spin_ns): lib/block's
 * client then spins in its wait set before it sleeps. */
static uint64_t spin_ns;

static void open_eng(struct eng *e, const char *target)
{
	memset(e, 0, sizeof(*e));
	if (strncmp(target, "file:", 5) == 0) {
		e->fd = open(target + 5, O_RDWR);
		if (e->fd < 0)
			die(target + 5, errno);
		e->size = (uint64_t)lseek(e->fd, 0, SEEK_END);
		if (io_uring_queue_init(MAXQ * 2, &e->ring, 0) < 0)
			die("io_uring", EIO);
		e->submit = file_submit;
		e->wait = file_wait;
	} else if (strncmp(target, "vmsg:", 5) == 0 ||
		   strncmp(target, "svc:", 4) == 0) {
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		o.max_msg = 4u * 1024 * 1024 + 64;
		o.spin_ns = spin_ns;
		int r;
		if (target[0] == 'v') {
			r = vmsg_host_connect(&e->c, target + 5, &o, 10000);
		} else {
#ifdef BENCH_HAVE_SERVICE
			vmsg_ctl *ctl;
			r = vmsg_ctl_open(&ctl, 10000);
			if (r == 0)
				r = vmsg_service_open(ctl, target + 4, &e->c, 10000);
			if (r == 0) /* a brokered channel comes with defaults */
				r = vmsg_chan_set_spin(e->c, spin_ns);
#else
			r = -ENOTSUP;
#endif
		}
		if (r < 0)
			die(target, -r);
		size_t sz = vmsg_blk_client_size(MAXQ, 4u << 20);
		void *mem = aligned_alloc(8, (sz + 7) & ~(size_t)7);
		if ((r = vmsg_blk_client_init(&e->cl, mem, sz, e->c, MAXQ,
					      4u << 20, 10000)) < 0)
			die("negotiate", -r);
		e->size = vmsg_blk_client_info(e->cl)->size;
		e->submit = vmsg_submit;
		e->wait = vmsg_wait;
	} else if (strncmp(target, "nbd:", 4) == 0) {
		e->nbd = nbd_create();
		if (!e->nbd || nbd_connect_uri(e->nbd, target + 4) < 0) {
			fprintf(stderr, "vmsg-blk-bench: %s\n", nbd_get_error());
			exit(1);
		}
		e->size = (uint64_t)nbd_get_size(e->nbd);
		e->submit = nbd_submit;
		e->wait = nbd_wait;
	} else {
		fprintf(stderr, "usage: vmsg-blk-bench file:PATH|vmsg:PATH|svc:NAME|nbd:URI\n");
		exit(2);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Run one workload for `secs` seconds (or `bytes` bytes when sequential).
 * Prints ops/s, MB/s and (depth 1) the p50 latency. */
static void run(struct eng *e, const char *name, bool write, bool seq,
		uint32_t len, int depth, double secs)
{
	static uint8_t *bufs[MAXQ];
	static uint64_t lat[2000000];
	uint64_t started[MAXQ], seed = 0x1234567, off_seq = 0, nlat = 0;
	uint64_t span = write ? (e->size < (256u << 20) ? e->size : 256u << 20)
			      : e->size;
	uint64_t ops = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	int inflight = 0, tags[MAXQ];

	e->depth = depth;
	for (int i = 0; i < depth; i++) {
		if (!bufs[i] && posix_memalign((void **)&bufs[i], 4096, 4u << 20))
			die("memory", ENOMEM);
		memset(bufs[i], 0x5a, len);
	}
	bool stop = false;
	for (int i = 0; i < depth; i++) {
		uint64_t off;
		if (seq) {
			off = off_seq;
			off_seq = (off_seq + len) % (span - span % len);
		} else {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			off = ((seed >> 16) % (span / len)) * len;
		}
		started[i] = now_ns();
		e->submit(e, write, bufs[i], len, off, i);
		inflight++;
	}
	while (inflight) {
		int n = e->wait(e, tags, MAXQ);
		uint64_t t = now_ns();
		if (t >= end)
			stop = true;
		for (int k = 0; k < n; k++) {
			int i = tags[k];
			if (depth == 1 && nlat < 2000000)
				lat[nlat++] = t - started[i];
			ops++;
			inflight--;
			if (stop)
				continue;
			uint64_t off;
			if (seq) {
				off = off_seq;
				off_seq = (off_seq + len) % (span - span % len);
			} else {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				off = ((seed >> 16) % (span / len)) * len;
			}
			started[i] = now_ns();
			e->submit(e, write, bufs[i], len, off, i);
			inflight++;
		}
	}
	double dt = (double)(now_ns() - t0) / 1e9;
	printf("%-22s %10.0f IOPS %9.1f MB/s", name, (double)ops / dt,
	       (double)ops * len / dt / 1e6);
	if (nlat) {
		qsort(lat, nlat, sizeof(lat[0]), cmp_u64);
		printf("   p50 %6.1f us", (double)lat[nlat / 2] / 1e3);
	}
	printf("\n");
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsg-blk-bench [--spin-us N] "
		   "file:PATH|vmsg:PATH|svc:NAME|nbd:URI [SECONDS]\n"
		   "4 KiB random reads at depth 1 and 32, 1 MiB sequential "
		   "reads and writes\nat depth 8 (writes: the first 256 MiB). "
		   "SECONDS per workload (3).\n"
		   "--spin-us N: vmsg:/svc: only, lib/block's client spins N "
		   "microseconds before\nit sleeps (the channel's "
		   "opts.spin_ns).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"spin-us", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct eng e;
	double secs = 3.0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': {
			errno = 0;
			unsigned long us = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' ||
			    us > 1000000) {
				fprintf(stderr, "vmsg-blk-bench: --spin-us %s: "
					"not 0..1000000\n", optarg);
				return 2;
			}
			spin_ns = (uint64_t)us * 1000u;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 2 || argc > 3) {
		usage(stderr);
		return 2;
	}
	if (argc == 3) {
		secs = strtod(argv[2], &end);
		if (*end || end == argv[2] || !(secs > 0 && secs <= 3600)) {
			fprintf(stderr, "vmsg-blk-bench: SECONDS %s: not a "
				"number of seconds in (0, 3600]\n", argv[2]);
			return 2;
		}
	}
	open_eng(&e, argv[1]);
	run(&e, "randread-4k-qd1", false, false, 4096, 1, secs);
	run(&e, "randread-4k-qd32", false, false, 4096, 32, secs);
	run(&e, "seqread-1m-qd8", false, true, 1u << 20, 8, secs);
	run(&e, "seqwrite-1m-qd8", true, true, 1u << 20, 8, secs);
	return 0;
}
