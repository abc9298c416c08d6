/* The CPU sim object and the engine interface (DESIGN.md: "Engines
 * implement one interface (attach, run until a budget or event, state in,
 * state out, detach)"). A CPU owns the architectural state; exactly one
 * engine is attached at a time and holds the live state while it runs.
 *
 * Time: the CPU runs as an event (run_event, EVPRI_CPU). Each time it fires
 * the CPU asks its engine to run until the next pending event's tick; the
 * engine returns the simulated tick it reached (by its own time rule:
 * cycles through the clock domain for the interpreter, host time scaled for
 * KVM), and the CPU reschedules itself there. A halted CPU sleeps until the
 * LAPIC notifies it or the next event. */
#ifndef TANDEM_CPU_CPU_H
#define TANDEM_CPU_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/intr.h"
#include "cpu/state.h"
#include "sim/event.h"
#include "sim/object.h"
#include "sim/tick.h"

struct cpu;
struct system;

enum cpu_stop {
    CPU_STOP_BUDGET,   /* reached the requested tick */
    CPU_STOP_HALT,     /* HLT with nothing pending */
    CPU_STOP_EXIT,     /* the simulation asked to stop (sim_exit, signal) */
    CPU_STOP_SHUTDOWN, /* triple fault: reported, run ends */
    CPU_STOP_FALLBACK, /* the engine cannot execute the next instruction */
    CPU_STOP_ERROR,    /* the engine failed (already reported): the run ends */
};

/* Room for statistics counters an engine keeps on a CPU (see
 * cpu.engine_counters). */
#define CPU_ENGINE_COUNTERS 32
#define CPU_AUTO_COUNTERS 8

struct cpu_engine_ops {
    const char *name; /* "kvm", "interp" */
    /* Allocates engine resources for this CPU; 0 or -1 (err_set). */
    int (*attach)(struct cpu *cpu);
    /* Loads cpu->state (and LAPIC regs through cpu->intr) into the engine. */
    int (*state_in)(struct cpu *cpu);
    /* Stores the engine's live state back into cpu->state. */
    int (*state_out)(struct cpu *cpu);
    /* Runs until simulated tick `until` or a stop; *reached is the tick the
     * engine's time rule says it got to (<= until unless it must overrun). */
    enum cpu_stop (*run)(struct cpu *cpu, tick_t until, tick_t *reached);
    void (*detach)(struct cpu *cpu);
    /* Optional: the current privilege level of the live state, cheaper than
     * state_out (the auto engine samples it after every batch); -1 after
     * err_set. NULL: callers use state_out and cpu->state. */
    int (*cpl)(struct cpu *cpu);
};

/* Engines register by name; the CPU's `engine` parameter picks one. */
void cpu_engine_register(const struct cpu_engine_ops *ops);
const struct cpu_engine_ops *cpu_engine_find(const char *name);
#define CPU_ENGINE_REGISTER(var)                                               \
    __attribute__((constructor)) static void cpu_engine_ctor_##var(void)     \
    {                                                                          \
        cpu_engine_register(&var);                                             \
    }

struct cpu {
    struct sim_object obj;
    /* params */
    uint32_t cpu_index; /* also the APIC ID */
    uint64_t clock_hz;
    char *engine_name;
    uint32_t fallback_insts; /* instructions per hand-over to the fallback engine */
    int on_shutdown;         /* triple fault: 0 = stop the run with an error report,
                                1 = a platform reset request (System.on_reset decides) */
    struct sim_object *timing; /* a TimingModel: the interpreter charges cycles through it
                                  (docs/timing.md); NULL: one cycle per instruction */

    struct clock_domain clock;
    struct system *system;
    struct x86_state state;
    struct cpu_intr *intr;
    const struct cpu_engine_ops *engine;
    void *engine_priv;
    bool state_in_engine; /* the engine holds the live state */
    struct event run_event;

