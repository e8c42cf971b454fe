/* vmsg-kv: the key-value service's client. One request per command (or
 * N timed round trips with --bench) over a channel opened through vmsgd. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsg/version.h>
#include <vmsg/proto.h>
#include <vmsg/service.h>

#include "kv_codec.h"
#include "kv_store.h"

/* Exit statuses. */
#define EX_OK 0
#define EX_FAIL 1     /* vmsgd or the server refused, or a channel error */
#define EX_USAGE 2
#define EX_NOTFOUND 3 /* get/del of a key that is not there */

static void usage(FILE *f)
{
	fputs(
"usage: vmsg-kv [OPTIONS] COMMAND\n"
"Talk to the key-value service through vmsgd (run it in a guest domain).\n"
"\n"
"commands:\n"
"  put KEY VALUE     store VALUE under KEY\n"
"  get KEY           print KEY's value\n"
"  del KEY           remove KEY\n"
"  list              print every key, one a line\n"
"  --bench N         N get round trips; print the p50/p99 latency\n"
"\n"
"options:\n"
"  -s, --service NAME   service to open (default kv)\n"
"  -w, --timeout MS     for vmsgd, the open and each reply (default 10000)\n"
"  -V, --version        the version\n"
"  -h, --help           this text\n"
"\n"
"Keys: 1..64 bytes of A-Z a-z 0-9 . _ : / @ -; values up to 1024 bytes.\n"
"Exit status: 0 ok, 1 refused or failed (the reason on stderr), 2 bad\n"
"usage, 3 no such key.\n", f);
}

static int timeout_ms = 10000;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Send request m of type `type` and wait for its Reply (decoded into a).
 * Returns 0 with *rep set, or prints why and returns -1. */
static int call(vmsg_chan *c, uint16_t type, const ProtobufCMessage *m,
		uint32_t id, struct vmsg_arena *a, Kv__Reply **rep)
{
	int r = vmsg_proto_send(c, type, m, 0, timeout_ms);
	if (r < 0) {
		fprintf(stderr, "vmsg-kv: send: %s\n", vmsg_strerror(r));
		return -1;
	}
	vmsg_arena_reset(a);
	uint16_t t;
	ProtobufCMessage *pm;
	r = vmsg_proto_recv(c, &kv__reply__descriptor, a, &t, &pm, timeout_ms);
	if (r < 0) {
		fprintf(stderr, "vmsg-kv: reply: %s\n", vmsg_strerror(r));
		return -1;
	}
	*rep = (Kv__Reply *)pm;
	if (t != KV_TYPE_REPLY || (*rep)->id != id) {
		fprintf(stderr, "vmsg-kv: unexpected answer (type 0x%04x)\n", t);
		return -1;
	}
	return 0;
}

/* The server's refusal, as an exit status. */
static int refused(const char *what, const Kv__Reply *rep)
{
	/* The text comes from the server: print only what is printable. */
	char text[128];
	size_t i = 0;
	for (const char *p = rep->text ? rep->text : ""; *p && i < sizeof text - 1; p++)
		text[i++] = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
	text[i] = '\0';
	fprintf(stderr, "vmsg-kv: %s: %s\n", what, text[0] ? text : "failed");
	return rep->status == KV__STATUS__STATUS_NOT_FOUND ? EX_NOTFOUND
							   : EX_FAIL;
}

static int bin(const char *s, ProtobufCBinaryData *b)
{
	b->data = (uint8_t *)s;
	b->len = strlen(s);
	return 0;
}

static int cmd_put(vmsg_chan *c, struct vmsg_arena *a, const char *k,
		   const char *v)
{
	Kv__Put p = KV__PUT__INIT;
	Kv__Reply *rep;
	p.id = 1;
	bin(k, &p.key);
	bin(v, &p.value);
	if (call(c, KV_TYPE_PUT, &p.base, p.id, a, &rep) < 0)
		return EX_FAIL;
	return rep->status ? refused("put", rep) : EX_OK;
}

static int cmd_get(vmsg_chan *c, struct vmsg_arena *a, const char *k)
{
	Kv__Get g = KV__GET__INIT;
	Kv__Reply *rep;
	g.id = 2;
	bin(k, &g.key);
	if (call(c, KV_TYPE_GET, &g.base, g.id, a, &rep) < 0)
		return EX_FAIL;
	if (rep->status)
		return refused("get", rep);
	fwrite(rep->value.data, 1, rep->value.len, stdout);
	putchar('\n');
	return EX_OK;
}

static int cmd_del(vmsg_chan *c, struct vmsg_arena *a, const char *k)
{
	Kv__Delete d = KV__DELETE__INIT;
	Kv__Reply *rep;
	d.id = 3;
	bin(k, &d.key);
	if (call(c, KV_TYPE_DELETE, &d.base, d.id, a, &rep) < 0)
		return EX_FAIL;
	return rep->status ? refused("del", rep) : EX_OK;
}

