/* The copy-on-write overlay appliance's core: consumes one vmsg block
 * device (the base, through lib/block's client) and offers another to one
 * consumer at a time: writes land in the overlay (memory), reads of blocks
 * never written fall through to the base, the base is never written.
 * Freestanding (lib/block, lib/chan; memory from the caller), so that the
 * same source can become a unikernel; overlay_linux.c is its Linux
 * process. The overlay is volatile: it lives as long as the appliance
 * (FLUSH has nothing to make durable), as qemu's -snapshot does. */
#ifndef OVERLAY_H
#define OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include <vmsg/block.h>

#include "blk_lower.h"
#include "blk_wait.h"

struct overlay {
	struct blk_lower base;      /* open, negotiated, with its limit on
				     * silence (blk_lower_init) */
	struct vmsg_blk_info info;  /* what we offer: set by overlay_init */
	uint8_t *data;              /* info.size bytes: the written blocks */
	uint8_t *written;           /* one byte per logical block: 1 = ours */
	void *srv_mem;              /* vmsg_blk_server_size(info.depth) */
	size_t srv_size;
	uint8_t *stage;             /* VMSG_BLK_REPLY_HDR + info.max_req */
	uint64_t requests, base_reads;
	struct blk_wait wait;       /* how to wait for the consumer (zero:
				     * block in the channel's calls) */
};

/* Fill o->info from the base's (same size and blocks; max_req at most
 * max_req; depth `depth`; every operation offered, never read-only).
 * Returns 0, or -EINVAL when max_req is below a block. */
int overlay_init(struct overlay *o, uint32_t max_req, uint32_t depth);

/* Serve the consumer of the open channel `c` until it goes. Returns
 * -EPIPE when it closed, -EPROTO when it broke the protocol, -EIO when
 * the base failed (its channel ended, it answered -EIO, or it stayed
 * silent for its limit while a read waited: the consumer got an -EIO
 * reply first), o->wait's error when that said stop (-ESHUTDOWN: every
 * request the consumer had sent by then answered; -ETIMEDOUT: not all
 * within the grace, blk_wait.h), or another channel error. */
int overlay_serve(struct overlay *o, vmsg_chan *c);

#endif
