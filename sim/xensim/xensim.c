/* xensim: run commands as domains of the simulated Xen.
 *   xensim run --domid N [--] CMD...   run CMD as domain N
 *   xensim env --domid N               print the shell exports for domain N
 *   xensim start | stop | list         the daemon, the live domains */
#include "run_guard.h"
#include "xsim_proto.h"

#include <vmsg/version.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char exe_dir[PATH_MAX / 2];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xensim run --domid N [--] CMD [ARG...]\n"
		"       xensim env --domid N\n"
		"       xensim start | stop | list\n"
		"       xensim --help | --version\n"
		"\n"
		"A simulated Xen on one Linux host: every process is a domain.\n"
		"  run    run CMD as domain N (0 = dom0); the domain lives until CMD\n"
		"         exits, then its grants are revoked and its ports closed.\n"
		"         Starts the daemon (xensimd) on first use.  CMD gets\n"
		"         XENSIM_DIR, XENSIM_DOMID, XENSTORED_PATH and an\n"
		"         LD_LIBRARY_PATH that selects the simulator's libxengnttab,\n"
		"         libxenevtchn and libxenctrl; children inherit them.\n"
		"         Like a real domain's, the run's processes end with it:\n"
		"         when CMD exits, or this wrapper dies (even by SIGKILL),\n"
		"         whatever is left of CMD's process group is killed.\n"
		"  env    print `export` lines to run Xen programs by hand as domain N\n"
		"         (domain N > 0 must be running: use `run ... -- $SHELL`).\n"
		"  start  start the daemon if it is not running\n"
		"  stop   stop the daemon and its xenstore\n"
		"  list   print the live domains\n"
		"\n"
		"State lives in $XENSIM_DIR (default $XDG_RUNTIME_DIR/xensim, or\n"
		"/run/xensim for root).  XENSIM_NO_XENSTORE=1 runs without xenstore.\n");
}

static int state_dir(char *out, size_t len)
{
	char d[PATH_MAX];

	if (xsim_state_dir(d, sizeof(d)) < 0)
		return -ENAMETOOLONG;
	if (mkdir(d, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!realpath(d, out) || strlen(out) >= len)
		return -errno ? -errno : -ENAMETOOLONG;
	return 0;
}

static void lib_dir(char *out, size_t len)
{
	const char *e = getenv("XENSIM_LIBDIR");
	struct stat st;

	if (e && *e) {
		snprintf(out, len, "%s", e);
		return;
	}
	/* Installed: <bindir>/xensim, <libdir>/xensim/ (XENSIM_LIBDIR_REL is
	 * the second relative to the first); build tree: sim/bin/xensim,
	 * sim/lib/. */
	int w = snprintf(out, len, "%s/%s", exe_dir, XENSIM_LIBDIR_REL);
	if (w > 0 && (size_t)w < len && stat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return;
	w = snprintf(out, len, "%s/../lib", exe_dir);
	(void)w;
}

/* Start xensimd unless it answers; the lock keeps two starters from
 * racing (the daemon removes a stale socket when it binds). */

/* The last line xensimd logged (its reason for giving up, e.g. a socket
 * path too long for the directory), without its "xensimd[pid] time: "
 * prefix; "see the log" when there is none. */
static const char *daemon_last_words(const char *dir, char *out, size_t cap)
{
	char path[PATH_MAX], buf[4096];
	snprintf(out, cap, "see the log");
	snprintf(path, sizeof(path), "%s/xensimd.log", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return out;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t at = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, at);
	close(fd);
	if (n <= 0)
		return out;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = 0;
	char *line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	char *msg = strstr(line, ": ");
	if (strncmp(line, "xensimd[", 8) == 0 && msg)
		line = msg + 2;
	size_t k = strlen(line);
	if (k >= cap)
		k = cap - 1; /* a long reason is cut, not the message */
	if (k) {
		memcpy(out, line, k);
		out[k] = 0;
	}
	return out;
}
static int ensure_daemon(const char *dir)
{
	char lockp[PATH_MAX + 32], bin[PATH_MAX + 32];
	int fd, r;

	if ((fd = xsim_connect(XSIM_KIND_CTRL, 0, NULL, 0, NULL)) >= 0) {
		close(fd);
		return 0;
	}
	snprintf(lockp, sizeof(lockp), "%s/xensimd.lock", dir);
	int lk = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lk < 0 || flock(lk, LOCK_EX) < 0)
		return -errno;
	if ((fd = xsim_connect(XSIM_KIND_CTRL, 0, NULL, 0, NULL)) >= 0) {
		close(fd);
		close(lk);
		return 0;
	}
	const char *e = getenv("XENSIM_XENSIMD");
	snprintf(bin, sizeof(bin), "%s", e && *e ? e : "");
	if (!bin[0])
		snprintf(bin, sizeof(bin), "%s/xensimd", exe_dir);
	pid_t pid = fork();
	if (pid < 0) {
		close(lk);
		return -errno;
	}
	if (pid == 0) {
		execl(bin, bin, "--dir", dir, "--daemon", (char *)NULL);
		perror(bin);
		_exit(127);
	}
	int st;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	close(lk);
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char why[1024];
		fprintf(stderr, "xensim: xensimd failed to start: %s (log: %s/xensimd.log)\n",
			daemon_last_words(dir, why, sizeof why), dir);
		return -EIO;
	}
	return 0;
}

