/* Private: errno values for code that must build freestanding.
 *
 * Hosted builds take them from <errno.h>. Freestanding builds (the unikernel)
 * have no libc headers, so the Linux values are spelled out here; they are
 * part of the Linux ABI and are what a hosted build of the same code returns.
 */
#ifndef VMSG_ERRNO_H
#define VMSG_ERRNO_H

#if __STDC_HOSTED__
#include <errno.h>
#else
#define ENOENT 2
#define EAGAIN 11
#define ENOMEM 12
#define EBUSY 16
#define EINVAL 22
#define EPIPE 32
#define EPROTO 71
#define EMSGSIZE 90
#define ENOTSUP 95
#define EADDRINUSE 98
#define ETIMEDOUT 110
#define ENAMETOOLONG 36
#define EPROTONOSUPPORT 93
#define ENOBUFS 105
#define EBADMSG 74
#define EACCES 13
#define ECONNREFUSED 111
#define EIO 5
#define ENOMSG 42
#define ESRCH 3
#define EEXIST 17
#define EUSERS 87
#define EHOSTDOWN 112
#define ESHUTDOWN 108
#define ENOTCONN 107
#define ECONNRESET 104
#define ENOSPC 28
#define EROFS 30
#define EOPNOTSUPP 95
#endif

#endif
