/* vmsgd_ctlopen: vmsg_ctl_open() names the cause (issue 16 defect 6,
 * issue 19 "errors that name the cause"), as vmsg/service.h promises, and
 * vmsg-kv says what to do:
 *  - no vmsgd (before it starts, and after it stopped): -ENOENT, "no vmsgd
 *    serves this domain: is vmsgd running in dom0 ...";
 *  - other processes of the domain hold every control channel vmsgd
 *    serves it (max_sessions_per_domain, 1 here): -EBUSY, "other
 *    processes of this domain hold every control channel vmsgd serves it
 *    (max_sessions_per_domain ..."; once one lets go, the next open
 *    works;
 *  - vmsgd is there but does not answer (stopped with SIGSTOP): -ETIMEDOUT,
 *    "vmsgd did not answer in time ..."; once it runs again, opens work.
 * Each returned code is checked in a guest process, and vmsg-kv's line on
 * stderr and exit status 1 for each (vmsg-cat --service's too, for the
 * first two). All used to be -EACCES, "permission
 * denied". */
#include "vt_proc.h"

#define CONF "[service kv]\noffer = 1\nopen = 2\nmode = direct\n"
#define SHORT_MS 1500

/* Role: vmsg_ctl_open with the timeout argv[4]; say its result. */
static int role_open(char **argv)
{
	vmsg_ctl *ctl = NULL;
	int r = vmsg_ctl_open(&ctl, atoi(argv[4]));
	sim_say(vt_out, "result %d", r);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Role: hold the control channel (or, with argv[4] "idle", only keep the
 * domain alive) until told to quit. */
static int role_hold(char **argv)
{
	vmsg_ctl *ctl = NULL;
	if (strcmp(argv[4], "idle"))
		ctl = vt_ctl_open();
	sim_say(vt_out, "holding");
	char buf[64];
	sim_expect(vt_in, "quit", buf, sizeof buf);
	vmsg_ctl_close(ctl);
	return 0;
}

static char **role_argv;
static int role_open_fn(void)
{
	return role_open(role_argv);
}
static int role_hold_fn(void)
{
	return role_hold(role_argv);
}

static const struct vt_role_fn roles[] = {
	{"open", role_open_fn},
	{"hold", role_hold_fn},
	{NULL, NULL},
};

/* vmsg_ctl_open's result in a new process of `domid`. */
static int open_in(int domid, int timeout_ms)
{
	char arg[16], buf[64];
	snprintf(arg, sizeof arg, "%d", timeout_ms);
	struct vt_role r;
	vt_spawn(&r, domid, "open", arg);
	int res = atoi(sim_expect(r.from, "result ", buf, sizeof buf));
	vt_role_done(&r, 0);
	return res;
}

static void expect_open(int domid, int want)
{
	int r = open_in(domid, SHORT_MS);
	if (r != want)
		VMSG_TEST_FAIL("domain %d: vmsg_ctl_open: %d (%s), want %d (%s)",
			       domid, r, vmsg_strerror(r), want,
			       vmsg_strerror(want));
	printf("domain %d: vmsg_ctl_open: %s\n", domid, vmsg_ctl_strerror(r));
}

/* argv in `domid`: must exit 1 with `want` in its message. */
static void expect_prog(int domid, char **argv, const char *want)
{
	char log[700], out[2048];
	snprintf(log, sizeof log, "%s/kv.err", sim_dir);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_TRUE(fd >= 0);
	int saved = dup(2);
	ASSERT_TRUE(saved >= 0);
	ASSERT_EQ(dup2(fd, 2), 2);
	close(fd);
	pid_t p = sim_spawn(domid, argv);
	ASSERT_EQ(dup2(saved, 2), 2);
	close(saved);
	int st = sim_wait(p);
	FILE *f = fopen(log, "r");
	ASSERT_TRUE(f != NULL);
	size_t n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	fclose(f);
	if (st != 1 || !strstr(out, want))
		VMSG_TEST_FAIL("%s in domain %d: status %d, said:\n%s"
			       "expected status 1 and '%s'",
			       argv[0], domid, st, out, want);
	printf("%s in domain %d: %s", strrchr(argv[0], '/') + 1, domid, out);
}

/* vmsg-kv get x in `domid`. */
static void expect_kv(int domid, const char *want)
{
	char *argv[] = {(char *)VMSG_KV_BIN, (char *)"-w", (char *)"1500",
			(char *)"get", (char *)"x", NULL};
	expect_prog(domid, argv, want);
}

/* vmsg-cat --service kv in `domid` (its words: vmsg-kv's after
 * "vmsg-cat"). */
static void expect_cat(int domid, const char *want)
{
	char *argv[] = {(char *)VMSG_CAT_BIN, (char *)"--service",
			(char *)"kv", (char *)"--timeout", (char *)"1500", NULL};
	char cat_want[300];
	snprintf(cat_want, sizeof cat_want, "vmsg-cat%s",
		 want + strlen("vmsg-kv"));
	expect_prog(domid, argv, cat_want);
}

#define NO_VMSGD "vmsg-kv: cannot reach vmsgd: no vmsgd serves this domain: " \
		 "is vmsgd running in dom0"
#define HELD "vmsg-kv: cannot reach vmsgd: other processes of this "      \
	     "domain hold every control channel vmsgd serves it "              \
	     "(max_sessions_per_domain"
#define STUCK "vmsg-kv: cannot reach vmsgd: vmsgd did not answer in time"

int main(int argc, char **argv)
{
	role_argv = argv;
	vt_main(argc, argv, roles);
	char buf[256];

	/* No vmsgd yet. */
	expect_open(5, -ENOENT);
	expect_kv(5, NO_VMSGD);
	expect_cat(5, NO_VMSGD);

	vt_write_conf_daemon("max_sessions_per_domain = 1\n", CONF);
	vt_start_vmsgd();

	/* Domain 3: one process holds the only channel it may have, another
	 * wants one. */
	struct vt_role holder, idle;
	vt_spawn(&holder, 3, "hold", "ctl");
	sim_expect(holder.from, "holding", buf, sizeof buf);
	expect_open(3, -EBUSY);
	expect_kv(3, HELD);
	expect_cat(3, HELD);
	sim_say(holder.to, "quit");
	vt_role_done(&holder, 0);
	ASSERT_EQ(open_in(3, SIM_WAIT_MS), 0);

	/* Domain 4 (kept alive by an idle process): vmsgd, stopped, has
	 * its keys out but answers nothing. */
	vt_spawn(&idle, 4, "hold", "idle");
	sim_expect(idle.from, "holding", buf, sizeof buf);
	vt_ctl_wait("list domains", "4      waiting", 1);
	const pid_t vpid = vt_child_of(vt_vmsgd);
	ASSERT_EQ(kill(vpid, SIGSTOP), 0);
	expect_open(4, -ETIMEDOUT);
	expect_kv(4, STUCK);
	ASSERT_EQ(kill(vpid, SIGCONT), 0);
	ASSERT_EQ(open_in(4, SIM_WAIT_MS), 0);

	/* vmsgd stopped: its marks are gone with it. */
	vt_stop_vmsgd();
	expect_open(4, -ENOENT);
	expect_kv(4, NO_VMSGD);
	sim_say(idle.to, "quit");
	vt_role_done(&idle, 0);
	return 0;
}
