/* Private: the vmsgd client core (vmsg/service.h), one for Linux and the
 * unikernel.
 *
 * ctl.c and service.c are freestanding: everything they need from the
 * world comes through struct vmsg__svc_env (vmsg_service_env.h), a small
 * table each target supplies with its own vmsg_ctl_open() (env_linux.c in
 * libvmsg over vmsg/xen.h, libc and epoll; guest/service_env.c in the
 * unikernel over the PVH platform), as Xen's tools/libs put a shared core
 * over per-OS hooks. So both worlds connect, reconnect after a vmsgd restart, offer
 * again, serve, open and accept with the same code, and the same tests
 * cover both. The messages go through the bounded codec (vmsg_pbwire.h),
 * not protobuf-c.
 */
#ifndef VMSG_SERVICE_PRIVATE_H
#define VMSG_SERVICE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/control.h>
#include <vmsg/service.h>
#include <vmsg/waitset.h>

#include "vmsg_pbwire.h"
#include "vmsg_service_env.h"

/* Channels served for vmsgd but not yet returned by accept (waiting for
 * their consumer, or connected and not yet taken). A provider that never
 * accepts gets -EBUSY answers to further serve requests. */
#define CTL_QUEUE 32
/* Spare Serves (Serve.after) held back until the channel they follow has
 * its consumer; more than this are served at once. */
#define CTL_PARKED 4
/* The least connect deadline a Serve may set (a smaller one is raised). */
#define CTL_CONNECT_MIN_MS 1000
/* Largest control message we take from vmsgd; larger ones are dropped. */
#define CTL_MSG_MAX 4096
#define CTL_ERR_MAX VMSG_PBW_TEXT_CAP
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
	bool linger; /* closed by the application, kept for its consumer */
};

/* warm.c: what a warm channel is (or is to be) served for. */
struct ctl_warm_key {
	bool set;
	uint16_t domid;
	uint32_t rx_ring_size, tx_ring_size;
	size_t max_msg;
	char path[VMSG_PBW_PATH_CAP]; /* a Serve's; by message, only a name */
};

struct ctl_warm {
	vmsg_chan *c; /* NULL: none */
	uint32_t ref, port;
	struct ctl_warm_key has;  /* what c was served for */
	struct ctl_warm_key want; /* the last Serve's, that the next has */
	/* The last one went unused (a Serve not like it): none again until
	 * a Serve is like the one before it. */
	bool missed;
};

/* ahead.c: vmsgd's word (Spare) of the spare its next Open of a
 * service will probably take, and that channel's end made ready while
 * the Open is answered. */
struct ctl_ahead {
	struct vmsg_pbw_spare sp; /* sp.channel_id 0: none announced */
	vmsg_chan *c; /* mapped and bound, not come in; NULL: none */
};

struct ctl_live {
	vmsg_chan *c;
	uint32_t id; /* 0: brokered by an earlier vmsgd (no Closed to send) */
	bool consumer; /* we opened it (vmsgd's Closed: the provider went) */
	struct vmsg__chan_tag *tag; /* on c: live.c */
};

