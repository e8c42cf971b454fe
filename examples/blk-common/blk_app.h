/* What the block appliances (examples/blk-ramdisk, blk-overlay, blk-mirror)
 * share as SDK programs: one source each that builds as a PVH unikernel
 * (vmsg_add_unikernel) and as a Linux program over the SDK's Linux target
 * (vmsg_sdk_linux). This file has their cmdline check, their addresses
 * (parsed here and nowhere else), the opening of a base device and the
 * loop that serves one consumer after another. Freestanding: vmsg/guest.h
 * and the vmsg headers only.
 *
 * On Linux, SIGTERM or SIGINT stops an appliance in order once it serves
 * (blk_app_wait_init, blk_stop.c): the requests its consumer has sent
 * are answered (within BLK_STOP_GRACE_MS, blk_wait.h), the consumer's
 * channel and then its lower disks' are closed, the host backend's socket
 * files removed, status 0. A unikernel has no signals (blk_stop_none.c).
 *
 * Their addresses are the SDK's (vmsg/guest_args.h):
 *   xen:DOMID:PORT  as a base, the server is domain DOMID
 *                   (/local/domain/DOMID/data/vchan/<us>/PORT); to serve,
 *                   the consumer is domain DOMID
 *                   (/local/domain/<us>/data/vchan/DOMID/PORT)
 *   svc:NAME        opened through vmsgd as a base, offered to serve
 *                   (vmsgd's policy says who may open it) */
#ifndef BLK_APP_H
#define BLK_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/block.h>
#include <vmsg/chan.h>
#include <vmsg/guest_args.h>
#include <vmsg/service.h>
#include <vmsg/xen.h>

#include "blk_wait.h"

/* The appliances' request limit and channel shape: 1 MiB requests keep a
 * unikernel's staging and reassembly buffers small (a consumer asking for
 * more is negotiated down), 256 KiB rings each way. */
#define BLK_APP_MAX_REQ (1u << 20)
#define BLK_APP_RING (256u * 1024u)

/* The ends of the appliances' usage texts, written once so that the
 * three say the same: what an ADDR is, and the Linux program's own keys. */
#define BLK_APP_ADDR_USAGE \
"ADDR: xen:DOMID:PORT  a direct Xen channel (a device: served by DOMID at\n" \
"                      /local/domain/DOMID/data/vchan/<us>/PORT; serve:\n" \
"                      to DOMID at /local/domain/<us>/data/vchan/DOMID/PORT,\n" \
"                      served again after each consumer)\n" \
"      svc:NAME        a service through vmsgd (opened / offered)\n"
#define BLK_APP_LINUX_USAGE \
"the Linux program also takes:\n" \
"  host=DIR      host backend: xen: channels are UNIX sockets in DIR\n" \
"  domid=N       the domain number to use with host=\n" \
"and, once it serves, SIGTERM or SIGINT stops it: the consumer's requests\n" \
"already sent are answered (within 5 s of the signal: a consumer that\n" \
"takes no replies loses those left), its channel and then any lower\n" \
"disk's are closed, the socket files of host= removed, exit status 0\n"

/* Channel options for the appliances' channels (BLK_APP_RING rings,
 * messages up to a request and its header). */
void blk_chan_opts(struct vmsg_chan_opts *o);

/* The base device: a channel to `a` (a Xen server waited for up to
 * timeout_ms; a service opened through vmsgd), negotiated with lib/block's
 * client at queue depth `depth` (memory from guest_alloc). Prints what
 * failed, prefixed with prog. 0 or -errno. */
struct blk_base {
	vmsg_chan *c;
	vmsg_blk_client *cl;
	vmsg_ctl *ctl;  /* svc: the domain's control channel (shared with
			 * blk_serve_loop's svc:, kept open) */
};
int blk_base_open(const char *prog, const struct guest_addr *a,
		  uint32_t depth, int timeout_ms, struct blk_base *b);

/* The wait for the appliance's core (its struct blk_wait) and for
 * blk_serve_loop: on Linux (blk_stop.c), one that ends in order on
 * SIGTERM or SIGINT (guest_stop_requested, whose handler it installs:
 * call it when the appliance is about to serve; before, the signals kill
 * it); in a unikernel (blk_stop_none.c), none: the cores block in the
 * channel's calls. */
void blk_app_wait_init(struct blk_wait *w);

/* Serve the consumers of address `a`, one after another: serve_one(ctx,
 * chan) serves one until it goes (its return says why: -EPIPE closed,
 * -EPROTO broke the protocol, ...). xen: the channel is served again at
 * the same path after each consumer; svc: the service is offered and each
 * channel vmsgd brokers is served in turn. Waits for consumers through w
 * (blk_app_wait_init), which serve_one's core is given too. Returns after
 * `clients` consumers (0: never) with 0, at once with serve_one's value
 * when that is `stop_err` (say -EIO: the base is gone), with 0 when w says
 * stop (the consumer's channel closed), or with a channel or vmsgd error.
 * Logs each consumer's end, prefixed with prog. */
int blk_serve_loop(const char *prog, const struct guest_addr *a,
		   unsigned clients, int (*serve_one)(void *ctx, vmsg_chan *c),
		   void *ctx, int stop_err, const struct blk_wait *w);

#endif
