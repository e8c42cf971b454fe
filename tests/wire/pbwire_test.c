/* proto_pbwire: the bounded protobuf wire codec (lib/wire/pbwire.c),
 * cross-checked against protobuf-c's generated code for every
 * message it knows (Hello, Error and all of vmsg_service.proto):
 *   - random valid messages: pbwire's bytes equal protobuf-c's pack, and
 *     each side decodes the other's bytes to the same values;
 *   - hostile input (every truncation, random byte flips, random bytes,
 *     unknown fields, hand-made bad encodings): pbwire never accepts what
 *     protobuf-c refuses, and when both accept they agree field by field;
 *   - the specific refusals: an 11-byte varint, a length past the end, field
 *     0, group wire types, a known field with the wrong wire type, a name
 *     too long or holding a NUL; over-long text is cut and sanitised. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include <vmsg/vmsg_control.pb-c.h>
#include <vmsg/vmsg_service.pb-c.h>

#include <vmsg/proto.h>
#include <vmsg/service.h>

#include "vmsg_pbwire.h"
#include "vmsg_text.h"

#include "vmsg_test.h"

/* The protobuf-free constants (vmsg/control.h, vmsg/service.h) name the
 * numbers of the .proto files' enums. */
#define SVC(name) VMSG__SERVICE__SERVICE_TYPE__SERVICE_TYPE_##name
_Static_assert(VMSG_TYPE_SVC_OFFER == SVC(OFFER) &&
		       VMSG_TYPE_SVC_RESULT == SVC(RESULT) &&
		       VMSG_TYPE_SVC_OPEN == SVC(OPEN) &&
		       VMSG_TYPE_SVC_OPENED == SVC(OPENED) &&
		       VMSG_TYPE_SVC_SERVE == SVC(SERVE) &&
		       VMSG_TYPE_SVC_SERVE_RESULT == SVC(SERVE_RESULT) &&
		       VMSG_TYPE_SVC_CLOSED == SVC(CLOSED) &&
		       VMSG_TYPE_SVC_SPARE == SVC(SPARE),
	       "VMSG_TYPE_SVC_* disagree with vmsg_service.proto");

struct pair {
	const char *name;
	const struct vmsg_pbw_desc *w;
	const ProtobufCMessageDescriptor *pc;
};

static const struct pair pairs[] = {
	{"Hello", &vmsg__pbw_hello_desc, &vmsg__control__hello__descriptor},
	{"Error", &vmsg__pbw_error_desc, &vmsg__control__error__descriptor},
	{"Offer", &vmsg__pbw_offer_desc, &vmsg__service__offer__descriptor},
	{"Result", &vmsg__pbw_result_desc, &vmsg__service__result__descriptor},
	{"Open", &vmsg__pbw_open_desc, &vmsg__service__open__descriptor},
	{"Opened", &vmsg__pbw_opened_desc, &vmsg__service__opened__descriptor},
	{"Serve", &vmsg__pbw_serve_desc, &vmsg__service__serve__descriptor},
	{"ServeResult", &vmsg__pbw_serve_result_desc,
	 &vmsg__service__serve_result__descriptor},
	{"Closed", &vmsg__pbw_closed_desc, &vmsg__service__closed__descriptor},
	{"Spare", &vmsg__pbw_spare_desc, &vmsg__service__spare__descriptor},
};
#define NPAIRS (sizeof pairs / sizeof pairs[0])

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Every pbwire field has a protobuf-c field of the same number and a
 * matching type; the two descriptors list the same fields. */
static void check_tables(const struct pair *p)
{
	ASSERT_EQ((unsigned)p->pc->n_fields, p->w->n);
	for (unsigned i = 0; i < p->w->n; i++) {
		const struct vmsg_pbw_field *f = &p->w->fields[i];
		const ProtobufCFieldDescriptor *g =
			protobuf_c_message_descriptor_get_field(p->pc, f->num);
		ASSERT_TRUE(g != NULL);
		ASSERT_EQ(g->label, PROTOBUF_C_LABEL_NONE);
		switch (f->kind) {
		case VMSG_PBW_U32: ASSERT_EQ(g->type, PROTOBUF_C_TYPE_UINT32); break;
		case VMSG_PBW_S32: ASSERT_EQ(g->type, PROTOBUF_C_TYPE_SINT32); break;
		case VMSG_PBW_U64: ASSERT_EQ(g->type, PROTOBUF_C_TYPE_UINT64); break;
		default: ASSERT_EQ(g->type, PROTOBUF_C_TYPE_STRING); break;
		}
		if (i)
			ASSERT_LT(p->w->fields[i - 1].num, f->num);
	}
}

static uint64_t rnd_int(void)
{
	switch (rnd() % 5) {
	case 0: return 0;
	case 1: return rnd() % 128;
	case 2: return rnd() % 70000;
	case 3: return (uint32_t)rnd();
	default: return rnd();
	}
}

