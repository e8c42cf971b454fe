/* The mirror's core (see mirror.h). One request at a time: a write's
 * data is copied out of the channel once, into the staging buffer, and
 * both legs are sent those bytes, so that a consumer rewriting its shared
 * memory meanwhile cannot make the legs differ. */
#include "mirror.h"

#include "vmsg_errno.h"
#include "vmsg_string.h"

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

int mirror_init(struct mirror *m, uint32_t max_req, uint32_t depth)
{
	const struct vmsg_blk_info *a = vmsg_blk_client_info(m->leg[0].lower.cl);
	const struct vmsg_blk_info *b = vmsg_blk_client_info(m->leg[1].lower.cl);
	if (a->size != b->size)
		return -EINVAL;
	struct vmsg_blk_info i = *a;
	i.logical_block = max32(a->logical_block, b->logical_block);
	i.physical_block = max32(a->physical_block, b->physical_block);
	i.physical_block = max32(i.physical_block, i.logical_block);
	i.max_req = a->max_req < b->max_req ? a->max_req : b->max_req;
	if (max_req < i.max_req)
		i.max_req = max_req;
	i.max_req &= ~(i.logical_block - 1);
	if (i.max_req < i.logical_block || i.size % i.logical_block)
		return -EINVAL;
	i.depth = depth;
	i.flags = VMSG_BLK_F_FLUSH |
		  ((a->flags | b->flags) & VMSG_BLK_F_READ_ONLY) |
		  (a->flags & b->flags &
		   (VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM | VMSG_BLK_F_WRITE_ZEROES));
	m->info = i;
	m->leg[0].failed = m->leg[1].failed = 0;
	m->next_read = 0;
	return vmsg_blk_info_check(&i);
}

unsigned mirror_legs_up(const struct mirror *m)
{
	return (m->leg[0].failed == 0) + (m->leg[1].failed == 0);
}

/* Drop leg i for good: its data may no longer be what the consumer wrote
 * (a write it missed, or an error it answered). */
static void drop(struct mirror *m, unsigned i, int err)
{
	if (m->leg[i].failed)
		return;
	m->leg[i].failed = err ? err : -EIO;
	if (m->leg_failed)
		m->leg_failed(m, i, m->leg[i].failed);
}

/* The completion of the one request outstanding on leg l (-ETIMEDOUT: it
 * said nothing for its limit). */
static int wait_one(struct blk_lower *l)
{
	int32_t st;
	int r = blk_lower_wait(l, &st);
	return r < 0 ? r : st;
}

/* A READ: from one leg, the other when it fails. */
static int32_t do_read(struct mirror *m, const struct vmsg_blk_req_hdr *h,
		       uint8_t *buf)
{
	for (unsigned k = 0; k < 2; k++) {
		unsigned i = (m->next_read + k) % 2;
		if (m->leg[i].failed)
			continue;
		int r = blk_lower_io(&m->leg[i].lower, VMSG_BLK_OP_READ, buf,
				     h->length, h->offset, 0);
		if (r == 0) {
			m->leg[i].reads++;
			m->next_read = i ^ 1u;
			return 0;
		}
		drop(m, i, r);
	}
	return -EIO;
}

/* Anything that changes the disk (or FLUSH): to both legs at once, then
 * both completions. Done when at least one leg did it; a leg that did
 * not is dropped. */
static int32_t do_update(struct mirror *m, const struct vmsg_blk_req_hdr *h,
			 uint8_t *buf)
{
	bool sent[2] = {false, false};
	unsigned done = 0;
	for (unsigned i = 0; i < 2; i++) {
		if (m->leg[i].failed)
			continue;
		const struct vmsg_blk_info *li =
			vmsg_blk_client_info(m->leg[i].lower.cl);
		if (h->op == VMSG_BLK_OP_FLUSH &&
		    !(li->flags & VMSG_BLK_F_FLUSH)) {
			done++; /* nothing a flush could make durable there */
			continue;
		}
		struct vmsg_blk_io io = {
			.op = h->op, .flags = h->flags, .length = h->length,
			.offset = h->offset,
			.buf = h->op == VMSG_BLK_OP_WRITE ? buf : 0, .user = 1,
		};
		int r = blk_lower_submit(&m->leg[i].lower, &io);
		if (r < 0)
			drop(m, i, r);
		else
			sent[i] = true;
	}
	for (unsigned i = 0; i < 2; i++) {
		if (!sent[i])
			continue;
		int r = wait_one(&m->leg[i].lower);
		if (r == 0)
			done++;
		else
			drop(m, i, r);
	}
	return done ? 0 : -EIO;
}

int mirror_serve(struct mirror *m, vmsg_chan *c)
{
	vmsg_blk_server *s;
	struct vmsg_blk_request rq;
	struct vmsg_msg msg;
	uint8_t *data = m->stage + VMSG_BLK_REPLY_HDR;
	int r;

	if ((r = vmsg_blk_server_init(&s, m->srv_mem, m->srv_size,
				      &m->info)) < 0)
		return r;
	/* The HELLO waited for through m->wait: the accept finds it. */
	if ((r = blk_wait_peek(&m->wait, c, &msg)) < 0 ||
	    (r = vmsg_blk_server_accept(s, c, -1)) < 0)
		goto out;
	for (;;) {
		if ((r = blk_wait_peek(&m->wait, c, &msg)) < 0)
			break;
		r = vmsg_blk_server_parse(s, &msg, &rq);
		if (r == 0 && rq.status == 0 && rq.h.op == VMSG_BLK_OP_WRITE)
			vmsg__memcpy(data, rq.data, rq.h.length);
		vmsg_chan_release(c);
		if (r < 0)
			break;
		if (rq.status == 0 && mirror_legs_up(m) == 0)
			rq.status = -EIO;
		else if (rq.status == 0)
			rq.status = rq.h.op == VMSG_BLK_OP_READ
					    ? do_read(m, &rq.h, data)
					    : do_update(m, &rq.h, data);
		do
			r = vmsg_blk_server_reply(s, c, &rq, rq.status,
						  rq.status ? 0 : m->stage,
						  blk_wait_ms(&m->wait));
		while (blk_wait_again(&m->wait, c, &r));
		if (r < 0)
			break;
		m->requests++;
		if (mirror_legs_up(m) == 0) {
			r = -EIO; /* both legs are gone: so is this disk */
			break;
		}
	}
out:
	vmsg_blk_server_fini(s);
	return r == -EMSGSIZE ? -EPROTO : r;
}
