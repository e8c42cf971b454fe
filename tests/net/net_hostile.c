/* net_hostile: a peer that breaks every rule of docs/net.md with a raw
 * channel. A frame before its HELLO, malformed and repeated HELLOs, runts
 * (0 and 13 bytes), frames over the link MTU and over max_msg (one in a
 * single ring frame, one fragmented), messages of unknown types: each is
 * dropped and counted under its own counter, never delivered, and the good
 * frames between them arrive intact and in order. */
#include "net_test_util.h"

#define T 20000

struct rx_log {
	unsigned got;
	size_t lens[16];
};

static void log_frame(void *arg, const uint8_t *f, size_t len)
{
	struct rx_log *l = arg;
	uint8_t want[1514];
	nt_frame(want, len, 7);
	ASSERT_MEM_EQ(want, f, len);
	if (l->got < 16)
		l->lens[l->got] = len;
	l->got++;
}

static void put(vmsg_chan *c, uint16_t type, const void *p, size_t len)
{
	ASSERT_EQ(vmsg_chan_send(c, type, p, len, 0, T), (int)len);
}

static int hostile(const char *path)
{
	static uint8_t f[20000];
	uint8_t hello[VMSG_NET_HELLO_SIZE] = {0};
	struct vmsg_net_config cfg = {.mtu = 1500};
	vmsg_chan *c;

	ASSERT_EQ(vmsg_host_connect(&c, path, NULL, T), 0);
	nt_frame(f, sizeof f, 7);
	put(c, VMSG_NET_TYPE_FRAME, f, 60);         /* before HELLO: early */
	put(c, VMSG_NET_TYPE_HELLO, hello, 3);      /* short: bad hello */
	vmsg_net_hello_write(hello, &cfg);
	hello[0] = 9;                               /* version 9: bad */
	put(c, VMSG_NET_TYPE_HELLO, hello, sizeof hello);
	cfg.mtu = 20; /* under IPv4's minimum: bad */
	vmsg_net_hello_write(hello, &cfg);
	put(c, VMSG_NET_TYPE_HELLO, hello, sizeof hello);
	cfg.mtu = 1500;
	vmsg_net_hello_write(hello, &cfg);
	put(c, VMSG_NET_TYPE_HELLO, hello, sizeof hello); /* the good one */
	put(c, VMSG_NET_TYPE_HELLO, hello, sizeof hello); /* repeated: bad */
	put(c, VMSG_NET_TYPE_FRAME, f, 100);        /* good 1 */
	put(c, VMSG_NET_TYPE_FRAME, f, 0);          /* runt */
	put(c, VMSG_NET_TYPE_FRAME, f, 13);         /* runt */
	put(c, VMSG_NET_TYPE_FRAME, f, 1515);       /* over the MTU: big */
	put(c, VMSG_NET_TYPE_FRAME, f, 9014);       /* over the MTU: big */
	put(c, VMSG_NET_TYPE_FRAME, f, 14);         /* good 2: header only */
	put(c, 0x4e7f, f, 50);                      /* unknown type */
	put(c, 0x0001, f, 5);                       /* a control type */
	put(c, VMSG_NET_TYPE_FRAME, f, 20000);      /* fragmented, > max_msg */
	put(c, VMSG_NET_TYPE_FRAME, f, 1514);       /* good 3: full size */
	vmsg_chan_close(c);
	return 0;
}

int main(void)
{
	char dir[256], path[300];
	struct vmsg_net_config cfg = {.mtu = 1500};
	struct vmsg_chan_opts o;
	struct vmsg_net n;
	struct rx_log l = {0};
	vmsg_chan *c;
	int r;

	ht_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/link", dir);
	vmsg_chan_opts_init(&o);
	o.max_msg = VMSG_NET_MAX_MSG;
	o.rx_ring_size = o.tx_ring_size = 16384; /* 20000 bytes fragment */

	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(hostile(path));
	ASSERT_EQ(vmsg_host_serve(&c, path, &o), 0);
	ASSERT_EQ(vmsg_net_init(&n, c, &cfg), 0);
	uint64_t end = ht_now_ms() + T;
	while ((r = nt_step(&n, log_frame, &l)) >= 0)
		ASSERT_LT(ht_now_ms(), end);
	ASSERT_EQ(r, -EPIPE);
	ht_reap_ok(pid);

	ASSERT_EQ(l.got, 3);
	ASSERT_EQ(l.lens[0], 100);
	ASSERT_EQ(l.lens[1], 14);
	ASSERT_EQ(l.lens[2], 1514);
	ASSERT_EQ(n.st.rx_frames, 3);
	ASSERT_EQ(n.st.rx_early, 1);
	ASSERT_EQ(n.st.rx_bad_hello, 4);
	ASSERT_EQ(n.st.rx_runt, 2);
	ASSERT_EQ(n.st.rx_big, 3);
	ASSERT_EQ(n.st.rx_unknown, 2);
	ASSERT_EQ(n.st.link_ups, 1);
	ASSERT_EQ(n.st.link_downs, 1);
	vmsg_chan_close(c);
	ht_rmdir(dir);
	printf("net_hostile: ok\n");
	return 0;
}
