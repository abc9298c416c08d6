/* Interpreter unit tests for SSE/SSE2, x87 and MMX, with expected values
 * worked out from the Intel SDM (IEEE results, MXCSR/FSW flag rules, x87
 * stack faults, MMX register-file transitions). */
#include <string.h>

#include "cpu/interp.h"
#include "testlib.h"

#define GUEST_BASE 0x600000ull
static uint8_t guest[2 * 4096] __attribute__((aligned(4096)));


static struct test_flat_mem flat = {guest, GUEST_BASE, sizeof(guest), sizeof(guest)};
static struct x86_state st;
static struct interp ip;

/* 64-bit user state, FNINIT/MXCSR reset values, data at GUEST_BASE+0x1000
 * addressed through RBX. */
static void setup(const uint8_t *code, size_t len)
{
    memset(guest, 0, sizeof(guest));
    memcpy(guest, code, len);
    memset(&st, 0, sizeof(st));
    test_user64_state(&st, GUEST_BASE);
    st.cr0 = X86_CR0_PE | X86_CR0_NE;
    st.cr4 = X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    st.gpr[R_RSP] = GUEST_BASE + 0x1ff0;
    st.fx.fcw = 0x37f;
    st.fx.mxcsr = 0x1f80;
    struct interp_mem_ops ops = {test_flat_translate, &flat};
    interp_destroy(&ip);
    ck_assert_int_eq(interp_init(&ip, &st, &ops), 0);
}

static double xmm_double(int r, int lane)
{
    double d;
    memcpy(&d, st.fx.xmm[r] + 8 * lane, 8);
    return d;
}

static void put_double(size_t off, double d)
{
    memcpy(guest + 0x1000 + off, &d, 8);
}

#define RUN(n) ck_assert_int_eq(interp_run(&ip, (n)), INTERP_STOP_COUNT)

START_TEST(sse2_double_arithmetic_and_flags)
{
    static const uint8_t code[] = {
        0xf2, 0x0f, 0x10, 0x03,       /* movsd xmm0, [rbx] */
        0xf2, 0x0f, 0x58, 0x43, 0x08, /* addsd xmm0, [rbx+8] */
        0xf2, 0x0f, 0x5e, 0x43, 0x10, /* divsd xmm0, [rbx+16] */
        0x66, 0x0f, 0x2e, 0x43, 0x18, /* ucomisd xmm0, [rbx+24] */
    };
    setup(code, sizeof(code));
    put_double(0, 1.5);
    put_double(8, 2.25);
    put_double(16, 3.0);
    put_double(24, 1.25);
    RUN(2);
    ck_assert(xmm_double(0, 0) == 3.75);
    ck_assert_uint_eq(st.fx.mxcsr & 0x3f, 0); /* exact */
    RUN(1);
    ck_assert(xmm_double(0, 0) == 1.25);
    ck_assert_uint_eq(st.fx.mxcsr & 0x3f, 0);
    RUN(1);
    /* equal: ZF=1 PF=0 CF=0 */
    ck_assert_uint_eq(st.rflags & (X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF), X86_FLAG_ZF);
}
END_TEST

START_TEST(sse_inexact_flag_and_unmasked_divide_by_zero)
{
    static const uint8_t code[] = {
        0xf2, 0x0f, 0x10, 0x03,       /* movsd xmm0, [rbx]: 1.0 */
        0xf2, 0x0f, 0x5e, 0x43, 0x08, /* divsd xmm0, [rbx+8]: 1/3 inexact -> PE */
        0xf2, 0x0f, 0x5e, 0x43, 0x10, /* divsd xmm0, [rbx+16]: /0 with ZM clear -> #XM */
    };
    setup(code, sizeof(code));
    put_double(0, 1.0);
    put_double(8, 3.0);
    put_double(16, 0.0);
    RUN(2);
    ck_assert_uint_eq(st.fx.mxcsr & 0x3f, 0x20);
    double third = xmm_double(0, 0);
    st.fx.mxcsr &= ~0x200u; /* unmask divide-by-zero */
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_XM);
    ck_assert(xmm_double(0, 0) == third); /* destination not written */
    ck_assert(st.fx.mxcsr & 0x4);         /* ZE recorded */
}
END_TEST

START_TEST(sse2_integer_and_alignment)
{
    static const uint8_t code[] = {
        0x66, 0x0f, 0x6f, 0x03,       /* movdqa xmm0, [rbx] */
        0x66, 0x0f, 0xfc, 0x43, 0x10, /* paddb xmm0, [rbx+16] */
        0x66, 0x0f, 0xd7, 0xc0,       /* pmovmskb eax, xmm0 */
        0x66, 0x0f, 0x6f, 0x43, 0x01, /* movdqa xmm0, [rbx+1]: misaligned -> #GP */
    };
    setup(code, sizeof(code));
    for (int i = 0; i < 16; i++) {
        guest[0x1000 + i] = (uint8_t)(i * 16);
        guest[0x1010 + i] = 0x7f;
    }
    RUN(3);
    /* byte i = i*16 + 0x7f (mod 256): the sign bit is set for i = 1..8 */
    ck_assert_uint_eq(st.fx.xmm[0][0], 0x7f);
    ck_assert_uint_eq(st.fx.xmm[0][1], 0x8f);
    ck_assert_uint_eq(st.gpr[R_RAX], 0x01fe);
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_GP);
}
END_TEST

