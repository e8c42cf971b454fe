/* Channels a provider's library has served for vmsgd and keeps until
 * their consumer connects (vmsg/service.h, "Direct mode"). Freestanding,
 * as the rest of the client.
 *
 * A consumer is untrusted: it can have vmsgd broker a channel and then
 * never connect, and each served channel holds grants, an event port,
 * xenstore keys (and on Linux fds) in the provider's domain. So a served
 * channel is the library's, not the application's, until its consumer is
 * in; it is closed when vmsgd says the consumer closed or left (Closed),
 * and at the latest at its connect deadline, whatever vmsgd says. Each
 * close of one nobody took is told to vmsgd with Closed{id}, so that
 * vmsgd stops counting it against the consumer.
 *
 * Lingering: a channel handed out admitted (its consumer may still be
 * mapping the pages: docs/protocol.md, "Admitted clients") that the
 * application closes with vmsg_service_close() before its consumer came
 * is hung up, not released: what was sent stays in the ring, and the
 * pages and port stay for the consumer. It comes back into the queue,
 * where it waits as a served channel does, and is closed, and vmsgd told,
 * once its consumer came (the consumer kicks a server it finds gone), or
 * vmsgd says it closed or left, or at its deadline.
 *
 * Waking: a blocking accept waits on a wait set of the control channel
 * and the waiting channels (a consumer's connect kicks the server's port:
 * lib/chan/chan.c), up to the next deadline: the same in both worlds.
 * Where the target has a pollable fd (Linux) and the application asked
 * for it, each waiting channel is watched through it too and a deadline
 * armed there, so a poller of vmsg_ctl_fd() wakes when a consumer
 * connects or a deadline comes. */
#include "service_private.h"
#include "vmsg_chan_internal.h"
#include "vmsg_errno.h"

static struct ctl_ready *at(vmsg_ctl *ctl, unsigned i)
{
	return &ctl->q[(ctl->qhead + i) % CTL_QUEUE];
}

/* Does entry e wait for its consumer? A lingering one, until the
 * consumer moved the live byte we admitted it with. */
static bool waiting(struct ctl_ready *e)
{
	if (e->linger)
		return vmsg__chan_admitted(e->c);
	return vmsg_chan_state(e->c) == VMSG_CHAN_WAITING;
}

/* Arm the poller's deadline for the earliest waiting channel (or stop
 * it), when it changed. */
void vmsg__svc_served_rearm(vmsg_ctl *ctl)
{
	uint64_t next = 0;
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		if (waiting(e) && (!next || e->expires_ms < next))
			next = e->expires_ms;
	}
	/* Something waits for the poller's next call (vmsg__svc_leave_
	 * armed): due at once, whatever else is armed meanwhile (a timer
	 * set again forgets that it had expired). */
	if (ctl->look_again)
		next = 1;
	if (next == ctl->xnext || !ctl->os)
		return; /* armed for it already (or idle, or no fd) */
	ctl->xnext = next;
	int ms = -1;
	if (next) {
		uint64_t now = ctl->env->now_ms();
		ms = next > now ? (int)(next - now) : 0;
	}
	ctl->env->poll->deadline(ctl->os, ms);
}

