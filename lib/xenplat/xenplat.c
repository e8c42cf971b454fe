/* The Xen platform: struct vmsg_platform_ops for vchan over Xen's
 * primitives, once for every OS (xenplat_os.h says how the work is split).
 *
 *   share       -> pages granted to the peer (the control page with our
 *                  unmap notification on its live byte)
 *   map         -> the peer's grants, mapped contiguously
 *   event port  -> alloc unbound (server) / bind interdomain (client)
 *   wait        -> the OS's wait on one port, or on many (wait_any)
 *   directory   -> xenstore (xenplat_store.c)
 *
 * The notify rule: the one page that carries our unmap notification is
 * the control page, shared or mapped after the port exists, and exactly
 * once. Where the OS has no unmap notification of its own (a unikernel),
 * the core gives it at unmap: our live byte cleared, then a kick.
 *
 * Peer death: the peer's unmap notification clears its live byte and
 * kicks us, when it closes or its process dies. A destroyed domain runs
 * none. Linux dom0 sees it through @releaseDomain (lib/xen/xen_death.c);
 * where the OS can ask Xen about our port (evt_status), the core asks
 * every VMSG_XEN_DEATH_POLL_MS of waiting: a port once seen bound and now
 * unbound means Xen closed the peer's end, so its domain is gone.
 */
#include <vmsg/ring.h>

#include "xenplat_os.h"

#include "vmsg_barrier.h"
#include "vmsg_errno.h"
#include "vmsg_live.h"
#include "vmsg_string.h"

/* While waiting, how often to ask Xen whether the peer's end of the event
 * channel still exists: one hypercall per channel this often. */
#define VMSG_XEN_DEATH_POLL_MS 250u

#define OS (&vmsg__xen_os)

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---- grant regions ------------------------------------------------------ */

static struct vmsg__xen_region *slot(struct vmsg__xenplat *x, void *addr)
{
	for (int i = 0; i < VMSG_XEN_MAX_REGIONS; i++)
		if (x->reg[i].addr == addr)
			return &x->reg[i];
	return NULL;
}

static void region_release(struct vmsg__xenplat *x, struct vmsg__xen_region *r)
{
	if (r->notify) {
		if (!OS->unmap_notifies) {
			/* What gntalloc/gntdev do on Linux: clear our live
			 * byte (release: everything we wrote is visible
			 * first), then kick the peer so that it looks. */
			vmsg__store_release((uint8_t *)r->addr + x->notify_off,
					    (uint8_t)VMSG_LIVE_GONE);
			if (x->has_port)
				(void)OS->evt_notify(x, x->port);
		}
		/* Where the OS does it, unsharing or unmapping below clears
		 * our byte and kicks the peer. */
		x->notify_set = false;
		x->ctl_page = NULL;
	}
	OS->unmap(x, r);
	r->addr = NULL;
	r->os = NULL;
	r->pages = 0;
	r->notify = false;
}

static int region_args(struct vmsg__xenplat *x, uint32_t n, void **addr,
		       const uint32_t *refs, int notify_off)
{
	if (!addr || !refs || n == 0 || n > VMSG_XEN_MAX_PAGES ||
	    notify_off >= (int)VMSG_XEN_PAGE)
		return -EINVAL;
	/* Xen offers unmap notification on single pages only; the channel
	 * asks for it once, on the control page, after the port exists. */
	if (notify_off >= 0 && (n != 1 || !x->has_port || x->notify_set))
		return -EINVAL;
	return 0;
}

/* A region came into being: book it; the notify page is the control page,
 * and a new control page means a new peer to watch for. */
static void region_added(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
			 int notify_off, void **addr)
{
	if (r->notify) {
		x->notify_set = true;
		x->notify_off = notify_off;
		x->ctl_page = r->addr;
		/* A client's port was bound already (port_bind comes first):
		 * seen. A server's client is yet to come. */
		x->bound_seen = !x->server;
	}
	*addr = r->addr;
}

/* Bring a region into being: shared (a server's: Xen grants the pages and
 * share_refs receives the references) or mapped (a client's: the pages
 * map_refs names). Exactly one of share_refs and map_refs is given. */
