/* struct vmsg_platform_ops for the unikernel, with the semantics of the
 * Linux Xen backend (lib/xen), from the primitives underneath:
 *
 *   share       -> pages from the allocator, one v1 grant each to the peer
 *   map         -> GNTTABOP_map_grant_ref into free guest-physical space
 *   event port  -> EVTCHNOP_alloc_unbound (server) / bind_interdomain
 *   wait        -> SCHEDOP_poll on the port (evtchn.c)
 *   directory   -> xenstore: the keys ring-ref and event-channel, written in
 *                  one transaction with permissions [us: none, peer: read]
 *
 * Unmap notification: on Linux the gntalloc/gntdev drivers clear the live
 * byte and signal the port when the page is unshared or unmapped, also
 * when the process dies. Here the platform does the same itself when the
 * channel unshares or unmaps that page. A domain that is destroyed does
 * nothing more (Xen has no such notification), see docs/unikernel.md.
 *
 * A page still mapped by the peer when we end its grant cannot be reused
 * (the peer could still write it): it stays out of the allocator.
 */
#include <vmsg/ring.h>

#include "guest_internal.h"

#include "vmsg_barrier.h"
#include "vmsg_parse.h"
#include "vmsg_string.h"

#define GP_MAX_REGIONS 4
#define GP_MAX_PAGES 1024u
#define GP_PATH_MAX 3072
#define GP_KEY_MAX (GP_PATH_MAX + 16)
#define GP_TXN_RETRIES 64
#define GP_LOOKUP_POLL_MS 200
#define GP_PORT_MAX ((1u << 17) - 1)
/* While a wait lasts, how often to ask Xen whether the peer's end of the
 * event channel still exists (see gp_wait). */
#define GP_DEATH_POLL_MS 250

struct gp_region {
	void *addr;      /* NULL: free slot */
	uint32_t pages;
	bool shared;     /* ours, granted (server) vs the peer's, mapped */
	bool notify;     /* carries our live byte */
	uint32_t *ids;   /* grant refs (shared) or map handles (mapped) */
};

struct guest_platform {
	struct vmsg_platform base; /* first: the ops table */
	bool server;
	uint16_t peer;
	bool has_port;
	uint32_t port;
	bool bound_seen; /* the port was seen bound to the peer's */
	int notify_off;
	bool notify_set;
	bool published;
	bool made_dir;
	struct gp_region reg[GP_MAX_REGIONS];
	char path[GP_PATH_MAX];
};

static struct guest_platform *gp_of(struct vmsg_platform *p)
{
	return (struct guest_platform *)p;
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---- memory ------------------------------------------------------------ */

static struct gp_region *slot(struct guest_platform *g, void *addr)
{
	for (int i = 0; i < GP_MAX_REGIONS; i++)
		if (g->reg[i].addr == addr)
			return &g->reg[i];
	return NULL;
}

static void region_release(struct guest_platform *g, struct gp_region *r)
{
	if (r->notify) {
		/* What gntalloc/gntdev do on Linux: clear our live byte
		 * (release: everything we wrote is visible first), then kick
		 * the peer so it looks. */
		vmsg__store_release((uint8_t *)r->addr + g->notify_off,
				    (uint8_t)0);
		if (g->has_port)
			guest__evtchn_send(g->port);
		g->notify_set = false;
	}
	if (r->shared) {
		bool busy = false;
		for (uint32_t i = 0; i < r->pages; i++)
			if (guest__grant_end(r->ids[i]) == -EBUSY)
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
					       r->ids[i]) < 0)
				ok = false;
		if (ok)
			guest__physmap_give(gpa, r->pages);
	}
	guest_free(r->ids, (size_t)r->pages * sizeof(uint32_t));
	r->addr = NULL;
	r->ids = NULL;
	r->pages = 0;
	r->notify = false;
}

static int check_region_args(struct guest_platform *g, uint32_t n,
			     void **addr, const uint32_t *refs, int notify_off)
{
	if (!addr || !refs || n == 0 || n > GP_MAX_PAGES ||
	    notify_off >= (int)XEN_PAGE_SIZE)
		return -EINVAL;
	/* One notify byte, on a single page, once we have the port. */
	if (notify_off >= 0 && (n != 1 || !g->has_port || g->notify_set))
		return -EINVAL;
	return 0;
}

