/* vmsg-tap's command line. */
#include "bridge.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/net.h>
#include <vmsg/version.h>
#include <vmsg/xen.h>

static const char help_text[] =
	"vmsg-tap: bridge a TAP device to an Ethernet link over a vmsg\n"
	"channel (docs/net.md): frames the device sends go to the link, frames\n"
	"from the link go to the device. The device's carrier follows the\n"
	"link: on when both ends have said HELLO, off when the channel closes\n"
	"or its peer dies; a client connects again by itself, a server waits\n"
	"for the next client.\n"
	"\n"
	"usage: vmsg-tap (--connect PATH | --listen PATH | --service NAME |\n"
	"                 --xen DOMID --port NAME) [OPTIONS]\n"
	"\n"
	"  -c, --connect PATH    connect to the channel served at PATH (host\n"
	"                        backend), e.g. a switch or firewall port\n"
	"  -l, --listen PATH     serve a channel at PATH for one client at a\n"
	"                        time\n"
	"  -s, --service NAME    open service NAME through vmsgd (Xen backend,\n"
	"                        e.g. under 'xensim run'); opened again after\n"
	"                        it goes away\n"
	"  -x, --xen DOMID       connect to the direct Xen channel domain DOMID\n"
	"  -p, --port NAME       serves us at /local/domain/DOMID/data/vchan/\n"
	"                        <our domid>/NAME (an appliance's\n"
	"                        port=xen:<our domid>:NAME); connected again\n"
	"                        after it goes. dom0 reaches guests this way:\n"
	"                        vmsgd brokers services between guests only\n"
	"  -d, --dev NAME        TAP device name (default vtap%d: the first free)\n"
	"  -n, --netns NAME      create the device in network namespace NAME\n"
	"                        (/run/netns/NAME, as made by 'ip netns add')\n"
	"  -m, --mtu N           largest frame payload, 68..9000 (1500); the\n"
	"                        link takes the smaller of both ends'\n"
	"      --mac MAC         the device's address (default: the kernel's)\n"
	"      --ring-size B     server: each ring's size in bytes (262144)\n"
	"      --batch N         frames per batch each way, 1..1024 (64)\n"
	"      --retry-ms MS     client: between connection attempts (200)\n"
	"  -q, --quiet           no messages on link changes\n"
	"  -h, --help            this text\n"
	"  -V, --version         the version\n"
	"\n"
	"Counters go to stderr on SIGUSR1 and at exit (SIGTERM, SIGINT).\n"
	"\n"
	"example:  ip netns add red\n"
	"          vmsg-tap --connect /run/vmsg/switch.port0 --netns red --dev "
	"eth1\n"
	"          vmsg-tap --xen 5 --port sw0 --netns red --dev eth1   (dom0)\n";

#define ONE_WAY "give one of --connect, --listen, --service and --xen, once"

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vmsg-tap: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: vmsg-tap (--connect PATH | --listen PATH | "
			"--service NAME | --xen DOMID --port NAME) [OPTIONS]\n"
			"Try 'vmsg-tap --help' for more.\n");
	return -1;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	char *end;
	unsigned long x;

	if (!*s || *s == '-')
		return false;
	x = strtoul(s, &end, 10);
	if (*end || x < lo || x > hi)
		return false;
	*v = (uint32_t)x;
	return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

int tap_parse_opts(struct tap_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{"connect", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"service", required_argument, NULL, 's'},
		{"xen", required_argument, NULL, 'x'},
		{"port", required_argument, NULL, 'p'},
		{"dev", required_argument, NULL, 'd'},
		{"netns", required_argument, NULL, 'n'},
		{"mtu", required_argument, NULL, 'm'},
		{"mac", required_argument, NULL, 'A'},
		{"ring-size", required_argument, NULL, 'R'},
		{"batch", required_argument, NULL, 'B'},
		{"retry-ms", required_argument, NULL, 'T'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	uint32_t v;
	int c;

	memset(o, 0, sizeof *o);
	snprintf(o->dev, sizeof o->dev, "vtap%%d");
	o->mtu = VMSG_NET_MTU_DEFAULT;
	o->ring_size = 256u * 1024u;
	o->batch = 64;
	o->retry_ms = 200;
	o->xen_domid = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:l:s:x:p:d:n:m:qhV", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (o->path || o->service || o->xen_domid >= 0)
				return usage("%s", ONE_WAY);
			o->service = optarg;
			break;
		case 'x':
			if (o->path || o->service || o->xen_domid >= 0)
				return usage("%s", ONE_WAY);
			if (!parse_u32(optarg, 0, VMSG_DOMID_LIMIT - 1, &v))
				return usage("bad domain '%s' (0..32751)", optarg);
			o->xen_domid = (int)v;
			break;
		case 'p':
			if (o->port)
				return usage("%s", "give --port once");
			if (!*optarg || strlen(optarg) > 63 || strchr(optarg, '/'))
				return usage("port name '%s': 1..63 bytes, no '/'",
					     optarg);
			o->port = optarg;
			break;
		case 'c':
		case 'l':
			if (o->path || o->service || o->xen_domid >= 0)
				return usage("%s", ONE_WAY);
			o->path = optarg;
			o->listen = c == 'l';
			if (strlen(optarg) == 0 || strlen(optarg) > 107)
				return usage("channel path '%s': 1..107 bytes",
					     optarg);
			break;
		case 'd':
			if (strlen(optarg) == 0 || strlen(optarg) >= IFNAMSIZ)
				return usage("device name '%s': 1..15 bytes",
					     optarg);
			snprintf(o->dev, sizeof o->dev, "%s", optarg);
			break;
		case 'n':
			o->netns = optarg;
			break;
		case 'm':
			if (!parse_u32(optarg, VMSG_NET_MTU_MIN,
				       VMSG_NET_MTU_MAX, &o->mtu))
				return usage("bad MTU '%s' (68..9000)", optarg);
			break;
		case 'A':
			if (!parse_mac(optarg, o->mac))
				return usage("bad MAC '%s' (xx:xx:xx:xx:xx:xx)",
					     optarg);
			o->have_mac = true;
			break;
		case 'R':
			if (!parse_u32(optarg, 1024, 1u << 20, &o->ring_size))
				return usage("bad ring size '%s' (1024..1048576)",
					     optarg);
			break;
		case 'B':
			if (!parse_u32(optarg, 1, 1024, &v))
				return usage("bad batch '%s' (1..1024)", optarg);
			o->batch = v;
			break;
		case 'T':
			if (!parse_u32(optarg, 1, 60000, &v))
				return usage("bad retry '%s' (1..60000 ms)",
					     optarg);
			o->retry_ms = v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(help_text, stdout);
			return 1;
		case 'V':
			printf("vmsg-tap %s\n", vmsg_version());
			return 1;
		case '?':
			if (optopt)
				return usage("unknown option '-%c'",
					     (char[]){(char)optopt, 0});
			return usage("unknown option '%s'", argv[optind - 1]);
		case ':':
		default:
			return usage("option '%s' needs an argument",
				     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	if ((o->xen_domid >= 0) != (o->port != NULL))
		return usage("%s", "--xen DOMID and --port NAME go together");
	if (!o->path && !o->service && o->xen_domid < 0)
		return usage("%s", "give --connect PATH, --listen PATH, "
				   "--service NAME or --xen DOMID --port NAME");
	return 0;
}
