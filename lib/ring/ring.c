/* lib/ring/ring.c - libxenvchan-compatible byte rings (freestanding).
 *
 * Indices are free-running uint32_t counters. Everything below works on
 * private copies: the ring sizes and our own index live in struct
 * vmsg_ring; the peer's index is read exactly once per operation into a
 * local and checked before any byte is touched.
 *
 * Barrier pairs (each side runs the same code, so A pairs with the peer's R):
 *   A1  load-acquire of the peer's prod  before reading the bytes it covers;
 *       pairs with the peer's R1.
 *   R1  store-release of our prod        after writing the bytes it covers.
 *   A2  load-acquire of the peer's cons  before overwriting the space it
 *       frees; pairs with the peer's R2.
 *   R2  store-release of our cons        after reading the bytes it frees.
 *   F1/F2 full barriers of the notify handshake (see request_notify and
 *       kick_needed): each side stores (bit / index) and then loads what the
 *       other side stored, which acquire/release alone do not order.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmsg/ring.h"
#include "vmsg_barrier.h"
#include "vmsg_ring_inline.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

_Static_assert(offsetof(struct vmsg_vchan_page, grants) ==
		       VMSG_VCHAN_GRANTS_OFFSET,
	       "grant list must start at byte 24, as in vchan_interface");
_Static_assert(sizeof(struct vmsg_vchan_page) == VMSG_VCHAN_GRANTS_OFFSET,
	       "vchan_interface header is 24 bytes");

/* ---- layout ------------------------------------------------------------ */

int vmsg_ring_check_orders(unsigned left_order, unsigned right_order)
{
	if (left_order < VMSG_RING_ORDER_MIN ||
	    left_order > VMSG_RING_ORDER_MAX ||
	    right_order < VMSG_RING_ORDER_MIN ||
	    right_order > VMSG_RING_ORDER_MAX)
		return -EINVAL;

	/* Orders 10 and 11 have one fixed place each in the control page:
	 * two rings of the same small order would be the same bytes. */
	if (left_order < 12 && left_order == right_order)
		return -EINVAL;

	/* The grant list must not run into an in-page ring (nor off the page).
	 * With orders <= 20 the sum is at most 512 pages: no overflow. */
	uint32_t grants_end =
		VMSG_VCHAN_GRANTS_OFFSET +
		4u * (vmsg_ring_order_pages(left_order) +
		      vmsg_ring_order_pages(right_order));
	uint32_t limit = VMSG_PAGE_SIZE;
	uint32_t lo = vmsg_ring_order_offset(left_order);
	uint32_t ro = vmsg_ring_order_offset(right_order);
	if (lo != 0 && lo < limit)
		limit = lo;
	if (ro != 0 && ro < limit)
		limit = ro;
	if (grants_end > limit)
		return -EINVAL;
	return 0;
}

int vmsg_ring_order_for(size_t bytes)
{
	if (bytes > ((size_t)1 << VMSG_RING_ORDER_MAX))
		return -EINVAL;
	int order = VMSG_RING_ORDER_MIN;
	while (((size_t)1 << order) < bytes)
		order++;
	return order;
}

int vmsg_ring_page_init(struct vmsg_vchan_page *page, unsigned left_order,
			unsigned right_order, const uint32_t *grants,
			uint32_t n_grants)
{
	if (page == NULL)
		return -EINVAL;
	if (vmsg_ring_check_orders(left_order, right_order) != 0)
		return -EINVAL;
	if (n_grants != vmsg_ring_order_pages(left_order) +
				vmsg_ring_order_pages(right_order))
		return -EINVAL;
	if (n_grants != 0 && grants == NULL)
		return -EINVAL;

	/* The page is not yet published (the peer learns of it through the
	 * directory afterwards), so ordering among these stores does not
	 * matter; write_once only keeps every shared access explicit. */
	vmsg__write_once(&page->left.cons, 0u);
	vmsg__write_once(&page->left.prod, 0u);
	vmsg__write_once(&page->right.cons, 0u);
	vmsg__write_once(&page->right.prod, 0u);
	vmsg__write_once(&page->left_order, (uint16_t)left_order);
	vmsg__write_once(&page->right_order, (uint16_t)right_order);
	vmsg__write_once(&page->cli_live, (uint8_t)VMSG_LIVE_WAITING);
	vmsg__write_once(&page->srv_live, (uint8_t)VMSG_LIVE_UP);
	/* Both sides start out asking to be told about writes, as libxenvchan
	 * does, so the first data in either direction produces a kick. */
	vmsg__write_once(&page->cli_notify, (uint8_t)VMSG_NOTIFY_WRITE);
	vmsg__write_once(&page->srv_notify, (uint8_t)VMSG_NOTIFY_WRITE);
	for (uint32_t i = 0; i < n_grants; i++)
		vmsg__write_once(&page->grants[i], grants[i]);
	return 0;
}

