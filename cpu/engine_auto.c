/* The "auto" engine: runs the guest where it is fastest (docs/engine-switching.md).
 *
 * It wraps the two real engines, keeps both attached (so a switch is only a
 * state transfer: state out of one, state in to the other) and, after each
 * batch, samples the guest's privilege level at most once per sample period
 * of simulated time. On kvm_pvm, guest ring 3 runs natively but ring 0 is
 * emulated by the host at about 1.5 M instructions/s, far slower than the
 * interpreter; so:
 *   - on the interpreter, samples are spread over instructions: it moves to
 *     KVM when at most to_kvm_ring0 of the last `window` samples were ring 0
 *     (the ring-0 share at which KVM's emulation costs as much as
 *     interpreting everything is about 1.5 M / interpreter speed: a few %);
 *   - on KVM, samples are spread over host time, and ring-0 emulation takes
 *     ~1000x longer per instruction than ring 3: it moves back when at least
 *     to_interp_ring0 of the window's samples were ring 0.
 * The band between the two thresholds and the fresh window required after
 * each switch are the hysteresis. Halted batches are not sampled (idle costs
 * the same on both). With hardware KVM (no /sys/module/kvm_pvm) ring 0 is
 * fast too: the engine starts on KVM and stays there. Without a usable
 * /dev/kvm it runs the interpreter only.
 *
 * The inner engines keep their own engine_priv; around each call into one
 * the wrapper swaps it into cpu->engine_priv. */
#include "cpu/engine_auto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/segments.h"
#include "sim/log.h"
#include "sim/sim.h"
#include "sim/stats.h"

DEBUG_FLAG_DEFINE(Auto, "Auto engine: CPL samples, policy decisions and switches");

enum { AUTO_INTERP, AUTO_KVM, AUTO_NENGINES };
static const char *const inner_names[AUTO_NENGINES] = {"interp", "kvm"};

/* cpu.auto_counters slots. */
enum {
    ASTAT_TO_KVM,
    ASTAT_TO_INTERP,
    ASTAT_TICKS_INTERP, /* + AUTO_KVM for KVM */
    ASTAT_TICKS_KVM,
    ASTAT_HOST_NS_INTERP, /* + AUTO_KVM for KVM */
    ASTAT_HOST_NS_KVM,
    ASTAT_SAMPLES_RING0,
    ASTAT_SAMPLES_RING3,
    ASTAT_END,
};
_Static_assert(ASTAT_END <= CPU_AUTO_COUNTERS, "cpu.auto_counters too small");

static const struct {
    unsigned idx;
    const char *name, *unit, *desc;
} counter_desc[] = {
    {ASTAT_TO_KVM, "autoSwitchesToKvm", "count", "Auto engine: switches from the interpreter to KVM"},
    {ASTAT_TO_INTERP, "autoSwitchesToInterp", "count", "Auto engine: switches from KVM to the interpreter"},
    {ASTAT_TICKS_INTERP, "autoTicksInterp", "tick", "Auto engine: simulated time run on the interpreter"},
    {ASTAT_TICKS_KVM, "autoTicksKvm", "tick", "Auto engine: simulated time run on KVM"},
    {ASTAT_HOST_NS_INTERP, "autoHostTimeInterp", "ns", "Auto engine: host time in interpreter batches"},
    {ASTAT_HOST_NS_KVM, "autoHostTimeKvm", "ns", "Auto engine: host time in KVM batches"},
    {ASTAT_SAMPLES_RING0, "autoSamplesRing0", "count", "Auto engine: CPL samples in ring 0"},
    {ASTAT_SAMPLES_RING3, "autoSamplesRing3", "count", "Auto engine: CPL samples in rings 1-3"},
};

/* Defaults: samples every 500 us of simulated time, decisions over 32 of
 * them (16 ms); to KVM at <= 1/32 ring 0 (3%), back at >= 30/32 (94%). */
static const struct engine_auto_policy default_policy = {
    .window = 32,
    .to_kvm_ring0 = 1,
    .to_interp_ring0 = 30,
    .sample_ticks = 500 * TICKS_PER_US,
    .kvm_fast_ring0 = false,
};

#define AUTO_MIN_SAMPLE_TICKS (200 * TICKS_PER_US)

