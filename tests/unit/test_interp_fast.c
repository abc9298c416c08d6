/* The interpreter's fast paths against the cases where they must hand over
 * to the general code: the specialised handlers of cpu/exec_fast.c (lazy
 * flags across instructions, byte operands merging into their register
 * and AH..BH left to the general path, sign/zero extension, shifts, SIB,
 * RIP-relative and GS-based addresses, read-modify-write to a read-only
 * page leaving memory and flags alone, #SS for a non-canonical stack
 * address) and the
 * bulk REP MOVS/STOS path of cpu/exec_str.c (overlapping copies that
 * repeat bytes, elements crossing pages, a fault part-way through, the
 * 4096-element chunk), plus the run loop's successor links after code
 * changes under them. Expected values are worked out by hand. */
#include <string.h>

#include "cpu/interp.h"
#include "testlib.h"

/* Guest memory: 4 pages identity-mapped at GUEST_BASE; page 3 is
 * read-only. */
#define GUEST_BASE 0x400000ull
#define GUEST_PAGES 4
static uint8_t guest[GUEST_PAGES * 4096] __attribute__((aligned(4096)));


static struct test_flat_mem flat = {guest, GUEST_BASE, sizeof(guest), 3 * 4096};
static struct x86_state st;
static struct interp ip;

static void setup(const uint8_t *code, size_t len)
{
    memset(guest, 0, sizeof(guest));
    memcpy(guest, code, len);
    memset(&st, 0, sizeof(st));
    test_user64_state(&st, GUEST_BASE);
    st.gpr[R_RSP] = GUEST_BASE + 3 * 4096;
    if (!ip.icache) {
        struct interp_mem_ops ops = {test_flat_translate, &flat};
        ck_assert_int_eq(interp_init(&ip, &st, &ops), 0);
    }
    interp_state_changed(&ip);
}

#define RUN(n) ck_assert_int_eq(interp_run(&ip, (n)), INTERP_STOP_COUNT)
#define ARITH (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF)

static uint64_t u64_at(uint64_t off)
{
    uint64_t v;
    memcpy(&v, guest + off, 8);
    return v;
}

START_TEST(fast_alu_forms)
{
    static const uint8_t code[] = {
        0x48, 0x01, 0x43, 0x08, /* add [rbx+8], rax */
        0x03, 0x4b, 0x08,       /* add ecx, [rbx+8]: 32-bit, zero-extends */
        0x48, 0x83, 0x6b, 0x10, 0x01, /* sub qword [rbx+16], 1 */
        0x72, 0x02,             /* jb +2 (taken: 0 - 1 borrows) */
        0x90, 0x90,
        0x39, 0xd8,             /* cmp eax, ebx */
        0x0f, 0x94, 0xc2,       /* sete dl (general handler after a fast CMP) */
    };
    setup(code, sizeof(code));
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    st.gpr[R_RAX] = 0x8000000000000000ull;
    st.gpr[R_RCX] = 0xffffffff00000001ull;
    uint64_t init = 0x8000000000000001ull;
    memcpy(guest + 0x1008, &init, 8);
    RUN(1);
    /* 0x8000..01 + 0x8000..00 = 1 with carry and signed overflow */
    ck_assert_uint_eq(u64_at(0x1008), 1);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RCX], 2);
    ck_assert_uint_eq(st.rflags & ARITH, 0);
    RUN(2);
    ck_assert_uint_eq(u64_at(0x1010), ~0ull);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 16);
    ck_assert_uint_eq(st.rflags & ARITH, X86_FLAG_CF | X86_FLAG_SF | X86_FLAG_AF | X86_FLAG_PF);
    st.gpr[R_RAX] = 0x1234500000007ull;
    st.gpr[R_RBX] = 7;
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RDX] & 0xff, 1);
    ck_assert_uint_eq(st.rflags & ARITH, X86_FLAG_ZF | X86_FLAG_PF);
}
END_TEST

