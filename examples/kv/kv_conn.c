/* Serving one channel: decode each typed request as untrusted input and
 * answer it, or run text lines; replies that do not fit the ring wait in
 * the connection (and no more requests are read meanwhile), so a client
 * that does not read its replies stalls only itself. */
#include "kv_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A reply that cannot be sent in one frame gets this long to drain. */
#define KV_SLOW_SEND_MS 2000

/* Fill *rep for request m of type `type`. keys[] holds a List's keys. */
static void answer(struct kv_store *s, uint16_t type, const ProtobufCMessage *m,
		   Kv__Reply *rep, ProtobufCBinaryData keys[KV_LIST_PAGE])
{
	int st = KV_BAD_REQUEST;
	switch (type) {
	case KV_TYPE_PUT: {
		const Kv__Put *p = (const void *)m;
		st = kv_put(s, p->key.data, p->key.len, p->value.data,
			    p->value.len);
		break;
	}
	case KV_TYPE_GET: {
		const Kv__Get *g = (const void *)m;
		const unsigned char *v;
		size_t n;
		st = kv_get(s, g->key.data, g->key.len, &v, &n);
		if (st == KV_OK) {
			rep->value.data = (uint8_t *)v;
			rep->value.len = n;
		}
		break;
	}
	case KV_TYPE_DELETE: {
		const Kv__Delete *d = (const void *)m;
		st = kv_del(s, d->key.data, d->key.len);
		break;
	}
	case KV_TYPE_LIST: {
		const Kv__List *l = (const void *)m;
		const char *k[KV_LIST_PAGE];
		bool more;
		int n = kv_list(s, l->after.data, l->after.len, k, l->limit,
				&more);
		if (n < 0) {
			st = -n;
			break;
		}
		for (int i = 0; i < n; i++) {
			keys[i].data = (uint8_t *)k[i];
			keys[i].len = strlen(k[i]);
		}
		rep->keys = keys;
		rep->n_keys = (size_t)n;
		rep->more = more;
		st = KV_OK;
		break;
	}
	}
	rep->status = (Kv__Status)st;
	if (st != KV_OK)
		rep->text = (char *)kv_status_text(st);
}

static int reply_error(struct kv_conn *k, uint32_t id, const char *text)
{
	Kv__Reply rep = KV__REPLY__INIT;
	rep.id = id;
	rep.status = KV__STATUS__STATUS_BAD_REQUEST;
	rep.text = (char *)text;
	return kv_out_pack(&k->out, KV_TYPE_REPLY, &rep.base);
}

/* Take one request off the ring and queue its reply. */
static int typed_one(struct kv_conn *k, struct kv_store *s,
		     struct vmsg_arena *a)
{
	struct vmsg_msg m;
	char why[96];
	int r = vmsg_chan_peek(k->c, &m, 0);
	if (r == -EMSGSIZE) /* over max_msg: dropped by the library */
		return reply_error(k, 0, "request too large");
	if (r < 0)
		return r;
	const ProtobufCMessageDescriptor *d = kv_request_descriptor(m.type);
	if (!d || m.len > KV_REQUEST_MAX) {
		if (!d)
			snprintf(why, sizeof why, "unknown request type 0x%04x",
				 (unsigned)m.type);
		else
			snprintf(why, sizeof why,
				 "request too large (%zu bytes, at most %d)",
				 m.len, KV_REQUEST_MAX);
		r = vmsg_chan_release(k->c);
		return r < 0 ? r : reply_error(k, 0, why);
	}
	/* Decoded from a private copy into the bounded arena (vmsg/proto.h). */
	vmsg_arena_reset(a);
	uint16_t type;
	ProtobufCMessage *pm;
	r = vmsg_proto_recv(k->c, d, a, &type, &pm, 0);
	if (r == -EBADMSG || r == -ENOMEM)
		return reply_error(k, 0, "request does not parse");
	if (r < 0)
		return r;
	Kv__Reply rep = KV__REPLY__INIT;
	ProtobufCBinaryData keys[KV_LIST_PAGE];
	rep.id = kv_request_id(type, pm);
	answer(s, type, pm, &rep, keys);
	k->requests++;
	return kv_out_pack(&k->out, KV_TYPE_REPLY, &rep.base);
}

static int typed_step(struct kv_conn *k, struct kv_store *s,
		      struct vmsg_arena *a)
{
	for (int i = 0; i < KV_CONN_BUDGET; i++) {
		int r = kv_out_flush(&k->out, k->c, KV_SLOW_SEND_MS);
		if (r == -EAGAIN)
			return 0; /* the peer's kick on space wakes us */
		if (r < 0)
			return r;
		r = typed_one(k, s, a);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
	}
	return 1;
}

static int text_step(struct kv_conn *k, struct kv_store *s)
{
	for (int i = 0; i < KV_CONN_BUDGET; i++) {
		while (k->tout_off < k->tout_len) {
			int r = vmsg_chan_write(k->c, k->tout + k->tout_off,
						k->tout_len - k->tout_off, 0);
			if (r < 0)
				return r; /* -EAGAIN: wait for space */
			k->tout_off += (size_t)r;
		}
		k->tout_off = k->tout_len = 0;
		if (k->in_len == 0) {
			int r = vmsg_chan_read(k->c, k->in, sizeof k->in, 0);
			if (r < 0)
				return r;
			k->in_len = (size_t)r;
		}
		size_t used = kv_text_feed(&k->t, s, k->in, k->in_len, k->tout,
					   sizeof k->tout, &k->tout_len);
		memmove(k->in, k->in + used, k->in_len - used);
		k->in_len -= used;
	}
	return 1;
}

int kv_conn_step(struct kv_conn *k, struct kv_store *s, struct vmsg_arena *a)
{
	int r = k->text ? text_step(k, s) : typed_step(k, s, a);
	return r == -EAGAIN ? 0 : r;
}
