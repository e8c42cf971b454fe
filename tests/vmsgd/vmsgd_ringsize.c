/* vmsgd_ringsize: the policy's ring_size holds for the rings a provider
 * lays out, not only for those vmsgd lays out itself (issue 16, defect 1:
 * vmsgd connected to whatever a provider served, up to 1 MiB a ring, the
 * amplifier of a fragment flood). dom1 speaks the control protocol by
 * hand and answers every Serve, but serves with rings of its own choice:
 *  - relayed `big` (ring_size 4096), served with 1 MiB rings: dom2's Open
 *    fails with -EPROTO and the reason, and no channel is left;
 *  - the same served with exactly the 4096 bytes Serve asked for: opened;
 *  - a listen bridge to `big.b` (ring_size 4096), served with 1 MiB
 *    rings: the dom0 socket's connection is closed, no channel is left.
 * vmsgd exits 0. */
#include "vt_raw.h"

#include <sys/socket.h>
#include <sys/un.h>

#define RING 4096u
#define HUGE (1u << 20)

static char big_sock[100];

static void conf(void)
{
	char body[2048];
	snprintf(body, sizeof body,
		 "[service big]\noffer = 1\nopen = 2\nmode = relayed\n"
		 "ring_size = %u\n\n"
		 "[service big.b]\noffer = 1\nopen = none\nmode = direct\n"
		 "ring_size = %u\n\n"
		 "[bridge big-unix]\nservice = big.b\nlisten = unix:%s\n",
		 RING, RING, big_sock);
	vt_write_conf(body);
}

/* dom1: offer both, then serve each Serve with the ring size the driver
 * names ("ring N"), keeping the channels until "quit". */
static int role_provider(void)
{
	char line[64], text[200];
	uint32_t req;
	int code;
	vmsg_chan *c = vt_raw_connect(1);
	ASSERT_TRUE(send_offer(c, 1, "big") > 0);
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  0);
	ASSERT_EQ(code, 0);
	ASSERT_TRUE(send_offer(c, 2, "big.b") > 0);
	ASSERT_EQ(read_result(c, SIM_WAIT_MS, &req, &code, text, sizeof text),
		  0);
	ASSERT_EQ(code, 0);
	sim_say(vt_out, "offered");

	vmsg_chan *served[4];
	unsigned n = 0;
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4))
			break;
		ASSERT_EQ(strncmp(line, "ring ", 5), 0);
		uint32_t ring = (uint32_t)atoi(line + 5);
		uint64_t abuf[512];
		struct vmsg_arena a;
		vmsg_arena_init(&a, abuf, sizeof abuf);
		uint16_t type;
		ProtobufCMessage *m;
		ASSERT_TRUE(vmsg_proto_recv(c, &vmsg__service__serve__descriptor,
					    &a, &type, &m, SIM_WAIT_MS) >= 0);
		ASSERT_EQ(type, VMSG_TYPE_SVC_SERVE);
		const Vmsg__Service__Serve *sv = (const void *)m;
		ASSERT_EQ(sv->rx_ring_size, RING); /* what the policy says */
		ASSERT_EQ(sv->tx_ring_size, RING);
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		o.rx_ring_size = o.tx_ring_size = ring;
		o.max_msg = (size_t)sv->max_msg;
		ASSERT_LT(n, 4u);
		int r = vmsg_xen_serve(&served[n], (uint16_t)sv->consumer_domid,
				       sv->path, &o);
		if (r < 0)
			VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
		n++;
		Vmsg__Service__ServeResult sr =
			VMSG__SERVICE__SERVE_RESULT__INIT;
		sr.serve_id = sv->serve_id;
		sr.code = 0;
		sr.text = (char *)"";
		ASSERT_TRUE(vmsg_proto_send(c, VMSG_TYPE_SVC_SERVE_RESULT,
					    &sr.base, 0, SIM_WAIT_MS) > 0);
		sim_say(vt_out, "served %u", ring);
	}
	for (unsigned i = 0; i < n; i++)
		vmsg_chan_close(served[i]);
	vmsg_chan_close(c);
	return 0;
}

/* dom2: open `big` once per "open" from the driver, say what came of it. */
static int role_consumer(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *ok = NULL;
	for (;;) {
		sim_expect(vt_in, "", line, sizeof line);
		if (!strncmp(line, "quit", 4))
			break;
		vmsg_chan *c;
		int r = vmsg_service_open(ctl, "big", &c, SIM_WAIT_MS);
		if (r == 0) {
			uint32_t rx = 0, tx = 0;
			ASSERT_EQ(vmsg_chan_ring_sizes(c, &rx, &tx), 0);
			ASSERT_EQ(rx, RING); /* vmsgd lays out our end */
			ASSERT_EQ(tx, RING);
			ASSERT_TRUE(ok == NULL);
			ok = c;
			sim_say(vt_out, "opened");
		} else {
			sim_say(vt_out, "refused %d %s", r,
				vmsg_ctl_error(ctl));
		}
	}
	if (ok)
		vmsg_service_close(ctl, ok);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hostile", role_provider},
	{"consumer", role_consumer},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	struct vt_role prov, cons;
	size_t dn = strlen(sim_dir); /* big_sock must fit sun_path */
	ASSERT_LT(dn + sizeof "/big.sock", sizeof big_sock);
	memcpy(big_sock, sim_dir, dn);
	memcpy(big_sock + dn, "/big.sock", sizeof "/big.sock");
	conf();
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "hostile", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_spawn(&cons, 2, "consumer", NULL);

	/* Relayed, 1 MiB rings where the policy says 4 KiB: refused. */
	sim_say(prov.to, "ring %u", HUGE);
	sim_say(cons.to, "open");
	sim_expect(prov.from, "served", buf, sizeof buf);
	sim_expect(cons.from, "", buf, sizeof buf);
	printf("relayed, provider's rings of %u: %s\n", HUGE, buf);
	ASSERT_EQ(strncmp(buf, "refused", 7), 0);
	ASSERT_EQ(atoi(buf + 8), -EPROTO);
	ASSERT_TRUE(strstr(buf, "over the policy's ring_size 4096") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	ASSERT_TRUE(strstr(buf, "\"service\":\"big\"") == NULL);

	/* The size Serve asked for: opened. */
	sim_say(prov.to, "ring %u", RING);
	sim_say(cons.to, "open");
	sim_expect(prov.from, "served", buf, sizeof buf);
	sim_expect(cons.from, "opened", buf, sizeof buf);
	printf("relayed, provider's rings of %u: opened\n", RING);
	vt_ctl_wait("--json list channels", "\"service\":\"big\"", 1);

	/* A listen bridge: the socket's connection is closed. */
	sim_say(prov.to, "ring %u", HUGE);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_GE(s, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", big_sock);
	ASSERT_EQ(connect(s, (void *)&a, sizeof a), 0);
	sim_expect(prov.from, "served", buf, sizeof buf);
	struct pollfd pf = {.fd = s, .events = POLLIN};
	ASSERT_EQ(poll(&pf, 1, SIM_WAIT_MS), 1);
	ssize_t got = read(s, buf, sizeof buf); /* closed, nothing sent */
	ASSERT_TRUE(got == 0 || (got < 0 && errno == ECONNRESET));
	close(s);
	printf("listen bridge, provider's rings of %u: socket closed\n", HUGE);
	vt_ctl_wait("--json list channels", "\"service\":\"big.b\"", 0);

	sim_say(cons.to, "quit");
	vt_role_done(&cons, 0);
	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
