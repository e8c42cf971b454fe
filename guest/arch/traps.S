/* CPU exception entry for the vmsg unikernel (x86-64): one stub per vector
 * 0..31 that makes the frame uniform (a 0 for the vectors where the CPU
 * pushes no error code, then the vector number) and jumps to trap_common,
 * which calls guest__trap(frame) on the same stack. guest__trap reports
 * and powers the domain off as crashed; it never returns, so no register
 * is saved. Without this table any exception was a triple fault: the
 * domain vanished with nothing said (traps.c).
 */
	.section .text
	.code64

/* The vectors for which the CPU pushes an error code: #DF 8, #TS 10,
 * #NP 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21, #VC 29, #SX 30. */
.macro TRAP vec
	.balign 16
trap_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp trap_common
.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	TRAP \v
	.endr

trap_common:
	mov %rsp, %rdi			/* struct guest_trap_frame * */
	and $-16, %rsp			/* the ABI's call alignment */
	call guest__trap
1:	cli
	hlt
	jmp 1b

	.section .rodata
	.balign 8
	.globl guest__trap_stubs
guest__trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad trap_\v
	.endr

	.section .note.GNU-stack, "", @progbits
