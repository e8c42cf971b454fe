/* vmsg/ring.h - libxenvchan-compatible byte rings (freestanding).
 *
 * Error contract (as everywhere in vmsg): functions return >= 0 on success
 * (a byte count where one makes sense) and a negative errno value on
 * failure. This header needs only <stdint.h>, <stddef.h> and <stdbool.h>.
 *
 * The shared page is byte-for-byte libxenvchan's `struct vchan_interface`
 * (xen/io/libxenvchan.h). The left ring carries client-to-server bytes, the
 * right ring server-to-client bytes. A ring of order 10 lives at offset 1024
 * of the shared page, order 11 at offset 2048, order 12 and up in
 * 2^(order-12) pages of its own whose grant references follow in grants[],
 * left ring first.
 *
 * Everything in the shared page may be rewritten by a hostile peer at any
 * moment. A `struct vmsg_ring_end` holds private copies of everything that
 * must stay constant (sizes, our own index) and reads each peer-written
 * index once per operation. A peer index that is impossible (more bytes in
 * flight than the ring holds) puts the end into a sticky broken state and
 * every later call returns -EPROTO.
 *
 * One ring end is used by one thread at a time.
 */
#ifndef VMSG_RING_H
#define VMSG_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMSG_PAGE_SIZE 4096u
#define VMSG_RING_ORDER_MIN 10 /* 1 KiB, in the shared page */
#define VMSG_RING_ORDER_MAX 20 /* 1 MiB: 256 grants, still fits the page */

/* Notify-request bits (values of VCHAN_NOTIFY_*). A side sets a bit in the
 * byte the *peer* reads to ask the peer for a kick:
 *   WRITE: "kick me when you have written" (I am waiting for data)
 *   READ:  "kick me when you have read"    (I am waiting for space) */
#define VMSG_NOTIFY_WRITE 0x1u
#define VMSG_NOTIFY_READ 0x2u

/* Values of the live bytes. */
#define VMSG_LIVE_GONE 0u    /* that side has closed or died */
#define VMSG_LIVE_UP 1u      /* that side is connected */
#define VMSG_LIVE_WAITING 2u /* client only: server waits for its client */
/* client only, vmsg's own (never with a libxenvchan peer): the server, told
 * by its rendezvous (the host backend's hello, vmsgd's word for a channel
 * set up by message) that this client is coming, admitted it: the server
 * is open; the client moves it to UP once it has mapped (docs/protocol.md,
 * "Admitted clients"). */
#define VMSG_LIVE_ADMITTED 3u

/* One ring's shared indices. Free-running 32-bit counters: the number of
 * bytes in flight is prod - cons, modulo 2^32. */
struct vmsg_ring_shared {
	uint32_t cons;
	uint32_t prod;
};

/* The shared control page, libxenvchan's struct vchan_interface. */
struct vmsg_vchan_page {
	struct vmsg_ring_shared left;  /* client writes, server reads */
	struct vmsg_ring_shared right; /* server writes, client reads */
	uint16_t left_order;
	uint16_t right_order;
	uint8_t cli_live;
	uint8_t srv_live;
	uint8_t cli_notify; /* server sets bits here; client reads them */
	uint8_t srv_notify; /* client sets bits here; server reads them */
	uint32_t grants[];  /* left ring's pages, then the right ring's */
};

#define VMSG_VCHAN_GRANTS_OFFSET 24u

/* ---- layout ------------------------------------------------------------ */

/* Pages of its own a ring of `order` needs: 0 for orders 10 and 11 (they
 * live inside the control page), 2^(order-12) otherwise. */
static inline uint32_t vmsg_ring_order_pages(unsigned order)
{
	return order < 12 ? 0u : 1u << (order - 12);
}

/* Offset of an in-page ring (order 10: 1024, order 11: 2048), 0 otherwise. */
static inline uint32_t vmsg_ring_order_offset(unsigned order)
{
	return order == 10 ? 1024u : order == 11 ? 2048u : 0u;
}

/* Check a pair of orders as a client must before trusting them: each in
 * [VMSG_RING_ORDER_MIN, VMSG_RING_ORDER_MAX], the two in-page rings do not
 * overlap, and the grant list ends before the first in-page ring (or the
 * page end). Returns 0 or -EINVAL. */
int vmsg_ring_check_orders(unsigned left_order, unsigned right_order);

/* The smallest order whose ring holds `bytes` (at least 10); -EINVAL if
 * more than 2^VMSG_RING_ORDER_MAX. */
int vmsg_ring_order_for(size_t bytes);

/* Server: initialise a freshly shared (zeroed) control page: orders, grant
 * list (n = pages of both rings, left first), indices 0, srv_live = UP,
 * cli_live = WAITING, both notify bytes = VMSG_NOTIFY_WRITE (as
 * libxenvchan does). Returns 0, or -EINVAL for bad orders or a grant count
 * that does not match them. */
int vmsg_ring_page_init(struct vmsg_vchan_page *page, unsigned left_order,
			unsigned right_order, const uint32_t *grants,
			uint32_t n_grants);

/* ---- one side's view ------------------------------------------------- */

