/* trap-unikernel: a unikernel that faults on purpose, for guest_xen's
 * `trap` check of the exception report (guest/traps.c): it reads an
 * address above the 4 GiB that boot.S maps, so the CPU raises a page
 * fault (vector 14) with CR2 = that address; the report must name both,
 * and the domain must end crashed, not vanish in a triple fault. */
#include <stdint.h>

#include <vmsg/guest.h>

#define TRAP_ADDR 0x123456789000ull

int app_main(const char *cmdline)
{
	(void)cmdline;
	guest_printf("TRAP reading %lx\n", (unsigned long)TRAP_ADDR);
	volatile const uint64_t *p = (volatile const uint64_t *)(uintptr_t)TRAP_ADDR;
	guest_printf("TRAP read %lx: no fault\n", (unsigned long)*p);
	return 0;
}
