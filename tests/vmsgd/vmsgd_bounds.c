/* vmsgd_bounds: what one guest can make vmsgd hold is bounded by [daemon]
 * settings (docs/vmsgd.md, "Limits"), and a guest whose control channel
 * keeps being reset is served its next one later and later.
 *
 * vmsgd starts with no [daemon] keys: `vmsgctl policy` shows the
 * documented defaults. dom5 opens dom6's relayed `echo` and writes the
 * first two fragments (60000 bytes) of a 200000-byte message into it, and
 * nothing more: vmsgctl counts the 60000 bytes vmsgd collected as dom5's
 * queued bytes. A reload sets small values, shown in text and JSON:
 *  - partial_message_ms = 1000: dom5's relayed channel, its message
 *    incomplete for longer than that by now, is ended (dom5 sees -EPIPE)
 *    and leaves vmsgctl;
 *  - max_pending_opens_per_domain = 2: dom1 offers `slow` and never
 *    answers Serve; dom2 (by hand) sends three Opens: the third is refused
 *    at once (-EBUSY, naming the key) and vmsgctl counts 2 pending;
 *  - partial_message_ms = 1000: dom3 writes the first fragment of a
 *    control message and nothing more: its channel is reset within about
 *    a second (the default would wait 30 s);
 *  - reset_backoff_ms = 500, reset_backoff_max_ms = 2000: dom4 breaks its
 *    control channel's protocol six times, reconnecting at once each time:
 *    the first reset is served again at once, then 500, 1000, 2000, 2000,
 *    2000 ms later (at least that, and never much beyond the cap); vmsgctl
 *    shows it as "backoff" meanwhile and the log says so;
 *  - max_queued_bytes_per_domain = 131072: dom2 fills three channels of a
 *    connect bridge whose dom0 server never reads: vmsgd's write queues
 *    hold at most the bound (plus one read) of dom2's data, where each
 *    channel alone would hold 256 KiB. */
#include "vt_proc.h"
#include "vt_raw.h"

#include "frag_flood_peer.h"

#define QUEUED 131072
#define PARTIAL_MS 1000
#define BACKOFF_MS 500
#define BACKOFF_MAX_MS 2000
#define RESETS 6
#define CHANS 3
#define STUCK_MS 300 /* a write that moves nothing this long: full */

static char sink_path[700];

/* dom1: offers `slow` and leaves every Serve unanswered. */
static int role_silent(void)
{
	char line[64], text[200];
	uint32_t req;
	int code;
	vmsg_chan *c = vt_raw_connect(1);
	ASSERT_TRUE(send_offer(c, 1, "slow") > 0);
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  0);
	ASSERT_EQ(code, 0);
	sim_say(vt_out, "offered");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_chan_close(c);
	return 0;
}

/* dom2: three Opens of `slow`; the third is over the bound. Then three
 * channels of `sink`, each written until it is full. */
