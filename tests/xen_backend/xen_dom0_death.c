/* xen_dom0_death: a dom0 process's channels see a peer domain that dies
 * without its unmap notification (as `xl destroy` leaves it on real Xen),
 * through the one @releaseDomain watch the process's channels share
 * (lib/xen/xen_death.c), and only that channel goes.
 *
 * One dom0 server holds three channels at once, to dom1, dom2 and dom3.
 * dom1 and dom3 are vmsg clients. dom2 is a client written by hand that
 * maps the control page and binds the port *without* an unmap
 * notification, marks itself live and kicks: when its domain ends, nothing
 * clears its live byte but dom0's watch. A thread of the server waits in a
 * receive on each channel (each asleep on its own epoll fd, all holding the
 * shared watch's fd; one libxenstore thread for the three). After dom2's end, the receive on dom2's channel must
 * end with -EPIPE within its 10 s (the watch's work: nothing else can end
 * it), and the threads of dom1 and dom3, woken by the same watch event,
 * must go on waiting and then get what their clients send.
 *
 * dom2 and dom3 come up only once dom1 is in and the server waits for
 * dom2, after the watch's first event: dom2's end has looked for dom2's
 * domain before it existed, and must still count it alive once dom2
 * connected (it missed the death before that was so). */
#include "xen_test.h"

#include <dirent.h>
#include <pthread.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include <sys/mman.h>

#include <vmsg/frame.h>
#include <vmsg/ring.h>

#define TYPE (VMSG_TYPE_APP_MIN + 2)

static void path_of(char *buf, size_t cap, int dom)
{
	snprintf(buf, cap, "/local/domain/0/data/vchan/%d/death", dom);
}

struct waiter {
	vmsg_chan *c;
	int dom;
	pthread_mutex_t *say; /* one line at a time on xt_out */
};

/* A thread of the server: one receive on its channel, waiting up to 10 s,
 * then "domD RESULT MS". */
static void *waiter_run(void *arg)
{
	struct waiter *w = arg;
	uint16_t type;
	char buf[16];
	uint64_t t0 = xt_now_ns();
	int r = vmsg_chan_recv(w->c, &type, buf, sizeof buf, 10000);
	unsigned ms = (unsigned)((xt_now_ns() - t0) / 1000000u);
	pthread_mutex_lock(w->say);
	sim_say(xt_out, "dom%d %d %u", w->dom, r, ms);
	pthread_mutex_unlock(w->say);
	return NULL;
}

