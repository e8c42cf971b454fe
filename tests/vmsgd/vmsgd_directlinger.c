/* vmsgd_directlinger: a direct open whose wait ends while its Serve is
 * out lingers, counted against its consumer, until the provider answers
 * the Closed vmsgd sends it then (or DIRECT_LINGER_MS).
 *
 * `echo` is direct, max_channels_per_domain = 2 (MAXCH; the pending-open
 * limit is above it, so that max_channels is what binds). dom1 offers it
 * by hand (vt_hold.h) and holds every Serve. dom2, by hand, stays
 * connected and floods: ROUNDS times OPENS Opens with 1 ms waits, and all
 * their Results. The first MAXCH time out (-ETIMEDOUT) at vmsgd's next
 * tick, while dom1 holds their Serves: vmsgd tells dom1 Closed for each
 * before it answers dom2, and lists them lingering, counted, so every
 * later Open is refused -EUSERS and dom1 gets no Serve for it. Before
 * the fix vmsgd forgot each one at its deadline, telling dom1 nothing:
 * each flood left dom1 MAXCH more Serves (16 after 8), which its library
 * would serve and keep (of an accept queue of 32) until their connect
 * deadlines, counted against nobody.
 *
 * dom2 then sends Closed for the lingering ids itself: ignored (they are
 * not its to end; they still count). dom1 answers as its library would
 * (one could not be served, the other served, closed and Closed{id}
 * sent): both are forgotten at once, and dom2's next Open is asked of
 * dom1. dom2 leaves with that one pending: dom1 is told Closed for it.
 * (Everything up to dom1's answer must happen within vmsgd's
 * DIRECT_LINGER_MS, 30 s, of the timeouts; it takes under 1 s.) */
#include "vt_hold.h"

#define MAXCH 2u  /* the service's max_channels_per_domain */
#define OPENS 4u  /* per flood: more than MAXCH */
#define ROUNDS 8u
#define CONF                                                                 \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"               \
	"max_channels_per_domain = 2\n"
#define DAEMON "max_pending_opens_per_domain = 8\n"

/* ---- dom2: the consumer, by hand --------------------------------------- */

/* Read the Results of Opens first..last-1 on c: how many timed out and
 * how many were refused for max_channels_per_domain (nothing else may
 * come). */
static void results(vmsg_chan *c, uint32_t first, uint32_t last,
		    unsigned *timedout, unsigned *users)
{
	char text[200];
	*timedout = *users = 0;
	for (uint32_t i = first; i < last; i++) {
		uint32_t req = 0;
		int code;
		ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text,
				      sizeof text),
			  0);
		ASSERT_TRUE(req >= first && req < last);
		if (code == -ETIMEDOUT)
			(*timedout)++;
		else if (code == -EUSERS && strstr(text, "limit of 2 channels"))
			(*users)++;
		else
			VMSG_TEST_FAIL("dom2: open %u answered %d (%s)", req,
				       code, text);
	}
}

static void send_closed(vmsg_chan *c, uint32_t id)
{
	Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
	cl.channel_id = id;
	ASSERT_TRUE(vmsg_proto_send(c, VMSG_TYPE_SVC_CLOSED, &cl.base, 0,
				    SIM_WAIT_MS) > 0);
}

/* Commands: "flood" (says "timedout T users U"), "close ID..." (Closed
 * for each, then one more Open of 1 ms; says "users U" for its Result),
 * "open" (one Open of 30 s, its Result not read; says "sent"), "quit"
 * (leaves, that one still pending). */
