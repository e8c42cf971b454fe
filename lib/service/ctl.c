/* The control channel to vmsgd: connect, Hello, reconnect after a vmsgd
 * restart, and the receive pump that answers vmsgd's Serve requests
 * whenever the caller waits for anything (so a domain that both offers and
 * opens never deadlocks). Freestanding: the world is ctl->env
 * (service_private.h). */
#include <vmsg/control.h>

#include "service_private.h"
#include "vmsg_errno.h"
#include "vmsg_fmt.h"
#include "vmsg_string.h"
#include "vmsg_text.h"

int vmsg__svc_left(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	if (timeout_ms <= 0)
		return timeout_ms;
	uint64_t spent = ctl->env->now_ms() - start;
	return spent >= (uint64_t)timeout_ms ? 1 : timeout_ms - (int)spent;
}

int vmsg__svc_expired(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	if (timeout_ms < 0)
		return 0;
	if (timeout_ms == 0)
		return 1;
	return ctl->env->now_ms() - start >= (uint64_t)timeout_ms;
}

void vmsg__svc_set_err(vmsg_ctl *ctl, const char *text)
{
	(void)vmsg__text_copy(ctl->err, sizeof ctl->err, text);
}

int vmsg__svc_grow(vmsg_ctl *ctl, void **arr, size_t *cap, size_t n,
		   size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = ctl->env->alloc(ncap * size);
	if (!p)
		return -ENOMEM;
	if (*arr) {
		vmsg__memcpy(p, *arr, n * size);
		ctl->env->free(*arr, *cap * size);
	}
	*arr = p;
	*cap = ncap;
	return 0;
}

int vmsg_service_name_ok(const char *name)
{
	if (!name)
		return 0;
	size_t n = 0;
	for (; name[n]; n++) {
		char ch = name[n];
		if (n >= VMSG_SERVICE_NAME_MAX ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return 0;
	}
	return n > 0;
}

/* Errors that retrying cannot cure. Everything else met while connecting
 * (-EBUSY, -EPROTO, -EPIPE, ... from the stale keys of a killed vmsgd,
 * whose ports and grants are gone; -ENOENT before it serves) is retried
 * until the deadline. */
static int permanent(int r)
{
	return r == -ECONNREFUSED || r == -EPROTONOSUPPORT || r == -ENOMEM ||
	       r == -EMFILE || r == -ENFILE || r == -ESRCH || r == -EINVAL;
}

void vmsg__svc_drain(vmsg_ctl *ctl)
{
	ctl->look_again = false; /* the call it was for is here */
	if (ctl->os)
		ctl->env->poll->drain(ctl->os);
}

void vmsg__svc_leave_armed(vmsg_ctl *ctl)
{
	if (!ctl->os || !ctl->chan)
		return;
	/* Finding the ring empty, the peek asks vmsgd for its kick (the fd
	 * turns readable at vmsgd's next message). Anything else (a
	 * message not read yet, the channel's end) is for the poller's next
	 * call: readable now, and looked at again by the next rearm. */
	struct vmsg_msg m;
	if (vmsg_chan_peek(ctl->chan, &m, 0) != -EAGAIN) {
		ctl->look_again = true;
		vmsg__svc_served_rearm(ctl);
	}
}

static bool msg_capable(const struct vmsg__svc_env *env)
{
	return env->serve_msg && env->connect_msg && env->peer_gone;
}

/* One attempt: connect to our control channel, exchange Hellos. In host
 * mode the target's rendezvous gives the channel and our number for this
 * connection (a new one at each reconnect). */
static int attach_once(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = CTL_MSG_MAX;
	vmsg_chan *c;
	int r;
	if (ctl->env->ctl_connect) {
		uint16_t id = 0;
		r = ctl->env->ctl_connect(&c, &id, &o,
					  vmsg__svc_left(ctl, timeout_ms,
							 start));
		if (r < 0)
			return r;
		ctl->domid = id;
	} else {
		char path[64];
		vmsg__snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u",
			       (unsigned)ctl->domid);
		r = ctl->env->connect(&c, 0, 0, path, &o,
				      vmsg__svc_left(ctl, timeout_ms, start));
		if (r < 0)
			return r;
	}
	/* A caller that may not wait still gets the Hello: vmsgd sends it
	 * as soon as it sees us. */
	int hs = timeout_ms == 0 ? CTL_HANDSHAKE_MS
				 : vmsg__svc_left(ctl, timeout_ms, start);
	struct vmsg_hello_info ours, peer;
	vmsg_hello_info_init(&ours, "vmsg-service", vmsg_chan_max_msg(c));
	/* Setup by message where this world can do it (docs/protocol.md):
	 * vmsgd then never asks us for a xenstore path, nor hands us one. */
	if (msg_capable(ctl->env))
		ours.features |= VMSG_FEATURE_SVC_SETUP_MSG |
				 VMSG_FEATURE_SVC_ADMIT;
	if (msg_capable(ctl->env) && ctl->env->connect_early)
		ours.features |= VMSG_FEATURE_SVC_SPARE;
	peer.error[0] = '\0';
	r = vmsg_hello_exchange_ex(c, &ours, &peer, hs);
	if (r == 0 && ctl->os)
		r = ctl->env->poll->attached(ctl->os, c);
	if (r < 0) {
		vmsg__svc_set_err(ctl, peer.error);
		vmsg_chan_close(c);
		return r;
	}
	ctl->chan = c;
	ctl->by_msg = (ours.features & peer.features &
		       VMSG_FEATURE_SVC_SETUP_MSG) != 0;
	return 0;
}