START_TEST(fast_byte_extend_shift_and_address_forms)
{
    static const uint8_t code[] = {
        0x00, 0x0c, 0x73,                   /* 0: add [rbx+rsi*2], cl */
        0x02, 0x44, 0x24, 0x08,             /* 3: add al, [rsp+8] (merges into RAX) */
        0x48, 0x0f, 0xbe, 0x05, 0xf1, 0x07, 0x00, 0x00, /* 7: movsx rax, byte [rip+0x7f1] (0x800) */
        0x0f, 0xb7, 0xc9,                   /* 15: movzx ecx, cx */
        0x48, 0xc1, 0xf8, 0x04,             /* 18: sar rax, 4 */
        0x65, 0x48, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00, /* 22: mov rax, gs:[0x10] */
        0x88, 0x23,                         /* 31: mov [rbx], ah (no REX: AH) */
    };
    setup(code, sizeof(code));
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    st.gpr[R_RSI] = 4;
    st.gpr[R_RCX] = 0xdeadbeef00001220ull;
    st.gpr[R_RSP] = GUEST_BASE + 0x2000;
    st.gpr[R_RAX] = 0x1122334455667701ull;
    st.seg[S_GS].base = GUEST_BASE + 0x1800;
    guest[0x1008] = 0xf0;
    guest[0x2008] = 0x7f;
    guest[0x800] = 0x85;
    uint64_t gs_value = 0x0123456789abcdefull;
    memcpy(guest + 0x1810, &gs_value, 8);
    RUN(1);
    ck_assert_uint_eq(guest[0x1008], 0x10);
    ck_assert_uint_eq(st.rflags & ARITH, X86_FLAG_CF);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0x1122334455667780ull);
    ck_assert_uint_eq(st.rflags & ARITH, X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0xffffffffffffff85ull);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RCX], 0x1220);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0xfffffffffffffff8ull);
    ck_assert_uint_eq(st.rflags & ARITH, X86_FLAG_SF);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], gs_value);
    RUN(1);
    ck_assert_uint_eq(guest[0x1000], 0xcd);
    ck_assert_uint_eq(st.rip, GUEST_BASE + sizeof(code));
}
END_TEST

START_TEST(fast_rmw_to_read_only_page_faults_cleanly)
{
    /* add [rbx], eax on page 3 (read-only): #PF with memory, RAX and the
     * flags of the earlier CMP untouched */
    static const uint8_t code[] = {0x39, 0xc0, 0x01, 0x03};
    setup(code, sizeof(code));
    st.gpr[R_RBX] = GUEST_BASE + 3 * 4096 + 0x10;
    st.gpr[R_RAX] = 5;
    guest[3 * 4096 + 0x10] = 9;
    ck_assert_int_eq(interp_run(&ip, 2), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_PF);
    ck_assert_uint_eq(st.ev.exception_error & 2, 2);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 2);
    ck_assert_uint_eq(guest[3 * 4096 + 0x10], 9);
    ck_assert_uint_eq(st.rflags & ARITH, X86_FLAG_ZF | X86_FLAG_PF);
}
END_TEST

START_TEST(fast_stack_non_canonical_is_ss)
{
    /* push rax / mov rax, [rbp+0] with a non-canonical RSP/RBP: #SS(0) */
    static const uint8_t push[] = {0x50};
    setup(push, sizeof(push));
    st.gpr[R_RSP] = 0x0000800000000008ull;
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_SS);
    ck_assert_uint_eq(st.gpr[R_RSP], 0x0000800000000008ull);
    static const uint8_t load[] = {0x48, 0x8b, 0x45, 0x00};
    setup(load, sizeof(load));
    st.gpr[R_RBP] = 0x0000800000000000ull;
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_SS);
}
END_TEST

START_TEST(rep_movs_overlap_repeats_bytes)
{
    /* rep movsb with RDI = RSI + 1 copies the first byte forward over the
     * whole range, as the element-by-element definition does */
    static const uint8_t code[] = {0xf3, 0xa4};
    setup(code, sizeof(code));
    memcpy(guest + 0x1000, "abcdefgh", 8);
    st.gpr[R_RSI] = GUEST_BASE + 0x1000;
    st.gpr[R_RDI] = GUEST_BASE + 0x1001;
    st.gpr[R_RCX] = 7;
    RUN(1);
    ck_assert(memcmp(guest + 0x1000, "aaaaaaaa", 8) == 0);
    ck_assert_uint_eq(st.gpr[R_RCX], 0);
    ck_assert_uint_eq(st.gpr[R_RDI], GUEST_BASE + 0x1008);
}
END_TEST

