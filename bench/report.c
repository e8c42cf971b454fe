/* Summaries, ratios to the physical references, and the three output
 * formats. bench/results.schema.json describes the JSON. */
#define _GNU_SOURCE
#include "report.h"

#include "vmsg_json.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

const double bench_cdf_pct[BENCH_CDF_N] = {
	0, 1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95,
	97.5, 99, 99.5, 99.9, 99.95, 99.99, 100,
};

const char *bench_cmd_name(enum bench_cmd c)
{
	return c == BENCH_PINGPONG ? "pingpong"
	       : c == BENCH_STREAM ? "stream"
				   : "setup";
}

const char *bench_wait_name(enum bench_wait w)
{
	return w == BENCH_WAIT_SPIN    ? "spin"
	       : w == BENCH_WAIT_BLOCK ? "block"
				       : "adaptive";
}

void bench_run_summarise(const struct bench_params *p,
			 const struct bench_side_result *r,
			 struct bench_run_sum *s)
{
	const struct bench_hist *h = &r->hist;
	double sec = (double)r->elapsed_ns / 1e9;

	memset(s, 0, sizeof(*s));
	s->ops = r->ops;
	s->bytes = r->bytes;
	s->elapsed_ns = r->elapsed_ns;
	if (h->n) {
		s->min = h->min;
		s->p50 = bench_hist_percentile(h, 50);
		s->p90 = bench_hist_percentile(h, 90);
		s->p99 = bench_hist_percentile(h, 99);
		s->p999 = bench_hist_percentile(h, 99.9);
		s->max = h->max;
		s->mean = bench_hist_mean(h);
		for (int i = 0; i < BENCH_CDF_N; i++)
			s->cdf[i] = bench_hist_percentile(h, bench_cdf_pct[i]);
	}
	if (sec > 0) {
		/* Ping-pong: one-way messages, two per round trip. */
		double msgs = (double)r->ops * (p->cmd == BENCH_PINGPONG ? 2 : 1);

		s->msgs_per_s = msgs / sec;
		s->bytes_per_s = (double)r->bytes / sec;
	}
}

static double metric(enum bench_cmd cmd, const struct bench_run_sum *s)
{
	return cmd == BENCH_STREAM ? s->msgs_per_s : (double)s->p50;
}