static int role_consumer(void)
{
	char line[128];
	uint32_t next_req = 1;
	vmsg_chan *c = vt_raw_connect(2);
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		unsigned t, u;
		if (!strncmp(line, "quit", 4)) {
			break;
		} else if (!strncmp(line, "flood", 5)) {
			uint32_t first = next_req;
			for (unsigned i = 0; i < OPENS; i++)
				ASSERT_TRUE(send_open(c, next_req++, "echo",
						      1) > 0);
			results(c, first, next_req, &t, &u);
			sim_say(vt_out, "timedout %u users %u", t, u);
		} else if (!strncmp(line, "close ", 6)) {
			char *p = line + 6, *end;
			for (unsigned long id; (id = strtoul(p, &end, 10)) &&
					       end != p;
			     p = end)
				send_closed(c, (uint32_t)id);
			/* Answered after vmsgd has handled the Closeds. */
			ASSERT_TRUE(send_open(c, next_req, "echo", 1) > 0);
			results(c, next_req, next_req + 1, &t, &u);
			next_req++;
			sim_say(vt_out, "users %u", u);
		} else if (!strncmp(line, "open", 4)) {
			ASSERT_TRUE(send_open(c, next_req++, "echo", 30000) >
				    0);
			sim_say(vt_out, "sent");
		} else {
			VMSG_TEST_FAIL("dom2: '%s'?", line);
		}
	}
	vmsg_chan_close(c);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hold", role_hold},
	{"consumer", role_consumer},
	{NULL, NULL},
};

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
	char buf[512];
	vt_write_conf_daemon(DAEMON, CONF);
	vt_start_vmsgd();
	struct vt_role hold, cons;
	vt_spawn(&hold, 1, "hold", NULL);
	sim_expect(hold.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
	vt_spawn(&cons, 2, "consumer", NULL);

	/* dom2 stays connected; its opens time out while dom1 holds their
	 * Serves. */
	unsigned most = 0, timedout = 0, serves = 0, unclosed = 0;
	for (unsigned i = 0; i < ROUNDS; i++) {
		sim_say(cons.to, "flood");
		const char *got = sim_expect(cons.from, "timedout ", buf,
					     sizeof buf);
		unsigned t = 0, u = 0;
		ASSERT_EQ(sscanf(got, "%u users %u", &t, &u), 2);
		timedout += t;
		/* dom2 has every Result: what vmsgd sent dom1 before them is
		 * in dom1's ring. */
		drain(&hold, &serves, &unclosed);
		printf("flood %u: of dom2's %u opens with 1 ms waits %u timed "
		       "out, %u were refused (max_channels); dom1 holds %u "
		       "Serves, %u of them not told Closed\n",
		       i + 1, OPENS, t, u, serves, unclosed);
		fflush(stdout); /* seen even when the test fails */
		if (unclosed > most)
			most = unclosed;
	}
	if (most > MAXCH)
		VMSG_TEST_FAIL("dom1 held %u Serves for dom2 that vmsgd never "
			       "told it Closed for, though dom2's opens timed "
			       "out while it stayed connected, and its "
			       "max_channels_per_domain is %u",
			       most, MAXCH);
	ASSERT_EQ(unclosed, 0u); /* told before dom2 heard -ETIMEDOUT */
	ASSERT_EQ(serves, MAXCH); /* no Serve for the refused ones */
	ASSERT_EQ(timedout, MAXCH);
	unsigned n = lingering();
	printf("vmsgctl lists %u of dom2's channels as lingering\n", n);
	ASSERT_EQ(n, MAXCH);

	/* dom2's own Closed for them ends nothing: they still count. */
	sim_say(hold.to, "ids");
	const char *got = sim_expect(hold.from, "ids ", buf, sizeof buf);
	const char *sp = strchr(got, ' ');
	ASSERT_TRUE(sp != NULL);
	char ids[64], cmd[160];
	snprintf(ids, sizeof ids, "%s", sp);
	snprintf(cmd, sizeof cmd, "close%s", ids);
	sim_say(cons.to, cmd);
	got = sim_expect(cons.from, "users ", buf, sizeof buf);
	ASSERT_EQ(atoi(got), 1);
	ASSERT_EQ(lingering(), MAXCH);
	drain(&hold, &serves, &unclosed);
	ASSERT_EQ(serves, MAXCH);
	printf("dom2's Closed for%s ended neither: its next open was refused "
	       "(max_channels)\n",
	       ids);

	/* dom1 answers as its library would: one could not be served, the
	 * other was, and is closed. Both are forgotten. */
	sim_say(hold.to, "drop 1");
	got = sim_expect(hold.from, "dropped ", buf, sizeof buf);
	ASSERT_EQ((unsigned)atoi(got), MAXCH);
	vt_ctl_wait("list channels", "lingering", 0);
	ASSERT_EQ(lingering(), 0u);
	printf("dom1 answered them: none is listed\n");

	/* dom2 is charged nothing: its next open is asked of dom1. It leaves
	 * with that open pending: dom1 is told Closed for it. */
	sim_say(cons.to, "open");
	sim_expect(cons.from, "sent", buf, sizeof buf);
	sim_say(hold.to, "next");
	got = sim_expect(hold.from, "serve ", buf, sizeof buf);
	printf("dom2 opened echo again: dom1 has Serve %s\n", got);
	snprintf(cmd, sizeof cmd, "told %s", got);
	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(hold.to, cmd);
	sim_expect(hold.from, "told", buf, sizeof buf);
	ASSERT_EQ(lingering(), 1u);
	sim_say(hold.to, "drop 0");
	got = sim_expect(hold.from, "dropped ", buf, sizeof buf);
	ASSERT_EQ(atoi(got), 1);
	vt_ctl_wait("list channels", "lingering", 0);

	sim_say(hold.to, "quit");
	vt_role_done(&hold, 0);
	vt_ctl_wait("list services", "echo", 0);
	vt_stop_vmsgd();
	return 0;
}