static int add_region(struct vmsg_platform *p, uint32_t n, void **addr,
		      uint32_t *share_refs, const uint32_t *map_refs,
		      int notify_off)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	bool share = share_refs != NULL;
	int rc = region_args(x, n, addr, share ? share_refs : map_refs,
			     notify_off);
	if (rc < 0)
		return rc;
	if (x->server != share)
		return -ENOTSUP; /* a server shares, a client maps */
	struct vmsg__xen_region *r = slot(x, NULL);
	if (!r)
		return -ENOMEM;
	r->pages = n;
	r->shared = share;
	r->notify = notify_off >= 0;
	rc = share ? OS->share(x, r, share_refs, notify_off)
		   : OS->map(x, r, map_refs, notify_off);
	if (rc < 0) {
		r->addr = NULL;
		r->pages = 0;
		r->notify = false;
		return rc;
	}
	region_added(x, r, notify_off, addr);
	return 0;
}

static int xp_share(struct vmsg_platform *p, uint32_t n, void **addr,
		    uint32_t *refs, int notify_off)
{
	return add_region(p, n, addr, refs, NULL, notify_off);
}

static int xp_map(struct vmsg_platform *p, uint32_t n, const uint32_t *refs,
		  void **addr, int notify_off)
{
	return add_region(p, n, addr, NULL, refs, notify_off);
}

static void xp_unmap(struct vmsg_platform *p, void *addr, uint32_t n)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (!addr)
		return;
	struct vmsg__xen_region *r = slot(x, addr);
	/* Only what we mapped, with the count we mapped it with. */
	if (r && r->pages == n)
		region_release(x, r);
}

/* ---- event ports ------------------------------------------------------- */

static int xp_port_alloc(struct vmsg_platform *p, uint32_t *port)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (!port || !x->server)
		return -EINVAL;
	/* A server that starts over gets a fresh port: the old one may still
	 * be bound by a client that did not go away. */
	if (x->has_port) {
		if (x->notify_set)
			return -EBUSY; /* the live page still signals it */
		OS->evt_close(x, x->port);
		x->has_port = false;
	}
	int r = OS->evt_alloc_unbound(x, &x->port);
	if (r < 0)
		return r;
	x->has_port = true;
	x->bound_seen = false;
	*port = x->port;
	return 0;
}

static int xp_port_bind(struct vmsg_platform *p, uint32_t remote_port)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (x->server || x->has_port || remote_port == 0 ||
	    remote_port > VMSG_XEN_PORT_MAX)
		return -EINVAL;
	int r = OS->evt_bind(x, remote_port, &x->port);
	/* Xen refuses with EINVAL a port that is not unbound and reserved for
	 * our domain: another client holds it (or it was never ours). */
	if (r == -EINVAL)
		return -EBUSY;
	if (r < 0)
		return r;
	x->has_port = true;
	x->bound_seen = true;
	return 0;
}

static int xp_notify(struct vmsg_platform *p)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (!x->has_port)
		return 0; /* no port yet: nobody to kick */
	int r = OS->evt_notify(x, x->port);
	/* After the kick, so that the message it announces is on its way:
	 * a server that never sleeps still takes its keys down. */
	vmsg__xenplat_withdraw(x);
	return r;
}

/* Where the peer's live byte is on the control page. */
static size_t peer_live_off(const struct vmsg__xenplat *x)
{
	return x->server ? __builtin_offsetof(struct vmsg_vchan_page, cli_live)
			 : __builtin_offsetof(struct vmsg_vchan_page, srv_live);
}

int vmsg__xenplat_peer_gone(struct vmsg__xenplat *x)
{
	if (!x->ctl_page)
		return 0;
	/* Release: our reads of the ring stay ordered before the channel's
	 * acquire of this byte sees the close. A peer that closed in order
	 * cleared it already; clearing it again changes nothing. */
	vmsg__store_release(&x->ctl_page[peer_live_off(x)],
			    (uint8_t)VMSG_LIVE_GONE);
	return 1;
}

/* Server: move the client's live byte from `from` to `to`, and only from
 * there (compare-and-swap: whatever the client wrote meanwhile stays). */
static int client_live_move(struct vmsg__xenplat *x, uint8_t from, uint8_t to)
{
	if (!x->server || !x->ctl_page)
		return 0;
	return vmsg__cas(&x->ctl_page[peer_live_off(x)], &from, to) ? 1 : 0;
}

int vmsg__xenplat_admit(struct vmsg__xenplat *x)
{
	/* A client that got there first, or has closed already, keeps it. */
	return client_live_move(x, VMSG_LIVE_WAITING, VMSG_LIVE_ADMITTED);
}

