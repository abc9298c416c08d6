/* Instruction classes for the timing model (cpu/timing.h, docs/timing.md):
 * the decoder's record is tagged once, when the interpreter selects its
 * handler, so the timed run loop charges a class cost and predicts a branch
 * with two byte loads. Opcodes per the SDM Vol. 2 opcode map (appendix A). */
#include "cpu/inst_class.h"

#include "cpu/bpred.h"
#include "cpu/timing.h"

static uint8_t branch(uint8_t *bkind, enum branch_kind k)
{
    *bkind = (uint8_t)(1 + k);
    return IC_BRANCH;
}

/* x87 (D8..DF): divides and square root, transcendentals, the rest. */
static uint8_t x87_class(const struct decoded_insn *in)
{
    uint8_t op = in->opcode;
    if (op == 0xd9 && in->mod == 3) {
        switch (in->modrm) {
        case 0xfa: return IC_X87_DIV; /* fsqrt */
        case 0xf0: case 0xf1: case 0xf2: case 0xf3: case 0xf9: case 0xfb: case 0xfe: case 0xff:
            return IC_X87_TRANSC;     /* f2xm1 fyl2x fptan fpatan fyl2xp1 fsincos fsin fcos */
        default: return IC_X87;
        }
    }
    bool arith = op == 0xd8 || op == 0xdc || op == 0xde || (in->mod != 3 && (op == 0xda));
    if (arith && (in->reg & 7) >= 6)
        return IC_X87_DIV; /* fdiv, fdivr (and their pop/integer forms) */
    return IC_X87;
}

static uint8_t map1_class(const struct decoded_insn *in, uint8_t *bkind)
{
    uint8_t op = in->opcode;
    bool mem = in->mod != 3 && in->has_modrm;
    unsigned sub = in->reg & 7;
    if (op >= 0x70 && op <= 0x7f)
        return branch(bkind, BRANCH_COND);
    if (op >= 0xd8 && op <= 0xdf)
        return x87_class(in);
    switch (op) {
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: return branch(bkind, BRANCH_COND);
    case 0xe9: case 0xeb: case 0xea: return branch(bkind, BRANCH_UNCOND);
    case 0xe8: return branch(bkind, BRANCH_CALL);
    case 0xc2: case 0xc3: case 0xca: case 0xcb: return branch(bkind, BRANCH_RET);
    case 0xff:
        if (sub == 2 || sub == 3)
            return branch(bkind, BRANCH_CALL);
        if (sub == 4 || sub == 5)
            return branch(bkind, BRANCH_INDIRECT);
        if (sub == 6)
            return IC_STORE; /* push r/m */
        break;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
    case 0x68: case 0x6a: case 0x9c: case 0xc8: case 0x06: case 0x0e: case 0x16: case 0x1e:
        return IC_STORE;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
    case 0x8f: case 0x9d: case 0xc9: case 0x07: case 0x17: case 0x1f:
        return IC_LOAD;
    case 0x88: case 0x89: case 0xc6: case 0xc7: return mem ? IC_STORE : IC_ALU;
    case 0x8a: case 0x8b: return mem ? IC_LOAD : IC_ALU;
    case 0xa0: case 0xa1: return IC_LOAD;
    case 0xa2: case 0xa3: return IC_STORE;
    case 0x86: case 0x87: return mem ? IC_LOCKED : IC_ALU; /* xchg with memory locks */
    case 0x69: case 0x6b: return IC_MUL;
    case 0xf6: case 0xf7:
        if (sub == 4 || sub == 5)
            return IC_MUL;
        if (sub >= 6)
            return IC_DIV;
        break;
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad:
    case 0xae: case 0xaf:
        return IC_STRING;
    case 0x6c: case 0x6d: case 0x6e: case 0x6f: case 0xe4: case 0xe5: case 0xe6: case 0xe7:
    case 0xec: case 0xed: case 0xee: case 0xef:
        return IC_IO;
    case 0xcc: case 0xcd: case 0xce: case 0xf1: case 0xf4: case 0xfa: case 0xfb:
        return IC_SYSTEM;
    case 0xcf: return IC_SERIALIZING; /* iret */
    case 0x90: return IC_NOP;         /* nop, pause */
    default: break;
    }
    if (in->lock && mem)
        return IC_LOCKED;
    return IC_ALU;
}

static uint8_t map0f_class(const struct decoded_insn *in, uint8_t *bkind)
{
    uint8_t op = in->opcode;
    if (op >= 0x80 && op <= 0x8f)
        return branch(bkind, BRANCH_COND);
    if (in->lock && in->mod != 3)
        return IC_LOCKED; /* cmpxchg, xadd, bts... with LOCK */
    switch (op) {
    case 0xaf: return IC_MUL;
    case 0x05: case 0x07: case 0x34: case 0x35: case 0x00: case 0x01: case 0x06: case 0x31:
    case 0x32: case 0x0b: case 0x20: case 0x21:
        return IC_SYSTEM;
    case 0x22: case 0x23: case 0x30: case 0xa2: case 0x08: case 0x09:
        return IC_SERIALIZING; /* mov to CR/DR, wrmsr, cpuid, invd, wbinvd */
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
    case 0x0d:
        return IC_NOP; /* prefetch and hint nops */
    case 0xae:
        return in->mod == 3 && (in->reg & 7) >= 5 ? IC_FENCE : IC_SSE;
    case 0x59: case 0xd5: case 0xe4: case 0xe5: case 0xf4: case 0xf5:
        return IC_SSE_MUL;
    case 0x51: case 0x5e:
        return IC_SSE_DIV;
    default: break;
    }
    if ((op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) || (op >= 0x50 && op <= 0x7f) ||
        (op >= 0xc2 && op <= 0xc6) || op >= 0xd0)
        return IC_SSE;
    return IC_ALU;
}

void x86_classify(struct decoded_insn *in)
{
    _Static_assert(IC_NCLASSES <= 32 && BRANCH_RET + 1 < 8, "decoded_insn.iclass/bkind too narrow");
    uint8_t bkind = 0;
    in->iclass = (in->map == MAP_1B ? map1_class(in, &bkind)
                : in->map == MAP_0F ? map0f_class(in, &bkind)
                                    : IC_SSE) & 31; /* 0F38/0F3A: SSSE3/SSE4 */
    in->bkind = bkind & 7;
}
