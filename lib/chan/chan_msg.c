/* Typed messages on a channel: send (fragmenting), zero-copy reserve and
 * commit, peek and release (reassembling), and the copying recv. */
#include "chan_private.h"

#include "vmsg_frame_inline.h"

#include "vmsg_errno.h"
#include "vmsg_string.h"

/* Record a ring error for good: the peer broke the protocol. */
static int fail(struct vmsg_chan *c, int r)
{
	if (r == -EPROTO)
		c->error = -EPROTO;
	return r;
}

/* Publish every reserved frame, with one kick if the peer asked. */
static void publish(struct vmsg_chan *c)
{
	if (c->ftx.pending)
		vmsg__kick(c, vmsg__frame_commit(&c->end, &c->ftx) > 0);
}

/* Checks common to every sending call. */
static int send_check(struct vmsg_chan *c)
{
	if (c->error)
		return c->error;
	if (c->peer_gone)
		return -EPIPE;
	return 0;
}

/* A whole message is in the ring: count it, publish unless more follows. */
static int sent(struct vmsg_chan *c, size_t len, unsigned flags)
{
	c->st.tx_msgs++;
	c->st.tx_bytes += len;
	if (!(flags & VMSG_SEND_MORE))
		publish(c);
	return (int)len;
}

int vmsg_chan_send(vmsg_chan *c, uint16_t type, const void *buf, size_t len,
		   unsigned flags, int timeout_ms)
{
	struct vmsg__wait w;
	int r;

	if (!c || type == VMSG_TYPE_PAD || (!buf && len) ||
	    (flags & ~VMSG_SEND_MORE))
		return -EINVAL;
	if (len > c->opts.max_msg)
		return -EMSGSIZE;
	if (c->error)
		return c->error;
	if (c->reserved)
		return -EBUSY;
	if (c->frag_busy) {
		/* An interrupted send goes on only with the same arguments:
		 * half a message cannot be taken back. */
		if (c->frag.msg != buf || c->frag.len != len ||
		    c->frag.type != type)
			return -EBUSY;
	} else {
		if ((r = send_check(c)) < 0)
			return r;
		/* Fast path: a message of one frame with room for it now. */
		void *p = NULL; /* set when the reserve succeeds */
		if (len <= vmsg__frame_max_payload(&c->end) &&
		    (r = vmsg__frame_reserve(&c->end, &c->ftx, type, 0,
					    (uint32_t)len, &p)) != -EAGAIN) {
			if (r < 0)
				return fail(c, r);
			if (len)
				vmsg__memcpy(p, buf, len);
			vmsg__frame_tx_ahead(&c->end, &c->ftx);
			return sent(c, len, flags);
		}
		vmsg_frag_tx_init(&c->frag, type, buf, len);
	}

	vmsg__wait_init(c, &w, timeout_ms);
	for (;;) {
		r = vmsg_frag_tx_next(&c->end, &c->ftx, &c->frag);
		if (r == 1)
			break;
		if (r == 0) {
			/* A fragment is framed: publish it, so that the
			 * peer copies it out while we frame the next. */
			publish(c);
			continue;
		}
		if (r != -EAGAIN) {
			c->frag_busy = false;
			return fail(c, r);
		}
		/* The ring is full: let the peer see what fits, then wait. */
		publish(c);
		c->st.tx_full_waits++;
		if (c->frag.started)
			vmsg__wait_mid_message(&w);
		r = vmsg__wait(c, &w, VMSG_NOTIFY_READ);
		if (r < 0) {
			c->frag_busy = c->frag.started &&
				       (r == -EAGAIN || r == -ETIMEDOUT);
			return r;
		}
	}
	c->frag_busy = false;
	return sent(c, len, flags);
}

int vmsg_chan_flush(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	if (c->error)
		return c->error;
	publish(c);
	vmsg__rx_announce(c);
	return 0;
}

int vmsg_chan_max_frame(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	uint32_t max = vmsg__frame_max_payload(&c->end);
	if (max > c->opts.max_msg)
		max = (uint32_t)c->opts.max_msg;
	return (int)max;
}

