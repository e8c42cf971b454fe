/* vmsg-blockd's data path: requests from each consumer's channel become
 * operations of the disk backend (file.c, nbd.c), their completions
 * (bio_done) become replies.
 *
 * Order of work in one step: reap completions (they free backend-held
 * buffers and queue replies), send queued replies, read new requests
 * (a conn keeps reading while its replies wait for room: the protocol
 * requires it, docs/block.md "Rules"; the server helper bounds it to the
 * depth granted), submit. A conn whose channel ended waits for its
 * requests in the backend before its buffers are freed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockd.h"

/* Requests' bios are reused. One whose data fits blockd_pool_data gets a
 * buffer of that size and goes, when its reply is sent, on a free list of
 * at most POOL_MAX (LIFO: the next read's copy lands in memory still in
 * the cache, and no malloc/free per request; both showed in profiles of
 * 4 KiB reads). At most POOL_MAX * BLOCKD_POOL_DATA bytes (4 MiB) are
 * kept. One without data (FLUSH, TRIM, WRITE_ZEROES, an error answered at
 * once) has a buffer of the reply's header only, inside its bio. Each
 * counts what it holds (bio_held): a pooled buffer is counted whole, so a
 * 512-byte READ costs 64 KiB of --max-buffered, as it does of memory. */
#define POOL_MAX 64u

/* A conn's reassembly buffer: a request larger than a ring frame (a
 * WRITE of more than the ring holds) is collected by vmsg_chan_peek in
 * its channel's private buffer of max_req + 64 bytes, allocated at the
 * first and kept, with the pages the largest one wrote, for the channel's
 * life. Its written bytes (k->kept) count with the conn's requests,
 * against --max-buffered and in held_total. It is freed (trimmed: the
 * next such request allocates it again) at the end of a step
 *  - in which the daemon is at --max-buffered-total: every conn's that
 *    holds nothing wanted (idle buffers are the first thing to give back
 *    when the total is the bound on dom0's memory);
 *  - once its conn has read no request for KEPT_IDLE_MS (one that sent a
 *    large WRITE and went quiet);
 *  - when its conn has ended.
 * Not after each request, nor at --max-buffered: a steady stream of large
 * WRITEs would then cost a mmap, a page fault a page and a munmap for
 * each. A conn at --max-buffered that holds no request reads one anyway
 * (may_buffer), so its buffer never stalls it. A buffer holding a message
 * still incomplete cannot be freed: it is tried again after as long. */
#define KEPT_IDLE_MS 1000u

/* Replies are published at least every this many requests read (see
 * read_requests). 4 KiB random reads at depth 32, lib/block's client,
 * host backend, two rounds each, k IOPS, for 4 / 16 / only at the end of
 * a step: processes placed by the scheduler 480,524 / 521,515 / 273,295;
 * both on one CPU 296,295 / 459,455 / 459,450 (there each early kick
 * lets the client preempt us: a batch of 4 costs two context switches);
 * both spinning 50 us 550,525 / 574,557 / 459,523. */
#define EARLY_REPLIES 16u

/* At most this many requests are read from one conn in one step; then
 * the others get their turn, and the conn is looked at again without a
 * sleep (k->more). A consumer's ring holds tens of thousands of small
 * requests, and one that writes them as fast as they are read (requests
 * answered at once: errors, reads from the page cache; or a hostile one
 * that rewrites the ring's indices) would otherwise keep the loop on its
 * conn for as long as it liked, every other consumer stalled. */
#define READ_BUDGET 64u

static struct bio *bio_get(struct blockd *d, uint32_t data)
{
	const uint32_t pd = blockd_pool_data(d);
	struct bio *b = d->pool;
	if (data && data <= pd && b) {
		d->pool = b->next;
		d->npool--;
		uint8_t *buf = b->buf;
		memset(b, 0, sizeof(*b));
		b->buf = buf;
		b->pooled = true;
		b->held = bio_held(d, data);
		return b;
	}
	if (!(b = calloc(1, sizeof(*b))))
		return NULL;
	b->held = bio_held(d, data);
	if (!data) {
		b->buf = b->hdr;
		return b;
	}
	b->pooled = data <= pd;
	b->buf = malloc(VMSG_BLK_REPLY_HDR + (b->pooled ? pd : data));
	if (!b->buf) {
		free(b);
		return NULL;
	}
	return b;
}