struct auto_engine {
    const struct cpu_engine_ops *ops[AUTO_NENGINES]; /* ops[AUTO_KVM] NULL: no KVM */
    void *priv[AUTO_NENGINES];
    int cur;
    struct engine_auto_policy policy;
    tick_t next_sample;       /* simulated tick of the next CPL sample */
    double next_sample_host;  /* on KVM also: host time of the next sample */
    uint8_t ring0[ENGINE_AUTO_MAX_WINDOW]; /* ring buffer: 1 for a ring-0 sample */
    unsigned filled, head, ring0_count;
};

static struct auto_engine *auto_of(struct cpu *cpu)
{
    return cpu->engine_priv;
}

/* Makes inner engine i current for one call: its engine_priv in place. */
static void enter(struct cpu *cpu, struct auto_engine *a, int i)
{
    cpu->engine_priv = a->priv[i];
}

static void leave(struct cpu *cpu, struct auto_engine *a, int i)
{
    a->priv[i] = cpu->engine_priv;
    cpu->engine_priv = a;
}

static int inner_attach(struct cpu *cpu, struct auto_engine *a, int i)
{
    enter(cpu, a, i);
    int rc = a->ops[i]->attach(cpu);
    leave(cpu, a, i);
    return rc;
}

static void inner_detach(struct cpu *cpu, struct auto_engine *a, int i)
{
    if (!a->priv[i])
        return;
    enter(cpu, a, i);
    a->ops[i]->detach(cpu);
    leave(cpu, a, i);
    a->priv[i] = NULL;
}

#define INNER_CALL(cpu, a, i, call)                                            \
    ({                                                                         \
        enter((cpu), (a), (i));                                                \
        __typeof__((a)->ops[i]->call) r_ = (a)->ops[i]->call;                  \
        leave((cpu), (a), (i));                                                \
        r_;                                                                    \
    })

int engine_auto_policy_check(const struct engine_auto_policy *p)
{
    if (p->window < 1 || p->window > ENGINE_AUTO_MAX_WINDOW) {
        err_set("auto policy: window %u is out of range 1..%d", p->window, ENGINE_AUTO_MAX_WINDOW);
        return -1;
    }
    if (p->to_kvm_ring0 >= p->to_interp_ring0) {
        err_set("auto policy: to_kvm_ring0 (%u) must be below to_interp_ring0 (%u), or it "
                "switches back and forth", p->to_kvm_ring0, p->to_interp_ring0);
        return -1;
    }
    if (p->to_interp_ring0 > p->window) {
        err_set("auto policy: to_interp_ring0 %u exceeds the window (%u samples)",
                p->to_interp_ring0, p->window);
        return -1;
    }
    if (p->sample_ticks < AUTO_MIN_SAMPLE_TICKS) {
        err_set("auto policy: a sample period of %" PRIu64 " us is below the minimum of %d us "
                "(on kvm_pvm each KVM entry and CPL query costs tens of us; shorter periods "
                "leave the guest no time to run)",
                (uint64_t)(p->sample_ticks / TICKS_PER_US), (int)(AUTO_MIN_SAMPLE_TICKS / TICKS_PER_US));
        return -1;
    }
    return 0;
}

static struct auto_engine *checked_auto(struct cpu *cpu)
{
    if (!cpu->engine || strcmp(cpu->engine->name, "auto") != 0) {
        err_set("%s runs engine '%s', not 'auto'", cpu->obj.path,
                cpu->engine ? cpu->engine->name : "none");
        return NULL;
    }
    return auto_of(cpu);
}

struct engine_auto_policy *engine_auto_policy(struct cpu *cpu)
{
    struct auto_engine *a = checked_auto(cpu);
    return a ? &a->policy : NULL;
}

const char *engine_auto_current(struct cpu *cpu)
{
    struct auto_engine *a = checked_auto(cpu);
    return a ? inner_names[a->cur] : NULL;
}

static void register_stats(struct cpu *cpu)
{
    char probe[256];
    snprintf(probe, sizeof(probe), "%s.%s", cpu->obj.path, counter_desc[0].name);
    if (stats_find(cpu->obj.sim, probe))
        return; /* an earlier attach of this CPU registered them */
    for (size_t i = 0; i < sizeof(counter_desc) / sizeof(counter_desc[0]); i++)
        stats_add_counter(&cpu->obj, counter_desc[i].name, &cpu->auto_counters[counter_desc[i].idx],
                          counter_desc[i].unit, counter_desc[i].desc);
}

