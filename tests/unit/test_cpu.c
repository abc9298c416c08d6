/* The CPU object's run loop, halting, engine switching and serialization,
 * driven by scripted test engines (no KVM, no interpreter needed). */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "testlib.h"

/* What the scripted engine does on its next run calls. */
enum script { RUN_TO_BUDGET, RUN_HALT, RUN_SHUTDOWN, RUN_SWITCH_MIDWAY, RUN_SYNC_MIDWAY };

struct fake_priv {
    struct x86_state live;
    unsigned state_ins, state_outs;
};

static enum script script = RUN_TO_BUDGET;
static unsigned runs, attaches, detaches;
static tick_t last_until;

static int fake_attach(struct cpu *cpu)
{
    cpu->engine_priv = calloc(1, sizeof(struct fake_priv));
    attaches++;
    return 0;
}

static int fake_state_in(struct cpu *cpu)
{
    struct fake_priv *p = cpu->engine_priv;
    p->live = cpu->state;
    p->state_ins++;
    return 0;
}

static int fake_state_out(struct cpu *cpu)
{
    struct fake_priv *p = cpu->engine_priv;
    cpu->state = p->live;
    p->state_outs++;
    return 0;
}

/* Each run "executes" one instruction per 500 ps up to the budget and
 * advances RIP by one per run, so the state visibly moves. */
static enum cpu_stop fake_run(struct cpu *cpu, tick_t until, tick_t *reached)
{
    struct fake_priv *p = cpu->engine_priv;
    tick_t now = sim_now(cpu->obj.sim);
    runs++;
    last_until = until;
    p->live.rip++;
    switch (script) {
    case RUN_HALT:
        *reached = now;
        return CPU_STOP_HALT;
    case RUN_SHUTDOWN:
        *reached = now;
        return CPU_STOP_SHUTDOWN;
    case RUN_SWITCH_MIDWAY:
        ck_assert_int_eq(cpu_switch_engine(cpu, "test-b"), 0);
        ck_assert(cpu->yield_request);
        ck_assert_str_eq(cpu->engine->name, "test-a");
        script = RUN_TO_BUDGET;
        *reached = now;
        return CPU_STOP_BUDGET;
    case RUN_SYNC_MIDWAY:
        ck_assert_int_eq(cpu_sync_state(cpu), -1);
        ck_assert_ptr_nonnull(strstr(err_get(), "during an engine exit"));
        script = RUN_TO_BUDGET;
        break;
    case RUN_TO_BUDGET:
        break;
    }
    cpu->insts += (until - now) / 500;
    *reached = until;
    return CPU_STOP_BUDGET;
}

static void fake_detach(struct cpu *cpu)
{
    free(cpu->engine_priv);
    cpu->engine_priv = NULL;
    detaches++;
}

static const struct cpu_engine_ops engine_a = {"test-a", fake_attach, fake_state_in,
                                               fake_state_out, fake_run, fake_detach, NULL};
static const struct cpu_engine_ops engine_b = {"test-b", fake_attach, fake_state_in,
                                               fake_state_out, fake_run, fake_detach, NULL};

__attribute__((constructor)) static void register_engines(void)
{
    cpu_engine_register(&engine_a);
    cpu_engine_register(&engine_b);
}

static struct cpu *make_machine(struct simulation *sim, const char *engine)
{
    sim_init(sim);
    log_set_quiet(true);
    script = RUN_TO_BUDGET;
    runs = attaches = detaches = 0;
    ck_assert_ptr_nonnull(sim_create(sim, "System", "system"));
    struct sim_object *o = sim_create(sim, "CPU", "system.cpu0");
    ck_assert_ptr_nonnull(o);
    const struct param_desc *p = sim_type_param(o->type, "engine");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(param_set_text(o, p, engine), 0);
    return SIM_CAST(struct cpu, o);
}

static void noop_event(struct event *ev, void *arg)
{
    (void)ev;
    (void)arg;
}

static void interrupt_event(struct event *ev, void *cpu)
{
    (void)ev;
    script = RUN_TO_BUDGET;
    cpu_notify_interrupt(cpu);
}

START_TEST(unknown_engine_is_a_clear_error)
{
    struct simulation sim;
    make_machine(&sim, "warp-drive");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    const char *msg = err_get();
    ck_assert_msg(strstr(msg, "warp-drive") && strstr(msg, "test-a") && strstr(msg, "test-b"),
                  "message: %s", msg);
    sim_destroy(&sim);
}
END_TEST

START_TEST(runs_up_to_the_next_event)
{
    struct simulation sim;
    struct cpu *cpu = make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert_uint_eq(attaches, 1);
    struct event dev;
    event_init(&dev, "device", EVPRI_DEVICE, noop_event, NULL);
    sim_schedule(&sim, &dev, 10 * TICKS_PER_US);
    sim_run(&sim, 10 * TICKS_PER_US + 1);
    /* First batch stops at the device event, the next one at the run's limit. */
    ck_assert_uint_eq(runs, 2);
    ck_assert_uint_eq(last_until, 10 * TICKS_PER_US + 1);
    ck_assert_uint_eq(sim_now(&sim), 10 * TICKS_PER_US + 1);
    tick_t ran = 10 * TICKS_PER_US + 1;
    ck_assert_uint_eq(cpu->insts, ran / 500);
    ck_assert_uint_eq(cpu->cycles, ran / cpu->clock.period);
    ck_assert(cpu->state_in_engine);
    sim_destroy(&sim);
    ck_assert_uint_eq(detaches, 1);
}
END_TEST