static void bio_free(struct blockd *d, struct bio *b)
{
	if (b->pooled && d->npool < POOL_MAX) {
		b->next = d->pool;
		d->pool = b;
		d->npool++;
		return;
	}
	if (b->buf != b->hdr)
		free(b->buf);
	free(b);
}

void blockd_pool_free(struct blockd *d)
{
	while (d->pool) {
		struct bio *b = d->pool;
		d->pool = b->next;
		free(b->buf);
		free(b);
	}
	d->npool = 0;
}

/* Queue b's reply on its conn. */
static void reply(struct bio *b, int32_t status)
{
	struct conn *k = b->conn;
	b->status = status;
	b->next = NULL;
	if (k->rq_tail)
		k->rq_tail->next = b;
	else
		k->rq_head = b;
	k->rq_tail = b;
}

void bio_done(struct bio *b, int32_t status)
{
	b->conn->inflight--;
	reply(b, status);
}

static void start(struct blockd *d, struct bio *b)
{
	b->conn->inflight++;
	d->be->start(d, b);
}

static void send_replies(struct conn *k);

/* The reply reply_now committed last may be published by the next call
 * that sends (a reserve or send that finds the ring full publishes what is
 * pending before it waits, and a flush does): from then on the consumer
 * may have seen it, so its id is no longer outstanding. Called before
 * each such call; until then a request reusing the id is a duplicate, as
 * it is while a reply waits in the queue. */
static void unpub_done(struct conn *k)
{
	if (k->unpub) {
		(void)vmsg_blk_server_done(k->srv, k->unpub_id);
		k->unpub = false;
	}
}

/* A READ answered at once, its data read by the backend straight into
 * its reply's frame in k's ring: no buffer of ours, no copy (the bytes
 * are the consumer's to read; that it may scribble on them while we
 * write harms nobody else). Only when the backend can (read_into), the
 * reply fits one frame and the ring has room now; otherwise, or if the
 * data is not at hand (read_into false: the frame is dropped unsent),
 * the request goes the usual way, through a bio. A 4 KiB read this way
 * costs the daemon one copy where the usual way costs two (the second, a
 * memmove into the ring, was a fifth of its time at depth 32). */
static bool reply_now(struct blockd *d, struct conn *k,
		      const struct vmsg_blk_request *rq)
{
	void *p;
	if (!d->be->read_into || rq->status != 0 ||
	    rq->h.op != VMSG_BLK_OP_READ)
		return false;
	unpub_done(k);
	if (vmsg_chan_reserve(k->c, VMSG_TYPE_BLK_REPLY,
			      VMSG_BLK_REPLY_HDR + (size_t)rq->h.length, &p,
			      0) < 0)
		return false;
	if (!d->be->read_into(d, &rq->h, (uint8_t *)p + VMSG_BLK_REPLY_HDR)) {
		(void)vmsg_chan_unreserve(k->c);
		return false;
	}
	vmsg_blk_put_reply(p, rq->h.id, 0, rq->h.length);
	(void)vmsg_chan_commit(k->c, VMSG_SEND_MORE);
	k->unpub = true;
	k->unpub_id = rq->h.id;
	return true;
}

/* May k read another request, whose buffer would then be ours? Two
 * bounds on dom0's memory (the buffers of a conn's requests stay ours
 * until their replies are in its ring, see read_requests; its reassembly
 * buffer, k->kept, until it is trimmed):
 *
 * --max-buffered, per conn: k->held + k->kept under it.
 *
 * --max-buffered-total, for the daemon: without it, every consumer that
 * never reads its replies holds its --max-buffered, and as many of them
 * as --max-conns lets in hold that many times over (64 x 32 MiB with the
 * defaults). The total alone would be unfair: a few such consumers fill
 * it and hold it for as long as they stay, and an honest one, whose
 * replies are taken, would wait behind them for ever. So under the total
 * every conn reads as before, and past it a conn reads on only while its
 * requests hold nothing: each still has one request at a time at the
 * disk, the next read as soon as the reply to the last is in its ring.
 * The same at --max-buffered: a conn whose requests hold nothing reads
 * one whatever its reassembly buffer holds. The total is then passed by
 * less than one request and one reassembly buffer per conn (the request
 * read while it held nothing, or the one read just under the total):
 * held_total < max_held_total + nconns x (bio_held(max_req) + max_req +
 * 64) (docs/storage.md). Splitting the total into shares would be fairer
 * to honest consumers at the cap, but a share changes whenever one comes
 * or goes and the hoarders keep what they hold anyway. */
