/* Private: the frame layer's hot paths as inline functions (the exported
 * vmsg_frame_* calls in lib/frame/frame.c wrap them), so the channel layer
 * sends and receives a one-frame message without a call into the frame or
 * ring layer. Layout and hostile-peer rules: lib/frame/frame.c and
 * docs/protocol.md. Freestanding. */
#ifndef VMSG_FRAME_INLINE_H
#define VMSG_FRAME_INLINE_H

#include <vmsg/frame.h>

#include "vmsg_errno.h"
#include "vmsg_ring_inline.h"
#include "vmsg_string.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vmsg: frame headers are little-endian; big-endian hosts are not supported"
#endif

/* The wire header. On a little-endian host its memory image is the wire
 * format, so one 8-byte copy converts it. */
struct frame_hdr {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
};
_Static_assert(sizeof(struct frame_hdr) == VMSG_FRAME_HDR_SIZE,
	       "frame header is 8 bytes");

/* An honest writer emits at most one PAD per frame (the tail before a
 * wrap, always followed by the frame itself). We tolerate a second one at
 * offset 0; a third in one peek is a peer looping us. */
#define FRAME_MAX_PADS 2

static inline int vmsg__frame_broken(struct vmsg_ring_end *e)
{
	e->error = -EPROTO;
	return -EPROTO;
}

static inline uint32_t vmsg__frame_max_payload(const struct vmsg_ring_end *e)
{
	/* Ring sizes are >= 1 KiB (order 10), so this never underflows. */
	return e->tx.size / 2 - VMSG_FRAME_HDR_SIZE;
}

/* ---- writing ---------------------------------------------------------- */

/* Write a header at ring offset `off` (8-aligned, 8 bytes before the end
 * at least). Plain stores: the bytes become visible to the peer through
 * the release of prod at commit. */
static inline void vmsg__frame_put_hdr(struct vmsg_ring_end *e, uint32_t off,
				       uint32_t len, uint16_t type,
				       uint16_t flags)
{
	struct frame_hdr h = {.len = len, .type = type, .flags = flags};

	vmsg__memcpy(e->tx.data + off, &h, sizeof(h));
}

/* Always inlined: with constant type and flags most checks fold away. A
 * broken ring (e->error) is reported by the space check, before any byte
 * is written. */
static inline __attribute__((always_inline)) int
vmsg__frame_reserve(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		    uint16_t type, uint16_t flags, uint32_t len, void **payload)
{
	uint32_t mask, pos, to_end, fsize, pad;
	int space;

	if (type == VMSG_TYPE_PAD || (flags & ~VMSG_FRAME_FLAGS_KNOWN))
		return -EINVAL;
	if (len > vmsg__frame_max_payload(e))
		return -EMSGSIZE;
	/* Our write index came from the shared page at init: frames need it
	 * 8-aligned, and it can only be misaligned if the peer set it so. */
	if ((e->tx.idx | tx->pending) & (VMSG_FRAME_ALIGN - 1))
		return vmsg__frame_broken(e);

	fsize = vmsg_frame_size(len); /* len <= size/2 - 8: no overflow */
	mask = e->tx.size - 1;
	/* Free-running index: idx + pending wraps modulo 2^32, and the mask
	 * keeps the ring offset (sizes are powers of two). */
	pos = (e->tx.idx + tx->pending) & mask;
	to_end = e->tx.size - pos; /* >= 8: pos is 8-aligned and < size */
	pad = fsize > to_end ? to_end : 0;

	/* The peer's cons as last read, or one acquire of it when that does
	 * not show room enough: the bytes we are about to overwrite have
	 * been read by the peer. pending + pad + fsize <= 2 * size. */
	space = vmsg__tx_space_min(e, tx->pending + pad + fsize);
	if (space < 0)
		return space;
	/* pending + pad + fsize <= size + size: no overflow in 32 bits, but
	 * compare by subtraction anyway so the check reads as "what is left". */
	if ((uint32_t)space < tx->pending ||
	    (uint32_t)space - tx->pending < pad + fsize)
		return -EAGAIN;

	if (pad) {
		vmsg__frame_put_hdr(e, pos, pad - VMSG_FRAME_HDR_SIZE, VMSG_TYPE_PAD,
			      0);
		tx->pending += pad;
		pos = 0;
	}
	vmsg__frame_put_hdr(e, pos, len, type, flags);
	tx->last_off = tx->pending;
	tx->last_len = len;
	tx->last_valid = true;
	tx->pending += fsize;
	*payload = e->tx.data + pos + VMSG_FRAME_HDR_SIZE;
	return 0;
}

static inline int vmsg__frame_commit(struct vmsg_ring_end *e,
				     struct vmsg_frame_tx *tx)
{
	uint32_t n = tx->pending;

	tx->pending = 0;
	tx->last_valid = false;
	if (e->error)
		return e->error;
	if (n == 0)
		return 0; /* nothing new: leave the peer's request bit set */
	/* Release store of prod: every header and payload byte written since
	 * the last commit is visible before the new index. */
	vmsg__tx_advance(e, n);
	return vmsg__kick_needed(e, VMSG_NOTIFY_WRITE) ? 1 : 0;
}

