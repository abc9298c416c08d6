/* Integer instructions: ALU, INC/DEC/NOT/NEG, shifts and rotates,
 * MUL/IMUL/DIV/IDIV, bit tests and scans, SHLD/SHRD, moves and conversions,
 * exchanges and compare-exchanges, flag instructions. Semantics and flag
 * results follow the Intel SDM Vol. 2 pseudocode of each instruction;
 * flags the SDM leaves undefined get the value noted at each site. */
#include "cpu/interp_priv.h"

/* Memory destinations of read-modify-write instructions are probed for
 * writing first, so nothing changes when the write would fault. */
static inline uint64_t rmw_address(struct interp *ip, const struct decoded_insn *in, unsigned size)
{
    uint64_t la = ea_linear(ip, in);
    mem_probe_write(ip, la, size);
    return la;
}

/* --- ALU: ADD OR ADC SBB AND SUB XOR CMP --- */

static uint64_t alu_op(struct interp *ip, unsigned op, uint64_t a, uint64_t b, unsigned size)
{
    switch (op) {
    case 0: return alu_add(ip, a, b, 0, size);
    case 1: return alu_logic(ip, a | b, size);
    case 2: return alu_add(ip, a, b, flag(ip, X86_FLAG_CF), size);
    case 3: return alu_sub(ip, a, b, flag(ip, X86_FLAG_CF), size);
    case 4: return alu_logic(ip, a & b, size);
    case 5: return alu_sub(ip, a, b, 0, size);
    case 6: return alu_logic(ip, a ^ b, size);
    default: return alu_sub(ip, a, b, 0, size);
    }
}

/* Applies `op` to the r/m operand with `b`; CMP (7) does not write. */
static void alu_rm(struct interp *ip, const struct decoded_insn *in, unsigned op, unsigned size, uint64_t b)
{
    if (in->mod == 3) {
        uint64_t r = alu_op(ip, op, reg_read(ip, in->rm, size, in), b, size);
        if (op != 7)
            reg_write(ip, in->rm, size, in, r);
        return;
    }
    uint64_t la = op == 7 ? ea_linear(ip, in) : rmw_address(ip, in, size);
    uint64_t r = alu_op(ip, op, mem_read(ip, la, size), b, size);
    if (op != 7)
        mem_write(ip, la, size, r);
}

static HANDLER(exec_alu)
{
    unsigned op = (in->opcode >> 3) & 7, size = opsz_w(in);
    switch (in->opcode & 7) {
    case 0: case 1:
        alu_rm(ip, in, op, size, reg_read(ip, in->reg, size, in));
        break;
    case 2: case 3: {
        uint64_t r = alu_op(ip, op, reg_read(ip, in->reg, size, in), rm_read(ip, in, size), size);
        if (op != 7)
            reg_write(ip, in->reg, size, in, r);
        break;
    }
    default: {
        uint64_t r = alu_op(ip, op, reg_read(ip, R_RAX, size, in), in->imm, size);
        if (op != 7)
            reg_write(ip, R_RAX, size, in, r);
        break;
    }
    }
}

static HANDLER(exec_grp1)
{
    unsigned size = in->opcode == 0x81 || in->opcode == 0x83 ? in->opsize : 1;
    alu_rm(ip, in, in->reg & 7, size, in->imm);
}

static HANDLER(exec_test)
{
    unsigned size = opsz_w(in);
    if (in->opcode >= 0xa8)
        alu_logic(ip, reg_read(ip, R_RAX, size, in) & in->imm, size);
    else
        alu_logic(ip, rm_read(ip, in, size) & reg_read(ip, in->reg, size, in), size);
}

/* --- INC/DEC (FE, FF /0 /1), NOT/NEG/TEST/MUL/DIV (F6, F7) --- */

/* Flags lazily (LAZY_INC/LAZY_DEC); CF is kept, so the flags before are
 * materialized first. */
