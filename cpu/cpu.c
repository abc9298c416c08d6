/* The CPU sim object (cpu/cpu.h): owns the architectural state, attaches one
 * engine at a time, and drives it from run_event. Engines are looked up by
 * name in a small registry filled by their constructors. */
#include "cpu/cpu.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpu/model.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Cpu, "CPU run batches, halts, wake-ups and engine switches");

/* A run a CPU ends for a failure exits with the CLI's "run error" status;
 * the exit reason says which failure. */
#define CPU_EXIT_CODE_RUN_ERROR 1

/* A CPU never runs more than this much simulated time in one batch, even with
 * no event pending, so tick limits and progress lines stay responsive. */
#define CPU_MAX_QUANTUM (10 * TICKS_PER_MS)

#define CPU_MAX_ENGINES 8
static const struct cpu_engine_ops *engines[CPU_MAX_ENGINES];
static size_t nengines;

void cpu_engine_register(const struct cpu_engine_ops *ops)
{
    if (cpu_engine_find(ops->name))
        fatal("CPU engine '%s' registered twice", ops->name);
    if (nengines == CPU_MAX_ENGINES)
        fatal("too many CPU engines (raise CPU_MAX_ENGINES)");
    engines[nengines++] = ops;
}

const struct cpu_engine_ops *cpu_engine_find(const char *name)
{
    for (size_t i = 0; i < nengines; i++)
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    return NULL;
}

const char *cpu_engine_names(void)
{
    static char buf[256];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < nengines && len < sizeof(buf); i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? ", " : "",
                                engines[i]->name);
    return nengines ? buf : "(none)";
}

static const struct cpu_engine_ops *find_engine_or_err(const char *name)
{
    const struct cpu_engine_ops *e = cpu_engine_find(name);
    if (!e)
        err_set("unknown CPU engine '%s' (registered engines: %s)", name, cpu_engine_names());
    return e;
}

uint64_t cpu_tsc_at(const struct cpu *cpu, tick_t t)
{
    unsigned __int128 cycles = (unsigned __int128)t * CPU_MODEL_TSC_HZ / TICKS_PER_S;
    return (uint64_t)cycles + (uint64_t)cpu->state.tsc_offset;
}

int cpu_sync_state(struct cpu *cpu)
{
    if (!cpu->state_in_engine)
        return 0;
    if (cpu->in_run) {
        /* A device callback inside an exit: the instruction that exited is
         * half done. Work on the state from an event instead. */
        err_set("%s: the CPU state cannot be read during an engine exit (schedule an event)",
                cpu->obj.path);
        return -1;
    }
    if (cpu->engine->state_out(cpu) < 0)
        return -1;
    cpu->state_in_engine = false;
    return 0;
}

void cpu_set_state(struct cpu *cpu, const struct x86_state *st)
{
    cpu->state = *st;
    cpu->state_in_engine = false;
}

static int load_engine_state(struct cpu *cpu)
{
    if (cpu->state_in_engine)
        return 0;
    if (cpu->engine->state_in(cpu) < 0)
        return -1;
    cpu->state_in_engine = true;
    return 0;
}

static int do_switch(struct cpu *cpu, const struct cpu_engine_ops *to)
{
    const struct cpu_engine_ops *from = cpu->engine;
    double t0 = host_seconds();
    if (cpu_sync_state(cpu) < 0)
        return -1;
    double out_s = host_seconds() - t0;
    from->detach(cpu);
    cpu->engine_priv = NULL;
    cpu->engine = to;
    if (to->attach(cpu) < 0) {
        char why[512];
        snprintf(why, sizeof(why), "%s", err_get());
        cpu->engine = from;
        if (from->attach(cpu) < 0)
            fatal("%s: cannot re-attach engine '%s' after '%s' failed: %s", cpu->obj.path,
                  from->name, to->name, err_get());
        err_set("%s: cannot attach engine '%s': %s", cpu->obj.path, to->name, why);
        return -1;
    }
    double t1 = host_seconds();
    if (load_engine_state(cpu) < 0)
        return -1;
    uint64_t ns = (uint64_t)((out_s + host_seconds() - t1) * 1e9);
    cpu_count_switch_ns(cpu, ns);
    DPRINTF(Cpu, &cpu->obj, "switched engine %s -> %s at rip %#" PRIx64 " (state moved in %" PRIu64
            " ns)", from->name, to->name, cpu->state.rip, ns);
    return 0;
}

