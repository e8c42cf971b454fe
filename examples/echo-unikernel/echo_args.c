/* The echo appliance's cmdline check (echo_args.h). Before this check an
 * unknown key was ignored and a bad value read as the default, so
 * `role=clinet` quietly served and `--help` waited for a client. */
#include "echo_args.h"

#include <vmsg/guest.h>
#include <vmsg/service.h>
#include <vmsg/xen.h>

enum kind { NAME, UINT, WORDS };

struct key {
	const char *name;
	enum kind kind;
	unsigned max;      /* NAME: longest value; UINT: largest value */
	unsigned min;      /* UINT: smallest value */
	const char *words; /* WORDS: the values, '|' between them */
};

/* The lengths match echo.c's buffers (port, open: 31 bytes); numbers are
 * capped where echo.c would misread a larger one. */
static const struct key keys[] = {
	{"port", NAME, 31, 0, 0},
	{"peer", UINT, VMSG_DOMID_LIMIT - 1, 0, 0},
	{"mode", WORDS, 0, 0, "msg|raw"},
	{"clients", UINT, 1000000000u, 0, 0},
	{"cksum", WORDS, 0, 0, "0|1"},
	{"role", WORDS, 0, 0, "server|client"},
	{"count", UINT, 1000000000u, 0, 0},
	{"size", UINT, 1u << 20, 1, 0},
	{"open", NAME, 31, 0, 0},
	{"again", UINT, 3600000u, 0, 0},
	{"vmsgd", WORDS, 0, 0, "0|1"},
	{"svc", NAME, VMSG_SERVICE_NAME_MAX, 0, 0},
	{"forward", NAME, VMSG_SERVICE_NAME_MAX, 0, 0},
	{"multi", UINT, 16, 1, 0},
	/* the SDK's own keys (guest/linux/sdk.c) */
	{"host", NAME, 100, 0, 0},
	{"domid", UINT, VMSG_DOMID_LIMIT - 1, 0, 0},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char usage[] =
	"usage: echo-appliance [KEY=VALUE ...] (the unikernel: the xl cmdline)\n"
	"serve an echo channel (the default):\n"
	"  port=NAME     channel /local/domain/<us>/data/vchan/<peer>/NAME (echo)\n"
	"  peer=DOMID    the client's domain (0)\n"
	"  mode=msg|raw  echo typed messages (msg) or a byte stream (raw)\n"
	"  clients=N     stop after N clients (0: never)\n"
	"  multi=N       serve N channels at once (1..16), NAME0..NAME<N-1>\n"
	"  cksum=0|1     print a checksum of what each client sent\n"
	"be the client of an echo channel:\n"
	"  role=client   connect to domain peer's port, send count=N messages\n"
	"through vmsgd:\n"
	"  vmsgd=1       offer service svc=NAME (echo) and echo on each channel,\n"
	"                up to 16 at once; clients=N: stop after N channels;\n"
	"                forward=OTHER: pass each consumer's messages on to\n"
	"                service OTHER and its replies back (a layer)\n"
	"  open=NAME     open service NAME: count=N (100) messages of 1..size=B\n"
	"                (40000, at most 1048576) bytes, each echo checked;\n"
	"                again=MS: once more after MS ms\n"
	"the Linux program (echo-appliance) also takes:\n"
	"  host=DIR      host backend: channels are UNIX sockets in DIR\n"
	"  domid=N       the domain number to report with host=\n";

static int same(const char *a, unsigned al, const char *b)
{
	unsigned i = 0;
	for (; i < al && b[i]; i++)
		if (a[i] != b[i])
			return 0;
	return i == al && !b[i];
}

/* Is v (vl bytes) one of words ("a|b|c")? */
static int one_of(const char *v, unsigned vl, const char *words)
{
	for (const char *w = words;;) {
		unsigned n = 0;
		while (w[n] && w[n] != '|')
			n++;
		if (n == vl) {
			unsigned i = 0;
			while (i < n && w[i] == v[i])
				i++;
			if (i == n)
				return 1;
		}
		if (!w[n])
			return 0;
		w += n + 1;
	}
}

static void put_n(const char *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		guest_printf("%c", s[i]);
}

static int bad(const char *w, unsigned wl, const char *why, const char *more)
{
	guest_printf("echo-appliance: '");
	put_n(w, wl);
	guest_printf("': %s%s (--help lists the arguments)\n", why, more);
	return -1;
}

static int check_value(const struct key *k, const char *w, unsigned wl,
		       const char *v, unsigned vl)
{
	if (k->kind == WORDS)
		return one_of(v, vl, k->words) ? 0 :
			bad(w, wl, "the value must be one of ", k->words);
	if (k->kind == NAME) {
		if (vl == 0)
			return bad(w, wl, "empty value", "");
		if (vl > k->max)
			return bad(w, wl, "value too long", "");
		return 0;
	}
	unsigned long long n = 0;
	if (vl == 0)
		return bad(w, wl, "a number is needed", "");
	for (unsigned i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad(w, wl, "not a number", "");
		n = n * 10 + (unsigned)(v[i] - '0');
		if (n > k->max)
			break;
	}
	if (n < k->min || n > k->max) {
		guest_printf("echo-appliance: '");
		put_n(w, wl);
		guest_printf("': out of range %u..%u (--help lists the "
			     "arguments)\n", k->min, k->max);
		return -1;
	}
	return 0;
}

int echo_args_check(const char *cmdline)
{
	unsigned seen[NKEYS] = {0};

	for (const char *s = cmdline; *s;) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		unsigned wl = (unsigned)(s - w), kl = 0;
		if (!wl)
			break;
		if (same(w, wl, "--help") || same(w, wl, "-h") ||
		    same(w, wl, "help")) {
			guest_printf("%s", usage);
			return 1;
		}
		while (kl < wl && w[kl] != '=')
			kl++;
		if (kl == wl)
			return bad(w, wl, "not a KEY=VALUE word", "");
		unsigned i = 0;
		while (i < NKEYS && !same(w, kl, keys[i].name))
			i++;
		if (i == NKEYS)
			return bad(w, wl, "unknown key", "");
		if (seen[i]++)
			return bad(w, wl, "key given twice", "");
		if (check_value(&keys[i], w, wl, w + kl + 1, wl - kl - 1) < 0)
			return -1;
	}
	return 0;
}
