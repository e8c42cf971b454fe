/* The bounded protobuf wire codec of the control messages (vmsg_pbwire.h).
 * Freestanding: no libc, no allocation, no recursion. The input may come
 * from vmsgd or from any peer's Hello, and is parsed as hostile: every
 * read is checked against the end first. */
#include "vmsg_pbwire.h"

#include "vmsg_errno.h"
#include "vmsg_text.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define F(num, kind, type, member, cap) \
	{num, kind, (uint16_t)offsetof(type, member), cap}

static const struct vmsg_pbw_field hello_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_hello, version, 0),
	F(2, VMSG_PBW_U64, struct vmsg_pbw_hello, features, 0),
	F(3, VMSG_PBW_U64, struct vmsg_pbw_hello, max_msg, 0),
	F(4, VMSG_PBW_TEXT, struct vmsg_pbw_hello, name, VMSG_PBW_HELLO_NAME_CAP),
};
static const struct vmsg_pbw_field error_f[] = {
	F(1, VMSG_PBW_S32, struct vmsg_pbw_error, code, 0),
	F(2, VMSG_PBW_TEXT, struct vmsg_pbw_error, text, VMSG_PBW_TEXT_CAP),
	F(3, VMSG_PBW_U32, struct vmsg_pbw_error, ref_type, 0),
};
static const struct vmsg_pbw_field offer_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_offer, req_id, 0),
	F(2, VMSG_PBW_STR, struct vmsg_pbw_offer, service, VMSG_PBW_NAME_CAP),
};
static const struct vmsg_pbw_field result_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_result, req_id, 0),
	F(2, VMSG_PBW_S32, struct vmsg_pbw_result, code, 0),
	F(3, VMSG_PBW_TEXT, struct vmsg_pbw_result, text, VMSG_PBW_TEXT_CAP),
};
static const struct vmsg_pbw_field open_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_open, req_id, 0),
	F(2, VMSG_PBW_STR, struct vmsg_pbw_open, service, VMSG_PBW_NAME_CAP),
	F(3, VMSG_PBW_U32, struct vmsg_pbw_open, timeout_ms, 0),
};
static const struct vmsg_pbw_field opened_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_opened, req_id, 0),
	F(2, VMSG_PBW_U32, struct vmsg_pbw_opened, provider_domid, 0),
	F(3, VMSG_PBW_STR, struct vmsg_pbw_opened, path, VMSG_PBW_PATH_CAP),
	F(4, VMSG_PBW_U64, struct vmsg_pbw_opened, max_msg, 0),
	F(5, VMSG_PBW_U32, struct vmsg_pbw_opened, channel_id, 0),
	F(6, VMSG_PBW_U32, struct vmsg_pbw_opened, provider_uid, 0),
	F(7, VMSG_PBW_U32, struct vmsg_pbw_opened, ring_ref, 0),
	F(8, VMSG_PBW_U32, struct vmsg_pbw_opened, event_port, 0),
};
static const struct vmsg_pbw_field serve_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_serve, serve_id, 0),
	F(2, VMSG_PBW_STR, struct vmsg_pbw_serve, service, VMSG_PBW_NAME_CAP),
	F(3, VMSG_PBW_U32, struct vmsg_pbw_serve, consumer_domid, 0),
	F(4, VMSG_PBW_STR, struct vmsg_pbw_serve, path, VMSG_PBW_PATH_CAP),
	F(5, VMSG_PBW_U32, struct vmsg_pbw_serve, rx_ring_size, 0),
	F(6, VMSG_PBW_U32, struct vmsg_pbw_serve, tx_ring_size, 0),
	F(7, VMSG_PBW_U64, struct vmsg_pbw_serve, max_msg, 0),
	F(8, VMSG_PBW_U32, struct vmsg_pbw_serve, connect_timeout_ms, 0),
	F(9, VMSG_PBW_U32, struct vmsg_pbw_serve, consumer_uid, 0),
	F(10, VMSG_PBW_U32, struct vmsg_pbw_serve, by_message, 0),
	F(11, VMSG_PBW_U32, struct vmsg_pbw_serve, relayed_for, 0),
	F(12, VMSG_PBW_U32, struct vmsg_pbw_serve, after, 0),
	F(13, VMSG_PBW_U32, struct vmsg_pbw_serve, admit, 0),
};
static const struct vmsg_pbw_field serve_result_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_serve_result, serve_id, 0),
	F(2, VMSG_PBW_S32, struct vmsg_pbw_serve_result, code, 0),
	F(3, VMSG_PBW_TEXT, struct vmsg_pbw_serve_result, text, VMSG_PBW_TEXT_CAP),
	F(4, VMSG_PBW_U32, struct vmsg_pbw_serve_result, ring_ref, 0),
	F(5, VMSG_PBW_U32, struct vmsg_pbw_serve_result, event_port, 0),
};
static const struct vmsg_pbw_field closed_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_closed, channel_id, 0),
};
static const struct vmsg_pbw_field spare_f[] = {
	F(1, VMSG_PBW_U32, struct vmsg_pbw_spare, channel_id, 0),
	F(2, VMSG_PBW_STR, struct vmsg_pbw_spare, service, VMSG_PBW_NAME_CAP),
	F(3, VMSG_PBW_U32, struct vmsg_pbw_spare, provider_domid, 0),
	F(4, VMSG_PBW_STR, struct vmsg_pbw_spare, path, VMSG_PBW_PATH_CAP),
	F(5, VMSG_PBW_U64, struct vmsg_pbw_spare, max_msg, 0),
	F(6, VMSG_PBW_U32, struct vmsg_pbw_spare, ring_ref, 0),
	F(7, VMSG_PBW_U32, struct vmsg_pbw_spare, event_port, 0),
};