void cpu_count_switch_ns(struct cpu *cpu, uint64_t ns)
{
    cpu->switches++;
    cpu->switch_ns += ns;
    if (ns > cpu->switch_ns_max)
        cpu->switch_ns_max = ns;
}

int cpu_switch_engine(struct cpu *cpu, const char *engine)
{
    const struct cpu_engine_ops *to = find_engine_or_err(engine);
    if (!to)
        return -1;
    if (to == cpu->engine)
        return 0;
    if (cpu->in_run) {
        /* Called from a device access inside engine->run: the engine is in
         * the middle of an exit. Ask it to return, then switch. */
        cpu->pending_engine = to;
        cpu->yield_request = true;
        return 0;
    }
    return do_switch(cpu, to);
}

void cpu_advance_time(struct cpu *cpu, tick_t t)
{
    struct event_queue *q = &cpu->obj.sim->eq;
    tick_t next = eq_next_tick(q);
    if (t > next)
        t = next;
    if (t > cpu->obj.sim->run_until)
        t = cpu->obj.sim->run_until;
    if (t > q->now)
        q->now = t;
}

/* Ends a halt: the time since it began counts as halted. */
static void end_sleep(struct cpu *cpu)
{
    tick_t now = sim_now(cpu->obj.sim);
    cpu->halted_ticks += now - cpu->sleep_start;
    cpu->sleeping = false;
    DPRINTF(Cpu, &cpu->obj, "awake after %" PRIu64 " ticks halted", now - cpu->sleep_start);
}

static void wake(struct cpu *cpu)
{
    end_sleep(cpu);
    eq_reschedule(&cpu->obj.sim->eq, &cpu->run_event, sim_now(cpu->obj.sim));
}

void cpu_notify_interrupt(void *opaque)
{
    struct cpu *cpu = opaque;
    if (cpu->sleeping)
        wake(cpu);
}

static void report_seg(const char *name, const struct x86_segment *s)
{
    log_error("  %-4s sel %04x base %016" PRIx64 " limit %08x type %x s%u dpl%u p%u l%u db%u g%u%s",
              name, s->selector, s->base, s->limit, s->type, s->s, s->dpl, s->present, s->l, s->db,
              s->g, s->unusable ? " unusable" : "");
}

void cpu_report_state(const struct cpu *cpu, const struct x86_state *st)
{
    static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                              "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                              "r12", "r13", "r14", "r15"};
    static const char *const seg_names[S_NSEGS] = {"es", "cs", "ss", "ds", "fs", "gs"};
    log_error("%s state (engine %s):", cpu->obj.path, cpu->engine ? cpu->engine->name : "none");
    log_error("  rip %016" PRIx64 " rflags %08" PRIx64, st->rip, st->rflags);
    for (int i = 0; i < 16; i += 4)
        log_error("  %-3s %016" PRIx64 " %-3s %016" PRIx64 " %-3s %016" PRIx64 " %-3s %016" PRIx64,
                  gpr_names[i], st->gpr[i], gpr_names[i + 1], st->gpr[i + 1], gpr_names[i + 2],
                  st->gpr[i + 2], gpr_names[i + 3], st->gpr[i + 3]);
    for (int i = 0; i < S_NSEGS; i++)
        report_seg(seg_names[i], &st->seg[i]);
    report_seg("ldtr", &st->ldtr);
    report_seg("tr", &st->tr);
    log_error("  gdtr %016" PRIx64 "/%04x idtr %016" PRIx64 "/%04x", st->gdtr.base, st->gdtr.limit,
              st->idtr.base, st->idtr.limit);
    log_error("  cr0 %08" PRIx64 " cr2 %016" PRIx64 " cr3 %016" PRIx64 " cr4 %08" PRIx64
              " cr8 %" PRIx64 " efer %" PRIx64,
              st->cr0, st->cr2, st->cr3, st->cr4, st->cr8, st->msr.efer);
    if (st->ev.exception_pending && st->ev.exception_has_error)
        log_error("  pending exception %u, error code %#x", st->ev.exception_vector,
                  st->ev.exception_error);
    else if (st->ev.exception_pending)
        log_error("  pending exception %u", st->ev.exception_vector);
}

