/* The freestanding core's errno values must be the Linux ones libc uses,
 * or a unikernel build and a Linux build of the same code would disagree. */
#include <errno.h>

#include <vmsg/chan.h>

#include "vmsg_test.h"

extern const int vmsg_test_fs_errnos[];

int main(void)
{
	const int libc[] = {
		ENOENT, EAGAIN, ENOMEM, EBUSY, EINVAL, EPIPE, EPROTO, EMSGSIZE,
		ENOTSUP, EADDRINUSE, ETIMEDOUT, ENAMETOOLONG, EPROTONOSUPPORT,
		ENOBUFS, EBADMSG, EACCES, ECONNREFUSED, EIO, ENOMSG, ESRCH, EEXIST, EUSERS, EHOSTDOWN, ESHUTDOWN,
		ENOTCONN, ECONNRESET,
	};
	for (size_t i = 0; i < sizeof(libc) / sizeof(libc[0]); i++) {
		ASSERT_EQ(vmsg_test_fs_errnos[i], libc[i]);
		/* Every code the library returns has its own text. */
		ASSERT_TRUE(strcmp(vmsg_strerror(-libc[i]), "unknown error") != 0);
		ASSERT_TRUE(strcmp(vmsg_strerror(libc[i]),
				   vmsg_strerror(-libc[i])) == 0);
	}
	ASSERT_TRUE(strcmp(vmsg_strerror(0), "success") == 0);
	ASSERT_TRUE(strcmp(vmsg_strerror(-4095), "unknown error") == 0);
	puts("errno values match libc's");
	return 0;
}
