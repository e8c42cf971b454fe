/* Two ring ends (server and client) over one in-memory shared page, for the
 * frame tests. Each ring is its own exact-size allocation so that ASan
 * catches any access past a ring's end. The client writes the left ring
 * (server reads it); the server writes the right ring. */
#ifndef FRAME_PAIR_H
#define FRAME_PAIR_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/frame.h>
#include <vmsg/ring.h>

#include "vmsg_test.h"

struct frame_pair {
	struct vmsg_vchan_page *page;
	uint8_t *left, *right; /* ring bytes */
	unsigned lo, ro;       /* orders */
	struct vmsg_ring_end srv, cli;
};

/* (Re)attach both ends, with both rings' indices set to the given values
 * first (a side resumes where the page says). */
static inline void frame_pair_attach(struct frame_pair *p, uint32_t lidx,
				     uint32_t ridx)
{
	p->page->left.cons = p->page->left.prod = lidx;
	p->page->right.cons = p->page->right.prod = ridx;
	ASSERT_EQ(vmsg_ring_end_init(&p->srv, p->page, true, p->left, p->lo,
				     p->right, p->ro),
		  0);
	ASSERT_EQ(vmsg_ring_end_init(&p->cli, p->page, false, p->left, p->lo,
				     p->right, p->ro),
		  0);
}

static inline void frame_pair_open(struct frame_pair *p, unsigned lo,
				   unsigned ro)
{
	uint32_t grants[512] = {0};
	uint32_t n = vmsg_ring_order_pages(lo) + vmsg_ring_order_pages(ro);

	memset(p, 0, sizeof(*p));
	p->lo = lo;
	p->ro = ro;
	p->page = aligned_alloc(VMSG_PAGE_SIZE, VMSG_PAGE_SIZE);
	p->left = aligned_alloc(64, (size_t)1 << lo);
	p->right = aligned_alloc(64, (size_t)1 << ro);
	ASSERT_TRUE(p->page && p->left && p->right);
	memset(p->page, 0, VMSG_PAGE_SIZE);
	memset(p->left, 0xee, (size_t)1 << lo);
	memset(p->right, 0xee, (size_t)1 << ro);
	for (uint32_t i = 0; i < n; i++)
		grants[i] = 0x100 + i;
	ASSERT_EQ(vmsg_ring_page_init(p->page, lo, ro, grants, n), 0);
	frame_pair_attach(p, 0, 0);
}

static inline void frame_pair_close(struct frame_pair *p)
{
	free(p->page);
	free(p->left);
	free(p->right);
	memset(p, 0, sizeof(*p));
}

/* Read the raw little-endian header at `off` of a ring. */
static inline void frame_raw_hdr(const uint8_t *ring, uint32_t off,
				 uint32_t *len, uint16_t *type,
				 uint16_t *flags)
{
	memcpy(len, ring + off, 4);
	memcpy(type, ring + off + 4, 2);
	memcpy(flags, ring + off + 6, 2);
}

/* Write a raw header at `off` of a ring, as a (hostile) peer would. */
static inline void frame_put_raw(uint8_t *ring, uint32_t off, uint32_t len,
				 uint16_t type, uint16_t flags)
{
	memcpy(ring + off, &len, 4);
	memcpy(ring + off + 4, &type, 2);
	memcpy(ring + off + 6, &flags, 2);
}

#endif
