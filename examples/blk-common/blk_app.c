/* The block appliances' shared SDK part (blk_app.h). */
#include "blk_app.h"

#include <vmsg/guest.h>

#include "vmsg_errno.h"
#include "vmsg_string.h"

/* Conventional paths are short (the name is at most 64 bytes): no 3 KiB
 * buffer on a unikernel's stack. */
#define BLK_PATH_MAX 192

static bool same(const char *a, size_t al, const char *b)
{
	size_t i = 0;
	for (; i < al && b[i]; i++)
		if (a[i] != b[i])
			return false;
	return i == al && !b[i];
}

/* Digits only, at most max: the value into *out. */
static bool parse_uint(const char *v, size_t vl, unsigned max, unsigned *out)
{
	unsigned long long n = 0;
	if (vl == 0 || vl > 10)
		return false;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (unsigned)(v[i] - '0');
	}
	if (n > max)
		return false;
	*out = (unsigned)n;
	return true;
}

int blk_addr_parse(const char *v, size_t vl, struct blk_addr *a,
		   const char **why)
{
	const char *name;
	size_t nl;

	if (vl > 4 && same(v, 4, "svc:")) {
		a->kind = BLK_ADDR_SVC;
		a->domid = 0;
		name = v + 4;
		nl = vl - 4;
	} else if (vl > 4 && same(v, 4, "xen:")) {
		size_t i = 4;
		while (i < vl && v[i] != ':')
			i++;
		unsigned d;
		if (i == vl) {
			*why = "expected xen:DOMID:PORT";
			return -EINVAL;
		}
		if (!parse_uint(v + 4, i - 4, VMSG_DOMID_LIMIT - 1, &d)) {
			*why = "the DOMID of xen:DOMID:PORT is not a domain id";
			return -EINVAL;
		}
		a->kind = BLK_ADDR_XEN;
		a->domid = (uint16_t)d;
		name = v + i + 1;
		nl = vl - i - 1;
	} else {
		*why = "expected xen:DOMID:PORT or svc:NAME";
		return -EINVAL;
	}
	if (nl == 0 || nl > VMSG_SERVICE_NAME_MAX) {
		*why = "the PORT or NAME must be 1..64 characters";
		return -EINVAL;
	}
	vmsg__memcpy(a->name, name, nl);
	a->name[nl] = 0;
	/* Service names' alphabet for ports too: no '/' in a path, nothing
	 * xenstore would refuse. */
	if (!vmsg_service_name_ok(a->name)) {
		*why = "the PORT or NAME must be of [A-Za-z0-9._-]";
		return -EINVAL;
	}
	return 0;
}

static void put_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		guest_printf("%c", s[i]);
}

static int bad(const char *prog, const char *w, size_t wl, const char *why)
{
	guest_printf("%s: '", prog);
	put_n(w, wl);
	guest_printf("': %s (--help lists the arguments)\n", why);
	return -1;
}

static int check_value(const char *prog, const struct blk_key *k,
		       const char *w, size_t wl, const char *v, size_t vl)
{
	const char *why = 0;
	struct blk_addr a;
	unsigned n;

	switch (k->kind) {
	case BLK_KEY_ADDR:
		if (blk_addr_parse(v, vl, &a, &why) < 0)
			return bad(prog, w, wl, why);
		return 0;
	case BLK_KEY_NAME:
		if (vl < k->min || vl > k->max)
			return bad(prog, w, wl, vl ? "value too long" : "empty value");
		return 0;
	case BLK_KEY_UINT:
		if (!parse_uint(v, vl, k->max, &n) || n < k->min) {
			guest_printf("%s: '", prog);
			put_n(w, wl);
			guest_printf("': expected a number in %u..%u (--help "
				     "lists the arguments)\n", k->min, k->max);
			return -1;
		}
		return 0;
	}
	return -1;
}

