/* vmsgd_heldpartial: a guest's channels that each collect a large message
 * in vmsgd, at its max_queued_bytes_per_domain, go on: their parts never
 * hold each other back for good, and one held back while another
 * finishes its message goes on as soon as that message has left.
 *
 * vmsgd's bound for dom2 is the smallest there is (65536 bytes); its
 * rings are 64 KiB, so a message of MSG bytes (60000) is fragmented, and
 * vmsgd collects it whole before passing it on: as one datagram on a
 * seqpacket: bridge, as one message on a relayed channel. Two kinds of
 * channel, each in two stages, over two channels of dom2 opened together,
 * 'A's into the first and 'B's into the second:
 *  - the connect bridge `sink` (seqpacket:); the driver is its dom0
 *    server and reads both connections;
 *  - the relayed service `rel`; dom3 provides it and reads both channels.
 *
 * Stage 1, ROUNDS rounds on fresh channels, the fragments written
 * straight into the rings by dom2, each step once vmsgd has taken the
 * last (vmsgctl's queued bytes for dom2):
 *  1. 40000 bytes of A's message and 40000 of B's: vmsgd holds 80000,
 *     over the bound, each part taken while the total was under it;
 *  2. 19000 more of B's: 99000 (B finishes its message past the bound);
 *  3. the rest of A's (19000 and 1000 bytes): A is held back, B still
 *     collecting (vmsgd is given 100 ms to look);
 *  4. the last 1000 bytes of B's.
 * B's message leaves vmsgd; A's must follow at once, not at vmsgd's next
 * 500 ms tick: the median over the rounds of the time from B's arrival to
 * A's is under 100 ms (a few ms here; a quarter of a second or so when
 * only the tick resumed A). DROP_ROUNDS more rounds end step 4 another
 * way: dom2 closes B's channel, its message incomplete. B's bytes and
 * the finisher's slot are free: A's message must follow as soon, timed
 * from the close (a quarter of a second or so when a channel that left
 * resumed nobody, and only the tick did).
 * Stage 2: COUNT whole messages into each of two fresh channels from two
 * threads at once. Then the hoard (hoard() below): whole messages that
 * wait in vmsgd for a destination that reads nothing are counted against
 * it, not their writer, so the writer's other channels, and the
 * destination's own messages, go on; the rest arrive once it reads.
 * Every message must arrive whole, of its channel's letter, and all of
 * them within SIM_WAIT_MS; after each round and stage vmsgctl shows dom2's
 * queued bytes back at 0.
 *
 * vmsgd held every end back at the bound, one part-way through a message
 * too: after step 1 the two parts held each other back for ever, neither
 * message completing, so neither buffer could be freed (both kinds: "0
 * and 0 messages"); and a message leaving through a seqpacket: socket or
 * a relayed channel resumed nobody (only a stream bridge's socket write
 * and the tick did). */
#include "vt_proc.h"

#include <pthread.h>

#include "frag_flood_peer.h"

#define MSG 60000u
#define ROUNDS 9      /* stage 1's rounds where B finishes its message */
#define DROP_ROUNDS 5 /* then those where dom2 closes B's channel */
#define COUNT 100u

/* Does stage 1's round end with B's channel closed, not its message? */
static bool drop_round(int round)
{
	return round >= ROUNDS;
}

/* Two ways to cut a message of MSG bytes into four fragments' data. */
static const uint32_t cut_late[4] = {20000, 20000, 19000, 1000};
static const uint32_t cut_early[4] = {8000, 20000, 20000, 12000};

static char sink_path[700];

/* Write fragments [from, to) of a message of MSG bytes of `letter`, cut
 * as `cut` says, into c's ring and publish them. The channel's own write
 * index follows, for the sends after. */
static void raw_cut(vmsg_chan *c, char letter, const uint32_t *cut, int from,
		    int to)
{
	static uint8_t buf[8 + 20000];
	struct vmsg_ring_end *e = vmsg__chan_ring(c);
	uint32_t wp = e->tx.idx;
	for (int i = from; i < to; i++) {
		uint16_t flags = (i ? VMSG_FRAME_CONT : 0) |
				 (i < 3 ? VMSG_FRAME_MORE : 0);
		uint32_t hdr = 0;
		if (i == 0) { /* the first announces the total */
			const uint64_t total = MSG;
			memcpy(buf, &total, sizeof total);
			hdr = sizeof total;
		}
		memset(buf + hdr, letter, cut[i]);
		ASSERT_TRUE(flood_put(&e->tx, &wp, 1, flags, buf,
				      hdr + cut[i]));
	}
	flood_publish(&e->tx, wp, vmsg__chan_platform(c));
	e->tx.idx = wp;
}