static void reset_window(struct auto_engine *a)
{
    a->filled = a->head = a->ring0_count = 0;
}

static void auto_detach(struct cpu *cpu)
{
    struct auto_engine *a = auto_of(cpu);
    if (!a)
        return;
    for (int i = 0; i < AUTO_NENGINES; i++)
        if (a->ops[i])
            inner_detach(cpu, a, i);
    free(a);
    cpu->engine_priv = NULL;
}

static int auto_attach(struct cpu *cpu)
{
    struct auto_engine *a = calloc(1, sizeof(*a));
    if (!a) {
        err_set("cannot allocate the auto engine");
        return -1;
    }
    cpu->engine_priv = a;
    a->policy = default_policy;
    a->ops[AUTO_INTERP] = cpu_engine_find("interp");
    a->ops[AUTO_KVM] = cpu_engine_find("kvm");
    if (!a->ops[AUTO_INTERP]) {
        err_set("the auto engine needs the 'interp' engine (registered: %s)", cpu_engine_names());
        goto fail;
    }
    if (inner_attach(cpu, a, AUTO_INTERP) < 0)
        goto fail;
    if (a->ops[AUTO_KVM] && inner_attach(cpu, a, AUTO_KVM) < 0) {
        log_warn("%s: auto engine: KVM is unavailable (%s); running the interpreter only",
                 cpu->obj.path, err_get());
        a->ops[AUTO_KVM] = NULL;
    }
    /* kvm_pvm emulates ring 0 slowly; any other KVM is hardware KVM. */
    a->policy.kvm_fast_ring0 = a->ops[AUTO_KVM] && !cpu_host_kvm_pvm();
    a->cur = a->policy.kvm_fast_ring0 ? AUTO_KVM : AUTO_INTERP;
    register_stats(cpu);
    DPRINTF(Auto, &cpu->obj, "starts on %s (%s)", inner_names[a->cur],
            !a->ops[AUTO_KVM] ? "no KVM" : a->policy.kvm_fast_ring0 ? "hardware KVM" : "kvm_pvm");
    return 0;
fail:
    auto_detach(cpu);
    return -1;
}

static int auto_state_in(struct cpu *cpu)
{
    struct auto_engine *a = auto_of(cpu);
    return INNER_CALL(cpu, a, a->cur, state_in(cpu));
}

static int auto_state_out(struct cpu *cpu)
{
    struct auto_engine *a = auto_of(cpu);
    return INNER_CALL(cpu, a, a->cur, state_out(cpu));
}

/* The live state moves from the current inner engine to the other. */
static int switch_to(struct cpu *cpu, struct auto_engine *a, int to)
{
    int from = a->cur;
    double t0 = host_seconds();
    if (INNER_CALL(cpu, a, from, state_out(cpu)) < 0)
        return -1;
    if (INNER_CALL(cpu, a, to, state_in(cpu)) < 0)
        return -1;
    uint64_t ns = (uint64_t)((host_seconds() - t0) * 1e9);
    a->cur = to;
    cpu_count_switch_ns(cpu, ns);
    cpu->auto_counters[to == AUTO_KVM ? ASTAT_TO_KVM : ASTAT_TO_INTERP]++;
    DPRINTF(Auto, &cpu->obj, "switched %s -> %s at rip %#" PRIx64 " (state moved in %" PRIu64 " ns)",
            inner_names[from], inner_names[to], cpu->state.rip, ns);
    reset_window(a);
    return 0;
}

/* The current privilege level, from the engine's cheap query if it has one. */
static int sample_cpl(struct cpu *cpu, struct auto_engine *a)
{
    if (a->ops[a->cur]->cpl)
        return INNER_CALL(cpu, a, a->cur, cpl(cpu));
    if (INNER_CALL(cpu, a, a->cur, state_out(cpu)) < 0)
        return -1;
    return (int)x86_cpl(&cpu->state);
}

