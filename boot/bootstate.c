#include "boot/bootstate.h"

#include <string.h>

#include "cpu/cpu.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/sim.h"

/* Page-table entry bits (SDM Vol. 3, 4.5). */
#define PTE_PRESENT 0x1ULL
#define PTE_WRITE 0x2ULL
#define PTE_LARGE 0x80ULL
#define PAGE_2M (2ULL << 20)
#define IDENTITY_PDS 4 /* 4 page directories x 1 GiB = the first 4 GiB */

/* Flat descriptors, base 0 and limit 0xFFFFF with 4 KiB granularity, DPL 0,
 * present, accessed (the state below uses the same type values, so the
 * descriptor cache and the GDT agree). SDM Vol. 3, 3.4.5. */
#define GDT_CODE32 0x00CF9B000000FFFFULL /* G D=1, P S, type 0xB */
#define GDT_CODE64 0x00AF9B000000FFFFULL /* G L=1, P S, type 0xB */
#define GDT_DATA 0x00CF93000000FFFFULL   /* G B=1, P S, type 0x3 */

uint64_t boot_low_ram_end(const struct system *s)
{
    for (unsigned i = 0; i < s->nram; i++)
        if (s->ram[i].gpa == 0)
            return s->ram[i].size;
    return 0;
}

unsigned boot_e820_map(const struct system *s, struct e820_entry *out)
{
    unsigned n = 0;
    uint64_t low_end = boot_low_ram_end(s);
    out[n++] = (struct e820_entry){0, PC_EBDA_START, E820_RAM};
    out[n++] = (struct e820_entry){PC_EBDA_START, PC_HIMEM_START - PC_EBDA_START, E820_RESERVED};
    if (low_end > PC_HIMEM_START)
        out[n++] = (struct e820_entry){PC_HIMEM_START, low_end - PC_HIMEM_START, E820_RAM};
    for (unsigned i = 0; i < s->nram && n < BOOT_E820_MAX; i++)
        if (s->ram[i].gpa != 0)
            out[n++] = (struct e820_entry){s->ram[i].gpa, s->ram[i].size, E820_RAM};
    return n;
}

int boot_copy_to_ram(struct system *s, uint64_t gpa, const void *src, uint64_t len,
                     const char *what)
{
    if (len == 0)
        return 0;
    uint8_t *host = gpa + len > gpa ? bus_ram_ptr(&s->bus, gpa, len) : NULL;
    if (!host) {
        err_set("%s: guest-physical range 0x%llx-0x%llx is not all RAM (the machine has %llu MiB,"
                " low RAM ends at 0x%llx)",
                what, (unsigned long long)gpa, (unsigned long long)(gpa + len - 1),
                (unsigned long long)(s->mem_size >> 20), (unsigned long long)boot_low_ram_end(s));
        return -1;
    }
    memcpy(host, src, len);
    return 0;
}

