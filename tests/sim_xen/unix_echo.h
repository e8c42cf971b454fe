/* The echo service behind domain 0's vchan-socket-proxy in the proxy
 * tests (sim_socket_proxy, dropin_socket_proxy); their sockets are
 * unix_sock.h's. */
#ifndef VMSG_TEST_UNIX_ECHO_H
#define VMSG_TEST_UNIX_ECHO_H

#include <sys/socket.h>

#include "sim_harness.h"
#include "unix_sock.h"

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
