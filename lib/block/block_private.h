/* Private: what lib/block's files share. */
#ifndef VMSG_BLOCK_PRIVATE_H
#define VMSG_BLOCK_PRIVATE_H

#include <vmsg/block.h>

void vmsg__blk_put16(uint8_t *p, uint16_t v);
void vmsg__blk_put32(uint8_t *p, uint32_t v);
void vmsg__blk_put64(uint8_t *p, uint64_t v);
uint16_t vmsg__blk_get16(const uint8_t *p);
uint32_t vmsg__blk_get32(const uint8_t *p);
uint64_t vmsg__blk_get64(const uint8_t *p);

/* Decode an INFO payload (VMSG_BLK_INFO_SIZE bytes, already copied). */
void vmsg__blk_get_info(const uint8_t *p, uint32_t *magic, uint16_t *version,
			struct vmsg_blk_info *info);

/* Check a request against the disk: 0, or the status to answer it with
 * (-EINVAL, -ENOSPC, -EOPNOTSUPP, -EROFS). Both sides use it: the client
 * refuses to send what the server would refuse. */
int32_t vmsg__blk_check(const struct vmsg_blk_info *i,
			const struct vmsg_blk_req_hdr *h);

/* Round up to a multiple of 8 (the alignment of what we lay out in
 * caller memory). */
#define VMSG__BLK_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

#endif
