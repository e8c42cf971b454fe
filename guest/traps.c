/* CPU exceptions: an interrupt descriptor table whose 32 exception gates
 * lead to arch/traps.S and then guest__trap(), which says what happened
 * (vector, error code, RIP, RSP, CR2 and the words on top of the
 * interrupted stack) on the console and in Xen's log, and powers the
 * domain off as crashed. Without it an exception in the unikernel was a
 * triple fault: Xen restarted or killed the domain and nobody learnt
 * where it stopped. Interrupts stay off for good (boot.S), so only the
 * exception vectors are filled in.
 */
#include "guest_internal.h"

#define SEL_CODE64 0x08		/* arch/boot.S's GDT */
#define GATE_INTR_PRESENT 0x8e	/* present, DPL 0, 64-bit interrupt gate */
#define TRAP_VECTORS 32

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "idt gate");

/* What arch/traps.S leaves on the stack, lowest address first. */
struct guest_trap_frame {
	uint64_t vector;
	uint64_t error;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

extern const uint64_t guest__trap_stubs[TRAP_VECTORS];
void guest__trap(const struct guest_trap_frame *f);

static struct idt_gate idt[TRAP_VECTORS] __attribute__((aligned(16)));

void guest__traps_init(void)
{
	for (unsigned i = 0; i < TRAP_VECTORS; i++) {
		uint64_t a = guest__trap_stubs[i];
		idt[i] = (struct idt_gate){
			.off_lo = (uint16_t)a,
			.sel = SEL_CODE64,
			.type = GATE_INTR_PRESENT,
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1,
					  (uint64_t)(uintptr_t)idt};
	__asm__ __volatile__("lidt %0" ::"m"(idtr));
}

static const char *const names[TRAP_VECTORS] = {
	[0] = "divide error", [1] = "debug", [2] = "NMI",
	[3] = "breakpoint", [4] = "overflow", [5] = "bound range",
	[6] = "invalid opcode", [7] = "device not available",
	[8] = "double fault", [10] = "invalid TSS",
	[11] = "segment not present", [12] = "stack fault",
	[13] = "general protection", [14] = "page fault",
	[16] = "x87 error", [17] = "alignment check", [18] = "machine check",
	[19] = "SIMD error", [21] = "control protection",
};

void guest__trap(const struct guest_trap_frame *f)
{
	static int depth;
	/* A fault while reporting one: stop here rather than recurse. */
	if (depth++)
		guest__crash_now();
	uint64_t cr2;
	__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
	const char *name = f->vector < TRAP_VECTORS && names[f->vector]
				   ? names[f->vector]
				   : "reserved";
	guest__console_panic();
	guest_printf("vmsg guest: CPU exception %lu (%s), error %lx, at rip %lx, "
		     "rsp %lx, rflags %lx, cr2 %lx\n",
		     (unsigned long)f->vector, name, (unsigned long)f->error,
		     (unsigned long)f->rip, (unsigned long)f->rsp,
		     (unsigned long)f->rflags, (unsigned long)cr2);
	/* The interrupted stack's top words: return addresses to look up
	 * with addr2line -e NAME.elf (the image has no symbols to print). */
	const uint64_t *sp = (const uint64_t *)(uintptr_t)f->rsp;
	if (f->rsp >= 4096 && f->rsp < guest__m.ram_end && (f->rsp & 7) == 0)
		for (unsigned i = 0; i < 8; i++)
			guest_printf("vmsg guest:   [rsp+%u] %lx\n", i * 8,
				     (unsigned long)sp[i]);
	guest_shutdown(true);
}
