/* xen_vmsg_pair: a vmsg server in domain 0 and a vmsg client in domain 1
 * on the Xen backend over the simulated Xen.
 *
 * Phase 1: 2000 typed messages each way (types and lengths vary, every
 * byte checked), 8 fragmented messages each way (1-2 MiB through 64 KiB
 * rings), then 64 MiB each way as 1 MiB messages, checksummed; then the
 * client is killed with SIGKILL and the server must see -EPIPE and CLOSED
 * (the unmap notification), well within a generous bound; it then
 * serves again at the same directory and a new client talks to it and
 * sees its orderly close.
 * Phase 2: the server is killed; the client must see -EPIPE and CLOSED,
 * and a send must fail with -EPIPE. */
#include "xen_test.h"

#define PATH_A "/local/domain/0/data/vchan/1/pair-a"
#define PATH_B "/local/domain/0/data/vchan/1/pair-b"
#define SMALL_MSGS 2000
#define FRAG_MSGS 8
#define BULK_MSG (1u << 20)
#define BULK_TOTAL (64u << 20)
#define MAX_MSG (4u << 20)
#define DEATH_MS 10000 /* generous: the notification is immediate */

static unsigned char *big;

static size_t small_len(unsigned i)
{
	return (i * 37u) % 3001u;
}

static size_t frag_len(unsigned i)
{
	return (1u << 20) + i * 123457u;
}

static void pattern(unsigned char *b, size_t n, unsigned i)
{
	for (size_t j = 0; j < n; j++)
		b[j] = (unsigned char)(i * 131u + j * 7u + (j >> 12));
}

static void check_pattern(const unsigned char *b, size_t n, unsigned i)
{
	for (size_t j = 0; j < n; j++)
		if (b[j] != (unsigned char)(i * 131u + j * 7u + (j >> 12)))
			VMSG_TEST_FAIL("message %u byte %zu differs", i, j);
}

static void send_msgs(vmsg_chan *c, uint16_t base)
{
	for (unsigned i = 0; i < SMALL_MSGS; i++) {
		size_t n = small_len(i);
		pattern(big, n, i);
		ASSERT_EQ(vmsg_chan_send(c, (uint16_t)(base + i % 50), big, n,
					 0, SIM_WAIT_MS),
			  (int)n);
	}
	for (unsigned i = 0; i < FRAG_MSGS; i++) {
		size_t n = frag_len(i);
		pattern(big, n, i);
		ASSERT_EQ(vmsg_chan_send(c, (uint16_t)(base + 77), big, n, 0,
					 SIM_WAIT_MS),
			  (int)n);
	}
}

static void recv_msgs(vmsg_chan *c, uint16_t base)
{
	uint16_t type;
	for (unsigned i = 0; i < SMALL_MSGS; i++) {
		int r = vmsg_chan_recv(c, &type, big, MAX_MSG, SIM_WAIT_MS);
		ASSERT_EQ(r, (int)small_len(i));
		ASSERT_EQ(type, base + i % 50);
		check_pattern(big, (size_t)r, i);
	}
	for (unsigned i = 0; i < FRAG_MSGS; i++) {
		int r = vmsg_chan_recv(c, &type, big, MAX_MSG, SIM_WAIT_MS);
		ASSERT_EQ(r, (int)frag_len(i));
		ASSERT_EQ(type, base + 77);
		check_pattern(big, (size_t)r, i);
	}
}

static uint64_t send_bulk(vmsg_chan *c, uint64_t seed)
{
	uint64_t h = VMSG_TEST_FNV_INIT;
	for (uint32_t done = 0; done < BULK_TOTAL; done += BULK_MSG) {
		xt_fill(&seed, big, BULK_MSG);
		h = vmsg_test_fnv(h, big, BULK_MSG);
		ASSERT_EQ(vmsg_chan_send(c, 900, big, BULK_MSG, 0, SIM_WAIT_MS),
			  (int)BULK_MSG);
	}
	return h;
}