static void stop_run(struct cpu *cpu, int code, const char *what)
{
    char reason[256];
    snprintf(reason, sizeof(reason), "%s: %s", cpu->obj.path, what);
    sim_exit(cpu->obj.sim, code, reason);
}

static void report_and_stop(struct cpu *cpu, int code, const char *what)
{
    log_error("%s: %s (engine %s)", cpu->obj.path, what, cpu->engine->name);
    if (cpu_sync_state(cpu) == 0)
        cpu_report_state(cpu, &cpu->state);
    else
        log_error("%s: cannot read the state back: %s", cpu->obj.path, err_get());
    stop_run(cpu, code, what);
}

/* The engine that executes what the attached engine cannot (DESIGN.md: "A
 * KVM emulation failure is not fatal: the instruction is handed to the
 * interpreter and KVM resumes after it"). */
#define CPU_FALLBACK_ENGINE "interp"

/* Calls fn with the fallback engine made current: its engine_priv swapped
 * in (attached on first use) and the attached engine's kept aside. */
static int with_fallback_engine(struct cpu *cpu, const struct cpu_engine_ops *fb,
                                int (*fn)(struct cpu *cpu, const struct cpu_engine_ops *fb, void *arg),
                                void *arg)
{
    const struct cpu_engine_ops *main_engine = cpu->engine;
    void *main_priv = cpu->engine_priv;
    cpu->engine = fb;
    cpu->engine_priv = cpu->fallback_priv;
    int rc = 0;
    if (!cpu->engine_priv && fb->attach(cpu) < 0)
        rc = -1;
    if (rc == 0)
        rc = fn(cpu, fb, arg);
    cpu->fallback_priv = cpu->engine_priv;
    cpu->engine = main_engine;
    cpu->engine_priv = main_priv;
    return rc;
}

struct fallback_run {
    tick_t until, reached;
    enum cpu_stop why;
};

static int fallback_step(struct cpu *cpu, const struct cpu_engine_ops *fb, void *arg)
{
    struct fallback_run *r = arg;
    if (fb->state_in(cpu) < 0)
        return -1;
    r->why = fb->run(cpu, r->until, &r->reached);
    return fb->state_out(cpu);
}

/* The attached engine stopped before an instruction it cannot execute (a
 * KVM emulation failure, or a #UD kvm_pvm raised and kvm/kvm_pvm.c undid,
 * which the interpreter re-raises if the model agrees): the fallback engine
 * executes it and runs on for up to fallback_insts
 * instructions in all (less at a HLT or when an event is due), taking any
 * interrupt due on the way, on the architectural state; then the attached
 * engine reloads the state and resumes. A short run rather than one
 * instruction because kvm_pvm fails on instructions that come in groups
 * (SSE, x87 at CPL 0), and its CPL-0 emulation is slower than the
 * interpreter anyway. */
static enum cpu_stop run_fallback(struct cpu *cpu, tick_t *reached)
{
    const struct cpu_engine_ops *fb = cpu_engine_find(CPU_FALLBACK_ENGINE);
    if (!fb || fb == cpu->engine) {
        log_error("%s: engine '%s' cannot execute the next instruction and there is no fallback "
                  "engine", cpu->obj.path, cpu->engine->name);
        return CPU_STOP_ERROR;
    }
    if (cpu_sync_state(cpu) < 0) {
        log_error("%s: fallback: cannot read the state back from '%s': %s", cpu->obj.path,
                  cpu->engine->name, err_get());
        return CPU_STOP_ERROR;
    }
    tick_t now = sim_now(cpu->obj.sim);
    DPRINTF(Cpu, &cpu->obj, "fallback: %s hands rip %#" PRIx64 " (CPL %u) to %s", cpu->engine->name,
            cpu->state.rip, cpu->state.seg[S_CS].selector & 3, fb->name);
    struct fallback_run r = {.until = now + cycles_to_ticks(&cpu->clock, cpu->fallback_insts),
                             .reached = now, .why = CPU_STOP_ERROR};
    if (with_fallback_engine(cpu, fb, fallback_step, &r) < 0) {
        log_error("%s: fallback engine '%s' failed: %s", cpu->obj.path, fb->name, err_get());
        return CPU_STOP_ERROR;
    }
    cpu->fallbacks++;
    /* cpu->state now holds the result; the attached engine reloads it. */
    cpu->state_in_engine = false;
    if (r.reached > *reached)
        *reached = r.reached;
    return r.why == CPU_STOP_BUDGET ? CPU_STOP_BUDGET : r.why;
}

