/* vmsgd_spareadmit: the provider's library admits a consumer that is
 * coming (docs/protocol.md, "Admitted clients"), so that vmsg_service_
 * accept hands its channel X out, open, without waiting for the
 * consumer's connect; and vmsgd's Closed{X} ends X on the provider's side
 * when that consumer never came (nothing else would: it never mapped the
 * page, so there is no unmap notification to come). Three rounds, each
 * with a provider and a consumer of their own:
 *  - `echo`, spare = yes, a consumer whose Hello has only
 *    VMSG_FEATURE_SVC_SETUP_MSG: vmsgd asks the provider for the spare
 *    after X right after it has answered X's Open, which the library
 *    takes as "X's consumer has it";
 *  - `plain`, no spare, a consumer that also sets VMSG_FEATURE_SVC_ADMIT:
 *    vmsgd's Serve for its Open says admit, and the library admits X as
 *    soon as it has served it;
 *  - `plain` again, a consumer without VMSG_FEATURE_SVC_ADMIT (an older
 *    library, which would take cli_live 3 for "taken"): not admitted, the
 *    provider's accept hands nothing out while the consumer does not
 *    connect.
 *
 * dom1: a provider of vt_arg with blocking accepts: says "accepted ID
 * STATE" for the channel it takes, then, accepting on (which reads the
 * control channel), waits for that channel to end and says "ended ID R"
 * (R: its receive's result); or, when its accept times out (ACCEPT_MS),
 * "none".
 * dom2: a consumer speaking the control protocol by hand, set up by
 * message, vt_arg "SERVICE admit|old": Opens SERVICE, reads the Opened
 * (says "opened ID") and never connects; on "quit" closes its control
 * channel.
 */
#include "vt_raw.h"

#define CONF                                                             \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\nspare = yes\n\n" \
	"[service plain]\noffer = 1\nopen = 2\nmode = direct\n"

/* How long the provider's accept waits for a channel: what an admitted
 * one takes (a few ms) many times over, well short of how long the
 * library keeps a channel for a consumer that does not come (vmsgd says
 * the consumer's wait, SIM_WAIT_MS, and a second). */
#define ACCEPT_MS 3000

/* The provider's channel c, accepted: say so, then, accepting on (which
 * reads the control channel), wait for it to end, say so and close it. */
static void watch_accepted(vmsg_ctl *ctl, vmsg_chan *c,
			   const struct vmsg_service_peer *peer)
{
	char b[64];
	int r;
	sim_say(vt_out, "accepted %u %d", peer->channel_id,
		vmsg_chan_state(c));
	/* The control channel is read inside the library's calls: accept
	 * on (nothing more comes: the spare's consumer never opens it)
	 * until X ends. */
	uint64_t end = vt_now_ms() + SIM_WAIT_MS;
	while ((r = vmsg_chan_recv(c, NULL, b, sizeof b, 0)) == -EAGAIN &&
	       vt_now_ms() < end) {
		vmsg_chan *more;
		int a = vmsg_service_accept(ctl, &more, NULL, 100);
		if (a >= 0)
			VMSG_TEST_FAIL("accepted a second channel");
		if (a != -ETIMEDOUT && a != -EAGAIN)
			VMSG_TEST_FAIL("accept: %s", vmsg_strerror(a));
	}
	sim_say(vt_out, "ended %u %d", peer->channel_id, r);
	vmsg_service_close(ctl, c);
}

static int role_prov(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	int r = vmsg_service_offer(ctl, vt_arg, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "offered");
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	r = vmsg_service_accept(ctl, &c, &peer, ACCEPT_MS);
	if (r == -ETIMEDOUT)
		sim_say(vt_out, "none");
	else if (r < 0)
		VMSG_TEST_FAIL("accept: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	else
		watch_accepted(ctl, c, &peer);
	sim_expect(vt_in, "quit", b, sizeof b);
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_raw(void)
{
	char b[64], svc[32], how[8];
	ASSERT_EQ(sscanf(vt_arg, "%31s %7s", svc, how), 2);
	vmsg_chan *c = vt_raw_connect_ex(
		2, VMSG_FEATURE_SVC_SETUP_MSG |
			   (strcmp(how, "admit") ? 0 : VMSG_FEATURE_SVC_ADMIT));
	ASSERT_GE(send_open(c, 7, svc, 0), 0);
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	uint16_t type;
	ProtobufCMessage *m;
	ASSERT_GE(vmsg_proto_recv(c, &vmsg__service__opened__descriptor, &a,
				  &type, &m, SIM_WAIT_MS),
		  0);
	ASSERT_EQ(type, VMSG_TYPE_SVC_OPENED);
	const Vmsg__Service__Opened *o = (const void *)m;
	ASSERT_EQ(o->req_id, 7);
	/* Set up by message: the grant and port to connect with. */
	ASSERT_TRUE(o->ring_ref != 0 && o->event_port != 0);
	sim_say(vt_out, "opened %u", o->channel_id);
	sim_expect(vt_in, "quit", b, sizeof b);
	vmsg_chan_close(c);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"prov", role_prov},
	{"raw", role_raw},
	{NULL, NULL},
};

/* One round: a provider of `svc`, a consumer that opens it and never
 * connects (`how`: "admit" or "old", its Hello's features). admitted:
 * the provider's accept must hand the channel out, open, and vmsgd's
 * Closed must end it when the consumer goes; else it must hand nothing
 * out. */
static void round_of(const char *svc, const char *how, bool admitted)
{
	char buf[256], arg[32];
	struct vt_role prov, raw;
	vt_spawn(&prov, 1, "prov", svc);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", svc, 1);

	snprintf(arg, sizeof arg, "%s %s", svc, how);
	vt_spawn(&raw, 2, "raw", arg);
	unsigned opened, accepted;
	int state, r;
	sim_expect(raw.from, "opened", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "opened %u", &opened), 1);
	if (admitted) {
		/* The consumer has not connected, and will not: the
		 * provider's accept returned the channel all the same,
		 * open. */
		sim_expect(prov.from, "accepted", buf, sizeof buf);
		ASSERT_EQ(sscanf(buf, "accepted %u %d", &accepted, &state), 2);
		ASSERT_EQ(accepted, opened);
		ASSERT_EQ(state, VMSG_CHAN_OPEN);
		printf("%s, consumer %s: channel %u accepted before its "
		       "consumer connected\n",
		       svc, how, opened);
	} else {
		/* Its consumer has the channel, yet does not take an
		 * admitted one: nothing for the provider until it connects,
		 * and it will not. */
		sim_expect(prov.from, "none", buf, sizeof buf);
		printf("%s, consumer %s: channel %u not handed out in %d ms "
		       "(its consumer never connected)\n",
		       svc, how, opened, ACCEPT_MS);
	}

	sim_say(raw.to, "quit");
	vt_role_done(&raw, 0);
	if (admitted) {
		/* The consumer went: vmsgd's Closed ends the channel there. */
		sim_expect(prov.from, "ended", buf, sizeof buf);
		ASSERT_EQ(sscanf(buf, "ended %u %d", &accepted, &r), 2);
		ASSERT_EQ(accepted, opened);
		ASSERT_EQ(r, -EPIPE);
	}
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_ctl_wait("list services", svc, 0);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	vt_write_conf(CONF);
	vt_start_vmsgd();
	round_of("echo", "old", true);  /* a spare asked after it */
	round_of("plain", "admit", true); /* Serve's admit */
	round_of("plain", "old", false);
	vt_stop_vmsgd();
	return 0;
}