static uint64_t inc_dec(struct interp *ip, uint64_t v, bool dec, unsigned size)
{
    flags_sync(ip);
    uint64_t m = size_mask(size);
    v &= m;
    uint64_t r = (dec ? v - 1 : v + 1) & m;
    lazy_set(ip, dec ? LAZY_DEC : LAZY_INC, v, 1, r, size);
    return r;
}

void exec_incdec_rm(struct interp *ip, const struct decoded_insn *in, unsigned size)
{
    bool dec = in->reg & 1;
    if (in->mod == 3) {
        reg_write(ip, in->rm, size, in, inc_dec(ip, reg_read(ip, in->rm, size, in), dec, size));
        return;
    }
    uint64_t la = rmw_address(ip, in, size);
    mem_write(ip, la, size, inc_dec(ip, mem_read(ip, la, size), dec, size));
}

static HANDLER(exec_grp4)
{
    exec_incdec_rm(ip, in, 1);
}

/* MUL/IMUL set CF=OF when the high half is significant; SF/ZF/PF are
 * undefined and set from the low half here, AF cleared. */
static void mul_flags(struct interp *ip, uint64_t lo, bool overflow, unsigned size)
{
    set_flags(ip, FLAGS_ARITH, szp_flags(lo, size) | (overflow ? X86_FLAG_CF | X86_FLAG_OF : 0));
}

static void exec_muldiv(struct interp *ip, const struct decoded_insn *in, unsigned op, unsigned size, uint64_t src)
{
    uint64_t *g = ip->s->gpr;
    uint64_t m = size_mask(size);
    unsigned bits = 8 * size;
    if (size == 1) {
        uint64_t al = g[R_RAX] & 0xff;
        switch (op) {
        case 4: {
            uint64_t r = al * src;
            reg_write(ip, R_RAX, 2, in, r);
            mul_flags(ip, r, (r >> 8) != 0, 1);
            return;
        }
        case 5: {
            int64_t r = (int64_t)(int8_t)al * (int8_t)src;
            reg_write(ip, R_RAX, 2, in, (uint64_t)r);
            mul_flags(ip, (uint64_t)r, r != (int8_t)r, 1);
            return;
        }
        case 6: {
            uint64_t ax = g[R_RAX] & 0xffff;
            if (src == 0 || ax / src > 0xff)
                interp_raise(ip, X86_DE, false, 0);
            reg_write(ip, R_RAX, 2, in, (ax / src) | ((ax % src) << 8));
            return;
        }
        default: {
            int64_t ax = (int16_t)g[R_RAX], d = (int8_t)src;
            if (d == 0)
                interp_raise(ip, X86_DE, false, 0);
            int64_t q = ax / d, r = ax % d;
            if (q != (int8_t)q)
                interp_raise(ip, X86_DE, false, 0);
            reg_write(ip, R_RAX, 2, in, ((uint64_t)q & 0xff) | (((uint64_t)r & 0xff) << 8));
            return;
        }
        }
    }
    uint64_t a = g[R_RAX] & m;
    switch (op) {
    case 4: {
        unsigned __int128 r = (unsigned __int128)a * src;
        uint64_t lo = (uint64_t)r & m, hi = (uint64_t)(r >> bits) & m;
        reg_write(ip, R_RAX, size, in, lo);
        reg_write(ip, R_RDX, size, in, hi);
        mul_flags(ip, lo, hi != 0, size);
        return;
    }
    case 5: {
        __int128 r = (__int128)(int64_t)sext_to64(a, size) * (int64_t)sext_to64(src, size);
        uint64_t lo = (uint64_t)r & m, hi = (uint64_t)(r >> bits) & m;
        reg_write(ip, R_RAX, size, in, lo);
        reg_write(ip, R_RDX, size, in, hi);
        mul_flags(ip, lo, r != (__int128)(int64_t)sext_to64(lo, size), size);
        return;
    }
    case 6: {
        if (src == 0)
            interp_raise(ip, X86_DE, false, 0);
        unsigned __int128 n = ((unsigned __int128)(g[R_RDX] & m) << bits) | a;
        unsigned __int128 q = n / src;
        if (q > m)
            interp_raise(ip, X86_DE, false, 0);
        reg_write(ip, R_RAX, size, in, (uint64_t)q);
        reg_write(ip, R_RDX, size, in, (uint64_t)(n % src));
        return;
    }
    default: {
        int64_t d = (int64_t)sext_to64(src, size);
        if (d == 0)
            interp_raise(ip, X86_DE, false, 0);
        unsigned __int128 un = ((unsigned __int128)(g[R_RDX] & m) << bits) | a;
        /* Sign-extend the 2*bits dividend to 128 bits. */
        __int128 n = (__int128)(un << (128 - 2 * bits)) >> (128 - 2 * bits);
        __int128 q = n / d, r = n % d;
        __int128 qmax = ((__int128)1 << (bits - 1)) - 1;
        if (q > qmax || q < -qmax - 1)
            interp_raise(ip, X86_DE, false, 0);
        reg_write(ip, R_RAX, size, in, (uint64_t)q);
        reg_write(ip, R_RDX, size, in, (uint64_t)r);
        return;
    }
    }
}

