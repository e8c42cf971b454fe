/* Fuzz target: the network link protocol (lib/net, docs/net.md): HELLO
 * parsing, the link's state and the checks on every received Ethernet
 * frame, with the peer's messages from the fuzz input on a channel.
 *
 * Input: [ring orders: 1][our MTU: 2] then operations
 *   0 [type: 2][len: 2][bytes]   the peer sends one message
 *   1 [type sel: 1][len: 2][bytes] the same with a likely type (HELLO,
 *                                  FRAME, other)
 *   2 [budget: 1]                vmsg_net_rx
 *   3 [len: 2]                   vmsg_net_tx of a frame of that length
 *   other                        vmsg_net_flush, and the peer reads
 * Checked: every frame handed to the callback is 14 .. 14 + MTU bytes of
 * the link as negotiated, and the link's MTU is never above ours. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <vmsg/net.h>

#include "fuzz_peer.h"

static uint8_t frame_buf[VMSG_NET_MAX_MSG + 64];

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct vmsg_net *n = arg;

	CHECK(n->hello_seen);
	CHECK(len >= VMSG_NET_ETH_HLEN && len <= VMSG_NET_ETH_HLEN + n->mtu);
	/* Touch every byte: a frame past the ring would be reported. */
	memcpy(frame_buf, frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[3] = {VMSG_NET_TYPE_HELLO, VMSG_NET_TYPE_FRAME,
					  0x4e02};
	struct fuzz_in in = {data, size};
	struct fuzz_peer fp;
	struct vmsg_net n;
	struct vmsg_net_config cfg;
	vmsg_chan *c = NULL;
	struct vmsg_chan_opts opts;
	unsigned lo, ro;

	vmsg_chan_opts_init(&opts);
	opts.max_msg = VMSG_NET_MAX_MSG;
	/* Small rings too: then the MTU is capped by the frame size. */
	fuzz_peer_orders(fuzz_u8(&in), &lo, &ro);
	CHECK(fuzz_peer_connect(&fp, lo, ro, &opts, &c) == 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mtu = VMSG_NET_MTU_MIN + fuzz_u16(&in) % (VMSG_NET_MTU_MAX - VMSG_NET_MTU_MIN + 1);
	memcpy(cfg.mac, "\x02\x00\x00\x00\x00\x01", 6);
	CHECK(vmsg_net_init(&n, c, &cfg) == 0);

	while (fuzz_in_left(&in)) {
		uint8_t op = fuzz_u8(&in);
		size_t len;
		const uint8_t *p;
		uint16_t type;
		int r;

		switch (op % 5) {
		case 0:
		case 1:
			type = op % 5 == 0 ? fuzz_u16(&in) : types[fuzz_u8(&in) % 3];
			p = fuzz_bytes(&in, fuzz_u16(&in), &len);
			r = fuzz_peer_send(&fp, type, p, len);
			CHECK(r >= 0 || (type == VMSG_TYPE_PAD && r == -EINVAL));
			break;
		case 2:
			r = vmsg_net_rx(&n, on_frame, &n, 1 + fuzz_u8(&in) % 64);
			CHECK(r >= 0 || r == -EPIPE || r == -EPROTO);
			break;
		case 3:
			len = fuzz_u16(&in) % sizeof(frame_buf);
			r = vmsg_net_tx(&n, frame_buf, len);
			CHECK(r == 0 || r == -EAGAIN || r == -EMSGSIZE ||
			      r == -ENOTCONN || r == -EPIPE || r == -EPROTO);
			if (r == 0)
				CHECK(n.up && len >= VMSG_NET_ETH_HLEN &&
				      len <= VMSG_NET_ETH_HLEN + n.mtu);
			break;
		default:
			(void)vmsg_net_flush(&n);
			fuzz_peer_drain(&fp);
		}
		if (n.up)
			CHECK(n.mtu >= VMSG_NET_MTU_MIN && n.mtu <= cfg.mtu);
	}
	vmsg_chan_close(c);
	fuzz_peer_fini(&fp);
	return 0;
}
