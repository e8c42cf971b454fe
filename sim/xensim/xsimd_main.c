/* xensimd: the simulated hypervisor's daemon.  Listens on
 * $XENSIM_DIR/xensimd.sock (SOCK_SEQPACKET), keeps the domain list, grant
 * tables and event channels, and runs vmsg-xenstored as a child.  One
 * connection per library handle; see xsim_proto.h. */
#define _GNU_SOURCE
#include "xsimd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

void xsimd_log(const char *fmt, ...)
{
	va_list ap;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "xensimd[%d] %ld.%03ld: ", (int)getpid(),
		(long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct xsimd_conn *conn_by_id(struct xsimd *d, uint32_t id)
{
	for (struct xsimd_conn *c = d->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* Forget connection c: everything it holds, and (close_fd) its socket. */
static void conn_free(struct xsimd *d, struct xsimd_conn *c, bool close_fd)
{
	/* Unlink first: releasing an anchor drops the domain's other
	 * connections, which walks this list. */
	for (struct xsimd_conn **pp = &d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->hello) {
		xsimd_gnt_conn_gone(d, c);
		xsimd_evt_conn_gone(d, c);
		if (c->kind == XSIM_KIND_ANCHOR)
			xsimd_dom_release(d, c->domid, c);
	}
	if (c->slots)
		munmap(c->slots, XSIM_EVT_SLOTS_SIZE);
	if (c->evt_memfd >= 0)
		close(c->evt_memfd);
	if (c->evt_sock >= 0)
		close(c->evt_sock);
	if (close_fd)
		close(c->fd);
	free(c);
}

void xsimd_conn_drop(struct xsimd *d, struct xsimd_conn *c)
{
	conn_free(d, c, true);
}

static int do_hello(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		    int *fds, unsigned nfds)
{
	uint32_t kind = m->arg[0], domid = m->arg[1];
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	int r;

	if (c->hello || kind < XSIM_KIND_ANCHOR || kind > XSIM_KIND_CTRL ||
	    domid >= XSIM_DOMID_LIMIT)
		return -EINVAL;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0)
		c->pid = cr.pid;
	if (kind == XSIM_KIND_EVTCHN) {
		struct stat st;
		if (nfds != 2 || fstat(fds[0], &st) < 0 ||
		    (size_t)st.st_size < XSIM_EVT_SLOTS_SIZE)
			return -EINVAL;
		void *p = mmap(NULL, XSIM_EVT_SLOTS_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fds[0], 0);
		if (p == MAP_FAILED)
			return -errno;
		c->slots = p;
		c->evt_memfd = fds[0];
		c->evt_sock = fds[1];
		fds[0] = fds[1] = -1;
	}
	if (kind == XSIM_KIND_ANCHOR) {
		if ((r = xsimd_dom_anchor(d, domid)) < 0)
			return r;
	} else if (!xsimd_dom_alive(d, domid)) {
		return -ESRCH;
	}
	c->kind = (int)kind;
	c->domid = domid;
	c->hello = true;
	m->arg[0] = c->id;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int do_list(struct xsimd *d, struct xsim_msg *m, uint32_t *vals)
{
	uint32_t n = 0;
	for (struct xsimd_domain *x = d->doms; x && n < XSIM_MAX_VALS; x = x->next)
		if (xsimd_dom_alive(d, x->domid))
			vals[n++] = x->domid;
	qsort(vals, n, sizeof(*vals), cmp_u32);
	m->n = n;
	return 0;
}

/* Handle one request.  Returns false if the connection must go. */
static bool conn_serve(struct xsimd *d, struct xsimd_conn *c)
{
	static uint32_t vals[XSIM_MAX_VALS];
	int fds[XSIM_MAX_FDS], rfds[XSIM_MAX_FDS];
	unsigned nfds = 0, nrfds = 0;
	struct xsim_msg m;
	int r = xsim_recv(c->fd, &m, vals, XSIM_MAX_VALS, fds, XSIM_MAX_FDS, &nfds);
	bool keep = true;

	if (r < 0)
		return false;
	uint32_t nin = m.n;
	m.n = 0;
	if (!c->hello && m.op != XSIM_OP_HELLO) {
		r = -EPROTO;
		keep = false;
	} else {
		switch (m.op) {
		case XSIM_OP_HELLO:
			r = do_hello(d, c, &m, fds, nfds);
			keep = r >= 0;
			break;
		case XSIM_OP_RELEASE:
			if (c->kind != XSIM_KIND_ANCHOR) {
				r = -EINVAL;
				break;
			}
			c->kind = XSIM_KIND_CTRL;
			xsimd_dom_release(d, c->domid, c);
			r = 0;
			break;
		case XSIM_OP_STOP:
			d->stopping = true;
			c->stopper = true;
			r = 0;
			break;
		case XSIM_OP_LIST:
			r = do_list(d, &m, vals);
			break;
		case XSIM_OP_SHARE:
			m.n = nin;
			r = xsimd_gnt_share(d, c, &m, vals, fds, nfds);
			if (r < 0)
				m.n = 0;
			break;
		case XSIM_OP_UNSHARE:
			r = xsimd_gnt_unshare(d, c, m.arg[0]);
			break;
		case XSIM_OP_MAP:
			m.n = nin;
			r = xsimd_gnt_map(d, c, &m, vals, rfds, &nrfds);
			if (r < 0)
				m.n = 0;
			break;
		case XSIM_OP_UNMAP:
			r = xsimd_gnt_unmap(d, c, m.arg[0]);
			break;
		case XSIM_OP_EVT_UNBOUND:
		case XSIM_OP_EVT_INTERDOMAIN:
		case XSIM_OP_EVT_UNBIND:
		case XSIM_OP_EVT_PEER:
			if (c->kind != XSIM_KIND_EVTCHN) {
				r = -EINVAL;
				break;
			}
			if (m.op == XSIM_OP_EVT_UNBOUND)
				r = xsimd_evt_unbound(d, c, m.arg[0]);
			else if (m.op == XSIM_OP_EVT_INTERDOMAIN)
				r = xsimd_evt_interdomain(d, c, m.arg[0], m.arg[1]);
			else if (m.op == XSIM_OP_EVT_UNBIND)
				r = xsimd_evt_unbind(d, c, m.arg[0]);
			else
				r = xsimd_evt_peer(d, c, &m, rfds, &nrfds);
			break;
		default:
			r = -ENOSYS;
		}
	}
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	m.result = r;
	if (r < 0)
		m.n = 0;
	if (xsim_send(c->fd, &m, vals, rfds, nrfds) < 0)
		keep = false;
	return keep;
}

static int listen_on(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xensimd.sock", dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The starter (`xensim`) holds the start lock, so a socket file here
	 * is stale. */
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	return fd;
}

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Every domain's handle is a connection, and a channel takes several:
 * thousands of channels need more descriptors than a shell's default
 * soft limit. Take the hard limit, and as root raise that too (up to
 * the kernel's nr_open, at most 1 << 20). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = rl.rlim_max;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	unsigned long nr_open = 0;
	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (nr_open > (1ul << 20))
		nr_open = 1ul << 20;
	if (geteuid() == 0 && nr_open > want) {
		struct rlimit up = { nr_open, nr_open };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Out of descriptors, a pending connection cannot be taken and the
 * listening socket stays readable: leave it out of poll for 100 ms at a
 * time instead of spinning, and say why (every 10 s at most), since the
 * clients only see their calls time out. */
static void say_exhausted(size_t conns)
{
	static time_t last;
	time_t now = time(NULL);
	if (now - last >= 10) {
		last = now;
		xsimd_log("cannot take a new connection: %s (%zu open); raise "
			  "the open-file limit (ulimit -n) of whoever starts "
			  "xensimd", strerror(errno), conns);
	}
}

static void run_loop(struct xsimd *d)
{
	struct pollfd *pf = NULL;
	uint32_t *ids = NULL;
	size_t cap = 0;
	bool exhausted = false;

	while (!d->stopping && !got_signal) {
		size_t n = 1;
		for (struct xsimd_conn *c = d->conns; c; c = c->next)
			n++;
		if (n > cap) {
			cap = n * 2;
			pf = realloc(pf, cap * sizeof(*pf));
			ids = realloc(ids, cap * sizeof(*ids));
			if (!pf || !ids) {
				xsimd_log("out of memory");
				exit(1);
			}
		}
		pf[0] = (struct pollfd){ .fd = exhausted ? -1 : d->listen_fd,
					 .events = POLLIN };
		n = 1;
		for (struct xsimd_conn *c = d->conns; c; c = c->next, n++) {
			pf[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			ids[n] = c->id;
		}
		if (poll(pf, n, exhausted ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			xsimd_log("poll: %s", strerror(errno));
			break;
		}
		/* Connections may vanish while serving others (a dying domain
		 * takes its handles with it), so look each one up by id. */
		for (size_t i = 1; i < n && !d->stopping; i++) {
			if (!pf[i].revents)
				continue;
			struct xsimd_conn *c = conn_by_id(d, ids[i]);
			if (c && !conn_serve(d, c))
				xsimd_conn_drop(d, c);
		}
		exhausted = false; /* try again */
		if (pf[0].revents & POLLIN) {
			int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
				say_exhausted(n - 1);
				exhausted = true;
			}
			struct xsimd_conn *c = fd >= 0 ? calloc(1, sizeof(*c)) : NULL;
			if (c) {
				c->fd = fd;
				c->evt_memfd = c->evt_sock = -1;
				c->id = ++d->next_id;
				c->next = d->conns;
				d->conns = c;
			} else if (fd >= 0) {
				close(fd);
			}
		}
	}
	free(pf);
	free(ids);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xensimd [--dir DIR] [--daemon] [--no-xenstore]\n"
		"The simulated Xen's daemon: domains, grant tables, event channels;\n"
		"runs vmsg-xenstored.  Normally started by `xensim run`.\n"
		"  --dir DIR       state directory (default $XENSIM_DIR, else\n"
		"                  $XDG_RUNTIME_DIR/xensim or /run/xensim)\n"
		"  --daemon        detach; exit 0 once ready (log: DIR/xensimd.log)\n"
		"  --no-xenstore   do not run vmsg-xenstored (also XENSIM_NO_XENSTORE=1)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "daemon", no_argument, NULL, 'D' },
		{ "no-xenstore", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct xsimd d = { .listen_fd = -1 };
	char dir[4096];
	bool daemonize = false, no_xs = false;
	const char *nx = getenv("XENSIM_NO_XENSTORE");
	int c, ready[2] = { -1, -1 };

	if (xsim_state_dir(dir, sizeof(dir)) < 0)
		dir[0] = 0;
	if (nx && *nx && strcmp(nx, "0") != 0)
		no_xs = true;
	while ((c = getopt_long(argc, argv, "d:Dnh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 'D': daemonize = true; break;
		case 'n': no_xs = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dir[0] || (mkdir(dir, 0755) < 0 && errno != EEXIST)) {
		fprintf(stderr, "xensimd: cannot create state dir '%s'\n", dir);
		return 1;
	}
	if (daemonize) {
		/* The parent returns once the child is serving, so the starter
		 * knows the socket is ready. */
		if (pipe2(ready, O_CLOEXEC) < 0)
			return 1;
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0) {
			char b = 0;
			close(ready[1]);
			ssize_t r;
			do
				r = read(ready[0], &b, 1);
			while (r < 0 && errno == EINTR);
			return r == 1 && b == 1 ? 0 : 1;
		}
		close(ready[0]);
		setsid();
		char logp[4200];
		snprintf(logp, sizeof(logp), "%s/xensimd.log", dir);
		if (!freopen("/dev/null", "r", stdin) ||
		    !freopen(logp, "a", stdout) || !freopen(logp, "a", stderr))
			return 1;
		setvbuf(stderr, NULL, _IOLBF, 0);
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	d.listen_fd = listen_on(dir);
	if (d.listen_fd < 0) {
		xsimd_log("cannot listen in %s: %s%s", dir, strerror(-d.listen_fd),
			  d.listen_fd == -ENAMETOOLONG
				  ? " (a UNIX socket's path must fit 107 bytes: "
				    "use a shorter XENSIM_DIR or TMPDIR)"
				  : "");
		return 1;
	}
	if (!no_xs && xsimd_xenstore_start(&d, dir) < 0) {
		xsimd_log("xenstore failed to start; giving up");
		return 1;
	}
	if (xsimd_dom_anchor(&d, 0) < 0) /* dom0 exists from the start */
		return 1;
	char pidp[4200];
	snprintf(pidp, sizeof(pidp), "%s/xensimd.pid", dir);
	FILE *pf = fopen(pidp, "w");
	if (pf) {
		fprintf(pf, "%d\n", (int)getpid());
		fclose(pf);
	}
	xsimd_log("serving %s%s", dir, no_xs ? " (no xenstore)" : "");
	if (ready[1] >= 0) {
		char b = 1;
		if (write(ready[1], &b, 1) != 1)
			return 1;
		close(ready[1]);
	}
	run_loop(&d);
	xsimd_log("stopping%s", got_signal ? " (signal)" : "");
	/* Whoever asked for the stop keeps its connection until we exit, so
	 * `xensim stop` returns only when everything is down. */
	for (;;) {
		struct xsimd_conn *x = d.conns;
		while (x && x->stopper)
			x = x->next;
		if (!x)
			break;
		xsimd_conn_drop(&d, x);
	}
	xsimd_xenstore_stop(&d);
	char sockp[4200];
	snprintf(sockp, sizeof(sockp), "%s/xensimd.sock", dir);
	unlink(sockp);
	unlink(pidp);
	close(d.listen_fd);
	/* Free what is left, so that anything still allocated at exit is a
	 * leak (the ASan build reports it in the log, and the tests' harness
	 * fails on it): the stoppers' connections, whose sockets close only
	 * with the process (their `xensim stop` returns when we are gone),
	 * and the domains. */
	while (d.conns)
		conn_free(&d, d.conns, false);
	xsimd_dom_free_all(&d);
	return 0;
}