static HANDLER(exec_grp3)
{
    unsigned size = opsz_w(in), op = in->reg & 7;
    switch (op) {
    case 0: case 1:
        alu_logic(ip, rm_read(ip, in, size) & in->imm, size);
        return;
    case 2: case 3: {
        uint64_t la = 0, v;
        if (in->mod == 3) {
            v = reg_read(ip, in->rm, size, in);
        } else {
            la = rmw_address(ip, in, size);
            v = mem_read(ip, la, size);
        }
        uint64_t r = op == 2 ? ~v & size_mask(size) : alu_sub(ip, 0, v, 0, size);
        if (in->mod == 3)
            reg_write(ip, in->rm, size, in, r);
        else
            mem_write(ip, la, size, r);
        return;
    }
    default:
        exec_muldiv(ip, in, op, size, rm_read(ip, in, size));
        return;
    }
}

/* IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B). */
static HANDLER(exec_imul)
{
    unsigned size = in->opsize;
    uint64_t a = rm_read(ip, in, size);
    uint64_t b = in->map == MAP_0F ? reg_read(ip, in->reg, size, in) : in->imm;
    __int128 r = (__int128)(int64_t)sext_to64(a, size) * (int64_t)sext_to64(b, size);
    uint64_t lo = (uint64_t)r & size_mask(size);
    mul_flags(ip, lo, r != (__int128)(int64_t)sext_to64(lo, size), size);
    reg_write(ip, in->reg, size, in, lo);
}

/* --- shifts and rotates (C0 C1 D0-D3) --- */

