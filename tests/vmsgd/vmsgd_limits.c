/* vmsgd_limits: a guest's limits are settings ([daemon] keys, docs/vmsgd.md
 * "Limits"), and the ones in the file are the ones applied.
 * With requests_burst = 3, requests_per_s = 1, abuse_burst = 4 and
 * abuse_per_s = 1 (the defaults are 200, 100, 100, 10), dom3 sends Offers
 * the policy refuses, one at a time, reading each answer: the first 3 (4
 * if a token came back meanwhile) get the policy's -EACCES, then -EAGAIN
 * "rate limited"; 4 or 5 rate-limited answers later its control channel
 * is reset (-EPIPE): after at most 10 Offers, where the defaults take
 * 300. vmsgctl policy shows every limit (text and JSON). */
#include "vt_raw.h"

#define DAEMON                                                            \
	"requests_per_s = 1\nrequests_burst = 3\nabuse_per_s = 1\n"         \
	"abuse_burst = 4\nmessages_per_wakeup = 8\n"
#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n"

static int role_guest(void)
{
	vmsg_chan *c = vt_raw_connect(3);
	uint32_t req;
	int32_t code;
	char text[200];
	unsigned sent = 0, denied = 0, limited = 0;
	int r = 0;
	for (; sent < 50; sent++) {
		r = send_offer(c, 10 + sent, "nope");
		if (r == -EPIPE)
			break;
		ASSERT_TRUE(r > 0);
		r = read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text);
		if (r == -EPIPE)
			break;
		ASSERT_EQ(r, 0);
		ASSERT_EQ(req, 10 + sent);
		if (code == -EACCES) {
			ASSERT_EQ(limited, 0); /* the policy's, before the rate */
			denied++;
		} else {
			ASSERT_EQ(code, -EAGAIN);
			ASSERT_TRUE(strstr(text, "rate limited") != NULL);
			limited++;
		}
	}
	ASSERT_EQ(r, -EPIPE);
	vmsg_chan_close(c);
	sim_say(vt_out, "reset after %u Offers: %u denied, %u rate limited",
		sent, denied, limited);
	/* The burst, give or take a token refilled meanwhile (1 a second). */
	ASSERT_TRUE(denied >= 3 && denied <= 5);
	ASSERT_TRUE(limited >= 4 && limited <= 6);
	ASSERT_TRUE(sent <= 10);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"guest", role_guest},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	static char buf[1 << 16];
	vt_write_conf_daemon(DAEMON, CONF);
	vt_start_vmsgd();

	ASSERT_EQ(vt_ctl(buf, sizeof buf, "policy"), 0);
	static const char *const want[] = {
		"\nrequests_per_s 1\n", "\nrequests_burst 3\n",
		"\nabuse_per_s 1\n", "\nabuse_burst 4\n", "\nlog_per_s 1\n",
		"\nlog_burst 5\n", "\nmessages_per_wakeup 8\n"};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(buf, want[i]))
			VMSG_TEST_FAIL("vmsgctl policy lacks '%s':\n%s",
				       want[i] + 1, buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json policy"), 0);
	ASSERT_TRUE(strstr(buf, "\"requests_burst\":3") != NULL);
	ASSERT_TRUE(strstr(buf, "\"messages_per_wakeup\":8") != NULL);

	struct vt_role g;
	vt_spawn(&g, 3, "guest", NULL);
	printf("guest: %s\n", sim_expect(g.from, "reset after", buf, sizeof buf));
	vt_role_done(&g, 0);
	vt_stop_vmsgd();
	return 0;
}
