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

/* Memory operands in 64-bit mode with 64-bit addressing, in two kinds:
 * base + displacement in a segment whose base is 0 (the most frequent),
 * and any other form. Both compute what the general ea_linear does there. */
static inline uint64_t ea_base64(struct interp *ip, const struct decoded_insn *in)
{
    uint64_t la = ip->s->gpr[in->base] + (uint64_t)in->disp;
    return in->seg == S_SS ? ss_checked(ip, la) : la;
}

static inline uint64_t ea_any64(struct interp *ip, const struct decoded_insn *in)
{
    const uint64_t *g = ip->s->gpr;
    uint64_t la = (uint64_t)in->disp;
    if (in->base != X86_NO_REG)
        la += g[in->base];
    if (in->index != X86_NO_REG)
        la += g[in->index] << in->scale;
    if (in->rip_relative)
        la += ip->s->rip + in->len;
    if (in->seg >= S_FS)
        la += ip->s->seg[in->seg].base;
    return in->seg == S_SS ? ss_checked(ip, la) : la;
}

/* Register operands of 1, 4 or 8 bytes; a byte register is a low byte
 * (AL..R15B: selection rules out AH..BH). */
static inline uint64_t reg_get(const struct interp *ip, unsigned r, unsigned size)
{
    return ip->s->gpr[r] & size_mask(size);
}

/* A 32-bit destination is zero-extended to 64 bits; a byte one merges. */
static inline void reg_put(struct interp *ip, unsigned r, unsigned size, uint64_t v)
{
    uint64_t *g = &ip->s->gpr[r];
    *g = size == 8 ? v : size == 4 ? (uint32_t)v : (*g & ~0xffull) | (v & 0xff);
}

/* --- ALU: ADD OR AND SUB XOR CMP (the lazy-flag ones) --- */

enum fast_alu { F_ADD, F_OR, F_AND, F_SUB, F_XOR, F_CMP };

/* a OP b at `size` (operands already of that size), recording the lazy
 * flags; CMP returns a - b. */
