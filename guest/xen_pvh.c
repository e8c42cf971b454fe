/* The Xen platform's unikernel layer (lib/xenplat/xenplat_os.h): its hooks
 * over the PVH machine's primitives.
 *
 *   share       -> pages from the allocator, one v1 grant each to the peer
 *   map         -> GNTTABOP_map_grant_ref into free guest-physical space
 *   event ports -> EVTCHNOP_alloc_unbound / bind_interdomain / send /
 *                  close / status (evtchn.c)
 *   wait        -> pending bits, then SCHEDOP_poll on all the ports
 *   xenstore    -> the store ring client (xenstore.c); one session, the
 *                  machine's
 *
 * There is no unmap notification here (unmap_notifies is false): the core
 * clears our live byte and kicks the peer when the channel unmaps the
 * control page, and asks Xen about the port (evt_status) to see a peer
 * destroyed without a word.
 *
 * A page still mapped by the peer when we end its grant cannot be reused
 * (the peer could still write it): it stays out of the allocator.
 */
#include "guest_internal.h"

#include "xenplat_os.h"

static int pvh_open(struct vmsg__xenplat *x)
{
	(void)x; /* nothing per platform: the machine is global */
	return 0;
}

static void pvh_close(struct vmsg__xenplat *x)
{
	(void)x;
}

/* ---- grants: r->os is the array of grant refs (shared) or map handles */

static int pvh_share(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
		     uint32_t *refs, int notify_off)
{
	(void)notify_off; /* the core gives the notification at unmap */
	uint32_t n = r->pages;
	uint32_t *ids = guest_alloc((size_t)n * sizeof(uint32_t));
	uint8_t *a = guest_alloc((size_t)n * XEN_PAGE_SIZE);
	if (!ids || !a) {
		guest_free(ids, (size_t)n * sizeof(uint32_t));
		guest_free(a, (size_t)n * XEN_PAGE_SIZE);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		int rc = guest__grant(
			x->peer, (uint64_t)(uintptr_t)(a + (size_t)i * XEN_PAGE_SIZE),
			false, &ids[i]);
		if (rc < 0) {
			/* Not yet published: nobody can have mapped them. */
			while (i--)
				(void)guest__grant_end(ids[i]);
			guest_free(ids, (size_t)n * sizeof(uint32_t));
			guest_free(a, (size_t)n * XEN_PAGE_SIZE);
			return rc;
		}
		refs[i] = ids[i];
	}
	r->addr = a; /* zeroed by guest_alloc */
	r->os = ids;
	return 0;
}

static int pvh_map(struct vmsg__xenplat *x, struct vmsg__xen_region *r,
		   const uint32_t *refs, int notify_off)
{
	(void)notify_off;
	uint32_t n = r->pages;
	uint32_t *ids = guest_alloc((size_t)n * sizeof(uint32_t));
	if (!ids)
		return -ENOMEM;
	uint64_t gpa = guest__physmap_take(n);
	if (!gpa) {
		guest_free(ids, (size_t)n * sizeof(uint32_t));
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		int rc = guest__grant_map(x->peer, refs[i],
					  gpa + (uint64_t)i * XEN_PAGE_SIZE,
					  &ids[i]);
		if (rc < 0) {
			while (i--)
				(void)guest__grant_unmap(
					gpa + (uint64_t)i * XEN_PAGE_SIZE, ids[i]);
			guest__physmap_give(gpa, n);
			guest_free(ids, (size_t)n * sizeof(uint32_t));
			return rc;
		}
	}
	r->addr = (void *)(uintptr_t)gpa;
	r->os = ids;
	return 0;
}

static void pvh_unmap(struct vmsg__xenplat *x, struct vmsg__xen_region *r)
{
	(void)x;
	uint32_t *ids = r->os;
	if (r->shared) {
		bool busy = false;
		for (uint32_t i = 0; i < r->pages; i++)
			if (guest__grant_end(ids[i]) == -EBUSY)
				busy = true;
		/* Still mapped by the peer: never reuse these pages (their
		 * grants stay until the peer lets go; we leak them). */
		if (!busy)
			guest_free(r->addr, (size_t)r->pages * XEN_PAGE_SIZE);
	} else {
		uint64_t gpa = (uint64_t)(uintptr_t)r->addr;
		bool ok = true;
		for (uint32_t i = 0; i < r->pages; i++)
			if (guest__grant_unmap(gpa + (uint64_t)i * XEN_PAGE_SIZE,
					       ids[i]) < 0)
				ok = false;
		if (ok)
			guest__physmap_give(gpa, r->pages);
	}
	guest_free(ids, (size_t)r->pages * sizeof(uint32_t));
}

/* ---- event channels ------------------------------------------------------ */

static int pvh_evt_alloc_unbound(struct vmsg__xenplat *x, uint32_t *port)
{
	return guest__evtchn_alloc_unbound(x->peer, port);
}

static int pvh_evt_bind(struct vmsg__xenplat *x, uint32_t remote_port,
			uint32_t *port)
{
	return guest__evtchn_bind(x->peer, remote_port, port);
}

static void pvh_evt_close(struct vmsg__xenplat *x, uint32_t port)
{
	(void)x;
	guest__evtchn_close(port);
}

static int pvh_evt_notify(struct vmsg__xenplat *x, uint32_t port)
{
	(void)x;
	return guest__evtchn_send(port);
}

