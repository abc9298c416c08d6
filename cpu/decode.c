/* Instruction decoder. Opcode attributes follow the Intel SDM Vol. 2,
 * appendix A (one- and two-byte opcode maps, A.2.5 superscripts: i64, d64,
 * f64) and chapter 2 (prefixes, REX, ModRM/SIB, displacement, immediates).
 * The CPU model (cpu/model.c) exposes SSE2 but no SSE3+/AVX/TSX/3DNow!, so
 * those encodings decode to DECODE_UD. */
#include "cpu/decode.h"

#include <string.h>

#include "cpu/state.h"

enum {
    A_M = 1 << 0,      /* has ModRM */
    A_IB = 1 << 1,     /* imm8 */
    A_IW = 1 << 2,     /* imm16 */
    A_IZ = 1 << 3,     /* imm16 or imm32 by operand size */
    A_IV = 1 << 4,     /* imm16/32/64 by operand size (MOV r, imm) */
    A_MOFFS = 1 << 5,  /* offset of address size (MOV AL, moffs) */
    A_I64 = 1 << 6,    /* invalid in 64-bit mode */
    A_D64 = 1 << 7,    /* default operand size 64 in 64-bit mode */
    A_F64 = 1 << 8,    /* operand size forced to 64 in 64-bit mode */
    A_UD = 1 << 9,     /* undefined in every mode (or not exposed by the model) */
    A_GRP3 = 1 << 10,  /* F6/F7: immediate only for /0 and /1 */
    A_PFX = 1 << 11,   /* a prefix byte, handled before the opcode */
    A_ESC = 1 << 12,   /* escape to another map */
    A_ENTER = 1 << 13, /* imm16 then imm8 */
    A_FAR = 1 << 14,   /* ptr16:16/32 far address (legacy modes only) */
};

#define M A_M
#define IB A_IB
#define IZ A_IZ
#define I64 A_I64
#define D64 A_D64
#define F64 A_F64
#define UD A_UD

/* Rows of eight ALU opcodes: Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib rAX,Iz. */
#define ALU_ROW M, M, M, M, IB, IZ

static const uint16_t map1[256] = {
    /* 00 */ ALU_ROW, I64, I64, ALU_ROW, I64, A_ESC,
    /* 10 */ ALU_ROW, I64, I64, ALU_ROW, I64, I64,
    /* 20 */ ALU_ROW, A_PFX, I64, ALU_ROW, A_PFX, I64,
    /* 30 */ ALU_ROW, A_PFX, I64, ALU_ROW, A_PFX, I64,
    /* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 50 */ D64, D64, D64, D64, D64, D64, D64, D64,
    /* 58 */ D64, D64, D64, D64, D64, D64, D64, D64,
    /* 60 */ I64, I64, M | I64, M, A_PFX, A_PFX, A_PFX, A_PFX,
    /* 68 */ IZ | D64, M | IZ, IB | D64, M | IB, 0, 0, 0, 0,
    /* 70 */ IB | F64, IB | F64, IB | F64, IB | F64, IB | F64, IB | F64, IB | F64, IB | F64,
    /* 78 */ IB | F64, IB | F64, IB | F64, IB | F64, IB | F64, IB | F64, IB | F64, IB | F64,
    /* 80 */ M | IB, M | IZ, M | IB | I64, M | IB, M, M, M, M,
    /* 88 */ M, M, M, M, M, M, M, M | D64,
    /* 90 */ 0, 0, 0, 0, 0, 0, 0, 0,
    /* 98 */ 0, 0, I64 | A_FAR, 0, D64, D64, 0, 0,
    /* a0 */ A_MOFFS, A_MOFFS, A_MOFFS, A_MOFFS, 0, 0, 0, 0,
    /* a8 */ IB, IZ, 0, 0, 0, 0, 0, 0,
    /* b0 */ IB, IB, IB, IB, IB, IB, IB, IB,
    /* b8 */ A_IV, A_IV, A_IV, A_IV, A_IV, A_IV, A_IV, A_IV,
    /* c0 */ M | IB, M | IB, A_IW | F64, F64, M | I64, M | I64, M | IB, M | IZ,
    /* c8 */ A_ENTER | D64, D64, A_IW, 0, 0, IB, I64, 0,
    /* d0 */ M, M, M, M, IB | I64, IB | I64, UD, 0,
    /* d8 */ M, M, M, M, M, M, M, M,
    /* e0 */ IB | F64, IB | F64, IB | F64, IB | F64, IB, IB, IB, IB,
    /* e8 */ IZ | F64, IZ | F64, I64 | A_FAR, IB | F64, 0, 0, 0, 0,
    /* f0 */ A_PFX, 0, A_PFX, A_PFX, 0, 0, M | A_GRP3, M | A_GRP3,
    /* f8 */ 0, 0, 0, 0, 0, 0, M, M,
};

