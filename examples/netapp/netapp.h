/* netapp: the platform-neutral shape of a network appliance.
 *
 * An appliance is a set of ports, each an Ethernet link (lib/net) on a
 * channel, and three callbacks: a frame arrived on a port, a port's link
 * went up or down, print your counters. The appliance's source (switch.c,
 * firewall.c) sees only this header, <vmsg/net.h> and the C freestanding
 * headers: no libc, no allocation, no clock of its own (the driver sets
 * now_ms). A driver per platform makes the channels and runs the loop:
 * netapp_host.c on Linux over the host backend (this build); a PVH driver
 * over the guest platform's channels is the unikernel build of the same
 * appliance source.
 *
 * netapp.c (freestanding) moves the frames: it takes each received frame
 * out of the shared ring into a private buffer before the appliance sees
 * it (the peer may rewrite the ring while it is parsed), and flushes every
 * port that was sent to once per round (one kick per batch per port).
 */
#ifndef NETAPP_H
#define NETAPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/net.h>

#define NETAPP_MAX_PORTS 16u

struct netapp_port_stats {
	uint64_t rx_frames, rx_bytes; /* taken from the link */
	uint64_t tx_frames, tx_bytes; /* sent to the link */
	uint64_t tx_drop_full;        /* dropped: the link's ring was full */
	uint64_t tx_drop_down;        /* dropped: the link was down */
};

struct netapp_port {
	struct vmsg_net net;
	bool attached; /* has a channel (the driver's business) */
	bool was_up;
	bool dirty; /* sent to since the last flush */
	struct netapp_port_stats st;
};

struct netapp;

struct netapp_ops {
	/* A frame of len bytes (a private copy; the appliance may change it)
	 * came in on `port`. */
	void (*frame)(struct netapp *a, unsigned port, uint8_t *frame,
		      size_t len);
	/* Port `port`'s link went up or down. May be NULL. */
	void (*link)(struct netapp *a, unsigned port, bool up);
	/* Print the appliance's counters through a->print. May be NULL. */
	void (*stats)(struct netapp *a);
};

struct netapp {
	const char *name;
	const struct netapp_ops *ops;
	void *priv; /* the appliance's state */
	unsigned nports;
	struct netapp_port port[NETAPP_MAX_PORTS];
	struct vmsg_net_config cfg; /* every port's MTU and (zero) MAC */
	unsigned batch;             /* frames per port per round */
	uint64_t now_ms;            /* set by the driver before each round */
	/* The driver's: print one line (no newline needed). */
	void (*print)(const char *line);
	uint8_t buf[VMSG_NET_MAX_MSG]; /* the frame being handled */
};

/* Set up an appliance of nports ports (<= NETAPP_MAX_PORTS), links of at
 * most mtu bytes. Returns 0 or -EINVAL. */
int netapp_init(struct netapp *a, const char *name,
		const struct netapp_ops *ops, void *priv, unsigned nports,
		uint32_t mtu);

/* Driver: port i has (a new) channel c (open, or a server still waiting
 * for its client). */
void netapp_attach(struct netapp *a, unsigned i, vmsg_chan *c);

/* Driver: port i has no channel any more (its link is down); a later
 * netapp_attach() gives it a new one. */
void netapp_detach(struct netapp *a, unsigned i);

/* Driver: run port i (its channel's event fired): take up to a batch of
 * frames, hand them to ops->frame, follow the link's state. Returns 1 if
 * more frames may be waiting (call again), 0 if not, or the channel's
 * end (-EPIPE closed or died, -EPROTO broke): the link is down and the
 * driver reopens or replaces the channel (netapp_attach again). */
int netapp_poll(struct netapp *a, unsigned i);

/* Driver: publish what this round sent, one flush per port sent to. */
void netapp_flush(struct netapp *a);

/* Appliance: send a frame out of port i (copied into its ring). Returns 0,
 * or -EAGAIN / -ENOTCONN / -EMSGSIZE with the frame dropped and counted. */
int netapp_send(struct netapp *a, unsigned i, const uint8_t *frame,
		size_t len);

/* Print the ports' counters, then the appliance's (ops->stats). */
void netapp_stats(struct netapp *a);

/* Small freestanding helpers for appliances: decimal output into a line. */
char *netapp_put_str(char *p, const char *s);
char *netapp_put_u64(char *p, uint64_t v);

#endif
