/* xen_lookup: a client's lookup of its server's keys (the Xen platform's
 * lookup, one core for Linux and the unikernel: lib/xenplat/xenplat_store.c),
 * whichever comes first:
 *  - keys up before the lookup: found with the published values (one
 *    look, no watch set);
 *  - keys written while the lookup waits (10 s allowed; written 300 ms
 *    after it began): found, with the new values, well before its
 *    timeout (the watch set after its first look, or its poll);
 *  - no keys: -ENOENT after the timeout (300 ms), not before; and a
 *    timeout of 0 looks once and says so at once. (-EACCES instead where
 *    the last answer was a refusal, as here: dom1 may not read dom0's
 *    folder that the unpublish left without our directory.)
 * The server is dom0, the client dom1; the driver orders their steps. */
#include "xen_test.h"

#define DIR_PATH "/local/domain/0/data/vchan/1/lookup"

/* Role: publish/unpublish on the driver's word. */
static int role_server(void)
{
	char line[128];
	struct vmsg_platform *p;
	ASSERT_EQ(vmsg_xen_platform_new(&p, 1, DIR_PATH, true), 0);
	for (;;) {
		sim_hear(xt_in, line, sizeof line);
		unsigned ref, port;
		if (sscanf(line, "publish %u %u", &ref, &port) == 2)
			ASSERT_EQ(p->ops->publish(p, ref, port), 0);
		else if (!strcmp(line, "unpublish")) {
			p->ops->unpublish(p);
			(void)p->ops->ack(p); /* the keys go here */
		}
		else
			break; /* quit */
		sim_say(xt_out, "done");
	}
	p->ops->destroy(p);
	return 0;
}

/* Role: on "lookup MS", say "looking", look up with timeout MS and say
 * "got REF PORT MS" or "err CODE MS" (MS: how long the lookup took). */
static int role_client(void)
{
	char line[128];
	for (;;) {
		sim_hear(xt_in, line, sizeof line);
		int timeout;
		if (sscanf(line, "lookup %d", &timeout) != 1)
			break; /* quit */
		struct vmsg_platform *p;
		ASSERT_EQ(vmsg_xen_platform_new(&p, 0, DIR_PATH, false), 0);
		uint32_t ref = 0, port = 0;
		sim_say(xt_out, "looking");
		uint64_t t0 = xt_now_ns();
		int r = p->ops->lookup(p, &ref, &port, timeout);
		unsigned ms = (unsigned)((xt_now_ns() - t0) / 1000000u);
		if (r == 0)
			sim_say(xt_out, "got %u %u %u", ref, port, ms);
		else
			sim_say(xt_out, "err %d %u", r, ms);
		p->ops->destroy(p);
	}
	return 0;
}

static void server_do(struct xt_role *s, const char *what)
{
	char buf[64];
	sim_say(s->to, "%s", what);
	sim_expect(s->from, "done", buf, sizeof buf);
}

/* The client's answer to "lookup timeout", the server doing `then` (if
 * any) delay_ms after the client began. */
static void lookup(struct xt_role *c, struct xt_role *s, int timeout,
		   const char *then, unsigned delay_ms, char *ans, size_t cap)
{
	char buf[64];
	sim_say(c->to, "lookup %d", timeout);
	sim_expect(c->from, "looking", buf, sizeof buf);
	if (then) {
		usleep(delay_ms * 1000u);
		server_do(s, then);
	}
	sim_hear(c->from, ans, cap);
	printf("lookup %d ms%s%s: %s\n", timeout, then ? ", then " : "",
	       then ? then : "", ans);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct xt_role_fn roles[] = {
		{"server", role_server},
		{"client", role_client},
		{NULL, NULL},
	};
	char self[4096], ans[128];
	xt_dispatch(argc, argv, roles);
	xt_driver_init(self, sizeof self, 120);
	struct xt_role s, c;
	xt_spawn(&s, 0, self, "server", "-", NULL, NULL);
	xt_spawn(&c, 1, self, "client", "-", NULL, NULL);
	unsigned ref, port, ms;
	int code;

	/* Keys up first. */
	server_do(&s, "publish 11 13");
	lookup(&c, &s, 5000, NULL, 0, ans, sizeof ans);
	ASSERT_EQ(sscanf(ans, "got %u %u %u", &ref, &port, &ms), 3);
	ASSERT_EQ(ref, 11);
	ASSERT_EQ(port, 13);

	/* No keys: the whole timeout, then -ENOENT; 0: one look. */
	server_do(&s, "unpublish");
	lookup(&c, &s, 300, NULL, 0, ans, sizeof ans);
	ASSERT_EQ(sscanf(ans, "err %d %u", &code, &ms), 2);
	ASSERT_TRUE(code == -ENOENT || code == -EACCES);
	ASSERT_GE(ms, 290);
	lookup(&c, &s, 0, NULL, 0, ans, sizeof ans);
	ASSERT_EQ(sscanf(ans, "err %d %u", &code, &ms), 2);
	ASSERT_TRUE(code == -ENOENT || code == -EACCES);

	/* Keys written while the client waits. */
	lookup(&c, &s, 10000, "publish 21 23", 300, ans, sizeof ans);
	ASSERT_EQ(sscanf(ans, "got %u %u %u", &ref, &port, &ms), 3);
	ASSERT_EQ(ref, 21);
	ASSERT_EQ(port, 23);
	ASSERT_GE(ms, 290);
	ASSERT_LT(ms, 9000);

	sim_say(c.to, "quit");
	xt_role_done(&c, 0);
	sim_say(s.to, "quit");
	xt_role_done(&s, 0);
	puts("xen_lookup: ok");
	return 0;
}
