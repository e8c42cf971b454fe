/* sim_run_death: like a real domain, a `xensim run` that ends ends the
 * processes in it.
 *   1. The command in domain 1 starts a child, a grandchild and an orphan
 *      (its parent exited: it was reparented away from the run); the
 *      wrapper is killed with SIGKILL (which it cannot catch or forward):
 *      within a second the command and all three are gone, and so is
 *      domain 1.
 *   2. A command that exits 0 leaving a child behind: the wrapper exits 0
 *      and the child is gone within a second.
 * (sim/xensim/run_guard.h: the command's process group, PR_SET_PDEATHSIG,
 * and the guard process that ends the group when the wrapper dies.) */
#include "sim_harness.h"

#include <time.h>

static int out_fd;

static void pause_forever(void)
{
	for (;;)
		pause();
}

/* In domain 1: report "pids COMMAND CHILD GRANDCHILD ORPHAN", then wait. */
static int role_tree(void)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		pid_t g = fork();
		if (g == 0)
			pause_forever();
		ASSERT_EQ(write(p[1], &g, sizeof g), (ssize_t)sizeof g);
		pause_forever();
	}
	pid_t mid = fork();
	ASSERT_TRUE(mid >= 0);
	if (mid == 0) {
		pid_t o = fork();
		if (o == 0)
			pause_forever();
		ASSERT_EQ(write(p[1], &o, sizeof o), (ssize_t)sizeof o);
		_exit(0); /* o is an orphan now */
	}
	ASSERT_EQ(waitpid(mid, NULL, 0), mid);
	pid_t a, b;
	ASSERT_EQ(read(p[0], &a, sizeof a), (ssize_t)sizeof a);
	ASSERT_EQ(read(p[0], &b, sizeof b), (ssize_t)sizeof b);
	/* Which of the two wrote first is not known; the driver does not
	 * care which is which. */
	sim_say(out_fd, "pids %d %d %d %d", (int)getpid(), (int)child, (int)a,
		(int)b);
	pause_forever();
	return 0;
}

/* In domain 1: start a child, report it, exit 0. */
static int role_leaver(void)
{
	pid_t child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0)
		pause_forever();
	sim_say(out_fd, "pid %d", (int)child);
	return 0;
}

/* Dead: no such process, or a zombie waiting for its reaper. */
static int gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *rp = strrchr(buf, ')');
	return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait up to limit_ms for every pid to be gone (reaping the ones that
 * were reparented to us, the subreaper, on the way); returns the time it
 * took, or fails naming the survivor. */
static long long all_gone_within(const pid_t *pids, int n, long long limit_ms)
{
	long long t0 = now_ms();
	for (;;) {
		int alive = -1;
		for (int i = 0; i < n && alive < 0; i++)
			if (!gone(pids[i]))
				alive = i;
		if (alive < 0)
			return now_ms() - t0;
		if (now_ms() - t0 > limit_ms) {
			char cmd[128];
			snprintf(cmd, sizeof cmd, "ps -o pid,ppid,pgid,stat,args -p %d >&2",
				 (int)pids[alive]);
			if (system(cmd) != 0)
				fputs("(ps failed)\n", stderr);
			VMSG_TEST_FAIL("process %d (#%d) still running %lld ms after "
				       "its run ended", (int)pids[alive], alive,
				       limit_ms);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(5000);
	}
}

int main(int argc, char **argv)
{
	char buf[256], fdarg[16], self[4096];

	if (argc == 3) {
		out_fd = atoi(argv[2]);
		if (!strcmp(argv[1], "tree"))
			return role_tree();
		if (!strcmp(argv[1], "leaver"))
			return role_leaver();
		return 2;
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	alarm(120);
	sim_setup(0);

	/* 1. kill -9 of the wrapper. */
	int out[2];
	sim_pipe(out);
	snprintf(fdarg, sizeof fdarg, "%d", out[1]);
	pid_t run = sim_spawn(1, (char *[]){ self, "tree", fdarg, NULL });
	pid_t pids[4];
	int cmd, child, a, b;
	ASSERT_EQ(sscanf(sim_expect(out[0], "pids ", buf, sizeof buf), "%d %d %d %d",
			 &cmd, &child, &a, &b), 4);
	pids[0] = cmd;
	pids[1] = child;
	pids[2] = a;
	pids[3] = b;
	for (int i = 0; i < 4; i++)
		ASSERT_TRUE(!gone(pids[i]));
	ASSERT_TRUE(sim_domain_alive(1));
	ASSERT_EQ(kill(run, SIGKILL), 0);
	ASSERT_EQ(sim_wait(run), 128 + SIGKILL);
	long long ms = all_gone_within(pids, 4, 1000);
	printf("kill -9 of the wrapper: its command, child, grandchild and "
	       "orphan gone after %lld ms\n", ms);
	for (int i = 0; i < SIM_WAIT_MS / 10 && sim_domain_alive(1); i++)
		usleep(10000);
	ASSERT_TRUE(!sim_domain_alive(1));

	/* 2. the command exits, its child does not. */
	run = sim_spawn(1, (char *[]){ self, "leaver", fdarg, NULL });
	int left;
	ASSERT_EQ(sscanf(sim_expect(out[0], "pid ", buf, sizeof buf), "%d", &left), 1);
	ASSERT_EQ(sim_wait(run), 0);
	pid_t lp = left;
	ms = all_gone_within(&lp, 1, 1000);
	printf("a command that exited 0: the child it left gone after %lld ms "
	       "of the wrapper's exit\n", ms);
	printf("sim_run_death: ok\n");
	return 0;
}
