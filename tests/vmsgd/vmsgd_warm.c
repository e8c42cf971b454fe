/* vmsgd_warm: a provider's library serves a channel ahead, for the
 * consumer domain of the last Serve (docs/protocol.md, "The warm
 * channel"), so that vmsgd's next Serve for that domain is answered
 * without a call into the hypervisor.
 *
 * Shown by freezing the simulated hypervisor (SIGSTOP of xensimd): an
 * Open, vmsgd's Serve, the provider's answer and the Opened are messages
 * on control channels already set up, which need no call into it (a kick
 * is a write to the peer's slot), where serving a channel takes three (two
 * grants and a port). With the warm channel the Opened comes while it is
 * frozen; without, the provider's serve waits for it and the Opened does
 * not come until it runs again.
 *
 * dom1: a provider, a poller of vmsg_ctl_fd() as event-loop programs are;
 * it sends "hello ID" on each channel it accepts and closes it, and when
 * the driver says "idle" makes the one accept that finds nothing (the
 * library warms there) and says so.
 * dom2, dom3: consumers speaking the control protocol by hand (a library
 * consumer's own wait could ask the frozen hypervisor about its peer):
 * each "open" is an Open polled for its Opened, then, when the driver
 * says "connect" (the hypervisor running), a connect with its grant and
 * port and a read of "hello ID".
 *
 *  1. dom2 opens (served on demand), then the provider idles.
 *  2. Frozen, dom2 opens: its Opened comes (in ms; 10 s allowed);
 *     unfrozen, it connects and reads.
 *  3. dom3 opens (the warm channel is dom2's: it does not fit, and is
 *     closed unused); the provider idles.
 *  4. Frozen, dom3 opens: no Opened in 1 s (after a miss the library
 *     warms only once a Serve is like the one before it: a provider
 *     whose consumers take turns would serve each channel twice);
 *     unfrozen, it comes. That open repeats the one before.
 *  5. Frozen, dom3 opens: its Opened comes.
 */
#include "vt_raw.h"

#include <signal.h>

#define CONF "[service echo]\noffer = 1\nopen = 2,3\nmode = direct\n"

/* An Opened that waits for a serve on a frozen hypervisor never comes
 * while it is frozen; one answered from the warm channel comes in ms. */
#define FROZEN_MS 10000

