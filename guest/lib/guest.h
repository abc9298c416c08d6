/* The runtime library of tandem's bare-metal guest programs: console output,
 * port and MMIO access, the IDT, LAPIC/IOAPIC registers, ring-3 entry and the
 * test verdict/exit protocol. See guest/README.md. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* ---- Port I/O and MMIO ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)(uintptr_t)addr = v; }
static inline uint64_t mmio_read64(uint64_t addr) { return *(volatile uint64_t *)(uintptr_t)addr; }
static inline void mmio_write64(uint64_t addr, uint64_t v) { *(volatile uint64_t *)(uintptr_t)addr = v; }

/* A pointer to identity-mapped physical memory. The empty asm keeps GCC
 * from treating a small constant address as a null-pointer offset. */
static inline void *phys_ptr(uint64_t addr)
{
    void *p;
    __asm__("" : "=r"(p) : "0"(addr));
    return p;
}

/* ---- CPU helpers ---- */
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void invlpg(uint64_t addr) { __asm__ volatile("invlpg (%0)" ::"r"(addr) : "memory"); }
static inline void cpu_sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cpu_cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* STI;HLT: the STI shadow makes the pair atomic, so an interrupt that
 * arrives in between still wakes the HLT. */
static inline void cpu_sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* ---- Console: COM1 (0x3F8), polled ---- */
#define UART_COM1 0x3F8
void uart_init(void);
void uart_putc(char c);
void uart_puts(const char *s);
/* printf subset: %s %c %d %i %u %x %X %p %%, the l/ll/z length modifiers,
 * and a field width with optional '0' flag (e.g. %08lx). */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Interrupts ---- */
/* The stack layout trap_common (traps.S) builds: saved GPRs, then the
 * vector and error code (0 when the CPU pushes none), then the CPU frame. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*trap_handler_fn)(struct trap_frame *f);

enum {
    VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5,
    VEC_UD = 6, VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11, VEC_SS = 12,
    VEC_GP = 13, VEC_PF = 14, VEC_MF = 16, VEC_AC = 17, VEC_MC = 18, VEC_XM = 19,
};

/* Installs the 256-entry IDT (every vector has a stub; an unregistered one
 * fails the test naming the vector). */
void idt_init(void);
/* Routes vector to handler; dpl 3 lets ring 3 raise it with INT n. */
void idt_register(uint8_t vector, trap_handler_fn handler, unsigned dpl);
void idt_unregister(uint8_t vector);
const char *exception_name(uint64_t vector);

/* ---- GDT/TSS and ring 3 ---- */
void gdt_install_tss(void);
/* Enters ring 3 at rip with RSP=rsp and RDI=arg (interrupts off) and returns
 * the value passed back to ring 0 by user_return() from a trap handler, or
 * the RAX of a SYSCALL (after syscall_enable()). */
uint64_t user_enter(uint64_t rip, uint64_t rsp, uint64_t arg);
void user_return(struct trap_frame *f, uint64_t value);
void syscall_enable(void);

/* ---- Page tables (the static 4 GiB identity map built in start.S) ---- */
/* The 2048 2 MiB page-directory entries covering 0-4 GiB. */
extern uint64_t boot_page_directory[2048];
#define PTE_PRESENT 0x1ULL
#define PTE_WRITABLE 0x2ULL
#define PTE_USER 0x4ULL
#define PTE_LARGE 0x80ULL
#define PAGE_2M (2ULL << 20)

/* ---- LAPIC (xAPIC MMIO at 0xFEE00000) and IOAPIC (0xFEC00000) ---- */
#define LAPIC_BASE 0xFEE00000ULL
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LOW 0x300
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3E0
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_DIVIDE_BY_1 0xB
#define LAPIC_TIMER_DIVIDE_BY_16 0x3
#define LAPIC_SPURIOUS_VECTOR 0xFF
static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
/* Software-enables the LAPIC (SVR bit 8, spurious vector 0xFF handled) with
 * TPR 0 and LINT0/LINT1/timer/error masked. */
void lapic_enable(void);

#define IOAPIC_BASE 0xFEC00000ULL
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_REDIR 0x10 /* pin n: low dword 0x10 + 2n, high 0x11 + 2n */
#define IOAPIC_REDIR_MASKED (1u << 16)
#define IOAPIC_REDIR_LEVEL (1u << 15)
uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t v);
/* Fixed delivery, physical destination apic_id, edge, active high. */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t apic_id);
void ioapic_mask(unsigned pin);

/* ---- Legacy 8259 PICs ---- */
/* Masks both PICs: a BIOS (QEMU's) leaves IRQ0 unmasked at vector 8, which
 * would look like a double fault once interrupts are on. */
void pic_mask_all(void);

/* ---- Test verdict and exit ----
 * Each program defines test_name and test_main(). The runtime prints
 * "TEST <name>: PASS" when test_main returns and
 * "TEST <name>: FAIL <reason>" from test_fail(), then exits: through the
 * tandem guest-control device (guest/include/tandemctl.h) with code
 * TEST_EXIT_PASS/FAIL when it is present, else through the isa-debug-exit
 * port 0xF4 with EXIT_PORT_PASS/FAIL (QEMU exits with status
 * (value << 1) | 1: 33 for a pass, 35 for a failure). */
#define TEST_EXIT_PASS 0
#define TEST_EXIT_FAIL 1
#define EXIT_PORT 0xF4
#define EXIT_PORT_PASS 0x10
#define EXIT_PORT_FAIL 0x11
extern const char test_name[];
void test_main(void);
_Noreturn void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void test_pass(void);
/* How this program was started: BOOT_MULTIBOOT or BOOT_TANDEM_ELF. */
enum boot_protocol { BOOT_MULTIBOOT = 1, BOOT_TANDEM_ELF = 2 };
extern enum boot_protocol boot_protocol;
/* Physical address of the Multiboot information structure (0 when not
 * booted through Multiboot). */
extern uint32_t multiboot_info;

#define CHECK(cond, ...) do { if (!(cond)) test_fail(__VA_ARGS__); } while (0)
#define CHECK_EQ(got, want, what) do { \
    uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want); \
    if (got_ != want_) test_fail("%s: got 0x%lx, want 0x%lx", (what), got_, want_); \
} while (0)

/* ---- Freestanding string functions (GCC may emit calls to these) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
