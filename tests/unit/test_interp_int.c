/* Interpreter unit tests: integer instructions with expected values worked
 * out by hand from the Intel SDM Vol. 2 pseudocode, plus the engine's own
 * mechanics (exceptions, decoded-instruction cache and self-modifying code,
 * page-crossing accesses, CPUID/RDTSC sources). */
#include <string.h>

#include "cpu/decode.h"
#include "cpu/interp.h"
#include "cpu/model.h"
#include "testlib.h"

/* Guest memory: 4 pages, identity-mapped at GUEST_BASE; page 3 is
 * read-only to test faults. */
#define GUEST_BASE 0x400000ull
#define GUEST_PAGES 4
static uint8_t guest[GUEST_PAGES * 4096] __attribute__((aligned(4096)));


static struct test_flat_mem flat = {guest, GUEST_BASE, sizeof(guest), 3 * 4096};
static struct x86_state st;
static struct interp ip;
static uint64_t fake_tsc;

static uint64_t read_fake_tsc(void *opaque)
{
    (void)opaque;
    return fake_tsc;
}

/* Fresh 64-bit user state with `code` at GUEST_BASE, RSP at the top of
 * page 2. */
static void setup(const uint8_t *code, size_t len)
{
    memset(guest, 0, sizeof(guest));
    if (len)
        memcpy(guest, code, len);
    memset(&st, 0, sizeof(st));
    test_user64_state(&st, GUEST_BASE);
    st.gpr[R_RSP] = GUEST_BASE + 3 * 4096;
    st.fx.mxcsr = 0x1f80;
    /* One engine for all cases: its decoded-instruction cache must notice
     * the new code by itself. */
    if (!ip.icache) {
        struct interp_mem_ops ops = {test_flat_translate, &flat};
        ck_assert_int_eq(interp_init(&ip, &st, &ops), 0);
        ip.read_tsc = read_fake_tsc;
    }
    interp_state_changed(&ip);
}

#define RUN(n) ck_assert_int_eq(interp_run(&ip, (n)), INTERP_STOP_COUNT)
#define FLAGS(mask) (st.rflags & (mask))
#define ARITH (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF)

START_TEST(add_sub_flags)
{
    /* mov al, 0x7f; add al, 1  -> 0x80: OF SF AF set, CF ZF clear, PF clear (0x80 has one bit) */
    static const uint8_t code[] = {0xb0, 0x7f, 0x04, 0x01, 0x2c, 0x81, 0x48, 0x83, 0xe9, 0x01};
    setup(code, sizeof(code));
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RAX] & 0xff, 0x80);
    ck_assert_uint_eq(FLAGS(ARITH), X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF);
    /* sub al, 0x81 -> 0x80 - 0x81 = 0xff, borrow: CF SF AF PF set */
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX] & 0xff, 0xff);
    ck_assert_uint_eq(FLAGS(ARITH), X86_FLAG_CF | X86_FLAG_SF | X86_FLAG_AF | X86_FLAG_PF);
    /* sub rcx, 1 with rcx = 0 -> all ones, CF */
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RCX], ~0ull);
    ck_assert(FLAGS(X86_FLAG_CF));
}
END_TEST

START_TEST(adc_sbb_and_zero_extension)
{
    /* stc; mov rax, -1; adc eax, 0 -> 0 with CF; upper half cleared by the 32-bit write */
    static const uint8_t code[] = {0xf9, 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, 0x83, 0xd0, 0x00,
                                   /* sbb rdx, rdx: CF=1 -> rdx = -1 */
                                   0x48, 0x19, 0xd2,
                                   /* mov dx, 0x1234 keeps the upper 48 bits */
                                   0x66, 0xba, 0x34, 0x12};
    setup(code, sizeof(code));
    RUN(3);
    ck_assert_uint_eq(st.gpr[R_RAX], 0);
    ck_assert_uint_eq(FLAGS(X86_FLAG_CF | X86_FLAG_ZF), X86_FLAG_CF | X86_FLAG_ZF);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RDX], ~0ull);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RDX], 0xffffffffffff1234ull);
}
END_TEST

