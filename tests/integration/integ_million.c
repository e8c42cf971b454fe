/* integ_million: one million small messages (8..64 B, each carrying its
 * sequence number and bytes derived from it) arrive with no loss,
 * duplication or reordering. The sender batches runs of them with
 * VMSG_SEND_MORE, ending each run either with a plain send or with
 * vmsg_chan_flush(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

#define COUNT 1000000u
#define CALL_TIMEOUT_MS 30000

/* The length and contents of message `seq`: both sides compute them. */
static size_t msg_len(uint64_t seq)
{
	return 8 + (size_t)((seq * 0x9e3779b97f4a7c15ull) >> 58) % 57;
}

static void msg_fill(uint64_t seq, uint8_t *b)
{
	size_t n = msg_len(seq);

	memcpy(b, &seq, 8);
	for (size_t i = 8; i < n; i++)
		b[i] = (uint8_t)(seq * 31u + i);
}

static int sender(void *arg)
{
	const char *path = arg;
	uint64_t rnd = 42, batched = 0, flushes = 0;
	uint8_t b[64];
	vmsg_chan *c;
	int r;

	r = integ_connect(&c, path, NULL, 20000);
	if (r < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	for (uint64_t seq = 0; seq < COUNT;) {
		/* a run of 1..32 messages; half the runs are batched */
		uint64_t run = 1 + vmsg_test_rand(&rnd) % 32;
		bool batch = vmsg_test_rand(&rnd) & 1;
		bool by_flush = vmsg_test_rand(&rnd) & 1;

		for (uint64_t i = 0; i < run && seq < COUNT; i++, seq++) {
			bool last = i + 1 == run || seq + 1 == COUNT;
			unsigned fl = batch && !(last && !by_flush)
					      ? VMSG_SEND_MORE : 0;

			msg_fill(seq, b);
			r = vmsg_chan_send(c, INTEG_TYPE, b, msg_len(seq), fl,
					   CALL_TIMEOUT_MS);
			if (r != (int)msg_len(seq))
				VMSG_TEST_FAIL("send %llu: %s",
					       (unsigned long long)seq,
					       vmsg_strerror(r));
			batched += fl != 0;
		}
		if (batch && by_flush) {
			r = vmsg_chan_flush(c);
			if (r < 0)
				VMSG_TEST_FAIL("flush: %s", vmsg_strerror(r));
			flushes++;
		}
	}
	printf("sender: %u messages, %llu sent with VMSG_SEND_MORE, "
	       "%llu flushes\n", COUNT, (unsigned long long)batched,
	       (unsigned long long)flushes);
	vmsg_chan_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	struct vmsg_chan_stats st;
	struct integ_tmp tmp;
	uint8_t b[128], want[64];
	uint64_t t0, ns, seq;
	uint16_t type;
	vmsg_chan *c;
	pid_t pid;
	int r;

	integ_init(&argc, &argv);
	/* The default receiver releases in batches (opts.rx_batch). With
	 * "rx_batch" it does so on a 4 KiB ring, so the sender blocks on a
	 * full ring again and again and must be woken by the batched
	 * announcements (every quarter ring, and before the receiver
	 * waits); with "eager" it announces every release. */
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	if (argc > 1 && strcmp(argv[1], "rx_batch") == 0)
		o.rx_ring_size = 4096;
	if (argc > 1 && strcmp(argv[1], "eager") == 0)
		o.rx_batch = false;

	integ_tmp_make(&tmp);
	pid = integ_fork(sender, tmp.path);
	r = integ_serve(&c, tmp.path, &o);
	if (r < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	r = vmsg_chan_accept(c, 20000);
	if (r < 0)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));

	t0 = integ_now_ns();
	for (seq = 0;; seq++) {
		r = vmsg_chan_recv(c, &type, b, sizeof(b), CALL_TIMEOUT_MS);
		if (r == -EPIPE)
			break;
		if (r < 0)
			VMSG_TEST_FAIL("recv %llu: %s", (unsigned long long)seq,
				       vmsg_strerror(r));
		ASSERT_LT(seq, COUNT);
		ASSERT_EQ(type, INTEG_TYPE);
		ASSERT_EQ(r, msg_len(seq));
		msg_fill(seq, want);
		if (memcmp(b, want, (size_t)r)) {
			uint64_t got;
			memcpy(&got, b, 8);
			VMSG_TEST_FAIL("message %llu: got sequence %llu or "
				       "bad bytes", (unsigned long long)seq,
				       (unsigned long long)got);
		}
	}
	ns = integ_now_ns() - t0;
	ASSERT_EQ(seq, COUNT);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	ASSERT_EQ(vmsg_chan_stats(c, &st), 0);
	ASSERT_EQ(st.rx_msgs, COUNT);
	vmsg_chan_close(c);
	ASSERT_EQ(integ_reap(pid), 0);
	integ_tmp_drop(&tmp);
	printf("receiver: %llu messages in order in %.2f s (%.0f msgs/s), "
	       "%llu sleeps, %llu kicks sent\n", (unsigned long long)seq,
	       (double)ns / 1e9, (double)seq / ((double)ns / 1e9),
	       (unsigned long long)st.sleeps,
	       (unsigned long long)st.kicks_sent);
	return 0;
}