static bool may_buffer(const struct blockd *d, const struct conn *k)
{
	return k->held == 0 || (k->held + k->kept < d->max_held &&
				d->held_total < d->max_held_total);
}

/* k->kept from the channel now, in held_total too; with trim, the
 * reassembly buffer is freed first if it holds nothing wanted. */
static void kept_update(struct blockd *d, struct conn *k, bool trim)
{
	size_t n = 0;
	(void)vmsg_chan_rx_kept(k->c, trim, &n); /* -EINVAL: c is NULL */
	d->held_total = d->held_total - k->kept + n;
	k->kept = n;
}

/* Read every request there is now on k. */
static void read_requests(struct blockd *d, struct conn *k)
{
	struct vmsg_msg m;
	int r;

	k->more = false;
	k->parked = false;
	for (unsigned n = 0; !k->closing; n++) {
		if (n == READ_BUDGET) {
			k->more = true;
			return;
		}
		/* dom0's memory: the buffers of a conn's requests stay ours
		 * until their replies are in its ring, and a consumer that
		 * never reads its replies would hold depth x max-req of them
		 * (256 MiB with the defaults) for as long as it stayed.
		 * Past --max-buffered, or --max-buffered-total (may_buffer),
		 * its requests wait in its ring. Replies ready now go first:
		 * they may free enough, and nothing would wake us for the
		 * requests already there (the consumer waits for those
		 * replies; fuzz_blockd). Otherwise the replies it takes, or
		 * the disk's completions, bring us back; and a conn parked
		 * at the total is looked at again once others free enough
		 * (blockd_step). */
		if (!may_buffer(d, k) && k->rq_head)
			send_replies(k); /* may end the conn */
		if (k->closing)
			return;
		if (!may_buffer(d, k)) {
			if (k->held + k->kept < d->max_held)
				k->parked = d->parked = true;
			return;
		}
		r = vmsg_chan_peek(k->c, &m, 0);
		/* What it collected of a fragmented request, whole or not. */
		kept_update(d, k, false);
		if (r == -EAGAIN)
			return;
		if (r < 0)
			goto end;
		if (!k->hello) {
			uint8_t info[VMSG_BLK_INFO_SIZE];
			r = vmsg_blk_server_hello(k->srv, &m, info);
			vmsg_chan_release(k->c);
			if (r < 0)
				goto end;
			/* INFO is small: it fits at once, or the client sent
			 * something before reading it (its own fault). */
			r = vmsg_chan_send(k->c, VMSG_TYPE_BLK_INFO, info,
					   sizeof(info), 0, 1000);
			if (r < 0)
				goto end;
			k->hello = true;
			continue;
		}
		struct vmsg_blk_request rq;
		r = vmsg_blk_server_parse(k->srv, &m, &rq);
		if (r < 0) {
			vmsg_chan_release(k->c);
			goto end;
		}
		if (reply_now(d, k, &rq)) {
			vmsg_chan_release(k->c);
			k->last_ms = d->now_ms;
			k->requests++;
			d->moved += 2; /* read and replied */
			k->bytes += rq.h.length;
			if (++k->unsent >= EARLY_REPLIES)
				send_replies(k);
			continue;
		}
		const struct vmsg_blk_req_hdr *h = &rq.h;
		bool data = rq.status == 0 && (h->op == VMSG_BLK_OP_READ ||
					       h->op == VMSG_BLK_OP_WRITE);
		struct bio *b = bio_get(d, data ? h->length : 0);
		if (!b) {
			vmsg_chan_release(k->c);
			r = -ENOMEM;
			goto end;
		}
		b->conn = k;
		b->rq = rq;
		k->last_ms = d->now_ms;
		k->held += b->held;
		d->held_total += b->held;
		h = &b->rq.h;
		/* The WRITE data: copied out of the ring (the peer may change
		 * it there; the disk must see one version). */
		if (data && h->op == VMSG_BLK_OP_WRITE)
			memcpy(b->buf + VMSG_BLK_REPLY_HDR, b->rq.data, h->length);
		b->rq.data = NULL;
		vmsg_chan_release(k->c);
		k->requests++;
		d->moved++;
		k->bytes += b->rq.status ? 0 : h->length;
		if (b->rq.status)
			reply(b, b->rq.status);
		else
			start(d, b);
		/* Replies go out every EARLY_REPLIES requests, not only at
		 * the end of the step: a client asleep since its last submit
		 * wakes on the first of them and submits again while we read
		 * on. One flush per step kept the two ends in lock-step, each
		 * asleep while the other worked through a batch. */
		if (++k->unsent >= EARLY_REPLIES)
			send_replies(k);
	}
	return;
end:
	k->closing = true;
	k->end = r;
}

