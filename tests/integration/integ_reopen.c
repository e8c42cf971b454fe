/* integ_reopen: a persistent server. One channel end serves ROUNDS clients
 * in turn at the same address; every third is killed with SIGKILL, the
 * others close in order. After each, the server sees -EPIPE and
 * vmsg_chan_reopen() makes it wait for the next; while a client is
 * connected, reopen refuses with -EBUSY. Reopening right after an orderly
 * close races the old client's unmap notification on Xen (it clears the
 * client's live byte when the client unmaps, after its close): the many
 * rounds give that race its chances, and the next client must still find
 * a channel that is open, not closed by the old client's notification. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

#define T 20000 /* ms: generous, never a speed assertion */
#define ROUNDS 12

struct client_arg {
	const char *path;
	unsigned round;
	bool hang; /* wait to be killed instead of closing */
};

/* Send "round N", expect it echoed, then close or wait to be killed. */
static int client(void *p)
{
	const struct client_arg *a = p;
	char msg[32], buf[32];
	vmsg_chan *c;
	int r;

	int n = snprintf(msg, sizeof msg, "round %u", a->round);
	if ((r = integ_connect(&c, a->path, NULL, T)) < 0)
		VMSG_TEST_FAIL("round %u: connect: %s", a->round,
			       vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, msg, (size_t)n, 0, T), n);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, buf, sizeof buf, T), n);
	ASSERT_MEM_EQ(buf, msg, (size_t)n);
	if (a->hang)
		for (;;)
			pause();
	vmsg_chan_close(c);
	return 0;
}

static void serve_round(vmsg_chan *s, struct client_arg *a)
{
	char buf[32];
	uint16_t type;

	pid_t pid = integ_fork(client, a);
	int r = vmsg_chan_accept(s, T);
	/* A client may come and go before we look; its data is still there. */
	ASSERT_TRUE(r == 0 || r == -EPIPE);
	int n = vmsg_chan_recv(s, &type, buf, sizeof buf, T);
	ASSERT_GT(n, 0);
	ASSERT_EQ(type, INTEG_TYPE);
	ASSERT_EQ(vmsg_chan_send(s, type, buf, (size_t)n, 0, T), n);
	if (a->hang) {
		/* The client lives until we kill it: no reopen meanwhile. */
		ASSERT_EQ(vmsg_chan_state(s), VMSG_CHAN_OPEN);
		ASSERT_EQ(vmsg_chan_reopen(s), -EBUSY);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		ASSERT_EQ(integ_reap(pid), 128 + SIGKILL);
	}
	ASSERT_EQ(vmsg_chan_recv(s, NULL, buf, sizeof buf, T), -EPIPE);
	ASSERT_EQ(vmsg_chan_state(s), VMSG_CHAN_CLOSED);
	if (!a->hang)
		ASSERT_EQ(integ_reap(pid), 0);
	printf("%s: round %u served (%s)\n", integ_backend_name(), a->round,
	       a->hang ? "client killed" : "client closed");
}

int main(int argc, char **argv)
{
	integ_init(&argc, &argv);
	struct integ_tmp tmp;
	vmsg_chan *s;
	int r;

	integ_tmp_make(&tmp);
	int fds = vmsg_test_count_fds();
	if ((r = integ_serve(&s, tmp.path, NULL)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_reopen(s), 0); /* already waiting: no-op */

	for (unsigned round = 1; round <= ROUNDS; round++) {
		struct client_arg a = {tmp.path, round, round % 3 == 2};
		if (round > 1) {
			ASSERT_EQ(vmsg_chan_reopen(s), 0);
			ASSERT_EQ(vmsg_chan_state(s), VMSG_CHAN_WAITING);
		}
		serve_round(s, &a);
	}
	vmsg_chan_close(s);
	ASSERT_EQ(vmsg_test_count_fds(), fds);
	integ_tmp_drop(&tmp);
	printf("%s: one server end took %d clients in turn\n",
	       integ_backend_name(), ROUNDS);
	return 0;
}
