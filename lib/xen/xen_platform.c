/* The Xen platform: vchan's primitives straight from Xen's libraries.
 *
 *   share       -> xengntshr_share_page_notify (the control page, with the
 *                  unmap notification on our live byte) or
 *                  xengntshr_share_pages (ring pages)
 *   map         -> xengnttab_map_grant_ref_notify / map_domain_grant_refs
 *   event port  -> xenevtchn_bind_unbound_port (server) /
 *                  xenevtchn_bind_interdomain (client)
 *   directory   -> xenstore (xen_store.c)
 *
 * Peer death: Xen (or the simulator) clears the dead side's live byte and
 * signals our port through the unmap notification that side registered,
 * when its process dies. A destroyed domain runs none: xen_death.c.
 *
 * fd() is an epoll fd over the event device (and the death watch's
 * xenstore connection, and pend()'s eventfd once a receive stopped on its
 * budget), so that its number never changes after a caller registered it.
 *
 * Linux's evtchn device masks a port once it has fired; it stays masked,
 * and further events on it are held, until xenevtchn_unmask(). So every
 * consumed event is unmasked right after it is read, and an event that
 * arrived in between is delivered again by that unmask: none is lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xentoollog.h>

#include "xen_internal.h"

/* Upper bound on pages per share/map call: two order-20 rings need 512;
 * this refuses nonsense before it reaches the libraries. */
#define XEN_MAX_PAGES 4096u

/* ---- small helpers ------------------------------------------------------ */

int vmsg__xen_err(void)
{
	return errno > 0 ? -errno : -EIO;
}

uint64_t vmsg__xen_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The libraries report through a logger; a library must not print, so
 * ours discards everything (errors reach the caller as -errno). */
static void quiet_vmessage(struct xentoollog_logger *l, xentoollog_level lv,
			   int errnoval, const char *ctx, const char *fmt,
			   va_list al)
{
	(void)l, (void)lv, (void)errnoval, (void)ctx, (void)fmt, (void)al;
}

static void quiet_progress(struct xentoollog_logger *l, const char *ctx,
			   const char *what, int pct, unsigned long done,
			   unsigned long total)
{
	(void)l, (void)ctx, (void)what, (void)pct, (void)done, (void)total;
}

static void quiet_destroy(struct xentoollog_logger *l)
{
	(void)l;
}

/* The platform with its logger: handles keep a pointer to the logger, so
 * it lives exactly as long as they do. */
struct xen_platform_alloc {
	struct vmsg_xen_platform x; /* first: vmsg__xen_of() casts */
	struct xentoollog_logger log;
};

static struct xen_region *region_slot(struct vmsg_xen_platform *x,
				      void *addr)
{
	for (int i = 0; i < XEN_MAX_REGIONS; i++)
		if (x->reg[i].addr == addr)
			return &x->reg[i];
	return NULL;
}

static void region_release(struct vmsg_xen_platform *x, struct xen_region *r)
{
	/* Unsharing or unmapping the page that carries our unmap
	 * notification clears our live byte and kicks the peer: that is how
	 * the peer learns we are gone. */
	if (r->shared)
		(void)xengntshr_unshare(x->shr, r->addr, r->pages);
	else
		(void)xengnttab_unmap(x->tab, r->addr, r->pages);
	if (r->notify) {
		x->notify_set = false;
		x->ctl_page = NULL;
	}
	r->addr = NULL;
	r->pages = 0;
	r->notify = false;
}

/* ---- memory -------------------------------------------------------------- */