/* Attempts until one works, a permanent error, or the deadline. */
static int attach(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	for (;;) {
		int r = attach_once(ctl, timeout_ms, start);
		if (r == 0 || permanent(r) ||
		    vmsg__svc_expired(ctl, timeout_ms, start))
			return r;
		uint64_t ms = CTL_RETRY_MS;
		if (timeout_ms > 0) {
			uint64_t spent = ctl->env->now_ms() - start;
			if ((uint64_t)timeout_ms - spent < ms)
				ms = (uint64_t)timeout_ms - spent;
		}
		ctl->env->sleep_ms((unsigned)ms);
	}
}

/* The channel is gone: forget it. Channels already handed out stay the
 * caller's (they are direct, vmsgd is not in them), but their ids were
 * the old vmsgd's: no Closed is sent for them any more. */
static void drop(vmsg_ctl *ctl)
{
	if (!ctl->chan)
		return;
	if (ctl->os)
		ctl->env->poll->detached(ctl->os, ctl->chan, CTL_RETRY_MS);
	vmsg_chan_close(ctl->chan);
	ctl->chan = NULL;
	for (size_t i = 0; i < ctl->nlive; i++)
		ctl->live[i].id = 0;
}

int vmsg__svc_broken(vmsg_ctl *ctl)
{
	if (!ctl->chan)
		return 1;
	int st = vmsg_chan_state(ctl->chan);
	if (st != VMSG_CHAN_CLOSED && st != VMSG_CHAN_BROKEN)
		return 0;
	drop(ctl);
	return 1;
}

/* Offer again what this handle offered. A name vmsgd now refuses (taken
 * by another domain meanwhile, or no longer allowed) is no longer ours. */
static int reoffer(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	if (timeout_ms == 0) {
		timeout_ms = CTL_HANDSHAKE_MS;
		start = ctl->env->now_ms();
	}
	for (size_t i = 0; i < ctl->noffers;) {
		int r = vmsg__svc_offer_once(ctl, ctl->offers[i], timeout_ms,
					     start);
		if (r == 0) {
			i++;
			continue;
		}
		if (vmsg__svc_broken(ctl))
			return -EPIPE;
		if (r == -ETIMEDOUT || r == -EAGAIN) {
			i++; /* sent; vmsgd may still take it */
			continue;
		}
		vmsg__memmove(ctl->offers[i], ctl->offers[i + 1],
			      (ctl->noffers - i - 1) * sizeof ctl->offers[0]);
		ctl->noffers--;
	}
	return 0;
}