static int detach_fallback(struct cpu *cpu, const struct cpu_engine_ops *fb, void *arg)
{
    (void)arg;
    fb->detach(cpu);
    return 0;
}

static void cpu_run_event(struct event *ev, void *arg)
{
    (void)ev;
    struct cpu *cpu = arg;
    struct simulation *sim = cpu->obj.sim;
    tick_t start = sim_now(sim);
    if (cpu->sleeping)
        end_sleep(cpu);
    if (load_engine_state(cpu) < 0) {
        log_error("%s: engine '%s' cannot load the state: %s", cpu->obj.path, cpu->engine->name,
                  err_get());
        stop_run(cpu, CPU_EXIT_CODE_RUN_ERROR, "engine failed to load the CPU state");
        return;
    }
    tick_t until = eq_next_tick(&sim->eq);
    if (until - start > CPU_MAX_QUANTUM)
        until = start + CPU_MAX_QUANTUM;
    if (until > sim->run_until)
        until = sim->run_until;
    tick_t reached = start;
    cpu->busy_mark = start;
    cpu->in_run = true;
    enum cpu_stop why = cpu->engine->run(cpu, until, &reached);
    /* The engine has returned: its state may be read for the fallback. */
    cpu->in_run = false;
    if (why == CPU_STOP_FALLBACK)
        why = run_fallback(cpu, &reached);
    cpu->yield_request = false;
    if (reached < sim_now(sim))
        reached = sim_now(sim);
    cpu->busy_ticks += reached - cpu->busy_mark;
    cpu->busy_mark = reached;
    cpu->cycles = ticks_to_cycles(&cpu->clock, cpu->busy_ticks);

    if (cpu->pending_engine) {
        const struct cpu_engine_ops *to = cpu->pending_engine;
        cpu->pending_engine = NULL;
        if (do_switch(cpu, to) < 0) {
            log_error("%s", err_get());
            stop_run(cpu, CPU_EXIT_CODE_RUN_ERROR, "engine switch failed");
            return;
        }
    }

    tick_t min_next = start + cpu->clock.period;
    switch (why) {
    case CPU_STOP_BUDGET:
        eq_schedule(&sim->eq, &cpu->run_event, reached > min_next ? reached : min_next);
        break;
    case CPU_STOP_HALT: {
        /* Sleep until the LAPIC's notify, or look again at the next event
         * (whatever it changes); with no event pending, nothing runs. */
        DPRINTF(Cpu, &cpu->obj, "halted at %" PRIu64, reached);
        cpu->sleeping = true;
        cpu->sleep_start = reached;
        tick_t next = eq_next_tick(&sim->eq);
        if (next != TICK_MAX)
            eq_schedule(&sim->eq, &cpu->run_event, next > reached ? next : reached);
        break;
    }
    case CPU_STOP_EXIT:
        /* The run loop stops before servicing it; a resumed run continues. */
        eq_schedule(&sim->eq, &cpu->run_event, reached > min_next ? reached : min_next);
        break;
    case CPU_STOP_SHUTDOWN:
        if (cpu->on_shutdown == 0) {
            report_and_stop(cpu, CPU_EXIT_CODE_RUN_ERROR, "triple fault (shutdown)");
            break;
        }
        /* A PC chipset turns the shutdown cycle into a reset (SDM vol. 3
         * 6.15, #DF: "the processor enters shutdown mode"); the CPU stays
         * in shutdown, not running, until the platform acts. */
        cpu->sleeping = true;
        cpu->sleep_start = reached;
        system_request_reset(cpu->system, "triple fault");
        break;
    case CPU_STOP_FALLBACK: /* run_fallback turned it into another stop */
        report_and_stop(cpu, CPU_EXIT_CODE_RUN_ERROR,
                        "the fallback engine cannot execute the next instruction either");
        break;
    case CPU_STOP_ERROR:
        report_and_stop(cpu, CPU_EXIT_CODE_RUN_ERROR, "the engine failed");
        break;
    }
}

