/* Private: a minimal protobuf wire codec for the unikernel's control
 * messages (proto/vmsg_control.proto Hello and Error, and every message of
 * proto/vmsg_service.proto), freestanding: protobuf-c needs libc.
 *
 * Each message is a plain C struct with fixed-size string buffers and a
 * table of its fields (number, kind, offset). Encoding writes the fields in
 * number order and leaves out zero values and empty strings, as protobuf-c
 * does for proto3, so both produce the same bytes (tests/guest/pbwire_test.c
 * checks that, and every decode, against protobuf-c's generated code).
 *
 * Decoding is strict and bounded: every varint at most 10 bytes and inside
 * the input, every length inside the input, field number 0 and the group
 * wire types refused, a known field with the wrong wire type refused,
 * unknown fields skipped, no recursion. Names and paths (PBW_STR) longer
 * than their buffer or holding a NUL are refused; free text (PBW_TEXT) is
 * cut to its buffer and bytes outside printable ASCII become '?'. Integer
 * fields keep the low 32 bits of a longer varint, as protobuf-c does.
 * Fields absent from the input are zero / "". Returns 0 or -EBADMSG. */
#ifndef VMSG_GUEST_PBWIRE_H
#define VMSG_GUEST_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

/* vmsg/proto.h's values (it includes protobuf-c, so it cannot be used
 * here; tests/guest/pbwire_test.c checks they agree). */
#define PBW_TYPE_HELLO 0x0001u
#define PBW_TYPE_ERROR 0x0002u
#define PBW_PROTO_VERSION (1u << 16) /* 1.0 */
#define PBW_FEATURES 1u              /* VMSG_FEATURE_FRAGMENTS */

#define PBW_NAME_CAP 65  /* a service name: 64 bytes + NUL */
#define PBW_PATH_CAP 256 /* a xenstore path (VMSG_XEN_PATH_MAX) */
#define PBW_TEXT_CAP 160 /* free text kept from a peer */
#define PBW_HELLO_NAME_CAP 64

enum pbw_kind {
	PBW_U32,  /* uint32, varint */
	PBW_S32,  /* sint32, zigzag varint */
	PBW_U64,  /* uint64, varint */
	PBW_STR,  /* string, exact: too long or a NUL is an error */
	PBW_TEXT, /* string, free text: truncated and sanitised */
};

struct pbw_field {
	uint8_t num;
	uint8_t kind;  /* enum pbw_kind */
	uint16_t off;  /* offset of the member in the message struct */
	uint16_t cap;  /* strings: size of the char array (incl. NUL) */
};

struct pbw_desc {
	const struct pbw_field *fields; /* ascending field numbers */
	unsigned n;
	size_t size; /* sizeof the message struct */
};

/* vmsg.control */
struct pbw_hello {
	uint32_t version;
	uint64_t features;
	uint64_t max_msg;
	char name[PBW_HELLO_NAME_CAP];
};
struct pbw_error {
	int32_t code;
	char text[PBW_TEXT_CAP];
	uint32_t ref_type;
};
/* vmsg.service */
struct pbw_offer {
	uint32_t req_id;
	char service[PBW_NAME_CAP];
};
struct pbw_result {
	uint32_t req_id;
	int32_t code;
	char text[PBW_TEXT_CAP];
};
struct pbw_open {
	uint32_t req_id;
	char service[PBW_NAME_CAP];
	uint32_t timeout_ms;
};
struct pbw_opened {
	uint32_t req_id;
	uint32_t provider_domid;
	char path[PBW_PATH_CAP];
	uint64_t max_msg;
	uint32_t channel_id;
};
struct pbw_serve {
	uint32_t serve_id;
	char service[PBW_NAME_CAP];
	uint32_t consumer_domid;
	char path[PBW_PATH_CAP];
	uint32_t rx_ring_size;
	uint32_t tx_ring_size;
	uint64_t max_msg;
	uint32_t connect_timeout_ms; /* 0: not said */
};
struct pbw_serve_result {
	uint32_t serve_id;
	int32_t code;
	char text[PBW_TEXT_CAP];
};
struct pbw_closed {
	uint32_t channel_id;
};

extern const struct pbw_desc pbw_hello_desc, pbw_error_desc, pbw_offer_desc,
	pbw_result_desc, pbw_open_desc, pbw_opened_desc, pbw_serve_desc,
	pbw_serve_result_desc, pbw_closed_desc;

/* Encode *msg into buf[0..cap); returns the length, or -EMSGSIZE when it
 * does not fit, -EINVAL for a string member without its NUL. */
int pbw_encode(const struct pbw_desc *d, const void *msg, uint8_t *buf,
	       size_t cap);

/* Decode buf[0..len) into *msg (cleared first). 0 or -EBADMSG. */
int pbw_decode(const struct pbw_desc *d, void *msg, const uint8_t *buf,
	       size_t len);

#endif
