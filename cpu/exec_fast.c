/* Specialised handlers for the most frequent instruction forms, chosen at
 * decode time (exec_fast_select, called by interp_select) in place of the
 * general handlers of cpu/exec_int.c and cpu/exec_ctl.c. Each one is the
 * general handler's semantics with the decode-time facts folded in: 32- or
 * 64-bit operand size (no size switches, no AH..BH byte registers),
 * register or memory form, the direction bit, and for memory operands the
 * common 64-bit "base + displacement" address (no index, no RIP, segment
 * base 0). Flags stay lazy as in the general handlers; the timing model's
 * data hooks are reached through mem_read/mem_write, so a timed run sees
 * the same accesses. */
#include "cpu/interp_priv.h"

/* --- operands --- */

/* Base + displacement in 64-bit mode with a DS/SS-class segment (base 0):
 * the address the general ea_linear computes for this form. */
static inline uint64_t ea_base64(struct interp *ip, const struct decoded_insn *in)
{
    uint64_t la = ip->s->gpr[in->base] + (uint64_t)in->disp;
    return in->seg == S_SS ? ss_checked(ip, la) : la;
}

static inline uint64_t reg_get(const struct interp *ip, unsigned r, unsigned size)
{
    uint64_t v = ip->s->gpr[r];
    return size == 8 ? v : (uint32_t)v;
}

/* A 32-bit destination is zero-extended to 64 bits. */
static inline void reg_put(struct interp *ip, unsigned r, unsigned size, uint64_t v)
{
    ip->s->gpr[r] = size == 8 ? v : (uint32_t)v;
}

/* --- ALU: ADD OR AND SUB XOR CMP (the lazy-flag ones) --- */

enum fast_alu { F_ADD, F_OR, F_AND, F_SUB, F_XOR, F_CMP };

/* a OP b at `size`, recording the lazy flags; CMP returns a - b. */
static inline __attribute__((always_inline)) uint64_t fast_alu(struct interp *ip, enum fast_alu op, uint64_t a,
                                                               uint64_t b, unsigned size)
{
    uint64_t r;
    switch (op) {
    case F_ADD:
        r = a + b;
        if (size == 4)
            r = (uint32_t)r;
        lazy_set(ip, LAZY_ADD, a, b, r, size);
        return r;
    case F_SUB:
    case F_CMP:
        r = a - b;
        if (size == 4)
            r = (uint32_t)r;
        lazy_set(ip, LAZY_SUB, a, b, r, size);
        return r;
    case F_OR: r = a | b; break;
    case F_AND: r = a & b; break;
    default: r = a ^ b; break;
    }
    /* Logic results need no operands: flags_sync and cond_true read only
     * the result for LAZY_LOGIC. */
    ip->lazy_op = LAZY_LOGIC;
    ip->lazy_size = (uint8_t)size;
    ip->lazy_res = r;
    return r;
}

/* Host pointer for a read-modify-write of [la, la+size) when the soft TLB
 * holds the page writable (which implies readable) and nothing needs the
 * general path (#AC checking, the timing model's accesses); else NULL. */
static inline uint8_t *rmw_host(struct interp *ip, uint64_t la, unsigned size)
{
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (LIKELY(e->write_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096 && !ip->timing &&
               !ip->align_check))
        return (uint8_t *)(uintptr_t)(la + e->addend);
    return NULL;
}

static inline __attribute__((always_inline)) void alu_mem_dst(struct interp *ip, enum fast_alu op, uint64_t la,
                                                              uint64_t b, unsigned size)
{
    if (op == F_CMP) {
        fast_alu(ip, op, mem_read(ip, la, size), b, size);
        return;
    }
    uint8_t *p = rmw_host(ip, la, size);
    if (p) {
        store_n(p, size, fast_alu(ip, op, load_n(p, size), b, size));
        return;
    }
    mem_probe_write(ip, la, size);
    uint64_t r = fast_alu(ip, op, mem_read(ip, la, size), b, size);
    mem_write(ip, la, size, r);
}

