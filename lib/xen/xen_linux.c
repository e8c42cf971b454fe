/* The Xen platform's Linux layer (lib/xenplat/xenplat_os.h): its hooks
 * over Xen's own libraries.
 *
 *   grants      -> xengntshr_share_page_notify (the control page, with the
 *                  unmap notification on our live byte, run by gntalloc
 *                  also when we die) / xengntshr_share_pages;
 *                  xengnttab_map_grant_ref_notify / map_domain_grant_refs
 *   events      -> a xenevtchn handle per platform, its fd polled; the
 *                  fd handed out is an epoll fd over it (and the death
 *                  watch, and evt_pend's eventfd once used), so that its
 *                  number never changes after a caller registered it
 *   xenstore    -> libxenstore, one connection per session
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
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenstore.h>

#include "vmsg_clock.h"
#include "vmsg_linux_alloc.h"
#include "vmsg_poll.h"
#include "vmsg_xen_msg.h"
#include "xen_internal.h"

int vmsg__xen_err(void)
{
	return errno > 0 ? -errno : -EIO;
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

/* ---- life cycle ---------------------------------------------------------- */

/* A platform's handles: an event-channel handle, and a grant handle of its
 * role's kind (a server shares, a client maps). */
static int handles_open(struct vmsg__xen_linux **out, bool server)
{
	struct vmsg__xen_linux *l = calloc(1, sizeof *l);
	*out = l;
	if (!l)
		return -ENOMEM;
	l->evfd = l->newsfd = l->epfd = l->pendfd = -1;
	l->log.vmessage = quiet_vmessage;
	l->log.progress = quiet_progress;
	l->log.destroy = quiet_destroy;
	l->evt = xenevtchn_open(&l->log, 0);
	if (!l->evt)
		return vmsg__xen_err();
	l->evfd = xenevtchn_fd(l->evt);
	if (l->evfd < 0)
		return vmsg__xen_err();
	/* Waits read events with the fd non-blocking: pending() then says
	 * EAGAIN instead of sleeping when nothing is queued. */
	int fl = fcntl(l->evfd, F_GETFL);
	if (fl < 0 || fcntl(l->evfd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	l->evfl = fl | O_NONBLOCK;
	if (server)
		l->shr = xengntshr_open(&l->log, 0);
	else
		l->tab = xengnttab_open(&l->log, 0);
	if (!l->shr && !l->tab)
		return vmsg__xen_err();
	return 0;
}

static void handles_close(struct vmsg__xen_linux *l)
{
	if (l->pendfd >= 0)
		close(l->pendfd);
	if (l->evt)
		xenevtchn_close(l->evt);
	if (l->shr)
		xengntshr_close(l->shr);
	if (l->tab)
		xengnttab_close(l->tab);
	free(l);
}

/* Handles opened ahead of the channel that takes them (vmsg__xen_prepare),
 * one set per role: opening them costs a channel's setup the most after
 * its mappings on the simulated Xen (a daemon round trip each), and a
 * process can do it while it waits anyway. */
static struct {
	pthread_mutex_t mu;
	struct vmsg__xen_linux *set[2]; /* [server] */
	/* A child after fork() must not use its parent's (the simulated
	 * Xen's handles are connections to its daemon); they stay reachable
	 * here, unused. */
	struct vmsg__xen_linux *parents[2];
} ready = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t ready_once = PTHREAD_ONCE_INIT;

static void ready_forget(void)
{
	pthread_mutex_init(&ready.mu, NULL);
	for (int i = 0; i < 2; i++) {
		if (ready.set[i])
			ready.parents[i] = ready.set[i];
		ready.set[i] = NULL;
	}
}

static void ready_init(void)
{
	(void)pthread_atfork(NULL, NULL, ready_forget);
}

static struct vmsg__xen_linux *ready_take(bool server)
{
	(void)pthread_once(&ready_once, ready_init);
	pthread_mutex_lock(&ready.mu);
	struct vmsg__xen_linux *l = ready.set[server];
	ready.set[server] = NULL;
	pthread_mutex_unlock(&ready.mu);
	return l;
}

int vmsg__xen_prepare(bool server)
{
	struct vmsg__xen_linux *l;
	(void)pthread_once(&ready_once, ready_init);
	pthread_mutex_lock(&ready.mu);
	bool have = ready.set[server] != NULL;
	pthread_mutex_unlock(&ready.mu);
	if (have)
		return 0;
	int r = handles_open(&l, server);
	if (r < 0) {
		if (l)
			handles_close(l);
		return r;
	}
	pthread_mutex_lock(&ready.mu);
	if (!ready.set[server]) {
		ready.set[server] = l;
		l = NULL;
	}
	pthread_mutex_unlock(&ready.mu);
	if (l)
		handles_close(l); /* another thread was quicker */
	return 0;
}

void vmsg__xen_unprepare(bool server)
{
	struct vmsg__xen_linux *l = ready_take(server);
	if (l)
		handles_close(l);
}

static void lx_close(struct vmsg__xenplat *x)
{
	if (!vmsg__xen_linux_of(x))
		return; /* handles_open() found no memory */
	vmsg__xen_death_close(x); /* and epfd, whoever made it */
	handles_close(vmsg__xen_linux_of(x));
	x->os = NULL;
}

static int lx_open(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = ready_take(x->server);
	int r = l ? 0 : handles_open(&l, x->server);
	x->os = l; /* on failure too: lx_close() undoes it */
	if (r < 0)
		return r;
	vmsg__xen_death_open(x);
	return 0;
}

/* ---- grants -------------------------------------------------------------- */

static int lx_share(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
		    uint32_t *refs, int notify_off)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	void *a;
	if (notify_off >= 0)
		a = xengntshr_share_page_notify(l->shr, x->peer, refs, 1,
						(uint32_t)notify_off,
						(evtchn_port_t)x->port);
	else
		a = xengntshr_share_pages(l->shr, x->peer, (int)r->pages, refs,
					  1);
	if (!a)
		return vmsg__xen_err();
	/* gntalloc hands out fresh zeroed pages; clear them anyway so the
	 * contract holds on any implementation (the peer cannot map them
	 * before we publish the reference). */
	memset(a, 0, (size_t)r->pages * VMSG_XEN_PAGE);
	r->addr = a;
	return 0;
}

static int lx_map(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
		  const uint32_t *refs, int notify_off)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	void *a;
	if (notify_off >= 0) {
		a = xengnttab_map_grant_ref_notify(
			l->tab, x->peer, refs[0], PROT_READ | PROT_WRITE,
			(uint32_t)notify_off, (evtchn_port_t)x->port);
	} else {
		/* The library's prototype takes a non-const list. */
		uint32_t *copy = malloc((size_t)r->pages * sizeof *copy);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, refs, (size_t)r->pages * sizeof *copy);
		a = xengnttab_map_domain_grant_refs(l->tab, r->pages, x->peer,
						    copy, PROT_READ | PROT_WRITE);
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
	return 0;
}

