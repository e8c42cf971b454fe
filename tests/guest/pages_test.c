/* guest_pages: the unikernel's page allocator (guest/pages.c, hosted) over
 * a 1 MiB region that does not start on a page boundary: the bitmap fits
 * inside, allocations are contiguous, page-aligned, inside the region and
 * disjoint; first-fit reuses freed runs; double frees, foreign pointers and
 * wrong counts are refused without changing anything; and the allocator
 * runs out exactly when every page is taken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"
#include "vmsg_test.h"

int main(void)
{
	size_t bytes = (1u << 20) + 100;
	uint8_t *mem = malloc(bytes + GUEST_PAGE);
	ASSERT_TRUE(mem != NULL);
	uintptr_t start = ((uintptr_t)mem | (GUEST_PAGE - 1)) + 1 - 50;
	struct guest_pages pa;
	ASSERT_EQ(guest_pages_init(&pa, start, bytes), 0);
	ASSERT_EQ(pa.base % GUEST_PAGE, 0);
	ASSERT_TRUE((uintptr_t)pa.map >= start);
	ASSERT_TRUE(pa.base + pa.npages * GUEST_PAGE <= start + bytes);
	ASSERT_TRUE(pa.npages >= 250); /* 1 MiB minus alignment and bitmap */
	size_t total = pa.npages;

	uint8_t *a = guest_pages_alloc(&pa, 3);
	uint8_t *b = guest_pages_alloc(&pa, 1);
	uint8_t *c = guest_pages_alloc(&pa, 10);
	ASSERT_TRUE(a && b && c);
	ASSERT_EQ((uintptr_t)a % GUEST_PAGE, 0);
	ASSERT_TRUE(b >= a + 3 * GUEST_PAGE || b + GUEST_PAGE <= a);
	ASSERT_TRUE(c >= b + GUEST_PAGE || c + 10 * GUEST_PAGE <= b);
	memset(a, 1, 3 * GUEST_PAGE); /* writable, and the bitmap survives */
	memset(c, 3, 10 * GUEST_PAGE);
	ASSERT_EQ(pa.nfree, total - 14);

	/* Refusals leave the state alone. */
	ASSERT_EQ(guest_pages_free(&pa, a + 1, 1), -EINVAL);
	ASSERT_EQ(guest_pages_free(&pa, c, 11), -EINVAL); /* the 11th is free */
	ASSERT_EQ(guest_pages_free(&pa, mem + bytes + 2 * GUEST_PAGE, 1), -EINVAL);
	ASSERT_EQ(pa.nfree, total - 14);

	ASSERT_EQ(guest_pages_free(&pa, a, 3), 0);
	ASSERT_EQ(guest_pages_free(&pa, a, 3), -EINVAL); /* double free */
	/* First fit: a 2-page request reuses a's run. */
	ASSERT_TRUE(guest_pages_alloc(&pa, 2) == a);
	ASSERT_TRUE(guest_pages_alloc(&pa, 1) == a + 2 * GUEST_PAGE);
	/* A run larger than any gap comes from the end. */
	uint8_t *d = guest_pages_alloc(&pa, 4);
	ASSERT_TRUE(d > c);

	/* Take everything that is left, page by page, then nothing. */
	size_t left = pa.nfree;
	for (size_t i = 0; i < left; i++)
		ASSERT_TRUE(guest_pages_alloc(&pa, 1) != NULL);
	ASSERT_EQ(pa.nfree, 0);
	ASSERT_TRUE(guest_pages_alloc(&pa, 1) == NULL);
	ASSERT_EQ(guest_pages_free(&pa, c, 10), 0);
	ASSERT_TRUE(guest_pages_alloc(&pa, 11) == NULL);
	ASSERT_TRUE(guest_pages_alloc(&pa, 10) == c);

	/* Too small to hold its bitmap and a page. */
	ASSERT_EQ(guest_pages_init(&pa, start, GUEST_PAGE), -EINVAL);
	free(mem);
	return 0;
}
