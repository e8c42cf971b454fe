/* fault_shortio: short reads and writes on vmsgd's sockets, with other
 * guests served meanwhile.
 * - The control socket (dom0/vmsgd/ctlsock.c's protocol: one request
 *   line, then "ok\n" and the body, then vmsgd closes): a client writes
 *   "list services json\n" one byte per write(2) with pauses, stopping
 *   halfway while dom2 opens dom1's `echo` and exchanges messages through
 *   vmsgd (which must not wait for the slow client), and reads the answer
 *   one byte per read(2). The answer must equal, byte for byte, the one a
 *   client writing and reading in whole pieces gets.
 * - A listen bridge on a UNIX socket to dom3's raw-stream echo: a client
 *   writes 96 KiB one byte per write(2) (the first 300 with a pause after
 *   each, so that vmsgd sees them one by one) and reads the echo one byte
 *   per read(2) as it comes; every byte must come back in order, while
 *   dom2 again exchanges messages with dom1 through vmsgd. */
#include "vt_nb.h"

#include <sys/socket.h>
#include <sys/un.h>

#define BRIDGE_LEN (96u * 1024u)
#define REQ "list services json\n"

static char bridge_path[700];

/* dom3: offer `raw`; echo every byte on every channel until it closes. */
static int role_rawecho(void)
{
	return nb_raw_echo("raw", 0);
}

/* dom2: open `echo` through vmsgd, exchange 30 messages (one of them
 * fragmented), close. */
static int role_consumer(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	vt_echo_exchange(c, 30, true);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"rawecho", role_rawecho},
	{"consumer", role_consumer},
	{NULL, NULL},
};

static int unix_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(fd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/* One byte per write(2); `pause_us` after each. */
static void write_bytes(int fd, const char *p, size_t n, unsigned pause_us)
{
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(write(fd, p + i, 1), 1);
		if (pause_us)
			usleep(pause_us);
	}
}

/* The answer, read one byte per read(2) (or in whole pieces) to EOF. */
static size_t read_all(int fd, char *out, size_t cap, bool bytewise)
{
	size_t got = 0;
	for (;;) {
		ASSERT_TRUE(got < cap);
		ssize_t n = read(fd, out + got, bytewise ? 1 : cap - got);
		ASSERT_GE(n, 0);
		if (n == 0)
			return got;
		got += (size_t)n;
	}
}

/* A dom2 consumer of dom1's echo, start to end: vmsgd serves others. */
static void other_guest(void)
{
	struct vt_role cons;
	vt_spawn(&cons, 2, "consumer", NULL);
	vt_role_done(&cons, 0);
}

static void control_socket(void)
{
	static char whole[65536], bytewise[65536];
	int fd = unix_connect(vt_sock);
	ASSERT_EQ(write(fd, REQ, strlen(REQ)), (ssize_t)strlen(REQ));
	size_t nw = read_all(fd, whole, sizeof whole, false);
	close(fd);
	ASSERT_TRUE(nw > 3 && !memcmp(whole, "ok\n", 3));
	ASSERT_TRUE(memmem(whole, nw, "\"name\":\"echo\"", 13) != NULL);

	fd = unix_connect(vt_sock);
	size_t half = strlen(REQ) / 2;
	write_bytes(fd, REQ, half, 20000);
	other_guest(); /* while the request is half written */
	write_bytes(fd, REQ + half, strlen(REQ) - half, 20000);
	size_t nb = read_all(fd, bytewise, sizeof bytewise, true);
	close(fd);
	ASSERT_EQ(nb, nw);
	ASSERT_MEM_EQ(bytewise, whole, nw);
	printf("control socket: \"%.*s\" written 1 byte at a time, %zu "
	       "bytes of answer read 1 at a time, identical to the whole "
	       "answer; a guest served while the request was half written\n",
	       (int)strlen(REQ) - 1, REQ, nb);
}

static void bridge(void)
{
	static unsigned char out[BRIDGE_LEN], in[BRIDGE_LEN];
	uint64_t seed = 99;
	for (size_t i = 0; i < BRIDGE_LEN; i++)
		out[i] = (unsigned char)vmsg_test_rand(&seed);
	pid_t kid = fork();
	ASSERT_GE(kid, 0);
	if (kid == 0) {
		/* The other guest, in a child: the driver's fds are ours. */
		other_guest();
		_exit(0);
	}
	int fd = unix_connect(bridge_path);
	size_t sent = 0, got = 0;
	while (got < BRIDGE_LEN) {
		struct pollfd p = {.fd = fd,
				   .events = (short)(POLLIN |
						     (sent < BRIDGE_LEN ? POLLOUT
									: 0))};
		ASSERT_GT(poll(&p, 1, SIM_WAIT_MS), 0);
		if (p.revents & POLLIN) {
			ssize_t n = read(fd, in + got, 1);
			ASSERT_EQ(n, 1);
			got++;
		}
		if (sent < BRIDGE_LEN && (p.revents & POLLOUT)) {
			ASSERT_EQ(write(fd, out + sent, 1), 1);
			sent++;
			if (sent <= 300)
				usleep(1000);
		}
	}
	ASSERT_MEM_EQ(in, out, BRIDGE_LEN);
	ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
	close(fd);
	int st;
	ASSERT_EQ(waitpid(kid, &st, 0), kid);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("bridge: %u bytes written 1 at a time and read back 1 at a "
	       "time through %s, intact; a guest served meanwhile\n",
	       BRIDGE_LEN, bridge_path);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[256], conf[2000];
	snprintf(bridge_path, sizeof bridge_path, "%s/raw.sock", sim_dir);
	snprintf(conf, sizeof conf,
		 "[service echo]\noffer = 1\nopen = 2\nmode = direct\n\n"
		 "[service raw]\noffer = 3\nopen = none\nmode = direct\n\n"
		 "[bridge raw-unix]\nservice = raw\nlisten = unix:%s\n",
		 bridge_path);
	struct vt_role prov, raw;
	vt_start_with_echo(conf, &prov);
	vt_spawn(&raw, 3, "rawecho", NULL);
	sim_expect(raw.from, "offered", buf, sizeof buf);
	vt_ctl_wait("list services", "raw", 1);

	control_socket();
	bridge();

	sim_say(raw.to, "quit");
	vt_role_done(&raw, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