static int xen_share(struct vmsg_platform *p, uint32_t n, void **addr,
		     uint32_t *refs, int notify_off)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (!addr || !refs || n == 0 || n > XEN_MAX_PAGES ||
	    notify_off >= (int)XEN_PAGE)
		return -EINVAL;
	if (!x->server)
		return -ENOTSUP; /* a client maps, it does not share */
	/* Xen offers unmap notification on single-page shares only; the
	 * channel asks for it once, on the control page, after port_alloc. */
	if (notify_off >= 0 && (n != 1 || x->port < 0 || x->notify_set))
		return -EINVAL;
	struct xen_region *r = region_slot(x, NULL);
	if (!r)
		return -ENOMEM;

	void *a;
	if (notify_off >= 0)
		a = xengntshr_share_page_notify(x->shr, x->peer, refs, 1,
						(uint32_t)notify_off,
						(evtchn_port_t)x->port);
	else
		a = xengntshr_share_pages(x->shr, x->peer, (int)n, refs, 1);
	if (!a)
		return vmsg__xen_err();
	/* gntalloc hands out fresh zeroed pages; clear them anyway so the
	 * contract holds on any implementation (the peer cannot map them
	 * before we publish the reference). */
	memset(a, 0, (size_t)n * XEN_PAGE);
	r->addr = a;
	r->pages = n;
	r->shared = true;
	r->notify = notify_off >= 0;
	if (notify_off >= 0) {
		x->notify_set = true;
		x->ctl_page = a;
	}
	*addr = a;
	return 0;
}

static int xen_map(struct vmsg_platform *p, uint32_t n, const uint32_t *refs,
		   void **addr, int notify_off)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (!addr || !refs || n == 0 || n > XEN_MAX_PAGES ||
	    notify_off >= (int)XEN_PAGE)
		return -EINVAL;
	if (x->server)
		return -ENOTSUP;
	if (notify_off >= 0 && (n != 1 || x->port < 0 || x->notify_set))
		return -EINVAL; /* port_bind first; one notify byte */
	struct xen_region *r = region_slot(x, NULL);
	if (!r)
		return -ENOMEM;

	void *a;
	if (notify_off >= 0) {
		a = xengnttab_map_grant_ref_notify(
			x->tab, x->peer, refs[0], PROT_READ | PROT_WRITE,
			(uint32_t)notify_off, (evtchn_port_t)x->port);
	} else {
		/* The library's prototype takes a non-const list. */
		uint32_t *copy = malloc((size_t)n * sizeof *copy);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, refs, (size_t)n * sizeof *copy);
		a = xengnttab_map_domain_grant_refs(x->tab, n, x->peer, copy,
						    PROT_READ | PROT_WRITE);
		int e = errno;
		free(copy);
		errno = e;
	}
	if (!a) {
		/* gntdev fails the map with EINVAL when Xen refuses a grant:
		 * the server named a reference that is not ours to map. */
		if (errno == EINVAL)
			return -EPROTO;
		return vmsg__xen_err();
	}
	r->addr = a;
	r->pages = n;
	r->shared = false;
	r->notify = notify_off >= 0;
	if (notify_off >= 0) {
		x->notify_set = true;
		x->ctl_page = a;
	}
	*addr = a;
	return 0;
}

static void xen_unmap(struct vmsg_platform *p, void *addr, uint32_t n)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (!addr)
		return;
	struct xen_region *r = region_slot(x, addr);
	/* Only what we mapped, with the count we mapped it with. */
	if (r && r->pages == n)
		region_release(x, r);
}

/* ---- events -------------------------------------------------------------- */

static int xen_port_alloc(struct vmsg_platform *p, uint32_t *port)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (!port || !x->server)
		return -EINVAL;
	/* A server that starts over (a persistent server after its client
	 * left) gets a fresh port: the old one may still be bound by a
	 * client that did not go away. */
	if (x->port >= 0) {
		if (x->notify_set)
			return -EBUSY; /* the live page still signals it */
		(void)xenevtchn_unbind(x->evt, (evtchn_port_t)x->port);
		x->port = -1;
	}
	xenevtchn_port_or_error_t lp =
		xenevtchn_bind_unbound_port(x->evt, x->peer);
	if (lp < 0)
		return vmsg__xen_err();
	x->port = lp;
	/* Ports start unmasked on Linux; say so anyway, as libxenvchan
	 * does, so a recycled port cannot start masked. */
	(void)xenevtchn_unmask(x->evt, (evtchn_port_t)lp);
	*port = (uint32_t)lp;
	return 0;
}

