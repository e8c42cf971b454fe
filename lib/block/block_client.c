/* The block protocol's client: a table of request slots in caller memory,
 * requests sent as one REQ message each (zero-copy into the ring when the
 * request fits one frame, through a staging buffer and the frame layer's
 * fragmentation when not), replies matched to slots by id.
 *
 * One thread drives everything, so the client must never sit in a send
 * while the server sits in a send too (each waiting for the other to
 * read): whenever the channel has no room, the client reads replies, and
 * it sleeps only after both directions said -EAGAIN (each -EAGAIN asked
 * the server for a kick), in a wait set of its one channel. */
#include <vmsg/block.h>
#include <vmsg/waitset.h>

#include "block_private.h"
#include "vmsg_chan_internal.h"
#include "vmsg_errno.h"
#include "vmsg_string.h"

enum slot_state { SLOT_FREE = 0, SLOT_SENT, SLOT_DONE };

struct slot {
	uint64_t id;   /* generation << 32 | index: stale replies miss */
	uint64_t user;
	void *buf;
	uint32_t length;
	uint16_t op;
	uint8_t state;
	int32_t status;
};

struct vmsg_blk_client {
	vmsg_chan *c;
	struct vmsg_platform *p; /* for the clock */
	struct vmsg_blk_info info;
	uint32_t cap;        /* slots in memory (the depth we asked for) */
	uint32_t max_req;    /* what we asked for (staging size) */
	int error;           /* sticky: -EPIPE, -EPROTO, or an abort's */
	uint32_t gen;
	unsigned outstanding; /* submitted, not reaped */
	/* A request larger than one frame whose send the channel has begun:
	 * only the same send may go on (vmsg_chan_send's rule). */
	bool tx_busy;
	uint32_t tx_len;
	uint64_t tx_id;
	struct slot *slots;
	uint32_t *free_idx; /* stack of free slot indices */
	uint32_t nfree;
	uint64_t *doneq;    /* ids of completed requests, oldest first */
	uint32_t dq_head, dq_n;
	uint8_t *stage;     /* VMSG_BLK_REQ_HDR + max_req bytes */
	struct vmsg_waitset ws; /* the channel alone: sleeps on either kick */
};

static size_t layout(uint32_t depth, uint32_t max_req, size_t *o_slots,
		     size_t *o_free, size_t *o_doneq, size_t *o_stage)
{
	size_t n = VMSG__BLK_ALIGN8(sizeof(struct vmsg_blk_client));
	*o_slots = n;
	n += VMSG__BLK_ALIGN8(sizeof(struct slot) * depth);
	*o_free = n;
	n += VMSG__BLK_ALIGN8(sizeof(uint32_t) * depth);
	*o_doneq = n;
	n += sizeof(uint64_t) * depth;
	*o_stage = n;
	n += VMSG__BLK_ALIGN8((size_t)VMSG_BLK_REQ_HDR + max_req);
	return n;
}

size_t vmsg_blk_client_size(uint32_t depth, uint32_t max_req)
{
	size_t a, b, c, d;
	if (depth == 0 || depth > VMSG_BLK_MAX_DEPTH || max_req == 0 ||
	    max_req > VMSG_BLK_MAX_REQ_LIMIT)
		return 0;
	return layout(depth, max_req, &a, &b, &c, &d);
}

static uint64_t now_ns(vmsg_blk_client *cl)
{
	return cl->p->ops->now_ns(cl->p);
}

/* Milliseconds left before `deadline` for a call with timeout_ms: -1
 * forever, 0 when it has passed. */
static int ms_left(vmsg_blk_client *cl, int timeout_ms, uint64_t deadline)
{
	if (timeout_ms < 0)
		return -1;
	uint64_t now = now_ns(cl);
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999u) / 1000000u);
}

static uint64_t deadline_of(vmsg_blk_client *cl, int timeout_ms)
{
	return timeout_ms > 0 ? now_ns(cl) + (uint64_t)timeout_ms * 1000000u
			      : 0;
}