START_TEST(shifts_and_rotates)
{
    static const uint8_t code[] = {
        0xb8, 0x01, 0x00, 0x00, 0x80, /* mov eax, 0x80000001 */
        0xd1, 0xe0,                   /* shl eax, 1 -> 2, CF=1, OF = MSB^CF = 1 */
        0xc1, 0xe0, 0x00,             /* shl eax, 0: flags unchanged */
        0xb0, 0x81,                   /* mov al, 0x81 */
        0xd0, 0xf8,                   /* sar al, 1 -> 0xc0, CF=1, OF=0 */
        0xd0, 0xc0,                   /* rol al, 1 -> 0x81, CF=1 (LSB), OF = MSB^CF = 0 */
        0xf8,                         /* clc */
        0xd0, 0xd8,                   /* rcr al, 1 -> 0x40, CF=1; OF = MSB(before)^CF(before) = 1 */
    };
    setup(code, sizeof(code));
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RAX], 2);
    ck_assert_uint_eq(FLAGS(X86_FLAG_CF | X86_FLAG_OF), X86_FLAG_CF | X86_FLAG_OF);
    uint64_t f = st.rflags;
    RUN(1);
    ck_assert_uint_eq(st.rflags, f);
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RAX] & 0xff, 0xc0);
    ck_assert_uint_eq(FLAGS(X86_FLAG_CF | X86_FLAG_OF), X86_FLAG_CF);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX] & 0xff, 0x81);
    ck_assert_uint_eq(FLAGS(X86_FLAG_CF | X86_FLAG_OF), X86_FLAG_CF);
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RAX] & 0xff, 0x40);
    ck_assert_uint_eq(FLAGS(X86_FLAG_CF | X86_FLAG_OF), X86_FLAG_CF | X86_FLAG_OF);
}
END_TEST

START_TEST(mul_div)
{
    static const uint8_t code[] = {
        0x48, 0xf7, 0xe2, /* mul rdx */
        0x48, 0xf7, 0xf1, /* div rcx */
        0x48, 0xf7, 0xf9, /* idiv rcx */
    };
    setup(code, sizeof(code));
    st.gpr[R_RAX] = 1ull << 63;
    st.gpr[R_RDX] = 4;
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0);
    ck_assert_uint_eq(st.gpr[R_RDX], 2);
    ck_assert_uint_eq(FLAGS(X86_FLAG_CF | X86_FLAG_OF), X86_FLAG_CF | X86_FLAG_OF);
    /* 2:0 / 3 = 0xaaaaaaaaaaaaaaaa rem 2 */
    st.gpr[R_RCX] = 3;
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0xaaaaaaaaaaaaaaaaull);
    ck_assert_uint_eq(st.gpr[R_RDX], 2);
    /* INT64_MIN / -1 overflows: #DE, RIP stays on the IDIV */
    st.gpr[R_RAX] = 1ull << 63;
    st.gpr[R_RDX] = ~0ull;
    st.gpr[R_RCX] = ~0ull;
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_DE);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 6);
    ck_assert_uint_eq(st.gpr[R_RAX], 1ull << 63);
}
END_TEST

START_TEST(divide_by_zero)
{
    static const uint8_t code[] = {0xf6, 0xf1}; /* div cl */
    setup(code, sizeof(code));
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_DE);
    ck_assert(!st.ev.exception_has_error);
}
END_TEST

START_TEST(bit_ops)
{
    static const uint8_t code[] = {
        0x48, 0x0f, 0xbc, 0xc1,             /* bsf rax, rcx */
        0x48, 0x0f, 0xbd, 0xd1,             /* bsr rdx, rcx */
        0x0f, 0xba, 0xe9, 0x03,             /* bts ecx, 3 */
        0x48, 0x0f, 0xa3, 0x03,             /* bt [rbx], rax: bit offset in rax */
        0x48, 0x0f, 0xbc, 0xc6,             /* bsf rax, rsi (zero) */
    };
    setup(code, sizeof(code));
    st.gpr[R_RCX] = 0x0000100000000010ull;
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RAX], 4);
    ck_assert_uint_eq(st.gpr[R_RDX], 44);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RCX], 0x18); /* 32-bit write clears bit 44 */
    ck_assert(!FLAGS(X86_FLAG_CF));
    /* bit 68 of [rbx] = bit 4 of byte 8 */
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    guest[0x1008] = 0x10;
    st.gpr[R_RAX] = 68;
    RUN(1);
    ck_assert(FLAGS(X86_FLAG_CF));
    st.gpr[R_RAX] = 0x5555;
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0x5555); /* unchanged */
    ck_assert(FLAGS(X86_FLAG_ZF));
}
END_TEST

