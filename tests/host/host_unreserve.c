/* host_unreserve: vmsg_chan_unreserve() drops the reserved message and
 * nothing else.
 *
 * The client (a child) sends, in order:
 *  - A with VMSG_SEND_MORE (pending), then reserves a message it fills
 *    with 0xee and unreserves it: A stays pending, the dropped bytes leave
 *    tx_bytes, a second unreserve and a commit find nothing reserved
 *    (-EINVAL); then B, which publishes A and B;
 *  - 1000 reserves of the largest frame, each unreserved, none waiting
 *    (timeout 0): each would find the ring full if an unreserve kept the
 *    room (the server has read A and B by then: it says so with a byte);
 *  - FILL messages with VMSG_SEND_MORE until the ring holds no more, then
 *    a reserve that must wait: it publishes them, the server reads them,
 *    the reservation is made and unreserved. An unreserve that rolled
 *    back to before that wait would make the FILL frames pending again,
 *    and the next publish would show them twice;
 *  - END, and closes.
 * The server reads exactly A, B, every FILL once, END, then -EPIPE: no
 * 0xee message, nothing twice. */
#include "host_test_util.h"

#include <string.h>

#include <vmsg/chan.h>

#define T 20000 /* generous ms for every blocking call */
#define FILL_LEN 1000u

enum { TYPE_A = 10, TYPE_B, TYPE_DROPPED, TYPE_FILL, TYPE_END, TYPE_GO };

static unsigned char buf[FILL_LEN];

static int client(const char *path)
{
	vmsg_chan *c;
	struct vmsg_chan_stats st;
	void *p;
	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);

	ASSERT_EQ(vmsg_chan_unreserve(c), -EINVAL);
	ASSERT_EQ(vmsg_chan_send(c, TYPE_A, "first", 5, VMSG_SEND_MORE, T), 5);
	ASSERT_EQ(vmsg_chan_reserve(c, TYPE_DROPPED, 100, &p, T), 0);
	memset(p, 0xee, 100);
	ASSERT_EQ(vmsg_chan_unreserve(c), 0);
	ASSERT_EQ(vmsg_chan_unreserve(c), -EINVAL);
	ASSERT_EQ(vmsg_chan_commit(c, 0), -EINVAL);
	ASSERT_EQ(vmsg_chan_stats(c, &st), 0);
	ASSERT_EQ(st.tx_bytes, 5);
	ASSERT_EQ(st.tx_msgs, 1);
	ASSERT_EQ(vmsg_chan_send(c, TYPE_B, "second", 6, 0, T), 6);

	/* The server has read A and B. */
	ASSERT_EQ(vmsg_chan_recv(c, NULL, buf, sizeof buf, T), 1);
	int max = vmsg_chan_max_frame(c);
	ASSERT_GT(max, 0);
	for (int i = 0; i < 1000; i++) {
		ASSERT_EQ(vmsg_chan_reserve(c, TYPE_DROPPED, (size_t)max, &p, 0),
			  0);
		memset(p, 0xee, (size_t)max);
		ASSERT_EQ(vmsg_chan_unreserve(c), 0);
	}

	/* FILL frames pending until the ring has no room for the largest
	 * frame (about half of it); the reserve then waits, publishing them
	 * first, while the server reads them. */
	uint32_t tx = 0;
	ASSERT_EQ(vmsg_chan_ring_sizes(c, NULL, &tx), 0);
	const uint32_t frame = 8 + FILL_LEN; /* header + payload, 8-aligned */
	uint32_t fills = tx / frame - 2;
	for (uint32_t i = 0; i < fills; i++) {
		memset(buf, (int)(i & 0xff), FILL_LEN);
		ASSERT_EQ(vmsg_chan_send(c, TYPE_FILL, buf, FILL_LEN,
					 VMSG_SEND_MORE, 0),
			  (int)FILL_LEN);
	}
	ASSERT_EQ(vmsg_chan_stats(c, &st), 0);
	uint64_t waits = st.tx_full_waits;
	ASSERT_EQ(vmsg_chan_reserve(c, TYPE_DROPPED, (size_t)max, &p, T), 0);
	ASSERT_EQ(vmsg_chan_stats(c, &st), 0);
	ASSERT_GT(st.tx_full_waits, waits); /* it did wait */
	memset(p, 0xee, (size_t)max);
	ASSERT_EQ(vmsg_chan_unreserve(c), 0);
	ASSERT_EQ(vmsg_chan_send(c, TYPE_END, &fills, sizeof fills, 0, T),
		  (int)sizeof fills);
	vmsg_chan_close(c);
	return 0;
}

int main(void)
{
	char dir[256], path[300];
	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sock", dir);
	pid_t pid = ht_fork_run(client, path);
	vmsg_chan *c;
	uint16_t type;
	ASSERT_EQ(vmsg_host_serve(&c, path, NULL), 0);
	ASSERT_EQ(vmsg_chan_accept(c, T), 0);

	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, T), 5);
	ASSERT_EQ(type, TYPE_A);
	ASSERT_MEM_EQ(buf, "first", 5);
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, T), 6);
	ASSERT_EQ(type, TYPE_B);
	ASSERT_MEM_EQ(buf, "second", 6);
	ASSERT_EQ(vmsg_chan_send(c, TYPE_GO, "g", 1, 0, T), 1);

	uint32_t fills = 0;
	for (;;) {
		int n = vmsg_chan_recv(c, &type, buf, sizeof buf, T);
		ASSERT_GT(n, 0);
		ASSERT_NE(type, TYPE_DROPPED);
		if (type == TYPE_END)
			break;
		ASSERT_EQ(type, TYPE_FILL);
		ASSERT_EQ(n, (int)FILL_LEN);
		for (unsigned i = 0; i < FILL_LEN; i++)
			ASSERT_EQ(buf[i], fills & 0xff);
		fills++;
	}
	uint32_t sent;
	memcpy(&sent, buf, sizeof sent);
	ASSERT_EQ(fills, sent);
	ASSERT_GT(fills, 0);
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, T), -EPIPE);
	vmsg_chan_close(c);
	ht_reap_ok(pid);
	ht_rmdir(dir);
	return 0;
}
