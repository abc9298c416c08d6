/* The interpreter as a full-system CPU engine ("interp"): runs the
 * user-level interpreter (cpu/interp.c) in batches on cpu->state, executes
 * the system instructions it stops before (cpu/exec_sys.c), delivers
 * exceptions and interrupts through the IDT (cpu/segments.c), and maps
 * linear addresses with the guest page walker (cpu/mmu.c).
 *
 * Memory: translate walks the page tables with the CPL's privilege and
 * hands the interpreter a host pointer into guest RAM, which its soft TLB
 * caches per 4 KiB page. Device pages (MMIO, unmapped) are never cached: they
 * are reported with INTERP_FAULT_MMIO and every access to them goes through
 * mmio_read/mmio_write to the bus, at the tick the instruction executes.
 *
 * Time: each instruction costs one cycle of the CPU clock, or with a
 * timing model (the CPU's `timing` parameter, docs/timing.md) the cycles
 * the model charges for it. A batch runs at
 * most up to the next event and at most ENGINE_MAX_BATCH instructions, so a
 * device event that an MMIO write schedules inside a batch is late by at most
 * that many cycles. Interrupts are taken between batches.
 *
 * Interrupt shadow (STI, MOV SS): when a batch ends with the shadow set, the
 * next batch is one instruction long and the shadow is cleared after it, so
 * no interrupt is taken between STI and the instruction after it. STI and a
 * POPF that set IF end their batch (INTERP_STOP_COUNT), so an interrupt
 * already pending is taken right after the shadowed instruction (STI) or
 * right after the POPF, as on hardware, and `sti; nop; cli` opens a real
 * window. (A MOV SS shadow consumed inside a batch delays nothing: the
 * batch takes no interrupt before its end anyway.) */
#include "cpu/interp_engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/segments.h"
#include "cpu/timing.h"
#include "mem/bus.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/sim.h"
#include "sim/stats.h"

DEBUG_FLAG_DEFINE(InterpEngine, "Interpreter engine: exceptions, interrupts, halts, system instructions");

/* Bound on one interp_run call (see the header comment on time). */
#define ENGINE_MAX_BATCH 1000

/* cpu.engine_counters slots of this engine: after the KVM engine's (which
 * uses the first 16), so both engines' counters survive a switch. */
enum {
    ISTAT_SYS_INSNS = 16,
    ISTAT_EXCEPTIONS,
    ISTAT_INTERRUPTS,
    ISTAT_NMIS,
    ISTAT_MMIO,
    ISTAT_HALTS,
    /* Per privilege: CPL 3 (user) and CPL 0-2 (kernel). A batch is charged
     * to the CPL it starts at; CPL changes only at system instructions,
     * exceptions and interrupts, which end a batch (a system instruction is
     * charged to the CPL before it). */
    ISTAT_INSTS_USER,
    ISTAT_INSTS_KERNEL,
    ISTAT_CYCLES_USER,
    ISTAT_CYCLES_KERNEL,
    ISTAT_END,
};
_Static_assert(ISTAT_END <= CPU_ENGINE_COUNTERS, "cpu.engine_counters too small");

static struct sys_engine *engine_of(struct cpu *cpu)
{
    return cpu->engine_priv;
}

/* Adds what retired since the last call to the CPU's counters. */
static void count_retired(struct sys_engine *e)
{
    uint64_t insts = e->ip.insts - e->insts_counted, cycles = engine_cycles(e) - e->cycles_counted;
    uint64_t *c = e->cpu->engine_counters;
    e->cpu->insts += insts;
    c[e->batch_user ? ISTAT_INSTS_USER : ISTAT_INSTS_KERNEL] += insts;
    c[e->batch_user ? ISTAT_CYCLES_USER : ISTAT_CYCLES_KERNEL] += cycles;
    e->insts_counted = e->ip.insts;
    e->cycles_counted = engine_cycles(e);
}

tick_t sys_engine_sync_time(struct sys_engine *e)
{
    count_retired(e);
    tick_t t = e->batch_tick + cycles_to_ticks(&e->cpu->clock, engine_cycles(e) - e->batch_cycles);
    cpu_advance_time(e->cpu, t);
    return t;
}

