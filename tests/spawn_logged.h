/* A program under test run as a child with its output (stdout and stderr)
 * in a file, killed if the test dies, and that file shown when a check
 * fails: the appliance tests of block/ and net/. */
#ifndef VMSG_TEST_SPAWN_LOGGED_H
#define VMSG_TEST_SPAWN_LOGGED_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vmsg_test.h"

static inline pid_t vmsg_test_spawn_logged(char *const argv[], const char *log)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The first 4 KiB of log, on stderr. */
static inline void vmsg_test_show_log(const char *log)
{
	char buf[4096];
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	fprintf(stderr, "--- %s ---\n%s---\n", log, buf);
}

#endif
