/* Named services over the control channel: offer, open, accept, close.
 * Freestanding, as ctl.c. */
#include "service_private.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

/* Wait for the answer to request `req_id`: a Result (returns its code), an
 * Opened (returns 1, in ctl->in.opened), or an Error (its code). Serve
 * requests met on the way are handled by the pump. */
static int await(vmsg_ctl *ctl, uint32_t req_id, int want_opened,
		 int timeout_ms, uint64_t start)
{
	for (;;) {
		int t = vmsg__svc_pump(ctl, 0,
				       vmsg__svc_left(ctl, timeout_ms, start));
		if (t < 0)
			return t;
		if (t == VMSG_TYPE_SVC_RESULT) {
			const struct vmsg_pbw_result *res = &ctl->in.result;
			if (res->req_id != req_id)
				continue; /* a stale answer */
			vmsg__svc_set_err(ctl, res->text);
			/* vmsgd's codes are negative errno values; anything
			 * else is not a code we can pass on. */
			if (res->code > 0 || res->code < -4095)
				return -EPROTO;
			return res->code;
		}
		if (t == VMSG_TYPE_SVC_OPENED && want_opened) {
			if (ctl->in.opened.req_id != req_id)
				continue;
			return 1;
		}
		if (t == VMSG_TYPE_ERROR) {
			const struct vmsg_pbw_error *e = &ctl->in.error;
			vmsg__svc_set_err(ctl, e->text);
			return (e->code < 0 && e->code >= -4095) ? e->code
								 : -EPROTO;
		}
	}
}

int vmsg__svc_offer_once(vmsg_ctl *ctl, const char *name, int timeout_ms,
			 uint64_t start)
{
	struct vmsg_pbw_offer o;
	vmsg__memset(&o, 0, sizeof o);
	o.req_id = ctl->next_req++;
	vmsg__memcpy(o.service, name, __builtin_strlen(name) + 1);
	int r = vmsg__pbw_send(ctl->chan, VMSG_TYPE_SVC_OFFER,
			       &vmsg__pbw_offer_desc, &o,
			       vmsg__svc_left(ctl, timeout_ms, start));
	if (r < 0)
		return r;
	r = await(ctl, o.req_id, 0, timeout_ms, start);
	return r > 0 ? -EPROTO : r;
}

/* Keep `name` for offering again after a reconnect. */
static int remember_offer(vmsg_ctl *ctl, const char *name)
{
	for (size_t i = 0; i < ctl->noffers; i++)
		if (!__builtin_memcmp(ctl->offers[i], name,
				      __builtin_strlen(name) + 1))
			return 0;
	int r = vmsg__svc_grow(ctl, (void **)&ctl->offers, &ctl->capoffers,
			       ctl->noffers, sizeof ctl->offers[0]);
	if (r < 0)
		return r;
	vmsg__memcpy(ctl->offers[ctl->noffers++], name,
		     __builtin_strlen(name) + 1);
	return 0;
}

/* A request failed with r: go round again (after reconnecting) if the
 * control channel broke and the call has time left. */
static int again(vmsg_ctl *ctl, int r, int timeout_ms, uint64_t start)
{
	return r < 0 && vmsg__svc_broken(ctl) &&
	       !vmsg__svc_expired(ctl, timeout_ms, start);
}

int vmsg_service_offer(vmsg_ctl *ctl, const char *name, int timeout_ms)
{
	if (!ctl || !vmsg_service_name_ok(name))
		return -EINVAL;
	const uint64_t start = ctl->env->now_ms();
	int r;
	vmsg__svc_unpark(ctl);
	do {
		ctl->err[0] = '\0';
		r = vmsg__svc_ensure(ctl, timeout_ms, start);
		if (r < 0)
			return r;
		r = vmsg__svc_offer_once(ctl, name, timeout_ms, start);
	} while (again(ctl, r, timeout_ms, start));
	vmsg__svc_leave_armed(ctl);
	if (r == 0)
		r = remember_offer(ctl, name);
	return r;
}