int boot_zero_ram(struct system *s, uint64_t gpa, uint64_t len, const char *what)
{
    if (len == 0)
        return 0;
    uint8_t *host = gpa + len > gpa ? bus_ram_ptr(&s->bus, gpa, len) : NULL;
    if (!host) {
        err_set("%s: guest-physical range 0x%llx-0x%llx is not all RAM (the machine has %llu MiB)",
                what, (unsigned long long)gpa, (unsigned long long)(gpa + len - 1),
                (unsigned long long)(s->mem_size >> 20));
        return -1;
    }
    memset(host, 0, len);
    return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int boot_write_tables(struct system *s)
{
    uint8_t gdt[BOOT_GDT_ENTRIES * 8] = {0};
    put_le64(gdt + BOOT_SEL_CODE32, GDT_CODE32);
    put_le64(gdt + BOOT_SEL_CODE64, GDT_CODE64);
    put_le64(gdt + BOOT_SEL_DATA, GDT_DATA);
    if (boot_copy_to_ram(s, PC_BOOT_GDT, gdt, sizeof(gdt), "boot GDT") < 0 ||
        boot_zero_ram(s, PC_BOOT_IDT, 8, "boot IDT") < 0)
        return -1;

    uint8_t pml4[4096] = {0}, pdpt[4096] = {0}, pd[4096];
    put_le64(pml4, PC_BOOT_PDPT | PTE_PRESENT | PTE_WRITE);
    if (boot_copy_to_ram(s, PC_BOOT_PML4, pml4, sizeof(pml4), "boot PML4") < 0)
        return -1;
    for (unsigned d = 0; d < IDENTITY_PDS; d++) {
        uint64_t pd_addr = PC_BOOT_PD + d * 4096ULL;
        put_le64(pdpt + 8 * d, pd_addr | PTE_PRESENT | PTE_WRITE);
        for (unsigned e = 0; e < 512; e++) {
            uint64_t phys = ((uint64_t)d * 512 + e) * PAGE_2M;
            put_le64(pd + 8 * e, phys | PTE_PRESENT | PTE_WRITE | PTE_LARGE);
        }
        if (boot_copy_to_ram(s, pd_addr, pd, sizeof(pd), "boot page directory") < 0)
            return -1;
    }
    return boot_copy_to_ram(s, PC_BOOT_PDPT, pdpt, sizeof(pdpt), "boot PDPT");
}

static void set_tables(struct x86_state *st)
{
    st->gdtr.base = PC_BOOT_GDT;
    st->gdtr.limit = BOOT_GDT_ENTRIES * 8 - 1;
    st->idtr.base = PC_BOOT_IDT;
    st->idtr.limit = 0;
}

void boot_state_long_mode(struct x86_state *st, uint64_t rip, uint64_t rsp)
{
    x86_state_reset(st);
    /* x86_state_long_mode uses selectors 0x10 (code) and 0x18 (data). */
    _Static_assert(BOOT_SEL_CODE64 == 0x10 && BOOT_SEL_DATA == 0x18,
                   "boot GDT layout must match x86_state_long_mode");
    x86_state_long_mode(st, PC_BOOT_PML4, rip, rsp);
    set_tables(st);
}

static void flat_segment(struct x86_segment *sg, uint16_t sel, uint8_t type)
{
    memset(sg, 0, sizeof(*sg));
    sg->selector = sel;
    sg->limit = 0xffffffff;
    sg->type = type;
    sg->s = 1;
    sg->present = 1;
    sg->db = 1;
    sg->g = 1;
}

void boot_state_protected_mode(struct x86_state *st, uint32_t eip, uint32_t esp)
{
    x86_state_reset(st);
    for (int i = 0; i < S_NSEGS; i++)
        flat_segment(&st->seg[i], BOOT_SEL_DATA, 0x3);
    flat_segment(&st->seg[S_CS], BOOT_SEL_CODE32, 0xb);
    st->cr0 = X86_CR0_PE | X86_CR0_ET;
    st->rip = eip;
    st->gpr[R_RSP] = esp;
    st->rflags = X86_FLAG_FIXED;
    st->run_state = X86_RUNNABLE;
    set_tables(st);
}

int boot_loader_attach(struct sim_object *o, struct sim_object *cpu_ref, struct system **sys,
                       struct cpu **cpu)
{
    *sys = system_of(o);
    if (!*sys) {
        err_set("a loader must be placed under a System object (e.g. system.loader)");
        return -1;
    }
    struct sim_object *c = cpu_ref ? cpu_ref : sim_find_type(o->sim, "CPU");
    if (!c) {
        err_set("no CPU to start: the machine has no object of type CPU");
        return -1;
    }
    *cpu = SIM_CAST(struct cpu, c);
    return 0;
}

void boot_start_cpu(struct cpu *cpu, const struct x86_state *entry)
{
    struct x86_state st = *entry;
    st.msr.apic_base = cpu->state.msr.apic_base;
    cpu_set_state(cpu, &st);
}
