/* vmsg-bench: latency and throughput of vmsg next to the alternatives and
 * the physical limits, all through one harness in one run. Subcommands
 * pingpong, stream and setup; `vmsg-bench SUBCOMMAND --help` for options.
 * docs/benchmarks.md explains the method and the figures. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/version.h>

#include "bench.h"
#include "report.h"

#define MAX_LIST 32

struct cli {
	enum bench_cmd cmd;
	const struct bench_transport *tp[MAX_LIST];
	size_t ntp;
	uint64_t size[MAX_LIST], ring[MAX_LIST];
	size_t nsize, nring;
	enum bench_wait wait[3];
	size_t nwait;
	bool batch[2];
	size_t nbatch;
	int cpu[2];
	int runs;
	uint64_t warmup, count, duration_ns;
	bool json, csv, reexec;
};

static void usage(FILE *f, enum bench_cmd cmd)
{
	static const char *const what[] = {
		[BENCH_PINGPONG] = "round-trip time distribution: side 0 sends a "
				   "message, side 1\nechoes it; every echo is "
				   "checked (sequence stamp) and timed.",
		[BENCH_STREAM] = "one-way throughput: side 0 sends messages as "
				 "fast as it can,\nside 1 receives (copies "
				 "out) and counts until side 0's close.",
		[BENCH_SETUP] = "channel setup: the time from the client's "
				"connect to the first byte\nfrom the server "
				"(handshake to first byte), per connection.",
	};

	fprintf(f, "usage: vmsg-bench %s [options]\n%s\n\n", bench_cmd_name(cmd),
		what[cmd]);
	/* --batch means something to stream alone. */
	char batch[200] = "";
	if (cmd == BENCH_STREAM)
		snprintf(batch, sizeof batch,
			 "  --batch on|off|both  flush every %u messages "
			 "(VMSG_SEND_MORE,\n                    coalesced socket "
			 "writes) or after each (default both)\n",
			 BENCH_BATCH);
	fprintf(f,
"  --transport LIST  comma-separated transports (default: all that support\n"
"                    %s here); see below\n"
"  --size LIST       message sizes in bytes, K/M suffixes allowed (default %s)\n"
"  --ring LIST       ring sizes, powers of two 1K..1M (default 64K); also\n"
"                    the pipe capacity\n"
"%s"
"  --wait LIST       spin, block, adaptive (spin %llu us, then sleep);\n"
"                    default %s. References keep their own wait.\n"
"  --cpus A,B        pin side 0 to CPU A and side 1 to CPU B\n"
"  --runs N          repeat each measurement N times (default 3), in rounds\n"
"                    of one run of every measurement; report the median run\n"
"                    and the min-max spread\n"
"  --warmup N        unmeasured operations first (default %s)\n"
"  --duration SEC    measured time per run (default %s)\n"
"  --count N         measured operations per run instead of a duration\n"
"  --json, --csv     machine-readable output instead of the table\n"
"  --xensim PATH     the simulator's xensim for the *-sim transports\n"
"                    (default: next to vmsg-bench, the build tree's\n"
"                    sim/bin/, then $PATH); each run starts its own\n"
"                    simulator in a temporary XENSIM_DIR and stops it\n"
"  --version         the version\n"
"  --help            this text\n\ntransports:\n",
		bench_cmd_name(cmd), cmd == BENCH_STREAM ? "64,64K" : cmd == BENCH_SETUP ? "1" : "64",
		batch, BENCH_ADAPTIVE_SPIN_NS / 1000,
		cmd == BENCH_PINGPONG ? "spin,block" : cmd == BENCH_SETUP ? "block" : "spin",
		cmd == BENCH_SETUP ? "100" : "1000",
		cmd == BENCH_SETUP ? "0.5" : "0.5");
	for (size_t i = 0; bench_transports[i]; i++) {
		const struct bench_transport *t = bench_transports[i];

		const char *why = t->unavailable ? t->unavailable() : NULL;

		if (!(t->cmds & BENCH_CMD_BIT(cmd)))
			continue;
		fprintf(f, "  %-16s %s\n", t->name, t->what);
		if (why)
			fprintf(f, "  %-16s (unavailable here: %s)\n", "", why);
	}
}

