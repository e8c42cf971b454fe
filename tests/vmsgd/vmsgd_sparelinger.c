/* vmsgd_sparelinger: an Open that takes a spare its provider has not
 * served yet (docs/protocol.md, "Spare channels"), and whose wait ends
 * before the provider answers, lingers like any direct open whose Serve
 * is out (vmsgd_directlinger): the provider is told Closed before the
 * consumer hears -ETIMEDOUT, and the channel is listed lingering and
 * counted against the consumer until the provider answers.
 *
 * `echo` is direct, spare = yes, max_channels_per_domain = 2. dom1 offers
 * it by hand (vt_hold.h), announcing setup by message, and holds every
 * Serve until told. dom2, by hand and by message too, opens once: dom1
 * serves that by message, and vmsgd asks it for a spare for dom2 at
 * once, which dom1 holds ("spare-asked"). dom2's next Open, with a 1 ms
 * wait, takes that spare and times out at vmsgd's next tick. Then:
 *  - dom1 has been told Closed for the spare (before the fix: nothing;
 *    vmsgd forgot the channel at the timeout, and dom1 heard of it only
 *    after answering, through the 'stray serve result' path);
 *  - vmsgctl lists it lingering, consumer 2;
 *  - it counts: dom2's next Open is refused for max_channels_per_domain,
 *    and dom1 gets no Serve for it (before: asked of dom1).
 * dom1 then answers as its library would (serves, answers, closes and
 * says Closed{id}): the channel goes, vmsgd logs no stray serve result,
 * and dom2's next Open is asked of dom1 again. */
#include "vt_hold.h"

#define CONF                                                                 \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"               \
	"max_channels_per_domain = 2\nspare = yes\n"

/* dom1: vt_hold.h's provider, set up by message (spares need it). */
static int role_hold_msg(void)
{
	hold_features = VMSG_FEATURE_SVC_SETUP_MSG;
	return role_hold();
}

/* dom2, by hand, set up by message: on "open MS", one Open of echo that
 * waits MS ms, and its answer: says "opened ID" or "failed CODE TEXT".
 * "quit": leaves. */
static int role_consumer(void)
{
	char line[64];
	uint32_t req = 1;
	vmsg_chan *c = vt_raw_connect_ex(2, VMSG_FEATURE_SVC_SETUP_MSG);
	for (;; req++) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4))
			break;
		if (strncmp(line, "open ", 5) != 0)
			VMSG_TEST_FAIL("dom2: '%s'?", line);
		ASSERT_TRUE(send_open(c, req, "echo",
				      (uint32_t)atoi(line + 5)) > 0);
		struct vmsg_msg pk;
		ASSERT_EQ(vmsg_chan_peek(c, &pk, SIM_WAIT_MS), 0);
		if (pk.type == VMSG_TYPE_SVC_RESULT) {
			uint32_t rq = 0;
			int code;
			char text[200];
			ASSERT_EQ(read_result(c, 0, &rq, &code, text,
					      sizeof text),
				  0);
			ASSERT_EQ(rq, req);
			sim_say(vt_out, "failed %d %s", code, text);
			continue;
		}
		uint64_t abuf[512];
		struct vmsg_arena a;
		vmsg_arena_init(&a, abuf, sizeof abuf);
		uint16_t type;
		ProtobufCMessage *m;
		ASSERT_TRUE(vmsg_proto_recv(c, &vmsg__service__opened__descriptor,
					    &a, &type, &m, 0) >= 0);
		ASSERT_EQ(type, VMSG_TYPE_SVC_OPENED);
		const Vmsg__Service__Opened *op = (const void *)m;
		ASSERT_EQ(op->req_id, req);
		/* What dom1 answered ("msg"): set up by message. */
		ASSERT_EQ(op->ring_ref, 8u);
		ASSERT_EQ(op->event_port, 9u);
		sim_say(vt_out, "opened %u", op->channel_id);
	}
	vmsg_chan_close(c);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hold", role_hold_msg},
	{"consumer", role_consumer},
	{NULL, NULL},
};

/* dom2 opens echo, waiting wait_ms; the code vmsgd failed it with (the
 * text into text), or fails the test if it opened. */
static int open_fails(const struct vt_role *cons, unsigned wait_ms,
		      char *text, size_t cap)
{
	char cmd[32], buf[256];
	snprintf(cmd, sizeof cmd, "open %u", wait_ms);
	sim_say(cons->to, cmd);
	const char *got = sim_expect(cons->from, "", buf, sizeof buf);
	int code = 0, at = 0;
	if (sscanf(got, "failed %d %n", &code, &at) != 1 || !at)
		VMSG_TEST_FAIL("dom2's open with a wait of %u ms: %s", wait_ms,
			       got);
	snprintf(text, cap, "%s", got + at);
	return code;
}

/* dom1 takes what vmsgd sent: the Serves it holds, and how many of them
 * vmsgd has not told it Closed for. */