static void push_done(vmsg_blk_client *cl, struct slot *s)
{
	s->state = SLOT_DONE;
	cl->doneq[(cl->dq_head + cl->dq_n) % cl->cap] = s->id;
	cl->dq_n++;
}

/* The channel ended (or the server broke the protocol): every request
 * still waiting completes with that error. */
static int fail_all(vmsg_blk_client *cl, int err)
{
	if (!cl->error)
		cl->error = err;
	for (uint32_t i = 0; i < cl->cap; i++) {
		struct slot *s = &cl->slots[i];
		if (s->state == SLOT_SENT) {
			s->status = cl->error;
			push_done(cl, s);
		}
	}
	cl->tx_busy = false;
	return cl->error;
}

/* Match one received message to its request. Returns 0, or -EPROTO for a
 * message no honest server sends. */
static int take_reply(vmsg_blk_client *cl, const struct vmsg_msg *m)
{
	uint8_t h[VMSG_BLK_REPLY_HDR];

	if (m->type != VMSG_TYPE_BLK_REPLY || m->len < VMSG_BLK_REPLY_HDR)
		return -EPROTO;
	vmsg__memcpy(h, m->data, sizeof(h)); /* one read of shared bytes */
	uint64_t id = vmsg__blk_get64(h);
	int32_t status = (int32_t)vmsg__blk_get32(h + 8);
	uint32_t len = vmsg__blk_get32(h + 12);
	uint32_t idx = (uint32_t)id;

	/* A reply to an id never asked, or asked and answered already. */
	if (idx >= cl->cap || cl->slots[idx].state != SLOT_SENT ||
	    cl->slots[idx].id != id)
		return -EPROTO;
	struct slot *s = &cl->slots[idx];
	if (status > 0 || status < -4095)
		return -EPROTO;
	bool data = status == 0 && s->op == VMSG_BLK_OP_READ;
	if (len != (data ? s->length : 0) ||
	    m->len != (size_t)VMSG_BLK_REPLY_HDR + len)
		return -EPROTO;
	if (data)
		vmsg__memcpy(s->buf, (const uint8_t *)m->data +
					     VMSG_BLK_REPLY_HDR, len);
	s->status = status;
	push_done(cl, s);
	return 0;
}

/* Read every reply that is there now. Returns 0 once the channel says
 * -EAGAIN (it has then asked the server for a kick), or the error that
 * ended the client. */
static int pump_rx(vmsg_blk_client *cl)
{
	struct vmsg_msg m;
	int r;

	if (cl->error)
		return cl->error;
	for (;;) {
		r = vmsg_chan_peek(cl->c, &m, 0);
		if (r == -EAGAIN)
			return 0;
		if (r == -EMSGSIZE)
			r = -EPROTO; /* larger than any reply we asked for */
		if (r < 0)
			return fail_all(cl, r);
		r = take_reply(cl, &m);
		vmsg_chan_release(cl->c);
		if (r < 0)
			return fail_all(cl, r);
	}
}

/* Go on with a begun large send. 0 when it is all in the ring, -EAGAIN
 * when the channel has no room now, or the error that ended the client. */
static int push_tx(vmsg_blk_client *cl)
{
	if (!cl->tx_busy)
		return 0;
	int r = vmsg_chan_send(cl->c, VMSG_TYPE_BLK_REQ, cl->stage, cl->tx_len,
			       VMSG_SEND_MORE, 0);
	if (r >= 0) {
		cl->tx_busy = false;
		return 0;
	}
	if (r == -EAGAIN)
		return -EAGAIN;
	return fail_all(cl, r);
}

/* Wait for the channel once both directions have said -EAGAIN. Returns
 * 0 to go round again, -ETIMEDOUT when the deadline passed. */
static int wait_chan(vmsg_blk_client *cl, int timeout_ms, uint64_t deadline)
{
	int ms = ms_left(cl, timeout_ms, deadline);
	if (ms == 0)
		return -ETIMEDOUT;
	struct vmsg_waitset_event ev;
	int r = vmsg_waitset_wait(&cl->ws, &ev, 1, ms);
	if (r < 0)
		return fail_all(cl, r);
	return 0;
}