/* dom2's side of a step: at the driver's `word`, write fragments
 * [from, to) of c's message, then say `word` back. */
static void on_word(const char *word, vmsg_chan *c, char letter,
		    const uint32_t *cut, int from, int to)
{
	char line[64];
	sim_expect(vt_in, word, line, sizeof line);
	raw_cut(c, letter, cut, from, to);
	sim_say(vt_out, "%s", word);
}

/* The driver's side: say `word` to dom2 and wait for it back. */
static void ask(struct vt_role *wr, const char *word)
{
	char line[64];
	sim_say(wr->to, "%s", word);
	sim_expect(wr->from, word, line, sizeof line);
}

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

/* dom2, on `service`: the rounds of stage 1, each step (and the next
 * round) at the driver's word, then stage 2 ("sent" once all is in the
 * rings, closed at "quit"). A round that drops B says when it closed. */
static int sender(const char *service)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	struct sender w[2] = {{.letter = 'A'}, {.letter = 'B'}};
	for (int round = 0; round < ROUNDS + DROP_ROUNDS; round++) {
		for (int i = 0; i < 2; i++)
			w[i].c = vt_open(ctl, service);
		sim_say(vt_out, "opened");
		on_word("a-parts", w[0].c, 'A', cut_late, 0, 2);
		on_word("b-parts", w[1].c, 'B', cut_late, 0, 2);
		on_word("more", w[1].c, 'B', cut_late, 2, 3);
		on_word("a-rest", w[0].c, 'A', cut_late, 2, 4);
		if (drop_round(round)) {
			sim_expect(vt_in, "b-drop", line, sizeof line);
			uint64_t at = vt_now_ms();
			vmsg_service_close(ctl, w[1].c);
			w[1].c = NULL;
			sim_say(vt_out, "b-drop %llu", (unsigned long long)at);
		} else {
			on_word("b-last", w[1].c, 'B', cut_late, 3, 4);
		}
		sim_expect(vt_in, "close", line, sizeof line);
		for (int i = 0; i < 2; i++)
			if (w[i].c)
				vmsg_service_close(ctl, w[i].c);
		sim_say(vt_out, "closed");
		/* Once the driver has seen vmsgd hold nothing of ours. */
		sim_expect(vt_in, "next", line, sizeof line);
	}
	for (int i = 0; i < 2; i++)
		w[i].c = vt_open(ctl, service);
	sim_say(vt_out, "opened");
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

/* Channel i's message: MSG bytes of 'A' + i. */
static void check_msg(const char *what, int i, const void *data, size_t n)
{
	const unsigned char *b = data;
	if (n != MSG)
		VMSG_TEST_FAIL("%s: channel %c: a message of %zu bytes", what,
			       'A' + i, n);
	for (size_t k = 0; k < n; k++)
		if (b[k] != 'A' + i)
			VMSG_TEST_FAIL("%s: channel %c: byte %zu is %#x", what,
				       'A' + i, k, b[k]);
}

/* A message of MSG bytes, all 'A' or all 'B': which (0 or 1). */
static int letter_of(const char *what, const unsigned char *buf, size_t n)
{
	int l = n ? buf[0] - 'A' : -1;
	if (l != 0 && l != 1)
		VMSG_TEST_FAIL("%s: a message of %zu bytes starting %#x", what,
			       n, n ? buf[0] : 0);
	check_msg(what, l, buf, n);
	return l;
}

/* The next message from socket s (c NULL) or channel c into buf: its
 * length, or 0 when there is none now. */
