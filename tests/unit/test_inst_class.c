/* Instruction classes and branch kinds for the timing model
 * (cpu/inst_class.c): real encodings decoded and selected as the
 * interpreter does, checked against the class the cost table charges. */
#include <stdint.h>
#include <string.h>

#include "cpu/bpred.h"
#include "cpu/interp.h"
#include "cpu/timing.h"
#include "testlib.h"

struct sample {
    const char *what;
    uint8_t bytes[15];
    unsigned len;
    enum inst_class cls;
    int branch; /* enum branch_kind, or -1: not a predicted branch */
};

static const struct sample samples[] = {
    {"add rax, rbx", {0x48, 0x01, 0xd8}, 3, IC_ALU, -1},
    {"mov rax, [rbx]", {0x48, 0x8b, 0x03}, 3, IC_LOAD, -1},
    {"mov [rbx], rax", {0x48, 0x89, 0x03}, 3, IC_STORE, -1},
    {"mov rax, rbx", {0x48, 0x89, 0xd8}, 3, IC_ALU, -1},
    {"push rbp", {0x55}, 1, IC_STORE, -1},
    {"pop rbp", {0x5d}, 1, IC_LOAD, -1},
    {"imul rax, rbx", {0x48, 0x0f, 0xaf, 0xc3}, 4, IC_MUL, -1},
    {"div rbx", {0x48, 0xf7, 0xf3}, 3, IC_DIV, -1},
    {"mul rbx", {0x48, 0xf7, 0xe3}, 3, IC_MUL, -1},
    {"jne rel8", {0x75, 0x10}, 2, IC_BRANCH, BRANCH_COND},
    {"je rel32", {0x0f, 0x84, 0, 0, 0, 0}, 6, IC_BRANCH, BRANCH_COND},
    {"loop rel8", {0xe2, 0xfe}, 2, IC_BRANCH, BRANCH_COND},
    {"jmp rel8", {0xeb, 0x00}, 2, IC_BRANCH, BRANCH_UNCOND},
    {"jmp rax", {0xff, 0xe0}, 2, IC_BRANCH, BRANCH_INDIRECT},
    {"call rel32", {0xe8, 0, 0, 0, 0}, 5, IC_BRANCH, BRANCH_CALL},
    {"call [rax]", {0xff, 0x10}, 2, IC_BRANCH, BRANCH_CALL},
    {"ret", {0xc3}, 1, IC_BRANCH, BRANCH_RET},
    {"lock add [rax], ebx", {0xf0, 0x01, 0x18}, 3, IC_LOCKED, -1},
    {"xchg [rax], ebx", {0x87, 0x18}, 2, IC_LOCKED, -1},
    {"lock cmpxchg [rbx], ecx", {0xf0, 0x0f, 0xb1, 0x0b}, 4, IC_LOCKED, -1},
    {"rep movsb", {0xf3, 0xa4}, 2, IC_STRING, -1},
    {"mfence", {0x0f, 0xae, 0xf0}, 3, IC_FENCE, -1},
    {"nop", {0x90}, 1, IC_NOP, -1},
    {"pause", {0xf3, 0x90}, 2, IC_NOP, -1},
    {"addsd xmm0, xmm1", {0xf2, 0x0f, 0x58, 0xc1}, 4, IC_SSE, -1},
    {"mulps xmm0, xmm1", {0x0f, 0x59, 0xc1}, 3, IC_SSE_MUL, -1},
    {"divsd xmm0, xmm1", {0xf2, 0x0f, 0x5e, 0xc1}, 4, IC_SSE_DIV, -1},
    {"sqrtsd xmm0, xmm1", {0xf2, 0x0f, 0x51, 0xc1}, 4, IC_SSE_DIV, -1},
    {"fadd st, st(1)", {0xd8, 0xc1}, 2, IC_X87, -1},
    {"fdiv st, st(1)", {0xd8, 0xf1}, 2, IC_X87_DIV, -1},
    {"fsqrt", {0xd9, 0xfa}, 2, IC_X87_DIV, -1},
    {"fsin", {0xd9, 0xfe}, 2, IC_X87_TRANSC, -1},
    {"in al, dx", {0xec}, 1, IC_IO, -1},
    {"cpuid", {0x0f, 0xa2}, 2, IC_SERIALIZING, -1},
    {"syscall", {0x0f, 0x05}, 2, IC_SYSTEM, -1},
    {"iretq", {0x48, 0xcf}, 2, IC_SERIALIZING, -1},
};

START_TEST(classes_and_branch_kinds)
{
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *t = &samples[i];
        struct decoded_insn in;
        ck_assert_msg(x86_decode(t->bytes, t->len, X86_MODE_64, &in) == DECODE_OK, "%s: decode", t->what);
        ck_assert_msg(in.len == t->len, "%s: length %u, want %u", t->what, in.len, t->len);
        interp_select(&in);
        ck_assert_msg(in.iclass == t->cls, "%s: class %s, want %s", t->what,
                      inst_class_names[in.iclass], inst_class_names[t->cls]);
        ck_assert_msg((int)in.bkind - 1 == t->branch, "%s: branch kind %d, want %d", t->what,
                      (int)in.bkind - 1, t->branch);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("inst_class");
    TCase *tc = tcase_create("inst_class");
    tcase_add_test(tc, classes_and_branch_kinds);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