int vmsg_blk_client_init(vmsg_blk_client **out, void *mem, size_t size,
			 vmsg_chan *c, uint32_t depth, uint32_t max_req,
			 int timeout_ms)
{
	size_t o_slots, o_free, o_doneq, o_stage;
	uint8_t hello[VMSG_BLK_HELLO_SIZE], ib[VMSG_BLK_INFO_SIZE];
	struct vmsg_msg m;
	int r;

	if (!out || !mem || !c || ((uintptr_t)mem & 7u) ||
	    vmsg_blk_client_size(depth, max_req) == 0 ||
	    size < vmsg_blk_client_size(depth, max_req))
		return -EINVAL;
	/* A request and its header must fit the channel's largest message. */
	int max_msg = vmsg_chan_max_msg(c);
	if (max_msg < 0)
		return max_msg;
	if ((size_t)max_msg < VMSG_BLK_REQ_HDR + (size_t)VMSG_BLK_MIN_BLOCK)
		return -EINVAL;
	if ((size_t)max_req > (size_t)max_msg - VMSG_BLK_REQ_HDR)
		max_req = (uint32_t)((size_t)max_msg - VMSG_BLK_REQ_HDR) &
			  ~(VMSG_BLK_MIN_BLOCK - 1);

	size_t n = layout(depth, max_req, &o_slots, &o_free, &o_doneq, &o_stage);
	uint8_t *b = mem;
	vmsg__memset(mem, 0, n);
	vmsg_blk_client *cl = mem;
	cl->c = c;
	cl->p = vmsg__chan_platform(c);
	cl->cap = depth;
	cl->max_req = max_req;
	cl->slots = (struct slot *)(void *)(b + o_slots);
	cl->free_idx = (uint32_t *)(void *)(b + o_free);
	cl->doneq = (uint64_t *)(void *)(b + o_doneq);
	cl->stage = b + o_stage;
	for (uint32_t i = 0; i < depth; i++)
		cl->free_idx[i] = depth - 1 - i;
	cl->nfree = depth;
	vmsg_waitset_init(&cl->ws);
	if ((r = vmsg_waitset_add(&cl->ws, c, NULL)) < 0)
		return r;

	vmsg_blk_put_hello(hello, depth, max_req);
	if ((r = vmsg_chan_send(c, VMSG_TYPE_BLK_HELLO, hello, sizeof(hello),
				0, timeout_ms)) < 0)
		return r;
	if ((r = vmsg_chan_peek(c, &m, timeout_ms)) < 0)
		return r == -EMSGSIZE ? -EPROTO : r;
	bool ok = m.type == VMSG_TYPE_BLK_INFO && m.len == VMSG_BLK_INFO_SIZE;
	if (ok)
		vmsg__memcpy(ib, m.data, sizeof(ib));
	vmsg_chan_release(c);
	if (!ok)
		return -EPROTO;
	uint32_t magic;
	uint16_t version;
	vmsg__blk_get_info(ib, &magic, &version, &cl->info);
	/* The server may lower what we asked for, never raise it. */
	if (magic != VMSG_BLK_MAGIC || version != VMSG_BLK_VERSION ||
	    vmsg_blk_info_check(&cl->info) < 0 || cl->info.depth > depth ||
	    cl->info.max_req > max_req)
		return -EPROTO;
	*out = cl;
	return 0;
}

const struct vmsg_blk_info *vmsg_blk_client_info(vmsg_blk_client *cl)
{
	return cl ? &cl->info : NULL;
}

unsigned vmsg_blk_client_outstanding(vmsg_blk_client *cl)
{
	return cl ? cl->outstanding : 0;
}

/* Send the request of slot s. Returns 0 (also when a large send is begun
 * and left for later calls), or -EAGAIN / -ETIMEDOUT when the channel had
 * no room for any of it in time, or the error that ended the client. */