struct vmsg_ctl {
	const struct vmsg__svc_env *env;
	void *os;        /* env->poll's per-handle state: NULL until the
			    first vmsg_ctl_fd() (ctl.c, poll_start) */
	vmsg_chan *chan; /* NULL while vmsgd is away (reconnect pending) */
	uint16_t domid;
	uint64_t reconnects;
	/* Both ends of the current control channel set
	 * VMSG_FEATURE_SVC_SETUP_MSG in their Hello. */
	bool by_msg;
	/* Names this handle offered (vmsgd said yes), offered again after a
	 * reconnect; grown as needed. */
	char (*offers)[VMSG_SERVICE_NAME_MAX + 1];
	size_t noffers, capoffers;
	uint32_t next_req;
	char err[CTL_ERR_MAX];
	struct ctl_ready q[CTL_QUEUE]; /* served.c */
	unsigned qhead, qlen;
	struct vmsg_pbw_serve parked[CTL_PARKED]; /* ctl.c: spare Serves */
	unsigned nparked;
	/* In a blocking vmsg_service_accept: the application calls the
	 * library again once it has the channel, so spares may be held back
	 * (a poller that takes one channel per wake-up might not). */
	bool may_park;
	uint64_t xnext; /* the deadline env->poll was last armed for, 0 none */
	/* vmsg__svc_leave_armed left something for the poller's next call:
	 * the fd stays readable (rearm) until that call drains it. */
	bool look_again;
	/* A blocking accept's wait on the control channel and the served
	 * channels waiting for their consumers (served.c). */
	struct vmsg_waitset ws;
	struct ctl_warm warm;  /* warm.c */
	struct ctl_ahead ahead; /* ahead.c */
	struct ctl_live *live; /* channels handed out, for Closed */
	size_t nlive, caplive;
	uint8_t msg[CTL_MSG_MAX]; /* private copy of the message being read */
	union {                   /* the message last decoded by the pump */
		struct vmsg_pbw_error error;
		struct vmsg_pbw_result result;
		struct vmsg_pbw_opened opened;
		struct vmsg_pbw_serve serve;
		struct vmsg_pbw_closed closed;
		struct vmsg_pbw_spare spare;
	} in;
};

/* Milliseconds left of timeout_ms started at start (as the channel's
 * calls take them: -1 and 0 stay, positive never below 1). */
int vmsg__svc_left(vmsg_ctl *ctl, int timeout_ms, uint64_t start);

/* Has a call with timeout_ms begun at start run out of time? (-1 never;
 * 0 always, after its first try.) */
int vmsg__svc_expired(vmsg_ctl *ctl, int timeout_ms, uint64_t start);

/* Receive one message from vmsgd, handling Serve requests on the way.
 * Returns the frame type of anything else (Result, Opened, Error), decoded
 * in ctl->in until the next call; with accept set, 0 after each Serve; or a
 * negative error (-ENOTCONN with no channel, -EAGAIN, -ETIMEDOUT, the
 * channel's). Unknown, oversized or malformed messages are skipped. */
int vmsg__svc_pump(vmsg_ctl *ctl, int accept, int timeout_ms);

/* The control channel is usable: if it is down, reconnect (retrying
 * fast-failing attempts on a dead vmsgd's stale keys every CTL_RETRY_MS
 * until the deadline), exchange Hellos and offer again what this handle
 * offered. Returns 0, -ENOTCONN (vmsgd not back by the deadline), or a
 * permanent error (-ECONNREFUSED, -EPROTONOSUPPORT, -ENOMEM, ...). */
int vmsg__svc_ensure(vmsg_ctl *ctl, int timeout_ms, uint64_t start);

/* After a failed call: if the control channel is closed or broken, drop
 * it (the next vmsg__svc_ensure reconnects) and return 1; else 0. */
int vmsg__svc_broken(vmsg_ctl *ctl);

/* A public call that may have stopped before the control channel was
 * empty (it returned with a Result, an Opened or a channel, not at
 * -EAGAIN) is about to return: leave vmsg_ctl_fd() to turn readable for
 * what vmsgd sends next, or readable now if something is there, so that
 * a poller that calls once per wake-up (or after a blocking call) misses
 * nothing. */
void vmsg__svc_leave_armed(vmsg_ctl *ctl);

/* Clear the retry timer's tick (a poller's wake-up is being handled). */
void vmsg__svc_drain(vmsg_ctl *ctl);

/* Send Offer `name` on the current channel and wait for its Result
 * (no reconnect: the caller handles a broken channel). */
int vmsg__svc_offer_once(vmsg_ctl *ctl, const char *name, int timeout_ms,
			 uint64_t start);

/* Serve the spares (Serve.after) held back for a channel that no longer
 * waits in the queue: called where a caller has nothing urgent to do (the
 * start of an offer or an open, an accept that found nothing, a close). */
void vmsg__svc_unpark(vmsg_ctl *ctl);

/* Send Closed for channel id (best effort, no answer). */
void vmsg__svc_send_closed(vmsg_ctl *ctl, uint32_t id);

/* ---- served.c: channels a provider serves, kept until their consumer
 * connects (vmsg/service.h, "Direct mode"). */

