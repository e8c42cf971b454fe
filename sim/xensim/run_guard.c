/* The guard of one `xensim run` (run_guard.h says why and how). */
#define _GNU_SOURCE
#include "run_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The guard itself: wait for the wrapper to go, then end the group. */
__attribute__((noreturn)) static void guard_main(int rd, int wr, pid_t pgid)
{
	close(wr);
	/* Out of the caller's session and process group: a Ctrl-C or a
	 * kill of the caller's group must not end the guard before the
	 * wrapper. The wrapper's signal handlers (which forward to the
	 * command) must not run here either. */
	setsid();
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	/* Hold nothing of the wrapper's: above all not its domain anchor
	 * (the domain would outlive the wrapper) nor the caller's stdout
	 * (a reader of it would wait for the guard too). */
	if (rd != 3) {
		dup2(rd, 3);
		rd = 3;
	}
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	close_range(4, ~0u, 0);
	prctl(PR_SET_NAME, "xensim-guard");

	char b;
	ssize_t n;
	while ((n = read(rd, &b, 1)) < 0 && errno == EINTR)
		;
	/* End of file: the wrapper died without ending the group (SIGKILL).
	 * The command had PR_SET_PDEATHSIG and may already be gone, reaped
	 * by someone else; its group lives on while any member does, so the
	 * id still names it. (If every member is gone, nobody is left to
	 * kill; the id is then free for reuse, but a new group taking it in
	 * the microseconds since the wrapper died would need the pid space
	 * to wrap around first.) */
	if (n == 0)
		kill(-pgid, SIGKILL);
	_exit(0);
}

int xsim_guard_start(pid_t pgid)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (mid == 0) {
		/* The middle process forks the guard and exits: the guard is
		 * reparented to the nearest subreaper (or init), and the
		 * command remains the wrapper's only child. */
		pid_t g = fork();
		if (g == 0)
			guard_main(p[0], p[1], pgid);
		_exit(g < 0 ? 1 : 0);
	}
	close(p[0]);
	int st = 0, r;
	while ((r = waitpid(mid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		close(p[1]);
		return -EAGAIN;
	}
	return p[1];
}

void xsim_guard_stand_down(int fd)
{
	ssize_t n;
	/* A guard that is gone already (killed) must not take the wrapper
	 * with it through SIGPIPE; the command is forked by now and keeps
	 * its own disposition. */
	signal(SIGPIPE, SIG_IGN);
	while ((n = write(fd, "x", 1)) < 0 && errno == EINTR)
		;
	close(fd);
}
