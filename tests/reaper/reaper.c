/* vmsg-test-reaper: run a command (scripts/test.sh: ctest) and find every
 * process it left running.
 *
 *   vmsg-test-reaper [--grace MS] -- CMD [ARG...]
 *
 * The reaper makes itself the subreaper of everything CMD starts
 * (PR_SET_CHILD_SUBREAPER): a process whose parent exits without reaping it
 * (a daemon that forked away, a test's child whose test is over) is
 * reparented to the reaper, not to init, and so stays findable. Orphans
 * that end while CMD runs are reaped as they go. When CMD has exited, the
 * reaper gives what is left --grace MS (default 2000) to exit by itself,
 * then prints one line per process still running below it
 *
 *   vmsg-test-reaper: left running: PID NAME: COMMAND LINE
 *
 * on stderr, kills them all (SIGKILL) and reaps them. Processes started by
 * anyone else on the machine (other test runs) are not its descendants
 * and are never looked at.
 *
 * Exit status: CMD's (128+N if a signal N ended it) if that is not 0;
 * otherwise 3 if anything was left running, else 0. SIGINT, SIGTERM and
 * SIGHUP are passed on to CMD, so a Ctrl-C still ends with the report.
 * The test reaper_leftovers (tests/reaper/selftest.sh) checks all of it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REAPER_EXIT_LEFT 3
#define REAPER_MAX_PROCS 4096

static volatile sig_atomic_t cmd_pid;

static void pass_on(int sig)
{
	if (cmd_pid > 0)
		kill(cmd_pid, sig);
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reap every child that has ended; returns how many are left (0: none). */
static int reap_ended(void)
{
	for (;;) {
		pid_t w = waitpid(-1, NULL, WNOHANG);
		if (w > 0)
			continue;
		if (w < 0 && errno == EINTR)
			continue;
		return w == 0; /* 0: children still running; -1/ECHILD: none */
	}
}

struct proc {
	pid_t pid, ppid;
	char state;
};

/* Every process's pid, parent and state, from /proc/PID/stat. */
static int scan_procs(struct proc *ps, int cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)) && n < cap) {
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = 0;
		/* "pid (comm) S ppid ...": comm may hold spaces and ')'. */
		char *rp = strrchr(buf, ')');
		int ppid;
		char st;
		if (!rp || sscanf(rp + 1, " %c %d", &st, &ppid) != 2)
			continue;
		ps[n++] = (struct proc){ pid, ppid, st };
	}
	if (d)
		closedir(d);
	return n;
}

/* The live (not zombie) descendants of this process into out; returns
 * how many. */
static int descendants(pid_t *out, int cap)
{
	static struct proc ps[REAPER_MAX_PROCS];
	int n = scan_procs(ps, REAPER_MAX_PROCS), k = 0;
	pid_t self = getpid();
	/* Breadth first: out[] doubles as the queue of parents to expand. */
	for (int i = 0; i < n && k < cap; i++)
		if (ps[i].ppid == self)
			out[k++] = ps[i].pid;
	for (int q = 0; q < k; q++)
		for (int i = 0; i < n && k < cap; i++)
			if (ps[i].ppid == out[q])
				out[k++] = ps[i].pid;
	/* Drop the zombies: they are dead, waiting for their parent. */
	int live = 0;
	for (int q = 0; q < k; q++)
		for (int i = 0; i < n; i++)
			if (ps[i].pid == out[q] && ps[i].state != 'Z' &&
			    ps[i].state != 'X')
				out[live++] = out[q];
	return live;
}

/* Print "PID NAME: COMMAND LINE" of pid. */
static void report(pid_t pid)
{
	char path[64], name[64] = "?", cmd[1024] = "";
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(name, sizeof name, f))
			name[strcspn(name, "\n")] = 0;
		fclose(f);
	}
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((f = fopen(path, "r"))) {
		size_t n = fread(cmd, 1, sizeof cmd - 1, f);
		fclose(f);
		cmd[n] = 0;
		/* The arguments are NUL-separated (the last one ends with
		 * a NUL too). */
		for (size_t i = 0; i + 1 < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
	}
	fprintf(stderr, "vmsg-test-reaper: left running: %d %s: %s\n", (int)pid,
		name, cmd);
}

int main(int argc, char **argv)
{
	long grace_ms = 2000;
	int i = 1;
	if (i + 1 < argc && !strcmp(argv[i], "--grace")) {
		grace_ms = atol(argv[i + 1]);
		i += 2;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc) {
		fprintf(stderr, "usage: vmsg-test-reaper [--grace MS] -- CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("vmsg-test-reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	struct sigaction sa = { .sa_handler = pass_on };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	pid_t pid = fork();
	if (pid < 0) {
		perror("vmsg-test-reaper: fork");
		return 2;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(argv[i], argv + i);
		fprintf(stderr, "vmsg-test-reaper: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	cmd_pid = pid;

	/* Until CMD ends, reap whatever ends below us. */
	int st = 0, status;
	for (;;) {
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			perror("vmsg-test-reaper: waitpid");
			return 2;
		}
		if (w == pid)
			break;
	}
	cmd_pid = 0;
	status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);

	/* The grace: what is exiting anyway (a cleanup that sent SIGTERM
	 * without waiting) is not a leftover. */
	long long t0 = now_ms();
	while (reap_ended() && now_ms() - t0 < grace_ms)
		usleep(10000);

	static pid_t left[REAPER_MAX_PROCS];
	int n = descendants(left, REAPER_MAX_PROCS), reported = n;
	for (int k = 0; k < n; k++)
		report(left[k]);
	/* Kill until nothing is left: a leftover may fork while we kill,
	 * and the children of a killed one are reparented to us. */
	for (int round = 0; n > 0 && round < 500; round++) {
		for (int k = 0; k < n; k++)
			kill(left[k], SIGKILL);
		usleep(10000);
		reap_ended();
		n = descendants(left, REAPER_MAX_PROCS);
	}
	if (n > 0)
		fprintf(stderr, "vmsg-test-reaper: %d process%s would not die\n",
			n, n == 1 ? "" : "es");
	for (int round = 0; round < 500 && reap_ended(); round++)
		usleep(10000);
	if (reported)
		fprintf(stderr, "vmsg-test-reaper: %d process%s left running by "
			"the tests (killed)\n", reported, reported == 1 ? "" : "es");
	if (status != 0)
		return status;
	return reported ? REAPER_EXIT_LEFT : 0;
}
