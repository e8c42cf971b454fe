/* integ_nonblock_fd: an event-loop receiver gets everything a blocking
 * sender sends. The receiver never blocks in vmsg: it polls
 * vmsg_chan_fd(), calls vmsg_chan_ack(), then non-blocking calls
 * (timeout 0) until -EAGAIN. It also accepts its client that way. Before
 * the transfer: on the idle channel recv with timeout 0 gives -EAGAIN and
 * with timeout 100 ms gives -ETIMEDOUT after at least 100 ms. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

#define COUNT 100000u
#define BIG 60000u /* larger than a frame of the default 64 KiB ring */
#define POLL_LIMIT_MS 20000

struct child {
	const char *path;
	int go_rd;
};

static size_t msg_len(unsigned i)
{
	return i % 50 == 0 ? BIG - i % 1000 : 1 + (i * 7919u) % 512;
}

static void msg_fill(unsigned i, uint8_t *b, size_t n)
{
	uint64_t seed = i + 1;
	integ_fill_random(&seed, b, n);
}

static int sender(void *arg)
{
	const struct child *ch = arg;
	uint8_t *b = malloc(BIG), go;
	vmsg_chan *c;
	int r;

	ASSERT_TRUE(b != NULL);
	if ((r = integ_connect(&c, ch->path, NULL, 20000)) < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	integ_read_full(ch->go_rd, &go, 1); /* the receiver's idle checks */
	for (unsigned i = 0; i < COUNT; i++) {
		msg_fill(i, b, msg_len(i));
		r = vmsg_chan_send(c, INTEG_TYPE, b, msg_len(i), 0, 30000);
		if (r != (int)msg_len(i))
			VMSG_TEST_FAIL("send %u: %s", i, vmsg_strerror(r));
	}
	vmsg_chan_close(c);
	free(b);
	return 0;
}

/* Block in poll() until the channel's fd is readable, then ack it. */
static void wait_fd(vmsg_chan *c, int fd, unsigned *polls)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, POLL_LIMIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		VMSG_TEST_FAIL("no event on the channel fd for %d ms",
			       POLL_LIMIT_MS);
	ASSERT_EQ(r, 1);
	ASSERT_GE(vmsg_chan_ack(c), 0);
	(*polls)++;
}

int main(int argc, char **argv)
{
	uint8_t *b = malloc(BIG), *want = malloc(BIG);
	unsigned got = 0, polls = 0, empty = 0;
	struct integ_tmp tmp;
	struct child ch;
	uint64_t t0, ns;
	int go[2], fd, r;
	vmsg_chan *c;
	pid_t pid;

	integ_init(&argc, &argv);

	ASSERT_TRUE(b && want);
	integ_tmp_make(&tmp);
	ASSERT_EQ(pipe(go), 0);
	ch = (struct child){ .path = tmp.path, .go_rd = go[0] };
	pid = integ_fork(sender, &ch);
	close(go[0]);

	if ((r = integ_serve(&c, tmp.path, NULL)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	fd = vmsg_chan_fd(c);
	ASSERT_GE(fd, 0);
	while ((r = vmsg_chan_accept(c, 0)) == -EAGAIN)
		wait_fd(c, fd, &polls);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);

	/* The idle channel: nothing is sent until we write the go byte. */
	ASSERT_EQ(vmsg_chan_recv(c, NULL, b, BIG, 0), -EAGAIN);
	t0 = integ_now_ns();
	r = vmsg_chan_recv(c, NULL, b, BIG, 100);
	ns = integ_now_ns() - t0;
	printf("idle recv with a 100 ms timeout: %s after %.1f ms\n",
	       vmsg_strerror(r), (double)ns / 1e6);
	ASSERT_EQ(r, -ETIMEDOUT);
	ASSERT_GE(ns, 100000000u);
	integ_write_full(go[1], "g", 1);

	t0 = integ_now_ns();
	for (;;) {
		unsigned before = got;
		uint16_t type;

		while ((r = vmsg_chan_recv(c, &type, b, BIG, 0)) >= 0) {
			ASSERT_LT(got, COUNT);
			ASSERT_EQ(type, INTEG_TYPE);
			ASSERT_EQ(r, msg_len(got));
			msg_fill(got, want, (size_t)r);
			ASSERT_MEM_EQ(b, want, (size_t)r);
			got++;
		}
		if (r == -EPIPE)
			break;
		if (r != -EAGAIN)
			VMSG_TEST_FAIL("recv after %u: %s", got,
				       vmsg_strerror(r));
		empty += got == before;
		wait_fd(c, fd, &polls);
	}
	ns = integ_now_ns() - t0;
	printf("event loop: %u messages in %.2f s, %u polls (%u found no "
	       "whole message)\n", got, (double)ns / 1e9, polls, empty);
	ASSERT_EQ(got, COUNT);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	vmsg_chan_close(c);
	close(go[1]);
	ASSERT_EQ(integ_reap(pid), 0);
	integ_tmp_drop(&tmp);
	free(b);
	free(want);
	return 0;
}