static void rnd_str(char *s, size_t cap)
{
	size_t n = rnd() % 4 == 0 ? 0 : rnd() % cap;
	if (rnd() % 4 == 0)
		n = cap - 1; /* the longest that fits */
	for (size_t k = 0; k < n; k++)
		s[k] = (char)(0x20 + rnd() % 95);
	s[n] = 0;
}

static void rnd_msg(const struct vmsg_pbw_desc *d, void *msg)
{
	memset(msg, 0, d->size);
	for (unsigned i = 0; i < d->n; i++) {
		const struct vmsg_pbw_field *f = &d->fields[i];
		void *mp = (char *)msg + f->off;
		uint64_t v = rnd_int();
		switch (f->kind) {
		case VMSG_PBW_U32: *(uint32_t *)mp = (uint32_t)v; break;
		case VMSG_PBW_S32: *(int32_t *)mp = (int32_t)(uint32_t)v; break;
		case VMSG_PBW_U64: *(uint64_t *)mp = v; break;
		default: rnd_str(mp, f->cap); break;
		}
	}
}

/* The same values as a protobuf-c message (strings point into msg). */
static void to_pc(const struct pair *p, const void *msg, void *pcm)
{
	protobuf_c_message_init(p->pc, pcm);
	for (unsigned i = 0; i < p->w->n; i++) {
		const struct vmsg_pbw_field *f = &p->w->fields[i];
		const ProtobufCFieldDescriptor *g =
			protobuf_c_message_descriptor_get_field(p->pc, f->num);
		const char *mp = (const char *)msg + f->off;
		char *gp = (char *)pcm + g->offset;
		switch (f->kind) {
		case VMSG_PBW_U32: memcpy(gp, mp, 4); break;
		case VMSG_PBW_S32: memcpy(gp, mp, 4); break;
		case VMSG_PBW_U64: memcpy(gp, mp, 8); break;
		default: *(const char **)(void *)gp = mp; break;
		}
	}
}

/* Do a pbwire message and a protobuf-c one hold the same values? Text is
 * compared as pbwire keeps it (cut to its buffer, sanitised); both end it
 * at the first NUL. */
static void same(const struct pair *p, const void *msg, const void *pcm,
		 const char *what)
{
	for (unsigned i = 0; i < p->w->n; i++) {
		const struct vmsg_pbw_field *f = &p->w->fields[i];
		const ProtobufCFieldDescriptor *g =
			protobuf_c_message_descriptor_get_field(p->pc, f->num);
		const char *mp = (const char *)msg + f->off;
		const char *gp = (const char *)pcm + g->offset;
		if (f->kind == VMSG_PBW_U64 || f->kind == VMSG_PBW_U32 ||
		    f->kind == VMSG_PBW_S32) {
			size_t n = f->kind == VMSG_PBW_U64 ? 8 : 4;
			if (memcmp(mp, gp, n) != 0)
				VMSG_TEST_FAIL("%s %s: field %u differs", what,
					       p->name, f->num);
			continue;
		}
		const char *ps = *(const char *const *)(const void *)gp;
		if (!ps)
			ps = "";
		size_t pl = strlen(ps);
		if (f->kind == VMSG_PBW_STR) {
			if (strcmp(mp, ps) != 0)
				VMSG_TEST_FAIL("%s %s: field %u '%s' vs '%s'",
					       what, p->name, f->num, mp, ps);
			continue;
		}
		size_t ml = strlen(mp);
		ASSERT_TRUE(ml <= (size_t)f->cap - 1);
		for (size_t k = 0; k < ml && k < pl; k++) {
			unsigned char c = (unsigned char)ps[k];
			char want = vmsg__text_printable(c) ? (char)c : '?';
			if (mp[k] != want)
				VMSG_TEST_FAIL("%s %s: text field %u differs at %zu",
					       what, p->name, f->num, k);
		}
		ASSERT_TRUE(ml <= pl); /* never past protobuf-c's NUL */
		if (ml < pl)
			ASSERT_EQ(ml, (size_t)f->cap - 1);
	}
}

/* Decode buf both ways: pbwire may refuse more, never less, and when
 * both accept, the values agree. Returns 1 if pbwire accepted. */
static int cross(const struct pair *p, const uint8_t *buf, size_t len,
		 const char *what)
{
	uint64_t msg[128];
	ASSERT_LE(p->w->size, sizeof msg);
	int r = vmsg__pbw_decode(p->w, msg, buf, len);
	ASSERT_TRUE(r == 0 || r == -EBADMSG);
	ProtobufCMessage *pcm = protobuf_c_message_unpack(p->pc, NULL, len, buf);
	if (r == 0) {
		if (!pcm)
			VMSG_TEST_FAIL("%s %s: pbwire accepted %zu bytes that "
				       "protobuf-c refuses", what, p->name, len);
		same(p, msg, pcm, what);
	}
	if (pcm)
		protobuf_c_message_free_unpacked(pcm, NULL);
	return r == 0;
}

