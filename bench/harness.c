/* The harness: one run of one measurement is two processes, one per side,
 * forked (or re-executed under a transport's wrapper) from the parent,
 * each pinned to its CPU, each driving the transport's function table the
 * same way whatever the transport. Each side writes a struct
 * bench_side_result to its own pipe; the parent collects both and kills
 * the survivor if one side fails. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_temp_dir(struct bench_link *l, const char *tag)
{
	const char *t = getenv("TMPDIR");

	if (!t || !*t || strlen(t) > 48)
		t = "/tmp";
	snprintf(l->dir, sizeof(l->dir), "%s/vmsg-bench-%s.XXXXXX", t, tag);
	if (!mkdtemp(l->dir)) {
		l->dir[0] = 0;
		return -errno;
	}
	snprintf(l->path, sizeof(l->path), "%s/sock", l->dir);
	return 0;
}

void bench_temp_drop(struct bench_link *l)
{
	if (l->path[0])
		unlink(l->path);
	if (l->dir[0])
		rmdir(l->dir);
}

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int side_fail(struct bench_side_result *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->status = err < 0 ? err : -EIO;
	return r->status;
}

static bool done(const struct bench_params *p, uint64_t ops, uint64_t start,
		 uint64_t now)
{
	return p->count ? ops >= p->count : now - start >= p->duration_ns;
}

/* ---- the roles ---------------------------------------------------------- */

static int pingpong_client(const struct bench_transport *t, void *e,
			   const struct bench_params *p, uint8_t *tx,
			   uint8_t *rx, struct bench_side_result *r)
{
	size_t stamp = p->size < 8 ? p->size : 8;
	uint64_t start = 0, prev = 0, now, seq = 0;
	int n;

	for (;; seq++) {
		bool measured = seq >= p->warmup;

		if (seq == p->warmup)
			prev = start = bench_now_ns();
		memcpy(tx, &seq, stamp);
		if ((n = t->send(e, tx, p->size, false)) < 0)
			return side_fail(r, n, "send: %s", strerror(-n));
		if ((n = t->recv(e, rx, p->size)) <= 0)
			return side_fail(r, n ? n : -EPIPE, "recv: %s",
					 strerror(n ? -n : EPIPE));
		if (memcmp(rx, tx, stamp))
			return side_fail(r, -EBADMSG, "echo mismatch at %llu",
					 (unsigned long long)seq);
		if (!measured)
			continue;
		/* One clock read per round trip: each sample runs from the
		 * previous read, so it includes the loop's own few ns. */
		now = bench_now_ns();
		bench_hist_add(&r->hist, now - prev);
		prev = now;
		r->ops++;
		if (done(p, r->ops, start, now))
			break;
	}
	r->bytes = r->ops * p->size * 2;
	r->elapsed_ns = prev - start;
	return 0;
}

static int pingpong_server(const struct bench_transport *t, void *e,
			   const struct bench_params *p, uint8_t *buf,
			   struct bench_side_result *r)
{
	int n;

	while ((n = t->recv(e, buf, p->size)) > 0)
		if ((n = t->send(e, buf, p->size, false)) < 0)
			return side_fail(r, n, "echo send: %s", strerror(-n));
	if (n < 0)
		return side_fail(r, n, "echo recv: %s", strerror(-n));
	return 0;
}

static int stream_producer(const struct bench_transport *t, void *e,
			   const struct bench_params *p, uint8_t *buf,
			   struct bench_side_result *r)
{
	uint64_t total = p->count ? p->warmup + p->count : UINT64_MAX;
	uint64_t start = bench_now_ns(), sent = 0;
	int n;

	while (sent < total) {
		bool more = p->batch && (sent + 1) % BENCH_BATCH != 0;

		if (sent == p->warmup)
			start = bench_now_ns();
		if ((n = t->send(e, buf, p->size, more)) < 0)
			return side_fail(r, n, "send: %s", strerror(-n));
		sent++;
		if (!p->count && sent > p->warmup && sent % 64 == 0 &&
		    bench_now_ns() - start >= p->duration_ns)
			break;
	}
	if (t->flush && (n = t->flush(e)) < 0)
		return side_fail(r, n, "flush: %s", strerror(-n));
	r->ops = sent > p->warmup ? sent - p->warmup : 0;
	r->bytes = r->ops * p->size;
	r->elapsed_ns = bench_now_ns() - start;
	return 0;
}