/* Send k's queued replies while there is room. */
static void send_replies(struct conn *k)
{
	unpub_done(k);
	k->unsent = 0;
	while (k->rq_head) {
		struct bio *b = k->rq_head;
		if (!k->closing) {
			bool data = b->status == 0 && b->rq.h.op == VMSG_BLK_OP_READ;
			uint32_t len = data ? b->rq.h.length : 0;
			vmsg_blk_put_reply(b->buf, b->rq.h.id, b->status, len);
			/* A reply larger than a frame may be taken in part: it
			 * goes on at the next call with the same arguments. */
			int r = vmsg_chan_send(k->c, VMSG_TYPE_BLK_REPLY, b->buf,
					       VMSG_BLK_REPLY_HDR + (size_t)len,
					       VMSG_SEND_MORE, 0);
			if (r == -EAGAIN)
				break;
			if (r < 0) {
				k->closing = true;
				k->end = r;
				continue; /* drop the queue below */
			}
			(void)vmsg_blk_server_done(k->srv, b->rq.h.id);
			k->d->moved++;
		}
		k->rq_head = b->next;
		if (!k->rq_head)
			k->rq_tail = NULL;
		k->held -= b->held;
		k->d->held_total -= b->held;
		bio_free(k->d, b);
	}
	if (!k->closing)
		(void)vmsg_chan_flush(k->c);
}

int conn_add(struct blockd *d, vmsg_chan *c, uint16_t domid, bool multi_conn)
{
	if (d->nconns >= d->max_conns)
		return -EUSERS;
	struct conn *k = calloc(1, sizeof(*k));
	size_t sz = vmsg_blk_server_size(d->info.depth);
	void *mem = k ? aligned_alloc(8, (sz + 7) & ~(size_t)7) : NULL;
	if (!mem) {
		free(k);
		return -ENOMEM;
	}
	struct vmsg_blk_info info = d->info;
	if (multi_conn)
		info.flags |= VMSG_BLK_F_MULTI_CONN;
	int r = vmsg_blk_server_init(&k->srv, mem, sz, &info);
	if (r < 0) {
		free(mem);
		free(k);
		return r;
	}
	k->srv_mem = mem;
	k->d = d;
	k->c = c;
	k->domid = domid;
	k->last_ms = d->now_ms;
	k->id = ++d->next_id;
	k->next = d->conns;
	d->conns = k;
	d->nconns++;
	return 0;
}

/* The end of a step for k: its reassembly buffer freed if it ended, if
 * the daemon is at --max-buffered-total, or if it has read no request
 * for KEPT_IDLE_MS (see KEPT_IDLE_MS). */
static void kept_trim(struct blockd *d, struct conn *k, bool at_total)
{
	if (!k->kept || (!k->closing && !at_total &&
			 d->now_ms - k->last_ms < KEPT_IDLE_MS))
		return;
	size_t was = k->kept;
	kept_update(d, k, true);
	if (k->kept) {
		/* A message still being collected: not before as long. */
		k->last_ms = d->now_ms;
		return;
	}
	/* Under --max-buffered now, maybe, with requests unread in its ring
	 * that nothing else would wake us for: look again at once. */
	if (was && !k->closing)
		k->more = true;
}

