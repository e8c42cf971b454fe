/* vmsg/control.h - the control protocol without protobuf-c: its constants
 * and the Hello exchange.
 *
 * The frame types of the built-in control messages, the protocol version
 * and the feature bits carried in a Hello (proto/vmsg_control.proto,
 * docs/protocol.md), and the Hello exchange every control channel starts
 * with. Nothing here needs protobuf-c (the exchange runs over the library's
 * own bounded wire codec), so the unikernel has all of it too; vmsg/proto.h
 * includes this header. The service messages' types are in vmsg/service.h.
 *
 * Error contract: >= 0 success, negative errno on failure; errno is never
 * used.
 */
#ifndef VMSG_CONTROL_H
#define VMSG_CONTROL_H

#include <stdint.h>

#include <vmsg/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Frame types of the control messages (within VMSG_TYPE_CONTROL_MIN..MAX).
 * The same numbers are enum ControlType in proto/vmsg_control.proto. */
#define VMSG_TYPE_HELLO 0x0001u /* Hello */
#define VMSG_TYPE_ERROR 0x0002u /* Error */

/* Protocol version carried in Hello.version: major << 16 | minor. Peers
 * with different majors are incompatible; minors only add. */
#define VMSG_PROTO_VERSION_MAJOR 1u
#define VMSG_PROTO_VERSION_MINOR 0u
#define VMSG_PROTO_VERSION \
	((VMSG_PROTO_VERSION_MAJOR << 16) | VMSG_PROTO_VERSION_MINOR)
#define VMSG_PROTO_VERSION_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define VMSG_PROTO_VERSION_MINOR_OF(v) ((uint32_t)(v) & 0xffffu)

/* Feature bits carried in Hello.features. A feature is in use only when
 * both ends set it; unknown bits are ignored. */
#define VMSG_FEATURE_FRAGMENTS (1ull << 0) /* reassembles fragmented
					      messages (VMSG_FRAME_MORE) */
/* On a control channel to vmsgd only (docs/protocol.md, "Setup by
 * message"): the sender sets up brokered channels with grant references
 * and ports carried in the service messages (Serve.by_message,
 * ServeResult/Opened ring_ref and event_port) instead of xenstore. Not in
 * VMSG_FEATURES_SUPPORTED: it is a property of a vmsgd client, not of
 * every channel. */
#define VMSG_FEATURE_SVC_SETUP_MSG (1ull << 1)
/* On a control channel to vmsgd only, with VMSG_FEATURE_SVC_SETUP_MSG
 * (docs/protocol.md, "Admitted clients"): the sender's consumer side
 * takes a channel whose provider admitted it (the control page's
 * cli_live at 3, not 2), so vmsgd may tell the provider to admit it
 * (Serve.admit). A library without it would see 3 as "taken": -EBUSY. */
#define VMSG_FEATURE_SVC_ADMIT (1ull << 2)
/* On a control channel to vmsgd only, with VMSG_FEATURE_SVC_SETUP_MSG
 * (docs/protocol.md, "Spare channels"): the sender's consumer side takes
 * vmsgd's Spare message (VMSG_TYPE_SVC_SPARE), word of a spare served for
 * its next Open of a service, and may map it while that Open is answered.
 * vmsgd sends Spare only where it is set. */
#define VMSG_FEATURE_SVC_SPARE (1ull << 3)
/* Later bits are added here, one per capability a peer may lack; never
 * reuse a retired bit. */
/* Everything this version of the library implements. */
#define VMSG_FEATURES_SUPPORTED VMSG_FEATURE_FRAGMENTS

/* Bytes of a Hello's name kept by its receiver, of an Error's text kept
 * in a failed Hello exchange, and the largest Hello or Error accepted
 * as the first message of a channel. */
#define VMSG_HELLO_NAME_MAX 63
#define VMSG_HELLO_TEXT_MAX 127
#define VMSG_HELLO_WIRE_MAX 1024

/* ---- Hello exchange ---------------------------------------------------- */

/* One end's Hello, as plain C values (no protobuf types). Strings are
 * NUL-terminated; text from the peer is truncated to fit and every byte
 * outside printable ASCII is replaced by '?', so it is safe to log. */
struct vmsg_hello_info {
	uint32_t version;  /* major << 16 | minor */
	uint64_t features; /* VMSG_FEATURE_* bits */
	uint64_t max_msg;  /* largest message accepted; 0: not said */
	char name[VMSG_HELLO_NAME_MAX + 1];
	/* When the exchange failed over the protocol: the peer's error code
	 * and text (-ECONNREFUSED), or ours as sent to the peer
	 * (-EPROTONOSUPPORT). 0 and "" otherwise. */
	int error_code;
	char error[VMSG_HELLO_TEXT_MAX + 1];
};

/* Fill *ours with this library's Hello: VMSG_PROTO_VERSION,
 * VMSG_FEATURES_SUPPORTED, max_msg as given (the channel's opts.max_msg)
 * and `name` (may be NULL; truncated to VMSG_HELLO_NAME_MAX bytes). */
void vmsg_hello_info_init(struct vmsg_hello_info *ours, const char *name,
			  uint64_t max_msg);

/* Exchange Hello messages on an open channel: send ours, exactly as given
 * in *ours (its error fields are ignored), then receive the peer's into
 * *peer. Both ends call this; neither waits for the other before sending,
 * so neither can deadlock on the other. Call it before any other message on
 * the channel. Blocks up to timeout_ms in all (-1: forever). Uses no heap
 * memory; freestanding (the unikernel has it too). *ours stays the caller's.
 *
 * Returns 0 with *peer filled in. Errors:
 *   -EPROTONOSUPPORT  the peer's major version differs from ours (or it sent
 *                     none); an Error message saying so is sent to the peer
 *                     first (best effort: a peer already gone does not change
 *                     the result); *peer holds its Hello, and error_code /
 *                     error hold what we told it
 *   -ECONNREFUSED     the peer sent an Error instead of a Hello (its code and
 *                     text are in peer->error_code / peer->error); a peer
 *                     Error with code -EPROTONOSUPPORT is returned as that
 *   -EBADMSG          the peer's first message is not a Hello or an Error,
 *                     does not parse, or is over VMSG_HELLO_WIRE_MAX bytes
 *                     (consumed; the channel stays usable)
 *   -EINVAL           NULL c, ours or peer
 *   and the channel's errors (-EPIPE, -EPROTO, -ETIMEDOUT, -EMSGSIZE...). */
int vmsg_hello_exchange_ex(vmsg_chan *c, const struct vmsg_hello_info *ours,
			   struct vmsg_hello_info *peer, int timeout_ms);

/* vmsg_hello_info_init(&ours, name, vmsg_chan_max_msg(c)) followed by
 * vmsg_hello_exchange_ex(): advertises the channel's own limit. */
int vmsg_hello_exchange(vmsg_chan *c, const char *name,
			struct vmsg_hello_info *peer, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