static int gp_share(struct vmsg_platform *p, uint32_t n, void **addr,
		    uint32_t *refs, int notify_off)
{
	struct guest_platform *g = gp_of(p);
	int r = check_region_args(g, n, addr, refs, notify_off);
	if (r < 0)
		return r;
	if (!g->server)
		return -ENOTSUP;
	struct gp_region *reg = slot(g, NULL);
	if (!reg)
		return -ENOMEM;
	uint32_t *ids = guest_alloc((size_t)n * sizeof(uint32_t));
	uint8_t *a = guest_alloc((size_t)n * XEN_PAGE_SIZE);
	if (!ids || !a) {
		guest_free(ids, (size_t)n * sizeof(uint32_t));
		guest_free(a, (size_t)n * XEN_PAGE_SIZE);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		r = guest__grant(g->peer,
				 (uint64_t)(uintptr_t)(a + (size_t)i * XEN_PAGE_SIZE),
				 false, &ids[i]);
		if (r < 0) {
			/* Not yet published: nobody can have mapped them. */
			while (i--)
				(void)guest__grant_end(ids[i]);
			guest_free(ids, (size_t)n * sizeof(uint32_t));
			guest_free(a, (size_t)n * XEN_PAGE_SIZE);
			return r;
		}
		refs[i] = ids[i];
	}
	reg->addr = a;
	reg->pages = n;
	reg->shared = true;
	reg->ids = ids;
	reg->notify = notify_off >= 0;
	if (reg->notify) {
		g->notify_set = true;
		g->notify_off = notify_off;
		/* A new control page: a new peer to watch for. */
		g->bound_seen = !g->server;
	}
	*addr = a;
	return 0;
}

static int gp_map(struct vmsg_platform *p, uint32_t n, const uint32_t *refs,
		  void **addr, int notify_off)
{
	struct guest_platform *g = gp_of(p);
	int r = check_region_args(g, n, addr, refs, notify_off);
	if (r < 0)
		return r;
	if (g->server)
		return -ENOTSUP;
	struct gp_region *reg = slot(g, NULL);
	if (!reg)
		return -ENOMEM;
	uint32_t *ids = guest_alloc((size_t)n * sizeof(uint32_t));
	if (!ids)
		return -ENOMEM;
	uint64_t gpa = guest__physmap_take(n);
	if (!gpa) {
		guest_free(ids, (size_t)n * sizeof(uint32_t));
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		r = guest__grant_map(g->peer, refs[i],
				     gpa + (uint64_t)i * XEN_PAGE_SIZE, &ids[i]);
		if (r < 0) {
			while (i--)
				(void)guest__grant_unmap(
					gpa + (uint64_t)i * XEN_PAGE_SIZE, ids[i]);
			guest__physmap_give(gpa, n);
			guest_free(ids, (size_t)n * sizeof(uint32_t));
			return r;
		}
	}
	reg->addr = (void *)(uintptr_t)gpa;
	reg->pages = n;
	reg->shared = false;
	reg->ids = ids;
	reg->notify = notify_off >= 0;
	if (reg->notify) {
		g->notify_set = true;
		g->notify_off = notify_off;
		/* A new control page: a new peer to watch for. */
		g->bound_seen = !g->server;
	}
	*addr = reg->addr;
	return 0;
}

static void gp_unmap(struct vmsg_platform *p, void *addr, uint32_t n)
{
	struct guest_platform *g = gp_of(p);
	if (!addr)
		return;
	struct gp_region *r = slot(g, addr);
	if (r && r->pages == n)
		region_release(g, r);
}

/* ---- events -------------------------------------------------------------- */

static int gp_port_alloc(struct vmsg_platform *p, uint32_t *port)
{
	struct guest_platform *g = gp_of(p);
	if (!port || !g->server)
		return -EINVAL;
	if (g->has_port) {
		if (g->notify_set)
			return -EBUSY;
		guest__evtchn_close(g->port);
		g->has_port = false;
	}
	int r = guest__evtchn_alloc_unbound(g->peer, &g->port);
	if (r < 0)
		return r;
	g->has_port = true;
	*port = g->port;
	return 0;
}

