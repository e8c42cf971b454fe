/* vmsgd_spareadmit: with spare = yes, vmsgd asks the provider for the
 * spare after channel X right after it has answered X's Open, and the
 * provider's library takes that as "X's consumer has it": it admits the
 * consumer (docs/protocol.md, "Spare channels"), so that vmsg_service_
 * accept hands X out, open, without waiting for the consumer's connect.
 * And vmsgd's Closed{X} ends X on the provider's side when that consumer
 * never came (nothing else would: it never mapped the page, so there is
 * no unmap notification to come).
 *
 * dom1: a provider of `echo` with blocking accepts: says "accepted ID
 * STATE" for the channel it takes, then, accepting on (which reads the
 * control channel), waits for that channel to end and says "ended ID R"
 * (R: its receive's result).
 * dom2: a consumer speaking the control protocol by hand, set up by
 * message: Opens `echo`, reads the Opened (says "opened ID") and never
 * connects; on "quit" closes its control channel.
 */
#include "vt_raw.h"

#define CONF                                                             \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\nspare = yes\n"

static int role_prov(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	int r = vmsg_service_offer(ctl, "echo", SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "offered");
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	r = vmsg_service_accept(ctl, &c, &peer, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("accept: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "accepted %u %d", peer.channel_id,
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
	sim_say(vt_out, "ended %u %d", peer.channel_id, r);
	vmsg_service_close(ctl, c);
	sim_expect(vt_in, "quit", b, sizeof b);
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_raw(void)
{
	char b[64];
	vmsg_chan *c = vt_raw_connect_ex(2, VMSG_FEATURE_SVC_SETUP_MSG);
	ASSERT_GE(send_open(c, 7, "echo", 0), 0);
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

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role prov, raw;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "prov", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);

	vt_spawn(&raw, 2, "raw", NULL);
	unsigned opened, accepted;
	int state, r;
	sim_expect(raw.from, "opened", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "opened %u", &opened), 1);
	/* The consumer has not connected, and will not: the provider's
	 * accept returned the channel all the same, open. */
	sim_expect(prov.from, "accepted", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "accepted %u %d", &accepted, &state), 2);
	ASSERT_EQ(accepted, opened);
	ASSERT_EQ(state, VMSG_CHAN_OPEN);
	printf("channel %u: accepted before its consumer connected\n",
	       opened);

	/* The consumer goes: vmsgd's Closed ends the channel there. */
	sim_say(raw.to, "quit");
	vt_role_done(&raw, 0);
	sim_expect(prov.from, "ended", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "ended %u %d", &accepted, &r), 2);
	ASSERT_EQ(accepted, opened);
	ASSERT_EQ(r, -EPIPE);

	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
