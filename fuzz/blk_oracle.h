/* What docs/block.md says a server answers a request it cannot carry
 * out, for the fuzz targets that check a block server's replies (blockd,
 * blkapp). A set of errors: where two rules apply the document does not
 * say which wins. */
#ifndef FUZZ_BLK_ORACLE_H
#define FUZZ_BLK_ORACLE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <vmsg/block.h>

#define E_INVAL 1u
#define E_NOSPC 2u
#define E_OPNOTSUPP 4u
#define E_ROFS 8u

/* The errors request h may get from a server of a disk of `size` bytes,
 * logical block lb, with INFO flags `fl` and the max_req it granted (0:
 * to be carried out). */
static inline unsigned blk_oracle_errs(const struct vmsg_blk_req_hdr *h,
				       uint32_t fl, uint32_t lb,
				       uint32_t gmax, uint64_t size)
{
	unsigned errs = 0;
	switch (h->op) {
	case VMSG_BLK_OP_READ:
		break;
	case VMSG_BLK_OP_WRITE:
		errs |= fl & VMSG_BLK_F_READ_ONLY ? E_ROFS : 0;
		break;
	case VMSG_BLK_OP_FLUSH:
		errs |= fl & VMSG_BLK_F_FLUSH ? 0 : E_OPNOTSUPP;
		errs |= h->offset || h->length || h->flags ? E_INVAL : 0;
		break;
	case VMSG_BLK_OP_TRIM:
	case VMSG_BLK_OP_WRITE_ZEROES:
		errs |= fl & (h->op == VMSG_BLK_OP_TRIM ? VMSG_BLK_F_TRIM
							: VMSG_BLK_F_WRITE_ZEROES)
				? 0 : E_OPNOTSUPP;
		errs |= fl & VMSG_BLK_F_READ_ONLY ? E_ROFS : 0;
		break;
	default:
		return E_OPNOTSUPP;
	}
	if (h->op != VMSG_BLK_OP_FLUSH) {
		bool fua_ok = (h->op == VMSG_BLK_OP_WRITE ||
			       h->op == VMSG_BLK_OP_WRITE_ZEROES) &&
			      (fl & VMSG_BLK_F_FUA);
		if ((h->flags & ~VMSG_BLK_REQ_FUA) ||
		    ((h->flags & VMSG_BLK_REQ_FUA) && !fua_ok) ||
		    h->length == 0 || h->length % lb || h->offset % lb ||
		    h->length > gmax)
			errs |= E_INVAL;
		if (h->offset > size || h->length > size - h->offset)
			errs |= E_NOSPC;
	}
	return errs;
}

/* Is `status` one of the errors in `errs`? */
static inline bool blk_oracle_match(unsigned errs, int32_t status)
{
	static const int32_t ok[4] = {-EINVAL, -ENOSPC, -EOPNOTSUPP, -EROFS};
	bool match = false;
	for (unsigned b = 0; b < 4; b++)
		match |= (errs >> b & 1) && status == ok[b];
	return match;
}

#endif
