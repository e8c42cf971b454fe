/* fault_chan: one channel's whole life, written to end cleanly whatever
 * call fails: the program the allocation-failure driver
 * (tests/fault/failalloc.sh) runs under failalloc.so for N = 1, 2, ...
 *
 *   fault_chan server host|xen PATH STOPFILE [CLIENT_DOMID]
 *   fault_chan client host|xen PATH [SERVER_DOMID]
 *   fault_chan open SERVICE       (a guest of vmsgd on the simulated Xen)
 *   fault_chan offer SERVICE      (the same, a provider of one channel)
 *
 * The server serves PATH, prints "ready" once it can be connected to,
 * accepts (giving up when STOPFILE appears: the driver creates it when
 * the client has ended before connecting), then echoes every message
 * back with its type + 1 until the client closes. The client connects,
 * sends MSGS typed messages of sizes from 0 to several frames (the large
 * ones go fragmented), checks each echo byte for byte, and closes.
 * `open` is the same client on a channel of SERVICE opened through vmsgd
 * (vmsg_ctl_open and vmsg_service_open, each with a 2 s deadline, so that
 * a persistent error ends it quickly; vmsg/service.h). `offer` offers
 * SERVICE, prints "offered", accepts one channel (3 s at most: a failure the library reported
 * to vmsgd for it reaches the consumer, and us as that timeout), echoes
 * its messages with their types until the consumer closes, and ends.
 *
 * FAULT_EINTR=1 in the environment: a thread sends the main thread
 * SIGUSR1, caught by a handler installed without SA_RESTART, every 100
 * us, so that every wait of the library is interrupted (vmsg/chan.h: no
 * call may end for it); FAULT_MSGS=K: the client sends K messages (the
 * sizes cycle) instead of 12. At the end each side prints how many
 * signals it caught.
 *
 * Every failure prints "fault_chan: ROLE: CALL: vmsg_strerror(err)" and
 * ends the program with status 1 after closing what it had opened, by a
 * return from main, so that failalloc's exit report sees the live
 * allocations (none may remain). Success is status 0. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsg/chan.h>
#include <vmsg/host.h>
#ifdef FAULT_HAVE_XEN
#include <vmsg/xen.h>
#endif
#ifdef FAULT_HAVE_SERVICE
#include <vmsg/service.h>
#endif

#define T 10000 /* ms: only reached when the other side has failed */
static unsigned MSGS = 12;
#define BUFSZ (256 * 1024)

static const char *role = "?";
static unsigned type_delta = 1; /* our server's echo: type + 1 */
static unsigned char sbuf[BUFSZ], rbuf[BUFSZ];