static void lx_unmap(struct vmsg__xenplat *x, struct vmsg__xen_region *r)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	/* The drivers keep a page the peer still maps out of reuse. */
	if (r->shared)
		(void)xengntshr_unshare(l->shr, r->addr, r->pages);
	else
		(void)xengnttab_unmap(l->tab, r->addr, r->pages);
}

/* ---- events -------------------------------------------------------------- */

static int lx_evt_alloc_unbound(struct vmsg__xenplat *x, uint32_t *port)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	xenevtchn_port_or_error_t lp =
		xenevtchn_bind_unbound_port(l->evt, x->peer);
	if (lp < 0)
		return vmsg__xen_err();
	/* Ports start unmasked on Linux; say so anyway, as libxenvchan
	 * does, so a recycled port cannot start masked. */
	(void)xenevtchn_unmask(l->evt, (evtchn_port_t)lp);
	*port = (uint32_t)lp;
	return 0;
}

static int lx_evt_bind(struct vmsg__xenplat *x, uint32_t remote_port,
		       uint32_t *port)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	xenevtchn_port_or_error_t lp = xenevtchn_bind_interdomain(
		l->evt, x->peer, (evtchn_port_t)remote_port);
	if (lp < 0)
		return vmsg__xen_err();
	(void)xenevtchn_unmask(l->evt, (evtchn_port_t)lp);
	*port = (uint32_t)lp;
	return 0;
}

