/* vmsgd_flush: a connect bridge to a dom0 socket server that accepts and
 * never reads. dom2 opens the bridged service ROUNDS times, writes up to
 * 1 MiB each time (until nothing moves for a while: the ring, vmsgd's
 * write queue and the socket's buffers are full) and closes the channel.
 * What vmsgd still holds for a closed channel is bounded:
 *  - in time: each such channel lingers and ends within the policy's
 *    bridge_flush_ms (here FLUSH_MS) of the guest's close;
 *  - in number: lingering channels count against dom2's
 *    max_channels_per_domain (4): an open meanwhile may get -EUSERS and
 *    wait for one to end (checked without racing time below);
 *  - in fds: vmsgd's count never grows far beyond its baseline and is
 *    back at it once the last flush limit has passed.
 * Then EXITS more rounds in which dom2 does not say Closed but closes its
 * control channel (as a process that exits does) with the channel still
 * full: each channel lingers, and vmsgd is back at its baseline within
 * the flush limit after the last.
 * Last, with bridge_flush_ms reloaded to a minute: MAXCH rounds leave
 * MAXCH channels that vmsgctl lists as `lingering` of consumer 2 (table
 * and JSON), a fifth open gets -EUSERS at once, and when the socket
 * server dies the lingering ends at once (a socket error ends a flush).
 * Again with a new server, and vmsgd is stopped while they linger: it
 * cuts them and exits 0 (under ASan: without leaks).
 * Before the flush was bounded, every closed channel stayed in vmsgd for
 * good (holding its event channel, grants, xenstore connection and up to
 * 320 KiB): dom2's opens were refused for ever once it had 4 (first
 * rounds), or, when its control channel went, vmsgd forgot them but kept
 * all they held, uncounted (vmsgd grew ~11 fds a round). */
#include "vt_proc.h"

#define ROUNDS 40
#define EXITS 10
#define LEN (1u << 20)
#define MAXCH 4
#define FLUSH_MS 1000
#define LONG_FLUSH_MS 60000 /* the last phase: no flush ends by time */
#define STUCK_MS 300 /* a write that moves nothing this long: full */

static char sink_path[700];

static unsigned char data[LEN];

/* Open sink, waiting out -EUSERS (counting it in *refused) for at most
 * 10 flush limits; write until nothing moves. Returns the channel. */
static vmsg_chan *open_and_fill(vmsg_ctl *ctl, int i, unsigned *refused,
				size_t *total)
{
	vmsg_chan *c;
	int r;
	uint64_t since = 0;
	while ((r = vmsg_service_open(ctl, "sink", &c, SIM_WAIT_MS)) ==
	       -EUSERS) {
			/* Our lingering channels are counted: wait for one
			 * to end (within the flush limit). */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t now = (uint64_t)ts.tv_sec * 1000u +
				       (uint64_t)ts.tv_nsec / 1000000u;
			if (!since)
				since = now;
			else if (now - since > 10u * FLUSH_MS)
				VMSG_TEST_FAIL("round %d: open refused for %llu "
					       "ms: %s (closed channels never "
					       "end)",
					       i, (unsigned long long)(now - since),
					       vmsg_ctl_error(ctl));
			(*refused)++;
			usleep(50000);
	}
	if (r < 0)
		VMSG_TEST_FAIL("round %d: open: %s (%s)", i, vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	size_t off = 0;
	while (off < LEN) {
		r = vmsg_chan_write(c, data + off, LEN - off, STUCK_MS);
		if (r == -ETIMEDOUT)
			break;
		ASSERT_TRUE(r > 0);
		off += (size_t)r;
	}
	*total += off;
	return c;
}

/* dom2: the rounds. */
static int role_writer(void)
{
	char line[64];
	memset(data, 0x5a, sizeof data);
	vmsg_ctl *ctl = vt_ctl_open();
	sim_say(vt_out, "ready");
	sim_expect(vt_in, "go", line, sizeof line);
	unsigned refused = 0;
	size_t total = 0;
	for (int i = 0; i < ROUNDS; i++) {
		vmsg_chan *c = open_and_fill(ctl, i, &refused, &total);
		vmsg_service_close(ctl, c);
	}
	sim_say(vt_out, "done %d rounds, %zu bytes written, refused %u times",
		ROUNDS, total, refused);
	/* (How often opens were refused here depends on the machine's
	 * pace; the last phase checks the count without racing time.) */
	sim_expect(vt_in, "exits", line, sizeof line);
	refused = 0;
	total = 0;
	for (int i = 0; i < EXITS; i++) {
		vmsg_chan *c = open_and_fill(ctl, i, &refused, &total);
		/* No Closed: the channel and then the control channel go,
		 * as when a process exits. */
		vmsg_chan_close(c);
		vmsg_ctl_close(ctl);
		ctl = vt_ctl_open();
	}
	sim_say(vt_out, "done %d rounds, %zu bytes written, refused %u times",
		EXITS, total, refused);
	/* Flushes that end only by the sink's death: fill our limit. */
	sim_expect(vt_in, "long", line, sizeof line);
	for (int i = 0; i < MAXCH; i++) {
		vmsg_chan *c = open_and_fill(ctl, i, &refused, &total);
		vmsg_service_close(ctl, c);
	}
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "sink", &c, SIM_WAIT_MS);
	ASSERT_EQ(r, -EUSERS);
	sim_say(vt_out, "full: %s", vmsg_ctl_error(ctl));
	/* Again, for a vmsgd that stops while they linger. */
	sim_expect(vt_in, "again", line, sizeof line);
	for (int i = 0; i < MAXCH; i++) {
		c = open_and_fill(ctl, i, &refused, &total);
		vmsg_service_close(ctl, c);
	}
	sim_say(vt_out, "full");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"writer", role_writer},
	{NULL, NULL},
};

