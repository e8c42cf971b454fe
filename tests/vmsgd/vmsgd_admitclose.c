/* vmsgd_admitclose: a provider that sends and closes a channel whose
 * consumer it admitted (docs/protocol.md, "Admitted clients") before that
 * consumer has mapped the pages loses nothing: vmsg_service_close keeps
 * the pages and the port for the consumer ("lingering", lib/service/
 * served.c), which reads the message, then the close. And the lingering
 * ends as soon as it is over, not at its 30 s deadline:
 *   1. the consumer comes late: it kicks the provider it finds gone, and
 *      the provider's library closes its end and tells vmsgd (vmsgd stops
 *      listing the channel) while the consumer still holds its end;
 *   2. the consumer never comes and its control channel goes: vmsgd's
 *      Closed ends it, read by the provider's accept (first consumer) or
 *      by its vmsg_ctl_close, which waits for its lingering channels
 *      (second consumer; and a channel vmsgd has it serve meanwhile,
 *      for that consumer's next open, is closed at once: it does not
 *      keep the close waiting).
 * Both ways a consumer is admitted: dom2 opens `echo`, which has spares
 * (vmsgd's spare request after channel X admits X's consumer), without
 * saying it takes an admitted channel; dom3 opens `talk`, on demand,
 * saying so (VMSG_FEATURE_SVC_ADMIT: vmsgd's Serve says admit).
 *
 * dom1: a provider of both that, per round, accepts, sends "hello ID" and
 * closes at once, then accepts on as a poller of vmsg_ctl_fd() until told
 * what to do next.
 * dom2, dom3: consumers speaking the control protocol by hand, set up by
 * message: each Opens, reads the Opened, and connects with its grant and
 * port only when the driver says so.
 */
#include "vt_raw.h"

#define CONF                                                             \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\nspare = yes\n" \
	"[service talk]\noffer = 1\nopen = 3\nmode = direct\n"

/* How long a lingering channel may take to end once it is over: well
 * under the 30 s deadline it would otherwise wait for. */
#define OVER_MS 10000