int vmsg__xenplat_unadmit(struct vmsg__xenplat *x)
{
	/* Only a client that never came (it moves ADMITTED to UP when it
	 * has mapped): one that did tells for itself. */
	return client_live_move(x, VMSG_LIVE_ADMITTED, VMSG_LIVE_GONE);
}

bool vmsg__xenplat_peer_up(const struct vmsg__xenplat *x)
{
	if (!x->ctl_page)
		return false;
	return vmsg__live_in(
		vmsg__load_acquire(&x->ctl_page[peer_live_off(x)]), x->server);
}

/* Has the peer's domain gone without a word? Asked of Xen at most every
 * VMSG_XEN_DEATH_POLL_MS per platform. Xen closes a destroyed domain's
 * event channels, which leaves our end unbound: a port once seen bound
 * that is unbound now means the peer's end is gone. Reported once. */
static int status_check(struct vmsg__xenplat *x, uint64_t now)
{
	if (!OS->evt_status || !x->has_port || !x->ctl_page ||
	    now < x->status_next)
		return 0;
	x->status_next = now + VMSG_XEN_DEATH_POLL_MS * 1000000ull;
	int b = OS->evt_status(x, x->port);
	if (b > 0)
		x->bound_seen = true;
	if (b != 0 || !x->bound_seen)
		return 0;
	x->bound_seen = false;
	return vmsg__xenplat_peer_gone(x);
}

/* Wait on the ports of xs[0..n-1]: the OS blocks; between its waits, in
 * slices of VMSG_XEN_DEATH_POLL_MS where it can ask, the core looks for
 * destroyed peers. */
/* Consume the event pend() made, if any: 1 if there was one. */
static int take_pended(struct vmsg__xenplat *x)
{
	if (!x->pended)
		return 0;
	x->pended = false;
	if (OS->evt_pend)
		(void)OS->evt_pend(x, false);
	return 1;
}

static int wait_xs(struct vmsg__xenplat *const *xs, unsigned n,
		   int timeout_ms, uint8_t *fired)
{
	for (unsigned i = 0; i < n; i++)
		vmsg__xenplat_withdraw(xs[i]);
	/* Our own events first: nothing to wait for then. */
	int own = 0;
	for (unsigned i = 0; i < n; i++)
		if (take_pended(xs[i])) {
			fired[i] = 1;
			own++;
		}
	if (own)
		return own;
	bool any_port = false;
	for (unsigned i = 0; i < n; i++)
		any_port |= xs[i]->has_port;
	if (!any_port)
		return 0; /* nothing can fire */
	/* One platform, no deadline: the OS's one-call sleep if it can. */
	if (n == 1 && timeout_ms < 0 && OS->evt_sleep) {
		int r;
		do
			r = OS->evt_sleep(xs[0]);
		while (r == -EINTR);
		if (r != -EAGAIN) {
			if (r > 0)
				fired[0] = 1;
			return r;
		}
	}
	uint64_t now = OS->now_ns();
	uint64_t deadline = timeout_ms < 0
				    ? VMSG_XEN_FOREVER
				    : now + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		uint64_t until = deadline;
		if (OS->evt_status) {
			uint64_t slice =
				now + VMSG_XEN_DEATH_POLL_MS * 1000000ull;
			if (slice < until)
				until = slice;
		}
		int r = OS->evt_wait(xs, n, until, fired);
		if (r < 0)
			return r;
		now = OS->now_ns();
		for (unsigned i = 0; OS->evt_status && i < n; i++)
			if (!fired[i] && status_check(xs[i], now)) {
				fired[i] = 1;
				r++;
			}
		if (r > 0 || now >= deadline)
			return r;
	}
}

static int xp_wait(struct vmsg_platform *p, int timeout_ms)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	uint8_t fired = 0;
	int r = wait_xs(&x, 1, timeout_ms, &fired);
	return r < 0 ? r : r > 0;
}

int vmsg__xenplat_sleep(struct vmsg_platform *p)
{
	if (!p || !vmsg__xenplat_is(p) || !OS->evt_sleep)
		return -EAGAIN;
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	vmsg__xenplat_withdraw(x);
	if (take_pended(x))
		return 1;
	if (!x->has_port)
		return -EAGAIN;
	return OS->evt_sleep(x);
}

