/* The mirror appliance (mirror.c) over the unikernel SDK (vmsg/guest.h):
 * one source for the PVH unikernel mirror-unikernel and the Linux program
 * mirror-appliance (over vmsg_sdk_linux; the arguments are the cmdline).
 * Addresses, the cmdline check, the legs' opening and the serving loop
 * are blk_app.c's (examples/blk-common).
 *
 *   leg1=xen:DOMID:PORT | svc:NAME   the first device to keep the disk on
 *   leg2=xen:DOMID:PORT | svc:NAME   the second (the same size)
 *   serve=xen:DOMID:PORT | svc:NAME  where to offer the mirror
 *   clients=N                        stop after N consumers (0: never)
 *   timeout=SEC                      a leg silent this long while a
 *                                    request waits is dropped (30; 0: never)
 *
 * Both legs must be there at start (each is waited for a minute): a
 * mirror that started on one leg would not be one. A leg that fails
 * later is dropped, said on the console, and the disk carries on. */
#include <vmsg/guest.h>

#include "blk_app.h"
#include "mirror.h"
#include "vmsg_errno.h"

#define PROG "mirror-appliance"

static const char usage[] =
"usage: mirror-appliance leg1=ADDR leg2=ADDR serve=ADDR [KEY=VALUE ...]\n"
"       (the unikernel mirror-unikernel: the same words in xl's cmdline)\n"
"A mirror over two vmsg block devices of one size, offered at serve= to\n"
"one consumer at a time: writes, trims, zeroes and flushes go to both\n"
"legs, reads alternate. A leg that fails is dropped (said here) and the\n"
"disk carries on on the other; when both have failed it answers errors\n"
"and the appliance exits 1. A dropped leg is not taken back (no resync):\n"
"the legs must start equal, and after a failure, be made equal again.\n"
"  leg1=ADDR     the first device (waited for up to a minute)\n"
"  leg2=ADDR     the second device, the same size as the first\n"
"  serve=ADDR    where to offer the mirror\n"
"  clients=N     stop after N consumers (default 0: never)\n"
"  timeout=SEC   a leg that answers nothing for SEC seconds while a request\n"
"                waits on it has failed: dropped like a leg that died\n"
"                (default 30; 0: wait for ever; the clock starts again at\n"
"                each reply, so a slow leg is never cut off)\n"
BLK_APP_ADDR_USAGE
BLK_APP_LINUX_USAGE;

static const struct guest_arg keys[] = {
	{"leg1", GUEST_ARG_ADDR, 0, 0, 0, GUEST_ARG_REQUIRED},
	{"leg2", GUEST_ARG_ADDR, 0, 0, 0, GUEST_ARG_REQUIRED},
	{"serve", GUEST_ARG_ADDR, 0, 0, 0, GUEST_ARG_REQUIRED},
	{"clients", GUEST_ARG_UINT, 0, 1000000000u, 0, 0},
	{"timeout", GUEST_ARG_UINT, 0, BLK_LOWER_TIMEOUT_MAX_S, 0, 0},
	GUEST_ARGS_SDK,
};

/* The legs' addresses as given, for messages. */
static char leg_s[2][VMSG_SERVICE_NAME_MAX + 16];

static void leg_failed(struct mirror *m, unsigned leg, int err)
{
	const char *left = mirror_legs_up(m) ? "carrying on on the other leg"
					     : "no leg left";
	if (err == -ETIMEDOUT)
		guest_printf(PROG ": leg%u %s failed (it answered nothing for "
			     "%llu s): dropped; %s\n", leg + 1, leg_s[leg],
			     (unsigned long long)(m->leg[leg].lower.timeout_ns /
						  1000000000u), left);
	else
		guest_printf(PROG ": leg%u %s failed (%s): dropped; %s\n",
			     leg + 1, leg_s[leg], vmsg_strerror(err), left);
}

