/* Helpers for the lib/net tests: drive a link until a condition, with a
 * generous deadline (never asserting how fast it came). */
#ifndef NET_TEST_UTIL_H
#define NET_TEST_UTIL_H

#include "../host/host_test_util.h"

#include <vmsg/net.h>

/* Poll the channel's fd for up to 100 ms, then run the link. */
static inline int nt_step(struct vmsg_net *n, vmsg_net_rx_fn fn, void *arg)
{
	struct pollfd pfd = {.fd = vmsg_chan_fd(n->chan), .events = POLLIN};
	ASSERT_GE(pfd.fd, 0);
	(void)poll(&pfd, 1, 100);
	vmsg_chan_ack(n->chan);
	int r, total = 0;
	while ((r = vmsg_net_rx(n, fn, arg, 64)) == 64)
		total += r;
	if (r < 0)
		return r;
	vmsg_net_flush(n);
	return total + r;
}

/* Run the link until it is up (frames that come with the HELLO go to
 * fn); fail after 20 s. */
static inline void nt_wait_up(struct vmsg_net *n, vmsg_net_rx_fn fn,
			      void *arg)
{
	uint64_t end = ht_now_ms() + 20000;
	while (!n->up) {
		if (ht_now_ms() > end)
			VMSG_TEST_FAIL("link never came up");
		ASSERT_GE(nt_step(n, fn, arg), 0);
	}
}

/* Fill a test frame of len bytes: broadcast destination, a source MAC,
 * EtherType 0x88b5 (local experimental), then a pattern from seed. */
static inline void nt_frame(uint8_t *f, size_t len, unsigned seed)
{
	memset(f, 0xff, 6);
	const uint8_t src[6] = {0x02, 0, 0, 0, 0, (uint8_t)seed};
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed * 13u + i * 7u);
}

#endif
