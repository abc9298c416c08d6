/* `lockstep desc`: LAR, LSL, VERR and VERW at CPL 3, the real CPU against
 * the interpreter, over the selectors of the host kernel's GDT.
 *
 * The ptrace lockstep cannot do this: its interpreter is the user-level
 * one (no descriptor tables: it stops before system instructions), and the
 * host's GDT lives in kernel memory, which this process cannot read (nor
 * locate with SGDT under UMIP). So the harness rebuilds the GDT from
 * Linux's definition (x86-64, arch/x86/include/asm/segment.h and the
 * gdt_page initializer in arch/x86/kernel/cpu/common.c, 5.x/6.x): kernel
 * and user code/data, TSS and LDT slots, the TLS slots (empty: this
 * process never calls set_thread_area) and the CPUNODE segment whose limit
 * is (node << 12) | cpu. It runs each instruction natively (selectors
 * 0..0x10f, every RPL, GDT and LDT, all operand sizes) and on the
 * interpreter engine (a machine with that GDT, no LDT, CPL 3), and compares
 * ZF and the destination. A mismatch names the selector; where the CPU's
 * answer contradicts the replica (a kernel with another GDT), the message
 * says so. The process pins itself to one CPU so CPUNODE's limit is known. */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "lockstep.h"
#include "mem/bus.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/sim.h"

#define GDT 0x1000ull
#define PML4 0x3000ull
#define CODE 0x10000ull
#define GDT_ENTRIES 16 /* Linux x86-64: GDT_ENTRIES */