static uint64_t shift_op(struct interp *ip, unsigned op, uint64_t v, unsigned count, unsigned size)
{
    unsigned w = 8 * size;
    uint64_t m = size_mask(size), sb = sign_bit(size);
    count &= size == 8 ? 63 : 31;
    v &= m;
    if (count == 0)
        return v;
    uint64_t r, cf, of;
    switch (op) {
    case 0: { /* ROL */
        unsigned t = count % w;
        r = t ? ((v << t) | (v >> (w - t))) & m : v;
        cf = r & 1;
        set_flags(ip, X86_FLAG_CF | X86_FLAG_OF,
                  (cf ? X86_FLAG_CF : 0) | (!!(r & sb) != cf ? X86_FLAG_OF : 0));
        return r;
    }
    case 1: { /* ROR */
        unsigned t = count % w;
        r = t ? ((v >> t) | (v << (w - t))) & m : v;
        cf = !!(r & sb);
        of = cf != !!(r & (sb >> 1));
        set_flags(ip, X86_FLAG_CF | X86_FLAG_OF, (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0));
        return r;
    }
    case 2: case 3: { /* RCL, RCR: rotate through CF */
        unsigned t = size <= 2 ? count % (w + 1) : count;
        cf = flag(ip, X86_FLAG_CF);
        r = v;
        of = op == 3 ? (!!(r & sb)) != cf : 0;
        for (unsigned i = 0; i < t; i++) {
            uint64_t out;
            if (op == 2) {
                out = !!(r & sb);
                r = ((r << 1) | cf) & m;
            } else {
                out = r & 1;
                r = (r >> 1) | (cf ? sb : 0);
            }
            cf = out;
        }
        if (op == 2)
            of = (!!(r & sb)) != cf;
        set_flags(ip, X86_FLAG_CF | X86_FLAG_OF, (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0));
        return r;
    }
    case 4: case 6: /* SHL/SAL */
        if (count < w) {
            r = (v << count) & m;
            cf = (v >> (w - count)) & 1;
        } else {
            r = 0;
            cf = count == w ? v & 1 : 0;
        }
        of = (!!(r & sb)) != cf;
        break;
    case 5: /* SHR */
        if (count < w) {
            r = v >> count;
            cf = (v >> (count - 1)) & 1;
        } else {
            r = 0;
            cf = count == w ? !!(v & sb) : 0;
        }
        of = !!(v & sb);
        break;
    default: { /* SAR */
        int64_t sv = (int64_t)sext_to64(v, size);
        unsigned c = count < w ? count : w;
        r = (uint64_t)(sv >> (c - 1 < 63 ? c - 1 : 63));
        cf = r & 1;
        r = (uint64_t)((int64_t)r >> 1) & m;
        of = 0;
        break;
    }
    }
    /* AF is undefined for a non-zero count: cleared. */
    set_flags(ip, FLAGS_ARITH, szp_flags(r, size) | (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0));
    return r;
}

static HANDLER(exec_shift)
{
    unsigned size = opsz_w(in);
    unsigned count = in->opcode <= 0xc1 ? (unsigned)in->imm : in->opcode <= 0xd1 ? 1 : (unsigned)ip->s->gpr[R_RCX];
    unsigned op = in->reg & 7;
    if (in->mod == 3) {
        reg_write(ip, in->rm, size, in, shift_op(ip, op, reg_read(ip, in->rm, size, in), count & 0xff, size));
        return;
    }
    uint64_t la = rmw_address(ip, in, size);
    mem_write(ip, la, size, shift_op(ip, op, mem_read(ip, la, size), count & 0xff, size));
}

/* SHLD/SHRD (0F A4 A5 AC AD). A 16-bit count above 16 gives a result the
 * SDM leaves undefined; this follows AMD hardware (measured on the host):
 * SHLD shifts the 48-bit dest:src:src, SHRD src:src:dest. */
static HANDLER(exec_shxd)
{
    unsigned size = in->opsize, w = 8 * size;
    bool right = in->opcode >= 0xac;
    unsigned count = (in->opcode & 1) ? (unsigned)ip->s->gpr[R_RCX] : (unsigned)in->imm;
    count &= size == 8 ? 63 : 31;
    uint64_t la = 0, d;
    if (in->mod == 3) {
        d = reg_read(ip, in->rm, size, in);
    } else {
        la = rmw_address(ip, in, size);
        d = mem_read(ip, la, size);
    }
    uint64_t s = reg_read(ip, in->reg, size, in);
    uint64_t m = size_mask(size), sb = sign_bit(size), r = d;
    if (count) {
        unsigned __int128 cat;
        uint64_t cf;
        if (right) {
            cat = ((unsigned __int128)s << w) | d;
            if (size == 2)
                cat |= (unsigned __int128)s << 32;
            r = (uint64_t)(cat >> count) & m;
            cf = (uint64_t)(cat >> (count - 1)) & 1;
        } else {
            cat = ((unsigned __int128)d << w) | s;
            if (size == 2)
                cat = (cat << 16) | s;
            unsigned total = size == 2 ? 48 : 2 * w;
            r = (uint64_t)(cat >> (total - w - count)) & m;
            cf = (uint64_t)(cat >> (total - count)) & 1;
        }
        bool of = (!!(r & sb)) != (!!(d & sb));
        set_flags(ip, FLAGS_ARITH, szp_flags(r, size) | (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0));
    }
    if (in->mod == 3)
        reg_write(ip, in->rm, size, in, r);
    else
        mem_write(ip, la, size, r);
}

