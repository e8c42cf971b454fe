/* The channel's life: options, the vchan handshake (server and client),
 * accept, state, events, close. */
#include "chan_private.h"

#include "vmsg_barrier.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

/* Offsets of the live bytes: the unmap notification of each side clears
 * its own byte when it goes away. */
#define CLI_LIVE_OFF 20
#define SRV_LIVE_OFF 21
_Static_assert(__builtin_offsetof(struct vmsg_vchan_page, cli_live) ==
		       CLI_LIVE_OFF, "cli_live offset");
_Static_assert(__builtin_offsetof(struct vmsg_vchan_page, srv_live) ==
		       SRV_LIVE_OFF, "srv_live offset");

/* At most 2 * 256 ring pages (two rings of order 20). */
#define MAX_RING_PAGES (2u << (VMSG_RING_ORDER_MAX - 12))
#define MAX_MSG_LIMIT 0x7fffffffu /* lengths are returned as int */

void vmsg_chan_opts_init(struct vmsg_chan_opts *o)
{
	if (!o)
		return;
	vmsg__memset(o, 0, sizeof(*o));
	o->rx_ring_size = VMSG_DEFAULT_RING_SIZE;
	o->tx_ring_size = VMSG_DEFAULT_RING_SIZE;
	o->max_msg = VMSG_DEFAULT_MAX_MSG;
	o->spin_ns = 0;
	o->rx_batch = true;
}

static int opts_check(const struct vmsg_chan_opts *in,
		      struct vmsg_chan_opts *out)
{
	if (in)
		*out = *in;
	else
		vmsg_chan_opts_init(out);
	if (out->max_msg == 0 || out->max_msg > MAX_MSG_LIMIT)
		return -EINVAL;
	if (vmsg_ring_order_for(out->rx_ring_size) < 0 ||
	    vmsg_ring_order_for(out->tx_ring_size) < 0)
		return -EINVAL;
	return 0;
}

static struct vmsg_chan *chan_new(struct vmsg_platform *p,
				  const struct vmsg_chan_opts *o, bool server)
{
	struct vmsg_chan *c = p->ops->alloc(p, sizeof(*c));
	if (!c)
		return NULL;
	vmsg__memset(c, 0, sizeof(*c));
	c->p = p;
	c->opts = *o;
	c->is_server = server;
	return c;
}

/* Release everything the channel holds, the platform last. */
static void chan_free(struct vmsg_chan *c)
{
	struct vmsg_platform *p = c->p;

	if (c->published)
		p->ops->unpublish(p);
	if (c->rings)
		p->ops->unmap(p, c->rings, c->ring_pages);
	if (c->page)
		p->ops->unmap(p, c->page, 1);
	if (c->reasm_buf)
		p->ops->free(p, c->reasm_buf, c->opts.max_msg);
	if (c->refs)
		p->ops->free(p, c->refs, c->nrefs * sizeof(*c->refs));
	p->ops->free(p, c, sizeof(*c));
	p->ops->destroy(p);
}

/* The server picks the ring orders. Two rings inside the control page must
 * not overlap, and the grant list must end before an in-page ring: move a
 * ring out of the page (order 12) until the layout is valid. */
static void pick_orders(unsigned *left, unsigned *right)
{
	if (*left < 12 && *left == *right)
		*right += 1;
	while (vmsg_ring_check_orders(*left, *right) < 0) {
		if (*left < 12 && (*right >= 12 || *left <= *right))
			*left = 12;
		else
			*right = 12;
	}
}

/* Where a ring's bytes are: in the control page, or in the ring pages. */
static uint8_t *ring_bytes(void *page, uint8_t *rings, unsigned order,
			   uint32_t pages_before)
{
	if (order < 12)
		return (uint8_t *)page + vmsg_ring_order_offset(order);
	return rings + (size_t)pages_before * VMSG_PAGE_SIZE;
}

/* Server: lay out a fresh page (indices 0, client awaited), attach our end
 * to it and advertise it. */
static int serve_page(struct vmsg_chan *c)
{
	unsigned lo = c->left_order, ro = c->right_order;
	uint32_t n = c->ring_pages;
	int r;

	r = vmsg_ring_page_init(c->page, lo, ro, c->refs, n);
	if (r < 0)
		return r;
	r = vmsg_ring_end_init(
		&c->end, c->page, true, ring_bytes(c->page, c->rings, lo, 0),
		lo, ring_bytes(c->page, c->rings, ro, vmsg_ring_order_pages(lo)),
		ro);
	if (r < 0)
		return r;
	if ((r = c->p->ops->publish(c->p, c->page_ref, c->port)) < 0)
		return r;
	c->published = true;
	return 0;
}