static int gp_port_bind(struct vmsg_platform *p, uint32_t remote_port)
{
	struct guest_platform *g = gp_of(p);
	if (g->server || g->has_port || remote_port == 0 ||
	    remote_port > GP_PORT_MAX)
		return -EINVAL;
	int r = guest__evtchn_bind(g->peer, remote_port, &g->port);
	if (r == -EINVAL)
		return -EBUSY; /* not an unbound port reserved for us */
	if (r < 0)
		return r;
	g->has_port = true;
	return 0;
}

static int gp_notify(struct vmsg_platform *p)
{
	struct guest_platform *g = gp_of(p);
	if (!g->has_port)
		return 0;
	return guest__evtchn_send(g->port);
}

/* Has the peer's domain gone without a word? A destroyed domain runs no
 * unmap notification (the one that clears its live byte and kicks us), and
 * an unprivileged guest gets no @releaseDomain: but Xen closes the dead
 * domain's event channels, which leaves our end unbound. So a port once
 * seen bound that is unbound now means the peer's end is gone: clear its
 * live byte ourselves, as its notification would have (lib/xen/xen_death.c
 * does the same in dom0), and report an event. A peer that closed in
 * order cleared its byte already; clearing it again changes nothing. */
static int peer_died(struct guest_platform *g)
{
	int b = guest__evtchn_bound(g->port);
	if (b > 0)
		g->bound_seen = true;
	if (b != 0 || !g->bound_seen)
		return 0;
	g->bound_seen = false; /* report it once */
	for (unsigned i = 0; i < GP_MAX_REGIONS; i++) {
		struct gp_region *r = &g->reg[i];
		if (!r->addr || !r->notify)
			continue;
		size_t off = g->server
			? __builtin_offsetof(struct vmsg_vchan_page, cli_live)
			: __builtin_offsetof(struct vmsg_vchan_page, srv_live);
		/* Release: our reads of the ring stay ordered before the
		 * channel's acquire of this byte sees the close. */
		vmsg__store_release((uint8_t *)r->addr + off,
				    (uint8_t)VMSG_LIVE_GONE);
		return 1;
	}
	return 0;
}

static int gp_wait(struct vmsg_platform *p, int timeout_ms)
{
	struct guest_platform *g = gp_of(p);
	if (!g->has_port)
		return 0;
	if (timeout_ms == 0)
		return guest__evtchn_take(g->port);
	uint64_t deadline = 0;
	if (timeout_ms > 0)
		deadline = guest__now_ns() + (uint64_t)timeout_ms * 1000000u;
	/* Block in slices, asking Xen about the peer's end between them:
	 * one hypercall per GP_DEATH_POLL_MS of idleness. */
	for (;;) {
		uint64_t slice = guest__now_ns() + GP_DEATH_POLL_MS * 1000000ull;
		if (deadline && deadline < slice)
			slice = deadline;
		int r = guest__evtchn_wait(g->port, slice);
		if (r != 0)
			return r;
		if (peer_died(g))
			return 1;
		if (deadline && guest__now_ns() >= deadline)
			return 0;
	}
}

static int gp_ack(struct vmsg_platform *p)
{
	struct guest_platform *g = gp_of(p);
	return g->has_port ? guest__evtchn_take(g->port) : 0;
}

/* ---- xenstore ------------------------------------------------------------ */

static void key(char *buf, const struct guest_platform *g, const char *leaf)
{
	size_t n = slen(g->path), l = slen(leaf);
	vmsg__memcpy(buf, g->path, n);
	buf[n] = '/';
	vmsg__memcpy(buf + n + 1, leaf, l + 1);
}

static int u32_str(char *buf, uint32_t v)
{
	char t[10];
	int n = 0, k = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[k++] = t[--n];
	buf[k] = 0;
	return k;
}