int vmsg_chan_max_msg(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	return (int)c->opts.max_msg;
}

int vmsg_chan_reserve(vmsg_chan *c, uint16_t type, size_t len, void **payload,
		      int timeout_ms)
{
	struct vmsg__wait w;
	int r;

	if (!c || !payload || type == VMSG_TYPE_PAD)
		return -EINVAL;
	if (len > (size_t)vmsg_chan_max_frame(c))
		return -EMSGSIZE;
	if (c->reserved || c->frag_busy)
		return -EBUSY;
	if ((r = send_check(c)) < 0)
		return r;

	vmsg__wait_init(c, &w, timeout_ms);
	for (;;) {
		/* Taken after any publish of the wait below: an unreserve
		 * rolls back this reservation only. */
		c->ftx_before = c->ftx;
		r = vmsg__frame_reserve(&c->end, &c->ftx, type, 0,
				       (uint32_t)len, payload);
		if (r == 0)
			break;
		if (r != -EAGAIN)
			return fail(c, r);
		publish(c);
		c->st.tx_full_waits++;
		if ((r = vmsg__wait(c, &w, VMSG_NOTIFY_READ)) < 0)
			return r;
	}
	c->reserved = true;
	c->reserved_len = len;
	c->st.tx_bytes += len;
	vmsg__frame_tx_ahead(&c->end, &c->ftx);
	return 0;
}

int vmsg_chan_commit(vmsg_chan *c, unsigned flags)
{
	if (!c || (flags & ~VMSG_SEND_MORE))
		return -EINVAL;
	if (!c->reserved)
		return -EINVAL;
	c->reserved = false;
	c->st.tx_msgs++;
	if (!(flags & VMSG_SEND_MORE))
		publish(c);
	return 0;
}

int vmsg_chan_unreserve(vmsg_chan *c)
{
	if (!c || !c->reserved)
		return -EINVAL;
	/* Nothing of the reservation was published (the prod index moves
	 * only at a commit): forgetting its bytes, and the pad frame it may
	 * have written before them, frees the room. Frames sent earlier
	 * with VMSG_SEND_MORE stay pending. */
	c->ftx = c->ftx_before;
	c->reserved = false;
	c->st.tx_bytes -= c->reserved_len;
	return 0;
}

/* Allocate the reassembly buffer on the first fragmented message. */
static int reasm_ready(struct vmsg_chan *c)
{
	if (c->reasm_buf)
		return 0;
	c->reasm_buf = c->p->ops->alloc(c->p, c->opts.max_msg);
	if (!c->reasm_buf)
		return -ENOMEM;
	vmsg_reasm_init(&c->reasm, c->reasm_buf, c->opts.max_msg);
	return 0;
}

/* In the middle of a fragmented message (collected or skipped)? */
static bool collecting(const struct vmsg_chan *c)
{
	return c->reasm_buf && (c->reasm.active || c->reasm.skipping);
}

static void present(struct vmsg_chan *c, struct vmsg_msg *m)
{
	if (c->cur_reassembled) {
		m->type = c->reasm.type;
		m->data = c->reasm.buf;
		m->len = c->reasm.len;
	} else {
		m->type = c->cur.type;
		m->data = c->cur.data;
		m->len = c->cur.len;
	}
}

/* Present a whole-frame message in the ring (vmsg_chan_peek). */
static inline void present_frame(struct vmsg_chan *c,
				 const struct vmsg_frame *f, bool waited,
				 struct vmsg_msg *m)
{
	c->cur = *f;
	c->cur_reassembled = false;
	/* As in recv_slow(): a message we waited for is likely a request;
	 * own the reply's lines. */
	c->cur_waited = waited;
	if (waited)
		vmsg__frame_tx_warm(&c->end, &c->ftx);
	c->peeked = true;
	present(c, m);
}

/* vmsg_chan_peek() beyond its fast path: wait, reassemble, drop what is
 * over the limit. */