#define D(name, fields, type) \
	const struct vmsg_pbw_desc name = {fields, sizeof(fields) / sizeof(fields[0]), \
				      sizeof(type)}
D(vmsg__pbw_hello_desc, hello_f, struct vmsg_pbw_hello);
D(vmsg__pbw_error_desc, error_f, struct vmsg_pbw_error);
D(vmsg__pbw_offer_desc, offer_f, struct vmsg_pbw_offer);
D(vmsg__pbw_result_desc, result_f, struct vmsg_pbw_result);
D(vmsg__pbw_open_desc, open_f, struct vmsg_pbw_open);
D(vmsg__pbw_opened_desc, opened_f, struct vmsg_pbw_opened);
D(vmsg__pbw_serve_desc, serve_f, struct vmsg_pbw_serve);
D(vmsg__pbw_serve_result_desc, serve_result_f, struct vmsg_pbw_serve_result);
D(vmsg__pbw_closed_desc, closed_f, struct vmsg_pbw_closed);
D(vmsg__pbw_spare_desc, spare_f, struct vmsg_pbw_spare);

/* ---- encoding */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put_varint(struct wbuf *w, uint64_t v)
{
	do {
		if (w->len >= w->cap) {
			w->err = -EMSGSIZE;
			return;
		}
		uint8_t b = (uint8_t)(v & 0x7f);
		v >>= 7;
		w->p[w->len++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v);
}

static size_t str_len(const char *s, size_t cap)
{
	size_t n = 0;
	while (n < cap && s[n])
		n++;
	return n; /* == cap: no NUL inside the array */
}

int vmsg__pbw_encode(const struct vmsg_pbw_desc *d, const void *msg, uint8_t *buf,
	       size_t cap)
{
	struct wbuf w = {buf, 0, cap, 0};
	const uint8_t *m = msg;
	for (unsigned i = 0; i < d->n && !w.err; i++) {
		const struct vmsg_pbw_field *f = &d->fields[i];
		const void *mp = m + f->off;
		uint64_t v;
		switch (f->kind) {
		case VMSG_PBW_U32:
			v = *(const uint32_t *)mp;
			break;
		case VMSG_PBW_S32: {
			/* zigzag: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... */
			uint32_t s = (uint32_t) * (const int32_t *)mp;
			v = (s << 1) ^ (0u - (s >> 31));
			break;
		}
		case VMSG_PBW_U64:
			v = *(const uint64_t *)mp;
			break;
		default: { /* strings */
			const char *s = mp;
			size_t n = str_len(s, f->cap);
			if (n == f->cap)
				return -EINVAL;
			if (n == 0)
				continue; /* proto3: "" is not sent */
			put_varint(&w, (uint64_t)f->num << 3 | WT_LEN);
			put_varint(&w, n);
			if (w.err || w.cap - w.len < n)
				return -EMSGSIZE;
			for (size_t k = 0; k < n; k++)
				w.p[w.len++] = (uint8_t)s[k];
			continue;
		}
		}
		if (v == 0)
			continue; /* proto3: zero is not sent */
		put_varint(&w, (uint64_t)f->num << 3 | WT_VARINT);
		put_varint(&w, v);
	}
	return w.err ? w.err : (int)w.len;
}

/* ---- decoding */

/* A varint at *pos, at most 10 bytes, all inside [0, len). */
static int get_varint(const uint8_t *b, size_t len, size_t *pos,
		      uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (*pos >= len)
			return -EBADMSG;
		uint8_t c = b[(*pos)++];
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static const struct vmsg_pbw_field *find(const struct vmsg_pbw_desc *d, uint64_t num)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->fields[i].num == num)
			return &d->fields[i];
	return 0;
}

