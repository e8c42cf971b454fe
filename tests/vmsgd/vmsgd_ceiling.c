/* vmsgd_ceiling: how many brokered channels one guest holds at once
 * through vmsgd on the simulator under xenstored's default quotas, and
 * what a consumer is told when the provider's quota refuses one (issue
 * 15's "before" figures; not a timed test).
 *
 * dom1 ("holder") offers `cd` (direct) and `cr` (relayed), accepts every
 * channel it is served and echoes on all of them. dom2 ("consumer")
 * opens `cd` one channel after another and holds every one, up to
 * CAP_DIRECT, then `cr` up to CAP_RELAYED (fewer when the fd limit would
 * not let the simulator's xensimd, ~10 fds per direct channel and ~20
 * per relayed one, get there), checks the first and last of each still
 * echo, and closes them. An established channel holds nothing in
 * xenstore (the provider's keys are withdrawn once the consumer is in,
 * the consumer's watch dropped), so no quota may refuse any of them:
 * a channel that kept a node would stop the provider near 332 (3 nodes
 * each), one that kept a transaction at 11.
 *
 * Then the holder fills its own domain with xenstore nodes up to the
 * node quota (1000, refused with ENOSPC) and removes two: a publish
 * needs three. Opens of `cdx` and `crx`, the same services with the
 * policy's setup = xenstore (the provider publishes), must now fail with
 * -ENOSPC, the provider's reason in vmsg_ctl_error(), while `cd` and `cr`,
 * set up by message (docs/protocol.md), still open: they need nothing
 * of xenstore. Once the holder removes its nodes, cdx and crx open
 * again. The figures and the words a user sees go to stderr ("ceiling
 * ...", "refused ..."). */
#include "vmsgd_test.h"

#include <sys/resource.h>

#include <xenstore.h>

#define CAP_DIRECT 1000u
#define CAP_RELAYED 300u

static vmsg_chan *held[CAP_DIRECT > CAP_RELAYED ? CAP_DIRECT : CAP_RELAYED];

/* One round trip on c (the holder echoes). */
static void ping(vmsg_chan *c, unsigned i)
{
	char out[32], in[64];
	int n = snprintf(out, sizeof out, "ping %u", i);
	uint16_t t;
	ASSERT_EQ(vmsg_chan_send(c, 0x101, out, (size_t)n, 0, SIM_WAIT_MS), n);
	ASSERT_EQ(vmsg_chan_recv(c, &t, in, sizeof in, SIM_WAIT_MS), n);
	ASSERT_EQ(t, 0x101);
	ASSERT_EQ(memcmp(in, out, (size_t)n), 0);
}

