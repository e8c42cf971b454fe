/* Seeing a destroyed peer domain, in a Linux dom0.
 *
 * The unmap notification that clears a side's live byte runs in that side's
 * own kernel, when its process dies or unmaps. A domain destroyed with
 * `xl destroy` never gets to run it: on real Xen the survivor would wait
 * forever. So dom0, which is privileged and receives @releaseDomain, also
 * watches it; on each event it checks whether the peer's domain still
 * exists (its /local/domain/<id> directory, removed by the toolstack), and
 * when it is gone clears the peer's live byte itself, as the notification
 * would have (vmsg__xenplat_peer_gone), and reports an event. An
 * unprivileged domain gets no @releaseDomain events from Xen 4.17's
 * xenstored, so it does not watch (a unikernel asks Xen about its port
 * instead: lib/xenplat/xenplat.c). Anything failing here leaves the channel
 * as it was (notification only).
 *
 * The watch is read by a thread of its own, which turns each watch event
 * into an event channel event on our own handle: a loopback pair of ports
 * in the same xenevtchn handle (loop_tx bound to loop_rx, in dom0 itself).
 * So the handle's fd is the only thing a wait has to sleep on, and a wait
 * can sleep in a blocking xenevtchn_pending() (one system call per
 * wake-up, as libxenvchan's) instead of poll() and then a read: with the
 * watch in an epoll set beside the port, every wake-up cost one system
 * call more. The thread only reads the watch and raises the event; what
 * the event means (the store lookup, the live byte) is worked out by the
 * waiting thread in death_check, so the thread never touches the shared
 * page, which close unmaps.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xenstore.h>

#include "xen_internal.h"

/* 1: the peer's domain directory is there; 0: it is gone (ENOENT);
 * -1: the store did not say. */
static int peer_exists(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	char dir[32];
	snprintf(dir, sizeof dir, "/local/domain/%u", (unsigned)x->peer);
	unsigned len = 0;
	char *s = (l->xsw ? xs_read(l->xsw, XBT_NULL, dir, &len) : NULL);
	if (s) {
		free(s);
		return 1;
	}
	return errno == ENOENT ? 0 : -1;
}

/* The watcher thread: sleep on the watch's fd (and stopfd), consume the
 * queued watch events, flag them and raise our loopback port. The flag is
 * set before the event is raised, so the waiter that the event wakes sees
 * it (release here, acquire in death_check). */
static void *watcher(void *arg)
{
	struct vmsg__xen_linux *l = arg;
	for (;;) {
		struct pollfd pf[2] = {{.fd = l->xsfd, .events = POLLIN},
				       {.fd = l->stopfd, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (pf[1].revents)
			return NULL; /* death_close */
		bool any = false;
		char **w;
		while ((w = xs_check_watch(l->xsw)) != NULL) {
			free(w);
			any = true;
		}
		if (!any) {
			if (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL))
				return NULL; /* the store went away: stop */
			continue;
		}
		atomic_store_explicit(&l->watch_fired, 1, memory_order_release);
		(void)xenevtchn_notify(l->evt, (evtchn_port_t)l->loop_tx);
	}
}

/* The loopback pair: loop_rx waits for ourselves (dom 0), loop_tx is bound
 * to it; a notify on loop_tx makes loop_rx pending on our handle. */
static int loop_open(struct vmsg__xen_linux *l)
{
	xenevtchn_port_or_error_t rx = xenevtchn_bind_unbound_port(l->evt, 0);
	if (rx < 0)
		return -1;
	xenevtchn_port_or_error_t tx =
		xenevtchn_bind_interdomain(l->evt, 0, (evtchn_port_t)rx);
	if (tx < 0) {
		(void)xenevtchn_unbind(l->evt, (evtchn_port_t)rx);
		return -1;
	}
	(void)xenevtchn_unmask(l->evt, (evtchn_port_t)rx);
	(void)xenevtchn_unmask(l->evt, (evtchn_port_t)tx);
	l->loop_rx = (uint32_t)rx;
	l->loop_tx = (uint32_t)tx;
	return 0;
}

static void loop_close(struct vmsg__xen_linux *l)
{
	if (!l->loop_rx)
		return;
	(void)xenevtchn_unbind(l->evt, (evtchn_port_t)l->loop_tx);
	(void)xenevtchn_unbind(l->evt, (evtchn_port_t)l->loop_rx);
	l->loop_rx = l->loop_tx = 0;
}

void vmsg__xen_death_open(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	uint16_t self;
	l->stopfd = -1;
	if (x->peer == 0)
		return; /* dom0 is not destroyed under us */
	/* Only dom0 gets @releaseDomain events. */
	if (vmsg_xen_own_domid(&self) < 0 || self != 0)
		return;
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return;
	if (!xs_watch(xs, "@releaseDomain", "vmsg"))
		goto off;
	l->xsfd = xs_fileno(xs);
	if (l->xsfd < 0)
		goto off;
	l->stopfd = eventfd(0, EFD_CLOEXEC);
	if (l->stopfd < 0 || loop_open(l) < 0)
		goto off;
	l->xsw = xs;
	l->peer_seen = peer_exists(x) > 0;
	atomic_init(&l->watch_fired, 0);
	if (pthread_create(&l->watcher, NULL, watcher, l) != 0) {
		l->xsw = NULL;
		goto off;
	}
	return;
off:
	loop_close(l);
	if (l->stopfd >= 0)
		close(l->stopfd);
	l->stopfd = l->xsfd = -1;
	xs_close(xs);
}

int vmsg__xen_death_check(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (!l->xsw)
		return 0;
	/* Did the watch fire since the last look? (The watcher consumed its
	 * events; acquire pairs with its release.) Then look once. */
	if (!atomic_exchange_explicit(&l->watch_fired, 0, memory_order_acquire))
		return 0;
	/* Gone only if we saw it alive first: a domain still being built
	 * (its directory not yet written) is not a dead peer. */
	int e = peer_exists(x);
	if (e > 0)
		l->peer_seen = true;
	if (e != 0 || !l->peer_seen || !x->ctl_page)
		return 0;
	l->peer_seen = false; /* report it once */
	return vmsg__xenplat_peer_gone(x);
}

void vmsg__xen_death_close(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->xsw) {
		uint64_t one = 1;
		/* An eventfd write only fails on overflow: cannot happen. */
		(void)!write(l->stopfd, &one, sizeof one);
		pthread_join(l->watcher, NULL);
		loop_close(l);
		close(l->stopfd);
		xs_close(l->xsw);
	}
	l->epfd = l->xsfd = l->stopfd = -1;
	l->xsw = NULL;
}
