/* The integration tests over the Xen backend on the simulator (integ.h).
 * The harness is tests/sim_xen/sim_harness.h, shared with the sim and
 * xen_backend tests: a private XENSIM_DIR, `xensim run` per domain, the
 * daemon stopped (and every process reaped) at exit, also on abort. */
#define _GNU_SOURCE
#include "sim_harness.h"

#include "integ_xen.h"

#include <fcntl.h>
#include <xenstore.h>

#include <vmsg/xen.h>

/* The peer of the body (0) is its children's domain (1), and back. */
static int peer_of(int self)
{
	return self ? 0 : 1;
}

static void pipe_for_child(int fds[2], int child_end)
{
	ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
	/* Only the end the anchor uses survives its exec. */
	ASSERT_EQ(fcntl(fds[child_end], F_SETFD, 0), 0);
}

void integ__xen_drive(int argc, char **argv)
{
	char self[4096], xsd[4200], a[16], b[16], line[64];
	char *bargv[32];
	int hold[2], ready[2], st, n = 0;
	unsigned secs = 0;
	pid_t anchor, body;

	snprintf(xsd, sizeof(xsd), "%s", XENSIM_BIN);
	*strrchr(xsd, '/') = 0;
	strcat(xsd, "/../xenstored/vmsg-xenstored");
	if (access(xsd, X_OK) != 0) {
		fprintf(stderr, "vmsg-xenstored not built (%s): skipping\n", xsd);
		exit(VMSG_TEST_SKIP);
	}
	if (argv[1][5] == '=')
		secs = (unsigned)atoi(argv[1] + 6);
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	if (secs)
		alarm(secs); /* SIGALRM: dump the daemon's log, stop it */
	sim_setup(1);

	/* Domain 1 lives while the anchor runs: the body's children join
	 * it (and a kill -9 of one of them is a process death in a live
	 * domain, as for a vchan peer process on Xen). */
	pipe_for_child(hold, 0);
	pipe_for_child(ready, 1);
	snprintf(a, sizeof(a), "%d", hold[0]);
	snprintf(b, sizeof(b), "%d", ready[1]);
	anchor = sim_spawn(1, (char *[]){ self, (char *)INTEG_XEN_ANCHOR, a, b,
					  NULL });
	close(hold[0]);
	close(ready[1]);
	sim_expect(ready[0], "ready", line, sizeof(line));
	close(ready[0]);

	bargv[n++] = self;
	bargv[n++] = (char *)INTEG_XEN_BODY;
	for (int i = 2; i < argc && n < 31; i++)
		bargv[n++] = argv[i];
	bargv[n] = NULL;
	body = sim_spawn(0, bargv);
	st = sim_wait(body);

	close(hold[1]); /* the anchor ends, and domain 1 with it */
	ASSERT_EQ(sim_wait(anchor), 0);
	if (st != 0 && st != VMSG_TEST_SKIP) {
		fprintf(stderr, "test body exited with %d; xensimd.log:\n", st);
		snprintf(xsd, sizeof(xsd), "tail -n 40 '%s/xensimd.log' >&2",
			 sim_dir);
		if (system(xsd) != 0)
			fputs("(no daemon log)\n", stderr);
	}
	exit(st); /* atexit: xensim stop, reap, remove XENSIM_DIR */
}

void integ__xen_anchor(int argc, char **argv)
{
	int hold, ready;
	char c;

	if (argc != 4)
		_exit(2);
	hold = atoi(argv[2]);
	ready = atoi(argv[3]);
	if (write(ready, "ready\n", 6) != 6)
		_exit(1);
	close(ready);
	for (;;) {
		ssize_t r = read(hold, &c, 1);
		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		break; /* EOF: the driver is done (or died) */
	}
	_exit(0);
}

int integ__xen_become(int domid)
{
	const char *dir = getenv("XENSIM_DIR");
	char v[600];

	ASSERT_TRUE(dir != NULL);
	snprintf(v, sizeof(v), "%d", domid);
	ASSERT_EQ(setenv("XENSIM_DOMID", v, 1), 0);
	snprintf(v, sizeof(v), "%s/xenstore/dom%d.sock", dir, domid);
	ASSERT_EQ(setenv("XENSTORED_PATH", v, 1), 0);
	return domid;
}

static void path_of(char *buf, size_t cap, int server, int client,
		    const char *port)
{
	int r = vmsg_xen_path(buf, cap, (uint16_t)server, (uint16_t)client,
			      port);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_path(%s): %s", port, vmsg_strerror(r));
}

int integ__xen_serve(vmsg_chan **c, int self, const char *port,
		     const struct vmsg_chan_opts *o)
{
	char path[VMSG_XEN_PATH_MAX];

	path_of(path, sizeof(path), self, peer_of(self), port);
	return vmsg_xen_serve(c, (uint16_t)peer_of(self), path, o);
}

int integ__xen_connect(vmsg_chan **c, int self, const char *port,
		       const struct vmsg_chan_opts *o, int timeout_ms)
{
	char path[VMSG_XEN_PATH_MAX];

	path_of(path, sizeof(path), peer_of(self), self, port);
	return vmsg_xen_connect(c, (uint16_t)peer_of(self), path, o,
				timeout_ms);
}

bool integ__xen_gone(int self, const char *port)
{
	char path[VMSG_XEN_PATH_MAX + 16];
	struct xs_handle *xs = xs_open(0);
	unsigned len;
	void *v;
	bool gone;

	ASSERT_TRUE(xs != NULL);
	path_of(path, VMSG_XEN_PATH_MAX, self, peer_of(self), port);
	strcat(path, "/ring-ref");
	v = xs_read(xs, XBT_NULL, path, &len);
	gone = !v && errno == ENOENT;
	free(v);
	xs_close(xs);
	return gone;
}
