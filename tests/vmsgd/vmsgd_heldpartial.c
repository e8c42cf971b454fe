/* vmsgd_heldpartial: a guest's channels that each collect a large message
 * in vmsgd, at its max_queued_bytes_per_domain, go on: their parts
 * together at the bound never hold each other back for good.
 *
 * vmsgd's bound for dom2 is the smallest there is (65536 bytes); its
 * rings are 64 KiB, so a message of MSG bytes (48 KiB) is fragmented, and
 * vmsgd collects it whole before passing it on: as one datagram on a
 * seqpacket: bridge, as one message on a relayed channel. Two rounds, each
 * over two channels of dom2, 'A's into the first and 'B's into the
 * second:
 *  - the connect bridge `sink` (seqpacket:), opened twice; the driver is
 *    its dom0 server and reads both connections;
 *  - the relayed service `rel`, opened twice; dom3 provides it and reads
 *    both channels.
 * In each, dom2 first writes all but the last fragment of one message
 * into each channel (2 x 24000 bytes, straight into the rings) and waits
 * until vmsgd holds both parts (96000 bytes: over the bound, each part
 * taken while the total was under it); then the last fragments. Then it
 * sends COUNT more such messages into each channel from two threads at
 * once. Every message must arrive whole, of its channel's letter, and all
 * of them within SIM_WAIT_MS; then vmsgctl shows dom2's queued bytes back
 * at 0.
 *
 * vmsgd held every end back at the bound, one part-way through a message
 * too: the two parts held each other back for ever, neither message
 * completing, so neither buffer could be freed (the last fragments were
 * never read; with the threads alone it happened in some runs, after a
 * few messages). Now one end of the guest at a time finishes the message
 * it collects, and a message that leaves vmsgd (sent on the socket or
 * passed on) wakes the ends held back. */
#include "vt_proc.h"

#include <pthread.h>

#include "frag_flood_peer.h"

#define MSG (48u * 1024u)
#define PART 24000u              /* the first two fragments' data */
#define LAST (MSG - 2u * PART)   /* the last one's */
#define COUNT 100u

static char sink_path[700];

struct sender {
	vmsg_chan *c;
	char letter;
	int err; /* 0, or the send's -errno */
};

static void *send_all(void *arg)
{
	struct sender *w = arg;
	static unsigned char bufs[2][MSG];
	unsigned char *buf = bufs[w->letter - 'A'];
	memset(buf, w->letter, MSG);
	for (unsigned i = 0; i < COUNT; i++) {
		int r = vmsg_chan_send(w->c, 1, buf, MSG, 0, SIM_WAIT_MS);
		if (r != (int)MSG) {
			w->err = r < 0 ? r : -EIO;
			return NULL;
		}
	}
	return NULL;
}

/* Write the first two fragments of a message of MSG bytes of `letter`
 * into c's ring (first: false), or its last one, and publish them. The
 * channel's own write index follows, for the sends after. */
static void raw_fragments(vmsg_chan *c, char letter, bool last)
{
	static uint8_t first[8 + PART], part[PART];
	struct vmsg_ring_end *e = vmsg__chan_ring(c);
	uint32_t wp = e->tx.idx;
	memset(part, letter, PART);
	if (!last) {
		const uint64_t total = MSG;
		memcpy(first, &total, sizeof total);
		memset(first + 8, letter, PART);
		ASSERT_TRUE(flood_put(&e->tx, &wp, 1, VMSG_FRAME_MORE, first,
				      sizeof first));
		ASSERT_TRUE(flood_put(&e->tx, &wp, 1,
				      VMSG_FRAME_MORE | VMSG_FRAME_CONT, part,
				      PART));
	} else {
		ASSERT_TRUE(flood_put(&e->tx, &wp, 1, VMSG_FRAME_CONT, part,
				      LAST));
	}
	flood_publish(&e->tx, wp, vmsg__chan_platform(c));
	e->tx.idx = wp;
}

/* dom2: the service named by argv[1], opened twice; a message in parts
 * into each ("parts", then the last fragments at "finish"), then COUNT
 * into both at once; "sent" once all is in the rings, closed at "quit". */