static int role_opener(void)
{
	char line[64], text[200];
	uint32_t req;
	int code;
	vmsg_chan *c = vt_raw_connect(2);
	for (uint32_t i = 1; i <= 3; i++)
		ASSERT_TRUE(send_open(c, i, "slow", 60000) > 0);
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  0);
	ASSERT_EQ(req, 3);
	ASSERT_EQ(code, -EBUSY);
	ASSERT_TRUE(strstr(text, "max_pending_opens_per_domain") != NULL);
	sim_say(vt_out, "refused: %s", text);
	sim_expect(vt_in, "fill", line, sizeof line);
	vmsg_chan_close(c);

	static unsigned char data[1u << 20];
	memset(data, 0x5a, sizeof data);
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *ch[CHANS];
	size_t total = 0;
	for (int i = 0; i < CHANS; i++) {
		int r = vmsg_service_open(ctl, "sink", &ch[i], SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("open sink: %s (%s)", vmsg_strerror(r),
				       vmsg_ctl_error(ctl));
		for (;;) {
			r = vmsg_chan_write(ch[i], data, sizeof data, STUCK_MS);
			if (r == -ETIMEDOUT)
				break;
			ASSERT_TRUE(r > 0);
			total += (size_t)r;
		}
	}
	sim_say(vt_out, "full: %zu bytes written", total);
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < CHANS; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom3: the first fragment of a 2000-byte control message, written into
 * the ring by hand, and nothing more. */
static int role_partial(void)
{
	vmsg_chan *c = vt_raw_connect(3);
	struct vmsg_ring_end *e = vmsg__chan_ring(c);
	uint32_t wp = e->tx.idx;
	uint8_t first[24] = {0};
	uint64_t total = 2000;
	memcpy(first, &total, sizeof total);
	ASSERT_TRUE(flood_put(&e->tx, &wp, VMSG_TYPE_SVC_OPEN, VMSG_FRAME_MORE,
			      first, sizeof first));
	flood_publish(&e->tx, wp, vmsg__chan_platform(c));
	uint64_t t0 = vt_now_ms();
	struct vmsg_msg m;
	int r = vmsg_chan_peek(c, &m, 10 * PARTIAL_MS);
	ASSERT_EQ(r, -EPIPE);
	sim_say(vt_out, "reset after %llu ms",
		(unsigned long long)(vt_now_ms() - t0));
	vmsg_chan_close(c);
	return 0;
}

/* dom4: RESETS times: connect, break the protocol (a garbage frame header
 * written into the ring), see the reset. How long each next channel took
 * to be served, from the reset. */
static int role_breaker(void)
{
	static const unsigned char garbage[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef};
	char line[64];
	uint64_t reset_at = 0;
	for (int i = 0; i < RESETS; i++) {
		vmsg_chan *c = vt_raw_connect(4);
		if (i > 0)
			sim_say(vt_out, "served %d after %llu ms", i,
				(unsigned long long)(vt_now_ms() - reset_at));
		ASSERT_EQ(vmsg_ring_send(vmsg__chan_ring(c), garbage,
					 sizeof garbage),
			  (int)sizeof garbage);
		struct vmsg_platform *pf = vmsg__chan_platform(c);
		pf->ops->notify(pf);
		struct vmsg_msg m;
		ASSERT_EQ(vmsg_chan_peek(c, &m, SIM_WAIT_MS), -EPIPE);
		reset_at = vt_now_ms();
		vmsg_chan_close(c);
		/* The driver looks at vmsgctl while we are held back. */
		if (i == 4) {
			sim_say(vt_out, "reset %d", i + 1);
			sim_expect(vt_in, "go", line, sizeof line);
		}
	}
	sim_say(vt_out, "done");
	return 0;
}

/* dom5: two fragments of a message on a relayed channel, then nothing. */
static int role_relaypart(void)
{
	static uint8_t first[8 + 30000], cont[30000];
	const uint64_t total = 200000;
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open echo: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	struct vmsg_ring_end *e = vmsg__chan_ring(c);
	uint32_t wp = e->tx.idx;
	memcpy(first, &total, sizeof total);
	ASSERT_TRUE(flood_put(&e->tx, &wp, 0x123, VMSG_FRAME_MORE, first,
			      sizeof first));
	ASSERT_TRUE(flood_put(&e->tx, &wp, 0x123,
			      VMSG_FRAME_MORE | VMSG_FRAME_CONT, cont,
			      sizeof cont));
	flood_publish(&e->tx, wp, vmsg__chan_platform(c));
	sim_say(vt_out, "sent");
	struct vmsg_msg m;
	ASSERT_EQ(vmsg_chan_peek(c, &m, SIM_WAIT_MS), -EPIPE);
	sim_say(vt_out, "ended");
	vmsg_chan_close(c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"relaypart", role_relaypart},
	{"silent", role_silent},
	{"opener", role_opener},
	{"partial", role_partial},
	{"breaker", role_breaker},
	{NULL, NULL},
};

static void want_policy(const char *const *want, size_t n)
{
	static char buf[1 << 16];
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "policy"), 0);
	for (size_t i = 0; i < n; i++)
		if (!strstr(buf, want[i]))
			VMSG_TEST_FAIL("vmsgctl policy lacks '%s':\n%s",
				       want[i] + 1, buf);
}