/* Opcodes 00-3D: OP r/m, reg (bit 1 clear) or OP reg, r/m (bit 1 set). */
#define DEF_ALU(NAME, OP, SIZE)                                                             \
    static HANDLER(NAME##_rr_##SIZE) /* r/m(reg) <- r/m OP reg */                          \
    {                                                                                       \
        uint64_t r = fast_alu(ip, OP, reg_get(ip, in->rm, SIZE), reg_get(ip, in->reg, SIZE), SIZE); \
        if (OP != F_CMP)                                                                    \
            reg_put(ip, in->rm, SIZE, r);                                                   \
    }                                                                                       \
    static HANDLER(NAME##_rr_d_##SIZE) /* reg <- reg OP r/m(reg) */                        \
    {                                                                                       \
        uint64_t r = fast_alu(ip, OP, reg_get(ip, in->reg, SIZE), reg_get(ip, in->rm, SIZE), SIZE); \
        if (OP != F_CMP)                                                                    \
            reg_put(ip, in->reg, SIZE, r);                                                  \
    }                                                                                       \
    static HANDLER(NAME##_rm_##SIZE) /* reg <- reg OP [base+disp] */                       \
    {                                                                                       \
        uint64_t b = mem_read(ip, ea_base64(ip, in), SIZE);                                 \
        uint64_t r = fast_alu(ip, OP, reg_get(ip, in->reg, SIZE), b, SIZE);                 \
        if (OP != F_CMP)                                                                    \
            reg_put(ip, in->reg, SIZE, r);                                                  \
    }                                                                                       \
    static HANDLER(NAME##_mr_##SIZE) /* [base+disp] <- [base+disp] OP reg */               \
    {                                                                                       \
        alu_mem_dst(ip, OP, ea_base64(ip, in), reg_get(ip, in->reg, SIZE), SIZE);          \
    }                                                                                       \
    static HANDLER(NAME##_ri_##SIZE) /* r/m(reg) <- r/m OP imm (80-83, and rAX forms) */   \
    {                                                                                       \
        unsigned d = in->has_modrm ? in->rm : R_RAX;                                        \
        uint64_t r = fast_alu(ip, OP, reg_get(ip, d, SIZE), SIZE == 8 ? in->imm : (uint32_t)in->imm, SIZE); \
        if (OP != F_CMP)                                                                    \
            reg_put(ip, d, SIZE, r);                                                        \
    }                                                                                       \
    static HANDLER(NAME##_mi_##SIZE) /* [base+disp] <- [base+disp] OP imm */               \
    {                                                                                       \
        alu_mem_dst(ip, OP, ea_base64(ip, in), SIZE == 8 ? in->imm : (uint32_t)in->imm, SIZE); \
    }

#define DEF_ALU_SIZES(NAME, OP) DEF_ALU(NAME, OP, 4) DEF_ALU(NAME, OP, 8)
DEF_ALU_SIZES(add, F_ADD)
DEF_ALU_SIZES(or, F_OR)
DEF_ALU_SIZES(and, F_AND)
DEF_ALU_SIZES(sub, F_SUB)
DEF_ALU_SIZES(xor, F_XOR)
DEF_ALU_SIZES(cmp, F_CMP)

/* Indexed by the ALU operation number (ModRM.reg of 80-83, opcode bits
 * 5:3 of 00-3D); ADC and SBB (2, 3) keep the general handler. */
#define ALU_TABLE(FORM, SIZE)                                                                          \
    {add_##FORM##_##SIZE, or_##FORM##_##SIZE, NULL, NULL, and_##FORM##_##SIZE, sub_##FORM##_##SIZE, \
     xor_##FORM##_##SIZE, cmp_##FORM##_##SIZE}
static const x86_exec_fn alu_rr[2][8] = {ALU_TABLE(rr, 4), ALU_TABLE(rr, 8)};
static const x86_exec_fn alu_rr_d[2][8] = {ALU_TABLE(rr_d, 4), ALU_TABLE(rr_d, 8)};
static const x86_exec_fn alu_rm[2][8] = {ALU_TABLE(rm, 4), ALU_TABLE(rm, 8)};
static const x86_exec_fn alu_mr[2][8] = {ALU_TABLE(mr, 4), ALU_TABLE(mr, 8)};
static const x86_exec_fn alu_ri[2][8] = {ALU_TABLE(ri, 4), ALU_TABLE(ri, 8)};
static const x86_exec_fn alu_mi[2][8] = {ALU_TABLE(mi, 4), ALU_TABLE(mi, 8)};

/* TEST r/m(reg), reg (85). */
#define DEF_TEST(SIZE)                                                                  \
    static HANDLER(test_rr_##SIZE)                                                      \
    {                                                                                   \
        fast_alu(ip, F_AND, reg_get(ip, in->rm, SIZE), reg_get(ip, in->reg, SIZE), SIZE); \
    }
DEF_TEST(4)
DEF_TEST(8)

/* --- moves --- */

#define DEF_MOV(SIZE)                                                                  \
    static HANDLER(mov_rr_##SIZE) /* 89 /r, register form: r/m <- reg */               \
    {                                                                                  \
        reg_put(ip, in->rm, SIZE, ip->s->gpr[in->reg]);                                \
    }                                                                                  \
    static HANDLER(mov_rr_d_##SIZE) /* 8B /r, register form: reg <- r/m */             \
    {                                                                                  \
        reg_put(ip, in->reg, SIZE, ip->s->gpr[in->rm]);                                \
    }                                                                                  \
    static HANDLER(mov_load_##SIZE) /* 8B: reg <- [base+disp] */                       \
    {                                                                                  \
        reg_put(ip, in->reg, SIZE, mem_read(ip, ea_base64(ip, in), SIZE));             \
    }                                                                                  \
    static HANDLER(mov_store_##SIZE) /* 89: [base+disp] <- reg */                      \
    {                                                                                  \
        mem_write(ip, ea_base64(ip, in), SIZE, ip->s->gpr[in->reg]);                   \
    }                                                                                  \
    static HANDLER(mov_store_imm_##SIZE) /* C7 /0: [base+disp] <- imm */               \
    {                                                                                  \
        mem_write(ip, ea_base64(ip, in), SIZE, in->imm);                               \
    }
DEF_MOV(4)
DEF_MOV(8)

/* MOVZX reg, byte [base+disp] (0F B6), 32/64-bit destination. */
static HANDLER(movzx_load_b)
{
    ip->s->gpr[in->reg] = mem_read(ip, ea_base64(ip, in), 1);
}

/* LEA reg64, [base+disp]. */
static HANDLER(lea_base64)
{
    ip->s->gpr[in->reg] = ip->s->gpr[in->base] + (uint64_t)in->disp;
}

/* --- 64-bit stack and near branches (operand size 8) --- */

static HANDLER(push_reg64)
{
    uint64_t *g = ip->s->gpr;
    uint64_t sp = g[R_RSP] - 8;
    mem_write(ip, ss_checked(ip, sp), 8, g[in->reg]);
    g[R_RSP] = sp;
}

static HANDLER(pop_reg64)
{
    uint64_t *g = ip->s->gpr;
    uint64_t sp = g[R_RSP];
    uint64_t v = mem_read(ip, ss_checked(ip, sp), 8);
    g[R_RSP] = sp + 8;
    g[in->reg] = v;
}

static HANDLER(call_rel64)
{
    uint64_t *g = ip->s->gpr;
    uint64_t sp = g[R_RSP] - 8;
    mem_write(ip, ss_checked(ip, sp), 8, ip->next_rip);
    g[R_RSP] = sp;
    ip->next_rip += in->imm;
}

static HANDLER(ret64)
{
    (void)in;
    uint64_t *g = ip->s->gpr;
    uint64_t sp = g[R_RSP];
    ip->next_rip = mem_read(ip, ss_checked(ip, sp), 8);
    g[R_RSP] = sp + 8;
}

static HANDLER(jmp_rel64)
{
    ip->next_rip += in->imm;
}

/* Jcc in 64-bit mode: the condition from the lazy record when it can be. */
static HANDLER(jcc64)
{
    if (cond_true(ip, in->opcode & 15))
        ip->next_rip += in->imm;
}

/* --- selection --- */

/* The r/m operand is memory at 64-bit base + displacement, in a segment
 * whose base is 0 in 64-bit mode. */
static bool base_disp64(const struct decoded_insn *in)
{
    return in->mod != 3 && in->mode == X86_MODE_64 && in->addrsize == 8 && in->base != X86_NO_REG &&
           in->index == X86_NO_REG && !in->rip_relative && in->seg < S_FS && !in->lock;
}

void exec_fast_select(struct decoded_insn *in)
{
    bool reg_form = in->has_modrm && in->mod == 3;
    bool mem_form = in->has_modrm && base_disp64(in);
    unsigned sz = in->opsize == 8 ? 1 : 0;
    bool wide = in->opsize == 4 || in->opsize == 8; /* a 32/64-bit operand */
    uint8_t op = in->opcode;
    x86_exec_fn fn = NULL;
    if (in->map == MAP_1B) {
        if (op < 0x40 && (op & 7) <= 5 && (op & 1) && wide) {
            unsigned alu = (op >> 3) & 7;
            if ((op & 7) == 5)
                fn = alu_ri[sz][alu];
            else if (reg_form)
                fn = ((op & 2) ? alu_rr_d : alu_rr)[sz][alu];
            else if (mem_form)
                fn = ((op & 2) ? alu_rm : alu_mr)[sz][alu];
        } else if ((op == 0x81 || op == 0x83) && wide) {
            if (reg_form)
                fn = alu_ri[sz][in->reg & 7];
            else if (mem_form)
                fn = alu_mi[sz][in->reg & 7];
        } else if (op == 0x85 && wide && reg_form) {
            fn = sz ? test_rr_8 : test_rr_4;
        } else if ((op == 0x89 || op == 0x8b) && wide) {
            if (reg_form)
                fn = op == 0x89 ? (sz ? mov_rr_8 : mov_rr_4) : (sz ? mov_rr_d_8 : mov_rr_d_4);
            else if (mem_form)
                fn = op == 0x89 ? (sz ? mov_store_8 : mov_store_4) : (sz ? mov_load_8 : mov_load_4);
        } else if (op == 0xc7 && wide && mem_form && (in->reg & 7) == 0) {
            fn = sz ? mov_store_imm_8 : mov_store_imm_4;
        } else if (op == 0x8d && in->opsize == 8 && mem_form) {
            fn = lea_base64;
        } else if (in->mode == X86_MODE_64 && in->opsize == 8) {
            if (op >= 0x50 && op <= 0x57)
                fn = push_reg64;
            else if (op >= 0x58 && op <= 0x5f)
                fn = pop_reg64;
            else if (op == 0xe8)
                fn = call_rel64;
            else if (op == 0xc3)
                fn = ret64;
            else if (op == 0xe9 || op == 0xeb)
                fn = jmp_rel64;
            else if (op >= 0x70 && op <= 0x7f)
                fn = jcc64;
        }
    } else if (in->map == MAP_0F) {
        if (op == 0xb6 && wide && mem_form)
            fn = movzx_load_b;
        else if (op >= 0x80 && op <= 0x8f && in->mode == X86_MODE_64 && in->opsize == 8)
            fn = jcc64;
    }
    if (fn)
        in->exec = fn;
}
