/* The interpreter as a full-system CPU engine (cpu/interp_engine.c): what
 * the engine and its system-instruction part (cpu/exec_sys.c) share. The
 * user-level interpreter (cpu/interp.c) executes everything it can and stops
 * before system instructions; exec_sys.c executes those one at a time with
 * the interpreter's own decoder and memory helpers. */
#ifndef TANDEM_CPU_INTERP_ENGINE_H
#define TANDEM_CPU_INTERP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/interp.h"
#include "cpu/state.h"
#include "sim/tick.h"

struct cpu;
struct bus;

struct sys_engine {
    struct interp ip; /* works on cpu->state directly */
    struct cpu *cpu;
    struct bus *bus;
    /* Time inside a batch: the tick at its start and the instruction and
     * cycle counts then (engine_cycles: one per instruction, or what the
     * CPU's timing model charged). */
    tick_t batch_tick;
    uint64_t batch_insts;
    uint64_t batch_cycles; /* engine_cycles() at the batch start */
    /* The timing model's instruction count at the batch start: what the
     * interpreter's loop charged is the difference (a region begin marker
     * re-bases it when its stats reset zeroes the count). */
    uint64_t batch_charged;
    /* Retired instructions and cycles already added to the CPU's counters
     * (cpu->insts, the per-CPL counters), and the CPL of the running batch:
     * brought up to date at every device access too, so a stats reset
     * (ROI_BEGIN) mid-batch splits the count exactly. */
    uint64_t insts_counted, cycles_counted;
    bool batch_user;
    /* Delivery cost (timing model) of the exceptions and interrupts
     * delivered since the last batch started: charged, and simulated time
     * moved by it, before the next batch and at the end of the run. */
    uint64_t delivery_cycles;
    /* Set by a system instruction that changed CS, CR0/CR3/CR4, EFER or the
     * page tables' meaning: the engine refreshes the decode mode and drops
     * the soft TLB before the next instruction. */
    bool state_changed;
    /* exec_sys: the state before the system instruction (restored when it
     * faults half-way). */
    struct x86_state before;
};

/* Cycles the engine has spent: the timing model's count (ip.cycles) when
 * the CPU has one, else one per instruction. */
static inline uint64_t engine_cycles(const struct sys_engine *e)
{
    return e->ip.timing ? e->ip.cycles : e->ip.insts;
}

/* The simulated tick the instruction being executed runs at; moves the
 * simulation's clock there so device accesses see it. */
tick_t sys_engine_sync_time(struct sys_engine *e);

enum exec_sys_result {
    EXEC_SYS_DONE,      /* executed, RIP advanced */
    EXEC_SYS_EXCEPTION, /* an exception is pending in state.ev (RIP at the instruction) */
    EXEC_SYS_SOFT_EVENT,/* INTO with OF=1: vector 4 as a software exception, RIP after it */
    EXEC_SYS_ERROR,     /* not executable here: reported with err_set */
};

/* Executes the system instruction at CS:RIP (the one interp_run stopped
 * before). */
enum exec_sys_result exec_sys(struct sys_engine *e);

#endif
