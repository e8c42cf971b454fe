/* vmsgd_setupmsg: channels brokered by vmsgd are set up by message
 * (docs/protocol.md, "Setup by message"), and everything around it.
 *
 * 1. No xenstore per channel: a dom0 watcher watches the provider's
 *    /local/domain/1/data/vmsg while dom2 opens `echo` three times through
 *    the library (both ends announce VMSG_FEATURE_SVC_SETUP_MSG): it sees
 *    no write below it. Then an old consumer (the protocol by hand, no
 *    feature bit) opens once: vmsgd falls back to the xenstore path (the
 *    Opened it gets has a path and no ring_ref), it connects through
 *    xenstore and talks, and the watcher does see the keys come and go,
 *    so its silence before means something.
 *    The same for a relayed service (vmsgd's two ends by message; an old
 *    consumer's end served at a relay path, which the watcher sees).
 * 2. An old provider (by hand, no feature bit) gets a Serve without
 *    by_message; it serves at the path and the library's consumer
 *    connects through xenstore.
 * 3. A hostile provider (by hand, with the feature bit) answers
 *    ServeResult with a ring_ref of 0, then with a port over Xen's limit:
 *    vmsgd refuses both (-EPROTO, "bad grant reference"); then with values
 *    in range that name nothing: vmsgd passes them on and the consumer's
 *    library refuses them with a clear error instead of mapping garbage.
 * 4. The provider's control channel goes while its data channel stays
 *    (it closes its vmsg_ctl, its process lives): vmsgd tells the consumer
 *    (Closed), whose library marks the channel's peer gone, so recv reads
 *    -EPIPE where it would have waited; then a provider whose domain dies
 *    is reported to its consumer the same way (vmsgd's log says so).
 * 5. A provider that blocks in vmsg_service_accept gets each channel as
 *    its consumer connects, ROUNDS times in a row (open, a byte, close, as
 *    vmsg-bench's setup does): a consumer that came while accept was
 *    between its look at the served channel and its wait made that wait
 *    sleep through it, to its timeout (ETIMEDOUT), until the wait asked
 *    again (the window held a round trip to the simulator's daemon once
 *    accept opened the next channel's handles there).
 */
#include "vt_raw.h"

#include <xenstore.h>

#define CONF                                                                 \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"               \
	"max_channels_per_domain = 8\n"
#define WATCHED "/local/domain/1/data/vmsg"

#define RELAYS "/local/domain/0/data/vmsgd/relay"

/* Is this watch event for a node below one of the watched folders (not
 * the folder itself, which every watch reports once when set)? */
static bool below(const char *path)
{
	return strcmp(path, WATCHED) != 0 && strcmp(path, RELAYS) != 0;
}

/* dom0: watch WATCHED and RELAYS (where vmsgd serves relayed consumers
 * through xenstore); on "count", report the watch events for paths below
 * them seen since the last count. */
static int role_watcher(void)
{
	char buf[64];
	struct xs_handle *xs = xs_open(0);
	ASSERT_TRUE(xs != NULL);
	ASSERT_TRUE(xs_watch(xs, WATCHED, "w"));
	ASSERT_TRUE(xs_watch(xs, RELAYS, "r"));
	sim_say(vt_out, "watching");
	unsigned seen = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = vt_in, .events = POLLIN},
				      {.fd = xs_fileno(xs), .events = POLLIN}};
		ASSERT_TRUE(poll(p, 2, -1) > 0);
		if (p[1].revents) {
			char **v = xs_check_watch(xs);
			if (!v)
				continue;
			if (below(v[XS_WATCH_PATH])) {
				seen++;
				fprintf(stderr, "watcher: %s\n",
					v[XS_WATCH_PATH]);
			}
			free(v);
			continue;
		}
		sim_hear(vt_in, buf, sizeof buf);
		if (strcmp(buf, "count") != 0)
			break;
		/* Let what is in flight arrive: quiet for 300 ms. */
		for (;;) {
			struct pollfd q = {.fd = xs_fileno(xs),
					   .events = POLLIN};
			if (poll(&q, 1, 300) <= 0)
				break;
			char **v = xs_check_watch(xs);
			if (v && below(v[XS_WATCH_PATH]))
				seen++;
			free(v);
		}
		sim_say(vt_out, "events %u", seen);
		seen = 0;
	}
	xs_close(xs);
	return 0;
}

