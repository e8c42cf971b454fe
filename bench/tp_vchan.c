/* Debian's libxenvchan (the incumbent) on the simulated Xen: server in
 * dom0 (libxenvchan_server_init, rings of --ring bytes each way), client
 * in dom1 (libxenvchan_client_init).
 *
 * Messages: unbatched, one libxenvchan_send per message and one
 * libxenvchan_recv per message (the library's all-or-nothing calls), as
 * an application framing fixed-size messages would; a message larger than
 * the ring cannot go whole, so it goes through write/read. Batched, the
 * messages are coalesced into libxenvchan_write calls and read through a
 * buffer (bytes.c), like the byte-stream sockets.
 *
 * Waiting: --wait block uses the library's blocking mode (it sleeps in
 * libxenvchan_wait, a read of the event channel); spin retries the
 * non-blocking calls; adaptive retries for BENCH_ADAPTIVE_SPIN_NS, then
 * polls the event fd and calls libxenvchan_wait. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <limits.h>
#include <stdio.h>

#define VC_CONNECT_NS 30000000000ull /* client: wait for the server's keys */

struct vc_end {
	struct libxenvchan *c;
	enum bench_wait wait;
	size_t rd_ring, wr_ring;
	struct bench_bytes bytes;
	unsigned spins;
};

/* The operation could not proceed: wait for the peer as --wait says.
 * *since: when this wait began (0: not yet). */
static int vc_wait(struct vc_end *e, uint64_t *since)
{
	struct pollfd pf = { .fd = libxenvchan_fd_for_select(e->c),
			     .events = POLLIN };

	if (e->wait == BENCH_WAIT_SPIN) {
		/* As the other spinning transports do: let a peer sharing
		 * our CPU run now and then. */
		if (++e->spins % 4096 == 0)
			sched_yield();
		return 0;
	}
	if (!*since)
		*since = bench_now_ns();
	if (e->wait == BENCH_WAIT_ADAPTIVE &&
	    bench_now_ns() - *since < BENCH_ADAPTIVE_SPIN_NS)
		return 0;
	if (poll(&pf, 1, -1) < 0 && errno != EINTR)
		return -errno;
	/* The library's errno, not a generic -EIO: a failure says its cause. */
	return libxenvchan_wait(e->c) < 0 ? (errno ? -errno : -EIO) : 0;
}

/* The library says -1 for a closed peer and for a request it cannot
 * serve; tell them apart. */
static int vc_err(struct vc_end *e)
{
	return libxenvchan_is_open(e->c) == 1 ? -EIO : -EPIPE;
}

static int vc_write_some(void *ctx, const void *buf, size_t len)
{
	struct vc_end *e = ctx;
	uint64_t since = 0;
	int n, r;

	for (;;) {
		if ((n = libxenvchan_write(e->c, buf, len)) != 0)
			return n < 0 ? vc_err(e) : n;
		if (libxenvchan_is_open(e->c) != 1)
			return -EPIPE;
		if ((r = vc_wait(e, &since)) < 0)
			return r;
	}
}

static int vc_read_some(void *ctx, void *buf, size_t len)
{
	struct vc_end *e = ctx;
	uint64_t since = 0;
	int n, r;

	for (;;) {
		errno = 0;
		if ((n = libxenvchan_read(e->c, buf, len)) > 0)
			return n;
		int err = errno;
		/* Closed with nothing left: the end of the stream. Debian's
		 * libxenvchan_read looks at the ring before the live byte, so
		 * a peer that writes its last bytes and closes in between
		 * makes it say -1 (closed) with data still there: read on. */
		if (libxenvchan_is_open(e->c) == 0) {
			if (libxenvchan_data_ready(e->c) == 0)
				return 0;
			continue;
		}
		if (n < 0) /* the library's cause (EPIPE: closed with data left) */
			return err ? -err : -EIO;
		if ((r = vc_wait(e, &since)) < 0)
			return r;
	}
}

static int vc_prepare(struct bench_link *l, const struct bench_params *p)
{
	(void)p;
	return bench_sim_prepare(l, "vchan");
}

