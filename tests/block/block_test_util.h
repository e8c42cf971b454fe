/* Helpers of the block tests: a RAM disk served with lib/block's server
 * helper in a thread, replying in batches in reverse order (so replies
 * come out of order), and channel options large enough for 4 MiB
 * requests. */
#ifndef BLOCK_TEST_UTIL_H
#define BLOCK_TEST_UTIL_H

#include <pthread.h>
#include <stdlib.h>

#include <vmsg/block.h>
#include <vmsg/host.h>

#include "../host/host_test_util.h"

#define BT_MAX_REQ (4u * 1024u * 1024u)
#define BT_MAX_MSG (BT_MAX_REQ + 64u)

static inline void bt_opts(struct vmsg_chan_opts *o)
{
	vmsg_chan_opts_init(o);
	o->rx_ring_size = o->tx_ring_size = 1024u * 1024u;
	o->max_msg = BT_MAX_MSG;
}

struct bt_disk {
	const char *path;
	struct vmsg_blk_info info;
	uint8_t *data;
	unsigned batch;   /* requests collected before replying (reversed) */
	unsigned delay_ms; /* a slow disk: this long before each batch's
			      replies */
	bool silent;      /* a hung one: reads requests, answers none */
	bool gated;       /* bt_disk_gate: each batch's replies wait */
	int seen[2];      /* gated: a byte to seen[1] when a batch is in */
	int gate[2];      /* gated: a byte from gate[0] lets its replies go */
	int result;       /* what serve() ended with */
	uint64_t served;  /* requests answered */
	pthread_t th;
};

struct bt_pending {
	struct vmsg_blk_request rq;
	uint8_t *msg; /* reply: header room + data */
};

/* Carry out one request on the RAM disk; returns the reply status. */
static inline int32_t bt_do(struct bt_disk *d, struct bt_pending *p)
{
	struct vmsg_blk_request *rq = &p->rq;
	if (rq->status)
		return rq->status;
	switch (rq->h.op) {
	case VMSG_BLK_OP_READ:
		p->msg = malloc(VMSG_BLK_REPLY_HDR + (size_t)rq->h.length);
		ASSERT_TRUE(p->msg != NULL);
		memcpy(p->msg + VMSG_BLK_REPLY_HDR, d->data + rq->h.offset,
		       rq->h.length);
		return 0;
	case VMSG_BLK_OP_WRITE:
		memcpy(d->data + rq->h.offset, rq->data, rq->h.length);
		return 0;
	case VMSG_BLK_OP_WRITE_ZEROES:
	case VMSG_BLK_OP_TRIM:
		memset(d->data + rq->h.offset, 0, rq->h.length);
		return 0;
	default:
		return 0; /* FLUSH: RAM is as durable as it gets */
	}
}

/* Serve one client until it goes: the blocking helpers, replies held back
 * until `batch` requests are there or no more come at once. */
static inline int bt_serve_chan(struct bt_disk *d, vmsg_chan *c)
{
	size_t sz = vmsg_blk_server_size(d->info.depth);
	void *mem = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	vmsg_blk_server *s;
	struct bt_pending *pend = calloc(d->batch ? d->batch : 1,
					 sizeof(*pend));
	int r;

	ASSERT_EQ(vmsg_blk_server_init(&s, mem, sz, &d->info), 0);
	if ((r = vmsg_blk_server_accept(s, c, 10000)) < 0)
		goto out;
	for (;;) {
		unsigned n = 0;
		unsigned want = d->batch ? d->batch : 1;
		struct vmsg_msg m;
		while (n < want) {
			r = vmsg_chan_peek(c, &m, n ? 0 : -1);
			if (r == -EAGAIN)
				break;
			if (r < 0)
				goto out;
			r = vmsg_blk_server_parse(s, &m, &pend[n].rq);
			if (r < 0) {
				vmsg_chan_release(c);
				goto out;
			}
			pend[n].msg = NULL;
			/* WRITE data is read in bt_do, before the release. */
			int32_t st = bt_do(d, &pend[n]);
			pend[n].rq.status = st;
			vmsg_chan_release(c);
			n++;
		}
		if (d->delay_ms)
			usleep(d->delay_ms * 1000u);
		if (d->gated) {
			char b = 0;
			ASSERT_EQ(write(d->seen[1], &b, 1), 1);
			ASSERT_EQ(read(d->gate[0], &b, 1), 1);
		}
		while (n--) {
			if (d->silent) {
				free(pend[n].msg);
				pend[n].msg = NULL;
				continue;
			}
			r = vmsg_blk_server_reply(s, c, &pend[n].rq,
						  pend[n].rq.status,
						  pend[n].msg, -1);
			free(pend[n].msg);
			pend[n].msg = NULL;
			if (r < 0)
				goto out;
			d->served++;
		}
	}
out:
	for (unsigned i = 0; i < (d->batch ? d->batch : 1); i++)
		free(pend[i].msg); /* replies not sent when the channel ended */
	vmsg_blk_server_fini(s);
	free(mem);
	free(pend);
	return r;
}

