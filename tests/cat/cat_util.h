/* Helpers for the vmsg-cat tests: start vmsg-cat (or anything) with its
 * stdin, stdout and stderr on pipes, optionally as a simulated domain
 * (`xensim run`), move data through several pipes/sockets at once with one
 * poll loop, and read what a process said on stderr. VMSG_CAT is the
 * binary's path (from CMake). */
#ifndef CAT_UTIL_H
#define CAT_UTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmsg_test.h"

#define CAT_WAIT_MS 30000 /* generous: a loaded 2-core machine */

/* A started process and our ends of its standard fds (-1: not piped). */
struct cat_proc {
	pid_t pid;
	int in, out, err;
};

/* Start argv[] with stdin/stdout/stderr on fresh pipes. With domid >= 0
 * and `xensim` non-NULL, run it as `xensim run --domid N -- argv...`.
 * Our ends are close-on-exec, so no other child holds them open. */
static inline void cat_start(struct cat_proc *p, const char *xensim, int domid,
			     char *const argv[])
{
	int i[2], o[2], e[2];
	char d[16], *args[40];
	int n = 0;

	ASSERT_EQ(pipe2(i, O_CLOEXEC), 0);
	ASSERT_EQ(pipe2(o, O_CLOEXEC), 0);
	ASSERT_EQ(pipe2(e, O_CLOEXEC), 0);
	if (xensim && domid >= 0) {
		snprintf(d, sizeof(d), "%d", domid);
		args[n++] = (char *)xensim;
		args[n++] = (char *)"run";
		args[n++] = (char *)"--domid";
		args[n++] = d;
		args[n++] = (char *)"--";
	}
	for (int k = 0; argv[k] && n < 39; k++)
		args[n++] = argv[k];
	args[n] = NULL;
	fflush(NULL);
	p->pid = fork();
	ASSERT_TRUE(p->pid >= 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execv(args[0], args);
		_exit(127);
	}
	close(i[0]);
	close(o[1]);
	close(e[1]);
	p->in = i[1];
	p->out = o[0];
	p->err = e[0];
}

/* Wait for the process: exit status, or 128 + signal. */
static inline int cat_wait(struct cat_proc *p)
{
	int st;

	while (waitpid(p->pid, &st, 0) < 0)
		if (errno != EINTR)
			VMSG_TEST_FAIL("waitpid: %s", strerror(errno));
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static inline void cat_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read fd to EOF into a NUL-terminated malloc'd string (*len bytes). */
static inline char *cat_slurp(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);

	ASSERT_TRUE(b != NULL);
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int r = poll(&pf, 1, CAT_WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			VMSG_TEST_FAIL("no EOF on fd %d within %d ms", fd,
				       CAT_WAIT_MS);
		if (n + 1 == cap) {
			cap *= 2;
			b = realloc(b, cap);
			ASSERT_TRUE(b != NULL);
		}
		ssize_t k = read(fd, b + n, cap - n - 1);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		ASSERT_TRUE(k >= 0);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	b[n] = 0;
	if (len)
		*len = n;
	return b;
}

/* Read one line (without the newline) from fd, within CAT_WAIT_MS. */
static inline void cat_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		char c;
		int r = poll(&pf, 1, CAT_WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			VMSG_TEST_FAIL("no line on fd %d within %d ms", fd,
				       CAT_WAIT_MS);
		ssize_t k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			VMSG_TEST_FAIL("EOF on fd %d after '%.*s'", fd, (int)n,
				       buf);
		if (c == '\n' || n + 1 >= cap)
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
}

/* One direction of an exchange: `len` bytes of `data` written to wfd must
 * come out of rfd. */
struct cat_flow {
	int wfd, rfd;
	const unsigned char *data;
	size_t len, sent, got;
	unsigned char *rbuf; /* len bytes, allocated by cat_exchange() */
};

/* Move every flow at once (so that no pipe or ring fills up while we wait
 * on another), then check the bytes. Sets the fds non-blocking. */
static inline void cat_exchange(struct cat_flow *f, int n)
{
	for (int i = 0; i < n; i++) {
		f[i].rbuf = malloc(f[i].len ? f[i].len : 1);
		ASSERT_TRUE(f[i].rbuf != NULL);
		f[i].sent = f[i].got = 0;
		ASSERT_EQ(fcntl(f[i].wfd, F_SETFL, O_NONBLOCK), 0);
		ASSERT_EQ(fcntl(f[i].rfd, F_SETFL, O_NONBLOCK), 0);
	}
	for (;;) {
		struct pollfd pf[16];
		int m = 0, done = 1;

		for (int i = 0; i < n; i++) {
			pf[m++] = (struct pollfd){
				.fd = f[i].wfd,
				.events = f[i].sent < f[i].len ? POLLOUT : 0 };
			pf[m++] = (struct pollfd){
				.fd = f[i].rfd,
				.events = f[i].got < f[i].len ? POLLIN : 0 };
			done &= f[i].got == f[i].len;
		}
		if (done)
			break;
		int r = poll(pf, (nfds_t)m, CAT_WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			for (int i = 0; i < n; i++)
				fprintf(stderr, "flow %d: sent %zu got %zu of %zu\n",
					i, f[i].sent, f[i].got, f[i].len);
			VMSG_TEST_FAIL("exchange stalled for %d ms", CAT_WAIT_MS);
		}
		for (int i = 0; i < n; i++) {
			if (pf[2 * i].revents && f[i].sent < f[i].len) {
				size_t k = f[i].len - f[i].sent;
				ssize_t w = write(f[i].wfd, f[i].data + f[i].sent,
						  k > 65536 ? 65536 : k);
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					VMSG_TEST_FAIL("flow %d write: %s", i,
						       strerror(errno));
				if (w > 0)
					f[i].sent += (size_t)w;
			}
			if (pf[2 * i + 1].revents && f[i].got < f[i].len) {
				ssize_t k = read(f[i].rfd, f[i].rbuf + f[i].got,
						 f[i].len - f[i].got);
				if (k == 0)
					VMSG_TEST_FAIL("flow %d: EOF after %zu of "
						       "%zu bytes", i, f[i].got,
						       f[i].len);
				if (k < 0 && errno != EAGAIN && errno != EINTR)
					VMSG_TEST_FAIL("flow %d read: %s", i,
						       strerror(errno));
				if (k > 0)
					f[i].got += (size_t)k;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		if (memcmp(f[i].rbuf, f[i].data, f[i].len))
			VMSG_TEST_FAIL("flow %d: %zu bytes arrived changed", i,
				       f[i].len);
		free(f[i].rbuf);
		f[i].rbuf = NULL;
	}
}

/* len pseudo-random bytes (malloc'd) from seed. */
static inline unsigned char *cat_random(uint64_t seed, size_t len)
{
	unsigned char *b = malloc(len + 8);

	ASSERT_TRUE(b != NULL);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = vmsg_test_rand(&seed);
		memcpy(b + i, &v, 8);
	}
	return b;
}

#endif
