/* vmsg-ramdisk: the RAM disk appliance (ramdisk.c) as a Linux process,
 * serving consumers one after another on a host-backend path, until
 * SIGTERM or SIGINT (blk_signal.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/host.h>
#include <vmsg/version.h>

#include "blk_signal.h"
#include "ramdisk.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmsg-ramdisk [options] --listen PATH\n"
"\n"
"A RAM disk offered as a vmsg block device (docs/block.md) on the host\n"
"backend at PATH, to one consumer at a time; its content lives as long\n"
"as the process.\n"
"\n"
"  -l, --listen PATH   the host-backend path to serve on\n"
"  -s, --size MIB      the disk's size in MiB (default 64)\n"
"  -n, --clients N     exit after N consumers (default 0: never)\n"
"  -V, --version       the version\n"
"  -h, --help          this text\n"
"\n"
"SIGTERM or SIGINT stops it: the consumer's requests already sent are\n"
"answered (within 5 s of the signal: a consumer that takes no replies\n"
"loses those left), its channel is closed, PATH is removed, and the exit\n"
"status is 0.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"size", required_argument, NULL, 's'},
		{"clients", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	unsigned long mib = 64, clients = 0;
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "l:s:n:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'l': path = optarg; break;
		case 's':
			mib = strtoul(optarg, &end, 10);
			if (*end || mib == 0 || mib > 65536) {
				fprintf(stderr, "vmsg-ramdisk: --size %s: expected "
					"1..65536 (MiB)\n", optarg);
				return 2;
			}
			break;
		case 'n':
			clients = strtoul(optarg, &end, 10);
			if (*end) {
				fprintf(stderr, "vmsg-ramdisk: --clients %s: "
					"expected a number\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("vmsg-ramdisk %s\n", vmsg_version()); return 0;
		default: fprintf(stderr, "try 'vmsg-ramdisk --help'\n"); return 2;
		}
	}
	if (!path || optind != argc) {
		fprintf(stderr, "vmsg-ramdisk: %s\ntry 'vmsg-ramdisk --help'\n",
			path ? "unexpected argument" : "no --listen PATH");
		return 2;
	}

	static struct ramdisk rd;
	rd.info = (struct vmsg_blk_info){
		.size = (uint64_t)mib << 20, .logical_block = 512,
		.physical_block = 4096, .max_req = 4u << 20, .depth = 64,
		.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			 VMSG_BLK_F_WRITE_ZEROES,
	};
	rd.data = calloc(1, rd.info.size);
	rd.srv_size = vmsg_blk_server_size(rd.info.depth);
	rd.srv_mem = aligned_alloc(8, (rd.srv_size + 7) & ~(size_t)7);
	rd.stage = malloc(VMSG_BLK_REPLY_HDR + rd.info.max_req);
	if (!rd.data || !rd.srv_mem || !rd.stage) {
		fprintf(stderr, "vmsg-ramdisk: %lu MiB: out of memory\n", mib);
		return 1;
	}

	struct vmsg_chan_opts co;
	vmsg_chan_opts_init(&co);
	co.rx_ring_size = co.tx_ring_size = 1u << 20;
	co.max_msg = rd.info.max_req + 64u;
	vmsg_chan *c;
	blk_signal_init();
	rd.wait = (struct blk_wait){.wait = blk_signal_wait};
	int r = vmsg_host_serve(&c, path, &co);
	if (r < 0) {
		fprintf(stderr, "vmsg-ramdisk: listen on %s: %s\n", path,
			vmsg_strerror(r));
		return 1;
	}
	fprintf(stderr, "vmsg-ramdisk: %lu MiB on %s\n", mib, path);
	for (unsigned long n = 1; clients == 0 || n <= clients; n++) {
		if ((r = blk_wait_accept(&rd.wait, c)) < 0 && blk_signal_stopped())
			break;
		if (r < 0) {
			(void)vmsg_chan_reopen(c);
			continue;
		}
		r = ramdisk_serve(&rd, c);
		fprintf(stderr, "vmsg-ramdisk: consumer %lu: %s (%llu requests "
			"so far)\n", n, blk_end_text(r, blk_signal_stopped()),
			(unsigned long long)rd.requests);
		if (blk_signal_stopped())
			break;
		if ((r = vmsg_chan_reopen(c)) < 0) {
			fprintf(stderr, "vmsg-ramdisk: reopen: %s\n",
				vmsg_strerror(r));
			break;
		}
	}
	if (blk_signal_stopped())
		fprintf(stderr, "vmsg-ramdisk: signal %d: stopped\n",
			blk_signal_stopped());
	/* An orderly close for a consumer still there; PATH goes. */
	vmsg_chan_close(c);
	return 0;
}
