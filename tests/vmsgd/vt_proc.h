/* Process helpers for the vmsgd tests: the pid of the program a `xensim
 * run` started (vmsgd itself, to SIGKILL it or count its fds), and the
 * number of fds a process holds, and a dom0 socket server that never
 * reads. */
#ifndef VT_PROC_H
#define VT_PROC_H

#include "vmsgd_test.h"

#include <dirent.h>

#include "unix_sock.h"

/* The child of `xensim run` (pid `run`): the command it runs. */
static inline pid_t vt_child_of(pid_t run)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)run,
		 (int)run);
	for (int i = 0; i < SIM_WAIT_MS / 20; i++) {
		FILE *f = fopen(path, "r");
		ASSERT_TRUE(f != NULL);
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		int pid = atoi(buf);
		if (pid > 0)
			return (pid_t)pid;
		usleep(20000);
	}
	VMSG_TEST_FAIL("xensim run %d has no child", (int)run);
}

/* How many fds process `pid` has open. */
static inline int vt_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ASSERT_TRUE(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Wait until process `pid` holds `want` fds (cleanup in vmsgd finishes
 * on its loop, after vmsgctl already shows the result). */
static inline void vt_fd_count_wait(pid_t pid, int want)
{
	int n = -1;
	for (int i = 0; i < SIM_WAIT_MS / 50; i++) {
		n = vt_fd_count(pid);
		if (n == want)
			return;
		usleep(50000);
	}
	VMSG_TEST_FAIL("vmsgd holds %d fds, expected %d", n, want);
}

/* A dom0 socket server at `sink_path` (a fresh UNIX socket; a dead one's
 * file is replaced) that accepts every connection, keeps it and never
 * reads: what a bridge queues for it stays queued. Returns its pid. */
static inline pid_t vt_start_sink(const char *sink_path)
{
	int s = vmsg_test_unix_listen(sink_path, SOCK_STREAM);
	pid_t p = fork();
	ASSERT_TRUE(p >= 0);
	if (p == 0) {
		for (;;) {
			int c = accept(s, NULL, NULL);
			if (c < 0 && errno != EINTR && errno != ECONNABORTED)
				_exit(1);
			/* kept open, never read (an fd leak by design) */
		}
	}
	close(s);
	return p;
}

#endif
