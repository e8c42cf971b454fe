/* sim_gnttab: grants on the simulated Xen, through the drop-in
 * libxengnttab (the programs below link Debian's -lxengnttab; `xensim run`
 * swaps in ours).  Domain 1 shares pages with domain 2; domain 2 maps them
 * and sees the data (and domain 1 sees domain 2's write); domain 3 cannot
 * map them; a read-only grant maps read-only only; the unmap notification
 * (byte cleared + event) fires when the mapper is killed with SIGKILL while
 * its domain lives on; an unshared grant can no longer be mapped. */
#include "sim_harness.h"

#include <sys/mman.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define NOTIFY_OFF 100

static int in_fd, out_fd;

static int role_sharer(void)
{
	char buf[256];
	uint32_t rw[2], ro, nref;
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(gs && ev);
	int port = xenevtchn_bind_unbound_port(ev, 2);
	ASSERT_GT(port, 0);
	unsigned char *p = xengntshr_share_pages(gs, 2, 2, rw, 1);
	ASSERT_TRUE(p != NULL);
	for (int i = 0; i < 2 * 4096; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	unsigned char *q = xengntshr_share_pages(gs, 2, 1, &ro, 0);
	ASSERT_TRUE(q != NULL);
	memset(q, 0x5A, 4096);
	unsigned char *n = xengntshr_share_pages(gs, 2, 1, &nref, 1);
	ASSERT_TRUE(n != NULL);
	n[NOTIFY_OFF] = 1;
	sim_say(out_fd, "refs %u %u %u %u %d", rw[0], rw[1], ro, nref, port);

	sim_expect(in_fd, "check", buf, sizeof(buf));
	ASSERT_EQ(p[4096 + 10], 0xAB); /* written by domain 2 */
	sim_say(out_fd, "checked");

	sim_expect(in_fd, "waitnotify", buf, sizeof(buf));
	int got_event = 0;
	while (!got_event || __atomic_load_n(&n[NOTIFY_OFF], __ATOMIC_SEQ_CST)) {
		struct pollfd pf = { .fd = xenevtchn_fd(ev), .events = POLLIN };
		ASSERT_EQ(poll(&pf, 1, SIM_WAIT_MS), 1);
		int r = xenevtchn_pending(ev);
		ASSERT_EQ(r, port);
		ASSERT_EQ(xenevtchn_unmask(ev, (evtchn_port_t)r), 0);
		got_event = 1;
	}
	sim_say(out_fd, "notified");

	sim_expect(in_fd, "unshare", buf, sizeof(buf));
	ASSERT_EQ(xengntshr_unshare(gs, p, 2), 0);
	ASSERT_EQ(xengntshr_unshare(gs, p, 2), -1); /* no longer shared */
	sim_say(out_fd, "unshared");
	sim_expect(in_fd, "quit", buf, sizeof(buf));
	xengntshr_close(gs);
	xenevtchn_close(ev);
	return 0;
}

static void mapper(uint32_t r0, uint32_t r1, uint32_t ro, uint32_t nref,
		   int port)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(gt && ev);
	uint32_t refs[2] = { r0, r1 };
	unsigned char *p = xengnttab_map_domain_grant_refs(gt, 2, 1, refs,
							   PROT_READ | PROT_WRITE);
	ASSERT_TRUE(p != NULL);
	for (int i = 0; i < 2 * 4096; i++)
		ASSERT_EQ(p[i], (unsigned char)(i * 7 + 3));
	p[4096 + 10] = 0xAB;

	/* Read-only grant: maps for reading, not for writing. */
	errno = 0;
	ASSERT_TRUE(xengnttab_map_grant_ref(gt, 1, ro, PROT_READ | PROT_WRITE) == NULL);
	ASSERT_EQ(errno, EINVAL);
	unsigned char *q = xengnttab_map_grant_ref(gt, 1, ro, PROT_READ);
	ASSERT_TRUE(q != NULL);
	ASSERT_EQ(q[0], 0x5A);
	ASSERT_EQ(q[4095], 0x5A);
	ASSERT_EQ(mprotect(q, 4096, PROT_READ | PROT_WRITE), -1);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		q[0] = 1; /* must fault */
		_exit(0);
	}
	int st;
	ASSERT_EQ(waitpid(c, &st, 0), c);
	/* Killed by the fault (or, under ASan, exited non-zero from its
	 * handler): anything but a clean exit. */
	ASSERT_TRUE(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
	ASSERT_EQ(xengnttab_unmap(gt, q, 1), 0);
	ASSERT_EQ(xengnttab_unmap(gt, q, 1), -1);

	/* Unmap notification: clear the byte, send the event on our end. */
	int lport = xenevtchn_bind_interdomain(ev, 1, (evtchn_port_t)port);
	ASSERT_GT(lport, 0);
	ASSERT_TRUE(xengnttab_map_grant_ref_notify(gt, 1, nref, PROT_READ | PROT_WRITE,
						   NOTIFY_OFF, (evtchn_port_t)lport + 7) == NULL);
	unsigned char *n = xengnttab_map_grant_ref_notify(
		gt, 1, nref, PROT_READ | PROT_WRITE, NOTIFY_OFF, (evtchn_port_t)lport);
	ASSERT_TRUE(n != NULL);
	ASSERT_EQ(n[NOTIFY_OFF], 1);
	sim_say(out_fd, "mapped %d", (int)getpid());
	for (;;)
		pause(); /* until SIGKILL */
}