static void valid_roundtrips(const struct pair *p)
{
	for (int it = 0; it < 3000; it++) {
		uint64_t msg[128], back[128], pcm[128];
		uint8_t a[1024], b[1024];
		rnd_msg(p->w, msg);
		int n = vmsg__pbw_encode(p->w, msg, a, sizeof a);
		ASSERT_GT(n + 1, 0);
		to_pc(p, msg, pcm);
		size_t m = protobuf_c_message_get_packed_size((void *)pcm);
		ASSERT_EQ(m, (size_t)n);
		ASSERT_EQ(protobuf_c_message_pack((void *)pcm, b), m);
		ASSERT_EQ(memcmp(a, b, m), 0); /* the same bytes */
		/* pbwire reads protobuf-c's bytes back to the same values... */
		ASSERT_EQ(vmsg__pbw_decode(p->w, back, b, m), 0);
		ASSERT_EQ(memcmp(back, msg, p->w->size), 0);
		/* ...and protobuf-c reads pbwire's. */
		ProtobufCMessage *u = protobuf_c_message_unpack(p->pc, NULL,
								(size_t)n, a);
		ASSERT_TRUE(u != NULL);
		same(p, msg, u, "roundtrip");
		protobuf_c_message_free_unpacked(u, NULL);
		/* Too small a buffer is -EMSGSIZE, never an overrun. */
		if (n > 0)
			ASSERT_EQ(vmsg__pbw_encode(p->w, msg, a, (size_t)n - 1),
				  -EMSGSIZE);

		/* Hostile variants of the same bytes. */
		for (size_t cut = 0; cut < m; cut++)
			cross(p, b, cut, "truncated");
		uint8_t h[1100];
		for (int k = 0; k < 8; k++) {
			memcpy(h, b, m);
			size_t hl = m;
			switch (rnd() % 4) {
			case 0: /* flip bytes */
				for (int j = 0; j < 3 && hl; j++)
					h[rnd() % hl] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1: /* random bytes anywhere */
				for (int j = 0; j < 3 && hl; j++)
					h[rnd() % hl] = (uint8_t)rnd();
				break;
			case 2: { /* an unknown field of each wire type */
				static const uint8_t unk[][12] = {
					{0xf8, 0x07, 0x96, 0x01},             /* 127 varint */
					{0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8}, /* 99 fixed64 */
					{0xaa, 0x06, 3, 'a', 'b', 'c'},       /* 101 bytes */
					{0xed, 0x06, 1, 2, 3, 4},             /* 109 fixed32 */
				};
				static const size_t ul[] = {4, 10, 6, 6};
				unsigned w = (unsigned)(rnd() % 4);
				/* between fields: at the start or the end */
				size_t at = (rnd() & 1) ? 0 : hl;
				memmove(h + at + ul[w], h + at, hl - at);
				memcpy(h + at, unk[w], ul[w]);
				hl += ul[w];
				ASSERT_EQ(cross(p, h, hl, "unknown field"), 1);
				uint64_t x[128];
				ASSERT_EQ(vmsg__pbw_decode(p->w, x, h, hl), 0);
				ASSERT_EQ(memcmp(x, msg, p->w->size), 0);
				continue;
			}
			default: /* pure noise */
				hl = rnd() % 64;
				for (size_t j = 0; j < hl; j++)
					h[j] = (uint8_t)rnd();
				break;
			}
			cross(p, h, hl, "mutated");
		}
	}
}

/* Hand-made bad encodings, against the first string field and the first
 * integer field of each message. */
