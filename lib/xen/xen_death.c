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
 * One watch per process, shared by its channels: a xenstore connection and
 * a watch each cost xenstored a connection and a watch of the domain's
 * quota, and libxenstore a thread, so a dom0 process with a thousand
 * channels held a thousand of each. The handle is opened by the first
 * channel that needs it and closed with the last (a child after fork()
 * forgets the parent's and opens its own).
 * Every channel's epoll fd holds the handle's fd and an eventfd of its own,
 * its "news": whichever channel finds watch events drains them all and
 * raises every channel's news, so none sleeps through them (the shared fd
 * alone would not do: once drained it no longer wakes a waiter that had
 * not looked yet).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

/* The process's @releaseDomain watch and the channels that use it. */
static struct {
	pthread_mutex_t mu;
	struct xs_handle *xs; /* NULL until the first channel needs it */
	int fd;		      /* xs_fileno(xs) */
	struct vmsg__xen_linux *users;
} dw = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};
static pthread_once_t dw_once = PTHREAD_ONCE_INIT;

/* Is this process in dom0? 0: not asked yet (or the store did not say),
 * 1: yes, 2: no. Asked once per process, not per channel end: the
 * question is a xenstore connection and a read, and a brokered channel
 * is to cost xenstore nothing. A domain stays dom0 or not for its life
 * (a migrated domU may get a new domid, never 0). */
static int dom0_known;

/* In a child after fork(): the handle's reader thread did not come along,
 * so the handle is unusable here; forget it (and the parent's channels).
 * Forget what we knew of our domain too: the simulated Xen's tests move a
 * forked child to another domain (XENSIM_DOMID) before it opens a handle. */
static void dw_forget(void)
{
	pthread_mutex_init(&dw.mu, NULL);
	dw.xs = NULL;
	dw.fd = -1;
	dw.users = NULL;
	dom0_known = 0;
}

static void dw_init(void)
{
	(void)pthread_atfork(NULL, NULL, dw_forget);
}

/* The shared handle, opened and watching; call with dw.mu held. */
static struct xs_handle *dw_handle(void)
{
	if (dw.xs)
		return dw.xs;
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return NULL;
	int fd = -1;
	if (!xs_watch(xs, "@releaseDomain", "vmsg") || (fd = xs_fileno(xs)) < 0) {
		xs_close(xs);
		return NULL;
	}
	dw.xs = xs;
	dw.fd = fd;
	return xs;
}

/* 1: the peer's domain directory is there; 0: it is gone (ENOENT);
 * -1: the store did not say. */
static int peer_exists(struct vmsg__xenplat *x)
{
	char dir[32];
	snprintf(dir, sizeof dir, "/local/domain/%u", (unsigned)x->peer);
	unsigned len = 0;
	pthread_mutex_lock(&dw.mu);
	struct xs_handle *xs = dw.xs;
	pthread_mutex_unlock(&dw.mu);
	char *s = xs ? xs_read(xs, XBT_NULL, dir, &len) : NULL;
	if (s) {
		free(s);
		return 1;
	}
	return errno == ENOENT ? 0 : -1;
}

static bool in_dom0(void)
{
	int k = __atomic_load_n(&dom0_known, __ATOMIC_RELAXED);
	if (k == 0) {
		uint16_t self;
		if (vmsg_xen_own_domid(&self) < 0)
			return false; /* ask again next time */
		k = self == 0 ? 1 : 2;
		__atomic_store_n(&dom0_known, k, __ATOMIC_RELAXED);
	}
	return k == 1;
}

void vmsg__xen_death_open(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (x->peer == 0 || watch_off)
		return; /* dom0 is not destroyed under us; vmsgd watches */
	(void)pthread_once(&dw_once, dw_init); /* before we learn anything */
	/* Only dom0 gets @releaseDomain events. */
	if (!in_dom0())
		return;
	l->newsfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->newsfd < 0 || l->epfd < 0)
		goto off;
	struct epoll_event ev = {.events = EPOLLIN};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->newsfd, &ev) < 0)
		goto off;
	pthread_mutex_lock(&dw.mu);
	bool ok = dw_handle() &&
		  epoll_ctl(l->epfd, EPOLL_CTL_ADD, dw.fd, &ev) == 0;
	if (ok) {
		l->next = dw.users;
		dw.users = l;
		l->watching = true;
	}
	pthread_mutex_unlock(&dw.mu);
	if (!ok)
		goto off;
	l->peer_seen = peer_exists(x) > 0;
	return;
off:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->newsfd >= 0)
		close(l->newsfd);
	l->epfd = l->newsfd = -1;
}

/* Drain the watch's events (`w`, one already taken, or NULL); if there
 * were any, raise every channel's news. Then take ours. Call with dw.mu
 * held. */
static bool take_news(struct vmsg__xen_linux *l, char **w)
{
	bool any = w != NULL;
	free(w);
	while ((w = xs_check_watch(dw.xs)) != NULL) {
		free(w);
		any = true;
	}
	for (struct vmsg__xen_linux *u = dw.users; any && u; u = u->next)
		if (!__atomic_load_n(&u->news, __ATOMIC_RELAXED)) {
			__atomic_store_n(&u->news, true, __ATOMIC_RELEASE);
			uint64_t one = 1;
			(void)!write(u->newsfd, &one, sizeof one);
		}
	if (!__atomic_load_n(&l->news, __ATOMIC_RELAXED))
		return false;
	__atomic_store_n(&l->news, false, __ATOMIC_RELAXED);
	uint64_t v;
	(void)!read(l->newsfd, &v, sizeof v); /* raised with news set */
	return true;
}

int vmsg__xen_death_check(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (!l->watching)
		return 0;
	/* Every wake-up of a watching end comes here: the process-wide lock
	 * only when there is something to share. libxenstore's check takes
	 * its own lock, and dw.xs stays open while we are one of its users. */
	char **w = xs_check_watch(dw.xs);
	if (!w && !__atomic_load_n(&l->news, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&dw.mu);
	bool news = take_news(l, w);
	pthread_mutex_unlock(&dw.mu);
	if (!news)
		return 0;
	/* Gone only if we saw it alive first: a domain still being built
	 * (its directory not yet written) is not a dead peer. Alive is its
	 * directory there at an earlier event, or its live byte up: a peer
	 * that connected existed. Without the second, a channel served
	 * before its peer's domain was built, whose only event (the watch's
	 * first) came while the domain was being built, never saw its peer
	 * alive and missed its death. */
	int e = peer_exists(x);
	if (e > 0 || vmsg__xenplat_peer_up(x))
		l->peer_seen = true;
	if (e != 0 || !l->peer_seen || !x->ctl_page)
		return 0;
	l->peer_seen = false; /* report it once */
	return vmsg__xenplat_peer_gone(x);
}

void vmsg__xen_death_close(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (l->watching) {
		pthread_mutex_lock(&dw.mu);
		for (struct vmsg__xen_linux **pp = &dw.users; *pp;
		     pp = &(*pp)->next)
			if (*pp == l) {
				*pp = l->next;
				break;
			}
		if (!dw.users && dw.xs) {
			/* The last one: an idle process holds nothing. */
			xs_close(dw.xs);
			dw.xs = NULL;
			dw.fd = -1;
		}
		pthread_mutex_unlock(&dw.mu);
		l->watching = false;
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->newsfd >= 0)
		close(l->newsfd);
	l->epfd = l->newsfd = -1;
}
