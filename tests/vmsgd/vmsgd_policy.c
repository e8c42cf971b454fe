/* vmsgd_policy: the default-deny policy and its reload.
 *  - a config with an error makes vmsgd exit 2 naming FILE:LINE;
 *  - dom3 (not in `open`) gets -EACCES and the text "service 'echo':
 *    domain 3 may not open it (policy)"; dom2 (allowed) gets a channel;
 *  - dom2 is removed from `open` and vmsgd gets SIGHUP: dom2's next open
 *    fails with -EACCES while its first channel still echoes;
 *  - a broken config on reload (SIGHUP and `vmsgctl reload`) keeps the
 *    old policy, and `vmsgctl reload` reports FILE:LINE. */
#include "vmsgd_test.h"

#define SVC(open) "[service echo]\noffer = 1\nopen = " open \
		  "\nmode = direct\nmax_channels_per_domain = 4\n"

static int role_denied(void)
{
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c = NULL;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	ASSERT_EQ(r, -EACCES);
	ASSERT_TRUE(c == NULL);
	ASSERT_EQ(strcmp(vmsg_ctl_error(ctl),
			 "service 'echo': domain 3 may not open it (policy)"),
		  0);
	/* Offering is denied too (only dom1 may). */
	ASSERT_EQ(vmsg_service_offer(ctl, "echo", SIM_WAIT_MS), -EACCES);
	ASSERT_EQ(strcmp(vmsg_ctl_error(ctl),
			 "service 'echo': domain 3 may not offer it (policy)"),
		  0);
	/* A name the policy does not know is denied alike. */
	ASSERT_EQ(vmsg_service_open(ctl, "nosuch", &c, SIM_WAIT_MS), -EACCES);
	sim_say(vt_out, "denied");
	vmsg_ctl_close(ctl);
	return 0;
}

static int role_allowed(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c, *c2;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	vt_echo_exchange(c, 20, false);
	sim_say(vt_out, "open1");
	sim_expect(vt_in, "again", buf, sizeof buf);
	r = vmsg_service_open(ctl, "echo", &c2, SIM_WAIT_MS);
	ASSERT_EQ(r, -EACCES);
	ASSERT_EQ(strcmp(vmsg_ctl_error(ctl),
			 "service 'echo': domain 2 may not open it (policy)"),
		  0);
	vt_echo_exchange(c, 20, true); /* the first channel still works */
	sim_say(vt_out, "open2 denied, first channel fine");
	sim_expect(vt_in, "close", buf, sizeof buf);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

/* vmsgd with a bad config exits 2 and names the file and line. */
static void bad_config_at_start(void)
{
	vt_write_conf(SVC("2") "ring_size = 1000\n");
	char cmd[2000], out[4096];
	snprintf(cmd, sizeof cmd, "'%s' --config '%s' --foreground 2>&1",
		 VMSGD_BIN, vt_conf);
	FILE *f = popen(cmd, "r");
	ASSERT_TRUE(f != NULL);
	size_t n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	int st = pclose(f);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 2);
	char want[800];
	/* [daemon] is 3 lines and a blank, the service 5, then ring_size. */
	snprintf(want, sizeof want, "%s:10: ring_size '1000'", vt_conf);
	if (!strstr(out, want))
		VMSG_TEST_FAIL("expected '%s' in:\n%s", want, out);
	printf("bad config at start: %s", out);
}

static const struct vt_role_fn roles[] = {
	{"denied", role_denied},
	{"allowed", role_allowed},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	bad_config_at_start();

	vt_write_conf(SVC("2"));
	vt_start_vmsgd();
	struct vt_role prov, den, ok;
	vt_spawn(&prov, 1, "provider", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);

	vt_spawn(&den, 3, "denied", NULL);
	sim_expect(den.from, "denied", buf, sizeof buf);
	vt_role_done(&den, 0);

	vt_spawn(&ok, 2, "allowed", NULL);
	sim_expect(ok.from, "open1", buf, sizeof buf);

	/* Take dom2's permission away; SIGHUP goes through xensim run. */
	vt_write_conf(SVC("4"));
	ASSERT_EQ(kill(vt_vmsgd, SIGHUP), 0);
	vt_ctl_wait("--json policy", "\"open\":\"4\"", 1);
	sim_say(ok.to, "again");
	sim_expect(ok.from, "open2 denied", buf, sizeof buf);
	/* The channel is still counted. */
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	ASSERT_TRUE(strstr(buf, "\"consumer\":2,\"state\":\"open\"") != NULL);

	/* A broken config on reload keeps the old policy. */
	vt_write_conf(SVC("2,x"));
	ASSERT_EQ(kill(vt_vmsgd, SIGHUP), 0);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 1);
	char want[800];
	snprintf(want, sizeof want, "%s:7: open = '2,x'", vt_conf);
	if (!strstr(buf, want))
		VMSG_TEST_FAIL("expected '%s' in:\n%s", want, buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json policy"), 0);
	ASSERT_TRUE(strstr(buf, "\"open\":\"4\"") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "policy"), 0);
	printf("policy kept:\n%s", buf);

	sim_say(ok.to, "close");
	vt_role_done(&ok, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