int vmsg__svc_served_watch_all(vmsg_ctl *ctl)
{
	for (unsigned i = 0; i < ctl->qlen; i++) {
		int r = ctl->env->poll->watch(ctl->os, at(ctl, i)->c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Drop entry i from the queue, keeping the order of the others. */
static void unqueue(vmsg_ctl *ctl, unsigned i)
{
	if (ctl->os)
		ctl->env->poll->unwatch(ctl->os, at(ctl, i)->c);
	for (; i + 1 < ctl->qlen; i++)
		*at(ctl, i) = *at(ctl, i + 1);
	ctl->qlen--;
}

/* Close entry i, which nobody took, and tell vmsgd. */
static void drop(vmsg_ctl *ctl, unsigned i)
{
	struct ctl_ready e = *at(ctl, i);
	unqueue(ctl, i);
	vmsg_chan_close(e.c);
	vmsg__svc_send_closed(ctl, e.id);
}

static int enqueue(vmsg_ctl *ctl, vmsg_chan *c,
		   const struct vmsg_service_peer *peer, uint32_t id,
		   uint32_t connect_ms, bool linger)
{
	if (ctl->qlen == CTL_QUEUE)
		return -EBUSY;
	if (ctl->os) {
		int r = ctl->env->poll->watch(ctl->os, c);
		if (r < 0)
			return r;
	}
	struct ctl_ready *e = at(ctl, ctl->qlen++);
	e->c = c;
	e->peer = *peer;
	e->id = id;
	e->expires_ms = ctl->env->now_ms() + connect_ms;
	e->linger = linger;
	vmsg__svc_served_rearm(ctl);
	return 0;
}

int vmsg__svc_served_add(vmsg_ctl *ctl, vmsg_chan *c,
			 const struct vmsg_service_peer *peer, uint32_t id,
			 uint32_t connect_ms)
{
	if (connect_ms == 0 || connect_ms > VMSG_SERVICE_CONNECT_MAX_MS)
		connect_ms = VMSG_SERVICE_CONNECT_MAX_MS;
	if (connect_ms < CTL_CONNECT_MIN_MS)
		connect_ms = CTL_CONNECT_MIN_MS;
	return enqueue(ctl, c, peer, id, connect_ms, false);
}

int vmsg__svc_served_linger(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id)
{
	if (!ctl->env->admit || !vmsg__chan_admitted(c))
		return -EAGAIN; /* its consumer came (or this world admits
				   nobody): an ordinary close */
	const struct vmsg_service_peer none = {0};
	vmsg__chan_hangup(c);
	/* The consumer's whole connect deadline, whatever it had left:
	 * vmsgd's Closed ends it sooner if the consumer goes. */
	return enqueue(ctl, c, &none, id, VMSG_SERVICE_CONNECT_MAX_MS, true);
}

/* Close the entries that are over: nobody came by the deadline, or a
 * lingering one's consumer came (the pages are its now: it reads what
 * was sent, then the close). */
static void reap(vmsg_ctl *ctl)
{
	const uint64_t now = ctl->env->now_ms();
	for (unsigned i = 0; i < ctl->qlen;) {
		struct ctl_ready *e = at(ctl, i);
		if (waiting(e) ? now >= e->expires_ms : e->linger)
			drop(ctl, i);
		else
			i++;
	}
}

int vmsg__svc_served_take(vmsg_ctl *ctl, vmsg_chan **out,
			  struct vmsg_service_peer *peer, uint32_t *id)
{
	int r = -EAGAIN;
	reap(ctl);
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		if (waiting(e))
			continue;
		/* The consumer is in (or came and already left, or broke
		 * the protocol: the application learns that from the
		 * channel, after whatever it sent). */
		*out = e->c;
		if (peer)
			*peer = e->peer;
		*id = e->id;
		unqueue(ctl, i);
		r = 0;
		break;
	}
	vmsg__svc_served_rearm(ctl);
	return r;
}

void vmsg__svc_served_admit(vmsg_ctl *ctl, uint32_t id)
{
	for (unsigned i = 0; id && ctl->env->admit && i < ctl->qlen; i++)
		if (at(ctl, i)->id == id && !at(ctl, i)->linger) {
			(void)ctl->env->admit(at(ctl, i)->c);
			return;
		}
}

bool vmsg__svc_served_holds(vmsg_ctl *ctl, uint32_t id)
{
	for (unsigned i = 0; id && i < ctl->qlen; i++)
		if (at(ctl, i)->id == id && !at(ctl, i)->linger)
			return true;
	return false;
}

void vmsg__svc_served_closed(vmsg_ctl *ctl, uint32_t id)
{
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		if (e->id != id || id == 0)
			continue;
		/* Connected meanwhile: what the consumer sent before it
		 * closed is delivered; the application sees the close. A
		 * lingering one is over either way. */
		if (e->linger || waiting(e)) {
			drop(ctl, i);
			vmsg__svc_served_rearm(ctl);
		}
		return;
	}
	/* Not ours any more: handed out (the application closes it, with
	 * vmsg_service_close) or already closed and told. */
}

/* Has a consumer come since the caller's take looked? Then there must be
 * no wait: one that left its channel out (a channel that has come is no
 * longer watched as waiting) would sleep through it, to the next
 * deadline. The caller takes it instead. */
static bool one_came(vmsg_ctl *ctl)
{
	for (unsigned i = 0; i < ctl->qlen; i++)
		if (!waiting(at(ctl, i)))
			return true;
	return false;
}

int vmsg__svc_served_wait_ms(vmsg_ctl *ctl)
{
	if (one_came(ctl))
		return 0;
	const uint64_t now = ctl->env->now_ms();
	int best = -1;
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		uint64_t left = e->expires_ms > now ? e->expires_ms - now : 0;
		if (best < 0 || left < (uint64_t)best)
			best = (int)left;
	}
	return best;
}

