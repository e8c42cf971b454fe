/* vmsgd_noconnect: a consumer that opens a relayed service and never
 * connects to the end vmsgd serves for it. dom1 offers `echo` (relayed);
 * dom2, speaking the control protocol by hand, sends Open with a 5 s
 * wait, gets Opened (vmsgd now holds a relay with the provider's end
 * connected) and then does nothing, its control channel kept open. The
 * channel must leave vmsgctl's list once the wait (plus vmsgd's 1 s grace)
 * is over, instead of staying until dom2's control channel goes. */
#include "vt_raw.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = relayed\n"

static int role_lazy(void)
{
	char line[64];
	vmsg_chan *c = vt_raw_connect(2);
	Vmsg__Service__Open o = VMSG__SERVICE__OPEN__INIT;
	o.req_id = 7;
	o.service = (char *)"echo";
	o.timeout_ms = 5000; /* the provider must answer within it */
	ASSERT_TRUE(vmsg_proto_send(c, VMSG_TYPE_SVC_OPEN, &o.base, 0,
				    SIM_WAIT_MS) > 0);
	struct vmsg_msg peek;
	ASSERT_EQ(vmsg_chan_peek(c, &peek, SIM_WAIT_MS), 0);
	if (peek.type == VMSG_TYPE_SVC_RESULT) {
		uint32_t req;
		int code;
		char text[256];
		ASSERT_EQ(read_result(c, 0, &req, &code, text, sizeof text), 0);
		VMSG_TEST_FAIL("Open refused: %d %s", code, text);
	}
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	uint16_t type;
	ProtobufCMessage *m;
	ASSERT_TRUE(vmsg_proto_recv(c, &vmsg__service__opened__descriptor, &a,
				    &type, &m, SIM_WAIT_MS) >= 0);
	ASSERT_EQ(type, VMSG_TYPE_SVC_OPENED);
	const Vmsg__Service__Opened *op = (const void *)m;
	ASSERT_EQ(op->req_id, 7u);
	ASSERT_EQ(op->provider_domid, 0u); /* relayed: vmsgd's end */
	sim_say(vt_out, "opened %u", op->channel_id);
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_chan_close(c);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"lazy", role_lazy},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	struct vt_role prov, lazy;
	vt_start_with_echo(CONF, &prov);
	vt_spawn(&lazy, 2, "lazy", NULL);
	sim_expect(lazy.from, "opened", buf, sizeof buf);
	printf("dom2 got Opened for channel%s and will not connect\n", buf + 6);
	vt_ctl_wait("--json list channels", "\"service\":\"echo\"", 0);
	printf("the channel is gone; dom2's control channel is still up\n");
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	printf("%s", buf);

	sim_say(lazy.to, "quit");
	vt_role_done(&lazy, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
