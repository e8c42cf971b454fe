/* The UNIX-socket ends of the vchan-socket-proxy tests (sim_socket_proxy,
 * dropin_socket_proxy): a listener, a connect that waits for the proxy to
 * listen, and the echo service behind domain 0's proxy. */
#ifndef VMSG_TEST_UNIX_ECHO_H
#define VMSG_TEST_UNIX_ECHO_H

#include "sim_harness.h"

#include <sys/socket.h>
#include <sys/un.h>

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int len = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ASSERT_TRUE(len > 0 && (size_t)len < sizeof(sa.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(listen(fd, 4), 0);
	return fd;
}

static int unix_connect_retry(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int len = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ASSERT_TRUE(len > 0 && (size_t)len < sizeof(sa.sun_path));
	for (int i = 0; i < SIM_WAIT_MS / 20; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ASSERT_TRUE(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(20000);
	}
	VMSG_TEST_FAIL("cannot connect to %s", path);
	return -1;
}

/* The echo service behind domain 0's proxy: one connection, echo to EOF. */
static void echo_once(int lfd)
{
	int c = accept(lfd, NULL, NULL);
	char buf[65536];
	ssize_t n;
	if (c < 0)
		_exit(1);
	while ((n = read(c, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, (size_t)(n - off));
			if (w <= 0)
				_exit(1);
			off += w;
		}
	_exit(0);
}

#endif
