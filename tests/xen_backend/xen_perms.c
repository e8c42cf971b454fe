/* xen_perms: what a third domain cannot do to a vmsg channel on the Xen
 * backend. A vmsg server in dom0 publishes a channel for dom1 (64 KiB
 * rings, so ring pages are granted too); while it waits for its client:
 *   - dom0's xenstore-ls shows both keys with libxenvchan's permissions
 *     (owner dom0, nobody else, dom1 read);
 *   - dom2 (Debian's xenstore-read, and vmsg_xen_connect) cannot read the
 *     keys, while it can read its own home;
 *   - dom2 cannot map the control page's grant nor any grant near it (the
 *     ring pages), nor bind the channel's event port;
 *   - dom1 can read both keys (the values dom0 sees), connects with vmsg
 *     and exchanges a message with the server, so the refusals above were
 *     about dom2, not about a broken channel;
 *   - once dom1 is in, the keys (and the directory publish made) go (right
 *     after the server's first kick, its reply).
 */
#include "xen_vchan_test.h"

#include <sys/mman.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PATH "/local/domain/0/data/vchan/1/perm"

/* Run argv with stdout captured into out; returns the exit status. When
 * domid >= 0 the command runs through `xensim run --domid`. */
static int run_capture(int domid, char *const argv[], char *out, size_t cap)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if (domid >= 0) {
			char d[16], *args[16];
			int n = 0;
			snprintf(d, sizeof d, "%d", domid);
			args[n++] = (char *)XENSIM_BIN;
			args[n++] = (char *)"run";
			args[n++] = (char *)"--domid";
			args[n++] = d;
			args[n++] = (char *)"--";
			for (int i = 0; argv[i] && n < 15; i++)
				args[n++] = argv[i];
			args[n] = NULL;
			execv(XENSIM_BIN, args);
		} else {
			execvp(argv[0], argv);
		}
		_exit(127);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < cap && (n = read(p[0], out + got, cap - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ASSERT_GT(n, 0);
		got += (size_t)n;
	}
	out[got] = 0;
	close(p[0]);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int xs_read_as(int domid, const char *key, char *out, size_t cap)
{
	char *argv[] = {(char *)"xenstore-read", (char *)key, NULL};
	int st = run_capture(domid, argv, out, cap);
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	return st;
}

static int role_server(const char *path)
{
	char buf[128];
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = 65536;
	int r = vmsg_xen_serve(&c, 1, path, &o);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_serve: %s", vmsg_strerror(r));
	sim_say(xt_out, "ready");
	ASSERT_EQ(vmsg_chan_accept(c, 120000), 0);
	r = vmsg_chan_recv(c, NULL, buf, sizeof buf, SIM_WAIT_MS);
	ASSERT_EQ(r, 5);
	ASSERT_MEM_EQ(buf, "hello", 5);
	ASSERT_EQ(vmsg_chan_send(c, 7, "world", 5, 0, SIM_WAIT_MS), 5);
	sim_expect(xt_in, "bye", buf, sizeof buf);
	vmsg_chan_close(c);
	return 0;
}

static int role_intruder(const char *path, uint32_t ref, uint32_t port)
{
	char key[256], out[256];

	/* xenstore: our own home yes, the channel's keys no. */
	ASSERT_EQ(xs_read_as(-1, "domid", out, sizeof out), 0);
	ASSERT_EQ(strcmp(out, "2"), 0);
	snprintf(key, sizeof key, "%s/ring-ref", path);
	ASSERT_NE(xs_read_as(-1, key, out, sizeof out), 0);
	snprintf(key, sizeof key, "%s/event-channel", path);
	ASSERT_NE(xs_read_as(-1, key, out, sizeof out), 0);
	vmsg_chan *c = NULL;
	int r = vmsg_xen_connect(&c, 0, path, NULL, 1000);
	ASSERT_TRUE(r == -EACCES || r == -ENOENT);
	ASSERT_TRUE(c == NULL);

	/* Grants: the page, and every reference around it (the ring pages
	 * were granted right after it), whether asked for one by one or as
	 * a list, read-only or not. */
	xengnttab_handle *tab = xengnttab_open(NULL, 0);
	ASSERT_TRUE(tab != NULL);
	for (uint32_t g = ref > 16 ? ref - 8 : 8; g < ref + 48; g++) {
		errno = 0;
		void *a = xengnttab_map_grant_ref(tab, 0, g, PROT_READ);
		if (a)
			VMSG_TEST_FAIL("dom2 mapped dom0's grant %u", g);
		ASSERT_EQ(errno, EINVAL);
		a = xengnttab_map_grant_ref(tab, 0, g,
					    PROT_READ | PROT_WRITE);
		ASSERT_TRUE(a == NULL);
	}
	uint32_t list[2] = {ref, ref + 1};
	ASSERT_TRUE(xengnttab_map_domain_grant_refs(tab, 2, 0, list,
						    PROT_READ) == NULL);
	xengnttab_close(tab);

	/* The event port is reserved for dom1. */
	xenevtchn_handle *evt = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(evt != NULL);
	ASSERT_TRUE(xenevtchn_bind_interdomain(evt, 0, port) < 0);
	xenevtchn_close(evt);
	sim_say(xt_out, "refused");
	return 0;
}

static int role_client(const char *path, uint32_t ref, uint32_t port)
{
	char key[256], out[256], buf[64];

	/* The peer named in the permissions reads both keys. */
	snprintf(key, sizeof key, "%s/ring-ref", path);
	ASSERT_EQ(xs_read_as(-1, key, out, sizeof out), 0);
	ASSERT_EQ(strtoul(out, NULL, 10), ref);
	snprintf(key, sizeof key, "%s/event-channel", path);
	ASSERT_EQ(xs_read_as(-1, key, out, sizeof out), 0);
	ASSERT_EQ(strtoul(out, NULL, 10), port);

	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, 0, path, NULL, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_xen_connect: %s", vmsg_strerror(r));
	ASSERT_EQ(vmsg_chan_send(c, 6, "hello", 5, 0, SIM_WAIT_MS), 5);
	uint16_t type;
	ASSERT_EQ(vmsg_chan_recv(c, &type, buf, sizeof buf, SIM_WAIT_MS), 5);
	ASSERT_EQ(type, 7);
	ASSERT_MEM_EQ(buf, "world", 5);
	sim_say(xt_out, "talked");
	sim_expect(xt_in, "bye", buf, sizeof buf);
	vmsg_chan_close(c);
	return 0;
}

/* Does `line` of xenstore-ls -p output for `leaf` carry perms n0,r1? */
static void check_ls_perms(const char *ls, const char *leaf)
{
	const char *l = strstr(ls, leaf);
	if (!l)
		VMSG_TEST_FAIL("xenstore-ls shows no %s:\n%s", leaf, ls);
	const char *eol = strchr(l, '\n');
	size_t n = eol ? (size_t)(eol - l) : strlen(l);
	char line[512];
	snprintf(line, sizeof line, "%.*s", (int)n, l);
	if (!strstr(line, "(n0,r1)"))
		VMSG_TEST_FAIL("%s: permissions are not (n0,r1): %s", leaf,
			       line);
}

int main(int argc, char **argv)
{
	char self[4096], buf[4096], key[256], a[16], b[16];

	if (argc >= 5) {
		xt_in = atoi(argv[3]);
		xt_out = atoi(argv[4]);
		if (!strcmp(argv[1], "server"))
			return role_server(argv[2]);
		ASSERT_EQ(argc, 7);
		uint32_t ref = (uint32_t)strtoul(argv[5], NULL, 10);
		uint32_t port = (uint32_t)strtoul(argv[6], NULL, 10);
		if (!strcmp(argv[1], "intruder"))
			return role_intruder(argv[2], ref, port);
		if (!strcmp(argv[1], "client"))
			return role_client(argv[2], ref, port);
		return 2;
	}
	if (access("/usr/bin/xenstore-read", X_OK) != 0) {
		fprintf(stderr, "xenstore-utils not installed: skipping\n");
		return VMSG_TEST_SKIP;
	}
	xt_driver_init(self, sizeof self, 280);

	struct xt_role s, x, c;
	xt_spawn(&s, 0, self, "server", PATH, NULL, NULL);
	sim_expect(s.from, "ready", buf, sizeof buf);

	/* dom0 (the owner) sees the keys and their permissions. */
	snprintf(key, sizeof key, "%s/ring-ref", PATH);
	ASSERT_EQ(xs_read_as(0, key, buf, sizeof buf), 0);
	snprintf(a, sizeof a, "%.15s", buf);
	snprintf(key, sizeof key, "%s/event-channel", PATH);
	ASSERT_EQ(xs_read_as(0, key, buf, sizeof buf), 0);
	snprintf(b, sizeof b, "%.15s", buf);
	ASSERT_GT(atoi(a), 0);
	ASSERT_GT(atoi(b), 0);
	char *ls[] = {(char *)"xenstore-ls", (char *)"-p", (char *)PATH, NULL};
	ASSERT_EQ(run_capture(0, ls, buf, sizeof buf), 0);
	check_ls_perms(buf, "ring-ref");
	check_ls_perms(buf, "event-channel");

	/* dom2 is refused everything. */
	xt_spawn(&x, 2, self, "intruder", PATH, a, b);
	sim_expect(x.from, "refused", buf, sizeof buf);
	xt_role_done(&x, 0);

	/* dom1 gets in and talks. */
	xt_spawn(&c, 1, self, "client", PATH, a, b);
	sim_expect(c.from, "talked", buf, sizeof buf);
	/* The server withdrew its keys once the client was in: right after
	 * the kick of its reply, which dom1 may have read first. */
	char *ex[] = {(char *)"xenstore-exists", (char *)PATH, NULL};
	for (int i = 0; i < SIM_WAIT_MS / 50 &&
			run_capture(0, ex, buf, sizeof buf) == 0;
	     i++)
		usleep(50000);
	ASSERT_NE(xs_read_as(0, key, buf, sizeof buf), 0);
	ASSERT_NE(run_capture(0, ex, buf, sizeof buf), 0);
	sim_say(c.to, "bye");
	sim_say(s.to, "bye");
	xt_role_done(&c, 0);
	xt_role_done(&s, 0);
	puts("xen_perms: ok");
	return 0;
}
