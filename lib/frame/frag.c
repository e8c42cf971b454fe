/* Fragmentation of messages larger than one frame, and their bounded
 * reassembly. Freestanding.
 *
 * A message that fits one frame (len <= vmsg_frame_max_payload()) is sent
 * as a single frame with flags 0. A larger one becomes:
 *   first  MORE       payload = u64 LE total length, then message bytes
 *   middle MORE|CONT  message bytes
 *   last   CONT       message bytes
 * every frame as full as the ring allows, all with the message's type.
 * A continuation (middle or last) is never empty.
 *
 * The receiver copies each fragment out of the (untrusted) ring into a
 * caller-owned buffer of fixed capacity, checking the sequence and that the
 * bytes add up to exactly the announced total.
 */
#include <vmsg/frame.h>

#include "vmsg_errno.h"
#include "vmsg_string.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vmsg: the fragment length prefix is little-endian; big-endian hosts are not supported"
#endif

#define FRAG_PREFIX 8u /* the u64 total length in a first fragment */

void vmsg_frag_tx_init(struct vmsg_frag_tx *s, uint16_t type, const void *msg,
		       size_t len)
{
	s->msg = msg;
	s->len = len;
	s->off = 0;
	s->type = type;
	s->started = false;
}

/* Reserve one frame and copy `n` message bytes after `pre` prefix bytes. */
static int frag_put(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		    struct vmsg_frag_tx *s, uint16_t flags, const void *pre,
		    uint32_t pre_len, uint32_t n)
{
	void *p = NULL; /* set when the reserve succeeds */
	int rc;

	rc = vmsg_frame_reserve(e, tx, s->type, flags, pre_len + n, &p);
	if (rc < 0)
		return rc;
	if (pre_len)
		vmsg__memcpy(p, pre, pre_len);
	if (n) /* an empty message may have msg == NULL */
		vmsg__memcpy((uint8_t *)p + pre_len, s->msg + s->off, n);
	s->off += n;
	s->started = true;
	return 0;
}

int vmsg_frag_tx_next(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		      struct vmsg_frag_tx *s)
{
	uint32_t max = vmsg_frame_max_payload(e);
	size_t left = s->len - s->off;
	int rc;

	if (!s->started && s->len <= max) {
		rc = frag_put(e, tx, s, 0, NULL, 0, (uint32_t)s->len);
	} else if (!s->started) {
		uint64_t total = s->len; /* LE on the wire = host order */
		rc = frag_put(e, tx, s, VMSG_FRAME_MORE, &total, FRAG_PREFIX,
			      max - FRAG_PREFIX);
	} else if (left > max) {
		rc = frag_put(e, tx, s, VMSG_FRAME_MORE | VMSG_FRAME_CONT, NULL,
			      0, max);
	} else {
		rc = frag_put(e, tx, s, VMSG_FRAME_CONT, NULL, 0,
			      (uint32_t)left);
	}
	if (rc < 0)
		return rc;
	return s->off == s->len ? 1 : 0;
}

int vmsg_frag_tx_step(struct vmsg_ring_end *e, struct vmsg_frame_tx *tx,
		      struct vmsg_frag_tx *s)
{
	int rc;

	while ((rc = vmsg_frag_tx_next(e, tx, s)) == 0)
		;
	if (rc == -EAGAIN)
		return 0; /* the ring is full: commit, wait, call again */
	return rc;
}

void vmsg_reasm_init(struct vmsg_reasm *r, void *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->len = 0;
	r->total = 0;
	r->type = 0;
	r->active = false;
	r->skipping = false;
}

/* Skipping a message whose total does not fit size_t (32-bit hosts only,
 * where r->total then saturates at SIZE_MAX): its bytes cannot be counted
 * against the total, so only its sequence is checked. */
static bool reasm_uncounted(const struct vmsg_reasm *r)
{
	return SIZE_MAX < UINT64_MAX && r->skipping && r->total == SIZE_MAX;
}

static int reasm_reset(struct vmsg_reasm *r, int err)
{
	r->len = 0;
	r->total = 0;
	r->active = false;
	r->skipping = false;
	return err;
}

/* A first fragment: the payload starts with the u64 LE total length. */
static int reasm_first(struct vmsg_reasm *r, const struct vmsg_frame *f)
{
	uint64_t total;
	size_t body;

	if (f->len < FRAG_PREFIX)
		return reasm_reset(r, -EPROTO);
	/* Copy the untrusted prefix once into a private local. */
	vmsg__memcpy(&total, f->data, FRAG_PREFIX);
	body = (size_t)f->len - FRAG_PREFIX;
	r->type = f->type;
	if (total > r->cap) {
		/* Drop the rest of this message but keep following its
		 * sequence so the next message is recognised. The total is
		 * kept (saturated) only to check the byte count. */
		r->total = total > SIZE_MAX ? SIZE_MAX : (size_t)total;
		if (body > r->total)
			return reasm_reset(r, -EPROTO);
		r->len = body;
		r->active = false;
		r->skipping = true;
		return -EMSGSIZE;
	}
	if (body > total)
		return reasm_reset(r, -EPROTO);
	r->total = (size_t)total; /* <= cap */
	vmsg__memcpy(r->buf, f->data + FRAG_PREFIX, body);
	r->len = body;
	r->active = true;
	r->skipping = false;
	return 0;
}

int vmsg_reasm_feed(struct vmsg_reasm *r, const struct vmsg_frame *f)
{
	bool more = f->flags & VMSG_FRAME_MORE;
	bool cont = f->flags & VMSG_FRAME_CONT;
	bool in_msg = r->active || r->skipping;
	size_t n = f->len;

	if (f->flags & ~VMSG_FRAME_FLAGS_KNOWN)
		return reasm_reset(r, -EPROTO);

	if (!cont) {
		/* A new message starts: not allowed in the middle of one. */
		if (in_msg)
			return reasm_reset(r, -EPROTO);
		if (more)
			return reasm_first(r, f);
		if (n > r->cap)
			return -EMSGSIZE; /* nothing collected; stays idle */
		if (n)
			vmsg__memcpy(r->buf, f->data, n);
		r->len = n;
		r->total = n;
		r->type = f->type;
		return 1;
	}

	/* A continuation. It must carry at least one byte: an empty one
	 * makes no progress, and a peer could send them for ever while the
	 * receiver, told "more to come" each time, never returns. */
	if (!in_msg || f->type != r->type || n == 0)
		return reasm_reset(r, -EPROTO);
	/* r->len <= r->total always holds: no underflow. */
	if (n > r->total - r->len) {
		if (!reasm_uncounted(r))
			return reasm_reset(r, -EPROTO); /* more than announced */
		n = 0;
	}
	if (r->active && n)
		vmsg__memcpy(r->buf + r->len, f->data, n);
	r->len += n;
	if (more)
		return 0;
	/* The last fragment: exactly the announced total. */
	if (r->len != r->total && !reasm_uncounted(r))
		return reasm_reset(r, -EPROTO);
	if (r->skipping)
		return reasm_reset(r, 0); /* the dropped message ended */
	r->active = false;
	return 1;
}