static long double st_value(int i)
{
    long double v = 0;
    memcpy(&v, st.fx.st[i].bytes, 10);
    return v;
}

START_TEST(x87_arithmetic_and_store)
{
    static const uint8_t code[] = {
        0xd9, 0xe8,       /* fld1 */
        0xdd, 0x03,       /* fld qword [rbx]: 2.5 */
        0xde, 0xc1,       /* faddp: 3.5 */
        0xd9, 0xfa,       /* fsqrt */
        0xdd, 0x5b, 0x08, /* fstp qword [rbx+8] */
        0xdf, 0xe0,       /* fnstsw ax */
    };
    setup(code, sizeof(code));
    put_double(0, 2.5);
    RUN(3);
    ck_assert(st_value(0) == 3.5L);
    ck_assert_uint_eq((st.fx.fsw >> 11) & 7, 7); /* one value: TOP = 7 */
    ck_assert_uint_eq(st.fx.ftw, 0x80);
    RUN(3);
    double out;
    memcpy(&out, guest + 0x1008, 8);
    ck_assert(out == 1.8708286933869707); /* sqrt(3.5) rounded to double */
    ck_assert_uint_eq(st.fx.ftw, 0);
    ck_assert_uint_eq((st.fx.fsw >> 11) & 7, 0);
    ck_assert(st.fx.fsw & 0x20); /* PE: sqrt(3.5) is inexact */
    ck_assert_uint_eq(st.gpr[R_RAX] & 0xffff, st.fx.fsw);
}
END_TEST

START_TEST(x87_stack_overflow_and_compare)
{
    /* nine pushes: the ninth overflows (IE, SF, C1=1) and, masked, loads the
     * QNaN indefinite; then FCOMI of equal values */
    uint8_t code[32];
    for (int i = 0; i < 9; i++) {
        code[2 * i] = 0xd9;
        code[2 * i + 1] = 0xe8; /* fld1 */
    }
    code[18] = 0xdb;
    code[19] = 0xf1; /* fcomi st, st(1) */
    setup(code, 20);
    RUN(8);
    ck_assert_uint_eq(st.fx.ftw, 0xff);
    ck_assert_uint_eq(st.fx.fsw & 0x7f, 0);
    RUN(1);
    ck_assert_uint_eq(st.fx.fsw & 0x41, 0x41);
    ck_assert(st.fx.fsw & 0x200);
    static const uint8_t indefinite[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};
    ck_assert(memcmp(st.fx.st[0].bytes, indefinite, 10) == 0);
    /* ST0 is the NaN: FCOMI is unordered: ZF PF CF all set */
    RUN(1);
    ck_assert_uint_eq(st.rflags & (X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF),
                      X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF);
}
END_TEST

START_TEST(mmx_register_file)
{
    static const uint8_t code[] = {
        0xd9, 0xe8,             /* fld1: TOP = 7 */
        0x0f, 0x6f, 0x03,       /* movq mm0, [rbx] */
        0x0f, 0xfd, 0x43, 0x08, /* paddw mm0, [rbx+8] */
        0x0f, 0x7e, 0xc0,       /* movd eax, mm0 */
        0x0f, 0x77,             /* emms */
    };
    setup(code, sizeof(code));
    uint64_t a = 0x0001000200030004ull, b = 0x000100010001fffcull;
    memcpy(guest + 0x1000, &a, 8);
    memcpy(guest + 0x1008, &b, 8);
    RUN(3);
    /* MMX: TOP = 0, all tags valid, mm0 = physical register 0 with the
     * exponent bits set */
    ck_assert_uint_eq((st.fx.fsw >> 11) & 7, 0);
    ck_assert_uint_eq(st.fx.ftw, 0xff);
    uint64_t mm0;
    memcpy(&mm0, st.fx.st[0].bytes, 8);
    ck_assert_uint_eq(mm0, 0x0002000300040000ull);
    ck_assert_uint_eq(st.fx.st[0].bytes[8], 0xff);
    ck_assert_uint_eq(st.fx.st[0].bytes[9], 0xff);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0x00040000);
    RUN(1);
    ck_assert_uint_eq(st.fx.ftw, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interp_fp");
    TCase *tc = tcase_create("fp");
    tcase_add_test(tc, sse2_double_arithmetic_and_flags);
    tcase_add_test(tc, sse_inexact_flag_and_unmasked_divide_by_zero);
    tcase_add_test(tc, sse2_integer_and_alignment);
    tcase_add_test(tc, x87_arithmetic_and_store);
    tcase_add_test(tc, x87_stack_overflow_and_compare);
    tcase_add_test(tc, mmx_register_file);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