/* ---- one side's view ------------------------------------------------- */

/* Argument checks shared by the four copying calls. */
static inline int io_args(const struct vmsg_ring_end *e, const void *buf,
			  size_t len)
{
	if (e->error != 0)
		return e->error;
	if (len > (size_t)__INT_MAX__)
		return -EMSGSIZE;
	if (buf == NULL && len != 0)
		return -EINVAL;
	return 0;
}

/* Copy n (<= size) bytes into tx at our index, splitting at the ring end. */
static inline void tx_copy_in(struct vmsg_ring *r, const uint8_t *src,
			      uint32_t n)
{
	uint32_t off = r->idx & (r->size - 1);
	uint32_t first = r->size - off;
	if (n <= first) {
		vmsg__memcpy(r->data + off, src, n);
	} else {
		vmsg__memcpy(r->data + off, src, first);
		vmsg__memcpy(r->data, src + first, n - first);
	}
}

/* Copy n (<= ready) bytes out of rx at our index, splitting at the end. */
static inline void rx_copy_out(const struct vmsg_ring *r, uint8_t *dst,
			       uint32_t n)
{
	uint32_t off = r->idx & (r->size - 1);
	uint32_t first = r->size - off;
	if (n <= first) {
		vmsg__memcpy(dst, r->data + off, n);
	} else {
		vmsg__memcpy(dst, r->data + off, first);
		vmsg__memcpy(dst + first, r->data, n - first);
	}
}

int vmsg_ring_end_init(struct vmsg_ring_end *e, struct vmsg_vchan_page *page,
		       bool is_server, void *left, unsigned left_order,
		       void *right, unsigned right_order)
{
	if (e == NULL || page == NULL || left == NULL || right == NULL)
		return -EINVAL;
	if (vmsg_ring_check_orders(left_order, right_order) != 0)
		return -EINVAL;

	struct vmsg_ring_shared *lsh = &page->left;
	struct vmsg_ring_shared *rsh = &page->right;
	uint32_t lsize = (uint32_t)1 << left_order;
	uint32_t rsize = (uint32_t)1 << right_order;

	e->page = page;
	e->is_server = is_server;
	e->error = 0;
	if (is_server) {
		/* The server reads the left ring and writes the right one; it
		 * asks for kicks in cli_notify and honours srv_notify. */
		e->rx = (struct vmsg_ring){lsh, left, lsize, 0, 0};
		e->tx = (struct vmsg_ring){rsh, right, rsize, 0, 0};
		e->want = &page->cli_notify;
		e->peer_want = &page->srv_notify;
		e->live = &page->srv_live;
		e->peer_live = &page->cli_live;
	} else {
		e->rx = (struct vmsg_ring){rsh, right, rsize, 0, 0};
		e->tx = (struct vmsg_ring){lsh, left, lsize, 0, 0};
		e->want = &page->srv_notify;
		e->peer_want = &page->cli_notify;
		e->live = &page->cli_live;
		e->peer_live = &page->srv_live;
	}

	/* Our own indices are read from the page this once (a reconnecting
	 * side resumes where the page says) and kept privately from now on. */
	e->rx.idx = vmsg__read_once(&e->rx.sh->cons);
	e->tx.idx = vmsg__read_once(&e->tx.sh->prod);

	/* Both pairs must already be possible. */
	int r = vmsg__rx_ready(e);
	if (r < 0)
		return r;
	r = vmsg__tx_space(e);
	if (r < 0)
		return r;
	return 0;
}

int vmsg_ring_data_ready(struct vmsg_ring_end *e)
{
	return vmsg__rx_ready(e);
}