static enum mmu_access mmu_access_of(unsigned access)
{
    return (access & ACC_WRITE) ? MMU_WRITE : (access & ACC_EXEC) ? MMU_EXEC : MMU_READ;
}

static uint8_t *translate(void *opaque, uint64_t la, unsigned access, struct interp_fault *fault)
{
    struct sys_engine *e = opaque;
    const struct x86_state *s = e->ip.s;
    struct mmu_walk w;
    if (mmu_translate(e->bus, s, la, mmu_access_of(access), x86_cpl(s) == 3, true, &w) < 0) {
        fault->vector = X86_PF;
        fault->has_error = true;
        fault->error = w.error_code;
        fault->address = la;
        return NULL;
    }
    uint8_t *page = bus_ram_ptr(e->bus, w.paddr & ~0xfffull, 4096);
    if (!page) {
        fault->vector = INTERP_FAULT_MMIO;
        return NULL;
    }
    e->ip.fill_paddr = w.paddr & ~0xfffull;
    e->ip.fill_page_size = w.page_size >= (1ull << 30) ? TLB_PAGE_1G
                         : w.page_size > 4096          ? TLB_PAGE_2M
                                                       : TLB_PAGE_4K;
    return page + (la & 0xfff);
}

/* The physical address of a device access; translate already checked the
 * page for this access, so the walk cannot fail here. */
static uint64_t mmio_paddr(struct sys_engine *e, uint64_t la, enum mmu_access acc)
{
    const struct x86_state *s = e->ip.s;
    struct mmu_walk w;
    if (mmu_translate(e->bus, s, la, acc, x86_cpl(s) == 3, false, &w) < 0)
        fatal("%s: device page at linear %#" PRIx64 " vanished between two walks", e->cpu->obj.path, la);
    return w.paddr;
}

static uint64_t mmio_read(void *opaque, uint64_t la, unsigned size)
{
    struct sys_engine *e = opaque;
    uint64_t pa = mmio_paddr(e, la, MMU_READ);
    sys_engine_sync_time(e);
    e->cpu->engine_counters[ISTAT_MMIO]++;
    return bus_mem_read(e->bus, pa, size);
}

static void mmio_write(void *opaque, uint64_t la, unsigned size, uint64_t value)
{
    struct sys_engine *e = opaque;
    uint64_t pa = mmio_paddr(e, la, MMU_WRITE);
    sys_engine_sync_time(e);
    e->cpu->engine_counters[ISTAT_MMIO]++;
    bus_mem_write(e->bus, pa, value, size);
}

/* RDTSC: the guest TSC without its offset (the interpreter adds it). */
static uint64_t read_tsc(void *opaque)
{
    struct sys_engine *e = opaque;
    tick_t t = sys_engine_sync_time(e);
    return cpu_tsc_at(e->cpu, t) - (uint64_t)e->cpu->state.tsc_offset;
}

static struct cg_counter *cg_of(struct sys_engine *e)
{
    return e->ip.timing ? e->ip.timing->cg : NULL;
}

/* A region marker (struct interp.marker): the counters are brought up to
 * date first, so the marker itself is the first instruction of the region
 * (and cachegrind counts it too). */
static void roi_marker(void *opaque, int which)
{
    struct sys_engine *e = opaque;
    const struct x86_state *s = e->ip.s;
    struct simulation *sim = e->cpu->obj.sim;
    struct cg_counter *cg = cg_of(e);
    sys_engine_sync_time(e);
    DPRINTF(InterpEngine, &e->cpu->obj, "region %s marker at rip %#" PRIx64 " (cr3 %#" PRIx64 ")",
            which == INTERP_MARKER_ROI_BEGIN ? "begin" : "end", s->rip, s->cr3);
    if (which == INTERP_MARKER_ROI_BEGIN) {
        e->cpu->roi_end_armed = false;
        stats_reset(sim);
        /* The reset zeroed the model's instruction count in the middle of
         * the batch: re-base the batch's charged count (modulo 2^64) so the
         * instructions retired so far still count as charged. */
        if (e->ip.timing)
            e->batch_charged = e->ip.timing->insts - (e->ip.insts - e->batch_insts);
        if (cg)
            cg_begin(cg);
    } else {
        e->cpu->roi_end_armed = true;
        e->cpu->roi_end_cr3 = s->cr3 & CG_CR3_BASE_MASK;
    }
}

