/* Test helper: one vchan control page in ordinary memory with both ends
 * (server and client) attached, in-page rings for orders 10/11 and separate
 * buffers for larger orders. Every region has canary guard bytes around it
 * so a copy that strays past a ring's end is caught even without ASan. */
#ifndef RING_PAIR_H
#define RING_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include <vmsg/ring.h>

#define RING_PAIR_GUARD 64u
#define RING_PAIR_CANARY 0xa5u

struct ring_pair {
	uint8_t *page_mem;              /* guard | page | guard */
	struct vmsg_vchan_page *page;
	uint8_t *buf_mem[2];            /* guard | ring | guard, or NULL */
	uint8_t *ring[2];               /* left, right ring bytes */
	unsigned order[2];              /* left, right */
	uint32_t n_grants;
	struct vmsg_ring_end srv, cli;
};

enum { RING_LEFT = 0, RING_RIGHT = 1 };

/* Allocate and initialise the page (vmsg_ring_page_init) and both ends;
 * aborts on any failure. */
void ring_pair_open(struct ring_pair *p, unsigned left_order,
		    unsigned right_order);
void ring_pair_close(struct ring_pair *p);

/* Set both indices of the left ring to `lidx` and of the right ring to
 * `ridx` in the page, then re-attach both ends (they read them once). */
void ring_pair_reset(struct ring_pair *p, uint32_t lidx, uint32_t ridx);

/* Fill every byte no ring operation may touch, and the data of rings not
 * marked used, with the canary; check that they still hold it. */
void ring_pair_fill_canary(struct ring_pair *p, bool left_used,
			   bool right_used);
void ring_pair_check_canary(const struct ring_pair *p, bool left_used,
			    bool right_used);

/* The writing and reading end of a ring. */
static inline struct vmsg_ring_end *ring_pair_writer(struct ring_pair *p,
						     int which)
{
	return which == RING_LEFT ? &p->cli : &p->srv;
}
static inline struct vmsg_ring_end *ring_pair_reader(struct ring_pair *p,
						     int which)
{
	return which == RING_LEFT ? &p->srv : &p->cli;
}

#endif
