/* sim_socket_proxy: Debian's unmodified vchan-socket-proxy (xen-utils-4.17)
 * on the simulated Xen.  Domain 0 runs it as a vchan server that connects
 * to a UNIX echo socket; domain 1 runs it as a vchan client listening on a
 * UNIX socket (it also asks libxenctrl whether domain 0 lives).  1 MiB
 * written to domain 1's socket comes back intact through both proxies. */
#include "sim_harness.h"
#include "unix_echo.h"

#define PROXY "/usr/lib/xen-4.17/bin/vchan-socket-proxy"
#define VPATH "/local/domain/0/data/vchan/1/proxy"
#define TOTAL (1u << 20)

int main(void)
{
	char echo_path[600], cli_path[600];

	if (access(PROXY, X_OK) != 0) {
		fprintf(stderr, "%s missing (apt-get install xen-utils-4.17): skipping\n",
			PROXY);
		return VMSG_TEST_SKIP;
	}
	char xsd[4200];
	snprintf(xsd, sizeof(xsd), "%s", XENSIM_BIN);
	*strrchr(xsd, '/') = 0;
	strcat(xsd, "/../xenstored/vmsg-xenstored");
	if (access(xsd, X_OK) != 0) {
		fprintf(stderr, "vmsg-xenstored not built: skipping\n");
		return VMSG_TEST_SKIP;
	}
	alarm(240);
	sim_setup(1);
	snprintf(echo_path, sizeof(echo_path), "%s/echo.sock", sim_dir);
	snprintf(cli_path, sizeof(cli_path), "%s/client.sock", sim_dir);

	int lfd = vmsg_test_unix_listen(echo_path, SOCK_STREAM);
	pid_t echo = fork();
	ASSERT_TRUE(echo >= 0);
	if (echo == 0)
		echo_once(lfd);
	close(lfd);

	pid_t srv = sim_spawn(0, (char *[]){ PROXY, "-m", "server", "1", VPATH,
					     echo_path, NULL });
	pid_t cli = sim_spawn(1, (char *[]){ PROXY, "-m", "client", "0", VPATH,
					     cli_path, NULL });
	int fd = vmsg_test_unix_connect(cli_path, SOCK_STREAM, SIM_WAIT_MS);
	ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);

	static unsigned char out[TOTAL], in[TOTAL];
	uint64_t seed = 42;
	for (size_t i = 0; i < TOTAL; i += 8) {
		uint64_t v = vmsg_test_rand(&seed);
		memcpy(out + i, &v, 8);
	}
	size_t sent = 0, got = 0;
	while (got < TOTAL) {
		struct pollfd pf = { .fd = fd,
				     .events = POLLIN | (sent < TOTAL ? POLLOUT : 0) };
		int r = poll(&pf, 1, SIM_WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		ASSERT_EQ(r, 1);
		if ((pf.revents & POLLOUT) && sent < TOTAL) {
			size_t n = TOTAL - sent < 16384 ? TOTAL - sent : 16384;
			ssize_t w = write(fd, out + sent, n);
			if (w > 0)
				sent += (size_t)w;
		}
		if (pf.revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(fd, in + got, TOTAL - got);
			if (n < 0 && errno == EAGAIN)
				continue;
			ASSERT_GT(n, 0);
			got += (size_t)n;
		}
	}
	ASSERT_MEM_EQ(in, out, TOTAL);
	close(fd);

	/* The proxies serve until stopped; `xensim run` forwards SIGTERM. */
	kill(cli, SIGTERM);
	kill(srv, SIGTERM);
	sim_wait(cli);
	sim_wait(srv);
	int st;
	ASSERT_EQ(waitpid(echo, &st, 0), echo);
	puts("sim_socket_proxy: ok");
	return 0;
}