int blk_args_check(const char *prog, const char *usage,
		   const struct blk_key *keys, unsigned n, const char *cmdline)
{
	unsigned char seen[32] = {0};

	if (n > sizeof(seen))
		return -1;
	for (const char *s = cmdline; *s;) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		size_t wl = (size_t)(s - w), kl = 0;
		if (!wl)
			break;
		if (same(w, wl, "--help") || same(w, wl, "-h") ||
		    same(w, wl, "help")) {
			guest_printf("%s", usage);
			return 1;
		}
		while (kl < wl && w[kl] != '=')
			kl++;
		if (kl == wl)
			return bad(prog, w, wl, "not a KEY=VALUE word");
		unsigned i = 0;
		while (i < n && !same(w, kl, keys[i].name))
			i++;
		if (i == n)
			return bad(prog, w, wl, "unknown key");
		if (seen[i]++)
			return bad(prog, w, wl, "key given twice");
		if (check_value(prog, &keys[i], w, wl, w + kl + 1,
				wl - kl - 1) < 0)
			return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (keys[i].required && !seen[i]) {
			guest_printf("%s: %s= is required (--help lists the "
				     "arguments)\n", prog, keys[i].name);
			return -1;
		}
	}
	return 0;
}

int blk_arg_addr(const char *key, struct blk_addr *a)
{
	char v[VMSG_SERVICE_NAME_MAX + 16];
	const char *why;
	int l = guest_cmdline_get(key, v, sizeof(v));
	if (l < 0)
		return l;
	return blk_addr_parse(v, (size_t)l, a, &why);
}

unsigned blk_arg_uint(const char *key, unsigned dflt)
{
	char v[16];
	unsigned n;
	int l = guest_cmdline_get(key, v, sizeof(v));
	if (l < 0 || !parse_uint(v, (size_t)l, ~0u, &n))
		return dflt;
	return n;
}

void blk_chan_opts(struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->rx_ring_size = o->tx_ring_size = BLK_APP_RING;
	o->max_msg = BLK_APP_MAX_REQ + 64u;
}

/* The domain's one control channel to vmsgd (vmsgd takes one per domain:
 * a second is refused as busy), shared by the base's open and the offer
 * of an overlay layered over svc: onto svc:. */
static vmsg_ctl *the_ctl;

static int ctl_open(const char *prog, vmsg_ctl **ctl, int timeout_ms)
{
	int r = the_ctl ? 0 : vmsg_ctl_open(&the_ctl, timeout_ms);
	if (r < 0)
		guest_printf("%s: vmsgd: %s\n", prog, vmsg_strerror(r));
	*ctl = the_ctl;
	return r;
}

int blk_base_open(const char *prog, const struct blk_addr *a,
		  uint32_t depth, int timeout_ms, struct blk_base *b)
{
	struct vmsg_chan_opts o;
	char path[BLK_PATH_MAX];
	int r;

	blk_chan_opts(&o);
	b->ctl = 0;
	if (a->kind == BLK_ADDR_XEN) {
		if ((r = vmsg_xen_path(path, sizeof(path), a->domid, guest_domid(),
				  a->name)) < 0)
			return r;
		r = guest_connect(&b->c, a->domid, path, &o, timeout_ms);
		if (r < 0) {
			guest_printf("%s: base %s: %s\n", prog, path,
				     vmsg_strerror(r));
			return r;
		}
	} else {
		if ((r = ctl_open(prog, &b->ctl, timeout_ms)) < 0)
			return r;
		r = vmsg_service_open(b->ctl, a->name, &b->c, timeout_ms);
		if (r < 0) {
			guest_printf("%s: open service %s: %s%s%s\n", prog,
				     a->name, vmsg_strerror(r),
				     *vmsg_ctl_error(b->ctl) ? ": " : "",
				     vmsg_ctl_error(b->ctl));
			return r;
		}
	}
	size_t sz = vmsg_blk_client_size(depth, BLK_APP_MAX_REQ);
	void *mem = guest_alloc(sz);
	if (!mem) {
		guest_printf("%s: base: out of memory\n", prog);
		return -ENOMEM;
	}
	r = vmsg_blk_client_init(&b->cl, mem, sz, b->c, depth,
				 BLK_APP_MAX_REQ, timeout_ms);
	if (r < 0)
		guest_printf("%s: base %s: block protocol negotiation: %s\n",
			     prog, a->name, vmsg_strerror(r));
	return r;
}