int vmsg__svc_ensure(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	while (!ctl->chan) {
		int r = attach(ctl, timeout_ms, start);
		if (r < 0)
			return permanent(r) ? r : -ENOTCONN;
		ctl->reconnects++;
		/* Channels served for the old vmsgd whose consumer never
		 * came will not get one now (vmsgd forgot them). */
		vmsg__svc_served_drop_unclaimed(ctl);
		ctl->nparked = 0;
		r = reoffer(ctl, timeout_ms, start);
		if (r == 0)
			return 0;
		if (vmsg__svc_expired(ctl, timeout_ms, start))
			return -ENOTCONN;
	}
	return 0;
}

/* Control handles open in this process: the Xen handles prepared ahead
 * of channels (env->prepare) are the process's, shared by all of them. */
static unsigned ctls_open;

static void ctl_free(vmsg_ctl *ctl)
{
	const struct vmsg__svc_env *env = ctl->env;
	/* An idle process holds nothing: the last handle to close drops the
	 * prepared handles of both roles; an earlier one leaves them to the
	 * others, whose next channel would otherwise open its own on the
	 * clock. */
	if (__atomic_sub_fetch(&ctls_open, 1, __ATOMIC_ACQ_REL) == 0 &&
	    env->unprepare) {
		env->unprepare(true);
		env->unprepare(false);
	}
	if (ctl->os)
		env->poll->close(ctl->os);
	vmsg__svc_ahead_drop(ctl);
	vmsg__svc_live_leave(ctl);
	if (ctl->offers)
		env->free(ctl->offers, ctl->capoffers * sizeof ctl->offers[0]);
	if (ctl->live)
		env->free(ctl->live, ctl->caplive * sizeof ctl->live[0]);
	env->free(ctl, sizeof *ctl);
}

int vmsg__ctl_open(vmsg_ctl **out, const struct vmsg__svc_env *env,
		   int timeout_ms)
{
	if (!out || !env)
		return -EINVAL;
	const uint64_t start = env->now_ms();
	vmsg_ctl *ctl = env->alloc(sizeof *ctl); /* zeroed */
	if (!ctl)
		return -ENOMEM;
	(void)__atomic_add_fetch(&ctls_open, 1, __ATOMIC_ACQ_REL);
	ctl->env = env;
	ctl->next_req = 1;
	int r = env->own_domid();
	if (r < 0)
		goto fail;
	if ((unsigned)r >= VMSG_DOMID_LIMIT) {
		r = -EIO; /* our own store is wrong */
		goto fail;
	}
	ctl->domid = (uint16_t)r;
	r = attach(ctl, timeout_ms, start);
	if (r < 0 && !permanent(r))
		r = vmsg__svc_why_not(ctl, r); /* what the header promises */
	if (r < 0)
		goto fail;
	*out = ctl;
	return 0;
fail:
	ctl_free(ctl);
	return r;
}

void vmsg_ctl_close(vmsg_ctl *ctl)
{
	if (!ctl)
		return;
	vmsg__svc_served_settle(ctl); /* empties the queue */
	vmsg__svc_warm_close(ctl);
	if (ctl->chan && ctl->os)
		ctl->env->poll->detached(ctl->os, ctl->chan, 0);
	vmsg_chan_close(ctl->chan);
	ctl_free(ctl);
}

int vmsg_ctl_domid(vmsg_ctl *ctl)
{
	return ctl ? ctl->domid : -EINVAL;
}