static size_t next_msg(const char *what, int s, vmsg_chan *c,
		       unsigned char *buf, size_t cap)
{
	if (c) {
		int n = vmsg_chan_recv(c, NULL, buf, cap, 0);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			VMSG_TEST_FAIL("%s: %s", what,
				       n ? vmsg_strerror(n) : "empty message");
		return (size_t)n;
	}
	ssize_t n = recv(s, buf, cap, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		VMSG_TEST_FAIL("%s: %s", what, n ? strerror(errno) : "EOF");
	return (size_t)n;
}

/* Read the messages of two sources until want[l] of each letter l came
 * (source l, which carries letter l, is not read when want[l] is 0);
 * at[l]: when the first of letter l did. Sources: the seqpacket sockets s
 * (c NULL) or the channels c. */
static void read_each(const char *what, const int *s, vmsg_chan **c,
		      const unsigned *want, uint64_t *at)
{
	static unsigned char buf[MSG + 1];
	unsigned got[2] = {0, 0};
	uint64_t deadline = vt_now_ms() + SIM_WAIT_MS;
	while (got[0] < want[0] || got[1] < want[1]) {
		if (vt_now_ms() > deadline)
			VMSG_TEST_FAIL("%s: after %d ms, %u A and %u B messages "
				       "of %u and %u",
				       what, SIM_WAIT_MS, got[0], got[1],
				       want[0], want[1]);
		struct pollfd p[2];
		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){
				.fd = !want[i] ? -1
				      : c      ? vmsg_chan_fd(c[i])
					       : s[i],
				.events = POLLIN};
		ASSERT_TRUE(poll(p, 2, 100) >= 0);
		for (int i = 0; i < 2; i++) {
			if (!want[i])
				continue;
			if (c)
				(void)vmsg_chan_ack(c[i]);
			/* All there is now: the event is taken. */
			size_t n;
			while ((n = next_msg(what, c ? -1 : s[i],
					     c ? c[i] : NULL, buf,
					     sizeof buf)) > 0) {
				int l = letter_of(what, buf, n);
				if (got[l]++ == 0 && at)
					at[l] = vt_now_ms();
			}
		}
	}
	if (got[0] != want[0] || got[1] != want[1])
		VMSG_TEST_FAIL("%s: %u A and %u B messages, %u and %u wanted",
			       what, got[0], got[1], want[0], want[1]);
}

/* read_each, `want` of both letters. */
static void read_both(const char *what, const int *s, vmsg_chan **c,
		      unsigned want, uint64_t *at)
{
	const unsigned w[2] = {want, want};
	read_each(what, s, c, w, at);
}

/* A round's messages: A's, and B's unless the round drops it; at[l]: when
 * each came. */
static void read_round(const char *what, int round, const int *s,
		       vmsg_chan **c, uint64_t *at)
{
	const unsigned w[2] = {1, drop_round(round) ? 0 : 1};
	at[1] = 0;
	read_each(what, s, c, w, at);
}

/* dom3: provides `rel`; per round takes two channels, reads a message
 * from each (from A's only in a round that drops B) and says "at A B"
 * (when they came, vt_now_ms; B 0 when dropped); then stage 2's two,
 * COUNT from each; "read", closed at "quit". */
static int role_rel_reader(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vt_offer(ctl, "rel");
	sim_say(vt_out, "offered");
	vmsg_chan *c[2];
	for (int round = 0; round <= ROUNDS + DROP_ROUNDS; round++) {
		for (int i = 0; i < 2; i++)
			c[i] = vt_accept(ctl);
		if (round == ROUNDS + DROP_ROUNDS)
			break;
		uint64_t at[2];
		read_round("rel", round, NULL, c, at);
		sim_say(vt_out, "at %llu %llu", (unsigned long long)at[0],
			(unsigned long long)at[1]);
		for (int i = 0; i < 2; i++)
			vmsg_service_close(ctl, c[i]);
	}
	read_both("rel", NULL, c, COUNT, NULL);
	sim_say(vt_out, "read");
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < 2; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

/* ---- the hoard: a destination that does not read ------------------ */

#define NH 4     /* channels A, B, C, D */
#define FAIR_N 3 /* whole messages each of dom2 and dom3 send to dom4 */

/* Receive message k of channel c, which must be MSG bytes of `letter`
 * within SIM_WAIT_MS. */
static void recv_whole(const char *what, vmsg_chan *c, char letter, int k)
{
	static unsigned char buf[MSG + 1];
	int n = vmsg_chan_recv(c, NULL, buf, sizeof buf, SIM_WAIT_MS);
	if (n < 0)
		VMSG_TEST_FAIL("%s: channel %c, message %d: %s", what, letter,
			       k + 1, vmsg_strerror(n));
	check_msg(what, letter - 'A', buf, (size_t)n);
}

/* At the driver's "quit": close the n channels c, `extra` (may be NULL)
 * and the control channel; the role's status. */
static int quit_closing(vmsg_ctl *ctl, vmsg_chan **c, int n,
			vmsg_chan *extra)
{
	char line[64];
	sim_expect(vt_in, "quit", line, sizeof line);
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, c[i]);
	if (extra)
		vmsg_service_close(ctl, extra);
	vmsg_ctl_close(ctl);
	return 0;
}

