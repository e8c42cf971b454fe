/* vmsgd_latefd: vmsg_ctl_fd()'s epoll set and timers are made at the
 * handle's first vmsg_ctl_fd(), not with the handle (lib/service/ctl.c,
 * poll_start): a program that never polls them holds none and pays none
 * of their system calls per channel. A set made late must take in what
 * the handle holds by then:
 *
 *  1. A served channel that waits for its consumer. Handle A (offers
 *     `echo`) serves dom2's open in a blocking accept, which times out
 *     since dom2 does not connect yet; A holds no timerfd. Its first
 *     vmsg_ctl_fd() then makes the set (two timerfds), and when dom2
 *     connects the fd turns readable and accept(..., 0) hands the channel
 *     out (before: a set made with the handle watched the channel from its
 *     serve; a late set that forgot it would sleep until its 30 s connect
 *     deadline).
 *  2. A Serve that waits unread in the control channel. Handle B (offers
 *     `talk`, never polled) is asked to serve dom2's open of `talk`; once
 *     vmsgd lists it pending, B's first vmsg_ctl_fd() must poll readable
 *     at once: nothing had asked vmsgd for a kick, and vmsgd sends none.
 *
 * dom1: the provider (the library), handles A and B. dom2: a consumer
 * speaking the control protocol by hand (setup by message, not admitted,
 * so that a served channel waits for its connect).
 */
#include "vt_raw.h"

#include <dirent.h>

#define CONF                                                                   \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\n"                 \
	"[service talk]\noffer = 1\nopen = 2\nmode = direct\n"
/* A wake-up the fd owes: far inside the channel's 30 s connect deadline. */
#define WAKE_MS 5000

/* timerfds this process holds: only vmsg_ctl_fd()'s set makes them here. */
static int timerfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ASSERT_TRUE(d != NULL);
	struct dirent *e;
	char path[300], target[64];
	int n = 0;
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, target, sizeof target - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		n += strcmp(target, "anon_inode:[timerfd]") == 0;
	}
	closedir(d);
	return n;
}

/* Poll `ctl`'s fd (its first vmsg_ctl_fd() when it has none) and call
 * accept once per wake-up until a channel comes; fail if the fd stays
 * quiet for WAKE_MS. The channel gets "hello ID". */
static void take(vmsg_ctl *ctl, const char *what)
{
	struct pollfd p = {.fd = vmsg_ctl_fd(ctl), .events = POLLIN};
	ASSERT_GE(p.fd, 0);
	if (timerfds() == 0)
		VMSG_TEST_FAIL("%s: vmsg_ctl_fd() made no timers", what);
	struct vmsg_service_peer peer;
	vmsg_chan *c;
	for (;;) {
		int n = poll(&p, 1, WAKE_MS);
		ASSERT_GE(n, 0);
		if (n == 0)
			VMSG_TEST_FAIL("%s: vmsg_ctl_fd() not readable in %d "
				       "ms", what, WAKE_MS);
		int r = vmsg_service_accept(ctl, &c, &peer, 0);
		if (r == 0)
			break;
		if (r != -EAGAIN)
			VMSG_TEST_FAIL("%s: accept: %s", what,
				       vmsg_strerror(r));
	}
	char hello[32];
	int len = snprintf(hello, sizeof hello, "hello %u", peer.channel_id);
	ASSERT_EQ(vmsg_chan_send(c, 1, hello, (size_t)len + 1, 0, 0),
		  len + 1);
	sim_say(vt_out, "accepted %u", peer.channel_id);
	vmsg_service_close(ctl, c);
}

