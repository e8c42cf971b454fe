/* A hostile writer that keeps one fragmented message going for ever, as
 * fast as a writer can go (issue 16, defect 1): a first fragment, then
 * continuations of `len` bytes (0: empty ones, a protocol error; 8: an
 * endless message) written straight into a channel end's tx ring through
 * the channel's internals. The ring is filled once with identical frames,
 * a whole number of them per lap (so no PAD is ever needed), and from then
 * on only prod moves, kept a full ring ahead of the reader's cons. Used by
 * integ_frag_flood (host and Xen backends) and vmsgd_flood. */
#ifndef VMSG_FRAG_FLOOD_PEER_H
#define VMSG_FRAG_FLOOD_PEER_H

#include <sched.h>
#include <string.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/ring.h>

#include "vmsg_barrier.h"
#include "vmsg_chan_internal.h"
#include "vmsg_test.h"

/* Append one frame of `type` at *wp, padding to the ring's start first if
 * it does not fit before the end. Not published. false: no room now. */
static inline bool flood_put(struct vmsg_ring *r, uint32_t *wp, uint16_t type,
			     uint16_t flags, const void *pl, uint32_t len)
{
	uint32_t cons = vmsg__load_acquire(&r->sh->cons);
	uint32_t need = vmsg_frame_size(len);
	uint32_t off = *wp & (r->size - 1), tail = r->size - off;
	uint32_t pad = tail < need ? tail : 0;
	uint8_t h[8];

	if (r->size - (*wp - cons) < pad + need)
		return false;
	if (pad) {
		uint32_t pl_len = pad - VMSG_FRAME_HDR_SIZE;
		memset(h, 0, sizeof h);
		memcpy(h, &pl_len, 4);
		memcpy(r->data + off, h, 8);
		*wp += pad;
		off = 0;
	}
	memcpy(h, &len, 4);
	memcpy(h + 4, &type, 2);
	memcpy(h + 6, &flags, 2);
	memcpy(r->data + off, h, 8);
	if (len)
		memcpy(r->data + off + 8, pl, len);
	*wp += need;
	return true;
}

/* Publish everything up to wp and kick. */
static inline void flood_publish(struct vmsg_ring *r, uint32_t wp,
				 struct vmsg_platform *p)
{
	vmsg__store_release(&r->sh->prod, wp);
	p->ops->notify(p);
}

struct flood {
	struct vmsg_ring *tx;
	struct vmsg_platform *p;
	uint16_t type;
	uint32_t len, fsz; /* continuations: payload, ring bytes */
	uint32_t base;     /* just past the first fragment (lap 0) */
	uint32_t wp, kicked;
	bool relaid;       /* [0, base) rewritten as continuations */
};

/* Lay out the first fragment (announcing `total`) at c's write index and
 * continuations after it to the ring's end, and publish. c's write index
 * must be in the ring's first lap (a fresh channel, perhaps after a Hello)
 * and c must not send anything else from now on. */
static inline void flood_begin(struct flood *f, vmsg_chan *c, uint16_t type,
			       uint64_t total, uint32_t len)
{
	static const uint8_t body[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	uint8_t first[24];
	struct vmsg_ring_end *e = vmsg__chan_ring(c);

	ASSERT_TRUE(e != NULL);
	f->tx = &e->tx;
	f->p = vmsg__chan_platform(c);
	f->type = type;
	f->len = len;
	f->fsz = vmsg_frame_size(len);
	f->wp = f->tx->idx;
	f->relaid = false;
	ASSERT_LT(f->wp, f->tx->size);
	/* The first fragment ends where a continuation may start: every lap
	 * then has frames at the multiples of fsz and nowhere else. */
	uint32_t flen = (f->wp + vmsg_frame_size(8)) % f->fsz ? 16 : 8;
	memcpy(first, &total, 8);
	memcpy(first + 8, body, 16);
	ASSERT_TRUE(flood_put(f->tx, &f->wp, type, VMSG_FRAME_MORE, first,
			      flen));
	f->base = f->wp;
	ASSERT_EQ(f->base % f->fsz, 0);
	/* To the ring's end exactly (no PAD); the reader's cons is at most
	 * where we started, so there is room. */
	while (f->wp < f->tx->size)
		ASSERT_TRUE(flood_put(f->tx, &f->wp, type,
				      VMSG_FRAME_MORE | VMSG_FRAME_CONT, body,
				      len));
	ASSERT_EQ(f->wp, f->tx->size);
	flood_publish(f->tx, f->wp, f->p);
	f->kicked = f->wp;
}

/* Keep the ring full: once the reader is past the first fragment, what
 * lay before it becomes continuations too (the next lap reads it); then
 * prod follows cons a full ring ahead, with a kick every quarter ring.
 * Returns true when prod moved. */
static inline bool flood_step(struct flood *f)
{
	static const uint8_t body[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	uint32_t cons = vmsg__load_acquire(&f->tx->sh->cons);

	if (!f->relaid) {
		if (cons - f->base > f->tx->size) /* still before base */
			return false;
		for (uint32_t at = 0; at < f->base;)
			ASSERT_TRUE(flood_put(f->tx, &at, f->type,
					      VMSG_FRAME_MORE | VMSG_FRAME_CONT,
					      body, f->len));
		f->relaid = true;
	}
	uint32_t to = cons + f->tx->size; /* cons is on a frame boundary */
	if (to == f->wp)
		return false;
	f->wp = to;
	vmsg__store_release(&f->tx->sh->prod, f->wp);
	if (f->wp - f->kicked >= f->tx->size / 4) {
		f->p->ops->notify(f->p);
		f->kicked = f->wp;
	}
	return true;
}

#endif