static void specific(const struct pair *p)
{
	uint64_t msg[128];
	const struct vmsg_pbw_field *num = NULL, *str = NULL;
	for (unsigned i = 0; i < p->w->n; i++) {
		const struct vmsg_pbw_field *f = &p->w->fields[i];
		if ((f->kind == VMSG_PBW_STR || f->kind == VMSG_PBW_TEXT) && !str)
			str = f;
		if (f->kind <= VMSG_PBW_U64 && !num)
			num = f;
	}
	ASSERT_TRUE(num != NULL);
	uint8_t t = (uint8_t)(num->num << 3);
	const uint8_t over[] = {t, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				0xff, 0xff, 0xff, 0xff, 0x01}; /* 11 bytes */
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, over, sizeof over), -EBADMSG);
	ASSERT_EQ(protobuf_c_message_unpack(p->pc, NULL, sizeof over, over),
		  NULL);
	const uint8_t ten[] = {t, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			       0xff, 0xff, 0xff, 0x01}; /* 10: fine */
	ASSERT_EQ(cross(p, ten, sizeof ten, "10-byte varint"), 1);
	const uint8_t field0[] = {0x00, 0x01};
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, field0, sizeof field0), -EBADMSG);
	cross(p, field0, sizeof field0, "field 0");
	const uint8_t group[] = {0xfb, 0x07, 0xfc, 0x07}; /* field 127 groups */
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, group, sizeof group), -EBADMSG);
	const uint8_t wrongwt[] = {(uint8_t)(t | 2), 1, 'x'}; /* int as bytes */
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, wrongwt, sizeof wrongwt), -EBADMSG);
	ASSERT_EQ(protobuf_c_message_unpack(p->pc, NULL, sizeof wrongwt,
					    wrongwt), NULL);
	const uint8_t unk_past[] = {0xaa, 0x06, 0x05, 'a'}; /* length > rest */
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, unk_past, sizeof unk_past), -EBADMSG);
	const uint8_t huge[] = {0xaa, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff,
				0xff, 0xff, 0xff, 0x7f, 'a'}; /* 2^63-ish */
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, huge, sizeof huge), -EBADMSG);
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, NULL, 0), 0); /* empty = all zero */
	if (!str)
		return;
	uint8_t s[600];
	uint8_t st = (uint8_t)(str->num << 3 | 2);
	size_t n = str->cap + 20u; /* longer than the buffer */
	s[0] = st;
	s[1] = (uint8_t)(0x80 | (n & 0x7f));
	s[2] = (uint8_t)(n >> 7);
	for (size_t k = 0; k < n; k++)
		s[3 + k] = (uint8_t)('A' + k % 26);
	int r = vmsg__pbw_decode(p->w, msg, s, 3 + n);
	if (str->kind == VMSG_PBW_STR) {
		ASSERT_EQ(r, -EBADMSG);
	} else {
		ASSERT_EQ(r, 0);
		ASSERT_EQ(strlen((char *)msg + str->off), (size_t)str->cap - 1);
		cross(p, s, 3 + n, "long text");
	}
	const uint8_t nul[] = {st, 3, 'a', 0, 'b'};
	r = vmsg__pbw_decode(p->w, msg, nul, sizeof nul);
	if (str->kind == VMSG_PBW_STR) {
		ASSERT_EQ(r, -EBADMSG);
	} else {
		/* Free text ends at the NUL, as protobuf-c's C string does
		 * (and as lib/proto's readers have always seen it). */
		ASSERT_EQ(r, 0);
		ASSERT_EQ(strcmp((char *)msg + str->off, "a"), 0);
		const uint8_t ctl[] = {st, 3, 'a', 0x07, 0xff};
		ASSERT_EQ(vmsg__pbw_decode(p->w, msg, ctl, sizeof ctl), 0);
		ASSERT_EQ(strcmp((char *)msg + str->off, "a??"), 0);
	}
	const uint8_t strpast[] = {st, 9, 'a', 'b'};
	ASSERT_EQ(vmsg__pbw_decode(p->w, msg, strpast, sizeof strpast), -EBADMSG);
	ASSERT_EQ(protobuf_c_message_unpack(p->pc, NULL, sizeof strpast,
					    strpast), NULL);
	/* A string member without its NUL cannot be encoded. */
	memset(msg, 0, p->w->size);
	memset((char *)msg + str->off, 'x', str->cap);
	uint8_t out[1024];
	ASSERT_EQ(vmsg__pbw_encode(p->w, msg, out, sizeof out), -EINVAL);
}

int main(void)
{
	for (unsigned i = 0; i < NPAIRS; i++) {
		check_tables(&pairs[i]);
		specific(&pairs[i]);
		valid_roundtrips(&pairs[i]);
		printf("%s: ok\n", pairs[i].name);
	}
	/* zigzag edges through Result.code */
	static const int32_t codes[] = {0, -1, 1, -2, 2147483647,
					-2147483647 - 1, -22, -4095};
	for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct vmsg_pbw_result r = {7, codes[i], "t"}, back;
		uint8_t buf[64];
		int n = vmsg__pbw_encode(&vmsg__pbw_result_desc, &r, buf, sizeof buf);
		ASSERT_GT(n, 0);
		Vmsg__Service__Result *u = vmsg__service__result__unpack(
			NULL, (size_t)n, buf);
		ASSERT_TRUE(u != NULL);
		ASSERT_EQ(u->code, codes[i]);
		vmsg__service__result__free_unpacked(u, NULL);
		ASSERT_EQ(vmsg__pbw_decode(&vmsg__pbw_result_desc, &back, buf, (size_t)n), 0);
		ASSERT_EQ(back.code, codes[i]);
	}
	printf("proto_pbwire: ok\n");
	return 0;
}