/* At the driver's "f": FAIR_N whole messages of `letter` into c (each
 * fragmented, so collected in vmsgd), then "f" back. */
static void fair_send(vmsg_chan *c, char letter)
{
	static unsigned char buf[MSG];
	char line[64];
	sim_expect(vt_in, "f", line, sizeof line);
	memset(buf, letter, sizeof buf);
	for (int k = 0; k < FAIR_N; k++) {
		int r = vmsg_chan_send(c, 1, buf, sizeof buf, 0, SIM_WAIT_MS);
		if (r != (int)MSG)
			VMSG_TEST_FAIL("fair: message %c%d: %s", letter,
				       k + 1, vmsg_strerror(r));
	}
	sim_say(vt_out, "f");
}

/* dom2: opens `hoard` NH times and `fair` once; at each word of the
 * driver writes the next part: "m1" a whole message into each channel,
 * then "a", "b", "c", "d" the first part of a second one into A (8000
 * bytes), B (40000), C (40000), D (8000), then "ra" all but the last
 * fragment of A's (40000), "rb" the rest of B's, "ra2" A's last (12000),
 * "rc", "rd" the rest of C's and D's, then "f" FAIR_N messages into
 * `fair`; closed at "quit". */
static int role_hoarder(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c[NH];
	for (int i = 0; i < NH; i++)
		c[i] = vt_open(ctl, "hoard");
	vmsg_chan *fair = vt_open(ctl, "fair");
	sim_say(vt_out, "opened");
	sim_expect(vt_in, "m1", line, sizeof line);
	for (int i = 0; i < NH; i++)
		raw_cut(c[i], (char)('A' + i), cut_late, 0, 4);
	sim_say(vt_out, "m1");
	/* The second messages: A and D cut early (a first part of 8000
	 * bytes), B and C late (two fragments, 40000). */
	static const char *const first[NH] = {"a", "b", "c", "d"};
	static const char *const rest[NH] = {"ra", "rb", "rc", "rd"};
	const uint32_t *cut[NH] = {cut_early, cut_late, cut_late, cut_early};
	const int split[NH] = {1, 2, 2, 1};
	for (int i = 0; i < NH; i++)
		on_word(first[i], c[i], (char)('A' + i), cut[i], 0, split[i]);
	/* A's rest in two steps: B's comes while A's is still incomplete. */
	on_word("ra", c[0], 'A', cut[0], split[0], 3);
	on_word("rb", c[1], 'B', cut[1], split[1], 4);
	on_word("ra2", c[0], 'A', cut[0], 3, 4);
	for (int i = 2; i < NH; i++)
		on_word(rest[i], c[i], (char)('A' + i), cut[i], split[i], 4);
	fair_send(fair, 'F');
	return quit_closing(ctl, c, NH, fair);
}

/* dom3: provides `hoard`, takes NH channels and reads nothing (a first
 * message fills each ring) until "read"; meanwhile, at "f", sends FAIR_N
 * messages into `fair`, which it opened; at "read" takes two messages
 * from each hoard channel, in turn, waiting for each; "read". */
static int role_hoard_reader(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vt_offer(ctl, "hoard");
	vmsg_chan *fair = vt_open(ctl, "fair");
	sim_say(vt_out, "offered");
	vmsg_chan *c[NH];
	for (int i = 0; i < NH; i++)
		c[i] = vt_accept(ctl);
	sim_say(vt_out, "accepted");
	fair_send(fair, 'G');
	sim_expect(vt_in, "read", line, sizeof line);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < NH; i++)
			recv_whole("hoard", c[i], (char)('A' + i), k);
	sim_say(vt_out, "read");
	return quit_closing(ctl, c, NH, fair);
}

