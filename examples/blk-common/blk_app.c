/* The block appliances' shared SDK part (blk_app.h). */
#include "blk_app.h"

#include <vmsg/guest.h>

#include "vmsg_errno.h"
#include "vmsg_string.h"

/* Conventional paths are short (the name is at most 64 bytes): no 3 KiB
 * buffer on a unikernel's stack. */
#define BLK_PATH_MAX 192

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

int blk_base_open(const char *prog, const struct guest_addr *a,
		  uint32_t depth, int timeout_ms, struct blk_base *b)
{
	struct vmsg_chan_opts o;
	char path[BLK_PATH_MAX];
	int r;

	blk_chan_opts(&o);
	b->ctl = 0;
	if (a->kind == GUEST_ADDR_XEN) {
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

/* A stop asked for (w says so at once). */
static bool stopping(const struct blk_wait *w)
{
	return w->wait && w->wait(w->ctx, 0, BLK_WAIT_LOOK) < 0;
}

static void log_end(const char *prog, unsigned n, int r,
		    const struct blk_wait *w)
{
	guest_printf("%s: consumer %u: %s\n", prog, n,
		     blk_end_text(r, stopping(w)));
}

/* serve=xen:DOMID:PORT: one channel, served again after each consumer. */
static int serve_xen(const char *prog, const struct guest_addr *a,
		     unsigned clients, int (*serve_one)(void *, vmsg_chan *),
		     void *ctx, int stop_err, const struct blk_wait *w)
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
		if (blk_wait_accept(w, c) == 0) {
			guest_printf("%s: consumer %u: connected\n", prog, n);
			r = serve_one(ctx, c);
			log_end(prog, n, r, w);
			n++;
			if (r == stop_err)
				break;
		}
		r = 0;
		if (stopping(w))
			break; /* c's consumer sees the close */
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

/* How long vmsg_service_accept waits at a time, when w may say stop. */
#define BLK_SVC_LOOK_MS 200

/* serve=svc:NAME: offered through vmsgd, its channels served in turn. */
static int serve_svc(const char *prog, const struct guest_addr *a,
		     unsigned clients, int (*serve_one)(void *, vmsg_chan *),
		     void *ctx, int stop_err, const struct blk_wait *w)
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
		do {
			if (stopping(w))
				return 0;
			r = vmsg_service_accept(ctl, &c, &peer,
						w->wait ? BLK_SVC_LOOK_MS : -1);
		} while (w->wait && (r == -ETIMEDOUT || r == -EAGAIN));
		if (r < 0) {
			guest_printf("%s: vmsgd: %s\n", prog, vmsg_strerror(r));
			break;
		}
		guest_printf("%s: consumer %u: dom%u (channel %u)\n", prog, n,
			     (unsigned)peer.domid, (unsigned)peer.channel_id);
		r = serve_one(ctx, c);
		log_end(prog, n, r, w);
		vmsg_service_close(ctl, c);
		if (r == stop_err)
			break;
		r = 0;
		if (stopping(w))
			break;
	}
	/* The control channel stays (the base may use it): it goes with
	 * the appliance. */
	return r;
}

int blk_serve_loop(const char *prog, const struct guest_addr *a,
		   unsigned clients, int (*serve_one)(void *ctx, vmsg_chan *c),
		   void *ctx, int stop_err, const struct blk_wait *w)
{
	int r = a->kind == GUEST_ADDR_XEN
			? serve_xen(prog, a, clients, serve_one, ctx, stop_err, w)
			: serve_svc(prog, a, clients, serve_one, ctx, stop_err, w);
	if (stopping(w))
		guest_printf("%s: stop signal: stopped\n", prog);
	return r;
}
