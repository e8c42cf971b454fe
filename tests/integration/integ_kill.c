/* integ_kill_server / integ_kill_client: kill -9 of one side mid-transfer
 * is reported to the survivor as closed: everything already in the ring is
 * still delivered, then recv and send return -EPIPE and the state is
 * CLOSED, within a second of the kill (asserted; the measured time is
 * printed). The survivor leaks no file descriptor; under the ASan flavour
 * LeakSanitizer checks its memory at exit.
 *
 * Why a second is enough on a loaded 2-core machine: the news needs no
 * timer on either backend (host: the dead process's socket hangs up as
 * its files are closed; xen: the simulator fires @releaseDomain as soon
 * as the domain's process is gone), so the delay is the kill itself plus
 * a few scheduling rounds: well under 5 ms measured, host and simulated
 * Xen, release and ASan. A backend that noticed the death on a timer of
 * a second or more, or only at the next 1 s call timeout, fails.
 *
 *   integ_kill server   the child serves and sends; the parent (client)
 *                       receives, kills the child and keeps receiving
 *   integ_kill client   the child connects and receives; the parent
 *                       (server) sends, kills the child and keeps sending
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

#define MSG_SIZE 1000
#define BEFORE_KILL 2000 /* messages moved before the kill */
#define LIMIT_NS 1000000000ull /* "within a second", from the kill */

static uint8_t payload[MSG_SIZE];

/* Victim as server: send until killed. */
static int victim_server(void *arg)
{
	vmsg_chan *c;
	int r;

	if ((r = integ_serve(&c, arg, NULL)) < 0 ||
	    (r = vmsg_chan_accept(c, 20000)) < 0)
		VMSG_TEST_FAIL("victim serve/accept: %s", vmsg_strerror(r));
	for (;;)
		if ((r = vmsg_chan_send(c, INTEG_TYPE, payload, MSG_SIZE, 0,
					-1)) < 0)
			VMSG_TEST_FAIL("victim send: %s", vmsg_strerror(r));
}

/* Victim as client: receive until killed. */
static int victim_client(void *arg)
{
	uint8_t b[MSG_SIZE];
	vmsg_chan *c;
	int r;

	if ((r = integ_connect(&c, arg, NULL, 20000)) < 0)
		VMSG_TEST_FAIL("victim connect: %s", vmsg_strerror(r));
	for (;;)
		if ((r = vmsg_chan_recv(c, NULL, b, sizeof(b), -1)) < 0)
			VMSG_TEST_FAIL("victim recv: %s", vmsg_strerror(r));
}

/* The survivor's operation until it reports the close. */
static int step(vmsg_chan *c, bool sending, int timeout_ms)
{
	uint8_t b[MSG_SIZE];

	if (sending)
		return vmsg_chan_send(c, INTEG_TYPE, payload, MSG_SIZE, 0,
				      timeout_ms);
	return vmsg_chan_recv(c, NULL, b, sizeof(b), timeout_ms);
}

int main(int argc, char **argv)
{
	bool kill_server;
	struct integ_tmp tmp;
	uint64_t t0, ns;
	int fds_before, r, n;
	vmsg_chan *c;
	pid_t pid;

	integ_init(&argc, &argv);
	kill_server = argc == 2 && !strcmp(argv[1], "server");
	if (argc != 2 || (!kill_server && strcmp(argv[1], "client")))
		VMSG_TEST_FAIL("usage: %s server|client", argv[0]);
	memset(payload, 0x5a, sizeof(payload));
	integ_tmp_make(&tmp);
	pid = integ_fork(kill_server ? victim_server : victim_client, tmp.path);

	fds_before = vmsg_test_count_fds();
	if (kill_server) {
		r = integ_connect(&c, tmp.path, NULL, 20000);
	} else if ((r = integ_serve(&c, tmp.path, NULL)) >= 0) {
		r = vmsg_chan_accept(c, 20000);
	}
	if (r < 0)
		VMSG_TEST_FAIL("survivor setup: %s", vmsg_strerror(r));

	/* Mid-transfer: the victim is busy in send (ring full) or recv. */
	for (n = 0; n < BEFORE_KILL; n++) {
		r = step(c, !kill_server, 10000);
		if (r != MSG_SIZE)
			VMSG_TEST_FAIL("transfer %d: %s", n, vmsg_strerror(r));
	}
	t0 = integ_now_ns(); /* from the kill: its own time counts */
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	for (n = 0; (r = step(c, !kill_server, 100)) != -EPIPE; n++) {
		/* draining what was in flight, or waiting for the news */
		if (r != MSG_SIZE && r != -ETIMEDOUT)
			VMSG_TEST_FAIL("after kill: %s", vmsg_strerror(r));
		ASSERT_LT(integ_now_ns() - t0, LIMIT_NS);
	}
	ns = integ_now_ns() - t0;
	printf("kill -9 of the %s seen by the survivor after %.3f ms "
	       "(%d more messages moved)\n", argv[1], (double)ns / 1e6, n);
	ASSERT_LT(ns, LIMIT_NS);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	ASSERT_EQ(step(c, true, 1000), -EPIPE);
	ASSERT_EQ(step(c, false, 1000), -EPIPE);
	vmsg_chan_close(c);

	ASSERT_EQ(vmsg_test_count_fds(), fds_before);
	/* a server withdraws its socket or xenstore keys at the latest at
	 * close */
	if (!kill_server)
		ASSERT_TRUE(integ_server_gone(tmp.path));
	ASSERT_EQ(integ_reap(pid), 128 + SIGKILL);
	integ_tmp_drop(&tmp);
	return 0;
}
