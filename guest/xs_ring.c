/* The xenstore ring's byte level: see xs_ring.h.
 *
 * Both rings are XS_RING_SIZE bytes with free-running 32-bit indices.
 * Requests: we produce (req_prod), xenstored consumes (req_cons).
 * Responses: xenstored produces (rsp_prod), we consume (rsp_cons).
 */
#include "xs_ring.h"

#include "vmsg_barrier.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

#define XS_MASK(i) ((i) & (XS_RING_SIZE - 1))

/* Our own indices come from the page once (the ring may have been used
 * before us, by the boot loader or a previous kernel) and are private
 * from then on, as the other side's writes to them must not move us. */
static void ring_start(struct guest_xs_ring *r)
{
	if (r->started)
		return;
	r->req_prod = vmsg__read_once(&r->intf->req_prod);
	r->rsp_cons = vmsg__read_once(&r->intf->rsp_cons);
	r->started = true;
}

static int ring_wait(struct guest_xs_ring *r, uint64_t deadline_ns)
{
	if (deadline_ns && r->now_ns(r->ctx) >= deadline_ns)
		return -ETIMEDOUT;
	r->wait(r->ctx, deadline_ns);
	return 0;
}

int guest_xs_ring_put(struct guest_xs_ring *r, const void *buf, size_t len,
		      uint64_t deadline_ns)
{
	struct xs_ring_intf *in = r->intf;
	const char *p = buf;

	if (r->broken)
		return r->broken;
	ring_start(r);
	while (len) {
		/* Acquire: xenstored has finished reading the bytes its
		 * req_cons covers before we overwrite them. */
		uint32_t cons = vmsg__load_acquire(&in->req_cons);
		uint32_t prod = r->req_prod;
		uint32_t used = prod - cons;
		if (used > XS_RING_SIZE)
			return r->broken = -EPROTO;
		if (used == XS_RING_SIZE) {
			r->notify(r->ctx);
			int e = ring_wait(r, deadline_ns);
			if (e < 0)
				return e;
			continue;
		}
		/* Contiguous room up to the end of the buffer. */
		uint32_t room = XS_RING_SIZE - used;
		uint32_t upto = XS_RING_SIZE - XS_MASK(prod);
		uint32_t n = room < upto ? room : upto;
		if (n > len)
			n = (uint32_t)len;
		vmsg__memcpy(&in->req[XS_MASK(prod)], p, n);
		/* Release: the bytes are in the ring before the index says
		 * so (pairs with xenstored's read of req_prod). */
		r->req_prod = prod + n;
		vmsg__store_release(&in->req_prod, r->req_prod);
		p += n;
		len -= n;
	}
	r->notify(r->ctx);
	return 0;
}

int guest_xs_ring_get(struct guest_xs_ring *r, void *buf, size_t len,
		      uint64_t deadline_ns)
{
	struct xs_ring_intf *in = r->intf;
	char *p = buf;
	int consumed = 0;

	if (r->broken)
		return r->broken;
	ring_start(r);
	while (len) {
		/* Acquire: the response bytes are read only after the index
		 * that covers them (pairs with xenstored's release). */
		uint32_t prod = vmsg__load_acquire(&in->rsp_prod);
		uint32_t cons = r->rsp_cons;
		uint32_t avail = prod - cons;
		if (avail > XS_RING_SIZE)
			return r->broken = -EPROTO;
		if (avail == 0) {
			if (consumed) {
				/* Room freed: xenstored may be waiting for
				 * it to write the rest. */
				r->notify(r->ctx);
				consumed = 0;
			}
			int e = ring_wait(r, deadline_ns);
			if (e < 0)
				return e;
			continue;
		}
		uint32_t upto = XS_RING_SIZE - XS_MASK(cons);
		uint32_t n = avail < upto ? avail : upto;
		if (n > len)
			n = (uint32_t)len;
		vmsg__memcpy(p, &in->rsp[XS_MASK(cons)], n);
		/* Release: we are done reading these bytes before xenstored
		 * may reuse them. */
		r->rsp_cons = cons + n;
		vmsg__store_release(&in->rsp_cons, r->rsp_cons);
		consumed = 1;
		p += n;
		len -= n;
	}
	if (consumed)
		r->notify(r->ctx);
	return 0;
}

int guest_xs_ring_recv(struct guest_xs_ring *r, struct xs_msg_hdr *h,
		       char *buf, uint64_t deadline_ns)
{
	int e = guest_xs_ring_get(r, h, sizeof(*h), deadline_ns);
	if (e < 0)
		return e;
	/* The length is the other side's word: a bigger payload than the
	 * protocol allows would overrun buf. Once out of step with the
	 * stream there is no resynchronising, so the ring is done. */
	if (h->len > XS_PAYLOAD_MAX)
		return r->broken = -EPROTO;
	/* No deadline for the rest: a message is not abandoned halfway, or
	 * the next read would start inside it. */
	e = guest_xs_ring_get(r, buf, h->len, 0);
	if (e < 0)
		return e;
	buf[h->len] = 0;
	return (int)h->len;
}

int guest_xs_ring_has_rsp(struct guest_xs_ring *r)
{
	ring_start(r);
	return vmsg__load_acquire(&r->intf->rsp_prod) != r->rsp_cons;
}
