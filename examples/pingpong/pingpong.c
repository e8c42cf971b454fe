/* vmsg-pingpong: two processes bounce one typed message back and forth over
 * a vmsg channel (host backend) and report round-trip latency percentiles;
 * with --compare-unix the same exchange over an AF_UNIX socketpair runs in
 * the same invocation, for a side-by-side figure. The client checks every
 * echoed byte. Run with --help for the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsg/version.h>
#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/host.h>

#include "measure.h"

#define PP_TYPE (VMSG_TYPE_APP_MIN + 0x42u) /* an application type */
#define PP_SPIN_DEFAULT_NS 10000000ull      /* --wait spin: 10 ms budget */
#define PP_CONNECT_TIMEOUT_MS 10000

enum role { ROLE_BOTH, ROLE_SERVER, ROLE_CLIENT };

struct pp_opts {
	size_t count, warmup, size;
	uint64_t spin_ns;
	uint32_t ring;
	const char *path;
	enum role role;
	int cpu[2]; /* client, server; -1: not pinned */
	bool spin, spin_set, compare_unix;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmsg-pingpong [options]\n"
"Two processes exchange typed messages over a vmsg channel (host backend:\n"
"memfd rings, eventfd events, a UNIX socket rendezvous). The client sends a\n"
"message, the server echoes it, the client checks every byte and times the\n"
"round trip. Prints min/mean/p50/p99/max round-trip time in microseconds and\n"
"one-way messages per second (two per round trip).\n"
"\n"
"  --count N      measured round trips (default 100000)\n"
"  --warmup N     unmeasured round trips before them (default 1000)\n"
"  --size BYTES   payload bytes per message, 0..%u (default 64)\n"
"  --wait MODE    spin: spin up to 10 ms before sleeping on the event;\n"
"                 block: sleep at once (spin_ns 0; the default)\n"
"  --spin-ns NS   explicit spin budget in nanoseconds (overrides --wait)\n"
"  --ring BYTES   ring size each way, 1024..1048576 (default %u)\n"
"  --path PATH    rendezvous socket path (default: in a fresh temp dir)\n"
"  --server       run only the echo server (waits for one client)\n"
"  --client       run only the measuring client (needs --path)\n"
"  --cpus A,B     pin the client to CPU A and the server to CPU B\n"
"  --compare-unix also run the same ping-pong over an AF_UNIX stream\n"
"                 socketpair and print both rows\n"
"  --version      show the version\n"
"  --help         show this text\n"
"Without --server/--client the program forks the server itself.\n"
"Exit status: 0 ok, 1 error or payload mismatch, 2 bad options.\n",
		VMSG_DEFAULT_MAX_MSG, VMSG_DEFAULT_RING_SIZE);
}