static void report(const struct mirror *m)
{
	guest_printf(PROG ": %llu requests; reads: leg1 %llu, leg2 %llu; "
		     "legs up: %u\n", (unsigned long long)m->requests,
		     (unsigned long long)m->leg[0].reads,
		     (unsigned long long)m->leg[1].reads, mirror_legs_up(m));
}

static int serve_one(void *ctx, vmsg_chan *c)
{
	int r = mirror_serve(ctx, c);
	report(ctx);
	return r;
}

static void close_leg(struct blk_base *b)
{
	vmsg_blk_client_fini(b->cl);
	if (b->ctl)
		vmsg_service_close(b->ctl, b->c);
	else
		vmsg_chan_close(b->c);
}

int app_main(const char *cmdline)
{
	static struct mirror m;
	struct guest_addr addr[2], serve;
	struct blk_base b[2];
	int r = guest_args_check(PROG, usage, keys, sizeof(keys) / sizeof(keys[0]),
			       cmdline);
	if (r != 0)
		return r > 0 ? 0 : 2;
	(void)guest_cmdline_get("leg1", leg_s[0], sizeof(leg_s[0]));
	(void)guest_cmdline_get("leg2", leg_s[1], sizeof(leg_s[1]));
	(void)guest_arg_addr("leg1", &addr[0]);
	(void)guest_arg_addr("leg2", &addr[1]);
	(void)guest_arg_addr("serve", &serve);
	unsigned clients = guest_arg_uint("clients", 0);
	unsigned timeout = guest_arg_uint("timeout", BLK_LOWER_TIMEOUT_S);

	/* Each leg is waited for a minute: they may start after us. */
	if (blk_base_open(PROG, &addr[0], 4, 60000, &b[0]) < 0)
		return 1;
	if (blk_base_open(PROG, &addr[1], 4, 60000, &b[1]) < 0) {
		close_leg(&b[0]);
		return 1;
	}
	blk_lower_init(&m.leg[0].lower, b[0].cl, b[0].c, timeout);
	blk_lower_init(&m.leg[1].lower, b[1].cl, b[1].c, timeout);
	m.leg_failed = leg_failed;
	const struct vmsg_blk_info *i0 = vmsg_blk_client_info(b[0].cl);
	const struct vmsg_blk_info *i1 = vmsg_blk_client_info(b[1].cl);
	if ((r = mirror_init(&m, BLK_APP_MAX_REQ, 64)) < 0) {
		if (i0->size != i1->size)
			guest_printf(PROG ": leg1 %s is %llu bytes, leg2 %s is "
				     "%llu: a mirror's legs are one size\n",
				     leg_s[0], (unsigned long long)i0->size,
				     leg_s[1], (unsigned long long)i1->size);
		else
			guest_printf(PROG ": legs %s and %s: %s\n", leg_s[0],
				     leg_s[1], vmsg_strerror(r));
		r = 1;
		goto out;
	}
	m.srv_size = vmsg_blk_server_size(m.info.depth);
	m.srv_mem = guest_alloc(m.srv_size);
	m.stage = guest_alloc(VMSG_BLK_REPLY_HDR + m.info.max_req);
	if (!m.srv_mem || !m.stage) {
		guest_printf(PROG ": out of memory\n");
		r = 1;
		goto out;
	}
	guest_printf(PROG ": %llu bytes on leg1 %s and leg2 %s (blocks %u, "
		     "max_req %u%s)\n", (unsigned long long)m.info.size,
		     leg_s[0], leg_s[1], m.info.logical_block, m.info.max_req,
		     m.info.flags & VMSG_BLK_F_READ_ONLY ? ", read-only" : "");
	blk_app_wait_init(&m.wait);
	r = blk_serve_loop(PROG, &serve, clients, serve_one, &m, -EIO,
			   &m.wait);
	guest_printf(PROG ": done%s\n",
		     r == -EIO ? ": both legs have failed" : "");
	r = r == -EIO ? 1 : 0;
out:
	close_leg(&b[0]);
	close_leg(&b[1]);
	return r;
}