/* Until dom2 says "done", sample vmsgd's fds: they must stay within a
 * few channels' worth of the baseline, and be back at it, with no sink
 * channel listed, within the flush limit after the last round. */
static void rounds(struct vt_role *w, pid_t vpid, int base, int n_rounds)
{
	char buf[256];
	int most = base;
	for (;;) {
		struct pollfd p = {.fd = w->from, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			break;
		int n = vt_fd_count(vpid);
		if (n > most)
			most = n;
	}
	sim_expect(w->from, "done", buf, sizeof buf);
	printf("dom2: %s\n", buf);
	printf("vmsgd's fds: %d at most during %d rounds (baseline %d)\n", most,
	       n_rounds, base);
	/* A few channels' worth, not n_rounds' worth. */
	ASSERT_TRUE(most - base <= 16 * (MAXCH + 1));
	vt_ctl_wait("--json list channels", "\"service\":\"sink\"", 0);
	int n = -1;
	for (int i = 0; i < 4 * FLUSH_MS / 50 + 40 && n != base; i++) {
		usleep(50000);
		n = vt_fd_count(vpid);
	}
	if (n != base)
		VMSG_TEST_FAIL("vmsgd holds %d fds after the flush limit, %d "
			       "before the rounds",
			       n, base);
	printf("vmsgd is back at %d fds\n", n);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	static char buf[65536];
	char body[2000];
	snprintf(sink_path, sizeof sink_path, "%s/sink.sock", sim_dir);
	snprintf(body, sizeof body,
		 "[service sink]\noffer = none\nopen = 2\nmode = direct\n"
		 "max_channels_per_domain = %d\n\n"
		 "[bridge sink]\nservice = sink\nconnect = unix:%s\n",
		 MAXCH, sink_path);
	char daemon[64];
	snprintf(daemon, sizeof daemon, "bridge_flush_ms = %d\n", FLUSH_MS);
	vt_write_conf_daemon(daemon, body);
	pid_t sink = vt_start_sink(sink_path);
	vt_start_vmsgd();
	const pid_t vpid = vt_child_of(vt_vmsgd);

	struct vt_role w;
	vt_spawn(&w, 2, "writer", NULL);
	sim_expect(w.from, "ready", buf, sizeof buf);
	vt_ctl_wait("list domains", "connected", 1);
	usleep(200000);
	const int base = vt_fd_count(vpid);
	printf("vmsgd holds %d fds with dom2 connected\n", base);
	sim_say(w.to, "go");

	rounds(&w, vpid, base, ROUNDS);
	sim_say(w.to, "exits");
	rounds(&w, vpid, base, EXITS);

	/* Lingering channels as vmsgctl shows them, with time to look. */
	snprintf(daemon, sizeof daemon, "bridge_flush_ms = %d\n",
		 LONG_FLUSH_MS);
	vt_write_conf_daemon(daemon, body);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
	sim_say(w.to, "long");
	sim_expect(w.from, "full", buf, sizeof buf);
	printf("dom2: %s\n", buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list channels"), 0);
	printf("%s", buf);
	ASSERT_TRUE(strstr(buf, "lingering") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	int lingering = 0;
	for (const char *p = buf;
	     (p = strstr(p, "\"consumer\":2,\"state\":\"lingering\"")); p++)
		lingering++;
	ASSERT_EQ(lingering, MAXCH);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	printf("%s", buf);
	/* The socket server dies: its sockets fail, the flushes end. */
	kill(sink, SIGKILL);
	waitpid(sink, NULL, 0);
	vt_ctl_wait("--json list channels", "\"service\":\"sink\"", 0);
	vt_fd_count_wait(vpid, base);
	printf("the sink died: nothing lingers, vmsgd is back at %d fds\n",
	       base);

	/* vmsgd stops with channels lingering: it cuts them and exits 0. */
	sink = vt_start_sink(sink_path);
	sim_say(w.to, "again");
	sim_expect(w.from, "full", buf, sizeof buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list channels"), 0);
	ASSERT_TRUE(strstr(buf, "lingering") != NULL);
	sim_say(w.to, "quit");
	vt_role_done(&w, 0);
	vt_stop_vmsgd();
	kill(sink, SIGKILL);
	waitpid(sink, NULL, 0);
	return 0;
}