static int handshake_server(struct vmsg_chan *c)
{
	struct vmsg_platform *p = c->p;
	/* The left ring carries client-to-server bytes: our rx. */
	unsigned lo = (unsigned)vmsg_ring_order_for(c->opts.rx_ring_size);
	unsigned ro = (unsigned)vmsg_ring_order_for(c->opts.tx_ring_size);
	int r;

	pick_orders(&lo, &ro);
	c->left_order = lo;
	c->right_order = ro;
	uint32_t n = vmsg_ring_order_pages(lo) + vmsg_ring_order_pages(ro);

	if ((r = p->ops->port_alloc(p, &c->port)) < 0)
		return r;
	r = p->ops->share(p, 1, &c->page, &c->page_ref, SRV_LIVE_OFF);
	if (r < 0)
		return r;
	if (n) {
		if (!(c->refs = p->ops->alloc(p, n * sizeof(*c->refs))))
			return -ENOMEM;
		c->nrefs = n;
		if ((r = p->ops->share(p, n, &c->rings, c->refs, -1)) < 0)
			return r;
		c->ring_pages = n;
	}
	return serve_page(c);
}

int vmsg_chan_reopen(vmsg_chan *c)
{
	if (!c || !c->is_server)
		return -EINVAL;
	if (!c->page)
		return c->error; /* a failed reopen left nothing to serve on */
	if (!c->error) {
		int st = vmsg__peer_state(c);
		if (st == VMSG_CHAN_WAITING)
			return 0;
		if (st == VMSG_CHAN_OPEN)
			return -EBUSY;
	}
	/* The old client is gone (or broke the rules): forget everything
	 * of its conversation, including what it sent and we did not read. */
	c->error = 0;
	c->peer_gone = false;
	vmsg__memset(&c->ftx, 0, sizeof(c->ftx));
	c->reserved = false;
	c->frag_busy = false;
	c->peeked = false;
	c->rx_quiet = 0;
	if (c->reasm_buf) {
		vmsg__reasm_forget(c); /* its pages stay written */
		vmsg_reasm_init(&c->reasm, c->reasm_buf, c->opts.max_msg);
	}

	/* A fresh control page: on Xen the old client's unmap notification
	 * (its live byte cleared when it unmaps) may come after we saw it
	 * close, and must land on the old page, not on the next client's. */
	struct vmsg_platform *p = c->p;
	/* A client that came and went between two looks at its live byte
	 * (never seen UP: vmsg__peer_state withdraws the address then) left
	 * the address published. Withdraw it before publishing again: the
	 * host platform refuses a second publish, and kept the old listening
	 * socket, which turned every later client away as if the gone one
	 * were still there (-EBUSY, for ever). */
	if (c->published) {
		p->ops->unpublish(p);
		c->published = false;
	}
	p->ops->unmap(p, c->page, 1);
	c->page = NULL;
	int r = p->ops->share(p, 1, &c->page, &c->page_ref, SRV_LIVE_OFF);
	if (r < 0) {
		c->page = NULL;
		c->error = r; /* nothing left to serve on */
		return r;
	}
	return serve_page(c);
}

static int handshake_client(struct vmsg_chan *c, int timeout_ms, bool come);

/* Create a channel end over `p` and run its side of the handshake
 * (`start`: serve or connect; a client that does not `come` stops short
 * of marking itself live). The platform is the channel's from here on,
 * also on failure. A client that fails has not marked itself live (that is
 * its last step), so the server can still take another client. */