static __attribute__((noinline)) int peek_slow(vmsg_chan *c,
					       struct vmsg_msg *m,
					       int timeout_ms)
{
	struct vmsg__wait w;
	struct vmsg_frame f;
	bool waited = false;
	int r;

	if (c->peeked) {
		present(c, m);
		return 0;
	}
	if (c->error)
		return c->error;

	vmsg__wait_init(c, &w, timeout_ms);
	for (;;) {
		r = vmsg__frame_peek(&c->end, &f);
		if (r < 0)
			return fail(c, r);
		if (r == 0) {
			if (collecting(c))
				vmsg__wait_mid_message(&w);
			if ((r = vmsg__wait(c, &w, VMSG_NOTIFY_WRITE)) < 0)
				return r;
			waited = true;
			continue;
		}
		if (f.flags == 0 && !collecting(c)) {
			if (f.len > c->opts.max_msg) {
				/* Over our limit: drop it, say so. */
				vmsg__kick(c, vmsg__frame_release(&c->end, &f) > 0);
				return -EMSGSIZE;
			}
			present_frame(c, &f, waited, m);
			return 0;
		}
		if ((r = reasm_ready(c)) < 0)
			return r;
		/* The fragment is copied into private memory; the ring space
		 * can go back to the peer at once. */
		int done = vmsg_reasm_feed(&c->reasm, &f);
		vmsg__kick(c, vmsg__frame_release(&c->end, &f) > 0);
		if (done < 0)
			return fail(c, done);
		if (done == 1) {
			c->cur_reassembled = true;
			break;
		}
		/* Mid-message, in c->reasm for the next call if we stop. */
		if ((r = vmsg__rx_work(c, &w, f.size)) < 0)
			return r;
	}
	c->peeked = true;
	present(c, m);
	return 0;
}

int vmsg_chan_peek(vmsg_chan *c, struct vmsg_msg *m, int timeout_ms)
{
	if (!c || !m)
		return -EINVAL;
	/* Fast path: a whole-frame message within the limit is there. */
	if (!c->peeked && !c->error && !collecting(c)) {
		struct vmsg_frame f;
		int r = vmsg__frame_peek(&c->end, &f);
		if (r < 0)
			return fail(c, r);
		if (r == 1 && f.flags == 0 && f.len <= c->opts.max_msg) {
			present_frame(c, &f, false, m);
			return 0;
		}
	}
	return peek_slow(c, m, timeout_ms);
}

/* Consume a whole-frame message and give its space back to the peer, at
 * once or batched (opts.rx_batch). `waited`: the caller had to wait for
 * this message, so it will likely wait again soon (a request/reply loop)
 * and announce then: a quarter ring of released space makes it announce
 * here, between the request and the reply, only if the writer is waiting
 * for space. (A plain read of the writer's request bit: a stale answer
 * only delays the announcement to our next wait.) */
static inline __attribute__((always_inline)) int
release_frame(struct vmsg_chan *c, const struct vmsg_frame *f, bool waited)
{
	c->st.rx_msgs++;
	c->st.rx_bytes += f->len;
	if (c->error)
		return c->error;
	if (!c->opts.rx_batch) {
		vmsg__kick(c, vmsg__frame_release(&c->end, f) > 0);
		return 0;
	}
	vmsg__frame_release_quiet(&c->end, f);
	c->rx_quiet += f->size;
	if (c->rx_quiet >= c->end.rx.size / 4 &&
	    (!waited || (vmsg__read_once(c->end.peer_want) & VMSG_NOTIFY_READ)))
		vmsg__rx_announce(c);
	return 0;
}

int vmsg_chan_rx_partial(vmsg_chan *c, size_t *held)
{
	if (!c)
		return -EINVAL;
	if (held)
		*held = c->reasm_buf && (c->reasm.active || (c->peeked &&
							     c->cur_reassembled))
				? c->reasm.len
				: 0;
	return collecting(c) ? 1 : 0;
}