START_TEST(cmpxchg_xadd)
{
    static const uint8_t code[] = {
        0xf0, 0x0f, 0xb1, 0x0b,       /* lock cmpxchg [rbx], ecx */
        0xf0, 0x0f, 0xb1, 0x0b,       /* again: now fails */
        0xf0, 0x48, 0x0f, 0xc1, 0x13, /* lock xadd [rbx], rdx */
    };
    setup(code, sizeof(code));
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    memcpy(guest + 0x1000, &(uint64_t){0x11111111}, 8);
    st.gpr[R_RAX] = 0x11111111;
    st.gpr[R_RCX] = 0x22222222;
    RUN(1);
    ck_assert(FLAGS(X86_FLAG_ZF));
    ck_assert_uint_eq(*(uint32_t *)(guest + 0x1000), 0x22222222);
    RUN(1);
    ck_assert(!FLAGS(X86_FLAG_ZF));
    ck_assert_uint_eq(st.gpr[R_RAX], 0x22222222);
    st.gpr[R_RDX] = 5;
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RDX], 0x22222222);
    ck_assert_uint_eq(*(uint64_t *)(guest + 0x1000), 0x22222227);
}
END_TEST

START_TEST(lock_register_form_is_ud)
{
    static const uint8_t code[] = {0xf0, 0x01, 0xc0}; /* lock add eax, eax */
    setup(code, sizeof(code));
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_UD);
}
END_TEST

START_TEST(undefined_and_hidden_opcodes)
{
    /* UD2, an SSE3 encoding (LDDQU, F2 0F F0), POPCNT (F3 0F B8): all #UD */
    static const uint8_t ud2[] = {0x0f, 0x0b};
    static const uint8_t lddqu[] = {0xf2, 0x0f, 0xf0, 0x00};
    static const uint8_t popcnt[] = {0xf3, 0x0f, 0xb8, 0xc0};
    const uint8_t *codes[] = {ud2, lddqu, popcnt};
    size_t lens[] = {sizeof(ud2), sizeof(lddqu), sizeof(popcnt)};
    for (int i = 0; i < 3; i++) {
        setup(codes[i], lens[i]);
        ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
        ck_assert_uint_eq(st.ev.exception_vector, X86_UD);
        ck_assert_uint_eq(st.rip, GUEST_BASE);
    }
}
END_TEST

START_TEST(string_ops)
{
    static const uint8_t code[] = {
        0xf3, 0xa4,       /* rep movsb */
        0xfd,             /* std */
        0xf3, 0x48, 0xab, /* rep stosq backwards */
        0xfc,             /* cld */
        0xf2, 0xae,       /* repne scasb */
    };
    setup(code, sizeof(code));
    memcpy(guest + 0x1000, "hello, world", 12);
    st.gpr[R_RSI] = GUEST_BASE + 0x1000;
    st.gpr[R_RDI] = GUEST_BASE + 0x1800;
    st.gpr[R_RCX] = 12;
    RUN(1);
    ck_assert(memcmp(guest + 0x1800, "hello, world", 12) == 0);
    ck_assert_uint_eq(st.gpr[R_RCX], 0);
    ck_assert_uint_eq(st.gpr[R_RSI], GUEST_BASE + 0x100c);
    st.gpr[R_RDI] = GUEST_BASE + 0x1908;
    st.gpr[R_RCX] = 2;
    st.gpr[R_RAX] = 0x0102030405060708ull;
    RUN(2);
    ck_assert_uint_eq(*(uint64_t *)(guest + 0x1900), 0x0102030405060708ull);
    ck_assert_uint_eq(*(uint64_t *)(guest + 0x1908), 0x0102030405060708ull);
    ck_assert_uint_eq(st.gpr[R_RDI], GUEST_BASE + 0x18f8);
    RUN(1);
    st.gpr[R_RDI] = GUEST_BASE + 0x1000;
    st.gpr[R_RCX] = 100;
    st.gpr[R_RAX] = ',';
    RUN(1);
    /* stops after the comma at index 5: 6 bytes scanned */
    ck_assert_uint_eq(st.gpr[R_RCX], 94);
    ck_assert_uint_eq(st.gpr[R_RDI], GUEST_BASE + 0x1006);
    ck_assert(FLAGS(X86_FLAG_ZF));
}
END_TEST

