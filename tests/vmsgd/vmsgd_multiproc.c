/* vmsgd_multiproc: several processes of one guest domain use vmsgd at
 * once, each on a control channel of its own (issue 15 item 5; vmsgd
 * serves a domain's next channel once a process is in: session.c,
 * "several processes of a domain"). With max_sessions_per_domain = 3:
 *  - in dom3, P1 offers `a`, P2 offers `b`, P3 opens both and exchanges
 *    messages; a process of dom2 opens both too. The providers learn
 *    their consumers' domains (3 and 2), never a session's number;
 *  - a fourth process of dom3 is refused at its deadline with -EBUSY and
 *    vmsg_ctl_strerror's words naming max_sessions_per_domain;
 *  - SIGKILL of P1 (dom3 lives on in P2 and P3): vmsgd drops `a` only;
 *    `b` is still listed, P3's channel to `a` reports -EPIPE and a new
 *    open of `a` -ENOENT, P3's and dom2's channels to `b` carry on; the
 *    channel freed lets another process of dom3 attach;
 *  - the race: rounds of three processes of dom4 attaching at the same
 *    instant each end on a control channel of their own: each offers a
 *    service of its own, vmsgctl lists three connected channels of dom4,
 *    and vmsgd never saw one of them leave;
 *  - the loser of a claim, made certain: a process of dom4 reads the keys
 *    of the channel vmsgd serves the domain, another process attaches
 *    there, and then the first connects with those keys (copied under
 *    its own xenstore folder): it gets -EBUSY (the event channel's bind:
 *    Xen binds an unbound port once, so the loser maps nothing, and its
 *    unmap notification cannot clear the winner's live byte), and the
 *    winner stays connected (vmsgd never logs it "disconnected").
 *  - a spare that cannot be served at first: with dom0's SET_PERMS
 *    failing in the simulated xenstored (its injected errors,
 *    sim/xenstored/fail.c), a process of dom5 attaches; vmsgd logs that
 *    it cannot serve dom5 another channel and tries again from its tick
 *    (more than once while the errors last); once they stop, a second
 *    process of dom5 attaches.
 * Without the spare channel (session.c) P2 cannot attach, and the racers
 * wait for each other's exit; without the retry, dom5's second process is
 * refused (-EBUSY). */
#include "vt_proc.h"

#include <xenstore.h>

#define CAP 3
#define CONF                                                                  \
	"[service a]\noffer = 3\nopen = 2,3\nmode = direct\n\n"               \
	"[service b]\noffer = 3\nopen = 2,3\nmode = direct\n\n"               \
	"[service r0]\noffer = 4\nopen = none\nmode = direct\n\n"                            \
	"[service r1]\noffer = 4\nopen = none\nmode = direct\n\n"                            \
	"[service r2]\noffer = 4\nopen = none\nmode = direct\n\n"                            \
	"[service s5]\noffer = 5\nopen = none\nmode = direct\n"
#define SHORT_MS 1500
#define RACERS 3
#define ROUNDS 6

/* Each consumer must be named by its domain (2 or 3); say which. */
static void say_consumer(const struct vmsg_service_peer *peer)
{
	if (peer->domid != 2 && peer->domid != 3)
		VMSG_TEST_FAIL("%s: a consumer named domain %u", vt_arg,
			       (unsigned)peer->domid);
	sim_say(vt_out, "consumer %u", (unsigned)peer->domid);
}

