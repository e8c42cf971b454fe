/* protobuf-c messages on a channel: pack straight into the ring, unpack from
 * a private copy through a bounded arena. (The Hello exchange is
 * lib/wire/hello.c, over the bounded codec.) */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/proto.h>

#include "arena_private.h"

/* The C macros and the .proto's enum must name the same numbers. */
#define PROTO_TYPE(name) VMSG__CONTROL__CONTROL_TYPE__CONTROL_TYPE_##name
_Static_assert(VMSG_TYPE_HELLO == PROTO_TYPE(HELLO),
	       "VMSG_TYPE_HELLO disagrees with vmsg_control.proto");
_Static_assert(VMSG_TYPE_ERROR == PROTO_TYPE(ERROR),
	       "VMSG_TYPE_ERROR disagrees with vmsg_control.proto");
_Static_assert(VMSG_TYPE_ERROR <= VMSG_TYPE_CONTROL_MAX,
	       "control types stay in the control range");

/* Frame type -> message, for every built-in control message. A new control
 * message adds its row here. */
static const struct {
	uint16_t type;
	const ProtobufCMessageDescriptor *desc;
} control_types[] = {
	{ VMSG_TYPE_HELLO, &vmsg__control__hello__descriptor },
	{ VMSG_TYPE_ERROR, &vmsg__control__error__descriptor },
};

const ProtobufCMessageDescriptor *vmsg_proto_descriptor(uint16_t type)
{
	for (size_t i = 0; i < sizeof control_types / sizeof control_types[0];
	     i++)
		if (control_types[i].type == type)
			return control_types[i].desc;
	return NULL;
}

int vmsg_proto_send(vmsg_chan *c, uint16_t type, const ProtobufCMessage *m,
		    unsigned flags, int timeout_ms)
{
	if (!c || !m || type == VMSG_TYPE_PAD || (flags & ~VMSG_SEND_MORE))
		return -EINVAL;
	/* Catches what pack would crash on: a NULL required string or
	 * submessage, a repeated field's NULL array, an unset oneof member. */
	if (!protobuf_c_message_check(m))
		return -EINVAL;

	size_t len = protobuf_c_message_get_packed_size(m);
	if (len > INT_MAX)
		return -EMSGSIZE;
	int max_frame = vmsg_chan_max_frame(c);
	if (max_frame < 0)
		return max_frame;

	if (len <= (size_t)max_frame) {
		/* Zero-copy: pack into the reserved frame. The bytes are ours
		 * until commit; the peer sees nothing before. */
		void *payload;
		int r = vmsg_chan_reserve(c, type, len, &payload, timeout_ms);
		if (r < 0)
			return r;
		protobuf_c_message_pack(m, payload);
		r = vmsg_chan_commit(c, flags);
		return r < 0 ? r : (int)len;
	}

	/* Larger than one frame: the channel fragments it (and rejects it
	 * with -EMSGSIZE when over max_msg). Control messages are small, so
	 * this path is rare and a temporary buffer is fine. */
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	int r = vmsg_chan_send(c, type, buf, len, flags, timeout_ms);
	free(buf);
	return r < 0 ? r : (int)len;
}

int vmsg_proto_recv(vmsg_chan *c, const ProtobufCMessageDescriptor *d,
		    struct vmsg_arena *a, uint16_t *type, ProtobufCMessage **out,
		    int timeout_ms)
{
	if (!c || !a || !out)
		return -EINVAL;

	struct vmsg_msg m;
	int r = vmsg_chan_peek(c, &m, timeout_ms);
	if (r < 0)
		return r;
	if (!d) {
		d = vmsg_proto_descriptor(m.type);
		if (!d)
			return -ENOMSG; /* left queued for the caller */
	}

	/* Copy first: m.data may point into the shared ring, which the peer
	 * can rewrite while protobuf-c (which reads its input more than once)
	 * would be parsing it. The copy goes to the arena's far end and is
	 * given back once unpacked (protobuf-c copies strings and bytes out
	 * of its input, so nothing in the result points into the copy). */
	const uint16_t msg_type = m.type;
	const size_t len = m.len;
	uint8_t *copy = len > INT_MAX ? NULL : vmsg__arena_scratch_take(a, len);
	if (!copy) {
		r = vmsg_chan_release(c);
		return r < 0 ? r : -ENOMEM;
	}
	if (len)
		memcpy(copy, m.data, len);
	r = vmsg_chan_release(c);
	if (r < 0) {
		vmsg__arena_scratch_put(a);
		return r;
	}

	size_t mark = vmsg__arena_mark(a);
	ProtobufCMessage *msg =
		protobuf_c_message_unpack(d, vmsg_arena_allocator(a), len, copy);
	vmsg__arena_scratch_put(a);
	if (!msg) {
		/* An allocation failure is the arena's size; anything else is
		 * a payload that does not parse. Either way what the failed
		 * unpack allocated is given back. */
		int err = vmsg__arena_failed(a) ? -ENOMEM : -EBADMSG;
		vmsg__arena_rollback(a, mark);
		return err;
	}
	if (type)
		*type = msg_type;
	*out = msg;
	return (int)len;
}

int vmsg_proto_send_error(vmsg_chan *c, int code, const char *text,
			  uint16_t ref_type, int timeout_ms)
{
	Vmsg__Control__Error e = VMSG__CONTROL__ERROR__INIT;
	e.code = code;
	/* protobuf-c's string fields are not const, but pack only reads. */
	e.text = (char *)(text ? text : "");
	e.ref_type = ref_type;
	return vmsg_proto_send(c, VMSG_TYPE_ERROR, &e.base, 0, timeout_ms);
}
