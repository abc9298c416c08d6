/* What every tandem loader shares: the guest memory map it reports (e820),
 * checked copies of file contents into guest RAM, the boot page tables and
 * GDT, and the entry register states (docs/boot.md describes them all).
 *
 * Boot structures (mem/pc_layout.h):
 *   PC_BOOT_GDT   GDT: 0x00 null, 0x08 flat 32-bit code, 0x10 flat 64-bit
 *                 code, 0x18 flat data (BOOT_SEL_* below)
 *   PC_BOOT_IDT   empty IDT (limit 0): an exception before the guest installs
 *                 its own IDT shuts the machine down instead of running garbage
 *   PC_BOOT_PML4, PC_BOOT_PDPT, PC_BOOT_PD: identity map of the first 4 GiB
 *                 with 2 MiB pages (4 page directories)
 *   PC_BOOT_STACK initial stack pointer of the ELF and Multiboot entries */
#ifndef TANDEM_BOOT_BOOTSTATE_H
#define TANDEM_BOOT_BOOTSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/state.h"

struct system;
struct simulation;
struct sim_object;
struct cpu;

#define BOOT_SEL_CODE32 0x08
#define BOOT_SEL_CODE64 0x10
#define BOOT_SEL_DATA 0x18
#define BOOT_GDT_ENTRIES 4

/* e820 memory types (ACPI address range types). */
#define E820_RAM 1
#define E820_RESERVED 2

struct e820_entry {
    uint64_t addr, size;
    uint32_t type;
};

#define BOOT_E820_MAX 8

/* The machine's memory map as firmware would report it: usable
 * 0..PC_EBDA_START, reserved PC_EBDA_START..1 MiB (EBDA, VGA, ROMs, ACPI
 * tables), usable 1 MiB..end of low RAM, and usable high RAM from 4 GiB.
 * Returns the number of entries written to out (at most BOOT_E820_MAX). */
unsigned boot_e820_map(const struct system *s, struct e820_entry *out);
/* End of the RAM region starting at 0 (the low RAM). */
uint64_t boot_low_ram_end(const struct system *s);

/* Copies len bytes to guest-physical gpa; the range must lie wholly in
 * RAM. what names the data in the error ("kernel segment 2 of foo.elf").
 * 0, or -1 with err_set(). */
int boot_copy_to_ram(struct system *s, uint64_t gpa, const void *src, uint64_t len,
                     const char *what);
/* The same for zero-filling (bss). */
int boot_zero_ram(struct system *s, uint64_t gpa, uint64_t len, const char *what);

/* Writes the GDT, the empty IDT and the 4 GiB identity map into guest RAM.
 * 0, or -1 with err_set() when RAM does not cover the boot structures. */
int boot_write_tables(struct system *s);

/* Entry states, each starting from the RESET state (x86_state_reset) and
 * matching the GDT and IDT boot_write_tables() writes. */
/* 64-bit long mode, paging on through the identity map, interrupts off,
 * SSE enabled (CR4.OSFXSR|OSXMMEXCPT), CS=0x10, other segments 0x18. */
void boot_state_long_mode(struct x86_state *st, uint64_t rip, uint64_t rsp);
/* 32-bit flat protected mode, paging off, interrupts off, CS=0x08, other
 * segments 0x18. */
void boot_state_protected_mode(struct x86_state *st, uint32_t eip, uint32_t esp);

/* For a loader sim object's init: the System it sits under and the CPU it
 * starts (cpu_ref when set, a "CPU" object parameter, else the first object
 * of type "CPU"). 0, or -1 with err_set(). */
int boot_loader_attach(struct sim_object *o, struct sim_object *cpu_ref, struct system **sys,
                       struct cpu **cpu);

/* For a loader's startup: gives the CPU the entry state, keeping what is
 * the CPU's own (its APIC base, where only CPU 0 is the bootstrap
 * processor). */
void boot_start_cpu(struct cpu *cpu, const struct x86_state *entry);

#endif
