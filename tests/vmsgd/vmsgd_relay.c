/* vmsgd_relay: relayed mode. dom1 offers `echo` (relayed) and `echo.d`
 * (direct) and echoes without ever blocking; dom2 opens `echo` and gets
 * Opened pointing at dom0 (vmsgd serves its end and copies to dom1's),
 * exchanges 200 typed messages, one of 300000 bytes (fragmented through
 * 64 KiB rings both ways), checksummed; `vmsgctl --json list channels`
 * shows the channel as relayed with counters at least what was sent.
 * Closes propagate both ways: dom2 closes `echo` and dom1's end sees
 * -EPIPE (the channel leaves vmsgctl); dom3 offers `bye`, learns that
 * dom2 (not domain 0, vmsgd's end) is its consumer, sends five
 * messages (two fragmented) and closes at once: dom2 still receives all
 * five in order, then -EPIPE. Last, relayed vs direct round trip and
 * throughput are measured once and printed (not asserted). Then vmsgd is
 * stopped (SIGTERM) with a relayed channel open: it exits 0 and the
 * consumer's end reads as closed. */
#include "vt_nb.h"

#define SVC(name, off, mode)                                               \
	"[service " name "]\noffer = " off "\nopen = 2\nmode = " mode "\n" \
	"max_channels_per_domain = 4\nring_size = 65536\n"                 \
	"max_msg = 1048576\n\n"
#define CONF SVC("echo", "1", "relayed") SVC("echo.d", "1", "direct") \
	SVC("bye", "3", "relayed")

static const size_t bye_len[5] = {10, 200000, 5, 70000, 0};

static void bye_fill(unsigned char *buf, unsigned i, size_t len)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (unsigned char)(i * 31u + j * 7u);
}

static int role_byer(void)
{
	static unsigned char buf[ECHO_MAX_MSG];
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "bye", SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered");
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	ASSERT_EQ(vmsg_service_accept(ctl, &c, &peer, SIM_WAIT_MS), 0);
	/* vmsgd is this end's peer, but the provider learns the domain it
	 * relays for, never a domid 0 that could pass for dom0. */
	ASSERT_EQ(peer.domid, 2);
	ASSERT_EQ(strcmp(peer.service, "bye"), 0);
	uint16_t t;
	ASSERT_EQ(vmsg_chan_recv(c, &t, buf, sizeof buf, SIM_WAIT_MS), 2);
	ASSERT_EQ(memcmp(buf, "hi", 2), 0);
	for (unsigned i = 0; i < 5; i++) {
		bye_fill(buf, i, bye_len[i]);
		ASSERT_EQ(vmsg_chan_send(c, (uint16_t)(0x300 + i), buf,
					 bye_len[i], 0, SIM_WAIT_MS),
			  (int)bye_len[i]);
	}
	/* At once: what was committed must still reach dom2. */
	vmsg_service_close(ctl, c);
	sim_say(vt_out, "closed");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Round trip and throughput of one service, printed for the record. */
static void bench(vmsg_ctl *ctl, const char *svc)
{
	static unsigned char buf[16384];
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, svc, &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open %s: %s", svc, vmsg_strerror(r));
	memset(buf, 0x5a, sizeof buf);
	const unsigned rounds = 2000;
	uint64_t t0 = nb_now_ns();
	for (unsigned k = 0; k < rounds; k++) {
		ASSERT_EQ(vmsg_chan_send(c, 0x100, buf, 64, 0, SIM_WAIT_MS), 64);
		ASSERT_EQ(vmsg_chan_recv(c, NULL, buf, sizeof buf, SIM_WAIT_MS),
			  64);
	}
	double rtt_us = (double)(nb_now_ns() - t0) / rounds / 1000.0;
	const size_t total = 64u << 20;
	t0 = nb_now_ns();
	for (size_t sent = 0; sent < total; sent += sizeof buf)
		ASSERT_EQ(vmsg_chan_send(c, NB_SINK, buf, sizeof buf, 0,
					 SIM_WAIT_MS),
			  (int)sizeof buf);
	/* The echo of a last message says everything before it arrived. */
	ASSERT_EQ(vmsg_chan_send(c, 0x100, buf, 1, 0, SIM_WAIT_MS), 1);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, buf, sizeof buf, SIM_WAIT_MS), 1);
	double s = (double)(nb_now_ns() - t0) / 1e9;
	sim_say(vt_out, "bench %-7s rtt %.1f us (64 B), throughput %.0f MiB/s "
			"(16 KiB messages, 64 MiB)",
		svc, rtt_us, (double)total / (1 << 20) / s);
	vmsg_service_close(ctl, c);
}