/* Queue channel c served for vmsgd's Serve `id`, with a connect deadline
 * of connect_ms (clamped to CTL_CONNECT_MIN_MS..
 * VMSG_SERVICE_CONNECT_MAX_MS; 0: the maximum). -EBUSY: queue full. */
int vmsg__svc_served_add(vmsg_ctl *ctl, vmsg_chan *c,
			 const struct vmsg_service_peer *peer, uint32_t id,
			 uint32_t connect_ms);

/* vmsg_service_close() of channel c (vmsgd's id), handed out as a
 * provider's: if its consumer was admitted and has not come, hang it up
 * and keep it queued until the consumer comes (its pages and port are
 * what it maps), vmsgd's Closed{id}, or VMSG_SERVICE_CONNECT_MAX_MS; then
 * it is closed and vmsgd told. 0 if so; -EAGAIN if c is to be closed at
 * once (its consumer came; no admission here), -EBUSY (queue full). */
int vmsg__svc_served_linger(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id);

/* vmsg_ctl_close(): close the queued channels nobody took, then wait
 * until every lingering one is over (their consumers came or went, or
 * their deadlines), reading vmsgd's Closed on the way. The queue is
 * empty on return. */
void vmsg__svc_served_settle(vmsg_ctl *ctl);

/* Arm env->poll's deadline for the earliest waiting channel, or at once
 * while ctl->look_again (or stop it), when that changed. */
void vmsg__svc_served_rearm(vmsg_ctl *ctl);

/* Watch every queued channel through env->poll (its set is new). */
int vmsg__svc_served_watch_all(vmsg_ctl *ctl);

/* Take the oldest queued channel whose consumer has connected: 0 with
 * *out (and *peer, *id) set, or -EAGAIN. Channels nobody connected to by
 * their deadline are closed first, and vmsgd told. */
int vmsg__svc_served_take(vmsg_ctl *ctl, vmsg_chan **out,
			  struct vmsg_service_peer *peer, uint32_t *id);

/* Is channel id (not 0) queued: served and not yet taken or closed? */
bool vmsg__svc_served_holds(vmsg_ctl *ctl, uint32_t id);

/* vmsgd has given queued channel id (0: none) to its consumer: admit the
 * consumer (env->admit), so that the channel can be taken now. */
void vmsg__svc_served_admit(vmsg_ctl *ctl, uint32_t id);

/* vmsgd's Closed{id}: the consumer closed or left. Close that served
 * channel if nobody has connected to it, and tell vmsgd it is gone. */
void vmsg__svc_served_closed(vmsg_ctl *ctl, uint32_t id);

/* Ms until the next connect deadline (0: one has passed, or a queued
 * channel's consumer came since vmsg__svc_served_take looked), or -1 when
 * no queued channel waits for its consumer. */
int vmsg__svc_served_wait_ms(vmsg_ctl *ctl);

/* Consume the pending events of the queued channels and the deadline
 * (a poller's wake-up: before looking at their states). */
void vmsg__svc_served_ack(vmsg_ctl *ctl);

/* Block up to ms (>= 0) for the control channel, a waiting channel's
 * consumer, or a deadline; the states are looked at after. */
void vmsg__svc_served_wait(vmsg_ctl *ctl, int ms);

/* After a reconnect: close the channels served for the old vmsgd that
 * nobody took (the new one will send no consumer), and forget the old
 * ids of those kept. */
void vmsg__svc_served_drop_unclaimed(vmsg_ctl *ctl);


/* ---- warm.c: a channel served ahead for the domain of the last Serve
 * (docs/protocol.md, "The warm channel"). */

/* Serve a channel by message for a Serve of consumer `domid`, path and
 * options o: the warm channel if it was served for the same domain and
 * options (*c, *ref, *port: at once), else env->serve_msg, remembering
 * them for the next warm-up. env->serve_msg's errors. */
int vmsg__svc_warm_serve(vmsg_ctl *ctl, uint16_t domid, const char *path,
			 const struct vmsg_chan_opts *o, vmsg_chan **c,
			 uint32_t *ref, uint32_t *port);