/* The threads of this process. */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	ASSERT_TRUE(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Role: serve dom1, dom2, dom3 at once; then a thread per channel waits
 * in a receive (so that each sleeps on its own epoll fd, all holding the
 * shared watch's fd, when dom2 dies). */
static int role_server(void)
{
	char line[64], path[128];
	vmsg_chan *c[4] = {NULL};
	for (int d = 1; d <= 3; d++) {
		path_of(path, sizeof path, d);
		ASSERT_EQ(vmsg_xen_serve(&c[d], (uint16_t)d, path, NULL), 0);
	}
	sim_say(xt_out, "served");
	for (int d = 1; d <= 3; d++)
		ASSERT_EQ(vmsg_chan_accept(c[d], SIM_WAIT_MS), 0);
	/* One watch for the three ends: our thread and libxenstore's reader
	 * of the shared handle, not one reader per end. */
	ASSERT_EQ(threads(), 2);
	pthread_mutex_t say = PTHREAD_MUTEX_INITIALIZER;
	struct waiter w[4];
	pthread_t t[4];
	for (int d = 1; d <= 3; d++) {
		w[d] = (struct waiter){.c = c[d], .dom = d, .say = &say};
		ASSERT_EQ(pthread_create(&t[d], NULL, waiter_run, &w[d]), 0);
	}
	pthread_mutex_lock(&say);
	sim_say(xt_out, "open");
	pthread_mutex_unlock(&say);
	for (int d = 1; d <= 3; d++)
		ASSERT_EQ(pthread_join(t[d], NULL), 0);
	sim_expect(xt_in, "quit", line, sizeof line);
	for (int d = 1; d <= 3; d++)
		vmsg_chan_close(c[d]);
	return 0;
}

/* Role (dom1, dom3): connect, say "in"; at "send" send "still". */
static int role_client(void)
{
	char path[128], line[16];
	vmsg_chan *c;
	path_of(path, sizeof path, atoi(getenv("XENSIM_DOMID")));
	ASSERT_EQ(vmsg_xen_connect(&c, 0, path, NULL, SIM_WAIT_MS), 0);
	sim_say(xt_out, "in");
	sim_expect(xt_in, "send", line, sizeof line);
	ASSERT_EQ(vmsg_chan_send(c, TYPE, "still", 5, 0, SIM_WAIT_MS), 5);
	sim_expect(xt_in, "quit", line, sizeof line);
	vmsg_chan_close(c);
	return 0;
}

static unsigned read_key(struct xs_handle *xs, const char *dir,
			 const char *leaf)
{
	char key[160];
	unsigned len = 0;
	snprintf(key, sizeof key, "%s/%s", dir, leaf);
	char *v = xs_read(xs, XBT_NULL, key, &len);
	ASSERT_TRUE(v != NULL);
	unsigned n = (unsigned)strtoul(v, NULL, 10);
	free(v);
	return n;
}

/* Role (dom2): the hand-made client without an unmap notification; says
 * "in" once live, then waits to be ended with its domain. */
static int role_bare(void)
{
	char path[128], line[16];
	path_of(path, sizeof path, 2);
	struct xs_handle *xs = xs_open(0);
	ASSERT_TRUE(xs != NULL);
	unsigned ref = read_key(xs, path, "ring-ref");
	unsigned port = read_key(xs, path, "event-channel");
	xs_close(xs);
	xengnttab_handle *tab = xengnttab_open(NULL, 0);
	xenevtchn_handle *evt = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(tab != NULL && evt != NULL);
	struct vmsg_vchan_page *pg =
		xengnttab_map_grant_ref(tab, 0, ref, PROT_READ | PROT_WRITE);
	ASSERT_TRUE(pg != NULL);
	xenevtchn_port_or_error_t lp = xenevtchn_bind_interdomain(evt, 0, port);
	ASSERT_GE(lp, 0);
	__atomic_store_n(&pg->cli_live, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(xenevtchn_notify(evt, (evtchn_port_t)lp), 0);
	sim_say(xt_out, "in");
	sim_expect(xt_in, "never", line, sizeof line); /* killed before */
	return 0;
}

int main(int argc, char **argv)
{
	static const struct xt_role_fn roles[] = {
		{"server", role_server},
		{"client", role_client},
		{"bare", role_bare},
		{NULL, NULL},
	};
	char self[4096], buf[128];
	xt_dispatch(argc, argv, roles);
	xt_driver_init(self, sizeof self, 120);
	struct xt_role s, c1, c2, c3;
	xt_spawn(&s, 0, self, "server", "-", NULL, NULL);
	sim_expect(s.from, "served", buf, sizeof buf);
	/* dom2's domain comes only once the server waits for it, after the
	 * watch's first event: the end to dom2 has then looked for its
	 * peer's domain before it existed, and must still count it alive
	 * once it connected (it used to miss its death, now and then, when
	 * the three domains came in this order by chance). */
	xt_spawn(&c1, 1, self, "client", "-", NULL, NULL);
	sim_expect(c1.from, "in", buf, sizeof buf);
	usleep(300000);
	xt_spawn(&c2, 2, self, "bare", "-", NULL, NULL);
	xt_spawn(&c3, 3, self, "client", "-", NULL, NULL);
	sim_expect(c2.from, "in", buf, sizeof buf);
	sim_expect(c3.from, "in", buf, sizeof buf);
	sim_expect(s.from, "open", buf, sizeof buf);

	/* dom2 ends (`xensim run` killed, its domain with it) once the
	 * server's threads are asleep in their receives. */
	usleep(300000);
	ASSERT_EQ(kill(c2.pid, SIGKILL), 0);
	ASSERT_EQ(sim_wait(c2.pid), 128 + SIGKILL);
	close(c2.to);
	close(c2.from);
	int r;
	unsigned ms;
	sim_expect(s.from, "dom2 ", buf, sizeof buf);
	ASSERT_EQ(sscanf(buf + 5, "%d %u", &r, &ms), 2);
	printf("dom0's channel to dom2, its thread waiting, after dom2 died "
	       "without an unmap notification: %d (%s) after %u ms\n", r,
	       vmsg_strerror(r), ms);
	ASSERT_EQ(r, -EPIPE);
	/* The others waited on: each gets its message. */
	sim_say(c1.to, "send");
	sim_say(c3.to, "send");
	for (int i = 0; i < 2; i++) {
		int d;
		sim_hear(s.from, buf, sizeof buf);
		ASSERT_EQ(sscanf(buf, "dom%d %d", &d, &r), 2);
		ASSERT_TRUE(d == 1 || d == 3);
		ASSERT_EQ(r, 5);
	}
	sim_say(s.to, "quit");
	sim_say(c1.to, "quit");
	sim_say(c3.to, "quit");
	xt_role_done(&s, 0);
	xt_role_done(&c1, 0);
	xt_role_done(&c3, 0);
	puts("xen_dom0_death: ok");
	return 0;
}
