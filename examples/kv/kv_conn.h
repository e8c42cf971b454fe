/* kv_conn.h - one client channel of vmsg-kv-server: typed requests (kv)
 * or text lines (kv.text), served without ever blocking the server. */
#ifndef KV_CONN_H
#define KV_CONN_H

#include <stdint.h>

#include <vmsg/chan.h>
#include <vmsg/proto.h>

#include "kv_codec.h"
#include "kv_store.h"
#include "kv_text.h"

/* Requests (or reads) handled per channel before the others get a turn. */
#define KV_CONN_BUDGET 64

struct kv_conn {
	vmsg_chan *c;
	uint16_t domid;      /* the consumer (0: dom0, e.g. a socket bridge) */
	uint32_t channel_id; /* vmsgd's */
	int text;            /* 1: byte stream with text lines */
	unsigned long requests;
	struct kv_out out;   /* typed: a reply waiting for ring space */
	struct kv_text t;    /* text: the partial line */
	char in[1024];       /* text: bytes read, not yet fed */
	size_t in_len;
	char tout[2 * KV_TEXT_REPLY_MAX]; /* text: answers not yet written */
	size_t tout_off, tout_len;
};

/* Do what the channel has for us, without waiting. Returns 0 when done
 * until its fd polls readable again, 1 when the budget ran out with work
 * left (call again soon), or a negative errno when the channel is over
 * (-EPIPE: the client closed; -EPROTO: it broke the protocol). `a` is
 * scratch for one decoded request (KV_ARENA_SIZE bytes). */
int kv_conn_step(struct kv_conn *k, struct kv_store *s, struct vmsg_arena *a);

#endif