static int write_key(uint32_t tx, const char *k, uint32_t v,
		     const struct guest_xs_perm *perms)
{
	char val[12];
	int n = u32_str(val, v);
	int r = guest_xs_write(tx, k, val, (size_t)n);
	if (r == 0)
		r = guest_xs_set_perms(tx, k, perms, 2);
	return r;
}

static void gp_unpublish(struct vmsg_platform *p);

static int gp_publish(struct vmsg_platform *p, uint32_t ring_ref,
		      uint32_t port)
{
	struct guest_platform *g = gp_of(p);
	char rk[GP_KEY_MAX], ek[GP_KEY_MAX];
	if (!g->server)
		return -EINVAL;
	/* Again (a reopen while the keys are still up): write them anew. */
	if (g->published)
		gp_unpublish(p);
	const struct guest_xs_perm perms[2] = {
		/* Owner first; its flags are what unlisted domains get. */
		{.domid = guest_domid(), .perm = GUEST_XS_PERM_NONE},
		{.domid = g->peer, .perm = GUEST_XS_PERM_READ},
	};
	key(rk, g, "ring-ref");
	key(ek, g, "event-channel");
	int r = -EAGAIN;
	for (int i = 0; i < GP_TXN_RETRIES; i++) {
		uint32_t tx;
		if ((r = guest_xs_txn_start(&tx)) < 0)
			return r;
		char one[2];
		bool made = guest_xs_read(tx, g->path, one, sizeof(one)) ==
			    -ENOENT;
		r = write_key(tx, rk, ring_ref, perms);
		if (r == 0)
			r = write_key(tx, ek, port, perms);
		if (r < 0) {
			(void)guest_xs_txn_end(tx, false);
			return r;
		}
		r = guest_xs_txn_end(tx, true);
		if (r == 0) {
			g->published = true;
			g->made_dir = made;
			return 0;
		}
		if (r != -EAGAIN)
			return r;
	}
	return r;
}

static void gp_unpublish(struct vmsg_platform *p)
{
	struct guest_platform *g = gp_of(p);
	char rk[GP_KEY_MAX], ek[GP_KEY_MAX];
	if (!g->published)
		return;
	g->published = false;
	key(rk, g, "ring-ref");
	key(ek, g, "event-channel");
	for (int i = 0; i < GP_TXN_RETRIES; i++) {
		uint32_t tx;
		if (guest_xs_txn_start(&tx) < 0)
			return;
		(void)guest_xs_rm(tx, rk);
		(void)guest_xs_rm(tx, ek);
		if (g->made_dir) {
			/* Ours and empty: leave no litter. */
			char names[64];
			if (guest_xs_directory(tx, g->path, names,
					       sizeof(names)) == 0)
				(void)guest_xs_rm(tx, g->path);
		}
		int r = guest_xs_txn_end(tx, true);
		if (r != -EAGAIN)
			return;
	}
}

static int read_keys(struct guest_platform *g, uint32_t *ring_ref,
		     uint32_t *port)
{
	char k[GP_KEY_MAX], v[16];
	uint32_t ref, evt;
	key(k, g, "ring-ref");
	int n = guest_xs_read(0, k, v, sizeof(v));
	if (n == -ENAMETOOLONG)
		return -EPROTO;
	if (n < 0)
		return n;
	int r = vmsg__parse_u32(v, (size_t)n, 1, 0xffffffffu, &ref);
	if (r < 0)
		return r;
	key(k, g, "event-channel");
	n = guest_xs_read(0, k, v, sizeof(v));
	if (n == -ENAMETOOLONG)
		return -EPROTO;
	if (n < 0)
		return n;
	if ((r = vmsg__parse_u32(v, (size_t)n, 1, GP_PORT_MAX, &evt)) < 0)
		return r;
	*ring_ref = ref;
	*port = evt;
	return 0;
}

