/* vmsgd_abandon: a consumer that abandons its relayed opens cannot fill
 * the provider's queue. dom1 offers `echo` (relayed; the stock library,
 * which keeps at most 32 channels served and not yet connected to, each
 * for at most 30 s). dom2, by hand, 40 times: connects its control
 * channel, sends Open (a 30 s wait) and closes the channel at once. vmsgd
 * reads the Open first (the close is orderly), asks dom1 to serve, then
 * sees dom2 go: the channel lingers until the ServeResult, which vmsgd
 * must answer by telling dom1 to close what it served (Closed): nobody
 * will connect to it. (dom2's lingering opens count against its
 * max_pending_opens_per_domain, 32: its later Opens are refused; see
 * vmsgd_relaylinger.) Then dom3 opens `echo`
 * through the library and exchanges 20 messages. dom1 may read dom3's
 * Serve in the same pass as dom2's (before vmsgd's Closed messages) and
 * refuse it: an open refused -EBUSY is tried again, every 100 ms, until
 * 20 s after dom2's first Open (one clock, CLOCK_MONOTONIC, for every
 * process here). Abandoned channels were held 30 s from their Serve, so
 * before the fix every try failed.
 *
 * Without the Closed, each of dom2's opens left dom1 holding a channel
 * for dom0 for 30 s that no vmsgd limit counted (dom2 had gone): the
 * 33rd and later Serves were refused ("provider's accept queue is
 * full"), and so was dom3's open, -EBUSY, for any consumer of any of
 * dom1's services, as long as dom2 went on. */
#include <stdlib.h>
#include <time.h>

#include "vt_raw.h"

#define CONF "[service echo]\noffer = 1\nopen = 2,3\nmode = relayed\n"
#define ROUNDS 40 /* more than the provider's queue (32) */
#define RETRY_MS 20000u /* from dom2's first Open: see the top */

static int role_abandon(void)
{
	char line[64];
	const uint64_t t0 = vt_now_ms();
	for (unsigned i = 0; i < ROUNDS; i++) {
		vmsg_chan *c = vt_raw_reconnect(2);
		ASSERT_TRUE(send_open(c, i + 1, "echo", 30000) > 0);
		vmsg_chan_close(c); /* gone before any answer */
	}
	sim_say(vt_out, "done %llu", (unsigned long long)t0);
	sim_expect(vt_in, "quit", line, sizeof line);
	return 0;
}

static int role_consumer(void)
{
	char line[64];
	const uint64_t until = strtoull(vt_arg, NULL, 10) + RETRY_MS;
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	unsigned busy = 0;
	int r;
	while ((r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS)) ==
		       -EBUSY &&
	       vt_now_ms() < until) {
		busy++;
		usleep(100000);
	}
	if (r < 0) {
		sim_say(vt_out, "refused %d %s", r, vmsg_ctl_error(ctl));
		sim_expect(vt_in, "quit", line, sizeof line);
		vmsg_ctl_close(ctl);
		return 0;
	}
	vt_echo_exchange(c, 20, false);
	sim_say(vt_out, "echoed after %u refusals", busy);
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"abandon", role_abandon},
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[512];
	struct vt_role prov, ab, cons;
	vt_start_with_echo(CONF, &prov);

	vt_spawn(&ab, 2, "abandon", NULL);
	char t0[32];
	snprintf(t0, sizeof t0, "%s", sim_expect(ab.from, "done ", buf,
						 sizeof buf));
	printf("dom2 opened and left %u times\n", ROUNDS);

	/* dom3's Serve reaches dom1 after all of dom2's (one control
	 * channel, in order). */
	vt_spawn(&cons, 3, "consumer", t0);
	const char *got = sim_expect(cons.from, "", buf, sizeof buf);
	if (strncmp(got, "echoed", 6) != 0)
		VMSG_TEST_FAIL("dom3's open of echo after dom2's abandoned "
			       "ones: %s", got);
	printf("dom3 opened echo and exchanged 20 messages (%s)\n", got);

	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(ab.to, "quit");
	vt_role_done(&ab, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
