/* The mirror appliance's core: offers one vmsg block device to one
 * consumer at a time, kept on two others (its legs, each through
 * lib/block's client): every write, TRIM, WRITE_ZEROES and FLUSH goes to
 * both legs, reads alternate between them. A leg that fails (its channel
 * ends, it answers an error, or it says nothing for its limit while a
 * request waits: blk_lower.h) is dropped and the disk carries on on the
 * other, degraded; when both have failed every request gets -EIO and the
 * disk is gone. A dropped leg is never taken back (no resync): restart
 * the appliance over legs made equal again. The legs must start equal.
 * Freestanding (lib/block, lib/chan; memory from the caller), so that the
 * same source builds as a unikernel and as a Linux program. */
#ifndef MIRROR_H
#define MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/block.h>

#include "blk_lower.h"
#include "blk_wait.h"

struct mirror_leg {
	struct blk_lower lower; /* open, negotiated, with its limit on
				 * silence (blk_lower_init); the caller's */
	int failed;          /* 0 while in use; then why it was dropped */
	uint64_t reads;      /* reads it answered */
};

struct mirror {
	struct mirror_leg leg[2];
	struct vmsg_blk_info info; /* what we offer: set by mirror_init */
	void *srv_mem;             /* vmsg_blk_server_size(info.depth) */
	size_t srv_size;
	uint8_t *stage;            /* VMSG_BLK_REPLY_HDR + info.max_req */
	unsigned next_read;        /* the leg the next read tries first */
	uint64_t requests;
	/* Told once per leg, when it is dropped (may be NULL). */
	void (*leg_failed)(struct mirror *m, unsigned leg, int err);
	struct blk_wait wait;      /* how to wait for the consumer (zero:
				    * block in the channel's calls) */
};

/* Fill m->info from the legs': the same size (required), the larger
 * block sizes, the smaller max_req (at most max_req), depth `depth`;
 * read-only if either leg is; FUA, TRIM and WRITE_ZEROES if both offer
 * them; FLUSH always (sent to the legs that offer it). Returns 0, or
 * -EINVAL when the legs' sizes differ or max_req is below a block. */
int mirror_init(struct mirror *m, uint32_t max_req, uint32_t depth);

/* Legs still in use (0, 1 or 2). */
unsigned mirror_legs_up(const struct mirror *m);

/* Serve the consumer of the open channel `c` until it goes. Returns
 * -EPIPE when it closed, -EPROTO when it broke the protocol, -EIO when
 * both legs have failed (the consumer got -EIO replies first), m->wait's
 * error when that said stop (-ESHUTDOWN: every request the consumer had
 * sent by then answered; -ETIMEDOUT: not all within the grace,
 * blk_wait.h), or another channel error. */
int mirror_serve(struct mirror *m, vmsg_chan *c);

#endif
