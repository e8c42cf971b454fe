/* vmsgd_relaylinger: a relayed open whose consumer left before the
 * provider answered Serve still counts against the consumer, until the
 * provider answers or the open's deadline passes.
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
 * one that is never answered goes at its open's deadline (5 s here): dom1
 * is told Closed, and told so again when it answers late. Last, dom1's
 * stock echo provider replaces the raw one and dom2 opens `echo` through
 * the library and exchanges messages. */
#include <stdlib.h>

#include "vt_raw.h"

#define CONF                                                                 \
	"[service echo]\noffer = 1\nopen = 2\nmode = relayed\n"
#define PENDING 2u    /* max_pending_opens_per_domain */
#define OPENS 4u      /* per round: more than PENDING */
#define ROUNDS 8u
#define SHORT_MS 5000u /* the open whose deadline passes */
#define HELD 64u

/* ---- dom1: the provider, by hand -------------------------------------- */

static vmsg_chan *prov_ctl;
static struct {
	uint32_t id;
	char path[128];
} held[HELD];
static unsigned nheld, nclosed;
static uint32_t closed_ids[HELD];
static uint32_t failed_ids[HELD]; /* answered with an error */
static unsigned nfailed;

/* Take one control message (timeout_ms: 0 polls): a Serve is held, a
 * Closed noted. 1: taken; 0: none came. */
static int prov_take(int timeout_ms)
{
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	/* Its type first: Serve has no built-in decoder. */
	struct vmsg_msg pk;
	int r = vmsg_chan_peek(prov_ctl, &pk, timeout_ms);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		VMSG_TEST_FAIL("dom1: peek: %s", vmsg_strerror(r));
	const ProtobufCMessageDescriptor *desc =
		pk.type == VMSG_TYPE_SVC_SERVE ? &vmsg__service__serve__descriptor
					       : &vmsg__service__closed__descriptor;
	uint16_t type;
	ProtobufCMessage *m;
	r = vmsg_proto_recv(prov_ctl, desc, &a, &type, &m, 0);
	if (r < 0)
		VMSG_TEST_FAIL("dom1: recv: %s", vmsg_strerror(r));
	if (type == VMSG_TYPE_SVC_SERVE) {
		const Vmsg__Service__Serve *sv = (const void *)m;
		ASSERT_LT(nheld, HELD);
		held[nheld].id = sv->serve_id;
		snprintf(held[nheld].path, sizeof held[nheld].path, "%s",
			 sv->path);
		nheld++;
	} else if (type == VMSG_TYPE_SVC_CLOSED) {
		const Vmsg__Service__Closed *cl = (const void *)m;
		for (unsigned i = 0; i < nfailed; i++)
			if (failed_ids[i] == cl->channel_id)
				VMSG_TEST_FAIL("dom1: Closed for channel %u, "
					       "which it could not serve",
					       cl->channel_id);
		ASSERT_LT(nclosed, HELD);
		closed_ids[nclosed++] = cl->channel_id;
	} else {
		VMSG_TEST_FAIL("dom1: unexpected message type %#x",
			       (unsigned)type);
	}
	return 1;
}

static bool was_closed(uint32_t id)
{
	for (unsigned i = 0; i < nclosed; i++)
		if (closed_ids[i] == id) {
			closed_ids[i] = closed_ids[--nclosed]; /* once */
			return true;
		}
	return false;
}

static void send_serve_result(uint32_t id, int code)
{
	Vmsg__Service__ServeResult sr = VMSG__SERVICE__SERVE_RESULT__INIT;
	sr.serve_id = id;
	sr.code = code;
	sr.text = (char *)(code ? "no room" : "");
	ASSERT_TRUE(vmsg_proto_send(prov_ctl, VMSG_TYPE_SVC_SERVE_RESULT,
				    &sr.base, 0, SIM_WAIT_MS) > 0);
}

/* Answer every held Serve: the first `errors` with an error, the rest
 * served (for domain 0); then wait for each served one's Closed. */
static void prov_answer(unsigned errors)
{
	vmsg_chan *served[HELD];
	uint32_t ids[HELD];
	unsigned n = 0;
	for (unsigned i = 0; i < nheld; i++) {
		if (i < errors) {
			failed_ids[nfailed++] = held[i].id;
			send_serve_result(held[i].id, -ENOMEM);
			continue;
		}
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		int r = vmsg_xen_serve(&served[n], 0, held[i].path, &o);
		if (r < 0)
			VMSG_TEST_FAIL("dom1: serve %s: %s", held[i].path,
				       vmsg_strerror(r));
		ids[n++] = held[i].id;
		send_serve_result(held[i].id, 0);
	}
	nheld = 0;
	for (unsigned i = 0; i < n; i++) {
		while (!was_closed(ids[i]))
			if (!prov_take(SIM_WAIT_MS))
				VMSG_TEST_FAIL("dom1: no Closed for served "
					       "channel %u",
					       ids[i]);
		vmsg_chan_close(served[i]);
	}
}

static int role_hold(void)
{
	char line[64], text[200];
	uint32_t req;
	int code;
	prov_ctl = vt_raw_connect(1);
	ASSERT_TRUE(send_offer(prov_ctl, 1, "echo") > 0);
	ASSERT_EQ(read_result(prov_ctl, SIM_WAIT_MS, &req, &code, text,
			      sizeof text),
		  0);
	ASSERT_EQ(code, 0);
	sim_say(vt_out, "offered");
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4)) {
			break;
		} else if (!strncmp(line, "drain", 5)) {
			/* Everything vmsgd sent is in the ring by now. */
			while (prov_take(0))
				;
			sim_say(vt_out, "serves %u", nheld);
		} else if (!strncmp(line, "next", 4)) {
			unsigned had = nheld;
			while (nheld == had)
				if (!prov_take(SIM_WAIT_MS))
					VMSG_TEST_FAIL("dom1: no Serve");
			sim_say(vt_out, "serve %u", held[nheld - 1].id);
		} else if (!strncmp(line, "closed ", 7)) {
			uint32_t id = (uint32_t)strtoul(line + 7, NULL, 10);
			while (!was_closed(id))
				if (!prov_take(SIM_WAIT_MS))
					VMSG_TEST_FAIL("dom1: no Closed for "
						       "channel %u",
						       id);
			sim_say(vt_out, "closed");
		} else if (!strncmp(line, "answer ", 7)) {
			prov_answer((unsigned)atoi(line + 7));
			sim_say(vt_out, "answered");
		} else {
			VMSG_TEST_FAIL("dom1: '%s'?", line);
		}
	}
	vmsg_chan_close(prov_ctl);
	return 0;
}

/* ---- dom2: the consumer, by hand, then through the library ------------ */

static int role_abuse(void)
{
	char line[64], text[200];
	uint32_t next_req = 1;
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4))
			break;
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

/* dom2's channels vmsgctl lists as lingering. */
static unsigned lingering(void)
{
	char buf[16384];
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	unsigned n = 0;
	for (const char *p = buf;
	     (p = strstr(p, "\"consumer\":2,\"state\":\"lingering\"")); p++)
		n++;
	return n;
}

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

	/* One never answered goes at its open's deadline (Closed to dom1),
	 * and a late answer is told Closed again. */
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
	sim_say(hold.to, "answer 0");
	sim_expect(hold.from, "answered", buf, sizeof buf);
	printf("an unanswered one went at its deadline (%u ms), Closed told "
	       "then and after the late answer\n",
	       SHORT_MS);

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