static int cmd_list(vmsg_chan *c, struct vmsg_arena *a)
{
	char after[KV_KEY_MAX + 1] = "";
	for (uint32_t id = 4;; id++) {
		Kv__List l = KV__LIST__INIT;
		Kv__Reply *rep;
		l.id = id;
		bin(after, &l.after);
		if (call(c, KV_TYPE_LIST, &l.base, l.id, a, &rep) < 0)
			return EX_FAIL;
		if (rep->status)
			return refused("list", rep);
		for (size_t i = 0; i < rep->n_keys; i++) {
			const ProtobufCBinaryData *k = &rep->keys[i];
			if (!kv_key_ok(k->data, k->len)) {
				fprintf(stderr, "vmsg-kv: list: bad key from "
					"the server\n");
				return EX_FAIL;
			}
			printf("%.*s\n", (int)k->len, (const char *)k->data);
		}
		if (!rep->more || rep->n_keys == 0)
			return EX_OK;
		const ProtobufCBinaryData *last = &rep->keys[rep->n_keys - 1];
		memcpy(after, last->data, last->len);
		after[last->len] = '\0';
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return (a > b) - (a < b);
}

static int cmd_bench(vmsg_chan *c, struct vmsg_arena *a, long n)
{
	char value[65];
	memset(value, 'x', 64);
	value[64] = '\0';
	int r = cmd_put(c, a, "bench", value);
	if (r != EX_OK)
		return r;
	uint64_t *lat = malloc((size_t)n * sizeof *lat);
	if (!lat) {
		fprintf(stderr, "vmsg-kv: out of memory\n");
		return EX_FAIL;
	}
	for (long i = 0; i < n; i++) {
		Kv__Get g = KV__GET__INIT;
		Kv__Reply *rep;
		g.id = (uint32_t)i + 100;
		bin("bench", &g.key);
		uint64_t t0 = now_ns();
		if (call(c, KV_TYPE_GET, &g.base, g.id, a, &rep) < 0 ||
		    rep->status || rep->value.len != 64) {
			fprintf(stderr, "vmsg-kv: bench: round trip %ld failed\n", i);
			free(lat);
			return EX_FAIL;
		}
		lat[i] = now_ns() - t0;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
	printf("%ld get round trips (64-byte values): p50 %.1f us, p99 %.1f us, "
	       "min %.1f us, max %.1f us\n", n, lat[n / 2] / 1e3,
	       lat[(size_t)((double)n * 0.99)] / 1e3, lat[0] / 1e3,
	       lat[n - 1] / 1e3);
	free(lat);
	return EX_OK;
}

int main(int argc, char **argv)
{
	const char *service = "kv";
	long bench = 0;
	char *end;
	static const struct option opts[] = {
		{"service", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 'w'},
		{"bench", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "+s:w:hV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			service = optarg;
			break;
		case 'w':
			timeout_ms = (int)strtol(optarg, &end, 10);
			if (*end || timeout_ms < 1 || timeout_ms > 3600000) {
				fprintf(stderr, "vmsg-kv: --timeout: 1..3600000 ms\n");
				return EX_USAGE;
			}
			break;
		case 'b':
			bench = strtol(optarg, &end, 10);
			if (*end || bench < 1 || bench > 10000000) {
				fprintf(stderr, "vmsg-kv: --bench: 1..10000000\n");
				return EX_USAGE;
			}
			break;
		case 'V':
			printf("vmsg-kv %s\n", vmsg_version());
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			fprintf(stderr, "try 'vmsg-kv --help'\n");
			return EX_USAGE;
		}
	}
	int nargs = argc - optind;
	const char *cmd = nargs > 0 ? argv[optind] : "";
	int want = !strcmp(cmd, "put") ? 3 : (!strcmp(cmd, "get") ||
					      !strcmp(cmd, "del")) ? 2 :
		   !strcmp(cmd, "list") ? 1 : -1;
	if (bench ? nargs != 0 : want != nargs) {
		fprintf(stderr, nargs == 0 && !bench ? "vmsg-kv: no command\n"
			: want < 0 && !bench ? "vmsg-kv: unknown command '%s'\n"
			: "vmsg-kv: wrong number of arguments for '%s'\n", cmd);
		fprintf(stderr, "try 'vmsg-kv --help'\n");
		return EX_USAGE;
	}
	if (want >= 2 && !kv_key_ok(argv[optind + 1], strlen(argv[optind + 1]))) {
		fprintf(stderr, "vmsg-kv: %s\n", kv_status_text(KV_BAD_KEY));
		return EX_USAGE;
	}
	if (want == 3 && strlen(argv[optind + 2]) > KV_VALUE_MAX) {
		fprintf(stderr, "vmsg-kv: %s\n", kv_status_text(KV_TOO_BIG));
		return EX_USAGE;
	}
	if (!vmsg_service_name_ok(service)) {
		fprintf(stderr, "vmsg-kv: bad service name '%s'\n", service);
		return EX_USAGE;
	}

	vmsg_ctl *ctl;
	int r = vmsg_ctl_open(&ctl, timeout_ms);
	if (r < 0) {
		fprintf(stderr, "vmsg-kv: cannot reach vmsgd: %s\n",
			vmsg_ctl_strerror(r));
		return EX_FAIL;
	}
	vmsg_chan *c;
	r = vmsg_service_open(ctl, service, &c, timeout_ms);
	if (r < 0) {
		const char *why = vmsg_ctl_error(ctl);
		fprintf(stderr, "vmsg-kv: open '%s': %s%s%s\n", service,
			vmsg_strerror(r), *why ? ": " : "", why);
		vmsg_ctl_close(ctl);
		return EX_FAIL;
	}
	static unsigned char abuf[64 * 1024]; /* a full List page fits */
	struct vmsg_arena a;
	vmsg_arena_init(&a, abuf, sizeof abuf);
	int st;
	if (bench)
		st = cmd_bench(c, &a, bench);
	else if (!strcmp(cmd, "put"))
		st = cmd_put(c, &a, argv[optind + 1], argv[optind + 2]);
	else if (!strcmp(cmd, "get"))
		st = cmd_get(c, &a, argv[optind + 1]);
	else if (!strcmp(cmd, "del"))
		st = cmd_del(c, &a, argv[optind + 1]);
	else
		st = cmd_list(c, &a);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return st;
}