static int chan_start(vmsg_chan **out, struct vmsg_platform *p,
		      const struct vmsg_chan_opts *o, bool server,
		      int timeout_ms, bool come)
{
	struct vmsg_chan_opts opts;
	int r;

	if (!p)
		return -EINVAL;
	if (!out || opts_check(o, &opts) < 0) {
		p->ops->destroy(p);
		return -EINVAL;
	}
	struct vmsg_chan *c = chan_new(p, &opts, server);
	if (!c) {
		p->ops->destroy(p);
		return -ENOMEM;
	}
	r = server ? handshake_server(c)
		   : handshake_client(c, timeout_ms, come);
	if (r < 0) {
		chan_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int vmsg_chan_serve(vmsg_chan **out, struct vmsg_platform *p,
		    const struct vmsg_chan_opts *o)
{
	return chan_start(out, p, o, true, 0, true);
}

static int client_come(struct vmsg_chan *c);

static int handshake_client(struct vmsg_chan *c, int timeout_ms, bool come)
{
	struct vmsg_platform *p = c->p;
	struct vmsg_vchan_page *page;
	uint32_t refs[MAX_RING_PAGES];
	uint32_t page_ref, port;
	int r;

	if ((r = p->ops->lookup(p, &page_ref, &port, timeout_ms)) < 0)
		return r;
	if ((r = p->ops->port_bind(p, port)) < 0)
		return r;
	if ((r = p->ops->map(p, 1, &page_ref, &c->page, CLI_LIVE_OFF)) < 0)
		return r;
	page = c->page;

	/* The page is the server's and may change under us: read the orders
	 * and the grant list once into private copies and trust only those
	 * from here on. */
	unsigned lo = vmsg__read_once(&page->left_order);
	unsigned ro = vmsg__read_once(&page->right_order);
	if (vmsg_ring_check_orders(lo, ro) < 0)
		return -EPROTO;
	uint32_t lpages = vmsg_ring_order_pages(lo);
	uint32_t n = lpages + vmsg_ring_order_pages(ro);
	for (uint32_t i = 0; i < n; i++)
		refs[i] = vmsg__read_once(&page->grants[i]);
	if (n) {
		if ((r = p->ops->map(p, n, refs, &c->rings, -1)) < 0)
			return r;
		c->ring_pages = n;
	}
	r = vmsg_ring_end_init(&c->end, page, false,
			       ring_bytes(page, c->rings, lo, 0), lo,
			       ring_bytes(page, c->rings, ro, lpages), ro);
	if (r < 0)
		return r == -EINVAL ? -EPROTO : r;
	return come ? client_come(c) : 0;
}

/* The client's last step: say we came. */
static int client_come(struct vmsg_chan *c)
{
	struct vmsg_platform *p = c->p;
	struct vmsg_vchan_page *page = c->page;

	/* One client per server: only the client that moves cli_live from
	 * WAITING to UP is in. Or from ADMITTED: the server's rendezvous
	 * admitted us (no other client gets past it, or past the port's bind
	 * on Xen), and it knows: no kick. Moving it says we came. */
	uint8_t expect = VMSG_LIVE_WAITING;
	if (vmsg__cas(&page->cli_live, &expect, (uint8_t)VMSG_LIVE_UP))
		p->ops->notify(p); /* the server may be asleep in accept */
	else if (expect != VMSG_LIVE_ADMITTED ||
		 !vmsg__cas(&page->cli_live, &expect, (uint8_t)VMSG_LIVE_UP))
		return -EBUSY;
	/* Admitted, and the server has closed already: it keeps the pages
	 * and port for us (a lingering close, vmsg_service_close) until we
	 * say we came. The CAS above is a full barrier (pairs with
	 * vmsg__chan_hangup's). */
	else if (vmsg__load_acquire(&page->srv_live) == VMSG_LIVE_GONE)
		p->ops->notify(p);
	return 0;
}

int vmsg_chan_connect(vmsg_chan **out, struct vmsg_platform *p,
		      const struct vmsg_chan_opts *o, int timeout_ms)
{
	return chan_start(out, p, o, false, timeout_ms, true);
}

int vmsg__chan_connect_early(vmsg_chan **out, struct vmsg_platform *p,
			     const struct vmsg_chan_opts *o)
{
	return chan_start(out, p, o, false, 0, false);
}

int vmsg__chan_come(vmsg_chan *c)
{
	if (!c || c->is_server || !c->page)
		return -EINVAL;
	return client_come(c);
}

void vmsg__chan_discard(vmsg_chan *c)
{
	if (c)
		chan_free(c);
}

int vmsg_chan_accept(vmsg_chan *c, int timeout_ms)
{
	struct vmsg__wait w;

	if (!c)
		return -EINVAL;
	vmsg__wait_init(c, &w, timeout_ms);
	for (;;) {
		if (c->error)
			return c->error;
		int st = vmsg__peer_state(c);
		if (st < 0)
			return st;
		if (st == VMSG_CHAN_OPEN)
			return 0;
		if (st == VMSG_CHAN_CLOSED)
			return -EPIPE;
		if (timeout_ms == 0)
			return -EAGAIN;
		/* No ring bit to ask for: the client kicks us on arrival. */
		int ms = vmsg__wait_ms_left(c, &w);
		if (ms == 0)
			return -ETIMEDOUT;
		int r = c->p->ops->wait(c->p, ms);
		if (r < 0)
			return r;
	}
}

int vmsg_chan_state(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	/* An impossible index seen by any look at the ring (the inline ones
	 * of the frame layer and of the drop-in libxenvchan included) is the
	 * ring end's sticky error: it breaks the channel, for good. */
	if (!c->error && c->end.error)
		c->error = c->end.error;
	if (c->error)
		return VMSG_CHAN_BROKEN;
	int st = vmsg__peer_state(c);
	if (st < 0)
		return VMSG_CHAN_BROKEN;
	if (st == VMSG_CHAN_CLOSED) {
		/* Closed only once everything the peer sent is received. */
		int ready = vmsg_ring_data_ready(&c->end);
		if (ready < 0) {
			c->error = ready;
			return VMSG_CHAN_BROKEN;
		}
		if (ready > 0 || c->peeked || c->reasm.active)
			return VMSG_CHAN_OPEN;
	}
	return st;
}

int vmsg_chan_fd(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	if (!c->p->ops->fd)
		return -ENOTSUP;
	return c->p->ops->fd(c->p);
}

int vmsg_chan_ack(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	return c->p->ops->ack(c->p);
}

int vmsg_chan_stats(vmsg_chan *c, struct vmsg_chan_stats *s)
{
	if (!c || !s)
		return -EINVAL;
	*s = c->st;
	return 0;
}

int vmsg_chan_set_spin(vmsg_chan *c, uint64_t spin_ns)
{
	if (!c)
		return -EINVAL;
	c->opts.spin_ns = spin_ns; /* read at the start of each wait */
	return 0;
}

int vmsg_chan_ring_sizes(vmsg_chan *c, uint32_t *rx, uint32_t *tx)
{
	if (!c || !c->page)
		return -EINVAL;
	/* The private copies, validated at connect. */
	if (rx)
		*rx = c->end.rx.size;
	if (tx)
		*tx = c->end.tx.size;
	return 0;
}

struct vmsg_ring_end *vmsg__chan_ring(vmsg_chan *c)
{
	return c && c->page ? &c->end : NULL;
}

struct vmsg_platform *vmsg__chan_platform(vmsg_chan *c)
{
	return c ? c->p : NULL;
}

void vmsg__chan_hangup(vmsg_chan *c)
{
	if (!c || !c->page || c->hung_up)
		return;
	c->hung_up = true;
	/* Publish whatever was sent with VMSG_SEND_MORE, and the space of
	 * batch-released messages. */
	if (c->ftx.pending && !c->error)
		vmsg_frame_commit(&c->end, &c->ftx);
	vmsg__rx_announce(c);
	/* Release: every ring write above is visible before the peer sees
	 * us gone (pairs with the acquire in vmsg__peer_state), so close
	 * delivers everything committed. */
	vmsg__store_release(c->end.live, (uint8_t)VMSG_LIVE_GONE);
	/* Unconditional kick: the peer may sleep without having asked for
	 * anything that would wake it. */
	c->p->ops->notify(c->p);
	/* Full barrier: a server that hangs up on a client it admitted
	 * looks at cli_live next (vmsg__chan_admitted), and that client
	 * moves cli_live and then looks at our byte (handshake_client):
	 * one of the two sees the other's store. */
	vmsg__mb();
}

bool vmsg__chan_admitted(vmsg_chan *c)
{
	if (!c || !c->is_server || !c->page || c->error)
		return false;
	const struct vmsg_vchan_page *page = c->page;
	return vmsg__load_acquire(&page->cli_live) == VMSG_LIVE_ADMITTED;
}

void vmsg__chan_set_tag(vmsg_chan *c, struct vmsg__chan_tag *t)
{
	c->tag = t;
}

/* Tell the service handle that tagged c that c is going (lib/service:
 * the handle stops using c, and tells vmsgd when it next opens or
 * accepts a channel). */
static void tag_close(struct vmsg__chan_tag *t)
{
	uint32_t s = VMSG_TAG_OPEN;
	while (!__atomic_compare_exchange_n(&t->state, &s, VMSG_TAG_CLOSED,
					    false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE)) {
		if (s == VMSG_TAG_LEFT) { /* the handle is gone: ours */
			t->free(t, sizeof *t);
			return;
		}
		/* BUSY: the handle acts on c in another thread, for a few
		 * instructions (vmsgd said its peer went); c stays until then.
		 * CLOSED cannot be: a channel is closed once. */
		s = VMSG_TAG_OPEN;
	}
}

void vmsg_chan_close(vmsg_chan *c)
{
	if (!c)
		return;
	if (c->tag)
		tag_close(c->tag);
	vmsg__chan_hangup(c);
	chan_free(c);
}
