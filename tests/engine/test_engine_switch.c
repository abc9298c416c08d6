/* Engine switching in memory (cpu_switch_engine) and the KVM fallback: a
 * guest loop that reports a running checksum through port writes gives the
 * same device accesses and final registers on the interpreter, on KVM, and
 * when the CPU alternates between them many times in the middle of the
 * loop. Needs /dev/kvm (skips with 77 otherwise). */
#include <check.h>
#include <string.h>

#include "engine_guest.h"
#include "kvm_testlib.h"
#include "sim/stats.h"
#include "testlib.h"

struct outcome {
    struct test_io_log io;
    uint64_t rax, rcx, rip;
    uint64_t switches;
};

/* Runs LOOP_TEST to its HLT; with slices, switches engines after each
 * slice of simulated time (kvm_slice on KVM, interp_slice on the
 * interpreter). */
static void run_loop(const char *engine, tick_t kvm_slice, tick_t interp_slice, struct outcome *out)
{
    struct kvm_machine m;
    machine_init_engine(&m, false, engine);
    machine_load_long_mode(&m, engine_guest, sizeof(engine_guest), LOOP_TEST, 0);
    tick_t limit = 20 * TICKS_PER_S;
    while (!m.cpu->sleeping && sim_now(&m.sim) < limit && !m.sim.exit_requested) {
        bool on_kvm = strcmp(m.cpu->engine->name, "kvm") == 0;
        tick_t slice = on_kvm ? kvm_slice : interp_slice;
        sim_run(&m.sim, slice ? sim_now(&m.sim) + slice : limit);
        if (slice && !m.cpu->sleeping)
            ck_assert_msg(cpu_switch_engine(m.cpu, on_kvm ? "interp" : "kvm") == 0, "switch: %s",
                          err_get());
    }
    ck_assert_msg(m.cpu->sleeping, "the loop did not reach its HLT");
    ck_assert_int_eq(cpu_sync_state(m.cpu), 0);
    out->io = m.io;
    out->rax = m.cpu->state.gpr[R_RAX];
    out->rcx = m.cpu->state.gpr[R_RCX];
    out->rip = m.cpu->state.rip;
    out->switches = m.cpu->switches;
    machine_destroy(&m);
}

static void expect_same(const struct outcome *a, const struct outcome *b)
{
    ck_assert_uint_eq(a->io.n, b->io.n);
    for (unsigned i = 0; i < a->io.n; i++) {
        ck_assert_msg(a->io.ops[i].val == b->io.ops[i].val && a->io.ops[i].addr == b->io.ops[i].addr,
                      "access %u: %#llx@%llu vs %#llx@%llu", i,
                      (unsigned long long)a->io.ops[i].val, (unsigned long long)a->io.ops[i].addr,
                      (unsigned long long)b->io.ops[i].val, (unsigned long long)b->io.ops[i].addr);
    }
    ck_assert_uint_eq(a->rax, b->rax);
    ck_assert_uint_eq(a->rcx, b->rcx);
    ck_assert_uint_eq(a->rip, b->rip);
}

START_TEST(switching_back_and_forth_gives_the_same_result)
{
    struct outcome interp, kvm, switched;
    run_loop("interp", 0, 0, &interp);
    ck_assert_uint_eq(interp.io.n, 3000 / 64 + 1);
    run_loop("kvm", 0, 0, &kvm);
    expect_same(&interp, &kvm);
    /* ~600 interpreted instructions per interpreter slice; KVM slices are
     * host-time based and may run many or few. */
    run_loop("kvm", 200 * TICKS_PER_US, 300 * TICKS_PER_NS, &switched);
    expect_same(&interp, &switched);
    ck_assert_uint_ge(switched.switches, 4);
}
END_TEST

int main(void)
{
    if (!kvm_usable())
        return TEST_SKIP;
    Suite *s = suite_create("engine_switch");
    TCase *tc = tcase_create("switch");
    tcase_add_test(tc, switching_back_and_forth_gives_the_same_result);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
