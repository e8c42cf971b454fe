/* vmsgd_queuedcount: vmsgd's running totals of a guest's queued bytes
 * (bounds.c: each relayed end reports what its reassembly buffer holds
 * after each copy turn, and leaves the total when its channel goes) come
 * back to 0 once every channel has closed, whatever the channels held
 * when they closed, and never differ from a recount of the channels.
 *
 * dom1 echoes (relayed `echo`); dom2, ROUNDS times, opens CHANS channels,
 * sends a fragmented message of BIG bytes on each and reads its echo back
 * (so vmsgd's buffers of both directions keep its pages until a trim),
 * then on every other channel starts a MAX_MSG message with a timeout of
 * 0, which stops at a full ring and leaves vmsgd holding an incomplete
 * message of dom2's (one that vmsgd drained whole meanwhile is echoed
 * and read back instead). The driver sees dom2's queued bytes above 0 in
 * `vmsgctl --json list domains`, dom2 closes every channel, and once no
 * channel is listed both domains' queued bytes must be 0 at once (a
 * delta forgotten on close would stay counted for ever, and hold the
 * guest back as if it were at its bound).
 *
 * vmsgd runs with VMSGD_CHECK_QUEUED=1 (vt_start_vmsgd): at each tick it
 * recounts every domain from its channels and aborts on a difference; so
 * a change a transport did not report fails the test too (vmsgd does not
 * exit 0 at the end, or vmsgctl stops answering). */
#include "vmsgd_test.h"

#define ROUNDS 10u
#define CHANS 8u         /* at once: the echo provider takes 16 */
#define BIG 200000u      /* several frames through 64 KiB rings */
#define MAX_MSG 1048576u

#define CONF                                                          \
	"[service echo]\noffer = 1\nopen = 2\nmode = relayed\n"       \
	"max_channels_per_domain = 16\nring_size = 65536\n"           \
	"max_msg = 1048576\n"

static unsigned char out[MAX_MSG], in[ECHO_MAX_MSG];

static void fill(unsigned i, size_t len)
{
	for (size_t j = 0; j < len; j++)
		out[j] = (unsigned char)(i * 131u + j * 7u + (j >> 11));
}

static int role_churn(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	for (unsigned round = 0; round < ROUNDS; round++) {
		vmsg_chan *c[CHANS];
		for (unsigned i = 0; i < CHANS; i++)
			c[i] = vt_open(ctl, "echo");
		for (unsigned i = 0; i < CHANS; i++) {
			fill(i + round, BIG);
			ASSERT_EQ(vmsg_chan_send(c[i], (uint16_t)(0x300 + i), out,
						 BIG, 0, SIM_WAIT_MS),
				  (int)BIG);
			uint16_t t;
			ASSERT_EQ(vmsg_chan_recv(c[i], &t, in, sizeof in,
						 SIM_WAIT_MS),
				  (int)BIG);
			ASSERT_EQ(t, 0x300 + i);
			ASSERT_EQ(memcmp(in, out, BIG), 0);
		}
		/* Messages left incomplete in vmsgd: the send stops at the
		 * full ring and is never taken up again. */
		unsigned partial = 0;
		for (unsigned i = 0; i < CHANS; i += 2) {
			fill(i + 77u, MAX_MSG);
			int r = vmsg_chan_send(c[i], 0x400, out, MAX_MSG, 0, 0);
			if (r == -EAGAIN) {
				partial++;
				continue;
			}
			/* vmsgd drained it all meanwhile: take the echo (the
			 * provider must not find us gone). */
			ASSERT_EQ(r, (int)MAX_MSG);
			uint16_t t;
			ASSERT_EQ(vmsg_chan_recv(c[i], &t, in, sizeof in,
						 SIM_WAIT_MS),
				  (int)MAX_MSG);
			ASSERT_EQ(memcmp(in, out, MAX_MSG), 0);
		}
		sim_say(vt_out, "partial %u", partial);
		sim_expect(vt_in, "close", line, sizeof line);
		for (unsigned i = 0; i < CHANS; i++)
			vmsg_service_close(ctl, c[i]);
		sim_say(vt_out, "closed");
		sim_expect(vt_in, "next", line, sizeof line);
	}
	sim_say(vt_out, "done");
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"churn", role_churn},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	setvbuf(stdout, NULL, _IONBF, 0);
	char buf[256];
	struct vt_role prov, snd;
	vt_start_with_echo(CONF, &prov);
	vt_spawn(&snd, 2, "churn", NULL);

	unsigned partial_rounds = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		sim_expect(snd.from, "partial", buf, sizeof buf);
		unsigned partial = (unsigned)atoi(buf + strlen("partial "));
		unsigned long long q = 0;
		/* vmsgd reads what dom2 left in its rings on its own time:
		 * wait for it to show (bounded). */
		for (int i = 0; partial && i < SIM_WAIT_MS / 50; i++) {
			if ((q = vt_queued_of(2)) > 0)
				break;
			usleep(50000);
		}
		printf("round %u: %u incomplete messages, dom2 queued %llu "
		       "bytes\n",
		       round, partial, q);
		if (partial) {
			ASSERT_TRUE(q > 0);
			partial_rounds++;
		}
		sim_say(snd.to, "close");
		sim_expect(snd.from, "closed", buf, sizeof buf);
		vt_ctl_wait("--json list channels", "\"service\":\"echo\"", 0);
		/* Unlisted and uncounted in the same step (relay_detach). */
		unsigned long long q2 = vt_queued_of(2), q1 = vt_queued_of(1);
		printf("round %u: every channel closed: dom1 queued %llu, "
		       "dom2 queued %llu\n",
		       round, q1, q2);
		ASSERT_EQ(q2, 0);
		ASSERT_EQ(q1, 0);
		sim_say(snd.to, "next");
	}
	ASSERT_TRUE(partial_rounds > 0);
	sim_expect(snd.from, "done", buf, sizeof buf);
	sim_say(snd.to, "quit");
	vt_role_done(&snd, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd(); /* exit 0: the check never aborted */
	return 0;
}