/* dom4: provides `fair`, takes two channels (dom3's, dom2's) and reads
 * FAIR_N messages from each as they come: "fair", or a failure if any is
 * not there within SIM_WAIT_MS; closed at "quit". */
static int role_fair_reader(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	vt_offer(ctl, "fair");
	sim_say(vt_out, "offered");
	vmsg_chan *c[2];
	for (int i = 0; i < 2; i++) {
		c[i] = vt_accept(ctl);
		sim_say(vt_out, "accepted");
	}
	for (int i = 0; i < 2; i++) /* dom3's 'G's, dom2's 'F's */
		for (int k = 0; k < FAIR_N; k++)
			recv_whole("fair", c[i], i ? 'F' : 'G', k);
	sim_say(vt_out, "fair");
	return quit_closing(ctl, c, 2, NULL);
}

static const struct vt_role_fn roles[] = {
	{"sinksender", role_sink_sender},
	{"relsender", role_rel_sender},
	{"relreader", role_rel_reader},
	{"hoarder", role_hoarder},
	{"hoardreader", role_hoard_reader},
	{"fairreader", role_fair_reader},
	{NULL, NULL},
};

/* Wait until vmsgd holds `want` bytes of dom2's (within half the time
 * dom2 waits for the next step, so that this says what it saw). */