static void vc_cleanup(struct bench_link *l)
{
	(void)l;
}

static void vc_close(void *end)
{
	struct vc_end *e = end;

	if (!e)
		return;
	if (e->c)
		libxenvchan_close(e->c);
	bench_bytes_free(&e->bytes);
	free(e);
}

static int vc_end_new(struct vc_end **out, const struct bench_params *p)
{
	struct vc_end *e = calloc(1, sizeof(*e));

	if (!e || bench_bytes_init(&e->bytes, p->batch) < 0) {
		free(e);
		return -ENOMEM;
	}
	e->wait = p->wait;
	e->bytes.write_some = vc_write_some;
	e->bytes.read_some = vc_read_some;
	e->bytes.ctx = e;
	*out = e;
	return 0;
}

static void vc_ready(struct vc_end *e)
{
	e->c->blocking = e->wait == BENCH_WAIT_BLOCK;
	e->rd_ring = (size_t)1 << e->c->read.order;
	e->wr_ring = (size_t)1 << e->c->write.order;
}

/* Server, side 1: publish (setup: before the client's clock starts). */
static int vc_listen(struct bench_link *l, const struct bench_params *p,
		     void **end)
{
	struct vc_end *e;
	int r;

	if ((r = vc_end_new(&e, p)) < 0)
		return r;
	e->c = libxenvchan_server_init(NULL, BENCH_SIM_CLIENT_DOM, l->path,
				       p->ring, p->ring);
	if (!e->c) {
		r = errno ? -errno : -EIO;
		vc_close(e);
		return r;
	}
	vc_ready(e);
	*end = e;
	return 0;
}

static int vc_open(struct bench_link *l, int side, const struct bench_params *p,
		   void **end)
{
	struct vc_end *e;
	uint64_t since = 0, t0;
	int r;

	if (side == 1) {
		if (!*end && (r = vc_listen(l, p, end)) < 0)
			return r;
		e = *end;
		/* 2: no client yet. The client's connect raises our port. */
		while (libxenvchan_is_open(e->c) == 2) {
			enum bench_wait w = e->wait;

			e->wait = BENCH_WAIT_BLOCK;
			r = vc_wait(e, &since);
			e->wait = w;
			if (r < 0) {
				vc_close(e);
				*end = NULL;
				return r;
			}
		}
		return 0;
	}
	if ((r = vc_end_new(&e, p)) < 0)
		return r;
	/* The server may not have published yet (ping-pong and stream open
	 * both sides at once): retry until it has. */
	for (t0 = bench_now_ns();; usleep(1000)) {
		if ((e->c = libxenvchan_client_init(NULL, BENCH_SIM_SERVER_DOM,
						    l->path)))
			break;
		if (bench_now_ns() - t0 > VC_CONNECT_NS) {
			vc_close(e);
			return -ETIMEDOUT;
		}
	}
	vc_ready(e);
	*end = e;
	return 0;
}

static int vc_send(void *end, const void *buf, size_t len, bool more)
{
	struct vc_end *e = end;
	uint64_t since = 0;
	int n, r;

	if (e->bytes.batch || len > e->wr_ring)
		return bench_bytes_send(&e->bytes, buf, len, more);
	for (;;) {
		if ((n = libxenvchan_send(e->c, buf, len)) > 0)
			return (int)len;
		if (n < 0)
			return vc_err(e);
		if ((r = vc_wait(e, &since)) < 0)
			return r;
	}
}

static int vc_flush(void *end)
{
	return bench_bytes_flush(&((struct vc_end *)end)->bytes);
}

static int vc_recv(void *end, void *buf, size_t len)
{
	struct vc_end *e = end;
	uint64_t since = 0;
	int n, r;

	if (e->bytes.batch || len > e->rd_ring)
		return bench_bytes_recv(&e->bytes, buf, len);
	for (;;) {
		errno = 0;
		if ((n = libxenvchan_recv(e->c, buf, len)) > 0)
			return (int)len;
		int err = errno;
		if (libxenvchan_is_open(e->c) == 0) {
			int left = libxenvchan_data_ready(e->c);

			if (left == 0)
				return 0;
			if ((size_t)left < len)
				return -EPIPE;
			continue; /* the rest came with the close */
		}
		if (n < 0) /* the library's cause, as vc_read_some says it */
			return err ? -err : -EIO;
		if ((r = vc_wait(e, &since)) < 0)
			return r;
	}
}

