/* vmsgd_direct: vmsgd in dom0 brokers a direct channel. dom1 offers
 * `echo` and echoes whatever it accepts; dom2 opens it and exchanges 200
 * typed messages (one of 300000 bytes, fragmented through 64 KiB rings),
 * checksummed both ways; vmsgctl lists the domains, the service and the
 * open channel; dom2 closes, and vmsgd stops on SIGTERM with status 0. */
#include "vmsgd_test.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n" \
	     "max_channels_per_domain = 4\nring_size = 65536\n"      \
	     "max_msg = 1048576\n"

static int role_consumer(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_ctl_domid(ctl), 2);
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	ASSERT_EQ(vmsg_chan_max_msg(c), (int)ECHO_MAX_MSG);
	vt_echo_exchange(c, 200, true);
	sim_say(vt_out, "exchanged");
	sim_expect(vt_in, "close", buf, sizeof buf);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	struct vt_role prov, cons;
	vt_start_with_echo(CONF, &prov);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list services"), 0);
	ASSERT_TRUE(strstr(buf, "{\"name\":\"echo\",\"provider\":1,") != NULL);

	vt_spawn(&cons, 2, "consumer", NULL);
	sim_expect(cons.from, "exchanged", buf, sizeof buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	ASSERT_TRUE(strstr(buf, "\"service\":\"echo\",\"provider\":1,"
				"\"consumer\":2,\"state\":\"open\"") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	ASSERT_TRUE(strstr(buf, "connected") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list services"), 0);
	ASSERT_TRUE(strstr(buf, "echo") != NULL);
	printf("vmsgctl list services:\n%s", buf);

	sim_say(cons.to, "close");
	vt_role_done(&cons, 0);
	/* The consumer's close is counted: no channel left. */
	vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_ctl_wait("list services", "echo", 0);
	vt_stop_vmsgd();
	return 0;
}