/* Ask for the lines the next frame will be written to, for writing, so
 * that its stores find them owned rather than wait for them (a receiver
 * that answers a request calls this as it takes the request). A hint: it
 * never faults, and in a one-way stream it hits lines already ours. */
static inline void vmsg__frame_tx_warm(const struct vmsg_ring_end *e,
				       const struct vmsg_frame_tx *tx)
{
	uint32_t mask = e->tx.size - 1;
	uint32_t pos = (e->tx.idx + tx->pending) & mask;

	vmsg__prefetch_w(e->tx.data + pos);
	vmsg__prefetch_w(e->tx.data + ((pos + 64) & mask));
}

/* A writer streaming small frames asks for the lines it will write a few
 * frames from now (512 bytes ahead, an eighth of a small ring), for
 * writing: the reader read them one lap ago, and each first store to such
 * a line would otherwise wait for the reader's copy to be invalidated. */
static inline void vmsg__frame_tx_ahead(const struct vmsg_ring_end *e,
					const struct vmsg_frame_tx *tx)
{
	uint32_t ahead = e->tx.size / 8 < 512 ? e->tx.size / 8 : 512;

	vmsg__prefetch_w(e->tx.data +
			 ((e->tx.idx + tx->pending + ahead) & (e->tx.size - 1)));
}

/* ---- reading ---------------------------------------------------------- */

/* Always inlined: the receiving calls' fast paths are this and a copy. */
static inline __attribute__((always_inline)) int
vmsg__frame_peek(struct vmsg_ring_end *e, struct vmsg_frame *f)
{
	int pads = 0;

	/* e->error is 0 or negative; written so that the compiler knows a
	 * positive return always filled *f. */
	if (e->error)
		return e->error < 0 ? e->error : -EPROTO;
	for (;;) {
		const uint8_t *p;
		struct frame_hdr h;
		uint32_t avail, to_end, fsize;
		int n;

		/* The peer's prod as last read, or one acquire of it when
		 * that covers no header: the bytes it covers are read after
		 * it. Frames already known are consumed without touching the
		 * shared line. */
		n = vmsg__rx_span_min(e, VMSG_FRAME_HDR_SIZE, &p);
		if (n < 0)
			return n;
		avail = (uint32_t)n;
		/* Our read index is private and only ever advanced by whole
		 * frames; it is misaligned only if the peer's initial index
		 * was. A span that is not a multiple of 8 means the peer
		 * published a misaligned prod (the span ends at prod or at
		 * the ring's end, which is aligned). */
		if ((e->rx.idx | avail) & (VMSG_FRAME_ALIGN - 1))
			return vmsg__frame_broken(e);
		if (avail < VMSG_FRAME_HDR_SIZE)
			return 0;

		/* The payload's next line is fetched while the header's
		 * miss is served: the copy-out would otherwise wait for the
		 * header before asking for it (a hint; it never faults). */
		__builtin_prefetch(p + 64);
		/* Copy the header once; from here on only the copy is used. */
		vmsg__memcpy(&h, p, sizeof(h));
		if (h.flags & ~VMSG_FRAME_FLAGS_KNOWN)
			return vmsg__frame_broken(e);
		/* No honest frame is larger than half the ring (a PAD fills
		 * less than one maximal frame). Checked before computing the
		 * frame size so that the addition cannot overflow. It also
		 * means a partly published frame can always be completed:
		 * the writer has at least half the ring free. */
		if (h.len > e->rx.size / 2 - VMSG_FRAME_HDR_SIZE)
			return vmsg__frame_broken(e);
		fsize = vmsg_frame_size(h.len);
		to_end = e->rx.size - (e->rx.idx & (e->rx.size - 1));
		if (fsize > to_end)
			return vmsg__frame_broken(e); /* would wrap */
		if (fsize > avail) {
			/* The prod we knew covers the header only: look at
			 * the peer's prod again (the header stays our copy). */
			n = vmsg__rx_span_min(e, fsize, &p);
			if (n < 0)
				return n;
			avail = (uint32_t)n;
			if (avail & (VMSG_FRAME_ALIGN - 1))
				return vmsg__frame_broken(e);
			if (fsize > avail)
				return 0; /* header published ahead of payload */
		}

		if (h.type == VMSG_TYPE_PAD) {
			if (h.flags || ++pads > FRAME_MAX_PADS)
				return vmsg__frame_broken(e);
			/* Release store of cons: we are done with these
			 * bytes. Then look again from the new index. */
			vmsg__rx_advance(e, fsize);
			continue;
		}
		f->type = h.type;
		f->flags = h.flags;
		f->len = h.len;
		f->data = p + VMSG_FRAME_HDR_SIZE;
		f->size = fsize;
		return 1;
	}
}

static inline int vmsg__frame_release(struct vmsg_ring_end *e,
				      const struct vmsg_frame *f)
{
	if (e->error)
		return e->error;
	/* f->size is the private, validated copy from peek (<= published). */
	vmsg__rx_advance(e, f->size);
	return vmsg__kick_needed(e, VMSG_NOTIFY_READ) ? 1 : 0;
}

static inline void vmsg__frame_release_quiet(struct vmsg_ring_end *e,
					     const struct vmsg_frame *f)
{
	if (e->error == 0)
		e->rx.idx += f->size /* published by rx_publish */;
}
#endif