static int sender(const char *service)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	struct sender w[2] = {{.letter = 'A'}, {.letter = 'B'}};
	for (int i = 0; i < 2; i++)
		w[i].c = vt_open(ctl, service);
	sim_say(vt_out, "opened");
	for (int i = 0; i < 2; i++)
		raw_fragments(w[i].c, w[i].letter, false);
	sim_say(vt_out, "parts");
	sim_expect(vt_in, "finish", line, sizeof line);
	for (int i = 0; i < 2; i++)
		raw_fragments(w[i].c, w[i].letter, true);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, send_all, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 2; i++)
		if (w[i].err)
			VMSG_TEST_FAIL("%s: send to %c: %s", service,
				       w[i].letter, vmsg_strerror(w[i].err));
	sim_say(vt_out, "sent");
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < 2; i++)
		vmsg_service_close(ctl, w[i].c);
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_sink_sender(void)
{
	return sender("sink");
}

static int role_rel_sender(void)
{
	return sender("rel");
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A message of MSG bytes, all of one letter: channel i's (the first
 * message's), different from the other channel's. */
static void check_msg(const unsigned char *buf, size_t n, int i, char *who,
		      unsigned got)
{
	if (n != MSG)
		VMSG_TEST_FAIL("channel %d: a message of %zu bytes after %u", i,
			       n, got);
	if (!who[i])
		who[i] = (char)buf[0];
	for (size_t k = 0; k < n; k++)
		if (buf[k] != (unsigned char)who[i])
			VMSG_TEST_FAIL("channel %c, message %u: byte %zu is "
				       "%#x",
				       who[i], got, k, buf[k]);
}

/* dom3: provides `rel`, takes its two channels and reads both alike until
 * each has brought COUNT + 1 messages; "read", closed at "quit". */
static int role_rel_reader(void)
{
	char line[64];
	static unsigned char buf[MSG + 1];
	vmsg_ctl *ctl = vt_ctl_open();
	int r = vmsg_service_offer(ctl, "rel", SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("offer: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	sim_say(vt_out, "offered");
	vmsg_chan *c[2];
	for (int i = 0; i < 2; i++) {
		r = vmsg_service_accept(ctl, &c[i], NULL, SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("accept: %s (%s)", vmsg_strerror(r),
				       vmsg_ctl_error(ctl));
	}
	unsigned got[2] = {0, 0};
	char who[2] = {0, 0};
	uint64_t deadline = now_ms() + SIM_WAIT_MS;
	while (got[0] < COUNT + 1 || got[1] < COUNT + 1) {
		if (now_ms() > deadline)
			VMSG_TEST_FAIL("rel: after %d ms, %u and %u messages of "
				       "%u",
				       SIM_WAIT_MS, got[0], got[1], COUNT + 1);
		bool any = false;
		for (int i = 0; i < 2; i++) {
			if (got[i] == COUNT + 1)
				continue;
			int n = vmsg_chan_recv(c[i], NULL, buf, sizeof buf, 0);
			if (n == -EAGAIN)
				continue;
			if (n < 0)
				VMSG_TEST_FAIL("rel: channel %d: %s after %u", i,
					       vmsg_strerror(n), got[i]);
			check_msg(buf, (size_t)n, i, who, got[i]);
			got[i]++;
			any = true;
		}
		if (!any) {
			struct pollfd p[2];
			for (int i = 0; i < 2; i++)
				p[i] = (struct pollfd){.fd = vmsg_chan_fd(c[i]),
						       .events = POLLIN};
			ASSERT_TRUE(poll(p, 2, 100) >= 0);
			for (int i = 0; i < 2; i++)
				(void)vmsg_chan_ack(c[i]);
		}
	}
	ASSERT_TRUE(who[0] != who[1]);
	sim_say(vt_out, "read");
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < 2; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"sinksender", role_sink_sender},
	{"relsender", role_rel_sender},
	{"relreader", role_rel_reader},
	{NULL, NULL},
};

/* vmsgd holds both parts of dom2's first messages: then it may have the
 * last fragments. */
static void parts_then_finish(struct vt_role *wr)
{
	char line[64];
	sim_expect(wr->from, "parts", line, sizeof line);
	unsigned long long q = vt_queued_of(2);
	for (int i = 0; q != 2u * PART * 2u && i < SIM_WAIT_MS / 20; i++) {
		usleep(20000);
		q = vt_queued_of(2);
	}
	ASSERT_EQ(q, 2u * PART * 2u);
	sim_say(wr->to, "finish");
}

/* dom2's queued bytes back at 0 (the last messages leave vmsgd's memory
 * a loop turn after they were read). */
static void queued_back_to_zero(void)
{
	unsigned long long q = vt_queued_of(2);
	for (int i = 0; q != 0 && i < SIM_WAIT_MS / 50; i++) {
		usleep(50000);
		q = vt_queued_of(2);
	}
	ASSERT_EQ(q, 0);
}

/* The seqpacket: round: the driver is `sink`'s server. */
static void seqpacket_round(int ls)
{
	char line[128];
	struct vt_role wr;
	vt_spawn(&wr, 2, "sinksender", NULL);
	int s[2];
	for (int i = 0; i < 2; i++) {
		struct pollfd p = {.fd = ls, .events = POLLIN};
		ASSERT_EQ(poll(&p, 1, SIM_WAIT_MS), 1);
		s[i] = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
		ASSERT_TRUE(s[i] >= 0);
	}
	sim_expect(wr.from, "opened", line, sizeof line);
	parts_then_finish(&wr);
	static unsigned char buf[MSG + 1];
	unsigned got[2] = {0, 0};
	char who[2] = {0, 0};
	uint64_t start = now_ms(), deadline = start + SIM_WAIT_MS;
	while (got[0] < COUNT + 1 || got[1] < COUNT + 1) {
		if (now_ms() > deadline)
			VMSG_TEST_FAIL("sink: after %d ms, %u and %u messages "
				       "of %u",
				       SIM_WAIT_MS, got[0], got[1], COUNT + 1);
		struct pollfd p[2];
		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){.fd = s[i], .events = POLLIN};
		ASSERT_TRUE(poll(p, 2, 1000) >= 0);
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t n = recv(s[i], buf, sizeof buf, 0);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				VMSG_TEST_FAIL("sink: connection %d: %s after "
					       "%u",
					       i, n ? strerror(errno) : "EOF",
					       got[i]);
			check_msg(buf, (size_t)n, i, who, got[i]);
			got[i]++;
		}
	}
	ASSERT_TRUE(who[0] != who[1]);
	printf("seqpacket: %u messages of %u bytes through each of two "
	       "bridges in %llu ms\n",
	       COUNT + 1, MSG, (unsigned long long)(now_ms() - start));
	sim_expect(wr.from, "sent", line, sizeof line);
	queued_back_to_zero();
	sim_say(wr.to, "quit");
	vt_role_done(&wr, 0);
	for (int i = 0; i < 2; i++)
		close(s[i]);
}

/* The relayed round: dom3 reads. */
static void relayed_round(void)
{
	char line[128];
	struct vt_role rd, wr;
	vt_spawn(&rd, 3, "relreader", NULL);
	sim_expect(rd.from, "offered", line, sizeof line);
	uint64_t start = now_ms();
	vt_spawn(&wr, 2, "relsender", NULL);
	sim_expect(wr.from, "opened", line, sizeof line);
	parts_then_finish(&wr);
	sim_expect(rd.from, "read", line, sizeof line);
	printf("relayed: %u messages of %u bytes through each of two "
	       "channels in %llu ms\n",
	       COUNT + 1, MSG, (unsigned long long)(now_ms() - start));
	sim_expect(wr.from, "sent", line, sizeof line);
	queued_back_to_zero();
	sim_say(wr.to, "quit");
	vt_role_done(&wr, 0);
	sim_say(rd.to, "quit");
	vt_role_done(&rd, 0);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char conf[2048];
	snprintf(sink_path, sizeof sink_path, "%s/sink.sock", sim_dir);
	snprintf(conf, sizeof conf,
		 "[service sink]\noffer = none\nopen = 2\nmode = direct\n"
		 "ring_size = 65536\n\n"
		 "[bridge sink]\nservice = sink\nconnect = seqpacket:%s\n\n"
		 "[service rel]\noffer = 3\nopen = 2\nmode = relayed\n"
		 "ring_size = 65536\n",
		 sink_path);
	vt_write_conf_daemon("max_queued_bytes_per_domain = 65536\n", conf);

	int ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	ASSERT_TRUE(ls >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	ASSERT_TRUE(strlen(sink_path) < sizeof a.sun_path);
	memcpy(a.sun_path, sink_path, strlen(sink_path) + 1);
	ASSERT_EQ(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	ASSERT_EQ(listen(ls, 4), 0);

	vt_start_vmsgd();
	seqpacket_round(ls);
	relayed_round();
	close(ls);
	vt_stop_vmsgd();
	return 0;
}
