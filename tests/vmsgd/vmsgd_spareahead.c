/* vmsgd_spareahead: a spare announced to its consumer (Spare) is mapped
 * and bound while vmsgd answers the Open that takes it (docs/protocol.md,
 * "Spare channels"; lib/service/ahead.c). dom1 is the echo provider;
 * dom2's process ("ahead") opens `echo` (spare = yes) twice, then once
 * more, talking on each channel.
 *
 * 1. Taken. Once vmsgd lists the spare served (it has sent dom2 Spare),
 *    vmsgd is stopped (SIGSTOP) and dom2 opens again: its process maps
 *    the spare's pages while vmsgd cannot answer (/proc/PID/maps: two
 *    more mappings, the control page and the ring pages, before vmsgd
 *    goes on), and once vmsgd answers, the open comes in on that very
 *    channel (vmsgctl lists the spare's id open) and it talks. Without
 *    the Spare, the pages are mapped only after the Opened.
 * 2. Not taken. The spare after it is served, then a reload changes the
 *    service's ring size, so vmsgd's answer to dom2's next Open is a new
 *    channel, not the spare: what dom2 mapped ahead is given up, and the
 *    channel vmsgd answered with (its rings the new size) talks.
 */
#include "vmsgd_test.h"
#include "vt_proc.h"

#define CONF_RING(r)                                                           \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\nspare = yes\n"    \
	"max_channels_per_domain = 8\nring_size = " r "\n"

/* dom2: open and talk on each "next"; "quit" ends. */
static int role_ahead(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	sim_say(vt_out, "pid %d", (int)getpid());
	vmsg_chan *c[4];
	int n = 0;
	for (;;) {
		sim_hear(vt_in, b, sizeof b);
		if (!strcmp(b, "quit"))
			break;
		ASSERT_TRUE(!strcmp(b, "next") && n < 4);
		c[n] = vt_open(ctl, "echo");
		vt_echo_exchange(c[n], 5, false);
		uint32_t rx = 0, tx = 0;
		ASSERT_EQ(vmsg_chan_ring_sizes(c[n], &rx, &tx), 0);
		sim_say(vt_out, "opened %d ring %u", n, (unsigned)rx);
		n++;
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static int maps_of(int pid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		VMSG_TEST_FAIL("dom2's process (%d) is gone", pid);
	int n = 0;
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n;
}

static const struct vt_role_fn roles[] = {
	{"ahead", role_ahead},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role prov, cons;
	vt_start_with_echo(CONF_RING("65536"), &prov);
	vt_spawn(&cons, 2, "ahead", NULL);
	const char *p = sim_expect(cons.from, "pid ", buf, sizeof buf);
	const int pid = atoi(p);
	sim_say(cons.to, "next");
	sim_expect(cons.from, "opened 0", buf, sizeof buf);

	/* 1 */
	unsigned spare = vt_wait_chan_in("echo", "spare");
	const int before = maps_of(pid);
	const pid_t vpid = vt_child_of(vt_vmsgd);
	ASSERT_EQ(kill(vpid, SIGSTOP), 0);
	sim_say(cons.to, "next");
	/* 10 s: well inside the open's own wait (SIM_WAIT_MS), which
	 * vmsgd, stopped, lets run. */
	int during = before;
	for (int i = 0; i < 1000 && during < before + 2; i++) {
		usleep(10000);
		during = maps_of(pid);
	}
	ASSERT_EQ(kill(vpid, SIGCONT), 0);
	printf("1: dom2's mappings %d before its open, %d while vmsgd was "
	       "stopped\n",
	       before, during);
	if (during < before + 2)
		VMSG_TEST_FAIL("dom2 mapped nothing of spare %u while vmsgd "
			       "answered its open (%d mappings, %d before)",
			       spare, during, before);
	sim_expect(cons.from, "opened 1", buf, sizeof buf);
	if (!vt_in_state(spare, "open")) {
		vt_ctl(buf, sizeof buf, "list channels");
		VMSG_TEST_FAIL("the open did not take spare %u:\n%s", spare,
			       buf);
	}
	printf("1: the open took spare %u, mapped ahead\n", spare);

	/* 2 */
	unsigned next = vt_wait_chan_in("echo", "spare");
	vt_write_conf(CONF_RING("32768"));
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
	sim_say(cons.to, "next");
	p = sim_expect(cons.from, "opened 2 ring ", buf, sizeof buf);
	if (vt_in_state(next, "open"))
		VMSG_TEST_FAIL("spare %u taken under a policy it no longer "
			       "fits", next);
	/* Its rings are the new policy's: the channel vmsgd answered with,
	 * not the one mapped ahead. */
	if (atoi(p) != 32768)
		VMSG_TEST_FAIL("dom2's third channel has %s-byte rings, not "
			       "the 32768 vmsgd's answer has: it came in on "
			       "the spare mapped ahead",
			       p);
	printf("2: spare %u not taken; the channel vmsgd answered with "
	       "talks\n",
	       next);

	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
