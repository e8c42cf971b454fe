/* The test programs' few helpers: typed asserts that say what differed and
 * where, and the skip exit code ctest knows (77). One program per test;
 * tests/CMakeLists.txt declares them all with their timeouts. */
#ifndef VMSG_TEST_H
#define VMSG_TEST_H

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define VMSG_TEST_SKIP 77

/* A harness's cleanup for a failed assertion (sim_harness.h: dump the
 * simulator's log, stop its daemons), run by vmsg_test_abort() before it
 * aborts. It runs in the failing code's own context: done from a SIGABRT
 * handler instead, its fork, stdio and malloc are unsafe (ThreadSanitizer
 * reports them, and a handler that interrupted a lock holder can hang).
 * Weak: one pointer however many of a test's files include this. */
__attribute__((weak)) void (*vmsg_test_on_fail)(void);

static inline _Noreturn void vmsg_test_abort(void)
{
	void (*f)(void) = vmsg_test_on_fail;
	vmsg_test_on_fail = NULL; /* an assertion inside it aborts plainly */
	if (f)
		f();
	abort();
}

#define VMSG_TEST_FAIL(...)                                                    \
	do {                                                                   \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		vmsg_test_abort();                                             \
	} while (0)

#define ASSERT_TRUE(c)                                                         \
	do {                                                                   \
		if (!(c))                                                      \
			VMSG_TEST_FAIL("ASSERT_TRUE(%s) failed", #c);          \
	} while (0)

#define VMSG_ASSERT_OP(a, op, b)                                               \
	do {                                                                   \
		long long va_ = (long long)(a), vb_ = (long long)(b);          \
		if (!(va_ op vb_))                                             \
			VMSG_TEST_FAIL("%s %s %s: %lld vs %lld", #a, #op, #b,   \
				       va_, vb_);                              \
	} while (0)

#define ASSERT_EQ(a, b) VMSG_ASSERT_OP(a, ==, b)
#define ASSERT_NE(a, b) VMSG_ASSERT_OP(a, !=, b)
#define ASSERT_LT(a, b) VMSG_ASSERT_OP(a, <, b)
#define ASSERT_LE(a, b) VMSG_ASSERT_OP(a, <=, b)
#define ASSERT_GT(a, b) VMSG_ASSERT_OP(a, >, b)
#define ASSERT_GE(a, b) VMSG_ASSERT_OP(a, >=, b)

#define ASSERT_MEM_EQ(a, b, n)                                                 \
	do {                                                                   \
		if (memcmp((a), (b), (n)) != 0)                                \
			VMSG_TEST_FAIL("memory %s != %s (%zu bytes)", #a, #b,   \
				       (size_t)(n));                           \
	} while (0)

/* A small deterministic PRNG (xorshift64*) so failures reproduce from the
 * printed seed. */
static inline uint64_t vmsg_test_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* FNV-1a, 64 bit: streaming checksum for data-integrity tests. */
static inline uint64_t vmsg_test_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define VMSG_TEST_FNV_INIT 0xcbf29ce484222325ULL

/* Open fds of this process (the listing's own not counted): a test that
 * ends with what it started with leaked none. */
static inline int vmsg_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ASSERT_TRUE(d != NULL);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/* A "Key: N kB" line of /proc/PID/status (pid "self" for ours), in
 * bytes: RssAnon, RssShmem, ... */
static inline unsigned long vmsg_test_proc_status(const char *pid,
						  const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%s/status", pid);
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	unsigned long kb = 0;
	int found = 0;
	size_t k = strlen(key);
	while (!found && fgets(line, sizeof line, f))
		found = strncmp(line, key, k) == 0 && line[k] == ':' &&
			sscanf(line + k + 1, "%lu", &kb) == 1;
	fclose(f);
	if (!found)
		VMSG_TEST_FAIL("no %s in %s", key, path);
	return kb * 1024;
}

/* CPU time (user + system) process pid has used, in seconds: a daemon
 * that should be asleep is checked not to spin. */
static inline double vmsg_test_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* after the command's name */
	ASSERT_TRUE(p != NULL);
	unsigned long ut = 0, st = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	ASSERT_EQ(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				"%lu %lu",
			 &ut, &st),
		  2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

#endif