static int bad(const char *msg, const char *arg)
{
	fprintf(stderr, "vmsg-bench: %s%s%s\ntry 'vmsg-bench --help'\n", msg,
		arg ? ": " : "", arg ? arg : "");
	return 2;
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end)
		return false;
	*out = v;
	return true;
}

/* Split a comma list, calling fn on each item; false on a bad item. */
static bool each(char *list, bool (*fn)(struct cli *, const char *),
		 struct cli *c)
{
	for (char *save = NULL, *it = strtok_r(list, ",", &save); it;
	     it = strtok_r(NULL, ",", &save))
		if (!fn(c, it))
			return false;
	return true;
}

static bool add_tp(struct cli *c, const char *s)
{
	const struct bench_transport *t = bench_transport_find(s);

	if (!t || c->ntp == MAX_LIST || !(t->cmds & BENCH_CMD_BIT(c->cmd)))
		return false;
	c->tp[c->ntp++] = t;
	return true;
}

static bool add_size(struct cli *c, const char *s)
{
	uint64_t v;

	if (!parse_size(s, &v) || v == 0 || v > (1u << 30) || c->nsize == MAX_LIST)
		return false;
	c->size[c->nsize++] = v;
	return true;
}

static bool add_ring(struct cli *c, const char *s)
{
	uint64_t v;

	if (!parse_size(s, &v) || v < 1024 || v > (1u << 20) || (v & (v - 1)) ||
	    c->nring == MAX_LIST)
		return false;
	c->ring[c->nring++] = v;
	return true;
}

static bool add_wait(struct cli *c, const char *s)
{
	enum bench_wait w;

	if (!strcmp(s, "spin"))
		w = BENCH_WAIT_SPIN;
	else if (!strcmp(s, "block"))
		w = BENCH_WAIT_BLOCK;
	else if (!strcmp(s, "adaptive"))
		w = BENCH_WAIT_ADAPTIVE;
	else
		return false;
	if (c->nwait == 3)
		return false;
	c->wait[c->nwait++] = w;
	return true;
}

