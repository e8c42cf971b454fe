/* sim_libxenvchan: Debian's unmodified libxenvchan on the simulated Xen.
 * A server in domain 0 and a client in domain 1, both plain programs
 * linked with -lxenvchan, exchange 4 MiB each way over one in-page ring
 * (order 10) and one multi-page ring (order 16, granted page list), with
 * checksums; then each side's kill -9 is seen by the other (the unmap
 * notification clears the live byte and sends the event). */
#include "sim_harness.h"

#include <libxenvchan.h>

#define TOTAL (4u << 20)
#define PATH1 "/local/domain/0/data/vchan/1/sim-a"
#define PATH2 "/local/domain/0/data/vchan/1/sim-b"

static int in_fd, out_fd;

/* Block until the channel has an event (fails the test after a while). */
static void wait_event(struct libxenvchan *c)
{
	struct pollfd pf = { .fd = libxenvchan_fd_for_select(c), .events = POLLIN };
	int r;
	while ((r = poll(&pf, 1, SIM_WAIT_MS)) < 0 && errno == EINTR)
		;
	ASSERT_EQ(r, 1);
	ASSERT_EQ(libxenvchan_wait(c), 0);
}

static uint64_t send_stream(struct libxenvchan *c, uint64_t seed)
{
	unsigned char buf[8192];
	uint64_t h = VMSG_TEST_FNV_INIT;
	size_t left = TOTAL;
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);
		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = vmsg_test_rand(&seed);
			memcpy(buf + i, &v, 8);
		}
		h = vmsg_test_fnv(h, buf, n);
		size_t off = 0;
		while (off < n) {
			int w = libxenvchan_write(c, buf + off, n - off);
			ASSERT_GE(w, 0);
			if (w == 0)
				wait_event(c);
			off += (size_t)w;
		}
		left -= n;
	}
	return h;
}

static uint64_t recv_stream(struct libxenvchan *c)
{
	unsigned char buf[8192];
	uint64_t h = VMSG_TEST_FNV_INIT;
	size_t left = TOTAL;
	while (left) {
		int r = libxenvchan_read(c, buf, left < sizeof(buf) ? left : sizeof(buf));
		ASSERT_GE(r, 0);
		if (r == 0) {
			ASSERT_TRUE(libxenvchan_is_open(c) != 0);
			wait_event(c);
			continue;
		}
		h = vmsg_test_fnv(h, buf, (size_t)r);
		left -= (size_t)r;
	}
	return h;
}

/* Wait until the peer is gone (its live byte cleared by the notify). */
static void wait_peer_gone(struct libxenvchan *c)
{
	while (libxenvchan_is_open(c) == 1 || libxenvchan_is_open(c) == 2) {
		unsigned char b[4096];
		if (libxenvchan_data_ready(c) > 0) {
			ASSERT_GE(libxenvchan_read(c, b, sizeof(b)), 0);
			continue;
		}
		wait_event(c);
	}
	ASSERT_EQ(libxenvchan_is_open(c), 0);
}

static int role_server(const char *path)
{
	char buf[128];
	/* Client reads through an in-page ring (order 10) and writes through
	 * 16 granted pages (order 16). */
	struct libxenvchan *c = libxenvchan_server_init(NULL, 1, path, 65536, 1024);
	ASSERT_TRUE(c != NULL);
	sim_say(out_fd, "ready %d", (int)getpid());
	if (!strcmp(path, PATH2)) { /* only to be killed */
		for (;;)
			pause();
	}
	uint64_t sent = send_stream(c, 1);
	uint64_t got = recv_stream(c);
	sim_say(out_fd, "sums %llx %llx", (unsigned long long)sent,
		(unsigned long long)got);
	sim_expect(in_fd, "watch", buf, sizeof(buf));
	wait_peer_gone(c);
	sim_say(out_fd, "peer gone");
	libxenvchan_close(c);
	return 0;
}

