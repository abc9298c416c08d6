/* cachegrind counting mode (docs/timing.md, "Counting a guest process like
 * cachegrind"): an observer on a TimingModel that feeds cachegrind-mode
 * caches (I1, D1 and the LL below them) the access stream cachegrind would
 * see for ONE user process of the guest:
 *
 * - only instructions retired at CPL 3 under the page-table base (CR3) that
 *   a region marker recorded (cpu/exec_ctl.c, docs/guest-control.md), by
 *   linear (virtual) address;
 * - counted at retirement: an instruction buffers its fetch and data
 *   accesses and commits them when it retires, so one that faults (a page
 *   fault the kernel handles, then the instruction runs again) counts once;
 * - per instruction, cachegrind's merging: a read followed by a write of the
 *   same address and size is one MEM_MODIFY, an access adjacent to the
 *   previous one of the same kind extends it (the interpreter moves a 16-byte
 *   SSE operand as two 8-byte halves, cachegrind as one access), and data
 *   accesses are clamped to the smallest line size.
 *
 * The TimingModel calls cg_fetch, cg_data and cg_retire from its charge
 * functions; the CPU engine attaches the CPU state (whose CPL and CR3 at
 * each fetch decide whether the instruction is counted) and calls
 * cg_begin/cg_stop for the region markers. The counter charges no cycles:
 * it only drives its own caches. */
#ifndef TANDEM_CPU_CG_COUNTER_H
#define TANDEM_CPU_CG_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/segments.h"
#include "cpu/state.h"
#include "mem/cache.h"
#include "sim/object.h"

/* Data accesses one instruction can buffer after merging (FXSAVE's 64
 * adjacent writes merge into one); more are dropped and counted. */
#define CG_MAX_ACCESSES 16

/* The page-table base in CR3: without the PCID (bits 11:0) and the
 * no-flush bit 63. */
#define CG_CR3_BASE_MASK 0x7ffffffffffff000ull

struct cg_access {
    uint64_t addr;
    uint32_t size;
    uint32_t op; /* enum mem_op */
};

struct cg_counter {
    struct sim_object obj;
    /* params */
    struct sim_object *icache_obj, *dcache_obj;

    struct cache *i1, *d1;
    unsigned max_access; /* cachegrind's clamp: the smallest line size */

    /* The marked process, and the CPU whose code is checked against it. */
    uint64_t cr3;  /* page-table base recorded by the begin marker */
    bool counting; /* between a begin marker and the region's end */
    const struct x86_state *state; /* set by the CPU engine; NULL: nothing counts */

    /* The instruction being executed: whether it is counted (decided at
     * its fetch: counting, CPL 3, under cr3), its fetch and data accesses. */
    bool counted;
    uint64_t fetch_la;
    uint32_t fetch_len; /* 0: nothing to commit */
    uint32_t n;
    struct cg_access acc[CG_MAX_ACCESSES];

    /* stats */
    uint64_t insts;         /* instructions counted (cachegrind's Ir events) */
    uint64_t data_accesses; /* data events committed (Dr + Dw, a modify once) */
    uint64_t modifies;      /* of which read-modify-writes */
    uint64_t dropped;       /* accesses beyond CG_MAX_ACCESSES in one instruction */
    uint64_t regions;       /* begin markers seen */
};

/* Buffers the data access of an instruction being counted (merging). */
void cg_record(struct cg_counter *cg, uint64_t la, unsigned size, enum mem_op op);
/* Drives I1 and D1 with the retired instruction's fetch and accesses. */
void cg_commit(struct cg_counter *cg);

/* Whether the CPU is running the marked process in user mode. */
static inline bool cg_in_process(const struct cg_counter *cg)
{
    const struct x86_state *s = cg->state;
    return cg->counting && s && x86_cpl(s) == 3 && (s->cr3 & CG_CR3_BASE_MASK) == cg->cr3;
}

/* An instruction starts: its fetch. Recorded even when not counted, so a
 * begin marker can count itself. */
static inline void cg_fetch(struct cg_counter *cg, uint64_t la, unsigned len)
{
    cg->counted = cg_in_process(cg);
    cg->fetch_la = la;
    cg->fetch_len = len;
    cg->n = 0;
}

static inline void cg_data(struct cg_counter *cg, uint64_t la, unsigned size, enum mem_op op)
{
    if (cg->counted)
        cg_record(cg, la, size, op);
}

/* The instruction retired. */
static inline void cg_retire(struct cg_counter *cg)
{
    if (cg->counted)
        cg_commit(cg);
    cg->counted = false;
    cg->fetch_len = 0;
}

/* The CPU whose instructions are checked against the marked process. */
static inline void cg_attach_state(struct cg_counter *cg, const struct x86_state *s)
{
    cg->state = s;
}

/* Region begin marker executing in the attached CPU: its process (its
 * current CR3) is counted from the marker on, with empty caches
 * (cachegrind starts cold). */
void cg_begin(struct cg_counter *cg);
/* The region ended: nothing more is counted. */
void cg_stop(struct cg_counter *cg);

#endif
