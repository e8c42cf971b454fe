/* Helpers shared by the host backend tests: a private temp dir for socket
 * paths, fd counting, children, and waiting on a platform for a condition
 * with a generous deadline (never asserting how fast it came). */
#ifndef HOST_TEST_UTIL_H
#define HOST_TEST_UTIL_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmsg/host.h>
#include <vmsg/platform.h>

#include "vmsg_test.h"

static inline uint64_t ht_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Make a fresh temp dir under $TMPDIR (or /tmp) into dir. */
static inline void ht_mkdtemp(char *dir, size_t cap)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, cap, "%s/vmsg-host-XXXXXX", t && *t ? t : "/tmp");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
}

/* Remove the temp dir and whatever a killed process left in it. */
static inline void ht_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char p[512];
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	ASSERT_EQ(rmdir(dir), 0);
}

/* A child that runs fn(path) and exits with what it returns. */
static inline pid_t ht_fork_run(int (*fn)(const char *path), const char *path)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(fn(path));
	return pid;
}

/* Reap a child, asserting it exited with status 0. */
static inline void ht_reap_ok(pid_t pid)
{
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		VMSG_TEST_FAIL("child %d failed: status 0x%x", (int)pid, st);
}

/* Kill a child with SIGKILL and reap it. */
static inline void ht_kill9(pid_t pid)
{
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static inline uint8_t ht_load8(const void *base, size_t off)
{
	return __atomic_load_n((const uint8_t *)base + off, __ATOMIC_ACQUIRE);
}

static inline void ht_store8(void *base, size_t off, uint8_t v)
{
	__atomic_store_n((uint8_t *)base + off, v, __ATOMIC_RELEASE);
}

static inline uint32_t ht_load32(const void *base, size_t off)
{
	return __atomic_load_n((const uint32_t *)((const uint8_t *)base + off),
			       __ATOMIC_ACQUIRE);
}

static inline void ht_store32(void *base, size_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)((uint8_t *)base + off), v,
			 __ATOMIC_RELEASE);
}

/* Run the platform's wait (its housekeeping included) until the 32-bit
 * value at base+off equals v; fail after 20 s. */
static inline void ht_wait_u32(struct vmsg_platform *p, const void *base,
			       size_t off, uint32_t v)
{
	uint64_t end = ht_now_ms() + 20000;
	while (ht_load32(base, off) != v) {
		if (ht_now_ms() > end)
			VMSG_TEST_FAIL("timed out waiting for %u at %zu", v,
				       off);
		ASSERT_GE(p->ops->wait(p, 100), 0);
	}
}

/* Same for a byte. */
static inline void ht_wait_u8(struct vmsg_platform *p, const void *base,
			      size_t off, uint8_t v)
{
	uint64_t end = ht_now_ms() + 20000;
	while (ht_load8(base, off) != v) {
		if (ht_now_ms() > end)
			VMSG_TEST_FAIL("timed out waiting for byte %u at %zu",
				       v, off);
		ASSERT_GE(p->ops->wait(p, 100), 0);
	}
}

/* Drain every pending event; afterwards ack() reports none. */
static inline void ht_drain(struct vmsg_platform *p)
{
	int r;
	while ((r = p->ops->ack(p)) == 1)
		;
	ASSERT_EQ(r, 0);
}

/* Does fd poll readable within timeout_ms? */
static inline int ht_readable(int fd, int timeout_ms)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	int r;
	do
		r = poll(&pf, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	ASSERT_GE(r, 0);
	return r;
}

#endif
