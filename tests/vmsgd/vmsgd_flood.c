/* vmsgd_flood: one guest keeps a fragmented message going on its control
 * channel for ever, and vmsgd goes on serving the others (issue 16,
 * defect 1: such a flood kept vmsgd's loop inside one receive call, vmsgctl
 * waited 8 s and a new guest's vmsg_ctl_open timed out).
 *
 * dom3 connects its control channel by hand, exchanges Hellos, then writes
 * a first fragment announcing 2^60 bytes (over vmsgd's limit: dropped) and
 * 8-byte continuations, keeping the 64 KiB ring full as fast as vmsgd
 * drains it. Meanwhile: vmsgctl answers within 1 s each time; dom2
 * connects, opens the relayed `echo` of dom1 within 2 s and exchanges
 * messages through it (one fragmented, checksummed). The flood must have
 * been read (several rings' worth) while all this went on, and vmsgd
 * exits 0. */
#include "vt_raw.h"

#include "frag_flood_peer.h"

#define CONF                                                              \
	"[service echo]\noffer = 1\nopen = 2\nmode = relayed\n"

#define FLOOD_MAX_NS 60000000000ull /* the flooder stops by itself then */
#define ANSWER_NS 1000000000ull     /* vmsgctl, with ASan, loaded box */
#define OPEN_NS 2000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int role_flooder(void)
{
	vmsg_chan *c = vt_raw_connect(3);
	struct flood f;
	flood_begin(&f, c, VMSG_TYPE_SVC_OPEN, 1ull << 60, 8);
	uint32_t start = f.wp;
	sim_say(vt_out, "flooding");
	uint64_t end = now_ns() + FLOOD_MAX_NS;
	for (unsigned long it = 0;; it++) {
		if (!flood_step(&f) && it % 16 == 0)
			sched_yield();
		if (it % 1024 != 0)
			continue;
		struct pollfd pf = {.fd = vt_in, .events = POLLIN};
		if (poll(&pf, 1, 0) > 0 || now_ns() > end)
			break;
	}
	char line[64];
	sim_expect(vt_in, "stop", line, sizeof line);
	/* What vmsgd took meanwhile, in rings. */
	sim_say(vt_out, "rings %u", (f.wp - start) / f.tx->size);
	vmsg_chan_close(c);
	return 0;
}

static int role_consumer(void)
{
	uint64_t t0 = now_ns();
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "echo", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	uint64_t took = now_ns() - t0;
	vt_echo_exchange(c, 20, true);
	sim_say(vt_out, "opened %llu ms", (unsigned long long)(took / 1000000));
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"flooder", role_flooder},
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	struct vt_role prov, flooder, cons;
	vt_start_with_echo(CONF, &prov);
	vt_spawn(&flooder, 3, "flooder", NULL);
	sim_expect(flooder.from, "flooding", buf, sizeof buf);

	uint64_t worst = 0;
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = now_ns();
		ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
		uint64_t took = now_ns() - t0;
		ASSERT_TRUE(strstr(buf, "DOMID") != NULL);
		if (took > worst)
			worst = took;
		usleep(100000);
	}
	printf("during the flood: vmsgctl answered within %.1f ms\n",
	       (double)worst / 1e6);
	ASSERT_LT(worst, ANSWER_NS);

	vt_spawn(&cons, 2, "consumer", NULL);
	const char *ms = sim_expect(cons.from, "opened ", buf, sizeof buf);
	printf("during the flood: dom2 connected and opened echo in %s, "
	       "messages echoed\n", ms);
	ASSERT_LT((uint64_t)atoi(ms) * 1000000u, OPEN_NS);
	vt_role_done(&cons, 0);

	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list domains"), 0);
	printf("%s", buf);
	sim_say(flooder.to, "stop");
	const char *rings = sim_expect(flooder.from, "rings ", buf, sizeof buf);
	printf("vmsgd drained %s rings of the flood meanwhile\n", rings);
	ASSERT_GT(atoi(rings), 4);
	vt_role_done(&flooder, 0);

	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
