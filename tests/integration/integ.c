/* Helpers shared by the two-process integration tests. */
#define _GNU_SOURCE
#include "integ.h"
#include "integ_xen.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool use_xen;
static int self_domid; /* xen: the body is domain 0, its children 1 */

void integ_init(int *argc, char ***argv)
{
	char **v = *argv;

	if (*argc >= 2 && !strncmp(v[1], "--xen", 5) &&
	    (v[1][5] == 0 || v[1][5] == '=')) {
#ifdef INTEG_HAVE_XEN
		integ__xen_drive(*argc, v); /* does not return */
#else
		fprintf(stderr, "built without the Xen backend: skipping\n");
		exit(VMSG_TEST_SKIP);
#endif
	}
#ifdef INTEG_HAVE_XEN
	if (*argc >= 2 && !strcmp(v[1], INTEG_XEN_ANCHOR))
		integ__xen_anchor(*argc, v); /* does not return */
#endif
	if (*argc >= 2 && !strcmp(v[1], INTEG_XEN_BODY)) {
		use_xen = true;
		v[1] = v[0]; /* drop the flag, keep the program name */
		(*argv)++;
		(*argc)--;
	}
	setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the sim's output */
	printf("backend: %s\n", integ_backend_name());
}

bool integ_xen(void)
{
	return use_xen;
}

const char *integ_backend_name(void)
{
	return use_xen ? "xen (simulated: body in dom0, peer in dom1)"
		       : "host";
}

void integ_tmp_make(struct integ_tmp *t)
{
	static unsigned seq;
	const char *base = getenv("TMPDIR");

	if (use_xen) { /* a port name; nothing to create */
		t->dir[0] = 0;
		snprintf(t->path, sizeof(t->path), "integ-%d-%u", (int)getpid(),
			 seq++);
		return;
	}
	/* Socket paths are limited to 107 bytes; fall back on a short dir. */
	if (!base || !*base || strlen(base) > 64)
		base = "/tmp";
	snprintf(t->dir, sizeof(t->dir), "%s/vmsg-integ.XXXXXX", base);
	if (!mkdtemp(t->dir))
		VMSG_TEST_FAIL("mkdtemp(%s): %s", t->dir, strerror(errno));
	snprintf(t->path, sizeof(t->path), "%s/sock", t->dir);
}

void integ_tmp_drop(struct integ_tmp *t)
{
	if (!t->dir[0])
		return;
	unlink(t->path);
	if (rmdir(t->dir) < 0)
		fprintf(stderr, "rmdir(%s): %s\n", t->dir, strerror(errno));
}

int integ_serve(vmsg_chan **c, const char *addr,
		const struct vmsg_chan_opts *o)
{
#ifdef INTEG_HAVE_XEN
	if (use_xen)
		return integ__xen_serve(c, self_domid, addr, o);
#endif
	return vmsg_host_serve(c, addr, o);
}

static int connect_once(vmsg_chan **c, const char *addr,
			const struct vmsg_chan_opts *o, int timeout_ms)
{
#ifdef INTEG_HAVE_XEN
	if (use_xen)
		return integ__xen_connect(c, self_domid, addr, o, timeout_ms);
#endif
	return vmsg_host_connect(c, addr, o, timeout_ms);
}

int integ_connect(vmsg_chan **c, const char *addr,
		  const struct vmsg_chan_opts *o, int timeout_ms)
{
	uint64_t end = integ_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int r;

	for (;;) {
		r = connect_once(c, addr, o, 1000);
		/* Xen: -EACCES for a key below a directory we may not read,
		 * until the server has written it. */
		if (r != -ENOENT && r != -ECONNREFUSED && r != -ETIMEDOUT &&
		    !(r == -EACCES && use_xen))
			return r;
		if (integ_now_ns() > end)
			return r;
		usleep(2000);
	}
}

bool integ_server_gone(const char *addr)
{
#ifdef INTEG_HAVE_XEN
	if (use_xen)
		return integ__xen_gone(self_domid, addr);
#endif
	return access(addr, F_OK) < 0 && errno == ENOENT;
}

pid_t integ_fork(int (*fn)(void *), void *arg)
{
	pid_t parent = getpid(), pid;

	fflush(NULL); /* or buffered output would be printed twice */
	pid = fork();
	if (pid < 0)
		VMSG_TEST_FAIL("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* the parent died before prctl */
		_exit(1);
#ifdef INTEG_HAVE_XEN
	if (use_xen) /* before any Xen handle is opened */
		self_domid = integ__xen_become(1);
#endif
	exit(fn(arg));
}

int integ_reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			VMSG_TEST_FAIL("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

uint64_t integ_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void integ_hash_init(struct integ_hash *s)
{
	*s = (struct integ_hash){ .h = 0x6a09e667f3bcc909ull };
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

void integ_hash_update(struct integ_hash *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;

	s->total += n;
	while (n && s->ncarry) { /* finish the word a previous call began */
		s->carry |= (uint64_t)*b++ << (8 * s->ncarry);
		n--;
		if (++s->ncarry == 8) {
			s->h = mix(s->h, s->carry);
			s->carry = 0;
			s->ncarry = 0;
		}
	}
	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		s->h = mix(s->h, w);
	}
	for (; n; n--) /* start a word the next call finishes */
		s->carry |= (uint64_t)*b++ << (8 * s->ncarry++);
}

uint64_t integ_hash_final(const struct integ_hash *s)
{
	return mix(mix(s->h, s->carry), s->total);
}

void integ_fill_random(uint64_t *seed, void *buf, size_t n)
{
	uint8_t *b = buf;
	uint64_t w;

	for (; n >= 8; b += 8, n -= 8) {
		w = vmsg_test_rand(seed);
		memcpy(b, &w, 8);
	}
	if (n) {
		w = vmsg_test_rand(seed);
		memcpy(b, &w, n);
	}
}

void integ_write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			VMSG_TEST_FAIL("pipe write: %s", strerror(errno));
		p += r;
		n -= (size_t)r;
	}
}

void integ_read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			VMSG_TEST_FAIL("pipe read: %s", r ? strerror(errno)
							    : "EOF");
		p += r;
		n -= (size_t)r;
	}
}
