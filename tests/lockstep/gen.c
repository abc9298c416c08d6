/* Random instruction sequences per instruction group for the lockstep
 * harness. Every instruction is built from a template (opcode, ModRM form,
 * immediate) with random prefixes, registers, operands and addressing
 * forms; memory operands address the data region through RBX or RIP, and
 * capstone's register-access lists reject anything that would overwrite
 * RBX (the data pointer) or RSP (outside the stack group). Control flow only
 * goes forward, so every sequence ends at its final INT3. */
#include <string.h>
#include <sys/user.h>

#include "cpu/decode.h"
#include "cpu/interp.h"
#include "lockstep.h"

enum {
    T_MEM = 1 << 0,    /* memory form only */
    T_REG = 1 << 1,    /* register form only */
    T_NO66 = 1 << 2,   /* no operand-size prefix */
    T_LOCK = 1 << 3,   /* may take LOCK (memory form) */
    T_REPPFX = 1 << 4, /* may take F2/F3 */
    T_STACK = 1 << 5,  /* may write RSP */
    T_NOMODRM = 1 << 6,
    T_PLUSR = 1 << 7,  /* register in the opcode's low 3 bits */
    T_BTREG = 1 << 8,  /* BT family with a register bit offset */
    T_DIV = 1 << 9,    /* DIV/IDIV: sometimes clear rDX first */
};

enum { IMM_NONE = 0, IMM_B = 1, IMM_W = 2, IMM_Z = 4, IMM_V = 8 };

struct tmpl {
    uint8_t map; /* 0 one-byte, 1 0F */
    uint8_t op;
    int8_t digit; /* ModRM.reg opcode extension, or -1 */
    uint8_t imm;
    uint16_t flags;
};

struct gen {
    struct ls_rng *rng;
    csh cs;
    uint8_t *code;
    size_t pos;
};

static unsigned rnd(struct gen *g, unsigned n)
{
    return (unsigned)(ls_rand(g->rng) % n);
}

static void emit(struct gen *g, const uint8_t *b, size_t n)
{
    memcpy(g->code + g->pos, b, n);
    g->pos += n;
}

#define EMIT(g, ...)                                      \
    do {                                                  \
        static const uint8_t bytes_[] = {__VA_ARGS__};    \
        emit(g, bytes_, sizeof(bytes_));                  \
    } while (0)

static bool reg_is_protected(uint16_t r, bool allow_rsp)
{
    switch (r) {
    case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: case X86_REG_BH:
        return true;
    case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL:
        return !allow_rsp;
    default:
        return false;
    }
}

/* Checks bytes at g->pos: our decoder executes them, capstone decodes them
 * to the same length, and they leave RBX/RSP alone. */
static bool acceptable(struct gen *g, const uint8_t *b, size_t n, bool allow_rsp)
{
    struct decoded_insn in;
    if (x86_decode(b, n, X86_MODE_64, &in) != DECODE_OK || in.len != n || !interp_select(&in))
        return false;
    cs_insn *ci;
    size_t cnt = cs_disasm(g->cs, b, n, LS_CODE_BASE + g->pos, 1, &ci);
    if (cnt == 0)
        return false;
    bool ok = ci[0].size == n;
    cs_regs rr, rw;
    uint8_t nr, nw;
    if (ok && cs_regs_access(g->cs, &ci[0], rr, &nr, rw, &nw) == CS_ERR_OK) {
        for (unsigned i = 0; i < nw; i++)
            if (reg_is_protected(rw[i], allow_rsp))
                ok = false;
        /* Even in the stack group RSP changes only implicitly (POP RSP
         * would leave a random stack pointer). */
        const cs_x86 *x = &ci[0].detail->x86;
        for (unsigned i = 0; i < x->op_count; i++)
            if (x->operands[i].type == X86_OP_REG && (x->operands[i].access & CS_AC_WRITE) &&
                reg_is_protected(x->operands[i].reg, false))
                ok = false;
    }
    cs_free(ci, cnt);
    return ok;
}

static void put_le(uint8_t *b, size_t *n, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        b[(*n)++] = (uint8_t)(v >> (8 * i));
}

/* Builds one instruction from a template; false if the random choice was
 * rejected (caller retries). */
