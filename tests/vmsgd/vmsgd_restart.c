/* vmsgd_restart: vmsgd is killed with SIGKILL and started again while its
 * guests run on. dom1 offers `echo` (a poller holding vmsg_ctl_fd() from
 * the start); dom2 opens it and streams. After the kill the established
 * channel keeps echoing (data never passes dom0); the restarted vmsgd
 * removes the dead one's stale keys, dom1's library reconnects and offers
 * `echo` again by itself (vmsgctl lists it), its ctl fd unchanged; dom2's
 * next open reconnects its library and gets a second working channel,
 * while the first still echoes, checksummed. dom3, whose control channel
 * the dead vmsgd had published but nobody had taken, connects while vmsgd
 * is down: its library fails fast on the stale keys and retries until the
 * new vmsgd serves. dom4 offers twelve services; its library offers all
 * twelve again to the new vmsgd (the client core is the unikernel's too,
 * whose old copy remembered eight). vmsgd exits 0 at the end. */
#include "vt_proc.h"

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n"
/* dom4 offers this many services (more than the unikernel's client used to
 * remember: it offered only 8 again after a restart). */
#define MANY 12

/* The echo provider, polling one fd it took once. */
static int role_rprovider(void)
{
	return vt_echo_provider(true);
}

static int role_consumer(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c2;
	unsigned rounds;
	/* Streams on while the driver kills and restarts vmsgd. */
	vmsg_chan *c1 = vt_stream_until_reopen(ctl, &rounds);
	int r;
	vt_echo_exchange(c1, 50, true); /* the old channel, after it all */
	r = vmsg_service_open(ctl, "echo", &c2, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open after the restart: %s (%s)",
			       vmsg_strerror(r), vmsg_ctl_error(ctl));
	vt_echo_exchange(c2, 50, true);
	vt_echo_exchange(c1, 10, false);
	sim_say(vt_out, "reopened after %u rounds", rounds);
	sim_expect(vt_in, "close", buf, sizeof buf);
	vmsg_service_close(ctl, c2);
	vmsg_service_close(ctl, c1); /* an earlier vmsgd's: no Closed */
	vmsg_ctl_close(ctl);
	return 0;
}

/* Offers svc0..svc11 and lets its library carry them across the restart
 * (accept with timeout 0 drives the reconnect, as a poller would). */
static int role_many(void)
{
	char buf[64];
	vmsg_ctl *ctl = vt_ctl_open();
	for (int i = 0; i < MANY; i++) {
		snprintf(buf, sizeof buf, "svc%d", i);
		int r = vmsg_service_offer(ctl, buf, SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("offer %s: %s (%s)", buf,
				       vmsg_strerror(r), vmsg_ctl_error(ctl));
	}
	sim_say(vt_out, "offered %d", MANY);
	for (;;) {
		struct pollfd p = {.fd = vt_in, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			break; /* "quit" */
		vmsg_chan *c;
		int r = vmsg_service_accept(ctl, &c, NULL, 0);
		if (r == 0)
			vmsg_service_close(ctl, c);
	}
	sim_expect(vt_in, "quit", buf, sizeof buf);
	vmsg_ctl_close(ctl);
	return 0;
}

/* Connects only when told, while vmsgd is down. */
static int role_late(void)
{
	char buf[64];
	sim_expect(vt_in, "connect", buf, sizeof buf);
	vmsg_ctl *ctl = vt_ctl_open();
	sim_say(vt_out, "connected");
	sim_expect(vt_in, "quit", buf, sizeof buf);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"late", role_late},
	{"many", role_many},
	{"rprovider", role_rprovider},
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	char conf[2048];
	int len = snprintf(conf, sizeof conf, "%s", CONF);
	for (int i = 0; i < MANY; i++)
		len += snprintf(conf + len, sizeof conf - (size_t)len,
				"[service svc%d]\noffer = 4\nmode = direct\n",
				i);
	vt_write_conf(conf);
	vt_start_vmsgd();

	struct vt_role prov, cons;
	vt_spawn(&prov, 1, "rprovider", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "consumer", NULL);
	sim_expect(cons.from, "streaming", buf, sizeof buf);
	vt_ctl_wait("--json list channels", "\"consumer\":2", 1);
	struct vt_role many;
	vt_spawn(&many, 4, "many", NULL);
	sim_expect(many.from, "offered", buf, sizeof buf);
	struct vt_role late;
	vt_spawn(&late, 3, "late", NULL);
	vt_ctl_wait("--json list domains", "\"domid\":3,", 1);

	pid_t vpid = vt_child_of(vt_vmsgd);
	ASSERT_EQ(kill(vpid, SIGKILL), 0);
	ASSERT_EQ(sim_wait(vt_vmsgd), 128 + SIGKILL);
	/* The dead vmsgd's socket file and xenstore keys are still there;
	 * the guests keep running (and dom1 keeps retrying). */
	sim_say(late.to, "connect"); /* meets dom3's stale keys */
	usleep(300000);
	vt_start_vmsgd();
	sim_expect(late.from, "connected", buf, sizeof buf);
	/* dom1's library found the new vmsgd and offered echo again. */
	vt_ctl_wait("--json list services",
		    "{\"name\":\"echo\",\"provider\":1,", 1);
	vt_ctl_wait("--json list domains", "\"domid\":1,", 1);
	/* And dom4's library all twelve of its services. */
	for (int i = 0; i < MANY; i++) {
		char want[64];
		snprintf(want, sizeof want,
			 "{\"name\":\"svc%d\",\"provider\":4,", i);
		vt_ctl_wait("--json list services", want, 1);
	}
	/* The new vmsgd knows nothing of the first channel. */
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	ASSERT_TRUE(strstr(buf, "\"consumer\":2") == NULL);

	sim_say(cons.to, "reopen");
	printf("consumer: %s\n",
	       sim_expect(cons.from, "reopened", buf, sizeof buf));
	vt_ctl_wait("--json list channels", "\"consumer\":2", 1);
	sim_say(cons.to, "close");
	vt_role_done(&cons, 0);
	vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	sim_say(late.to, "quit");
	vt_role_done(&late, 0);
	sim_say(many.to, "quit");
	vt_role_done(&many, 0);
	vt_stop_vmsgd();
	return 0;
}