/* One direction as this side sees it. Private memory; `idx` is our own
 * index (prod when we write this ring, cons when we read it), never read
 * back from the shared page. */
struct vmsg_ring {
	struct vmsg_ring_shared *sh; /* shared indices (peer-writable) */
	uint8_t *data;               /* ring bytes (peer-writable) */
	uint32_t size;               /* private copy, power of two */
	uint32_t idx;                /* private copy of our index */
	uint32_t peer;               /* the peer's index as last read and
					validated (prod of rx, cons of tx):
					what is known to be there (rx) or
					free (tx) without touching the
					shared line again */
};

struct vmsg_ring_end {
	struct vmsg_vchan_page *page;
	struct vmsg_ring rx;        /* the ring we read */
	struct vmsg_ring tx;        /* the ring we write */
	uint8_t *want;              /* byte where we ask the peer for kicks */
	uint8_t *peer_want;         /* byte where the peer asks us for kicks */
	uint8_t *live;              /* our live byte */
	uint8_t *peer_live;         /* the peer's live byte */
	bool is_server;
	int error;                  /* 0, or sticky -EPROTO */
};

/* Attach to a shared page. `left` and `right` are the mapped ring buffers,
 * `left_order`/`right_order` the sizes this side trusts (the server's own
 * choice, or the client's validated private copy). Our indices are read
 * once from the page; an impossible pair (prod - cons > size) gives
 * -EPROTO. Returns 0, -EINVAL for NULL or bad orders, -EPROTO. */
int vmsg_ring_end_init(struct vmsg_ring_end *e, struct vmsg_vchan_page *page,
		       bool is_server, void *left, unsigned left_order,
		       void *right, unsigned right_order);

/* Bytes that can be read now; -EPROTO if the peer's index is impossible. */
int vmsg_ring_data_ready(struct vmsg_ring_end *e);

/* Bytes that can be written now; -EPROTO as above. */
int vmsg_ring_buffer_space(struct vmsg_ring_end *e);

/* Stream write: copy min(len, space) bytes and publish them. Returns the
 * count (0 when full). Does not kick: see vmsg_ring_kick_needed(). */
int vmsg_ring_write(struct vmsg_ring_end *e, const void *buf, size_t len);

/* Packet write: all of `len` or nothing. Returns len, 0 when it does not fit
 * now, -EMSGSIZE when it can never fit (len > ring size). */
int vmsg_ring_send(struct vmsg_ring_end *e, const void *buf, size_t len);

/* Stream read: copy min(len, ready) bytes out and publish the space.
 * Returns the count (0 when empty). */
int vmsg_ring_read(struct vmsg_ring_end *e, void *buf, size_t len);

/* Packet read: exactly `len` bytes or nothing. Returns len, 0, -EMSGSIZE. */
int vmsg_ring_recv(struct vmsg_ring_end *e, void *buf, size_t len);

/* Ask the peer for a kick (bit = VMSG_NOTIFY_WRITE to wait for data,
 * VMSG_NOTIFY_READ to wait for space), followed by a full barrier. The
 * caller must re-check the ring after this and before sleeping. */
void vmsg_ring_request_notify(struct vmsg_ring_end *e, unsigned bit);

/* After publishing (bit = VMSG_NOTIFY_WRITE) or consuming
 * (VMSG_NOTIFY_READ): full barrier, then fetch-and-clear the peer's request
 * bit. True when the peer asked and must be kicked through the platform. */
bool vmsg_ring_kick_needed(struct vmsg_ring_end *e, unsigned bit);

/* ---- in-place access, used by the frame layer ------------------------- */

/* Contiguous readable bytes at our read index (stops at the ring's end),
 * with *p pointing at them. Same errors as vmsg_ring_data_ready(). */
int vmsg_ring_rx_span(struct vmsg_ring_end *e, const uint8_t **p);

/* The same, but the peer's prod is read again only when fewer than `need`
 * bytes are known to be readable: readers that consume what they know
 * first leave the shared line alone (it is the producer's to write). The
 * span may be shorter than what is really there; ask again with a larger
 * `need` to look. */
int vmsg_ring_rx_span_min(struct vmsg_ring_end *e, uint32_t need,
			  const uint8_t **p);

/* Bytes writable, reading the peer's cons again only when fewer than
 * `need` are known to be free. */
int vmsg_ring_tx_space_min(struct vmsg_ring_end *e, uint32_t need);

/* Publish that `n` more bytes were consumed (n must be <= ready). */
void vmsg_ring_rx_consume(struct vmsg_ring_end *e, uint32_t n);

/* Consume `n` more bytes privately: the peer learns of the space at the
 * next vmsg_ring_rx_consume() or vmsg_ring_rx_publish(). */
void vmsg_ring_rx_skip(struct vmsg_ring_end *e, uint32_t n);

/* Publish our read index, then (full barrier) fetch-and-clear the peer's
 * VMSG_NOTIFY_READ request: true when it must be kicked. One barrier for
 * every byte skipped since the last publish. */
bool vmsg_ring_rx_publish(struct vmsg_ring_end *e);

/* Publish that `n` more bytes were written at our write index. */
void vmsg_ring_tx_publish(struct vmsg_ring_end *e, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
