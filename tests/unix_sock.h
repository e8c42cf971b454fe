/* UNIX sockets of the tests' own servers and clients: a listener at a
 * path (a dead server's file there is replaced) and a connect that waits
 * for one to listen (a server the test has just started may not yet). */
#ifndef VMSG_TEST_UNIX_SOCK_H
#define VMSG_TEST_UNIX_SOCK_H

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmsg_test.h"

static inline struct sockaddr_un vmsg_test_unix_addr(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ASSERT_TRUE(strlen(path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return sa;
}

/* type: SOCK_STREAM or SOCK_SEQPACKET, with SOCK_NONBLOCK or
 * SOCK_CLOEXEC as wanted. */
static inline int vmsg_test_unix_listen(const char *path, int type)
{
	struct sockaddr_un sa = vmsg_test_unix_addr(path);
	int fd = socket(AF_UNIX, type, 0);
	ASSERT_TRUE(fd >= 0);
	unlink(path);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ASSERT_EQ(listen(fd, 64), 0);
	return fd;
}

static inline int vmsg_test_unix_connect(const char *path, int type,
					 int wait_ms)
{
	struct sockaddr_un sa = vmsg_test_unix_addr(path);
	for (int i = 0; i <= wait_ms / 20; i++) {
		int fd = socket(AF_UNIX, type, 0);
		ASSERT_TRUE(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return fd;
		close(fd);
		usleep(20000);
	}
	VMSG_TEST_FAIL("cannot connect to %s", path);
	return -1;
}

#endif