static const uint16_t map0f[256] = {
    /* 00 */ M, M, M, M, UD, 0, 0, 0, 0, 0, UD, UD, UD, M, UD, UD,
    /* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 20 */ M, M, M, M, UD, UD, UD, UD, M, M, M, M, M, M, M, M,
    /* 30 */ 0, 0, 0, 0, 0, 0, UD, 0, A_ESC, UD, A_ESC, UD, UD, UD, UD, UD,
    /* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 70 */ M | IB, M | IB, M | IB, M | IB, M, M, M, 0, UD, UD, UD, UD, UD, UD, M, M,
    /* 80 */ IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64,
    /* 88 */ IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64, IZ | F64,
    /* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* a0 */ D64, D64, 0, M, M | IB, M, UD, UD, D64, D64, 0, M, M | IB, M, M, M,
    /* b0 */ M, M, M, M, M, M, M, M, UD, UD, M | IB, M, M, M, M, M,
    /* c0 */ M, M, M | IB, M, M | IB, M | IB, M | IB, M, 0, 0, 0, 0, 0, 0, 0, 0,
    /* d0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* e0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* f0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, UD,
};

#undef M
#undef IB
#undef IZ
#undef I64
#undef D64
#undef F64
#undef UD

/* 0F-map opcodes whose meaning needs an extension the model hides: SSE3
 * (66/F2 0F D0, F2 0F F0, F3 0F 12/16, F2 0F 12; 0F 7C/7D are UD in the
 * table), POPCNT (F3 0F B8). LZCNT/TZCNT (F3 0F BD/BC) fall back to BSR/BSF,
 * so they are defined. */
static bool map0f_hidden(uint8_t op, uint8_t rep, bool opsize_prefix)
{
    switch (op) {
    case 0xd0: return rep == 0xf2 || (rep == 0 && opsize_prefix);
    case 0xf0: return rep == 0xf2;
    case 0x12: case 0x16: return rep == 0xf3 || (op == 0x12 && rep == 0xf2);
    case 0xb8: return true; /* POPCNT (F3) or JMPE: neither exists here */
    default: return false;
    }
}

/* Lockable instructions (SDM Vol. 2, LOCK): with a memory destination only. */
static bool lockable(const struct decoded_insn *in)
{
    if (in->mod == 3)
        return false;
    uint8_t op = in->opcode, r = in->reg & 7;
    if (in->map == MAP_1B) {
        if (op < 0x40 && (op & 7) < 2 && (op & 0x38) != 0x38)
            return true;
        if (op >= 0x80 && op <= 0x83)
            return r != 7;
        if (op == 0x86 || op == 0x87)
            return true;
        if (op == 0xf6 || op == 0xf7)
            return r == 2 || r == 3;
        if (op == 0xfe || op == 0xff)
            return r <= 1;
        return false;
    }
    if (in->map == MAP_0F) {
        switch (op) {
        case 0xab: case 0xb3: case 0xbb: case 0xb0: case 0xb1: case 0xc0: case 0xc1:
            return true;
        case 0xba: return r >= 5;
        case 0xc7: return r == 1;
        default: return false;
        }
    }
    return false;
}

/* Group encodings the SDM leaves undefined (or the model hides). */
static bool group_undefined(const struct decoded_insn *in)
{
    uint8_t r = in->reg & 7;
    if (in->map == MAP_1B) {
        switch (in->opcode) {
        case 0x8f: return r != 0;            /* XOP on AMD */
        case 0xc6: case 0xc7: return r != 0; /* XABORT/XBEGIN: no RTM */
        case 0xfe: return r > 1;
        case 0xff: return r == 7 || ((r == 3 || r == 5) && in->mod == 3);
        case 0x8d: return in->mod == 3; /* LEA needs memory */
        case 0x8c: case 0x8e: return r > 5; /* segment registers 0-5 only */
        case 0x62: case 0xc4: case 0xc5: return in->mod == 3; /* VEX/EVEX in legacy modes */
        default: return false;
        }
    }
    if (in->map == MAP_0F) {
        switch (in->opcode) {
        case 0x00: return r > 5;
        case 0xba: return r < 4;
        case 0xc7: return r != 1 || in->mod == 3 || (in->rex & 8); /* no CMPXCHG16B, RDRAND */
        case 0xb2: case 0xb4: case 0xb5: case 0xc3: return in->mod == 3; /* LSS/LFS/LGS, MOVNTI */
        case 0x0d: return r > 1;
        case 0xae: return in->mod == 3 && r < 5; /* RD/WRFSBASE etc.: FSGSBASE hidden */
        default: return false;
        }
    }
    return false;
}

static uint64_t sext(uint64_t v, unsigned bytes)
{
    unsigned sh = 64 - 8 * bytes;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

static uint64_t read_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

enum decode_status x86_decode(const uint8_t *bytes, size_t avail, enum x86_mode mode,
                              struct decoded_insn *in)
{
    memset(in, 0, sizeof(*in));
    in->base = in->index = X86_NO_REG;
    in->seg = S_DS;
    in->mode = (uint8_t)mode;
    size_t lim = avail < X86_MAX_INSN_LEN ? avail : X86_MAX_INSN_LEN;
    size_t pos = 0;
    bool p66 = false, p67 = false;
    uint8_t seg_prefix = 0xff;
    uint8_t b;

#define NEED(n)                                                                  \
    do {                                                                         \
        if (pos + (n) > lim)                                                     \
            return pos + (n) > X86_MAX_INSN_LEN ? DECODE_TOO_LONG : DECODE_TRUNCATED; \
    } while (0)

    /* Legacy prefixes; a REX only counts right before the opcode. */
    for (;;) {
        NEED(1);
        b = bytes[pos];
        if (mode == X86_MODE_64 && (b & 0xf0) == 0x40) {
            in->rex = b;
            pos++;
            continue;
        }
        if (!(map1[b] & A_PFX))
            break;
        in->rex = 0;
        pos++;
        switch (b) {
        case 0xf0: in->lock = 1; break;
        case 0xf2: case 0xf3: in->rep = b; break;
        case 0x66: p66 = true; break;
        case 0x67: p67 = true; break;
        case 0x26: seg_prefix = S_ES; break;
        case 0x2e: seg_prefix = S_CS; break;
        case 0x36: seg_prefix = S_SS; break;
        case 0x3e: seg_prefix = S_DS; break;
        case 0x64: seg_prefix = S_FS; break;
        case 0x65: seg_prefix = S_GS; break;
        }
    }
    in->opsize_prefix = p66;

    uint16_t attr;
    pos++;
    if (b == 0x0f) {
        NEED(1);
        b = bytes[pos++];
        attr = map0f[b];
        in->map = MAP_0F;
        if (b == 0x38 || b == 0x3a) {
            /* Three-byte maps: every opcode has ModRM; 0F3A adds imm8. None
             * is exposed (SSSE3/SSE4/MOVBE hidden), but their length is
             * decoded so a #UD is reported on the whole instruction. */
            in->map = b == 0x38 ? MAP_0F38 : MAP_0F3A;
            NEED(1);
            b = bytes[pos++];
            attr = A_M | A_UD | (in->map == MAP_0F3A ? A_IB : 0);
        }
    } else {
        attr = map1[b];
        in->map = MAP_1B;
    }
    in->opcode = b;

    /* Operand and address sizes (SDM Vol. 1, 3.6 and Vol. 2, 2.2.1.2). */
    bool rexw = in->rex & 8;
    if (mode == X86_MODE_64) {
        if (attr & A_F64)
            in->opsize = 8;
        else if (rexw)
            in->opsize = 8;
        else if (p66)
            in->opsize = 2;
        else
            in->opsize = (attr & A_D64) ? 8 : 4;
        in->addrsize = p67 ? 4 : 8;
    } else {
        bool def32 = mode == X86_MODE_32;
        in->opsize = (def32 ^ p66) ? 4 : 2;
        in->addrsize = (def32 ^ p67) ? 4 : 2;
    }
    /* In 64-bit mode 0x40-0x4F were taken as REX above; in legacy modes they
     * are INC/DEC and carry no attributes. */

    if (attr & A_M) {
        NEED(1);
        uint8_t m = bytes[pos++];
        in->has_modrm = 1;
        in->modrm = m;
        in->mod = m >> 6;
        /* MOV to/from CR/DR ignore mod: always the register form. */
        if (in->map == MAP_0F && b >= 0x20 && b <= 0x23)
            in->mod = 3;
        in->reg = ((m >> 3) & 7) | ((in->rex & 4) << 1);
        uint8_t rm = m & 7;
        if (in->mod == 3) {
            in->rm = rm | ((in->rex & 1) << 3);
        } else if (in->addrsize == 2) {
            static const uint8_t base16[8] = {R_RBX, R_RBX, R_RBP, R_RBP, R_RSI, R_RDI, R_RBP, R_RBX};
            static const uint8_t index16[8] = {R_RSI, R_RDI, R_RSI, R_RDI, X86_NO_REG, X86_NO_REG, X86_NO_REG, X86_NO_REG};
            in->base = base16[rm];
            in->index = index16[rm];
            if (in->mod == 0 && rm == 6) {
                in->base = X86_NO_REG;
                NEED(2);
                in->disp = (int16_t)read_le(bytes + pos, 2);
                pos += 2;
            }
            if (in->base == R_RBP)
                in->seg = S_SS;
        } else {
            if (rm == 4) {
                NEED(1);
                uint8_t sib = bytes[pos++];
                in->scale = sib >> 6;
                uint8_t idx = ((sib >> 3) & 7) | ((in->rex & 2) << 2);
                in->index = idx == 4 ? X86_NO_REG : idx;
                uint8_t base = sib & 7;
                if (base == 5 && in->mod == 0) {
                    NEED(4);
                    in->disp = (int32_t)read_le(bytes + pos, 4);
                    pos += 4;
                } else {
                    in->base = base | ((in->rex & 1) << 3);
                }
            } else if (rm == 5 && in->mod == 0) {
                NEED(4);
                in->disp = (int32_t)read_le(bytes + pos, 4);
                pos += 4;
                in->rip_relative = mode == X86_MODE_64;
            } else {
                in->base = rm | ((in->rex & 1) << 3);
            }
            if (in->base == R_RSP || in->base == R_RBP)
                in->seg = S_SS;
        }
        if (in->mod == 1) {
            NEED(1);
            in->disp = (int8_t)bytes[pos++];
        } else if (in->mod == 2) {
            unsigned n = in->addrsize == 2 ? 2 : 4;
            NEED(n);
            in->disp = (int64_t)sext(read_le(bytes + pos, n), n);
            pos += n;
        }
    } else {
        /* +r opcodes (50-5F, 90-97, B0-BF, 0F C8-CF) take REX.B. */
        in->reg = (b & 7) | ((in->rex & 1) << 3);
    }
    if (seg_prefix != 0xff) {
        in->seg = seg_prefix;
        in->seg_override = 1;
    }

    /* Immediates. */
    unsigned isz = 0;
    if (attr & A_IB)
        isz = 1;
    else if (attr & A_IW)
        isz = 2;
    else if (attr & A_IZ)
        isz = in->opsize == 2 ? 2 : 4;
    else if (attr & A_IV)
        isz = in->opsize;
    else if (attr & A_MOFFS)
        isz = in->addrsize;
    else if ((attr & A_GRP3) && (in->reg & 7) < 2)
        isz = b == 0xf6 ? 1 : (in->opsize == 2 ? 2 : 4);
    if ((attr & A_FAR) && mode != X86_MODE_64) {
        NEED(in->opsize + 2u);
        in->imm = read_le(bytes + pos, in->opsize);
        in->imm2 = (uint16_t)read_le(bytes + pos + in->opsize, 2);
        pos += in->opsize + 2u;
    } else if (attr & A_ENTER) {
        NEED(3);
        in->imm = read_le(bytes + pos, 2);
        in->imm2 = bytes[pos + 2];
        pos += 3;
    } else if (isz) {
        NEED(isz);
        uint64_t v = read_le(bytes + pos, isz);
        in->imm = (attr & (A_MOFFS | A_IV)) ? v : sext(v, isz);
        pos += isz;
    }
    in->len = (uint8_t)pos;
#undef NEED

    if (attr & A_UD)
        return DECODE_UD;
    if ((attr & A_I64) && mode == X86_MODE_64)
        return DECODE_UD;
    if (in->map == MAP_0F && map0f_hidden(b, in->rep, p66))
        return DECODE_UD;
    if (in->has_modrm && group_undefined(in))
        return DECODE_UD;
    if (in->lock && !lockable(in))
        return DECODE_UD;
    return DECODE_OK;
}
