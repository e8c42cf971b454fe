/* Kernel transports: AF_UNIX stream and seqpacket sockets, TCP over
 * 127.0.0.1, and a pipe pair. Waiting: --wait block uses blocking fds;
 * spin makes them non-blocking and retries on EAGAIN; adaptive retries for
 * BENCH_ADAPTIVE_SPIN_NS, then sleeps in poll(). With batching on, the byte
 * streams coalesce messages into BENCH_SOCKBUF-byte writes and read through
 * a buffer of the same size; seqpacket keeps one send per message. */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct fd_end {
	int rfd, wfd;
	enum bench_wait wait;
	bool bytes; /* a byte stream: messages may arrive split */
	bool batch;
	uint8_t *wbuf, *rbuf;
	size_t wlen, roff, rlen;
	unsigned spins;
};

/* EAGAIN on fd: retry at once (spin), or after poll() once the adaptive
 * budget, counted from *since, is spent. */
static int fd_wait(struct fd_end *e, int fd, short events, uint64_t *since)
{
	struct pollfd pf = { .fd = fd, .events = events };

	if (e->wait == BENCH_WAIT_SPIN) {
		/* As the shm references do: let a peer sharing our CPU run
		 * now and then (see tp_ref.c). */
		if (++e->spins % 4096 == 0)
			sched_yield();
		return 0;
	}
	if (!*since)
		*since = bench_now_ns();
	if (bench_now_ns() - *since < BENCH_ADAPTIVE_SPIN_NS)
		return 0;
	if (poll(&pf, 1, -1) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int write_all(struct fd_end *e, const uint8_t *p, size_t len)
{
	uint64_t since = 0;

	while (len) {
		ssize_t n = write(e->wfd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			since = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int r = fd_wait(e, e->wfd, POLLOUT, &since);
			if (r < 0)
				return r;
			continue;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	return 0;
}

/* Up to len bytes (a seqpacket: one message); 0 at end of stream. */
static ssize_t read_some(struct fd_end *e, void *buf, size_t len)
{
	uint64_t since = 0;

	for (;;) {
		ssize_t n = read(e->rfd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = fd_wait(e, e->rfd, POLLIN, &since);
		if (r < 0)
			return r;
	}
}

static int flush_w(struct fd_end *e)
{
	int r = write_all(e, e->wbuf, e->wlen);

	e->wlen = 0;
	return r;
}

static int fd_send(void *end, const void *buf, size_t len, bool more)
{
	struct fd_end *e = end;
	int r;

	if (!e->bytes || !e->batch)
		return (r = write_all(e, buf, len)) < 0 ? r : (int)len;
	if (e->wlen + len > BENCH_SOCKBUF && (r = flush_w(e)) < 0)
		return r;
	if (len >= BENCH_SOCKBUF) {
		r = write_all(e, buf, len);
	} else {
		memcpy(e->wbuf + e->wlen, buf, len);
		e->wlen += len;
		r = more ? 0 : flush_w(e);
	}
	return r < 0 ? r : (int)len;
}

static int fd_flush(void *end)
{
	struct fd_end *e = end;

	return e->wlen ? flush_w(e) : 0;
}

static int fd_recv(void *end, void *buf, size_t len)
{
	struct fd_end *e = end;
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;

	if (!e->bytes) {
		n = read_some(e, buf, len);
		if (n < 0)
			return (int)n;
		return n == 0 ? 0 : (size_t)n == len ? (int)len : -EBADMSG;
	}
	while (got < len) {
		if (e->batch && e->roff < e->rlen) {
			size_t k = e->rlen - e->roff;

			if (k > len - got)
				k = len - got;
			memcpy(p + got, e->rbuf + e->roff, k);
			e->roff += k;
			got += k;
			continue;
		}
		if (e->batch && len - got < BENCH_SOCKBUF) {
			n = read_some(e, e->rbuf, BENCH_SOCKBUF);
			e->roff = 0;
			e->rlen = n > 0 ? (size_t)n : 0;
		} else {
			n = read_some(e, p + got, len - got);
			if (n > 0)
				got += (size_t)n;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			return got ? -EPIPE : 0;
	}
	return (int)len;
}

static void fd_close(void *end)
{
	struct fd_end *e = end;

	if (!e)
		return;
	close(e->rfd);
	if (e->wfd != e->rfd)
		close(e->wfd);
	free(e->wbuf);
	free(e->rbuf);
	free(e);
}

static void fd_cleanup(struct bench_link *l)
{
	for (int i = 0; i < 4; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	bench_temp_drop(l);
}

static int end_new(void **out, int rfd, int wfd, const struct bench_params *p,
		   bool bytes)
{
	struct fd_end *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->rfd = rfd;
	e->wfd = wfd;
	e->wait = p->wait;
	e->bytes = bytes;
	e->batch = p->batch && bytes;
	if (e->batch && (!(e->wbuf = malloc(BENCH_SOCKBUF)) ||
			 !(e->rbuf = malloc(BENCH_SOCKBUF)))) {
		fd_close(e);
		return -ENOMEM;
	}
	if (p->wait != BENCH_WAIT_BLOCK) {
		fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK);
		fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
	}
	*out = e;
	return 0;
}

/* ---- sockets ------------------------------------------------------------ */

enum sock_kind { K_UNIX_STREAM, K_UNIX_SEQPACKET, K_TCP };

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

static int listen_on(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (bind(fd, sa, len) < 0 || listen(fd, 16) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int unix_prepare(struct bench_link *l, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if ((r = bench_temp_dir(l, "unix")) < 0 || (r = unix_addr(&sa, l->path)) < 0)
		return r;
	if ((fd = socket(AF_UNIX, type, 0)) < 0)
		return -errno;
	if ((fd = listen_on(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0)
		return fd;
	l->fd[0] = fd;
	return 0;
}

static int ustream_prepare(struct bench_link *l, const struct bench_params *p)
{
	return unix_prepare(l, SOCK_STREAM);
}

static int useq_prepare(struct bench_link *l, const struct bench_params *p)
{
	return unix_prepare(l, SOCK_SEQPACKET);
}

static int tcp_prepare(struct bench_link *l, const struct bench_params *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -errno;
	if ((fd = listen_on(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0)
		return fd;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -errno;
	}
	l->fd[0] = fd;
	l->port = ntohs(sa.sin_port);
	return 0;
}

/* Large seqpacket messages need socket buffers to match (root may force
 * them past the sysctl limits). */
static void sock_tune(int fd, const struct bench_params *p, enum sock_kind k)
{
	int one = 1, buf = (int)(2 * p->size + 65536);

	if (k == K_TCP)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	else if (buf > 212992) {
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	}
}

static int sock_connect(const struct bench_link *l, enum sock_kind k)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct sockaddr_in si = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)l->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, r;

	fd = socket(k == K_TCP ? AF_INET : AF_UNIX,
		    k == K_UNIX_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	if (k != K_TCP && (r = unix_addr(&su, l->path)) < 0) {
		close(fd);
		return r;
	}
	r = k == K_TCP ? connect(fd, (struct sockaddr *)&si, sizeof(si))
		       : connect(fd, (struct sockaddr *)&su, sizeof(su));
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int sock_open(struct bench_link *l, int side,
		     const struct bench_params *p, void **end, enum sock_kind k)
{
	int fd, r;

	if (side == 1) {
		if ((fd = accept(l->fd[0], NULL, NULL)) < 0)
			return -errno;
	} else {
		if (l->fd[0] >= 0) { /* the listener is the server's */
			close(l->fd[0]);
			l->fd[0] = -1;
		}
		if ((fd = sock_connect(l, k)) < 0)
			return fd;
	}
	sock_tune(fd, p, k);
	if ((r = end_new(end, fd, fd, p, k != K_UNIX_SEQPACKET)) < 0)
		close(fd);
	return r;
}

static int ustream_open(struct bench_link *l, int side,
			const struct bench_params *p, void **end)
{
	return sock_open(l, side, p, end, K_UNIX_STREAM);
}

static int useq_open(struct bench_link *l, int side,
		     const struct bench_params *p, void **end)
{
	return sock_open(l, side, p, end, K_UNIX_SEQPACKET);
}

static int tcp_open(struct bench_link *l, int side,
		    const struct bench_params *p, void **end)
{
	return sock_open(l, side, p, end, K_TCP);
}

/* ---- pipes -------------------------------------------------------------- */

static int pipe_prepare(struct bench_link *l, const struct bench_params *p)
{
	/* fd[0..1]: side 0 -> side 1; fd[2..3]: side 1 -> side 0. */
	if (pipe(&l->fd[0]) < 0 || pipe(&l->fd[2]) < 0)
		return -errno;
	/* The ring size stands for the pipe's capacity (best effort). */
	fcntl(l->fd[1], F_SETPIPE_SZ, (int)p->ring);
	fcntl(l->fd[3], F_SETPIPE_SZ, (int)p->ring);
	return 0;
}

static int pipe_open(struct bench_link *l, int side,
		     const struct bench_params *p, void **end)
{
	int rfd = side ? l->fd[0] : l->fd[2], wfd = side ? l->fd[3] : l->fd[1];
	int r;

	/* Close the other side's ends, or end of stream is never seen. */
	close(side ? l->fd[1] : l->fd[0]);
	close(side ? l->fd[2] : l->fd[3]);
	for (int i = 0; i < 4; i++)
		l->fd[i] = -1;
	if ((r = end_new(end, rfd, wfd, p, true)) < 0) {
		close(rfd);
		close(wfd);
	}
	return r;
}

#define ALL_CMDS                                                               \
	(BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM) |          \
	 BENCH_CMD_BIT(BENCH_SETUP))
#define FD_OPS                                                                 \
	.send = fd_send, .flush = fd_flush, .recv = fd_recv,                   \
	.close = fd_close, .cleanup = fd_cleanup

const struct bench_transport bench_tp_unix_stream = {
	.name = "unix-stream",
	.what = "AF_UNIX SOCK_STREAM socket (listen/connect on a path)",
	.cmds = ALL_CMDS,
	.prepare = ustream_prepare,
	.open = ustream_open,
	FD_OPS,
};

const struct bench_transport bench_tp_unix_seqpacket = {
	.name = "unix-seqpacket",
	.what = "AF_UNIX SOCK_SEQPACKET socket, one datagram per message",
	.cmds = ALL_CMDS,
	.prepare = useq_prepare,
	.open = useq_open,
	FD_OPS,
};

const struct bench_transport bench_tp_tcp = {
	.name = "tcp",
	.what = "TCP over 127.0.0.1, TCP_NODELAY",
	.cmds = ALL_CMDS,
	.prepare = tcp_prepare,
	.open = tcp_open,
	FD_OPS,
};

const struct bench_transport bench_tp_pipe = {
	.name = "pipe",
	.what = "a pair of pipes (capacity set to the ring size)",
	.cmds = BENCH_CMD_BIT(BENCH_PINGPONG) | BENCH_CMD_BIT(BENCH_STREAM),
	.prepare = pipe_prepare,
	.open = pipe_open,
	FD_OPS,
};