/* Send Open and wait for the answer; 1 with ctl->in.opened set. */
static int open_once(vmsg_ctl *ctl, const char *name, int timeout_ms,
		     uint64_t start)
{
	struct vmsg_pbw_open req;
	vmsg__memset(&req, 0, sizeof req);
	req.req_id = ctl->next_req++;
	vmsg__memcpy(req.service, name, __builtin_strlen(name) + 1);
	req.timeout_ms = timeout_ms > 0 ? (uint32_t)timeout_ms : 0;
	int r = vmsg__pbw_send(ctl->chan, VMSG_TYPE_SVC_OPEN,
			       &vmsg__pbw_open_desc, &req,
			       vmsg__svc_left(ctl, timeout_ms, start));
	if (r < 0)
		return r;
	/* While vmsgd and the provider work: our end's handles, and the
	 * spare vmsgd announced for this service mapped and bound. */
	if (ctl->by_msg && ctl->env->prepare)
		(void)ctl->env->prepare(false);
	vmsg__svc_ahead_start(ctl, name);
	r = await(ctl, req.req_id, 1, timeout_ms, start);
	return r == 0 ? -EPROTO : r; /* a bare Result 0 is no channel */
}

/* What vmsgd said since our last call, without waiting: a Spare for
 * the Open about to go out among it (ahead.c). Only the messages the
 * pump deals with itself; anything else is left for await. */
static void catch_up(vmsg_ctl *ctl)
{
	for (unsigned i = 0; i < 8 * CTL_QUEUE && ctl->chan; i++) {
		struct vmsg_msg m;
		if (vmsg_chan_peek(ctl->chan, &m, 0) < 0 ||
		    (m.type != VMSG_TYPE_SVC_SPARE &&
		     m.type != VMSG_TYPE_SVC_SERVE &&
		     m.type != VMSG_TYPE_SVC_CLOSED) ||
		    vmsg__svc_pump(ctl, 1, 0) < 0)
			break;
	}
}

static int open_connect(vmsg_ctl *ctl, const char *name, vmsg_chan **out,
			int timeout_ms)
{
	const uint64_t start = ctl->env->now_ms();
	int r;
	vmsg__svc_unpark(ctl);
	catch_up(ctl);
	do {
		ctl->err[0] = '\0';
		r = vmsg__svc_ensure(ctl, timeout_ms, start);
		if (r < 0)
			return r;
		r = open_once(ctl, name, timeout_ms, start);
	} while (again(ctl, r, timeout_ms, start));
	if (r < 0) {
		if (ctl->env->unprepare)
			ctl->env->unprepare(false);
		return r;
	}

	/* Copy out before anything else is received. */
	const struct vmsg_pbw_opened op = ctl->in.opened;
	if (!vmsg__svc_chan_named_ok(op.path, op.provider_domid, op.max_msg))
		return -EPROTO;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)op.max_msg;
	vmsg_chan *c;
	if (op.ring_ref || op.event_port) {
		/* Setup by message: what the provider would have written to
		 * xenstore came with Opened. Only from a vmsgd that agreed to
		 * it, and checked before use (a vmsgd or provider that sends
		 * garbage gets a clear refusal, not a mapping). */
		if (!ctl->by_msg || !ctl->env->connect_msg)
			r = -EPROTO;
		else if ((r = vmsg__svc_ahead_take(ctl, &op, &c)) == 0)
			r = ctl->env->connect_msg(&c,
						  (uint16_t)op.provider_domid,
						  op.path, op.ring_ref,
						  op.event_port, &o);
		else if (r > 0)
			r = 0; /* the spare made ready while vmsgd answered */
		if (r == -EPROTO || r == -EBUSY)
			vmsg__svc_set_err(ctl, "vmsgd's Opened named a grant "
					       "or event port that does not "
					       "work (setup by message)");
	} else {
		r = ctl->env->connect(&c, (uint16_t)op.provider_domid,
				      op.provider_uid, op.path, &o,
				      vmsg__svc_left(ctl, timeout_ms, start));
	}
	if (r < 0) {
		vmsg__svc_send_closed(ctl, op.channel_id);
		return r;
	}
	vmsg__svc_track(ctl, c, op.channel_id, true);
	*out = c;
	return 0;
}

