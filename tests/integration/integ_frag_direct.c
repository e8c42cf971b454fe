/* integ_frag_direct: vmsg_chan_recv() reassembles a fragmented message
 * straight into the caller's buffer, and a call that must return before
 * the last fragment (timeout 0 here) hands what it took to the channel,
 * so that the next call delivers the whole message intact.
 *
 * Deterministic: the server's tx ring is 4 KiB, so a 6000-byte message is
 * three fragments and cannot be in the ring at once. The client's first
 * send has timeout 0: it puts the fragments that fit and returns -EAGAIN.
 * The server's recv with timeout 0 takes them and returns -EAGAIN (the
 * rest is not sent yet). Only then does the client finish the send; the
 * server's next recv returns the message. Then, as a control, two more
 * fragmented messages: one into a buffer that fits (whole), one into a
 * buffer too small (-EMSGSIZE, stays queued, then received whole). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

#define MSG 6000u
#define RING 4096u

struct child {
	const char *path;
	int to_srv, from_srv; /* pipes: step signals */
};

static void fill(unsigned seed, uint8_t *b, size_t n)
{
	uint64_t s = seed;
	integ_fill_random(&s, b, n);
}

static int client(void *arg)
{
	const struct child *ch = arg;
	uint8_t b[MSG], step;
	vmsg_chan *c;
	int r;

	if ((r = integ_connect(&c, ch->path, NULL, 20000)) < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	ASSERT_LT(vmsg_chan_max_frame(c), (int)MSG); /* it must fragment */
	fill(1, b, MSG);
	/* The ring takes two fragments of three: the send stops there. */
	r = vmsg_chan_send(c, INTEG_TYPE, b, MSG, 0, 0);
	ASSERT_EQ(r, -EAGAIN);
	integ_write_full(ch->to_srv, "1", 1);
	integ_read_full(ch->from_srv, &step, 1); /* the server saw -EAGAIN */
	/* The same arguments finish the interrupted message. */
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE, b, MSG, 0, 20000), (int)MSG);
	fill(2, b, MSG);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE + 1, b, MSG, 0, 20000),
		  (int)MSG);
	fill(3, b, MSG);
	ASSERT_EQ(vmsg_chan_send(c, INTEG_TYPE + 2, b, MSG, 0, 20000),
		  (int)MSG);
	integ_read_full(ch->from_srv, &step, 1); /* all received */
	vmsg_chan_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t got[MSG + 100], want[MSG], step;
	struct vmsg_chan_opts o;
	struct integ_tmp tmp;
	int a[2], b[2], r;
	uint16_t type = 0;
	vmsg_chan *c;
	pid_t pid;

	integ_init(&argc, &argv);
	integ_tmp_make(&tmp);
	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(pipe(b), 0);
	struct child ch = {.path = tmp.path, .to_srv = a[1], .from_srv = b[0]};
	pid = integ_fork(client, &ch);
	close(a[1]);
	close(b[0]);

	vmsg_chan_opts_init(&o);
	o.rx_ring_size = RING; /* client -> server */
	if ((r = integ_serve(&c, tmp.path, &o)) < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_accept(c, 20000), 0);

	/* Part of the message, then nothing more for now. */
	integ_read_full(a[0], &step, 1);
	ASSERT_EQ(vmsg_chan_recv(c, &type, got, sizeof got, 0), -EAGAIN);
	integ_write_full(b[1], "2", 1);

	/* The rest arrives: the whole message, as sent. */
	memset(got, 0, sizeof got);
	ASSERT_EQ(vmsg_chan_recv(c, &type, got, sizeof got, 20000), (int)MSG);
	ASSERT_EQ(type, INTEG_TYPE);
	fill(1, want, MSG);
	ASSERT_MEM_EQ(got, want, MSG);

	/* A fragmented message into a buffer of exactly its size. */
	ASSERT_EQ(vmsg_chan_recv(c, &type, got, MSG, 20000), (int)MSG);
	ASSERT_EQ(type, INTEG_TYPE + 1);
	fill(2, want, MSG);
	ASSERT_MEM_EQ(got, want, MSG);

	/* Too small a buffer: reported, kept, then received whole. */
	ASSERT_EQ(vmsg_chan_recv(c, &type, got, MSG - 1, 20000), -EMSGSIZE);
	ASSERT_EQ(vmsg_chan_recv(c, &type, got, sizeof got, 20000), (int)MSG);
	ASSERT_EQ(type, INTEG_TYPE + 2);
	fill(3, want, MSG);
	ASSERT_MEM_EQ(got, want, MSG);

	struct vmsg_chan_stats st;
	ASSERT_EQ(vmsg_chan_stats(c, &st), 0);
	ASSERT_EQ(st.rx_msgs, 3u);
	ASSERT_EQ(st.rx_bytes, 3u * MSG);

	integ_write_full(b[1], "3", 1);
	ASSERT_EQ(integ_reap(pid), 0);
	vmsg_chan_close(c);
	close(a[0]);
	close(b[1]);
	integ_tmp_drop(&tmp);
	return 0;
}
