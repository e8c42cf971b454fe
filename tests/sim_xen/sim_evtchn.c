/* sim_evtchn: event channels on the simulated Xen, through the drop-in
 * libxenevtchn (the programs link Debian's -lxenevtchn; `xensim run` swaps
 * in ours).  Checks: bind_unbound_port reserves a port for one domain, a
 * third domain (and a second bind) cannot take it; notify works both ways;
 * the fd polls readable exactly when a port was delivered; a delivered port
 * stays masked until unmasked and is redelivered on unmask if it fired
 * meanwhile; notify on a port the peer unbound is dropped silently; after
 * the peer unbinds, its domain can bind the port again. */
#include "sim_harness.h"

#include <xenevtchn.h>

static int in_fd, out_fd;

static int ready(xenevtchn_handle *ev, int ms)
{
	struct pollfd pf = { .fd = xenevtchn_fd(ev), .events = POLLIN };
	int r;
	while ((r = poll(&pf, 1, ms)) < 0 && errno == EINTR)
		;
	return r;
}

/* Wait for one delivery, which must be `port`, and unmask it. */
static void take(xenevtchn_handle *ev, int port)
{
	ASSERT_EQ(ready(ev, SIM_WAIT_MS), 1);
	ASSERT_EQ(xenevtchn_pending(ev), port);
	ASSERT_EQ(xenevtchn_unmask(ev, (evtchn_port_t)port), 0);
}

static int role_a(void)
{
	char buf[128];
	xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(ev != NULL);
	int p = xenevtchn_bind_unbound_port(ev, 2);
	ASSERT_GT(p, 0);
	ASSERT_EQ(ready(ev, 0), 0);
	sim_say(out_fd, "port %d", p);

	sim_expect(in_fd, "expect3", buf, sizeof(buf));
	/* Three notifies, one delivery: the port is masked once delivered. */
	ASSERT_EQ(ready(ev, SIM_WAIT_MS), 1);
	ASSERT_EQ(xenevtchn_pending(ev), p);
	ASSERT_EQ(ready(ev, 0), 0);
	/* It fired again while masked: unmasking delivers it again. */
	ASSERT_EQ(xenevtchn_unmask(ev, (evtchn_port_t)p), 0);
	ASSERT_EQ(ready(ev, 0), 1);
	ASSERT_EQ(xenevtchn_pending(ev), p);
	ASSERT_EQ(xenevtchn_unmask(ev, (evtchn_port_t)p), 0);
	ASSERT_EQ(ready(ev, 0), 0);
	/* Non-blocking fd: pending says EAGAIN instead of blocking. */
	int fl = fcntl(xenevtchn_fd(ev), F_GETFL);
	ASSERT_EQ(fcntl(xenevtchn_fd(ev), F_SETFL, fl | O_NONBLOCK), 0);
	errno = 0;
	ASSERT_EQ(xenevtchn_pending(ev), -1);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(fcntl(xenevtchn_fd(ev), F_SETFL, fl), 0);
	/* Ports this handle does not own. */
	ASSERT_EQ(xenevtchn_notify(ev, (evtchn_port_t)p + 50), -1);
	ASSERT_EQ(xenevtchn_unbind(ev, (evtchn_port_t)p + 50), -1);
	ASSERT_EQ(xenevtchn_notify(ev, (evtchn_port_t)p), 0);
	sim_say(out_fd, "ok3");

	sim_expect(in_fd, "notify-dropped", buf, sizeof(buf));
	ASSERT_EQ(xenevtchn_notify(ev, (evtchn_port_t)p), 0); /* peer unbound */
	sim_say(out_fd, "sent");

	sim_expect(in_fd, "notify", buf, sizeof(buf));
	ASSERT_EQ(xenevtchn_notify(ev, (evtchn_port_t)p), 0);
	sim_say(out_fd, "sent");

	sim_expect(in_fd, "quit", buf, sizeof(buf));
	/* Nothing else was delivered to us along the way. */
	ASSERT_EQ(ready(ev, 0), 0);
	ASSERT_EQ(xenevtchn_unbind(ev, (evtchn_port_t)p), 0);
	ASSERT_EQ(xenevtchn_unbind(ev, (evtchn_port_t)p), -1);
	ASSERT_EQ(xenevtchn_close(ev), 0);
	return 0;
}