static int parse_domid(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v >= XSIM_DOMID_LIMIT)
		return -1;
	return (int)v;
}

static void set_env(const char *dir, int domid)
{
	char buf[PATH_MAX * 2], lib[PATH_MAX];
	const char *old = getenv("LD_LIBRARY_PATH");

	setenv("XENSIM_DIR", dir, 1);
	snprintf(buf, sizeof(buf), "%d", domid);
	setenv("XENSIM_DOMID", buf, 1);
	snprintf(buf, sizeof(buf), "%s/xenstore/dom%d.sock", dir, domid);
	setenv("XENSTORED_PATH", buf, 1);
	lib_dir(lib, sizeof(lib));
	char *rl = realpath(lib, NULL);
	if (old && *old)
		snprintf(buf, sizeof(buf), "%s:%s", rl ? rl : lib, old);
	else
		snprintf(buf, sizeof(buf), "%s", rl ? rl : lib);
	free(rl);
	setenv("LD_LIBRARY_PATH", buf, 1);
}

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* Move the terminal's foreground to process group pgid, as a shell does
 * for a job (a background group reading the terminal would be stopped). */
static void set_foreground(pid_t pgid)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGTTOU, &ign, &old);
	(void)tcsetpgrp(STDIN_FILENO, pgid);
	sigaction(SIGTTOU, &old, NULL);
}

/* The command's side of the fork: a process group of its own (so that the
 * run can end all of it: run_guard.h), in the terminal's foreground if the
 * wrapper was, dying with the wrapper. Does not return. */
__attribute__((noreturn)) static void run_child(char **cmd, pid_t wrapper,
						int foreground)
{
	setpgid(0, 0);
	if (foreground)
		set_foreground(getpid());
	/* Even if the wrapper is killed with SIGKILL; the guard ends the
	 * rest of the group. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != wrapper) /* it died before prctl */
		_exit(128 + SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	execvp(cmd[0], cmd);
	fprintf(stderr, "xensim: %s: %s\n", cmd[0], strerror(errno));
	_exit(127);
}

static int cmd_run(int domid, char **cmd)
{
	char dir[PATH_MAX];
	int r, anchor;

	if ((r = state_dir(dir, sizeof(dir))) < 0) {
		fprintf(stderr, "xensim: state dir: %s\n", strerror(-r));
		return 1;
	}
	setenv("XENSIM_DIR", dir, 1);
	if (ensure_daemon(dir) < 0)
		return 1;
	anchor = xsim_connect(XSIM_KIND_ANCHOR, (uint32_t)domid, NULL, 0, NULL);
	if (anchor < 0) {
		fprintf(stderr, "xensim: cannot start domain %d: %s\n", domid,
			strerror(-anchor));
		return 1;
	}
	set_env(dir, domid);
	struct sigaction sa = { .sa_handler = forward };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	int foreground = isatty(STDIN_FILENO) &&
			 tcgetpgrp(STDIN_FILENO) == getpgrp();
	pid_t self = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		perror("xensim: fork");
		return 1;
	}
	if (pid == 0)
		run_child(cmd, self, foreground);
	child_pid = pid;
	/* Also here: whichever of the two runs first, the group exists
	 * before the guard may need it (EACCES once the child has exec'd:
	 * it did it itself by then). */
	(void)setpgid(pid, pid);
	int guard = xsim_guard_start(pid);
	if (guard < 0)
		fprintf(stderr, "xensim: no guard for the run (%s): if this "
			"wrapper is killed, the processes of the run may "
			"survive it\n", strerror(-guard));

	/* The command ended: end what it left in its group, while its zombie
	 * (not yet reaped: WNOWAIT) keeps the group's id ours. */
	siginfo_t si;
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 &&
	       errno == EINTR)
		;
	kill(-pid, SIGKILL);
	if (guard >= 0)
		xsim_guard_stand_down(guard);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (foreground)
		set_foreground(getpgrp());
	/* Tell the daemon the domain's command ended and wait for it: when we
	 * return, the domain's grants are revoked and its ports closed (if
	 * we die instead, the hang-up does the same). */
	struct xsim_msg m = { .op = XSIM_OP_RELEASE };
	(void)xsim_call(anchor, &m, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
	close(anchor);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int cmd_stop(void)
{
	int fd = xsim_connect(XSIM_KIND_CTRL, 0, NULL, 0, NULL);
	if (fd < 0)
		return 0; /* not running */
	struct xsim_msg m = { .op = XSIM_OP_STOP };
	int r = xsim_call(fd, &m, NULL, NULL, 0, NULL, 0, NULL, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "xensim: stop: %s\n", strerror(-r));
		close(fd);
		return 1;
	}
	/* The daemon closes this connection last, as it exits. */
	while (xsim_recv(fd, &m, NULL, 0, NULL, 0, NULL) == 0)
		;
	close(fd);
	return 0;
}

