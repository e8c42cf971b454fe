/* Private state of a control-channel handle (vmsg/service.h). */
#ifndef VMSG_SERVICE_PRIVATE_H
#define VMSG_SERVICE_PRIVATE_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <vmsg/proto.h>
#include <vmsg/service.h>
#include <vmsg/vmsg_service.pb-c.h>

/* Channels served for vmsgd but not yet returned by accept (waiting for
 * their consumer, or connected and not yet taken). A provider that never
 * accepts gets -EBUSY answers to further serve requests. */
#define CTL_QUEUE 32
/* The least connect deadline a Serve may set (a smaller one is raised). */
#define CTL_CONNECT_MIN_MS 1000
/* Largest control message we take from vmsgd; larger ones are dropped. */
#define CTL_MSG_MAX 4096
#define CTL_ERR_MAX 160
/* While vmsgd is away, how often a poller's vmsg_ctl_fd() turns readable
 * so that it calls in and the library tries to reconnect; also the pause
 * between two connect attempts of a blocking call. */
#define CTL_RETRY_MS 100
/* The Hello and the re-offers after a reconnect made by a call with
 * timeout 0: vmsgd answers at once, so this bounds a rare wait. */
#define CTL_HANDSHAKE_MS 2000

struct ctl_ready {
	vmsg_chan *c;
	struct vmsg_service_peer peer;
	uint32_t id;         /* for Closed; 0: an earlier vmsgd's channel */
	uint64_t expires_ms; /* closed if nobody has connected by then */
};

struct ctl_live {
	vmsg_chan *c;
	uint32_t id; /* 0: brokered by an earlier vmsgd (no Closed to send) */
};

struct vmsg_ctl {
	vmsg_chan *chan; /* NULL while vmsgd is away (reconnect pending) */
	/* vmsg_ctl_fd(): an epoll set holding the current control channel's
	 * fd and a timer that ticks while the channel is down, so the fd a
	 * poller holds survives reconnects. */
	int epfd, tfd;
	/* In epfd too: a one-shot timer for the next connect deadline of a
	 * served channel (served.c). The served channels' own fds are in
	 * epfd while they wait, so a poller wakes when a consumer comes. */
	int xfd;
	uint64_t xnext; /* the deadline xfd is armed for (0: none) */
	uint16_t domid;
	uint64_t reconnects;
	/* Names this handle offered (vmsgd said yes), offered again after a
	 * reconnect. */
	char (*offers)[VMSG_SERVICE_NAME_MAX + 1];
	size_t noffers, capoffers;
	uint32_t next_req;
	char err[CTL_ERR_MAX];
	struct ctl_ready q[CTL_QUEUE];
	unsigned qhead, qlen;
	struct ctl_live *live; /* channels handed out, for Closed */
	size_t nlive, caplive;
	struct vmsg_arena arena;
	uint64_t arena_buf[(4 * CTL_MSG_MAX) / sizeof(uint64_t)];
};

/* Milliseconds left of timeout_ms started at start (as the proto helpers:
 * -1 and 0 stay, positive never below 1). */
uint64_t vmsg__svc_now_ms(void);
int vmsg__svc_left(int timeout_ms, uint64_t start);

/* Receive one message from vmsgd, handling Serve requests on the way.
 * Returns 1 with the type and message set (decoded in ctl->arena until the
 * next call) for anything else; with type NULL, 0 after each Serve; or a negative error (-EAGAIN, -ETIMEDOUT, the
 * channel's). Unknown, oversized or malformed messages are skipped. */
int vmsg__svc_pump(vmsg_ctl *ctl, uint16_t *type, ProtobufCMessage **msg,
		   int timeout_ms);

/* The control channel is usable: if it is down, reconnect (retrying
 * fast-failing attempts on a dead vmsgd's stale keys every CTL_RETRY_MS
 * until the deadline), exchange Hellos and offer again what this handle
 * offered. Returns 0, -ENOTCONN (vmsgd not back by the deadline), or a
 * permanent error (-ECONNREFUSED, -EPROTONOSUPPORT, -ENOMEM). */
int vmsg__svc_ensure(vmsg_ctl *ctl, int timeout_ms, uint64_t start);

/* After a failed call: if the control channel is closed or broken, drop
 * it (the next vmsg__svc_ensure reconnects) and return 1; else 0. */
int vmsg__svc_broken(vmsg_ctl *ctl);

/* Has a call with timeout_ms begun at start run out of time? (-1 never;
 * 0 always, after its first try.) */
int vmsg__svc_expired(int timeout_ms, uint64_t start);

/* Clear the retry timer's tick (a poller's wake-up is being handled). */
void vmsg__svc_timer_drain(vmsg_ctl *ctl);

/* Send Offer `name` on the current channel and wait for its Result
 * (no reconnect: the caller handles a broken channel). */
int vmsg__svc_offer_once(vmsg_ctl *ctl, const char *name, int timeout_ms,
			 uint64_t start);

/* ---- served channels waiting for their consumer (served.c) ---- */

/* Queue channel c, served for vmsgd's Serve `id` (peer as given), until
 * its consumer connects or connect_ms passes (clamped to
 * CTL_CONNECT_MIN_MS..VMSG_SERVICE_CONNECT_MAX_MS; 0: the maximum).
 * 0, or -EBUSY (queue full) / -errno with c left to the caller. */
int vmsg__svc_served_add(vmsg_ctl *ctl, vmsg_chan *c,
			 const struct vmsg_service_peer *peer, uint32_t id,
			 uint32_t connect_ms);

/* Take the oldest queued channel whose consumer has connected: 0 with
 * *out (and *peer, *id) set, or -EAGAIN. Channels nobody connected to by
 * their deadline are closed first, and vmsgd told. */
int vmsg__svc_served_take(vmsg_ctl *ctl, vmsg_chan **out,
			  struct vmsg_service_peer *peer, uint32_t *id);

/* vmsgd's Closed{id}: the consumer closed or left. Close that served
 * channel if nobody has connected to it, and tell vmsgd it is gone. */
void vmsg__svc_served_closed(vmsg_ctl *ctl, uint32_t id);

/* Ms until the next connect deadline (0: one has passed), or -1 when no
 * queued channel waits for its consumer. */
int vmsg__svc_served_wait_ms(vmsg_ctl *ctl);

/* Consume the pending events of the queued channels and the deadline
 * timer (before looking at their states: no wake-up is lost). */
void vmsg__svc_served_ack(vmsg_ctl *ctl);

/* After a reconnect: close the channels served for the old vmsgd that
 * nobody took (the new one will send no consumer), and forget the old
 * ids of those kept. */
void vmsg__svc_served_drop_unclaimed(vmsg_ctl *ctl);

/* vmsg_ctl_close(): close every queued channel. */
void vmsg__svc_served_close_all(vmsg_ctl *ctl);

/* Remember a channel handed to the caller (for vmsg_service_close). */
void vmsg__svc_track(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id);

/* Keep vmsgd's error text, sanitised, for vmsg_ctl_error(). */
void vmsg__svc_set_err(vmsg_ctl *ctl, const char *text);

/* ctl_errors.c: after attaching failed by the deadline for a reason that
 * retrying could have cured, what stood in the way: -ENOENT (no vmsgd
 * serves domain `domid`), -EBUSY (another process holds its control
 * channel) or -ETIMEDOUT. */
int vmsg__svc_why_not(uint16_t domid);

#endif
