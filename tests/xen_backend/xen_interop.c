/* xen_interop: vmsg in raw byte-stream mode against Debian's unmodified
 * libxenvchan, on the simulated Xen. Run as
 *   xen_interop vmsg-server   vmsg serves in dom0, libxenvchan client in dom1
 *   xen_interop vmsg-client   libxenvchan serves in dom0, vmsg client in dom1
 * For each ring layout — orders (left, right) = (10, 11), (11, 10),
 * (12, 12) and (16, 16): in-page rings at both offsets, single granted
 * pages and a 16-page granted ring — both ends check the orders they see,
 * the server streams seeded random bytes to the client, then the client
 * to the server, both checksummed. Then one side (alternating between
 * layouts) writes a 4-byte trailer and closes: the other must read the
 * trailer and then see the orderly close (vmsg: -EPIPE and CLOSED;
 * libxenvchan: is_open() == 0 with nothing left).
 * 256 MiB each way, 64 MiB for the in-page rings (1 and 2 KiB: still
 * some 32000 trips round the smaller one), where every ring's worth is a
 * wake-up or two and 256 MiB took more than the driver's 30 s wait on a
 * VM whose wake-ups cost 80 us. */
#include "xen_vchan_test.h"

#include "vmsg_chan_internal.h"

#define MIB (1024u * 1024u)
static const char trailer[4] = {'B', 'Y', 'E', '!'};

struct layout {
	unsigned left, right; /* orders */
	const char *closer;   /* "server" or "client" */
	unsigned mib;         /* each way */
};

static const struct layout layouts[] = {
	{10, 11, "server", 64},
	{11, 10, "client", 64},
	{12, 12, "server", 256},
	{16, 16, "client", 256},
};

static void parse_layout(const char *s, struct layout *l, char *closer)
{
	ASSERT_EQ(sscanf(s, "%u:%u:%15[a-z]:%u", &l->left, &l->right, closer,
			 &l->mib),
		  4);
	l->closer = closer;
}

/* ---- vmsg ends ---------------------------------------------------------- */

static void vmsg_check_orders(vmsg_chan *c, const struct layout *l,
			      bool server)
{
	struct vmsg_ring_end *e = vmsg__chan_ring(c);
	ASSERT_TRUE(e != NULL);
	/* The left ring carries client-to-server bytes. */
	unsigned rx = server ? l->left : l->right;
	unsigned tx = server ? l->right : l->left;
	ASSERT_EQ(e->rx.size, 1u << rx);
	ASSERT_EQ(e->tx.size, 1u << tx);
}

static void vmsg_expect_closed(vmsg_chan *c)
{
	char b[4];
	int r = vmsg_chan_read(c, b, sizeof b, SIM_WAIT_MS);
	ASSERT_EQ(r, -EPIPE);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
}

static void vmsg_read_trailer(vmsg_chan *c)
{
	char b[4];
	size_t got = 0;
	while (got < sizeof b) {
		int r = vmsg_chan_read(c, b + got, sizeof b - got, SIM_WAIT_MS);
		if (r <= 0)
			VMSG_TEST_FAIL("trailer: %s", vmsg_strerror(r));
		got += (size_t)r;
	}
	ASSERT_MEM_EQ(b, trailer, sizeof b);
}

static void vmsg_write_trailer(vmsg_chan *c)
{
	size_t off = 0;
	while (off < sizeof trailer) {
		int w = vmsg_chan_write(c, trailer + off, sizeof trailer - off,
					SIM_WAIT_MS);
		ASSERT_GT(w, 0);
		off += (size_t)w;
	}
}

/* The data exchange and the close, for a vmsg end. */
static void vmsg_exchange(vmsg_chan *c, const struct layout *l, bool server)
{
	uint64_t total = (uint64_t)l->mib * MIB, ns, sent, got;
	bool closer = !strcmp(l->closer, server ? "server" : "client");
	vmsg_check_orders(c, l, server);
	if (server) {
		sent = xt_vmsg_send(c, total, 1);
		got = xt_vmsg_recv(c, total, &ns);
	} else {
		got = xt_vmsg_recv(c, total, &ns);
		sent = xt_vmsg_send(c, total, 2);
	}
	sim_say(xt_out, "sums %llx %llx %.1f", (unsigned long long)sent,
		(unsigned long long)got, xt_mibs(total, ns));
	if (closer) {
		vmsg_write_trailer(c);
		vmsg_chan_close(c);
	} else {
		vmsg_read_trailer(c);
		vmsg_expect_closed(c);
		vmsg_chan_close(c);
	}
	sim_say(xt_out, "closed");
}

static int role_vmsg_server(const char *path, const struct layout *l)
{
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = 1u << l->left;
	o.tx_ring_size = 1u << l->right;
	int r = vmsg_xen_serve(&c, 1, path, &o);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_serve: %s", vmsg_strerror(r));
	sim_say(xt_out, "ready");
	ASSERT_EQ(vmsg_chan_accept(c, SIM_WAIT_MS), 0);
	vmsg_exchange(c, l, true);
	return 0;
}

static int role_vmsg_client(const char *path, const struct layout *l)
{
	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, 0, path, NULL, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_connect: %s", vmsg_strerror(r));
	vmsg_exchange(c, l, false);
	return 0;
}

/* ---- libxenvchan ends ---------------------------------------------------- */

