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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <xenstore.h>

#include "vmsg_xen_msg.h"
#include "xen_internal.h"

/* vmsg__xen_death_watch_off(): set once by vmsgd before any channel. */
static bool watch_off;

void vmsg__xen_death_watch_off(void)
{
	watch_off = true;
}

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

void vmsg__xen_death_open(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	uint16_t self;
	if (x->peer == 0 || watch_off)
		return; /* dom0 is not destroyed under us; vmsgd watches */
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
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto off;
	struct epoll_event ev = {.events = EPOLLIN};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->xsfd, &ev) < 0)
		goto off;
	l->xsw = xs;
	l->peer_seen = peer_exists(x) > 0;
	return;
off:
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = l->xsfd = -1;
	xs_close(xs);
}

int vmsg__xen_death_check(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (!l->xsw)
		return 0;
	/* Consume the queued events (never blocks), then look once. */
	bool any = false;
	char **w;
	while ((w = xs_check_watch(l->xsw)) != NULL) {
		free(w);
		any = true;
	}
	if (!any)
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
	if (l->xsw)
		xs_close(l->xsw);
	l->epfd = l->xsfd = -1;
	l->xsw = NULL;
}
