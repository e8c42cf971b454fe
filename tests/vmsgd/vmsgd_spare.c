/* vmsgd_spare: spare channels (the policy's spare = yes; docs/protocol.md,
 * "Spare channels"). dom1 is the echo provider (an event-loop provider:
 * poll, then accept with timeout 0); dom2's processes open.
 *
 * 1. A service without `spare` (the default, auto; `vmsgctl --json
 *    policy` says so): a process that opens once gets no spare (vmsgctl
 *    lists none after its open and a talk), nor one that opens again
 *    after more than 2 s; one that opens again at once is served a spare
 *    after its second open, retired when it goes. With `spare = no` (a
 *    reload) the one that opens again at once gets none. Then a reload
 *    turns `spare = yes` on (shown by `vmsgctl --json policy`).
 * 2. A chain of opens by one process of dom2 (max_channels_per_domain 4):
 *    after its first channel (set up the usual way) vmsgd has the provider
 *    serve a spare for that process, listed "spare" once served; the next
 *    open is that very channel (its id is the spare's, now "open") and
 *    talks, and a new spare follows; the fourth channel takes the third
 *    spare and none follows (the process is at its limit). `vmsgctl
 *    --json list services` counts the three opens a spare answered.
 * 3. A second process of dom2 opens once and goes (closes its channel and
 *    its control channel): its spare is retired (no longer listed; vmsgd
 *    logs why), while the first process's channels carry on.
 */
#include "vmsgd_test.h"

#define CONF_AUTO                                                          \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"           \
	"max_channels_per_domain = 4\n"
#define CONF CONF_AUTO "spare = yes\n"
#define CONF_NEVER CONF_AUTO "spare = no\n"

