/* vmsg-overlay: the copy-on-write overlay appliance (overlay.c) as a Linux
 * process: the base is a block device on a host-backend path, the overlay
 * is served on another, to one consumer after another, until SIGTERM or
 * SIGINT (blk_signal.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsg/host.h>
#include <vmsg/version.h>

#include "blk_signal.h"
#include "overlay.h"

#define MAX_REQ (4u << 20)
/* The base not there yet: waited for this long, in tries this long. */
#define CONNECT_MS 10000
#define CONNECT_TRY_MS 200

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L +
	       (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* A stop before serving: the base's channel (if open) closed, status 0. */
static int stopped_early(vmsg_chan *bc)
{
	vmsg_chan_close(bc);
	fprintf(stderr, "vmsg-overlay: signal %d: stopped before serving\n",
		blk_signal_stopped());
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmsg-overlay [options] --base PATH --listen PATH\n"
"\n"
"A copy-on-write overlay over the vmsg block device at --base (a\n"
"provider on the host backend: vmsg-blockd --listen, vmsg-ramdisk, ...),\n"
"offered as a block device at --listen to one consumer at a time. Writes\n"
"stay in this process's memory; the base is only read. The overlay lives\n"
"as long as the process.\n"
"\n"
"  -b, --base PATH     the base device's host-backend path\n"
"  -l, --listen PATH   the host-backend path to serve the overlay on\n"
"  -n, --clients N     exit after N consumers (default 0: never)\n"
"  -t, --timeout SEC   a base that answers nothing for SEC seconds while a\n"
"                      read waits on it is gone: that read gets -EIO and\n"
"                      the overlay exits 1, as when the base dies (default\n"
"                      30; 0: wait for ever; the clock starts again at each\n"
"                      reply, so a slow base is never cut off)\n"
"  -V, --version       the version\n"
"  -h, --help          this text\n"
"\n"
"SIGTERM or SIGINT stops it: the consumer's requests already sent are\n"
"answered (within 5 s of the signal: a consumer that takes no replies\n"
"loses those left), its channel and the base's are closed, the --listen\n"
"path is removed, and the exit status is 0. Before it serves (while it\n"
"waits for the base), the same: the exit status is 0.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'},
		{"listen", required_argument, NULL, 'l'},
		{"clients", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *base = NULL, *path = NULL;
	unsigned long clients = 0, timeout = BLK_LOWER_TIMEOUT_S;
	char *end;
	int o, r;

	while ((o = getopt_long(argc, argv, "b:l:n:t:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'b': base = optarg; break;
		case 'l': path = optarg; break;
		case 'n':
			clients = strtoul(optarg, &end, 10);
			if (*end) {
				fprintf(stderr, "vmsg-overlay: --clients %s: "
					"expected a number\n", optarg);
				return 2;
			}
			break;
		case 't':
			timeout = strtoul(optarg, &end, 10);
			if (!*optarg || *end || *optarg == '-' ||
			    timeout > BLK_LOWER_TIMEOUT_MAX_S) {
				fprintf(stderr, "vmsg-overlay: --timeout %s: "
					"expected 0..%u seconds\n", optarg,
					BLK_LOWER_TIMEOUT_MAX_S);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("vmsg-overlay %s\n", vmsg_version()); return 0;
		default: fprintf(stderr, "try 'vmsg-overlay --help'\n"); return 2;
		}
	}
	if (!base || !path || optind != argc) {
		fprintf(stderr, "vmsg-overlay: %s\ntry 'vmsg-overlay --help'\n",
			optind != argc ? "unexpected argument"
				       : "give --base PATH and --listen PATH");
		return 2;
	}

	struct vmsg_chan_opts co;
	vmsg_chan_opts_init(&co);
	co.rx_ring_size = co.tx_ring_size = 1u << 20;
	co.max_msg = MAX_REQ + 64u;

	/* SIGTERM and SIGINT from here on: before it serves, the overlay
	 * looks for them between its tries at the base (blocked, they wait
	 * to be looked for) and ends with status 0, having served nothing. */
	blk_signal_init();
	/* The base: a provider taking consumers one at a time says -EBUSY
	 * while it takes another; one not there yet is waited for 10 s, in
	 * short tries so that a stop is seen. */
	vmsg_chan *bc = NULL;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int busy = 0, waiting = 0;;) {
		if (blk_signal_stopped())
			return stopped_early(NULL);
		r = vmsg_host_connect(&bc, base, &co, CONNECT_TRY_MS);
		if (r == -EBUSY && busy++ < 5000) {
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
			continue;
		}
		if ((r != -ENOENT && r != -ETIMEDOUT) ||
		    ms_since(&t0) >= CONNECT_MS)
			break;
		if (!waiting++)
			fprintf(stderr, "vmsg-overlay: base %s: not there yet, "
				"waiting up to %d s\n", base, CONNECT_MS / 1000);
	}
	if (r < 0) {
		if (blk_signal_stopped())
			return stopped_early(NULL);
		fprintf(stderr, "vmsg-overlay: base %s: %s\n", base,
			vmsg_strerror(r));
		return 1;
	}
	static struct overlay ov;
	vmsg_blk_client *bcl;
	size_t csz = vmsg_blk_client_size(8, MAX_REQ);
	void *cmem = aligned_alloc(8, (csz + 7) & ~(size_t)7);
	if (!cmem || (r = vmsg_blk_client_init(&bcl, cmem, csz, bc, 8,
					       MAX_REQ, 10000)) < 0) {
		if (blk_signal_stopped())
			return stopped_early(bc);
		fprintf(stderr, "vmsg-overlay: base %s: negotiation: %s\n", base,
			vmsg_strerror(cmem ? r : -ENOMEM));
		return 1;
	}
	blk_lower_init(&ov.base, bcl, bc, (unsigned)timeout);
	if ((r = overlay_init(&ov, MAX_REQ, 64)) < 0) {
		fprintf(stderr, "vmsg-overlay: base %s: %s\n", base,
			vmsg_strerror(r));
		return 1;
	}
	ov.data = calloc(1, ov.info.size);
	ov.written = calloc(1, ov.info.size / ov.info.logical_block);
	ov.srv_size = vmsg_blk_server_size(ov.info.depth);
	ov.srv_mem = aligned_alloc(8, (ov.srv_size + 7) & ~(size_t)7);
	ov.stage = malloc(VMSG_BLK_REPLY_HDR + ov.info.max_req);
	if (!ov.data || !ov.written || !ov.srv_mem || !ov.stage) {
		fprintf(stderr, "vmsg-overlay: %llu bytes: out of memory\n",
			(unsigned long long)ov.info.size);
		return 1;
	}

	vmsg_chan *c;
	ov.wait = (struct blk_wait){.wait = blk_signal_wait};
	if ((r = vmsg_host_serve(&c, path, &co)) < 0) {
		fprintf(stderr, "vmsg-overlay: listen on %s: %s\n", path,
			vmsg_strerror(r));
		return 1;
	}
	fprintf(stderr, "vmsg-overlay: %llu bytes over %s, on %s\n",
		(unsigned long long)ov.info.size, base, path);
	int status = 0;
	for (unsigned long n = 1; clients == 0 || n <= clients; n++) {
		if ((r = blk_wait_accept(&ov.wait, c)) < 0 && blk_signal_stopped())
			break;
		if (r < 0) {
			(void)vmsg_chan_reopen(c);
			continue;
		}
		r = overlay_serve(&ov, c);
		fprintf(stderr, "vmsg-overlay: consumer %lu: %s (%llu requests, "
			"%llu base reads so far)\n", n, r == -EIO
			? vmsg_strerror(r) : blk_end_text(r, blk_signal_stopped()),
			(unsigned long long)ov.requests,
			(unsigned long long)ov.base_reads);
		if (r == -EIO) {
			fprintf(stderr, "vmsg-overlay: the base is gone%s\n",
				ov.base.silent ? " (it answered nothing for "
						 "--timeout)" : "");
			status = 1;
			break;
		}
		if (blk_signal_stopped())
			break;
		if ((r = vmsg_chan_reopen(c)) < 0)
			break;
	}
	if (blk_signal_stopped())
		fprintf(stderr, "vmsg-overlay: signal %d: stopped\n",
			blk_signal_stopped());
	/* An orderly close for a consumer still there, the listen path
	 * removed; then the base's channel. */
	vmsg_chan_close(c);
	vmsg_blk_client_fini(ov.base.cl);
	vmsg_chan_close(bc);
	return status;
}
