/* The CPU model's MXCSR_MASK (cpu/model.h) and what bit 17 (MM, AMD's
 * misaligned SSE mode, AMD APM Vol. 1 4.3.2) means to the interpreter:
 * LDMXCSR/FXRSTOR accept MM only when the mask has it, FXSAVE stores the
 * model's mask, CPUID advertises MisAlignSse with it, and with MM=1 a
 * misaligned 16-byte operand of an arithmetic SSE instruction is allowed
 * (#AC under alignment checking) while MOVAPS/MOVNTPS/FXSAVE still #GP. */
#include <string.h>

#include "cpu/interp.h"
#include "cpu/model.h"
#include "sim/object.h"
#include "testlib.h"

#define GUEST_BASE 0x600000ull
static uint8_t guest[2 * 4096] __attribute__((aligned(4096)));


static struct test_flat_mem flat = {guest, GUEST_BASE, sizeof(guest), sizeof(guest)};
static struct x86_state st;
static struct interp ip;

/* 64-bit CPL 3 state with the reset MXCSR; data at GUEST_BASE+0x1000
 * addressed through RBX. */
static void setup_code(const uint8_t *code, size_t len)
{
    memset(guest, 0, sizeof(guest));
    memcpy(guest, code, len);
    x86_state_reset(&st);
    test_user64_state(&st, GUEST_BASE);
    st.cr0 = X86_CR0_PE | X86_CR0_NE;
    st.cr4 = X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    st.rip = GUEST_BASE;
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    st.gpr[R_RSP] = GUEST_BASE + 0x1ff0;
    struct interp_mem_ops ops = {test_flat_translate, &flat};
    interp_destroy(&ip);
    ck_assert_int_eq(interp_init(&ip, &st, &ops), 0);
}

static void put32(size_t off, uint32_t v)
{
    memcpy(guest + 0x1000 + off, &v, 4);
}

static uint32_t get32(size_t off)
{
    uint32_t v;
    memcpy(&v, guest + 0x1000 + off, 4);
    return v;
}

static void put_floats(size_t off, float a)
{
    for (int i = 0; i < 4; i++)
        memcpy(guest + 0x1000 + off + 4 * i, &a, 4);
}

static void expect_fault(uint8_t vector)
{
    uint64_t rip = st.rip;
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, vector);
    ck_assert_uint_eq(st.ev.exception_error, 0);
    ck_assert_uint_eq(st.rip, rip);
    st.ev.exception_pending = false;
}

#define RUN(n) ck_assert_int_eq(interp_run(&ip, (n)), INTERP_STOP_COUNT)

static void restore_default_model(void)
{
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(CPU_MODEL_MXCSR_MASK_DEFAULT), 0);
}

START_TEST(model_mask_validation)
{
    ck_assert_uint_eq(cpu_model_mxcsr_mask(), 0xffff);
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0x1ffff), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "MXCSR_MASK 0x1ffff"));
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0xffbf), -1); /* no DAZ: not this model */
    ck_assert_uint_eq(cpu_model_mxcsr_mask(), 0xffff);
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0x2ffff), 0);
    ck_assert_uint_eq(cpu_model_mxcsr_mask(), 0x2ffff);
    struct x86_state s;
    x86_state_reset(&s);
    ck_assert_uint_eq(s.fx.mxcsr_mask, 0x2ffff);
    /* Every x86-64 host implements bits 0-15. */
    ck_assert_uint_eq(cpu_model_host_mxcsr_mask() & 0xffff, 0xffff);
}
END_TEST

START_TEST(cpuid_misalignsse_follows_the_mask)
{
    struct cpuid_leaf leaf;
    cpu_model_cpuid(0, 0x80000001, 0, &leaf);
    ck_assert_uint_eq(leaf.ecx & (1u << 7), 0);
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0x2ffff), 0);
    cpu_model_cpuid(0, 0x80000001, 0, &leaf);
    ck_assert_uint_eq(leaf.ecx & (1u << 7), 1u << 7);
    ck_assert_uint_eq(leaf.ecx & 1, 1); /* LAHF/SAHF stays */
}
END_TEST

static const uint8_t mxcsr_code[] = {
    0x0f, 0xae, 0x13,       /* ldmxcsr [rbx] */
    0x0f, 0xae, 0x43, 0x40, /* fxsave [rbx+0x40] */
};