/* --- bit test (0F A3 AB B3 BB, 0F BA /4-/7) and scans (0F BC BD) --- */

static HANDLER(exec_bt)
{
    unsigned size = in->opsize, w = 8 * size;
    unsigned op = in->opcode == 0xba ? (in->reg & 3) : (in->opcode >> 3) & 3; /* 0 BT 1 BTS 2 BTR 3 BTC */
    uint64_t bit, la = 0;
    if (in->opcode == 0xba) {
        bit = in->imm & (w - 1);
        if (in->mod != 3)
            la = ea_linear(ip, in);
    } else {
        uint64_t off = reg_read(ip, in->reg, size, in);
        bit = off & (w - 1);
        if (in->mod != 3) {
            int64_t soff = (int64_t)sext_to64(off, size);
            int64_t units = soff >> (size == 2 ? 4 : size == 4 ? 5 : 6);
            la = ea_linear(ip, in) + (uint64_t)(units * (int64_t)size);
            if (in->mode != X86_MODE_64 || in->addrsize != 8)
                la = addr_trunc(ea_offset(ip, in) + (uint64_t)(units * (int64_t)size), in->addrsize) +
                     seg_base(ip, in->seg);
        }
    }
    uint64_t v;
    if (in->mod == 3)
        v = reg_read(ip, in->rm, size, in);
    else {
        if (op)
            mem_probe_write(ip, la, size);
        v = mem_read(ip, la, size);
    }
    /* CF = the bit; OF/SF/AF/PF are undefined and left unchanged. */
    set_flags(ip, X86_FLAG_CF, (v >> bit) & 1 ? X86_FLAG_CF : 0);
    if (op == 0)
        return;
    uint64_t r = op == 1 ? v | (1ull << bit) : op == 2 ? v & ~(1ull << bit) : v ^ (1ull << bit);
    if (in->mod == 3)
        reg_write(ip, in->rm, size, in, r);
    else
        mem_write(ip, la, size, r);
}

/* BSF/BSR; F3-prefixed (TZCNT/LZCNT, not exposed) execute as BSF/BSR. A
 * zero source sets ZF and leaves the destination unchanged (AMD APM; Intel
 * hardware behaves the same). CF/OF/SF/AF/PF are undefined: unchanged. */
static HANDLER(exec_bsf_bsr)
{
    unsigned size = in->opsize;
    uint64_t v = rm_read(ip, in, size);
    if (v == 0) {
        set_flags(ip, X86_FLAG_ZF, X86_FLAG_ZF);
        return;
    }
    set_flags(ip, X86_FLAG_ZF, 0);
    uint64_t idx = in->opcode == 0xbc ? (uint64_t)__builtin_ctzll(v) : (uint64_t)(63 - __builtin_clzll(v));
    reg_write(ip, in->reg, size, in, idx);
}

/* --- moves --- */

static HANDLER(exec_mov)
{
    unsigned size = opsz_w(in);
    switch (in->opcode) {
    case 0x88: case 0x89:
        rm_write(ip, in, size, reg_read(ip, in->reg, size, in));
        break;
    case 0x8a: case 0x8b:
        reg_write(ip, in->reg, size, in, rm_read(ip, in, size));
        break;
    default: /* C6 C7 */
        rm_write(ip, in, size, in->imm);
        break;
    }
}

static HANDLER(exec_mov_imm_reg)
{
    unsigned size = in->opcode >= 0xb8 ? in->opsize : 1;
    reg_write(ip, in->reg, size, in, in->imm);
}