START_TEST(stack_call_ret_enter)
{
    static const uint8_t code[] = {
        0xe8, 0x03, 0x00, 0x00, 0x00, /* call +3 */
        0xeb, 0x05,                   /* jmp over the function */
        0x90,                         /* (padding) */
        0x6a, 0xfe,                   /* func: push -2 */
        0x58,                         /* pop rax */
        0xc3,                         /* ret */
        0xc8, 0x10, 0x00, 0x02,       /* enter 16, 2 */
        0xc9,                         /* leave */
    };
    setup(code, sizeof(code));
    uint64_t sp0 = st.gpr[R_RSP];
    RUN(1);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 8);
    ck_assert_uint_eq(*(uint64_t *)(guest + (sp0 - 8 - GUEST_BASE)), GUEST_BASE + 5);
    RUN(3);
    ck_assert_uint_eq(st.gpr[R_RAX], (uint64_t)-2);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 5);
    ck_assert_uint_eq(st.gpr[R_RSP], sp0);
    RUN(1);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 12);
    st.gpr[R_RBP] = sp0 - 0x100;
    memcpy(guest + (sp0 - 0x108 - GUEST_BASE), &(uint64_t){0xabcdef}, 8);
    RUN(1);
    /* push rbp; frame = rsp; push [rbp-8]; push frame; rsp -= 16 */
    uint64_t frame = sp0 - 8;
    ck_assert_uint_eq(st.gpr[R_RBP], frame);
    ck_assert_uint_eq(st.gpr[R_RSP], frame - 16 - 16);
    ck_assert_uint_eq(*(uint64_t *)(guest + (frame - 8 - GUEST_BASE)), 0xabcdef);
    ck_assert_uint_eq(*(uint64_t *)(guest + (frame - 16 - GUEST_BASE)), frame);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RSP], sp0);
    ck_assert_uint_eq(st.gpr[R_RBP], sp0 - 0x100);
}
END_TEST

START_TEST(cpuid_and_rdtsc)
{
    static const uint8_t code[] = {0x0f, 0xa2, 0x0f, 0x31};
    setup(code, sizeof(code));
    st.gpr[R_RAX] = 0x80000002;
    RUN(1);
    struct cpuid_leaf leaf;
    cpu_model_cpuid(0, 0x80000002, 0, &leaf);
    ck_assert_uint_eq(st.gpr[R_RAX], leaf.eax);
    ck_assert_uint_eq(st.gpr[R_RDX], leaf.edx);
    ck_assert(memcmp(&st.gpr[R_RAX], "tand", 4) == 0);
    fake_tsc = 0x123456789abull;
    st.tsc_offset = 0x10;
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 0x456789bbull);
    ck_assert_uint_eq(st.gpr[R_RDX], 0x123);
}
END_TEST

START_TEST(self_modifying_code)
{
    /* 0: mov eax, 1. 0x100: mov byte [rbx], 7 (patching the immediate at 1);
     * jmp 0. The cached decode of address 0 must not be reused. */
    static const uint8_t code[] = {0xb8, 0x01, 0x00, 0x00, 0x00};
    setup(code, sizeof(code));
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 1);
    static const uint8_t patch[] = {0xc6, 0x03, 0x07, 0xe9, 0xf8, 0xfe, 0xff, 0xff};
    memcpy(guest + 0x100, patch, sizeof(patch));
    st.rip = GUEST_BASE + 0x100;
    st.gpr[R_RBX] = GUEST_BASE + 1;
    RUN(2);
    ck_assert_uint_eq(st.rip, GUEST_BASE);
    RUN(1);
    ck_assert_uint_eq(st.gpr[R_RAX], 7);
}
END_TEST