static int bad_option(const char *msg, const char *arg)
{
	fprintf(stderr, "vmsg-pingpong: %s%s%s\n", msg, arg ? ": " : "",
		arg ? arg : "");
	fprintf(stderr, "try 'vmsg-pingpong --help'\n");
	return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_cpus(const char *s, int cpu[2])
{
	int a, b, n = 0;

	if (sscanf(s, "%d,%d%n", &a, &b, &n) != 2 || s[n] || a < 0 || b < 0 ||
	    a >= CPU_SETSIZE || b >= CPU_SETSIZE)
		return false;
	cpu[0] = a;
	cpu[1] = b;
	return true;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct pp_opts *o)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "size", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "spin-ns", required_argument, NULL, 'S' },
		{ "ring", required_argument, NULL, 'r' },
		{ "path", required_argument, NULL, 'p' },
		{ "server", no_argument, NULL, 'L' },
		{ "client", no_argument, NULL, 'C' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "compare-unix", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct pp_opts){ .count = 100000, .warmup = 1000, .size = 64,
			       .ring = VMSG_DEFAULT_RING_SIZE,
			       .cpu = { -1, -1 } };
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (!parse_u64(optarg, 1000000000, &v) || v == 0)
				return bad_option("bad --count", optarg);
			o->count = v;
			break;
		case 'W':
			if (!parse_u64(optarg, 1000000000, &v))
				return bad_option("bad --warmup", optarg);
			o->warmup = v;
			break;
		case 's':
			if (!parse_u64(optarg, VMSG_DEFAULT_MAX_MSG, &v))
				return bad_option("bad --size", optarg);
			o->size = v;
			break;
		case 'w':
			if (strcmp(optarg, "spin") && strcmp(optarg, "block"))
				return bad_option("--wait takes spin or block",
						  optarg);
			o->spin = !strcmp(optarg, "spin");
			break;
		case 'S':
			if (!parse_u64(optarg, UINT64_MAX, &v))
				return bad_option("bad --spin-ns", optarg);
			o->spin_ns = v;
			o->spin_set = true;
			break;
		case 'r':
			if (!parse_u64(optarg, 1u << 20, &v) || v < 1024)
				return bad_option("bad --ring", optarg);
			o->ring = (uint32_t)v;
			break;
		case 'p':
			o->path = optarg;
			break;
		case 'L':
		case 'C':
			if (o->role != ROLE_BOTH)
				return bad_option("--server and --client "
						  "exclude each other", NULL);
			o->role = ch == 'L' ? ROLE_SERVER : ROLE_CLIENT;
			break;
		case 'c':
			if (!parse_cpus(optarg, o->cpu))
				return bad_option("--cpus takes A,B", optarg);
			break;
		case 'u':
			o->compare_unix = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmsg-pingpong %s\n", vmsg_version());
			return 0;
		default:
			return bad_option("unknown option or missing argument",
					  argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_option("unexpected argument", argv[optind]);
	if (o->role == ROLE_CLIENT && !o->path)
		return bad_option("--client needs --path", NULL);
	if (o->compare_unix && o->role != ROLE_BOTH)
		return bad_option("--compare-unix runs both sides itself", NULL);
	if (!o->spin_set)
		o->spin_ns = o->spin ? PP_SPIN_DEFAULT_NS : 0;
	return -1;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "vmsg-pingpong: %s: %s\n", what, vmsg_strerror(err));
	return 1;
}

static void chan_opts(const struct pp_opts *o, struct vmsg_chan_opts *co)
{
	vmsg_chan_opts_init(co);
	co->rx_ring_size = o->ring;
	co->tx_ring_size = o->ring;
	co->spin_ns = o->spin_ns;
}

/* ---- the vmsg side ------------------------------------------------------ */

/* Echo every message back, zero-copy from the rx ring into send(), until
 * the client closes. */
static int vmsg_server(const struct pp_opts *o, const char *path,
		       int accept_ms)
{
	struct vmsg_chan_opts co;
	struct vmsg_msg m;
	vmsg_chan *c;
	int r;

	if ((r = pp_pin_cpu(o->cpu[1])) < 0)
		return fail("server: sched_setaffinity", r);
	chan_opts(o, &co);
	if ((r = vmsg_host_serve(&c, path, &co)) < 0)
		return fail("server: vmsg_host_serve", r);
	if ((r = vmsg_chan_accept(c, accept_ms)) < 0) {
		vmsg_chan_close(c);
		return fail("server: vmsg_chan_accept", r);
	}
	while ((r = vmsg_chan_peek(c, &m, -1)) >= 0) {
		r = vmsg_chan_send(c, m.type, m.data, m.len, 0, -1);
		if (r < 0)
			break;
		if ((r = vmsg_chan_release(c)) < 0)
			break;
	}
	vmsg_chan_close(c);
	if (r != -EPIPE) /* the client's close ends a good run */
		return fail("server: echo", r);
	return 0;
}

struct run {
	uint64_t *samples;
	uint8_t *tx, *rx;
	size_t mismatches;
};