static HANDLER(exec_mov_moffs)
{
    unsigned size = opsz_w(in);
    uint64_t la = addr_trunc(in->imm, in->addrsize) + seg_base(ip, in->seg);
    if (in->opcode <= 0xa1)
        reg_write(ip, R_RAX, size, in, mem_read(ip, la, size));
    else
        mem_write(ip, la, size, reg_read(ip, R_RAX, size, in));
}

/* MOV r/m, Sreg: a register destination gets the zero-extended selector,
 * memory gets 16 bits. */
static HANDLER(exec_mov_from_sreg)
{
    unsigned sreg = in->reg & 7;
    if (sreg >= S_NSEGS)
        interp_raise(ip, X86_UD, false, 0);
    uint64_t sel = ip->s->seg[sreg].selector;
    if (in->mod == 3)
        reg_write(ip, in->rm, in->opsize, in, sel);
    else
        mem_write(ip, ea_linear(ip, in), 2, sel);
}

static HANDLER(exec_lea)
{
    reg_write(ip, in->reg, in->opsize, in, ea_offset(ip, in));
}

static HANDLER(exec_movzx_movsx)
{
    unsigned ssize = (in->opcode & 1) ? 2 : 1;
    uint64_t v = rm_read(ip, in, ssize);
    if (in->opcode >= 0xbe)
        v = sext_to64(v, ssize);
    reg_write(ip, in->reg, in->opsize, in, v);
}

static HANDLER(exec_movsxd)
{
    if (in->opsize == 8)
        reg_write(ip, in->reg, 8, in, sext_to64(rm_read(ip, in, 4), 4));
    else
        reg_write(ip, in->reg, in->opsize, in, rm_read(ip, in, in->opsize));
}

static HANDLER(exec_cbw)
{
    unsigned size = in->opsize;
    uint64_t a = ip->s->gpr[R_RAX];
    if (in->opcode == 0x98) {
        reg_write(ip, R_RAX, size, in, sext_to64(a, size / 2));
    } else {
        uint64_t hi = (a & sign_bit(size)) ? ~0ull : 0;
        reg_write(ip, R_RDX, size, in, hi);
    }
}

static HANDLER(exec_cmov)
{
    unsigned size = in->opsize;
    uint64_t v = rm_read(ip, in, size);
    if (cond_true(ip, in->opcode & 15))
        reg_write(ip, in->reg, size, in, v);
    else if (size == 4)
        reg_write(ip, in->reg, 4, in, reg_read(ip, in->reg, 4, in));
}

static HANDLER(exec_setcc)
{
    rm_write(ip, in, 1, cond_true(ip, in->opcode & 15));
}

/* BSWAP; the 16-bit form is undefined (SDM): it clears the low word, as
 * both Intel and AMD parts do. */
static HANDLER(exec_bswap)
{
    uint64_t *g = &ip->s->gpr[in->reg];
    if (in->opsize == 8)
        *g = __builtin_bswap64(*g);
    else if (in->opsize == 4)
        *g = __builtin_bswap32((uint32_t)*g);
    else
        *g &= ~0xffffull;
}

/* --- exchanges --- */

static HANDLER(exec_xchg)
{
    unsigned size = opsz_w(in);
    uint64_t r = reg_read(ip, in->reg, size, in);
    if (in->mod == 3) {
        uint64_t v = reg_read(ip, in->rm, size, in);
        reg_write(ip, in->rm, size, in, r);
        reg_write(ip, in->reg, size, in, v);
        return;
    }
    uint64_t la = rmw_address(ip, in, size);
    uint64_t v = mem_read(ip, la, size);
    mem_write(ip, la, size, r);
    reg_write(ip, in->reg, size, in, v);
}

