/* xen_throughput: byte-stream throughput over the simulated Xen, vmsg to
 * vmsg and libxenvchan to libxenvchan, measured in the same run with the
 * same rings (64 KiB each way, order 16: 16 granted pages) and the same
 * data (256 MiB each way, seeded, checksummed). The figures are printed,
 * not asserted (a loaded machine must not fail the test); the checksums
 * are asserted. Each receiver times from its first byte to its last. */
#include "xen_vchan_test.h"

#define PATH_VMSG "/local/domain/0/data/vchan/1/tput-vmsg"
#define PATH_VCHAN "/local/domain/0/data/vchan/1/tput-vchan"
#define TOTAL (256ull << 20)
#define RING 65536u

static void report(uint64_t sent, uint64_t got, uint64_t ns)
{
	sim_say(xt_out, "sums %llx %llx %.1f", (unsigned long long)sent,
		(unsigned long long)got, xt_mibs(TOTAL, ns));
}

static int vmsg_role(const char *path, bool server)
{
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	uint64_t sent, got, ns;
	char buf[64];
	int r;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = RING;
	if (server) {
		r = vmsg_xen_serve(&c, 1, path, &o);
		ASSERT_EQ(r, 0);
		sim_say(xt_out, "ready");
		ASSERT_EQ(vmsg_chan_accept(c, SIM_WAIT_MS), 0);
		sent = xt_vmsg_send(c, TOTAL, 1);
		got = xt_vmsg_recv(c, TOTAL, &ns);
	} else {
		r = vmsg_xen_connect(&c, 0, path, &o, SIM_WAIT_MS);
		ASSERT_EQ(r, 0);
		got = xt_vmsg_recv(c, TOTAL, &ns);
		sent = xt_vmsg_send(c, TOTAL, 2);
	}
	report(sent, got, ns);
	sim_expect(xt_in, "bye", buf, sizeof buf);
	vmsg_chan_close(c);
	return 0;
}

static int vchan_role(const char *path, bool server)
{
	struct libxenvchan *c;
	uint64_t sent, got, ns;
	char buf[64];
	if (server) {
		c = libxenvchan_server_init(NULL, 1, path, RING, RING);
		ASSERT_TRUE(c != NULL);
		c->blocking = 0;
		sim_say(xt_out, "ready");
		while (libxenvchan_is_open(c) == 2)
			xv_wait_event(c);
		sent = xv_send(c, TOTAL, 1);
		got = xv_recv(c, TOTAL, &ns);
	} else {
		c = libxenvchan_client_init(NULL, 0, path);
		ASSERT_TRUE(c != NULL);
		c->blocking = 0;
		got = xv_recv(c, TOTAL, &ns);
		sent = xv_send(c, TOTAL, 2);
	}
	report(sent, got, ns);
	sim_expect(xt_in, "bye", buf, sizeof buf);
	libxenvchan_close(c);
	return 0;
}

/* One pair: returns the two rates (dom0->dom1, dom1->dom0). */
static void run_pair(const char *self, const char *srv, const char *cli,
		     const char *path, double *down, double *up)
{
	char sbuf[256], cbuf[256];
	struct xt_role s, c;
	unsigned long long s_sent, s_got, c_sent, c_got;
	xt_spawn(&s, 0, self, srv, path, NULL, NULL);
	sim_expect(s.from, "ready", sbuf, sizeof sbuf);
	xt_spawn(&c, 1, self, cli, path, NULL, NULL);
	ASSERT_EQ(sscanf(sim_expect(s.from, "sums", sbuf, sizeof sbuf),
			 "%llx %llx %lf", &s_sent, &s_got, up),
		  3);
	ASSERT_EQ(sscanf(sim_expect(c.from, "sums", cbuf, sizeof cbuf),
			 "%llx %llx %lf", &c_sent, &c_got, down),
		  3);
	ASSERT_EQ(s_sent, c_got);
	ASSERT_EQ(c_sent, s_got);
	sim_say(s.to, "bye");
	sim_say(c.to, "bye");
	xt_role_done(&s, 0);
	xt_role_done(&c, 0);
}

int main(int argc, char **argv)
{
	char self[4096];
	if (argc >= 5) {
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		if (!strcmp(argv[1], "vmsg-srv"))
			return vmsg_role(argv[2], true);
		if (!strcmp(argv[1], "vmsg-cli"))
			return vmsg_role(argv[2], false);
		if (!strcmp(argv[1], "vchan-srv"))
			return vchan_role(argv[2], true);
		if (!strcmp(argv[1], "vchan-cli"))
			return vchan_role(argv[2], false);
		return 2;
	}
	xt_driver_init(self, sizeof self, 880);
	double vd, vu, xd, xu;
	run_pair(self, "vmsg-srv", "vmsg-cli", PATH_VMSG, &vd, &vu);
	run_pair(self, "vchan-srv", "vchan-cli", PATH_VCHAN, &xd, &xu);
	printf("throughput over the sim, 64 KiB rings (order 16), 256 MiB "
	       "each way, raw byte stream:\n");
	printf("  vmsg        <-> vmsg        dom0->dom1 %8.1f MiB/s   "
	       "dom1->dom0 %8.1f MiB/s\n", vd, vu);
	printf("  libxenvchan <-> libxenvchan dom0->dom1 %8.1f MiB/s   "
	       "dom1->dom0 %8.1f MiB/s\n", xd, xu);
	puts("xen_throughput: ok");
	return 0;
}