/* Records one sample; returns the engine the policy picks now. */
static int decide(struct cpu *cpu, struct auto_engine *a, int cpl)
{
    const struct engine_auto_policy *p = &a->policy;
    uint8_t r0 = cpl == 0;
    cpu->auto_counters[r0 ? ASTAT_SAMPLES_RING0 : ASTAT_SAMPLES_RING3]++;
    if (a->filled == p->window) {
        a->ring0_count -= a->ring0[a->head];
        a->filled--;
    }
    a->ring0[a->head] = r0;
    a->ring0_count += r0;
    a->filled++;
    a->head = (a->head + 1) % p->window;
    if (a->filled < p->window)
        return a->cur;
    if (a->cur == AUTO_INTERP && a->ring0_count <= p->to_kvm_ring0)
        return AUTO_KVM;
    if (a->cur == AUTO_KVM && a->ring0_count >= p->to_interp_ring0)
        return AUTO_INTERP;
    return a->cur;
}

static enum cpu_stop auto_run(struct cpu *cpu, tick_t until, tick_t *reached)
{
    struct auto_engine *a = auto_of(cpu);
    const struct engine_auto_policy *p = &a->policy;
    tick_t start = sim_now(cpu->obj.sim);
    if (p->kvm_fast_ring0 && a->ops[AUTO_KVM] && a->cur == AUTO_INTERP) {
        DPRINTF(Auto, &cpu->obj, "KVM runs ring 0 at full speed: to kvm");
        if (switch_to(cpu, a, AUTO_KVM) < 0) {
            log_error("%s: auto engine: switch to kvm failed: %s", cpu->obj.path, err_get());
            return CPU_STOP_ERROR;
        }
    }
    bool sampling = a->ops[AUTO_KVM] && !p->kvm_fast_ring0;
    if (sampling) {
        /* Also after a checkpoint restore took time backwards. */
        if (a->next_sample <= start || a->next_sample > start + p->sample_ticks)
            a->next_sample = start + p->sample_ticks;
        if (until > a->next_sample)
            until = a->next_sample; /* end the batch at the sample point */
    }
    int cur = a->cur;
    double t0 = host_seconds();
    enum cpu_stop why = INNER_CALL(cpu, a, cur, run(cpu, until, reached));
    cpu->auto_counters[ASTAT_HOST_NS_INTERP + cur] += (uint64_t)((host_seconds() - t0) * 1e9);
    if (*reached > start)
        cpu->auto_counters[ASTAT_TICKS_INTERP + cur] += *reached - start;
    if (!sampling || why != CPU_STOP_BUDGET || *reached < a->next_sample || cpu->yield_request)
        return why;
    a->next_sample = *reached + p->sample_ticks;
    /* On KVM the period is also kept in host time: a KVM CPL query costs
     * tens of us on kvm_pvm, and batches that only let simulated time catch
     * up with a guest TSC that ran ahead (a late kick) take no time at all;
     * sampling those would keep the TSC ahead forever. */
    double host_now = host_seconds();
    if (cur == AUTO_KVM && host_now < a->next_sample_host)
        return why;
    a->next_sample_host = host_now + (double)p->sample_ticks / TICKS_PER_S;
    int cpl = sample_cpl(cpu, a);
    if (cpl < 0) {
        log_error("%s: auto engine: cannot sample the CPL on %s: %s", cpu->obj.path,
                  inner_names[cur], err_get());
        return CPU_STOP_ERROR;
    }
    int to = decide(cpu, a, cpl);
    DPRINTF(Auto, &cpu->obj, "sample on %s: CPL %d, %u of %u samples in ring 0", inner_names[cur],
            cpl, a->ring0_count, a->filled);
    if (to == cur)
        return why;
    DPRINTF(Auto, &cpu->obj, "%u of the last %u samples in ring 0 on %s: to %s", a->ring0_count,
            p->window, inner_names[cur], inner_names[to]);
    if (switch_to(cpu, a, to) < 0) {
        log_error("%s: auto engine: switch to %s failed: %s", cpu->obj.path, inner_names[to],
                  err_get());
        return CPU_STOP_ERROR;
    }
    return why;
}

static const struct cpu_engine_ops auto_engine = {
    .name = "auto",
    .attach = auto_attach,
    .state_in = auto_state_in,
    .state_out = auto_state_out,
    .run = auto_run,
    .detach = auto_detach,
};

CPU_ENGINE_REGISTER(auto_engine);