int vmsg_chan_release(vmsg_chan *c)
{
	if (!c)
		return -EINVAL;
	if (!c->peeked)
		return -EINVAL;
	c->peeked = false;
	if (c->cur_reassembled) {
		c->st.rx_msgs++;
		c->st.rx_bytes += c->reasm.len;
		vmsg__reasm_forget(c);
		return 0;
	}
	return release_frame(c, &c->cur, c->cur_waited);
}

/* The bytes the reassembly buffer holds now: a message being collected or
 * presented. (A message being skipped counts its bytes in reasm.len too,
 * but none of them reach the buffer.) */
static size_t reasm_written(const struct vmsg_chan *c)
{
	return c->reasm_buf && !c->reasm.skipping ? c->reasm.len : 0;
}

void vmsg__reasm_forget(struct vmsg_chan *c)
{
	size_t n = reasm_written(c);
	if (n > c->reasm_hw)
		c->reasm_hw = n;
	c->reasm.len = 0;
}

int vmsg_chan_rx_kept(vmsg_chan *c, bool trim, size_t *kept)
{
	if (!c)
		return -EINVAL;
	/* Nothing in the buffer is wanted any more: no message is being
	 * collected in it (or skipped) and none is presented from it. */
	if (trim && c->reasm_buf && !collecting(c) &&
	    !(c->peeked && c->cur_reassembled)) {
		c->p->ops->free(c->p, c->reasm_buf, c->opts.max_msg);
		c->reasm_buf = NULL;
		c->reasm_hw = 0;
	}
	if (kept) {
		size_t n = reasm_written(c);
		*kept = c->reasm_buf ? (n > c->reasm_hw ? n : c->reasm_hw) : 0;
	}
	return 0;
}

/* A whole-frame message that fits the caller's buffer, taken straight out
 * of the ring. Returns 1 with *len set, 0 when `f` is not such a message
 * (the general path takes it), or an error. */
static inline int take_frame(struct vmsg_chan *c, const struct vmsg_frame *f,
			     uint16_t *type, void *buf, size_t cap, int *len,
			     bool waited)
{
	int r;

	if (f->flags != 0 || f->len > c->opts.max_msg || f->len > cap)
		return 0;
	if (f->len)
		vmsg__memcpy(buf, f->data, f->len);
	if (type)
		*type = f->type;
	if ((r = release_frame(c, f, waited)) < 0)
		return r;
	*len = (int)f->len;
	return 1;
}

/* A fragmented message interrupted in recv_direct() (a timeout, -EAGAIN,
 * the work budget, the peer's close): what it collected in the caller's
 * buffer moves to the private reassembly buffer, where the general path
 * goes on with it at the next call. Returns err, or -ENOMEM (channel
 * broken: the bytes already taken from the ring have nowhere to go). */
static int recv_direct_park(struct vmsg_chan *c, const struct vmsg_reasm *r,
			    int err)
{
	if (reasm_ready(c) < 0) {
		c->error = -ENOMEM;
		return -ENOMEM;
	}
	vmsg__memcpy(c->reasm_buf, r->buf, r->len);
	c->reasm = *r;
	c->reasm.buf = c->reasm_buf;
	c->reasm.cap = c->opts.max_msg;
	return err;
}

/* A fragmented message whose announced size fits the caller's buffer is
 * reassembled in that buffer directly: one copy out of the ring instead of
 * two (ring, private buffer, caller's buffer), and no private buffer at
 * all. `f` is its first fragment, just peeked. Returns 1 with *len set, 0
 * when `f` is not such a start (the general path takes it), or an error. */