static int send_req(vmsg_blk_client *cl, struct slot *s,
		    const struct vmsg_blk_req_hdr *h, int timeout_ms,
		    uint64_t deadline)
{
	uint32_t data = h->op == VMSG_BLK_OP_WRITE ? h->length : 0;
	size_t len = (size_t)VMSG_BLK_REQ_HDR + data;
	int max_frame = vmsg_chan_max_frame(cl->c);
	int r;

	if (max_frame < 0)
		return fail_all(cl, max_frame);
	for (;;) {
		/* A begun large send goes first: one at a time. */
		r = push_tx(cl);
		if (r == 0 && len <= (size_t)max_frame) {
			void *p;
			r = vmsg_chan_reserve(cl->c, VMSG_TYPE_BLK_REQ, len, &p, 0);
			if (r == 0) {
				vmsg_blk_put_req(p, h);
				if (data)
					vmsg__memcpy((uint8_t *)p + VMSG_BLK_REQ_HDR,
						     s->buf, data);
				vmsg_chan_commit(cl->c, VMSG_SEND_MORE);
				return 0;
			}
		} else if (r == 0) {
			vmsg_blk_put_req(cl->stage, h);
			vmsg__memcpy(cl->stage + VMSG_BLK_REQ_HDR, s->buf, data);
			cl->tx_busy = true;
			cl->tx_len = (uint32_t)len;
			cl->tx_id = h->id;
			r = push_tx(cl);
			/* Taken in part (or whole): the next calls finish it. */
			return r == -EAGAIN ? 0 : r;
		}
		if (r != -EAGAIN)
			return r < 0 && cl->error ? cl->error : fail_all(cl, r);
		/* No room: read replies (the server may be waiting for us to),
		 * then sleep until either direction moves. */
		if ((r = pump_rx(cl)) < 0)
			return r;
		if (timeout_ms == 0)
			return -EAGAIN;
		if ((r = wait_chan(cl, timeout_ms, deadline)) < 0)
			return r;
	}
}

int vmsg_blk_client_submit(vmsg_blk_client *cl, const struct vmsg_blk_io *io,
			   int timeout_ms)
{
	struct vmsg_blk_req_hdr h;
	int32_t st;
	int r;

	if (!cl || !io || (io->op != VMSG_BLK_OP_FLUSH && io->length &&
			   (io->op == VMSG_BLK_OP_READ ||
			    io->op == VMSG_BLK_OP_WRITE) && !io->buf))
		return -EINVAL;
	if (cl->error)
		return cl->error;
	h.id = 0;
	h.offset = io->offset;
	h.length = io->length;
	h.op = io->op;
	h.flags = io->flags;
	if ((st = vmsg__blk_check(&cl->info, &h)) != 0)
		return st;
	if (cl->outstanding >= cl->info.depth || cl->nfree == 0)
		return -EBUSY;

	uint32_t idx = cl->free_idx[cl->nfree - 1];
	struct slot *s = &cl->slots[idx];
	h.id = (uint64_t)++cl->gen << 32 | idx;
	s->id = h.id;
	s->user = io->user;
	s->buf = io->buf;
	s->length = io->length;
	s->op = io->op;
	s->status = 0;
	r = send_req(cl, s, &h, timeout_ms, deadline_of(cl, timeout_ms));
	if (r < 0 && cl->error)
		return cl->error; /* the slot stays free: nothing was sent */
	if (r < 0)
		return r;
	cl->nfree--;
	s->state = SLOT_SENT;
	cl->outstanding++;
	return 0;
}

/* Pop completions into done[]. */
static unsigned pop_done(vmsg_blk_client *cl, struct vmsg_blk_done *done,
			 unsigned max)
{
	unsigned n = 0;
	while (n < max && cl->dq_n) {
		uint64_t id = cl->doneq[cl->dq_head];
		cl->dq_head = (cl->dq_head + 1) % cl->cap;
		cl->dq_n--;
		struct slot *s = &cl->slots[(uint32_t)id];
		/* Taken by vmsg_blk_client_io() already, and maybe reused. */
		if (s->state != SLOT_DONE || s->id != id)
			continue;
		done[n].user = s->user;
		done[n].status = s->status;
		n++;
		s->state = SLOT_FREE;
		cl->free_idx[cl->nfree++] = (uint32_t)id;
		cl->outstanding--;
	}
	return n;
}