START_TEST(default_model_rejects_mm)
{
    setup_code(mxcsr_code, sizeof(mxcsr_code));
    put32(0, 0x21f80);
    expect_fault(X86_GP);
    ck_assert_uint_eq(st.fx.mxcsr, 0x1f80);
    st.rip += 3;
    RUN(1);
    ck_assert_uint_eq(get32(0x40 + 28), 0xffff); /* FXSAVE's MXCSR_MASK */
}
END_TEST

START_TEST(mm_model_accepts_mm)
{
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0x2ffff), 0);
    setup_code(mxcsr_code, sizeof(mxcsr_code));
    put32(0, 0x21f80);
    RUN(2);
    ck_assert_uint_eq(st.fx.mxcsr, 0x21f80);
    ck_assert_uint_eq(get32(0x40 + 24), 0x21f80);
    ck_assert_uint_eq(get32(0x40 + 28), 0x2ffff);
    /* Bit 16 stays reserved. */
    setup_code(mxcsr_code, sizeof(mxcsr_code));
    put32(0, 0x11f80);
    expect_fault(X86_GP);
}
END_TEST

START_TEST(fxrstor_checks_mxcsr_against_the_model)
{
    static const uint8_t code[] = {
        0x0f, 0xae, 0x03,       /* fxsave [rbx] */
        0x0f, 0xae, 0x0b,       /* fxrstor [rbx] */
    };
    setup_code(code, sizeof(code));
    RUN(1);
    put32(24, 0x21f80);
    expect_fault(X86_GP);
    ck_assert_uint_eq(st.fx.mxcsr, 0x1f80);
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0x2ffff), 0);
    RUN(1);
    ck_assert_uint_eq(st.fx.mxcsr, 0x21f80);
}
END_TEST

START_TEST(misaligned_operands)
{
    static const uint8_t code[] = {
        0x0f, 0x58, 0x43, 0x04, /* addps xmm0, [rbx+4] */
        0x0f, 0x28, 0x4b, 0x04, /* movaps xmm1, [rbx+4] */
        0x0f, 0x2b, 0x43, 0x04, /* movntps [rbx+4], xmm0 */
        0x0f, 0xae, 0x43, 0x48, /* fxsave [rbx+0x48] */
    };
    /* Without MM (the default model): #GP for each. */
    setup_code(code, sizeof(code));
    put_floats(4, 1.5f);
    expect_fault(X86_GP);

    /* With MM set: ADDPS reads the misaligned operand, the always-aligned
     * instructions still #GP. */
    ck_assert_int_eq(cpu_model_set_mxcsr_mask(0x2ffff), 0);
    setup_code(code, sizeof(code));
    put_floats(4, 1.5f);
    st.fx.mxcsr = 0x21f80;
    RUN(1);
    float f;
    memcpy(&f, st.fx.xmm[0] + 12, 4);
    ck_assert(f == 1.5f);
    ck_assert_uint_eq(st.fx.mxcsr, 0x21f80); /* MM kept; the host ran it without MM */
    expect_fault(X86_GP);
    st.rip += 4;
    expect_fault(X86_GP);
    st.rip += 4;
    expect_fault(X86_GP);

    /* With MM and alignment checking (CPL 3, CR0.AM, RFLAGS.AC): #AC. */
    setup_code(code, sizeof(code));
    st.fx.mxcsr = 0x21f80;
    st.cr0 |= X86_CR0_AM;
    st.rflags |= X86_FLAG_AC;
    interp_state_changed(&ip);
    expect_fault(X86_AC);

    /* MM clear again on the same model: #GP. */
    setup_code(code, sizeof(code));
    expect_fault(X86_GP);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mxcsr_mask");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, restore_default_model, restore_default_model);
    tcase_add_test(tc, model_mask_validation);
    tcase_add_test(tc, cpuid_misalignsse_follows_the_mask);
    tcase_add_test(tc, default_model_rejects_mm);
    tcase_add_test(tc, mm_model_accepts_mm);
    tcase_add_test(tc, fxrstor_checks_mxcsr_against_the_model);
    tcase_add_test(tc, misaligned_operands);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
