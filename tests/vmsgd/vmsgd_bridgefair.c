/* vmsgd_bridgefair: a guest's bridge connections held back by its
 * max_queued_bytes_per_domain are resumed in turn, the one held longest
 * first, so that each goes on at about the same rate; a newer connection
 * that always has data does not pass an older one over again and again.
 *
 * vmsgd's bound for dom2 is the smallest there is (65536 bytes: one
 * socket write of a stream bridge fills it). dom2 opens the connect
 * bridge `sink` twice (A, then B; rings of 1 MiB) and writes TOTAL bytes
 * into each from two threads at once, 'A's into A and 'B's into B, each
 * ring kept full. The driver is the bridge's dom0 server: it accepts both
 * connections and reads them alike (a read of at most READ bytes from
 * each readable socket per round). When one connection has delivered
 * TOTAL bytes, the other must have delivered at least half as much.
 *
 * vmsgd resumed a guest's held-back connections in the order of its list
 * of every connection (newest first) on each write completion: B, whose
 * ring always had data, took the bound back each time and A moved only
 * when B's ring happened to be empty. Then both deliver all they were
 * sent, and vmsgctl shows dom2's queued bytes back at 0. */
#include "vt_proc.h"

#include <pthread.h>

#define TOTAL (8u << 20) /* bytes through each connection */
#define READ (16u * 1024u)

static char sink_path[700];

struct writer {
	vmsg_chan *c;
	char letter;
	int err; /* 0, or the write's -errno */
};

static void *write_all(void *arg)
{
	struct writer *w = arg;
	static unsigned char bufs[2][64 * 1024];
	unsigned char *buf = bufs[w->letter - 'A'];
	memset(buf, w->letter, sizeof bufs[0]);
	for (size_t done = 0; done < TOTAL;) {
		size_t n = TOTAL - done < sizeof bufs[0] ? TOTAL - done
							  : sizeof bufs[0];
		int r = vmsg_chan_write(w->c, buf, n, SIM_WAIT_MS);
		if (r <= 0) {
			w->err = r < 0 ? r : -EIO;
			return NULL;
		}
		done += (size_t)r;
	}
	return NULL;
}

/* dom2: A and B, written at once; "written" once both are all in the
 * rings, closed at "quit". */
static int role_writer(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	struct writer w[2] = {{.letter = 'A'}, {.letter = 'B'}};
	for (int i = 0; i < 2; i++)
		w[i].c = vt_open(ctl, "sink");
	sim_say(vt_out, "opened");
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, write_all, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 2; i++)
		if (w[i].err)
			VMSG_TEST_FAIL("write to %c: %s", w[i].letter,
				       vmsg_strerror(w[i].err));
	sim_say(vt_out, "written");
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < 2; i++)
		vmsg_service_close(ctl, w[i].c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"writer", role_writer},
	{NULL, NULL},
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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

	/* Read both alike until both have delivered TOTAL. */
	static unsigned char buf[READ];
	size_t got[2] = {0, 0}, other_at_first = 0;
	int first = -1;
	char who[2] = {0, 0};
	uint64_t deadline = now_ms() + 180000;
	while (got[0] < TOTAL || got[1] < TOTAL) {
		if (now_ms() > deadline)
			VMSG_TEST_FAIL("after 180 s: %zu and %zu bytes of %u",
				       got[0], got[1], TOTAL);
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
				VMSG_TEST_FAIL("connection %d: %s after %zu "
					       "bytes",
					       i, n ? strerror(errno) : "EOF",
					       got[i]);
			if (!who[i])
				who[i] = (char)buf[0];
			for (ssize_t k = 0; k < n; k++)
				if (buf[k] != (unsigned char)who[i])
					VMSG_TEST_FAIL("connection %c: byte "
						       "%zu is %#x",
						       who[i], got[i] + (size_t)k,
						       buf[k]);
			got[i] += (size_t)n;
			if (first < 0 && got[i] >= TOTAL) {
				first = i;
				other_at_first = got[!i];
			}
		}
	}
	ASSERT_TRUE(who[0] != who[1]);
	fprintf(stderr,
		"bridgefair: when %c had delivered %u bytes, %c had "
		"delivered %zu (at least %u wanted)\n",
		who[first], TOTAL, who[!first], other_at_first, TOTAL / 2);
	ASSERT_GE(other_at_first, TOTAL / 2);

	sim_expect(wr.from, "written", line, sizeof line);
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
