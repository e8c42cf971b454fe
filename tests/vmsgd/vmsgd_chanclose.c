/* vmsgd_chanclose: a channel from vmsg_service_open() closed with
 * vmsg_chan_close() (which vmsg/service.h allows) instead of
 * vmsg_service_close(). The handle keeps each channel it handed out, to
 * pass it vmsgd's Closed{id} when the provider goes; after such a close
 * it kept freed memory, and vmsgd was never told (lib/service/live.c:
 * each handed-out channel now carries a tag its close marks).
 *
 *  A. dom2 opens dom1's `echo` (X1), whose provider holds its channels
 *     and never reads them, closes X1 with vmsg_chan_close, then opens
 *     dom3's `talk` (Y): vmsgd lists X1 lingering (its consumer closed,
 *     its provider not yet), since the handle told it at that open;
 *     before, vmsgd went on counting X1 as open against dom2 until its
 *     control channel went.
 *  B. dom2 opens `echo` again (X2); dom1 dies (its channels unclosed), so
 *     vmsgd sends dom2 Closed{X2}, which waits unread; dom2 closes X2 with
 *     vmsg_chan_close, then calls its handle, which reads that Closed: it
 *     must touch neither X2 (freed: before, a use after free, an ASan
 *     report) nor Y, which still echoes.
 *  C. dom2 closes its handle, then Y: Y echoes until its close, and the
 *     close frees what the handle left on it (ASan's leak check).
 *
 * dom1: "keeper", a provider that accepts and holds; dom3: the echo
 * provider role, offering `talk`.
 */
#include "vmsgd_test.h"

#define CONF                                                                   \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"                 \
	"[service talk]\noffer = 3\nopen = 2\nmode = direct\n"

/* dom1: offer `echo`, accept and hold every channel without reading
 * it; on "die", exit at once, closing nothing. */
static int role_keeper(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vt_offer(ctl, "echo");
	sim_say(vt_out, "offered");
	struct pollfd in = {.fd = vt_in, .events = POLLIN};
	while (poll(&in, 1, 0) == 0) {
		vmsg_chan *c;
		int r = vmsg_service_accept(ctl, &c, NULL, 100);
		if (r < 0 && r != -ETIMEDOUT)
			VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	}
	sim_expect(vt_in, "die", b, sizeof b);
	_exit(0);
}

static int role_cons(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	/* A */
	vmsg_chan *x = vt_open(ctl, "echo");
	vmsg_chan_close(x);
	vmsg_chan *y = vt_open(ctl, "talk");
	vt_echo_exchange(y, 3, false);
	sim_say(vt_out, "A");
	/* B */
	sim_expect(vt_in, "B", b, sizeof b);
	x = vt_open(ctl, "echo");
	sim_say(vt_out, "opened");
	sim_expect(vt_in, "close", b, sizeof b);
	vmsg_chan_close(x);
	vmsg_chan *z;
	int r = vmsg_service_open(ctl, "echo", &z, SIM_WAIT_MS);
	if (r != -ENOENT)
		VMSG_TEST_FAIL("open of echo, its provider gone: %s, not "
			       "-ENOENT", r == 0 ? "a channel" : vmsg_strerror(r));
	vt_echo_exchange(y, 3, false);
	sim_say(vt_out, "B");
	/* C */
	sim_expect(vt_in, "C", b, sizeof b);
	vmsg_ctl_close(ctl);
	vt_echo_exchange(y, 3, false);
	vmsg_chan_close(y);
	sim_say(vt_out, "C");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vt_role_fn roles[] = {
		{"keeper", role_keeper},
		{"cons", role_cons},
		{NULL, NULL},
	};
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role keeper, talk, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&keeper, 1, "keeper", NULL);
	sim_expect(keeper.from, "offered", buf, sizeof buf);
	vt_spawn(&talk, 3, "provider", "talk");
	sim_expect(talk.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "talk", 1);
	vt_spawn(&cons, 2, "cons", NULL);

	sim_expect(cons.from, "A", buf, sizeof buf);
	/* Told at that open: vmsgd has it in ms (10 s allowed). */
	const uint64_t until = vt_now_ms() + 10000;
	int n = vt_listed("lingering");
	while (n < 1 && vt_now_ms() < until) {
		usleep(20000);
		n = vt_listed("lingering");
	}
	printf("A: channels vmsgd lists lingering after X1's vmsg_chan_close "
	       "and the next open: %d\n", n);
	ASSERT_EQ(n, 1);

	sim_say(cons.to, "B");
	sim_expect(cons.from, "opened", buf, sizeof buf);
	sim_say(keeper.to, "die");
	vt_role_done(&keeper, 0);
	vt_ctl_wait("list services", "echo", 0);
	sim_say(cons.to, "close");
	sim_expect(cons.from, "B", buf, sizeof buf);
	printf("B: vmsgd's Closed for X2 read after its vmsg_chan_close; Y "
	       "echoes\n");

	sim_say(cons.to, "C");
	sim_expect(cons.from, "C", buf, sizeof buf);
	vt_role_done(&cons, 0);
	printf("C: Y echoed after its handle's close, and closed\n");
	sim_say(talk.to, "quit");
	vt_role_done(&talk, 0);
	vt_stop_vmsgd();
	return 0;
}