/* Counts until the producer's close: the clock starts after the warmup
 * messages and stops at end of stream. */
static int stream_consumer(const struct bench_transport *t, void *e,
			   const struct bench_params *p, uint8_t *buf,
			   struct bench_side_result *r)
{
	uint64_t i = 0, start = bench_now_ns();
	int n;

	while ((n = t->recv(e, buf, p->size)) > 0) {
		if (++i == p->warmup)
			start = bench_now_ns();
	}
	if (n < 0)
		return side_fail(r, n, "recv: %s", strerror(-n));
	r->elapsed_ns = bench_now_ns() - start;
	r->ops = i > p->warmup ? i - p->warmup : 0;
	r->bytes = r->ops * p->size;
	if (i < p->warmup + 1)
		return side_fail(r, -EPIPE, "stream ended after %llu messages",
				 (unsigned long long)i);
	return 0;
}

/* Setup: per iteration, the client asks for a server (a byte on sync
 * c2s), the server publishes itself (listen) and says so (a byte on s2c),
 * then accepts and sends one byte; the client's sample runs from before
 * its open to the arrival of that byte. The client ends the loop with a
 * SETUP_DONE byte on c2s. sync[] = { s2c read, s2c write, c2s read, c2s write }. */
#define SETUP_DONE 0xd0 /* on c2s: no more connections */

static int setup_side(const struct bench_transport *t, struct bench_link *l,
		      int side, const struct bench_params *p, int sync[4],
		      struct bench_side_result *r)
{
	uint64_t start = 0, t0, now;
	uint8_t b = 0x5a;
	void *e;
	int n;

	for (uint64_t it = 0;; it++) {
		e = NULL;
		if (side == 1) {
			uint8_t ask;

			if (read(sync[2], &ask, 1) != 1 || ask == SETUP_DONE)
				return 0; /* the client has finished */
			if (t->listen && (n = t->listen(l, p, &e)) < 0)
				return side_fail(r, n, "listen: %s",
						 strerror(-n));
			if (write(sync[1], &b, 1) != 1)
				return side_fail(r, -EPIPE, "client went away");
			if ((n = t->open(l, 1, p, &e)) < 0)
				return side_fail(r, n, "accept: %s",
						 strerror(-n));
			n = t->send(e, &b, 1, false);
			/* Wait for the client's close so the next listen
			 * never meets this connection. */
			if (n >= 0)
				n = t->recv(e, &b, 1);
			t->close(e);
			if (n < 0)
				return side_fail(r, n, "send: %s",
						 strerror(-n));
			continue;
		}
		if (write(sync[3], &b, 1) != 1 || read(sync[0], &b, 1) != 1)
			return side_fail(r, -EPIPE, "server went away");
		if (it == p->warmup)
			start = bench_now_ns();
		t0 = bench_now_ns();
		if ((n = t->open(l, 0, p, &e)) < 0)
			return side_fail(r, n, "connect: %s", strerror(-n));
		n = t->recv(e, &b, 1);
		now = bench_now_ns();
		t->close(e);
		if (n != 1)
			return side_fail(r, n < 0 ? n : -EPIPE,
					 "first byte: %s",
					 strerror(n < 0 ? -n : EPIPE));
		if (it < p->warmup)
			continue;
		bench_hist_add(&r->hist, now - t0);
		r->ops++;
		if (done(p, r->ops, start, now))
			break;
	}
	r->elapsed_ns = bench_now_ns() - start;
	/* Tell the server we are done. Not by closing alone: a wrapper
	 * between the harness and the server (xensim run) holds a copy of
	 * sync[3] for as long as the server lives. */
	b = SETUP_DONE;
	if (write(sync[3], &b, 1) != 1)
		return side_fail(r, -EPIPE, "server went away");
	close(sync[3]);
	return 0;
}