static bool emit_tmpl(struct gen *g, const struct tmpl *t)
{
    uint8_t b[16];
    size_t n = 0;
    bool has_modrm = !(t->flags & (T_NOMODRM | T_PLUSR));
    bool mem = has_modrm && ((t->flags & T_MEM) || (!(t->flags & T_REG) && rnd(g, 2)));
    bool p66 = !(t->flags & T_NO66) && rnd(g, 5) == 0;
    bool lock = (t->flags & T_LOCK) && mem && rnd(g, 3) == 0;
    uint8_t rep = (t->flags & T_REPPFX) && rnd(g, 3) == 0 ? (rnd(g, 2) ? 0xf3 : 0xf2) : 0;
    bool p67 = mem && rnd(g, 8) == 0;
    uint8_t rex = rnd(g, 2) ? (uint8_t)(0x40 | rnd(g, 16)) : 0;
    if (lock)
        b[n++] = 0xf0;
    if (p66)
        b[n++] = 0x66;
    if (rep)
        b[n++] = rep;
    if (p67)
        b[n++] = 0x67;
    unsigned form = rnd(g, 4);
    uint8_t modrm = 0, reg = t->digit >= 0 ? (uint8_t)t->digit : (uint8_t)rnd(g, 8);
    if (mem) {
        rex &= (uint8_t)~1; /* base RBX: no REX.B */
        if (form == 3)
            rex &= (uint8_t)~2; /* SIB without index: no REX.X */
    }
    if (rex)
        b[n++] = rex;
    if (t->map == 1)
        b[n++] = 0x0f;
    uint8_t op = t->op;
    if (t->flags & T_PLUSR)
        op = (uint8_t)(op + rnd(g, 8));
    b[n++] = op;
    size_t disp_at = 0;
    if (has_modrm) {
        if (!mem) {
            modrm = (uint8_t)(0xc0 | (reg << 3) | rnd(g, 8));
            b[n++] = modrm;
        } else if (form == 0) {
            b[n++] = (uint8_t)(0x40 | (reg << 3) | 3);
            b[n++] = (uint8_t)rnd(g, 256);
        } else if (form == 1) {
            b[n++] = (uint8_t)(0x80 | (reg << 3) | 3);
            put_le(b, &n, (uint64_t)(int64_t)((int)rnd(g, 0xc00) - 0x600), 4);
        } else if (form == 2) {
            b[n++] = (uint8_t)((reg << 3) | 5);
            disp_at = n;
            put_le(b, &n, 0, 4);
        } else {
            b[n++] = (uint8_t)(0x40 | (reg << 3) | 4);
            b[n++] = (uint8_t)((rnd(g, 4) << 6) | (4 << 3) | 3);
            b[n++] = (uint8_t)rnd(g, 256);
        }
    }
    unsigned isz = t->imm == IMM_Z ? (p66 ? 2 : 4) : t->imm == IMM_V ? ((rex & 8) ? 8 : p66 ? 2 : 4) : t->imm;
    put_le(b, &n, ls_rand(g->rng), isz);
    if (disp_at) {
        uint64_t target = LS_DATA_BASE + 0x100 + rnd(g, 0x3000);
        int32_t d = (int32_t)(target - (LS_CODE_BASE + g->pos + n));
        memcpy(b + disp_at, &d, 4);
    }
    if (!acceptable(g, b, n, t->flags & T_STACK))
        return false;
    uint8_t r = (uint8_t)(((rex & 4) ? 8 : 0) | reg);
    if ((t->flags & T_BTREG) && mem) {
        if (r == 3 || r == 4)
            return false;
        /* Keep the bit offset small so the access stays in the data region:
         * AND r64, 0x7f. */
        uint8_t pre[4] = {(uint8_t)(0x48 | (r >> 3)), 0x83, (uint8_t)(0xe0 | (r & 7)), 0x7f};
        emit(g, pre, 4);
    }
    if ((t->flags & T_DIV) && rnd(g, 2)) {
        EMIT(g, 0x31, 0xd2); /* xor edx, edx */
        if (t->op == 0xf6)
            EMIT(g, 0x0f, 0xb6, 0xc0); /* movzx eax, al */
    }
    emit(g, b, n);
    return true;
}

static void emit_from(struct gen *g, const struct tmpl *list, size_t count)
{
    for (int tries = 0; tries < 1000; tries++)
        if (emit_tmpl(g, &list[rnd(g, (unsigned)count)]))
            return;
}

#define NT(a) (sizeof(a) / sizeof((a)[0]))

static const struct tmpl alu_tmpl[] = {
    {0, 0x00, -1, 0, T_LOCK}, {0, 0x01, -1, 0, T_LOCK}, {0, 0x02, -1, 0, 0}, {0, 0x03, -1, 0, 0},
    {0, 0x04, -1, IMM_B, T_NOMODRM}, {0, 0x05, -1, IMM_Z, T_NOMODRM},
    {0, 0x08, -1, 0, T_LOCK}, {0, 0x09, -1, 0, T_LOCK}, {0, 0x0a, -1, 0, 0}, {0, 0x0b, -1, 0, 0},
    {0, 0x0c, -1, IMM_B, T_NOMODRM}, {0, 0x0d, -1, IMM_Z, T_NOMODRM},
    {0, 0x10, -1, 0, T_LOCK}, {0, 0x11, -1, 0, T_LOCK}, {0, 0x12, -1, 0, 0}, {0, 0x13, -1, 0, 0},
    {0, 0x14, -1, IMM_B, T_NOMODRM}, {0, 0x15, -1, IMM_Z, T_NOMODRM},
    {0, 0x18, -1, 0, T_LOCK}, {0, 0x19, -1, 0, T_LOCK}, {0, 0x1a, -1, 0, 0}, {0, 0x1b, -1, 0, 0},
    {0, 0x1c, -1, IMM_B, T_NOMODRM}, {0, 0x1d, -1, IMM_Z, T_NOMODRM},
    {0, 0x20, -1, 0, T_LOCK}, {0, 0x21, -1, 0, T_LOCK}, {0, 0x22, -1, 0, 0}, {0, 0x23, -1, 0, 0},
    {0, 0x24, -1, IMM_B, T_NOMODRM}, {0, 0x25, -1, IMM_Z, T_NOMODRM},
    {0, 0x28, -1, 0, T_LOCK}, {0, 0x29, -1, 0, T_LOCK}, {0, 0x2a, -1, 0, 0}, {0, 0x2b, -1, 0, 0},
    {0, 0x2c, -1, IMM_B, T_NOMODRM}, {0, 0x2d, -1, IMM_Z, T_NOMODRM},
    {0, 0x30, -1, 0, T_LOCK}, {0, 0x31, -1, 0, T_LOCK}, {0, 0x32, -1, 0, 0}, {0, 0x33, -1, 0, 0},
    {0, 0x34, -1, IMM_B, T_NOMODRM}, {0, 0x35, -1, IMM_Z, T_NOMODRM},
    {0, 0x38, -1, 0, 0}, {0, 0x39, -1, 0, 0}, {0, 0x3a, -1, 0, 0}, {0, 0x3b, -1, 0, 0},
    {0, 0x3c, -1, IMM_B, T_NOMODRM}, {0, 0x3d, -1, IMM_Z, T_NOMODRM},
    {0, 0x80, -1, IMM_B, T_LOCK}, {0, 0x81, -1, IMM_Z, T_LOCK}, {0, 0x83, -1, IMM_B, T_LOCK},
    {0, 0x84, -1, 0, 0}, {0, 0x85, -1, 0, 0}, {0, 0xa8, -1, IMM_B, T_NOMODRM}, {0, 0xa9, -1, IMM_Z, T_NOMODRM},
    {0, 0x86, -1, 0, T_LOCK}, {0, 0x87, -1, 0, T_LOCK},
    {0, 0x88, -1, 0, 0}, {0, 0x89, -1, 0, 0}, {0, 0x8a, -1, 0, 0}, {0, 0x8b, -1, 0, 0},
    {0, 0xc6, 0, IMM_B, 0}, {0, 0xc7, 0, IMM_Z, 0},
    {0, 0xb0, -1, IMM_B, T_PLUSR}, {0, 0xb8, -1, IMM_V, T_PLUSR},
    {0, 0xf6, 0, IMM_B, 0}, {0, 0xf6, 2, 0, T_LOCK}, {0, 0xf6, 3, 0, T_LOCK},
    {0, 0xf7, 0, IMM_Z, 0}, {0, 0xf7, 2, 0, T_LOCK}, {0, 0xf7, 3, 0, T_LOCK},
    {0, 0xfe, 0, 0, T_LOCK}, {0, 0xfe, 1, 0, T_LOCK}, {0, 0xff, 0, 0, T_LOCK}, {0, 0xff, 1, 0, T_LOCK},
    {1, 0xb0, -1, 0, T_LOCK}, {1, 0xb1, -1, 0, T_LOCK}, {1, 0xc0, -1, 0, T_LOCK}, {1, 0xc1, -1, 0, T_LOCK},
    {1, 0xc7, 1, 0, T_MEM | T_LOCK},
    {0, 0x90, -1, 0, T_PLUSR}, {0, 0x98, -1, 0, T_NOMODRM}, {0, 0x99, -1, 0, T_NOMODRM},
    {0, 0x63, -1, 0, 0}, {0, 0x8d, -1, 0, T_MEM},
    {1, 0xb6, -1, 0, 0}, {1, 0xb7, -1, 0, 0}, {1, 0xbe, -1, 0, 0}, {1, 0xbf, -1, 0, 0},
    {0, 0xf5, -1, 0, T_NOMODRM}, {0, 0xf8, -1, 0, T_NOMODRM}, {0, 0xf9, -1, 0, T_NOMODRM},
    {0, 0x9e, -1, 0, T_NOMODRM}, {0, 0x9f, -1, 0, T_NOMODRM},
};

