/* Test harness for the simulated Xen: a private XENSIM_DIR per test, domain
 * processes started through `xensim run`, line messages over inherited
 * pipes, and a teardown that stops the daemon even when an assert aborts.
 * Each test program is both the driver and (re-executed with a role
 * argument) the programs that run inside the domains. */
#ifndef SIM_HARNESS_H
#define SIM_HARNESS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmsg_test.h"

#define SIM_WAIT_MS 30000 /* generous: a loaded 2-core machine */

static char sim_dir[512];
static pid_t sim_driver_pid;

/* Last resort: SIGKILL our remaining children (found through /proc). */
static inline void sim_kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], stat[512];
	while (d && (e = readdir(d))) {
		int pid = atoi(e->d_name), ppid = 0;
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(stat, sizeof(stat), f)) {
			char *rp = strrchr(stat, ')');
			if (rp)
				sscanf(rp + 2, "%*c %d", &ppid);
		}
		fclose(f);
		if (ppid == getpid()) {
			fprintf(stderr, "leftover process %d: killing it\n", pid);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	if (d)
		closedir(d);
}

/* Does the simulator's log (xensimd's and its xenstored's stderr) hold
 * a sanitizer's report? Prints the log if so. */
static inline int sim_log_has_sanitizer_report(void)
{
	char path[600], line[1024];
	snprintf(path, sizeof(path), "%s/xensimd.log", sim_dir);
	FILE *f = fopen(path, "r");
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "ERROR: LeakSanitizer") ||
			strstr(line, "ERROR: AddressSanitizer") ||
			strstr(line, "runtime error:");
	if (found) {
		fprintf(stderr, "a sanitizer reported in the simulator's "
				"daemons; their log:\n");
		rewind(f);
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
	}
	if (f)
		fclose(f);
	return found;
}

static inline void sim_stop_daemon(void)
{
	if (!sim_dir[0] || getpid() != sim_driver_pid)
		return;
	pid_t p = fork();
	if (p == 0) {
		execl(XENSIM_BIN, XENSIM_BIN, "stop", (char *)NULL);
		_exit(127);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
	/* We are the subreaper of everything the test started (the daemon
	 * detaches from `xensim run`): reap it all, and complain about any
	 * process still alive after a generous while. */
	for (int i = 0; i < 1000; i++) {
		pid_t w = waitpid(-1, NULL, WNOHANG);
		if (w < 0 && errno == ECHILD)
			break;
		if (w == 0)
			usleep(10000);
		if (i == 999) /* a pass per level of orphaned descendants */
			for (int k = 0; k < 5; k++)
				sim_kill_children();
	}
	/* The daemons have exited (`xensim stop` returns only then): what
	 * the sanitizers found in them at exit, leaks included, is in the
	 * daemon's log, and fails the test. */
	int found = sim_log_has_sanitizer_report();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", sim_dir);
	sim_dir[0] = 0;
	if (found)
		_exit(1);
}

/* A failure: dump the daemon's log (it says what the simulator saw) and
 * stop the simulator. */
static inline void sim_on_fail(void)
{
	if (!sim_dir[0] || getpid() != sim_driver_pid)
		return;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cat '%s/xensimd.log' >&2", sim_dir);
	if (system(cmd) != 0)
		fputs("(no daemon log)\n", stderr);
	sim_stop_daemon();
}

/* The same from a signal: an alarm (a test's own time limit) or an abort
 * that no assertion made (a failed assertion runs sim_on_fail before it
 * aborts, through vmsg_test_on_fail, and this handler is then gone). Not
 * async-signal-safe; a best effort where the process is ending anyway. */
static inline void sim_on_abort(int sig)
{
	sim_on_fail();
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void sim_fail_hook(void)
{
	signal(SIGABRT, SIG_DFL);
	sim_on_fail();
}

/* Make a private state dir and arrange for cleanup. */
static inline void sim_setup(int with_xenstore)
{
	const char *t = getenv("TMPDIR");
	snprintf(sim_dir, sizeof(sim_dir), "%s/xensim-test-XXXXXX",
		 t && *t ? t : "/tmp");
	ASSERT_TRUE(mkdtemp(sim_dir) != NULL);
	setenv("XENSIM_DIR", sim_dir, 1);
	if (with_xenstore)
		unsetenv("XENSIM_NO_XENSTORE");
	else
		setenv("XENSIM_NO_XENSTORE", "1", 1);
	sim_driver_pid = getpid();
	ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	vmsg_test_on_fail = sim_fail_hook;
	signal(SIGABRT, sim_on_abort);
	signal(SIGALRM, sim_on_abort);
	signal(SIGPIPE, SIG_IGN);
	atexit(sim_stop_daemon);
}

/* Run argv (NULL-terminated) as domain `domid`; the child inherits every
 * fd without FD_CLOEXEC.  Returns the pid of `xensim run`. */
static inline pid_t sim_spawn(int domid, char *const argv[])
{
	char d[16];
	char *args[32];
	int n = 0;

	snprintf(d, sizeof(d), "%d", domid);
	args[n++] = (char *)XENSIM_BIN;
	args[n++] = (char *)"run";
	args[n++] = (char *)"--domid";
	args[n++] = d;
	args[n++] = (char *)"--";
	for (int i = 0; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	pid_t p = fork();
	ASSERT_TRUE(p >= 0);
	if (p == 0) {
		execv(XENSIM_BIN, args);
		_exit(127);
	}
	return p;
}

/* Wait for a spawned `xensim run` and return its exit status. */
static inline int sim_wait(pid_t p)
{
	int st;
	ASSERT_EQ(waitpid(p, &st, 0), p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A pipe whose ends survive exec (for passing to domain programs). */
static inline void sim_pipe(int fds[2])
{
	ASSERT_EQ(pipe(fds), 0);
}

static inline void sim_say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	ASSERT_EQ(write(fd, buf, (size_t)n), n);
}

/* What sim_expect waits for, for sim_hear's complaint. */
static const char *sim_expecting = "";

/* Read one line (without the newline); fails the test on timeout/EOF. */
static inline void sim_hear(int fd, char *buf, size_t len)
{
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, SIM_WAIT_MS);
		if (r == 0)
			VMSG_TEST_FAIL("pid %d: no message within %d ms%s%s%s",
				       (int)getpid(), SIM_WAIT_MS,
				       *sim_expecting ? " (waiting for '" : "",
				       sim_expecting,
				       *sim_expecting ? "')" : "");
		if (r < 0 && errno == EINTR)
			continue;
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			VMSG_TEST_FAIL("pid %d: pipe closed", (int)getpid());
		if (c == '\n' || got + 1 >= len)
			break;
		buf[got++] = c;
	}
	buf[got] = 0;
}

/* Read a line that must start with `word`; returns the rest. */
static inline const char *sim_expect(int fd, const char *word, char *buf, size_t len)
{
	sim_expecting = word;
	sim_hear(fd, buf, len);
	sim_expecting = "";
	size_t w = strlen(word);
	if (strncmp(buf, word, w) != 0)
		VMSG_TEST_FAIL("expected '%s', got '%s'", word, buf);
	return buf + w;
}

/* Is `domid` in `xensim list`? */
static inline int sim_domain_alive(int domid)
{
	char cmd[600], line[64];
	snprintf(cmd, sizeof(cmd), "'%s' list", XENSIM_BIN);
	FILE *f = popen(cmd, "r");
	int found = 0;
	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (atoi(line) == domid)
			found = 1;
	pclose(f);
	return found;
}

#endif
