/* The RAM disk appliance (ramdisk.c) over the unikernel SDK (vmsg/guest.h):
 * one source for the PVH unikernel ramdisk-unikernel and the Linux program
 * ramdisk-appliance (over vmsg_sdk_linux; the arguments are the cmdline).
 * Addresses, the cmdline check and the serving loop are blk_app.c's
 * (examples/blk-common).
 *
 *   serve=xen:DOMID:PORT | svc:NAME  where to offer the disk
 *   size=MIB                         its size (16)
 *   clients=N                        stop after N consumers (0: never) */
#include <vmsg/guest.h>

#include "blk_app.h"
#include "ramdisk.h"
#include "vmsg_errno.h"

#define PROG "ramdisk-appliance"

static const char usage[] =
"usage: ramdisk-appliance serve=ADDR [KEY=VALUE ...]\n"
"       (the unikernel ramdisk-unikernel: the same words in xl's cmdline)\n"
"A RAM disk offered as a vmsg block device at serve=, to one consumer at\n"
"a time; its content lives as long as the appliance.\n"
"  serve=ADDR    xen:DOMID:PORT  a direct Xen channel to domain DOMID at\n"
"                                /local/domain/<us>/data/vchan/DOMID/PORT,\n"
"                                served again after each consumer\n"
"                svc:NAME        a service offered through vmsgd\n"
"  size=MIB      the disk's size (default 16; the unikernel has 64 MiB\n"
"                of memory, ~4 MiB of it for itself)\n"
"  clients=N     stop after N consumers (default 0: never)\n"
BLK_APP_LINUX_USAGE;

static const struct guest_arg keys[] = {
	{"serve", GUEST_ARG_ADDR, 0, 0, 0, GUEST_ARG_REQUIRED},
	{"size", GUEST_ARG_UINT, 1, 65536, 0, 0},
	{"clients", GUEST_ARG_UINT, 0, 1000000000u, 0, 0},
	GUEST_ARGS_SDK,
};

static int serve_one(void *ctx, vmsg_chan *c)
{
	return ramdisk_serve(ctx, c);
}

int app_main(const char *cmdline)
{
	static struct ramdisk rd;
	struct guest_addr serve;
	int r = guest_args_check(PROG, usage, keys, sizeof(keys) / sizeof(keys[0]),
			       cmdline);
	if (r != 0)
		return r > 0 ? 0 : 2;
	(void)guest_arg_addr("serve", &serve);
	unsigned mib = guest_arg_uint("size", 16);
	unsigned clients = guest_arg_uint("clients", 0);

	rd.info = (struct vmsg_blk_info){
		.size = (uint64_t)mib << 20, .logical_block = 512,
		.physical_block = 4096, .max_req = BLK_APP_MAX_REQ, .depth = 64,
		.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			 VMSG_BLK_F_WRITE_ZEROES,
	};
	rd.data = guest_alloc((size_t)rd.info.size);
	rd.srv_size = vmsg_blk_server_size(rd.info.depth);
	rd.srv_mem = guest_alloc(rd.srv_size);
	rd.stage = guest_alloc(VMSG_BLK_REPLY_HDR + rd.info.max_req);
	if (!rd.data || !rd.srv_mem || !rd.stage) {
		guest_printf(PROG ": size=%u: this domain's memory cannot hold "
			     "a disk of %u MiB\n", mib, mib);
		return 1;
	}
	guest_printf(PROG ": %u MiB\n", mib);
	blk_app_wait_init(&rd.wait);
	r = blk_serve_loop(PROG, &serve, clients, serve_one, &rd, 1,
			   &rd.wait);
	guest_printf(PROG ": done: %llu requests\n",
		     (unsigned long long)rd.requests);
	return r < 0 ? 1 : 0;
}
