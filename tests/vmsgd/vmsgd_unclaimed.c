/* vmsgd_unclaimed: direct channels that a consumer has a provider serve
 * and then never takes. The stock key-value server (examples/kv) runs in
 * dom1 and offers `kv` and `kv.text`; dom2 speaks the control protocol by
 * hand (max_channels_per_domain 4).
 *  - churn: dom2 sends Open and then Closed{id} without ever connecting,
 *    ROUNDS times (more than the server's 64 channels). vmsgd passes each
 *    Closed on to the provider, whose library closes the served channel
 *    and says so; right afterwards (long before the channels' connect
 *    deadlines) the server holds as many fds as before the churn (no
 *    dead channel left), vmsgctl lists no channel of dom2, and a
 *    legitimate consumer (dom3) is served: a text put and get.
 *  - lazy: dom2 sends Open with a 3 s wait, gets Opened and then neither
 *    connects nor says Closed. The provider's library closes the served
 *    channel by its deadline (the Open's wait plus 1 s: vmsg/service.h)
 *    and tells vmsgd, which forgets it.
 * Before vmsgd told providers and the library expired served channels,
 * the server filled up with 64 channels in WAITING for good and refused
 * dom3. Both run twice: dom2 as an old consumer (served through xenstore
 * paths), then as one that announces setup by message (the provider
 * serves without xenstore, Opened carries the grant and port): an
 * unclaimed channel must cost nothing for good either way.
 *
 * The server's library keeps a warm channel (docs/protocol.md, "The warm
 * channel"): served ahead, set up by message, for the domain it served
 * last, none after a miss until an open repeats the one before. So the
 * fds it rests at are, counted from its fds after offering: none more
 * through round 1's churn (dom2 by xenstore paths); a warm channel for
 * dom3 after dom3's first open (its fds are learnt there), which round 1's
 * lazy open (xenstore again) leaves alone; one for dom2 after round 2's
 * churn; none after dom3's open in round 2 (a miss: dom2's closed unused),
 * nor after round 2's lazy open. The policy says spare = no: a spare
 * (the default, spare = auto, serves one for a consumer that opens again
 * within 2 s, as the churn does) is a live channel the server holds for
 * 20 s, not a dead one, and would blur the count. */
#include "vt_proc.h"
#include "vt_raw.h"

#define CONF                                                            \
	"[service kv]\noffer = 1\nopen = 2,3\nmode = direct\n"           \
	"max_channels_per_domain = 4\nspare = no\n"                      \
	"[service kv.text]\noffer = 1\nopen = 2,3\nmode = direct\n"

#define ROUNDS 70
#define CHURN_WAIT_MS 20000 /* the churn's Opens: deadlines far away */
#define LAZY_WAIT_MS 3000

/* Send Open and read its answer: 0 with *id (Opened), or the Result's
 * code (a refusal). */
static bool by_msg; /* dom2 announced setup by message */

static int raw_open(vmsg_chan *c, uint32_t req, uint32_t wait_ms,
		    uint32_t *id)
{
	Vmsg__Service__Open o = VMSG__SERVICE__OPEN__INIT;
	o.req_id = req;
	o.service = (char *)"kv";
	o.timeout_ms = wait_ms;
	ASSERT_TRUE(vmsg_proto_send(c, VMSG_TYPE_SVC_OPEN, &o.base, 0,
				    SIM_WAIT_MS) > 0);
	struct vmsg_msg peek;
	ASSERT_EQ(vmsg_chan_peek(c, &peek, SIM_WAIT_MS), 0);
	if (peek.type == VMSG_TYPE_SVC_RESULT) {
		uint32_t rq;
		int code;
		char text[256];
		ASSERT_EQ(read_result(c, 0, &rq, &code, text, sizeof text), 0);
		ASSERT_EQ(rq, req);
		ASSERT_TRUE(code < 0);
		return code;
	}
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	uint16_t type;
	ProtobufCMessage *m;
	ASSERT_TRUE(vmsg_proto_recv(c, &vmsg__service__opened__descriptor, &a,
				    &type, &m, 0) >= 0);
	ASSERT_EQ(type, VMSG_TYPE_SVC_OPENED);
	const Vmsg__Service__Opened *op = (const void *)m;
	ASSERT_EQ(op->req_id, req);
	ASSERT_EQ(op->provider_domid, 1u); /* direct: the provider's */
	/* Set up by message exactly when we announced it. */
	ASSERT_EQ(op->ring_ref != 0, by_msg);
	ASSERT_EQ(op->event_port != 0, by_msg);
	*id = op->channel_id;
	return 0;
}

/* dom2: the churn, then (on "lazy") one Open it never takes. */
static int role_hostile(void)
{
	char line[64];
	by_msg = vt_arg && !strcmp(vt_arg, "msg");
	vmsg_chan *c = vt_raw_connect_ex(2, by_msg ? VMSG_FEATURE_SVC_SETUP_MSG
						   : 0);
	uint32_t req = 1, id;
	unsigned refused = 0;
	for (int i = 0; i < ROUNDS; i++) {
		int r;
		/* vmsgd counts a closed channel until the provider has let
		 * it go: past the limit, wait for the provider. */
		while ((r = raw_open(c, req++, CHURN_WAIT_MS, &id)) ==
		       -EUSERS) {
			refused++;
			usleep(20000);
		}
		ASSERT_EQ(r, 0);
		Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
		cl.channel_id = id;
		ASSERT_TRUE(vmsg_proto_send(c, VMSG_TYPE_SVC_CLOSED, &cl.base,
					    0, SIM_WAIT_MS) > 0);
	}
	sim_say(vt_out, "churned %d (refused %u times)", ROUNDS, refused);
	sim_expect(vt_in, "lazy", line, sizeof line);
	ASSERT_EQ(raw_open(c, req++, LAZY_WAIT_MS, &id), 0);
	sim_say(vt_out, "opened %u", id);
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_chan_close(c);
	return 0;
}

