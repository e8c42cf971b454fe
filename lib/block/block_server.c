/* The block protocol's server helper: the HELLO/INFO negotiation, request
 * parsing and checking, and the set of outstanding ids that catches a
 * duplicate id or a client that outruns the depth it was granted.
 *
 * The id set is an open-addressing hash table (linear probing, deletion by
 * shifting back) of twice the depth, in caller memory: a client picks its
 * ids, so nothing about them may be assumed. */
#include <vmsg/block.h>

#include "block_private.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

struct vmsg_blk_server {
	struct vmsg_blk_info ours;  /* what init was given: the most we grant */
	struct vmsg_blk_info info;  /* negotiated */
	bool hello_done;
	uint32_t outstanding;
	uint32_t mask;              /* table size - 1 */
	uint64_t *ids;
	uint8_t *used;
};

static uint32_t table_size(uint32_t depth)
{
	uint32_t n = 2;
	while (n < 2u * depth)
		n <<= 1;
	return n;
}

size_t vmsg_blk_server_size(uint32_t depth)
{
	if (depth == 0 || depth > VMSG_BLK_MAX_DEPTH)
		return 0;
	uint32_t n = table_size(depth);
	return VMSG__BLK_ALIGN8(sizeof(struct vmsg_blk_server)) +
	       sizeof(uint64_t) * n + n;
}

int vmsg_blk_server_init(vmsg_blk_server **out, void *mem, size_t size,
			 const struct vmsg_blk_info *info)
{
	if (!out || !mem || ((uintptr_t)mem & 7u) ||
	    vmsg_blk_info_check(info) < 0 ||
	    size < vmsg_blk_server_size(info->depth))
		return -EINVAL;
	vmsg__memset(mem, 0, vmsg_blk_server_size(info->depth));
	vmsg_blk_server *s = mem;
	uint32_t n = table_size(info->depth);
	s->ours = *info;
	s->mask = n - 1;
	s->ids = (uint64_t *)(void *)((uint8_t *)mem +
				      VMSG__BLK_ALIGN8(sizeof(*s)));
	s->used = (uint8_t *)(s->ids + n);
	*out = s;
	return 0;
}

const struct vmsg_blk_info *vmsg_blk_server_info(vmsg_blk_server *s)
{
	return s && s->hello_done ? &s->info : NULL;
}

int vmsg_blk_server_hello(vmsg_blk_server *s, const struct vmsg_msg *m,
			  void *info_out)
{
	uint8_t b[VMSG_BLK_HELLO_SIZE];

	if (!s || !m || !info_out)
		return -EINVAL;
	if (s->hello_done || m->type != VMSG_TYPE_BLK_HELLO ||
	    m->len != VMSG_BLK_HELLO_SIZE)
		return -EPROTO;
	vmsg__memcpy(b, m->data, sizeof(b));
	uint32_t depth = vmsg__blk_get32(b + 8);
	uint32_t max_req = vmsg__blk_get32(b + 12);
	if (vmsg__blk_get32(b) != VMSG_BLK_MAGIC ||
	    vmsg__blk_get16(b + 4) != VMSG_BLK_VERSION || depth == 0 ||
	    max_req < s->ours.logical_block)
		return -EPROTO;
	s->info = s->ours;
	if (depth < s->info.depth)
		s->info.depth = depth;
	if (max_req < s->info.max_req)
		s->info.max_req = max_req & ~(s->info.logical_block - 1);
	s->hello_done = true;
	vmsg_blk_put_info(info_out, &s->info);
	return 0;
}

static uint32_t slot_of(const vmsg_blk_server *s, uint64_t id)
{
	/* Fibonacci hashing: the top bits of id * 2^64/phi. */
	return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & s->mask;
}

/* Add id; false if it is there already. */
static bool id_add(vmsg_blk_server *s, uint64_t id)
{
	uint32_t i = slot_of(s, id);
	while (s->used[i]) {
		if (s->ids[i] == id)
			return false;
		i = (i + 1) & s->mask;
	}
	s->used[i] = 1;
	s->ids[i] = id;
	return true;
}

