/* vmsg-cat: the command line. */
#include "cat.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmsg/service.h>
#include <vmsg/version.h>

static const char usage_text[] =
	"usage: vmsg-cat (--listen | --connect) ADDRESS [OPTIONS]\n"
	"  ADDRESS:  --unix PATH\n"
	"         |  --xen --domid N (--path XSPATH | --port NAME)\n"
	"       vmsg-cat --service NAME [OPTIONS]\n"
	"       vmsg-cat --offer NAME [OPTIONS] [-- CMD [ARG...]]\n"
	"Try 'vmsg-cat --help' for more.\n";

static const char help_text[] =
	"vmsg-cat: netcat for vmsg channels. Copies stdin to the channel and the\n"
	"channel to stdout until both directions end.\n"
	"\n"
	"usage: vmsg-cat (--listen | --connect) ADDRESS [OPTIONS]\n"
	"       vmsg-cat --service NAME [OPTIONS]\n"
	"       vmsg-cat --offer NAME [OPTIONS] [-- CMD [ARG...]]\n"
	"\n"
	"Role (one of):\n"
	"  -l, --listen         serve the channel and wait for its one client\n"
	"  -c, --connect        connect to a server\n"
	"\n"
	"Address, host backend (processes on one Linux host):\n"
	"  -U, --unix PATH      the server's UNIX socket path\n"
	"      e.g.  vmsg-cat --listen --unix /tmp/ch > out\n"
	"            vmsg-cat --connect --unix /tmp/ch --linger 0 < in\n"
	"\n"
	"Address, Xen backend (between domains; libxenvchan's handshake):\n"
	"  -x, --xen            use the Xen backend\n"
	"  -d, --domid N        the peer's domain id (required with --xen)\n"
	"  -p, --path XSPATH    the channel's xenstore directory\n"
	"  -P, --port NAME      shorthand for the conventional path\n"
	"                       /local/domain/SERVER/data/vchan/CLIENT/NAME\n"
	"      --my-domid N     our own domain id for --port (default: read\n"
	"                       the 'domid' key of our xenstore home)\n"
	"      e.g.  (in dom1)  vmsg-cat --listen --xen --domid 0 --port cat\n"
	"            (in dom0)  vmsg-cat --connect --xen --domid 1 --port cat\n"
	"            vmsg-cat -c -x -d 0 -p /local/domain/0/data/vchan/1/x\n"
	"\n"
	"Named services through vmsgd (in a guest domain; docs/vmsgd.md):\n"
	"      --service NAME   open the service (vmsgd checks its policy) and\n"
	"                       copy stdin/stdout over the channel\n"
	"      --offer NAME     offer the service; serve the first consumer on\n"
	"                       stdin/stdout, then withdraw and exit; with\n"
	"                       -- CMD [ARG...], serve every consumer in turn\n"
	"                       with a run of CMD on the channel (its stdin and\n"
	"                       stdout; VMSG_PEER_DOMID and VMSG_SERVICE set),\n"
	"                       closing when CMD's output ends, until a signal\n"
	"      e.g.  (in dom1)  vmsg-cat --offer echo -- cat\n"
	"            (in dom2)  echo hi | vmsg-cat --service echo --linger 1000\n"
	"\n"
	"Data:\n"
	"  -r, --raw            a byte stream, as libxenvchan peers speak\n"
	"                       (the default); e.g. vmsg-cat -l -x -d 0 -P p -r\n"
	"  -f, --framed         typed vmsg messages: each chunk read from stdin\n"
	"                       is sent as one message; the payload of every\n"
	"                       received message (any type) goes to stdout\n"
	"                       e.g.  vmsg-cat -c -U /tmp/ch --framed --type 0x200\n"
	"  -t, --type N         message type of framed sends (1..65535; default\n"
	"                       0x100, the first application type)\n"
	"      --ring BYTES     ring size each way, listen only (1K..1M, rounded\n"
	"                       up to a power of two; default 64K); e.g. --ring 1M\n"
	"      --max-msg BYTES  largest framed message sent or accepted (default\n"
	"                       16M); larger received ones are dropped with a\n"
	"                       warning; e.g. --max-msg 64K\n"
	"\n"
	"Timing:\n"
	"  -w, --timeout MS     connect: wait up to MS for the server to appear\n"
	"                       (default 0: fail at once); listen: wait up to MS\n"
	"                       for the client (default: forever); -1: forever;\n"
	"                       --service: wait up to MS for vmsgd and the open\n"
	"                       (default 10000)\n"
	"                       e.g.  vmsg-cat -c -U /tmp/ch --timeout 5000\n"
	"      --linger MS      after stdin ends and all of it is sent, keep\n"
	"                       copying the channel to stdout for at most MS,\n"
	"                       then close (0: close at once; default -1: until\n"
	"                       the peer closes). Channels have no half-close:\n"
	"                       our close ends both directions.\n"
	"                       e.g.  vmsg-cat -c -U /tmp/ch --linger 0 < file\n"
	"\n"
	"Other:\n"
	"  -v, --verbose        say what happens on stderr\n"
	"  -V, --version        the version\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 when the peer closed (or --linger ran out) and\n"
	"everything received was written to stdout; 1 on an error (no such\n"
	"channel, permission denied, address in use, the peer gone with input\n"
	"still unsent, a broken channel, a failed write to stdout; the message\n"
	"says which); 2 for a bad command line; 128+N when stopped by signal N\n"
	"(SIGINT, SIGTERM and SIGHUP close the channel first).\n";