static int role_consumer(void)
{
	static unsigned char buf[ECHO_MAX_MSG];
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	ASSERT_EQ(vmsg_chan_max_msg(c), (int)ECHO_MAX_MSG);
	vt_echo_exchange(c, 200, true);
	sim_say(vt_out, "exchanged");
	sim_expect(vt_in, "close", line, sizeof line);
	vmsg_service_close(ctl, c);

	/* The provider's close: everything it sent first, then -EPIPE. */
	sim_expect(vt_in, "bye", line, sizeof line);
	r = vmsg_service_open(ctl, "bye", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open bye: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	ASSERT_EQ(vmsg_chan_send(c, 0x300, "hi", 2, 0, SIM_WAIT_MS), 2);
	static unsigned char want[ECHO_MAX_MSG];
	for (unsigned i = 0; i < 5; i++) {
		uint16_t t;
		r = vmsg_chan_recv(c, &t, buf, sizeof buf, SIM_WAIT_MS);
		ASSERT_EQ(r, (int)bye_len[i]);
		ASSERT_EQ(t, 0x300 + i);
		bye_fill(want, i, bye_len[i]);
		ASSERT_EQ(memcmp(buf, want, bye_len[i]), 0);
	}
	ASSERT_EQ(vmsg_chan_recv(c, NULL, buf, sizeof buf, SIM_WAIT_MS),
		  -EPIPE);
	vmsg_service_close(ctl, c);
	sim_say(vt_out, "bye-ok");

	sim_expect(vt_in, "bench", line, sizeof line);
	bench(ctl, "echo.d");
	bench(ctl, "echo");

	/* vmsgd stops (SIGTERM) while a relay is open: what it holds is
	 * still delivered, then the channel reads as closed. */
	r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("last open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	ASSERT_EQ(vmsg_chan_send(c, 0x301, "last", 4, 0, SIM_WAIT_MS), 4);
	uint16_t t;
	ASSERT_EQ(vmsg_chan_recv(c, &t, buf, sizeof buf, SIM_WAIT_MS), 4);
	sim_say(vt_out, "held");
	sim_expect(vt_in, "stopped", line, sizeof line);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, buf, sizeof buf, SIM_WAIT_MS),
		  -EPIPE);
	vmsg_chan_close(c);
	sim_say(vt_out, "done");
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_nb_provider(void)
{
	return nb_provider("echo,echo.d");
}

static const struct vt_role_fn roles[] = {
	{"consumer", role_consumer},
	{"byer", role_byer},
	{"nbprov", role_nb_provider},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	static char buf[65536];
	vt_write_conf(CONF);
	vt_start_vmsgd();

	struct vt_role prov, cons, byer;
	vt_spawn(&prov, 1, "nbprov", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "consumer", NULL);
	sim_expect(cons.from, "exchanged", buf, sizeof buf);

	/* What vt_echo_exchange(c, 200, true) sent (and got back). */
	unsigned long long total = 0;
	for (unsigned i = 0; i < 200; i++)
		total += i == 100 ? 300000u : (i * 97u) % 2000u;
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	printf("vmsgctl --json list channels:\n%s", buf);
	ASSERT_TRUE(strstr(buf, "\"service\":\"echo\",\"provider\":1,"
				"\"consumer\":2,\"state\":\"open\","
				"\"mode\":\"relayed\"") != NULL);
	ASSERT_TRUE(strstr(buf, "\"relay_path\":\"/local/domain/0/data/vmsgd/"
				"relay/") != NULL);
	ASSERT_TRUE(nb_counter(buf, "echo", "to_provider_bytes") >= total);
	ASSERT_TRUE(nb_counter(buf, "echo", "to_consumer_bytes") >= total);
	ASSERT_TRUE(nb_counter(buf, "echo", "to_provider_msgs") >= 200);
	ASSERT_TRUE(nb_counter(buf, "echo", "to_consumer_msgs") >= 200);
	ASSERT_TRUE(nb_counter(buf, "echo", "kicks_sent") +
			    nb_counter(buf, "echo", "kicks_suppressed") >
		    0);
	(void)nb_counter(buf, "echo", "to_consumer_stalls");
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list channels"), 0);
	printf("vmsgctl list channels:\n%s", buf);
	ASSERT_TRUE(strstr(buf, "relayed") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list services"), 0);
	ASSERT_TRUE(strstr(buf, "relayed") != NULL);

	/* Consumer closes: the provider's end sees it, vmsgd forgets. */
	sim_say(cons.to, "close");
	vt_ctl_wait("--json list channels", "\"service\":\"echo\"", 0);

	/* Provider closes right after sending: all delivered, then EPIPE. */
	vt_spawn(&byer, 3, "byer", NULL);
	sim_expect(byer.from, "offered", buf, sizeof buf);
	sim_say(cons.to, "bye");
	sim_expect(byer.from, "closed", buf, sizeof buf);
	sim_expect(cons.from, "bye-ok", buf, sizeof buf);
	vt_ctl_wait("--json list channels", "\"service\":\"bye\"", 0);
	sim_say(byer.to, "quit");
	vt_role_done(&byer, 0);

	sim_say(cons.to, "bench");
	for (int i = 0; i < 2; i++) {
		sim_expect(cons.from, "bench", buf, sizeof buf);
		printf("bench%s\n", buf + 5);
	}
	sim_expect(cons.from, "held", buf, sizeof buf);
	vt_ctl_wait("--json list channels", "\"mode\":\"relayed\"", 1);
	vt_stop_vmsgd(); /* exit 0 with the relay open (and no leak: ASan) */
	sim_say(cons.to, "stopped");
	sim_expect(cons.from, "done", buf, sizeof buf);
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	return 0;
}
