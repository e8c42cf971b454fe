/* vmsgd_pollone: a provider that polls vmsg_ctl_fd() and takes one
 * channel per wake-up (one vmsg_service_accept(..., 0) per poll, not a
 * loop until -EAGAIN), after a blocking accept, still wakes for every
 * open. A call that returns a channel stops before the control channel
 * is empty, where nothing had asked vmsgd for its next kick; the library
 * now leaves the fd armed as it returns (lib/service/ctl.c,
 * vmsg__svc_leave_armed). Before, the provider slept through the next
 * Serve and the consumer's open ran out of time.
 *
 *
 * Part 2: the fd stays readable for what such a call left, whatever the
 * application does before its next call. dom3 and dom4 open while dom1
 * is away; dom1's one accept takes dom3's channel and leaves dom4's
 * Serve unread; dom1 then sends and closes that channel, whose consumer
 * has not come (a lingering close, which arms the fd's timer for its own
 * deadline): the fd must still wake dom1 for dom4's Serve.
 *
 * dom1: offers `echo`; a blocking accept takes the first channel, then
 * it polls the fd alone and calls accept once per wake-up.
 * dom2: the library's consumer: opens `echo` when told, ROUNDS + 1 times.
 * dom3, dom4: consumers by hand (setup by message, admitted): send Open
 * and never connect.
 */
#include "vt_raw.h"

#define CONF "[service echo]\noffer = 1\nopen = 2,3,4\nmode = direct\n"
#define ROUNDS 3
/* How long a round may take: well inside the open's own wait. */
#define ROUND_MS 10000

/* Poll the fd, calling accept once per wake-up, until a channel comes
 * (ROUND_MS at most). */
static vmsg_chan *take_one(vmsg_ctl *ctl, struct vmsg_service_peer *peer,
			   const char *what)
{
	struct pollfd p = {.fd = vmsg_ctl_fd(ctl), .events = POLLIN};
	ASSERT_GE(p.fd, 0);
	uint64_t end = vt_now_ms() + ROUND_MS;
	for (;;) {
		int left = (int)(end - vt_now_ms());
		if (left <= 0 || poll(&p, 1, left) == 0)
			VMSG_TEST_FAIL("%s: vmsg_ctl_fd() not readable with a "
				       "channel to take", what);
		vmsg_chan *c;
		int r = vmsg_service_accept(ctl, &c, peer, 0);
		if (r == 0)
			return c;
		if (r != -EAGAIN)
			VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	}
}

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
	for (int i = 1; i <= ROUNDS; i++) {
		char what[32];
		snprintf(what, sizeof what, "round %d", i);
		c[i] = take_one(ctl, &peer, what);
		sim_say(vt_out, "accepted %u", peer.channel_id);
	}

	/* Part 2, once both Serves wait in the control channel. */
	sim_expect(vt_in, "go", b, sizeof b);
	vmsg_chan *a = take_one(ctl, &peer, "the first of two Serves");
	sim_say(vt_out, "accepted %u", peer.channel_id);
	ASSERT_EQ(vmsg_chan_send(a, 1, "hi", 3, 0, 0), 3);
	vmsg_service_close(ctl, a); /* its consumer has not come: lingers */
	a = take_one(ctl, &peer, "the second Serve, after a close");
	sim_say(vt_out, "accepted %u", peer.channel_id);
	vmsg_service_close(ctl, a);
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

static int role_raw(void)
{
	char b[64];
	vmsg_chan *ctl = vt_raw_connect_ex(
		(unsigned)atoi(vt_arg),
		VMSG_FEATURE_SVC_SETUP_MSG | VMSG_FEATURE_SVC_ADMIT);
	ASSERT_GE(send_open(ctl, 1, "echo", 0), 0);
	sim_say(vt_out, "sent");
	sim_expect(vt_in, "quit", b, sizeof b);
	vmsg_chan_close(ctl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vt_role_fn roles[] = {
		{"prov", role_prov},
		{"cons", role_cons},
		{"raw", role_raw},
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

	/* Part 2: two Serves wait for dom1, who is away. */
	struct vt_role r3, r4;
	vt_spawn(&r3, 3, "raw", "3");
	sim_expect(r3.from, "sent", buf, sizeof buf);
	for (int i = 0; i < SIM_WAIT_MS / 20 && vt_listed("pending") < 1; i++)
		usleep(20000);
	vt_spawn(&r4, 4, "raw", "4");
	sim_expect(r4.from, "sent", buf, sizeof buf);
	for (int i = 0; i < SIM_WAIT_MS / 20 && vt_listed("pending") < 2; i++)
		usleep(20000);
	ASSERT_EQ(vt_listed("pending"), 2);
	sim_say(prov.to, "go");
	sim_expect(prov.from, "accepted", buf, sizeof buf);
	sim_expect(prov.from, "accepted", buf, sizeof buf);
	printf("part 2: both taken, the second after a lingering close\n");
	sim_say(r3.to, "quit");
	sim_say(r4.to, "quit");
	vt_role_done(&r3, 0);
	vt_role_done(&r4, 0);

	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