static int put_string(const struct vmsg_pbw_field *f, char *dst,
		      const uint8_t *src, uint64_t n)
{
	if (f->kind == VMSG_PBW_STR) {
		if (n >= f->cap)
			return -EBADMSG;
		for (uint64_t k = 0; k < n; k++) {
			/* Names and paths are printable ASCII; anything else
			 * (a NUL above all) is refused, not mended. */
			if (!vmsg__text_printable(src[k]))
				return -EBADMSG;
			dst[k] = (char)src[k];
		}
		dst[n] = 0;
		return 0;
	}
	/* Free text: as protobuf-c's C string would end at a NUL. */
	(void)vmsg__text_clean(dst, f->cap, (const char *)src,
			       n > f->cap ? f->cap : (size_t)n);
	return 0;
}

int vmsg__pbw_decode(const struct vmsg_pbw_desc *d, void *msg, const uint8_t *buf,
	       size_t len)
{
	uint8_t *m = msg;
	for (size_t i = 0; i < d->size; i++)
		m[i] = 0;
	size_t pos = 0;
	while (pos < len) {
		uint64_t tag, v;
		size_t tag_at = pos;
		if (get_varint(buf, len, &pos, &tag) < 0 || pos - tag_at > 5 ||
		    tag > 0xffffffffu || (tag >> 3) == 0)
			return -EBADMSG;
		unsigned wt = (unsigned)(tag & 7);
		const struct vmsg_pbw_field *f = find(d, tag >> 3);
		if (f) {
			void *mp = m + f->off;
			if (f->kind == VMSG_PBW_STR || f->kind == VMSG_PBW_TEXT) {
				if (wt != WT_LEN ||
				    get_varint(buf, len, &pos, &v) < 0 ||
				    v > len - pos)
					return -EBADMSG;
				if (put_string(f, mp, buf + pos, v) < 0)
					return -EBADMSG;
				pos += (size_t)v;
				continue;
			}
			if (wt != WT_VARINT || get_varint(buf, len, &pos, &v) < 0)
				return -EBADMSG;
			if (f->kind == VMSG_PBW_U64) {
				*(uint64_t *)mp = v;
			} else if (f->kind == VMSG_PBW_U32) {
				*(uint32_t *)mp = (uint32_t)v;
			} else {
				uint32_t z = (uint32_t)v;
				*(int32_t *)mp = (int32_t)((z >> 1) ^ (0u - (z & 1)));
			}
			continue;
		}
		/* An unknown field (a newer peer's): skip it whole. */
		switch (wt) {
		case WT_VARINT:
			if (get_varint(buf, len, &pos, &v) < 0)
				return -EBADMSG;
			break;
		case WT_I64:
			if (len - pos < 8)
				return -EBADMSG;
			pos += 8;
			break;
		case WT_I32:
			if (len - pos < 4)
				return -EBADMSG;
			pos += 4;
			break;
		case WT_LEN:
			if (get_varint(buf, len, &pos, &v) < 0 || v > len - pos)
				return -EBADMSG;
			pos += (size_t)v;
			break;
		default: /* groups (3, 4) and 6, 7: not in our messages */
			return -EBADMSG;
		}
	}
	return 0;
}
