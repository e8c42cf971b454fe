/* Frame types <-> descriptors, and replies queued for non-blocking sends. */
#include "kv_codec.h"

#include <errno.h>
#include <stdlib.h>

#include "kv_store.h"

/* The C constants and the .proto must agree. */
_Static_assert(KV_TYPE_PUT == KV__KV_TYPE__KV_TYPE_PUT, "put");
_Static_assert(KV_TYPE_GET == KV__KV_TYPE__KV_TYPE_GET, "get");
_Static_assert(KV_TYPE_DELETE == KV__KV_TYPE__KV_TYPE_DELETE, "delete");
_Static_assert(KV_TYPE_LIST == KV__KV_TYPE__KV_TYPE_LIST, "list");
_Static_assert(KV_TYPE_REPLY == KV__KV_TYPE__KV_TYPE_REPLY, "reply");
_Static_assert((int)KV_NOT_FOUND == (int)KV__STATUS__STATUS_NOT_FOUND &&
		       (int)KV_FULL == (int)KV__STATUS__STATUS_FULL &&
		       (int)KV_BAD_REQUEST == (int)KV__STATUS__STATUS_BAD_REQUEST,
	       "status");

const ProtobufCMessageDescriptor *kv_request_descriptor(uint16_t type)
{
	switch (type) {
	case KV_TYPE_PUT:
		return &kv__put__descriptor;
	case KV_TYPE_GET:
		return &kv__get__descriptor;
	case KV_TYPE_DELETE:
		return &kv__delete__descriptor;
	case KV_TYPE_LIST:
		return &kv__list__descriptor;
	default:
		return NULL;
	}
}

uint32_t kv_request_id(uint16_t type, const ProtobufCMessage *m)
{
	switch (type) {
	case KV_TYPE_PUT:
		return ((const Kv__Put *)m)->id;
	case KV_TYPE_GET:
		return ((const Kv__Get *)m)->id;
	case KV_TYPE_DELETE:
		return ((const Kv__Delete *)m)->id;
	case KV_TYPE_LIST:
		return ((const Kv__List *)m)->id;
	default:
		return 0;
	}
}

int kv_out_pack(struct kv_out *o, uint16_t type, const ProtobufCMessage *m)
{
	size_t need = protobuf_c_message_get_packed_size(m);
	if (need > o->cap || !o->buf) {
		unsigned char *b = realloc(o->buf, need ? need : 1);
		if (!b)
			return -ENOMEM;
		o->buf = b;
		o->cap = need;
	}
	o->len = protobuf_c_message_pack(m, o->buf);
	o->type = type;
	o->pending = 1;
	return 0;
}

int kv_out_flush(struct kv_out *o, vmsg_chan *c, int slow_timeout_ms)
{
	if (!o->pending)
		return 0;
	int max_frame = vmsg_chan_max_frame(c);
	int timeout = (max_frame >= 0 && o->len <= (size_t)max_frame) ?
			      0 : slow_timeout_ms;
	int r = vmsg_chan_send(c, o->type, o->buf, o->len, 0, timeout);
	if (r < 0)
		return r;
	o->pending = 0;
	return 0;
}

void kv_out_free(struct kv_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->cap = o->len = 0;
	o->pending = 0;
}
