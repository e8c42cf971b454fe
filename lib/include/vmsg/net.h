/* vmsg/net.h - Ethernet links over vmsg channels (freestanding).
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * The link protocol (docs/net.md has the byte layout and a worked dump):
 * - each end sends one HELLO message first (VMSG_NET_TYPE_HELLO): the
 *   protocol version, the largest MTU it takes and its MAC address;
 * - then every message is one Ethernet frame (VMSG_NET_TYPE_FRAME):
 *   destination, source, EtherType and payload, no preamble, no FCS;
 * - the link's MTU is the smaller of the two ends' (and of what one ring
 *   frame carries), so a frame is 14 .. 14 + MTU bytes; anything else,
 *   and any frame before the peer's HELLO, is dropped and counted, never
 *   delivered;
 * - the link is up while the channel is open and both HELLOs have been
 *   seen, down when the channel closes, dies or breaks.
 *
 * struct vmsg_net is caller memory: no allocation, no syscalls, nothing
 * from libc; the same code runs in a Linux process and in a unikernel.
 * It sends and receives without ever waiting (timeout 0): callers poll the
 * channel's event (vmsg_chan_fd) and call vmsg_net_rx()/vmsg_net_tx()
 * when it fires. One struct vmsg_net per channel end, one thread at a time.
 */
#ifndef VMSG_NET_H
#define VMSG_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types, in the application range of vmsg/frame.h. */
#define VMSG_NET_TYPE_HELLO 0x4e00u /* 'N' 0: link parameters, first */
#define VMSG_NET_TYPE_FRAME 0x4e01u /* one Ethernet frame */

#define VMSG_NET_VERSION 1u
#define VMSG_NET_HELLO_SIZE 16u
#define VMSG_NET_ETH_HLEN 14u       /* destination, source, EtherType */
#define VMSG_NET_MTU_DEFAULT 1500u
#define VMSG_NET_MTU_MIN 68u        /* IPv4's minimum */
#define VMSG_NET_MTU_MAX 9000u      /* jumbo frames */
/* The largest message a link carries: a channel's opts.max_msg should be
 * at least this, and its rings at least 32 KiB so that one ring frame
 * holds a jumbo frame (vmsg_chan_max_frame()). */
#define VMSG_NET_MAX_MSG (VMSG_NET_MTU_MAX + VMSG_NET_ETH_HLEN)

struct vmsg_net_config {
	uint32_t mtu;   /* largest frame payload this end takes (68..9000) */
	uint8_t mac[6]; /* this end's address; all zero: none (a switch port) */
};

struct vmsg_net_stats {
	uint64_t tx_frames, tx_bytes; /* frames sent, Ethernet bytes */
	uint64_t rx_frames, rx_bytes; /* frames delivered to the callback */
	uint64_t tx_full;  /* sends refused: the ring had no room (-EAGAIN) */
	uint64_t tx_bad;   /* sends refused: runt or over the link MTU */
	uint64_t rx_runt;  /* received frames shorter than an Ethernet header */
	uint64_t rx_big;   /* received frames over the link MTU (or max_msg) */
	uint64_t rx_early; /* frames received before the peer's HELLO */
	uint64_t rx_bad_hello; /* HELLOs malformed, repeated or incompatible */
	uint64_t rx_unknown;   /* messages of other types */
	uint64_t link_ups, link_downs;
};

/* One end of a link. Fields are private except where marked read-only. */
struct vmsg_net {
	vmsg_chan *chan;
	struct vmsg_net_config cfg;
	uint32_t mtu;        /* read-only: the link's MTU while up */
	uint8_t peer_mac[6]; /* read-only: the peer's MAC while up */
	bool up;             /* read-only: the link is up */
	bool hello_sent;
	bool hello_seen;
	bool closed; /* the channel has closed or broken: down for good */
	unsigned pending; /* frames sent with VMSG_SEND_MORE, not flushed */
	struct vmsg_net_stats st;
};

/* Called for every valid frame vmsg_net_rx() takes. `frame` points into
 * the shared ring: untrusted bytes the peer may change while you look.
 * Copy before you parse (or copy out, as a TAP write does). `len` is a
 * private, checked copy (14 .. 14 + MTU). */
typedef void (*vmsg_net_rx_fn)(void *arg, const uint8_t *frame, size_t len);

/* Bind n to channel c (open or, on a server, still waiting). Copies *cfg.
 * Returns 0; -EINVAL for a NULL pointer or an MTU out of 68..9000. */
int vmsg_net_init(struct vmsg_net *n, vmsg_chan *c,
		  const struct vmsg_net_config *cfg);

/* Forget the link state (after vmsg_chan_reopen() of a server channel, or
 * to bind a new channel): down, no HELLO sent or seen; counters kept.
 * c may be the same channel or a new one. */
void vmsg_net_reset(struct vmsg_net *n, vmsg_chan *c);

/* Drive the link: send our HELLO once the channel is open, take up to
 * `budget` messages (HELLO, frames, anything else), calling fn for each
 * valid frame, and follow the channel's state. Never waits. Returns the
 * count of frames delivered; -EPIPE when the channel has closed or died
 * (the link is down, everything the peer sent first was delivered);
 * -EPROTO when it broke. Call it until it returns fewer than `budget`
 * (then the channel has asked for the kick that makes its fd readable). */
int vmsg_net_rx(struct vmsg_net *n, vmsg_net_rx_fn fn, void *arg,
		unsigned budget);

/* Queue one frame (len 14 .. 14 + MTU) for the peer, without a kick
 * (VMSG_SEND_MORE): vmsg_net_flush() publishes the batch. Never waits.
 * Returns 0; -EAGAIN the ring is full now (counted in tx_full; the caller
 * drops the frame or keeps it for later); -EMSGSIZE a runt or a frame
 * over the MTU (counted in tx_bad); -ENOTCONN the link is not up; the
 * channel's errors (-EPIPE, -EPROTO). */
int vmsg_net_tx(struct vmsg_net *n, const void *frame, size_t len);

/* Publish the frames queued since the last flush with one kick (if the
 * peer asked for one), and announce space released by vmsg_net_rx().
 * Returns 0 or the channel's error. */
int vmsg_net_flush(struct vmsg_net *n);

/* Parse a HELLO payload (exactly VMSG_NET_HELLO_SIZE bytes, copied to
 * private memory first) into *mtu and mac. Returns 0; -EPROTO when the
 * size, version or MTU is wrong. Exposed for tests and tools. */
int vmsg_net_hello_parse(const uint8_t *p, size_t len, uint32_t *mtu,
			 uint8_t mac[6]);

/* Write our HELLO payload (VMSG_NET_HELLO_SIZE bytes) for cfg into p. */
void vmsg_net_hello_write(uint8_t *p, const struct vmsg_net_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