static void queued_is(unsigned long long want)
{
	unsigned long long q = vt_queued_of(2);
	for (int i = 0; q != want && i < SIM_WAIT_MS / 40; i++) {
		usleep(20000);
		q = vt_queued_of(2);
	}
	if (q != want) {
		static char buf[1 << 16];
		(void)vt_ctl(buf, sizeof buf, "list channels");
		fprintf(stderr, "vmsgctl list channels:\n%s\n", buf);
		VMSG_TEST_FAIL("vmsgd holds %llu bytes of dom2's, not %llu", q,
			       want);
	}
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* Print what the n gaps v measured and return their median. */
static long long median_ms(const char *kind, const char *what, long long *v,
			   int n)
{
	printf("%s: %s, ms:", kind, what);
	for (int i = 0; i < n; i++)
		printf(" %lld", v[i]);
	qsort(v, (size_t)n, sizeof v[0], cmp_ll);
	printf(" (median %lld)\n", v[n / 2]);
	return v[n / 2];
}

/* One kind of channel, both stages: the driver reads the bridge's
 * connections from ls, or dom3 (rd) reads the relayed channels. */
static void run_kind(const char *kind, int ls, struct vt_role *rd)
{
	char line[128];
	struct vt_role wr;
	int s[2] = {-1, -1};
	long long gap[ROUNDS], dropgap[DROP_ROUNDS];
	vt_spawn(&wr, 2, rd ? "relsender" : "sinksender", NULL);
	for (int round = 0; round <= ROUNDS + DROP_ROUNDS; round++) {
		for (int i = 0; !rd && i < 2; i++) {
			struct pollfd p = {.fd = ls, .events = POLLIN};
			ASSERT_EQ(poll(&p, 1, SIM_WAIT_MS), 1);
			s[i] = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
			ASSERT_TRUE(s[i] >= 0);
		}
		sim_expect(wr.from, "opened", line, sizeof line);
		if (round == ROUNDS + DROP_ROUNDS)
			break;
		ask(&wr, "a-parts");
		ask(&wr, "b-parts");
		queued_is(80000);
		ask(&wr, "more");
		queued_is(99000);
		ask(&wr, "a-rest");
		usleep(100000); /* vmsgd looks at A: held back */
		uint64_t at[2], dropped = 0;
		if (drop_round(round)) {
			sim_say(wr.to, "b-drop");
			dropped = strtoull(sim_expect(wr.from, "b-drop ", line,
						      sizeof line),
					   NULL, 10);
		} else {
			ask(&wr, "b-last");
		}
		if (rd) {
			char *p;
			at[0] = strtoull(sim_expect(rd->from, "at ", line,
						    sizeof line),
					 &p, 10);
			at[1] = strtoull(p, NULL, 10);
		} else {
			read_round(kind, round, s, NULL, at);
		}
		if (drop_round(round))
			dropgap[round - ROUNDS] = (long long)(at[0] - dropped);
		else
			gap[round] = (long long)(at[0] - at[1]);
		sim_say(wr.to, "close");
		sim_expect(wr.from, "closed", line, sizeof line);
		for (int i = 0; !rd && i < 2; i++)
			close(s[i]);
		queued_is(0);
		sim_say(wr.to, "next");
	}
	ASSERT_LT(median_ms(kind, "A's message after B's", gap, ROUNDS), 100);
	ASSERT_LT(median_ms(kind, "A's message after B's channel closed",
			    dropgap, DROP_ROUNDS),
		  100);

	uint64_t start = vt_now_ms();
	if (rd)
		sim_expect(rd->from, "read", line, sizeof line);
	else
		read_both(kind, s, NULL, COUNT, NULL);
	printf("%s: %u messages of %u bytes through each of two channels "
	       "at once in %llu ms\n",
	       kind, COUNT, MSG, (unsigned long long)(vt_now_ms() - start));
	sim_expect(wr.from, "sent", line, sizeof line);
	queued_is(0);
	sim_say(wr.to, "quit");
	vt_role_done(&wr, 0);
	for (int i = 0; !rd && i < 2; i++)
		close(s[i]);
}

/* How many times vmsgctl's answer to `args` holds `needle`. */
static int count_of(const char *args, const char *needle)
{
	static char out[1 << 16];
	int n = 0;
	if (vt_ctl(out, sizeof out, args) != 0)
		return -1;
	for (const char *p = out; (p = strstr(p, needle)) != NULL;
	     p += strlen(needle))
		n++;
	return n;
}

/* Wait until vmsgd holds `want` bytes waiting for dom3 to read. */
static void waiting_is(unsigned long long want)
{
	unsigned long long w = vt_domain_uint(3, "waiting_bytes");
	for (int i = 0; w != want && i < SIM_WAIT_MS / 40; i++) {
		usleep(20000);
		w = vt_domain_uint(3, "waiting_bytes");
	}
	if (w != want)
		VMSG_TEST_FAIL("vmsgd holds %llu bytes waiting for dom3, not "
			       "%llu",
			       w, want);
}

/* The hoard: dom2's relayed channels to a dom3 that holds its rings full.
 * Each part is written once vmsgd has taken the one before; A, B and C's
 * first parts are all taken (88000 bytes, each under the bound when it
 * came), D's is not. Then A goes on past the bound, and B's rest, which
 * comes while A's message is incomplete, is held back. A's message
 * whole stays in vmsgd (dom3's ring is full), now dom3's to count
 * (waiting for it to read), not dom2's. So dom2's slot for finishing a
 * message past the bound is free again: B is resumed and finishes its
 * message, then C (under the bound by then), which wait for dom3 too:
 * dom2 holds nothing, 180000 wait for dom3, and D, whose reader is over
 * the bound, is not taken. A vmsgd that
 * counted the messages against dom2 held dom2 back at 140000, and with
 * it every other channel of dom2's: a consumer that reads nothing could
 * stall a provider's replies to everyone. So dom2's channel to dom4
 * carries FAIR_N messages meanwhile, and so does dom3's, whose own
 * messages its reading does not hold back. When dom3 reads, every second
 * message arrives, D's last. */
static void hoard(void)
{
	char line[64];
	struct vt_role rd, wr, fr;
	vt_spawn(&fr, 4, "fairreader", NULL);
	sim_expect(fr.from, "offered", line, sizeof line);
	vt_spawn(&rd, 3, "hoardreader", NULL);
	sim_expect(rd.from, "offered", line, sizeof line);
	sim_expect(fr.from, "accepted", line, sizeof line);
	vt_spawn(&wr, 2, "hoarder", NULL);
	sim_expect(wr.from, "opened", line, sizeof line);
	sim_expect(rd.from, "accepted", line, sizeof line);
	sim_expect(fr.from, "accepted", line, sizeof line);
	ask(&wr, "m1");
	/* Each first message in dom3's ring, filling it. */
	for (int i = 0; i < SIM_WAIT_MS / 50 &&
			count_of("--json list channels",
				 "\"to_provider_msgs\":1,") < NH;
	     i++)
		usleep(50000);
	ASSERT_EQ(count_of("--json list channels", "\"to_provider_msgs\":1,"),
		  NH);
	queued_is(0); /* the idle buffers freed at a tick */
	static const char *const word[NH] = {"a", "b", "c", "d"};
	static const unsigned long long after[NH] = {8000, 48000, 88000,
						     88000};
	for (int i = 0; i < NH; i++) {
		ask(&wr, word[i]);
		if (i == NH - 1)
			usleep(300000); /* vmsgd looks at D, and holds it */
		queued_is(after[i]);
	}
	/* A goes on past the bound (the one end finishing a message);
	 * B's rest comes while A's message is incomplete: held back. */
	ask(&wr, "ra");
	queued_is(128000);
	ask(&wr, "rb");
	usleep(300000); /* vmsgd looks at B, and holds it */
	queued_is(128000);
	/* A's whole: dom3's to count; B, over the bound, is resumed to
	 * finish its message (the wake-up A's leaving makes), then C. */
	ask(&wr, "ra2");
	queued_is(40000);
	waiting_is(120000);
	ask(&wr, "rc");
	queued_is(0);
	waiting_is(180000);
	ask(&wr, "rd");
	usleep(700000); /* vmsgd looks at D, and a tick passes */
	unsigned long long q = vt_queued_of(2),
			   w = vt_domain_uint(3, "waiting_bytes");
	printf("hoard: vmsgd holds %llu bytes of dom2's and %llu waiting for "
	       "dom3, whose rings are full (the bound 65536)\n",
	       q, w);
	ASSERT_EQ(q, 0);
	ASSERT_EQ(w, 180000);
	/* dom2's and dom3's messages to dom4 go on. */
	uint64_t start = vt_now_ms();
	sim_say(wr.to, "f");
	sim_say(rd.to, "f");
	sim_expect(fr.from, "fair", line, sizeof line);
	sim_expect(wr.from, "f", line, sizeof line);
	sim_expect(rd.from, "f", line, sizeof line);
	unsigned long long fair_ms = vt_now_ms() - start;
	printf("hoard: %d messages of %u bytes each from dom2 and dom3 to "
	       "dom4 in %llu ms\n",
	       FAIR_N, MSG, fair_ms);
	/* A few ms here. Counted against dom2, A's message held dom2 back
	 * until B's and C's, incomplete behind it, ran out their
	 * partial_message_ms (30 s) and their channels ended: the messages
	 * to dom4 came after about that long (with only whole messages
	 * waiting, never). */
	ASSERT_LT(fair_ms, 10000);
	ASSERT_EQ(vt_domain_uint(3, "waiting_bytes"), 180000);
	sim_say(rd.to, "read");
	sim_expect(rd.from, "read", line, sizeof line);
	queued_is(0);
	waiting_is(0);
	sim_say(wr.to, "quit");
	vt_role_done(&wr, 0);
	sim_say(rd.to, "quit");
	vt_role_done(&rd, 0);
	sim_say(fr.to, "quit");
	vt_role_done(&fr, 0);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char conf[2048], line[64];
	snprintf(sink_path, sizeof sink_path, "%s/sink.sock", sim_dir);
	snprintf(conf, sizeof conf,
		 "[service sink]\noffer = none\nopen = 2\nmode = direct\n"
		 "ring_size = 65536\n\n"
		 "[bridge sink]\nservice = sink\nconnect = seqpacket:%s\n\n"
		 "[service rel]\noffer = 3\nopen = 2\nmode = relayed\n"
		 "ring_size = 65536\n\n"
		 "[service hoard]\noffer = 3\nopen = 2\nmode = relayed\n"
		 "ring_size = 65536\n\n"
		 "[service fair]\noffer = 4\nopen = 2,3\nmode = relayed\n"
		 "ring_size = 65536\n",
		 sink_path);
	vt_write_conf_daemon("max_queued_bytes_per_domain = 65536\n", conf);

	int ls = vmsg_test_unix_listen(sink_path,
				       SOCK_SEQPACKET | SOCK_NONBLOCK);

	vt_start_vmsgd();
	run_kind("seqpacket", ls, NULL);
	struct vt_role rd;
	vt_spawn(&rd, 3, "relreader", NULL);
	sim_expect(rd.from, "offered", line, sizeof line);
	run_kind("relayed", -1, &rd);
	sim_say(rd.to, "quit");
	vt_role_done(&rd, 0);
	hoard();
	close(ls);
	vt_stop_vmsgd();
	return 0;
}