static int gp_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
		     uint32_t *port, int timeout_ms)
{
	struct guest_platform *g = gp_of(p);
	if (!ring_ref || !port || g->server)
		return -EINVAL;
	uint64_t deadline = 0;
	if (timeout_ms > 0)
		deadline = guest__now_ns() + (uint64_t)timeout_ms * 1000000u;
	bool watching = timeout_ms != 0 && guest_xs_watch(g->path) == 0;
	int r;
	for (;;) {
		r = read_keys(g, ring_ref, port);
		/* Absent or not yet readable (xenstored answers EACCES below
		 * a directory we may not read): keep waiting. */
		if (r != -ENOENT && r != -EACCES)
			break;
		if (timeout_ms == 0)
			break;
		int t = GP_LOOKUP_POLL_MS;
		if (timeout_ms > 0) {
			uint64_t now = guest__now_ns();
			if (now >= deadline)
				break;
			uint64_t left = (deadline - now + 999999u) / 1000000u;
			if (left < (uint64_t)t)
				t = (int)left;
		}
		if (watching)
			(void)guest_xs_wait_watch(t);
		else
			(void)guest__evtchn_wait(
				guest__m.xs_port,
				guest__now_ns() + (uint64_t)t * 1000000u);
	}
	if (watching)
		(void)guest_xs_unwatch(g->path);
	return r;
}

/* ---- the rest -------------------------------------------------------------- */

static void *gp_alloc(struct vmsg_platform *p, size_t size)
{
	(void)p;
	return guest_alloc(size);
}

static void gp_free(struct vmsg_platform *p, void *ptr, size_t size)
{
	(void)p;
	guest_free(ptr, size);
}

static uint64_t gp_now_ns(struct vmsg_platform *p)
{
	(void)p;
	return guest__now_ns();
}

static void gp_destroy(struct vmsg_platform *p)
{
	struct guest_platform *g = gp_of(p);
	if (!g)
		return;
	/* Keys first (no new client finds us), then the pages (the notify
	 * byte tells the peer), then the port that signalled it. */
	gp_unpublish(p);
	for (int i = 0; i < GP_MAX_REGIONS; i++)
		if (g->reg[i].addr)
			region_release(g, &g->reg[i]);
	if (g->has_port)
		guest__evtchn_close(g->port);
	guest_free(g, sizeof(*g));
}

static const struct vmsg_platform_ops gp_ops = {
	.name = "guest",
	.share = gp_share,
	.map = gp_map,
	.unmap = gp_unmap,
	.port_alloc = gp_port_alloc,
	.port_bind = gp_port_bind,
	.notify = gp_notify,
	.wait = gp_wait,
	.ack = gp_ack,
	.fd = NULL, /* no file descriptors here: vmsg_chan_fd says -ENOTSUP */
	.publish = gp_publish,
	.unpublish = gp_unpublish,
	.lookup = gp_lookup,
	.alloc = gp_alloc,
	.free = gp_free,
	.now_ns = gp_now_ns,
	.destroy = gp_destroy,
};

int guest_platform_new(struct vmsg_platform **out, uint16_t peer,
		       const char *path, bool server)
{
	if (!out || !path || path[0] != '/' || peer >= XEN_DOMID_SELF)
		return -EINVAL;
	size_t len = slen(path);
	if (len >= GP_PATH_MAX)
		return -ENAMETOOLONG;
	struct guest_platform *g = guest_alloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->base.ops = &gp_ops;
	g->server = server;
	g->peer = peer;
	g->notify_off = -1;
	vmsg__memcpy(g->path, path, len + 1);
	while (len > 1 && g->path[len - 1] == '/')
		g->path[--len] = 0;
	*out = &g->base;
	return 0;
}

int guest_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		const struct vmsg_chan_opts *o)
{
	struct vmsg_platform *p;
	if (!out)
		return -EINVAL;
	int r = guest_platform_new(&p, client_domid, path, true);
	if (r < 0)
		return r;
	return vmsg_chan_serve(out, p, o);
}

int guest_connect(vmsg_chan **out, uint16_t server_domid, const char *path,
		  const struct vmsg_chan_opts *o, int timeout_ms)
{
	struct vmsg_platform *p;
	if (!out)
		return -EINVAL;
	int r = guest_platform_new(&p, server_domid, path, false);
	if (r < 0)
		return r;
	return vmsg_chan_connect(out, p, o, timeout_ms);
}
