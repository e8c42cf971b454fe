/* One message per error vmsg returns. */
#include <vmsg/chan.h>

#include "vmsg_errno.h"

/* Every error code the library returns, with its text in vmsg's terms. */
#define VMSG_ERRORS(X)                                                         \
	X(EINVAL, "invalid argument")                                          \
	X(ENOMEM, "out of memory")                                             \
	X(EAGAIN, "would block (no data or no space now)")                     \
	X(ETIMEDOUT, "timed out")                                              \
	X(EPIPE, "the peer has closed the channel")                            \
	X(EPROTO, "the peer broke the protocol; the channel is unusable")      \
	X(EMSGSIZE, "message too large")                                       \
	X(EBUSY, "busy: the server already has its client, or an unfinished "  \
		 "send or reservation is pending")                             \
	X(ENOENT, "no such channel (nobody serves at that address)")           \
	X(EADDRINUSE, "a live server already uses that address")               \
	X(ENAMETOOLONG, "address too long")                                    \
	X(ENOTSUP, "not supported by this platform")                           \
	X(EPROTONOSUPPORT, "the peer speaks an incompatible protocol version") \
	X(ENOBUFS, "bounded buffer exhausted")                                 \
	X(EBADMSG, "malformed message")                                        \
	X(EACCES, "permission denied")                                         \
	X(ECONNREFUSED, "connection refused")                                  \
	X(ENOMSG, "no decoder for that message type")                          \
	X(ESRCH, "no such domain")                                             \
	X(EEXIST, "already exists (a service of that name is offered)")       \
	X(EUSERS, "too many channels (a policy limit)")                        \
	X(EHOSTDOWN, "the service's domain is gone")                          \
	X(ESHUTDOWN, "the daemon is shutting down")                            \
	X(ENOTCONN, "vmsgd is not reachable (not back yet after a restart)")   \
	X(ECONNRESET, "vmsgd restarted during the call; call again")           \
	X(EIO, "input/output error")

const char *vmsg_strerror(int err)
{
	/* Negate as unsigned: -INT_MIN does not fit an int. */
	unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;
	switch (e) {
	case 0:
		return "success";
#define VMSG_ERROR_CASE(code, text)                                            \
	case code:                                                             \
		return text;
		VMSG_ERRORS(VMSG_ERROR_CASE)
#undef VMSG_ERROR_CASE
	default:
		return "unknown error";
	}
}