static const struct tmpl shift_tmpl[] = {
    {0, 0xc0, -1, IMM_B, 0}, {0, 0xc1, -1, IMM_B, 0}, {0, 0xd0, -1, 0, 0}, {0, 0xd1, -1, 0, 0},
    {0, 0xd2, -1, 0, 0}, {0, 0xd3, -1, 0, 0},
    {1, 0xa4, -1, IMM_B, 0}, {1, 0xa5, -1, 0, 0}, {1, 0xac, -1, IMM_B, 0}, {1, 0xad, -1, 0, 0},
};

static const struct tmpl muldiv_tmpl[] = {
    {0, 0xf6, 4, 0, 0}, {0, 0xf6, 5, 0, 0}, {0, 0xf6, 6, 0, T_DIV}, {0, 0xf6, 7, 0, T_DIV},
    {0, 0xf7, 4, 0, 0}, {0, 0xf7, 5, 0, 0}, {0, 0xf7, 6, 0, T_DIV}, {0, 0xf7, 7, 0, T_DIV},
    {1, 0xaf, -1, 0, 0}, {0, 0x69, -1, IMM_Z, 0}, {0, 0x6b, -1, IMM_B, 0},
};

static const struct tmpl bit_tmpl[] = {
    {1, 0xa3, -1, 0, T_BTREG}, {1, 0xab, -1, 0, T_BTREG | T_LOCK}, {1, 0xb3, -1, 0, T_BTREG | T_LOCK},
    {1, 0xbb, -1, 0, T_BTREG | T_LOCK}, {1, 0xba, 4, IMM_B, 0}, {1, 0xba, 5, IMM_B, T_LOCK},
    {1, 0xba, 6, IMM_B, T_LOCK}, {1, 0xba, 7, IMM_B, T_LOCK},
    /* No F3 forms: this host has BMI1/LZCNT, so F3 0F BC/BD run as
     * TZCNT/LZCNT natively while the model executes BSF/BSR. */
    {1, 0xbc, -1, 0, 0}, {1, 0xbd, -1, 0, 0},
};