/* dom3: a consumer like any other, through the library: put and get a
 * key on kv.text. */
static int role_legit(void)
{
	static const char req[] = "put k served\nget k\n";
	static const char want[] = "ok\nok served\n";
	char got[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "kv.text", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open kv.text: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	ASSERT_EQ(vmsg_chan_write(c, req, sizeof req - 1, SIM_WAIT_MS),
		  (int)sizeof req - 1);
	size_t n = 0;
	while (n < sizeof want - 1) {
		r = vmsg_chan_read(c, got + n, sizeof want - 1 - n,
				   SIM_WAIT_MS);
		if (r <= 0)
			VMSG_TEST_FAIL("read: %s", vmsg_strerror(r));
		n += (size_t)r;
	}
	ASSERT_EQ(memcmp(got, want, sizeof want - 1), 0);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	sim_say(vt_out, "served");
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hostile", role_hostile},
	{"legit", role_legit},
	{NULL, NULL},
};

/* Wait up to `ms` for process `pid` to hold `want` fds; the count last
 * seen. */
static int fds_settle(pid_t pid, int want, int ms)
{
	int n = -1;
	for (int i = 0; i <= ms / 50; i++) {
		n = vt_fd_count(pid);
		if (n == want)
			break;
		usleep(50000);
	}
	return n;
}

/* Wait up to `ms` for process `pid`'s fd count to stay the same for
 * 300 ms; that count. */
static int fds_steady(pid_t pid, int ms)
{
	int n = vt_fd_count(pid), same = 0;
	for (int i = 0; i <= ms / 50 && same < 6; i++) {
		usleep(50000);
		int m = vt_fd_count(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	vt_write_conf(CONF);
	vt_start_vmsgd();
	char *sargv[] = {(char *)KV_SERVER_BIN, (char *)"--quiet", NULL};
	pid_t server = sim_spawn(1, sargv);
	vt_ctl_wait("list services", "kv.text", 1);
	const pid_t kv = vt_child_of(server);
	/* Offered: from now on the server holds a fixed set of fds besides
	 * those of its channels. */
	usleep(200000);
	const int base0 = vt_fd_count(kv);
	printf("vmsg-kv-server holds %d fds after offering\n", base0);
	int base = base0, warm = 0; /* the fds it rests at; a warm channel's */

	for (int round = 0; round < 2; round++) {
		struct vt_role h, l;
		printf("dom2 %s\n",
		       round ? "set up by message" : "through xenstore");
		vt_spawn(&h, 2, "hostile", round ? "msg" : "xs");
		sim_expect(h.from, "churned", buf, sizeof buf);
		printf("dom2: %s\n", buf);
		/* Told by vmsgd, not by the deadlines (20 s away). */
		int n = fds_settle(kv, base, 5000);
		if (n != base)
			VMSG_TEST_FAIL("after %d unclaimed channels the server holds "
				       "%d fds, %d before: dead channels left",
				       ROUNDS, n, base);
		vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
		printf("the server holds no dead channel; vmsgd counts none of dom2\n");

		vt_spawn(&l, 3, "legit", NULL);
		sim_expect(l.from, "served", buf, sizeof buf);
		vt_role_done(&l, 0);
		printf("dom3 was served\n");
		if (round == 0) {
			/* dom3's library sets up by message: the server
			 * serves a warm channel for it. */
			n = fds_steady(kv, 5000);
			printf("then the server holds %d fds: %d more, its "
			       "warm channel\n", n, n - base0);
			ASSERT_GT(n, base0);
			warm = n - base0;
			base = n;
		} else {
			/* dom2's warm channel did not fit dom3's open: it
			 * is closed (before the server's next serve), and
			 * after that miss none is served. */
			base = base0;
		}

		/* lazy: the served channel must expire by the library's deadline */
		sim_say(h.to, "lazy");
		sim_expect(h.from, "opened", buf, sizeof buf);
		const uint64_t t0 = vt_now_ms();
		ASSERT_TRUE(vt_fd_count(kv) > base); /* served and held, for now */
		vt_ctl_wait("--json list channels", "\"consumer\":2", 1);
		/* The deadline is the Open's wait plus 1 s after the serve; allow
		 * as much again for a loaded machine. */
		const int limit = 2 * (LAZY_WAIT_MS + 1000);
		n = fds_settle(kv, base, limit);
		const uint64_t t1 = vt_now_ms();
		if (n != base)
			VMSG_TEST_FAIL("the unclaimed channel is still served after "
				       "%llu ms (%d fds, %d before)",
				       (unsigned long long)(t1 - t0), n, base);
		printf("the unclaimed channel was closed %llu ms after Opened "
		       "(deadline %d ms)\n",
		       (unsigned long long)(t1 - t0), LAZY_WAIT_MS + 1000);
		vt_ctl_wait("--json list channels", "\"consumer\":2", 0);

		sim_say(h.to, "quit");
		vt_role_done(&h, 0);
		/* Round 2's churn ends with a warm channel for dom2. */
		base = base0 + warm;
	}
	ASSERT_EQ(kill(server, SIGTERM), 0);
	ASSERT_EQ(sim_wait(server), 0);
	vt_stop_vmsgd();
	return 0;
}