void bench_row_finish(enum bench_cmd cmd, struct bench_row *row)
{
	int order[BENCH_MAX_RUNS];

	if (row->nruns == 0)
		return;
	for (int i = 0; i < row->nruns; i++)
		order[i] = i;
	for (int i = 1; i < row->nruns; i++) /* insertion sort: n is small */
		for (int j = i; j > 0 && metric(cmd, &row->run[order[j]]) <
						 metric(cmd, &row->run[order[j - 1]]);
		     j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	row->median = order[(row->nruns - 1) / 2];
	row->spread_min = metric(cmd, &row->run[order[0]]);
	row->spread_max = metric(cmd, &row->run[order[row->nruns - 1]]);
}

/* Same size (and for stream same ring and batching; unbatched for the
 * AF_UNIX comparison, one write per message as applications use it). */
static bool same_point(enum bench_cmd cmd, const struct bench_row *a,
		       const struct bench_row *b, bool unbatched)
{
	if (a->p.size != b->p.size)
		return false;
	if (cmd == BENCH_STREAM)
		return a->p.ring == b->p.ring &&
		       a->p.batch == (unbatched ? false : b->p.batch);
	return true;
}

static const struct bench_row *find(const struct bench_report *rep,
				    const struct bench_row *row, unsigned flag,
				    const char *name)
{
	for (size_t i = 0; i < rep->nrows; i++) {
		const struct bench_row *o = &rep->rows[i];

		if (o->err || o->nruns == 0 || !same_point(rep->cmd, o, row, !flag))
			continue;
		if (flag ? (o->t->flags & flag) != 0 : !strcmp(o->t->name, name))
			return o;
	}
	return NULL;
}

void bench_report_ratios(struct bench_report *rep)
{
	for (size_t i = 0; i < rep->nrows; i++) {
		struct bench_row *row = &rep->rows[i];
		const struct bench_run_sum *m, *rm;

		row->ratio = row->ratio_unix = -1;
		row->ref = row->unix_row = NULL;
		if (row->err || rep->cmd == BENCH_SETUP)
			continue;
		m = &row->run[row->median];
		if (rep->cmd == BENCH_PINGPONG) {
			/* Spinning rows against the cache-line round trip;
			 * sleeping ones against the eventfd round trip. */
			row->ref = find(rep, row,
					row->p.wait == BENCH_WAIT_SPIN
						? BENCH_TP_REF_SPIN
						: BENCH_TP_REF_BLOCK,
					NULL);
			if (row->ref && (rm = &row->ref->run[row->ref->median])->p50)
				row->ratio = (double)m->p50 / (double)rm->p50;
		} else {
			row->ref = find(rep, row, BENCH_TP_REF_STREAM, NULL);
			row->unix_row = find(rep, row, 0, "unix-stream");
			if (row->ref &&
			    (rm = &row->ref->run[row->ref->median])->msgs_per_s > 0)
				row->ratio = m->msgs_per_s / rm->msgs_per_s;
			if (row->unix_row &&
			    (rm = &row->unix_row->run[row->unix_row->median])
					    ->msgs_per_s > 0)
				row->ratio_unix = m->msgs_per_s / rm->msgs_per_s;
		}
	}
}

/* ---- human table --------------------------------------------------------- */

static void us(FILE *f, uint64_t ns)
{
	fprintf(f, " %9.2f", (double)ns / 1e3);
}

static void ratio(FILE *f, double r, const char *fmt)
{
	if (r < 0)
		fprintf(f, " %8s", "-");
	else
		fprintf(f, fmt, r);
}

static void size_str(char *b, size_t n, uint64_t v)
{
	if (v >= 1048576 && v % 1048576 == 0)
		snprintf(b, n, "%lluM", (unsigned long long)(v / 1048576));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(b, n, "%lluK", (unsigned long long)(v / 1024));
	else
		snprintf(b, n, "%llu", (unsigned long long)v);
}

void bench_report_table(FILE *f, const struct bench_report *rep)
{
	enum bench_cmd cmd = rep->cmd;
	char sz[24], rg[24];

	fprintf(f, "vmsg-bench %s: median of %d run(s); spread = min-max of "
		"the %s over the runs; cpus %d,%d\n",
		bench_cmd_name(cmd), rep->runs,
		cmd == BENCH_STREAM ? "msgs/s" : "p50", rep->cpu[0], rep->cpu[1]);
	if (cmd == BENCH_STREAM)
		fprintf(f, "%-16s %-5s %-5s %5s %5s %12s %10s %23s %8s %8s\n",
			"transport", "wait", "batch", "size", "ring", "msgs/s",
			"MB/s", "spread msgs/s", "x ref", "x unix");
	else
		fprintf(f, "%-16s %-8s %5s %9s %9s %9s %9s %9s %9s %19s %8s\n",
			"transport", "wait", "size", "min_us", "p50_us", "p90_us",
			"p99_us", "p99.9_us", "max_us", "spread p50_us",
			cmd == BENCH_PINGPONG ? "x ref" : "");
	for (size_t i = 0; i < rep->nrows; i++) {
		const struct bench_row *row = &rep->rows[i];
		const struct bench_run_sum *m = &row->run[row->median];

		size_str(sz, sizeof(sz), row->p.size);
		size_str(rg, sizeof(rg), row->p.ring);
		if (cmd == BENCH_STREAM)
			fprintf(f, "%-16s %-5s %-5s %5s %5s", row->t->name,
				bench_wait_name(row->p.wait),
				row->p.batch ? "on" : "off", sz, rg);
		else
			fprintf(f, "%-16s %-8s %5s", row->t->name,
				bench_wait_name(row->p.wait), sz);
		if (row->err) {
			fprintf(f, "  error: %s\n", row->errmsg);
			continue;
		}
		if (cmd == BENCH_STREAM) {
			fprintf(f, " %12.0f %10.1f %11.0f-%-11.0f",
				m->msgs_per_s, m->bytes_per_s / 1e6,
				row->spread_min, row->spread_max);
			/* x ref as a percentage of the reference. */
			ratio(f, row->ratio < 0 ? -1 : row->ratio * 100,
			      " %7.1f%%");
			ratio(f, row->ratio_unix, " %7.1fx");
			fputc('\n', f);
			continue;
		}
		us(f, m->min);
		us(f, m->p50);
		us(f, m->p90);
		us(f, m->p99);
		us(f, m->p999);
		us(f, m->max);
		fprintf(f, " %9.2f-%-9.2f", row->spread_min / 1e3,
			row->spread_max / 1e3);
		if (cmd == BENCH_PINGPONG)
			ratio(f, row->ratio, " %7.2fx");
		fputc('\n', f);
	}
	if (cmd == BENCH_PINGPONG)
		fprintf(f, "x ref: p50 / p50 of shm-cacheline (spin rows) or of "
			"eventfd (block, adaptive rows), same size\n");
	else if (cmd == BENCH_STREAM)
		fprintf(f, "x ref: msgs/s as %% of shm-ring (same size, ring, "
			"batch); x unix: msgs/s / unbatched unix-stream's\n");
}

/* ---- JSON ----------------------------------------------------------------
 * Built with jansson (common/vmsg_json.h) and printed by it: the host name
 * and error texts are strings whatever they hold. Key order is insertion
 * order. */

/* A measured value; < 0 means "not measured" (null), and neither NaN nor
 * infinity exists in JSON. */
static json_t *json_num(double v)
{
	return v < 0 || !isfinite(v) ? json_null() : json_real(v);
}

static json_t *json_run(const struct bench_run_sum *s, bool cdf)
{
	json_t *o = json_object();
	bool ok = o && vmsg__json_set(o, "ops", vmsg__json_uint(s->ops)) &&
		  vmsg__json_set(o, "bytes", vmsg__json_uint(s->bytes)) &&
		  vmsg__json_set(o, "elapsed_ns",
				 vmsg__json_uint(s->elapsed_ns)) &&
		  vmsg__json_set(o, "min_ns", vmsg__json_uint(s->min)) &&
		  vmsg__json_set(o, "p50_ns", vmsg__json_uint(s->p50)) &&
		  vmsg__json_set(o, "p90_ns", vmsg__json_uint(s->p90)) &&
		  vmsg__json_set(o, "p99_ns", vmsg__json_uint(s->p99)) &&
		  vmsg__json_set(o, "p999_ns", vmsg__json_uint(s->p999)) &&
		  vmsg__json_set(o, "max_ns", vmsg__json_uint(s->max)) &&
		  vmsg__json_set(o, "mean_ns", json_num(s->mean)) &&
		  vmsg__json_set(o, "msgs_per_s", json_num(s->msgs_per_s)) &&
		  vmsg__json_set(o, "bytes_per_s", json_num(s->bytes_per_s));
	if (ok && cdf && s->max) {
		json_t *a = json_array();
		ok = vmsg__json_set(o, "cdf", json_incref(a));
		for (int i = 0; ok && i < BENCH_CDF_N; i++)
			ok = vmsg__json_push(
				a, json_pack("[f, I]", bench_cdf_pct[i],
					     (json_int_t)s->cdf[i]));
		json_decref(a);
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_row(const struct bench_report *rep,
			const struct bench_row *row)
{
	json_t *o = json_object();
	bool ok = o &&
		  vmsg__json_set(o, "transport", vmsg__json_str(row->t->name)) &&
		  vmsg__json_set(o, "wait",
				 vmsg__json_str(bench_wait_name(row->p.wait))) &&
		  vmsg__json_set(o, "batch", json_boolean(row->p.batch)) &&
		  vmsg__json_set(o, "size", vmsg__json_uint(row->p.size)) &&
		  vmsg__json_set(o, "ring", vmsg__json_uint(row->p.ring));
	if (ok && row->err) {
		ok = vmsg__json_set(o, "error", vmsg__json_str(row->errmsg));
		goto out;
	}
	json_t *spread = json_object(), *runs = json_array();
	ok = ok && vmsg__json_set(o, "error", json_null()) &&
	     vmsg__json_set(o, "median",
			    json_run(&row->run[row->median],
				     rep->cmd != BENCH_STREAM)) &&
	     vmsg__json_set(o, "spread", json_incref(spread)) &&
	     vmsg__json_set(spread, "metric",
			    vmsg__json_str(rep->cmd == BENCH_STREAM
						   ? "msgs_per_s"
						   : "p50_ns")) &&
	     vmsg__json_set(spread, "min", json_num(row->spread_min)) &&
	     vmsg__json_set(spread, "max", json_num(row->spread_max)) &&
	     vmsg__json_set(o, "reference",
			    row->ref ? vmsg__json_str(row->ref->t->name)
				     : json_null()) &&
	     vmsg__json_set(o, "ratio", json_num(row->ratio)) &&
	     vmsg__json_set(o, "ratio_unix", json_num(row->ratio_unix)) &&
	     vmsg__json_set(o, "runs", json_incref(runs));
	for (int k = 0; ok && k < row->nruns; k++)
		ok = vmsg__json_push(runs, json_run(&row->run[k], false));
	json_decref(spread);
	json_decref(runs);
out:
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int bench_report_json(FILE *f, const struct bench_report *rep)
{
	struct utsname u;
	char date[32];
	time_t now = time(NULL);

	if (uname(&u))
		strcpy(u.nodename, "unknown");
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_t *doc = json_object(), *results = json_array();
	bool ok =
		doc && vmsg__json_set(doc, "tool", vmsg__json_str("vmsg-bench")) &&
		vmsg__json_set(doc, "schema", vmsg__json_uint(1)) &&
		vmsg__json_set(doc, "subcommand",
			       vmsg__json_str(bench_cmd_name(rep->cmd))) &&
		vmsg__json_set(doc, "host", vmsg__json_str(u.nodename)) &&
		vmsg__json_set(doc, "date", vmsg__json_str(date)) &&
		vmsg__json_set(doc, "runs", vmsg__json_uint((unsigned)rep->runs)) &&
		vmsg__json_set(doc, "cpus",
			       rep->cpu[0] >= 0 ? json_pack("[i, i]", rep->cpu[0],
							    rep->cpu[1])
						: json_null()) &&
		vmsg__json_set(doc, "clock", vmsg__json_str("CLOCK_MONOTONIC")) &&
		vmsg__json_set(doc, "hist_rel_error",
			       json_real(1.0 / (2.0 * BENCH_HIST_SUB))) &&
		vmsg__json_set(doc, "results", json_incref(results));
	for (size_t i = 0; ok && i < rep->nrows; i++)
		ok = vmsg__json_push(results, json_row(rep, &rep->rows[i]));
	json_decref(results);
	/* One line: indented, jansson would put each of the CDFs' numbers
	 * on a line of its own (`python3 -m json.tool` shows it readably). */
	const size_t flags =
		JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6);
	int r = ok ? json_dumpf(doc, f, flags) : -1;
	json_decref(doc);
	if (r == 0)
		fputc('\n', f);
	return r == 0 ? 0 : -ENOMEM;
}

/* ---- CSV ----------------------------------------------------------------- */

void bench_report_csv(FILE *f, const struct bench_report *rep)
{
	fprintf(f, "subcommand,transport,wait,batch,size,ring,runs,ops,"
		"elapsed_ns,min_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,"
		"msgs_per_s,bytes_per_s,spread_min,spread_max,reference,ratio,"
		"ratio_unix,error\n");
	for (size_t i = 0; i < rep->nrows; i++) {
		const struct bench_row *row = &rep->rows[i];
		const struct bench_run_sum *m = &row->run[row->median];

		fprintf(f, "%s,%s,%s,%s,%zu,%u,%d,", bench_cmd_name(rep->cmd),
			row->t->name, bench_wait_name(row->p.wait),
			row->p.batch ? "on" : "off", row->p.size, row->p.ring,
			row->nruns);
		if (row->err) {
			fprintf(f, ",,,,,,,,,,,,,,,");
			for (const char *s = row->errmsg; *s; s++)
				fputc(*s == ',' || *s == '\n' ? ';' : *s, f);
			fputc('\n', f);
			continue;
		}
		fprintf(f, "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.1f,%.1f,"
			"%.1f,%.6g,%.6g,%s,",
			(unsigned long long)m->ops,
			(unsigned long long)m->elapsed_ns,
			(unsigned long long)m->min, (unsigned long long)m->p50,
			(unsigned long long)m->p90, (unsigned long long)m->p99,
			(unsigned long long)m->p999, (unsigned long long)m->max,
			m->mean, m->msgs_per_s, m->bytes_per_s, row->spread_min,
			row->spread_max, row->ref ? row->ref->t->name : "");
		if (row->ratio >= 0)
			fprintf(f, "%.4f", row->ratio);
		fputc(',', f);
		if (row->ratio_unix >= 0)
			fprintf(f, "%.4f", row->ratio_unix);
		fprintf(f, ",\n");
	}
}
