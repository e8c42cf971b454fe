/* vmsgd_noconnect: a consumer that opens a relayed service and never
 * connects to the end vmsgd serves for it. dom1 offers `echo` (relayed);
 * dom2, speaking the control protocol by hand, sends Open with a 5 s
 * wait, gets Opened (vmsgd now holds a relay with the provider's end
 * connected) and then does nothing, its control channel kept open. The
 * channel must be listed by vmsgctl, and leave the list once the wait is
 * over (or vmsgd's 1 s grace after Opened, when that ends later), instead
 * of staying until dom2's control channel goes; dom2's control channel
 * must still be up then.
 *
 * The timing, from dom2's clock read just before it sent Open (T0) and
 * the driver's when it heard "opened" (T1; CLOCK_MONOTONIC is one clock
 * for every process here): vmsgd's deadline is its receipt of Open (in
 * [T0, T1]) plus the wait, checked on a 500 ms tick. So vmsgctl must
 * list the channel at least once; a call that ends before T0 + WAIT_MS
 * and does not list it means vmsgd dropped it before the wait was over;
 * and a call that starts after T1 + WAIT_MS + TICK_MS + LATE_MS must no
 * longer list it. Each bound holds however slowly the test's own calls
 * run. LATE_MS, 1.5 s, is the headroom for a loaded 2-core machine (the
 * tick would run that late only if vmsgd got no CPU for that long), while
 * a vmsgd that ignored the wait (its 30 s default) or kept the relay
 * until dom2's control channel went fails. */
#include <time.h>

#include "vt_raw.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = relayed\n"
#define WAIT_MS 5000u /* the wait dom2's Open asks for */
#define TICK_MS 500u  /* vmsgd checks deadlines this often */
#define LATE_MS 1500u /* headroom for a loaded machine */

static int role_lazy(void)
{
	char line[64];
	vmsg_chan *c = vt_raw_connect(2);
	Vmsg__Service__Open o = VMSG__SERVICE__OPEN__INIT;
	o.req_id = 7;
	o.service = (char *)"echo";
	o.timeout_ms = WAIT_MS; /* the provider must answer within it */
	uint64_t t0 = vt_now_ms();
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
	sim_say(vt_out, "opened %u %llu", op->channel_id,
		(unsigned long long)t0);
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
	unsigned id;
	unsigned long long t0;
	const char *rest = sim_expect(lazy.from, "opened ", buf, sizeof buf);
	const uint64_t t1 = vt_now_ms();
	ASSERT_EQ(sscanf(rest, "%u %llu", &id, &t0), 2);
	printf("dom2 got Opened for channel %u and will not connect\n", id);

	/* Listed, then gone in time: see the top. */
	char needle[64], out[8192];
	snprintf(needle, sizeof needle, "{\"id\":%u,\"service\":\"echo\"", id);
	uint64_t last_listed = 0, first_gone = 0;
	bool listed = false;
	for (;;) {
		const uint64_t a = vt_now_ms();
		ASSERT_EQ(vt_ctl(out, sizeof out, "--json list channels"), 0);
		const uint64_t b = vt_now_ms();
		if (!strstr(out, needle)) {
			first_gone = b;
			break;
		}
		listed = true;
		last_listed = a;
		if (a > t1 + WAIT_MS + TICK_MS + LATE_MS)
			VMSG_TEST_FAIL("channel %u still listed %llu ms after "
				       "Opened (the wait is %u ms):\n%s", id,
				       (unsigned long long)(a - t1), WAIT_MS,
				       out);
		usleep(100000);
	}
	if (!listed)
		VMSG_TEST_FAIL("channel %u never listed; vmsgctl said:\n%s",
			       id, out);
	if (first_gone < t0 + WAIT_MS)
		VMSG_TEST_FAIL("channel %u gone %llu ms after Open, before "
			       "its %u ms wait was over", id,
			       (unsigned long long)(first_gone - t0), WAIT_MS);
	printf("the channel was listed until %llu ms after Open, gone by "
	       "%llu ms\n", (unsigned long long)(last_listed - t0),
	       (unsigned long long)(first_gone - t0));

	/* dom2's control channel outlives the relay it never used. */
	ASSERT_EQ(vt_ctl(out, sizeof out, "--json list domains"), 0);
	if (!strstr(out, "{\"domid\":2,\"state\":\"connected\""))
		VMSG_TEST_FAIL("dom2's control channel is not up:\n%s", out);
	printf("dom2's control channel is still up\n");

	sim_say(lazy.to, "quit");
	vt_role_done(&lazy, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