static void stamp(const struct pp_opts *o, struct run *rn, uint64_t seq)
{
	memcpy(rn->tx, &seq, o->size < 8 ? o->size : 8);
}

static int vmsg_client(const struct pp_opts *o, const char *path,
		       struct run *rn, uint64_t *elapsed)
{
	struct vmsg_chan_opts co;
	vmsg_chan *c;
	uint64_t t0 = 0;
	uint16_t type;
	int r = 0;

	if ((r = pp_pin_cpu(o->cpu[0])) < 0)
		return fail("client: sched_setaffinity", r);
	chan_opts(o, &co);
	if ((r = vmsg_host_connect(&c, path, &co, PP_CONNECT_TIMEOUT_MS)) < 0)
		return fail("client: vmsg_host_connect", r);
	for (size_t i = 0; i < o->warmup + o->count; i++) {
		uint64_t start;

		if (i == o->warmup)
			t0 = pp_now_ns();
		stamp(o, rn, i);
		start = pp_now_ns();
		r = vmsg_chan_send(c, PP_TYPE, rn->tx, o->size, 0, -1);
		if (r < 0)
			break;
		r = vmsg_chan_recv(c, &type, rn->rx, o->size, -1);
		if (r < 0)
			break;
		if (i >= o->warmup)
			rn->samples[i - o->warmup] = pp_now_ns() - start;
		if (type != PP_TYPE || (size_t)r != o->size ||
		    memcmp(rn->rx, rn->tx, o->size))
			rn->mismatches++;
	}
	*elapsed = pp_now_ns() - t0;
	vmsg_chan_close(c);
	return r < 0 ? fail("client: ping-pong", r) : 0;
}

/* ---- the AF_UNIX side, for comparison ----------------------------------- */

static int io_full(int fd, void *buf, size_t len, bool wr)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int unix_server(const struct pp_opts *o, int fd, uint8_t *buf)
{
	int r;

	if ((r = pp_pin_cpu(o->cpu[1])) < 0)
		return fail("unix server: sched_setaffinity", r);
	while ((r = io_full(fd, buf, o->size, false)) == 0)
		if ((r = io_full(fd, buf, o->size, true)) < 0)
			break;
	return r == -EPIPE ? 0 : fail("unix server", r);
}

static int unix_client(const struct pp_opts *o, int fd, struct run *rn,
		       uint64_t *elapsed)
{
	uint64_t t0 = 0;
	int r = 0;

	for (size_t i = 0; i < o->warmup + o->count && !r; i++) {
		uint64_t start;

		if (i == o->warmup)
			t0 = pp_now_ns();
		stamp(o, rn, i);
		start = pp_now_ns();
		if ((r = io_full(fd, rn->tx, o->size, true)) < 0 ||
		    (r = io_full(fd, rn->rx, o->size, false)) < 0)
			break;
		if (i >= o->warmup)
			rn->samples[i - o->warmup] = pp_now_ns() - start;
		if (memcmp(rn->rx, rn->tx, o->size))
			rn->mismatches++;
	}
	*elapsed = pp_now_ns() - t0;
	return r < 0 ? fail("unix client", r) : 0;
}

/* ---- driving both sides ------------------------------------------------- */

/* Fork the server side, which dies with us: the vmsg server at path when
 * unix_fd < 0, else the socket echo on unix_fd (the child closes our end,
 * close_fd, so that our close is its EOF). */
static pid_t spawn_server(const struct pp_opts *o, const char *path,
			  int unix_fd, int close_fd, uint8_t *buf)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (close_fd >= 0)
		close(close_fd);
	_exit(unix_fd < 0 ? vmsg_server(o, path, 30000)
			  : unix_server(o, unix_fd, buf));
}

static int reap(pid_t pid, bool kill_it)
{
	int st;

	if (kill_it)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail("waitpid", -errno);
	if (kill_it)
		return 1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "vmsg-pingpong: server process failed\n");
		return 1;
	}
	return 0;
}