void cat_err(const char *fmt, ...)
{
	va_list ap;

	fputs("vmsg-cat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cat_info(const struct cat_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->verbose)
		return;
	fputs("vmsg-cat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("vmsg-cat: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fputs(usage_text, stderr);
	return CAT_EXIT_USAGE;
}

/* An integer in [lo, hi], decimal or 0x-hex. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, unsigned long long hi,
		       unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (*s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	}
	if (*end || v > hi / mul)
		return false;
	*out = v * mul;
	return true;
}

enum { OPT_RING = 256, OPT_MAX_MSG, OPT_LINGER, OPT_MY_DOMID, OPT_SERVICE,
       OPT_OFFER };

static const struct option longopts[] = {
	{ "listen", no_argument, NULL, 'l' },
	{ "connect", no_argument, NULL, 'c' },
	{ "unix", required_argument, NULL, 'U' },
	{ "xen", no_argument, NULL, 'x' },
	{ "domid", required_argument, NULL, 'd' },
	{ "my-domid", required_argument, NULL, OPT_MY_DOMID },
	{ "path", required_argument, NULL, 'p' },
	{ "port", required_argument, NULL, 'P' },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "offer", required_argument, NULL, OPT_OFFER },
	{ "raw", no_argument, NULL, 'r' },
	{ "framed", no_argument, NULL, 'f' },
	{ "type", required_argument, NULL, 't' },
	{ "ring", required_argument, NULL, OPT_RING },
	{ "max-msg", required_argument, NULL, OPT_MAX_MSG },
	{ "timeout", required_argument, NULL, 'w' },
	{ "linger", required_argument, NULL, OPT_LINGER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int cat_parse(struct cat_opts *o, int argc, char **argv, bool *exit_now)
{
	bool got_role = false, got_raw = false, got_type = false;
	bool got_timeout = false;
	unsigned long long sz;
	long v;
	int ch;

	*o = (struct cat_opts){ .domid = -1, .my_domid = -1,
				.type = CAT_DEFAULT_TYPE, .linger_ms = -1 };
	*exit_now = false;
	opterr = 0; /* we word the complaints */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+:lcU:xd:p:P:rft:w:vhV", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'l':
		case 'c':
			if (o->backend == CAT_SERVICE)
				return usage_error("%s", "--service and --offer "
						   "take no other address nor "
						   "role");
			if (got_role && o->listen != (ch == 'l'))
				return usage_error("%s", "--listen and --connect "
						   "exclude each other");
			got_role = true;
			o->listen = ch == 'l';
			break;
		case 'U':
			if (o->backend == CAT_SERVICE)
				return usage_error("%s", "--service and --offer "
						   "take no other address nor "
						   "role");
			if (o->backend == CAT_XEN)
				return usage_error("%s", "--unix and --xen "
						   "exclude each other");
			if (!*optarg)
				return usage_error("%s", "--unix needs a path");
			o->backend = CAT_UNIX;
			o->unix_path = optarg;
			break;
		case OPT_SERVICE:
		case OPT_OFFER:
			if (o->backend != CAT_NONE || got_role)
				return usage_error("%s", "--service and --offer "
						   "take no other address nor "
						   "role");
			if (!vmsg_service_name_ok(optarg))
				return usage_error("bad service name '%s' (1..64 "
						   "of A-Z a-z 0-9 . _ -)",
						   optarg);
			o->backend = CAT_SERVICE;
			o->service = optarg;
			o->listen = ch == OPT_OFFER;
			got_role = true;
			break;
		case 'x':
			if (o->backend == CAT_UNIX)
				return usage_error("%s", "--unix and --xen "
						   "exclude each other");
			o->backend = CAT_XEN;
			break;
		case 'd':
			if (!parse_int(optarg, 0, 0x7fef, &v))
				return usage_error("bad domain id '%s' (0..32751)",
						   optarg);
			o->domid = (int)v;
			break;
		case OPT_MY_DOMID:
			if (!parse_int(optarg, 0, 0x7fef, &v))
				return usage_error("bad domain id '%s' (0..32751)",
						   optarg);
			o->my_domid = (int)v;
			break;
		case 'p':
			if (optarg[0] != '/')
				return usage_error("--path '%s': an absolute "
						   "xenstore path is needed",
						   optarg);
			o->xs_path = optarg;
			break;
		case 'P':
			if (!*optarg || strchr(optarg, '/'))
				return usage_error("--port '%s': a non-empty "
						   "name without '/' is needed",
						   optarg);
			o->port = optarg;
			break;
		case 'r':
		case 'f':
			if (got_raw && o->framed != (ch == 'f'))
				return usage_error("%s", "--raw and --framed "
						   "exclude each other");
			got_raw = true;
			o->framed = ch == 'f';
			break;
		case 't':
			if (!parse_int(optarg, 1, 0xffff, &v))
				return usage_error("bad message type '%s' "
						   "(1..65535)", optarg);
			o->type = (uint16_t)v;
			got_type = true;
			break;
		case OPT_RING:
			if (!parse_size(optarg, 1u << 20, &sz) || sz < 1024)
				return usage_error("bad ring size '%s' "
						   "(1K..1M)", optarg);
			o->ring = (uint32_t)sz;
			break;
		case OPT_MAX_MSG:
			if (!parse_size(optarg, INT_MAX, &sz) || sz == 0)
				return usage_error("bad message size '%s'",
						   optarg);
			o->max_msg = (size_t)sz;
			break;
		case 'w':
			if (!parse_int(optarg, -1, INT_MAX, &v))
				return usage_error("bad timeout '%s' (ms, or -1)",
						   optarg);
			o->timeout_ms = (int)v;
			got_timeout = true;
			break;
		case OPT_LINGER:
			if (!parse_int(optarg, -1, INT_MAX, &v))
				return usage_error("bad linger '%s' (ms, or -1)",
						   optarg);
			o->linger_ms = (int)v;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(help_text, stdout);
			*exit_now = true;
			return CAT_EXIT_OK;
		case 'V':
			printf("vmsg-cat %s\n", vmsg_version());
			*exit_now = true;
			return CAT_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc && o->backend == CAT_SERVICE && o->listen)
		o->cmd = argv + optind; /* --offer NAME [--] CMD [ARG...] */
	else if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!got_role)
		return usage_error("%s", "--listen or --connect is needed");
	if (o->backend == CAT_NONE)
		return usage_error("%s", "an address is needed: --unix PATH, or "
				   "--xen --domid N --path XSPATH");
	if (o->backend == CAT_SERVICE) {
		if (o->ring)
			return usage_error("%s", "--ring does not go with "
					   "--service or --offer (the policy "
					   "sets a service's rings)");
	} else if (o->backend == CAT_XEN) {
		if (o->domid < 0)
			return usage_error("%s", "--xen needs --domid N (the "
					   "peer's domain)");
		if (!o->xs_path == !o->port)
			return usage_error("%s", "--xen needs one of --path "
					   "XSPATH and --port NAME");
	} else if (o->domid >= 0 || o->xs_path || o->port ||
		   o->my_domid >= 0) {
		return usage_error("%s", "--domid, --path, --port and "
				   "--my-domid go with --xen");
	}
	if (got_type && !o->framed)
		return usage_error("%s", "--type goes with --framed");
	if (o->ring && !o->listen)
		return usage_error("%s", "--ring goes with --listen (a client "
				   "takes the server's rings)");
	if (!got_timeout)
		o->timeout_ms = o->listen ? -1
			      : o->backend == CAT_SERVICE ? 10000 : 0;
	return CAT_EXIT_OK;
}