/* Role: offer service vt_arg and echo on its channels until "quit". */
static int role_offer(void)
{
	static unsigned char buf[ECHO_MAX_MSG];
	vmsg_ctl *ctl = vt_ctl_open();
	int r = vmsg_service_offer(ctl, vt_arg, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer %s: %s (%s)", vt_arg, vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "offered %d", (int)getpid());
	vmsg_chan *ch[VT_MAX_CHANS];
	int n = 0;
	for (;;) {
		struct pollfd p[VT_MAX_CHANS + 2];
		if (vt_provider_wait(p, vmsg_ctl_fd(ctl), ch, n, 200))
			break;
		/* Every channel it takes is reported (a take elsewhere
		 * made the driver wait for a consumer already served). */
		vt_echo_pump_n(ctl, ch, &n, VT_MAX_CHANS, vt_arg,
			       say_consumer, buf, sizeof buf);
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Role: open a and b, talk on both; after "after-kill" (vt_arg "same":
 * we are in a's provider's domain and a is gone) check what is left. */
static int role_user(void)
{
	static unsigned char in[ECHO_MAX_MSG];
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *a = vt_open(ctl, "a"), *b = vt_open(ctl, "b");
	vt_echo_exchange(a, 10, false);
	vt_echo_exchange(b, 10, true);
	sim_say(vt_out, "talking");
	sim_expect(vt_in, "after-kill", line, sizeof line);
	/* a's provider was killed: its unmap notification, or vmsgd's
	 * Closed, reaches us. */
	ASSERT_EQ(vmsg_chan_recv(a, NULL, in, sizeof in, SIM_WAIT_MS), -EPIPE);
	vmsg_service_close(ctl, a);
	vmsg_chan *c;
	ASSERT_EQ(vmsg_service_open(ctl, "a", &c, SIM_WAIT_MS), -ENOENT);
	/* b and its provider (the same domain as a's) live on. */
	vt_echo_exchange(b, 20, true);
	vmsg_chan *b2 = vt_open(ctl, "b");
	vt_echo_exchange(b2, 5, false);
	vmsg_service_close(ctl, b2);
	sim_say(vt_out, "still talking");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_service_close(ctl, b);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Role: vmsg_ctl_open with a short wait; say the result and the words. */
static int role_attach(void)
{
	vmsg_ctl *ctl = NULL;
	int r = vmsg_ctl_open(&ctl, SHORT_MS);
	sim_say(vt_out, "result %d %s", r, r < 0 ? vmsg_ctl_strerror(r) : "");
	vmsg_ctl_close(ctl);
	return 0;
}

/* Role: a racer. At "go" attach (all at once), offer service vt_arg, say
 * so and hold until "quit". */
static int role_racer(void)
{
	char line[64];
	sim_say(vt_out, "ready");
	sim_expect(vt_in, "go", line, sizeof line);
	vmsg_ctl *ctl = vt_ctl_open();
	int r = vmsg_service_offer(ctl, vt_arg, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer %s: %s (%s)", vt_arg, vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "attached");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Role (dom4): read the keys of the control channel vmsgd serves us
 * now; at "go" (another process has taken that channel) connect with them
 * and say the result. */
static int role_stale(void)
{
	char line[64], key[128], *v[2] = {NULL, NULL};
	static const char *const names[2] = {"ring-ref", "event-channel"};
	struct xs_handle *xs = xs_open(0);
	ASSERT_TRUE(xs != NULL);
	for (int i = 0; i < 2; i++) {
		snprintf(key, sizeof key, VMSG_CTL_PATH_PREFIX "/4/%s",
			 names[i]);
		for (int t = 0; !v[i] && t < SIM_WAIT_MS / 20; t++) {
			unsigned len;
			v[i] = xs_read(xs, XBT_NULL, key, &len);
			if (!v[i])
				usleep(20000);
		}
		ASSERT_TRUE(v[i] != NULL);
	}
	sim_say(vt_out, "keys");
	sim_expect(vt_in, "go", line, sizeof line);
	for (int i = 0; i < 2; i++) {
		snprintf(key, sizeof key, "/local/domain/4/data/stale/%s",
			 names[i]);
		ASSERT_TRUE(xs_write(xs, XBT_NULL, key, v[i], strlen(v[i])));
		free(v[i]);
	}
	xs_close(xs);
	vmsg_chan *c = NULL;
	int r = vmsg_xen_connect(&c, 0, "/local/domain/4/data/stale", NULL,
				 SHORT_MS);
	sim_say(vt_out, "result %d", r);
	vmsg_chan_close(c);
	sim_expect(vt_in, "quit", line, sizeof line);
	return 0;
}

/* Role (dom0): set the simulated xenstored's injected-error rule to
 * vt_arg ("off" clears it) and say "done". */
static int role_xsrule(void)
{
	struct xs_handle *xs = xs_open(0);
	ASSERT_TRUE(xs != NULL);
	ASSERT_TRUE(xs_write(xs, XBT_NULL, "/tool/xenstored/fail", vt_arg,
			     strlen(vt_arg)));
	xs_close(xs);
	sim_say(vt_out, "done");
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"offer", role_offer},	 {"user", role_user},
	{"attach", role_attach}, {"racer", role_racer},
	{"stale", role_stale},	 {"xsrule", role_xsrule},
	{NULL, NULL},
};

/* How many times `needle` occurs in `hay`. */
static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* vmsg_ctl_open's result in a new process of `domid`, its words in
 * words (may be NULL). */
static int attach_in(int domid, char *words, size_t cap)
{
	char buf[512];
	struct vt_role r;
	vt_spawn(&r, domid, "attach", NULL);
	const char *res = sim_expect(r.from, "result ", buf, sizeof buf);
	int v = atoi(res);
	if (words) {
		const char *sp = strchr(res, ' ');
		snprintf(words, cap, "%s", sp ? sp + 1 : "");
	}
	vt_role_done(&r, 0);
	return v;
}

/* The control channels vmsgctl lists for domain `domid` in `state`. */
static int channels_of(int domid, const char *state)
{
	static char out[1 << 16];
	char needle[64];
	ASSERT_EQ(vt_ctl(out, sizeof out, "--json list domains"), 0);
	snprintf(needle, sizeof needle, "{\"domid\":%d,\"state\":\"%s\"",
		 domid, state);
	return count(out, needle);
}

/* How many of vmsgd's log lines hold `needle`. */
static int log_count(const char *needle)
{
	static char log[1 << 22];
	vt_read_vmsgd_log(log, sizeof log);
	return count(log, needle);
}

/* vmsgd's log lines of a process leaving its control channel. */
static int disconnections(void)
{
	return log_count(": disconnected");
}

static void xs_rule(const char *rule)
{
	char buf[64];
	struct vt_role r;
	vt_spawn(&r, 0, "xsrule", rule);
	sim_expect(r.from, "done", buf, sizeof buf);
	vt_role_done(&r, 0);
}

/* A spare that cannot be served is served from vmsgd's tick later. */
static void spare_retry(void)
{
	static const char *const busy =
		"domain 5: cannot serve another control channel yet";
	char buf[256];
	struct vt_role h;
	vt_spawn(&h, 5, "racer", "s5");
	sim_expect(h.from, "ready", buf, sizeof buf);
	vt_ctl_wait("list domains", "5      waiting", 1);
	/* From here, every SET_PERMS of dom0 fails (a spare's keys must be
	 * readable by its domain: vmsgd cannot serve one). */
	xs_rule("0 1 EACCES 0 SET_PERMS");
	sim_say(h.to, "go");
	sim_expect(h.from, "attached", buf, sizeof buf);
	/* Tried at the greeting, then again from the tick (every 500 ms). */
	int n = 0;
	for (int i = 0; i < SIM_WAIT_MS / 50 && (n = log_count(busy)) < 3; i++)
		usleep(50000);
	if (n < 3)
		VMSG_TEST_FAIL("vmsgd logged '%s' %d times, expected it at the "
			       "greeting and again from its tick", busy, n);
	ASSERT_EQ(channels_of(5, "waiting"), 0);
	xs_rule("off");
	vt_ctl_wait("--json list domains", "{\"domid\":5,\"state\":\"waiting\"",
		    1);
	int r = attach_in(5, buf, sizeof buf);
	printf("spare retry: '%s' %d times, then a second process of dom5 "
	       "attached: %d %s\n", busy, n, r, buf);
	ASSERT_EQ(r, 0);
	sim_say(h.to, "quit");
	vt_role_done(&h, 0);
}

static void race(void)
{
	char buf[1024];
	int left = 0; /* the racers' quits of the rounds before */
	for (int round = 0; round < ROUNDS; round++) {
		struct vt_role r[RACERS];
		for (int i = 0; i < RACERS; i++) {
			char name[8];
			snprintf(name, sizeof name, "r%d", i);
			vt_spawn(&r[i], 4, "racer", name);
			sim_expect(r[i].from, "ready", buf, sizeof buf);
		}
		/* dom4 has its first channel waiting. */
		vt_ctl_wait("list domains", "4      waiting", 1);
		for (int i = 0; i < RACERS; i++)
			sim_say(r[i].to, "go");
		for (int i = 0; i < RACERS; i++)
			sim_expect(r[i].from, "attached", buf, sizeof buf);
		vt_ctl_wait("--json list services", "\"name\":\"r0\"", 1);
		vt_ctl_wait("--json list services", "\"name\":\"r1\"", 1);
		vt_ctl_wait("--json list services", "\"name\":\"r2\"", 1);
		int up = channels_of(4, "connected");
		if (up != RACERS) {
			ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
			VMSG_TEST_FAIL("round %d: %d control channels of dom4 "
				       "up, expected %d:\n%s",
				       round, up, RACERS, buf);
		}
		/* A racer whose channel another cleared (the loser of the
		 * claim unmapping with its notification) was seen leaving,
		 * and came back through its library's reconnect. */
		int now = disconnections();
		if (now != left)
			VMSG_TEST_FAIL("round %d: a racer's control channel was "
				       "taken from it (%d disconnections before "
				       "any racer quit)",
				       round, now - left);
		for (int i = 0; i < RACERS; i++) {
			sim_say(r[i].to, "quit");
			vt_role_done(&r[i], 0);
		}
		vt_ctl_wait("--json list domains", "{\"domid\":4,", 0);
		left = disconnections();
	}
	printf("race: %d rounds of %d racers of dom4, each on a control "
	       "channel of its own\n", ROUNDS, RACERS);

	/* The loser, made certain. */
	struct vt_role w, l;
	vt_spawn(&w, 4, "racer", "r0");
	sim_expect(w.from, "ready", buf, sizeof buf);
	vt_spawn(&l, 4, "stale", NULL);
	sim_expect(l.from, "keys", buf, sizeof buf);
	sim_say(w.to, "go");
	sim_expect(w.from, "attached", buf, sizeof buf);
	ASSERT_EQ(channels_of(4, "connected"), 1);
	sim_say(l.to, "go");
	int r = atoi(sim_expect(l.from, "result ", buf, sizeof buf));
	printf("a process of dom4 connecting with the keys of the channel "
	       "another took: %d (%s)\n", r, vmsg_strerror(r));
	ASSERT_EQ(r, -EBUSY);
	/* What vmsgd would have seen of it by now (the loser has closed). */
	usleep(500000);
	int now = disconnections();
	if (now != left)
		VMSG_TEST_FAIL("the loser of the claim took the winner's "
			       "control channel down (%d disconnections)",
			       now - left);
	ASSERT_EQ(channels_of(4, "connected"), 1);
	sim_say(l.to, "quit");
	vt_role_done(&l, 0);
	sim_say(w.to, "quit");
	vt_role_done(&w, 0);
	vt_ctl_wait("--json list domains", "{\"domid\":4,", 0);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[1024], log[700];
	snprintf(log, sizeof log, "%s/vmsgd.log", sim_dir);
	vt_write_conf_daemon("max_sessions_per_domain = 3\n", CONF);

	/* The race first, while the log has nothing else of leaving. */
	vt_vmsgd_log = log;
	vt_start_vmsgd();
	race();

	/* Three processes of dom3: two providers, a user. */
	struct vt_role p1, p2, p3, q;
	vt_spawn(&p1, 3, "offer", "a");
	pid_t victim = (pid_t)atoi(sim_expect(p1.from, "offered ", buf,
					      sizeof buf));
	ASSERT_GT(victim, 0);
	vt_spawn(&p2, 3, "offer", "b");
	sim_expect(p2.from, "offered ", buf, sizeof buf);
	vt_ctl_wait("--json list services", "\"name\":\"a\"", 1);
	vt_ctl_wait("--json list services", "\"name\":\"b\"", 1);
	vt_spawn(&p3, 3, "user", "same");
	sim_expect(p3.from, "talking", buf, sizeof buf);
	sim_expect(p1.from, "consumer 3", buf, sizeof buf);
	sim_expect(p2.from, "consumer 3", buf, sizeof buf);
	/* ... and one of dom2. */
	vt_spawn(&q, 2, "user", "other");
	sim_expect(q.from, "talking", buf, sizeof buf);
	sim_expect(p1.from, "consumer 2", buf, sizeof buf);
	sim_expect(p2.from, "consumer 2", buf, sizeof buf);
	ASSERT_EQ(channels_of(3, "connected"), CAP);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	printf("vmsgctl list domains:\n%s", buf);

	/* The cap: a fourth process of dom3 is told why at its deadline. */
	char words[400];
	int r = attach_in(3, words, sizeof words);
	printf("a fourth process of dom3: %d: %s\n", r, words);
	ASSERT_EQ(r, -EBUSY);
	ASSERT_TRUE(strstr(words, "max_sessions_per_domain") != NULL);

	/* P1 dies; a goes, b stays. */
	ASSERT_EQ(kill(victim, SIGKILL), 0);
	ASSERT_EQ(sim_wait(p1.pid), 128 + SIGKILL);
	close(p1.to);
	close(p1.from);
	vt_ctl_wait("--json list services", "\"name\":\"a\"", 0);
	vt_ctl_wait("--json list services", "\"name\":\"b\"", 1);
	sim_say(p3.to, "after-kill");
	sim_say(q.to, "after-kill");
	sim_expect(p3.from, "still talking", buf, sizeof buf);
	sim_expect(q.from, "still talking", buf, sizeof buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list services"), 0);
	printf("after P1's kill, vmsgctl list services:\n%s", buf);
	/* P1's channel is free again: another process of dom3 attaches. */
	ASSERT_EQ(attach_in(3, NULL, 0), 0);

	sim_say(p3.to, "quit");
	vt_role_done(&p3, 0);
	sim_say(q.to, "quit");
	vt_role_done(&q, 0);
	sim_say(p2.to, "quit");
	vt_role_done(&p2, 0);

	spare_retry();
	vt_stop_vmsgd();
	return 0;
}