/* A consumer that sends the first fragments of a large request (a WRITE
 * of up to --max-req through a ring of 1 MiB or 256 KiB) and never the
 * rest holds its reassembly buffer, which cannot be freed while the
 * message is incomplete, in both bounds for as long as it stays: 64 such
 * (--max-conns) fill the default --max-buffered-total and hold every
 * other consumer to one request at a time, for ever. So a request left
 * incomplete for --partial-timeout ends its conn, as vmsgd's
 * partial_message_ms does, with the same watch (vmsg_partial.h): looked
 * at once a step, after the frees and trims, so a request completed
 * between two looks starts it afresh (a stream of large WRITEs is
 * fragmented nearly all the time, each one briefly). Timed only while k
 * may read (may_buffer): one held back at a bound has the rest in its
 * ring or waits for room there, through no fault of its own if it waits
 * for the disk; one that holds its replies back instead holds
 * --max-buffered, the hoarder those bounds are for. */
static void partial_check(struct blockd *d, struct conn *k)
{
	if (!d->partial_ms || k->closing || !may_buffer(d, k)) {
		k->partial.since_ms = 0;
		return;
	}
	if (!vmsg__partial_expired(&k->partial, k->c, d->partial_ms,
				   d->now_ms))
		return;
	k->closing = true;
	k->end = -ETIMEDOUT;
	k->partial_timeout = true;
}

void blockd_step(struct blockd *d, uint64_t now_ms,
		 void (*close_cb)(struct blockd *d, struct conn *k))
{
	d->now_ms = now_ms;
	d->be->step(d);
	for (struct conn *k = d->conns; k; k = k->next) {
		(void)vmsg_chan_ack(k->c);
		send_replies(k);
		read_requests(d, k);
		/* Answers that needed no I/O (error statuses, reads done at
		 * once, in the ring already or queued) go now: nothing else
		 * would wake us for them. */
		if (k->rq_head || k->unsent)
			send_replies(k);
	}
	d->be->submit(d);
	/* Free what has ended and drained; trim reassembly buffers. */
	const bool at_total = d->held_total >= d->max_held_total;
	for (struct conn **pk = &d->conns; *pk;) {
		struct conn *k = *pk;
		if (k->closing) {
			send_replies(k); /* drops what is queued */
		}
		kept_trim(d, k, at_total);
		if (k->closing && k->inflight == 0) {
			*pk = k->next;
			d->nconns--;
			d->held_total -= k->kept; /* 0 unless still collecting */
			close_cb(d, k);
			vmsg_blk_server_fini(k->srv);
			free(k->srv_mem);
			free(k);
			continue;
		}
		pk = &k->next;
	}
	/* Ended here, they are freed at the next step (main.c runs it at
	 * once: a conn closing with nothing in the backend). */
	for (struct conn *k = d->conns; k; k = k->next)
		partial_check(d, k);
	/* Conns parked at --max-buffered-total, if enough is free now (the
	 * others' replies went out, or their conns ended, or buffers were
	 * trimmed): read them at the next step, without sleeping. Nothing
	 * else might wake us for them: their consumers wait for replies to
	 * what is in their rings. */
	if (d->parked && d->held_total < d->max_held_total) {
		d->parked = false;
		for (struct conn *k = d->conns; k; k = k->next)
			if (k->parked && !k->closing)
				k->more = true;
	}
}

int blockd_due_ms(const struct blockd *d, uint64_t now_ms)
{
	int ms = -1;
	for (const struct conn *k = d->conns; k; k = k->next) {
		if (k->closing)
			continue;
		/* Its buffer idle, or its request incomplete too long. */
		uint64_t ats[2] = { k->kept ? k->last_ms + KEPT_IDLE_MS : 0,
				    k->partial.since_ms ? k->partial.since_ms +
							  d->partial_ms : 0 };
		for (int i = 0; i < 2; i++) {
			if (!ats[i])
				continue;
			int in = ats[i] > now_ms ? (int)(ats[i] - now_ms) : 0;
			if (ms < 0 || in < ms)
				ms = in;
		}
	}
	return ms;
}