/* With a region end armed, after a batch that began at CPL 3 (before any
 * exception is delivered): if the CPU is now in the kernel, the process
 * made a system call (SYSCALL runs inside the interpreter's batch; the
 * kernel's first instruction, SWAPGS, ends the batch), and if it was the
 * armed process's, the region ends here. */
static void roi_check_end(struct sys_engine *e)
{
    const struct x86_state *s = e->ip.s;
    if (x86_cpl(s) == 3 || (s->cr3 & CG_CR3_BASE_MASK) != e->cpu->roi_end_cr3)
        return; /* still in user mode, or another process's */
    e->cpu->roi_end_armed = false;
    struct cg_counter *cg = cg_of(e);
    if (cg)
        cg_stop(cg);
    count_retired(e);
    if (stats_dump(e->cpu->obj.sim, "roi") < 0)
        log_warn("%s: region-end stats dump failed: %s", e->cpu->obj.path, err_get());
}

static const struct {
    unsigned idx;
    const char *name, *desc;
} counter_desc[] = {
    {ISTAT_SYS_INSNS, "interpSystemInsts", "System instructions executed by the engine's system part"},
    {ISTAT_EXCEPTIONS, "interpExceptions", "Exceptions and software interrupts delivered"},
    {ISTAT_INTERRUPTS, "interpInterrupts", "External interrupts delivered"},
    {ISTAT_NMIS, "interpNmis", "NMIs delivered"},
    {ISTAT_MMIO, "interpMmioAccesses", "Device-memory accesses"},
    {ISTAT_HALTS, "interpHalts", "HLT instructions that put the CPU to sleep"},
    {ISTAT_INSTS_USER, "instsUser", "Instructions retired at CPL 3"},
    {ISTAT_INSTS_KERNEL, "instsKernel", "Instructions retired at CPL 0-2"},
    {ISTAT_CYCLES_USER, "cyclesUser", "Cycles spent at CPL 3 (timing model, or one per instruction)"},
    {ISTAT_CYCLES_KERNEL, "cyclesKernel", "Cycles spent at CPL 0-2"},
};

static void register_stats(struct cpu *cpu)
{
    char probe[256];
    snprintf(probe, sizeof(probe), "%s.%s", cpu->obj.path, counter_desc[0].name);
    if (stats_find(cpu->obj.sim, probe))
        return; /* an earlier attach of this CPU registered them */
    for (size_t i = 0; i < sizeof(counter_desc) / sizeof(counter_desc[0]); i++)
        stats_add_counter(&cpu->obj, counter_desc[i].name, &cpu->engine_counters[counter_desc[i].idx],
                          "count", counter_desc[i].desc);
    uint64_t *c = cpu->engine_counters;
    stats_add_ratio(&cpu->obj, "ipcUser", &c[ISTAT_INSTS_USER], &c[ISTAT_CYCLES_USER], "inst/cycle",
                    "Instructions per cycle at CPL 3");
    stats_add_ratio(&cpu->obj, "ipcKernel", &c[ISTAT_INSTS_KERNEL], &c[ISTAT_CYCLES_KERNEL],
                    "inst/cycle", "Instructions per cycle at CPL 0-2");
    stats_add_ratio(&cpu->obj, "cpiUser", &c[ISTAT_CYCLES_USER], &c[ISTAT_INSTS_USER], "cycle/inst",
                    "Cycles per instruction at CPL 3");
    stats_add_ratio(&cpu->obj, "cpiKernel", &c[ISTAT_CYCLES_KERNEL], &c[ISTAT_INSTS_KERNEL],
                    "cycle/inst", "Cycles per instruction at CPL 0-2");
}

