/* Bring-up: what runs between boot.S and app_main(), in dependency order,
 * and the machine-wide calls of vmsg/guest.h.
 *
 *  1. the hypercall page (nothing else works without it)
 *  2. start_info: copy the cmdline and read the memory map *before* the
 *     allocator may hand out the pages Xen put them in
 *  3. the console ring (output from here on; it cannot block yet)
 *  4. free guest-physical space, shared_info there (events, the clock)
 *  5. the page allocator over the RAM after our image
 *  6. the grant table, xenstore (and our domid)
 *  7. app_main(cmdline), then power off with its result
 */
#include "cmdline.h"
#include "guest_internal.h"

#include "vmsg_string.h"

struct guest_machine guest__m;

extern char guest_image_end[]; /* arch/link.ld: end of .bss */

void guest_start(struct xen_hvm_start_info *si);

static void early_fail(const char *why)
{
	guest_puts(why);
	guest_puts("\n");
	if (guest__m.shared)
		guest_shutdown(true);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

/* The RAM entry that holds our image; its end bounds the heap. */
static int read_memmap(const struct xen_hvm_start_info *si, uint64_t *heap_end)
{
	uint64_t img = (uint64_t)(uintptr_t)guest_image_end;
	*heap_end = 0;
	if (si->version < 1 || !si->memmap_paddr)
		return -ENOENT;
	const struct xen_memmap_entry *e =
		(const struct xen_memmap_entry *)(uintptr_t)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries; i++) {
		if (e[i].type != XEN_MEMMAP_RAM)
			continue;
		uint64_t end = e[i].addr + e[i].size;
		if (end > guest__m.ram_end)
			guest__m.ram_end = end;
		if (e[i].addr <= img && img < end)
			*heap_end = end;
	}
	return *heap_end ? 0 : -ENOENT;
}

void guest_start(struct xen_hvm_start_info *si)
{
	struct guest_machine *m = &guest__m;

	guest__traps_init();
	if (guest__hypercall_init() < 0)
		early_fail("vmsg guest: not running on Xen");
	if (si->magic != XEN_HVM_START_MAGIC)
		early_fail("vmsg guest: bad hvm_start_info magic");
	if (si->cmdline_paddr) {
		const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
		size_t n = 0;
		while (n + 1 < GUEST_CMDLINE_MAX && c[n])
			n++;
		vmsg__memcpy(m->cmdline, c, n);
		m->cmdline[n] = 0;
	}
	uint64_t heap_end;
	int memmap_ok = read_memmap(si, &heap_end);

	guest__console_init();
	if (memmap_ok < 0)
		early_fail("vmsg guest: no RAM entry for the image in the memory map");
	/* si and the memory map are not looked at again: their pages may
	 * go to the allocator. */
	if (guest__physmap_init() < 0)
		early_fail("vmsg guest: no free guest-physical window");
	uint64_t sh = guest__physmap_take(1);
	if (!sh || guest__map_space(XEN_MAPSPACE_shared_info, 0, sh) < 0)
		early_fail("vmsg guest: cannot map shared_info");
	m->shared = (struct xen_shared_info *)(uintptr_t)sh;
	/* No upcalls: events are seen through their pending bits only. */
	m->shared->vcpu_info[0].upcall_mask = 1;
	m->boot_ns = guest__now_ns();

	/* The heap: from the end of the image to the end of its RAM range,
	 * inside the 4 GiB that boot.S maps. */
	if (heap_end > 0xe0000000ull)
		heap_end = 0xe0000000ull;
	uintptr_t start = (uintptr_t)guest_image_end;
	if (heap_end <= start ||
	    guest_pages_init(&m->pages, start, (size_t)(heap_end - start)) < 0)
		early_fail("vmsg guest: no memory for the heap");

	int r = guest__gnttab_init();
	if (r < 0) {
		guest_printf("vmsg guest: grant table: error %d\n", r);
		guest_shutdown(true);
	}
	r = guest__xs_init();
	if (r < 0) {
		guest_printf("vmsg guest: xenstore: error %d\n", r);
		guest_shutdown(true);
	}
	guest_printf("vmsg guest: domid %u, RAM %lu MiB, heap %lu pages, "
		     "%u grant entries, up in %lu us\n",
		     (unsigned)m->domid, (unsigned long)(m->ram_end >> 20),
		     (unsigned long)m->pages.nfree, m->gnt_entries,
		     (unsigned long)(guest_uptime_ns() / 1000));

	r = app_main((const char *)m->cmdline);
	guest_printf("vmsg guest: app_main returned %d\n", r);
	guest_shutdown(r < 0);
}

uint16_t guest_domid(void)
{
	return guest__m.domid;
}

void guest_get_stats(struct guest_stats *s)
{
	*s = guest__m.stats;
}

uint64_t guest_now_ns(void)
{
	return guest__now_ns();
}

uint64_t guest_uptime_ns(void)
{
	return guest__now_ns() - guest__m.boot_ns;
}

bool guest_stop_requested(void)
{
	return false; /* no signals here */
}

void guest_sleep_ms(unsigned ms)
{
	uint64_t until = guest__now_ns() + (uint64_t)ms * 1000000u;
	/* SCHEDOP_poll on the xenstore port, which only ever ends it early
	 * (the xenstore client reads its ring whatever the pending bit). */
	while (guest__now_ns() < until)
		(void)guest__evtchn_wait(guest__m.xs_port, until);
}

int guest_cmdline_get(const char *key, char *buf, size_t cap)
{
	return guest__cmdline_find((const char *)guest__m.cmdline, key, buf,
				   cap);
}

void *guest_alloc(size_t size)
{
	size_t n = (size + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
	if (n == 0)
		n = 1;
	void *p = guest_pages_alloc(&guest__m.pages, n);
	if (p)
		vmsg__memset(p, 0, n * XEN_PAGE_SIZE);
	return p;
}

void guest_free(void *ptr, size_t size)
{
	if (!ptr)
		return;
	size_t n = (size + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
	(void)guest_pages_free(&guest__m.pages, ptr, n ? n : 1);
}

static __attribute__((noreturn)) void shutdown_now(bool crash)
{
	struct xen_sched_shutdown s = {
		.reason = crash ? XEN_SHUTDOWN_crash : XEN_SHUTDOWN_poweroff};
	for (;;) {
		(void)guest__hypercall(XEN_HC_sched_op, XEN_SCHEDOP_shutdown,
				       (uint64_t)(uintptr_t)&s, 0);
		__asm__ __volatile__("cli; hlt");
	}
}

void guest__crash_now(void)
{
	shutdown_now(true);
}

void guest_shutdown(bool crash)
{
	guest__console_flush();
	shutdown_now(crash);
}