/* Everything one side does; the result goes to res_fd. */
static int side_run(const struct bench_transport *t, struct bench_link *l,
		    int side, const struct bench_params *p, int res_fd,
		    int ready[4])
{
	static struct bench_side_result r;
	uint8_t *tx = NULL, *rx = NULL;
	void *e = NULL;
	int n;

	memset(&r, 0, sizeof(r));
	bench_hist_init(&r.hist);
	if ((n = pin(p->cpu[side])) < 0) {
		side_fail(&r, n, "sched_setaffinity: %s", strerror(-n));
		goto out;
	}
	tx = malloc(p->size ? p->size : 1);
	rx = malloc(p->size ? p->size : 1);
	if (!tx || !rx) {
		side_fail(&r, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->size; i++)
		tx[i] = (uint8_t)(i * 131u + 7u);
	if (p->cmd == BENCH_SETUP) {
		/* Keep only our ends, so the other's exit is seen. */
		close(ready[side ? 0 : 1]);
		close(ready[side ? 3 : 2]);
		setup_side(t, l, side, p, ready, &r);
		goto out;
	}
	if ((n = t->open(l, side, p, &e)) < 0) {
		side_fail(&r, n, "open: %s", strerror(-n));
		goto out;
	}
	if (p->cmd == BENCH_PINGPONG)
		side ? pingpong_server(t, e, p, rx, &r)
		     : pingpong_client(t, e, p, tx, rx, &r);
	else
		side ? stream_consumer(t, e, p, rx, &r)
		     : stream_producer(t, e, p, tx, &r);
	t->close(e);
out:
	free(tx);
	free(rx);
	for (size_t off = 0; off < sizeof(r);) {
		ssize_t w = write(res_fd, (char *)&r + off, sizeof(r) - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	return r.status ? 1 : 0;
}

/* ---- re-executed sides -------------------------------------------------- */

/* Everything a re-executed side needs, sent through a pipe as one blob (the
 * same binary reads it, so the layout matches). */
struct side_blob {
	char tp[64];
	int side, res_fd, ready[4];
	struct bench_params p;
	struct bench_link l;
};

static void exec_side(const struct bench_transport *t, struct bench_link *l,
		      int side, const struct bench_params *p, int res_fd,
		      int ready[4])
{
	struct side_blob b = { .side = side, .res_fd = res_fd,
			       .ready = { ready[0], ready[1], ready[2], ready[3] }, .p = *p,
			       .l = *l };
	const char *argv[16];
	char fdarg[16], self[4096];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int pfd[2], n = 0;

	/* Our own path, resolved here: under a wrapper "/proc/self/exe"
	 * would name the wrapper. */
	if (k <= 0)
		_exit(127);
	self[k] = 0;
	snprintf(b.tp, sizeof(b.tp), "%s", t->name);
	if (pipe(pfd) < 0 || write(pfd[1], &b, sizeof(b)) != sizeof(b))
		_exit(127);
	close(pfd[1]);
	if (t->wrap_side)
		n = t->wrap_side(l, side, argv, 10);
	snprintf(fdarg, sizeof(fdarg), "%d", pfd[0]);
	argv[n++] = self;
	argv[n++] = "__side";
	argv[n++] = fdarg;
	argv[n] = NULL;
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

int bench_side_main(int argc, char **argv)
{
	struct side_blob b;
	const struct bench_transport *t;
	int fd;

	if (argc != 3)
		return 2;
	/* A wrapper (xensim run) between us and the harness does not pass
	 * the harness's SIGKILL on: die with the wrapper. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = atoi(argv[2]);
	if (read(fd, &b, sizeof(b)) != sizeof(b))
		return 2;
	close(fd);
	b.tp[sizeof(b.tp) - 1] = 0;
	if (!(t = bench_transport_find(b.tp)))
		return 2;
	return side_run(t, &b.l, b.side, &b.p, b.res_fd, b.ready);
}

/* ---- the parent --------------------------------------------------------- */

static pid_t spawn(const struct bench_transport *t, struct bench_link *l,
		   int side, const struct bench_params *p, bool reexec,
		   int res[2], int other_res[2], int ready[4])
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(res[0]);
	close(other_res[0]);
	close(other_res[1]);
	if (reexec || t->wrap_side) {
		/* The fds the side needs must survive exec. */
		fcntl(res[1], F_SETFD, 0);
		exec_side(t, l, side, p, res[1], ready);
	}
	_exit(side_run(t, l, side, p, res[1], ready));
}

/* Read a result from fd until EOF; false if it was incomplete. */
static bool read_result(int fd, struct bench_side_result *r, size_t *got)
{
	ssize_t n = read(fd, (char *)r + *got, sizeof(*r) - *got);

	if (n > 0) {
		*got += (size_t)n;
		return true;
	}
	return n < 0 && errno == EINTR;
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int bench_run(const struct bench_transport *t, const struct bench_params *p,
	      bool reexec, struct bench_side_result *out, char *err,
	      size_t errsz)
{
	static struct bench_side_result res[2];
	struct bench_link l;
	int pipes[2][2] = { { -1, -1 }, { -1, -1 } }, ready[4] = { -1, -1, -1, -1 };
	size_t got[2] = { 0, 0 };
	bool open_[2] = { false, false };
	pid_t pid[2] = { -1, -1 };
	int r, measuring = p->cmd == BENCH_STREAM ? 1 : 0;

	memset(&l, 0, sizeof(l));
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 4; i++)
		l.fd[i] = -1;
	if ((t->flags & BENCH_TP_NO_EXEC) && !t->wrap_side)
		reexec = false;
	if ((r = t->prepare(&l, p)) < 0) {
		snprintf(err, errsz, "prepare: %s", strerror(-r));
		return r;
	}
	if (pipe2(pipes[0], O_CLOEXEC) < 0 || pipe2(pipes[1], O_CLOEXEC) < 0 ||
	    pipe(&ready[0]) < 0 || pipe(&ready[2]) < 0) {
		r = -errno;
		snprintf(err, errsz, "pipe: %s", strerror(-r));
		goto out;
	}
	pid[1] = spawn(t, &l, 1, p, reexec, pipes[1], pipes[0], ready);
	pid[0] = spawn(t, &l, 0, p, reexec, pipes[0], pipes[1], ready);
	close(pipes[0][1]);
	close(pipes[1][1]);
	for (int i = 0; i < 4; i++)
		close(ready[i]);
	/* The sides have their copies; ours would hide end of stream. */
	for (int i = 0; i < 4; i++)
		if (l.fd[i] >= 0) {
			close(l.fd[i]);
			l.fd[i] = -1;
		}
	pipes[0][1] = pipes[1][1] = -1;
	open_[0] = pid[0] > 0;
	open_[1] = pid[1] > 0;
	while (open_[0] || open_[1]) {
		struct pollfd pf[2];
		int np = 0, idx[2];

		for (int s = 0; s < 2; s++)
			if (open_[s]) {
				pf[np] = (struct pollfd){ .fd = pipes[s][0],
							  .events = POLLIN };
				idx[np++] = s;
			}
		if (poll(pf, (nfds_t)np, -1) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < np; k++) {
			int s = idx[k];

			if (!pf[k].revents || read_result(pipes[s][0], &res[s],
							  &got[s]))
				continue;
			open_[s] = false;
			/* A side that failed (or died) leaves its peer
			 * waiting on a transport that may never notice:
			 * end the peer. */
			if ((got[s] != sizeof(res[s]) || res[s].status) &&
			    pid[!s] > 0 && open_[!s]) {
				kill(pid[!s], SIGKILL);
				open_[!s] = false;
			}
		}
	}
	r = 0;
	for (int s = 0; s < 2; s++) {
		int st = pid[s] > 0 ? reap(pid[s]) : -1;

		if (r)
			continue;
		if (got[s] == sizeof(res[s]) && res[s].status) {
			r = res[s].status;
			snprintf(err, errsz, "side %d: %s", s, res[s].err);
		} else if (got[s] != sizeof(res[s]) || st != 0) {
			r = -ECHILD;
			snprintf(err, errsz, "side %d died (status %d)", s, st);
		}
	}
	if (!r) {
		*out = res[measuring];
		if (p->cmd == BENCH_STREAM && res[0].ops != res[1].ops) {
			r = -EBADMSG;
			snprintf(err, errsz, "sent %llu measured messages, "
				 "received %llu",
				 (unsigned long long)res[0].ops,
				 (unsigned long long)res[1].ops);
		}
	}
out:
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < 2; k++)
			if (pipes[s][k] >= 0)
				close(pipes[s][k]);
	t->cleanup(&l);
	return r;
}