int vmsg_ring_buffer_space(struct vmsg_ring_end *e)
{
	return vmsg__tx_space(e);
}

int vmsg_ring_write(struct vmsg_ring_end *e, const void *buf, size_t len)
{
	int r = io_args(e, buf, len);
	if (r < 0)
		return r;
	int space = vmsg__tx_space_min(e, len < e->tx.size ? (uint32_t)len : e->tx.size);
	if (space < 0)
		return space;
	uint32_t n = len < (size_t)space ? (uint32_t)len : (uint32_t)space;
	if (n == 0)
		return 0;
	tx_copy_in(&e->tx, buf, n);
	vmsg__tx_advance(e, n);
	return (int)n;
}

int vmsg_ring_send(struct vmsg_ring_end *e, const void *buf, size_t len)
{
	int r = io_args(e, buf, len);
	if (r < 0)
		return r;
	if (len > e->tx.size)
		return -EMSGSIZE;
	int space = vmsg__tx_space_min(e, (uint32_t)len);
	if (space < 0)
		return space;
	if (len > (size_t)space || len == 0)
		return 0;
	tx_copy_in(&e->tx, buf, (uint32_t)len);
	vmsg__tx_advance(e, (uint32_t)len);
	return (int)len;
}

int vmsg_ring_read(struct vmsg_ring_end *e, void *buf, size_t len)
{
	int r = io_args(e, buf, len);
	if (r < 0)
		return r;
	int ready = vmsg__rx_ready_min(e, len < e->rx.size ? (uint32_t)len : e->rx.size);
	if (ready < 0)
		return ready;
	uint32_t n = len < (size_t)ready ? (uint32_t)len : (uint32_t)ready;
	if (n == 0)
		return 0;
	rx_copy_out(&e->rx, buf, n);
	vmsg__rx_advance(e, n);
	return (int)n;
}

int vmsg_ring_recv(struct vmsg_ring_end *e, void *buf, size_t len)
{
	int r = io_args(e, buf, len);
	if (r < 0)
		return r;
	if (len > e->rx.size)
		return -EMSGSIZE;
	int ready = vmsg__rx_ready_min(e, (uint32_t)len);
	if (ready < 0)
		return ready;
	if (len > (size_t)ready || len == 0)
		return 0;
	rx_copy_out(&e->rx, buf, (uint32_t)len);
	vmsg__rx_advance(e, (uint32_t)len);
	return (int)len;
}

void vmsg_ring_request_notify(struct vmsg_ring_end *e, unsigned bit)
{
	vmsg__fetch_or(e->want, (uint8_t)bit);
	/* F1: the bit is visible before the caller re-reads the peer's index;
	 * pairs with F2 in the peer's kick_needed. Either the peer sees our
	 * bit and kicks, or we see its index and do not sleep. */
	vmsg__mb();
}

bool vmsg_ring_kick_needed(struct vmsg_ring_end *e, unsigned bit)
{
	return vmsg__kick_needed(e, bit);
}

/* ---- in-place access ---------------------------------------------------- */

int vmsg_ring_rx_span(struct vmsg_ring_end *e, const uint8_t **p)
{
	return vmsg_ring_rx_span_min(e, UINT32_MAX, p);
}

int vmsg_ring_tx_space_min(struct vmsg_ring_end *e, uint32_t need)
{
	return vmsg__tx_space_min(e, need);
}

int vmsg_ring_rx_span_min(struct vmsg_ring_end *e, uint32_t need,
			  const uint8_t **p)
{
	return vmsg__rx_span_min(e, need, p);
}

void vmsg_ring_rx_consume(struct vmsg_ring_end *e, uint32_t n)
{
	vmsg__rx_advance(e, n);
}

void vmsg_ring_rx_skip(struct vmsg_ring_end *e, uint32_t n)
{
	e->rx.idx += n; /* modulo 2^32; published by rx_publish */
}

bool vmsg_ring_rx_publish(struct vmsg_ring_end *e)
{
	vmsg__rx_advance(e, 0); /* R2 for everything skipped */
	return vmsg_ring_kick_needed(e, VMSG_NOTIFY_READ);
}

void vmsg_ring_tx_publish(struct vmsg_ring_end *e, uint32_t n)
{
	vmsg__tx_advance(e, n);
}
