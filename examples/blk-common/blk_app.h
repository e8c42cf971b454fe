/* What the block appliances (examples/blk-ramdisk, examples/blk-overlay)
 * share as SDK programs: one source each that builds as a PVH unikernel
 * (vmsg_add_unikernel) and as a Linux program over the SDK's Linux target
 * (vmsg_sdk_linux). This file has their cmdline check, their addresses
 * (parsed here and nowhere else), the opening of a base device and the
 * loop that serves one consumer after another. Freestanding: vmsg/guest.h
 * and the vmsg headers only.
 *
 * An address is a cmdline value:
 *   xen:DOMID:PORT  a direct Xen channel at the conventional path
 *                   (vmsg_xen_path): as a base, the server is domain DOMID
 *                   (/local/domain/DOMID/data/vchan/<us>/PORT); to serve,
 *                   the consumer is domain DOMID
 *                   (/local/domain/<us>/data/vchan/DOMID/PORT)
 *   svc:NAME        a service through vmsgd: opened as a base, offered to
 *                   serve (vmsgd's policy says who may open it)
 * PORT and NAME: 1..64 of [A-Za-z0-9._-] (vmsg_service_name_ok). */
#ifndef BLK_APP_H
#define BLK_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/block.h>
#include <vmsg/chan.h>
#include <vmsg/service.h>
#include <vmsg/xen.h>

/* The appliances' request limit and channel shape: 1 MiB requests keep a
 * unikernel's staging and reassembly buffers small (a consumer asking for
 * more is negotiated down), 256 KiB rings each way. */
#define BLK_APP_MAX_REQ (1u << 20)
#define BLK_APP_RING (256u * 1024u)

enum blk_addr_kind { BLK_ADDR_XEN, BLK_ADDR_SVC };

struct blk_addr {
	enum blk_addr_kind kind;
	uint16_t domid;                        /* BLK_ADDR_XEN */
	char name[VMSG_SERVICE_NAME_MAX + 1];  /* the port or the service */
};

/* Parse "xen:DOMID:PORT" or "svc:NAME" (vl bytes at v, not necessarily
 * NUL-terminated). Returns 0, or -EINVAL with *why set to what is wrong. */
int blk_addr_parse(const char *v, size_t vl, struct blk_addr *a,
		   const char **why);

/* One cmdline key of an appliance. */
enum blk_key_kind { BLK_KEY_ADDR, BLK_KEY_UINT, BLK_KEY_NAME };
struct blk_key {
	const char *name;
	enum blk_key_kind kind;
	unsigned min, max;   /* UINT: the range; NAME: max is the longest */
	bool required;
};

/* The keys of the SDK's Linux target (host=DIR, domid=N), which every
 * appliance accepts too: append to an appliance's table. */
#define BLK_SDK_KEYS                                          \
	{"host", BLK_KEY_NAME, 1, 100, false},                \
	{"domid", BLK_KEY_UINT, 0, VMSG_DOMID_LIMIT - 1, false}

/* Check every word of cmdline against keys[0..n): each must be KEY=VALUE
 * with a key of the table, given once, with a value of its kind, and
 * every required key must be there. --help, -h or help prints `usage`.
 * Returns 0 (good), 1 (usage printed) or -1 (the first problem printed,
 * prefixed with prog). */
int blk_args_check(const char *prog, const char *usage,
		   const struct blk_key *keys, unsigned n, const char *cmdline);

/* The value of a key blk_args_check() passed: an address, a number (dflt
 * when absent). */
int blk_arg_addr(const char *key, struct blk_addr *a);
unsigned blk_arg_uint(const char *key, unsigned dflt);

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
int blk_base_open(const char *prog, const struct blk_addr *a,
		  uint32_t depth, int timeout_ms, struct blk_base *b);

/* Serve the consumers of address `a`, one after another: serve_one(ctx,
 * chan) serves one until it goes (its return says why: -EPIPE closed,
 * -EPROTO broke the protocol, ...). xen: the channel is served again at
 * the same path after each consumer; svc: the service is offered and each
 * channel vmsgd brokers is served in turn. Returns after `clients`
 * consumers (0: never) with 0, at once with serve_one's value when that
 * is `stop_err` (say -EIO: the base is gone), or with a channel or vmsgd
 * error. Logs each consumer's end, prefixed with prog. */
int blk_serve_loop(const char *prog, const struct blk_addr *a,
		   unsigned clients, int (*serve_one)(void *ctx, vmsg_chan *c),
		   void *ctx, int stop_err);

#endif