/* Stats flush (before every dump and reset): a dump or reset from inside
 * the running quantum (the guest's ROI markers are device accesses) counts
 * the busy time up to the current tick, so cycles and ipc agree with the
 * instruction counts the engine keeps current; the end of the quantum then
 * adds only the rest. */
static void cpu_flush_stats(struct sim_object *o)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    tick_t now = sim_now(o->sim);
    if (cpu->in_run && now > cpu->busy_mark) {
        cpu->busy_ticks += now - cpu->busy_mark;
        cpu->busy_mark = now;
    }
    cpu->cycles = ticks_to_cycles(&cpu->clock, cpu->busy_ticks);
}

int cpu_set_timing(struct cpu *cpu, struct sim_object *timing)
{
    if (timing && strcmp(timing->type->name, "TimingModel") != 0) {
        err_set("%s: timing must be a TimingModel, %s is a %s", cpu->obj.path, timing->path,
                timing->type->name);
        return -1;
    }
    if (cpu->in_run) {
        err_set("%s: the timing model cannot change inside a run (call between sim.run calls)",
                cpu->obj.path);
        return -1;
    }
    if (cpu_sync_state(cpu) < 0)
        return -1;
    const struct cpu_engine_ops *fb = cpu_engine_find(CPU_FALLBACK_ENGINE);
    if (cpu->fallback_priv) /* re-attached with the new model on next use */
        with_fallback_engine(cpu, fb, detach_fallback, NULL);
    struct sim_object *old = cpu->timing;
    cpu->engine->detach(cpu);
    cpu->engine_priv = NULL;
    cpu->timing = timing;
    if (cpu->engine->attach(cpu) < 0) {
        char why[512];
        snprintf(why, sizeof(why), "%s", err_get());
        cpu->timing = old;
        if (cpu->engine->attach(cpu) < 0)
            fatal("%s: cannot re-attach engine '%s' after a failed timing change: %s",
                  cpu->obj.path, cpu->engine->name, err_get());
        err_set("%s: cannot re-attach engine '%s' with the new timing model: %s", cpu->obj.path,
                cpu->engine->name, why);
        return -1;
    }
    DPRINTF(Cpu, &cpu->obj, "timing model now %s", timing ? timing->path : "none");
    return 0;
}