/* 90+r: XCHG rAX, r; 90 itself (no REX.B) is NOP, F3 90 is PAUSE. */
static HANDLER(exec_xchg_rax)
{
    if (in->reg == R_RAX)
        return;
    unsigned size = in->opsize;
    uint64_t a = reg_read(ip, R_RAX, size, in), b = reg_read(ip, in->reg, size, in);
    reg_write(ip, R_RAX, size, in, b);
    reg_write(ip, in->reg, size, in, a);
}

static HANDLER(exec_xadd)
{
    unsigned size = opsz_w(in);
    uint64_t s = reg_read(ip, in->reg, size, in);
    if (in->mod == 3) {
        uint64_t d = reg_read(ip, in->rm, size, in);
        uint64_t t = alu_add(ip, s, d, 0, size);
        reg_write(ip, in->reg, size, in, d);
        reg_write(ip, in->rm, size, in, t);
        return;
    }
    uint64_t la = rmw_address(ip, in, size);
    uint64_t d = mem_read(ip, la, size);
    uint64_t t = alu_add(ip, s, d, 0, size);
    mem_write(ip, la, size, t);
    reg_write(ip, in->reg, size, in, d);
}

static HANDLER(exec_cmpxchg)
{
    unsigned size = opsz_w(in);
    uint64_t la = 0, d;
    if (in->mod == 3) {
        d = reg_read(ip, in->rm, size, in);
    } else {
        la = rmw_address(ip, in, size);
        d = mem_read(ip, la, size);
    }
    uint64_t a = reg_read(ip, R_RAX, size, in);
    alu_sub(ip, a, d, 0, size);
    if (a == d) {
        uint64_t s = reg_read(ip, in->reg, size, in);
        if (in->mod == 3)
            reg_write(ip, in->rm, size, in, s);
        else
            mem_write(ip, la, size, s);
    } else {
        /* The processor writes the destination back unchanged. */
        if (in->mod != 3)
            mem_write(ip, la, size, d);
        reg_write(ip, R_RAX, size, in, d);
    }
}

static HANDLER(exec_cmpxchg8b)
{
    uint64_t la = rmw_address(ip, in, 8);
    uint64_t v = mem_read(ip, la, 8);
    uint64_t *g = ip->s->gpr;
    uint64_t expect = (g[R_RAX] & 0xffffffffu) | (g[R_RDX] << 32);
    if (v == expect) {
        mem_write(ip, la, 8, (g[R_RBX] & 0xffffffffu) | (g[R_RCX] << 32));
        set_flags(ip, X86_FLAG_ZF, X86_FLAG_ZF);
    } else {
        mem_write(ip, la, 8, v);
        g[R_RAX] = (uint32_t)v;
        g[R_RDX] = v >> 32;
        set_flags(ip, X86_FLAG_ZF, 0);
    }
}

/* --- flags --- */

static HANDLER(exec_flagop)
{
    flags_sync(ip);
    uint64_t *f = &ip->s->rflags;
    switch (in->opcode) {
    case 0xf5: *f ^= X86_FLAG_CF; break;
    case 0xf8: *f &= ~(uint64_t)X86_FLAG_CF; break;
    case 0xf9: *f |= X86_FLAG_CF; break;
    case 0xfc: *f &= ~(uint64_t)X86_FLAG_DF; break;
    case 0xfd: *f |= X86_FLAG_DF; break;
    case 0x9e: /* SAHF */
        set_flags(ip, X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF | X86_FLAG_CF,
                  (ip->s->gpr[R_RAX] >> 8) & 0xff);
        break;
    case 0x9f: /* LAHF */
        ip->s->gpr[R_RAX] = (ip->s->gpr[R_RAX] & ~0xff00ull) | (((*f & 0xd5) | X86_FLAG_FIXED) << 8);
        break;
    }
}

