/* vmsg/proto.h - protobuf-c control messages on a channel: a bounded
 * decoding arena, send/receive helpers and the Hello exchange.
 *
 * Error contract: every function returns >= 0 on success and a negative
 * errno value on failure; errno itself is never used. The channel errors of
 * vmsg/chan.h (-EPROTO: channel broken for good, -EPIPE, -EAGAIN,
 * -ETIMEDOUT, ...) pass through unchanged. Errors added here:
 *   -EBADMSG   a received payload did not parse as the expected message;
 *              the message was consumed and the channel stays usable
 *              (unlike -EPROTO, which means the channel itself is broken)
 *   -ENOMEM    the decoding arena was too small for the message; the
 *              message was consumed and the channel stays usable
 *   -ENOMSG    no descriptor is known for the received message's type; the
 *              message stays queued
 *   -EPROTONOSUPPORT  the peer speaks an incompatible protocol version
 *   -ECONNREFUSED     the peer answered a Hello with an Error message
 *
 * Control messages are defined in proto/vmsg_control.proto and generated
 * into <vmsg/vmsg_control.pb-c.h> (types Vmsg__Control__Hello, ...).
 *
 * The peer is untrusted: a received payload is copied out of the shared ring
 * into private memory before protobuf-c parses it, and decoding allocates
 * only from a caller-supplied, bounded arena, so a hostile payload can cost
 * at most the arena's size.
 *
 * Threads: as for channels, one channel end (and one arena) is used by one
 * thread at a time.
 */
#ifndef VMSG_PROTO_H
#define VMSG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <vmsg/chan.h>
#include <vmsg/control.h>
#include <vmsg/frame.h>
#include <vmsg/vmsg_control.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- protocol constants: vmsg/control.h (VMSG_TYPE_HELLO, VMSG_TYPE_ERROR,
 * VMSG_PROTO_VERSION*, VMSG_FEATURE_*, VMSG_HELLO_*_MAX). */

/* ---- bounded arena ---------------------------------------------------- */

/* A bump allocator over caller memory. Allocations are 8-byte aligned and
 * come only from the caller's buffer; when it is used up, allocation
 * returns NULL. Nothing is freed individually: vmsg_arena_reset() frees
 * everything at once. `allocator` is a ProtobufCAllocator over the arena
 * (free is a no-op), so protobuf_c_message_unpack() through it either fits
 * in the arena or fails cleanly. Fields are private; the struct is public
 * only so that it can live on the caller's stack. */
struct vmsg_arena {
	ProtobufCAllocator allocator;
	unsigned char *base; /* first 8-byte aligned byte of the buffer */
	size_t cap;          /* usable bytes from base */
	size_t used;         /* bump pointer: base + used is the next block */
	size_t top;          /* scratch taken from the end lives at base+top */
	int failed;          /* an allocation returned NULL since the mark */
};

/* Set up *a over buf[0..cap). The buffer stays the caller's; the arena
 * never frees it, and it must outlive every allocation. A buffer that is
 * not 8-byte aligned loses its first bytes to alignment. buf may be NULL
 * only with cap 0 (an arena where every allocation fails). Errors: -EINVAL
 * (a NULL arena, or a NULL buf with cap > 0). */
int vmsg_arena_init(struct vmsg_arena *a, void *buf, size_t cap);

/* Allocate `size` bytes, 8-byte aligned, never blocks. Returns NULL when
 * the arena has fewer than `size` bytes left (any size, however large, is
 * safe to ask for). A 0-byte allocation returns a valid, non-NULL pointer
 * that must not be written to. The memory lives until vmsg_arena_reset(). */
void *vmsg_arena_alloc(struct vmsg_arena *a, size_t size);

/* Forget every allocation: the whole buffer is free again. Everything
 * allocated from the arena (including messages from vmsg_proto_recv())
 * becomes invalid. */
void vmsg_arena_reset(struct vmsg_arena *a);

/* Bytes allocated so far (alignment padding included). */
size_t vmsg_arena_used(const struct vmsg_arena *a);