static int xen_port_bind(struct vmsg_platform *p, uint32_t remote_port)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (x->server || x->port >= 0 || remote_port == 0 ||
	    remote_port > XEN_PORT_MAX)
		return -EINVAL;
	xenevtchn_port_or_error_t lp = xenevtchn_bind_interdomain(
		x->evt, x->peer, (evtchn_port_t)remote_port);
	if (lp < 0) {
		/* Xen refuses with EINVAL a port that is not unbound and
		 * reserved for our domain: another client holds it (or it
		 * was never meant for us). */
		if (errno == EINVAL)
			return -EBUSY;
		return vmsg__xen_err();
	}
	x->port = lp;
	(void)xenevtchn_unmask(x->evt, (evtchn_port_t)lp);
	return 0;
}

static int xen_notify(struct vmsg_platform *p)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (x->port < 0)
		return 0; /* no port yet: nobody to kick */
	if (xenevtchn_notify(x->evt, (evtchn_port_t)x->port) < 0)
		return vmsg__xen_err();
	return 0;
}

/* Consume the queued event without blocking. 1 if there was one, 0 if
 * none. One read is enough: the handle has one port, which the kernel
 * masks when it fires, so nothing more is queued for it before the unmask
 * below; an event after the unmask makes the fd readable again. (Reading
 * on until EAGAIN would cost a system call per wake-up, a trap through the
 * hypervisor in a PV domain.) */
static int drain(struct vmsg_xen_platform *x)
{
	xenevtchn_port_or_error_t port;
	do
		port = xenevtchn_pending(x->evt);
	while (port < 0 && errno == EINTR);
	if (port < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0
							       : vmsg__xen_err();
	/* The port is masked since it fired: unmask it, or no event reaches
	 * us again. An event held meanwhile comes back at once. */
	if (xenevtchn_unmask(x->evt, (evtchn_port_t)port) < 0)
		return vmsg__xen_err();
	return 1;
}

/* Consume an event of pend(). 1 if there was one. */
static int take_pended(struct vmsg_xen_platform *x)
{
	uint64_t v;
	if (!x->pended)
		return 0;
	x->pended = false;
	(void)!read(x->pendfd, &v, sizeof v); /* non-blocking; resets it */
	return 1;
}

static int xen_wait(struct vmsg_platform *p, int timeout_ms)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	uint64_t deadline = 0;
	if (take_pended(x))
		return 1;
	if (timeout_ms > 0)
		deadline = vmsg__xen_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		int t = timeout_ms < 0 ? -1 : timeout_ms;
		if (timeout_ms > 0) {
			uint64_t now = vmsg__xen_now_ns();
			t = now >= deadline ? 0
					    : (int)((deadline - now + 999999u) /
						    1000000u);
		}
		struct pollfd pf[2] = {{.fd = x->evfd, .events = POLLIN},
				       {.fd = x->xsfd, .events = POLLIN}};
		int n = poll(pf, x->xsfd >= 0 ? 2 : 1, t);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n > 0 && pf[1].revents && vmsg__xen_death_check(x))
			return 1;
		if (n > 0 && pf[0].revents) {
			int r = drain(x);
			if (r != 0)
				return r;
			if (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL))
				return -EIO; /* the event device went away */
		}
		/* Nothing (or a readable fd with nothing queued): on
		 * with the time that is left. */
		if (t == 0)
			return 0;
	}
}

static int xen_ack(struct vmsg_platform *p)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	int dead = vmsg__xen_death_check(x);
	int pended = take_pended(x);
	int r = drain(x);
	return r < 0 ? r : (r || dead || pended);
}

/* Always an epoll fd (made here unless the death watch made it), so that
 * pend() can add its eventfd later without the fd changing under a
 * caller that registered it. */
static int xen_fd(struct vmsg_platform *p)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (x->epfd < 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		if (ep < 0)
			return -errno;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, x->evfd, &ev) < 0) {
			int e = -errno;
			close(ep);
			return e;
		}
		x->epfd = ep;
	}
	return x->epfd;
}

/* Only a caller polling fd() sleeps outside the library: without an fd
 * handed out there is nobody to wake. */
static int xen_pend(struct vmsg_platform *p)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	uint64_t one = 1;
	if (x->epfd < 0)
		return 0;
	if (x->pendfd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN};
		if (fd < 0)
			return -errno;
		if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		x->pendfd = fd;
	}
	if (write(x->pendfd, &one, sizeof one) < 0 && errno != EAGAIN)
		return -errno;
	x->pended = true;
	return 0;
}