/* Accept one channel, send "hello ID" and close it at once. */
static void serve_and_close(vmsg_ctl *ctl)
{
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	char b[64];
	int r = vmsg_service_accept(ctl, &c, &peer, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("accept: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	/* The consumer has not connected: admitted, it is open all the
	 * same. */
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
	int n = snprintf(b, sizeof b, "hello %u", peer.channel_id);
	ASSERT_EQ(vmsg_chan_send(c, 1, b, (size_t)n + 1, 0, 0), n + 1);
	vmsg_service_close(ctl, c);
	sim_say(vt_out, "closed %u", peer.channel_id);
}

/* Accept as a poller of vmsg_ctl_fd() does (the control channel is read
 * inside the library's calls), until the driver says something. A
 * poller calls until -EAGAIN before it polls (the fd is armed then); it
 * turns readable for a message from vmsgd, a lingering channel's
 * consumer's kick, or that channel's deadline (30 s). */
static void accept_until_told(vmsg_ctl *ctl, char *b, size_t cap)
{
	struct pollfd p[2] = {{.fd = vt_in, .events = POLLIN},
			      {.fd = vmsg_ctl_fd(ctl), .events = POLLIN}};
	ASSERT_GE(p[1].fd, 0);
	do {
		vmsg_chan *more;
		int a = vmsg_service_accept(ctl, &more, NULL, 0);
		if (a >= 0)
			VMSG_TEST_FAIL("accepted a channel nobody opened");
		if (a != -EAGAIN)
			VMSG_TEST_FAIL("accept: %s", vmsg_strerror(a));
		ASSERT_GE(poll(p, 2, -1), 0);
	} while (!p[0].revents);
	sim_expect(vt_in, "", b, cap);
	/* Out of the library: the driver lets the next consumer open only
	 * now (an open that came while the accept above still ran, on its
	 * way back to the poll, would be taken there). */
	sim_say(vt_out, "told");
}

static int role_prov(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	int r;
	if ((r = vmsg_service_offer(ctl, "echo", SIM_WAIT_MS)) < 0 ||
	    (r = vmsg_service_offer(ctl, "talk", SIM_WAIT_MS)) < 0)
		VMSG_TEST_FAIL("offer: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "offered");
	for (int consumer = 0; consumer < 2; consumer++) {
		serve_and_close(ctl); /* round 1 */
		accept_until_told(ctl, b, sizeof b);
		ASSERT_EQ(strcmp(b, "next"), 0);
		serve_and_close(ctl); /* round 2 */
		if (consumer == 0) {
			accept_until_told(ctl, b, sizeof b);
			ASSERT_EQ(strcmp(b, "next"), 0);
		}
	}
	/* Not in the library: vmsgd's Closed waits in the control
	 * channel for the close below to read. */
	sim_expect(vt_in, "quit", b, sizeof b);
	uint64_t t0 = vt_now_ms();
	vmsg_ctl_close(ctl);
	sim_say(vt_out, "ctl closed %llu",
		(unsigned long long)(vt_now_ms() - t0));
	return 0;
}

/* Open `name`; return what Opened names. */
static Vmsg__Service__Opened *open_svc(vmsg_chan *ctl, const char *name,
				       uint32_t req, struct vmsg_arena *a)
{
	ASSERT_GE(send_open(ctl, req, name, 0), 0);
	return vt_raw_opened(ctl, req, a, 0);
}

static int role_raw(void)
{
	char b[64], want[64];
	uint64_t abuf[512];
	struct vmsg_arena a;
	/* dom2: `echo`, admitted by the spare request; dom3: `talk`,
	 * admitted on demand (Serve.admit). */
	const bool spare = strcmp(vt_arg, "echo") == 0;
	vmsg_chan *ctl = vt_raw_connect_ex(
		spare ? 2 : 3, VMSG_FEATURE_SVC_SETUP_MSG |
				       (spare ? 0 : VMSG_FEATURE_SVC_ADMIT));

	/* Round 1: connect once the provider has closed. */
	vmsg_arena_init(&a, abuf, sizeof abuf);
	Vmsg__Service__Opened *o = open_svc(ctl, vt_arg, 7, &a);
	sim_say(vt_out, "opened %u", o->channel_id);
	sim_expect(vt_in, "connect", b, sizeof b);
	/* The provider has closed: the message, then the close. */
	vmsg_chan *c = vt_raw_take_hello(o);
	snprintf(want, sizeof want, "hello %u", o->channel_id);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, sizeof b, SIM_WAIT_MS), -EPIPE);
	sim_say(vt_out, "got %s", want);
	/* Our end stays open: the provider must learn that we came from
	 * our kick, not from our close. */
	sim_expect(vt_in, "next", b, sizeof b);

	/* Round 2: never connect; the control channel goes. */
	vmsg_arena_init(&a, abuf, sizeof abuf);
	o = open_svc(ctl, vt_arg, 8, &a);
	sim_say(vt_out, "opened %u", o->channel_id);
	sim_hear(vt_in, b, sizeof b);
	if (strcmp(b, "again") == 0) {
		/* One more open, served while the provider's
		 * vmsg_ctl_close waits for the channel above. */
		vmsg_arena_init(&a, abuf, sizeof abuf);
		o = open_svc(ctl, vt_arg, 9, &a);
		sim_say(vt_out, "opened %u", o->channel_id);
		sim_expect(vt_in, "quit", b, sizeof b);
	}
	if (strcmp(b, "quit") != 0)
		VMSG_TEST_FAIL("told '%s'", b);
	vmsg_chan_close(ctl);
	vmsg_chan_close(c);
	return 0;
}

/* Is channel `id` in vmsgctl's list? */
static bool listed(unsigned id)
{
	char out[16384], needle[32];
	ASSERT_EQ(vt_ctl(out, sizeof out, "--json list channels"), 0);
	snprintf(needle, sizeof needle, "\"id\":%u,", id);
	return strstr(out, needle) != NULL;
}

/* Wait until vmsgd no longer lists channel `id`; the ms it took (at
 * most OVER_MS). */
static unsigned unlisted_ms(unsigned id)
{
	uint64_t t0 = vt_now_ms();
	while (listed(id) && vt_now_ms() - t0 < OVER_MS)
		usleep(20000);
	return (unsigned)(vt_now_ms() - t0);
}

/* One consumer's two rounds (above); `last`: the provider's
 * vmsg_ctl_close reads vmsgd's Closed of round 2, not its accept. */
static void consumer_rounds(struct vt_role *prov, int domid,
			    const char *service, bool last)
{
	char buf[256];
	struct vt_role raw;
	unsigned opened, closed, ms;
	vt_spawn(&raw, domid, "raw", service);

	/* 1. The provider sent and closed before its consumer came. */
	sim_expect(raw.from, "opened", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "opened %u", &opened), 1);
	sim_expect(prov->from, "closed", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "closed %u", &closed), 1);
	ASSERT_EQ(closed, opened);
	ASSERT_TRUE(listed(opened)); /* lingering: vmsgd not told yet */
	sim_say(raw.to, "connect");
	sim_expect(raw.from, "got", buf, sizeof buf);
	printf("%s, channel %u: the consumer came after the close and %s\n",
	       service, opened, buf);
	ms = unlisted_ms(opened);
	printf("%s, channel %u: the provider's end ended %u ms after\n",
	       service, opened, ms);
	if (ms >= OVER_MS)
		VMSG_TEST_FAIL("channel %u still listed %u ms after its "
			       "consumer came", opened, ms);
	sim_say(prov->to, "next");
	sim_expect(prov->from, "told", buf, sizeof buf);
	sim_say(raw.to, "next");

	/* 2. The consumer never comes, and goes. */
	sim_expect(raw.from, "opened", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "opened %u", &opened), 1);
	sim_expect(prov->from, "closed", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "closed %u", &closed), 1);
	ASSERT_EQ(closed, opened);
	if (last) {
		/* The provider's vmsg_ctl_close waits for that channel;
		 * meanwhile vmsgd asks it to serve another open, which it
		 * serves and closes at once: nobody would take it. */
		sim_say(prov->to, "quit");
		sim_say(raw.to, "again");
		sim_expect(raw.from, "opened", buf, sizeof buf);
	}
	sim_say(raw.to, "quit");
	vt_role_done(&raw, 0);
	if (!last) {
		ms = unlisted_ms(opened);
		printf("%s, channel %u: ended by vmsgd's Closed %u ms after "
		       "its consumer went\n", service, opened, ms);
		if (ms >= OVER_MS)
			VMSG_TEST_FAIL("channel %u still listed %u ms after "
				       "its consumer went", opened, ms);
		sim_say(prov->to, "next");
		sim_expect(prov->from, "told", buf, sizeof buf);
		return;
	}
	sim_expect(prov->from, "ctl closed", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "ctl closed %u", &ms), 1);
	printf("%s, channel %u: vmsg_ctl_close took %u ms\n", service, opened,
	       ms);
	if (ms >= OVER_MS)
		VMSG_TEST_FAIL("vmsg_ctl_close waited %u ms for a consumer "
			       "that had gone", ms);
}

int main(int argc, char **argv)
{
	static const struct vt_role_fn roles[] = {
		{"prov", role_prov},
		{"raw", role_raw},
		{NULL, NULL},
	};
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role prov;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "prov", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "talk", 1);
	consumer_rounds(&prov, 2, "echo", false);
	consumer_rounds(&prov, 3, "talk", true);
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
