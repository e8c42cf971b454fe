/* vmsgd_prepared: the Xen handles a process prepares ahead of its next
 * channel (docs/protocol.md, "Setup by message") are the process's,
 * shared by all its control handles:
 *
 * 1. A dom2 process opens two control handles, A and B, and opens and
 *    closes a channel on A, which prepares the handles of its next
 *    channel. Closing B takes B's own descriptors and nothing else: A's
 *    next open still finds its handles ready (it used to lose them, and
 *    open them on the clock).
 * 2. Closing A, the last, leaves the process with the descriptors it had
 *    before either: an idle process holds nothing.
 *
 * Descriptors are counted in /proc/self/fd: on the simulated Xen each
 * prepared handle is a connection to the simulator's daemon. */
#include "vmsgd_test.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n"

/* dom2: two control handles; the counts as they go. */
static int role_two(void)
{
	int n0 = vmsg_test_count_fds();
	vmsg_ctl *b = vt_ctl_open();
	int nb = vmsg_test_count_fds() - n0;
	vmsg_ctl *a = vt_ctl_open();
	vmsg_chan *c = vt_open(a, "echo");
	vt_echo_exchange(c, 5, false);
	vmsg_service_close(a, c); /* prepares the next channel's handles */
	int n1 = vmsg_test_count_fds();
	vmsg_ctl_close(b);
	int n2 = vmsg_test_count_fds();
	/* A's next channel, on the handles still prepared. */
	c = vt_open(a, "echo");
	vt_echo_exchange(c, 5, false);
	vmsg_service_close(a, c);
	vmsg_ctl_close(a);
	int n3 = vmsg_test_count_fds();
	sim_say(vt_out, "fds %d %d %d %d %d", n0, nb, n1, n2, n3);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"two", role_two},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role prov, two;
	vt_start_with_echo(CONF, &prov);

	vt_spawn(&two, 2, "two", NULL);
	sim_expect(two.from, "fds", buf, sizeof buf);
	vt_role_done(&two, 0);
	int n0, nb, n1, n2, n3;
	ASSERT_EQ(sscanf(buf, "fds %d %d %d %d %d", &n0, &nb, &n1, &n2, &n3), 5);
	printf("descriptors: %d at the start, B's own %d, %d with A, B and the "
	       "prepared handles, %d after B's close, %d after A's\n",
	       n0, nb, n1, n2, n3);
	ASSERT_GT(nb, 0);
	/* 1: B's close took its own and nothing of what A prepared. */
	ASSERT_EQ(n2, n1 - nb);
	/* 2: idle, the process holds nothing of vmsg's. */
	ASSERT_EQ(n3, n0);

	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