static int engine_attach(struct cpu *cpu)
{
    struct sys_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        err_set("cannot allocate the interpreter engine");
        return -1;
    }
    e->cpu = cpu;
    e->bus = &cpu->system->bus;
    struct interp_mem_ops mem = {.translate = translate, .opaque = e};
    if (interp_init(&e->ip, &cpu->state, &mem) < 0) {
        free(e);
        return -1;
    }
    e->ip.mmio = (struct interp_mmio_ops){.read = mmio_read, .write = mmio_write};
    e->ip.apic_id = cpu->cpu_index;
    e->ip.read_tsc = read_tsc;
    e->ip.tsc_opaque = e;
    e->ip.marker = roi_marker;
    e->ip.marker_opaque = e;
    if (cpu->timing)
        e->ip.timing = SIM_CAST(struct timing_model, cpu->timing);
    cpu->engine_priv = e;
    register_stats(cpu);
    return 0;
}

static void engine_detach(struct cpu *cpu)
{
    struct sys_engine *e = engine_of(cpu);
    if (!e)
        return;
    if (e->ip.timing) /* DRAM must not read the freed cycle counter */
        timing_attach_counters(e->ip.timing, &cpu->insts, NULL);
    if (cg_of(e))
        cg_attach_state(cg_of(e), NULL);
    interp_destroy(&e->ip);
    free(e);
    cpu->engine_priv = NULL;
}

/* The state lives in cpu->state; the engine only re-derives its caches. */
static int engine_state_in(struct cpu *cpu)
{
    struct sys_engine *e = engine_of(cpu);
    /* Here, not at attach: the TimingModel resolves its models at its own
     * init, which may come after the CPU's. MPKI counts the CPU's
     * instructions; DRAM's "now" is the cycles this engine charged. */
    if (e->ip.timing)
        timing_attach_counters(e->ip.timing, &cpu->insts, &e->ip.cycles);
    if (cg_of(e))
        cg_attach_state(cg_of(e), &cpu->state);
    interp_state_changed(&e->ip);
    return 0;
}

static int engine_state_out(struct cpu *cpu)
{
    (void)cpu;
    return 0;
}

/* Delivers ev; false after a triple fault (the state is X86_SHUTDOWN). */
static bool deliver(struct sys_engine *e, const struct x86_event *ev)
{
    struct x86_state *s = e->ip.s;
    DPRINTF(InterpEngine, &e->cpu->obj, "deliver vector %u (source %d, error %#x) at rip %#" PRIx64,
            ev->vector, (int)ev->source, ev->error, s->rip);
    int rc = x86_deliver_event(e->bus, s, ev);
    e->state_changed = true;
    if (e->ip.timing)
        e->delivery_cycles += timing_event(e->ip.timing);
    return rc == 0 && s->run_state != X86_SHUTDOWN;
}

/* The exception the interpreter (or the system part) left in state.ev. */
static bool deliver_pending_exception(struct sys_engine *e, enum x86_event_source source)
{
    struct x86_events *xe = &e->ip.s->ev;
    struct x86_event ev = {.source = source, .vector = xe->exception_vector,
                           .has_error = xe->exception_has_error, .error = xe->exception_error};
    if (ev.vector == X86_PF)
        ev.cr2 = xe->exception_has_payload ? xe->exception_payload : e->ip.s->cr2;
    xe->exception_pending = false;
    xe->exception_has_payload = false;
    e->cpu->engine_counters[ISTAT_EXCEPTIONS]++;
    return deliver(e, &ev);
}

static enum x86_event_source soft_source(uint8_t opcode)
{
    switch (opcode) {
    case 0xcd: return EVENT_SOFT_INT;
    case 0xcc: return EVENT_SOFT_EXC;
    default: return EVENT_EXCEPTION; /* faults, and INT1 (delivered like a hardware #DB) */
    }
}

