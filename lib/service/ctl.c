/* The guest's control channel to vmsgd: connect, Hello, and the receive
 * pump that answers vmsgd's Serve requests whenever the caller waits for
 * anything (so a domain that both offers and opens never deadlocks). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include <vmsg/xen.h>

#include "service_private.h"

_Static_assert(VMSG_TYPE_SVC_OFFER ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_OFFER &&
	       VMSG_TYPE_SVC_RESULT ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_RESULT &&
	       VMSG_TYPE_SVC_OPEN ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_OPEN &&
	       VMSG_TYPE_SVC_OPENED ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_OPENED &&
	       VMSG_TYPE_SVC_SERVE ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_SERVE &&
	       VMSG_TYPE_SVC_SERVE_RESULT ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_SERVE_RESULT &&
	       VMSG_TYPE_SVC_CLOSED ==
		       VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_CLOSED,
	       "VMSG_TYPE_SVC_* disagree with vmsg_service.proto");

uint64_t vmsg__svc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int vmsg__svc_left(int timeout_ms, uint64_t start)
{
	if (timeout_ms <= 0)
		return timeout_ms;
	uint64_t spent = vmsg__svc_now_ms() - start;
	return spent >= (uint64_t)timeout_ms ? 1 : timeout_ms - (int)spent;
}

void vmsg__svc_set_err(vmsg_ctl *ctl, const char *text)
{
	size_t i = 0;
	for (; text && text[i] && i + 1 < sizeof ctl->err; i++) {
		unsigned char ch = (unsigned char)text[i];
		ctl->err[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	ctl->err[i] = '\0';
}

int vmsg_service_name_ok(const char *name)
{
	if (!name)
		return 0;
	size_t n = strnlen(name, VMSG_SERVICE_NAME_MAX + 1);
	if (n == 0 || n > VMSG_SERVICE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return 0;
	}
	return 1;
}

static int own_domid(uint16_t *out)
{
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return errno ? -errno : -EIO;
	unsigned len = 0;
	char *s = xs_read(xs, XBT_NULL, "domid", &len);
	int r = s ? 0 : (errno ? -errno : -EIO);
	if (s) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (errno || end == s || *end || v >= 0x7ff0)
			r = -EIO; /* our own store is wrong */
		else
			*out = (uint16_t)v;
		free(s);
	}
	xs_close(xs);
	return r;
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

int vmsg__svc_expired(int timeout_ms, uint64_t start)
{
	if (timeout_ms < 0)
		return 0;
	if (timeout_ms == 0)
		return 1;
	return vmsg__svc_now_ms() - start >= (uint64_t)timeout_ms;
}

/* Tick every `ms` (0: stop) so that a poller of vmsg_ctl_fd() wakes up
 * to let us retry while the control channel is down. */
static void timer_set(vmsg_ctl *ctl, int ms)
{
	struct itimerspec it;
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	it.it_interval = it.it_value;
	(void)timerfd_settime(ctl->tfd, 0, &it, NULL);
	if (ms == 0) {
		uint64_t n;
		(void)!read(ctl->tfd, &n, sizeof n); /* clear a tick due */
	}
}

void vmsg__svc_timer_drain(vmsg_ctl *ctl)
{
	uint64_t n;
	(void)!read(ctl->tfd, &n, sizeof n);
}

/* One attempt: connect to our control channel, exchange Hellos. */
static int attach_once(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	char path[128];
	snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u",
		 (unsigned)ctl->domid);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = CTL_MSG_MAX;
	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, 0, path, &o,
				 vmsg__svc_left(timeout_ms, start));
	if (r < 0)
		return r;
	/* A caller that may not wait still gets the Hello: vmsgd sends it
	 * as soon as it sees us. */
	int hs = timeout_ms == 0 ? CTL_HANDSHAKE_MS
				 : vmsg__svc_left(timeout_ms, start);
	struct vmsg_hello_info peer;
	memset(&peer, 0, sizeof peer);
	r = vmsg_hello_exchange(c, "vmsg-service", &peer, hs);
	if (r < 0) {
		vmsg__svc_set_err(ctl, peer.error);
		vmsg_chan_close(c);
		return r;
	}
	int fd = vmsg_chan_fd(c);
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (fd < 0 || epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = fd < 0 ? fd : -errno;
		vmsg_chan_close(c);
		return r;
	}
	ctl->chan = c;
	timer_set(ctl, 0);
	return 0;
}

