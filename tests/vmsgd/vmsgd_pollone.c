/* vmsgd_pollone: a provider that polls vmsg_ctl_fd() and takes one
 * channel per wake-up (one vmsg_service_accept(..., 0) per poll, not a
 * loop until -EAGAIN), after a blocking accept, still wakes for every
 * open. A call that returns a channel stops before the control channel
 * is empty, where nothing had asked vmsgd for its next kick; the library
 * now leaves the fd armed as it returns (lib/service/ctl.c,
 * vmsg__svc_leave_armed). Before, the provider slept through the next
 * Serve and the consumer's open ran out of time.
 *
 * dom1: offers `echo`; a blocking accept takes the first channel, then
 * it polls the fd alone and calls accept once per wake-up.
 * dom2: the library's consumer: opens `echo` when told, ROUNDS + 1 times.
 */
#include "vmsgd_test.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n"
#define ROUNDS 3
/* How long a round may take: well inside the open's own wait. */
#define ROUND_MS 10000

static int role_prov(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	int r = vmsg_service_offer(ctl, "echo", SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "offered");
	vmsg_chan *c[ROUNDS + 1];
	struct vmsg_service_peer peer;
	r = vmsg_service_accept(ctl, &c[0], &peer, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	sim_say(vt_out, "accepted %u", peer.channel_id);
	struct pollfd p = {.fd = vmsg_ctl_fd(ctl), .events = POLLIN};
	ASSERT_GE(p.fd, 0);
	for (int i = 1; i <= ROUNDS; i++) {
		uint64_t end = vt_now_ms() + ROUND_MS;
		for (;;) {
			int left = (int)(end - vt_now_ms());
			if (left <= 0 || poll(&p, 1, left) == 0)
				VMSG_TEST_FAIL("round %d: vmsg_ctl_fd() not "
					       "readable with a channel to "
					       "take", i);
			r = vmsg_service_accept(ctl, &c[i], &peer, 0);
			if (r == 0)
				break;
			if (r != -EAGAIN)
				VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
		}
		sim_say(vt_out, "accepted %u", peer.channel_id);
	}
	sim_expect(vt_in, "quit", b, sizeof b);
	for (int i = 0; i <= ROUNDS; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_cons(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c[ROUNDS + 1];
	for (int i = 0; i <= ROUNDS; i++) {
		sim_expect(vt_in, "open", b, sizeof b);
		int r = vmsg_service_open(ctl, "echo", &c[i], ROUND_MS);
		if (r < 0)
			VMSG_TEST_FAIL("open %d: %s (%s)", i, vmsg_strerror(r),
				       vmsg_ctl_error(ctl));
		sim_say(vt_out, "opened");
	}
	sim_expect(vt_in, "quit", b, sizeof b);
	for (int i = 0; i <= ROUNDS; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vt_role_fn roles[] = {
		{"prov", role_prov},
		{"cons", role_cons},
		{NULL, NULL},
	};
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role prov, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "prov", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
	vt_spawn(&cons, 2, "cons", NULL);
	for (int i = 0; i <= ROUNDS; i++) {
		sim_say(cons.to, "open");
		sim_expect(cons.from, "opened", buf, sizeof buf);
		sim_expect(prov.from, "accepted", buf, sizeof buf);
		printf("round %d: %s\n", i, buf);
	}
	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
