/* Start-up code of the bare-metal guest programs. Two ways in:
 *  - _start64: the tandem ELF boot protocol (docs/boot.md): long mode, paging
 *    on with the low 4 GiB identity-mapped, interrupts off. This is e_entry.
 *  - _start32: Multiboot v1 (a.out kludge, so QEMU's -kernel loads this
 *    ELF64 file): 32-bit protected mode, paging off.
 * Both switch to this image's own GDT and page tables, so the program sees
 * the same machine whichever loader started it. */
#include "layout.h"

/* Multiboot v1 header, a.out-kludge form: QEMU refuses ELF64 multiboot
 * images unless the header gives the load addresses itself. It must sit in
 * the first 8 KiB of the file; the linker script puts it first. */
	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAG_AOUT_KLUDGE
	.long -(MB_MAGIC + MB_FLAG_AOUT_KLUDGE)
	.long multiboot_header  /* header_addr */
	.long __load_start      /* load_addr */
	.long _edata            /* load_end_addr */
	.long _end              /* bss_end_addr */
	.long _start32          /* entry_addr */

	.text
	.code32
	.globl _start32
_start32:
	cli
	mov $1, %esi            /* boot protocol: Multiboot */
	mov %ebx, %ebp          /* the Multiboot information structure, */
	cmp $MB_BOOTLOADER_MAGIC, %eax
	je 1f
	xor %ebp, %ebp          /* unless the loader is not Multiboot-compliant */
1:
	mov %cr4, %eax
	or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE | CR0_MP | CR0_NE | CR0_WP), %eax
	and $~(CR0_EM | CR0_TS), %eax
	mov %eax, %cr0
	lgdt boot_gdt_ptr
	ljmp $SEL_CODE64, $long_mode_common

	.code64
	.globl _start64
_start64:
	cli
	mov $2, %esi            /* boot protocol: tandem ELF */
	xor %ebp, %ebp          /* no Multiboot information */
	lea boot_stack_top(%rip), %rsp
	lgdt boot_gdt_ptr(%rip)
	lea boot_pml4(%rip), %rax
	mov %rax, %cr3
	mov %cr4, %rax
	or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
	mov %rax, %cr4
	mov %cr0, %rax
	or $(CR0_MP | CR0_NE | CR0_WP), %rax
	and $~(CR0_EM | CR0_TS), %rax
	mov %rax, %cr0
	pushq $SEL_CODE64
	lea long_mode_common(%rip), %rax
	push %rax
	lretq

long_mode_common:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov %esi, %r12d
	mov %ebp, %r13d
	/* Zero .bss (the stack included) before anything is pushed. */
	lea __bss_start(%rip), %rdi
	lea _end(%rip), %rcx
	sub %rdi, %rcx
	shr $3, %rcx
	cld
	rep stosq
	lea boot_stack_top(%rip), %rsp
	pushq $2                /* RFLAGS: only the reserved bit */
	popfq
	fninit
	mov %r12d, %edi
	mov %r13d, %esi
	call guest_start
1:	cli
	hlt
	jmp 1b

	.data
	.balign 16
	.globl boot_gdt
boot_gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF  /* 0x08 ring-0 32-bit code */
	.quad 0x00AF9A000000FFFF  /* 0x10 ring-0 64-bit code */
	.quad 0x00CF92000000FFFF  /* 0x18 ring-0 data */
	.quad 0x00CFFA000000FFFF  /* 0x20 ring-3 32-bit code */
	.quad 0x00CFF2000000FFFF  /* 0x28 ring-3 data */
	.quad 0x00AFFA000000FFFF  /* 0x30 ring-3 64-bit code */
	.quad 0, 0                /* 0x38 TSS, filled in by gdt_install_tss */
boot_gdt_end:
	.balign 8
	.word 0, 0, 0
boot_gdt_ptr:
	.word boot_gdt_end - boot_gdt - 1
	.quad boot_gdt

/* Identity map of the low 4 GiB with 2 MiB pages, user-accessible so the
 * ring-3 test can run anywhere; the top GiB (MMIO: IOAPIC, LAPIC) is
 * uncacheable. Static data, so both entry paths just load CR3. */
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80
	.section .data.pagetables, "aw"
	.balign 4096
	.globl boot_pml4
boot_pml4:
	.quad boot_pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_page_directory + 0x0000 + (PTE_P | PTE_RW | PTE_US)
	.quad boot_page_directory + 0x1000 + (PTE_P | PTE_RW | PTE_US)
	.quad boot_page_directory + 0x2000 + (PTE_P | PTE_RW | PTE_US)
	.quad boot_page_directory + 0x3000 + (PTE_P | PTE_RW | PTE_US)
	.fill 508, 8, 0
	.globl boot_page_directory
boot_page_directory:
	.set page, 0
	.rept 2048
	.if page >= 1536
	.quad (page << 21) + (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PWT | PTE_PCD)
	.else
	.quad (page << 21) + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.endif
	.set page, page + 1
	.endr

	.bss
	.balign 16
boot_stack:
	.skip BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
