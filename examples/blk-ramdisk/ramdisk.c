/* The RAM disk appliance's core (see ramdisk.h). Requests are answered one
 * at a time in arrival order; READ data goes from the disk straight into
 * the ring when the reply fits one frame (vmsg_chan_reserve), and through
 * the staging buffer when it does not. */
#include "ramdisk.h"

#include "vmsg_errno.h"
#include "vmsg_string.h"

static int32_t carry_out(struct ramdisk *rd, const struct vmsg_blk_request *rq)
{
	const struct vmsg_blk_req_hdr *h = &rq->h;
	switch (h->op) {
	case VMSG_BLK_OP_WRITE:
		/* The helper checked offset + length against the size. */
		vmsg__memcpy(rd->data + h->offset, rq->data, h->length);
		return 0;
	case VMSG_BLK_OP_TRIM:
	case VMSG_BLK_OP_WRITE_ZEROES:
		vmsg__memset(rd->data + h->offset, 0, h->length);
		return 0;
	default:
		return 0; /* READ is done by the reply; FLUSH: nothing to do */
	}
}

static int reply_read(struct ramdisk *rd, vmsg_blk_server *s, vmsg_chan *c,
		      const struct vmsg_blk_request *rq)
{
	size_t len = (size_t)VMSG_BLK_REPLY_HDR + rq->h.length;
	int max_frame = vmsg_chan_max_frame(c);
	void *p;
	int r;

	if (max_frame >= 0 && len <= (size_t)max_frame) {
		do
			r = vmsg_chan_reserve(c, VMSG_TYPE_BLK_REPLY, len, &p,
					      blk_wait_ms(&rd->wait));
		while (blk_wait_again(&rd->wait, c, &r));
		if (r < 0)
			return r;
		vmsg_blk_put_reply(p, rq->h.id, 0, rq->h.length);
		vmsg__memcpy((uint8_t *)p + VMSG_BLK_REPLY_HDR,
			     rd->data + rq->h.offset, rq->h.length);
		if ((r = vmsg_chan_commit(c, 0)) < 0)
			return r;
		return vmsg_blk_server_done(s, rq->h.id);
	}
	vmsg__memcpy(rd->stage + VMSG_BLK_REPLY_HDR, rd->data + rq->h.offset,
		     rq->h.length);
	do
		r = vmsg_blk_server_reply(s, c, rq, 0, rd->stage,
					  blk_wait_ms(&rd->wait));
	while (blk_wait_again(&rd->wait, c, &r));
	return r;
}

int ramdisk_serve(struct ramdisk *rd, vmsg_chan *c)
{
	vmsg_blk_server *s;
	struct vmsg_blk_request rq;
	struct vmsg_msg m;
	int r;

	if ((r = vmsg_blk_server_init(&s, rd->srv_mem, rd->srv_size,
				      &rd->info)) < 0)
		return r;
	/* The HELLO waited for through rd->wait: the accept finds it. */
	if ((r = blk_wait_peek(&rd->wait, c, &m)) < 0 ||
	    (r = vmsg_blk_server_accept(s, c, -1)) < 0)
		goto out;
	for (;;) {
		if ((r = blk_wait_peek(&rd->wait, c, &m)) < 0)
			break;
		r = vmsg_blk_server_parse(s, &m, &rq);
		int32_t st = r < 0 ? 0 : rq.status ? rq.status : carry_out(rd, &rq);
		vmsg_chan_release(c); /* WRITE data is copied by now */
		if (r < 0)
			break;
		if (st == 0 && rq.h.op == VMSG_BLK_OP_READ)
			r = reply_read(rd, s, c, &rq);
		else
			do
				r = vmsg_blk_server_reply(s, c, &rq, st, NULL,
						blk_wait_ms(&rd->wait));
			while (blk_wait_again(&rd->wait, c, &r));
		if (r < 0)
			break;
		rd->requests++;
	}
out:
	vmsg_blk_server_fini(s);
	return r == -EMSGSIZE ? -EPROTO : r;
}