static int cpu_init(struct sim_object *o)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    event_init(&cpu->run_event, "cpu-run", EVPRI_CPU, cpu_run_event, cpu);
    cpu->system = system_of(o);
    if (!cpu->system) {
        err_set("a CPU must be placed under a System object (e.g. system.cpu0)");
        return -1;
    }
    if (cpu->cpu_index >= cpu->system->ncpus) {
        err_set("cpu_index %u is out of range: %s.ncpus is %u", cpu->cpu_index,
                cpu->system->obj.path, cpu->system->ncpus);
        return -1;
    }
    cpu->engine = find_engine_or_err(cpu->engine_name);
    if (!cpu->engine) {
        err_set("engine: %s", err_get());
        return -1;
    }
    clock_domain_init_hz(&cpu->clock, cpu->clock_hz);
    x86_state_reset(&cpu->state);
    if (cpu->cpu_index != 0)
        cpu->state.msr.apic_base &= ~(1ull << 8); /* only CPU 0 is the bootstrap processor */
    /* Attached at init, not startup, so a missing /dev/kvm is a clean error. */
    if (cpu->engine->attach(cpu) < 0) {
        err_set("engine '%s': %s", cpu->engine->name, err_get());
        cpu->engine = NULL;
        return -1;
    }
    stats_add_counter(o, "insts", &cpu->insts, "count", "Instructions retired (engines that count them)");
    stats_add_counter(o, "cycles", &cpu->cycles, "cycle", "Cycles not halted");
    stats_add_ratio(o, "ipc", &cpu->insts, &cpu->cycles, "inst/cycle", "Instructions per cycle");
    stats_add_counter(o, "haltedTicks", &cpu->halted_ticks, "tick", "Simulated time spent halted");
    stats_add_counter(o, "engineFallbacks", &cpu->fallbacks, "count",
                      "Times the attached engine handed the CPU to the fallback engine");
    stats_add_counter(o, "engineSwitches", &cpu->switches, "count", "Engine switches");
    stats_add_counter(o, "engineSwitchTime", &cpu->switch_ns, "ns",
                      "Host time engine switches spent moving the state out and in");
    stats_add_counter(o, "engineSwitchTimeMax", &cpu->switch_ns_max, "ns",
                      "Longest state transfer of one engine switch");
    stats_add_ratio(o, "engineSwitchTimeAvg", &cpu->switch_ns, &cpu->switches, "ns/switch",
                    "Mean state-transfer time of an engine switch");
    sim_add_inst_counter(o->sim, &cpu->insts);
    stats_add_flush(o, cpu_flush_stats);
    return 0;
}

static void cpu_startup(struct sim_object *o)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    cpu->intr = system_cpu_intr(cpu->system, cpu->cpu_index);
    if (cpu->intr) {
        cpu->intr->notify = cpu_notify_interrupt;
        cpu->intr->cpu = cpu;
    }
    if (!event_scheduled(&cpu->run_event) && !cpu->sleeping)
        sim_schedule(o->sim, &cpu->run_event, sim_now(o->sim));
}

static bool cpu_drain(struct sim_object *o)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    if (cpu_sync_state(cpu) < 0) {
        log_error("%s: cannot drain: %s", o->path, err_get());
        return false;
    }
    return true;
}

static void cpu_serialize(struct sim_object *o, struct ser_node *n)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    if (cpu_sync_state(cpu) < 0)
        fatal("%s: cannot read the state back from engine '%s' for a checkpoint: %s", o->path,
              cpu->engine->name, err_get());
    x86_state_serialize(&cpu->state, ser_child(n, "arch"));
    ser_put_str(n, "engine", cpu->engine->name);
    SER_PUT(n, cpu, insts);
    SER_PUT(n, cpu, cycles);
    SER_PUT(n, cpu, halted_ticks);
    SER_PUT(n, cpu, fallbacks);
    SER_PUT(n, cpu, switches);
    SER_PUT(n, cpu, busy_ticks);
    SER_PUT(n, cpu, sleeping);
    SER_PUT(n, cpu, sleep_start);
    SER_PUT_ARRAY(n, cpu, engine_counters);
    SER_PUT(n, cpu, switch_ns);
    SER_PUT(n, cpu, switch_ns_max);
    SER_PUT_ARRAY(n, cpu, auto_counters);
    SER_PUT(n, cpu, roi_end_armed);
    SER_PUT(n, cpu, roi_end_cr3);
    ser_put_event(n, "run_event", &cpu->run_event);
}