START_TEST(page_crossing_and_faults)
{
    /* an instruction split over pages 0/1, a store split over pages 1/2,
     * then a store into read-only page 3 faulting with nothing changed */
    setup(NULL, 0);
    static const uint8_t mov_rcx_imm[] = {0x48, 0xb9, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(guest + 4096 - 4, mov_rcx_imm, sizeof(mov_rcx_imm));
    static const uint8_t rest[] = {0x48, 0x89, 0x0b, /* mov [rbx], rcx */
                                   0x48, 0x01, 0x0a}; /* add [rdx], rcx */
    memcpy(guest + 4096 + 6, rest, sizeof(rest));
    st.rip = GUEST_BASE + 4096 - 4;
    st.gpr[R_RBX] = GUEST_BASE + 2 * 4096 - 3;
    st.gpr[R_RDX] = GUEST_BASE + 3 * 4096 + 8;
    RUN(2);
    ck_assert_uint_eq(st.gpr[R_RCX], 0x0807060504030201ull);
    ck_assert_uint_eq(*(uint64_t *)(guest + 2 * 4096 - 3), 0x0807060504030201ull);
    uint64_t flags = st.rflags;
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_PF);
    ck_assert_uint_eq(st.cr2, GUEST_BASE + 3 * 4096 + 8);
    ck_assert_uint_eq(st.ev.exception_error & 2, 2);
    ck_assert_uint_eq(st.rflags, flags);
    ck_assert_uint_eq(st.rip, GUEST_BASE + 4096 + 9);
}
END_TEST

START_TEST(decoder_fields)
{
    struct decoded_insn in;
    /* mov rax, [rip + 0x10] */
    static const uint8_t a[] = {0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00};
    ck_assert_int_eq(x86_decode(a, sizeof(a), X86_MODE_64, &in), DECODE_OK);
    ck_assert_uint_eq(in.len, 7);
    ck_assert(in.rip_relative);
    ck_assert_uint_eq(in.opsize, 8);
    ck_assert_int_eq(in.disp, 0x10);
    /* lea eax, [r12 + r13*4 - 1] with 67: SIB, REX.B/X, addrsize 4 */
    static const uint8_t b[] = {0x67, 0x43, 0x8d, 0x44, 0xac, 0xff};
    ck_assert_int_eq(x86_decode(b, sizeof(b), X86_MODE_64, &in), DECODE_OK);
    ck_assert_uint_eq(in.len, 6);
    ck_assert_uint_eq(in.base, 12);
    ck_assert_uint_eq(in.index, 13);
    ck_assert_uint_eq(in.scale, 2);
    ck_assert_uint_eq(in.addrsize, 4);
    ck_assert_int_eq(in.disp, -1);
    /* 16-bit mode: mov ax, [bp + di + 0x1234]: SS default */
    static const uint8_t c[] = {0x8b, 0x83, 0x34, 0x12};
    ck_assert_int_eq(x86_decode(c, sizeof(c), X86_MODE_16, &in), DECODE_OK);
    ck_assert_uint_eq(in.len, 4);
    ck_assert_uint_eq(in.base, R_RBP);
    ck_assert_uint_eq(in.index, R_RDI);
    ck_assert_uint_eq(in.seg, S_SS);
    ck_assert_uint_eq(in.opsize, 2);
    /* 15 prefixes + opcode: too long */
    uint8_t d[16];
    memset(d, 0x66, 15);
    d[15] = 0x90;
    ck_assert_int_eq(x86_decode(d, 16, X86_MODE_64, &in), DECODE_TOO_LONG);
    /* REX before a legacy prefix is ignored: 48 66 89 c0 is mov ax, ax */
    static const uint8_t e[] = {0x48, 0x66, 0x89, 0xc0};
    ck_assert_int_eq(x86_decode(e, sizeof(e), X86_MODE_64, &in), DECODE_OK);
    ck_assert_uint_eq(in.opsize, 2);
    /* C4 is VEX in 64-bit mode (no AVX): #UD */
    static const uint8_t f[] = {0xc4, 0xe2, 0x79, 0x18, 0x00};
    ck_assert_int_eq(x86_decode(f, sizeof(f), X86_MODE_64, &in), DECODE_UD);
}
END_TEST

