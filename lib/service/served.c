/* Channels a provider's library has served for vmsgd and keeps until
 * their consumer connects (vmsg/service.h, "Direct mode").
 *
 * A consumer is untrusted: it can have vmsgd broker a channel and then
 * never connect, and each served channel holds grants, an event port,
 * xenstore keys and fds in the provider's domain. So a served channel is
 * the library's, not the application's, until its consumer is in; it is
 * closed when vmsgd says the consumer closed or left (Closed), and at the
 * latest at its connect deadline, whatever vmsgd says. Each close of one
 * nobody took is told to vmsgd with Closed{id}, so that vmsgd stops
 * counting it against the consumer.
 *
 * Waking: each waiting channel's event fd is in the handle's epoll set
 * (vmsg_ctl_fd), so a poller wakes when a consumer connects (the client
 * kicks the server when it marks itself live: lib/chan/chan.c), and a
 * one-shot timerfd there fires at the next deadline. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "service_private.h"

static struct ctl_ready *at(vmsg_ctl *ctl, unsigned i)
{
	return &ctl->q[(ctl->qhead + i) % CTL_QUEUE];
}

static bool waiting(struct ctl_ready *e)
{
	return vmsg_chan_state(e->c) == VMSG_CHAN_WAITING;
}

/* Arm the deadline timer for the earliest waiting channel (or stop it). */
static void rearm(vmsg_ctl *ctl)
{
	uint64_t next = 0;
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		if (waiting(e) && (!next || e->expires_ms < next))
			next = e->expires_ms;
	}
	if (next == ctl->xnext)
		return; /* armed for it already (or idle): no syscall */
	ctl->xnext = next;
	struct itimerspec it;
	memset(&it, 0, sizeof it);
	if (next) {
		uint64_t now = vmsg__svc_now_ms();
		/* A deadline already passed: fire at once (a zero it_value
		 * would disarm). */
		uint64_t ms = next > now ? next - now : 0;
		it.it_value.tv_sec = (time_t)(ms / 1000u);
		it.it_value.tv_nsec = (long)(ms % 1000u) * 1000000L;
		if (ms == 0)
			it.it_value.tv_nsec = 1;
	}
	(void)timerfd_settime(ctl->xfd, 0, &it, NULL);
}

/* Drop entry i from the queue, keeping the order of the others. */
static void unqueue(vmsg_ctl *ctl, unsigned i)
{
	int fd = vmsg_chan_fd(at(ctl, i)->c);
	if (fd >= 0)
		(void)epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, fd, NULL);
	for (; i + 1 < ctl->qlen; i++)
		*at(ctl, i) = *at(ctl, i + 1);
	ctl->qlen--;
}

static void send_closed(vmsg_ctl *ctl, uint32_t id)
{
	if (!ctl->chan || id == 0)
		return; /* vmsgd forgets what an earlier one brokered */
	Vmsg__Service__Closed cl = VMSG__SERVICE__CLOSED__INIT;
	cl.channel_id = id;
	/* Small; a control ring so full that this fails means vmsgd is
	 * stuck, and it forgets our channels when it resets us. */
	(void)vmsg_proto_send(ctl->chan, VMSG_TYPE_SVC_CLOSED, &cl.base, 0,
			      1000);
}

/* Close entry i, which nobody took, and tell vmsgd. */
static void drop(vmsg_ctl *ctl, unsigned i)
{
	struct ctl_ready e = *at(ctl, i);
	unqueue(ctl, i);
	vmsg_chan_close(e.c);
	send_closed(ctl, e.id);
}

int vmsg__svc_served_add(vmsg_ctl *ctl, vmsg_chan *c,
			 const struct vmsg_service_peer *peer, uint32_t id,
			 uint32_t connect_ms)
{
	if (ctl->qlen == CTL_QUEUE)
		return -EBUSY;
	if (connect_ms == 0 || connect_ms > VMSG_SERVICE_CONNECT_MAX_MS)
		connect_ms = VMSG_SERVICE_CONNECT_MAX_MS;
	if (connect_ms < CTL_CONNECT_MIN_MS)
		connect_ms = CTL_CONNECT_MIN_MS;
	int fd = vmsg_chan_fd(c);
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (fd < 0)
		return fd;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	struct ctl_ready *e = at(ctl, ctl->qlen++);
	e->c = c;
	e->peer = *peer;
	e->id = id;
	e->expires_ms = vmsg__svc_now_ms() + connect_ms;
	rearm(ctl);
	return 0;
}

int vmsg__svc_served_take(vmsg_ctl *ctl, vmsg_chan **out,
			  struct vmsg_service_peer *peer, uint32_t *id)
{
	const uint64_t now = vmsg__svc_now_ms();
	int r = -EAGAIN;
	for (unsigned i = 0; i < ctl->qlen;) {
		struct ctl_ready *e = at(ctl, i);
		if (waiting(e)) {
			if (now >= e->expires_ms) {
				drop(ctl, i); /* nobody came in time */
				continue;
			}
			i++;
			continue;
		}
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
	rearm(ctl);
	return r;
}

void vmsg__svc_served_closed(vmsg_ctl *ctl, uint32_t id)
{
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		if (e->id != id || id == 0)
			continue;
		/* Connected meanwhile: what the consumer sent before it
		 * closed is delivered; the application sees the close. */
		if (waiting(e)) {
			drop(ctl, i);
			rearm(ctl);
		}
		return;
	}
	/* Not ours any more: handed out (the application closes it, with
	 * vmsg_service_close) or already closed and told. */
}

int vmsg__svc_served_wait_ms(vmsg_ctl *ctl)
{
	const uint64_t now = vmsg__svc_now_ms();
	int best = -1;
	for (unsigned i = 0; i < ctl->qlen; i++) {
		struct ctl_ready *e = at(ctl, i);
		if (!waiting(e))
			continue;
		uint64_t left = e->expires_ms > now ? e->expires_ms - now : 0;
		if (best < 0 || left < (uint64_t)best)
			best = (int)left;
	}
	return best;
}

void vmsg__svc_served_ack(vmsg_ctl *ctl)
{
	uint64_t n;
	(void)!read(ctl->xfd, &n, sizeof n);
	for (unsigned i = 0; i < ctl->qlen; i++)
		(void)vmsg_chan_ack(at(ctl, i)->c);
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
	rearm(ctl);
}

void vmsg__svc_served_close_all(vmsg_ctl *ctl)
{
	while (ctl->qlen) {
		vmsg_chan *c = at(ctl, 0)->c;
		unqueue(ctl, 0);
		vmsg_chan_close(c);
	}
}
