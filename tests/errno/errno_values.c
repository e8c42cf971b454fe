/* Compiled with -ffreestanding: the errno values the freestanding core
 * returns (from vmsg_errno.h's own table, not libc's). */
#include "vmsg_errno.h"

#if __STDC_HOSTED__
#error "this file must be compiled freestanding"
#endif

const int vmsg_test_fs_errnos[] = {
	ENOENT, EAGAIN, ENOMEM, EBUSY, EINVAL, EPIPE, EPROTO, EMSGSIZE,
	ENOTSUP, EADDRINUSE, ETIMEDOUT, ENAMETOOLONG, EPROTONOSUPPORT,
	ENOBUFS, EBADMSG, EACCES, ECONNREFUSED, EIO, ENOMSG, ESRCH, EEXIST, EUSERS, EHOSTDOWN, ESHUTDOWN,
	ENOTCONN, ECONNRESET,
};