/* CLI/STI: allowed when CPL <= IOPL (protected mode, no VME/PVI). */
static HANDLER(exec_cli_sti)
{
    flags_sync(ip);
    unsigned iopl = (ip->s->rflags >> 12) & 3;
    if (cpl(ip) > iopl)
        interp_raise(ip, X86_GP, true, 0);
    if (in->opcode == 0xfa) {
        ip->s->rflags &= ~(uint64_t)X86_FLAG_IF;
    } else if (!(ip->s->rflags & X86_FLAG_IF)) {
        ip->s->ev.interrupt_shadow |= X86_SHADOW_STI;
        ip->s->rflags |= X86_FLAG_IF;
        /* End the run here: an interrupt already pending is due right after
         * the next instruction (the shadow), so the engine must look before
         * it runs on (the engine runs the shadowed instruction alone). */
        interp_retire_and_leave(ip);
    }
}

void exec_int_register(void)
{
    for (unsigned op = 0; op < 0x40; op++)
        if ((op & 7) < 6)
            interp_map1[op] = exec_alu;
    for (unsigned op = 0x80; op <= 0x83; op++)
        interp_map1[op] = exec_grp1;
    interp_map1[0x84] = interp_map1[0x85] = interp_map1[0xa8] = interp_map1[0xa9] = exec_test;
    interp_map1[0x86] = interp_map1[0x87] = exec_xchg;
    for (unsigned op = 0x88; op <= 0x8b; op++)
        interp_map1[op] = exec_mov;
    interp_map1[0xc6] = interp_map1[0xc7] = exec_mov;
    interp_map1[0x8c] = exec_mov_from_sreg;
    interp_map1[0x8d] = exec_lea;
    interp_map1[0x63] = exec_movsxd;
    interp_map1[0x69] = interp_map1[0x6b] = exec_imul;
    for (unsigned op = 0x90; op <= 0x97; op++)
        interp_map1[op] = exec_xchg_rax;
    interp_map1[0x98] = interp_map1[0x99] = exec_cbw;
    interp_map1[0x9e] = interp_map1[0x9f] = exec_flagop;
    for (unsigned op = 0xa0; op <= 0xa3; op++)
        interp_map1[op] = exec_mov_moffs;
    for (unsigned op = 0xb0; op <= 0xbf; op++)
        interp_map1[op] = exec_mov_imm_reg;
    interp_map1[0xc0] = interp_map1[0xc1] = exec_shift;
    for (unsigned op = 0xd0; op <= 0xd3; op++)
        interp_map1[op] = exec_shift;
    interp_map1[0xf5] = interp_map1[0xf8] = interp_map1[0xf9] = exec_flagop;
    interp_map1[0xfc] = interp_map1[0xfd] = exec_flagop;
    interp_map1[0xfa] = interp_map1[0xfb] = exec_cli_sti;
    interp_map1[0xf6] = interp_map1[0xf7] = exec_grp3;
    interp_map1[0xfe] = exec_grp4;

    for (unsigned op = 0x40; op <= 0x4f; op++)
        interp_map0f[op] = exec_cmov;
    for (unsigned op = 0x90; op <= 0x9f; op++)
        interp_map0f[op] = exec_setcc;
    interp_map0f[0xa3] = interp_map0f[0xab] = interp_map0f[0xb3] = interp_map0f[0xbb] = exec_bt;
    interp_map0f[0xba] = exec_bt;
    interp_map0f[0xa4] = interp_map0f[0xa5] = interp_map0f[0xac] = interp_map0f[0xad] = exec_shxd;
    interp_map0f[0xaf] = exec_imul;
    interp_map0f[0xb0] = interp_map0f[0xb1] = exec_cmpxchg;
    interp_map0f[0xb6] = interp_map0f[0xb7] = interp_map0f[0xbe] = interp_map0f[0xbf] = exec_movzx_movsx;
    interp_map0f[0xbc] = interp_map0f[0xbd] = exec_bsf_bsr;
    interp_map0f[0xc0] = interp_map0f[0xc1] = exec_xadd;
    interp_map0f[0xc7] = exec_cmpxchg8b;
    for (unsigned op = 0xc8; op <= 0xcf; op++)
        interp_map0f[op] = exec_bswap;
}