static int recv_direct(struct vmsg_chan *c, uint16_t *type, void *buf,
		       size_t cap, struct vmsg__wait *w, struct vmsg_frame *f,
		       size_t *len)
{
	size_t lim = cap < c->opts.max_msg ? cap : c->opts.max_msg;
	struct vmsg_reasm r;
	uint64_t total;
	int n;

	if (f->flags != VMSG_FRAME_MORE || f->len < sizeof(total))
		return 0;
	/* Only picks the path: vmsg_reasm_feed() reads and checks the
	 * prefix again, against the same limit. */
	vmsg__memcpy(&total, f->data, sizeof(total));
	if (total > lim)
		return 0;
	vmsg_reasm_init(&r, buf, lim);
	for (;;) {
		int done = vmsg_reasm_feed(&r, f);
		vmsg__kick(c, vmsg__frame_release(&c->end, f) > 0);
		if (done == -EMSGSIZE)
			done = -EPROTO; /* the peer changed the prefix under us */
		if (done < 0)
			return fail(c, done);
		if (done == 1)
			break;
		if ((n = vmsg__rx_work(c, w, f->size)) < 0)
			return recv_direct_park(c, &r, n);
		vmsg__wait_mid_message(w);
		while ((n = vmsg__frame_peek(&c->end, f)) == 0)
			if ((n = vmsg__wait(c, w, VMSG_NOTIFY_WRITE)) < 0)
				return recv_direct_park(c, &r, n);
		if (n < 0)
			return fail(c, n);
	}
	c->st.rx_msgs++;
	c->st.rx_bytes += r.len;
	if (type)
		*type = r.type;
	*len = r.len;
	return 1;
}

/* Any message the fast path of vmsg_chan_recv() does not take: wait for
 * one, reassemble, or report it too big. Kept out of line so the fast path
 * stays small. */
static __attribute__((noinline)) int recv_slow(vmsg_chan *c, uint16_t *type,
					       void *buf, size_t cap,
					       int timeout_ms)
{
	struct vmsg_msg m = {0};
	struct vmsg__wait w;
	int r, n;

	/* Wait for a frame here rather than in vmsg_chan_peek() so that a
	 * fragmented message that arrives meanwhile can go straight into
	 * the caller's buffer. */
	vmsg__wait_init(c, &w, timeout_ms);
	while (!c->peeked && !c->error && !collecting(c)) {
		struct vmsg_frame f;
		size_t len;
		if ((r = vmsg__frame_peek(&c->end, &f)) < 0)
			return fail(c, r);
		if (r == 0) {
			if ((r = vmsg__wait(c, &w, VMSG_NOTIFY_WRITE)) < 0)
				return r;
			continue;
		}
		if ((r = take_frame(c, &f, type, buf, cap, &n, true)) < 0)
			return r;
		if (r == 1) {
			/* A message we had to wait for is likely a request,
			 * answered at once: own the reply's lines now. (In
			 * a stream, where messages are there when asked for,
			 * this would only cost.) */
			vmsg__frame_tx_warm(&c->end, &c->ftx);
			return n;
		}
		if ((r = recv_direct(c, type, buf, cap, &w, &f, &len)) != 0)
			return r < 0 ? r : (int)len;
		break; /* a frame for the general path, which peeks it again */
	}
	if ((r = vmsg_chan_peek(c, &m, timeout_ms)) < 0)
		return r;
	if (m.len > cap)
		return -EMSGSIZE; /* stays queued */
	if (m.len)
		vmsg__memcpy(buf, m.data, m.len);
	if (type)
		*type = m.type;
	if ((r = vmsg_chan_release(c)) < 0)
		return r;
	return (int)m.len;
}

int vmsg_chan_recv(vmsg_chan *c, uint16_t *type, void *buf, size_t cap,
		   int timeout_ms)
{
	int r, n;

	if (!c || (!buf && cap))
		return -EINVAL;
	/* Fast path: a whole-frame message is there and fits. Anything else
	 * (nothing yet, fragments, too big) takes the general path, which
	 * peeks the same frame again. */
	if (!c->peeked && !c->error && !collecting(c)) {
		struct vmsg_frame f;
		r = vmsg__frame_peek(&c->end, &f);
		if (r < 0)
			return fail(c, r);
		if (r == 1 &&
		    (r = take_frame(c, &f, type, buf, cap, &n, false)) != 0)
			return r < 0 ? r : n;
	}
	return recv_slow(c, type, buf, cap, timeout_ms);
}
