/* vmsgd_relaylinger: a relayed open whose consumer left, or whose wait
 * ended, before the provider answered Serve still counts against the
 * consumer, until the provider answers or GRACE_MS past the open's
 * deadline.
 *
 * max_pending_opens_per_domain = 2. dom1 offers relayed `echo` by hand and
 * holds every Serve without answering. dom2, by hand, ROUNDS times:
 * connects its control channel, sends OPENS Opens (30 s waits), reads the
 * Results of those refused at once (the last one's Result says vmsgd has
 * handled them all, Serves included) and closes the channel (orderly: no
 * reset back-off). After each round dom1 counts the Serves it holds: at
 * most 2 (the bound), and vmsgctl lists them as dom2's lingering
 * channels. Before the fix vmsgd forgot each channel when dom2 left, so
 * every round sent 2 more Serves (16 after 8 rounds) that no limit of
 * dom2's counted: a provider slow to answer piles them up, and its other
 * consumers are refused once its accept queue (32) is full.
 *
 * Then dom1 answers: the first with an error (forgotten, no Closed), the
 * rest served (each is told Closed); nothing is left listed. A lingering
 * one that is never answered goes GRACE_MS past its open's deadline (2 s
 * here): dom1 is told Closed, and told so again when it answers late.
 *
 * dom2 that stays connected does the same with waits of 1 ms: ROUNDS
 * times it sends OPENS Opens on one control channel and reads all their
 * Results. Each admitted one times out (-ETIMEDOUT) at vmsgd's next tick,
 * while dom1 still holds its Serve. Before the fix vmsgd forgot it then,
 * and each round left dom1 2 more Serves (16 after 8); now it lingers,
 * counted, so dom2's later opens are refused -EBUSY, dom1 holds 2, and
 * those go GRACE_MS after their deadline (dom1 told Closed, and again
 * after its late answers).
 *
 * Last, dom1's stock echo provider replaces the raw one and dom2 opens
 * `echo` through the library and exchanges messages. */
#include <time.h>

#include "vt_hold.h"

#define CONF                                                                 \
	"[service echo]\noffer = 1\nopen = 2\nmode = relayed\n"
#define PENDING 2u    /* max_pending_opens_per_domain */
#define OPENS 4u      /* per round: more than PENDING */
#define ROUNDS 8u
#define SHORT_MS 2000u /* the open whose deadline passes */
#define GRACE_MS 10000u /* vmsgd's SERVE_GRACE_MS (broker.c) */

/* ---- dom2: the consumer, by hand, then through the library ------------ */

/* dom2's "flood": OPENS Opens with 1 ms waits on control channel c (kept
 * from one flood to the next), and all their Results: each timed out or
 * refused for its limit, nothing else. */
static void flood(vmsg_chan *c, uint32_t *next_req)
{
	char text[200];
	uint32_t first = *next_req;
	for (unsigned i = 0; i < OPENS; i++)
		ASSERT_TRUE(send_open(c, (*next_req)++, "echo", 1) > 0);
	unsigned timedout = 0, busy = 0;
	for (unsigned i = 0; i < OPENS; i++) {
		uint32_t req = 0;
		int code;
		ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text,
				      sizeof text),
			  0);
		ASSERT_TRUE(req >= first && req < *next_req);
		if (code == -ETIMEDOUT)
			timedout++;
		else if (code == -EBUSY)
			busy++;
		else
			VMSG_TEST_FAIL("dom2: open %u answered %d (%s)", req,
				       code, text);
	}
	sim_say(vt_out, "timedout %u busy %u", timedout, busy);
}

static int role_abuse(void)
{
	char line[64], text[200];
	uint32_t next_req = 1;
	vmsg_chan *stay = NULL; /* the floods' control channel */
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4))
			break;
		if (!strncmp(line, "flood", 5)) {
			if (!stay)
				stay = vt_raw_reconnect(2);
			flood(stay, &next_req);
			continue;
		}
		vmsg_chan *c = vt_raw_reconnect(2);
		if (!strncmp(line, "short", 5)) {
			ASSERT_TRUE(send_open(c, next_req++, "echo",
					      SHORT_MS) > 0);
			vmsg_chan_close(c); /* gone before any answer */
			sim_say(vt_out, "sent");
			continue;
		}
		ASSERT_EQ(strncmp(line, "round", 5), 0);
		uint32_t last = 0;
		for (unsigned i = 0; i < OPENS; i++) {
			last = next_req++;
			ASSERT_TRUE(send_open(c, last, "echo", 30000) > 0);
		}
		/* Those over the limit are refused at once, in order: the last
		 * one's Result comes after vmsgd handled every Open before
		 * it. */
		unsigned refused = 0;
		uint32_t req = 0;
		int code;
		while (req != last) {
			ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text,
					      sizeof text),
				  0);
			ASSERT_EQ(code, -EBUSY);
			refused++;
		}
		vmsg_chan_close(c); /* the rest pending: gone before them */
		sim_say(vt_out, "refused %u", refused);
	}
	if (stay)
		vmsg_chan_close(stay);
	return 0;
}