static const struct tmpl misc_tmpl[] = {
    {0, 0x8d, -1, 0, T_MEM}, {1, 0x1f, 0, 0, 0}, {1, 0x18, 0, 0, T_MEM}, {1, 0x18, 1, 0, T_MEM},
    {1, 0x40, -1, 0, 0}, {1, 0x41, -1, 0, 0}, {1, 0x42, -1, 0, 0}, {1, 0x43, -1, 0, 0},
    {1, 0x44, -1, 0, 0}, {1, 0x45, -1, 0, 0}, {1, 0x46, -1, 0, 0}, {1, 0x47, -1, 0, 0},
    {1, 0x48, -1, 0, 0}, {1, 0x49, -1, 0, 0}, {1, 0x4a, -1, 0, 0}, {1, 0x4b, -1, 0, 0},
    {1, 0x4c, -1, 0, 0}, {1, 0x4d, -1, 0, 0}, {1, 0x4e, -1, 0, 0}, {1, 0x4f, -1, 0, 0},
    {1, 0x90, 0, 0, 0}, {1, 0x91, 0, 0, 0}, {1, 0x92, 0, 0, 0}, {1, 0x93, 0, 0, 0},
    {1, 0x94, 0, 0, 0}, {1, 0x95, 0, 0, 0}, {1, 0x96, 0, 0, 0}, {1, 0x97, 0, 0, 0},
    {1, 0x98, 0, 0, 0}, {1, 0x99, 0, 0, 0}, {1, 0x9a, 0, 0, 0}, {1, 0x9b, 0, 0, 0},
    {1, 0x9c, 0, 0, 0}, {1, 0x9d, 0, 0, 0}, {1, 0x9e, 0, 0, 0}, {1, 0x9f, 0, 0, 0},
    {1, 0xc8, -1, 0, T_PLUSR | T_NO66}, {0, 0x90, -1, 0, T_PLUSR}, {0, 0x87, -1, 0, 0},
    {0, 0x98, -1, 0, T_NOMODRM}, {0, 0x99, -1, 0, T_NOMODRM},
    {0, 0x9e, -1, 0, T_NOMODRM}, {0, 0x9f, -1, 0, T_NOMODRM},
    {0, 0x3b, -1, 0, 0}, {0, 0x85, -1, 0, 0}, {0, 0x01, -1, 0, 0}, {0, 0x29, -1, 0, 0},
};

static const struct tmpl stack_tmpl[] = {
    {0, 0x50, -1, 0, T_PLUSR | T_STACK}, {0, 0x58, -1, 0, T_PLUSR | T_STACK},
    {0, 0x6a, -1, IMM_B, T_NOMODRM | T_STACK}, {0, 0x68, -1, IMM_Z, T_NOMODRM | T_STACK},
    {0, 0xff, 6, 0, T_STACK}, {0, 0x8f, 0, 0, T_STACK}, {0, 0x9c, -1, 0, T_NOMODRM | T_STACK},
};

static void emit_alu(struct gen *g) { emit_from(g, alu_tmpl, NT(alu_tmpl)); }

static void emit_le32(struct gen *g, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    emit(g, b, 4);
}

