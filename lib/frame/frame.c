/* Typed frames on a vchan byte ring: reserve / trim / commit on the writing
 * side, peek / release on the reading side. Freestanding.
 *
 * Layout (docs/protocol.md): an 8-byte little-endian header {u32 len,
 * u16 type, u16 flags}, then `len` payload bytes, padded to 8. Every frame
 * starts at an 8-aligned ring offset and never wraps; a PAD frame (type 0)
 * fills the ring's tail when the next frame does not fit before the end.
 *
 * The reader treats the ring as hostile: the header is copied into a
 * private struct once and validated there; the payload is handed out as an
 * untrusted view.
 */
#include <vmsg/frame.h>

#include "vmsg_frame_inline.h"

/* ---- writing ---------------------------------------------------------- */

int vmsg_frame_trim(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		    void *payload, uint32_t len)
{
	uint32_t pos;
	struct frame_hdr h;

	if (e->error)
		return e->error;
	if (!tx->last_valid || len > tx->last_len)
		return -EINVAL;
	pos = (e->tx.idx + tx->last_off) & (e->tx.size - 1);
	if ((uint8_t *)payload != e->tx.data + pos + VMSG_FRAME_HDR_SIZE)
		return -EINVAL;
	/* The header is ours until commit: only the length changes. */
	vmsg__memcpy(&h, e->tx.data + pos, sizeof(h));
	h.len = len;
	vmsg__memcpy(e->tx.data + pos, &h, sizeof(h));
	tx->last_len = len;
	tx->pending = tx->last_off + vmsg_frame_size(len);
	return 0;
}

/* ---- the exported calls: the inline hot paths ------------------------- */

uint32_t vmsg_frame_max_payload(const struct vmsg_ring_end *e)
{
	return vmsg__frame_max_payload(e);
}

int vmsg_frame_reserve(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		       uint16_t type, uint16_t flags, uint32_t len,
		       void **payload)
{
	return vmsg__frame_reserve(e, tx, type, flags, len, payload);
}

int vmsg_frame_commit(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx)
{
	return vmsg__frame_commit(e, tx);
}

int vmsg_frame_peek(struct vmsg_ring_end *e, struct vmsg_frame *f)
{
	return vmsg__frame_peek(e, f);
}

int vmsg_frame_release(struct vmsg_ring_end *e, const struct vmsg_frame *f)
{
	return vmsg__frame_release(e, f);
}

void vmsg_frame_release_quiet(struct vmsg_ring_end *e,
			      const struct vmsg_frame *f)
{
	vmsg__frame_release_quiet(e, f);
}