static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned flags_access)
{
    /* flags_access as Linux's GDT_ENTRY_INIT: bits 0-7 the access byte,
     * bits 12-15 the flags nibble (G, D/B, L, AVL). */
    return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)(flags_access & 0xff) << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
           ((uint64_t)((flags_access >> 12) & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

/* Linux's gdt_page for this CPU. */
static void linux_gdt(uint64_t gdt[GDT_ENTRIES], unsigned cpu, unsigned node)
{
    memset(gdt, 0, GDT_ENTRIES * sizeof(gdt[0]));
    gdt[1] = seg_desc(0, 0xfffff, 0xc09b);  /* KERNEL32_CS: DESC_CODE32 */
    gdt[2] = seg_desc(0, 0xfffff, 0xa09b);  /* KERNEL_CS: DESC_CODE64 */
    gdt[3] = seg_desc(0, 0xfffff, 0xc093);  /* KERNEL_DS: DESC_DATA64 */
    gdt[4] = seg_desc(0, 0xfffff, 0xc0fb);  /* DEFAULT_USER32_CS */
    gdt[5] = seg_desc(0, 0xfffff, 0xc0f3);  /* DEFAULT_USER_DS */
    gdt[6] = seg_desc(0, 0xfffff, 0xa0fb);  /* DEFAULT_USER_CS */
    gdt[8] = seg_desc(0, 0x4087, 0x008b);   /* TSS (busy, DPL 0); 9: its upper half */
    gdt[10] = seg_desc(0, 0xffff, 0x0082);  /* LDT slot (DPL 0); 11: its upper half */
    /* CPUNODE: read-only expand-down data, DPL 3, 32-bit, byte granular. */
    gdt[15] = seg_desc(0, (node << 12) | cpu, 0x40f5);
}

enum probe { LAR64, LAR32, LAR16, LSL64, LSL32, LSL16, VERR, VERW, NPROBES };
static const char *const probe_names[NPROBES] = {"lar r64", "lar r32", "lar r16", "lsl r64",
                                                 "lsl r32", "lsl r16", "verr", "verw"};
/* The same instructions for the interpreter, with RCX as the selector and
 * RAX as the destination. */
static const uint8_t probe_code[NPROBES][4] = {
    {0x48, 0x0f, 0x02, 0xc1}, {0x0f, 0x02, 0xc1}, {0x66, 0x0f, 0x02, 0xc1},
    {0x48, 0x0f, 0x03, 0xc1}, {0x0f, 0x03, 0xc1}, {0x66, 0x0f, 0x03, 0xc1},
    {0x0f, 0x00, 0xe1},       {0x0f, 0x00, 0xe9},
};
static const uint8_t probe_len[NPROBES] = {4, 3, 4, 4, 3, 4, 3, 3};

#define SENTINEL 0x5555555555555555ull

/* Runs probe p natively on selector sel; returns ZF, *v the destination
 * (RAX-like: starts as SENTINEL). */
static bool run_native(enum probe p, uint16_t sel, uint64_t *v)
{
    uint64_t d = SENTINEL, s = sel;
    uint8_t z = 0;
    switch (p) {
    case LAR64: __asm__ volatile("lar %q2, %q0\n\tsetz %1" : "+r"(d), "=q"(z) : "r"(s) : "cc"); break;
    case LAR32: __asm__ volatile("lar %k2, %k0\n\tsetz %1" : "+r"(d), "=q"(z) : "r"(s) : "cc"); break;
    case LAR16: __asm__ volatile("lar %w2, %w0\n\tsetz %1" : "+r"(d), "=q"(z) : "r"(s) : "cc"); break;
    case LSL64: __asm__ volatile("lsl %q2, %q0\n\tsetz %1" : "+r"(d), "=q"(z) : "r"(s) : "cc"); break;
    case LSL32: __asm__ volatile("lsl %k2, %k0\n\tsetz %1" : "+r"(d), "=q"(z) : "r"(s) : "cc"); break;
    case LSL16: __asm__ volatile("lsl %w2, %w0\n\tsetz %1" : "+r"(d), "=q"(z) : "r"(s) : "cc"); break;
    case VERR: __asm__ volatile("verr %w1\n\tsetz %0" : "=q"(z) : "r"(s) : "cc"); break;
    case VERW: __asm__ volatile("verw %w1\n\tsetz %0" : "=q"(z) : "r"(s) : "cc"); break;
    default: break;
    }
    *v = d;
    return z;
}

struct desc_machine {
    struct simulation sim;
    struct system *sys;
    struct cpu *cpu;
};

static int machine_build(struct desc_machine *m, const uint64_t gdt[GDT_ENTRIES])
{
    memset(m, 0, sizeof(*m));
    sim_init(&m->sim);
    log_set_quiet(true);
    struct sim_object *s = sim_create(&m->sim, "System", "system");
    struct sim_object *c = s ? sim_create(&m->sim, "CPU", "system.cpu0") : NULL;
    if (!c || param_set_text(s, sim_type_param(s->type, "mem_size"), "16M") < 0 ||
        param_set_text(c, sim_type_param(c->type, "engine"), "interp") < 0 || sim_instantiate(&m->sim) < 0)
        return -1;
    m->sys = SIM_CAST(struct system, s);
    m->cpu = SIM_CAST(struct cpu, c);
    memcpy(bus_ram_ptr(&m->sys->bus, GDT, GDT_ENTRIES * 8), gdt, GDT_ENTRIES * 8);
    /* The first 2 MiB identity-mapped, user-accessible. */
    uint64_t pt[3] = {(PML4 + 0x1000) | 7, (PML4 + 0x2000) | 7, 0x87};
    for (int i = 0; i < 3; i++)
        memcpy(bus_ram_ptr(&m->sys->bus, PML4 + 0x1000 * (uint64_t)i, 8), &pt[i], 8);
    return 0;
}

/* Runs probe p on the interpreter at CPL 3 (CS 0x33, SS 0x2b as Linux runs
 * user code, LDTR null); returns ZF, *v the destination. -1: the
 * instruction did not retire (a fault or an engine error). */
static int run_interp(struct desc_machine *m, enum probe p, uint16_t sel, uint64_t *v)
{
    uint8_t *code = bus_ram_ptr(&m->sys->bus, CODE, 8);
    memcpy(code, probe_code[p], probe_len[p]);
    code[probe_len[p]] = 0xeb; /* jmp . */
    code[probe_len[p] + 1] = 0xfe;
    struct x86_state st;
    x86_state_reset(&st);
    x86_state_long_mode(&st, PML4, CODE, CODE + 0x1000);
    st.seg[S_CS] = (struct x86_segment){.selector = 0x33, .limit = 0xffffffff, .type = 0xb, .s = 1,
                                        .dpl = 3, .present = 1, .l = 1, .g = 1};
    st.seg[S_SS] = (struct x86_segment){.selector = 0x2b, .limit = 0xffffffff, .type = 0x3, .s = 1,
                                        .dpl = 3, .present = 1, .db = 1, .g = 1};
    st.gdtr = (struct x86_dtable){.base = GDT, .limit = GDT_ENTRIES * 8 - 1};
    st.ldtr = (struct x86_segment){.unusable = 1};
    st.gpr[R_RAX] = SENTINEL;
    st.gpr[R_RCX] = sel;
    cpu_set_state(m->cpu, &st);
    sim_run(&m->sim, sim_now(&m->sim) + m->cpu->clock.period); /* one instruction */
    if (cpu_sync_state(m->cpu) < 0)
        return -1;
    const struct x86_state *out = &m->cpu->state;
    if (out->rip != CODE + probe_len[p])
        return -1;
    *v = out->gpr[R_RAX];
    return (out->rflags & X86_FLAG_ZF) != 0;
}

int ls_run_desc(void)
{
    unsigned cpu, node;
    if (getcpu(&cpu, &node) < 0) {
        perror("lockstep desc: getcpu");
        return 2;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) < 0 || getcpu(&cpu, &node) < 0) {
        perror("lockstep desc: pinning to one CPU");
        return 2;
    }
    uint64_t gdt[GDT_ENTRIES];
    linux_gdt(gdt, cpu, node);
    static struct desc_machine m;
    if (machine_build(&m, gdt) < 0) {
        fprintf(stderr, "lockstep desc: machine: %s\n", err_get());
        return 2;
    }
    unsigned probes = 0, accepted = 0, bad = 0;
    for (unsigned sel = 0; sel < GDT_ENTRIES * 8 + 16; sel++) {
        for (enum probe p = 0; p < NPROBES; p++) {
            uint64_t nv, iv;
            bool nz = run_native(p, (uint16_t)sel, &nv);
            int iz = run_interp(&m, p, (uint16_t)sel, &iv);
            probes++;
            accepted += nz;
            if (iz == (int)nz && iv == nv)
                continue;
            bad++;
            if (iz < 0) {
                fprintf(stderr, "DIVERGENCE: %s %#x: the CPU gives ZF=%d %#llx, the interpreter did not retire it\n",
                        probe_names[p], sel, nz, (unsigned long long)nv);
                continue;
            }
            unsigned index = sel >> 3;
            bool in_replica = !(sel & 4) && index < GDT_ENTRIES;
            fprintf(stderr, "DIVERGENCE: %s %#x: CPU ZF=%d %#llx, interpreter ZF=%d %#llx%s\n", probe_names[p],
                    sel, nz, (unsigned long long)nv, iz, (unsigned long long)iv,
                    in_replica && nz && (p == LAR64 && (nv ^ (gdt[index] >> 32)) & 0x00ffff00)
                        ? " (the host's descriptor differs from Linux's as rebuilt here)"
                        : "");
        }
    }
    sim_destroy(&m.sim);
    printf("lockstep desc: %u probes (%u with ZF=1 on the CPU), %u divergences (cpu %u node %u)\n", probes,
           accepted, bad, cpu, node);
    return bad ? 1 : 0;
}
