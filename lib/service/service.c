/* Named services over the control channel: offer, open, accept, close. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <vmsg/xen.h>

#include "service_private.h"

/* Wait for the answer to request `req_id`: a Result (returns its code), an
 * Opened (returns 1 with *opened set, in ctl->arena), or an Error (its
 * code). Serve requests met on the way are handled by the pump. */
static int await(vmsg_ctl *ctl, uint32_t req_id,
		 const Vmsg__Service__Opened **opened, int timeout_ms,
		 uint64_t start)
{
	for (;;) {
		uint16_t t;
		ProtobufCMessage *m;
		int r = vmsg__svc_pump(ctl, &t, &m,
				       vmsg__svc_left(timeout_ms, start));
		if (r < 0)
			return r;
		if (t == VMSG_TYPE_SVC_RESULT) {
			const Vmsg__Service__Result *res = (const void *)m;
			if (res->req_id != req_id)
				continue; /* a stale answer */
			vmsg__svc_set_err(ctl, res->text);
			/* vmsgd's codes are negative errno values; anything
			 * else is not a code we can pass on. */
			if (res->code > 0 || res->code < -4095)
				return -EPROTO;
			return res->code;
		}
		if (t == VMSG_TYPE_SVC_OPENED && opened) {
			const Vmsg__Service__Opened *o = (const void *)m;
			if (o->req_id != req_id)
				continue;
			*opened = o;
			return 1;
		}
		if (t == VMSG_TYPE_ERROR) {
			const Vmsg__Control__Error *e = (const void *)m;
			vmsg__svc_set_err(ctl, e->text);
			return (e->code < 0 && e->code >= -4095) ? e->code
								 : -EPROTO;
		}
	}
}

int vmsg__svc_offer_once(vmsg_ctl *ctl, const char *name, int timeout_ms,
			 uint64_t start)
{
	Vmsg__Service__Offer o = VMSG__SERVICE__OFFER__INIT;
	o.req_id = ctl->next_req++;
	o.service = (char *)name;
	int r = vmsg_proto_send(ctl->chan, VMSG_TYPE_SVC_OFFER, &o.base, 0,
				vmsg__svc_left(timeout_ms, start));
	if (r < 0)
		return r;
	r = await(ctl, o.req_id, NULL, timeout_ms, start);
	return r > 0 ? -EPROTO : r;
}

/* Keep `name` for offering again after a reconnect. */
static int remember_offer(vmsg_ctl *ctl, const char *name)
{
	for (size_t i = 0; i < ctl->noffers; i++)
		if (!strcmp(ctl->offers[i], name))
			return 0;
	if (ctl->noffers == ctl->capoffers) {
		size_t cap = ctl->capoffers ? ctl->capoffers * 2 : 4;
		void *n = realloc(ctl->offers, cap * sizeof ctl->offers[0]);
		if (!n)
			return -ENOMEM;
		ctl->offers = n;
		ctl->capoffers = cap;
	}
	snprintf(ctl->offers[ctl->noffers++], sizeof ctl->offers[0], "%s",
		 name);
	return 0;
}

/* A request failed with r: go round again (after reconnecting) if the
 * control channel broke and the call has time left. */
static int again(vmsg_ctl *ctl, int r, int timeout_ms, uint64_t start)
{
	return r < 0 && vmsg__svc_broken(ctl) &&
	       !vmsg__svc_expired(timeout_ms, start);
}

int vmsg_service_offer(vmsg_ctl *ctl, const char *name, int timeout_ms)
{
	if (!ctl || !vmsg_service_name_ok(name))
		return -EINVAL;
	const uint64_t start = vmsg__svc_now_ms();
	int r;
	do {
		ctl->err[0] = '\0';
		r = vmsg__svc_ensure(ctl, timeout_ms, start);
		if (r < 0)
			return r;
		r = vmsg__svc_offer_once(ctl, name, timeout_ms, start);
	} while (again(ctl, r, timeout_ms, start));
	if (r == 0)
		r = remember_offer(ctl, name);
	return r;
}

/* Send Open and wait for the answer; 1 with *op set (in ctl->arena). */
static int open_once(vmsg_ctl *ctl, const char *name,
		     const Vmsg__Service__Opened **op, int timeout_ms,
		     uint64_t start)
{
	Vmsg__Service__Open req = VMSG__SERVICE__OPEN__INIT;
	req.req_id = ctl->next_req++;
	req.service = (char *)name;
	req.timeout_ms = timeout_ms > 0 ? (uint32_t)timeout_ms : 0;
	int r = vmsg_proto_send(ctl->chan, VMSG_TYPE_SVC_OPEN, &req.base, 0,
				vmsg__svc_left(timeout_ms, start));
	if (r < 0)
		return r;
	r = await(ctl, req.req_id, op, timeout_ms, start);
	return r == 0 ? -EPROTO : r; /* a bare Result 0 is no channel */
}