static int role_b(int p)
{
	char buf[128];
	xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(ev != NULL);
	int q = xenevtchn_bind_interdomain(ev, 1, (evtchn_port_t)p);
	ASSERT_GT(q, 0);
	/* Xen marks a freshly bound interdomain port pending. */
	take(ev, q);
	/* The port is taken now. */
	errno = 0;
	ASSERT_EQ(xenevtchn_bind_interdomain(ev, 1, (evtchn_port_t)p), -1);
	ASSERT_EQ(errno, EINVAL);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(xenevtchn_notify(ev, (evtchn_port_t)q), 0);
	sim_say(out_fd, "sent3");

	sim_expect(in_fd, "take", buf, sizeof(buf));
	take(ev, q);
	ASSERT_EQ(ready(ev, 0), 0);
	ASSERT_EQ(xenevtchn_unbind(ev, (evtchn_port_t)q), 0);
	errno = 0;
	ASSERT_EQ(xenevtchn_notify(ev, (evtchn_port_t)q), -1);
	sim_say(out_fd, "unbound");

	sim_expect(in_fd, "rebind", buf, sizeof(buf));
	ASSERT_EQ(ready(ev, 0), 0); /* the dropped notify did not arrive */
	int q2 = xenevtchn_bind_interdomain(ev, 1, (evtchn_port_t)p);
	ASSERT_GT(q2, 0);
	take(ev, q2);
	sim_say(out_fd, "rebound");

	sim_expect(in_fd, "take", buf, sizeof(buf));
	take(ev, q2);
	sim_say(out_fd, "taken");
	sim_expect(in_fd, "quit", buf, sizeof(buf));
	ASSERT_EQ(xenevtchn_close(ev), 0);
	return 0;
}

static int role_c(int p)
{
	xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
	ASSERT_TRUE(ev != NULL);
	errno = 0;
	ASSERT_EQ(xenevtchn_bind_interdomain(ev, 1, (evtchn_port_t)p), -1);
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_EQ(xenevtchn_bind_interdomain(ev, 9, 1), -1); /* no domain 9 */
	ASSERT_EQ(errno, ESRCH);
	ASSERT_EQ(xenevtchn_bind_virq(ev, 0), -1);
	xenevtchn_close(ev);
	sim_say(out_fd, "intruder ok");
	return 0;
}

int main(int argc, char **argv)
{
	char buf[128], a[16], b[16], c[16], self[4096];

	if (argc >= 4) {
		in_fd = atoi(argv[2]);
		out_fd = atoi(argv[3]);
		if (!strcmp(argv[1], "a"))
			return role_a();
		if (!strcmp(argv[1], "b") && argc == 5)
			return role_b(atoi(argv[4]));
		if (!strcmp(argv[1], "c") && argc == 5)
			return role_c(atoi(argv[4]));
		return 2;
	}
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	alarm(120);
	sim_setup(0);

	int a_in[2], a_out[2], b_in[2], b_out[2], c_out[2];
	sim_pipe(a_in);
	sim_pipe(a_out);
	sim_pipe(b_in);
	sim_pipe(b_out);
	sim_pipe(c_out);
	snprintf(a, sizeof(a), "%d", a_in[0]);
	snprintf(b, sizeof(b), "%d", a_out[1]);
	pid_t pa = sim_spawn(1, (char *[]){ self, "a", a, b, NULL });
	int p = atoi(sim_expect(a_out[0], "port", buf, sizeof(buf)));
	ASSERT_GT(p, 0);
	snprintf(c, sizeof(c), "%d", p);

	snprintf(a, sizeof(a), "%d", 0);
	snprintf(b, sizeof(b), "%d", c_out[1]);
	pid_t pc = sim_spawn(3, (char *[]){ self, "c", a, b, c, NULL });
	sim_expect(c_out[0], "intruder ok", buf, sizeof(buf));
	ASSERT_EQ(sim_wait(pc), 0);

	snprintf(a, sizeof(a), "%d", b_in[0]);
	snprintf(b, sizeof(b), "%d", b_out[1]);
	pid_t pb = sim_spawn(2, (char *[]){ self, "b", a, b, c, NULL });
	sim_expect(b_out[0], "sent3", buf, sizeof(buf));
	sim_say(a_in[1], "expect3");
	sim_expect(a_out[0], "ok3", buf, sizeof(buf));
	/* A's last notify in expect3 is pending at B; take it, then A
	 * notifies once more and B must see that too. */
	sim_say(b_in[1], "take");
	sim_expect(b_out[0], "unbound", buf, sizeof(buf));
	sim_say(a_in[1], "notify-dropped");
	sim_expect(a_out[0], "sent", buf, sizeof(buf));
	sim_say(b_in[1], "rebind");
	sim_expect(b_out[0], "rebound", buf, sizeof(buf));
	sim_say(a_in[1], "notify");
	sim_expect(a_out[0], "sent", buf, sizeof(buf));
	sim_say(b_in[1], "take");
	sim_expect(b_out[0], "taken", buf, sizeof(buf));
	sim_say(a_in[1], "quit");
	sim_say(b_in[1], "quit");
	ASSERT_EQ(sim_wait(pa), 0);
	ASSERT_EQ(sim_wait(pb), 0);
	puts("sim_evtchn: ok");
	return 0;
}
