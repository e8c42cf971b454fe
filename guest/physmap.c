/* Free guest-physical space: where shared_info, the grant-table frames and
 * a peer's granted pages are placed.
 *
 * A PVH guest's physical address space has RAM from 0 (the memory map in
 * start_info) and Xen's special pages and the MMIO hole high below 4 GiB.
 * Frames in between that back nothing are ours to name: add_to_physmap
 * and GNTTABOP_map_grant_ref (whose host_addr is a guest-physical address
 * for a PVH guest) insert an entry there, and unmapping removes it again.
 * boot.S identity-maps the whole first 4 GiB, so a frame mapped here is
 * addressable at once at the same address.
 *
 * The window starts at the first 1 GiB boundary above RAM (at least 1 GiB)
 * and holds PHYSMAP_PAGES pages, allocated first-fit from a bitmap.
 */
#include "guest_internal.h"

#include "vmsg_errno.h"

#define PHYSMAP_PAGES 16384u /* 64 MiB: several channels' largest rings */
#define GIB (1ull << 30)
/* Stay clear of the MMIO hole and Xen's special pages below 4 GiB. */
#define PHYSMAP_LIMIT 0xe0000000ull

static uint8_t used[PHYSMAP_PAGES / 8];

int guest__physmap_init(void)
{
	uint64_t base = (guest__m.ram_end + GIB - 1) & ~(GIB - 1);
	if (base < GIB)
		base = GIB;
	if (base + (uint64_t)PHYSMAP_PAGES * XEN_PAGE_SIZE > PHYSMAP_LIMIT)
		return -ENOMEM; /* RAM reaches too high for the identity map */
	guest__m.physmap_next = base;
	guest__m.physmap_end = base + (uint64_t)PHYSMAP_PAGES * XEN_PAGE_SIZE;
	return 0;
}

static int test(uint32_t i)
{
	return (used[i / 8] >> (i % 8)) & 1;
}

static void mark(uint32_t i, uint32_t n, int v)
{
	for (uint32_t k = i; k < i + n; k++) {
		if (v)
			used[k / 8] |= (uint8_t)(1u << (k % 8));
		else
			used[k / 8] &= (uint8_t)~(1u << (k % 8));
	}
}

uint64_t guest__physmap_take(uint32_t pages)
{
	uint32_t run = 0;
	if (pages == 0 || pages > PHYSMAP_PAGES)
		return 0;
	for (uint32_t i = 0; i < PHYSMAP_PAGES; i++) {
		run = test(i) ? 0 : run + 1;
		if (run == pages) {
			uint32_t first = i + 1 - pages;
			mark(first, pages, 1);
			return guest__m.physmap_next +
			       (uint64_t)first * XEN_PAGE_SIZE;
		}
	}
	return 0;
}

void guest__physmap_give(uint64_t gpa, uint32_t pages)
{
	uint64_t base = guest__m.physmap_next;
	if (gpa < base || gpa >= guest__m.physmap_end)
		return;
	uint32_t first = (uint32_t)((gpa - base) / XEN_PAGE_SIZE);
	if (pages > PHYSMAP_PAGES - first)
		return;
	mark(first, pages, 0);
}

int guest__map_space(uint32_t space, uint64_t idx, uint64_t gpa)
{
	struct xen_add_to_physmap x = {
		.domid = XEN_DOMID_SELF,
		.space = space,
		.idx = idx,
		.gpfn = gpa >> XEN_PAGE_SHIFT,
	};
	return (int)guest__hypercall(XEN_HC_memory_op,
				     XEN_XENMEM_add_to_physmap,
				     (uint64_t)(uintptr_t)&x, 0);
}