    /* Run bookkeeping (cpu/cpu.c). */
    bool in_run;          /* inside engine->run: device callbacks come from an exit */
    bool yield_request;   /* engines return CPU_STOP_BUDGET at the next boundary */
    bool sleeping;        /* halted, run_event descheduled until an interrupt */
    tick_t sleep_start;
    tick_t busy_ticks;    /* simulated time spent running (not halted) */
    tick_t busy_mark;     /* busy_ticks counts the running quantum up to here */
    const struct cpu_engine_ops *pending_engine; /* switch requested during a run */
    /* Engine statistics. They live here, not in engine_priv, because the
     * stats registry keeps their addresses across detach and re-attach; an
     * engine registers its counters once per CPU (first attach). */
    uint64_t engine_counters[CPU_ENGINE_COUNTERS];

    /* KVM-style fallback (cpu/cpu.c): an interpreter instance kept next to
     * the attached engine, which executes the instructions that engine
     * cannot; its engine_priv while not in use. */
    void *fallback_priv;
    uint64_t fallbacks;  /* hand-overs to the fallback engine */
    uint64_t switches;   /* engine switches (cpu_switch_engine) */
    /* Host time the switches spent moving the state (state out of one engine
     * plus state in to the other; attach and detach not included). */
    uint64_t switch_ns, switch_ns_max;
    /* Statistics of the auto engine (cpu/engine_auto.c), here for the same
     * reason as engine_counters. */
    uint64_t auto_counters[CPU_AUTO_COUNTERS];
    /* A region-end marker executed by a process (cpu/interp_engine.c): the
     * region ends with that process's next system call, made at CPL 3 under
     * this page-table base. Here so a checkpoint in between carries it. */
    bool roi_end_armed;
    uint64_t roi_end_cr3;

    uint64_t insts;      /* instructions retired (all engines) */
    uint64_t cycles;
    uint64_t halted_ticks;
};

/* The CPU's view of the guest TSC at simulated tick t. */
uint64_t cpu_tsc_at(const struct cpu *cpu, tick_t t);
/* Brings the live state back from the engine into cpu->state (no-op when it
 * already is there). Call before reading or changing cpu->state, from an
 * event: inside engine->run (a device access) it fails. */
int cpu_sync_state(struct cpu *cpu);
/* Replaces the architectural state (loaders, checkpoints); the engine picks
 * it up before it runs next. */
void cpu_set_state(struct cpu *cpu, const struct x86_state *st);
/* Detaches the current engine and attaches another, carrying the state.
 * 0 or -1 (err_set). */
int cpu_switch_engine(struct cpu *cpu, const char *engine);
/* Makes `timing` (a TimingModel, or NULL for none) the CPU's cycle
 * accounting from now on: the engine is re-attached so it picks the model
 * up (the interpreter charges through it; KVM ignores it). Between runs
 * only. 0 or -1 (err_set). */
int cpu_set_timing(struct cpu *cpu, struct sim_object *timing);
/* Adds one engine switch's state-transfer time (host ns) to the stats. */
void cpu_count_switch_ns(struct cpu *cpu, uint64_t ns);
/* Called by the LAPIC (through cpu_intr.notify) when an interrupt became
 * deliverable: wakes a halted CPU now. */
void cpu_notify_interrupt(void *cpu);

/* For engines, inside run: moves simulated time forward to t (never past the
 * next pending event) so device accesses made from this point see the tick
 * at which they happen. */
void cpu_advance_time(struct cpu *cpu, tick_t t);
/* Logs the architectural state (registers, segments, control registers) as
 * error lines, for shutdown and failure reports. */
void cpu_report_state(const struct cpu *cpu, const struct x86_state *st);
/* "kvm, interp": the registered engine names, for error messages. */
const char *cpu_engine_names(void);
/* Whether the host's KVM is kvm_pvm (ring 0 emulated, quirks worked around
 * in kvm/kvm_pvm.c) rather than hardware KVM. */
bool cpu_host_kvm_pvm(void);

#endif
