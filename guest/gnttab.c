/* Grant tables, v1: the entries we grant from, and mapping a peer's
 * grants.
 *
 * Our table's frames are placed in free guest-physical space with
 * add_to_physmap(XENMAPSPACE_grant_table). Granting fills an entry (domid
 * and frame first, then the flags that make it live, after a barrier);
 * ending a grant atomically clears the flags, but only while Xen shows no
 * mapping of it (GTF_reading/GTF_writing): a page still mapped by the peer
 * must not be reused, so the caller then keeps it out of the allocator.
 *
 * Mapping a peer's grant (GNTTABOP_map_grant_ref): for a PVH guest
 * host_addr is the guest-physical address to put the frame at, and flags
 * must be exactly GNTMAP_host_map (Xen refuses anything else for a guest
 * with a paging-mode-external p2m). Unmapping names the same address and
 * the handle the map returned.
 */
#include "guest_internal.h"

#include "vmsg_barrier.h"
#include "vmsg_errno.h"

/* GNTST_* status codes */
#define GNTST_bad_gntref (-3)
#define GNTST_permission_denied (-8)
#define GNTST_bad_page (-9)
#define GNTST_eagain (-12)

int guest__gnttab_init(void)
{
	struct xen_gnttab_query_size q = {.dom = XEN_DOMID_SELF};
	long rc = guest__hypercall(XEN_HC_grant_table_op,
				   XEN_GNTTABOP_query_size,
				   (uint64_t)(uintptr_t)&q, 1);
	if (rc < 0)
		return (int)rc;
	if (q.status != 0 || q.max_nr_frames == 0)
		return -EIO;
	uint32_t frames = q.max_nr_frames;
	if (frames > GUEST_GNT_FRAMES_MAX)
		frames = GUEST_GNT_FRAMES_MAX;
	uint64_t gpa = guest__physmap_take(frames);
	if (!gpa)
		return -ENOMEM;
	for (uint32_t i = 0; i < frames; i++) {
		int r = guest__map_space(XEN_MAPSPACE_grant_table, i,
					 gpa + (uint64_t)i * XEN_PAGE_SIZE);
		if (r < 0) {
			if (i == 0)
				return r;
			frames = i; /* fewer frames than asked: fine */
			break;
		}
	}
	guest__m.gnt = (struct xen_grant_entry_v1 *)(uintptr_t)gpa;
	guest__m.gnt_entries = frames * (XEN_PAGE_SIZE / 8);
	guest__m.gnt_free_hint = XEN_GNTTAB_RESERVED;
	return 0;
}

static bool ref_used(uint32_t ref)
{
	return (guest__m.gnt_used[ref / 8] >> (ref % 8)) & 1;
}

static void ref_mark(uint32_t ref, bool v)
{
	if (v)
		guest__m.gnt_used[ref / 8] |= (uint8_t)(1u << (ref % 8));
	else
		guest__m.gnt_used[ref / 8] &= (uint8_t)~(1u << (ref % 8));
}

int guest__grant(uint16_t domid, uint64_t gpa, bool readonly, uint32_t *ref)
{
	struct guest_machine *m = &guest__m;
	for (uint32_t k = 0; k < m->gnt_entries; k++) {
		uint32_t r = m->gnt_free_hint + k;
		if (r >= m->gnt_entries)
			r = XEN_GNTTAB_RESERVED + (r - m->gnt_entries);
		if (r < XEN_GNTTAB_RESERVED || ref_used(r))
			continue;
		struct xen_grant_entry_v1 *e = &m->gnt[r];
		vmsg__write_once(&e->domid, domid);
		vmsg__write_once(&e->frame, (uint32_t)(gpa >> XEN_PAGE_SHIFT));
		/* Release: domid and frame are in place before the flags
		 * make the entry usable by the peer. */
		vmsg__store_release(&e->flags,
				    (uint16_t)(XEN_GTF_permit_access |
					       (readonly ? XEN_GTF_readonly : 0)));
		ref_mark(r, true);
		m->gnt_free_hint = r + 1 < m->gnt_entries ? r + 1
							  : XEN_GNTTAB_RESERVED;
		*ref = r;
		return 0;
	}
	return -ENOSPC;
}

int guest__grant_end(uint32_t ref)
{
	struct guest_machine *m = &guest__m;
	if (ref < XEN_GNTTAB_RESERVED || ref >= m->gnt_entries ||
	    !ref_used(ref))
		return -EINVAL;
	uint16_t *flags = &m->gnt[ref].flags;
	uint16_t f = vmsg__read_once(flags);
	do {
		/* Xen sets these while the peer has the frame mapped; the
		 * compare-and-swap fails if it maps it between our read and
		 * our clear, and we look again. */
		if (f & (XEN_GTF_reading | XEN_GTF_writing))
			return -EBUSY;
	} while (!vmsg__cas(flags, &f, (uint16_t)0));
	ref_mark(ref, false);
	return 0;
}

static int map_status(int16_t st)
{
	switch (st) {
	case 0:
		return 0;
	case GNTST_bad_gntref:
	case GNTST_permission_denied:
	case GNTST_bad_page:
		/* Not a grant we may map: the peer named it. */
		return -EPROTO;
	case GNTST_eagain:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

int guest__grant_map(uint16_t domid, uint32_t ref, uint64_t gpa,
		     uint32_t *handle)
{
	struct xen_gnttab_map op = {
		.host_addr = gpa,
		.flags = XEN_GNTMAP_host_map,
		.ref = ref,
		.dom = domid,
	};
	long rc = guest__hypercall(XEN_HC_grant_table_op,
				   XEN_GNTTABOP_map_grant_ref,
				   (uint64_t)(uintptr_t)&op, 1);
	if (rc < 0)
		return (int)rc;
	int r = map_status(op.status);
	if (r == 0)
		*handle = op.handle;
	return r;
}

int guest__grant_unmap(uint64_t gpa, uint32_t handle)
{
	struct xen_gnttab_unmap op = {.host_addr = gpa, .handle = handle};
	long rc = guest__hypercall(XEN_HC_grant_table_op,
				   XEN_GNTTABOP_unmap_grant_ref,
				   (uint64_t)(uintptr_t)&op, 1);
	if (rc < 0)
		return (int)rc;
	return op.status ? -EIO : 0;
}
