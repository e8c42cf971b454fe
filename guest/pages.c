/* The page allocator: see pages.h. */
#include "pages.h"

#include "vmsg_errno.h"
#include "vmsg_string.h"

static int bit(const struct guest_pages *pa, size_t i)
{
	return (pa->map[i / 8] >> (i % 8)) & 1;
}

static void set_bits(struct guest_pages *pa, size_t i, size_t n, int v)
{
	for (size_t k = i; k < i + n; k++) {
		if (v)
			pa->map[k / 8] |= (uint8_t)(1u << (k % 8));
		else
			pa->map[k / 8] &= (uint8_t)~(1u << (k % 8));
	}
}

int guest_pages_init(struct guest_pages *pa, uintptr_t start, size_t bytes)
{
	uintptr_t a = (start + GUEST_PAGE - 1) & ~(uintptr_t)(GUEST_PAGE - 1);
	if (a < start || bytes < a - start)
		return -EINVAL;
	size_t total = (bytes - (a - start)) / GUEST_PAGE;
	/* Each page costs one bit; the bitmap's own pages come off the top
	 * of the count: npages + ceil(npages / 8 / PAGE) <= total. */
	size_t mpages = (total + 8 * GUEST_PAGE) / (8 * GUEST_PAGE + 1);
	if (mpages == 0)
		mpages = 1;
	if (total <= mpages)
		return -EINVAL;
	pa->map = (uint8_t *)a;
	pa->base = a + mpages * GUEST_PAGE;
	pa->npages = total - mpages;
	pa->nfree = pa->npages;
	pa->hint = 0;
	vmsg__memset(pa->map, 0, mpages * GUEST_PAGE);
	return 0;
}

void *guest_pages_alloc(struct guest_pages *pa, size_t n)
{
	if (n == 0 || n > pa->nfree)
		return NULL;
	size_t run = 0;
	for (size_t i = pa->hint; i < pa->npages; i++) {
		if (bit(pa, i)) {
			run = 0;
			continue;
		}
		if (++run < n)
			continue;
		size_t first = i + 1 - n;
		set_bits(pa, first, n, 1);
		pa->nfree -= n;
		if (first == pa->hint)
			pa->hint = i + 1;
		return (void *)(pa->base + first * GUEST_PAGE);
	}
	return NULL;
}

int guest_pages_free(struct guest_pages *pa, void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	if (n == 0 || a < pa->base || (a - pa->base) % GUEST_PAGE)
		return -EINVAL;
	size_t first = (a - pa->base) / GUEST_PAGE;
	if (first >= pa->npages || n > pa->npages - first)
		return -EINVAL;
	/* A double free or a wrong count would corrupt the map: refuse it
	 * whole. */
	for (size_t i = first; i < first + n; i++)
		if (!bit(pa, i))
			return -EINVAL;
	set_bits(pa, first, n, 0);
	pa->nfree += n;
	if (first < pa->hint)
		pa->hint = first;
	return 0;
}