START_TEST(batches_are_capped_without_events)
{
    struct simulation sim;
    make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    sim_run(&sim, 25 * TICKS_PER_MS);
    ck_assert_uint_eq(runs, 3); /* 10 ms, 10 ms, 5 ms */
    ck_assert_uint_eq(last_until, 25 * TICKS_PER_MS);
    sim_destroy(&sim);
}
END_TEST

START_TEST(halted_cpu_sleeps_until_notified)
{
    struct simulation sim;
    struct cpu *cpu = make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    script = RUN_HALT;
    struct event irq;
    event_init(&irq, "interrupt", EVPRI_INTERRUPT, interrupt_event, cpu);
    sim_schedule(&sim, &irq, 100 * TICKS_PER_US);
    sim_run(&sim, 100 * TICKS_PER_US);
    ck_assert_uint_eq(runs, 1); /* no spinning while halted */
    ck_assert(cpu->sleeping);
    ck_assert_uint_eq(cpu->run_event.when, 100 * TICKS_PER_US); /* looks again then */
    sim_run(&sim, 100 * TICKS_PER_US + 1);
    ck_assert(!cpu->sleeping);
    ck_assert_uint_eq(cpu->halted_ticks, 100 * TICKS_PER_US);
    ck_assert_uint_eq(runs, 2);
    sim_destroy(&sim);
}
END_TEST

START_TEST(halted_cpu_without_events_does_not_run)
{
    struct simulation sim;
    struct cpu *cpu = make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    script = RUN_HALT;
    ck_assert_str_eq(sim_run(&sim, TICKS_PER_S), "no more events");
    ck_assert_uint_eq(runs, 1);
    ck_assert(cpu->sleeping);
    ck_assert(!event_scheduled(&cpu->run_event));
    sim_destroy(&sim);
}
END_TEST

START_TEST(switch_carries_the_state)
{
    struct simulation sim;
    struct cpu *cpu = make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    sim_run(&sim, 5 * TICKS_PER_US);
    uint64_t rip_before = ((struct fake_priv *)cpu->engine_priv)->live.rip;
    ck_assert_int_eq(cpu_switch_engine(cpu, "test-b"), 0);
    ck_assert_str_eq(cpu->engine->name, "test-b");
    ck_assert_uint_eq(((struct fake_priv *)cpu->engine_priv)->live.rip, rip_before);
    ck_assert_uint_eq(detaches, 1);
    ck_assert_int_eq(cpu_switch_engine(cpu, "nonsense"), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "registered engines"));
    sim_destroy(&sim);
}
END_TEST

START_TEST(switch_requested_during_a_run_happens_after_it)
{
    struct simulation sim;
    struct cpu *cpu = make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    script = RUN_SWITCH_MIDWAY;
    sim_run(&sim, 1);
    ck_assert_str_eq(cpu->engine->name, "test-b");
    ck_assert(!cpu->yield_request);
    ck_assert_ptr_null(cpu->pending_engine);
    ck_assert_uint_eq(cpu->state.rip, 0xfff0 + 1); /* the first run's effect survived */
    sim_destroy(&sim);
}
END_TEST

START_TEST(state_cannot_be_synced_inside_a_run)
{
    struct simulation sim;
    struct cpu *cpu = make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    script = RUN_SYNC_MIDWAY;
    sim_run(&sim, TICKS_PER_US);
    ck_assert(cpu->state_in_engine);
    ck_assert_int_eq(cpu_sync_state(cpu), 0); /* between events it works */
    ck_assert(!cpu->state_in_engine);
    sim_destroy(&sim);
}
END_TEST

START_TEST(shutdown_ends_the_run_with_an_error)
{
    struct simulation sim;
    make_machine(&sim, "test-a");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    script = RUN_SHUTDOWN;
    sim_run(&sim, TICKS_PER_MS);
    ck_assert(sim.exit_requested);
    ck_assert_int_ne(sim.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(sim.exit_reason, "triple fault"));
    sim_destroy(&sim);
}
END_TEST

START_TEST(serialize_round_trip)
{
    struct simulation a, b;
    struct cpu *ca = make_machine(&a, "test-a");
    ck_assert_int_eq(sim_instantiate(&a), 0);
    sim_run(&a, 7 * TICKS_PER_US);
    struct ser_node *na = sim_serialize(&a);
    ck_assert(!ca->state_in_engine); /* serialize synced the state */

    struct cpu *cb = make_machine(&b, "test-a");
    ck_assert_int_eq(sim_instantiate(&b), 0);
    ck_assert_msg(sim_unserialize(&b, na) == 0, "%s", err_get());
    ck_assert(!cb->state_in_engine);
    ck_assert_uint_eq(cb->state.rip, ca->state.rip);
    ck_assert_uint_eq(cb->insts, ca->insts);
    struct ser_node *nb = sim_serialize(&b);
    ck_assert(ser_node_equal(na, nb));
    sim_run(&a, 20 * TICKS_PER_US);
    sim_run(&b, 20 * TICKS_PER_US);
    ck_assert_uint_eq(ca->insts, cb->insts);
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpu");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, unknown_engine_is_a_clear_error);
    tcase_add_test(tc, runs_up_to_the_next_event);
    tcase_add_test(tc, batches_are_capped_without_events);
    tcase_add_test(tc, halted_cpu_sleeps_until_notified);
    tcase_add_test(tc, halted_cpu_without_events_does_not_run);
    tcase_add_test(tc, switch_carries_the_state);
    tcase_add_test(tc, switch_requested_during_a_run_happens_after_it);
    tcase_add_test(tc, state_cannot_be_synced_inside_a_run);
    tcase_add_test(tc, shutdown_ends_the_run_with_an_error);
    tcase_add_test(tc, serialize_round_trip);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