static int role_client(const char *path)
{
	struct libxenvchan *c = libxenvchan_client_init(NULL, 0, path);
	ASSERT_TRUE(c != NULL);
	ASSERT_EQ(libxenvchan_is_open(c), 1);
	if (!strcmp(path, PATH2)) {
		sim_say(out_fd, "connected %d", (int)getpid());
		wait_peer_gone(c);
		sim_say(out_fd, "peer gone");
		libxenvchan_close(c);
		return 0;
	}
	uint64_t got = recv_stream(c);
	uint64_t sent = send_stream(c, 2);
	sim_say(out_fd, "sums %llx %llx %d", (unsigned long long)got,
		(unsigned long long)sent, (int)getpid());
	for (;;)
		pause(); /* until SIGKILL */
}

int main(int argc, char **argv)
{
	char buf[128], a[16], b[16], self[4096], xsd[4200];

	if (argc == 5) {
		in_fd = atoi(argv[3]);
		out_fd = atoi(argv[4]);
		if (!strcmp(argv[1], "server"))
			return role_server(argv[2]);
		if (!strcmp(argv[1], "client"))
			return role_client(argv[2]);
		return 2;
	}
	snprintf(xsd, sizeof(xsd), "%s", XENSIM_BIN);
	*strrchr(xsd, '/') = 0;
	strcat(xsd, "/../xenstored/vmsg-xenstored");
	if (access(xsd, X_OK) != 0) {
		fprintf(stderr, "vmsg-xenstored not built (%s): skipping\n", xsd);
		return VMSG_TEST_SKIP;
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	alarm(240);
	sim_setup(1);

	int s_in[2], s_out[2], c_in[2], c_out[2];
	sim_pipe(s_in);
	sim_pipe(s_out);
	sim_pipe(c_in);
	sim_pipe(c_out);

	/* Phase 1: data both ways, then the client dies. */
	snprintf(a, sizeof(a), "%d", s_in[0]);
	snprintf(b, sizeof(b), "%d", s_out[1]);
	pid_t srv = sim_spawn(0, (char *[]){ self, "server", PATH1, a, b, NULL });
	sim_expect(s_out[0], "ready", buf, sizeof(buf));
	snprintf(a, sizeof(a), "%d", c_in[0]);
	snprintf(b, sizeof(b), "%d", c_out[1]);
	pid_t cli = sim_spawn(1, (char *[]){ self, "client", PATH1, a, b, NULL });
	unsigned long long s_sent, s_got, c_got, c_sent;
	int cpid;
	char sbuf[128];
	ASSERT_EQ(sscanf(sim_expect(s_out[0], "sums", sbuf, sizeof(sbuf)), "%llx %llx",
			 &s_sent, &s_got), 2);
	ASSERT_EQ(sscanf(sim_expect(c_out[0], "sums", buf, sizeof(buf)), "%llx %llx %d",
			 &c_got, &c_sent, &cpid), 3);
	ASSERT_EQ(s_sent, c_got);
	ASSERT_EQ(c_sent, s_got);
	ASSERT_TRUE(s_sent != c_sent);
	sim_say(s_in[1], "watch");
	ASSERT_EQ(kill(cpid, SIGKILL), 0);
	sim_expect(s_out[0], "peer gone", buf, sizeof(buf));
	ASSERT_EQ(sim_wait(cli), 128 + SIGKILL);
	ASSERT_EQ(sim_wait(srv), 0);

	/* Phase 2: the server dies; the client sees it. */
	snprintf(a, sizeof(a), "%d", s_in[0]);
	snprintf(b, sizeof(b), "%d", s_out[1]);
	srv = sim_spawn(0, (char *[]){ self, "server", PATH2, a, b, NULL });
	int spid = atoi(sim_expect(s_out[0], "ready", buf, sizeof(buf)));
	snprintf(a, sizeof(a), "%d", c_in[0]);
	snprintf(b, sizeof(b), "%d", c_out[1]);
	cli = sim_spawn(1, (char *[]){ self, "client", PATH2, a, b, NULL });
	sim_expect(c_out[0], "connected", buf, sizeof(buf));
	ASSERT_EQ(kill(spid, SIGKILL), 0);
	sim_expect(c_out[0], "peer gone", buf, sizeof(buf));
	ASSERT_EQ(sim_wait(srv), 128 + SIGKILL);
	ASSERT_EQ(sim_wait(cli), 0);
	puts("sim_libxenvchan: ok");
	return 0;
}