/* Move things along without waiting: publish, push, read. */
static int progress(vmsg_blk_client *cl, bool *tx_blocked)
{
	int r;

	*tx_blocked = false;
	if (cl->error)
		return cl->error;
	if ((r = vmsg_chan_flush(cl->c)) < 0)
		return fail_all(cl, r);
	r = push_tx(cl);
	if (r == -EAGAIN)
		*tx_blocked = true;
	else if (r < 0)
		return r;
	else if ((r = vmsg_chan_flush(cl->c)) < 0)
		return fail_all(cl, r);
	return pump_rx(cl);
}

int vmsg_blk_client_reap(vmsg_blk_client *cl, struct vmsg_blk_done *done,
			 unsigned max, int timeout_ms)
{
	uint64_t deadline;
	bool tx_blocked;
	int r;

	if (!cl || (!done && max))
		return -EINVAL;
	deadline = deadline_of(cl, timeout_ms);
	for (;;) {
		r = progress(cl, &tx_blocked);
		unsigned n = pop_done(cl, done, max);
		if (n)
			return (int)n;
		if (r < 0)
			return cl->outstanding ? 0 : r;
		if (cl->outstanding == 0 || max == 0 || timeout_ms == 0)
			return 0;
		if ((r = wait_chan(cl, timeout_ms, deadline)) == -ETIMEDOUT)
			return 0;
	}
}

/* Take `id` out of the completion queue (vmsg_blk_client_io() returns
 * its status itself), keeping the others in order. */
static void drop_done(vmsg_blk_client *cl, uint64_t id)
{
	uint32_t w = 0;
	for (uint32_t r = 0; r < cl->dq_n; r++) {
		uint64_t v = cl->doneq[(cl->dq_head + r) % cl->cap];
		if (v != id)
			cl->doneq[(cl->dq_head + w++) % cl->cap] = v;
	}
	cl->dq_n = w;
}

int vmsg_blk_client_io(vmsg_blk_client *cl, unsigned op, void *buf,
		       uint32_t length, uint64_t offset, unsigned flags,
		       int timeout_ms)
{
	struct vmsg_blk_io io = {
		.op = (uint16_t)op, .flags = (uint16_t)flags, .length = length,
		.offset = offset, .buf = buf, .user = 0,
	};
	bool tx_blocked;
	int r;

	if (!cl)
		return -EINVAL;
	uint64_t deadline = deadline_of(cl, timeout_ms);
	if ((r = vmsg_blk_client_submit(cl, &io, timeout_ms)) < 0)
		return r;
	/* The slot just taken is the last one popped off the free stack. */
	uint32_t idx = cl->free_idx[cl->nfree];
	struct slot *s = &cl->slots[idx];
	uint64_t id = s->id;
	for (;;) {
		(void)progress(cl, &tx_blocked);
		if (s->state == SLOT_DONE && s->id == id) {
			int32_t st = s->status;
			drop_done(cl, id);
			s->state = SLOT_FREE;
			cl->free_idx[cl->nfree++] = idx;
			cl->outstanding--;
			return st;
		}
		if ((r = wait_chan(cl, timeout_ms, deadline)) < 0 &&
		    r != -EPIPE && r != -EPROTO)
			return r; /* -ETIMEDOUT: it completes into reap */
	}
}

int vmsg_blk_client_abort(vmsg_blk_client *cl, int err)
{
	if (!cl || err >= 0)
		return -EINVAL;
	return fail_all(cl, err);
}

void vmsg_blk_client_fini(vmsg_blk_client *cl)
{
	if (cl && !cl->error)
		(void)vmsg_chan_flush(cl->c);
}