static int role_dom2(void)
{
	char buf[256];
	uint32_t r0, r1, ro, nref;
	int port;
	const char *rest = sim_expect(in_fd, "refs", buf, sizeof(buf));
	ASSERT_EQ(sscanf(rest, "%u %u %u %u %d", &r0, &r1, &ro, &nref, &port), 5);
	pid_t c = fork();
	ASSERT_TRUE(c >= 0);
	if (c == 0) {
		mapper(r0, r1, ro, nref, port);
		_exit(0);
	}
	sim_expect(in_fd, "mapfail", buf, sizeof(buf));
	int st;
	ASSERT_EQ(waitpid(c, &st, 0), c); /* the driver killed it */
	ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	ASSERT_TRUE(gt != NULL);
	errno = 0;
	ASSERT_TRUE(xengnttab_map_grant_ref(gt, 1, r0, PROT_READ) == NULL);
	ASSERT_EQ(errno, EINVAL);
	/* The grants still shared remain mappable. */
	void *q = xengnttab_map_grant_ref(gt, 1, ro, PROT_READ);
	ASSERT_TRUE(q != NULL);
	ASSERT_EQ(xengnttab_unmap(gt, q, 1), 0);
	xengnttab_close(gt);
	sim_say(out_fd, "mapfail ok");
	sim_expect(in_fd, "quit", buf, sizeof(buf));
	return 0;
}

static int role_intruder(uint32_t r0, uint32_t ro)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	ASSERT_TRUE(gt != NULL);
	errno = 0;
	ASSERT_TRUE(xengnttab_map_grant_ref(gt, 1, r0, PROT_READ) == NULL);
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_TRUE(xengnttab_map_grant_ref(gt, 1, ro, PROT_READ) == NULL);
	ASSERT_EQ(errno, EINVAL);
	uint32_t refs[2] = { r0, r0 + 1 };
	ASSERT_TRUE(xengnttab_map_domain_grant_refs(gt, 2, 1, refs, PROT_READ) == NULL);
	ASSERT_TRUE(xengnttab_map_grant_ref(gt, 1, 99999, PROT_READ) == NULL);
	ASSERT_TRUE(xengnttab_map_grant_ref(gt, 7, r0, PROT_READ) == NULL);
	xengnttab_close(gt);
	sim_say(out_fd, "intruder ok");
	return 0;
}

int main(int argc, char **argv)
{
	char buf[256], a[16], b[16], self[4096];

	if (argc >= 4) {
		in_fd = atoi(argv[2]);
		out_fd = atoi(argv[3]);
		if (!strcmp(argv[1], "sharer"))
			return role_sharer();
		if (!strcmp(argv[1], "dom2"))
			return role_dom2();
		if (!strcmp(argv[1], "intruder") && argc == 6)
			return role_intruder((uint32_t)atoi(argv[4]),
					     (uint32_t)atoi(argv[5]));
		return 2;
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	alarm(120);
	sim_setup(0);

	int s_in[2], s_out[2], d_in[2], d_out[2], i_out[2];
	sim_pipe(s_in);
	sim_pipe(s_out);
	sim_pipe(d_in);
	sim_pipe(d_out);
	sim_pipe(i_out);
	snprintf(a, sizeof(a), "%d", s_in[0]);
	snprintf(b, sizeof(b), "%d", s_out[1]);
	pid_t sharer = sim_spawn(1, (char *[]){ self, "sharer", a, b, NULL });
	const char *refs = sim_expect(s_out[0], "refs", buf, sizeof(buf));
	uint32_t r0, r1, ro, nref;
	int port;
	ASSERT_EQ(sscanf(refs, "%u %u %u %u %d", &r0, &r1, &ro, &nref, &port), 5);
	ASSERT_GE(r0, 8); /* refs 0-7 are reserved, as in Xen */

	snprintf(a, sizeof(a), "%d", d_in[0]);
	snprintf(b, sizeof(b), "%d", d_out[1]);
	pid_t dom2 = sim_spawn(2, (char *[]){ self, "dom2", a, b, NULL });
	sim_say(d_in[1], "refs %u %u %u %u %d", r0, r1, ro, nref, port);
	int mapper_pid = atoi(sim_expect(d_out[0], "mapped", buf, sizeof(buf)));
	ASSERT_GT(mapper_pid, 1);

	sim_say(s_in[1], "check");
	sim_expect(s_out[0], "checked", buf, sizeof(buf));

	char c0[16], c1[16];
	snprintf(a, sizeof(a), "%d", 0);
	snprintf(b, sizeof(b), "%d", i_out[1]);
	snprintf(c0, sizeof(c0), "%u", r0);
	snprintf(c1, sizeof(c1), "%u", ro);
	pid_t intr = sim_spawn(3, (char *[]){ self, "intruder", a, b, c0, c1, NULL });
	sim_expect(i_out[0], "intruder ok", buf, sizeof(buf));
	ASSERT_EQ(sim_wait(intr), 0);

	/* kill -9 of the mapper: its domain stays up, the notification fires. */
	ASSERT_EQ(kill(mapper_pid, SIGKILL), 0);
	sim_say(s_in[1], "waitnotify");
	sim_expect(s_out[0], "notified", buf, sizeof(buf));
	ASSERT_TRUE(sim_domain_alive(2));
	ASSERT_TRUE(!sim_domain_alive(3));

	sim_say(s_in[1], "unshare");
	sim_expect(s_out[0], "unshared", buf, sizeof(buf));
	sim_say(d_in[1], "mapfail");
	sim_expect(d_out[0], "mapfail ok", buf, sizeof(buf));

	sim_say(s_in[1], "quit");
	sim_say(d_in[1], "quit");
	ASSERT_EQ(sim_wait(sharer), 0);
	ASSERT_EQ(sim_wait(dom2), 0);
	ASSERT_TRUE(!sim_domain_alive(1));
	puts("sim_gnttab: ok");
	return 0;
}
