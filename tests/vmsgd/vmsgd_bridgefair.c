/* vmsgd_bridgefair: a guest's bridge connections held back by its
 * max_queued_bytes_per_domain are resumed in turn, the one held longest
 * first, so that each goes on at about the same rate; a newer connection
 * that always has data does not pass an older one over again and again.
 *
 * vmsgd's bound for dom2 is the smallest there is (65536 bytes: one
 * socket write of a stream bridge fills it). dom2 opens the connect
 * bridge `sink` twice (A, then B; rings of 1 MiB) and writes 'A's into A
 * and 'B's into B until neither takes more: the driver, the bridge's dom0
 * server, has accepted both connections and reads nothing yet, so the
 * socket buffers fill, vmsgd holds dom2 back at its bound, and both rings
 * fill (about 1.3 MiB each in all). Then the driver reads both alike (a
 * read of at most READ bytes from each readable socket per round): when
 * one connection has delivered all that was written into it, the other
 * must have delivered at least half of its own. All of it is in the rings
 * and the sockets before the reading starts, so how the writer was
 * scheduled does not matter (it did when two threads kept the rings full
 * while the driver read: on a loaded machine one ring was not kept full,
 * and 3 to 5 runs in 20 failed for that alone).
 *
 * vmsgd resumed a guest's held-back connections in the order of its list
 * of every connection (newest first) on each write completion: B, whose
 * ring always had data, took the bound back each time and A moved only
 * when B's ring happened to be empty. Then both deliver all they were
 * sent, and vmsgctl shows dom2's queued bytes back at 0. */
#include "vt_proc.h"

#define READ (16u * 1024u)

static char sink_path[700];

/* dom2: A and B, written until neither takes more for 100 ms; says
 * "filled NA NB" (the bytes each took), closes both at "quit". */
static int role_writer(void)
{
	char line[64];
	static unsigned char buf[2][64 * 1024];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c[2];
	size_t put[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		c[i] = vt_open(ctl, "sink");
		memset(buf[i], 'A' + i, sizeof buf[i]);
	}
	sim_say(vt_out, "opened");
	for (int idle = 0; idle < 5;) {
		size_t before = put[0] + put[1];
		for (int i = 0; i < 2; i++)
			for (;;) {
				int r = vmsg_chan_write(c[i], buf[i],
							sizeof buf[i], 0);
				if (r == -EAGAIN)
					break;
				if (r <= 0)
					VMSG_TEST_FAIL("write to %c: %s",
						       'A' + i,
						       vmsg_strerror(r));
				put[i] += (size_t)r;
			}
		idle = put[0] + put[1] == before ? idle + 1 : 0;
		usleep(20000);
	}
	sim_say(vt_out, "filled %zu %zu", put[0], put[1]);
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < 2; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"writer", role_writer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char line[128], conf[2048];
	snprintf(sink_path, sizeof sink_path, "%s/sink.sock", sim_dir);
	snprintf(conf, sizeof conf,
		 "[service sink]\noffer = none\nopen = 2\nmode = direct\n"
		 "ring_size = 1048576\n\n"
		 "[bridge sink]\nservice = sink\nconnect = unix:%s\n",
		 sink_path);
	vt_write_conf_daemon("max_queued_bytes_per_domain = 65536\n", conf);

	int ls = vmsg_test_unix_listen(sink_path, SOCK_STREAM | SOCK_NONBLOCK);

	vt_start_vmsgd();
	struct vt_role wr;
	vt_spawn(&wr, 2, "writer", NULL);

	/* The two connections, in the order vmsgd makes them (A's open
	 * returns only once its socket is up). */
	int s[2];
	for (int i = 0; i < 2; i++) {
		struct pollfd p = {.fd = ls, .events = POLLIN};
		ASSERT_EQ(poll(&p, 1, SIM_WAIT_MS), 1);
		s[i] = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
		ASSERT_TRUE(s[i] >= 0);
	}
	sim_expect(wr.from, "opened", line, sizeof line);
	size_t total[2];
	const char *f = sim_expect(wr.from, "filled ", line, sizeof line);
	ASSERT_EQ(sscanf(f, "%zu %zu", &total[0], &total[1]), 2);
	ASSERT_TRUE(total[0] > 524288 && total[1] > 524288);

	/* Read both alike until both have delivered all. */
	static unsigned char buf[READ];
	size_t got[2] = {0, 0}, other_at_first = 0;
	int first = -1;
	uint64_t deadline = vt_now_ms() + 180000;
	while (got[0] < total[0] || got[1] < total[1]) {
		if (vt_now_ms() > deadline)
			VMSG_TEST_FAIL("after 180 s: %zu of %zu and %zu of %zu "
				       "bytes",
				       got[0], total[0], got[1], total[1]);
		struct pollfd p[2];
		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){.fd = s[i], .events = POLLIN};
		ASSERT_TRUE(poll(p, 2, 1000) >= 0);
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t n = read(s[i], buf, sizeof buf);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				VMSG_TEST_FAIL("connection %c: %s after %zu "
					       "bytes",
					       'A' + i, n ? strerror(errno) : "EOF",
					       got[i]);
			for (ssize_t k = 0; k < n; k++)
				if (buf[k] != 'A' + i)
					VMSG_TEST_FAIL("connection %c: byte "
						       "%zu is %#x",
						       'A' + i, got[i] + (size_t)k,
						       buf[k]);
			got[i] += (size_t)n;
			if (first < 0 && got[i] >= total[i]) {
				first = i;
				other_at_first = got[!i];
			}
		}
	}
	ASSERT_EQ(got[0], total[0]);
	ASSERT_EQ(got[1], total[1]);
	fprintf(stderr,
		"bridgefair: when %c had delivered its %zu bytes, %c had "
		"delivered %zu of its %zu (at least half wanted)\n",
		'A' + first, total[first], 'A' + !first, other_at_first,
		total[!first]);
	ASSERT_GE(other_at_first, total[!first] / 2);

	/* Every byte was read: the last write completions reach vmsgd's
	 * loop a turn later. */
	unsigned long long q = vt_queued_of(2);
	for (int i = 0; q != 0 && i < SIM_WAIT_MS / 50; i++) {
		usleep(50000);
		q = vt_queued_of(2);
	}
	ASSERT_EQ(q, 0);
	sim_say(wr.to, "quit");
	vt_role_done(&wr, 0);
	for (int i = 0; i < 2; i++)
		close(s[i]);
	close(ls);
	vt_stop_vmsgd();
	return 0;
}
