/* Private: the one list of errno values vmsg returns, with their texts.
 *
 * Every error code the library, the unikernel platform and the vmsgd
 * client can return is a row here: its name, its Linux value (the Linux
 * ABI's, which is also what Xen's hypercalls and xenstored use) and the
 * text vmsg_strerror() gives it. Nothing else in the tree spells out an
 * errno value.
 *
 * Hosted builds take the names from <errno.h> and check here, at compile
 * time, that libc agrees with the list. Freestanding builds (lib/ring,
 * lib/frame, lib/chan, lib/service, the unikernel) have no libc headers:
 * the names become enum constants with the list's values, so a unikernel
 * and a Linux build of the same code return the same numbers.
 *
 * Adding an error: one row, in any order (tests/errno checks the values
 * against libc and that every row has its own text).
 */
#ifndef VMSG_ERRNO_H
#define VMSG_ERRNO_H

/* X(name, Linux value, text in vmsg's terms) */
#define VMSG_ERRNO_LIST(X)                                                     \
	X(EPERM, 1, "operation not permitted")                                 \
	X(ENOENT, 2, "no such channel (nobody serves at that address)")        \
	X(ESRCH, 3, "no such domain")                                          \
	X(EINTR, 4, "interrupted by a signal")                                 \
	X(EIO, 5, "input/output error")                                        \
	X(E2BIG, 7, "argument list too long")                                  \
	X(EAGAIN, 11, "would block (no data or no space now)")                 \
	X(ENOMEM, 12, "out of memory")                                         \
	X(EACCES, 13, "permission denied")                                     \
	X(EBUSY, 16, "busy: the server already has its client, or an "         \
		     "unfinished send or reservation is pending")              \
	X(EEXIST, 17, "already exists (a service of that name is offered)")   \
	X(EISDIR, 21, "is a directory")                                        \
	X(EINVAL, 22, "invalid argument")                                      \
	X(ENFILE, 23, "too many open files in the system")                     \
	X(EMFILE, 24, "too many open files")                                   \
	X(ENOSPC, 28, "no space left (a table of grants, ports or pages is "   \
		      "full, or a xenstore quota of the domain is reached)")   \
	X(EROFS, 30, "read-only")                                              \
	X(EPIPE, 32, "the peer has closed the channel")                        \
	X(ENAMETOOLONG, 36, "address too long")                                \
	X(ENOSYS, 38, "not implemented")                                       \
	X(ENOTEMPTY, 39, "directory not empty")                                \
	X(ENOMSG, 42, "no decoder for that message type")                      \
	X(EPROTO, 71, "the peer broke the protocol; the channel is unusable")  \
	X(EBADMSG, 74, "malformed message")                                    \
	X(EUSERS, 87, "too many channels (a policy limit)")                    \
	X(EMSGSIZE, 90, "message too large")                                   \
	X(EPROTONOSUPPORT, 93, "the peer speaks an incompatible protocol "     \
			       "version")                                      \
	X(ENOTSUP, 95, "not supported by this platform")                       \
	X(EADDRINUSE, 98, "a live server already uses that address")           \
	X(ECONNRESET, 104, "vmsgd restarted during the call; call again")      \
	X(ENOBUFS, 105, "bounded buffer exhausted")                            \
	X(EISCONN, 106, "already connected")                                   \
	X(ENOTCONN, 107, "vmsgd is not reachable (not back yet after a "       \
			 "restart)")                                           \
	X(ESHUTDOWN, 108, "the daemon is shutting down")                       \
	X(ETIMEDOUT, 110, "timed out")                                         \
	X(ECONNREFUSED, 111, "connection refused")                             \
	X(EHOSTDOWN, 112, "the service's domain is gone")

#if __STDC_HOSTED__
#include <errno.h>
#define VMSG__ERRNO_CHECK(name, value, text)                                   \
	_Static_assert(name == value, #name " is not Linux's value");
VMSG_ERRNO_LIST(VMSG__ERRNO_CHECK)
#undef VMSG__ERRNO_CHECK
#else
#define VMSG__ERRNO_ENUM(name, value, text) name = value,
enum vmsg__errno { VMSG_ERRNO_LIST(VMSG__ERRNO_ENUM) };
#undef VMSG__ERRNO_ENUM
/* Linux spells the block protocol's "not supported" both ways. */
#define EOPNOTSUPP ENOTSUP
#endif

#endif
