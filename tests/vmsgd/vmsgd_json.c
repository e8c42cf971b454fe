/* vmsgd_json: what a guest says cannot change the shape of `vmsgctl
 * --json` (issue 16, defect 4). Two hostile guests greet vmsgd by hand
 * with names chosen to break a JSON printer:
 *  - dom3: x","domid":0,"state":"connected","offers":7,"client":"vmsgd
 *    (pasted into a string unescaped, it forges dom3 as domain 0 with 7
 *    offers: a second "domid" key that most parsers take as the value);
 *  - dom4: quotes (one unbalanced), backslashes, control bytes, DEL and
 *    bytes that are not UTF-8 (or are, but not ASCII).
 * and vmsgd's own config sits in a folder whose name holds a quote and a
 * backslash (`--json policy` prints that path). Every JSON answer must
 * parse (jansson, strict: UTF-8 only, duplicate keys rejected), list dom3
 * and dom4 under their true domids with no offers, and give each name back
 * as the string vmsgd keeps (printable ASCII, the rest as '?'). */
#include "vt_raw.h"

#include <jansson.h>

#define CONF "[service echo]\noffer = 1\nopen = 2\nmode = direct\n"

#define FORGE "x\",\"domid\":0,\"state\":\"connected\",\"offers\":7," \
	      "\"client\":\"vmsgd"
/* dom4's name and what vmsgd keeps of it. */
static const char odd[] = "a\"b\\c\\\"\x01\x1f\t\x7f\xff\xfe\xc3\xa9\"";
static const char odd_kept[] = "a\"b\\c\\\"????????\"";

/* Greet vmsgd with `name` as it is (vmsg_hello_exchange would sanitise
 * it first), read its Hello, then hold the channel until told to quit. */
static int greet_and_hold(const char *name)
{
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	char path[128];
	snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%d",
		 atoi(getenv("XENSIM_DOMID") ? getenv("XENSIM_DOMID") : "0"));
	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, 0, path, &o, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("connect %s: %s", path, vmsg_strerror(r));
	Vmsg__Control__Hello h = VMSG__CONTROL__HELLO__INIT;
	h.version = VMSG_PROTO_VERSION;
	h.features = VMSG_FEATURES_SUPPORTED;
	h.max_msg = 4096;
	h.name = (char *)name;
	ASSERT_TRUE(vmsg_proto_send(c, VMSG_TYPE_HELLO, &h.base, 0,
				    SIM_WAIT_MS) > 0);
	uint64_t abuf[512];
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	uint16_t type;
	ProtobufCMessage *m;
	ASSERT_TRUE(vmsg_proto_recv(c, NULL, &a, &type, &m, SIM_WAIT_MS) > 0);
	ASSERT_EQ(type, VMSG_TYPE_HELLO);
	sim_say(vt_out, "greeted");
	char buf[64];
	sim_expect(vt_in, "quit", buf, sizeof buf);
	vmsg_chan_close(c);
	return 0;
}

static int role_forger(void)
{
	return greet_and_hold(FORGE);
}

static int role_odd(void)
{
	return greet_and_hold(odd);
}

static const struct vt_role_fn roles[] = {
	{"forger", role_forger},
	{"odd", role_odd},
	{NULL, NULL},
};

/* `vmsgctl --json ARGS`: its output parsed strictly, or the test fails
 * showing the text. */
static json_t *ctl_json(const char *args)
{
	static char out[65536];
	char cmd[200];
	snprintf(cmd, sizeof cmd, "--json %s", args);
	ASSERT_EQ(vt_ctl(out, sizeof out, cmd), 0);
	json_error_t err;
	json_t *j = json_loads(out, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		VMSG_TEST_FAIL("vmsgctl %s: not valid JSON (%s, line %d "
			       "column %d):\n%s",
			       cmd, err.text, err.line, err.column, out);
	printf("vmsgctl %s: %s", cmd, out);
	return j;
}

static json_t *domain_of(json_t *doms, unsigned domid)
{
	size_t i;
	json_t *d;
	json_array_foreach(doms, i, d)
	{
		json_t *id = json_object_get(d, "domid");
		ASSERT_TRUE(json_is_integer(id));
		/* The process's control channel, not the spare vmsgd serves
		 * the domain's next process. */
		const char *st = json_string_value(json_object_get(d, "state"));
		if (json_integer_value(id) == (json_int_t)domid && st &&
		    !strcmp(st, "connected"))
			return d;
	}
	VMSG_TEST_FAIL("domain %u is not listed", domid);
}

static void check_domain(json_t *doms, unsigned domid, const char *kept)
{
	json_t *d = domain_of(doms, domid);
	/* nothing added: domid, state, offers, channels, queued_bytes,
	 * waiting_bytes, pending_opens, client, session */
	ASSERT_EQ(json_object_size(d), 9u);
	ASSERT_TRUE(json_is_integer(json_object_get(d, "session")));
	const char *client = json_string_value(json_object_get(d, "client"));
	ASSERT_TRUE(client != NULL);
	if (strcmp(client, kept))
		VMSG_TEST_FAIL("domain %u: client '%s', expected '%s'", domid,
			       client, kept);
	ASSERT_EQ(json_integer_value(json_object_get(d, "offers")), 0);
	ASSERT_EQ(json_integer_value(json_object_get(d, "queued_bytes")), 0);
	ASSERT_EQ(json_integer_value(json_object_get(d, "waiting_bytes")), 0);
	ASSERT_EQ(json_integer_value(json_object_get(d, "pending_opens")), 0);
	ASSERT_EQ(strcmp(json_string_value(json_object_get(d, "state")),
			 "connected"),
		  0);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	/* vmsgd's config (and so `--json policy`'s "config") in a folder
	 * named with a quote and a backslash. */
	char dir[540];
	snprintf(dir, sizeof dir, "%s/co\"nf\\ig", sim_dir);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	snprintf(vt_conf, sizeof vt_conf, "%s/vmsgd.conf", dir);

	char buf[256];
	struct vt_role forger, oddr;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&forger, 3, "forger", NULL);
	vt_spawn(&oddr, 4, "odd", NULL);
	sim_expect(forger.from, "greeted", buf, sizeof buf);
	sim_expect(oddr.from, "greeted", buf, sizeof buf);
	/* vmsgd handled both Hellos. */
	vt_ctl_wait("list domains", "3      connected", 1);
	vt_ctl_wait("list domains", "4      connected", 1);

	json_t *j = ctl_json("list domains");
	json_t *doms = json_object_get(j, "domains");
	ASSERT_TRUE(json_is_array(doms));
	/* Each domain's process's channel and its spare; no domain 0. */
	ASSERT_EQ(json_array_size(doms), 4u);
	{
		size_t i;
		json_t *d;
		json_array_foreach(doms, i, d)
		{
			json_int_t id =
				json_integer_value(json_object_get(d, "domid"));
			ASSERT_TRUE(id == 3 || id == 4);
		}
	}
	check_domain(doms, 3, FORGE);
	check_domain(doms, 4, odd_kept);
	json_decref(j);

	j = ctl_json("policy");
	const char *config = json_string_value(json_object_get(j, "config"));
	ASSERT_TRUE(config != NULL);
	ASSERT_EQ(strcmp(config, vt_conf), 0);
	json_decref(j);
	json_decref(ctl_json("list services"));
	json_decref(ctl_json("list channels"));

	sim_say(forger.to, "quit");
	sim_say(oddr.to, "quit");
	vt_role_done(&forger, 0);
	vt_role_done(&oddr, 0);
	vt_stop_vmsgd();
	return 0;
}
