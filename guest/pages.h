/* Private to guest/: the page allocator.
 *
 * One contiguous region of free RAM, one bit per page (the bitmap lives at
 * the start of the region itself). Allocation is first-fit over runs of
 * contiguous pages, since channels want their ring pages in one piece.
 * No libc, no hypercalls: tests/guest builds it hosted.
 */
#ifndef GUEST_PAGES_H
#define GUEST_PAGES_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE 4096u

struct guest_pages {
	uint8_t *map;      /* bit i set: page i allocated */
	uintptr_t base;    /* address of page 0 (after the bitmap) */
	size_t npages;
	size_t nfree;
	size_t hint;       /* search starts here: first page maybe free */
};

/* Take [start, start + bytes) for the allocator. -EINVAL if the region
 * cannot hold its own bitmap and one page. */
int guest_pages_init(struct guest_pages *pa, uintptr_t start, size_t bytes);
/* n contiguous pages (not zeroed), or NULL. */
void *guest_pages_alloc(struct guest_pages *pa, size_t n);
/* Give back n pages at p. -EINVAL (and nothing freed) if they are not all
 * inside the region and allocated. */
int guest_pages_free(struct guest_pages *pa, void *p, size_t n);

#endif