static uint64_t recv_bulk(vmsg_chan *c, uint64_t *ns)
{
	uint64_t h = VMSG_TEST_FNV_INIT, t0 = 0;
	uint16_t type;
	for (uint32_t done = 0; done < BULK_TOTAL; done += BULK_MSG) {
		int r = vmsg_chan_recv(c, &type, big, MAX_MSG, SIM_WAIT_MS);
		ASSERT_EQ(r, (int)BULK_MSG);
		ASSERT_EQ(type, 900);
		if (!t0)
			t0 = xt_now_ns();
		h = vmsg_test_fnv(h, big, BULK_MSG);
	}
	*ns = xt_now_ns() - t0;
	return h;
}

/* The peer was killed: the next receive must say -EPIPE (not time out). */
static void expect_peer_death(vmsg_chan *c)
{
	uint64_t t0 = xt_now_ns();
	int r = vmsg_chan_recv(c, NULL, big, MAX_MSG, DEATH_MS);
	ASSERT_EQ(r, -EPIPE);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	ASSERT_EQ(vmsg_chan_send(c, 5, "x", 1, 0, 0), -EPIPE);
	sim_say(xt_out, "peer gone %llu",
		(unsigned long long)((xt_now_ns() - t0) / 1000000u));
}

static void opts(struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->max_msg = MAX_MSG;
}

static int role_server(const char *path)
{
	char buf[128];
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	opts(&o);
	int r = vmsg_xen_serve(&c, 1, path, &o);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_serve: %s", vmsg_strerror(r));
	sim_say(xt_out, "ready %d", (int)getpid());
	ASSERT_EQ(vmsg_chan_accept(c, SIM_WAIT_MS), 0);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
	if (!strcmp(path, PATH_B)) {
		for (;;)
			pause(); /* until SIGKILL */
	}
	send_msgs(c, 100);
	recv_msgs(c, 200);
	uint64_t ns;
	uint64_t sent = send_bulk(c, 11);
	uint64_t got = recv_bulk(c, &ns);
	sim_say(xt_out, "sums %llx %llx %.1f", (unsigned long long)sent,
		(unsigned long long)got, xt_mibs(BULK_TOTAL, ns));
	sim_expect(xt_in, "watch", buf, sizeof buf);
	/* Still open: the -EPIPE below is the kill's doing. */
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
	sim_say(xt_out, "watching");
	expect_peer_death(c);
	vmsg_chan_close(c);

	/* Serve again at the same directory (a persistent server): a new
	 * client gets in, talks, and sees our orderly close after our last
	 * message. */
	int r2 = vmsg_xen_serve(&c, 1, path, &o);
	if (r2 < 0)
		VMSG_TEST_FAIL("vmsg_xen_serve again: %s", vmsg_strerror(r2));
	sim_say(xt_out, "ready again");
	ASSERT_EQ(vmsg_chan_accept(c, SIM_WAIT_MS), 0);
	uint16_t type;
	ASSERT_EQ(vmsg_chan_recv(c, &type, big, MAX_MSG, SIM_WAIT_MS), 5);
	ASSERT_EQ(type, 33);
	ASSERT_MEM_EQ(big, "again", 5);
	ASSERT_EQ(vmsg_chan_send(c, 34, "last", 4, 0, SIM_WAIT_MS), 4);
	vmsg_chan_close(c);
	return 0;
}

/* Keeps domain 1 alive while its processes come and go, as a guest
 * outlives one of its programs: a dying domain would also have xenstore
 * drop the permissions naming it, racing the server's re-publish. */
static int role_anchor(void)
{
	char b;
	while (read(xt_in, &b, 1) > 0 && b != '\n')
		;
	return 0;
}