static int xp_wait_any(struct vmsg_platform *const *ps, unsigned n,
		       int timeout_ms, uint8_t *fired)
{
	if (!ps || !fired || n == 0 || n > VMSG_WAITSET_MAX)
		return -EINVAL;
	/* Every xs pointer is its platform: the base comes first. */
	return wait_xs((struct vmsg__xenplat *const *)ps, n, timeout_ms,
		       fired);
}

static int xp_ack(struct vmsg_platform *p)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	vmsg__xenplat_withdraw(x); /* a poller of the fd: its sleep */
	int pended = take_pended(x);
	int r = OS->evt_take(x);
	return r < 0 ? r : (r || pended);
}

/* An event of our own (a receive stopped on its budget): reported by the
 * next wait, wait_any or ack, and made visible on the fd by the OS. */
static int xp_pend(struct vmsg_platform *p)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (OS->evt_pend) {
		int r = OS->evt_pend(x, true);
		if (r < 0)
			return r;
	}
	x->pended = true;
	return 0;
}

static int xp_fd(struct vmsg_platform *p)
{
	if (!OS->evt_fd)
		return -ENOTSUP; /* a unikernel has no file descriptors */
	return OS->evt_fd(vmsg__xenplat_of(p));
}

/* ---- the rest ---------------------------------------------------------- */

static void *xp_alloc(struct vmsg_platform *p, size_t size)
{
	(void)p;
	return OS->alloc(size ? size : 1);
}

static void xp_free(struct vmsg_platform *p, void *ptr, size_t size)
{
	(void)p;
	if (ptr)
		OS->free(ptr, size ? size : 1);
}

static uint64_t xp_now_ns(struct vmsg_platform *p)
{
	(void)p;
	return OS->now_ns();
}

static void xp_destroy(struct vmsg_platform *p)
{
	struct vmsg__xenplat *x = vmsg__xenplat_of(p);
	if (!x)
		return;
	/* Withdraw the keys first (now, published or asked to withdraw) so
	 * no new client finds us, then undo the mappings (the unmap
	 * notification tells the peer), and only then close the port that
	 * notification signals. */
	vmsg__xenplat_withdraw_keys(x);
	for (int i = 0; i < VMSG_XEN_MAX_REGIONS; i++)
		if (x->reg[i].addr)
			region_release(x, &x->reg[i]);
	if (x->has_port)
		OS->evt_close(x, x->port);
	x->has_port = false;
	if (x->os)
		OS->close(x);
	if (x->path)
		OS->free(x->path, x->path_size);
	OS->free(x, sizeof(*x));
}

static const struct vmsg_platform_ops xp_ops = {
	.name = "xen",
	.share = xp_share,
	.map = xp_map,
	.unmap = xp_unmap,
	.port_alloc = xp_port_alloc,
	.port_bind = xp_port_bind,
	.notify = xp_notify,
	.wait = xp_wait,
	.ack = xp_ack,
	.fd = xp_fd,
	.pend = xp_pend,
	.wait_any = xp_wait_any,
	.publish = vmsg__xenplat_publish,
	.unpublish = vmsg__xenplat_unpublish,
	.lookup = vmsg__xenplat_lookup,
	.alloc = xp_alloc,
	.free = xp_free,
	.now_ns = xp_now_ns,
	.destroy = xp_destroy,
};

bool vmsg__xenplat_is(const struct vmsg_platform *p)
{
	return p && p->ops == &xp_ops;
}

int vmsg_xen_platform_new(struct vmsg_platform **out, uint16_t peer_domid,
			  const char *path, bool server)
{
	if (!out || !path || path[0] != '/' || peer_domid >= VMSG_DOMID_LIMIT)
		return -EINVAL;
	size_t len = slen(path);
	if (len >= VMSG_XEN_PATH_MAX)
		return -ENAMETOOLONG;
	struct vmsg__xenplat *x = OS->alloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &xp_ops;
	x->server = server;
	x->peer = peer_domid;
	x->notify_off = -1;
	x->path_size = len + 1;
	x->path = OS->alloc(x->path_size);
	if (!x->path) {
		xp_destroy(&x->base);
		return -ENOMEM;
	}
	vmsg__memcpy(x->path, path, len + 1);
	/* Drop a trailing '/' so "<path>/ring-ref" is well formed. */
	while (len > 1 && x->path[len - 1] == '/')
		x->path[--len] = 0;
	int r = OS->open(x);
	if (r < 0) {
		xp_destroy(&x->base);
		return r;
	}
	*out = &x->base;
	return 0;
}