START_TEST(rep_stos_across_pages_and_chunks)
{
    /* rep stosq from 4 bytes before page 2's end: the element across the
     * page boundary goes through the general path; 5000 elements take two
     * chunks (4096, then the rest) */
    static const uint8_t code[] = {0xf3, 0x48, 0xab};
    setup(code, sizeof(code));
    st.gpr[R_RDI] = GUEST_BASE + 0x1000 - 4 - 8 * 2;
    st.gpr[R_RCX] = 5;
    st.gpr[R_RAX] = 0x1122334455667788ull;
    RUN(1);
    for (uint64_t off = 0x1000 - 20; off < 0x1000 + 20; off += 8)
        ck_assert_uint_eq(u64_at(off), 0x1122334455667788ull);
    ck_assert_uint_eq(st.gpr[R_RDI], GUEST_BASE + 0x1000 + 20);
    static const uint8_t stosb[] = {0xf3, 0xaa};
    setup(stosb, sizeof(stosb));
    st.gpr[R_RDI] = GUEST_BASE + 0x1000;
    st.gpr[R_RCX] = 5000;
    st.gpr[R_RAX] = 0x5a;
    RUN(1);
    ck_assert_uint_eq(st.rip, GUEST_BASE);
    ck_assert_uint_eq(st.gpr[R_RCX], 5000 - 4096);
    ck_assert_uint_eq(guest[0x1000 + 4095], 0x5a);
    ck_assert_uint_eq(guest[0x1000 + 4096], 0);
    RUN(1);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 2);
    ck_assert_uint_eq(st.gpr[R_RCX], 0);
    ck_assert_uint_eq(guest[0x1000 + 4999], 0x5a);
    ck_assert_uint_eq(guest[0x1000 + 5000], 0);
}
END_TEST

START_TEST(rep_movs_faults_part_way)
{
    /* rep movsq into the read-only page 3: the elements before it are
     * copied, RCX/RSI/RDI stop at the faulting element */
    static const uint8_t code[] = {0xf3, 0x48, 0xa5};
    setup(code, sizeof(code));
    for (unsigned i = 0; i < 8; i++)
        guest[0x100 + i] = (uint8_t)(i + 1);
    st.gpr[R_RSI] = GUEST_BASE + 0x100;
    st.gpr[R_RDI] = GUEST_BASE + 3 * 4096 - 16;
    st.gpr[R_RCX] = 4;
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_PF);
    ck_assert_uint_eq(st.gpr[R_RCX], 2);
    ck_assert_uint_eq(st.gpr[R_RDI], GUEST_BASE + 3 * 4096);
    ck_assert_uint_eq(st.gpr[R_RSI], GUEST_BASE + 0x110);
    ck_assert_uint_eq(u64_at(3 * 4096 - 16), 0x0807060504030201ull);
}
END_TEST

START_TEST(successor_link_sees_new_code)
{
    /* A loop body runs, then the store in it rewrites the instruction the
     * loop's successor links point at: the next pass runs the new bytes.
     * inc ecx; mov byte [rbx], 0x29 (turns "add eax, edx" into "sub eax,
     * edx"); add eax, edx; dec esi; jnz back */
    static const uint8_t code[] = {
        0xff, 0xc1,             /* 0: inc ecx */
        0xc6, 0x03, 0x29,       /* 2: mov byte [rbx], 0x29 (after the first pass: RBX set below) */
        0x01, 0xd0,             /* 5: add eax, edx */
        0xff, 0xce,             /* 7: dec esi */
        0x75, 0xf5,             /* 9: jnz 0 */
    };
    setup(code, sizeof(code));
    st.gpr[R_RBX] = GUEST_BASE + 0x1000; /* first pass writes elsewhere */
    st.gpr[R_RDX] = 10;
    st.gpr[R_RSI] = 3;
    RUN(5);
    ck_assert_uint_eq(st.gpr[R_RAX], 10);
    st.gpr[R_RBX] = GUEST_BASE + 5;
    RUN(10);
    /* second pass: add (the store comes first, but the add was decoded
     * already and its bytes now differ: re-decoded as sub) */
    ck_assert_uint_eq(guest[5], 0x29);
    ck_assert_uint_eq(st.gpr[R_RAX], (uint64_t)(uint32_t)(10 - 10 - 10));
    ck_assert_uint_eq(st.gpr[R_RCX], 3);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 11);
}
END_TEST

