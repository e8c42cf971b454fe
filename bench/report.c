/* Summaries, ratios to the physical references, and the three output
 * formats. bench/results.schema.json describes the JSON. */
#define _GNU_SOURCE
#include "report.h"

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

/* ---- JSON ---------------------------------------------------------------- */

static void json_num(FILE *f, const char *k, double v, bool comma)
{
	if (v < 0)
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.6g%s", k, v, comma ? ", " : "");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_run(FILE *f, const struct bench_run_sum *s, bool cdf)
{
	fprintf(f, "{\"ops\": %llu, \"bytes\": %llu, \"elapsed_ns\": %llu, ",
		(unsigned long long)s->ops, (unsigned long long)s->bytes,
		(unsigned long long)s->elapsed_ns);
	fprintf(f, "\"min_ns\": %llu, \"p50_ns\": %llu, \"p90_ns\": %llu, "
		"\"p99_ns\": %llu, \"p999_ns\": %llu, \"max_ns\": %llu, ",
		(unsigned long long)s->min, (unsigned long long)s->p50,
		(unsigned long long)s->p90, (unsigned long long)s->p99,
		(unsigned long long)s->p999, (unsigned long long)s->max);
	json_num(f, "mean_ns", s->mean, true);
	json_num(f, "msgs_per_s", s->msgs_per_s, true);
	json_num(f, "bytes_per_s", s->bytes_per_s, false);
	if (cdf && s->max) {
		fprintf(f, ",\n      \"cdf\": [");
		for (int i = 0; i < BENCH_CDF_N; i++)
			fprintf(f, "%s[%g, %llu]", i ? ", " : "",
				bench_cdf_pct[i], (unsigned long long)s->cdf[i]);
		fputc(']', f);
	}
	fputc('}', f);
}

void bench_report_json(FILE *f, const struct bench_report *rep)
{
	struct utsname u;
	char date[32];
	time_t now = time(NULL);

	if (uname(&u))
		strcpy(u.nodename, "unknown");
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f, "{\n  \"tool\": \"vmsg-bench\", \"schema\": 1, "
		"\"subcommand\": \"%s\",\n  \"host\": ", bench_cmd_name(rep->cmd));
	json_str(f, u.nodename);
	fprintf(f, ", \"date\": \"%s\", \"runs\": %d,\n", date, rep->runs);
	if (rep->cpu[0] >= 0)
		fprintf(f, "  \"cpus\": [%d, %d],\n", rep->cpu[0], rep->cpu[1]);
	else
		fprintf(f, "  \"cpus\": null,\n");
	fprintf(f, "  \"clock\": \"CLOCK_MONOTONIC\", "
		"\"hist_rel_error\": %.6g,\n  \"results\": [",
		1.0 / (2.0 * BENCH_HIST_SUB));
	for (size_t i = 0; i < rep->nrows; i++) {
		const struct bench_row *row = &rep->rows[i];

		fprintf(f, "%s\n    {\"transport\": \"%s\", \"wait\": \"%s\", "
			"\"batch\": %s, \"size\": %zu, \"ring\": %u, ",
			i ? "," : "", row->t->name, bench_wait_name(row->p.wait),
			row->p.batch ? "true" : "false", row->p.size, row->p.ring);
		if (row->err) {
			fprintf(f, "\"error\": ");
			json_str(f, row->errmsg);
			fputc('}', f);
			continue;
		}
		fprintf(f, "\"error\": null,\n     \"median\": ");
		json_run(f, &row->run[row->median], rep->cmd != BENCH_STREAM);
		fprintf(f, ",\n     \"spread\": {\"metric\": \"%s\", ",
			rep->cmd == BENCH_STREAM ? "msgs_per_s" : "p50_ns");
		json_num(f, "min", row->spread_min, true);
		json_num(f, "max", row->spread_max, false);
		fprintf(f, "},\n     \"reference\": ");
		if (row->ref)
			json_str(f, row->ref->t->name);
		else
			fprintf(f, "null");
		fprintf(f, ", ");
		json_num(f, "ratio", row->ratio, true);
		json_num(f, "ratio_unix", row->ratio_unix, false);
		fprintf(f, ",\n     \"runs\": [");
		for (int k = 0; k < row->nruns; k++) {
			if (k)
				fprintf(f, ", ");
			json_run(f, &row->run[k], false);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ]\n}\n");
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