static int cmd_list(void)
{
	static uint32_t v[XSIM_MAX_VALS];
	int fd = xsim_connect(XSIM_KIND_CTRL, 0, NULL, 0, NULL);
	if (fd < 0) {
		fprintf(stderr, "xensim: daemon not running\n");
		return 1;
	}
	struct xsim_msg m = { .op = XSIM_OP_LIST };
	int r = xsim_call(fd, &m, NULL, NULL, 0, v, XSIM_MAX_VALS, NULL, 0, NULL);
	close(fd);
	if (r < 0)
		return 1;
	for (uint32_t i = 0; i < m.n; i++)
		printf("%u\n", v[i]);
	return 0;
}

/* Other simulators on this host: the --dir of every running xensimd
 * other than `dir`, written to `other` (the first found). 1 if any. */
static int other_daemon(const char *dir, char *other, size_t len)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (!proc)
		return 0;
	while (!found && (e = readdir(proc)) != NULL) {
		char path[300], args[PATH_MAX + 64];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, args, sizeof(args) - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = 0;
		/* argv: .../xensimd --dir DIR --daemon (NUL-separated) */
		const char *a0 = strrchr(args, '/');
		a0 = a0 ? a0 + 1 : args;
		size_t l0 = strlen(args) + 1;
		if (strcmp(a0, "xensimd") != 0 || (size_t)n <= l0 ||
		    strcmp(args + l0, "--dir") != 0)
			continue;
		const char *d = args + l0 + strlen("--dir") + 1;
		if (d < args + n && strcmp(d, dir) != 0) {
			snprintf(other, len, "%s", d);
			found = 1;
		}
	}
	closedir(proc);
	return found;
}

/* Starting a simulator at the default place while another runs elsewhere
 * is nearly always a forgotten XENSIM_DIR: the new one's domains cannot
 * see the other's, and the only symptom would come much later. */
static void warn_if_elsewhere(const char *dir)
{
	char other[PATH_MAX];
	int fd;

	if (getenv("XENSIM_DIR") && *getenv("XENSIM_DIR"))
		return;
	if ((fd = xsim_connect(XSIM_KIND_CTRL, 0, NULL, 0, NULL)) >= 0) {
		close(fd); /* ours runs already: nothing new */
		return;
	}
	if (other_daemon(dir, other, sizeof(other)))
		fprintf(stderr,
			"xensim: warning: XENSIM_DIR is not set, so a new "
			"simulator starts in %s, while another one runs in %s; "
			"its domains cannot reach this one's (to use it: export "
			"XENSIM_DIR=%s)\n",
			dir, other, other);
}

/* Whether domain `domid` is live in the running simulator: 1 yes, 0 no,
 * -1 the simulator does not answer. */
static int domain_live(int domid)
{
	static uint32_t v[XSIM_MAX_VALS];
	int fd = xsim_connect(XSIM_KIND_CTRL, 0, NULL, 0, NULL);
	if (fd < 0)
		return -1;
	struct xsim_msg m = { .op = XSIM_OP_LIST };
	int r = xsim_call(fd, &m, NULL, NULL, 0, v, XSIM_MAX_VALS, NULL, 0, NULL);
	close(fd);
	if (r < 0)
		return -1;
	for (uint32_t i = 0; i < m.n; i++)
		if (v[i] == (uint32_t)domid)
			return 1;
	return 0;
}