/* Nothing else to do (an accept about to wait): unless a served channel
 * still waits for its consumer, close a warm channel the last Serve did
 * not fit (a miss), and serve one for that Serve if there is none; after
 * a miss, only once a Serve is like the one before it (consumers taking
 * turns would cost every channel twice). */
void vmsg__svc_warm_up(vmsg_ctl *ctl);

/* Close the warm channel and forget what it was for. */
void vmsg__svc_warm_close(vmsg_ctl *ctl);

/* The largest message a channel vmsgd sets up may carry (1 GiB). */
#define VMSG__SVC_MAX_MSG_LIMIT (1u << 30)

/* What vmsgd names of a channel to connect to (Opened, Spare) can be
 * used: a path, a provider's domain, and a largest message in range. */
static inline bool vmsg__svc_chan_named_ok(const char *path, uint32_t domid,
					   uint64_t max_msg)
{
	return path[0] && domid < VMSG_DOMID_LIMIT && max_msg != 0 &&
	       max_msg <= VMSG__SVC_MAX_MSG_LIMIT;
}

/* ---- ahead.c: a spare announced (Spare) connected to during the Open
 * that takes it (docs/protocol.md, "Spare channels"). */

/* vmsgd's Spare: keep it (in place of any other) for our next Open of
 * its service. Values a library could not use are dropped. */
void vmsg__svc_ahead_note(vmsg_ctl *ctl, const struct vmsg_pbw_spare *sp);

/* Our Open of `name` is out: if a spare of it was announced, map and bind
 * it now (env->connect_early), while vmsgd answers. */
void vmsg__svc_ahead_start(vmsg_ctl *ctl, const char *name);

/* The Opened of that Open: 1 and *out the channel, come in, when it names
 * the spare made ready (same id, grant, port and provider); 0 when there
 * is none or it names another (a ready one is given up); or come's
 * error. */
int vmsg__svc_ahead_take(vmsg_ctl *ctl, const struct vmsg_pbw_opened *op,
			 vmsg_chan **out);

/* Give up a channel made ready and not taken (the Open failed, or the
 * handle goes); nothing if there is none. */
void vmsg__svc_ahead_drop(vmsg_ctl *ctl);

/* Our Open of `name` is over: give up a channel made ready and not
 * taken, and forget a Spare of that service (spent). */
void vmsg__svc_ahead_done(vmsg_ctl *ctl, const char *name);

/* vmsgd's Closed{id}: a spare announced with that id was retired. */
void vmsg__svc_ahead_closed(vmsg_ctl *ctl, uint32_t id);

/* live.c: the channels handed to the application. */

/* Remember c, handed to the caller (tagged: vmsg__chan_set_tag); first
 * tell vmsgd of those the application closed with vmsg_chan_close(). */
void vmsg__svc_track(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id,
		     bool consumer);

/* vmsg_service_close(ctl, c): forget c (its tag off), *out what was kept
 * of it. -ENOENT if c is not ours. */
int vmsg__svc_untrack(vmsg_ctl *ctl, vmsg_chan *c, struct ctl_live *out);

/* vmsgd's Closed{id}: tell channel id, if the application still has it,
 * that its peer went (env->peer_gone). */
void vmsg__svc_peer_gone(vmsg_ctl *ctl, uint32_t id);

/* The handle goes: its channels stay the application's, their tags are
 * theirs to free (or freed here if they went first). */
void vmsg__svc_live_leave(vmsg_ctl *ctl);

/* Keep vmsgd's error text, sanitised, for vmsg_ctl_error(). */
void vmsg__svc_set_err(vmsg_ctl *ctl, const char *text);

/* Grow *arr (elements of `size` bytes, *cap of them) to hold n + 1:
 * 0 or -ENOMEM. */
int vmsg__svc_grow(vmsg_ctl *ctl, void **arr, size_t *cap, size_t n,
		   size_t size);

/* ctl_errors.c: after attaching failed by the deadline for a reason that
 * retrying could have cured (the last attempt's error: `last`), what
 * stood in the way: -ENOENT (no vmsgd
 * serves our domain), -EBUSY (another process holds its control
 * channel) or -ETIMEDOUT. */
int vmsg__svc_why_not(vmsg_ctl *ctl, int last);

#endif
