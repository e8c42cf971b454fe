#include "ring_pair.h"

#include <string.h>

#include "vmsg_test.h"

static uint32_t ring_size(unsigned order)
{
	return (uint32_t)1 << order;
}

void ring_pair_open(struct ring_pair *p, unsigned left_order,
		    unsigned right_order)
{
	memset(p, 0, sizeof(*p));
	p->order[RING_LEFT] = left_order;
	p->order[RING_RIGHT] = right_order;
	p->page_mem = aligned_alloc(64, VMSG_PAGE_SIZE + 2 * RING_PAIR_GUARD);
	ASSERT_TRUE(p->page_mem != NULL);
	memset(p->page_mem, 0, VMSG_PAGE_SIZE + 2 * RING_PAIR_GUARD);
	p->page = (struct vmsg_vchan_page *)(p->page_mem + RING_PAIR_GUARD);

	for (int i = 0; i < 2; i++) {
		unsigned o = p->order[i];
		if (vmsg_ring_order_offset(o) != 0) {
			p->ring[i] = (uint8_t *)p->page + vmsg_ring_order_offset(o);
		} else {
			p->buf_mem[i] = aligned_alloc(
				64, ring_size(o) + 2 * RING_PAIR_GUARD);
			ASSERT_TRUE(p->buf_mem[i] != NULL);
			memset(p->buf_mem[i], 0,
			       ring_size(o) + 2 * RING_PAIR_GUARD);
			p->ring[i] = p->buf_mem[i] + RING_PAIR_GUARD;
		}
	}

	uint32_t grants[512];
	p->n_grants = vmsg_ring_order_pages(left_order) +
		      vmsg_ring_order_pages(right_order);
	for (uint32_t i = 0; i < p->n_grants; i++)
		grants[i] = 0x1000 + i;
	ASSERT_EQ(vmsg_ring_page_init(p->page, left_order, right_order, grants,
				      p->n_grants),
		  0);
	ring_pair_reset(p, 0, 0);
}

void ring_pair_close(struct ring_pair *p)
{
	free(p->page_mem);
	free(p->buf_mem[0]);
	free(p->buf_mem[1]);
	memset(p, 0, sizeof(*p));
}

void ring_pair_reset(struct ring_pair *p, uint32_t lidx, uint32_t ridx)
{
	p->page->left.cons = p->page->left.prod = lidx;
	p->page->right.cons = p->page->right.prod = ridx;
	ASSERT_EQ(vmsg_ring_end_init(&p->srv, p->page, true, p->ring[0],
				     p->order[0], p->ring[1], p->order[1]),
		  0);
	ASSERT_EQ(vmsg_ring_end_init(&p->cli, p->page, false, p->ring[0],
				     p->order[0], p->ring[1], p->order[1]),
		  0);
}

/* Is page byte `b` one that no operation on the used rings may touch? */
static bool page_byte_idle(const struct ring_pair *p, const bool used[2],
			   uint32_t b)
{
	if (b < VMSG_VCHAN_GRANTS_OFFSET + 4 * p->n_grants)
		return false; /* header and grant list */
	for (int i = 0; i < 2; i++) {
		uint32_t off = vmsg_ring_order_offset(p->order[i]);
		if (used[i] && off != 0 && b >= off &&
		    b < off + ring_size(p->order[i]))
			return false;
	}
	return true;
}

static void region(uint8_t *b, size_t n, bool check, const char *what)
{
	if (!check) {
		memset(b, RING_PAIR_CANARY, n);
		return;
	}
	for (size_t j = 0; j < n; j++)
		if (b[j] != RING_PAIR_CANARY)
			VMSG_TEST_FAIL("canary overwritten: %s, byte %zu of %zu",
				       what, j, n);
}

/* Fill (check=false) or verify (check=true) every canary byte. */
static void canary_regions(const struct ring_pair *p, const bool used[2],
			   bool check)
{
	uint8_t *page = (uint8_t *)p->page;

	region(p->page_mem, RING_PAIR_GUARD, check, "guard before page");
	region(page + VMSG_PAGE_SIZE, RING_PAIR_GUARD, check,
	       "guard after page");
	for (uint32_t b = 0; b < VMSG_PAGE_SIZE; b++) {
		if (!page_byte_idle(p, used, b))
			continue;
		if (!check)
			page[b] = RING_PAIR_CANARY;
		else if (page[b] != RING_PAIR_CANARY)
			VMSG_TEST_FAIL("canary overwritten: page byte %u", b);
	}
	for (int i = 0; i < 2; i++) {
		if (p->buf_mem[i] == NULL)
			continue;
		uint32_t sz = ring_size(p->order[i]);
		region(p->buf_mem[i], RING_PAIR_GUARD, check,
		       "guard before ring buffer");
		region(p->ring[i] + sz, RING_PAIR_GUARD, check,
		       "guard after ring buffer");
		if (!used[i])
			region(p->ring[i], sz, check, "idle ring buffer");
	}
}

void ring_pair_fill_canary(struct ring_pair *p, bool left_used,
			   bool right_used)
{
	bool used[2] = {left_used, right_used};
	canary_regions(p, used, false);
}

void ring_pair_check_canary(const struct ring_pair *p, bool left_used,
			    bool right_used)
{
	bool used[2] = {left_used, right_used};
	canary_regions(p, used, true);
}
