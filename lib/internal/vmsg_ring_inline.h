/* Private: the ring's index arithmetic as inline functions, so that the
 * frame and channel layers compile their hot paths without a call per
 * message. lib/ring/ring.c has the barrier pairs (A1/A2/R1/R2) these
 * comments name. Freestanding. */
#ifndef VMSG_RING_INLINE_H
#define VMSG_RING_INLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmsg/ring.h"
#include "vmsg_barrier.h"
#include "vmsg_errno.h"

static inline int vmsg__ring_broken(struct vmsg_ring_end *e)
{
	e->error = -EPROTO;
	return -EPROTO;
}

/* Bytes ready in rx, from one acquire of the peer's prod (A1). */
static inline int vmsg__rx_ready(struct vmsg_ring_end *e)
{
	if (e->error != 0)
		return e->error;
	uint32_t prod = vmsg__load_acquire(&e->rx.sh->prod); /* A1 */
	/* Unsigned subtraction is modulo 2^32: correct across index wrap.
	 * A peer prod behind our cons shows up as a huge count here. */
	uint32_t ready = prod - e->rx.idx;
	if (ready > e->rx.size)
		return vmsg__ring_broken(e);
	e->rx.peer = prod; /* validated: prod - idx <= size */
	return (int)ready;
}

/* Bytes ready in rx as far as we know (the peer's prod as last read); read
 * it again (A1) only when that is less than `need`. The cached value stays
 * valid as idx advances up to it: prod only moves forward. */
static inline int vmsg__rx_ready_min(struct vmsg_ring_end *e, uint32_t need)
{
	if (e->error != 0)
		return e->error;
	uint32_t known = e->rx.peer - e->rx.idx; /* modulo 2^32, <= size */
	if (known >= need)
		return (int)known;
	return vmsg__rx_ready(e);
}

/* Free bytes in tx, from one acquire of the peer's cons (A2). */
static inline int vmsg__tx_space(struct vmsg_ring_end *e)
{
	if (e->error != 0)
		return e->error;
	uint32_t cons = vmsg__load_acquire(&e->tx.sh->cons); /* A2 */
	/* Unsigned subtraction is modulo 2^32: correct across index wrap.
	 * A peer cons ahead of our prod shows up as a huge count here. */
	uint32_t used = e->tx.idx - cons;
	if (used > e->tx.size)
		return vmsg__ring_broken(e);
	e->tx.peer = cons; /* validated: idx - cons <= size */
	return (int)(e->tx.size - used);
}

/* Free bytes in tx as far as we know; read the peer's cons again (A2) only
 * when that is less than `need`. Valid as idx advances: we only write into
 * space the cached cons already showed free. */
static inline int vmsg__tx_space_min(struct vmsg_ring_end *e, uint32_t need)
{
	if (e->error != 0)
		return e->error;
	uint32_t known = e->tx.size - (e->tx.idx - e->tx.peer);
	if (known >= need)
		return (int)known;
	return vmsg__tx_space(e);
}

static inline void vmsg__tx_advance(struct vmsg_ring_end *e, uint32_t n)
{
	e->tx.idx += n; /* modulo 2^32, like the peer's view of it */
	/* R1: the bytes just written become visible no later than the index
	 * that covers them; pairs with the peer's A1. */
	vmsg__store_release(&e->tx.sh->prod, e->tx.idx);
}

static inline void vmsg__rx_advance(struct vmsg_ring_end *e, uint32_t n)
{
	e->rx.idx += n; /* modulo 2^32 */
	/* R2: our reads of the bytes are done before the peer may see the
	 * space as free and overwrite it; pairs with the peer's A2. */
	vmsg__store_release(&e->rx.sh->cons, e->rx.idx);
}

/* Where the next readable bytes are (*p) and how many are contiguous from
 * there, re-reading the peer's prod only when fewer than `need` are known. */
static inline int vmsg__rx_span_min(struct vmsg_ring_end *e, uint32_t need,
				    const uint8_t **p)
{
	int ready = vmsg__rx_ready_min(e, need);
	if (ready < 0)
		return ready;
	uint32_t off = e->rx.idx & (e->rx.size - 1);
	uint32_t to_end = e->rx.size - off;
	*p = e->rx.data + off;
	return (uint32_t)ready < to_end ? ready : (int)to_end;
}

/* After publishing an index: did the peer ask for a kick (`bit`)? */
static inline bool vmsg__kick_needed(struct vmsg_ring_end *e, unsigned bit)
{
	/* F2: our index store (R1/R2) is visible before we look at the peer's
	 * request bit; pairs with F1 in the peer's request_notify. */
	vmsg__mb();
	/* A busy or spinning peer has asked for nothing: a plain read then
	 * spares the locked read-modify-write on the shared line. Only a set
	 * bit needs the atomic fetch-and-clear (so one request gets exactly
	 * one kick). The barrier above already orders this read (F2). */
	if (!(vmsg__read_once(e->peer_want) & bit))
		return false;
	uint8_t prev = vmsg__fetch_and(e->peer_want, (uint8_t)~bit);
	return (prev & bit) != 0;
}

#endif