/* Consumer: hold `cap` channels of `svc` at once, report, close them. */
static void fill(vmsg_ctl *ctl, const char *svc, unsigned cap)
{
	time_t t0 = time(NULL);
	for (unsigned n = 0; n < cap; n++) {
		int r = vmsg_service_open(ctl, svc, &held[n], SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("%s: open of channel %u, with %u held: "
				       "%s (%s)",
				       svc, n + 1, n, vmsg_strerror(r),
				       vmsg_ctl_error(ctl));
		if (n % 32 == 31)
			sim_say(vt_out, "at %u", n + 1); /* the driver waits */
	}
	ping(held[0], 0);
	ping(held[cap - 1], cap - 1);
	fprintf(stderr, "ceiling %s: %u channels held at once in %ld s\n",
		svc, cap, (long)(time(NULL) - t0));
	for (unsigned i = 0; i < cap; i++)
		vmsg_service_close(ctl, held[i]);
	sim_say(vt_out, "held %s %u", svc, cap);
}

/* Consumer: an open of `svc` that the provider's node quota refuses. */
static void refused(vmsg_ctl *ctl, const char *svc)
{
	vmsg_chan *c = NULL;
	int r = vmsg_service_open(ctl, svc, &c, SIM_WAIT_MS);
	fprintf(stderr, "refused %s: %d %s: \"%s\"\n", svc, r,
		r < 0 ? vmsg_strerror(r) : "(opened)", vmsg_ctl_error(ctl));
	if (r != -ENOSPC)
		VMSG_TEST_FAIL("open %s with the provider's quota full: %s "
			       "(%s), not ENOSPC",
			       svc, vmsg_strerror(r), vmsg_ctl_error(ctl));
	/* The words must lead a user to the cause: the provider's xenstore
	 * quota, not only tables of grants, ports or pages. */
	ASSERT_TRUE(strstr(vmsg_ctl_error(ctl), "xenstore quota") != NULL);
}

static void open_once(vmsg_ctl *ctl, const char *svc)
{
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, svc, &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open %s: %s (%s)", svc, vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	ping(c, 7);
	vmsg_service_close(ctl, c);
}

static int role_consumer(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	sim_expect(vt_in, "caps", line, sizeof line);
	unsigned cap_d = 0, cap_r = 0;
	ASSERT_EQ(sscanf(line + 4, "%u %u", &cap_d, &cap_r), 2);
	fill(ctl, "cd", cap_d);
	fill(ctl, "cr", cap_r);
	sim_expect(vt_in, "try", line, sizeof line);
	refused(ctl, "cdx");
	refused(ctl, "crx");
	/* Set up by message: the provider's full quota is not in the way. */
	open_once(ctl, "cd");
	open_once(ctl, "cr");
	sim_say(vt_out, "refused");
	sim_expect(vt_in, "again", line, sizeof line);
	open_once(ctl, "cdx");
	open_once(ctl, "crx");
	sim_say(vt_out, "reopened");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Holder: create nodes under `data/fill` (folders of 100: the entry-size
 * quota bounds a folder's list of children) until the node quota
 * refuses one, then remove `room` of them. Returns how many it made. */
static unsigned crowd(struct xs_handle *x, unsigned room)
{
	char p[64];
	unsigned n = 0;
	for (;; n++) {
		snprintf(p, sizeof p, "data/fill/g%u/n%u", n / 100, n % 100);
		if (!xs_write(x, XBT_NULL, p, "", 0))
			break;
	}
	ASSERT_EQ(errno, ENOSPC);
	ASSERT_TRUE(n > room);
	/* The last folder made holds at least one node: remove from it. */
	for (unsigned i = 0; i < room; i++) {
		n--;
		snprintf(p, sizeof p, "data/fill/g%u/n%u", n / 100, n % 100);
		ASSERT_TRUE(xs_rm(x, XBT_NULL, p));
	}
	return n;
}

/* dom1: offer both, accept and echo on every channel; lines from the
 * driver: "crowd", "uncrowd", "quit". */
static int role_holder(void)
{
	static vmsg_chan *ch[CAP_DIRECT + CAP_RELAYED + 8];
	static struct pollfd p[CAP_DIRECT + CAP_RELAYED + 10];
	static unsigned char buf[256];
	char line[64];
	struct xs_handle *x = xs_open(0);
	ASSERT_TRUE(x != NULL);
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "cd", SIM_WAIT_MS), 0);
	ASSERT_EQ(vmsg_service_offer(ctl, "cr", SIM_WAIT_MS), 0);
	ASSERT_EQ(vmsg_service_offer(ctl, "cdx", SIM_WAIT_MS), 0);
	ASSERT_EQ(vmsg_service_offer(ctl, "crx", SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered");
	int n = 0;
	for (;;) {
		if (vt_provider_wait(p, vmsg_ctl_fd(ctl), ch, n, 200)) {
			sim_hear(vt_in, line, sizeof line);
			if (!strcmp(line, "crowd")) {
				unsigned made = crowd(x, 2);
				sim_say(vt_out, "crowded %u", made);
			} else if (!strcmp(line, "uncrowd")) {
				ASSERT_TRUE(xs_rm(x, XBT_NULL, "data/fill"));
				sim_say(vt_out, "uncrowded");
			} else {
				break; /* "quit" */
			}
		}
		vt_echo_pump_n(ctl, ch, &n, (int)(sizeof ch / sizeof ch[0]),
			       NULL, NULL, buf, sizeof buf);
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	xs_close(x);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"consumer", role_consumer},
	{"holder", role_holder},
	{NULL, NULL},
};

/* Driver: the next line of `r` that is not progress ("at N"). */
static const char *next_line(struct vt_role *r, const char *word,
			     char *line, size_t cap)
{
	for (;;) {
		sim_hear(r->from, line, cap);
		if (strncmp(line, "at ", 3) != 0)
			break;
	}
	if (strncmp(line, word, strlen(word)) != 0)
		VMSG_TEST_FAIL("expected '%s', got '%s'", word, line);
	return line;
}

int main(int argc, char **argv)
{
	/* Before the simulator starts: its daemons inherit the limit. */
	struct rlimit rl;
	if (argc < 4 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	vt_main(argc, argv, roles);
	alarm(280);
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	unsigned long fds = rl.rlim_cur == RLIM_INFINITY ? 1u << 20
							  : (unsigned long)rl.rlim_cur;
	unsigned cap_d = CAP_DIRECT, cap_r = CAP_RELAYED;
	if (fds < 600 + 12ul * cap_d)
		cap_d = fds > 840 ? (unsigned)((fds - 600) / 12) : 20;
	if (fds < 600 + 24ul * cap_r)
		cap_r = fds > 840 ? (unsigned)((fds - 600) / 24) : 10;
	char line[128];
	vt_write_conf_daemon(
		"max_pending_opens_per_domain = 4096\n"
		"requests_burst = 1000000\nrequests_per_s = 1000000\n",
		"[service cd]\noffer = 1\nopen = 2\nmode = direct\n"
		"max_channels_per_domain = 4096\nring_size = 4096\n\n"
		"[service cr]\noffer = 1\nopen = 2\nmode = relayed\n"
		"max_channels_per_domain = 4096\nring_size = 4096\n\n"
		"[service cdx]\noffer = 1\nopen = 2\nmode = direct\n"
		"setup = xenstore\nring_size = 4096\n\n"
		"[service crx]\noffer = 1\nopen = 2\nmode = relayed\n"
		"setup = xenstore\nring_size = 4096\n");
	vt_start_vmsgd();
	struct vt_role prov, cons;
	vt_spawn(&prov, 1, "holder", NULL);
	sim_expect(prov.from, "offered", line, sizeof line);
	vt_spawn(&cons, 2, "consumer", NULL);
	fprintf(stderr, "driver: fd limit %lu: holding %u direct, %u relayed\n",
		fds, cap_d, cap_r);
	sim_say(cons.to, "caps %u %u", cap_d, cap_r);
	fprintf(stderr, "driver: %s\n", next_line(&cons, "held cd", line,
						  sizeof line));
	fprintf(stderr, "driver: %s\n", next_line(&cons, "held cr", line,
						  sizeof line));
	sim_say(prov.to, "crowd");
	fprintf(stderr, "driver: holder %s\n",
		sim_expect(prov.from, "crowded", line, sizeof line) - 7);
	sim_say(cons.to, "try");
	sim_expect(cons.from, "refused", line, sizeof line);
	sim_say(prov.to, "uncrowd");
	sim_expect(prov.from, "uncrowded", line, sizeof line);
	sim_say(cons.to, "again");
	sim_expect(cons.from, "reopened", line, sizeof line);
	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