static void gen_string(struct gen *g)
{
    EMIT(g, 0x48, 0x8d, 0xb3); /* lea rsi, [rbx + d] */
    emit_le32(g, (uint32_t)((int)rnd(g, 0x2000) - 0x1000));
    EMIT(g, 0x48, 0x8d, 0xbb); /* lea rdi, [rbx + d] */
    emit_le32(g, (uint32_t)((int)rnd(g, 0x2000) - 0x1000));
    EMIT(g, 0xb9); /* mov ecx, n */
    emit_le32(g, rnd(g, 40));
    if (rnd(g, 2)) {
        EMIT(g, 0xb8); /* mov eax, x: SCAS operand */
        emit_le32(g, (uint32_t)ls_rand(g->rng));
    }
    bool down = rnd(g, 4) == 0;
    if (down)
        EMIT(g, 0xfd);
    static const uint8_t ops[] = {0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
    uint8_t b[6];
    size_t n = 0;
    unsigned r = rnd(g, 3);
    if (r)
        b[n++] = r == 1 ? 0xf3 : 0xf2;
    if (rnd(g, 4) == 0)
        b[n++] = 0x66;
    if (rnd(g, 6) == 0)
        b[n++] = 0x67;
    if (rnd(g, 3) == 0)
        b[n++] = 0x48;
    b[n++] = ops[rnd(g, sizeof(ops))];
    emit(g, b, n);
    if (down)
        EMIT(g, 0xfc);
}

static void gen_stack(struct gen *g)
{
    switch (rnd(g, 6)) {
    case 0: { /* ENTER ... LEAVE with RBP inside the data region */
        EMIT(g, 0x48, 0x8d, 0xab); /* lea rbp, [rbx + d] */
        emit_le32(g, rnd(g, 0x800));
        uint8_t b[4] = {0xc8, (uint8_t)rnd(g, 256), (uint8_t)rnd(g, 2), (uint8_t)rnd(g, 5)};
        emit(g, b, 4);
        emit_from(g, stack_tmpl, NT(stack_tmpl));
        EMIT(g, 0xc9);
        break;
    }
    case 1: /* CALL/RET: call L1; jmp L2; L1: ret; L2: */
        EMIT(g, 0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x01, 0xc3);
        break;
    case 2: /* push imm; ret 8 through a call */
        EMIT(g, 0x6a, 0x00, 0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x03, 0xc2, 0x08, 0x00);
        break;
    case 3: { /* POPF of a value with arithmetic flags and DF only */
        EMIT(g, 0x68);
        emit_le32(g, (rnd(g, 0x10000) & 0xcd5) | 2);
        EMIT(g, 0x9d, 0xfc);
        break;
    }
    default:
        emit_from(g, stack_tmpl, NT(stack_tmpl));
        break;
    }
}

/* A forward branch over one filler instruction. */
static void gen_control(struct gen *g)
{
    uint8_t save[16];
    size_t at = g->pos;
    unsigned kind = rnd(g, 8);
    if (kind == 0) { /* CALL/RET */
        EMIT(g, 0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x01, 0xc3);
        return;
    }
    if (kind == 1) { /* indirect JMP/CALL through a register */
        if (rnd(g, 2)) {
            EMIT(g, 0x48, 0x8d, 0x05, 0x02, 0x00, 0x00, 0x00, 0xff, 0xe0); /* lea rax,[rip+2]; jmp rax */
        } else {
            EMIT(g, 0x48, 0x8d, 0x05, 0x02, 0x00, 0x00, 0x00, 0xff, 0xd0, 0x59); /* ...; call rax; pop rcx */
        }
        return;
    }
    /* Reserve room for the branch, emit the filler, then write the branch. */
    size_t blen = kind == 2 ? 6 : kind == 3 ? 5 : kind == 7 ? 3 : 2;
    g->pos += blen;
    size_t fstart = g->pos;
    emit_alu(g);
    size_t flen = g->pos - fstart;
    memcpy(save, g->code + fstart, flen);
    g->pos = at;
    uint8_t cc = (uint8_t)rnd(g, 16);
    switch (kind) {
    case 2: { uint8_t b[2] = {0x0f, (uint8_t)(0x80 | cc)}; emit(g, b, 2); emit_le32(g, (uint32_t)flen); break; }
    case 3: EMIT(g, 0xe9); emit_le32(g, (uint32_t)flen); break;
    case 4: { uint8_t b[2] = {(uint8_t)(0x70 | cc), (uint8_t)flen}; emit(g, b, 2); break; }
    case 5: { uint8_t b[2] = {(uint8_t)(0xe0 + rnd(g, 4)), (uint8_t)flen}; emit(g, b, 2); break; }
    case 6: { uint8_t b[2] = {0xeb, (uint8_t)flen}; emit(g, b, 2); break; }
    default: { uint8_t b[3] = {0x67, (uint8_t)(0xe0 + rnd(g, 4)), (uint8_t)flen}; emit(g, b, 3); break; }
    }
    emit(g, save, flen);
}

static void gen_misc(struct gen *g)
{
    switch (rnd(g, 10)) {
    case 0: { /* CPUID keeping RBX: push rbx; mov eax, leaf; xor ecx, ecx; cpuid; pop rbx */
        static const uint32_t leaves[] = {0, 1, 7, 0x80000000, 0x80000001, 0x80000008};
        EMIT(g, 0x53, 0xb8);
        emit_le32(g, leaves[rnd(g, 6)]);
        EMIT(g, 0x31, 0xc9, 0x0f, 0xa2, 0x5b);
        break;
    }
    case 1: EMIT(g, 0x0f, 0x31); break; /* RDTSC */
    case 2: {
        static const uint8_t fences[3][3] = {{0x0f, 0xae, 0xe8}, {0x0f, 0xae, 0xf0}, {0x0f, 0xae, 0xf8}};
        emit(g, fences[rnd(g, 3)], 3);
        break;
    }
    case 3: EMIT(g, 0xf3, 0x90); break; /* PAUSE */
    default: emit_from(g, misc_tmpl, NT(misc_tmpl)); break;
    }
}

/* SSE/SSE2: (prefix, opcode, immediate?, flags). Prefix 0 = none. */
struct sse_tmpl {
    uint8_t prefix, op, imm;
    uint8_t flags; /* T_MEM / T_REG restrictions as for integer templates */
};

static const struct sse_tmpl sse_list[] = {
    {0, 0x10, 0, 0}, {0x66, 0x10, 0, 0}, {0xf3, 0x10, 0, 0}, {0xf2, 0x10, 0, 0},
    {0, 0x11, 0, 0}, {0x66, 0x11, 0, 0}, {0xf3, 0x11, 0, 0}, {0xf2, 0x11, 0, 0},
    {0, 0x12, 0, 0}, {0x66, 0x12, 0, T_MEM}, {0, 0x13, 0, T_MEM}, {0x66, 0x13, 0, T_MEM},
    {0, 0x14, 0, 0}, {0x66, 0x14, 0, 0}, {0, 0x15, 0, 0}, {0x66, 0x15, 0, 0},
    {0, 0x16, 0, 0}, {0x66, 0x16, 0, T_MEM}, {0, 0x17, 0, T_MEM}, {0x66, 0x17, 0, T_MEM},
    {0, 0x28, 0, 0}, {0x66, 0x28, 0, 0}, {0, 0x29, 0, 0}, {0x66, 0x29, 0, 0},
    {0xf3, 0x2a, 0, 0}, {0xf2, 0x2a, 0, 0}, {0, 0x2b, 0, T_MEM},
    {0xf3, 0x2c, 0, 0}, {0xf2, 0x2c, 0, 0}, {0xf3, 0x2d, 0, 0}, {0xf2, 0x2d, 0, 0},
    {0, 0x2e, 0, 0}, {0x66, 0x2e, 0, 0}, {0, 0x2f, 0, 0}, {0x66, 0x2f, 0, 0},
    {0, 0x50, 0, T_REG}, {0x66, 0x50, 0, T_REG},
    {0, 0x51, 0, 0}, {0x66, 0x51, 0, 0}, {0xf3, 0x51, 0, 0}, {0xf2, 0x51, 0, 0},
    {0, 0x52, 0, 0}, {0xf3, 0x52, 0, 0}, {0, 0x53, 0, 0}, {0xf3, 0x53, 0, 0},
    {0, 0x54, 0, 0}, {0x66, 0x54, 0, 0}, {0, 0x55, 0, 0}, {0x66, 0x55, 0, 0},
    {0, 0x56, 0, 0}, {0x66, 0x56, 0, 0}, {0, 0x57, 0, 0}, {0x66, 0x57, 0, 0},
    {0, 0x58, 0, 0}, {0x66, 0x58, 0, 0}, {0xf3, 0x58, 0, 0}, {0xf2, 0x58, 0, 0},
    {0, 0x59, 0, 0}, {0x66, 0x59, 0, 0}, {0xf3, 0x59, 0, 0}, {0xf2, 0x59, 0, 0},
    {0, 0x5a, 0, 0}, {0x66, 0x5a, 0, 0}, {0xf3, 0x5a, 0, 0}, {0xf2, 0x5a, 0, 0},
    {0, 0x5b, 0, 0}, {0x66, 0x5b, 0, 0}, {0xf3, 0x5b, 0, 0},
    {0, 0x5c, 0, 0}, {0x66, 0x5c, 0, 0}, {0xf3, 0x5c, 0, 0}, {0xf2, 0x5c, 0, 0},
    {0, 0x5d, 0, 0}, {0x66, 0x5d, 0, 0}, {0xf3, 0x5d, 0, 0}, {0xf2, 0x5d, 0, 0},
    {0, 0x5e, 0, 0}, {0x66, 0x5e, 0, 0}, {0xf3, 0x5e, 0, 0}, {0xf2, 0x5e, 0, 0},
    {0, 0x5f, 0, 0}, {0x66, 0x5f, 0, 0}, {0xf3, 0x5f, 0, 0}, {0xf2, 0x5f, 0, 0},
    {0x66, 0x60, 0, 0}, {0x66, 0x61, 0, 0}, {0x66, 0x62, 0, 0}, {0x66, 0x63, 0, 0},
    {0x66, 0x64, 0, 0}, {0x66, 0x65, 0, 0}, {0x66, 0x66, 0, 0}, {0x66, 0x67, 0, 0},
    {0x66, 0x68, 0, 0}, {0x66, 0x69, 0, 0}, {0x66, 0x6a, 0, 0}, {0x66, 0x6b, 0, 0},
    {0x66, 0x6c, 0, 0}, {0x66, 0x6d, 0, 0}, {0x66, 0x6e, 0, 0}, {0x66, 0x6f, 0, 0}, {0xf3, 0x6f, 0, 0},
    {0x66, 0x70, 1, 0}, {0xf3, 0x70, 1, 0}, {0xf2, 0x70, 1, 0},
    {0x66, 0x71, 1, T_REG}, {0x66, 0x72, 1, T_REG}, {0x66, 0x73, 1, T_REG},
    {0x66, 0x74, 0, 0}, {0x66, 0x75, 0, 0}, {0x66, 0x76, 0, 0},
    {0x66, 0x7e, 0, 0}, {0xf3, 0x7e, 0, 0}, {0x66, 0x7f, 0, 0}, {0xf3, 0x7f, 0, 0},
    {0, 0xc2, 2, 0}, {0x66, 0xc2, 2, 0}, {0xf3, 0xc2, 2, 0}, {0xf2, 0xc2, 2, 0},
    {0x66, 0xc4, 1, 0}, {0x66, 0xc5, 1, T_REG}, {0, 0xc6, 1, 0}, {0x66, 0xc6, 1, 0},
    {0x66, 0xd1, 0, 0}, {0x66, 0xd2, 0, 0}, {0x66, 0xd3, 0, 0}, {0x66, 0xd4, 0, 0}, {0x66, 0xd5, 0, 0},
    {0x66, 0xd6, 0, 0}, {0x66, 0xd7, 0, T_REG},
    {0x66, 0xd8, 0, 0}, {0x66, 0xd9, 0, 0}, {0x66, 0xda, 0, 0}, {0x66, 0xdb, 0, 0},
    {0x66, 0xdc, 0, 0}, {0x66, 0xdd, 0, 0}, {0x66, 0xde, 0, 0}, {0x66, 0xdf, 0, 0},
    {0x66, 0xe0, 0, 0}, {0x66, 0xe1, 0, 0}, {0x66, 0xe2, 0, 0}, {0x66, 0xe3, 0, 0},
    {0x66, 0xe4, 0, 0}, {0x66, 0xe5, 0, 0}, {0x66, 0xe6, 0, 0}, {0xf3, 0xe6, 0, 0}, {0xf2, 0xe6, 0, 0},
    {0x66, 0xe7, 0, T_MEM},
    {0x66, 0xe8, 0, 0}, {0x66, 0xe9, 0, 0}, {0x66, 0xea, 0, 0}, {0x66, 0xeb, 0, 0},
    {0x66, 0xec, 0, 0}, {0x66, 0xed, 0, 0}, {0x66, 0xee, 0, 0}, {0x66, 0xef, 0, 0},
    {0x66, 0xf1, 0, 0}, {0x66, 0xf2, 0, 0}, {0x66, 0xf3, 0, 0}, {0x66, 0xf4, 0, 0},
    {0x66, 0xf5, 0, 0}, {0x66, 0xf6, 0, 0}, {0x66, 0xf8, 0, 0}, {0x66, 0xf9, 0, 0},
    {0x66, 0xfa, 0, 0}, {0x66, 0xfb, 0, 0}, {0x66, 0xfc, 0, 0}, {0x66, 0xfd, 0, 0}, {0x66, 0xfe, 0, 0},
};

static const struct sse_tmpl mmx_list[] = {
    {0, 0x60, 0, 0}, {0, 0x61, 0, 0}, {0, 0x62, 0, 0}, {0, 0x63, 0, 0}, {0, 0x64, 0, 0}, {0, 0x65, 0, 0},
    {0, 0x66, 0, 0}, {0, 0x67, 0, 0}, {0, 0x68, 0, 0}, {0, 0x69, 0, 0}, {0, 0x6a, 0, 0}, {0, 0x6b, 0, 0},
    {0, 0x6e, 0, 0}, {0, 0x6f, 0, 0}, {0, 0x70, 1, 0}, {0, 0x71, 1, T_REG}, {0, 0x72, 1, T_REG},
    {0, 0x73, 1, T_REG}, {0, 0x74, 0, 0}, {0, 0x75, 0, 0}, {0, 0x76, 0, 0}, {0, 0x7e, 0, 0}, {0, 0x7f, 0, 0},
    {0, 0xc4, 1, 0}, {0, 0xc5, 1, T_REG}, {0, 0xd1, 0, 0}, {0, 0xd2, 0, 0}, {0, 0xd3, 0, 0}, {0, 0xd4, 0, 0},
    {0, 0xd5, 0, 0}, {0, 0xd7, 0, T_REG}, {0, 0xd8, 0, 0}, {0, 0xd9, 0, 0}, {0, 0xda, 0, 0}, {0, 0xdb, 0, 0},
    {0, 0xdc, 0, 0}, {0, 0xdd, 0, 0}, {0, 0xde, 0, 0}, {0, 0xdf, 0, 0}, {0, 0xe0, 0, 0}, {0, 0xe1, 0, 0},
    {0, 0xe2, 0, 0}, {0, 0xe3, 0, 0}, {0, 0xe4, 0, 0}, {0, 0xe5, 0, 0}, {0, 0xe7, 0, T_MEM}, {0, 0xe8, 0, 0},
    {0, 0xe9, 0, 0}, {0, 0xea, 0, 0}, {0, 0xeb, 0, 0}, {0, 0xec, 0, 0}, {0, 0xed, 0, 0}, {0, 0xee, 0, 0},
    {0, 0xef, 0, 0}, {0, 0xf1, 0, 0}, {0, 0xf2, 0, 0}, {0, 0xf3, 0, 0}, {0, 0xf4, 0, 0}, {0, 0xf5, 0, 0},
    {0, 0xf6, 0, 0}, {0, 0xf8, 0, 0}, {0, 0xf9, 0, 0}, {0, 0xfa, 0, 0}, {0, 0xfb, 0, 0}, {0, 0xfc, 0, 0},
    {0, 0xfd, 0, 0}, {0, 0xfe, 0, 0}, {0, 0x77, 3, T_REG},
    /* MMX <-> SSE */
    {0, 0x2a, 0, 0}, {0x66, 0x2a, 0, 0}, {0, 0x2c, 0, 0}, {0x66, 0x2c, 0, 0}, {0, 0x2d, 0, 0},
    {0x66, 0x2d, 0, 0}, {0xf3, 0xd6, 0, T_REG}, {0xf2, 0xd6, 0, T_REG},
};

/* One SSE instruction; memory operands are [rbx + 16*k] (aligned) or,
 * sometimes, unaligned to exercise #GP. */
static bool emit_sse_one(struct gen *g, const struct sse_tmpl *list, size_t count)
{
    const struct sse_tmpl *t = &list[rnd(g, (unsigned)count)];
    if (t->imm == 3) { /* EMMS: no ModRM */
        EMIT(g, 0x0f, 0x77);
        return true;
    }
    uint8_t b[16];
    size_t n = 0;
    bool mem = (t->flags & T_MEM) || (!(t->flags & T_REG) && rnd(g, 2));
    if (t->prefix)
        b[n++] = t->prefix;
    uint8_t rex = rnd(g, 2) ? (uint8_t)(0x40 | rnd(g, 16)) : 0;
    if (mem)
        rex &= (uint8_t)~3;
    if (rex)
        b[n++] = rex;
    b[n++] = 0x0f;
    b[n++] = t->op;
    uint8_t reg = (uint8_t)rnd(g, 8);
    if (t->op >= 0x71 && t->op <= 0x73) {
        static const uint8_t kinds[3][4] = {{2, 4, 6, 2}, {2, 4, 6, 2}, {2, 3, 6, 7}};
        reg = kinds[t->op - 0x71][rnd(g, 4)];
    }
    if (mem) {
        int disp = (int)(rnd(g, 64) * 16) - 512 + (rnd(g, 8) == 0 ? (int)rnd(g, 16) : 0);
        b[n++] = (uint8_t)(0x80 | (reg << 3) | 3);
        put_le(b, &n, (uint64_t)(int64_t)disp, 4);
    } else {
        b[n++] = (uint8_t)(0xc0 | (reg << 3) | rnd(g, 8));
    }
    if (t->imm == 1)
        b[n++] = (uint8_t)rnd(g, 256);
    else if (t->imm == 2)
        b[n++] = (uint8_t)rnd(g, 8);
    if (!acceptable(g, b, n, false))
        return false;
    emit(g, b, n);
    return true;
}

static void gen_sse(struct gen *g)
{
    for (int tries = 0; tries < 1000; tries++)
        if (emit_sse_one(g, sse_list, NT(sse_list)))
            return;
}

static void gen_mmx(struct gen *g)
{
    for (int tries = 0; tries < 1000; tries++)
        if (emit_sse_one(g, mmx_list, NT(mmx_list)))
            return;
}

/* Random XMM contents at the start of an SSE program: movdqu xmmN, [rbx+d]. */
static void sse_prologue(struct gen *g)
{
    for (unsigned r = 0; r < 16; r++) {
        uint8_t b[9] = {0xf3, (uint8_t)(0x40 | (r >= 8 ? 4 : 0)), 0x0f, 0x6f, (uint8_t)(0x80 | ((r & 7) << 3) | 3)};
        int32_t d = (int32_t)(rnd(g, 0x1000) - 0x800);
        memcpy(b + 5, &d, 4);
        emit(g, b, 9);
    }
}

/* x87: random escape opcodes and ModRM (register forms and [rbx+d]
 * memory), except FLDENV/FRSTOR/FLDCW from random data: control words come
 * from FLDCW of a prepared value with all exceptions masked. */
static bool emit_x87_one(struct gen *g)
{
    uint8_t b[8];
    size_t n = 0;
    uint8_t op = (uint8_t)(0xd8 + rnd(g, 8));
    bool mem = rnd(g, 3) == 0;
    uint8_t reg = (uint8_t)rnd(g, 8);
    /* Not generated: FLDENV/FRSTOR/FLDCW of random data, and FNSTENV/FNSAVE
     * whose saved instruction/operand pointers are not modelled exactly. */
    if (mem && ((op == 0xd9 && reg >= 4 && reg <= 6) || (op == 0xdd && (reg == 4 || reg == 6))))
        return false;
    b[n++] = op;
    if (mem) {
        b[n++] = (uint8_t)(0x80 | (reg << 3) | 3);
        put_le(b, &n, (uint64_t)(int64_t)((int)rnd(g, 0x1000) - 0x800), 4);
    } else {
        b[n++] = (uint8_t)(0xc0 | (reg << 3) | rnd(g, 8));
    }
    if (!acceptable(g, b, n, false))
        return false;
    emit(g, b, n);
    return true;
}

static void gen_x87(struct gen *g)
{
    if (rnd(g, 40) == 0) {
        /* mov word [rbx-0x900], cw; fldcw [rbx-0x900] */
        uint16_t cw = (uint16_t)(0x3f | (rnd(g, 4) << 8) | (rnd(g, 4) << 10));
        uint8_t b[] = {0x66, 0xc7, 0x83, 0x00, 0xf7, 0xff, 0xff, (uint8_t)cw, (uint8_t)(cw >> 8),
                       0xd9, 0xab, 0x00, 0xf7, 0xff, 0xff};
        emit(g, b, sizeof(b));
        return;
    }
    if (rnd(g, 4) == 0) { /* loads keep the stack populated */
        static const uint8_t loads[] = {0xd9, 0xdd, 0xdb, 0xdf};
        uint8_t op = loads[rnd(g, 4)];
        uint8_t reg = op == 0xdb || op == 0xdf ? (rnd(g, 2) ? 0 : 5) : 0;
        uint8_t b[6] = {op, (uint8_t)(0x80 | (reg << 3) | 3)};
        int32_t d = (int32_t)rnd(g, 0x1000) - 0x800;
        memcpy(b + 2, &d, 4);
        emit(g, b, 6);
        return;
    }
    for (int tries = 0; tries < 1000; tries++)
        if (emit_x87_one(g))
            return;
}

const char *const ls_groups[] = {"alu", "shift", "muldiv", "bit", "string", "stack", "control", "misc", "sse", "x87", "mmx", "mixed", NULL};

static void gen_one(struct gen *g, const char *group)
{
    if (strcmp(group, "alu") == 0)
        emit_alu(g);
    else if (strcmp(group, "shift") == 0)
        emit_from(g, shift_tmpl, NT(shift_tmpl));
    else if (strcmp(group, "muldiv") == 0)
        emit_from(g, muldiv_tmpl, NT(muldiv_tmpl));
    else if (strcmp(group, "bit") == 0)
        emit_from(g, bit_tmpl, NT(bit_tmpl));
    else if (strcmp(group, "string") == 0)
        gen_string(g);
    else if (strcmp(group, "stack") == 0)
        gen_stack(g);
    else if (strcmp(group, "control") == 0)
        gen_control(g);
    else if (strcmp(group, "sse") == 0)
        gen_sse(g);
    else if (strcmp(group, "x87") == 0)
        gen_x87(g);
    else if (strcmp(group, "mmx") == 0)
        gen_mmx(g);
    else
        gen_misc(g);
}

static uint64_t interesting(struct ls_rng *r)
{
    static const uint64_t vals[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
                                    0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
                                    0x8000000000000000ull, ~0ull, 63, 64, 31, 32, 8, 16};
    uint64_t x = ls_rand(r);
    switch (x % 4) {
    case 0: return vals[(x >> 8) % (sizeof(vals) / sizeof(vals[0]))];
    case 1: return (x >> 8) & 0xff;
    default: return ls_rand(r);
    }
}

int ls_generate(const char *group, struct ls_rng *rng, csh cs, unsigned count, struct ls_program *p)
{
    bool known = false;
    for (const char *const *gname = ls_groups; *gname; gname++)
        known |= strcmp(*gname, group) == 0;
    if (!known)
        return -1;
    struct gen g = {rng, cs, (uint8_t *)(uintptr_t)LS_CODE_BASE, 0};
    static const char *const mix[] = {"alu", "shift", "muldiv", "bit", "string", "stack", "control", "misc", "sse", "x87", "mmx"};
    bool mixed = strcmp(group, "mixed") == 0;
    if (mixed || strcmp(group, "sse") == 0 || strcmp(group, "mmx") == 0)
        sse_prologue(&g);
    EMIT(&g, 0xdb, 0xe3); /* fninit: the same x87 state on both sides */
    for (unsigned i = 0; i < count && g.pos < LS_CODE_SIZE - 256; i++)
        gen_one(&g, mixed ? mix[rnd(&g, 11)] : group);
    EMIT(&g, 0xcc);
    p->len = g.pos;
    uint8_t *data = (uint8_t *)(uintptr_t)LS_DATA_BASE;
    for (size_t i = 0; i < LS_DATA_SIZE; i += 8) {
        uint64_t v = ls_rand(rng);
        memcpy(data + i, &v, 8);
    }
    memset(&p->regs, 0, sizeof(p->regs));
    struct user_regs_struct *r = &p->regs;
    unsigned long long *gp[] = {&r->rax, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rbp, &r->r8, &r->r9,
                                &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15};
    for (size_t i = 0; i < sizeof(gp) / sizeof(gp[0]); i++)
        *gp[i] = interesting(rng);
    r->rbx = LS_DATA_PTR;
    r->rsp = LS_STACK_TOP;
    r->rip = LS_CODE_BASE;
    r->eflags = 0x202 | (ls_rand(rng) & 0x8d5);
    return 0;
}
