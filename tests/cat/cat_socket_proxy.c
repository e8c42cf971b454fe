/* cat_socket_proxy: Debian's unmodified vchan-socket-proxy (xen-utils-4.17)
 * and vmsg-cat in raw mode, on the simulated Xen, both ways round:
 *  1. vmsg-cat --listen in domain 1; the proxy in domain 0 as vchan client,
 *     listening on a UNIX socket. 1 MiB written to the socket comes out of
 *     vmsg-cat's stdout, 1 MiB written to its stdin comes out of the
 *     socket; closing the socket closes the vchan and vmsg-cat exits 0.
 *  2. the proxy in domain 0 as vchan server, connecting to our UNIX socket
 *     when its client comes; vmsg-cat --connect --port in domain 1 (started
 *     with --timeout, so it waits for the proxy); the same both ways. */
#include "sim_harness.h"

#include "cat_util.h"
#include "unix_sock.h"

#define PROXY "/usr/lib/xen-4.17/bin/vchan-socket-proxy"
#define TOTAL (1u << 20)

static void expect_in(const char *text, const char *what)
{
	if (!strstr(text, what))
		VMSG_TEST_FAIL("'%s' not in '%s'", what, text);
}

/* The socket <-> vmsg-cat flows, then the socket's close ends vmsg-cat. */
static void exchange_and_end(int sock, struct cat_proc *vc, uint64_t seed)
{
	unsigned char *a = cat_random(seed, TOTAL), *b = cat_random(seed + 1, TOTAL);
	struct cat_flow f[2] = {
		{ .wfd = sock, .rfd = vc->out, .data = a, .len = TOTAL },
		{ .wfd = vc->in, .rfd = sock, .data = b, .len = TOTAL },
	};
	size_t n;

	cat_exchange(f, 2);
	close(sock); /* the proxy closes its vchan end */
	ASSERT_EQ(fcntl(vc->out, F_SETFL, 0), 0);
	free(cat_slurp(vc->out, &n));
	ASSERT_EQ(n, 0);
	char *err = cat_slurp(vc->err, NULL);
	int st = cat_wait(vc);
	if (st != 0)
		VMSG_TEST_FAIL("vmsg-cat exited %d:\n%s", st, err);
	expect_in(err, "the peer closed the channel");
	free(err);
	cat_close(&vc->in);
	cat_close(&vc->out);
	cat_close(&vc->err);
	free(a);
	free(b);
}

static void stop_proxy(struct cat_proc *px)
{
	/* The proxies serve until stopped; `xensim run` forwards SIGTERM. */
	ASSERT_EQ(kill(px->pid, SIGTERM), 0);
	cat_wait(px);
	cat_close(&px->in);
	cat_close(&px->out);
	cat_close(&px->err);
}

int main(void)
{
	char sock1[600], sock2[600], line[4200], xsd[4200];
	struct cat_proc vc, px;

	if (access(PROXY, X_OK) != 0) {
		fprintf(stderr, "%s missing (apt-get install xen-utils-4.17): "
			"skipping\n", PROXY);
		return VMSG_TEST_SKIP;
	}
	snprintf(xsd, sizeof(xsd), "%s", XENSIM_BIN);
	*strrchr(xsd, '/') = 0;
	strcat(xsd, "/../xenstored/vmsg-xenstored");
	if (access(xsd, X_OK) != 0) {
		fprintf(stderr, "vmsg-xenstored not built: skipping\n");
		return VMSG_TEST_SKIP;
	}
	alarm(240);
	sim_setup(1);
	snprintf(sock1, sizeof(sock1), "%s/proxy-client.sock", sim_dir);
	snprintf(sock2, sizeof(sock2), "%s/behind-server.sock", sim_dir);

	/* 1. vmsg-cat serves in dom1; the proxy is the vchan client. */
	cat_start(&vc, XENSIM_BIN, 1, (char *[]){ VMSG_CAT, "-v", "--listen",
		  "--xen", "--domid", "0", "--port", "proxy", NULL });
	cat_line(vc.err, line, sizeof(line));
	expect_in(line, "listening on xen:dom0:/local/domain/1/data/vchan/0/proxy");
	cat_start(&px, XENSIM_BIN, 0, (char *[]){ PROXY, "-m", "client", "1",
		  "/local/domain/1/data/vchan/0/proxy", sock1, NULL });
	exchange_and_end(vmsg_test_unix_connect(sock1, SOCK_STREAM | SOCK_CLOEXEC,
						 CAT_WAIT_MS), &vc, 11);
	stop_proxy(&px);
	printf("vmsg-cat --listen (dom1) <-> vchan-socket-proxy -m client "
	       "(dom0): 1 MiB each way intact, vmsg-cat exited 0\n");

	/* 2. The proxy serves in dom0; vmsg-cat connects from dom1, started
	 * first and waiting (--timeout) for the proxy to publish. */
	int lfd = vmsg_test_unix_listen(sock2, SOCK_STREAM | SOCK_CLOEXEC);
	cat_start(&vc, XENSIM_BIN, 1, (char *[]){ VMSG_CAT, "-v", "--connect",
		  "--xen", "--domid", "0", "--port", "proxy2", "--timeout",
		  "30000", NULL });
	cat_start(&px, XENSIM_BIN, 0, (char *[]){ PROXY, "-m", "server", "1",
		  "/local/domain/0/data/vchan/1/proxy2", sock2, NULL });
	struct pollfd pf = { .fd = lfd, .events = POLLIN };
	ASSERT_EQ(poll(&pf, 1, CAT_WAIT_MS), 1);
	int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_TRUE(conn >= 0);
	close(lfd);
	exchange_and_end(conn, &vc, 22);
	stop_proxy(&px);
	printf("vmsg-cat --connect --port (dom1) <-> vchan-socket-proxy -m "
	       "server (dom0): 1 MiB each way intact, vmsg-cat exited 0\n");
	return 0;
}