/* dom2: open `echo` four times, one per "next". */
static int role_chain(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c[4];
	for (int i = 0; i < 4; i++) {
		sim_expect(vt_in, "next", buf, sizeof buf);
		c[i] = vt_open(ctl, "echo");
		vt_echo_exchange(c[i], 20, false);
		sim_say(vt_out, "opened %d", i);
	}
	sim_expect(vt_in, "close", buf, sizeof buf);
	/* Each channel still talks after the others were set up. */
	for (int i = 0; i < 4; i++) {
		vt_echo_exchange(c[i], 5, false);
		vmsg_service_close(ctl, c[i]);
	}
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom2, another process: one open, then it goes on "go". */
static int role_once(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c = vt_open(ctl, "echo");
	vt_echo_exchange(c, 20, false);
	sim_say(vt_out, "opened");
	sim_expect(vt_in, "go", buf, sizeof buf);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom2, a process that opens twice, vt_arg ms apart (the first closed
 * before), then goes on "go". */
static int role_twice(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c = vt_open(ctl, "echo");
	vt_echo_exchange(c, 5, false);
	vmsg_service_close(ctl, c);
	usleep(1000u * (unsigned)atoi(vt_arg));
	c = vt_open(ctl, "echo");
	vt_echo_exchange(c, 5, false);
	sim_say(vt_out, "opened");
	sim_expect(vt_in, "go", buf, sizeof buf);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

/* A process of dom2 in `role` (arg: vt_spawn's), until its last open
 * has talked: then a spare of echo must be listed served, or none at all
 * (vmsgd asks for a spare right after the Opened it follows, before it
 * reads anything else, so one would be listed, spare-asked at least, by
 * now). Then the process goes, and its channels (a spare too) with it. */
static void process_run(const char *role, const char *arg, bool want)
{
	char buf[8192];
	struct vt_role r;
	vt_spawn(&r, 2, role, arg);
	sim_expect(r.from, "opened", buf, sizeof buf);
	if (want) {
		printf("%s %s: spare channel %u after its last open\n", role,
		       arg ? arg : "", vt_wait_chan_in("echo", "spare"));
	} else {
		ASSERT_EQ(vt_ctl(buf, sizeof buf, "list channels"), 0);
		ASSERT_TRUE(strstr(buf, " echo ") != NULL);
		if (strstr(buf, "spare"))
			VMSG_TEST_FAIL("%s %s: a spare:\n%s", role,
				       arg ? arg : "", buf);
	}
	sim_say(r.to, "go");
	vt_role_done(&r, 0);
	vt_ctl_wait("list channels", " echo ", 0);
}

static const struct vt_role_fn roles[] = {
	{"chain", role_chain},
	{"once", role_once},
	{"twice", role_twice},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192], logf[700];
	snprintf(logf, sizeof logf, "%s/vmsgd.log", sim_dir);
	vt_vmsgd_log = logf;
	struct vt_role prov, chain, once;
	vt_start_with_echo(CONF_AUTO, &prov);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json policy"), 0);
	ASSERT_TRUE(strstr(buf, "\"spare\":\"auto\"") != NULL);

	/* 1: auto. Once; again after 2.5 s (not "channel after channel");
	 * again at once: a spare, which goes with the process. */
	process_run("once", NULL, false);
	process_run("twice", "2500", false);
	process_run("twice", "0", true);
	/* spare = no: none, even at once. */
	vt_write_conf(CONF_NEVER);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
	process_run("twice", "0", false);
	vt_write_conf(CONF);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json policy"), 0);
	ASSERT_TRUE(strstr(buf, "\"spare\":\"yes\"") != NULL);

	/* 3: a process that goes has its spare retired. */
	vt_spawn(&once, 2, "once", NULL);
	sim_expect(once.from, "opened", buf, sizeof buf);
	unsigned gone = vt_wait_chan_in("echo", "spare");
	sim_say(once.to, "go");
	vt_role_done(&once, 0);
	for (int i = 0; i < SIM_WAIT_MS / 20 && vt_chan_in("echo", "spare"); i++)
		usleep(20000);
	ASSERT_TRUE(!vt_in_state(gone, "spare"));
	/* Its channel lingers until the provider has closed it too. */
	vt_ctl_wait("list channels", " echo ", 0);
	vt_read_vmsgd_log(buf, sizeof buf);
	char want[160];
	snprintf(want, sizeof want, "spare channel %u of 'echo' for domain 2 "
				    "retired: its consumer went away",
		 gone);
	if (!strstr(buf, want))
		VMSG_TEST_FAIL("vmsgd's log lacks \"%s\":\n%s", want, buf);

	/* 2: the chain. The first open is the usual way. */
	vt_spawn(&chain, 2, "chain", NULL);
	sim_say(chain.to, "next");
	sim_expect(chain.from, "opened 0", buf, sizeof buf);
	for (int i = 1; i < 4; i++) {
		unsigned spare = vt_wait_chan_in("echo", "spare");
		sim_say(chain.to, "next");
		snprintf(want, sizeof want, "opened %d", i);
		sim_expect(chain.from, want, buf, sizeof buf);
		/* The open took the spare: the same channel, now open. */
		if (!vt_in_state(spare, "open")) {
			vt_ctl(buf, sizeof buf, "list channels");
			VMSG_TEST_FAIL("open %d did not take spare %u:\n%s", i,
				       spare, buf);
		}
		printf("open %d took spare channel %u\n", i, spare);
	}
	/* At max_channels_per_domain 4: no spare follows the fourth. vmsgd asks for a spare
	 * right after its Opened, before it reads anything else, so one
	 * would be listed by now. */
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list channels"), 0);
	printf("vmsgctl list channels:\n%s", buf);
	ASSERT_TRUE(strstr(buf, "spare") == NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list services"), 0);
	if (!strstr(buf, "\"spare_opens\":3"))
		VMSG_TEST_FAIL("vmsgctl does not count 3 opens from a spare: %s",
			       buf);

	sim_say(chain.to, "close");
	vt_role_done(&chain, 0);
	vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