static int role_user(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c = vt_open(ctl, "echo");
	vt_echo_exchange(c, 20, false);
	sim_say(vt_out, "echoed");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hold", role_hold},
	{"abuse", role_abuse},
	{"user", role_user},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[512];
	char daemon[96];
	snprintf(daemon, sizeof daemon, "max_pending_opens_per_domain = %u\n",
		 PENDING);
	vt_write_conf_daemon(daemon, CONF);
	vt_start_vmsgd();
	struct vt_role hold, ab;
	vt_spawn(&hold, 1, "hold", NULL);
	sim_expect(hold.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
	vt_spawn(&ab, 2, "abuse", NULL);

	/* Open, leave, come back: the Serves dom1 holds stay bounded. */
	unsigned most = 0;
	for (unsigned i = 0; i < ROUNDS; i++) {
		sim_say(ab.to, "round");
		const char *got = sim_expect(ab.from, "refused ", buf,
					     sizeof buf);
		unsigned refused = (unsigned)atoi(got);
		sim_say(hold.to, "drain");
		got = sim_expect(hold.from, "serves ", buf, sizeof buf);
		unsigned serves = (unsigned)atoi(got);
		printf("round %u: dom2 refused %u of %u opens; dom1 holds %u "
		       "unanswered Serves\n",
		       i + 1, refused, OPENS, serves);
		fflush(stdout); /* seen even when the test fails */
		if (serves > most)
			most = serves;
	}
	if (most > PENDING)
		VMSG_TEST_FAIL("dom1 held %u unanswered Serves for dom2, whose "
			       "max_pending_opens_per_domain is %u",
			       most, PENDING);
	ASSERT_EQ(most, PENDING);
	unsigned n = lingering();
	printf("vmsgctl lists %u of dom2's channels as lingering\n", n);
	ASSERT_EQ(n, PENDING);

	/* dom1 answers: one error (forgotten), the others served (Closed). */
	sim_say(hold.to, "answer 1");
	sim_expect(hold.from, "answered", buf, sizeof buf);
	vt_ctl_wait("list channels", "lingering", 0);
	ASSERT_EQ(lingering(), 0u);
	printf("dom1 answered them: each served one was told Closed, none "
	       "is listed\n");

	/* One never answered goes GRACE_MS past its open's deadline (Closed
	 * to dom1), and a late answer is told Closed again. */
	uint64_t t_short = vt_now_ms(); /* before the Open */
	sim_say(ab.to, "short");
	sim_expect(ab.from, "sent", buf, sizeof buf);
	sim_say(hold.to, "next");
	const char *got = sim_expect(hold.from, "serve ", buf, sizeof buf);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "closed %s", got);
	ASSERT_EQ(lingering(), 1u);
	vt_ctl_wait("list channels", "lingering", 0);
	sim_say(hold.to, cmd);
	sim_expect(hold.from, "closed", buf, sizeof buf);
	uint64_t gone = vt_now_ms() - t_short;
	sim_say(hold.to, "answer 0");
	sim_expect(hold.from, "answered", buf, sizeof buf);
	printf("an unanswered one (a %u ms wait) went %llu ms after its "
	       "Open, Closed told then and after the late answer\n",
	       SHORT_MS, (unsigned long long)gone);
	ASSERT_TRUE(gone >= SHORT_MS + GRACE_MS);

	/* dom2 stays connected; its opens time out while their Serves are
	 * out. */
	most = 0;
	unsigned timedout = 0;
	uint64_t first_timeout = 0;
	for (unsigned i = 0; i < ROUNDS; i++) {
		sim_say(ab.to, "flood");
		got = sim_expect(ab.from, "timedout ", buf, sizeof buf);
		unsigned t = 0, b = 0;
		ASSERT_EQ(sscanf(got, "%u busy %u", &t, &b), 2);
		if (t && !first_timeout)
			first_timeout = vt_now_ms();
		timedout += t;
		sim_say(hold.to, "drain");
		got = sim_expect(hold.from, "serves ", buf, sizeof buf);
		unsigned serves = (unsigned)atoi(got);
		printf("flood %u: of dom2's %u opens with 1 ms waits %u timed "
		       "out, %u were refused; dom1 holds %u unanswered "
		       "Serves\n",
		       i + 1, OPENS, t, b, serves);
		fflush(stdout);
		if (serves > most)
			most = serves;
	}
	if (most > PENDING)
		VMSG_TEST_FAIL("dom1 held %u unanswered Serves for dom2, whose "
			       "opens timed out while it stayed connected, and "
			       "whose max_pending_opens_per_domain is %u",
			       most, PENDING);
	ASSERT_EQ(most, PENDING);
	ASSERT_EQ(timedout, PENDING); /* the rest refused: still counted */
	n = lingering();
	printf("vmsgctl lists %u of dom2's channels as lingering\n", n);
	ASSERT_EQ(n, PENDING);
	/* Never answered, they go GRACE_MS past their deadlines (1 ms after
	 * their Opens, which timed out at first_timeout, a tick late at
	 * most): dom1 is told Closed for each. */
	sim_say(hold.to, "closedall");
	sim_expect(hold.from, "closed ", buf, sizeof buf);
	uint64_t after = vt_now_ms() - first_timeout;
	printf("dom1 told Closed for both %llu ms after they timed out\n",
	       (unsigned long long)after);
	ASSERT_TRUE(after >= GRACE_MS - 1000u); /* 500 ms ticks */
	ASSERT_EQ(lingering(), 0u);
	sim_say(hold.to, "answer 0"); /* late: Closed again */
	sim_expect(hold.from, "answered", buf, sizeof buf);

	sim_say(ab.to, "quit");
	vt_role_done(&ab, 0);
	sim_say(hold.to, "quit");
	vt_role_done(&hold, 0);
	vt_ctl_wait("list services", "echo", 0);

	/* dom2 is charged nothing any more: it opens through a working
	 * provider. */
	struct vt_role prov, user;
	vt_spawn(&prov, 1, "provider", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
	vt_spawn(&user, 2, "user", NULL);
	sim_expect(user.from, "echoed", buf, sizeof buf);
	printf("dom2 opened echo again and exchanged 20 messages\n");
	sim_say(user.to, "quit");
	vt_role_done(&user, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
