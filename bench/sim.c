/* The simulated Xen (docs/sim.md) for the transports that run on it. The
 * first prepare() of such a transport makes a private XENSIM_DIR, exports
 * it (the sides' `xensim run` inherit it) and starts the daemon with
 * `xensim start`; at exit (or SIGINT/SIGTERM) `xensim stop` ends it and
 * the directory is removed. Each channel gets a fresh xenstore path, so a
 * run never meets the keys of an earlier one. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *opt_xensim;      /* --xensim */
static char xensim[PATH_MAX];       /* resolved, "" until looked up */
static char xenstored[PATH_MAX + 64];
static char why[PATH_MAX + 96];     /* bench_sim_unavailable()'s answer */
static char state[128];             /* our XENSIM_DIR, "" until started */
static pid_t starter;               /* the process that started it */
static unsigned channels;

void bench_sim_set_xensim(const char *path)
{
	opt_xensim = path;
	xensim[0] = 0;
}

static bool executable(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* Installed: <prefix>/bin/{vmsg-bench,xensim}; build tree:
 * <build>/bench/vmsg-bench and <build>/sim/bin/xensim. */
static bool find_xensim(void)
{
	char self[PATH_MAX], *sl;
	ssize_t n;

	if (opt_xensim) {
		snprintf(xensim, sizeof(xensim), "%s", opt_xensim);
		return executable(xensim);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		if ((sl = strrchr(self, '/')))
			*sl = 0;
		snprintf(xensim, sizeof(xensim), "%.*s/xensim", PATH_MAX - 16,
			 self);
		if (executable(xensim))
			return true;
		snprintf(xensim, sizeof(xensim), "%.*s/../sim/bin/xensim",
			 PATH_MAX - 32, self);
		if (executable(xensim))
			return true;
	}
	for (const char *p = getenv("PATH"); p && *p;) {
		const char *e = strchr(p, ':');
		int len = e ? (int)(e - p) : (int)strlen(p);

		snprintf(xensim, sizeof(xensim), "%.*s/xensim", len, p);
		if (len && executable(xensim))
			return true;
		p = e ? e + 1 : "";
	}
	snprintf(xensim, sizeof(xensim), "xensim");
	return false;
}

const char *bench_sim_unavailable(void)
{
	char *sl;

	if (xensim[0])
		return why[0] ? why : NULL;
	why[0] = 0;
	if (!find_xensim()) {
		snprintf(why, sizeof(why), "no xensim (%s; try --xensim PATH)",
			 xensim);
		return why;
	}
	/* xensimd needs vmsg-xenstored next to it or in ../xenstored/. */
	snprintf(xenstored, sizeof(xenstored), "%s", xensim);
	if ((sl = strrchr(xenstored, '/'))) {
		size_t off = (size_t)(sl - xenstored) + 1;

		snprintf(sl + 1, sizeof(xenstored) - off, "vmsg-xenstored");
		if (executable(xenstored))
			return NULL;
		snprintf(sl + 1, sizeof(xenstored) - off,
			 "../xenstored/vmsg-xenstored");
		if (executable(xenstored))
			return NULL;
	}
	if (getenv("XENSIM_XENSTORED"))
		return NULL;
	snprintf(why, sizeof(why), "no vmsg-xenstored next to %s", xensim);
	return why;
}

static int run_xensim(const char *cmd)
{
	int st;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -errno;
	if (pid == 0) {
		execl(xensim, xensim, cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	remove(p); /* best effort: go on with the rest */
	return 0;
}

static void sim_stop(void)
{
	if (!state[0] || getpid() != starter)
		return;
	run_xensim("stop");
	/* The daemon detached from `xensim start`; as the subreaper of
	 * everything we started, reap it (and any other orphan). */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	nftw(state, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	state[0] = 0;
}

static void on_signal(int sig)
{
	sim_stop();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int sim_start(void)
{
	const char *t = getenv("TMPDIR");
	int r;

	if (state[0])
		return 0;
	if (bench_sim_unavailable())
		return -ENOENT;
	if (!t || !*t || strlen(t) > 64)
		t = "/tmp";
	snprintf(state, sizeof(state), "%s/vmsg-bench-xensim.XXXXXX", t);
	if (!mkdtemp(state)) {
		state[0] = 0;
		return -errno;
	}
	starter = getpid();
	/* The daemon detaches; be its parent so that it is reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	setenv("XENSIM_DIR", state, 1);
	unsetenv("XENSIM_NO_XENSTORE");
	atexit(sim_stop);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if ((r = run_xensim("start")) < 0) {
		fprintf(stderr, "vmsg-bench: %s start failed (log: "
			"%s/xensimd.log)\n", xensim, state);
		sim_stop();
		return r;
	}
	return 0;
}

int bench_sim_prepare(struct bench_link *l, const char *tag)
{
	int r;

	if ((r = sim_start()) < 0)
		return r;
	snprintf(l->path, sizeof(l->path),
		 "/local/domain/%d/data/vchan/%d/bench-%s-%d-%u",
		 BENCH_SIM_SERVER_DOM, BENCH_SIM_CLIENT_DOM, tag, (int)getpid(),
		 channels++);
	return 0;
}

int bench_sim_wrap(const struct bench_link *l, int side, const char **argv,
		   int max)
{
	static char dom[2][8];

	(void)l;
	if (max < 5)
		return 0;
	snprintf(dom[side], sizeof(dom[side]), "%d",
		 side ? BENCH_SIM_SERVER_DOM : BENCH_SIM_CLIENT_DOM);
	argv[0] = xensim;
	argv[1] = "run";
	argv[2] = "--domid";
	argv[3] = dom[side];
	argv[4] = "--";
	return 5;
}

int bench_sim_wrap_dom(int domid, const char **argv, int max)
{
	static char dom[4][8];
	static int next;
	char *d = dom[next++ % 4];

	if (max < 5)
		return 0;
	snprintf(d, sizeof(dom[0]), "%d", domid);
	argv[0] = xensim;
	argv[1] = "run";
	argv[2] = "--domid";
	argv[3] = d;
	argv[4] = "--";
	return 5;
}

const char *bench_sim_dir(void)
{
	return state[0] ? state : NULL;
}
