/* Fuzz target: the bounded protobuf codec of the control messages
 * (lib/wire/pbwire.c: every message of proto/vmsg_control.proto and
 * proto/vmsg_service.proto that the freestanding side speaks) and the
 * Hello exchange over a channel (lib/wire/hello.c).
 *
 * Input: [selector: 1] then
 *   selector % 11 < 9 or == 10: the bytes to decode as message
 *     descs[selector % 11 < 9 ? selector % 11 : 9]. A message
 *     that decodes must encode again, and the encoding must decode to the
 *     same struct (the codec round-trips whatever it accepts).
 *   selector % 11 == 9: [type: 2] the rest is the peer's greeting, sent
 *     as one message of that type on a channel; vmsg_hello_exchange must
 *     return one of its documented results. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <vmsg/control.h>

#include "fuzz_peer.h"
#include "vmsg_pbwire.h"

static const struct vmsg_pbw_desc *const descs[10] = {
	&vmsg__pbw_hello_desc,	&vmsg__pbw_error_desc,
	&vmsg__pbw_offer_desc,	&vmsg__pbw_result_desc,
	&vmsg__pbw_open_desc,	&vmsg__pbw_opened_desc,
	&vmsg__pbw_serve_desc,	&vmsg__pbw_serve_result_desc,
	&vmsg__pbw_closed_desc,	&vmsg__pbw_spare_desc,
};

/* The largest message struct, aligned for any of them. */
union any_msg {
	struct vmsg_pbw_hello hello;
	struct vmsg_pbw_error error;
	struct vmsg_pbw_offer offer;
	struct vmsg_pbw_result result;
	struct vmsg_pbw_open open;
	struct vmsg_pbw_opened opened;
	struct vmsg_pbw_serve serve;
	struct vmsg_pbw_serve_result serve_result;
	struct vmsg_pbw_closed closed;
	struct vmsg_pbw_spare spare;
};

/* Do two decoded messages say the same, field by field? (Strings as C
 * strings: a field seen twice keeps the last value, and the bytes of a
 * longer earlier one may stay behind its NUL.) */
static bool same(const struct vmsg_pbw_desc *d, const void *a, const void *b)
{
	for (unsigned i = 0; i < d->n; i++) {
		const struct vmsg_pbw_field *f = &d->fields[i];
		const char *x = (const char *)a + f->off, *y = (const char *)b + f->off;
		switch (f->kind) {
		case VMSG_PBW_U64:
			if (memcmp(x, y, 8))
				return false;
			break;
		case VMSG_PBW_U32:
		case VMSG_PBW_S32:
			if (memcmp(x, y, 4))
				return false;
			break;
		default:
			/* A string is NUL-terminated inside its buffer. */
			CHECK(memchr(x, 0, f->cap) && memchr(y, 0, f->cap));
			if (strcmp(x, y))
				return false;
		}
	}
	return true;
}

static void codec(const struct vmsg_pbw_desc *d, const uint8_t *p, size_t n)
{
	union any_msg a, b;
	uint8_t enc[4096];
	int r, len;

	CHECK(d->size <= sizeof(a));
	r = vmsg__pbw_decode(d, &a, p, n);
	CHECK(r == 0 || r == -EBADMSG);
	if (r < 0)
		return;
	len = vmsg__pbw_encode(d, &a, enc, sizeof(enc));
	CHECK(len >= 0 && (size_t)len <= sizeof(enc));
	r = vmsg__pbw_decode(d, &b, enc, (size_t)len);
	CHECK(r == 0);
	CHECK(same(d, &a, &b));
}

static void hello(struct fuzz_in *in)
{
	struct fuzz_peer fp;
	struct vmsg_hello_info peer;
	vmsg_chan *c = NULL;
	uint16_t type = fuzz_u16(in);
	size_t n;
	const uint8_t *p = fuzz_bytes(in, 4096, &n);
	int r;

	r = fuzz_peer_connect(&fp, 12, 12, NULL, &c);
	CHECK(r == 0);
	/* The peer's greeting is already there when we look. */
	r = fuzz_peer_send(&fp, type, p, n);
	CHECK(r >= 0 || (type == VMSG_TYPE_PAD && r == -EINVAL));
	r = vmsg_hello_exchange(c, "fuzz", &peer, 50);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "hello exchange: %d\n", r);
	CHECK(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT ||
	      r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EMSGSIZE ||
	      r == -EPROTO);
	if (r == 0 || r == -EPROTONOSUPPORT) {
		/* The name kept is text: NUL-terminated, printable. */
		CHECK(memchr(peer.name, 0, sizeof(peer.name)) != NULL);
		for (const char *s = peer.name; *s; s++)
			CHECK(*s >= 0x20 && *s < 0x7f);
	}
	vmsg_chan_close(c);
	CHECK(fp.destroyed);
	fuzz_peer_fini(&fp);
}

/* Once per process: a message the codec must accept and round-trip. A
 * decoder that refused everything would leave codec() with nothing to
 * check, and the corpus replay would still pass (the edges of the round
 * trip are few: the coverage floor cannot see them go); this fails every
 * input instead. */
static void codec_canary(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	union any_msg a, b;
	uint8_t enc[256];
	memset(&a, 0, sizeof(a));
	a.open.req_id = 7;
	a.open.timeout_ms = 1500;
	strcpy(a.open.service, "canary");
	int len = vmsg__pbw_encode(&vmsg__pbw_open_desc, &a, enc, sizeof(enc));
	CHECK(len > 0);
	CHECK(vmsg__pbw_decode(&vmsg__pbw_open_desc, &b, enc, (size_t)len) == 0);
	CHECK(same(&vmsg__pbw_open_desc, &a, &b));
	CHECK(b.open.req_id == 7 && !strcmp(b.open.service, "canary"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	unsigned sel = fuzz_u8(&in) % 11;

	codec_canary();

	/* 9 stays the greeting (the corpus's first bytes), 10 the message
	 * added last. */
	if (sel < 9)
		codec(descs[sel], in.p, in.n);
	else if (sel == 10)
		codec(descs[9], in.p, in.n);
	else
		hello(&in);
	return 0;
}