static void vchan_exchange(struct libxenvchan *c, const struct layout *l,
			   bool server)
{
	uint64_t total = (uint64_t)l->mib * MIB, ns, sent, got;
	bool closer = !strcmp(l->closer, server ? "server" : "client");
	/* libxenvchan's own view of the orders (read = what it receives). */
	ASSERT_EQ(c->read.order, server ? l->left : l->right);
	ASSERT_EQ(c->write.order, server ? l->right : l->left);
	if (server) {
		sent = xv_send(c, total, 1);
		got = xv_recv(c, total, &ns);
	} else {
		got = xv_recv(c, total, &ns);
		sent = xv_send(c, total, 2);
	}
	sim_say(xt_out, "sums %llx %llx %.1f", (unsigned long long)sent,
		(unsigned long long)got, xt_mibs(total, ns));
	if (closer) {
		xv_write_all(c, trailer, sizeof trailer);
	} else {
		char b[4];
		xv_read_all(c, b, sizeof b, NULL, NULL);
		ASSERT_MEM_EQ(b, trailer, sizeof b);
		xv_expect_closed(c);
	}
	libxenvchan_close(c);
	sim_say(xt_out, "closed");
}

static int role_vchan_server(const char *path, const struct layout *l)
{
	struct libxenvchan *c = libxenvchan_server_init(
		NULL, 1, path, (size_t)1 << l->left, (size_t)1 << l->right);
	ASSERT_TRUE(c != NULL);
	c->blocking = 0;
	sim_say(xt_out, "ready");
	while (libxenvchan_is_open(c) == 2)
		xv_wait_event(c);
	ASSERT_EQ(libxenvchan_is_open(c), 1);
	vchan_exchange(c, l, true);
	return 0;
}

static int role_vchan_client(const char *path, const struct layout *l)
{
	struct libxenvchan *c = libxenvchan_client_init(NULL, 0, path);
	ASSERT_TRUE(c != NULL);
	c->blocking = 0;
	ASSERT_EQ(libxenvchan_is_open(c), 1);
	vchan_exchange(c, l, false);
	return 0;
}

/* ---- driver ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char self[4096], sbuf[256], cbuf[256], closer[16], spec[64];
	char path[128], key[32];

	if (argc >= 6) {
		struct layout l;
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		parse_layout(argv[5], &l, closer);
		if (!strcmp(argv[1], "vmsg-srv"))
			return role_vmsg_server(argv[2], &l);
		if (!strcmp(argv[1], "vmsg-cli"))
			return role_vmsg_client(argv[2], &l);
		if (!strcmp(argv[1], "vchan-srv"))
			return role_vchan_server(argv[2], &l);
		if (!strcmp(argv[1], "vchan-cli"))
			return role_vchan_client(argv[2], &l);
		return 2;
	}
	if (argc != 2 || (strcmp(argv[1], "vmsg-server") &&
			  strcmp(argv[1], "vmsg-client"))) {
		fprintf(stderr, "usage: %s vmsg-server|vmsg-client\n", argv[0]);
		return 2;
	}
	bool vmsg_serves = !strcmp(argv[1], "vmsg-server");
	const char *srv_role = vmsg_serves ? "vmsg-srv" : "vchan-srv";
	const char *cli_role = vmsg_serves ? "vchan-cli" : "vmsg-cli";
	xt_driver_init(self, sizeof self, 1100);

	for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
		const struct layout *l = &layouts[i];
		struct xt_role s, c;
		snprintf(spec, sizeof spec, "%u:%u:%s:%u", l->left, l->right,
			 l->closer, l->mib);
		/* xenstore names allow [A-Za-z0-9_@-]: no ':' there. */
		snprintf(key, sizeof key, "interop-%u-%u", l->left, l->right);
		ASSERT_GT(vmsg_xen_path(path, sizeof path, 0, 1, key), 0);
		xt_spawn(&s, 0, self, srv_role, path, spec, NULL);
		sim_expect(s.from, "ready", sbuf, sizeof sbuf);
		xt_spawn(&c, 1, self, cli_role, path, spec, NULL);
		unsigned long long s_sent, s_got, c_sent, c_got;
		double s_rate, c_rate;
		ASSERT_EQ(sscanf(sim_expect(s.from, "sums", sbuf, sizeof sbuf),
				 "%llx %llx %lf", &s_sent, &s_got, &s_rate),
			  3);
		ASSERT_EQ(sscanf(sim_expect(c.from, "sums", cbuf, sizeof cbuf),
				 "%llx %llx %lf", &c_sent, &c_got, &c_rate),
			  3);
		ASSERT_EQ(s_sent, c_got);
		ASSERT_EQ(c_sent, s_got);
		ASSERT_NE(s_sent, c_sent);
		sim_expect(s.from, "closed", sbuf, sizeof sbuf);
		sim_expect(c.from, "closed", cbuf, sizeof cbuf);
		xt_role_done(&s, 0);
		xt_role_done(&c, 0);
		printf("%s (dom0) <-> %s (dom1), orders %u/%u, %u MiB each way, "
		       "%s closed first: dom0->dom1 %.1f MiB/s, dom1->dom0 "
		       "%.1f MiB/s\n",
		       vmsg_serves ? "vmsg" : "libxenvchan",
		       vmsg_serves ? "libxenvchan" : "vmsg", l->left, l->right,
		       l->mib, l->closer, c_rate, s_rate);
		fflush(stdout);
	}
	printf("xen_interop %s: ok\n", argv[1]);
	return 0;
}