/* vmsg_ctl_fd()'s set is made at its first call, not with the handle:
 * a program that never polls it (a blocking accept, a consumer) pays for
 * no epoll set and timers, nor for the system calls that keep them on
 * each served channel (two on the way to a Serve's answer, two more when
 * accept hands the channel out). Made late, the set takes in what the
 * handle holds by then, and turns readable at once if a message waits. */
static int poll_start(vmsg_ctl *ctl)
{
	const struct vmsg__svc_poll_ops *po = ctl->env->poll;
	int r = po->open(&ctl->os);
	if (r < 0)
		return r;
	if (ctl->chan)
		r = po->attached(ctl->os, ctl->chan);
	else /* vmsgd is away: tick, so that the poller reconnects */
		po->detached(ctl->os, NULL, CTL_RETRY_MS);
	if (r == 0)
		r = vmsg__svc_served_watch_all(ctl);
	if (r < 0) {
		po->close(ctl->os);
		ctl->os = NULL;
		return r;
	}
	ctl->xnext = 0; /* a new timer is disarmed */
	vmsg__svc_leave_armed(ctl);
	vmsg__svc_served_rearm(ctl);
	return 0;
}

int vmsg_ctl_fd(vmsg_ctl *ctl)
{
	if (!ctl)
		return -EINVAL;
	if (!ctl->env->poll)
		return -ENOTSUP;
	if (!ctl->os) {
		int r = poll_start(ctl);
		if (r < 0)
			return r;
	}
	return ctl->env->poll->fd(ctl->os);
}

const char *vmsg_ctl_error(vmsg_ctl *ctl)
{
	return ctl ? ctl->err : "";
}

/* ---- vmsgd's Serve requests */

static void serve_reply_msg(vmsg_ctl *ctl, uint32_t id, int code,
			    const char *text, uint32_t ring_ref, uint32_t port)
{
	struct vmsg_pbw_serve_result sr;
	vmsg__memset(&sr, 0, sizeof sr);
	sr.serve_id = id;
	sr.code = code;
	sr.ring_ref = ring_ref;
	sr.event_port = port;
	(void)vmsg__text_copy(sr.text, sizeof sr.text, text);
	/* Small, and vmsgd reads its control channels promptly; a full ring
	 * means vmsgd is stuck, and the next call will see the error. */
	(void)vmsg__pbw_send(ctl->chan, VMSG_TYPE_SVC_SERVE_RESULT,
			     &vmsg__pbw_serve_result_desc, &sr, 5000);
}

static void serve_reply(vmsg_ctl *ctl, uint32_t id, int code,
			const char *text)
{
	serve_reply_msg(ctl, id, code, text, 0, 0);
}

static int has_dotdot(const char *s)
{
	for (; s[0]; s++)
		if (s[0] == '.' && s[1] == '.')
			return 1;
	return 0;
}

/* vmsgd asks us to serve a channel. The values come from dom0, but are
 * still checked: the path must lie under our own tree. */