static bool id_del(vmsg_blk_server *s, uint64_t id)
{
	uint32_t i = slot_of(s, id);
	while (s->used[i] && s->ids[i] != id)
		i = (i + 1) & s->mask;
	if (!s->used[i])
		return false;
	/* Shift later members of the probe run back over the hole, so that
	 * every lookup still finds them before an empty slot. */
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & s->mask; s->used[j]; j = (j + 1) & s->mask) {
		uint32_t home = slot_of(s, s->ids[j]);
		/* Move j to the hole unless its home lies cyclically in
		 * (hole, j]. */
		if (((j - home) & s->mask) >= ((j - hole) & s->mask)) {
			s->ids[hole] = s->ids[j];
			hole = j;
		}
	}
	s->used[hole] = 0;
	return true;
}

int vmsg_blk_server_parse(vmsg_blk_server *s, const struct vmsg_msg *m,
			  struct vmsg_blk_request *rq)
{
	if (!s || !m || !rq)
		return -EINVAL;
	if (!s->hello_done || m->type != VMSG_TYPE_BLK_REQ ||
	    m->len < VMSG_BLK_REQ_HDR)
		return -EPROTO;
	vmsg_blk_get_req(m->data, &rq->h);
	/* The message's size must be what the header says, whatever the
	 * header's other faults: a mismatch means we cannot trust where
	 * this request ends, so the channel goes. */
	size_t want = VMSG_BLK_REQ_HDR;
	if (rq->h.op == VMSG_BLK_OP_WRITE)
		want += rq->h.length;
	if (m->len != want)
		return -EPROTO;
	if (s->outstanding >= s->info.depth)
		return -EPROTO;
	if (!id_add(s, rq->h.id))
		return -EPROTO;
	s->outstanding++;
	rq->data = rq->h.op == VMSG_BLK_OP_WRITE
			   ? (const uint8_t *)m->data + VMSG_BLK_REQ_HDR
			   : NULL;
	rq->status = vmsg__blk_check(&s->info, &rq->h);
	return 0;
}

int vmsg_blk_server_done(vmsg_blk_server *s, uint64_t id)
{
	if (!s)
		return -EINVAL;
	if (!id_del(s, id))
		return -ENOENT;
	s->outstanding--;
	return 0;
}

int vmsg_blk_server_accept(vmsg_blk_server *s, vmsg_chan *c, int timeout_ms)
{
	uint8_t info[VMSG_BLK_INFO_SIZE];
	struct vmsg_msg m;
	int r;

	if (!s || !c)
		return -EINVAL;
	if ((r = vmsg_chan_peek(c, &m, timeout_ms)) < 0)
		return r == -EMSGSIZE ? -EPROTO : r;
	r = vmsg_blk_server_hello(s, &m, info);
	vmsg_chan_release(c);
	if (r < 0)
		return r;
	r = vmsg_chan_send(c, VMSG_TYPE_BLK_INFO, info, sizeof(info), 0,
			   timeout_ms);
	return r < 0 ? r : 0;
}

int vmsg_blk_server_reply(vmsg_blk_server *s, vmsg_chan *c,
			  const struct vmsg_blk_request *rq, int32_t status,
			  void *msg, int timeout_ms)
{
	uint8_t hdr[VMSG_BLK_REPLY_HDR];
	int r;

	if (!s || !c || !rq || status > 0)
		return -EINVAL;
	bool data = status == 0 && rq->h.op == VMSG_BLK_OP_READ;
	if (data && !msg)
		return -EINVAL;
	uint32_t len = data ? rq->h.length : 0;
	if (data) {
		vmsg_blk_put_reply(msg, rq->h.id, status, len);
		r = vmsg_chan_send(c, VMSG_TYPE_BLK_REPLY, msg,
				   VMSG_BLK_REPLY_HDR + (size_t)len, 0,
				   timeout_ms);
	} else {
		vmsg_blk_put_reply(hdr, rq->h.id, status, 0);
		r = vmsg_chan_send(c, VMSG_TYPE_BLK_REPLY, hdr, sizeof(hdr), 0,
				   timeout_ms);
	}
	if (r < 0)
		return r;
	(void)vmsg_blk_server_done(s, rq->h.id);
	return 0;
}

void vmsg_blk_server_fini(vmsg_blk_server *s)
{
	(void)s;
}