/* Returns -1 to go on, else an exit status. */
static int parse(int argc, char **argv, struct cli *c)
{
	static const struct option lo[] = {
		{ "transport", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "ring", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "wait", required_argument, NULL, 'w' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ "runs", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'v' },
		{ "reexec", no_argument, NULL, 'X' }, /* testing: exec sides */
		{ "xensim", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	double d;
	uint64_t v;
	int ch, n;

	c->cpu[0] = c->cpu[1] = -1;
	c->runs = 3;
	c->warmup = c->cmd == BENCH_SETUP ? 100 : 1000;
	c->duration_ns = 500000000ull;
	opterr = 0;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (!each(optarg, add_tp, c))
				return bad("unknown transport (or not for this "
					   "subcommand)", optarg);
			break;
		case 's':
			if (!each(optarg, add_size, c))
				return bad("bad --size", optarg);
			break;
		case 'r':
			if (!each(optarg, add_ring, c))
				return bad("bad --ring (power of two, 1K..1M)",
					   optarg);
			break;
		case 'b':
			c->nbatch = 0;
			if (!strcmp(optarg, "on") || !strcmp(optarg, "both"))
				c->batch[c->nbatch++] = true;
			if (!strcmp(optarg, "off") || !strcmp(optarg, "both"))
				c->batch[c->nbatch++] = false;
			if (!c->nbatch)
				return bad("--batch takes on, off or both", optarg);
			break;
		case 'w':
			if (!each(optarg, add_wait, c))
				return bad("--wait takes spin, block, adaptive",
					   optarg);
			break;
		case 'c':
			n = 0;
			if (sscanf(optarg, "%d,%d%n", &c->cpu[0], &c->cpu[1], &n) != 2 ||
			    optarg[n] || c->cpu[0] < 0 || c->cpu[1] < 0 ||
			    c->cpu[0] >= CPU_SETSIZE || c->cpu[1] >= CPU_SETSIZE)
				return bad("--cpus takes A,B", optarg);
			break;
		case 'n':
			if (!parse_size(optarg, &v) || v < 1 || v > BENCH_MAX_RUNS)
				return bad("bad --runs (1..99)", optarg);
			c->runs = (int)v;
			break;
		case 'W':
			if (!parse_size(optarg, &v))
				return bad("bad --warmup", optarg);
			c->warmup = v;
			break;
		case 'd':
			d = strtod(optarg, &end);
			if (*end || !(d > 0) || d > 3600)
				return bad("bad --duration (seconds)", optarg);
			c->duration_ns = (uint64_t)(d * 1e9);
			c->count = 0;
			break;
		case 'C':
			if (!parse_size(optarg, &v) || v == 0)
				return bad("bad --count", optarg);
			c->count = v;
			break;
		case 'j':
			c->json = true;
			break;
		case 'v':
			c->csv = true;
			break;
		case 'X':
			c->reexec = true;
			break;
		case 'x':
			bench_sim_set_xensim(optarg);
			break;
		case 'h':
			usage(stdout, c->cmd);
			return 0;
		case 'V':
			printf("vmsg-bench %s\n", vmsg_version());
			return 0;
		default:
			return bad("unknown option or missing argument",
				   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind]);
	if (c->nbatch && c->cmd != BENCH_STREAM)
		return bad("--batch means something for stream only", NULL);
	/* A CPU outside our affinity mask would kill the side at
	 * sched_setaffinity(); name it now. */
	if (c->cpu[0] >= 0) {
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
			for (int s = 0; s < 2; s++)
				if (!CPU_ISSET(c->cpu[s], &allowed)) {
					fprintf(stderr,
						"vmsg-bench: --cpus: CPU %d is "
						"not available here (this "
						"process may run on %d CPUs; "
						"see nproc)\n",
						c->cpu[s], CPU_COUNT(&allowed));
					return 2;
				}
	}
	if (c->json && c->csv)
		return bad("choose one of --json and --csv", NULL);
	for (size_t i = 0; i < c->ntp; i++) {
		const char *why = c->tp[i]->unavailable ? c->tp[i]->unavailable()
							: NULL;
		if (why) {
			fprintf(stderr, "vmsg-bench: %s: %s\n", c->tp[i]->name,
				why);
			return 3;
		}
	}
	if (!c->ntp)
		for (size_t i = 0; bench_transports[i]; i++) {
			const struct bench_transport *t = bench_transports[i];

			if ((t->cmds & BENCH_CMD_BIT(c->cmd)) &&
			    (!t->unavailable || !t->unavailable()) &&
			    c->ntp < MAX_LIST)
				c->tp[c->ntp++] = t;
		}
	if (!c->nsize) {
		c->size[c->nsize++] = c->cmd == BENCH_SETUP ? 1 : 64;
		if (c->cmd == BENCH_STREAM)
			c->size[c->nsize++] = 65536;
	}
	if (!c->nring)
		c->ring[c->nring++] = 65536;
	if (!c->nwait) {
		c->wait[c->nwait++] = c->cmd == BENCH_SETUP ? BENCH_WAIT_BLOCK
							     : BENCH_WAIT_SPIN;
		if (c->cmd == BENCH_PINGPONG)
			c->wait[c->nwait++] = BENCH_WAIT_BLOCK;
	}
	if (!c->nbatch) {
		c->batch[c->nbatch++] = c->cmd == BENCH_STREAM;
		if (c->cmd == BENCH_STREAM)
			c->batch[c->nbatch++] = false;
	}
	if (c->cmd != BENCH_STREAM) /* batching means nothing there */
		c->batch[0] = false, c->nbatch = 1;
	if (c->cmd != BENCH_STREAM && c->nring > 1)
		c->nring = 1;
	return -1;
}

/* The wait a transport really uses under the requested one, and whether
 * this pass of the wait list should run it (a fixed-wait reference runs
 * once: in the pass of its own wait, else in the first). */
static bool wait_pass(const struct cli *c, const struct bench_transport *t,
		      size_t pass, enum bench_wait *eff)
{
	enum bench_wait fixed;

	*eff = c->wait[pass];
	if (!(t->flags & (BENCH_TP_SPIN_ONLY | BENCH_TP_BLOCK_ONLY)))
		return true;
	fixed = t->flags & BENCH_TP_SPIN_ONLY ? BENCH_WAIT_SPIN : BENCH_WAIT_BLOCK;
	*eff = fixed;
	for (size_t i = 0; i < c->nwait; i++)
		if (c->wait[i] == fixed)
			return i == pass;
	return pass == 0;
}

/* One run of every planned measurement that has not failed, in order. */
static int run_round(const struct cli *c, struct bench_report *rep)
{
	static struct bench_side_result res;
	int failed = 0;

	for (size_t i = 0; i < rep->nrows; i++) {
		struct bench_row *row = &rep->rows[i];
		if (row->err)
			continue;
		int r = bench_run(row->t, &row->p, c->reexec, &res,
				  row->errmsg, sizeof(row->errmsg));
		if (r < 0) {
			row->err = r;
			failed++;
			continue;
		}
		bench_run_summarise(&row->p, &res, &row->run[row->nruns++]);
	}
	return failed;
}

static int run_cli(struct cli *c)
{
	struct bench_report rep = { .cmd = c->cmd, .cpu = { c->cpu[0], c->cpu[1] },
				    .runs = c->runs };
	size_t cap = c->ntp * c->nsize * c->nring * c->nbatch * c->nwait;
	int failed = 0;

	rep.rows = calloc(cap ? cap : 1, sizeof(*rep.rows));
	if (!rep.rows)
		return bad("out of memory", NULL);
	/* Plan every measurement first ... */
	for (size_t si = 0; si < c->nsize; si++)
	for (size_t ri = 0; ri < c->nring; ri++)
	for (size_t bi = 0; bi < c->nbatch; bi++)
	for (size_t wi = 0; wi < c->nwait; wi++)
	for (size_t ti = 0; ti < c->ntp; ti++) {
		const struct bench_transport *t = c->tp[ti];
		struct bench_params p = {
			.cmd = c->cmd, .batch = c->batch[bi],
			.size = c->size[si], .ring = (uint32_t)c->ring[ri],
			.count = c->count, .duration_ns = c->duration_ns,
			.warmup = c->warmup, .cpu = { c->cpu[0], c->cpu[1] },
		};

		if (!wait_pass(c, t, wi, &p.wait))
			continue;
		rep.rows[rep.nrows].t = t;
		rep.rows[rep.nrows].p = p;
		rep.nrows++;
	}
	/* ... then run them in rounds, one run of each per round: a machine
	 * whose speed drifts (other load, where the hypervisor puts our two
	 * vCPUs) then moves every transport's median alike, and the ratios
	 * between transports stay meaningful. */
	for (int k = 0; k < c->runs; k++)
		failed += run_round(c, &rep);
	for (size_t i = 0; i < rep.nrows; i++)
		if (!rep.rows[i].err)
			bench_row_finish(c->cmd, &rep.rows[i]);
	bench_report_ratios(&rep);
	if (c->json) {
		if (bench_report_json(stdout, &rep) < 0) {
			fprintf(stderr, "vmsg-bench: cannot print the JSON "
					"document: out of memory\n");
			failed++;
		}
	} else if (c->csv)
		bench_report_csv(stdout, &rep);
	else
		bench_report_table(stdout, &rep);
	free(rep.rows);
	if (failed)
		fprintf(stderr, "vmsg-bench: %d measurement(s) failed\n", failed);
	return failed ? 1 : 0;
}

static void top_usage(FILE *f)
{
	fprintf(f,
"usage: vmsg-bench pingpong|stream|setup [options]\n"
"       vmsg-bench --help | --version\n"
"Latency and throughput of vmsg next to AF_UNIX sockets, pipes, TCP over\n"
"loopback and the physical limits of shared memory, measured by one harness\n"
"in one run (two processes per measurement). 'vmsg-bench SUBCOMMAND --help'\n"
"lists each subcommand's options and transports; docs/benchmarks.md has the\n"
"method and the figures.\n");
}

int main(int argc, char **argv)
{
	struct cli c;
	int r;

	/* A peer that has gone makes writes fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "__side"))
		return bench_side_main(argc, argv);
	memset(&c, 0, sizeof(c));
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		top_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmsg-bench %s\n", vmsg_version());
		return 0;
	}
	if (!strcmp(argv[1], "pingpong"))
		c.cmd = BENCH_PINGPONG;
	else if (!strcmp(argv[1], "stream"))
		c.cmd = BENCH_STREAM;
	else if (!strcmp(argv[1], "setup"))
		c.cmd = BENCH_SETUP;
	else
		return bad("unknown subcommand", argv[1]);
	if ((r = parse(argc, argv, &c)) >= 0)
		return r;
	return run_cli(&c);
}