static int bad_domid(const char *s)
{
	fprintf(stderr, "xensim: bad domid '%s': a domain number 0..%d "
			"(0 is dom0)\n",
		s, XSIM_DOMID_LIMIT - 1);
	return 2;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof(exe_dir) - 1);
	exe_dir[n > 0 ? n : 0] = 0;
	char *sl = strrchr(exe_dir, '/');
	if (sl)
		*sl = 0;

	if (argc < 2) {
		fprintf(stderr, "xensim: no command given (run, env, start, "
				"stop, list; xensim --help)\n");
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("xensim %s\n", VMSG_VERSION_STRING);
		return 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "run") && strcmp(sub, "env") && strcmp(sub, "start") &&
	    strcmp(sub, "stop") && strcmp(sub, "list")) {
		fprintf(stderr, "xensim: unknown command '%s' (run, env, start, "
				"stop, list; xensim --help)\n",
			sub);
		return 2;
	}
	bool takes_domid = !strcmp(sub, "run") || !strcmp(sub, "env");
	int domid = -1, i = 2;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (takes_domid && !strcmp(argv[i], "--domid")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "xensim %s: --domid needs a "
						"value (0..%d)\n",
					sub, XSIM_DOMID_LIMIT - 1);
				return 2;
			}
			if ((domid = parse_domid(argv[++i])) < 0)
				return bad_domid(argv[i]);
		} else if (takes_domid && !strncmp(argv[i], "--domid=", 8)) {
			if ((domid = parse_domid(argv[i] + 8)) < 0)
				return bad_domid(argv[i] + 8);
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "xensim %s: unknown option '%s' "
					"(xensim --help)\n",
				sub, argv[i]);
			return 2;
		} else {
			break;
		}
	}
	/* Only `run` takes words after its options: its command. */
	if (strcmp(sub, "run") != 0 && i < argc) {
		fprintf(stderr, "xensim %s: unexpected argument '%s'\n", sub,
			argv[i]);
		return 2;
	}
	if (!strcmp(sub, "run")) {
		if (domid < 0) {
			fprintf(stderr, "xensim run: which domain? (xensim run "
					"--domid N -- CMD [ARG...])\n");
			return 2;
		}
		if (i >= argc) {
			fprintf(stderr, "xensim run: no command given (xensim "
					"run --domid %d -- CMD [ARG...])\n",
				domid);
			return 2;
		}
		char dir[PATH_MAX];
		if (state_dir(dir, sizeof(dir)) == 0)
			warn_if_elsewhere(dir);
		return cmd_run(domid, argv + i);
	}
	if (!strcmp(sub, "env")) {
		char dir[PATH_MAX];
		if (domid < 0)
			domid = 0;
		if (state_dir(dir, sizeof(dir)) < 0)
			return 1;
		setenv("XENSIM_DIR", dir, 1);
		/* Exports for a domain that does not exist would give programs
		 * an identity nobody else knows. */
		int live = domain_live(domid);
		if (live < 0) {
			fprintf(stderr, "xensim env: no simulator runs in %s "
					"(xensim start, or set XENSIM_DIR)\n",
				dir);
			return 1;
		}
		if (!live) {
			fprintf(stderr, "xensim env: domain %d is not running "
					"(xensim list); start it with `xensim "
					"run --domid %d -- $SHELL`\n",
				domid, domid);
			return 1;
		}
		set_env(dir, domid);
		printf("export XENSIM_DIR='%s'\n", getenv("XENSIM_DIR"));
		printf("export XENSIM_DOMID='%s'\n", getenv("XENSIM_DOMID"));
		printf("export XENSTORED_PATH='%s'\n", getenv("XENSTORED_PATH"));
		printf("export LD_LIBRARY_PATH='%s'\n", getenv("LD_LIBRARY_PATH"));
		return 0;
	}
	if (!strcmp(sub, "start")) {
		char dir[PATH_MAX];
		if (state_dir(dir, sizeof(dir)) < 0)
			return 1;
		warn_if_elsewhere(dir);
		setenv("XENSIM_DIR", dir, 1);
		return ensure_daemon(dir) < 0;
	}
	if (!strcmp(sub, "stop"))
		return cmd_stop();
	return cmd_list();
}