/* Conditions evaluated from lazily kept flags (CMP/TEST/ADD then SETcc in
 * one run) must equal those from materialized RFLAGS (one instruction per
 * run, so flags are synced in between). */
START_TEST(lazy_flags_match_eager)
{
    static const uint64_t vals[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000,
                                    0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull};
    static const uint8_t first_ops[][3] = {
        {0x48, 0x39, 0xd8}, /* cmp rax, rbx */
        {0x39, 0xd8, 0x90}, /* cmp eax, ebx; nop */
        {0x38, 0xd8, 0x90}, /* cmp al, bl; nop */
        {0x48, 0x85, 0xd8}, /* test rax, rbx */
        {0x66, 0x85, 0xd8}, /* test ax, bx */
        {0x48, 0x01, 0xd8}, /* add rax, rbx */
        {0x30, 0xd8, 0x90}, /* xor al, bl; nop */
    };
    for (size_t k = 0; k < sizeof(first_ops) / sizeof(first_ops[0]); k++)
        for (unsigned cc = 0; cc < 16; cc++)
            for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
                for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
                    uint8_t code[8];
                    memcpy(code, first_ops[k], 3);
                    code[3] = 0x0f;
                    code[4] = (uint8_t)(0x90 | cc); /* setcc cl */
                    code[5] = 0xc1;
                    uint64_t results[2];
                    for (int mode = 0; mode < 2; mode++) {
                        setup(code, 6);
                        st.gpr[R_RAX] = vals[i];
                        st.gpr[R_RBX] = vals[j];
                        st.gpr[R_RCX] = 0;
                        if (mode == 0) {
                            RUN(first_ops[k][2] == 0x90 ? 3 : 2);
                        } else {
                            for (int n = 0; n < (first_ops[k][2] == 0x90 ? 3 : 2); n++)
                                RUN(1);
                        }
                        results[mode] = st.gpr[R_RCX] | (st.rflags << 8);
                    }
                    ck_assert_msg(results[0] == results[1], "op %zu cc %u a %llx b %llx: lazy %llx eager %llx", k,
                                  cc, (unsigned long long)vals[i], (unsigned long long)vals[j],
                                  (unsigned long long)results[0], (unsigned long long)results[1]);
                }
}
END_TEST

START_TEST(alignment_check)
{
    /* mov eax, [rbx+1] twice: fine without RFLAGS.AC, #AC(0) with CR0.AM,
     * RFLAGS.AC and CPL 3 (popf sets AC) */
    static const uint8_t code[] = {0x8b, 0x43, 0x01, 0x68, 0x02, 0x00, 0x04, 0x00, 0x9d, 0x8b, 0x43, 0x01};
    setup(code, sizeof(code));
    st.cr0 |= X86_CR0_AM;
    st.gpr[R_RBX] = GUEST_BASE + 0x1000;
    RUN(3);
    ck_assert(st.rflags & X86_FLAG_AC);
    ck_assert_int_eq(interp_run(&ip, 1), INTERP_STOP_EXCEPTION);
    ck_assert_uint_eq(st.ev.exception_vector, X86_AC);
    ck_assert(st.ev.exception_has_error);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interp_int");
    TCase *tc = tcase_create("int");
    tcase_add_test(tc, add_sub_flags);
    tcase_add_test(tc, adc_sbb_and_zero_extension);
    tcase_add_test(tc, shifts_and_rotates);
    tcase_add_test(tc, mul_div);
    tcase_add_test(tc, divide_by_zero);
    tcase_add_test(tc, bit_ops);
    tcase_add_test(tc, cmpxchg_xadd);
    tcase_add_test(tc, lock_register_form_is_ud);
    tcase_add_test(tc, undefined_and_hidden_opcodes);
    tcase_add_test(tc, string_ops);
    tcase_add_test(tc, stack_call_ret_enter);
    tcase_add_test(tc, cpuid_and_rdtsc);
    tcase_add_test(tc, self_modifying_code);
    tcase_add_test(tc, page_crossing_and_faults);
    tcase_add_test(tc, decoder_fields);
    tcase_add_test(tc, lazy_flags_match_eager);
    tcase_add_test(tc, alignment_check);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