void vmsg__svc_served_ack(vmsg_ctl *ctl)
{
	for (unsigned i = 0; i < ctl->qlen; i++)
		(void)vmsg_chan_ack(at(ctl, i)->c);
}

void vmsg__svc_served_wait(vmsg_ctl *ctl, int ms)
{
	struct vmsg_waitset *ws = &ctl->ws;
	if (one_came(ctl))
		return;
	vmsg_waitset_init(ws);
	if (ctl->chan)
		(void)vmsg_waitset_add(ws, ctl->chan, NULL);
	for (unsigned i = 0; i < ctl->qlen; i++)
		(void)vmsg_waitset_add(ws, at(ctl, i)->c, NULL);
	struct vmsg_waitset_event ev[8];
	/* Events are consumed by the wait; the caller looks at the states
	 * (and reads the control channel with timeout 0) after it, so no
	 * wake-up is lost. A set that cannot wait: a short sleep instead. */
	if (vmsg_waitset_count(ws) == 0 ||
	    vmsg_waitset_wait(ws, ev, 8, ms) < 0)
		ctl->env->sleep_ms(ms < CTL_RETRY_MS ? (unsigned)ms
						     : CTL_RETRY_MS);
	vmsg_waitset_init(ws);
}

void vmsg__svc_served_drop_unclaimed(vmsg_ctl *ctl)
{
	for (unsigned i = 0; i < ctl->qlen;) {
		struct ctl_ready *e = at(ctl, i);
		/* The old id means nothing to the new vmsgd. */
		e->id = 0;
		if (waiting(e)) {
			vmsg_chan *c = e->c;
			unqueue(ctl, i);
			vmsg_chan_close(c);
			continue;
		}
		i++;
	}
	vmsg__svc_served_rearm(ctl);
}

void vmsg__svc_served_settle(vmsg_ctl *ctl)
{
	for (;;) {
		/* The channels nobody took go at once (vmsg_ctl_close), also
		 * one a Serve read below has just made. */
		for (unsigned i = 0; i < ctl->qlen;) {
			if (at(ctl, i)->linger) {
				i++;
				continue;
			}
			vmsg_chan *c = at(ctl, i)->c;
			unqueue(ctl, i);
			vmsg_chan_close(c);
		}
		reap(ctl);
		int ms = vmsg__svc_served_wait_ms(ctl);
		if (ms < 0)
			return; /* none left */
		/* vmsgd's Closed for a consumer that went ends its wait. */
		int r = ctl->chan ? vmsg__svc_pump(ctl, 1, 0) : -ENOTCONN;
		if (r >= 0)
			continue;
		if (r != -EAGAIN)
			(void)vmsg__svc_broken(ctl); /* no reconnect now */
		vmsg__svc_served_wait(ctl, ms);
	}
}
