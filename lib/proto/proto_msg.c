/* protobuf-c messages on a channel: pack straight into the ring, unpack from
 * a private copy through a bounded arena, and the Hello exchange. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/proto.h>

#include "arena_private.h"
#include "vmsg_clock.h"

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

/* ---- Hello exchange ---------------------------------------------------- */

/* Copy untrusted text into dst[0..cap) (cap >= 1), truncated, NUL-ended,
 * every byte outside printable ASCII replaced by '?' so it is safe to log. */
static void copy_sanitized(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	if (src) {
		for (; i + 1 < cap && src[i]; i++) {
			unsigned char ch = (unsigned char)src[i];
			dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
		}
	}
	dst[i] = '\0';
}

static uint64_t now_ms(void)
{
	return vmsg__clock_ns() / 1000000u;
}

/* What is left of a timeout started at `start`: -1 and 0 stay as they are;
 * a positive timeout never drops below 1 ms, so that the call waits (and
 * reports -ETIMEDOUT) instead of polling once and reporting -EAGAIN. */
static int remaining_ms(int timeout_ms, uint64_t start)
{
	if (timeout_ms <= 0)
		return timeout_ms;
	uint64_t spent = now_ms() - start;
	if (spent >= (uint64_t)timeout_ms)
		return 1;
	return timeout_ms - (int)spent;
}

void vmsg_hello_info_init(struct vmsg_hello_info *ours, const char *name,
			  uint64_t max_msg)
{
	if (!ours)
		return;
	memset(ours, 0, sizeof *ours);
	ours->version = VMSG_PROTO_VERSION;
	ours->features = VMSG_FEATURES_SUPPORTED;
	ours->max_msg = max_msg;
	if (name) {
		size_t n = strnlen(name, VMSG_HELLO_NAME_MAX);
		memcpy(ours->name, name, n);
		ours->name[n] = '\0';
	}
}

/* Our answer to an incompatible Hello: tell the peer, then the caller. */
static int refuse_version(vmsg_chan *c, uint32_t theirs, uint32_t ours,
			  struct vmsg_hello_info *peer, int timeout_ms)
{
	char text[VMSG_HELLO_TEXT_MAX + 1];
	snprintf(text, sizeof text,
		 "vmsg protocol version %u.%u is not supported: this end "
		 "speaks %u.x",
		 VMSG_PROTO_VERSION_MAJOR_OF(theirs),
		 VMSG_PROTO_VERSION_MINOR_OF(theirs),
		 VMSG_PROTO_VERSION_MAJOR_OF(ours));
	peer->error_code = -EPROTONOSUPPORT;
	copy_sanitized(peer->error, sizeof peer->error, text);
	/* Best effort: the answer to the caller is the same whether or not
	 * the peer is still there to read it. */
	(void)vmsg_proto_send_error(c, -EPROTONOSUPPORT, text, VMSG_TYPE_HELLO,
				    timeout_ms);
	return -EPROTONOSUPPORT;
}

int vmsg_hello_exchange_ex(vmsg_chan *c, const struct vmsg_hello_info *ours,
			   struct vmsg_hello_info *peer, int timeout_ms)
{
	if (!c || !ours || !peer)
		return -EINVAL;
	const uint64_t start = timeout_ms > 0 ? now_ms() : 0;
	memset(peer, 0, sizeof *peer);

	char name[VMSG_HELLO_NAME_MAX + 1];
	copy_sanitized(name, sizeof name, ours->name);
	Vmsg__Control__Hello h = VMSG__CONTROL__HELLO__INIT;
	h.version = ours->version;
	h.features = ours->features;
	h.max_msg = ours->max_msg;
	h.name = name;
	int r = vmsg_proto_send(c, VMSG_TYPE_HELLO, &h.base, 0,
				remaining_ms(timeout_ms, start));
	if (r < 0)
		return r;

	/* Refuse oversize greetings before copying them anywhere. Peeking
	 * twice presents the same message, which vmsg_proto_recv() takes. */
	struct vmsg_msg m;
	r = vmsg_chan_peek(c, &m, remaining_ms(timeout_ms, start));
	if (r < 0)
		return r;
	if (m.len > VMSG_HELLO_WIRE_MAX ||
	    (m.type != VMSG_TYPE_HELLO && m.type != VMSG_TYPE_ERROR)) {
		r = vmsg_chan_release(c);
		return r < 0 ? r : -EBADMSG;
	}

	/* Room for the payload copy plus the decoded message, with slack
	 * for a few unknown fields from a newer peer. A payload that decodes
	 * into more than this is not a greeting. */
	uint64_t arena_buf[4 * VMSG_HELLO_WIRE_MAX / sizeof(uint64_t)];
	struct vmsg_arena a;
	vmsg_arena_init(&a, arena_buf, sizeof arena_buf);
	uint16_t type;
	ProtobufCMessage *msg;
	r = vmsg_proto_recv(c, NULL, &a, &type, &msg, 0);
	if (r == -ENOMEM)
		return -EBADMSG;
	if (r < 0)
		return r;

	if (type == VMSG_TYPE_ERROR) {
		const Vmsg__Control__Error *e = (const Vmsg__Control__Error *)msg;
		peer->error_code = e->code;
		copy_sanitized(peer->error, sizeof peer->error, e->text);
		return e->code == -EPROTONOSUPPORT ? -EPROTONOSUPPORT
						   : -ECONNREFUSED;
	}

	const Vmsg__Control__Hello *ph = (const Vmsg__Control__Hello *)msg;
	peer->version = ph->version;
	peer->features = ph->features;
	peer->max_msg = ph->max_msg;
	copy_sanitized(peer->name, sizeof peer->name, ph->name);
	if (VMSG_PROTO_VERSION_MAJOR_OF(ph->version) !=
	    VMSG_PROTO_VERSION_MAJOR_OF(ours->version))
		return refuse_version(c, ph->version, ours->version, peer,
				      remaining_ms(timeout_ms, start));
	return 0;
}

int vmsg_hello_exchange(vmsg_chan *c, const char *name,
			struct vmsg_hello_info *peer, int timeout_ms)
{
	struct vmsg_hello_info ours;
	int max_msg = vmsg_chan_max_msg(c);
	if (max_msg < 0)
		return max_msg;
	vmsg_hello_info_init(&ours, name, (uint64_t)max_msg);
	return vmsg_hello_exchange_ex(c, &ours, peer, timeout_ms);
}