/* NMI or external interrupt if one can be taken now: delivered, true. */
static bool take_interrupt(struct sys_engine *e, bool *shutdown)
{
    struct x86_state *s = e->ip.s;
    struct cpu_intr *intr = e->cpu->intr;
    if (s->ev.interrupt_shadow)
        return false;
    bool nmi = s->ev.nmi_pending;
    if (!nmi && intr && !s->ev.nmi_masked && intr->ops->nmi_pending(intr->lapic)) {
        intr->ops->nmi_ack(intr->lapic);
        nmi = true;
    }
    if (nmi && !s->ev.nmi_masked) {
        s->ev.nmi_pending = false;
        e->cpu->engine_counters[ISTAT_NMIS]++;
        struct x86_event ev = {.source = EVENT_NMI, .vector = X86_NMI};
        *shutdown = !deliver(e, &ev);
        return true;
    }
    if (nmi)
        s->ev.nmi_pending = true; /* masked: stays pending until IRET */
    if (!(s->rflags & X86_FLAG_IF) || !intr || intr->ops->pending_vector(intr->lapic) < 0)
        return false;
    uint8_t vector = intr->ops->ack(intr->lapic);
    e->cpu->engine_counters[ISTAT_INTERRUPTS]++;
    struct x86_event ev = {.source = EVENT_EXTERNAL, .vector = vector};
    *shutdown = !deliver(e, &ev);
    return true;
}

/* Events another engine left half-done in the state (KVM_GET_VCPU_EVENTS):
 * an exception raised but not delivered, an interrupt being injected. */
static bool deliver_carried_events(struct sys_engine *e)
{
    struct x86_events *xe = &e->ip.s->ev;
    if (xe->exception_pending && !deliver_pending_exception(e, EVENT_EXCEPTION))
        return false;
    if (xe->interrupt_injected) {
        xe->interrupt_injected = false;
        struct x86_event ev = {.source = EVENT_EXTERNAL, .vector = xe->interrupt_vector};
        if (!deliver(e, &ev))
            return false;
    }
    if (xe->nmi_injected) {
        xe->nmi_injected = false;
        xe->nmi_masked = false;
        struct x86_event ev = {.source = EVENT_NMI, .vector = X86_NMI};
        if (!deliver(e, &ev))
            return false;
    }
    return true;
}

/* Charges the delivery cost of the events delivered since the last batch
 * (to the CPL the CPU is at now: the handler's) and moves time by it. */
static void charge_deliveries(struct sys_engine *e, tick_t *now)
{
    if (!e->delivery_cycles)
        return;
    e->ip.cycles += e->delivery_cycles;
    *now += cycles_to_ticks(&e->cpu->clock, e->delivery_cycles);
    e->delivery_cycles = 0;
    e->batch_user = x86_cpl(e->ip.s) == 3;
    count_retired(e);
    cpu_advance_time(e->cpu, *now);
}

static enum cpu_stop engine_run(struct cpu *cpu, tick_t until, tick_t *reached)
{
    struct sys_engine *e = engine_of(cpu);
    struct simulation *sim = cpu->obj.sim;
    struct x86_state *s = &cpu->state;
    tick_t now = sim_now(sim);
    enum cpu_stop result = CPU_STOP_BUDGET;
    *reached = now;