static int pvh_evt_status(struct vmsg__xenplat *x, uint32_t port)
{
	(void)x;
	return guest__evtchn_bound(port);
}

static int pvh_evt_take(struct vmsg__xenplat *x)
{
	return x->has_port ? guest__evtchn_take(x->port) : 0;
}

/* Test-and-clear every pending bit; none set: SCHEDOP_poll on all the
 * ports, which returns when one of their bits goes from clear to set (or
 * at the deadline), and look again. An event between the look and the
 * poll leaves its bit set and the poll returns at once: none is lost. */
static int pvh_evt_wait(struct vmsg__xenplat *const *xs, unsigned n,
			uint64_t deadline_ns, uint8_t *fired)
{
	uint32_t ports[VMSG_WAITSET_MAX];
	if (n > VMSG_WAITSET_MAX)
		return -EINVAL;
	for (;;) {
		int count = 0;
		unsigned np = 0;
		for (unsigned i = 0; i < n; i++) {
			if (!xs[i]->has_port)
				continue;
			ports[np++] = xs[i]->port;
			if (guest__evtchn_take(xs[i]->port)) {
				fired[i] = 1;
				count++;
			}
		}
		if (count)
			return count;
		if (np == 0 || guest__now_ns() >= deadline_ns)
			return 0; /* no port, nothing to wait for */
		int r = guest__evtchn_poll(
			ports, np, deadline_ns == VMSG_XEN_FOREVER ? 0 : deadline_ns);
		if (r < 0)
			return r;
	}
}

/* ---- xenstore: the machine's one client; no session state ---------------- */

static int pvh_xs_open(void **s)
{
	*s = NULL;
	return 0;
}

static void pvh_xs_close(void *s)
{
	(void)s;
}

static int pvh_xs_read(void *s, uint32_t tx, const char *path, char *buf,
		       size_t cap)
{
	(void)s;
	return guest_xs_read(tx, path, buf, cap);
}

static int pvh_xs_write(void *s, uint32_t tx, const char *path,
			const char *val, size_t len)
{
	(void)s;
	return guest_xs_write(tx, path, val, len);
}

static int pvh_xs_rm(void *s, uint32_t tx, const char *path)
{
	(void)s;
	return guest_xs_rm(tx, path);
}

static int pvh_xs_dir_empty(void *s, uint32_t tx, const char *path)
{
	(void)s;
	char names[64];
	int n = guest_xs_directory(tx, path, names, sizeof(names));
	if (n == -ENAMETOOLONG)
		return 0; /* more names than fit: not empty */
	return n < 0 ? n : n == 0;
}

static int pvh_xs_set_perms(void *s, uint32_t tx, const char *path,
			    const struct vmsg__xs_perm *perms, unsigned n)
{
	(void)s;
	struct guest_xs_perm p[VMSG_XS_PERMS_MAX];
	if (n == 0 || n > VMSG_XS_PERMS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct guest_xs_perm){.domid = perms[i].domid,
					      .perm = perms[i].perm};
	return guest_xs_set_perms(tx, path, p, n);
}

static int pvh_xs_txn_start(void *s, uint32_t *tx)
{
	(void)s;
	return guest_xs_txn_start(tx);
}

static int pvh_xs_txn_end(void *s, uint32_t tx, bool commit)
{
	(void)s;
	return guest_xs_txn_end(tx, commit);
}

static int pvh_xs_watch(void *s, const char *path)
{
	(void)s;
	return guest_xs_watch(path);
}

static void pvh_xs_unwatch(void *s, const char *path)
{
	(void)s;
	(void)guest_xs_unwatch(path);
}

static int pvh_xs_wait_watch(void *s, uint64_t deadline_ns)
{
	(void)s;
	int ms = -1;
	if (deadline_ns != VMSG_XEN_FOREVER) {
		uint64_t now = guest__now_ns();
		ms = now >= deadline_ns
			     ? 0
			     : (int)((deadline_ns - now + 999999u) / 1000000u);
	}
	return guest_xs_wait_watch(ms);
}

/* ---- the machine ------------------------------------------------------------ */

const struct vmsg__xen_os vmsg__xen_os = {
	.name = "pvh",
	.unmap_notifies = false,
	.open = pvh_open,
	.close = pvh_close,
	.share = pvh_share,
	.map = pvh_map,
	.unmap = pvh_unmap,
	.evt_alloc_unbound = pvh_evt_alloc_unbound,
	.evt_bind = pvh_evt_bind,
	.evt_close = pvh_evt_close,
	.evt_notify = pvh_evt_notify,
	.evt_status = pvh_evt_status,
	.evt_take = pvh_evt_take,
	.evt_wait = pvh_evt_wait,
	.evt_fd = NULL, /* no file descriptors: vmsg_chan_fd says -ENOTSUP */
	.xs_open = pvh_xs_open,
	.xs_close = pvh_xs_close,
	.xs_read = pvh_xs_read,
	.xs_write = pvh_xs_write,
	.xs_rm = pvh_xs_rm,
	.xs_dir_empty = pvh_xs_dir_empty,
	.xs_set_perms = pvh_xs_set_perms,
	.xs_txn_start = pvh_xs_txn_start,
	.xs_txn_end = pvh_xs_txn_end,
	.xs_watch = pvh_xs_watch,
	.xs_unwatch = pvh_xs_unwatch,
	.xs_wait_watch = pvh_xs_wait_watch,
	.now_ns = guest__now_ns,
	.alloc = guest_alloc,
	.free = guest_free,
};