/* The arena as a protobuf-c allocator (&a->allocator), for calling
 * protobuf_c_message_unpack() yourself. Do not pass it to
 * protobuf_c_message_free_unpacked() expecting memory back: reset instead. */
ProtobufCAllocator *vmsg_arena_allocator(struct vmsg_arena *a);

/* ---- messages on a channel --------------------------------------------- */

/* Send message `m` as one channel message of frame type `type` (control or
 * application range; the receiver needs the type to know what it is).
 * Packing goes straight into the ring when the packed message fits one
 * frame (vmsg_chan_reserve + pack + vmsg_chan_commit); a larger one is
 * packed into a temporary malloc'd buffer, freed before return, and sent
 * fragmented with vmsg_chan_send(). `flags` as for vmsg_chan_send()
 * (VMSG_SEND_MORE batches). Waits up to timeout_ms for ring space.
 * m stays the caller's. Returns the packed length in bytes.
 * Errors: -EINVAL (NULL argument, type 0 (PAD), m not a valid message
 * (protobuf_c_message_check fails), unknown flags); -EMSGSIZE (packed size
 * over the channel's max_msg, or over INT_MAX); -ENOMEM (the temporary
 * buffer); the channel's errors. */
int vmsg_proto_send(vmsg_chan *c, uint16_t type, const ProtobufCMessage *m,
		    unsigned flags, int timeout_ms);

/* The descriptor of the built-in control message with frame type `type`
 * (VMSG_TYPE_HELLO -> vmsg__control__hello__descriptor, ...), or NULL for
 * a type that has none. */
const ProtobufCMessageDescriptor *vmsg_proto_descriptor(uint16_t type);

/* Receive the next message and decode it as descriptor `d` (or, when d is
 * NULL, as the built-in control message its type names; see
 * vmsg_proto_descriptor()). Waits up to timeout_ms for a message.
 *
 * The payload is first copied out of the ring into scratch space at the
 * arena's end (protobuf-c reads its input more than once and the peer can
 * rewrite the ring at any time, so it never parses shared memory), the
 * frame is released, then the copy is unpacked through the arena's
 * allocator and the scratch space given back. So the arena must hold the
 * payload and the decoded message at the same time; afterwards only the
 * decoded message remains. On success *out points at the message, which
 * lives in the arena until vmsg_arena_reset() (never call
 * protobuf_c_message_free_unpacked() on it), *type (may be NULL) is its
 * frame type, and the payload length is returned. Always check *type: with
 * an explicit d, any type is decoded as d.
 *
 * Errors (*out untouched; the arena holds nothing new):
 *   -EBADMSG  the payload does not parse as d; consumed, channel usable
 *   -ENOMEM   the arena cannot hold the payload or the decoded message
 *             (a hostile peer can also cause this); consumed, channel usable
 *   -ENOMSG   d is NULL and the type has no built-in descriptor; the
 *             message stays queued (take it with vmsg_chan_recv/peek)
 *   -EINVAL   NULL c, a or out
 *   -EMSGSIZE the message was over the channel's max_msg and was dropped
 *   and the channel's errors (-EPROTO, -EPIPE, -EAGAIN, -ETIMEDOUT). */
int vmsg_proto_recv(vmsg_chan *c, const ProtobufCMessageDescriptor *d,
		    struct vmsg_arena *a, uint16_t *type, ProtobufCMessage **out,
		    int timeout_ms);

/* Send an Error control message: code (a negative errno value), text (may
 * be NULL), ref_type (the frame type it answers, 0 if none). Returns the
 * packed length; errors as vmsg_proto_send(). */
int vmsg_proto_send_error(vmsg_chan *c, int code, const char *text,
			  uint16_t ref_type, int timeout_ms);

/* ---- Hello exchange: vmsg/control.h (struct vmsg_hello_info,
 * vmsg_hello_info_init(), vmsg_hello_exchange_ex(), vmsg_hello_exchange()). */

#ifdef __cplusplus
}
#endif
#endif
