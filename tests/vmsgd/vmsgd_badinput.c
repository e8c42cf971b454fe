/* vmsgd_badinput: a hostile guest (dom3) writes whatever it likes on its
 * control channel while dom1 offers `echo` and dom2 streams through it.
 *  - malformed protobuf, unknown types and oversized messages (a few of
 *    each) are dropped: its next Offer is still answered (-EACCES);
 *  - a flood of 5000 Opens: once over the request rate they are answered
 *    -EAGAIN "rate limited", and persisting gets its control channel reset
 *    (-EPIPE) long before the 5000th;
 *  - a raw garbage frame header breaks its channel: vmsgd resets it and
 *    says so at warn (docs/vmsgd.md, "Logging");
 *  - after a pause the guest connects again and is served (-EACCES for
 *    an Offer the policy does not allow: limited, not banned).
 * Meanwhile dom2 keeps exchanging checksummed messages with dom1 and opens
 * a second channel afterwards; vmsgctl answers throughout; vmsgd exits 0. */
#include "vt_raw.h"

#include <vmsg/ring.h>

#include "vmsg_chan_internal.h"

#define CONF                                                              \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"             \
	"max_channels_per_domain = 8\n"

#define FLOOD 5000

static int role_hostile(void)
{
	static unsigned char junk[100000];
	char text[200];
	uint32_t req;
	int code;
	memset(junk, 0xa5, sizeof junk);
	vmsg_chan *c = vt_raw_connect(3);

	/* Bad messages, a few of each: dropped. */
	for (int i = 0; i < 5; i++) {
		/* field 1 as a varint that never ends */
		unsigned char bad[8] = {0x08, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff};
		ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_SVC_OPEN, bad, sizeof bad,
					 0, SIM_WAIT_MS),
			  (int)sizeof bad);
		ASSERT_EQ(vmsg_chan_send(c, (uint16_t)(0x7000 + i), junk, 100,
					 0, SIM_WAIT_MS),
			  100);
		ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_SVC_OFFER, junk,
					 sizeof junk, 0, SIM_WAIT_MS),
			  (int)sizeof junk);
		ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_HELLO, junk, 10, 0,
					 SIM_WAIT_MS),
			  10);
	}
	ASSERT_TRUE(send_offer(c, 1, "nope") > 0);
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  0);
	ASSERT_EQ(req, 1u);
	ASSERT_EQ(code, -EACCES);
	sim_say(vt_out, "bad dropped");

	/* The flood: Opens as fast as the ring takes them, reading the
	 * answers on the way, until vmsgd has had enough. */
	unsigned sent = 0, limited = 0, denied = 0;
	int r = 0;
	for (; sent < FLOOD; sent++) {
		Vmsg__Service__Open op = VMSG__SERVICE__OPEN__INIT;
		op.req_id = 100 + sent;
		op.service = (char *)"echo";
		r = vmsg_proto_send(c, VMSG_TYPE_SVC_OPEN, &op.base, 0,
				    SIM_WAIT_MS);
		if (r == -EPIPE)
			break;
		ASSERT_TRUE(r > 0);
		while ((r = read_result(c, 0, &req, &code, text,
					sizeof text)) == 0) {
			if (code == -EAGAIN) {
				ASSERT_TRUE(strstr(text, "rate limited") !=
					    NULL);
				limited++;
			} else {
				ASSERT_EQ(code, -EACCES); /* policy */
				denied++;
			}
		}
		if (r == -EPIPE)
			break;
		ASSERT_EQ(r, -EAGAIN);
	}
	ASSERT_EQ(r, -EPIPE); /* reset for persistent flooding */
	ASSERT_TRUE(sent < FLOOD);
	ASSERT_GT(denied, 0);
	ASSERT_GT(limited, 0);
	vmsg_chan_close(c);

	/* A garbage frame header, written straight into the ring. */
	c = vt_raw_connect(3);
	static const unsigned char garbage[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef};
	ASSERT_EQ(vmsg_ring_send(vmsg__chan_ring(c), garbage, sizeof garbage),
		  (int)sizeof garbage);
	struct vmsg_platform *pf = vmsg__chan_platform(c);
	pf->ops->notify(pf);
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  -EPIPE);
	vmsg_chan_close(c);

	/* Limited, not banned: after a pause it is served again. */
	usleep(500000);
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "nope", SIM_WAIT_MS), -EACCES);
	vmsg_ctl_close(ctl);
	sim_say(vt_out, "flood stopped after %u Opens: %u denied, %u rate "
			"limited",
		sent, denied, limited);
	return 0;
}

static int role_consumer(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c2;
	unsigned rounds;
	vmsg_chan *c1 = vt_stream_until_reopen(ctl, &rounds);
	int r;
	r = vmsg_service_open(ctl, "echo", &c2, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("second open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	vt_echo_exchange(c2, 50, true);
	vt_echo_exchange(c1, 50, true);
	sim_say(vt_out, "done after %u rounds", rounds);
	vmsg_service_close(ctl, c2);
	vmsg_service_close(ctl, c1);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hostile", role_hostile},
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	static char buf[1 << 20];
	struct vt_role prov, cons, bad;
	char logpath[700];
	snprintf(logpath, sizeof logpath, "%s/vmsgd.log", sim_dir);
	vt_vmsgd_log = logpath;
	vt_start_with_echo(CONF, &prov);
	vt_spawn(&cons, 2, "consumer", NULL);
	sim_expect(cons.from, "streaming", buf, sizeof buf);

	vt_spawn(&bad, 3, "hostile", NULL);
	sim_expect(bad.from, "bad dropped", buf, sizeof buf);
	printf("hostile: %s\n", sim_expect(bad.from, "flood", buf, sizeof buf));
	vt_role_done(&bad, 0);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list services"), 0);
	ASSERT_TRUE(strstr(buf, "echo") != NULL);

	sim_say(cons.to, "reopen");
	printf("consumer: %s\n", sim_expect(cons.from, "done", buf, sizeof buf));
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();

	/* The garbage header's reset was logged at warn, naming the cause;
	 * the guest's orderly closes at info. */
	vt_read_vmsgd_log(buf, sizeof buf);
	if (!strstr(buf, "vmsgd: warn: domain 3: resetting its control "
			 "channel: it broke the channel protocol"))
		VMSG_TEST_FAIL("no warning about the broken protocol; vmsgd "
			       "logged:\n%s", buf);
	ASSERT_TRUE(strstr(buf, "vmsgd: info: domain 3: disconnected") !=
		    NULL);
	return 0;
}