static inline void *bt_thread(void *arg)
{
	struct bt_disk *d = arg;
	struct vmsg_chan_opts o;
	vmsg_chan *c;

	bt_opts(&o);
	d->result = vmsg_host_serve(&c, d->path, &o);
	if (d->result < 0)
		return NULL;
	d->result = vmsg_chan_accept(c, 10000);
	if (d->result == 0)
		d->result = bt_serve_chan(d, c);
	vmsg_chan_close(c);
	return NULL;
}

static inline void bt_disk_start_flags(struct bt_disk *d, const char *path,
				       uint64_t size, unsigned batch,
				       uint32_t extra_flags)
{
	memset(d, 0, sizeof(*d));
	d->path = path;
	d->info.size = size;
	d->info.logical_block = 512;
	d->info.physical_block = 4096;
	d->info.max_req = BT_MAX_REQ;
	d->info.depth = 128;
	d->info.flags = VMSG_BLK_F_FLUSH | VMSG_BLK_F_FUA | VMSG_BLK_F_TRIM |
			VMSG_BLK_F_WRITE_ZEROES | extra_flags;
	d->batch = batch;
	d->data = calloc(1, size);
	ASSERT_TRUE(d->data != NULL);
	ASSERT_EQ(pthread_create(&d->th, NULL, bt_thread, d), 0);
}

static inline void bt_disk_start(struct bt_disk *d, const char *path,
				 uint64_t size, unsigned batch)
{
	bt_disk_start_flags(d, path, size, batch, 0);
}

/* Hold the replies of a started disk, a batch at a time, until the test
 * says: each batch taken in writes a byte to d->seen[1], then waits for
 * one on d->gate[1]. Call before the first request comes (the thread
 * reads `gated` only then). */
static inline void bt_disk_gate(struct bt_disk *d)
{
	ASSERT_EQ(pipe(d->seen), 0);
	ASSERT_EQ(pipe(d->gate), 0);
	d->gated = true;
}

static inline void bt_disk_stop(struct bt_disk *d)
{
	pthread_join(d->th, NULL);
	free(d->data);
	if (d->gated)
		for (int i = 0; i < 2; i++) {
			close(d->seen[i]);
			close(d->gate[i]);
		}
}

/* A connected client channel and a client on it. */
struct bt_client {
	vmsg_chan *c;
	void *mem;
	vmsg_blk_client *cl;
};

static inline int bt_connect(struct bt_client *b, const char *path,
			     uint32_t depth, uint32_t max_req)
{
	struct vmsg_chan_opts o;
	int r;

	bt_opts(&o);
	/* A provider serving many consumers on one host path (vmsg-blockd)
	 * takes them one at a time: one that comes while it takes another
	 * hears -EBUSY and tries again (docs/storage.md). */
	for (int tries = 0;; tries++) {
		r = vmsg_host_connect(&b->c, path, &o, 10000);
		if (r != -EBUSY || tries == 1000)
			break;
		usleep(2000);
	}
	if (r < 0)
		return r;
	size_t sz = vmsg_blk_client_size(depth, max_req);
	b->mem = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	r = vmsg_blk_client_init(&b->cl, b->mem, sz, b->c, depth, max_req,
				 10000);
	if (r < 0) {
		vmsg_chan_close(b->c);
		free(b->mem);
	}
	return r;
}

static inline void bt_close(struct bt_client *b)
{
	vmsg_blk_client_fini(b->cl);
	vmsg_chan_close(b->c);
	free(b->mem);
}

#endif