int vmsg_service_open(vmsg_ctl *ctl, const char *name, vmsg_chan **out,
		      int timeout_ms)
{
	if (!ctl || !out || !vmsg_service_name_ok(name))
		return -EINVAL;
	const uint64_t start = vmsg__svc_now_ms();
	const Vmsg__Service__Opened *op = NULL;
	int r;
	do {
		ctl->err[0] = '\0';
		r = vmsg__svc_ensure(ctl, timeout_ms, start);
		if (r < 0)
			return r;
		r = open_once(ctl, name, &op, timeout_ms, start);
	} while (again(ctl, r, timeout_ms, start));
	if (r < 0)
		return r;

	/* Copy out of the arena before anything else is received. */
	char path[VMSG_XEN_PATH_MAX];
	if (!op->path || strlen(op->path) >= sizeof path ||
	    op->provider_domid >= 0x7ff0 || op->max_msg == 0 ||
	    op->max_msg > (1u << 30))
		return -EPROTO;
	snprintf(path, sizeof path, "%s", op->path);
	uint16_t provider = (uint16_t)op->provider_domid;
	uint32_t id = op->channel_id;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = (size_t)op->max_msg;
	vmsg_chan *c;
	r = vmsg_xen_connect(&c, provider, path, &o,
			     vmsg__svc_left(timeout_ms, start));
	if (r < 0) {
		Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
		cl.channel_id = id;
		if (ctl->chan)
			(void)vmsg_proto_send(ctl->chan, VMSG_TYPE_SVC_CLOSED,
					      &cl.base, 0, 1000);
		return r;
	}
	vmsg__svc_track(ctl, c, id);
	*out = c;
	return 0;
}

/* Sleep on the handle's epoll set (the control channel, the served
 * channels, the deadline timer) for at most ms, then consume what woke
 * us: the states are looked at after that, so no wake-up is lost. */
static void wait_served(vmsg_ctl *ctl, int ms)
{
	struct epoll_event ev[8];
	while (epoll_wait(ctl->epfd, ev, 8, ms) < 0 && errno == EINTR)
		;
	if (ctl->chan)
		(void)vmsg_chan_ack(ctl->chan);
	vmsg__svc_served_ack(ctl);
}

int vmsg_service_accept(vmsg_ctl *ctl, vmsg_chan **out,
			struct vmsg_service_peer *peer, int timeout_ms)
{
	if (!ctl || !out)
		return -EINVAL;
	const uint64_t start = vmsg__svc_now_ms();
	if (timeout_ms == 0) {
		/* A poller woke us: clear what woke it. */
		vmsg__svc_timer_drain(ctl);
		if (ctl->chan)
			(void)vmsg_chan_ack(ctl->chan);
		vmsg__svc_served_ack(ctl);
	}
	int broke = 0;
	for (;;) {
		uint32_t id;
		if (vmsg__svc_served_take(ctl, out, peer, &id) == 0) {
			vmsg__svc_track(ctl, *out, id);
			return 0;
		}
		int r = vmsg__svc_ensure(ctl, timeout_ms, start);
		if (r == -ENOTCONN) /* vmsgd is not back (yet) */
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		if (r < 0)
			return r;
		/* With served channels waiting for their consumers, wait on
		 * them and their deadlines too, not on vmsgd alone. */
		int served = vmsg__svc_served_wait_ms(ctl);
		int left = vmsg__svc_left(timeout_ms, start);
		r = vmsg__svc_pump(ctl, NULL, NULL, served >= 0 ? 0 : left);
		if (r >= 0)
			continue;
		if (r == -EAGAIN && served >= 0 && timeout_ms != 0) {
			if (vmsg__svc_expired(timeout_ms, start))
				return -ETIMEDOUT;
			wait_served(ctl, left > 0 && left < served ? left
								   : served);
			continue;
		}
		if (!vmsg__svc_broken(ctl))
			return r;
		/* The channel broke: reconnect in the time left (a call
		 * with timeout 0 tries once, and only once per call). */
		if (broke++ && vmsg__svc_expired(timeout_ms, start))
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
	}
}

void vmsg_service_close(vmsg_ctl *ctl, vmsg_chan *c)
{
	if (!c)
		return;
	for (size_t i = 0; ctl && i < ctl->nlive; i++) {
		if (ctl->live[i].c != c)
			continue;
		Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
		cl.channel_id = ctl->live[i].id;
		/* Best effort: vmsgd also forgets our channels when our
		 * control channel goes. Id 0: an earlier vmsgd's channel. */
		if (ctl->chan && cl.channel_id != 0)
			(void)vmsg_proto_send(ctl->chan, VMSG_TYPE_SVC_CLOSED,
					      &cl.base, 0, 1000);
		ctl->live[i] = ctl->live[--ctl->nlive];
		break;
	}
	vmsg_chan_close(c);
}
