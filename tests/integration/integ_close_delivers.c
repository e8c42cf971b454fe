/* integ_close_delivers: a sender that sends K messages and closes at once
 * loses none of them: the receiver gets all K, in order, then -EPIPE.
 *
 * Round 1: K messages that fit the ring; the receiver reads nothing until
 * the sender process has closed and exited, so all K wait in the ring
 * after the close. The last few are sent with VMSG_SEND_MORE and never
 * flushed: close must publish them too.
 * Round 2: many more messages than the ring holds, some fragmented, read
 * while the sender is still sending, and the close right after the last.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integ.h"

#define CALL_TIMEOUT_MS 30000
#define BIG (200u * 1024u) /* larger than a frame of the 64 KiB ring */

struct round {
	const char *path;
	unsigned k;
	bool big; /* round 2: some messages fragment */
};

static size_t msg_len(const struct round *rd, unsigned i)
{
	if (rd->big && i % 97 == 0)
		return BIG - i % 1000;
	return 8 + i % 120;
}

static void msg_fill(unsigned i, uint8_t *b, size_t n)
{
	memcpy(b, &i, sizeof(i));
	for (size_t j = sizeof(i); j < n; j++)
		b[j] = (uint8_t)(i + j * 7u);
}

static int sender(void *arg)
{
	const struct round *rd = arg;
	uint8_t *b = malloc(BIG);
	vmsg_chan *c;
	int r;

	ASSERT_TRUE(b != NULL);
	if ((r = integ_connect(&c, rd->path, NULL, 20000)) < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	for (unsigned i = 0; i < rd->k; i++) {
		size_t n = msg_len(rd, i);
		unsigned fl = !rd->big && i + 5 >= rd->k ? VMSG_SEND_MORE : 0;

		msg_fill(i, b, n);
		r = vmsg_chan_send(c, INTEG_TYPE, b, n, fl, CALL_TIMEOUT_MS);
		if (r != (int)n)
			VMSG_TEST_FAIL("send %u: %s", i, vmsg_strerror(r));
	}
	vmsg_chan_close(c); /* at once, with messages still in the ring */
	free(b);
	return 0;
}

static void run_round(struct round *rd)
{
	uint8_t *b = malloc(BIG), *want = malloc(BIG);
	struct integ_tmp tmp;
	unsigned got = 0;
	vmsg_chan *c;
	pid_t pid;
	int r;

	ASSERT_TRUE(b && want);
	integ_tmp_make(&tmp);
	rd->path = tmp.path;
	pid = integ_fork(sender, rd);
	if ((r = integ_serve(&c, tmp.path, NULL)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	/* The client may have come, sent and gone before we look: accept
	 * then says -EPIPE, and what it sent must still be readable. */
	r = vmsg_chan_accept(c, 20000);
	if (r < 0 && r != -EPIPE)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
	if (!rd->big) /* everything is sent and closed before we look */
		ASSERT_EQ(integ_reap(pid), 0);

	while ((r = vmsg_chan_recv(c, NULL, b, BIG, CALL_TIMEOUT_MS)) >= 0) {
		ASSERT_LT(got, rd->k);
		ASSERT_EQ(r, msg_len(rd, got));
		msg_fill(got, want, (size_t)r);
		ASSERT_MEM_EQ(b, want, (size_t)r);
		got++;
	}
	if (r != -EPIPE)
		VMSG_TEST_FAIL("recv after %u messages: %s", got,
			       vmsg_strerror(r));
	printf("round %s: %u of %u messages, then -EPIPE\n",
	       rd->big ? "2 (streaming)" : "1 (all queued at close)", got,
	       rd->k);
	ASSERT_EQ(got, rd->k);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, BIG, 0), -EPIPE);
	vmsg_chan_close(c);
	if (rd->big)
		ASSERT_EQ(integ_reap(pid), 0);
	integ_tmp_drop(&tmp);
	free(b);
	free(want);
}

int main(int argc, char **argv)
{
	/* 400 frames of at most 136 ring bytes: < 56 KiB of a 64 KiB ring */
	struct round r1 = { .k = 400 }, r2 = { .k = 20000, .big = true };

	integ_init(&argc, &argv);

	run_round(&r1);
	run_round(&r2);
	return 0;
}