static inline __attribute__((always_inline)) uint64_t fast_alu(struct interp *ip, enum fast_alu op, uint64_t a,
                                                               uint64_t b, unsigned size)
{
    uint64_t r;
    switch (op) {
    case F_ADD:
        r = (a + b) & size_mask(size);
        lazy_set(ip, LAZY_ADD, a, b, r, size);
        return r;
    case F_SUB:
    case F_CMP:
        r = (a - b) & size_mask(size);
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

/* The memory forms of one operation, size and address kind (EA). */
#define DEF_ALU_MEM(NAME, OP, SIZE, EA, KIND)                                              \
    static HANDLER(NAME##_rm_##KIND##SIZE) /* reg <- reg OP [mem] */                       \
    {                                                                                       \
        uint64_t b = mem_read(ip, EA(ip, in), SIZE);                                        \
        uint64_t r = fast_alu(ip, OP, reg_get(ip, in->reg, SIZE), b, SIZE);                 \
        if (OP != F_CMP)                                                                    \
            reg_put(ip, in->reg, SIZE, r);                                                  \
    }                                                                                       \
    static HANDLER(NAME##_mr_##KIND##SIZE) /* [mem] <- [mem] OP reg */                     \
    {                                                                                       \
        alu_mem_dst(ip, OP, EA(ip, in), reg_get(ip, in->reg, SIZE), SIZE);                 \
    }                                                                                       \
    static HANDLER(NAME##_mi_##KIND##SIZE) /* [mem] <- [mem] OP imm */                     \
    {                                                                                       \
        alu_mem_dst(ip, OP, EA(ip, in), in->imm & size_mask(SIZE), SIZE);                  \
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
    static HANDLER(NAME##_ri_##SIZE) /* r/m(reg) <- r/m OP imm (81, 83, and rAX forms) */  \
    {                                                                                       \
        unsigned d = in->has_modrm ? in->rm : R_RAX;                                        \
        uint64_t r = fast_alu(ip, OP, reg_get(ip, d, SIZE), in->imm & size_mask(SIZE), SIZE); \
        if (OP != F_CMP)                                                                    \
            reg_put(ip, d, SIZE, r);                                                        \
    }                                                                                       \
    DEF_ALU_MEM(NAME, OP, SIZE, ea_base64, b)                                              \
    DEF_ALU_MEM(NAME, OP, SIZE, ea_any64, a)

#define DEF_ALU_SIZES(NAME, OP)                                                            \
    DEF_ALU(NAME, OP, 1)                                                                    \
    DEF_ALU(NAME, OP, 4)                                                                    \
    DEF_ALU(NAME, OP, 8)
DEF_ALU_SIZES(add, F_ADD)
DEF_ALU_SIZES(or, F_OR)
DEF_ALU_SIZES(and, F_AND)
DEF_ALU_SIZES(sub, F_SUB)
DEF_ALU_SIZES(xor, F_XOR)
DEF_ALU_SIZES(cmp, F_CMP)

/* Indexed by the ALU operation number (ModRM.reg of 80-83, opcode bits
 * 5:3 of 00-3D); ADC and SBB (2, 3) keep the general handler. */
#define ALU_ROW(FORM)                                                                              \
    {add_##FORM, or_##FORM, NULL, NULL, and_##FORM, sub_##FORM, xor_##FORM, cmp_##FORM}
/* [size: 1, 4, 8 bytes][operation] */
static const x86_exec_fn alu_rr[3][8] = {ALU_ROW(rr_1), ALU_ROW(rr_4), ALU_ROW(rr_8)};
static const x86_exec_fn alu_rr_d[3][8] = {ALU_ROW(rr_d_1), ALU_ROW(rr_d_4), ALU_ROW(rr_d_8)};
static const x86_exec_fn alu_ri[3][8] = {ALU_ROW(ri_1), ALU_ROW(ri_4), ALU_ROW(ri_8)};
/* [address kind: 0 base+disp, 1 any][size: 1, 4, 8 bytes][operation] */
static const x86_exec_fn alu_rm[2][3][8] = {{ALU_ROW(rm_b1), ALU_ROW(rm_b4), ALU_ROW(rm_b8)},
                                            {ALU_ROW(rm_a1), ALU_ROW(rm_a4), ALU_ROW(rm_a8)}};
static const x86_exec_fn alu_mr[2][3][8] = {{ALU_ROW(mr_b1), ALU_ROW(mr_b4), ALU_ROW(mr_b8)},
                                            {ALU_ROW(mr_a1), ALU_ROW(mr_a4), ALU_ROW(mr_a8)}};
static const x86_exec_fn alu_mi[2][3][8] = {{ALU_ROW(mi_b1), ALU_ROW(mi_b4), ALU_ROW(mi_b8)},
                                            {ALU_ROW(mi_a1), ALU_ROW(mi_a4), ALU_ROW(mi_a8)}};

/* TEST r/m(reg), reg (85). */
#define DEF_TEST(SIZE)                                                                  \
    static HANDLER(test_rr_##SIZE)                                                      \
    {                                                                                   \
        fast_alu(ip, F_AND, reg_get(ip, in->rm, SIZE), reg_get(ip, in->reg, SIZE), SIZE); \
    }
DEF_TEST(1)
DEF_TEST(4)
DEF_TEST(8)

/* INC/DEC r32/r64 (FF /0 /1, register form): lazy, CF kept (the flags
 * before are materialized, as the general inc_dec does). */
#define DEF_INCDEC(NAME, KIND, DELTA, SIZE)                                                 \
    static HANDLER(NAME##_r_##SIZE)                                                         \
    {                                                                                       \
        flags_sync(ip);                                                                     \
        uint64_t v = reg_get(ip, in->rm, SIZE);                                             \
        uint64_t r = (v + (uint64_t)(DELTA)) & size_mask(SIZE);                             \
        lazy_set(ip, KIND, v, 1, r, SIZE);                                                  \
        reg_put(ip, in->rm, SIZE, r);                                                       \
    }
DEF_INCDEC(inc, LAZY_INC, 1, 4)
DEF_INCDEC(inc, LAZY_INC, 1, 8)
DEF_INCDEC(dec, LAZY_DEC, -1, 4)
DEF_INCDEC(dec, LAZY_DEC, -1, 8)

/* --- moves --- */

#define DEF_MOV_MEM(SIZE, EA, KIND)                                                    \
    static HANDLER(mov_load_##KIND##SIZE) /* 8B: reg <- [mem] */                       \
    {                                                                                  \
        reg_put(ip, in->reg, SIZE, mem_read(ip, EA(ip, in), SIZE));                    \
    }                                                                                  \
    static HANDLER(mov_store_##KIND##SIZE) /* 89: [mem] <- reg */                      \
    {                                                                                  \
        mem_write(ip, EA(ip, in), SIZE, ip->s->gpr[in->reg]);                          \
    }                                                                                  \
    static HANDLER(mov_store_imm_##KIND##SIZE) /* C7 /0: [mem] <- imm */               \
    {                                                                                  \
        mem_write(ip, EA(ip, in), SIZE, in->imm);                                      \
    }

#define DEF_MOV(SIZE)                                                                  \
    static HANDLER(mov_rr_##SIZE) /* 89 /r, register form: r/m <- reg */               \
    {                                                                                  \
        reg_put(ip, in->rm, SIZE, ip->s->gpr[in->reg]);                                \
    }                                                                                  \
    static HANDLER(mov_rr_d_##SIZE) /* 8B /r, register form: reg <- r/m */             \
    {                                                                                  \
        reg_put(ip, in->reg, SIZE, ip->s->gpr[in->rm]);                                \
    }                                                                                  \
    DEF_MOV_MEM(SIZE, ea_base64, b)                                                    \
    DEF_MOV_MEM(SIZE, ea_any64, a)
DEF_MOV(4)
DEF_MOV(8)

/* [address kind][size: 0 = 4, 1 = 8] */
static const x86_exec_fn mov_load[2][2] = {{mov_load_b4, mov_load_b8}, {mov_load_a4, mov_load_a8}};
static const x86_exec_fn mov_store[2][2] = {{mov_store_b4, mov_store_b8}, {mov_store_a4, mov_store_a8}};
static const x86_exec_fn mov_store_imm[2][2] = {{mov_store_imm_b4, mov_store_imm_b8},
                                                {mov_store_imm_a4, mov_store_imm_a8}};

/* Byte stores (88, C6 /0) and MOVZX/MOVSX/MOVSXD loads into a 32/64-bit
 * register, any 64-bit address. A byte register operand here is never
 * AH..BH (selection checks REX or the register number). */
static HANDLER(mov_store_byte)
{
    mem_write(ip, ea_any64(ip, in), 1, ip->s->gpr[in->reg]);
}

static HANDLER(mov_store_imm_byte)
{
    mem_write(ip, ea_any64(ip, in), 1, in->imm);
}

#define DEF_MOVX(NAME, SSIZE, SIGNED)                                                  \
    static HANDLER(NAME##_m) /* reg <- extend([mem]) */                                \
    {                                                                                  \
        uint64_t v = mem_read(ip, ea_any64(ip, in), SSIZE);                            \
        reg_put(ip, in->reg, in->opsize, SIGNED ? sext_to64(v, SSIZE) : v);            \
    }                                                                                  \
    static HANDLER(NAME##_r) /* reg <- extend(r/m register) */                         \
    {                                                                                  \
        uint64_t v = ip->s->gpr[in->rm] & size_mask(SSIZE);                            \
        reg_put(ip, in->reg, in->opsize, SIGNED ? sext_to64(v, SSIZE) : v);            \
    }
DEF_MOVX(movzx_b, 1, 0)
DEF_MOVX(movzx_w, 2, 0)
DEF_MOVX(movsx_b, 1, 1)
DEF_MOVX(movsx_w, 2, 1)
DEF_MOVX(movsxd, 4, 1)

/* LEA reg64, [base+disp] and any other 64-bit address (no segment). */
static HANDLER(lea_base64)
{
    ip->s->gpr[in->reg] = ip->s->gpr[in->base] + (uint64_t)in->disp;
}

static HANDLER(lea_any64)
{
    const uint64_t *g = ip->s->gpr;
    uint64_t a = (uint64_t)in->disp;
    if (in->base != X86_NO_REG)
        a += g[in->base];
    if (in->index != X86_NO_REG)
        a += g[in->index] << in->scale;
    if (in->rip_relative)
        a += ip->s->rip + in->len;
    ip->s->gpr[in->reg] = a;
}

/* --- shifts by an immediate (C1 /4 /5 /7, register form) --- */

/* SHL/SHR/SAR by imm8 at 32/64 bits: the count (masked to 5/6 bits) is
 * below the width, so the general shift_op's formulas reduce to these. A
 * zero count changes no flags; the register is still written (zero-
 * extended at 32 bits). AF is cleared, as the general path does. */
enum fast_shift { F_SHL, F_SHR, F_SAR };
/* COUNT: the count before masking: the immediate (C1), 1 (D1) or CL (D3). */
#define DEF_SHIFT(NAME, OP, SIZE, FORM, COUNT)                                              \
    static HANDLER(NAME##_##FORM##_##SIZE)                                                  \
    {                                                                                       \
        unsigned w = 8 * SIZE, c = (unsigned)(COUNT) & (w - 1);                             \
        uint64_t v = reg_get(ip, in->rm, SIZE), r, cf, of;                                  \
        if (c == 0) {                                                                       \
            reg_put(ip, in->rm, SIZE, v);                                                   \
            return;                                                                         \
        }                                                                                   \
        if (OP == F_SHL) {                                                                  \
            r = (v << c) & size_mask(SIZE);                                                 \
            cf = (v >> (w - c)) & 1;                                                        \
            of = (r >> (w - 1)) != cf;                                                      \
        } else if (OP == F_SHR) {                                                           \
            r = v >> c;                                                                     \
            cf = (v >> (c - 1)) & 1;                                                        \
            of = v >> (w - 1);                                                              \
        } else {                                                                            \
            int64_t sv = (int64_t)sext_to64(v, SIZE);                                       \
            r = (uint64_t)(sv >> c) & size_mask(SIZE);                                      \
            cf = (uint64_t)(sv >> (c - 1)) & 1;                                             \
            of = 0;                                                                         \
        }                                                                                   \
        set_flags(ip, FLAGS_ARITH, szp_flags(r, SIZE) | (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0)); \
        reg_put(ip, in->rm, SIZE, r);                                                       \
    }
#define DEF_SHIFT_FORMS(NAME, OP, SIZE)                                                     \
    DEF_SHIFT(NAME, OP, SIZE, ri, in->imm)                                                  \
    DEF_SHIFT(NAME, OP, SIZE, r1, 1)                                                        \
    DEF_SHIFT(NAME, OP, SIZE, rcl, ip->s->gpr[R_RCX])
DEF_SHIFT_FORMS(shl, F_SHL, 4)
DEF_SHIFT_FORMS(shl, F_SHL, 8)
DEF_SHIFT_FORMS(shr, F_SHR, 4)
DEF_SHIFT_FORMS(shr, F_SHR, 8)
DEF_SHIFT_FORMS(sar, F_SAR, 4)
DEF_SHIFT_FORMS(sar, F_SAR, 8)
/* [count form: C1 imm, D1 one, D3 CL][size: 4, 8][ModRM.reg 4..7] */
static const x86_exec_fn shift_fn[3][2][4] = {
    {{shl_ri_4, shr_ri_4, NULL, sar_ri_4}, {shl_ri_8, shr_ri_8, NULL, sar_ri_8}},
    {{shl_r1_4, shr_r1_4, NULL, sar_r1_4}, {shl_r1_8, shr_r1_8, NULL, sar_r1_8}},
    {{shl_rcl_4, shr_rcl_4, NULL, sar_rcl_4}, {shl_rcl_8, shr_rcl_8, NULL, sar_rcl_8}},
};

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

/* Jcc in 64-bit mode, one handler per condition so cond_true folds to
 * the tests of that condition. */
#define DEF_JCC(CC)                                                                         \
    static HANDLER(jcc64_##CC)                                                              \
    {                                                                                       \
        if (cond_true(ip, CC))                                                              \
            ip->next_rip += in->imm;                                                        \
    }
DEF_JCC(0) DEF_JCC(1) DEF_JCC(2) DEF_JCC(3) DEF_JCC(4) DEF_JCC(5) DEF_JCC(6) DEF_JCC(7)
DEF_JCC(8) DEF_JCC(9) DEF_JCC(10) DEF_JCC(11) DEF_JCC(12) DEF_JCC(13) DEF_JCC(14) DEF_JCC(15)
static const x86_exec_fn jcc64[16] = {jcc64_0, jcc64_1, jcc64_2,  jcc64_3,  jcc64_4,  jcc64_5,  jcc64_6,  jcc64_7,
                                      jcc64_8, jcc64_9, jcc64_10, jcc64_11, jcc64_12, jcc64_13, jcc64_14, jcc64_15};

/* Indirect CALL/JMP (FF /2, /4) in 64-bit mode: the target is read
 * first, so a faulting push leaves everything as before. */
static HANDLER(call_ind64_r)
{
    uint64_t target = ip->s->gpr[in->rm];
    uint64_t *g = ip->s->gpr;
    uint64_t sp = g[R_RSP] - 8;
    mem_write(ip, ss_checked(ip, sp), 8, ip->next_rip);
    g[R_RSP] = sp;
    ip->next_rip = target;
}

static HANDLER(call_ind64_m)
{
    uint64_t target = mem_read(ip, ea_any64(ip, in), 8);
    uint64_t *g = ip->s->gpr;
    uint64_t sp = g[R_RSP] - 8;
    mem_write(ip, ss_checked(ip, sp), 8, ip->next_rip);
    g[R_RSP] = sp;
    ip->next_rip = target;
}

static HANDLER(jmp_ind64_r)
{
    ip->next_rip = ip->s->gpr[in->rm];
}

static HANDLER(jmp_ind64_m)
{
    ip->next_rip = mem_read(ip, ea_any64(ip, in), 8);
}

/* MOV r32/r64, imm (B8+r): the immediate is zero-extended at 32 bits. */
static HANDLER(mov_imm_r)
{
    reg_put(ip, in->reg, in->opsize, in->imm);
}

/* TEST with a 32/64-bit memory operand or immediate (85 mem, F7 /0, A9). */
static HANDLER(test_mr)
{
    unsigned size = in->opsize;
    fast_alu(ip, F_AND, mem_read(ip, ea_any64(ip, in), size), reg_get(ip, in->reg, size), size);
}

static HANDLER(test_mi)
{
    unsigned size = opsz_w(in);
    fast_alu(ip, F_AND, mem_read(ip, ea_any64(ip, in), size), in->imm & size_mask(size), size);
}

static HANDLER(test_ri)
{
    unsigned size = opsz_w(in), r = in->has_modrm ? in->rm : R_RAX;
    fast_alu(ip, F_AND, reg_get(ip, r, size), in->imm & size_mask(size), size);
}

/* CMOVcc r32/r64, r/m: the source is read (and may fault) whatever the
 * condition; a 32-bit destination is zero-extended even when not moved. */
#define DEF_CMOV(CC)                                                                        \
    static HANDLER(cmov_r_##CC)                                                             \
    {                                                                                       \
        uint64_t v = ip->s->gpr[in->rm];                                                    \
        unsigned d = in->reg;                                                               \
        reg_put(ip, d, in->opsize, cond_true(ip, CC) ? v : ip->s->gpr[d]);                  \
    }                                                                                       \
    static HANDLER(cmov_m_##CC)                                                             \
    {                                                                                       \
        uint64_t v = mem_read(ip, ea_any64(ip, in), in->opsize);                            \
        unsigned d = in->reg;                                                               \
        reg_put(ip, d, in->opsize, cond_true(ip, CC) ? v : ip->s->gpr[d]);                  \
    }
DEF_CMOV(0) DEF_CMOV(1) DEF_CMOV(2) DEF_CMOV(3) DEF_CMOV(4) DEF_CMOV(5) DEF_CMOV(6) DEF_CMOV(7)
DEF_CMOV(8) DEF_CMOV(9) DEF_CMOV(10) DEF_CMOV(11) DEF_CMOV(12) DEF_CMOV(13) DEF_CMOV(14) DEF_CMOV(15)
static const x86_exec_fn cmov_r[16] = {cmov_r_0,  cmov_r_1,  cmov_r_2,  cmov_r_3, cmov_r_4,  cmov_r_5,
                                       cmov_r_6,  cmov_r_7,  cmov_r_8,  cmov_r_9, cmov_r_10, cmov_r_11,
                                       cmov_r_12, cmov_r_13, cmov_r_14, cmov_r_15};
static const x86_exec_fn cmov_m[16] = {cmov_m_0,  cmov_m_1,  cmov_m_2,  cmov_m_3, cmov_m_4,  cmov_m_5,
                                       cmov_m_6,  cmov_m_7,  cmov_m_8,  cmov_m_9, cmov_m_10, cmov_m_11,
                                       cmov_m_12, cmov_m_13, cmov_m_14, cmov_m_15};

/* IMUL r32/r64, r/m (0F AF) and r, r/m, imm (69, 6B), register or any
 * 64-bit memory source: flags as the general mul_flags (SF ZF PF from the
 * low half, AF clear, CF=OF on a significant high half). */
static inline __attribute__((always_inline)) void imul_fast(struct interp *ip, const struct decoded_insn *in,
                                                            uint64_t a)
{
    unsigned size = in->opsize;
    uint64_t b = in->map == MAP_0F ? reg_get(ip, in->reg, size) : in->imm;
    __int128 r = (__int128)(int64_t)sext_to64(a, size) * (int64_t)sext_to64(b, size);
    uint64_t lo = (uint64_t)r & size_mask(size);
    bool overflow = r != (__int128)(int64_t)sext_to64(lo, size);
    set_flags(ip, FLAGS_ARITH, szp_flags(lo, size) | (overflow ? X86_FLAG_CF | X86_FLAG_OF : 0));
    reg_put(ip, in->reg, size, lo);
}

static HANDLER(imul_r)
{
    imul_fast(ip, in, reg_get(ip, in->rm, in->opsize));
}

static HANDLER(imul_m)
{
    imul_fast(ip, in, mem_read(ip, ea_any64(ip, in), in->opsize));
}

/* SETcc to a low byte register. */
#define DEF_SETCC(CC)                                                                       \
    static HANDLER(setcc_r_##CC)                                                            \
    {                                                                                       \
        reg_put(ip, in->rm, 1, cond_true(ip, CC));                                          \
    }
DEF_SETCC(0) DEF_SETCC(1) DEF_SETCC(2) DEF_SETCC(3) DEF_SETCC(4) DEF_SETCC(5) DEF_SETCC(6) DEF_SETCC(7)
DEF_SETCC(8) DEF_SETCC(9) DEF_SETCC(10) DEF_SETCC(11) DEF_SETCC(12) DEF_SETCC(13) DEF_SETCC(14) DEF_SETCC(15)
static const x86_exec_fn setcc_r[16] = {setcc_r_0,  setcc_r_1,  setcc_r_2,  setcc_r_3, setcc_r_4,  setcc_r_5,
                                        setcc_r_6,  setcc_r_7,  setcc_r_8,  setcc_r_9, setcc_r_10, setcc_r_11,
                                        setcc_r_12, setcc_r_13, setcc_r_14, setcc_r_15};

/* --- selection --- */

/* Address kind of a 64-bit-mode memory operand: 0 base + displacement in a
 * zero-based segment, 1 any other 64-bit address, -1 not handled here
 * (legacy modes, 32-bit addressing, LOCK). */
static int mem_kind(const struct decoded_insn *in)
{
    if (!in->has_modrm || in->mod == 3 || in->mode != X86_MODE_64 || in->addrsize != 8 || in->lock)
        return -1;
    if (in->base != X86_NO_REG && in->index == X86_NO_REG && !in->rip_relative && in->seg < S_FS)
        return 0;
    return 1;
}

/* A byte register operand that is a low byte (AL..R15B), not AH..BH. */
static bool low_byte_reg(const struct decoded_insn *in, unsigned r)
{
    return in->rex || r < 4;
}

void exec_fast_select(struct decoded_insn *in)
{
    bool reg_form = in->has_modrm && in->mod == 3;
    int mk = mem_kind(in);
    unsigned sz = in->opsize == 8 ? 1 : 0;
    unsigned bsz = in->opsize == 8 ? 2 : 1; /* index into the [1, 4, 8] tables */
    /* Byte forms with register operands: none of them AH..BH. */
    bool low_bytes = reg_form ? low_byte_reg(in, in->reg) && low_byte_reg(in, in->rm) : low_byte_reg(in, in->reg);
    bool wide = in->opsize == 4 || in->opsize == 8; /* a 32/64-bit operand */
    uint8_t op = in->opcode;
    x86_exec_fn fn = NULL;
    if (in->map == MAP_1B) {
        if (op < 0x40 && (op & 7) <= 5) {
            unsigned alu = (op >> 3) & 7;
            bool byte = !(op & 1);
            if ((op & 7) == 5 && wide)
                fn = alu_ri[bsz][alu];
            else if ((op & 7) == 4)
                fn = alu_ri[0][alu]; /* AL, imm8 */
            else if ((op & 7) == 5)
                fn = NULL; /* AX, imm16 */
            else if (reg_form && wide && !byte)
                fn = ((op & 2) ? alu_rr_d : alu_rr)[bsz][alu];
            else if (reg_form && byte && low_bytes)
                fn = ((op & 2) ? alu_rr_d : alu_rr)[0][alu];
            else if (mk >= 0 && !byte && wide)
                fn = ((op & 2) ? alu_rm : alu_mr)[mk][bsz][alu];
            else if (mk >= 0 && byte && low_byte_reg(in, in->reg))
                fn = ((op & 2) ? alu_rm : alu_mr)[mk][0][alu];
        } else if (op >= 0x80 && op <= 0x83 && op != 0x82) {
            bool byte = op == 0x80;
            if (reg_form && wide && !byte)
                fn = alu_ri[bsz][in->reg & 7];
            else if (reg_form && byte && low_byte_reg(in, in->rm))
                fn = alu_ri[0][in->reg & 7];
            else if (mk >= 0 && (byte || wide))
                fn = alu_mi[mk][byte ? 0 : bsz][in->reg & 7];
        } else if (op == 0x85 && wide && reg_form) {
            fn = sz ? test_rr_8 : test_rr_4;
        } else if (op == 0x84 && reg_form && low_bytes) {
            fn = test_rr_1;
        } else if (op == 0x69 || op == 0x6b) {
            if (wide && (reg_form || mk >= 0))
                fn = reg_form ? imul_r : imul_m;
        } else if ((op == 0x89 || op == 0x8b) && wide) {
            if (reg_form)
                fn = op == 0x89 ? (sz ? mov_rr_8 : mov_rr_4) : (sz ? mov_rr_d_8 : mov_rr_d_4);
            else if (mk >= 0)
                fn = (op == 0x89 ? mov_store : mov_load)[mk][sz];
        } else if (op == 0x88 && mk >= 0 && low_byte_reg(in, in->reg)) {
            fn = mov_store_byte;
        } else if ((op == 0xc6 || op == 0xc7) && mk >= 0 && (in->reg & 7) == 0) {
            if (op == 0xc6)
                fn = mov_store_imm_byte;
            else if (wide)
                fn = mov_store_imm[mk][sz];
        } else if (op == 0x8d && in->opsize == 8 && mk >= 0) {
            fn = mk == 0 ? lea_base64 : lea_any64;
        } else if (op == 0x63 && in->opsize == 8 && (reg_form || mk >= 0)) {
            fn = reg_form ? movsxd_r : movsxd_m;
        } else if ((op == 0xc1 || op == 0xd1 || op == 0xd3) && wide && reg_form && (in->reg & 7) >= 4) {
            fn = shift_fn[op == 0xc1 ? 0 : op == 0xd1 ? 1 : 2][sz][(in->reg & 7) - 4];
        } else if (op == 0xff && wide && reg_form && (in->reg & 7) <= 1) {
            fn = (in->reg & 1) ? (sz ? dec_r_8 : dec_r_4) : (sz ? inc_r_8 : inc_r_4);
        } else if (op == 0xff && in->mode == X86_MODE_64 && ((in->reg & 7) == 2 || (in->reg & 7) == 4) &&
                   (reg_form || mk >= 0)) {
            if ((in->reg & 7) == 2)
                fn = reg_form ? call_ind64_r : call_ind64_m;
            else
                fn = reg_form ? jmp_ind64_r : jmp_ind64_m;
        } else if (op >= 0xb8 && op <= 0xbf && wide) {
            fn = mov_imm_r;
        } else if (op == 0x85 && wide && mk >= 0) {
            fn = test_mr;
        } else if ((op == 0xa9 && wide) || op == 0xa8) {
            fn = test_ri;
        } else if ((op == 0xf6 || op == 0xf7) && (in->reg & 7) == 0 && (op == 0xf6 || wide)) {
            if (mk >= 0)
                fn = test_mi;
            else if (reg_form && op == 0xf7)
                fn = test_ri;
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
                fn = jcc64[op & 15];
        }
    } else if (in->map == MAP_0F) {
        bool movx = op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf;
        bool byte_src = op == 0xb6 || op == 0xbe;
        if (movx && wide && (mk >= 0 || (reg_form && (!byte_src || low_byte_reg(in, in->rm))))) {
            static const x86_exec_fn movx_m[4] = {movzx_b_m, movzx_w_m, movsx_b_m, movsx_w_m};
            static const x86_exec_fn movx_r[4] = {movzx_b_r, movzx_w_r, movsx_b_r, movsx_w_r};
            unsigned i = (op & 1) | ((op & 8) ? 2 : 0);
            fn = reg_form ? movx_r[i] : movx_m[i];
        } else if (op == 0xaf && wide && (reg_form || mk >= 0)) {
            fn = reg_form ? imul_r : imul_m;
        } else if (op >= 0x90 && op <= 0x9f && reg_form && low_byte_reg(in, in->rm)) {
            fn = setcc_r[op & 15];
        } else if (op >= 0x40 && op <= 0x4f && wide && (reg_form || mk >= 0)) {
            fn = reg_form ? cmov_r[op & 15] : cmov_m[op & 15];
        } else if (op >= 0x80 && op <= 0x8f && in->mode == X86_MODE_64 && in->opsize == 8) {
            fn = jcc64[op & 15];
        }
    }
    if (fn)
        in->exec = fn;
}