static void lx_evt_close(struct vmsg__xenplat *x, uint32_t port)
{
	(void)xenevtchn_unbind(vmsg__xen_linux_of(x)->evt, (evtchn_port_t)port);
}

static int lx_evt_notify(struct vmsg__xenplat *x, uint32_t port)
{
	if (xenevtchn_notify(vmsg__xen_linux_of(x)->evt, (evtchn_port_t)port) < 0)
		return vmsg__xen_err();
	return 0;
}

/* The event device's O_NONBLOCK: clear while lx_evt_sleep reads it, set
 * for every other read. Changed only when a program goes from one way of
 * waiting to the other, not at every wait. */
static int set_blocking(struct vmsg__xen_linux *l, bool on)
{
	if (l->evblock == on)
		return 0;
	if (fcntl(l->evfd, F_SETFL, on ? l->evfl & ~O_NONBLOCK : l->evfl) < 0)
		return -errno;
	l->evblock = on;
	return 0;
}

/* Read the queued event, sleeping for one if `block` (lx_evt_sleep), and
 * unmask its port. 1 if there was one, 0 if none (not blocking), -EINTR,
 * -errno. One read is enough: the handle has one port, which the kernel
 * masks when it fires, so nothing more is queued for it before the unmask
 * below; an event after the unmask makes the fd readable again. (Reading
 * on until EAGAIN would cost a system call per wake-up, a trap through the
 * hypervisor in a PV domain.) */
static int take_event(struct vmsg__xen_linux *l, bool block)
{
	int r = set_blocking(l, block);
	if (r < 0)
		return r;
	xenevtchn_port_or_error_t port = xenevtchn_pending(l->evt);
	if (port < 0) {
		if (errno == EINTR)
			return -EINTR;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0
							       : vmsg__xen_err();
	}
	/* The port is masked since it fired: unmask it, or no event reaches
	 * us again. An event held meanwhile comes back at once. */
	if (xenevtchn_unmask(l->evt, (evtchn_port_t)port) < 0)
		return vmsg__xen_err();
	return 1;
}

/* Consume the queued event without blocking: 1 there was one, 0 not. */
static int drain(struct vmsg__xen_linux *l)
{
	int r;
	do
		r = take_event(l, false);
	while (r == -EINTR);
	return r;
}

static int lx_evt_take(struct vmsg__xenplat *x)
{
	int dead = vmsg__xen_death_check(x);
	int r = drain(vmsg__xen_linux_of(x));
	return r < 0 ? r : (r || dead);
}

/* What our own waits poll: the epoll fd when there is one (the death
 * watch, a caller's fd), else the event device. */
static int poll_fd(const struct vmsg__xen_linux *l)
{
	return l->epfd >= 0 ? l->epfd : l->evfd;
}

/* Always an epoll fd (made here unless the death watch made it), so that
 * evt_pend can add its eventfd later without the fd changing under a
 * caller that registered it. */
static int lx_evt_fd(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	if (l->epfd < 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		if (ep < 0)
			return -errno;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, l->evfd, &ev) < 0) {
			int e = -errno;
			close(ep);
			return e;
		}
		l->epfd = ep;
	}
	return l->epfd;
}