static void handle_serve(vmsg_ctl *ctl, const struct vmsg_pbw_serve *s)
{
	char prefix[VMSG_PBW_PATH_CAP];
	int n = ctl->env->serve_prefix
			? ctl->env->serve_prefix(prefix, sizeof prefix,
						 ctl->domid)
			: vmsg__snprintf(prefix, sizeof prefix,
					 "/local/domain/%u/data/vmsg/",
					 (unsigned)ctl->domid);
	/* Something below the prefix, not the prefix itself. */
	if (n <= 0 || (size_t)n >= sizeof prefix ||
	    __builtin_strlen(s->path) <= (size_t)n ||
	    __builtin_memcmp(s->path, prefix, (size_t)n) != 0 ||
	    has_dotdot(s->path) || s->consumer_domid >= VMSG_DOMID_LIMIT ||
	    s->relayed_for >= VMSG_DOMID_LIMIT ||
	    (s->relayed_for && s->consumer_domid != 0) ||
	    !vmsg_service_name_ok(s->service) || s->max_msg == 0 ||
	    s->max_msg > VMSG__SVC_MAX_MSG_LIMIT) {
		serve_reply(ctl, s->serve_id, -EINVAL, "bad serve request");
		return;
	}
	if (ctl->qlen == CTL_QUEUE) {
		serve_reply(ctl, s->serve_id, -EBUSY,
			    "provider's accept queue is full");
		return;
	}
	if (s->serve_id == 0) { /* 0 marks an earlier vmsgd's channels */
		serve_reply(ctl, s->serve_id, -EINVAL, "bad serve request");
		return;
	}
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	if (s->rx_ring_size)
		o.rx_ring_size = s->rx_ring_size;
	if (s->tx_ring_size)
		o.tx_ring_size = s->tx_ring_size;
	o.max_msg = (size_t)s->max_msg;
	if (s->by_message > 1 ||
	    (s->by_message && !(ctl->by_msg && msg_capable(ctl->env)))) {
		/* Never asked of a library that did not announce it. */
		serve_reply(ctl, s->serve_id, -EPROTO,
			    "setup by message was not agreed");
		return;
	}
	vmsg_chan *c;
	uint32_t ref = 0, port = 0;
	int r = s->by_message
			? vmsg__svc_warm_serve(ctl, (uint16_t)s->consumer_domid,
					       s->path, &o, &c, &ref, &port)
			: ctl->env->serve(&c, (uint16_t)s->consumer_domid,
					  s->consumer_uid, s->path, &o);
	if (r < 0) {
		serve_reply(ctl, s->serve_id, r, vmsg_strerror(r));
		return;
	}
	struct vmsg_service_peer peer;
	vmsg__memset(&peer, 0, sizeof peer);
	/* A relayed channel's end is vmsgd's (domain 0), but vmsgd names
	 * the domain it relays for: that is who the provider serves. */
	peer.domid = (uint16_t)(s->relayed_for ? s->relayed_for
					       : s->consumer_domid);
	peer.channel_id = s->serve_id;
	vmsg__memcpy(peer.service, s->service, sizeof peer.service);
	r = vmsg__svc_served_add(ctl, c, &peer, s->serve_id,
				 s->connect_timeout_ms);
	if (r < 0) {
		vmsg_chan_close(c);
		serve_reply(ctl, s->serve_id, r, vmsg_strerror(r));
		return;
	}
	/* vmsgd answers the consumer's Open with what we answer now: it is
	 * coming. Admitted, the channel is handed out by our accept at once,
	 * and what the application sends first is in the ring by the time the
	 * consumer has mapped it (docs/protocol.md, "Admitted clients"). */
	if (s->by_message && s->admit)
		vmsg__svc_served_admit(ctl, s->serve_id);
	serve_reply_msg(ctl, s->serve_id, 0, "", ref, port);
}

/* ---- spare Serves (docs/protocol.md, "Spare channels") */

/* A spare asked right after channel `after` opened is served once that
 * channel has left the queue (its consumer came and it was taken, or it
 * was closed): its grants and port are then not set up while that
 * consumer connects, a wait the consumer would see. Only in a blocking
 * accept, whose caller comes back: a poller that took its one channel
 * and went back to poll would leave the spare unserved, and the open
 * that takes it waiting. */
static void serve_or_park(vmsg_ctl *ctl, const struct vmsg_pbw_serve *s)
{
	/* vmsgd asks for the spare after channel `after` right after it has
	 * answered that channel's Open: its consumer has it and is mapping
	 * it now. Admit it, so that our accept hands it out and what the
	 * application sends first is in the ring when the consumer looks
	 * (its kick, and our wake-up on it, are not waited for). */
	vmsg__svc_served_admit(ctl, s->after);
	if (s->after && ctl->may_park && ctl->nparked < CTL_PARKED &&
	    vmsg__svc_served_holds(ctl, s->after)) {
		ctl->parked[ctl->nparked++] = *s;
		return;
	}
	handle_serve(ctl, s);
}