static int role_prov(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vt_offer(ctl, "echo");
	sim_say(vt_out, "offered");
	int r;
	struct pollfd p[2] = {{.fd = vt_in, .events = POLLIN},
			      {.fd = vmsg_ctl_fd(ctl), .events = POLLIN}};
	ASSERT_GE(p[1].fd, 0);
	for (;;) {
		ASSERT_GE(poll(p, 2, -1), 0);
		if (p[0].revents) {
			sim_hear(vt_in, b, sizeof b);
			if (strcmp(b, "quit") == 0)
				break;
			ASSERT_EQ(strcmp(b, "idle"), 0);
		}
		vmsg_chan *c;
		struct vmsg_service_peer peer;
		while ((r = vmsg_service_accept(ctl, &c, &peer, 0)) == 0) {
			int n = snprintf(b, sizeof b, "hello %u",
					 peer.channel_id);
			ASSERT_EQ(vmsg_chan_send(c, 1, b, (size_t)n + 1, 0, 0),
				  n + 1);
			vmsg_service_close(ctl, c);
		}
		if (r != -EAGAIN)
			VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
		if (p[0].revents)
			sim_say(vt_out, "idle");
	}
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_raw(void)
{
	char b[64];
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_chan *ctl = vt_raw_connect_ex((unsigned)atoi(vt_arg),
					   VMSG_FEATURE_SVC_SETUP_MSG |
						   VMSG_FEATURE_SVC_ADMIT);
	for (uint32_t req = 1;; req++) {
		sim_hear(vt_in, b, sizeof b);
		if (strcmp(b, "quit") == 0)
			break;
		ASSERT_EQ(strcmp(b, "open"), 0);
		vmsg_arena_init(&a, abuf, sizeof abuf);
		const uint64_t t0 = vt_now_ms();
		/* Polled: a blocking wait on our control channel could wait
		 * for the stopped hypervisor. */
		ASSERT_GE(send_open(ctl, req, "echo", 0), 0);
		Vmsg__Service__Opened *o = vt_raw_opened(ctl, req, &a,
							 FROZEN_MS);
		if (!o) {
			sim_say(vt_out, "no opened");
			continue;
		}
		sim_say(vt_out, "opened %u in %llu ms", o->channel_id,
			(unsigned long long)(vt_now_ms() - t0));
		sim_expect(vt_in, "connect", b, sizeof b);
		vmsg_chan_close(vt_raw_take_hello(o));
		sim_say(vt_out, "got hello %u", o->channel_id);
	}
	vmsg_chan_close(ctl);
	return 0;
}

static pid_t hypervisor(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/xensimd.pid", sim_dir);
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	int pid = 0;
	ASSERT_EQ(fscanf(f, "%d", &pid), 1);
	fclose(f);
	ASSERT_GT(pid, 1);
	return (pid_t)pid;
}

/* A failure with the hypervisor stopped would leave the teardown
 * waiting for it (`xensim stop`): it runs again first. */
static pid_t stopped_hv;
static void (*teardown)(void);

static void run_again_then_teardown(void)
{
	if (stopped_hv > 0)
		(void)kill(stopped_hv, SIGCONT);
	if (teardown)
		teardown();
}

static void stop_hv(pid_t hv, bool stop)
{
	ASSERT_EQ(kill(hv, stop ? SIGSTOP : SIGCONT), 0);
	stopped_hv = stop ? hv : 0;
}

/* How an open by a consumer goes: with the hypervisor running; stopped
 * until its Opened came (answered from the warm channel); stopped for
 * COLD_MS, in which no Opened may come (there is no warm channel for it:
 * it waits for the provider's serve), then running again. */
enum how { RUNNING, WARM, COLD };
#define COLD_MS 1000

static void open_once(struct vt_role *r, struct vt_role *prov, enum how how,
		      const char *what)
{
	char buf[256];
	const pid_t hv = hypervisor();
	if (how != RUNNING)
		stop_hv(hv, true);
	sim_say(r->to, "open");
	if (how == COLD) {
		struct pollfd p = {.fd = r->from, .events = POLLIN};
		ASSERT_GE(poll(&p, 1, COLD_MS), 0);
		if (p.revents) {
			sim_hear(r->from, buf, sizeof buf);
			VMSG_TEST_FAIL("%s: %s with the hypervisor stopped: "
				       "a warm channel after a miss", what,
				       buf);
		}
		stop_hv(hv, false);
	}
	sim_hear(r->from, buf, sizeof buf);
	if (how == WARM)
		stop_hv(hv, false);
	if (strncmp(buf, "opened ", 7) != 0)
		VMSG_TEST_FAIL("%s: %s in %d ms with the hypervisor stopped "
			       "(no warm channel used)", what, buf,
			       FROZEN_MS);
	printf("%s: %s\n", what, buf);
	unsigned id;
	char listed[32];
	ASSERT_EQ(sscanf(buf, "opened %u", &id), 1);
	snprintf(listed, sizeof listed, "\"id\":%u,", id);
	sim_say(r->to, "connect");
	sim_expect(r->from, "got", buf, sizeof buf);
	/* The provider's accept that finds nothing: it warms there. */
	sim_say(prov->to, "idle");
	sim_expect(prov->from, "idle", buf, sizeof buf);
	/* The provider has told vmsgd that it closed the channel: once vmsgd
	 * lists it no more, it has done what that Closed asks (a kick among
	 * it, which on the simulator can be a call into the hypervisor, the
	 * first on a port): the next step may stop the hypervisor. */
	vt_ctl_wait("--json list channels", listed, 0);
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
	struct vt_role prov, d2, d3;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	teardown = vmsg_test_on_fail;
	vmsg_test_on_fail = run_again_then_teardown;
	vt_spawn(&prov, 1, "prov", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "echo", 1);
	vt_spawn(&d2, 2, "raw", "2");
	vt_spawn(&d3, 3, "raw", "3");

	open_once(&d2, &prov, RUNNING, "dom2, on demand");
	open_once(&d2, &prov, WARM, "dom2, hypervisor stopped");
	open_once(&d3, &prov, RUNNING, "dom3, on demand (dom2's warm channel "
				       "does not fit)");
	open_once(&d3, &prov, COLD, "dom3, hypervisor stopped for 1 s, then "
				    "running (after the miss, no warm channel "
				    "until an open repeats the one before)");
	open_once(&d3, &prov, WARM, "dom3, hypervisor stopped");

	sim_say(d2.to, "quit");
	sim_say(d3.to, "quit");
	vt_role_done(&d2, 0);
	vt_role_done(&d3, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
