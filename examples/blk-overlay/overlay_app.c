/* The copy-on-write overlay appliance (overlay.c) over the unikernel SDK
 * (vmsg/guest.h): one source for the PVH unikernel overlay-unikernel and
 * the Linux program overlay-appliance (over vmsg_sdk_linux; the arguments
 * are the cmdline). Addresses, the cmdline check, the base and the serving
 * loop are blk_app.c's (examples/blk-common).
 *
 *   base=xen:DOMID:PORT | svc:NAME   the device to layer over
 *   serve=xen:DOMID:PORT | svc:NAME  where to offer the overlay
 *   clients=N                        stop after N consumers (0: never)
 *   limit=MIB                        largest base accepted (48)
 *   timeout=SEC                      a base silent this long while a
 *                                    read waits is gone (30; 0: never)
 *
 * The overlay keeps every written block in memory, so the whole base's
 * size is taken up front (plus a byte per block for the map): a base over
 * limit= MiB, or one the domain's memory cannot hold (the unikernel's
 * MEMORY, xl's memory=), is refused at start with a message saying so,
 * not discovered by the first write. */
#include <vmsg/guest.h>

#include "blk_app.h"
#include "overlay.h"
#include "vmsg_errno.h"

#define PROG "overlay-appliance"
#define LIMIT_MIB 48u

static const char usage[] =
"usage: overlay-appliance base=ADDR serve=ADDR [KEY=VALUE ...]\n"
"       (the unikernel overlay-unikernel: the same words in xl's cmdline)\n"
"A copy-on-write overlay over the vmsg block device at base=, offered at\n"
"serve= to one consumer at a time: writes stay in this appliance's\n"
"memory, reads of blocks never written fall through, the base is only\n"
"read. The overlay lives as long as the appliance.\n"
"  base=ADDR     the device to layer over\n"
"  serve=ADDR    where to offer the overlay\n"
"  clients=N     stop after N consumers (default 0: never)\n"
"  limit=MIB     largest base accepted, MiB (default 48); the memory must\n"
"                hold it and ~4 MiB more (the unikernel has 64 MiB)\n"
"  timeout=SEC   a base that answers nothing for SEC seconds while a read\n"
"                waits on it is gone: that read gets -EIO and the appliance\n"
"                exits 1, as when the base dies (default 30; 0: wait for\n"
"                ever; the clock starts again at each reply, so a slow base\n"
"                is never cut off)\n"
BLK_APP_ADDR_USAGE
BLK_APP_LINUX_USAGE;

static const struct guest_arg keys[] = {
	{"base", GUEST_ARG_ADDR, 0, 0, 0, GUEST_ARG_REQUIRED},
	{"serve", GUEST_ARG_ADDR, 0, 0, 0, GUEST_ARG_REQUIRED},
	{"clients", GUEST_ARG_UINT, 0, 1000000000u, 0, 0},
	{"limit", GUEST_ARG_UINT, 1, 65536, 0, 0},
	{"timeout", GUEST_ARG_UINT, 0, BLK_LOWER_TIMEOUT_MAX_S, 0, 0},
	GUEST_ARGS_SDK,
};

static int serve_one(void *ctx, vmsg_chan *c)
{
	return overlay_serve(ctx, c);
}

int app_main(const char *cmdline)
{
	static struct overlay ov;
	struct guest_addr base, serve;
	struct blk_base b;
	int r = guest_args_check(PROG, usage, keys, sizeof(keys) / sizeof(keys[0]),
			       cmdline);
	if (r != 0)
		return r > 0 ? 0 : 2;
	char base_s[VMSG_SERVICE_NAME_MAX + 16]; /* for messages */
	(void)guest_cmdline_get("base", base_s, sizeof(base_s));
	(void)guest_arg_addr("base", &base);
	(void)guest_arg_addr("serve", &serve);
	unsigned clients = guest_arg_uint("clients", 0);
	uint64_t limit = (uint64_t)guest_arg_uint("limit", LIMIT_MIB) << 20;
	unsigned timeout = guest_arg_uint("timeout", BLK_LOWER_TIMEOUT_S);

	/* The base is waited for a minute: it may start after us. */
	if (blk_base_open(PROG, &base, 4, 60000, &b) < 0)
		return 1;
	blk_lower_init(&ov.base, b.cl, b.c, timeout);
	if ((r = overlay_init(&ov, BLK_APP_MAX_REQ, 64)) < 0) {
		guest_printf(PROG ": base %s: %s\n", base_s, vmsg_strerror(r));
		return 1;
	}
	uint64_t size = ov.info.size, blocks = size / ov.info.logical_block;
	if (size > limit) {
		guest_printf(PROG ": base %s is %llu bytes: over limit=%llu MiB "
			     "(the overlay holds every written block in "
			     "memory)\n", base_s, (unsigned long long)size,
			     (unsigned long long)(limit >> 20));
		return 1;
	}
	ov.data = guest_alloc((size_t)size);
	ov.written = guest_alloc((size_t)blocks);
	ov.srv_size = vmsg_blk_server_size(ov.info.depth);
	ov.srv_mem = guest_alloc(ov.srv_size);
	ov.stage = guest_alloc(VMSG_BLK_REPLY_HDR + ov.info.max_req);
	if (!ov.data || !ov.written || !ov.srv_mem || !ov.stage) {
		guest_printf(PROG ": base %s is %llu bytes: this domain's "
			     "memory cannot hold its overlay (%llu bytes and "
			     "%llu for the block map); give it more memory or "
			     "layer over a smaller base\n", base_s,
			     (unsigned long long)size, (unsigned long long)size,
			     (unsigned long long)blocks);
		return 1;
	}
	guest_printf(PROG ": %llu bytes over %s (blocks %u, max_req %u)\n",
		     (unsigned long long)size, base_s, ov.info.logical_block,
		     ov.info.max_req);
	blk_app_wait_init(&ov.wait);
	r = blk_serve_loop(PROG, &serve, clients, serve_one, &ov, -EIO,
			   &ov.wait);
	guest_printf(PROG ": done: %llu requests, %llu base reads%s%s\n",
		     (unsigned long long)ov.requests,
		     (unsigned long long)ov.base_reads,
		     r == -EIO ? "; the base is gone" : "",
		     r == -EIO && ov.base.silent
			     ? " (it answered nothing for timeout=)" : "");
	vmsg_blk_client_fini(b.cl);
	if (b.ctl)
		vmsg_service_close(b.ctl, b.c);
	else
		vmsg_chan_close(b.c);
	return r == -EIO ? 1 : 0;
}