void vmsg__svc_unpark(vmsg_ctl *ctl)
{
	bool served = false;
	for (unsigned i = 0; i < ctl->nparked;) {
		if (vmsg__svc_served_holds(ctl, ctl->parked[i].after)) {
			i++;
			continue;
		}
		struct vmsg_pbw_serve s = ctl->parked[i];
		ctl->parked[i] = ctl->parked[--ctl->nparked];
		handle_serve(ctl, &s);
		served = true;
	}
	/* And the handles of the channel after it, while nobody waits
	 * (accept would open them before its wait: during an open). */
	if (served && ctl->env->prepare)
		(void)ctl->env->prepare(true);
}

/* vmsgd retired spare `id` before we served it: forget it. */
static void unpark_retired(vmsg_ctl *ctl, uint32_t id)
{
	for (unsigned i = 0; i < ctl->nparked; i++)
		if (ctl->parked[i].serve_id == id) {
			ctl->parked[i] = ctl->parked[--ctl->nparked];
			return;
		}
}

/* ---- receiving */

static const struct vmsg_pbw_desc *desc_of(uint16_t type)
{
	switch (type) {
	case VMSG_TYPE_ERROR:
		return &vmsg__pbw_error_desc;
	case VMSG_TYPE_SVC_RESULT:
		return &vmsg__pbw_result_desc;
	case VMSG_TYPE_SVC_OPENED:
		return &vmsg__pbw_opened_desc;
	case VMSG_TYPE_SVC_SERVE:
		return &vmsg__pbw_serve_desc;
	case VMSG_TYPE_SVC_CLOSED:
		return &vmsg__pbw_closed_desc;
	case VMSG_TYPE_SVC_SPARE:
		return &vmsg__pbw_spare_desc;
	default:
		return NULL;
	}
}

int vmsg__svc_pump(vmsg_ctl *ctl, int accept, int timeout_ms)
{
	const uint64_t start = ctl->env->now_ms();
	if (!ctl->chan)
		return -ENOTCONN;
	for (;;) {
		uint16_t type;
		int r = vmsg__pbw_take(ctl->chan, &type, ctl->msg,
				       sizeof ctl->msg,
				       vmsg__svc_left(ctl, timeout_ms, start));
		if (r == -ENOBUFS)
			continue; /* oversized: not ours to understand */
		if (r < 0)
			return r;
		const struct vmsg_pbw_desc *d = desc_of(type);
		/* Not ours to understand (a newer vmsgd), or malformed: skip. */
		if (!d || vmsg__pbw_decode(d, &ctl->in, ctl->msg, (size_t)r) < 0)
			continue;
		if (type == VMSG_TYPE_SVC_SPARE) {
			vmsg__svc_ahead_note(ctl, &ctl->in.spare);
			if (accept)
				return 0;
			continue;
		}
		if (type == VMSG_TYPE_SVC_SERVE ||
		    type == VMSG_TYPE_SVC_CLOSED) {
			if (type == VMSG_TYPE_SVC_SERVE) {
				struct vmsg_pbw_serve s = ctl->in.serve;
				serve_or_park(ctl, &s);
			} else {
				/* The consumer of a channel we served left,
				 * or the provider of one we opened. */
				uint32_t id = ctl->in.closed.channel_id;
				vmsg__svc_served_closed(ctl, id);
				unpark_retired(ctl, id);
				vmsg__svc_peer_gone(ctl, id);
				vmsg__svc_ahead_closed(ctl, id);
			}
			if (accept)
				return 0; /* accept's pump: one step done */
			continue;
		}
		return type;
	}
}

void vmsg__svc_send_closed(vmsg_ctl *ctl, uint32_t id)
{
	if (!ctl->chan || id == 0)
		return;
	struct vmsg_pbw_closed cl = {id};
	(void)vmsg__pbw_send(ctl->chan, VMSG_TYPE_SVC_CLOSED,
			     &vmsg__pbw_closed_desc, &cl, 1000);
}

