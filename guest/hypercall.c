/* The hypercall page and HVM parameters.
 *
 * A PVH guest finds Xen by its CPUID signature ("XenVMMXenVMM" in one of
 * the leaves 0x40000000 + n * 0x100), then writes the physical address of
 * a page to the MSR that leaf + 2 names; Xen fills the page with one
 * 32-byte stub per hypercall (vmcall/vmmcall). Arguments go in rdi, rsi,
 * rdx, r10, r8, the result comes back in rax.
 */
#include "guest_internal.h"

#include "vmsg_errno.h"

extern uint8_t guest_hypercall_page[4096]; /* arch/boot.S, page-aligned */

long guest__hypercall(unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
	long ret;
	register uint64_t r10 __asm__("r10") = 0;
	register uint64_t r8 __asm__("r8") = 0;
	void *stub = guest_hypercall_page + nr * 32;

	/* Xen may clobber the argument registers (debug builds do on
	 * purpose): declare them all as outputs. */
	__asm__ __volatile__("call *%[stub]"
			     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3),
			       "+r"(r10), "+r"(r8)
			     : [stub] "r"(stub)
			     : "memory", "rcx", "r9", "r11");
	return ret;
}

static void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ __volatile__("cpuid"
			     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			     : "a"(leaf), "c"(0));
}

int guest__hypercall_init(void)
{
	uint32_t r[4];
	for (uint32_t leaf = 0x40000000u; leaf < 0x40010000u; leaf += 0x100) {
		cpuid(leaf, r);
		/* "XenVMMXenVMM" in ebx, ecx, edx */
		if (r[1] != 0x566e6558u || r[2] != 0x65584d4du ||
		    r[3] != 0x4d4d566eu)
			continue;
		if (r[0] < leaf + 2)
			return -ENOTSUP;
		cpuid(leaf + 2, r); /* eax: pages, ebx: the MSR */
		uint64_t pa = (uint64_t)(uintptr_t)guest_hypercall_page;
		__asm__ __volatile__("wrmsr" ::"c"(r[1]), "a"((uint32_t)pa),
				     "d"((uint32_t)(pa >> 32)));
		return 0;
	}
	return -ENOTSUP; /* not on Xen */
}

int guest__hvm_param(uint32_t index, uint64_t *value)
{
	struct xen_hvm_param p = {.domid = XEN_DOMID_SELF, .index = index};
	long rc = guest__hypercall(XEN_HC_hvm_op, XEN_HVMOP_get_param,
				   (uint64_t)(uintptr_t)&p, 0);
	if (rc < 0)
		return (int)rc;
	*value = p.value;
	return 0;
}
