/* vmsg/frame.h - typed frames on a vchan byte ring (freestanding).
 *
 * Error contract: >= 0 success, negative errno on failure.
 *
 * A frame is an 8-byte little-endian header followed by its payload, padded
 * to a multiple of 8 bytes:
 *
 *     0       4       6       8
 *     +-------+---+---+-------+---- ... ----+-----+
 *     |  len  | type  | flags | payload     | pad |
 *     +-------+---+---+-------+---- ... ----+-----+
 *
 * `len` counts payload bytes only. Frames never wrap: when a frame does not
 * fit before the ring's end, the writer fills the tail with a PAD frame
 * (type 0) and starts again at offset 0, so every frame a reader sees is one
 * contiguous span. Messages larger than one frame are fragmented (see
 * VMSG_FRAME_MORE / VMSG_FRAME_CONT) and reassembled into a bounded private
 * buffer by struct vmsg_reasm. docs/protocol.md has the full format.
 *
 * Payload views handed out by vmsg_frame_peek() point into shared memory:
 * the bytes are untrusted and may change under the reader. The header
 * fields in struct vmsg_frame are private, validated copies.
 */
#ifndef VMSG_FRAME_H
#define VMSG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMSG_FRAME_HDR_SIZE 8u
#define VMSG_FRAME_ALIGN 8u

/* Type space. */
#define VMSG_TYPE_PAD 0x0000u         /* fills a ring's tail; never delivered */
#define VMSG_TYPE_CONTROL_MIN 0x0001u /* protobuf-c control messages, proto/ */
#define VMSG_TYPE_CONTROL_MAX 0x00ffu
#define VMSG_TYPE_APP_MIN 0x0100u /* free for applications */
#define VMSG_TYPE_APP_MAX 0xffffu

/* Flags. A message that fits one frame has neither. A fragmented message is
 * a first frame with MORE (its payload starts with the total message length
 * as a little-endian uint64), middle frames with MORE|CONT, and a last frame
 * with CONT. All fragments carry the message's type. A continuation (CONT,
 * with or without MORE) carries at least one byte: an empty one is a
 * protocol error. Other bits must be 0. */
#define VMSG_FRAME_MORE 0x0001u
#define VMSG_FRAME_CONT 0x0002u
#define VMSG_FRAME_FLAGS_KNOWN (VMSG_FRAME_MORE | VMSG_FRAME_CONT)

/* Bytes a frame with `len` payload bytes takes in the ring. */
static inline uint32_t vmsg_frame_size(uint32_t len)
{
	return VMSG_FRAME_HDR_SIZE +
	       ((len + VMSG_FRAME_ALIGN - 1) & ~(VMSG_FRAME_ALIGN - 1));
}

/* The largest payload one frame may carry on a ring end's tx ring. Half the
 * ring, so a writer can fill one half while the reader drains the other. */
uint32_t vmsg_frame_max_payload(const struct vmsg_ring_end *e);

/* ---- writing ---------------------------------------------------------- */

/* Frames reserved but not yet published. Zero-initialise before use. */
struct vmsg_frame_tx {
	uint32_t pending; /* bytes written past the published index */
	/* private, for vmsg_frame_trim(): the most recent reservation */
	uint32_t last_off; /* its header's offset past the published index */
	uint32_t last_len; /* its reserved payload length */
	bool last_valid;   /* false after commit or before any reserve */
};

/* Reserve a frame of `len` payload bytes and write its header; *payload
 * points at the space to fill (8-byte aligned). Inserts a PAD frame first
 * when needed. Nothing is visible to the peer until vmsg_frame_commit().
 * Returns 0; -EAGAIN when there is no room now (retry after the peer
 * reads); -EMSGSIZE when len > vmsg_frame_max_payload(); -EINVAL for a PAD
 * type or unknown flags; -EPROTO if the ring end is broken. */
int vmsg_frame_reserve(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		       uint16_t type, uint16_t flags, uint32_t len,
		       void **payload);

/* Shrink the most recent reservation's payload to `len` (<= reserved);
 * `payload` is the pointer that reservation returned. The space given back
 * is reused by the next reserve. Returns 0; -EINVAL when `payload` is not
 * the most recent uncommitted reservation or `len` is larger. */
int vmsg_frame_trim(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		    void *payload, uint32_t len);