static int cpu_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    const struct ser_node *arch = ser_find_child(n, "arch");
    if (!arch) {
        err_set("checkpoint node '%s' lacks the architectural state ('arch')", n->path);
        return -1;
    }
    if (x86_state_unserialize(&cpu->state, arch) < 0)
        return -1;
    cpu->state_in_engine = false;
    if (SER_GET(n, cpu, insts) < 0 || SER_GET(n, cpu, cycles) < 0 ||
        SER_GET(n, cpu, halted_ticks) < 0 || SER_GET(n, cpu, fallbacks) < 0 ||
        SER_GET(n, cpu, switches) < 0 || SER_GET(n, cpu, busy_ticks) < 0 ||
        SER_GET(n, cpu, sleeping) < 0 || SER_GET(n, cpu, sleep_start) < 0 ||
        SER_GET_ARRAY(n, cpu, engine_counters) < 0)
        return -1;
    /* Switch and auto-engine statistics came later: checkpoints without
     * them restore with zeros. */
    if (ser_find_prop(n, "switch_ns") &&
        (SER_GET(n, cpu, switch_ns) < 0 || SER_GET(n, cpu, switch_ns_max) < 0 ||
         SER_GET_ARRAY(n, cpu, auto_counters) < 0))
        return -1;
    if (SER_GET(n, cpu, roi_end_armed) < 0 || SER_GET(n, cpu, roi_end_cr3) < 0)
        return -1;
    return ser_get_event(n, "run_event", &cpu->run_event, &o->sim->eq);
}

static void cpu_reset_stats(struct sim_object *o)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    cpu->insts = 0;
    cpu->cycles = 0;
    cpu->busy_ticks = 0;
    cpu->halted_ticks = 0;
    cpu->fallbacks = 0;
    cpu->switches = 0;
    cpu->switch_ns = 0;
    cpu->switch_ns_max = 0;
    memset(cpu->engine_counters, 0, sizeof(cpu->engine_counters));
    memset(cpu->auto_counters, 0, sizeof(cpu->auto_counters));
    if (cpu->sleeping)
        cpu->sleep_start = sim_now(o->sim);
}

static void cpu_destroy(struct sim_object *o)
{
    struct cpu *cpu = SIM_CAST(struct cpu, o);
    if (!cpu->run_event.fn) /* init never ran */
        return;
    if (event_scheduled(&cpu->run_event))
        eq_deschedule(&o->sim->eq, &cpu->run_event);
    if (cpu->engine)
        cpu->engine->detach(cpu);
    if (cpu->fallback_priv)
        with_fallback_engine(cpu, cpu_engine_find(CPU_FALLBACK_ENGINE), detach_fallback, NULL);
}

static const char *const cpu_shutdown_choices[] = {"stop", "reset", NULL};

static const struct param_desc cpu_params[] = {
    PARAM_UINT_(struct cpu, cpu_index, "0", 0, SYSTEM_MAX_LAPICS - 1, "",
                "Index of this CPU; also its APIC ID"),
    PARAM_UINT_(struct cpu, clock_hz, "2000000000", 1000000, 100000000000LL, "Hz",
                "Core clock frequency (cycles and the interpreter's timing)"),
    PARAM_UINT_(struct cpu, fallback_insts, "32", 1, 1000000, "",
                "Instructions the fallback engine (interp) runs each time the attached engine "
                "cannot execute one (KVM emulation failures)"),
    PARAM_ENUM_(struct cpu, on_shutdown, "stop", cpu_shutdown_choices,
                "What a triple fault does: stop the run with an error and the CPU state, or "
                "request a platform reset (System.on_reset: end the run, or ignore and leave "
                "the CPU in shutdown)"),
    PARAM_OBJECT_(struct cpu, timing, "TimingModel",
                  "Cycle accounting for the interpreter engine: a TimingModel (caches, TLBs, "
                  "branch predictor); empty: one cycle per instruction"),
    /* Named "engine" in configs; the field is engine_name. */
    {"engine", PARAM_STRING, PARAM_FIELD_(struct cpu, engine_name), "kvm", 1, 0, NULL, NULL, "",
     "Execution engine at start: a registered engine name (kvm, interp, auto)"},
    PARAM_END,
};

static struct sim_type cpu_type = {
    .name = "CPU",
    .help = "An x86-64 CPU: the architectural state and the engine that executes it",
    .size = sizeof(struct cpu),
    .params = cpu_params,
    .ops = {.init = cpu_init, .startup = cpu_startup, .drain = cpu_drain,
            .serialize = cpu_serialize, .unserialize = cpu_unserialize,
            .reset_stats = cpu_reset_stats, .destroy = cpu_destroy},
};
SIM_TYPE_REGISTER(cpu_type);

bool cpu_host_kvm_pvm(void)
{
    return access("/sys/module/kvm_pvm", F_OK) == 0;
}