/* dom2, the library: three opens, each talked over and closed. */
static int role_consumer3(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	for (int i = 0; i < 3; i++) {
		vmsg_chan *c = vt_open(ctl, "echo");
		vt_echo_exchange(c, 5, false);
		vmsg_service_close(ctl, c);
	}
	sim_say(vt_out, "done");
	vmsg_ctl_close(ctl);
	return 0;
}

/* Read one message of the given descriptor from a raw control channel. */
static ProtobufCMessage *raw_recv(vmsg_chan *c, struct vmsg_arena *a,
				  const ProtobufCMessageDescriptor *d,
				  uint16_t want)
{
	uint16_t type;
	ProtobufCMessage *m;
	int r = vmsg_proto_recv(c, d, a, &type, &m, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("raw recv: %s", vmsg_strerror(r));
	ASSERT_EQ(type, want);
	return m;
}

/* dom2 without the feature bit: Open by hand, connect at the path. */
static int role_old_consumer(void)
{
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	vmsg_chan *ctl = vt_raw_connect(2);
	ASSERT_TRUE(send_open(ctl, 7, "echo", SIM_WAIT_MS) >= 0);
	const Vmsg__Service__Opened *op = (const void *)raw_recv(
		ctl, &a, &vmsg__service__opened__descriptor,
		VMSG_TYPE_SVC_OPENED);
	ASSERT_EQ(op->req_id, 7u);
	ASSERT_EQ(op->ring_ref, 0u); /* no setup by message for us */
	ASSERT_EQ(op->event_port, 0u);
	ASSERT_TRUE(op->path && op->path[0] == '/');
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = op->max_msg;
	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, (uint16_t)op->provider_domid, op->path,
				 &o, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("connect at %s: %s", op->path, vmsg_strerror(r));
	vt_echo_exchange(c, 5, false);
	vmsg_chan_close(c);
	sim_say(vt_out, "done");
	vmsg_chan_close(ctl);
	return 0;
}

/* Connect to our control channel by hand, announcing setup by message
 * (or not), and offer `echo`. */
static vmsg_chan *raw_provider(uint64_t features)
{
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, 0, VMSG_CTL_PATH_PREFIX "/1", &o,
				 SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	struct vmsg_hello_info ours, peer;
	vmsg_hello_info_init(&ours, "by-hand", vmsg_chan_max_msg(c));
	ours.features |= features;
	ASSERT_EQ(vmsg_hello_exchange_ex(c, &ours, &peer, SIM_WAIT_MS), 0);
	ASSERT_TRUE(peer.features & VMSG_FEATURE_SVC_SETUP_MSG);
	ASSERT_TRUE(send_offer(c, 1, "echo") >= 0);
	uint32_t req;
	int code;
	char text[200];
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  0);
	ASSERT_EQ(code, 0);
	return c;
}

static int send_serve_result(vmsg_chan *c, uint32_t id, uint32_t ref,
			     uint32_t port)
{
	Vmsg__Service__ServeResult sr = VMSG__SERVICE__SERVE_RESULT__INIT;
	sr.serve_id = id;
	sr.ring_ref = ref;
	sr.event_port = port;
	return vmsg_proto_send(c, VMSG_TYPE_SVC_SERVE_RESULT, &sr.base, 0,
			       SIM_WAIT_MS);
}

/* dom1 without the feature bit: serve each Serve at its path. */
static int role_old_provider(void)
{
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	vmsg_chan *ctl = raw_provider(0);
	sim_say(vt_out, "offered");
	const Vmsg__Service__Serve *sv = (const void *)raw_recv(
		ctl, &a, &vmsg__service__serve__descriptor, VMSG_TYPE_SVC_SERVE);
	ASSERT_EQ(sv->by_message, 0u); /* we did not announce it */
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = sv->max_msg;
	vmsg_chan *c;
	ASSERT_EQ(vmsg_xen_serve(&c, (uint16_t)sv->consumer_domid, sv->path,
				 &o),
		  0);
	ASSERT_TRUE(send_serve_result(ctl, sv->serve_id, 0, 0) >= 0);
	ASSERT_EQ(vmsg_chan_accept(c, SIM_WAIT_MS), 0);
	static unsigned char buf[ECHO_MAX_MSG];
	for (int i = 0; i < 5; i++) {
		uint16_t type;
		int r = vmsg_chan_recv(c, &type, buf, sizeof buf, SIM_WAIT_MS);
		ASSERT_TRUE(r >= 0);
		ASSERT_EQ(vmsg_chan_send(c, type, buf, (size_t)r, 0,
					 SIM_WAIT_MS),
			  r);
	}
	char line[64];
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_chan_close(c);
	vmsg_chan_close(ctl);
	return 0;
}

