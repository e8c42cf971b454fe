/* dropin_socket_proxy: Debian's unmodified vchan-socket-proxy
 * (xen-utils-4.17) running on the drop-in libxenvchan, on the simulated
 * Xen. Domain 0 runs it as vchan server in front of a UNIX echo socket,
 * domain 1 as vchan client listening on a UNIX socket; each side on the
 * library the round says:
 *   server drop-in / client Debian, server Debian / client drop-in, and
 *   both on the drop-in.
 * A 1 MiB source file is written into domain 1's socket and comes back
 * through both proxies and the echo; what comes back must have the
 * source's checksum (and bytes). Each proxy's memory map proves which
 * libxenvchan it ran on. */
#include "dropin_util.h"
#include "unix_echo.h"

#define PROXY "/usr/lib/xen-4.17/bin/vchan-socket-proxy"
#define VPATH "/local/domain/0/data/vchan/1/proxy"
#define TOTAL (1u << 20)

/* Write a random source file; returns its contents. */
static unsigned char *make_source(const char *path, uint64_t seed)
{
	unsigned char *b = malloc(TOTAL);
	ASSERT_TRUE(b != NULL);
	for (size_t i = 0; i < TOTAL; i += 8) {
		uint64_t v = vmsg_test_rand(&seed);
		memcpy(b + i, &v, 8);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, b, TOTAL), (ssize_t)TOTAL);
	close(fd);
	return b;
}

static void round_trip(enum lib srv_lib, enum lib cli_lib, int n)
{
	char echo_path[600], cli_path[600], src_path[600], vpath[128];
	snprintf(echo_path, sizeof(echo_path), "%s/echo%d.sock", sim_dir, n);
	snprintf(cli_path, sizeof(cli_path), "%s/client%d.sock", sim_dir, n);
	snprintf(src_path, sizeof(src_path), "%s/source%d.bin", sim_dir, n);
	snprintf(vpath, sizeof(vpath), "%s%d", VPATH, n);

	int lfd = vmsg_test_unix_listen(echo_path, SOCK_STREAM);
	pid_t echo = fork();
	ASSERT_TRUE(echo >= 0);
	if (echo == 0)
		echo_once(lfd);
	close(lfd);

	use_lib(srv_lib);
	pid_t srv = sim_spawn(0, (char *[]){ PROXY, "-m", "server", "1", vpath,
					     echo_path, NULL });
	use_lib(cli_lib);
	pid_t cli = sim_spawn(1, (char *[]){ PROXY, "-m", "client", "0", vpath,
					     cli_path, NULL });
	use_lib(LIB_DEBIAN);
	int fd = vmsg_test_unix_connect(cli_path, SOCK_STREAM, SIM_WAIT_MS);
	ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);

	unsigned char *out = make_source(src_path, 42 + (uint64_t)n);
	unsigned char *in = malloc(TOTAL);
	ASSERT_TRUE(in != NULL);
	/* The source as read back from its file: that is what is checked. */
	int sfd = open(src_path, O_RDONLY);
	ASSERT_TRUE(sfd >= 0);
	ASSERT_EQ(read(sfd, out, TOTAL), (ssize_t)TOTAL);
	close(sfd);
	size_t sent = 0, got = 0;
	while (got < TOTAL) {
		struct pollfd pf = { .fd = fd,
				     .events = POLLIN | (sent < TOTAL ? POLLOUT : 0) };
		int r = poll(&pf, 1, SIM_WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			VMSG_TEST_FAIL("round %d: stalled at %zu sent, %zu back", n,
				       sent, got);
		ASSERT_EQ(r, 1);
		if ((pf.revents & POLLOUT) && sent < TOTAL) {
			size_t k = TOTAL - sent < 16384 ? TOTAL - sent : 16384;
			ssize_t w = write(fd, out + sent, k);
			if (w > 0)
				sent += (size_t)w;
		}
		if (pf.revents & (POLLIN | POLLHUP)) {
			ssize_t k = read(fd, in + got, TOTAL - got);
			if (k < 0 && errno == EAGAIN)
				continue;
			ASSERT_GT(k, 0);
			got += (size_t)k;
		}
	}
	uint64_t hs = fnv64(out, TOTAL), hr = fnv64(in, TOTAL);
	printf("server %-7s client %-7s: %u bytes, source fnv64 %016llx, "
	       "returned %016llx\n", lib_name[srv_lib], lib_name[cli_lib], TOTAL,
	       (unsigned long long)hs, (unsigned long long)hr);
	ASSERT_EQ(hs, hr);
	ASSERT_MEM_EQ(in, out, TOTAL);
	check_lib(srv, srv_lib);
	check_lib(cli, cli_lib);
	close(fd);

	/* The proxies serve until stopped; `xensim run` forwards SIGTERM. */
	kill(cli, SIGTERM);
	kill(srv, SIGTERM);
	sim_wait(cli);
	sim_wait(srv);
	int st;
	ASSERT_EQ(waitpid(echo, &st, 0), echo);
	free(out);
	free(in);
}

int main(void)
{
	if (access(PROXY, X_OK) != 0) {
		fprintf(stderr, "%s missing (apt-get install xen-utils-4.17): skipping\n",
			PROXY);
		return VMSG_TEST_SKIP;
	}
	alarm(280);
	sim_setup(1);
	round_trip(LIB_DROPIN, LIB_DEBIAN, 1);
	round_trip(LIB_DEBIAN, LIB_DROPIN, 2);
	round_trip(LIB_DROPIN, LIB_DROPIN, 3);
	puts("dropin_socket_proxy: ok");
	return 0;
}
