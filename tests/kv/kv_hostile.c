/* kv_hostile: vmsg-kv-server (dom1, through vmsgd) against a hostile
 * client in dom2 on the typed `kv` service: a frame of an unknown type, a
 * request over the size limit, payloads that do not parse, a bad key and
 * an oversized value each get a BAD_REQUEST/BAD_KEY/TOO_BIG Reply naming
 * the problem while the channel goes on working; requests sent without
 * reading a reply until both rings are full (the server stops reading a
 * client whose replies back up) are all answered, in order, once read; a
 * second channel is served meanwhile; the server exits 0 on SIGTERM. */
#include "vmsgd_test.h"

#include <vmsg/proto.h>

#include "kv_codec.h"
#include "kv_store.h"

#define CONF "[service kv]\noffer = 1\nopen = 2\nmode = direct\n" \
	     "ring_size = 4096\nmax_msg = 65536\n"                    \
	     "[service kv.text]\noffer = 1\nopen = 2\nmode = direct\n"

static unsigned char abuf[1 << 16];

static Kv__Reply *reply(vmsg_chan *c, struct vmsg_arena *a)
{
	uint16_t t;
	ProtobufCMessage *m;
	vmsg_arena_reset(a);
	int r = vmsg_proto_recv(c, &kv__reply__descriptor, a, &t, &m,
				SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("reply: %s", vmsg_strerror(r));
	ASSERT_EQ(t, KV_TYPE_REPLY);
	return (Kv__Reply *)m;
}

static void expect_status(vmsg_chan *c, struct vmsg_arena *a, int status,
			  const char *text)
{
	Kv__Reply *rep = reply(c, a);
	if ((int)rep->status != status || !strstr(rep->text, text))
		VMSG_TEST_FAIL("status %d '%s', want %d '%s'", rep->status,
			       rep->text, status, text);
}

static void put(vmsg_chan *c, uint32_t id, const char *k, const void *v,
		size_t vlen)
{
	Kv__Put p = KV__PUT__INIT;
	p.id = id;
	p.key.data = (uint8_t *)k;
	p.key.len = strlen(k);
	p.value.data = (uint8_t *)v;
	p.value.len = vlen;
	ASSERT_GE(vmsg_proto_send(c, KV_TYPE_PUT, &p.base, 0, SIM_WAIT_MS), 0);
}

static void get(vmsg_chan *c, uint32_t id, const char *k)
{
	Kv__Get g = KV__GET__INIT;
	g.id = id;
	g.key.data = (uint8_t *)k;
	g.key.len = strlen(k);
	ASSERT_GE(vmsg_proto_send(c, KV_TYPE_GET, &g.base, 0, SIM_WAIT_MS), 0);
}

static int role_hostile(void)
{
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c, *c2;
	int r = vmsg_service_open(ctl, "kv", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	static unsigned char junk[3000];
	memset(junk, 0xff, sizeof junk);
	ASSERT_EQ(vmsg_chan_send(c, 0x0200, "x", 1, 0, SIM_WAIT_MS), 1);
	expect_status(c, &a, KV_BAD_REQUEST, "unknown request type 0x0200");
	ASSERT_EQ(vmsg_chan_send(c, KV_TYPE_PUT, junk, sizeof junk, 0,
				 SIM_WAIT_MS), (int)sizeof junk);
	expect_status(c, &a, KV_BAD_REQUEST, "request too large");
	ASSERT_EQ(vmsg_chan_send(c, KV_TYPE_GET, junk, 40, 0, SIM_WAIT_MS), 40);
	expect_status(c, &a, KV_BAD_REQUEST, "does not parse");
	put(c, 7, "bad key", "v", 1);
	expect_status(c, &a, KV_BAD_KEY, "bad key");
	put(c, 8, "big", junk, 1025);
	expect_status(c, &a, KV_TOO_BIG, "too large");
	put(c, 9, "k", "value", 5);
	expect_status(c, &a, KV_OK, "");

	/* Flood: gets without reading a reply until both 4 KiB rings are
	 * full (the server stops reading us once its replies back up). A
	 * second channel is served meanwhile. */
	ASSERT_EQ(vmsg_service_open(ctl, "kv", &c2, SIM_WAIT_MS), 0);
	uint32_t n = 0;
	for (int idle = 0; idle < 20;) {
		Kv__Get g = KV__GET__INIT;
		g.id = 100 + n;
		g.key.data = (uint8_t *)"k";
		g.key.len = 1;
		r = vmsg_proto_send(c, KV_TYPE_GET, &g.base, 0, 0);
		if (r == -EAGAIN) {
			idle++;
			usleep(10000);
			continue;
		}
		ASSERT_GE(r, 0);
		n++;
		idle = 0;
	}
	ASSERT_GT(n, 100);
	get(c2, 1, "k");
	Kv__Reply *rep = reply(c2, &a);
	ASSERT_EQ(rep->id, 1);
	ASSERT_EQ(rep->value.len, 5);
	for (uint32_t i = 0; i < n; i++) {
		rep = reply(c, &a);
		ASSERT_EQ(rep->id, 100 + i);
		ASSERT_EQ(rep->status, KV__STATUS__STATUS_OK);
		ASSERT_MEM_EQ(rep->value.data, "value", 5);
	}
	sim_say(vt_out, "done");
	vmsg_service_close(ctl, c2);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"hostile", role_hostile},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char buf[8192];
	vt_write_conf(CONF);
	vt_start_vmsgd();
	char *sargv[] = {(char *)KV_SERVER_BIN, NULL};
	pid_t server = sim_spawn(1, sargv);
	vt_ctl_wait("list services", "kv.text", 1);

	struct vt_role h;
	vt_spawn(&h, 2, "hostile", NULL);
	sim_expect(h.from, "done", buf, sizeof buf);
	vt_role_done(&h, 0);
	vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
	ASSERT_EQ(kill(server, SIGTERM), 0);
	ASSERT_EQ(sim_wait(server), 0);
	vt_stop_vmsgd();
	return 0;
}