    for (;;) {
        if (s->run_state == X86_SHUTDOWN || !deliver_carried_events(e)) {
            result = CPU_STOP_SHUTDOWN;
            break;
        }
        bool shutdown = false;
        bool took = take_interrupt(e, &shutdown);
        if (shutdown) {
            result = CPU_STOP_SHUTDOWN;
            break;
        }
        if (took)
            DPRINTF(InterpEngine, &cpu->obj, "took an interrupt at %" PRIu64, now);
        charge_deliveries(e, &now);
        if (e->state_changed) {
            interp_state_changed(&e->ip);
            e->state_changed = false;
        }
        if (s->run_state == X86_HALTED) {
            cpu->engine_counters[ISTAT_HALTS]++;
            result = CPU_STOP_HALT;
            break;
        }
        tick_t next = eq_next_tick(&sim->eq);
        if (next < until)
            until = next; /* a device access scheduled something: stop there */
        if (now >= until || cpu->yield_request)
            break;
        if (sim_interrupted(sim)) {
            result = CPU_STOP_EXIT;
            break;
        }
        uint64_t count = (until - now + cpu->clock.period - 1) / cpu->clock.period;
        if (sim->run_insts_target) {
            uint64_t total = sim_total_insts(sim);
            if (total >= sim->run_insts_target) {
                sim_pause(sim, "instruction limit reached");
                break;
            }
            if (count > sim->run_insts_target - total)
                count = sim->run_insts_target - total;
        }
        bool shadow = s->ev.interrupt_shadow != 0;
        bool step = (s->rflags & X86_FLAG_TF) != 0;
        bool completed = false; /* the instruction retired without an event */
        if (shadow || step)
            count = 1;
        else if (count > ENGINE_MAX_BATCH)
            count = ENGINE_MAX_BATCH;
        e->batch_tick = now;
        e->batch_insts = e->ip.insts;
        e->batch_cycles = engine_cycles(e);
        e->ip.cycle_limit = e->ip.cycles + count;
        e->batch_user = x86_cpl(s) == 3;
        e->ip.soft_int_opcode = 0;
        e->batch_charged = e->ip.timing ? e->ip.timing->insts : 0;
        enum interp_stop stop = interp_run(&e->ip, count);
        if (e->ip.timing) {
            /* Instructions that retire by leaving the interpreter's loop
             * (traps: INT3, INT n, INTO, INT1; POPF setting TF) skip its
             * charge: they cost the system class. */
            uint64_t uncharged = (e->ip.insts - e->batch_insts) -
                                 (e->ip.timing->insts - e->batch_charged);
            while (uncharged--)
                e->ip.cycles += timing_inst(e->ip.timing, IC_SYSTEM);
        }
        if (e->cpu->roi_end_armed && e->batch_user)
            roi_check_end(e);
        if (stop == INTERP_STOP_UNSUPPORTED) {
            switch (exec_sys(e)) {
            case EXEC_SYS_DONE:
                cpu->engine_counters[ISTAT_SYS_INSNS]++;
                if (e->ip.timing)
                    e->ip.cycles += timing_inst(e->ip.timing, IC_SYSTEM);
                if (e->cpu->roi_end_armed && e->batch_user)
                    roi_check_end(e);
                completed = true;
                break;
            case EXEC_SYS_EXCEPTION:
                if (!deliver_pending_exception(e, EVENT_EXCEPTION))
                    result = CPU_STOP_SHUTDOWN;
                break;
            case EXEC_SYS_SOFT_EVENT:
                if (!deliver_pending_exception(e, EVENT_SOFT_EXC))
                    result = CPU_STOP_SHUTDOWN;
                break;
            case EXEC_SYS_ERROR:
                log_error("%s: %s", cpu->obj.path, err_get());
                result = CPU_STOP_ERROR;
                break;
            }
        } else if (stop == INTERP_STOP_EXCEPTION) {
            if (!deliver_pending_exception(e, soft_source(e->ip.soft_int_opcode)))
                result = CPU_STOP_SHUTDOWN;
        } else if (stop == INTERP_STOP_COUNT) {
            completed = true;
        }
        uint64_t done = e->ip.insts - e->batch_insts;
        uint64_t spent = engine_cycles(e) - e->batch_cycles;
        count_retired(e);
        if (shadow && done)
            s->ev.interrupt_shadow = 0;
        if (step && completed && result == CPU_STOP_BUDGET) {
            /* Single-step trap after an instruction that began with TF=1
             * (SDM Vol. 3B, 17.3.1.4): DR6.BS. */
            s->dr[6] |= 1ull << 14;
            struct x86_event ev = {.source = EVENT_EXCEPTION, .vector = X86_DB};
            cpu->engine_counters[ISTAT_EXCEPTIONS]++;
            if (!deliver(e, &ev))
                result = CPU_STOP_SHUTDOWN;
        }
        now += cycles_to_ticks(&cpu->clock, spent);
        cpu_advance_time(cpu, now);
        if (stop == INTERP_STOP_HALT) {
            s->ev.interrupt_shadow = 0; /* the shadow covered the HLT itself */
            DPRINTF(InterpEngine, &cpu->obj, "HLT at rip %#" PRIx64, s->rip);
        }
        if (result != CPU_STOP_BUDGET)
            break;
    }
    if (e->state_changed) {
        interp_state_changed(&e->ip);
        e->state_changed = false;
    }
    charge_deliveries(e, &now);
    *reached = now;
    return result;
}

static const struct cpu_engine_ops interp_engine = {
    .name = "interp",
    .attach = engine_attach,
    .state_in = engine_state_in,
    .state_out = engine_state_out,
    .run = engine_run,
    .detach = engine_detach,
};

CPU_ENGINE_REGISTER(interp_engine);