/* Only a caller polling the fd sleeps outside the library's waits: with
 * no fd handed out (no epoll fd) there is nobody to wake. */
static int lx_evt_pend(struct vmsg__xenplat *x, bool raise)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	uint64_t v = 1;
	if (!raise) {
		if (l->pendfd >= 0) /* non-blocking; resets it */
			(void)!read(l->pendfd, &v, sizeof v);
		return 0;
	}
	if (l->epfd < 0)
		return 0;
	if (l->pendfd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN};
		if (fd < 0)
			return -errno;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		l->pendfd = fd;
	}
	if (write(l->pendfd, &v, sizeof v) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* Sleep in the read of the event itself, as libxenvchan does: one system
 * call per wake-up where poll() and then the read take two (in a PV
 * guest, each a trap through the hypervisor). Only while the port is all
 * that can wake this end: a dom0 end on the shared @releaseDomain watch
 * must also wake for the watch, so it polls its epoll set (-EAGAIN). A
 * caller's fd (the epoll set) stays truthful: it polls readable for as
 * long as the event is queued, and this read is what consumes it, as
 * drain()'s would. */
static int lx_evt_sleep(struct vmsg__xenplat *x)
{
	struct vmsg__xen_linux *l = vmsg__xen_linux_of(x);
	return l->watching ? -EAGAIN : take_event(l, true);
}

_Static_assert(VMSG_XEN_FOREVER == VMSG_POLL_FOREVER,
	       "lx_evt_wait hands the core's deadline to vmsg__poll_events");

/* lx_evt_wait's take: the event a readable fd holds. */
static int take_lx(void *ctx, unsigned i, short revents)
{
	struct vmsg__xenplat *const *xs = ctx;
	int r = lx_evt_take(xs[i]);
	if (r == 0 && (revents & (POLLERR | POLLHUP | POLLNVAL)))
		return -EIO; /* the event device went away */
	return r;
}

static int lx_evt_wait(struct vmsg__xenplat *const *xs, unsigned n,
		       uint64_t deadline_ns, uint8_t *fired)
{
	struct pollfd pf[VMSG_WAITSET_MAX];
	if (n > VMSG_WAITSET_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		pf[i] = (struct pollfd){.fd = poll_fd(vmsg__xen_linux_of(xs[i])),
					.events = POLLIN};
	return vmsg__poll_events(pf, n, deadline_ns, take_lx, (void *)xs,
				 fired);
}

/* ---- xenstore ------------------------------------------------------------ */

static int lx_xs_open(void **s)
{
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return vmsg__xen_err();
	*s = xs;
	return 0;
}

static void lx_xs_close(void *s)
{
	xs_close(s);
}

static int lx_xs_read(void *s, uint32_t tx, const char *path, char *buf,
		      size_t cap)
{
	unsigned len = 0;
	char *v = xs_read(s, tx, path, &len);
	if (!v)
		return vmsg__xen_err();
	int r = -ENAMETOOLONG;
	if (len < cap) {
		memcpy(buf, v, len);
		buf[len] = 0;
		r = (int)len;
	}
	free(v);
	return r;
}

static int lx_xs_write(void *s, uint32_t tx, const char *path,
		       const char *val, size_t len)
{
	return xs_write(s, tx, path, val, (unsigned)len) ? 0 : vmsg__xen_err();
}

static int lx_xs_rm(void *s, uint32_t tx, const char *path)
{
	return xs_rm(s, tx, path) ? 0 : vmsg__xen_err();
}

static int lx_xs_dir_empty(void *s, uint32_t tx, const char *path)
{
	unsigned num = 0;
	char **dir = xs_directory(s, tx, path, &num);
	if (!dir)
		return vmsg__xen_err();
	free(dir);
	return num == 0;
}

static int lx_xs_set_perms(void *s, uint32_t tx, const char *path,
			   const struct vmsg__xs_perm *perms, unsigned n)
{
	struct xs_permissions p[VMSG_XS_PERMS_MAX];
	if (n == 0 || n > VMSG_XS_PERMS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		p[i].id = perms[i].domid;
		switch (perms[i].perm) {
		case VMSG_XS_PERM_NONE:
			p[i].perms = XS_PERM_NONE;
			break;
		case VMSG_XS_PERM_READ:
			p[i].perms = XS_PERM_READ;
			break;
		case VMSG_XS_PERM_WRITE:
			p[i].perms = XS_PERM_WRITE;
			break;
		case VMSG_XS_PERM_BOTH:
			p[i].perms = XS_PERM_READ | XS_PERM_WRITE;
			break;
		default:
			return -EINVAL;
		}
	}
	return xs_set_permissions(s, tx, path, p, n) ? 0 : vmsg__xen_err();
}

static int lx_xs_txn_start(void *s, uint32_t *tx)
{
	xs_transaction_t t = xs_transaction_start(s);
	if (t == XBT_NULL)
		return vmsg__xen_err();
	*tx = t;
	return 0;
}

static int lx_xs_txn_end(void *s, uint32_t tx, bool commit)
{
	return xs_transaction_end(s, tx, !commit) ? 0 : vmsg__xen_err();
}

static int lx_xs_watch(void *s, const char *path)
{
	return xs_watch(s, path, "vmsg") ? 0 : vmsg__xen_err();
}

static void lx_xs_unwatch(void *s, const char *path)
{
	(void)xs_unwatch(s, path, "vmsg");
}

/* Wait for a watch event, then discard the queued ones (the core re-reads
 * the keys after each). Without a watch none comes: a plain sleep. */
static int lx_xs_wait_watch(void *s, uint64_t deadline_ns)
{
	struct pollfd pf = {.fd = xs_fileno(s), .events = POLLIN};
	int k = poll(&pf, 1, vmsg__poll_ms(deadline_ns));
	if (k <= 0)
		return 0;
	char **ev;
	while ((ev = xs_check_watch(s)) != NULL)
		free(ev);
	return 1;
}

/* ---- the machine ----------------------------------------------------------- */

static uint64_t lx_now_ns(void)
{
	return vmsg__clock_ns();
}

static void *lx_alloc(size_t size)
{
	return vmsg__linux_alloc(size);
}

static void lx_free(void *ptr, size_t size)
{
	vmsg__linux_free(ptr, size);
}

const struct vmsg__xen_os vmsg__xen_os = {
	.name = "linux",
	.unmap_notifies = true,
	.open = lx_open,
	.close = lx_close,
	.share = lx_share,
	.map = lx_map,
	.unmap = lx_unmap,
	.evt_alloc_unbound = lx_evt_alloc_unbound,
	.evt_bind = lx_evt_bind,
	.evt_close = lx_evt_close,
	.evt_notify = lx_evt_notify,
	.evt_status = NULL, /* libxenevtchn cannot ask */
	.evt_take = lx_evt_take,
	.evt_wait = lx_evt_wait,
	.evt_sleep = lx_evt_sleep,
	.evt_fd = lx_evt_fd,
	.evt_pend = lx_evt_pend,
	.xs_open = lx_xs_open,
	.xs_close = lx_xs_close,
	.xs_read = lx_xs_read,
	.xs_write = lx_xs_write,
	.xs_rm = lx_xs_rm,
	.xs_dir_empty = lx_xs_dir_empty,
	.xs_set_perms = lx_xs_set_perms,
	.xs_txn_start = lx_xs_txn_start,
	.xs_txn_end = lx_xs_txn_end,
	.xs_watch = lx_xs_watch,
	.xs_unwatch = lx_xs_unwatch,
	.xs_wait_watch = lx_xs_wait_watch,
	.now_ns = lx_now_ns,
	.alloc = lx_alloc,
	.free = lx_free,
};