/* Publish every reserved frame at once (one index update). Returns 1 when
 * the peer asked to be kicked and must be (batching: one kick for many
 * frames), 0 otherwise (always 0 with nothing reserved); -EPROTO if the
 * ring end is broken (the reservations are dropped). */
int vmsg_frame_commit(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx);

/* ---- reading ---------------------------------------------------------- */

struct vmsg_frame {
	uint16_t type;
	uint16_t flags;
	uint32_t len;        /* payload bytes */
	const uint8_t *data; /* untrusted view into the ring */
	uint32_t size;       /* ring bytes taken, header and padding included */
};

/* Look at the next frame without consuming it; PAD frames are consumed on
 * the way. Returns 1 with *f filled, 0 when no whole frame is there yet
 * (including a header whose frame is only partly published), -EPROTO when
 * the peer wrote an impossible header (frame past the ring's end or larger
 * than half the ring, unknown flags, misaligned index, more than two PAD
 * frames in a row). -EPROTO is sticky (e->error). */
int vmsg_frame_peek(struct vmsg_ring_end *e, struct vmsg_frame *f);

/* Consume the frame returned by the last peek. Returns 1 when the peer
 * asked to be kicked after reads, 0 otherwise; -EPROTO if the ring end is
 * broken. */
int vmsg_frame_release(struct vmsg_ring_end *e, const struct vmsg_frame *f);

/* Consume the frame returned by the last peek without telling the peer:
 * the space is announced by the next vmsg_ring_rx_publish() (batched
 * release: one barrier for many frames). */
void vmsg_frame_release_quiet(struct vmsg_ring_end *e,
			      const struct vmsg_frame *f);

/* ---- fragmentation ---------------------------------------------------- */

/* Sender side of one message being cut into frames. */
struct vmsg_frag_tx {
	const uint8_t *msg;
	size_t len;
	size_t off; /* bytes already framed */
	uint16_t type;
	bool started;
};

void vmsg_frag_tx_init(struct vmsg_frag_tx *s, uint16_t type, const void *msg,
		       size_t len);

/* Reserve, fill and append the message's next frame. Returns 1 when that
 * was the last (the whole message is framed), 0 when more follow (commit
 * now to let the peer start on it, or call again), -EAGAIN when the ring
 * has no room for it (commit, wait for space, call again), or another
 * error of vmsg_frame_reserve(). The frame is reserved, not committed. */
int vmsg_frag_tx_next(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		      struct vmsg_frag_tx *s);

/* Reserve, fill and append as many frames of the message as fit now.
 * Returns 1 when the whole message is framed, 0 when the ring filled first
 * (commit, wait for space, call again), or an error of
 * vmsg_frame_reserve(). Frames are reserved, not committed. */
int vmsg_frag_tx_step(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		      struct vmsg_frag_tx *s);

/* Receiver side: reassembly into a caller-owned private buffer of `cap`
 * bytes (the largest message accepted). */
struct vmsg_reasm {
	uint8_t *buf;
	size_t cap;
	size_t len;   /* bytes collected */
	size_t total; /* announced size of the message being collected */
	uint16_t type;
	bool active;   /* collecting a fragmented message */
	bool skipping; /* dropping the rest of an over-size message */
};

void vmsg_reasm_init(struct vmsg_reasm *r, void *buf, size_t cap);

/* Feed one frame (copied out of the ring; the frame can be released after).
 * Returns 1 when a message is complete in r->buf (r->len bytes, r->type),
 * 0 when more fragments are needed, -EMSGSIZE when the message announced
 * more than r->cap bytes (its remaining fragments are dropped and the
 * channel stays usable), -EPROTO on a broken sequence (CONT without a
 * start, a new start mid-message, type change, an empty continuation, more
 * bytes than announced, fewer at the last fragment). Every call that
 * returns 0 has taken at least one byte of the message (of its body or,
 * for a first fragment, of its length prefix), so a message announcing
 * `total` bytes takes at most total + 1 calls; one being dropped
 * (over-size) can announce up to 2^64 - 1, so a caller that must stay
 * responsive bounds its own work per call (lib/chan does). */
int vmsg_reasm_feed(struct vmsg_reasm *r, const struct vmsg_frame *f);

#ifdef __cplusplus
}
#endif
#endif