static int role_prov(void)
{
	char b[64];
	vmsg_ctl *a = vt_ctl_open(), *bh = vt_ctl_open();
	vt_offer(a, "echo");
	vt_offer(bh, "talk");
	sim_say(vt_out, "offered %d", timerfds());

	/* 1: serve dom2's open in a blocking accept; it times out, since
	 * dom2 connects only later, until the driver says it was served. */
	sim_expect(vt_in, "accept", b, sizeof b);
	struct pollfd in = {.fd = vt_in, .events = POLLIN};
	do {
		vmsg_chan *c;
		int r = vmsg_service_accept(a, &c, NULL, 100);
		if (r != -ETIMEDOUT)
			VMSG_TEST_FAIL("accept before the connect: %s",
				       r == 0 ? "a channel"
					      : vmsg_strerror(r));
	} while (poll(&in, 1, 0) == 0);
	sim_expect(vt_in, "served", b, sizeof b);
	sim_say(vt_out, "serving %d", timerfds());
	take(a, "a served channel before the first vmsg_ctl_fd()");

	/* 2: B's first vmsg_ctl_fd() while a Serve waits unread. */
	sim_expect(vt_in, "poll", b, sizeof b);
	take(bh, "a Serve unread at the first vmsg_ctl_fd()");

	sim_expect(vt_in, "quit", b, sizeof b);
	vmsg_ctl_close(bh);
	vmsg_ctl_close(a);
	return 0;
}

/* dom2: per line "open NAME": send Open, wait for the Opened and say so;
 * on "connect", connect and read the provider's hello. */
static int role_cons(void)
{
	char b[64];
	uint64_t abuf[512];
	struct vmsg_arena arena;
	vmsg_chan *ctl = vt_raw_connect_ex(2, VMSG_FEATURE_SVC_SETUP_MSG);
	vmsg_chan *ch[2];
	for (uint32_t req = 1; req <= 2; req++) {
		sim_expect(vt_in, "open", b, sizeof b);
		ASSERT_GE(send_open(ctl, req, b + 5, 0), 0);
		sim_say(vt_out, "sent");
		sim_expect(vt_in, "opened?", b, sizeof b);
		vmsg_arena_init(&arena, abuf, sizeof abuf);
		Vmsg__Service__Opened *o = vt_raw_opened(ctl, req, &arena, 0);
		sim_say(vt_out, "opened %u", o->channel_id);
		sim_expect(vt_in, "connect", b, sizeof b);
		ch[req - 1] = vt_raw_take_hello(o);
		sim_say(vt_out, "read");
	}
	sim_expect(vt_in, "quit", b, sizeof b);
	vmsg_chan_close(ch[0]);
	vmsg_chan_close(ch[1]);
	vmsg_chan_close(ctl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vt_role_fn roles[] = {
		{"prov", role_prov},
		{"cons", role_cons},
		{NULL, NULL},
	};
	vt_main(argc, argv, roles);
	char buf[256];
	int n;
	struct vt_role prov, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "prov", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "offered %d", &n), 1);
	printf("two handles open and offering, never polled: %d timerfds\n",
	       n);
	ASSERT_EQ(n, 0);
	vt_ctl_wait("list services", "talk", 1);
	vt_spawn(&cons, 2, "cons", NULL);

	/* 1 */
	sim_say(cons.to, "open echo");
	sim_expect(cons.from, "sent", buf, sizeof buf);
	sim_say(prov.to, "accept");
	sim_say(cons.to, "opened?");
	sim_expect(cons.from, "opened", buf, sizeof buf);
	printf("1: %s (served in a blocking accept; not connected)\n", buf);
	sim_say(prov.to, "served");
	sim_expect(prov.from, "serving", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf, "serving %d", &n), 1);
	printf("1: the provider holds %d timerfds with a channel served\n", n);
	ASSERT_EQ(n, 0);
	sim_say(cons.to, "connect");
	sim_expect(prov.from, "accepted", buf, sizeof buf);
	sim_expect(cons.from, "read", buf, sizeof buf);
	printf("1: the late set woke for the connect; hello read\n");

	/* 2 */
	sim_say(cons.to, "open talk");
	sim_expect(cons.from, "sent", buf, sizeof buf);
	for (int i = 0; i < SIM_WAIT_MS / 20 && vt_listed("pending") < 1; i++)
		usleep(20000);
	ASSERT_EQ(vt_listed("pending"), 1);
	sim_say(prov.to, "poll");
	sim_say(cons.to, "opened?");
	sim_expect(cons.from, "opened", buf, sizeof buf);
	sim_say(cons.to, "connect");
	sim_expect(prov.from, "accepted", buf, sizeof buf);
	sim_expect(cons.from, "read", buf, sizeof buf);
	printf("2: the late set woke for the unread Serve; hello read\n");

	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
