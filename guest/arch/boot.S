/* PVH entry for the vmsg unikernel (x86-64).
 *
 * Xen loads the ELF at its physical addresses and jumps to the address in
 * the XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode, paging off,
 * with %ebx = physical address of struct hvm_start_info. We identity-map
 * the first 4 GiB with 2 MiB pages (RAM, our free guest-physical window
 * for grant mappings, the console and xenstore pages below 4 GiB), turn on
 * long mode and call guest_start(start_info) on our own stack, with
 * interrupts off for good.
 */
#define ELFNOTE_PHYS32_ENTRY 18
#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define PTE_P_RW 0x3
#define PDE_LARGE 0x83 /* present, writable, 2 MiB */
#define SEL_CODE64 0x08
#define SEL_DATA 0x10

	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long guest_entry32
	.balign 4

	.section .text.entry, "ax", @progbits
	.code32
	.globl guest_entry32
guest_entry32:
	cli
	cld
	mov %ebx, %ebp			/* start_info, kept across the setup */
	lgdt boot_gdtr
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $boot_stack_top, %esp

	/* L4[0] -> L3; L3[0..3] -> four page directories */
	mov $boot_l3, %eax
	or $PTE_P_RW, %eax
	mov %eax, boot_l4
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	add $boot_l2, %eax
	or $PTE_P_RW, %eax
	mov %eax, boot_l3(,%ecx,8)
	inc %ecx
	cmp $4, %ecx
	jb 1b
	/* 4 x 512 entries: entry i maps i * 2 MiB */
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $21, %eax
	or $PDE_LARGE, %eax
	mov %eax, boot_l2(,%ecx,8)
	movl $0, boot_l2+4(,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jb 2b

	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $boot_l4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
	ljmp $SEL_CODE64, $entry64

	.code64
entry64:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp			/* end of the frame chain */
	mov %ebx, %edi			/* guest_start(start_info) */
	call guest_start
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
boot_gdt_end:
boot_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .bss
	.balign 4096
boot_l4:	.skip 4096
boot_l3:	.skip 4096
boot_l2:	.skip 4 * 4096
	.globl guest_hypercall_page
guest_hypercall_page:	.skip 4096
boot_stack:	.skip 65536
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
