/* The interpreter's cycle accounting (docs/timing.md): a table of base
 * costs per instruction class, and the glue that charges instruction
 * fetches, data accesses, TLB lookups and branch outcomes to the timing
 * models and records where the cycles went in a CPI stack.
 *
 * The model is in-order and blocking: an instruction costs its class's base
 * cycles, plus the instruction-fetch stall beyond an L1I hit, plus the full
 * latency of each data access (load-to-use on an in-order pipeline), plus
 * TLB walk cycles, plus the mispredict penalty; an exception or interrupt
 * costs its delivery (timing_event). Every charge function
 * returns the cycles it charged so the CPU adds them to its own clock
 * (cpu->cycles); the CPI stack is statistics and restarts on a stats
 * reset. */
#ifndef TANDEM_CPU_TIMING_H
#define TANDEM_CPU_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/bpred.h"
#include "cpu/cg_counter.h"
#include "cpu/tlb_model.h"
#include "mem/cache.h"
#include "sim/object.h"

/* Instruction classes; the decoder tags each instruction with one. */
enum inst_class {
    IC_ALU,          /* integer add/logic/shift/move/lea/setcc/cmov */
    IC_MUL,          /* integer multiply */
    IC_DIV,          /* integer divide */
    IC_LOAD,         /* a pure load (mov reg, [mem], pop) */
    IC_STORE,        /* a pure store (mov [mem], reg, push) */
    IC_BRANCH,       /* jumps, calls, returns */
    IC_X87,          /* x87 add/mul/load/store/compare */
    IC_X87_DIV,      /* fdiv, fsqrt */
    IC_X87_TRANSC,   /* fsin, fcos, fptan, fpatan, f2xm1, fyl2x */
    IC_SSE,          /* SSE/SSE2 move, logic, add, compare, convert */
    IC_SSE_MUL,      /* SSE/SSE2 multiply */
    IC_SSE_DIV,      /* SSE/SSE2 divide and square root */
    IC_STRING,       /* one iteration of a (rep) string instruction */
    IC_LOCKED,       /* LOCK-prefixed read-modify-write, XCHG with memory */
    IC_FENCE,        /* mfence, lfence, sfence */
    IC_SYSTEM,       /* syscall/sysret, int, rdmsr, lgdt, invlpg, ... */
    IC_SERIALIZING,  /* cpuid, iret, mov to CR, wrmsr */
    IC_IO,           /* in, out, ins, outs */
    IC_NOP,          /* nop, pause, hint prefixes */
    IC_NCLASSES,
};

extern const char *const inst_class_names[IC_NCLASSES];

/* Where the cycles went. */
struct cpi_stack {
    uint64_t base;   /* base cost of every instruction */
    uint64_t icache; /* instruction-fetch stalls beyond an L1I hit */
    uint64_t dcache; /* data access latency */
    uint64_t tlb;    /* TLB lookups and page walks */
    uint64_t branch; /* mispredict penalties */
    uint64_t event;  /* exception and interrupt delivery */
};

static inline uint64_t cpi_stack_total(const struct cpi_stack *s)
{
    return s->base + s->icache + s->dcache + s->tlb + s->branch + s->event;
}

struct timing_model {
    struct sim_object obj;
    /* params: base cycles per class, and the models to charge */
    uint32_t cost[IC_NCLASSES];
    uint32_t event_cost; /* delivering one exception, interrupt or NMI */
    struct sim_object *icache_obj, *dcache_obj, *itlb_obj, *dtlb_obj, *bpred_obj;
    struct sim_object *cg_obj;

    struct cache *icache, *dcache;
    struct tlb_model *itlb, *dtlb;
    struct bpred *bpred;
    /* cachegrind counting mode (cpu/cg_counter.h): an observer fed the
     * same events; NULL when off (one never-taken test per event). */
    struct cg_counter *cg;

    struct cpi_stack cpi;
    uint64_t insts;
    uint64_t events; /* exceptions, interrupts and NMIs delivered */
    uint64_t class_insts[IC_NCLASSES];
};

/* Points the models' MPKI at insts and the DRAM below the caches at the
 * CPU's cycle counter. */
void timing_attach_counters(struct timing_model *t, const uint64_t *insts, const uint64_t *cycles);

/* One retired instruction of class c: its base cost. */
static inline uint64_t timing_inst(struct timing_model *t, enum inst_class c)
{
    if (__builtin_expect(t->cg != NULL, 0))
        cg_retire(t->cg);
    t->insts++;
    t->class_insts[c]++;
    t->cpi.base += t->cost[c];
    return t->cost[c];
}

/* One exception, interrupt or NMI delivered through the IDT (the
 * microcoded part: the frame push, the gate and segment loads): its cost. */
static inline uint64_t timing_event(struct timing_model *t)
{
    t->events++;
    t->cpi.event += t->event_cost;
    return t->event_cost;
}

/* Fetching len bytes at linear address la, physical address pa (in a page
 * of the given size): the ITLB sees la, the instruction cache pa. */
static inline uint64_t timing_fetch_pa(struct timing_model *t, uint64_t la, uint64_t pa,
                                       unsigned len, enum tlb_page_size page)
{
    uint64_t cycles = 0;
    if (__builtin_expect(t->cg != NULL, 0))
        cg_fetch(t->cg, la, len);
    if (t->itlb) {
        uint64_t c = tlb_model_access(t->itlb, la, page);
        t->cpi.tlb += c;
        cycles += c;
    }
    if (t->icache) {
        uint64_t c = cache_access(t->icache, pa, len, MEM_READ) - t->icache->hit_latency;
        t->cpi.icache += c;
        cycles += c;
    }
    return cycles;
}

/* Fetching len bytes at addr, one address for both (a virtually indexed
 * cache: cachegrind's view). */
static inline uint64_t timing_fetch(struct timing_model *t, uint64_t addr, unsigned len,
                                    enum tlb_page_size page)
{
    return timing_fetch_pa(t, addr, addr, len, page);
}

/* A data access of size bytes at linear address la, physical address pa
 * (in a page of the given size): the DTLB sees la, the data cache pa. */
static inline uint64_t timing_data_pa(struct timing_model *t, uint64_t la, uint64_t pa,
                                      unsigned size, enum mem_op op, enum tlb_page_size page)
{
    uint64_t cycles = 0;
    if (__builtin_expect(t->cg != NULL, 0))
        cg_data(t->cg, la, size, op);
    if (t->dtlb) {
        uint64_t c = tlb_model_access(t->dtlb, la, page);
        t->cpi.tlb += c;
        cycles += c;
    }
    if (t->dcache) {
        uint64_t c = cache_access(t->dcache, pa, size, op);
        t->cpi.dcache += c;
        cycles += c;
    }
    return cycles;
}

/* A data access at addr, one address for TLB and cache (linear for a
 * virtually-indexed model, cachegrind's view). */
static inline uint64_t timing_data(struct timing_model *t, uint64_t addr, unsigned size,
                                   enum mem_op op, enum tlb_page_size page)
{
    return timing_data_pa(t, addr, addr, size, op, page);
}

/* A branch outcome (see bpred_branch): the mispredict penalty or 0. */
static inline uint64_t timing_branch(struct timing_model *t, uint64_t pc, uint64_t fallthrough,
                                     bool taken, uint64_t target, enum branch_kind kind)
{
    if (!t->bpred || !bpred_branch(t->bpred, pc, fallthrough, taken, target, kind))
        return 0;
    t->cpi.branch += t->bpred->mispredict_penalty;
    return t->bpred->mispredict_penalty;
}

#endif