/* Attempts until one works, a permanent error, or the deadline. */
static int attach(vmsg_ctl *ctl, int timeout_ms, uint64_t start)
{
	for (;;) {
		int r = attach_once(ctl, timeout_ms, start);
		if (r == 0 || permanent(r) || vmsg__svc_expired(timeout_ms, start))
			return r;
		int ms = CTL_RETRY_MS;
		if (timeout_ms > 0) {
			uint64_t spent = vmsg__svc_now_ms() - start;
			if ((uint64_t)timeout_ms - spent < (uint64_t)ms)
				ms = (int)((uint64_t)timeout_ms - spent);
		}
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

/* The channel is gone: forget it. Channels already handed out stay the
 * caller's (they are direct, vmsgd is not in them), but their ids were
 * the old vmsgd's: no Closed is sent for them any more. */
static void drop(vmsg_ctl *ctl)
{
	if (!ctl->chan)
		return;
	int fd = vmsg_chan_fd(ctl->chan);
	if (fd >= 0)
		(void)epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, fd, NULL);
	vmsg_chan_close(ctl->chan);
	ctl->chan = NULL;
	for (size_t i = 0; i < ctl->nlive; i++)
		ctl->live[i].id = 0;
	timer_set(ctl, CTL_RETRY_MS);
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
		start = vmsg__svc_now_ms();
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
		memmove(ctl->offers[i], ctl->offers[i + 1],
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
		r = reoffer(ctl, timeout_ms, start);
		if (r == 0)
			return 0;
		if (vmsg__svc_expired(timeout_ms, start))
			return -ENOTCONN;
	}
	return 0;
}

int vmsg_ctl_open(vmsg_ctl **out, int timeout_ms)
{
	if (!out)
		return -EINVAL;
	const uint64_t start = vmsg__svc_now_ms();
	vmsg_ctl *ctl = calloc(1, sizeof *ctl);
	if (!ctl)
		return -ENOMEM;
	vmsg_arena_init(&ctl->arena, ctl->arena_buf, sizeof ctl->arena_buf);
	ctl->next_req = 1;
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ctl->xfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int r = 0;
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (ctl->epfd < 0 || ctl->tfd < 0 || ctl->xfd < 0 ||
	    epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->tfd, &ev) < 0 ||
	    epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->xfd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	r = own_domid(&ctl->domid);
	if (r < 0)
		goto fail;
	r = attach(ctl, timeout_ms, start);
	if (r < 0 && !permanent(r))
		r = vmsg__svc_why_not(ctl->domid); /* what the header promises */
	if (r < 0)
		goto fail;
	*out = ctl;
	return 0;
fail:
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	if (ctl->tfd >= 0)
		close(ctl->tfd);
	if (ctl->xfd >= 0)
		close(ctl->xfd);
	free(ctl);
	return r;
}

void vmsg_ctl_close(vmsg_ctl *ctl)
{
	if (!ctl)
		return;
	vmsg__svc_served_close_all(ctl);
	vmsg_chan_close(ctl->chan);
	close(ctl->epfd);
	close(ctl->tfd);
	close(ctl->xfd);
	free(ctl->offers);
	free(ctl->live);
	free(ctl);
}

int vmsg_ctl_domid(vmsg_ctl *ctl)
{
	return ctl ? ctl->domid : -EINVAL;
}

int vmsg_ctl_fd(vmsg_ctl *ctl)
{
	return ctl ? ctl->epfd : -EINVAL;
}

const char *vmsg_ctl_error(vmsg_ctl *ctl)
{
	return ctl ? ctl->err : "";
}

static const ProtobufCMessageDescriptor *desc_of(uint16_t type)
{
	switch (type) {
	case VMSG_TYPE_ERROR:
		return &vmsg__control__error__descriptor;
	case VMSG_TYPE_SVC_RESULT:
		return &vmsg__service__result__descriptor;
	case VMSG_TYPE_SVC_OPENED:
		return &vmsg__service__opened__descriptor;
	case VMSG_TYPE_SVC_SERVE:
		return &vmsg__service__serve__descriptor;
	case VMSG_TYPE_SVC_CLOSED:
		return &vmsg__service__closed__descriptor;
	default:
		return NULL;
	}
}

static void serve_reply(vmsg_ctl *ctl, uint32_t id, int code,
			const char *text)
{
	Vmsg__Service__ServeResult sr = VMSG__SERVICE__SERVE_RESULT__INIT;
	sr.serve_id = id;
	sr.code = code;
	sr.text = (char *)(text ? text : "");
	/* Small, and vmsgd reads its control channels promptly; a full ring
	 * means vmsgd is stuck, and the next call will see the error. */
	(void)vmsg_proto_send(ctl->chan, VMSG_TYPE_SVC_SERVE_RESULT, &sr.base,
			      0, 5000);
}

/* vmsgd asks us to serve a channel. The values come from dom0, but are
 * still checked: the path must be under our own tree. */
static void handle_serve(vmsg_ctl *ctl, const Vmsg__Service__Serve *s)
{
	char prefix[64];
	int n = snprintf(prefix, sizeof prefix, "/local/domain/%u/data/vmsg/",
			 (unsigned)ctl->domid);
	if (!s->path || strncmp(s->path, prefix, (size_t)n) != 0 ||
	    strlen(s->path) >= VMSG_XEN_PATH_MAX || strstr(s->path, "..") ||
	    s->consumer_domid >= 0x7ff0 || !vmsg_service_name_ok(s->service) ||
	    s->max_msg == 0 || s->max_msg > (1u << 30)) {
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
	vmsg_chan *c;
	int r = vmsg_xen_serve(&c, (uint16_t)s->consumer_domid, s->path, &o);
	if (r < 0) {
		serve_reply(ctl, s->serve_id, r, vmsg_strerror(r));
		return;
	}
	struct vmsg_service_peer peer;
	memset(&peer, 0, sizeof peer);
	peer.domid = (uint16_t)s->consumer_domid;
	peer.channel_id = s->serve_id;
	snprintf(peer.service, sizeof peer.service, "%s", s->service);
	r = vmsg__svc_served_add(ctl, c, &peer, s->serve_id,
				 s->connect_timeout_ms);
	if (r < 0) {
		vmsg_chan_close(c);
		serve_reply(ctl, s->serve_id, r, vmsg_strerror(r));
		return;
	}
	serve_reply(ctl, s->serve_id, 0, NULL);
}

int vmsg__svc_pump(vmsg_ctl *ctl, uint16_t *type, ProtobufCMessage **msg,
		   int timeout_ms)
{
	const uint64_t start = vmsg__svc_now_ms();
	if (!ctl->chan)
		return -ENOTCONN;
	for (;;) {
		struct vmsg_msg m;
		vmsg_arena_reset(&ctl->arena);
		int r = vmsg_chan_peek(ctl->chan, &m,
				       vmsg__svc_left(timeout_ms, start));
		if (r < 0)
			return r;
		const ProtobufCMessageDescriptor *d = desc_of(m.type);
		if (!d || m.len > CTL_MSG_MAX) {
			/* Not ours to understand (a newer vmsgd): skip. */
			r = vmsg_chan_release(ctl->chan);
			if (r < 0)
				return r;
			continue;
		}
		uint16_t t;
		ProtobufCMessage *pm;
		r = vmsg_proto_recv(ctl->chan, d, &ctl->arena, &t, &pm, 0);
		if (r == -EBADMSG || r == -ENOMEM)
			continue;
		if (r < 0)
			return r;
		if (t == VMSG_TYPE_SVC_SERVE || t == VMSG_TYPE_SVC_CLOSED) {
			if (t == VMSG_TYPE_SVC_SERVE)
				handle_serve(ctl, (const Vmsg__Service__Serve *)pm);
			else /* the consumer of a channel we served is gone */
				vmsg__svc_served_closed(
					ctl, ((const Vmsg__Service__Closed *)pm)
						     ->channel_id);
			if (type == NULL)
				return 0; /* accept's pump: one step done */
			continue;
		}
		if (type)
			*type = t;
		if (msg)
			*msg = pm;
		return 1;
	}
}

void vmsg__svc_track(vmsg_ctl *ctl, vmsg_chan *c, uint32_t id)
{
	if (ctl->nlive == ctl->caplive) {
		size_t cap = ctl->caplive ? ctl->caplive * 2 : 8;
		struct ctl_live *n = realloc(ctl->live, cap * sizeof *n);
		if (!n)
			return; /* only the count at vmsgd suffers */
		ctl->live = n;
		ctl->caplive = cap;
	}
	ctl->live[ctl->nlive].c = c;
	ctl->live[ctl->nlive].id = id;
	ctl->nlive++;
}