/* dom2, the library: one open, talked over (against the old provider). */
static int role_consumer1(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c = vt_open(ctl, "echo");
	vt_echo_exchange(c, 5, false);
	vmsg_service_close(ctl, c);
	sim_say(vt_out, "done");
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom1, hostile: answers each Serve (by message, as announced) with the
 * ring_ref and port the driver names, "REF PORT", one per line. */
static int role_bad_provider(void)
{
	uint64_t abuf[512];
	struct vmsg_arena a;
	char line[64];
	vmsg_chan *ctl = raw_provider(VMSG_FEATURE_SVC_SETUP_MSG);
	sim_say(vt_out, "offered");
	for (;;) {
		sim_hear(vt_in, line, sizeof line);
		unsigned ref, port;
		if (sscanf(line, "%u %u", &ref, &port) != 2)
			break;
		/* vmsgd's Closed for the channel it refused comes first. */
		uint16_t type;
		ProtobufCMessage *m;
		do {
			vmsg_arena_init(&a, abuf, sizeof abuf);
			ASSERT_TRUE(vmsg_proto_recv(ctl,
						    &vmsg__service__serve__descriptor,
						    &a, &type, &m,
						    SIM_WAIT_MS) >= 0);
		} while (type == VMSG_TYPE_SVC_CLOSED);
		ASSERT_EQ(type, VMSG_TYPE_SVC_SERVE);
		const Vmsg__Service__Serve *sv = (const void *)m;
		ASSERT_EQ(sv->by_message, 1u);
		ASSERT_TRUE(send_serve_result(ctl, sv->serve_id, ref, port) >= 0);
		sim_say(vt_out, "answered");
	}
	vmsg_chan_close(ctl);
	return 0;
}

/* dom2, the library: on each "open", open and report the error. */
static int role_refused(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	for (;;) {
		sim_hear(vt_in, line, sizeof line);
		if (strcmp(line, "open") != 0)
			break;
		vmsg_chan *c;
		int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
		if (r == 0)
			VMSG_TEST_FAIL("opened a channel of garbage");
		sim_say(vt_out, "refused %d %s", r, vmsg_ctl_error(ctl));
	}
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom1, the library: offer, accept one channel, echo one batch, then
 * close the control channel (or not, with "die": the driver kills us)
 * and keep the data channel. */
static int role_dropper(void)
{
	static unsigned char buf[ECHO_MAX_MSG];
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "echo", SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered %d", (int)getpid());
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	ASSERT_EQ(vmsg_service_accept(ctl, &c, &peer, SIM_WAIT_MS), 0);
	for (int i = 0; i < 5; i++) {
		uint16_t type;
		int r = vmsg_chan_recv(c, &type, buf, sizeof buf, SIM_WAIT_MS);
		ASSERT_TRUE(r >= 0);
		ASSERT_EQ(vmsg_chan_send(c, type, buf, (size_t)r, 0,
					 SIM_WAIT_MS),
			  r);
	}
	sim_hear(vt_in, line, sizeof line);
	if (!strcmp(line, "drop")) {
		vmsg_ctl_close(ctl); /* the data channel stays */
		sim_say(vt_out, "dropped");
		sim_expect(vt_in, "quit", line, sizeof line);
	} else {
		pause(); /* killed */
	}
	vmsg_chan_close(c);
	return 0;
}

/* dom2, the library: open, talk, then on "check" let the library read
 * its control channel and see whether the channel knows its peer left. */
static int role_watcher_consumer(void)
{
	static unsigned char in[ECHO_MAX_MSG];
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c = vt_open(ctl, "echo");
	vt_echo_exchange(c, 5, false);
	sim_say(vt_out, "talking");
	sim_expect(vt_in, "check", line, sizeof line);
	/* What a poller of vmsg_ctl_fd() does when it turns readable; a
	 * consumer that offers nothing gets -EAGAIN. */
	vmsg_chan *x;
	uint64_t until = vt_now_ms() + 5000;
	int r;
	do {
		ASSERT_EQ(vmsg_service_accept(ctl, &x, NULL, 0), -EAGAIN);
		r = vmsg_chan_recv(c, NULL, in, sizeof in, 100);
	} while (r == -ETIMEDOUT && vt_now_ms() < until);
	sim_say(vt_out, "recv %d", r);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

#define ROUNDS 500
/* A wait that sleeps through its consumer sleeps until the first of the
 * accept's timeout and the served channel's connect deadline (the Open's
 * SIM_WAIT_MS): the opener's wait for its byte, far shorter, then fails,
 * where a working accept answers in milliseconds even on a loaded
 * machine. */
#define ACCEPT_MS 60000
#define BYTE_MS 10000

/* dom1: offer echo, then ROUNDS blocking accepts, each answered with a
 * byte; the consumer closes first. */
static int role_acceptor(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "echo", SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered");
	for (int i = 0; i < ROUNDS; i++) {
		vmsg_chan *c;
		int r = vmsg_service_accept(ctl, &c, NULL, ACCEPT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("accept %d of %d: %s", i + 1, ROUNDS,
				       vmsg_strerror(r));
		uint8_t b = (uint8_t)i, got;
		uint16_t type;
		ASSERT_EQ(vmsg_chan_send(c, 7, &b, 1, 0, SIM_WAIT_MS), 1);
		ASSERT_EQ(vmsg_chan_recv(c, &type, &got, 1, SIM_WAIT_MS),
			  -EPIPE);
		vmsg_service_close(ctl, c);
	}
	sim_say(vt_out, "accepted %d", ROUNDS);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom2: ROUNDS opens, each reading the provider's byte. */
static int role_opener(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	for (int i = 0; i < ROUNDS; i++) {
		vmsg_chan *c = vt_open(ctl, "echo");
		uint8_t b;
		uint16_t type;
		int r = vmsg_chan_recv(c, &type, &b, 1, BYTE_MS);
		if (r != 1)
			VMSG_TEST_FAIL("open %d of %d: no byte from the provider "
				       "(%s)", i + 1, ROUNDS,
				       r < 0 ? vmsg_strerror(r) : "short");
		ASSERT_EQ(b, (uint8_t)i);
		vmsg_service_close(ctl, c);
	}
	sim_say(vt_out, "opened %d", ROUNDS);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"acceptor", role_acceptor},
	{"opener", role_opener},
	{"watcher", role_watcher},
	{"consumer3", role_consumer3},
	{"old_consumer", role_old_consumer},
	{"old_provider", role_old_provider},
	{"consumer1", role_consumer1},
	{"bad_provider", role_bad_provider},
	{"refused", role_refused},
	{"dropper", role_dropper},
	{"watcher_consumer", role_watcher_consumer},
	{NULL, NULL},
};

static unsigned count_events(struct vt_role *w)
{
	char buf[128];
	sim_say(w->to, "count");
	const char *n = sim_expect(w->from, "events ", buf, sizeof buf);
	return (unsigned)atoi(n);
}

/* 1: no xenstore per channel by message; the old path for an old peer. */
static void no_xenstore(void)
{
	char buf[256];
	struct vt_role prov, w, cons;
	vt_start_with_echo(CONF, &prov);
	vt_spawn(&w, 0, "watcher", NULL);
	sim_expect(w.from, "watching", buf, sizeof buf);
	(void)count_events(&w);

	vt_spawn(&cons, 2, "consumer3", NULL);
	sim_expect(cons.from, "done", buf, sizeof buf);
	vt_role_done(&cons, 0);
	unsigned by_msg = count_events(&w);
	fprintf(stderr, "xenstore writes below %s, 3 opens by message: %u\n",
		WATCHED, by_msg);
	ASSERT_EQ(by_msg, 0u);

	vt_spawn(&cons, 2, "old_consumer", NULL);
	sim_expect(cons.from, "done", buf, sizeof buf);
	vt_role_done(&cons, 0);
	unsigned old = count_events(&w);
	fprintf(stderr, "xenstore writes below %s, 1 open through xenstore: "
			"%u\n",
		WATCHED, old);
	ASSERT_GT(old, 0u); /* the watcher does see the keys */

	sim_say(w.to, "quit");
	vt_role_done(&w, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
}

/* 1b: the same for a relayed service: vmsgd's two ends are set up by
 * message too, and an old consumer's end is served at a path. */
static void no_xenstore_relayed(void)
{
	char buf[256];
	struct vt_role prov, w, cons;
	vt_start_with_echo("[service echo]\noffer = 1\nopen = 2\n"
			   "mode = relayed\n",
			   &prov);
	vt_spawn(&w, 0, "watcher", NULL);
	sim_expect(w.from, "watching", buf, sizeof buf);
	(void)count_events(&w);

	vt_spawn(&cons, 2, "consumer3", NULL);
	sim_expect(cons.from, "done", buf, sizeof buf);
	vt_role_done(&cons, 0);
	unsigned by_msg = count_events(&w);
	fprintf(stderr, "relayed: xenstore writes, 3 opens by message: %u\n",
		by_msg);
	ASSERT_EQ(by_msg, 0u);

	vt_spawn(&cons, 2, "old_consumer", NULL);
	sim_expect(cons.from, "done", buf, sizeof buf);
	vt_role_done(&cons, 0);
	unsigned old = count_events(&w);
	fprintf(stderr, "relayed: xenstore writes, 1 open by an old "
			"consumer: %u\n",
		old);
	ASSERT_GT(old, 0u); /* vmsgd's end for it, at a relay path */

	sim_say(w.to, "quit");
	vt_role_done(&w, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
}

/* 2: an old provider gets the xenstore path. */
static void old_provider(void)
{
	char buf[256];
	struct vt_role prov, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "old_provider", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "consumer1", NULL);
	sim_expect(cons.from, "done", buf, sizeof buf);
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
}

/* 3: garbage from a provider never becomes a mapping. */
static void hostile_values(void)
{
	char buf[512];
	struct vt_role prov, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "bad_provider", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "refused", NULL);
	static const char *const answers[] = {"0 5", "77 0", "77 131072",
					      "4242 4000"};
	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		sim_say(prov.to, "%s", answers[i]);
		sim_say(cons.to, "open");
		sim_expect(prov.from, "answered", buf, sizeof buf);
		const char *why = sim_expect(cons.from, "refused ", buf,
					     sizeof buf);
		fprintf(stderr, "ServeResult %s: %s\n", answers[i], why);
		int code = atoi(why);
		if (i < 3) {
			/* vmsgd's own check. */
			ASSERT_EQ(code, -EPROTO);
			ASSERT_TRUE(strstr(why, "bad grant reference") != NULL);
		} else {
			/* In range, naming nothing: the consumer's check. */
			ASSERT_TRUE(code == -EPROTO || code == -EBUSY);
			ASSERT_TRUE(strstr(why, "does not work") != NULL);
		}
	}
	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
}

/* 4: the consumer hears of its provider's end from vmsgd. */
static void provider_gone(void)
{
	char buf[512];
	struct vt_role prov, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "dropper", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "watcher_consumer", NULL);
	sim_expect(cons.from, "talking", buf, sizeof buf);
	sim_say(prov.to, "drop");
	sim_expect(prov.from, "dropped", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 0);
	sim_say(cons.to, "check");
	const char *r = sim_expect(cons.from, "recv ", buf, sizeof buf);
	ASSERT_EQ(atoi(r), -EPIPE);
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();

	/* A provider domain that dies: vmsgd tells the consumer too (on the
	 * simulator the unmap notification would also tell it). */
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "dropper", NULL);
	const char *pid = sim_expect(prov.from, "offered ", buf, sizeof buf);
	pid_t victim = (pid_t)atoi(pid);
	ASSERT_GT(victim, 0);
	vt_spawn(&cons, 2, "watcher_consumer", NULL);
	sim_expect(cons.from, "talking", buf, sizeof buf);
	ASSERT_EQ(kill(victim, SIGKILL), 0);
	ASSERT_EQ(sim_wait(prov.pid), 128 + SIGKILL);
	close(prov.to);
	close(prov.from);
	vt_ctl_wait("--json list domains", "{\"domid\":1,", 0);
	sim_say(cons.to, "check");
	r = sim_expect(cons.from, "recv ", buf, sizeof buf);
	ASSERT_EQ(atoi(r), -EPIPE);
	vt_role_done(&cons, 0);
	vt_stop_vmsgd();
	char log[65536];
	vt_read_vmsgd_log(log, sizeof log);
	ASSERT_TRUE(strstr(log, "telling domain 2 its provider is gone") !=
		    NULL);
}

/* 5: a blocking accept takes every channel as its consumer comes. */
static void blocking_accept(void)
{
	char buf[128];
	struct vt_role prov, cons;
	/* Opens as fast as they come: over the default rate. */
	vt_write_conf_daemon("requests_per_s = 100000\n"
			     "requests_burst = 100000\n",
			     CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "acceptor", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "opener", NULL);
	sim_expect(cons.from, "opened", buf, sizeof buf);
	sim_expect(prov.from, "accepted", buf, sizeof buf);
	vt_role_done(&cons, 0);
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char logpath[700];
	snprintf(logpath, sizeof logpath, "%s/vmsgd.log", sim_dir);
	no_xenstore();
	no_xenstore_relayed();
	old_provider();
	hostile_values();
	vt_vmsgd_log = logpath;
	provider_gone();
	blocking_accept();
	return 0;
}
