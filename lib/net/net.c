/* Ethernet links over a vmsg channel: the HELLO exchange, the frame rules
 * of docs/net.md, batching, and the link state that follows the channel.
 * Freestanding: only the channel calls, no libc. */
#include <vmsg/net.h>

#include "vmsg_errno.h"
#include "vmsg_string.h"

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void vmsg_net_hello_write(uint8_t *p, const struct vmsg_net_config *cfg)
{
	put_le16(p, VMSG_NET_VERSION);
	put_le16(p + 2, 0); /* flags: none defined, sent as 0, ignored */
	put_le32(p + 4, cfg->mtu);
	vmsg__memcpy(p + 8, cfg->mac, 6);
	put_le16(p + 14, 0); /* reserved */
}

int vmsg_net_hello_parse(const uint8_t *p, size_t len, uint32_t *mtu,
			 uint8_t mac[6])
{
	uint8_t h[VMSG_NET_HELLO_SIZE];
	uint32_t m;

	if (!p || len != VMSG_NET_HELLO_SIZE)
		return -EPROTO;
	/* The payload may be in the shared ring: one copy, then judge it. */
	vmsg__memcpy(h, p, sizeof(h));
	if (get_le16(h) != VMSG_NET_VERSION)
		return -EPROTO;
	m = get_le32(h + 4);
	if (m < VMSG_NET_MTU_MIN || m > VMSG_NET_MTU_MAX)
		return -EPROTO;
	*mtu = m;
	vmsg__memcpy(mac, h + 8, 6);
	return 0;
}

/* The MTU this end can take on this channel: its configuration, capped by
 * what one ring frame and one message carry (frames are never fragmented,
 * so a frame is one ring frame on both sides). */
static uint32_t local_mtu(const struct vmsg_net *n)
{
	uint32_t mtu = n->cfg.mtu;
	int f = vmsg_chan_max_frame(n->chan);
	int m = vmsg_chan_max_msg(n->chan);

	if (f >= 0 && m >= 0 && m < f)
		f = m;
	if (f >= 0 && (uint32_t)f < VMSG_NET_ETH_HLEN + mtu)
		mtu = (uint32_t)f > VMSG_NET_ETH_HLEN ? (uint32_t)f -
							      VMSG_NET_ETH_HLEN
						    : 0;
	return mtu;
}

int vmsg_net_init(struct vmsg_net *n, vmsg_chan *c,
		  const struct vmsg_net_config *cfg)
{
	if (!n || !c || !cfg || cfg->mtu < VMSG_NET_MTU_MIN ||
	    cfg->mtu > VMSG_NET_MTU_MAX)
		return -EINVAL;
	vmsg__memset(n, 0, sizeof(*n));
	n->chan = c;
	n->cfg = *cfg;
	return 0;
}

/* Up once both HELLOs have crossed. Checked as soon as ours is sent or
 * the peer's is taken, not only at the end of a receive round: a round
 * that takes the peer's HELLO and frames and then finds the channel
 * closed would otherwise deliver frames on a link that never came up
 * (and count a down without an up). */
static void maybe_up(struct vmsg_net *n)
{
	if (!n->up && n->hello_sent && n->hello_seen) {
		n->up = true;
		n->st.link_ups++;
	}
}

static void link_down(struct vmsg_net *n)
{
	if (n->up) {
		n->up = false;
		n->st.link_downs++;
	}
}

void vmsg_net_reset(struct vmsg_net *n, vmsg_chan *c)
{
	link_down(n);
	n->chan = c;
	n->mtu = 0;
	vmsg__memset(n->peer_mac, 0, sizeof(n->peer_mac));
	n->hello_sent = n->hello_seen = n->closed = false;
	n->pending = 0;
}

/* The channel has closed or broken: down for good (until a reset). */
static int closed(struct vmsg_net *n, int err)
{
	link_down(n);
	n->closed = true;
	return err;
}

static int send_hello(struct vmsg_net *n)
{
	struct vmsg_net_config adv = n->cfg;
	void *p;
	int r;

	adv.mtu = local_mtu(n);
	if (adv.mtu < VMSG_NET_MTU_MIN)
		return -EMSGSIZE; /* rings too small for any link */
	r = vmsg_chan_reserve(n->chan, VMSG_NET_TYPE_HELLO,
			      VMSG_NET_HELLO_SIZE, &p, 0);
	if (r < 0)
		return r;
	vmsg_net_hello_write(p, &adv);
	if ((r = vmsg_chan_commit(n->chan, 0)) < 0)
		return r;
	n->hello_sent = true;
	return 0;
}

