/* integ_wait_styles: one channel end may wait in every way the API offers,
 * in any order, and each way still sees every message and never blocks
 * where it must not.
 *
 * A ping-pong of ROUNDS messages each way; each end receives round i in
 * style (i + side) % 4, so every pair of styles meets:
 *   0 recv with no deadline (on Xen, a domU end sleeps in the read of its
 *     event, the event device made blocking for it: docs/protocol.md,
 *     "Events"), then a non-blocking ack and recv, which must return at
 *     once (the device must be non-blocking again) with nothing;
 *   1 recv with a deadline (poll, then a non-blocking read);
 *   2 an event loop: poll vmsg_chan_fd(), ack, non-blocking recv;
 *   3 a non-blocking recv, then (nothing there) poll the fd but do not
 *     ack, then recv with no deadline: the message is there, and its
 *     event stays queued for a later wait to consume.
 * After each receive nothing is in flight towards the receiver (its peer
 * waits for the reply), which is what style 0's check relies on. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "integ.h"

#define ROUNDS 4000u
#define CALL_MS 20000
/* Style 0's ack and recv are non-blocking: anything near this means a
 * read that slept (the alarm of the harness would catch a hang, later). */
#define NONBLOCK_LIMIT_NS 5000000000ull

struct end {
	vmsg_chan *c;
	int side; /* 0 server (sends first), 1 client */
	unsigned styles[4];
};

static void wait_fd(struct end *e)
{
	struct pollfd p = {.fd = vmsg_chan_fd(e->c), .events = POLLIN};
	int r;

	ASSERT_GE(p.fd, 0);
	do
		r = poll(&p, 1, CALL_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		VMSG_TEST_FAIL("side %d: no event on the fd for %d ms",
			       e->side, CALL_MS);
	ASSERT_EQ(r, 1);
}

static void expect(const struct end *e, int r, uint16_t type, unsigned got,
		   unsigned want)
{
	if (r != (int)sizeof got)
		VMSG_TEST_FAIL("side %d, round %u: recv: %s", e->side, want,
			       r < 0 ? vmsg_strerror(r) : "short message");
	ASSERT_EQ(type, INTEG_TYPE);
	ASSERT_EQ(got, want);
}

static void receive(struct end *e, unsigned i)
{
	unsigned style = (i + (unsigned)e->side) % 4, got = 0;
	uint16_t type = 0;
	uint64_t t0;
	int r;

	e->styles[style]++;
	switch (style) {
	case 0:
		r = vmsg_chan_recv(e->c, &type, &got, sizeof got, -1);
		expect(e, r, type, got, i);
		t0 = integ_now_ns();
		ASSERT_GE(vmsg_chan_ack(e->c), 0);
		ASSERT_EQ(vmsg_chan_recv(e->c, &type, &got, sizeof got, 0),
			  -EAGAIN);
		if (integ_now_ns() - t0 > NONBLOCK_LIMIT_NS)
			VMSG_TEST_FAIL("side %d, round %u: a non-blocking ack "
				       "and recv took %.1f s",
				       e->side, i,
				       (double)(integ_now_ns() - t0) / 1e9);
		return;
	case 1:
		r = vmsg_chan_recv(e->c, &type, &got, sizeof got, CALL_MS);
		expect(e, r, type, got, i);
		return;
	case 2:
		while ((r = vmsg_chan_recv(e->c, &type, &got, sizeof got, 0)) ==
		       -EAGAIN) {
			wait_fd(e);
			ASSERT_GE(vmsg_chan_ack(e->c), 0);
		}
		expect(e, r, type, got, i);
		return;
	default:
		/* The non-blocking recv asks for the kick the fd waits for. */
		if ((r = vmsg_chan_recv(e->c, &type, &got, sizeof got, 0)) ==
		    -EAGAIN) {
			wait_fd(e);
			r = vmsg_chan_recv(e->c, &type, &got, sizeof got, -1);
		}
		expect(e, r, type, got, i);
		return;
	}
}

static void play(struct end *e)
{
	for (unsigned i = 0; i < ROUNDS; i++) {
		if (e->side == 1)
			receive(e, i);
		int r = vmsg_chan_send(e->c, INTEG_TYPE, &i, sizeof i, 0,
				       CALL_MS);
		if (r != (int)sizeof i)
			VMSG_TEST_FAIL("side %d, round %u: send: %s", e->side,
				       i, vmsg_strerror(r));
		if (e->side == 0)
			receive(e, i);
	}
	printf("side %d (%s): %u rounds; received in styles 0-3: %u %u %u "
	       "%u\n",
	       e->side, integ_backend_name(), ROUNDS, e->styles[0],
	       e->styles[1], e->styles[2], e->styles[3]);
	for (unsigned s = 0; s < 4; s++)
		ASSERT_EQ(e->styles[s], ROUNDS / 4);
}

static int client(void *arg)
{
	struct end e = {.side = 1};
	int r;

	if ((r = integ_connect(&e.c, arg, NULL, CALL_MS)) < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	play(&e);
	vmsg_chan_close(e.c);
	return 0;
}

int main(int argc, char **argv)
{
	struct integ_tmp tmp;
	struct end e = {.side = 0};
	int r;

	integ_init(&argc, &argv);
	integ_tmp_make(&tmp);
	pid_t pid = integ_fork(client, tmp.path);
	if ((r = integ_serve(&e.c, tmp.path, NULL)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	if ((r = vmsg_chan_accept(e.c, CALL_MS)) < 0)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	play(&e);
	ASSERT_EQ(integ_reap(pid), 0);
	vmsg_chan_close(e.c);
	integ_tmp_drop(&tmp);
	return 0;
}
