/* vmsgd_bridgelinger: a listen bridge's connection whose open timed out
 * while the provider still had its Serve lingers, counted against the
 * bridge (domain 0's max_channels_per_domain), until the provider
 * answers.
 *
 * dom1 offers `held` by hand (vt_hold.h) and holds every Serve
 * unanswered; a UNIX listen bridge opens `held` for each connection,
 * max_channels_per_domain = 1. Connection A makes vmsgd ask dom1 to
 * serve; at the open's deadline (a listen bridge's connection waits 30 s)
 * vmsgd closes A's socket (its "timed out"), and the channel stays listed
 * `lingering` for consumer 0. Connection B is then refused (its socket
 * closed at once) and dom1 gets no Serve for it. dom1 answers A's Serve
 * (served): it is told Closed and nothing is left listed; connection C is
 * then asked of dom1 again. Before, vmsgd forgot A at its deadline: B was
 * admitted and dom1 held two Serves for a bridge whose limit is one. */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "vt_hold.h"

static char sock_path[100]; /* fits sun_path */

static int bridge_connect(void)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(s, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	ASSERT_EQ(connect(s, (void *)&a, sizeof a), 0);
	return s;
}

/* Wait up to timeout_ms for vmsgd to close socket s (it sends nothing).
 * Meanwhile dom1 (hold), which waits for its next command at most
 * SIM_WAIT_MS, is asked every 5 s how many Serves it holds: `want`. */
static void wait_closed(int s, int timeout_ms, const char *what,
			const struct vt_role *hold, int want)
{
	struct pollfd pf = {.fd = s, .events = POLLIN};
	const uint64_t until = vt_now_ms() + (uint64_t)timeout_ms;
	int r;
	while ((r = poll(&pf, 1, 5000)) == 0 && vt_now_ms() < until) {
		char buf[64];
		sim_say(hold->to, "drain");
		const char *got = sim_expect(hold->from, "serves ", buf,
					     sizeof buf);
		ASSERT_EQ(atoi(got), want);
	}
	if (r != 1)
		VMSG_TEST_FAIL("%s: vmsgd did not close it in %d ms", what,
			       timeout_ms);
	char b[16];
	ssize_t got = read(s, b, sizeof b);
	ASSERT_TRUE(got == 0 || (got < 0 && errno == ECONNRESET));
	close(s);
}

/* The listen bridge's channels (consumer 0) vmsgctl lists as `state`. */
static unsigned bridged(const char *state)
{
	char buf[16384], needle[64];
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	snprintf(needle, sizeof needle, "\"consumer\":0,\"state\":\"%s\"",
		 state);
	unsigned n = 0;
	for (const char *p = buf; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static const struct vt_role_fn roles[] = {
	{"hold", role_hold},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[512], conf[1200];
	int len = snprintf(sock_path, sizeof sock_path, "%s/held.sock",
			   sim_dir);
	ASSERT_TRUE(len > 0 && (size_t)len < sizeof sock_path);
	snprintf(conf, sizeof conf,
		 "[service held]\noffer = 1\nopen = none\nmode = relayed\n"
		 "max_channels_per_domain = 1\n\n"
		 "[bridge held-in]\nservice = held\nlisten = unix:%s\n",
		 sock_path);
	vt_write_conf(conf);
	vt_start_vmsgd();
	struct vt_role hold;
	vt_spawn(&hold, 1, "hold", "held");
	sim_expect(hold.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "held", 1);

	/* A: asked of dom1, which holds the Serve past A's wait. */
	int a = bridge_connect();
	uint64_t t0 = vt_now_ms();
	sim_say(hold.to, "next");
	sim_expect(hold.from, "serve ", buf, sizeof buf);
	ASSERT_EQ(bridged("pending"), 1u);
	wait_closed(a, 2 * SIM_WAIT_MS, "connection A", &hold, 1);
	printf("connection A closed by vmsgd %llu ms after it came (its "
	       "open's wait: 30000 ms)\n",
	       (unsigned long long)(vt_now_ms() - t0));
	fflush(stdout); /* seen even when the test fails */
	unsigned n = bridged("lingering");
	if (n != 1)
		VMSG_TEST_FAIL("A's channel, whose Serve dom1 still holds, is "
			       "not listed lingering (%u of the bridge's are)",
			       n);

	/* B: over the limit while A lingers; dom1 is not asked. */
	int b = bridge_connect();
	wait_closed(b, SIM_WAIT_MS, "connection B", &hold, 1);
	sim_say(hold.to, "drain");
	const char *got = sim_expect(hold.from, "serves ", buf, sizeof buf);
	unsigned serves = (unsigned)atoi(got);
	if (serves != 1)
		VMSG_TEST_FAIL("dom1 holds %u unanswered Serves for the "
			       "bridge, whose max_channels_per_domain is 1",
			       serves);
	printf("connection B refused at once; dom1 holds 1 Serve\n");

	/* dom1 serves A late: told Closed, and A is forgotten. */
	sim_say(hold.to, "answer 0");
	sim_expect(hold.from, "answered", buf, sizeof buf);
	ASSERT_EQ(bridged("lingering"), 0u);
	printf("dom1 served A late and was told Closed; nothing lingers\n");

	/* C: the bridge is charged nothing any more. Refused by dom1, it
	 * is closed. */
	int c = bridge_connect();
	sim_say(hold.to, "next");
	sim_expect(hold.from, "serve ", buf, sizeof buf);
	sim_say(hold.to, "answer 1");
	sim_expect(hold.from, "answered", buf, sizeof buf);
	wait_closed(c, SIM_WAIT_MS, "connection C", &hold, 0);
	printf("connection C was asked of dom1\n");

	sim_say(hold.to, "quit");
	vt_role_done(&hold, 0);
	vt_stop_vmsgd();
	return 0;
}
