/* Interrupt entry: one 16-byte stub per vector (so the IDT code finds stub
 * v at trap_stubs + 16 * v), a common path that saves every GPR into a
 * struct trap_frame (guest.h) and calls trap_dispatch, and the ring-3
 * entry/return helpers used by user_enter(). */
#include "layout.h"

/* Vectors for which the CPU pushes an error code (SDM Vol. 3A, 6.13). */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.text
	.balign 16
	.globl trap_stubs
trap_stubs:
	.set vector, 0
	.rept 256
	.balign 16
	.if !HAS_ERROR_CODE(vector)
	pushq $0
	.endif
	pushq $vector
	jmp trap_common
	.set vector, vector + 1
	.endr

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %rsp, %rdi
	call trap_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp           /* vector and error code */
	iretq

/* uint64_t user_enter(uint64_t rip, uint64_t rsp, uint64_t arg):
 * saves the callee-saved registers and RSP, then IRETQs to ring 3 at rip
 * with arg in RDI and interrupts off. Control comes back to
 * user_return_point, with the value to return in RAX, either from a trap
 * handler that called user_return() or from syscall_entry. */
	.globl user_enter
user_enter:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, user_kernel_rsp(%rip)
	pushq $(SEL_USER_DATA | 3)
	push %rsi
	pushq $2
	pushq $(SEL_USER_CODE64 | 3)
	push %rdi
	mov %rdx, %rdi
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	iretq

	.globl user_return_point
user_return_point:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* SYSCALL target (IA32_LSTAR): ring 0 on the user's stack; go straight
 * back to the kernel context user_enter saved, RAX holding the value. */
	.globl syscall_entry
syscall_entry:
	mov user_kernel_rsp(%rip), %rsp
	jmp user_return_point

	.bss
	.balign 8
	.globl user_kernel_rsp
user_kernel_rsp:
	.quad 0

	.section .note.GNU-stack, "", @progbits