static int report(const char *call, int err)
{
	printf("fault_chan: %s: %s: %s\n", role, call, vmsg_strerror(err));
	fflush(stdout);
	return 1;
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static size_t msg_len(vmsg_chan *c, unsigned i)
{
	size_t frame = (size_t)vmsg_chan_max_frame(c);
	size_t max = (size_t)vmsg_chan_max_msg(c);
	size_t sizes[] = { 0, 1, 100, frame - 1, frame, frame + 1,
			   2 * frame + 7, 3 * frame, 4000, 65536, 5 * frame + 3,
			   17 };
	size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
	if (n > max)
		n = max;
	return n > BUFSZ ? BUFSZ : n;
}

static int serve(const char *backend, const char *path, const char *stop,
		 int peer)
{
	vmsg_chan *c;
	int r;
	role = "server";
	if (!strcmp(backend, "host"))
		r = vmsg_host_serve(&c, path, NULL);
	else
#ifdef FAULT_HAVE_XEN
		r = vmsg_xen_serve(&c, (uint16_t)peer, path, NULL);
#else
		r = (void)peer, -ENOTSUP;
#endif
	if (r < 0)
		return report("serve", r);
	printf("ready\n");
	fflush(stdout);
	while ((r = vmsg_chan_accept(c, 100)) == -ETIMEDOUT ||
	       r == -EAGAIN) {
		if (access(stop, F_OK) == 0) {
			printf("fault_chan: server: the client has gone\n");
			vmsg_chan_close(c);
			return 1;
		}
	}
	if (r < 0) {
		vmsg_chan_close(c);
		return report("accept", r);
	}
	for (;;) {
		uint16_t type;
		r = vmsg_chan_recv(c, &type, rbuf, sizeof rbuf, T);
		if (r == -EPIPE)
			break; /* the client closed: done */
		if (r < 0) {
			vmsg_chan_close(c);
			return report("recv", r);
		}
		int s = vmsg_chan_send(c, (uint16_t)(type + 1), rbuf, (size_t)r,
				       0, T);
		if (s < 0) {
			vmsg_chan_close(c);
			return report("send", s);
		}
	}
	vmsg_chan_close(c);
	return 0;
}

/* The client's exchange on c; closes c. 0, 1 (an error) or 3. */
static int exchange(vmsg_chan *c)
{
	int r;
	for (unsigned i = 0; i < MSGS; i++) {
		size_t n = msg_len(c, i);
		uint16_t type = 0;
		fill(sbuf, n, i);
		r = vmsg_chan_send(c, (uint16_t)(100 + 2 * i), sbuf, n, 0, T);
		if (r < 0) {
			vmsg_chan_close(c);
			return report("send", r);
		}
		r = vmsg_chan_recv(c, &type, rbuf, sizeof rbuf, T);
		if (r < 0) {
			vmsg_chan_close(c);
			return report("recv", r);
		}
		if ((size_t)r != n || type != 100 + 2 * i + type_delta ||
		    memcmp(rbuf, sbuf, n) != 0) {
			/* A wrong answer is no clean error: status 3. */
			printf("fault_chan: %s: message %u came back wrong "
			       "(%d bytes, type %u)\n", role, i, r, type);
			vmsg_chan_close(c);
			return 3;
		}
	}
	vmsg_chan_close(c);
	printf("fault_chan: %s: %u messages echoed\n", role, MSGS);
	return 0;
}

static int client(const char *backend, const char *path, int peer)
{
	vmsg_chan *c;
	int r;
	role = "client";
	if (!strcmp(backend, "host"))
		r = vmsg_host_connect(&c, path, NULL, T);
	else
#ifdef FAULT_HAVE_XEN
		r = vmsg_xen_connect(&c, (uint16_t)peer, path, NULL, T);
#else
		r = (void)peer, -ENOTSUP;
#endif
	if (r < 0)
		return report("connect", r);
	return exchange(c);
}

#ifdef FAULT_HAVE_SERVICE
static int open_service(const char *name)
{
	vmsg_ctl *ctl;
	vmsg_chan *c;
	role = "open";
	type_delta = 0; /* the echo appliance keeps the type */
	int r = vmsg_ctl_open(&ctl, 2000);
	if (r < 0)
		return report("vmsg_ctl_open", r);
	r = vmsg_service_open(ctl, name, &c, 2000);
	if (r < 0) {
		printf("fault_chan: open: vmsg_service_open: %s (%s)\n",
		       vmsg_strerror(r), vmsg_ctl_error(ctl));
		vmsg_ctl_close(ctl);
		return 1;
	}
	r = exchange(c);
	vmsg_ctl_close(ctl);
	return r;
}

static int offer_service(const char *name)
{
	vmsg_ctl *ctl;
	vmsg_chan *c;
	role = "offer";
	int r = vmsg_ctl_open(&ctl, 2000);
	if (r < 0)
		return report("vmsg_ctl_open", r);
	r = vmsg_service_offer(ctl, name, 2000);
	if (r < 0) {
		printf("fault_chan: offer: vmsg_service_offer: %s (%s)\n",
		       vmsg_strerror(r), vmsg_ctl_error(ctl));
		vmsg_ctl_close(ctl);
		return 1;
	}
	printf("offered\n");
	fflush(stdout);
	r = vmsg_service_accept(ctl, &c, NULL, 3000);
	if (r < 0) {
		vmsg_ctl_close(ctl);
		return report("vmsg_service_accept", r);
	}
	for (;;) {
		uint16_t type;
		r = vmsg_chan_recv(c, &type, rbuf, sizeof rbuf, T);
		if (r == -EPIPE)
			break;
		if (r >= 0)
			r = vmsg_chan_send(c, type, rbuf, (size_t)r, 0, T);
		if (r < 0) {
			vmsg_service_close(ctl, c);
			vmsg_ctl_close(ctl);
			return report("echo", r);
		}
	}
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}
#endif

static atomic_uint hits;
static atomic_int stop_pinger;
static pthread_t main_thread, pinger_thread;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

static void *pinger(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 100000};
	while (!atomic_load(&stop_pinger)) {
		pthread_kill(main_thread, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int run(int argc, char **argv);

int main(int argc, char **argv)
{
	const char *m = getenv("FAULT_MSGS");
	if (m && atoi(m) > 0)
		MSGS = (unsigned)atoi(m);
	if (!getenv("FAULT_EINTR"))
		return run(argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking syscalls end with EINTR */
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return 2;
	/* Only the main thread takes it: block it here, in the pinger. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	main_thread = pthread_self();
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&pinger_thread, NULL, pinger, NULL) != 0)
		return 2;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	int r = run(argc, argv);
	atomic_store(&stop_pinger, 1);
	pthread_join(pinger_thread, NULL);
	printf("fault_chan: %s: %u signals caught\n", role, atomic_load(&hits));
	return r;
}

static int run(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "server"))
		return serve(argv[2], argv[3], argv[4],
			     argc > 5 ? atoi(argv[5]) : 0);
	if (argc >= 4 && !strcmp(argv[1], "client"))
		return client(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 0);
#ifdef FAULT_HAVE_SERVICE
	if (argc >= 3 && !strcmp(argv[1], "open"))
		return open_service(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "offer"))
		return offer_service(argv[2]);
#endif
	fprintf(stderr, "usage: fault_chan server host|xen PATH STOPFILE [DOMID]\n"
			"       fault_chan client host|xen PATH [DOMID]\n"
		"       fault_chan open|offer SERVICE\n");
	return 2;
}
