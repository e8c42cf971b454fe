/* xen_waitset: vmsg/waitset.h on the Xen backend over the simulated Xen
 * (the Xen platform core's wait_any over its Linux layer): a server in
 * domain 0 echoes on WS_N channels from one wait set while WS_N clients
 * in domain 1, each its own process, send at once (tests/waitset_echo.h). */
#include "xen_test.h"

#include "waitset_echo.h"

#define PATH_FMT "/local/domain/0/data/vchan/1/ws%u"

static int role_server(void)
{
	char path[128];
	vmsg_chan *c[WS_N], *quiet;
	for (unsigned i = 0; i < WS_N; i++) {
		snprintf(path, sizeof path, PATH_FMT, i);
		int r = vmsg_xen_serve(&c[i], 1, path, NULL);
		if (r < 0)
			VMSG_TEST_FAIL("vmsg_xen_serve: %s", vmsg_strerror(r));
	}
	ASSERT_EQ(vmsg_xen_serve(&quiet, 1,
				 "/local/domain/0/data/vchan/1/quiet", NULL),
		  0);
	sim_say(xt_out, "ready");
	ws_serve(c, quiet);
	return 0;
}

static int role_client(const char *which)
{
	char path[128];
	unsigned i = (unsigned)atoi(which);
	vmsg_chan *c;
	snprintf(path, sizeof path, PATH_FMT, i);
	int r = vmsg_xen_connect(&c, 0, path, NULL, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_connect: %s", vmsg_strerror(r));
	ws_client(c, i);
	return 0;
}

/* Keeps domain 1 alive while its processes come and go. */
static int role_anchor(void)
{
	char b;
	while (read(xt_in, &b, 1) > 0 && b != '\n')
		;
	return 0;
}

int main(int argc, char **argv)
{
	char self[4096], buf[128];
	if (argc >= 5) {
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		if (!strcmp(argv[1], "server"))
			return role_server();
		if (!strcmp(argv[1], "client"))
			return role_client(argv[2]);
		if (!strcmp(argv[1], "anchor"))
			return role_anchor();
		return 2;
	}
	xt_driver_init(self, sizeof self, 300);
	struct xt_role s, anchor, c[WS_N];
	xt_spawn(&anchor, 1, self, "anchor", "-", NULL, NULL);
	xt_spawn(&s, 0, self, "server", "-", NULL, NULL);
	sim_expect(s.from, "ready", buf, sizeof buf);
	for (unsigned i = 0; i < WS_N; i++) {
		char which[16];
		snprintf(which, sizeof which, "%u", i);
		xt_spawn(&c[i], 1, self, "client", which, NULL, NULL);
	}
	for (unsigned i = 0; i < WS_N; i++)
		xt_role_done(&c[i], 0);
	xt_role_done(&s, 0);
	sim_say(anchor.to, "bye");
	xt_role_done(&anchor, 0);
	printf("xen_waitset: %u clients x %u messages echoed from one set\n",
	       WS_N, WS_MSGS);
	return 0;
}
