/* Single-stepping the KVM engine (kvm/kvm_debug.h): one instruction per
 * step with the state read back, device accesses reported to the hook in
 * order with the values the devices gave, HLT reported, a session refused
 * on a CPU that is not on the KVM engine. */
#include <check.h>
#include <string.h>

#include "kvm/kvm_debug.h"
#include "kvm_testlib.h"
#include "sim/log.h"
#include "testlib.h"

static const uint8_t code[] = {
    0x48, 0xc7, 0xc0, 0x05, 0x00, 0x00, 0x00, /* 0x00 mov $5,%rax */
    0x48, 0xff, 0xc0,                         /* 0x07 inc %rax */
    0x66, 0xba, 0x10, 0x07,                   /* 0x0a mov $0x710,%dx */
    0xee,                                     /* 0x0e out %al,(%dx) */
    0xed,                                     /* 0x0f in (%dx),%eax */
    0x48, 0x89, 0xc3,                         /* 0x10 mov %rax,%rbx */
    0xf4,                                     /* 0x13 hlt */
};

struct seen {
    unsigned n;
    struct kvm_debug_access a[8];
};

static void hook(void *opaque, const struct kvm_debug_access *a)
{
    struct seen *s = opaque;
    if (s->n < 8)
        s->a[s->n++] = *a;
}

START_TEST(steps_one_instruction_and_reports_device_accesses)
{
    struct kvm_machine m;
    machine_init(&m, false);
    machine_load_long_mode(&m, code, sizeof(code), 0, 0);
    struct seen seen = {0};
    ck_assert_msg(kvm_debug_begin(m.cpu, hook, &seen) == 0, "%s", err_get());
    ck_assert_int_eq(kvm_debug_step(m.cpu), KVM_STEP_DONE);
    ck_assert_uint_eq(m.cpu->state.rip, TEST_CODE + 0x07);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RAX], 5);
    ck_assert_int_eq(kvm_debug_step(m.cpu), KVM_STEP_DONE);
    ck_assert_uint_eq(m.cpu->state.rip, TEST_CODE + 0x0a);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RAX], 6);
    ck_assert_int_eq(kvm_debug_step(m.cpu), KVM_STEP_DONE);
    ck_assert_uint_eq(m.cpu->state.rip, TEST_CODE + 0x0e);
    ck_assert_uint_eq(seen.n, 0);
    /* Steps to the HLT; kvm_pvm may run the instruction after an I/O exit
     * in the same step, so the count is not fixed. */
    enum kvm_step_result r = KVM_STEP_DONE;
    unsigned steps = 0;
    while (r == KVM_STEP_DONE && m.cpu->state.rip < TEST_CODE + 0x14 && steps++ < 8)
        r = kvm_debug_step(m.cpu);
    ck_assert_uint_eq(seen.n, 2);
    ck_assert(!seen.a[0].mmio && seen.a[0].write);
    ck_assert_uint_eq(seen.a[0].addr, TEST_PORT);
    ck_assert_uint_eq(seen.a[0].size, 1);
    ck_assert_uint_eq(seen.a[0].value, 6);
    ck_assert(!seen.a[1].mmio && !seen.a[1].write);
    ck_assert_uint_eq(seen.a[1].size, 4);
    ck_assert_uint_eq(seen.a[1].value, 0xabcd1234);
    ck_assert_uint_eq(m.io.n, 2); /* the test device saw them too */
    ck_assert_uint_eq(m.cpu->state.gpr[R_RBX], 0xabcd1234);
    ck_assert_uint_eq(m.cpu->state.rip, TEST_CODE + 0x14); /* past the HLT */
    ck_assert_msg(kvm_debug_end(m.cpu) == 0, "%s", err_get());
    machine_destroy(&m);
}
END_TEST

START_TEST(refuses_a_cpu_on_another_engine)
{
    struct kvm_machine m;
    machine_init_engine(&m, false, "interp");
    ck_assert_int_eq(kvm_debug_begin(m.cpu, NULL, NULL), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "needs the kvm engine"));
    ck_assert_int_eq(kvm_debug_step(m.cpu), KVM_STEP_ERROR);
    machine_destroy(&m);
}
END_TEST

START_TEST(step_outside_a_session_is_an_error)
{
    struct kvm_machine m;
    machine_init(&m, false);
    machine_load_long_mode(&m, code, sizeof(code), 0, 0);
    ck_assert_int_eq(kvm_debug_step(m.cpu), KVM_STEP_ERROR);
    ck_assert_ptr_nonnull(strstr(err_get(), "outside a stepping session"));
    machine_destroy(&m);
}
END_TEST

int main(void)
{
    if (!kvm_usable())
        return TEST_SKIP;
    Suite *s = suite_create("kvm_debug");
    TCase *tc = tcase_create("single_step");
    tcase_add_test(tc, steps_one_instruction_and_reports_device_accesses);
    tcase_add_test(tc, refuses_a_cpu_on_another_engine);
    tcase_add_test(tc, step_outside_a_session_is_an_error);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