static int role_client2(const char *path)
{
	vmsg_chan *c;
	uint16_t type;
	int r = vmsg_xen_connect(&c, 0, path, NULL, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_connect again: %s", vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_send(c, 33, "again", 5, 0, SIM_WAIT_MS), 5);
	ASSERT_EQ(vmsg_chan_recv(c, &type, big, MAX_MSG, SIM_WAIT_MS), 4);
	ASSERT_EQ(type, 34);
	ASSERT_MEM_EQ(big, "last", 4);
	ASSERT_EQ(vmsg_chan_recv(c, &type, big, MAX_MSG, SIM_WAIT_MS), -EPIPE);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	vmsg_chan_close(c);
	return 0;
}

static int role_client(const char *path)
{
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	opts(&o);
	int r = vmsg_xen_connect(&c, 0, path, &o, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_connect: %s", vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
	if (!strcmp(path, PATH_B)) {
		ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
		sim_say(xt_out, "connected %d", (int)getpid());
		expect_peer_death(c);
		vmsg_chan_close(c);
		return 0;
	}
	recv_msgs(c, 100);
	send_msgs(c, 200);
	uint64_t ns;
	uint64_t got = recv_bulk(c, &ns);
	uint64_t sent = send_bulk(c, 22);
	sim_say(xt_out, "sums %llx %llx %.1f %d", (unsigned long long)got,
		(unsigned long long)sent, xt_mibs(BULK_TOTAL, ns),
		(int)getpid());
	for (;;)
		pause(); /* until SIGKILL */
}

int main(int argc, char **argv)
{
	char self[4096], buf[256], cbuf[256];

	big = malloc(MAX_MSG);
	ASSERT_TRUE(big != NULL);
	if (argc >= 5) {
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		if (!strcmp(argv[1], "server"))
			return role_server(argv[2]);
		if (!strcmp(argv[1], "client"))
			return role_client(argv[2]);
		if (!strcmp(argv[1], "anchor"))
			return role_anchor();
		if (!strcmp(argv[1], "client2"))
			return role_client2(argv[2]);
		return 2;
	}
	xt_driver_init(self, sizeof self, 600);

	/* Phase 1: data both ways, then the client dies (its domain lives
	 * on), and the server serves again. */
	struct xt_role s, c, anchor;
	xt_spawn(&anchor, 1, self, "anchor", "-", NULL, NULL);
	xt_spawn(&s, 0, self, "server", PATH_A, NULL, NULL);
	sim_expect(s.from, "ready", buf, sizeof buf);
	xt_spawn(&c, 1, self, "client", PATH_A, NULL, NULL);
	unsigned long long s_sent, s_got, c_got, c_sent;
	double s_rate, c_rate;
	int cpid;
	ASSERT_EQ(sscanf(sim_expect(s.from, "sums", buf, sizeof buf),
			 "%llx %llx %lf", &s_sent, &s_got, &s_rate), 3);
	ASSERT_EQ(sscanf(sim_expect(c.from, "sums", cbuf, sizeof cbuf),
			 "%llx %llx %lf %d", &c_got, &c_sent, &c_rate, &cpid),
		  4);
	ASSERT_EQ(s_sent, c_got);
	ASSERT_EQ(c_sent, s_got);
	ASSERT_NE(s_sent, c_sent);
	printf("vmsg<->vmsg typed 1 MiB messages, 64 KiB rings: "
	       "dom0->dom1 %.1f MiB/s, dom1->dom0 %.1f MiB/s\n",
	       c_rate, s_rate);
	sim_say(s.to, "watch");
	sim_expect(s.from, "watching", buf, sizeof buf);
	ASSERT_EQ(kill(cpid, SIGKILL), 0);
	printf("server saw the client's death: %s ms\n",
	       sim_expect(s.from, "peer gone", buf, sizeof buf));
	xt_role_done(&c, 128 + SIGKILL);
	/* The server serves again; a new client comes and goes cleanly. */
	sim_expect(s.from, "ready again", buf, sizeof buf);
	xt_spawn(&c, 1, self, "client2", PATH_A, NULL, NULL);
	xt_role_done(&c, 0);
	xt_role_done(&s, 0);
	sim_say(anchor.to, "bye");
	xt_role_done(&anchor, 0);

	/* Phase 2: the server dies; the client sees it. */
	xt_spawn(&s, 0, self, "server", PATH_B, NULL, NULL);
	int spid = atoi(sim_expect(s.from, "ready", buf, sizeof buf));
	xt_spawn(&c, 1, self, "client", PATH_B, NULL, NULL);
	sim_expect(c.from, "connected", buf, sizeof buf);
	ASSERT_EQ(kill(spid, SIGKILL), 0);
	printf("client saw the server's death: %s ms\n",
	       sim_expect(c.from, "peer gone", buf, sizeof buf));
	xt_role_done(&s, 128 + SIGKILL);
	xt_role_done(&c, 0);
	free(big);
	puts("xen_vmsg_pair: ok");
	return 0;
}
