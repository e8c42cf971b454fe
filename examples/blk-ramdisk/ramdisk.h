/* The RAM disk appliance's core: serve one consumer of a vmsg block device
 * (docs/block.md) from memory. Freestanding (lib/block and lib/chan only,
 * memory from the caller), so that the same source can become a
 * unikernel; ramdisk_linux.c is its Linux process. */
#ifndef RAMDISK_H
#define RAMDISK_H

#include <stddef.h>
#include <stdint.h>

#include <vmsg/block.h>

#include "blk_wait.h"

struct ramdisk {
	uint8_t *data;              /* the disk: info.size bytes */
	struct vmsg_blk_info info;  /* what we offer (depth, max_req: at most) */
	void *srv_mem;              /* vmsg_blk_server_size(info.depth) bytes */
	size_t srv_size;
	uint8_t *stage;             /* VMSG_BLK_REPLY_HDR + info.max_req bytes */
	uint64_t requests;          /* answered, over all consumers */
	struct blk_wait wait;       /* how to wait for the consumer (zero:
				     * block in the channel's calls) */
};

/* Serve the consumer of the open channel `c` until it goes. Returns
 * -EPIPE when it closed (or died), -EPROTO when it broke the protocol,
 * rd->wait's error when that said stop (-ESHUTDOWN: every request the
 * consumer had sent by then answered; -ETIMEDOUT: not all within the
 * grace, blk_wait.h), another channel error otherwise. The channel stays
 * the caller's. */
int ramdisk_serve(struct ramdisk *rd, vmsg_chan *c);

#endif