/* dom2's "queued_bytes" in vmsgctl --json list domains. */
int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	static char buf[1 << 16];
	char body[2000], daemon[400];
	snprintf(sink_path, sizeof sink_path, "%s/sink.sock", sim_dir);
	snprintf(body, sizeof body,
		 "[service slow]\noffer = 1\nopen = 2\nmode = direct\n\n"
		 "[service echo]\noffer = 6\nopen = 5\nmode = relayed\n\n"
		 "[service sink]\noffer = none\nopen = 2\nmode = direct\n\n"
		 "[bridge sink]\nservice = sink\nconnect = unix:%s\n",
		 sink_path);
	vt_write_conf(body);
	static char log[700];
	snprintf(log, sizeof log, "%s/vmsgd.log", sim_dir);
	vt_vmsgd_log = log;
	pid_t sink = vt_start_sink(sink_path);
	vt_start_vmsgd();

	/* The defaults docs/vmsgd.md states. */
	static const char *const defaults[] = {
		"\nmax_queued_bytes_per_domain 16777216\n",
		"\nmax_pending_opens_per_domain 32\n",
		"\npartial_message_ms 30000\n", "\nreset_backoff_ms 1000\n",
		"\nreset_backoff_max_ms 60000\n"};
	want_policy(defaults, sizeof defaults / sizeof defaults[0]);

	/* A relayed message left incomplete: what vmsgd holds of it. */
	struct vt_role prov, relaypart;
	vt_spawn(&prov, 6, "provider", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&relaypart, 5, "relaypart", NULL);
	sim_expect(relaypart.from, "sent", buf, sizeof buf);
	vt_ctl_wait("--json list domains", "\"queued_bytes\":60000,", 1);
	printf("dom5's incomplete relayed message: vmsgd holds its 60000 "
	       "bytes\n");
	snprintf(daemon, sizeof daemon,
		 "max_queued_bytes_per_domain = %d\n"
		 "max_pending_opens_per_domain = 2\npartial_message_ms = %d\n"
		 "reset_backoff_ms = %d\nreset_backoff_max_ms = %d\n",
		 QUEUED, PARTIAL_MS, BACKOFF_MS, BACKOFF_MAX_MS);
	vt_write_conf_daemon(daemon, body);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
	static const char *const set[] = {
		"\nmax_queued_bytes_per_domain 131072\n",
		"\nmax_pending_opens_per_domain 2\n",
		"\npartial_message_ms 1000\n", "\nreset_backoff_ms 500\n",
		"\nreset_backoff_max_ms 2000\n"};
	want_policy(set, sizeof set / sizeof set[0]);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json policy"), 0);
	ASSERT_TRUE(strstr(buf, "\"max_queued_bytes_per_domain\":131072") !=
		    NULL);
	ASSERT_TRUE(strstr(buf, "\"max_pending_opens_per_domain\":2") != NULL);
	ASSERT_TRUE(strstr(buf, "\"partial_message_ms\":1000") != NULL);
	ASSERT_TRUE(strstr(buf, "\"reset_backoff_ms\":500") != NULL);
	ASSERT_TRUE(strstr(buf, "\"reset_backoff_max_ms\":2000") != NULL);

	/* The incomplete relayed message is over the new limit. */
	sim_expect(relaypart.from, "ended", buf, sizeof buf);
	vt_ctl_wait("--json list channels", "\"service\":\"echo\"", 0);
	vt_role_done(&relaypart, 0);
	printf("dom5's relayed channel ended (partial_message_ms)\n");

	/* Pending opens. */
	struct vt_role silent, opener, partial, breaker;
	vt_spawn(&silent, 1, "silent", NULL);
	sim_expect(silent.from, "offered", buf, sizeof buf);
	vt_spawn(&opener, 2, "opener", NULL);
	printf("dom2's third open: %s\n",
	       sim_expect(opener.from, "refused: ", buf, sizeof buf));
	vt_ctl_wait("--json list domains", "\"pending_opens\":2", 1);

	/* A partial control message. */
	vt_spawn(&partial, 3, "partial", NULL);
	const char *ms = sim_expect(partial.from, "reset after ", buf,
				    sizeof buf);
	printf("dom3's incomplete message: channel reset after %s\n", ms);
	/* The limit, looked at by a 500 ms tick; not the default's 30 s. */
	ASSERT_TRUE(atoi(ms) >= PARTIAL_MS - 100);
	ASSERT_TRUE(atoi(ms) < 5 * PARTIAL_MS);
	vt_role_done(&partial, 0);

	/* Back-off. */
	vt_spawn(&breaker, 4, "breaker", NULL);
	unsigned long took[RESETS];
	for (int i = 1; i < RESETS; i++) {
		char want[32];
		snprintf(want, sizeof want, "served %d after ", i);
		if (i == 5) {
			/* Held back for the cap: vmsgctl says so. */
			sim_expect(breaker.from, "reset 5", buf, sizeof buf);
			vt_ctl_wait("list domains", "4      backoff", 1);
			sim_say(breaker.to, "go");
		}
		took[i] = strtoul(sim_expect(breaker.from, want, buf,
					     sizeof buf),
				  NULL, 10);
		printf("dom4: control channel served %lu ms after reset %d\n",
		       took[i], i);
	}
	sim_expect(breaker.from, "done", buf, sizeof buf);
	vt_role_done(&breaker, 0);
	/* The first reset costs nothing (a guest reset once is served at
	 * once); then the delay doubles from the base to the cap and stays
	 * there. 1500 ms of slack above: a loaded box. */
	ASSERT_LT(took[1], BACKOFF_MS);
	for (int i = 2; i < RESETS; i++) {
		unsigned long want = (unsigned long)BACKOFF_MS << (i - 2);
		if (want > BACKOFF_MAX_MS)
			want = BACKOFF_MAX_MS;
		if (took[i] + 20 < want || took[i] > want + 1500)
			VMSG_TEST_FAIL("served %lu ms after reset %d, expected "
				       "%lu (back-off)",
				       took[i], i, want);
	}
	static char logbuf[1 << 22];
	vt_read_vmsgd_log(logbuf, sizeof logbuf);
	ASSERT_TRUE(strstr(logbuf, "domain 4: reset 2 times in a row: its next "
				"control channel in 500 ms (back-off)") != NULL);

	/* Queued bytes. */
	sim_say(opener.to, "fill");
	printf("dom2: %s\n", sim_expect(opener.from, "full: ", buf, sizeof buf));
	unsigned long q = vt_queued_of(2);
	printf("vmsgd holds %lu bytes of dom2's data (bound %d)\n", q, QUEUED);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	printf("%s", buf);
	/* One 64 KiB read (and its request) may go past the bound. */
	ASSERT_TRUE(q >= QUEUED);
	ASSERT_TRUE(q <= QUEUED + 65536 + 512);

	sim_say(opener.to, "quit");
	vt_role_done(&opener, 0);
	sim_say(silent.to, "quit");
	vt_role_done(&silent, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	kill(sink, SIGKILL);
	waitpid(sink, NULL, 0);
	return 0;
}