static int measure_vmsg(const struct pp_opts *o, const char *path,
			struct run *rn, struct lat_summary *s)
{
	uint64_t elapsed = 0;
	pid_t pid = 0;
	int r;

	if (o->role == ROLE_BOTH && (pid = spawn_server(o, path, -1, -1, NULL)) < 0)
		return fail("fork", -errno);
	r = vmsg_client(o, path, rn, &elapsed);
	if (pid > 0 && reap(pid, r != 0))
		r = 1;
	pp_summarize(rn->samples, o->count, elapsed, s);
	return r;
}

static int measure_unix(const struct pp_opts *o, struct run *rn,
			struct lat_summary *s)
{
	uint64_t elapsed = 0;
	int sv[2], r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("socketpair", -errno);
	pid = spawn_server(o, NULL, sv[1], sv[0], rn->rx);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return fail("fork", -errno);
	}
	r = unix_client(o, sv[0], rn, &elapsed);
	close(sv[0]); /* EOF ends the echo */
	if (reap(pid, r != 0))
		r = 1;
	pp_summarize(rn->samples, o->count, elapsed, s);
	return r;
}

/* A socket path in a fresh temp dir; the dir is removed by drop_temp(). */
static int make_temp(char *dir, size_t dsz, char *path, size_t psz)
{
	const char *t = getenv("TMPDIR");

	if (!t || !*t || strlen(t) > 64)
		t = "/tmp";
	snprintf(dir, dsz, "%s/vmsg-pingpong.XXXXXX", t);
	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, psz, "%s/sock", dir);
	return 0;
}

static void drop_temp(const char *dir, const char *path)
{
	unlink(path); /* normally already gone */
	rmdir(dir);
}

static int run(const struct pp_opts *o, const char *path)
{
	struct lat_summary sv = { 0 }, su = { 0 };
	struct run rn = { 0 };
	int r = 1;

	if (o->role == ROLE_SERVER) {
		printf("vmsg-pingpong: serving on %s\n", path);
		fflush(stdout);
		return vmsg_server(o, path, -1);
	}
	rn.samples = calloc(o->count, sizeof(*rn.samples));
	rn.tx = malloc(o->size ? o->size : 1);
	rn.rx = malloc(o->size ? o->size : 1);
	if (!rn.samples || !rn.tx || !rn.rx) {
		fail("allocating buffers", -ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < o->size; i++)
		rn.tx[i] = (uint8_t)(i * 131u + 7u);

	printf("vmsg-pingpong: %zu round trips (+%zu warmup) of %zu B, "
	       "wait=%s spin_ns=%llu, ring %u B, cpus %d,%d\n",
	       o->count, o->warmup, o->size, o->spin_ns ? "spin" : "block",
	       (unsigned long long)o->spin_ns, o->ring, o->cpu[0], o->cpu[1]);
	if (measure_vmsg(o, path, &rn, &sv))
		goto out;
	if (o->compare_unix && measure_unix(o, &rn, &su))
		goto out;
	pp_print_header();
	pp_print_row("vmsg", &sv);
	if (o->compare_unix)
		pp_print_row("unix", &su);
	printf("payload mismatches: %zu\n", rn.mismatches);
	r = rn.mismatches ? 1 : 0;
	if (r)
		fprintf(stderr, "vmsg-pingpong: %zu echoed payloads differed\n",
			rn.mismatches);
out:
	free(rn.samples);
	free(rn.tx);
	free(rn.rx);
	return r;
}

int main(int argc, char **argv)
{
	char dir[128], path[160];
	struct pp_opts o;
	int r;

	if ((r = parse_args(argc, argv, &o)) >= 0)
		return r;
	if (o.path)
		return run(&o, o.path);
	if ((r = make_temp(dir, sizeof(dir), path, sizeof(path))) < 0)
		return fail("mkdtemp", r);
	r = run(&o, path);
	drop_temp(dir, path);
	return r;
}