static void take_hello(struct vmsg_net *n, const struct vmsg_msg *m)
{
	uint32_t mtu;
	uint8_t mac[6];

	if (n->hello_seen ||
	    vmsg_net_hello_parse(m->data, m->len, &mtu, mac) < 0) {
		n->st.rx_bad_hello++;
		return;
	}
	uint32_t mine = local_mtu(n);
	n->mtu = mtu < mine ? mtu : mine;
	vmsg__memcpy(n->peer_mac, mac, 6);
	n->hello_seen = true;
	maybe_up(n);
}

/* One received message: a frame for fn, a HELLO, or something dropped. */
static bool take(struct vmsg_net *n, const struct vmsg_msg *m,
		 vmsg_net_rx_fn fn, void *arg)
{
	if (m->type == VMSG_NET_TYPE_HELLO) {
		take_hello(n, m);
		return false;
	}
	if (m->type != VMSG_NET_TYPE_FRAME) {
		n->st.rx_unknown++;
		return false;
	}
	if (!n->hello_seen) {
		n->st.rx_early++;
		return false;
	}
	/* m->len is the channel's private copy of the frame header. */
	if (m->len < VMSG_NET_ETH_HLEN) {
		n->st.rx_runt++;
		return false;
	}
	if (m->len > VMSG_NET_ETH_HLEN + n->mtu) {
		n->st.rx_big++;
		return false;
	}
	n->st.rx_frames++;
	n->st.rx_bytes += m->len;
	if (fn)
		fn(arg, m->data, m->len);
	return true;
}

int vmsg_net_rx(struct vmsg_net *n, vmsg_net_rx_fn fn, void *arg,
		unsigned budget)
{
	struct vmsg_msg m;
	int r, done = 0;

	if (!n || !n->chan)
		return -EINVAL;
	if (n->closed)
		return vmsg_chan_state(n->chan) == VMSG_CHAN_BROKEN ? -EPROTO
								    : -EPIPE;
	r = vmsg_chan_state(n->chan);
	if (r == VMSG_CHAN_WAITING) {
		/* A server without its client: let it answer one. */
		r = vmsg_chan_accept(n->chan, 0);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return closed(n, r);
	}
	if (!n->hello_sent && (r = send_hello(n)) < 0 && r != -EAGAIN)
		return closed(n, r);
	for (unsigned i = 0; i < budget; i++) {
		r = vmsg_chan_peek(n->chan, &m, 0);
		if (r == -EAGAIN)
			break;
		if (r == -EMSGSIZE) { /* over max_msg: the channel dropped it */
			n->st.rx_big++;
			continue;
		}
		if (r < 0)
			return closed(n, r);
		if (take(n, &m, fn, arg))
			done++;
		if ((r = vmsg_chan_release(n->chan)) < 0)
			return closed(n, r);
	}
	maybe_up(n);
	return done;
}

static int tx_check(struct vmsg_net *n, size_t len)
{
	if (!n || !n->chan)
		return -EINVAL;
	if (!n->up)
		return -ENOTCONN;
	if (len < VMSG_NET_ETH_HLEN || len > VMSG_NET_ETH_HLEN + n->mtu) {
		n->st.tx_bad++;
		return -EMSGSIZE;
	}
	return 0;
}

/* A send that found the ring full: publish what the batch queued so the
 * peer can drain it (the failed call has asked for the kick that says
 * there is room again). */
static int tx_error(struct vmsg_net *n, int r)
{
	if (r == -EAGAIN) {
		n->st.tx_full++;
		vmsg_net_flush(n);
		return r;
	}
	if (r == -EPIPE || r == -EPROTO)
		return closed(n, r);
	return r;
}

int vmsg_net_tx(struct vmsg_net *n, const void *frame, size_t len)
{
	int r;

	if ((r = tx_check(n, len)) < 0)
		return r;
	r = vmsg_chan_send(n->chan, VMSG_NET_TYPE_FRAME, frame, len,
			   VMSG_SEND_MORE, 0);
	if (r < 0)
		return tx_error(n, r);
	n->pending++;
	n->st.tx_frames++;
	n->st.tx_bytes += len;
	return 0;
}

int vmsg_net_flush(struct vmsg_net *n)
{
	if (!n || !n->chan)
		return -EINVAL;
	n->pending = 0;
	return vmsg_chan_flush(n->chan);
}
