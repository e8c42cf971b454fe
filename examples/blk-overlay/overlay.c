/* The copy-on-write overlay's core (see overlay.h). One request at a time;
 * a READ is assembled in the staging buffer from runs of blocks: ours
 * from memory, the others read from the base in one request per run. */
#include "overlay.h"

#include "vmsg_errno.h"
#include "vmsg_string.h"

int overlay_init(struct overlay *o, uint32_t max_req, uint32_t depth)
{
	const struct vmsg_blk_info *b = vmsg_blk_client_info(o->base.cl);
	o->info = *b;
	if (max_req < b->max_req)
		o->info.max_req = max_req & ~(b->logical_block - 1);
	if (o->info.max_req < b->logical_block)
		return -EINVAL;
	o->info.depth = depth;
	o->info.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			VMSG_BLK_F_WRITE_ZEROES;
	return 0;
}

static void mark(struct overlay *o, uint64_t off, uint32_t len)
{
	uint32_t bs = o->info.logical_block;
	vmsg__memset(o->written + off / bs, 1, len / bs);
}

/* Read [off, off+len) into dst: runs of written blocks from memory, runs
 * of the others from the base. 0 or the base's error status. */
static int32_t read_range(struct overlay *o, uint8_t *dst, uint64_t off,
			  uint32_t len)
{
	uint32_t bs = o->info.logical_block;
	uint64_t blk = off / bs, end = (off + len) / bs;

	while (blk < end) {
		uint8_t mine = o->written[blk];
		uint64_t run = blk + 1;
		while (run < end && o->written[run] == mine)
			run++;
		uint8_t *to = dst + (blk * bs - off);
		uint32_t n = (uint32_t)((run - blk) * bs);
		if (mine) {
			vmsg__memcpy(to, o->data + blk * bs, n);
		} else {
			/* n <= our max_req <= the base's. */
			int r = blk_lower_io(&o->base, VMSG_BLK_OP_READ, to, n,
					     blk * bs, 0);
			o->base_reads++;
			/* Its channel ended, or it said nothing for too long:
			 * the base is gone. */
			if (r == -EPIPE || r == -EPROTO || r == -ETIMEDOUT)
				return -EIO;
			if (r < 0)
				return r;
		}
		blk = run;
	}
	return 0;
}

int overlay_serve(struct overlay *o, vmsg_chan *c)
{
	vmsg_blk_server *s;
	struct vmsg_blk_request rq;
	struct vmsg_msg m;
	int r;
	bool base_failed = false;

	if ((r = vmsg_blk_server_init(&s, o->srv_mem, o->srv_size,
				      &o->info)) < 0)
		return r;
	/* The HELLO waited for through o->wait: the accept finds it. */
	if ((r = blk_wait_peek(&o->wait, c, &m)) < 0 ||
	    (r = vmsg_blk_server_accept(s, c, -1)) < 0)
		goto out;
	for (;;) {
		if ((r = blk_wait_peek(&o->wait, c, &m)) < 0)
			break;
		r = vmsg_blk_server_parse(s, &m, &rq);
		if (r == 0 && rq.status == 0) {
			const struct vmsg_blk_req_hdr *h = &rq.h;
			if (h->op == VMSG_BLK_OP_WRITE) {
				vmsg__memcpy(o->data + h->offset, rq.data, h->length);
				mark(o, h->offset, h->length);
			} else if (h->op == VMSG_BLK_OP_TRIM ||
				   h->op == VMSG_BLK_OP_WRITE_ZEROES) {
				/* Ours from now on, as zeroes: the base's bytes
				 * must not show through a trimmed range either. */
				vmsg__memset(o->data + h->offset, 0, h->length);
				mark(o, h->offset, h->length);
			}
		}
		vmsg_chan_release(c);
		if (r < 0)
			break;
		if (rq.status == 0 && rq.h.op == VMSG_BLK_OP_READ) {
			rq.status = read_range(o, o->stage + VMSG_BLK_REPLY_HDR,
					       rq.h.offset, rq.h.length);
			base_failed = base_failed || rq.status == -EIO;
		}
		do
			r = vmsg_blk_server_reply(s, c, &rq, rq.status,
						  rq.status ? NULL : o->stage,
						  blk_wait_ms(&o->wait));
		while (blk_wait_again(&o->wait, c, &r));
		if (r < 0)
			break;
		o->requests++;
		if (base_failed) {
			r = -EIO; /* the base is gone: so is this disk */
			break;
		}
	}
out:
	vmsg_blk_server_fini(s);
	return r == -EMSGSIZE ? -EPROTO : r;
}
