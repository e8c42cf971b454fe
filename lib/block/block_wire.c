/* The block protocol's fixed headers: little-endian encode and decode,
 * byte by byte so that the layout is the same on any host, and the checks
 * on a disk description both sides apply. docs/block.md has the layout. */
#include <vmsg/block.h>

#include "block_private.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

void vmsg__blk_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void vmsg__blk_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void vmsg__blk_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t vmsg__blk_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

uint32_t vmsg__blk_get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t vmsg__blk_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void vmsg_blk_put_hello(void *dst, uint32_t depth, uint32_t max_req)
{
	uint8_t *p = dst;
	vmsg__blk_put32(p + 0, VMSG_BLK_MAGIC);
	vmsg__blk_put16(p + 4, VMSG_BLK_VERSION);
	vmsg__blk_put16(p + 6, 0);
	vmsg__blk_put32(p + 8, depth);
	vmsg__blk_put32(p + 12, max_req);
}

void vmsg_blk_put_info(void *dst, const struct vmsg_blk_info *info)
{
	uint8_t *p = dst;
	vmsg__blk_put32(p + 0, VMSG_BLK_MAGIC);
	vmsg__blk_put16(p + 4, VMSG_BLK_VERSION);
	vmsg__blk_put16(p + 6, 0);
	vmsg__blk_put64(p + 8, info->size);
	vmsg__blk_put32(p + 16, info->logical_block);
	vmsg__blk_put32(p + 20, info->physical_block);
	vmsg__blk_put32(p + 24, info->max_req);
	vmsg__blk_put32(p + 28, info->depth);
	vmsg__blk_put32(p + 32, info->flags);
	vmsg__blk_put32(p + 36, 0);
}

void vmsg__blk_get_info(const uint8_t *p, uint32_t *magic, uint16_t *version,
			struct vmsg_blk_info *info)
{
	*magic = vmsg__blk_get32(p + 0);
	*version = vmsg__blk_get16(p + 4);
	info->size = vmsg__blk_get64(p + 8);
	info->logical_block = vmsg__blk_get32(p + 16);
	info->physical_block = vmsg__blk_get32(p + 20);
	info->max_req = vmsg__blk_get32(p + 24);
	info->depth = vmsg__blk_get32(p + 28);
	info->flags = vmsg__blk_get32(p + 32);
}

void vmsg_blk_put_req(void *dst, const struct vmsg_blk_req_hdr *h)
{
	uint8_t *p = dst;
	vmsg__blk_put64(p + 0, h->id);
	vmsg__blk_put64(p + 8, h->offset);
	vmsg__blk_put32(p + 16, h->length);
	vmsg__blk_put16(p + 20, h->op);
	vmsg__blk_put16(p + 22, h->flags);
}

void vmsg_blk_get_req(const void *src, struct vmsg_blk_req_hdr *h)
{
	uint8_t b[VMSG_BLK_REQ_HDR];

	/* One copy out of (possibly shared) memory, then decode the copy. */
	vmsg__memcpy(b, src, sizeof(b));
	h->id = vmsg__blk_get64(b + 0);
	h->offset = vmsg__blk_get64(b + 8);
	h->length = vmsg__blk_get32(b + 16);
	h->op = vmsg__blk_get16(b + 20);
	h->flags = vmsg__blk_get16(b + 22);
}

void vmsg_blk_put_reply(void *dst, uint64_t id, int32_t status,
			uint32_t length)
{
	uint8_t *p = dst;
	vmsg__blk_put64(p + 0, id);
	vmsg__blk_put32(p + 8, (uint32_t)status);
	vmsg__blk_put32(p + 12, length);
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int vmsg_blk_info_check(const struct vmsg_blk_info *i)
{
	if (!i || !pow2(i->logical_block) ||
	    i->logical_block < VMSG_BLK_MIN_BLOCK ||
	    i->logical_block > VMSG_BLK_MAX_BLOCK ||
	    !pow2(i->physical_block) ||
	    i->physical_block < i->logical_block ||
	    i->physical_block > VMSG_BLK_MAX_BLOCK ||
	    i->size % i->logical_block != 0 || i->max_req == 0 ||
	    i->max_req % i->logical_block != 0 ||
	    i->max_req > VMSG_BLK_MAX_REQ_LIMIT || i->depth == 0 ||
	    i->depth > VMSG_BLK_MAX_DEPTH)
		return -EINVAL;
	return 0;
}

const char *vmsg_blk_op_name(unsigned op)
{
	switch (op) {
	case VMSG_BLK_OP_READ: return "read";
	case VMSG_BLK_OP_WRITE: return "write";
	case VMSG_BLK_OP_FLUSH: return "flush";
	case VMSG_BLK_OP_TRIM: return "trim";
	case VMSG_BLK_OP_WRITE_ZEROES: return "write-zeroes";
	default: return "unknown";
	}
}

int32_t vmsg__blk_check(const struct vmsg_blk_info *i,
			const struct vmsg_blk_req_hdr *h)
{
	bool ro = i->flags & VMSG_BLK_F_READ_ONLY;

	switch (h->op) {
	case VMSG_BLK_OP_READ:
		break;
	case VMSG_BLK_OP_WRITE:
		if (ro)
			return -EROFS;
		break;
	case VMSG_BLK_OP_FLUSH:
		if (!(i->flags & VMSG_BLK_F_FLUSH))
			return -EOPNOTSUPP;
		if (h->offset || h->length || h->flags)
			return -EINVAL;
		return 0;
	case VMSG_BLK_OP_TRIM:
		if (!(i->flags & VMSG_BLK_F_TRIM))
			return -EOPNOTSUPP;
		if (ro)
			return -EROFS;
		break;
	case VMSG_BLK_OP_WRITE_ZEROES:
		if (!(i->flags & VMSG_BLK_F_WRITE_ZEROES))
			return -EOPNOTSUPP;
		if (ro)
			return -EROFS;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (h->flags & ~VMSG_BLK_REQ_FUA)
		return -EINVAL;
	if ((h->flags & VMSG_BLK_REQ_FUA) &&
	    (h->op == VMSG_BLK_OP_READ || h->op == VMSG_BLK_OP_TRIM ||
	     !(i->flags & VMSG_BLK_F_FUA)))
		return -EINVAL;
	if (h->length == 0 || h->length % i->logical_block ||
	    h->offset % i->logical_block)
		return -EINVAL;
	if (h->length > i->max_req)
		return -EINVAL;
	/* offset + length without overflow: compare against what is left. */
	if (h->offset > i->size || h->length > i->size - h->offset)
		return -ENOSPC;
	return 0;
}
