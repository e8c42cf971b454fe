/* Seeing a destroyed peer domain.
 *
 * The unmap notification that clears a side's live byte runs in that side's
 * own kernel, when its process dies or unmaps. A domain destroyed with
 * `xl destroy` never gets to run it: on real Xen the survivor would wait
 * forever. So dom0, which is privileged and receives @releaseDomain, also
 * watches it; on each event it checks whether the peer's domain still
 * exists (its /local/domain/<id> directory, removed by the toolstack), and
 * when it is gone clears the peer's live byte itself, as the notification
 * would have, and reports an event. An unprivileged domain gets no
 * @releaseDomain events from Xen 4.17's xenstored, so it does not watch.
 * Anything failing here leaves the channel as it was (notification only).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <xenstore.h>

#include <vmsg/ring.h>

#include "vmsg_barrier.h"
#include "xen_internal.h"

/* Is this process dom0? Only dom0 gets @releaseDomain events. */
static bool privileged(struct xs_handle *xs)
{
	unsigned len = 0;
	char *s = xs_read(xs, XBT_NULL, "domid", &len);
	bool dom0 = s && len == 1 && s[0] == '0';
	free(s);
	return dom0;
}

/* 1: the peer's domain directory is there; 0: it is gone (ENOENT);
 * -1: the store did not say. */
static int peer_exists(struct vmsg_xen_platform *x)
{
	char dir[32];
	snprintf(dir, sizeof dir, "/local/domain/%u", (unsigned)x->peer);
	unsigned len = 0;
	char *s = (x->xsw ? xs_read(x->xsw, XBT_NULL, dir, &len) : NULL);
	if (s) {
		free(s);
		return 1;
	}
	return errno == ENOENT ? 0 : -1;
}

void vmsg__xen_death_open(struct vmsg_xen_platform *x)
{
	if (x->peer == 0)
		return; /* dom0 is not destroyed under us */
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return;
	if (!privileged(xs) || !xs_watch(xs, "@releaseDomain", "vmsg"))
		goto off;
	x->xsfd = xs_fileno(xs);
	if (x->xsfd < 0)
		goto off;
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (x->epfd < 0)
		goto off;
	struct epoll_event ev = {.events = EPOLLIN};
	if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->evfd, &ev) < 0 ||
	    epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->xsfd, &ev) < 0)
		goto off;
	x->xsw = xs;
	x->peer_seen = peer_exists(x) > 0;
	return;
off:
	if (x->epfd >= 0)
		close(x->epfd);
	x->epfd = x->xsfd = -1;
	xs_close(xs);
}

int vmsg__xen_death_check(struct vmsg_xen_platform *x)
{
	if (!x->xsw)
		return 0;
	/* Consume the queued events (never blocks), then look once. */
	bool any = false;
	char **w;
	while ((w = xs_check_watch(x->xsw)) != NULL) {
		free(w);
		any = true;
	}
	if (!any)
		return 0;
	/* Gone only if we saw it alive first: a domain still being built
	 * (its directory not yet written) is not a dead peer. */
	int e = peer_exists(x);
	if (e > 0)
		x->peer_seen = true;
	if (e != 0 || !x->peer_seen || !x->ctl_page)
		return 0;
	x->peer_seen = false; /* report it once */
	/* The peer's live byte, as its unmap notification would clear it.
	 * Release: our reads of the ring stay ordered before the channel's
	 * acquire of this byte sees the close. */
	size_t off = x->server
			     ? __builtin_offsetof(struct vmsg_vchan_page, cli_live)
			     : __builtin_offsetof(struct vmsg_vchan_page, srv_live);
	vmsg__store_release(&x->ctl_page[off], (uint8_t)VMSG_LIVE_GONE);
	return 1;
}

void vmsg__xen_death_close(struct vmsg_xen_platform *x)
{
	if (x->epfd >= 0)
		close(x->epfd);
	if (x->xsw)
		xs_close(x->xsw);
	x->epfd = x->xsfd = -1;
	x->xsw = NULL;
}
