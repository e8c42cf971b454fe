/* net_link: lib/net end to end over the host backend, in two processes.
 * The HELLO exchange (MTU negotiated to the smaller end, MACs learnt), a
 * batch of 200 frames of every size 14..1514 in one flush, delivered in
 * order and intact; sends that break the rules refused and counted; the
 * link going down when the peer closes, and up again with the next client
 * of the reopened server channel; a full ring refusing sends (-EAGAIN,
 * counted) instead of waiting. */
#include "net_test_util.h"

#define T 20000
#define BATCH 200

struct rx_check {
	unsigned got;
	unsigned bad;
};

static size_t frame_len(unsigned i)
{
	return 14 + (i * 97u) % 1501u; /* 14 .. 1514 */
}

static void check_frame(void *arg, const uint8_t *f, size_t len)
{
	struct rx_check *rc = arg;
	uint8_t want[1514];

	if (len != frame_len(rc->got))
		rc->bad++;
	else {
		nt_frame(want, len, rc->got & 0xff);
		if (memcmp(want, f, len) != 0)
			rc->bad++;
	}
	rc->got++;
}

/* Round 1's client: MTU 9000, a batch, rule-breaking sends, close. */
static int client1(const char *path)
{
	struct vmsg_net_config cfg = {.mtu = 9000, .mac = {2, 0, 0, 0, 0, 2}};
	struct vmsg_net n;
	vmsg_chan *c;
	uint8_t f[9100];

	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	ASSERT_EQ(vmsg_net_init(&n, c, &cfg), 0);
	ASSERT_EQ(vmsg_net_tx(&n, f, 60), -ENOTCONN); /* not up yet */
	nt_wait_up(&n, NULL, NULL);
	ASSERT_EQ(n.mtu, 1500); /* the server's is smaller */
	ASSERT_EQ(n.peer_mac[5], 1);
	for (unsigned i = 0; i < BATCH; i++) {
		size_t len = frame_len(i);
		nt_frame(f, len, i & 0xff);
		int r;
		uint64_t end = ht_now_ms() + T;
		while ((r = vmsg_net_tx(&n, f, len)) == -EAGAIN) {
			ASSERT_LT(ht_now_ms(), end);
			ASSERT_GE(nt_step(&n, NULL, NULL), 0);
		}
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(n.pending > 0, 1);
	ASSERT_EQ(vmsg_net_flush(&n), 0);
	ASSERT_EQ(vmsg_net_tx(&n, f, 13), -EMSGSIZE);     /* runt */
	ASSERT_EQ(vmsg_net_tx(&n, f, 1515), -EMSGSIZE);   /* over the MTU */
	ASSERT_EQ(vmsg_net_tx(&n, f, 9014), -EMSGSIZE);   /* over the link's */
	ASSERT_EQ(n.st.tx_bad, 3);
	ASSERT_EQ(n.st.tx_frames, BATCH);
	vmsg_chan_close(c);
	return 0;
}

/* Round 2's client: comes to the reopened channel, then does not read
 * while the server fills the ring; exits when told by the ring itself
 * (one frame of 0x7f bytes). */
static int client2(const char *path)
{
	struct vmsg_net_config cfg = {.mtu = 1500};
	struct vmsg_net n;
	vmsg_chan *c;

	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	ASSERT_EQ(vmsg_net_init(&n, c, &cfg), 0);
	struct rx_check rc = {0};
	nt_wait_up(&n, check_frame, &rc);
	/* Stop reading for a while: the server's sends meet a full ring. */
	usleep(1500 * 1000);
	uint64_t end = ht_now_ms() + T;
	while (nt_step(&n, check_frame, &rc) >= 0)
		ASSERT_LT(ht_now_ms(), end);
	ASSERT_GT(rc.got, 0);
	ASSERT_EQ(rc.bad, 0);
	vmsg_chan_close(c);
	return 0;
}

int main(void)
{
	char dir[256], path[300];
	struct vmsg_net_config cfg = {.mtu = 1500, .mac = {2, 0, 0, 0, 0, 1}};
	struct vmsg_chan_opts o;
	struct vmsg_net n;
	vmsg_chan *c;

	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/link", dir);
	vmsg_chan_opts_init(&o);
	o.max_msg = VMSG_NET_MAX_MSG;

	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(client1(path));
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), 0);
	ASSERT_EQ(vmsg_net_init(&n, c, &cfg), 0);
	struct vmsg_net_config bad = {.mtu = 9001};
	struct vmsg_net tmp;
	ASSERT_EQ(vmsg_net_init(&tmp, c, &bad), -EINVAL);
	bad.mtu = 67;
	ASSERT_EQ(vmsg_net_init(&tmp, c, &bad), -EINVAL);

	/* Round 1: up, the batch in order, down at the client's close. */
	struct rx_check rc = {0};
	uint64_t end = ht_now_ms() + T;
	int r;
	while ((r = nt_step(&n, check_frame, &rc)) >= 0)
		ASSERT_LT(ht_now_ms(), end);
	ASSERT_EQ(r, -EPIPE);
	ASSERT_EQ(rc.got, BATCH);
	ASSERT_EQ(rc.bad, 0);
	ASSERT_EQ(n.up, false);
	ASSERT_EQ(n.st.link_ups, 1);
	ASSERT_EQ(n.st.link_downs, 1);
	ASSERT_EQ(n.st.rx_frames, BATCH);
	ASSERT_EQ(n.peer_mac[5], 2);
	ASSERT_EQ(n.st.rx_runt + n.st.rx_big + n.st.rx_early, 0);
	ht_reap_ok(pid);

	/* Round 2: the same channel reopened, a new client, the ring full. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(client2(path));
	ASSERT_EQ(vmsg_chan_reopen(c), 0);
	vmsg_net_reset(&n, c);
	nt_wait_up(&n, NULL, NULL);
	ASSERT_EQ(n.st.link_ups, 2);
	uint8_t f[1514];
	unsigned sent = 0, full = 0;
	end = ht_now_ms() + T;
	while (full == 0) {
		ASSERT_LT(ht_now_ms(), end);
		nt_frame(f, frame_len(sent), sent & 0xff);
		r = vmsg_net_tx(&n, f, frame_len(sent));
		if (r == -EAGAIN)
			full++;
		else {
			ASSERT_EQ(r, 0);
			sent++;
		}
	}
	ASSERT_EQ(n.st.tx_full, 1);
	ASSERT_GT(sent, 10);
	/* What was sent before the ring filled is published (tx_error
	 * flushes), so the client drains it and then sees the close. */
	vmsg_chan_close(c);
	ht_reap_ok(pid);
	ht_rmdir(dir);
	printf("net_link: ok (%u frames before the ring filled)\n", sent);
	return 0;
}