/* Conditions after the lazily-flagged forms (fast and general handlers),
 * read by SETcc and Jcc in the same run, equal the ones read after each
 * instruction materialized RFLAGS; CF before INC/DEC must survive them. */
START_TEST(lazy_conditions_match_eager)
{
    static const uint64_t vals[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff,
                                    0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull};
    static const uint8_t ops[][4] = {
        {0x01, 0xd8, 0x90, 0x90},       /* add eax, ebx */
        {0x48, 0x29, 0xd8, 0x90},       /* sub rax, rbx */
        {0x21, 0xd8, 0x90, 0x90},       /* and eax, ebx */
        {0x48, 0x83, 0xc0, 0x01},       /* add rax, 1 */
        {0x48, 0xff, 0xc0, 0x90},       /* inc rax */
        {0xff, 0xc8, 0x90, 0x90},       /* dec eax */
        {0xfe, 0xc0, 0x90, 0x90},       /* inc al (general handler) */
        {0x48, 0xc1, 0xe0, 0x01},       /* shl rax, 1 (eager) */
    };
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
        for (unsigned cc = 0; cc < 16; cc++)
            for (unsigned carry = 0; carry < 2; carry++)
                for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
                    for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j += 3) {
                        uint8_t code[16];
                        code[0] = carry ? 0xf9 : 0xf8; /* stc / clc */
                        memcpy(code + 1, ops[k], 4);
                        code[5] = 0x0f;
                        code[6] = (uint8_t)(0x90 | cc); /* setcc cl */
                        code[7] = 0xc1;
                        code[8] = (uint8_t)(0x70 | cc); /* jcc +2 */
                        code[9] = 0x02;
                        code[10] = 0xb2; /* mov dl, 1 (when not taken) */
                        code[11] = 0x01;
                        code[12] = 0x0f; /* ud2: the end */
                        code[13] = 0x0b;
                        uint64_t results[2];
                        for (int mode = 0; mode < 2; mode++) {
                            setup(code, 14);
                            st.gpr[R_RAX] = vals[i];
                            st.gpr[R_RBX] = vals[j];
                            st.gpr[R_RCX] = st.gpr[R_RDX] = 0;
                            if (mode == 0) {
                                ck_assert_int_eq(interp_run(&ip, 100), INTERP_STOP_EXCEPTION);
                            } else {
                                while (st.rip < GUEST_BASE + 12)
                                    RUN(1);
                            }
                            ck_assert_uint_eq(st.rip, GUEST_BASE + 12);
                            results[mode] = st.gpr[R_RCX] | st.gpr[R_RDX] << 8 | (st.rflags & ARITH) << 16;
                        }
                        ck_assert_msg(results[0] == results[1], "op %zu cc %u cf %u a %llx b %llx: lazy %llx eager %llx",
                                      k, cc, carry, (unsigned long long)vals[i], (unsigned long long)vals[j],
                                      (unsigned long long)results[0], (unsigned long long)results[1]);
                    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interp_fast");
    TCase *tc = tcase_create("fast");
    tcase_add_test(tc, fast_alu_forms);
    tcase_add_test(tc, fast_byte_extend_shift_and_address_forms);
    tcase_add_test(tc, fast_rmw_to_read_only_page_faults_cleanly);
    tcase_add_test(tc, fast_stack_non_canonical_is_ss);
    tcase_add_test(tc, rep_movs_overlap_repeats_bytes);
    tcase_add_test(tc, rep_stos_across_pages_and_chunks);
    tcase_add_test(tc, rep_movs_faults_part_way);
    tcase_add_test(tc, successor_link_sees_new_code);
    tcase_add_test(tc, lazy_conditions_match_eager);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