static void drain(const struct vt_role *hold, unsigned *serves,
		  unsigned *unclosed)
{
	char buf[128];
	sim_say(hold->to, "drain");
	const char *got = sim_expect(hold->from, "serves ", buf, sizeof buf);
	ASSERT_EQ(sscanf(got, "%u unclosed %u", serves, unclosed), 2);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[16384], logf[700], text[200];
	snprintf(logf, sizeof logf, "%s/vmsgd.log", sim_dir);
	vt_vmsgd_log = logf;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	struct vt_role hold, cons;
	vt_spawn(&hold, 1, "hold", NULL);
	sim_expect(hold.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
	vt_spawn(&cons, 2, "consumer", NULL);

	/* dom2's first open, served by message. */
	sim_say(cons.to, "open 30000");
	sim_say(hold.to, "next");
	const char *got = sim_expect(hold.from, "serve ", buf, sizeof buf);
	unsigned first = (unsigned)atoi(got);
	sim_say(hold.to, "msg");
	sim_expect(hold.from, "served", buf, sizeof buf);
	got = sim_expect(cons.from, "opened ", buf, sizeof buf);
	ASSERT_EQ((unsigned)atoi(got), first);

	/* The spare vmsgd asks of dom1 for dom2 right after: held. */
	sim_say(hold.to, "next");
	got = sim_expect(hold.from, "serve ", buf, sizeof buf);
	unsigned spare = (unsigned)atoi(got);
	ASSERT_TRUE(vt_in_state(spare, "spare-asked"));
	printf("dom2 opened channel %u; dom1 holds the Serve of spare %u\n",
	       first, spare);

	/* dom2's next open takes it and times out. */
	int code = open_fails(&cons, 1, text, sizeof text);
	if (code != -ETIMEDOUT)
		VMSG_TEST_FAIL("dom2's open of the unserved spare: %d (%s), "
			       "not -ETIMEDOUT",
			       code, text);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list services"), 0);
	if (!strstr(buf, "\"spare_opens\":1"))
		VMSG_TEST_FAIL("the open did not take the spare: %s", buf);
	unsigned serves = 0, unclosed = 0;
	drain(&hold, &serves, &unclosed);
	printf("dom2's open took spare %u and timed out; dom1 holds %u "
	       "Serves, %u of them not told Closed\n",
	       spare, serves, unclosed);
	fflush(stdout); /* seen even when the test fails */
	ASSERT_EQ(serves, 1u);
	if (unclosed != 0) {
		vt_ctl(buf, sizeof buf, "list channels");
		VMSG_TEST_FAIL("dom2's open of spare %u timed out while dom1 "
			       "held its Serve, and vmsgd did not tell dom1 "
			       "Closed for it (nor lists it lingering):\n%s",
			       spare, buf);
	}
	ASSERT_TRUE(vt_in_state(spare, "lingering"));
	ASSERT_EQ(lingering(), 1u);

	/* It counts against dom2 (its channel `first` and this one): the
	 * next open is refused, and dom1 is asked nothing. */
	code = open_fails(&cons, 1, text, sizeof text);
	if (code != -EUSERS || !strstr(text, "limit of 2 channels"))
		VMSG_TEST_FAIL("dom2's open with spare %u lingering: %d (%s), "
			       "not refused for max_channels_per_domain",
			       spare, code, text);
	drain(&hold, &serves, &unclosed);
	ASSERT_EQ(serves, 1u);
	printf("spare %u lingers, counted: dom2's next open was refused "
	       "(%s)\n",
	       spare, text);

	/* dom1 answers as its library would: serves it, answers, closes it
	 * and says Closed. The channel goes; the answer was expected. */
	sim_say(hold.to, "drop 0");
	got = sim_expect(hold.from, "dropped ", buf, sizeof buf);
	ASSERT_EQ(atoi(got), 1);
	vt_ctl_wait("--json list channels", "\"state\":\"lingering\"", 0);
	ASSERT_TRUE(!vt_in_state(spare, "lingering"));
	static char log[1 << 20];
	vt_read_vmsgd_log(log, sizeof log);
	if (strstr(log, "stray serve result"))
		VMSG_TEST_FAIL("vmsgd took dom1's answer for spare %u as a "
			       "stray serve result:\n%s",
			       spare, log);
	printf("dom1 answered and closed spare %u: no longer listed\n", spare);

	/* dom2 is charged for it no more: its next open is asked of dom1. */
	code = open_fails(&cons, 1, text, sizeof text);
	ASSERT_EQ(code, -ETIMEDOUT);
	drain(&hold, &serves, &unclosed);
	ASSERT_EQ(serves, 1u); /* a new Serve */
	ASSERT_EQ(unclosed, 0u);

	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(hold.to, "quit");
	vt_role_done(&hold, 0);
	vt_ctl_wait("list services", "echo", 0);
	vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
	vt_stop_vmsgd();
	return 0;
}