/* ---- the rest ---------------------------------------------------------- */

static void *xen_alloc(struct vmsg_platform *p, size_t size)
{
	(void)p;
	return calloc(1, size ? size : 1);
}

static void xen_free(struct vmsg_platform *p, void *ptr, size_t size)
{
	(void)p, (void)size;
	free(ptr);
}

static uint64_t xen_now_ns(struct vmsg_platform *p)
{
	(void)p;
	return vmsg__xen_now_ns();
}

static void xen_destroy(struct vmsg_platform *p)
{
	struct vmsg_xen_platform *x = vmsg__xen_of(p);
	if (!x)
		return;
	/* Withdraw the keys first so no new client finds us, then undo the
	 * mappings (the unmap notification tells the peer), and only then
	 * close the port that notification signals. */
	vmsg__xen_unpublish(p);
	vmsg__xen_death_close(x); /* and epfd, whoever made it */
	if (x->pendfd >= 0)
		close(x->pendfd);
	for (int i = 0; i < XEN_MAX_REGIONS; i++)
		if (x->reg[i].addr)
			region_release(x, &x->reg[i]);
	if (x->port >= 0)
		(void)xenevtchn_unbind(x->evt, (evtchn_port_t)x->port);
	if (x->evt)
		xenevtchn_close(x->evt);
	if (x->shr)
		xengntshr_close(x->shr);
	if (x->tab)
		xengnttab_close(x->tab);
	free(x->path);
	free(x);
}

static const struct vmsg_platform_ops xen_ops = {
	.name = "xen",
	.share = xen_share,
	.map = xen_map,
	.unmap = xen_unmap,
	.port_alloc = xen_port_alloc,
	.port_bind = xen_port_bind,
	.notify = xen_notify,
	.wait = xen_wait,
	.ack = xen_ack,
	.fd = xen_fd,
	.pend = xen_pend,
	.publish = vmsg__xen_publish,
	.unpublish = vmsg__xen_unpublish,
	.lookup = vmsg__xen_lookup,
	.alloc = xen_alloc,
	.free = xen_free,
	.now_ns = xen_now_ns,
	.destroy = xen_destroy,
};

int vmsg_xen_platform_new(struct vmsg_platform **out, uint16_t peer_domid,
			  const char *path, bool server)
{
	if (!out || !path || path[0] != '/' || peer_domid >= XEN_DOMID_LIMIT)
		return -EINVAL;
	size_t len = strlen(path);
	if (len >= VMSG_XEN_PATH_MAX)
		return -ENAMETOOLONG;
	struct xen_platform_alloc *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	struct vmsg_xen_platform *x = &a->x;
	x->base.ops = &xen_ops;
	x->server = server;
	x->peer = peer_domid;
	x->port = -1;
	x->evfd = -1;
	x->xsfd = -1;
	x->epfd = -1;
	x->pendfd = -1;
	a->log.vmessage = quiet_vmessage;
	a->log.progress = quiet_progress;
	a->log.destroy = quiet_destroy;
	int r;
	x->path = strdup(path);
	if (!x->path) {
		r = -ENOMEM;
		goto fail;
	}
	/* Drop a trailing '/' so "<path>/ring-ref" is well formed. */
	while (len > 1 && x->path[len - 1] == '/')
		x->path[--len] = 0;

	x->evt = xenevtchn_open(&a->log, 0);
	if (!x->evt) {
		r = vmsg__xen_err();
		goto fail;
	}
	x->evfd = xenevtchn_fd(x->evt);
	if (x->evfd < 0) {
		r = vmsg__xen_err();
		goto fail;
	}
	/* wait/ack read events with the fd non-blocking: pending() then
	 * says EAGAIN instead of sleeping when nothing is queued. */
	int fl = fcntl(x->evfd, F_GETFL);
	if (fl < 0 || fcntl(x->evfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	if (server)
		x->shr = xengntshr_open(&a->log, 0);
	else
		x->tab = xengnttab_open(&a->log, 0);
	if (!x->shr && !x->tab) {
		r = vmsg__xen_err();
		goto fail;
	}
	vmsg__xen_death_open(x);
	*out = &x->base;
	return 0;
fail:
	xen_destroy(&x->base);
	return r;
}
