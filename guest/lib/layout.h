/* Segment selectors and boot constants shared by the start-up assembly and
 * the C runtime of the bare-metal guest programs. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* GDT layout. 0x10/0x18 match the tandem ELF boot protocol; the user
 * selectors follow the SYSCALL/SYSRET rule (STAR[63:48] = SEL_USER_BASE:
 * SYSRET loads SS = base + 8 and 64-bit CS = base + 16). */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA 0x18
#define SEL_USER_BASE 0x20 /* holds a 32-bit user code segment */
#define SEL_USER_DATA 0x28
#define SEL_USER_CODE64 0x30
#define SEL_TSS 0x38       /* 16-byte system descriptor: 0x38 and 0x40 */
#define GDT_ENTRIES 10

#define BOOT_STACK_SIZE 0x4000

/* Multiboot v1 header fields (Multiboot Specification 0.6.96, 3.1). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAG_AOUT_KLUDGE (1 << 16)
#define MB_BOOTLOADER_MAGIC 0x2BADB002

/* Control-register and MSR bits set at entry. */
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_TS (1 << 3)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xC0000080
#define EFER_SCE (1 << 0)
#define EFER_LME (1 << 8)

#endif