int vmsg_service_open(vmsg_ctl *ctl, const char *name, vmsg_chan **out,
		      int timeout_ms)
{
	if (!ctl || !out || !vmsg_service_name_ok(name))
		return -EINVAL;
	int r = open_connect(ctl, name, out, timeout_ms);
	vmsg__svc_ahead_done(ctl, name);
	vmsg__svc_leave_armed(ctl); /* after the connect: off its time */
	return r;
}

static int accept_loop(vmsg_ctl *ctl, vmsg_chan **out,
		       struct vmsg_service_peer *peer, int timeout_ms)
{
	const uint64_t start = ctl->env->now_ms();
	if (timeout_ms == 0) {
		/* A poller woke us: clear what woke it. */
		vmsg__svc_drain(ctl);
		if (ctl->chan)
			(void)vmsg_chan_ack(ctl->chan);
		vmsg__svc_served_ack(ctl);
	}
	int broke = 0;
	for (;;) {
		uint32_t id;
		if (vmsg__svc_served_take(ctl, out, peer, &id) == 0) {
			vmsg__svc_track(ctl, *out, id, false);
			return 0;
		}
		vmsg__svc_unpark(ctl);
		int r = vmsg__svc_ensure(ctl, timeout_ms, start);
		if (r == -ENOTCONN) /* vmsgd is not back (yet) */
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		if (r < 0)
			return r;
		/* Before we wait: the channel we serve next, if it is like
		 * the last, and the handles of the one after it. */
		if (ctl->by_msg && ctl->noffers) {
			vmsg__svc_warm_up(ctl);
			if (ctl->env->prepare)
				(void)ctl->env->prepare(true);
		}
		/* With served channels waiting for their consumers, wait on
		 * them and their deadlines too, not on vmsgd alone. */
		int served = vmsg__svc_served_wait_ms(ctl);
		int left = vmsg__svc_left(ctl, timeout_ms, start);
		r = vmsg__svc_pump(ctl, 1, served >= 0 ? 0 : left);
		if (r >= 0 || (r == -EAGAIN && served == 0))
			continue; /* a message, or a channel to take or drop */
		if (r == -EAGAIN && served >= 0 && timeout_ms != 0) {
			if (vmsg__svc_expired(ctl, timeout_ms, start))
				return -ETIMEDOUT;
			vmsg__svc_served_wait(ctl, left > 0 && left < served
							   ? left
							   : served);
			continue;
		}
		if (!vmsg__svc_broken(ctl))
			return r;
		/* The channel broke: reconnect in the time left (a call
		 * with timeout 0 tries once, and only once per call). */
		if (broke++ && vmsg__svc_expired(ctl, timeout_ms, start))
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
	}
}

int vmsg_service_accept(vmsg_ctl *ctl, vmsg_chan **out,
			struct vmsg_service_peer *peer, int timeout_ms)
{
	if (!ctl || !out)
		return -EINVAL;
	ctl->may_park = timeout_ms != 0;
	int r = accept_loop(ctl, out, peer, timeout_ms);
	ctl->may_park = false;
	if (r == 0)
		vmsg__svc_leave_armed(ctl);
	return r;
}

void vmsg_service_close(vmsg_ctl *ctl, vmsg_chan *c)
{
	if (!c)
		return;
	bool opened = false, kept = false;
	struct ctl_live l;
	if (ctl && vmsg__svc_untrack(ctl, c, &l) == 0) {
		opened = l.consumer;
		/* A consumer we admitted may not have mapped the pages yet:
		 * then they stay for it, with what we sent (served.c), and
		 * vmsgd hears of the close when that is over. */
		kept = !opened && vmsg__svc_served_linger(ctl, c, l.id) == 0;
		/* Best effort: vmsgd also forgets our channels when our
		 * control channel goes. Id 0: an earlier vmsgd's channel. */
		if (!kept)
			vmsg__svc_send_closed(ctl, l.id);
	}
	if (!kept)
		vmsg_chan_close(c);
	if (!ctl)
		return;
	/* A process that closes a channel it opened tends to open the next
	 * one soon (a channel per request): its end's handles now, off the
	 * time of that open. */
	if (opened && ctl->by_msg && ctl->env->prepare)
		(void)ctl->env->prepare(false);
	vmsg__svc_unpark(ctl);
}