const struct bench_transport bench_tp_libxenvchan_sim = {
	.name = "libxenvchan-sim",
	.what = "Debian's libxenvchan on the simulated Xen (dom0 server, "
		"dom1 client), send/recv per message",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |
		BENCH_CMD_BIT(BENCH_SETUP),
	.unavailable = bench_sim_unavailable,
	.prepare = vc_prepare,
	.listen = vc_listen,
	.open = vc_open,
	.send = vc_send,
	.flush = vc_flush,
	.recv = vc_recv,
	.close = vc_close,
	.cleanup = vc_cleanup,
	.wrap_side = bench_sim_wrap,
};

/* The same program on the drop-in libxenvchan (dropin/, docs/
 * libxenvchan.md): both sides run with LD_LIBRARY_PATH naming its
 * directory, behind the simulator's libraries, exactly as a user would run
 * an existing program on it. The directory: VMSG_DROPIN_DIR, else found
 * from this program's own, as find_xensim (sim.c) finds xensim: the build
 * tree's <build>/dropin/lib beside <build>/bench/vmsg-bench, or the
 * installed <libdir>/vmsg-vchan (BENCH_DROPIN_REL, relative to <bindir>).
 * No absolute path is compiled in: the installed program must not name
 * the directory it was built in. */
static const char *dropin_dir(void)
{
	static char dir[PATH_MAX];
	char self[PATH_MAX], lib[PATH_MAX + 32], *sl;
	const char *d = getenv("VMSG_DROPIN_DIR");
	ssize_t n;

	if (d && *d)
		return d;
	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "(unknown: set VMSG_DROPIN_DIR)";
	self[n] = 0;
	if ((sl = strrchr(self, '/')))
		*sl = 0;
	snprintf(dir, sizeof(dir), "%.*s/../dropin/lib", PATH_MAX - 32, self);
	snprintf(lib, sizeof(lib), "%s/libxenvchan.so.4.17", dir);
	if (access(lib, R_OK) != 0)
		snprintf(dir, sizeof(dir), "%.*s/%s", PATH_MAX - 64, self,
			 BENCH_DROPIN_REL);
	return dir;
}

static const char *vc_dropin_unavailable(void)
{
	static char why[PATH_MAX + 64];
	char lib[PATH_MAX];

	snprintf(lib, sizeof(lib), "%s/libxenvchan.so.4.17", dropin_dir());
	if (access(lib, R_OK) != 0) {
		snprintf(why, sizeof(why), "no drop-in %s (set VMSG_DROPIN_DIR)", lib);
		return why;
	}
	return bench_sim_unavailable();
}

static int vc_dropin_wrap(const struct bench_link *l, int side,
			  const char **argv, int max)
{
	static char env[PATH_MAX + 32];

	if (max < 7)
		return 0;
	snprintf(env, sizeof(env), "LD_LIBRARY_PATH=%s", dropin_dir());
	argv[0] = "/usr/bin/env";
	argv[1] = env;
	int n = bench_sim_wrap(l, side, argv + 2, max - 2);
	return n ? n + 2 : 0;
}

const struct bench_transport bench_tp_libxenvchan_dropin_sim = {
	.name = "libxenvchan-dropin-sim",
	.what = "the same program on vmsg's drop-in libxenvchan.so.4.17 "
		"(LD_LIBRARY_PATH), simulated Xen",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |
		BENCH_CMD_BIT(BENCH_SETUP),
	.unavailable = vc_dropin_unavailable,
	.prepare = vc_prepare,
	.listen = vc_listen,
	.open = vc_open,
	.send = vc_send,
	.flush = vc_flush,
	.recv = vc_recv,
	.close = vc_close,
	.cleanup = vc_cleanup,
	.wrap_side = vc_dropin_wrap,
};