static void log_end(const char *prog, unsigned n, int r)
{
	guest_printf("%s: consumer %u: %s\n", prog, n,
		     r == -EPIPE ? "closed" : vmsg_strerror(r));
}

/* serve=xen:DOMID:PORT: one channel, served again after each consumer. */
static int serve_xen(const char *prog, const struct blk_addr *a,
		     unsigned clients, int (*serve_one)(void *, vmsg_chan *),
		     void *ctx, int stop_err)
{
	struct vmsg_chan_opts o;
	char path[BLK_PATH_MAX];
	vmsg_chan *c = 0;
	int r;

	blk_chan_opts(&o);
	if ((r = vmsg_xen_path(path, sizeof(path), guest_domid(), a->domid,
			  a->name)) < 0)
		return r;
	for (unsigned n = 1; clients == 0 || n <= clients;) {
		if (!c) {
			if ((r = guest_serve(&c, a->domid, path, &o)) < 0) {
				guest_printf("%s: serve at %s: %s\n", prog, path,
					     vmsg_strerror(r));
				return r;
			}
			guest_printf("%s: serving at %s for domain %u\n", prog,
				     path, (unsigned)a->domid);
		}
		if (vmsg_chan_accept(c, -1) == 0) {
			guest_printf("%s: consumer %u: connected\n", prog, n);
			r = serve_one(ctx, c);
			log_end(prog, n, r);
			n++;
			if (r == stop_err)
				break;
			r = 0;
		}
		/* The next consumer: the same channel laid out afresh, or,
		 * when it cannot be (the consumer broke the protocol and is
		 * still there), a new one at the same path. A consumer that
		 * came and went before the accept (or the late unmap notice
		 * of the previous one) is no consumer: reopen, same count. */
		if (vmsg_chan_reopen(c) < 0) {
			vmsg_chan_close(c);
			c = 0;
		}
	}
	if (c)
		vmsg_chan_close(c);
	return r == stop_err ? r : 0;
}

/* serve=svc:NAME: offered through vmsgd, its channels served in turn. */
static int serve_svc(const char *prog, const struct blk_addr *a,
		     unsigned clients, int (*serve_one)(void *, vmsg_chan *),
		     void *ctx, int stop_err)
{
	vmsg_ctl *ctl;
	int r;

	if ((r = ctl_open(prog, &ctl, 10000)) < 0)
		return r;
	if ((r = vmsg_service_offer(ctl, a->name, 10000)) < 0) {
		guest_printf("%s: offer %s: %s%s%s\n", prog, a->name,
			     vmsg_strerror(r), *vmsg_ctl_error(ctl) ? ": " : "",
			     vmsg_ctl_error(ctl));
		return r;
	}
	guest_printf("%s: offering service %s\n", prog, a->name);
	for (unsigned n = 1; clients == 0 || n <= clients; n++) {
		vmsg_chan *c;
		struct vmsg_service_peer peer;
		if ((r = vmsg_service_accept(ctl, &c, &peer, -1)) < 0) {
			guest_printf("%s: vmsgd: %s\n", prog, vmsg_strerror(r));
			break;
		}
		guest_printf("%s: consumer %u: dom%u (channel %u)\n", prog, n,
			     (unsigned)peer.domid, (unsigned)peer.channel_id);
		r = serve_one(ctx, c);
		log_end(prog, n, r);
		vmsg_service_close(ctl, c);
		if (r == stop_err)
			break;
		r = 0;
	}
	/* The control channel stays (the base may use it): it goes with
	 * the appliance. */
	return r;
}

int blk_serve_loop(const char *prog, const struct blk_addr *a,
		   unsigned clients, int (*serve_one)(void *ctx, vmsg_chan *c),
		   void *ctx, int stop_err)
{
	if (a->kind == BLK_ADDR_XEN)
		return serve_xen(prog, a, clients, serve_one, ctx, stop_err);
	return serve_svc(prog, a, clients, serve_one, ctx, stop_err);
}
