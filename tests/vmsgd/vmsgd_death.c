/* vmsgd_death: dom1 offers `echo`, dom2 opens it and talks; then dom1's
 * service process is killed with SIGKILL (its domain dies with it, as the
 * last process in it). vmsgd drops the service at once: `vmsgctl list
 * services` no longer shows it, `list domains` no longer shows dom1 (both
 * listed before the kill, so that their absence means something),
 * dom2's channel reports -EPIPE, and dom2's next open fails with -ENOENT
 * and "service 'echo' is not offered". vmsgd keeps serving and exits 0.
 * It leaks nothing: once both domains are gone it holds as many fds as
 * before they came. */
#include "vt_proc.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n"

static int role_consumer(void)
{
	char buf[64];
	static unsigned char in[ECHO_MAX_MSG];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	vt_echo_exchange(c, 10, false);
	sim_say(vt_out, "talking");
	sim_expect(vt_in, "reopen", buf, sizeof buf);
	/* The provider's death reached our channel through the unmap
	 * notification. */
	ASSERT_EQ(vmsg_chan_recv(c, NULL, in, sizeof in, SIM_WAIT_MS), -EPIPE);
	vmsg_service_close(ctl, c);
	r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	ASSERT_EQ(r, -ENOENT);
	ASSERT_EQ(strcmp(vmsg_ctl_error(ctl), "service 'echo' is not offered"),
		  0);
	sim_say(vt_out, "refused: %s", vmsg_ctl_error(ctl));
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	vt_write_conf(CONF);
	vt_start_vmsgd();
	const pid_t vpid = vt_child_of(vt_vmsgd);
	const int fds0 = vt_fd_count(vpid); /* no guest yet */

	struct vt_role prov, cons;
	vt_spawn(&prov, 1, "provider", NULL);
	const char *pid = sim_expect(prov.from, "offered ", buf, sizeof buf);
	pid_t victim = (pid_t)atoi(pid);
	ASSERT_GT(victim, 0);
	vt_spawn(&cons, 2, "consumer", NULL);
	sim_expect(cons.from, "talking", buf, sizeof buf);
	vt_ctl_wait("--json list services", "\"name\":\"echo\"", 1);
	vt_ctl_wait("--json list domains", "{\"domid\":1,", 1);
	vt_ctl_wait("--json list domains", "{\"domid\":2,", 1);
	/* Each guest's control channel holds fds in vmsgd. */
	ASSERT_GT(vt_fd_count(vpid), fds0);

	ASSERT_EQ(kill(victim, SIGKILL), 0);
	ASSERT_EQ(sim_wait(prov.pid), 128 + SIGKILL); /* xensim run's status */
	close(prov.to);
	close(prov.from);
	vt_ctl_wait("--json list services", "\"name\":\"echo\"", 0);
	vt_ctl_wait("--json list domains", "{\"domid\":1,", 0);

	sim_say(cons.to, "reopen");
	sim_expect(cons.from, "refused: service 'echo' is not offered", buf,
		   sizeof buf);
	vt_role_done(&cons, 0);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	vt_ctl_wait("--json list domains", "{\"domid\":2,", 0);
	vt_fd_count_wait(vpid, fds0);
	vt_stop_vmsgd();
	return 0;
}
