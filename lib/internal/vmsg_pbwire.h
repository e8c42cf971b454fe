/* Private: the bounded protobuf wire codec of the control messages
 * (proto/vmsg_control.proto Hello and Error, and every message of
 * proto/vmsg_service.proto), freestanding: the vmsgd client (lib/service)
 * and the Hello exchange use it in both worlds, the unikernel and Linux.
 * vmsgd itself and vmsg/proto.h's generic helpers use protobuf-c.
 *
 * Each message is a plain C struct with fixed-size string buffers and a
 * table of its fields (number, kind, offset). Encoding writes the fields in
 * number order and leaves out zero values and empty strings, as protobuf-c
 * does for proto3, so both produce the same bytes (tests/wire/pbwire_test.c
 * checks that, and every decode, against protobuf-c's generated code).
 *
 * Decoding is strict and bounded: every varint at most 10 bytes and inside
 * the input, every length inside the input, field number 0 and the group
 * wire types refused, a known field with the wrong wire type refused,
 * unknown fields skipped, no recursion. Names and paths (VMSG_PBW_STR)
 * longer than their buffer or holding a byte outside printable ASCII are
 * refused; free text (VMSG_PBW_TEXT) ends at a NUL (as protobuf-c's C
 * string does), is cut to its buffer and bytes outside printable ASCII
 * become '?' (vmsg_text.h). Integer fields keep the low 32 bits of a longer
 * varint, as protobuf-c does. Fields absent from the input are zero / "".
 */
#ifndef VMSG_PBWIRE_H
#define VMSG_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>

#define VMSG_PBW_NAME_CAP 65  /* a service name: 64 bytes + NUL */
#define VMSG_PBW_PATH_CAP 256 /* a xenstore path (VMSG_XEN_PATH_MAX) */
#define VMSG_PBW_TEXT_CAP 160 /* free text kept from a peer */
#define VMSG_PBW_HELLO_NAME_CAP 64 /* VMSG_HELLO_NAME_MAX + 1 */

enum vmsg_pbw_kind {
	VMSG_PBW_U32,  /* uint32, varint */
	VMSG_PBW_S32,  /* sint32, zigzag varint */
	VMSG_PBW_U64,  /* uint64, varint */
	VMSG_PBW_STR,  /* string, exact: too long or a NUL is an error */
	VMSG_PBW_TEXT, /* string, free text: truncated and sanitised */
};

struct vmsg_pbw_field {
	uint8_t num;
	uint8_t kind;  /* enum vmsg_pbw_kind */
	uint16_t off;  /* offset of the member in the message struct */
	uint16_t cap;  /* strings: size of the char array (incl. NUL) */
};

struct vmsg_pbw_desc {
	const struct vmsg_pbw_field *fields; /* ascending field numbers */
	unsigned n;
	size_t size; /* sizeof the message struct */
};

/* vmsg.control */
struct vmsg_pbw_hello {
	uint32_t version;
	uint64_t features;
	uint64_t max_msg;
	char name[VMSG_PBW_HELLO_NAME_CAP];
};
struct vmsg_pbw_error {
	int32_t code;
	char text[VMSG_PBW_TEXT_CAP];
	uint32_t ref_type;
};
/* vmsg.service */
struct vmsg_pbw_offer {
	uint32_t req_id;
	char service[VMSG_PBW_NAME_CAP];
};
struct vmsg_pbw_result {
	uint32_t req_id;
	int32_t code;
	char text[VMSG_PBW_TEXT_CAP];
};
struct vmsg_pbw_open {
	uint32_t req_id;
	char service[VMSG_PBW_NAME_CAP];
	uint32_t timeout_ms;
};
struct vmsg_pbw_opened {
	uint32_t req_id;
	uint32_t provider_domid;
	char path[VMSG_PBW_PATH_CAP];
	uint64_t max_msg;
	uint32_t channel_id;
	uint32_t provider_uid; /* host mode only */
	uint32_t ring_ref;     /* setup by message: both non-zero */
	uint32_t event_port;
};
struct vmsg_pbw_serve {
	uint32_t serve_id;
	char service[VMSG_PBW_NAME_CAP];
	uint32_t consumer_domid;
	char path[VMSG_PBW_PATH_CAP];
	uint32_t rx_ring_size;
	uint32_t tx_ring_size;
	uint64_t max_msg;
	uint32_t connect_timeout_ms;
	uint32_t consumer_uid; /* host mode only */
	uint32_t by_message;   /* 1: serve without xenstore */
	uint32_t relayed_for;  /* relayed: the real consumer (else 0) */
	uint32_t after;        /* a spare: serve once channel `after` has
				  its consumer (else 0: at once) */
	uint32_t admit;        /* 1: admit the consumer once served */
};
struct vmsg_pbw_serve_result {
	uint32_t serve_id;
	int32_t code;
	char text[VMSG_PBW_TEXT_CAP];
	uint32_t ring_ref;   /* by_message: the control page's grant */
	uint32_t event_port; /* by_message: the unbound port */
};
struct vmsg_pbw_closed {
	uint32_t channel_id;
};
struct vmsg_pbw_spare {
	uint32_t channel_id;
	char service[VMSG_PBW_NAME_CAP];
	uint32_t provider_domid;
	char path[VMSG_PBW_PATH_CAP];
	uint64_t max_msg;
	uint32_t ring_ref;
	uint32_t event_port;
};

extern const struct vmsg_pbw_desc vmsg__pbw_hello_desc, vmsg__pbw_error_desc,
	vmsg__pbw_offer_desc, vmsg__pbw_result_desc, vmsg__pbw_open_desc,
	vmsg__pbw_opened_desc, vmsg__pbw_serve_desc,
	vmsg__pbw_serve_result_desc, vmsg__pbw_closed_desc,
	vmsg__pbw_spare_desc;

/* Encode *msg into buf[0..cap); returns the length, or -EMSGSIZE when it
 * does not fit, -EINVAL for a string member without its NUL. */
int vmsg__pbw_encode(const struct vmsg_pbw_desc *d, const void *msg,
		     uint8_t *buf, size_t cap);

/* Decode buf[0..len) into *msg (cleared first). 0 or -EBADMSG. */
int vmsg__pbw_decode(const struct vmsg_pbw_desc *d, void *msg,
		     const uint8_t *buf, size_t len);

/* ---- on a channel (lib/wire/wire_chan.c) */

/* Largest control message either side sends or takes, bytes. */
#define VMSG_PBW_WIRE_MAX 1024u

/* Encode *msg and send it as one message of frame type `type`, waiting up
 * to timeout_ms for ring space. Returns the payload length; errors of
 * vmsg__pbw_encode() and vmsg_chan_send(). */
int vmsg__pbw_send(vmsg_chan *c, uint16_t type, const struct vmsg_pbw_desc *d,
		   const void *msg, int timeout_ms);

/* Take the next message, waiting up to timeout_ms: its payload is copied
 * out of the ring into buf[0..cap) (the peer may rewrite the ring while
 * we parse, so decoding reads only the copy) and the message released.
 * Returns the payload length with *type set. A message longer than cap
 * is released unread: -ENOBUFS with *type set (the channel stays
 * usable). The channel's errors. */
int vmsg__pbw_take(vmsg_chan *c, uint16_t *type, uint8_t *buf, size_t cap,
		   int timeout_ms);

#endif
