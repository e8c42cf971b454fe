/* kv_codec.h - the key-value messages (kv.proto) on a vmsg channel: frame
 * types, descriptors, and packing a reply for a non-blocking send. */
#ifndef KV_CODEC_H
#define KV_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>

#include "kv.pb-c.h"

/* Frame types (application range), the values of enum KvType. */
#define KV_TYPE_PUT 0x0100u
#define KV_TYPE_GET 0x0101u
#define KV_TYPE_DELETE 0x0102u
#define KV_TYPE_LIST 0x0103u
#define KV_TYPE_REPLY 0x0180u

/* The largest request the server decodes (a Put of the largest key and
 * value, with room for protobuf framing), and the arena that holds one
 * decoded request next to its raw copy. */
#define KV_REQUEST_MAX 2048
#define KV_ARENA_SIZE (4 * KV_REQUEST_MAX)

/* The descriptor of request type `type`, or NULL if it is not one. */
const ProtobufCMessageDescriptor *kv_request_descriptor(uint16_t type);

/* The request id of a decoded request of type `type`. */
uint32_t kv_request_id(uint16_t type, const ProtobufCMessage *m);

/* An encoded message waiting for ring space. */
struct kv_out {
	unsigned char *buf; /* malloc'd, cap bytes */
	size_t cap, len;
	uint16_t type;
	int pending; /* 1 while buf holds a message not yet sent */
};

/* Pack reply r into o (growing o->buf as needed). Returns 0 or -ENOMEM. */
int kv_out_pack(struct kv_out *o, uint16_t type, const ProtobufCMessage *m);

/* Try to send o's message: without waiting when it fits one frame (the
 * send is then all or nothing: -EAGAIN leaves it pending, to retry when
 * the channel's fd polls readable), else fragmented with up to
 * slow_timeout_ms for the ring to drain. Returns 0 when sent (or nothing
 * was pending), -EAGAIN, or the channel's error. */
int kv_out_flush(struct kv_out *o, vmsg_chan *c, int slow_timeout_ms);

void kv_out_free(struct kv_out *o);

#endif
