/* SSE and SSE2 (the model exposes SSE2, no SSE3+). Arithmetic, logic,
 * compares and conversions run on the host's own SSE unit (x86-64 hosts
 * have SSE2 by definition) with the guest's MXCSR rounding/DAZ/FTZ loaded
 * and every exception masked; the flags the host raised are then merged
 * into the guest MXCSR, and an unmasked one raises #XM (#UD when
 * CR4.OSXMMEXCPT is clear) without writing the destination. Data movement,
 * shuffles and immediate shifts are done in C. Semantics: Intel SDM Vol. 2
 * per instruction; MMX (no-prefix 0F 6x/7x/Dx-Fx) is not implemented. */
#include <stdlib.h>

#include "cpu/interp_priv.h"
#include "cpu/model.h"

typedef void (*sse_binop)(uint8_t *d, const uint8_t *s);

#define BINOP(fn, mnem)                                                                  \
    static void fn(uint8_t *d, const uint8_t *s)                                         \
    {                                                                                    \
        __asm__ volatile("movdqu (%0), %%xmm0\n\tmovdqu (%1), %%xmm1\n\t" mnem           \
                         " %%xmm1, %%xmm0\n\tmovdqu %%xmm0, (%0)"                        \
                         :                                                               \
                         : "r"(d), "r"(s)                                                \
                         : "xmm0", "xmm1", "memory");                                    \
    }

/* Packed single (no prefix). */
BINOP(h_sqrtps, "sqrtps") BINOP(h_rsqrtps, "rsqrtps") BINOP(h_rcpps, "rcpps")
BINOP(h_andps, "andps") BINOP(h_andnps, "andnps") BINOP(h_orps, "orps") BINOP(h_xorps, "xorps")
BINOP(h_addps, "addps") BINOP(h_mulps, "mulps") BINOP(h_cvtps2pd, "cvtps2pd")
BINOP(h_cvtdq2ps, "cvtdq2ps") BINOP(h_subps, "subps") BINOP(h_minps, "minps")
BINOP(h_divps, "divps") BINOP(h_maxps, "maxps") BINOP(h_unpcklps, "unpcklps")
BINOP(h_unpckhps, "unpckhps")
/* Packed double and integer (66). */
BINOP(h_sqrtpd, "sqrtpd") BINOP(h_andpd, "andpd") BINOP(h_andnpd, "andnpd") BINOP(h_orpd, "orpd")
BINOP(h_xorpd, "xorpd") BINOP(h_addpd, "addpd") BINOP(h_mulpd, "mulpd") BINOP(h_cvtpd2ps, "cvtpd2ps")
BINOP(h_cvtps2dq, "cvtps2dq") BINOP(h_subpd, "subpd") BINOP(h_minpd, "minpd") BINOP(h_divpd, "divpd")
BINOP(h_maxpd, "maxpd") BINOP(h_unpcklpd, "unpcklpd") BINOP(h_unpckhpd, "unpckhpd")
BINOP(h_punpcklbw, "punpcklbw") BINOP(h_punpcklwd, "punpcklwd") BINOP(h_punpckldq, "punpckldq")
BINOP(h_packsswb, "packsswb") BINOP(h_pcmpgtb, "pcmpgtb") BINOP(h_pcmpgtw, "pcmpgtw")
BINOP(h_pcmpgtd, "pcmpgtd") BINOP(h_packuswb, "packuswb") BINOP(h_punpckhbw, "punpckhbw")
BINOP(h_punpckhwd, "punpckhwd") BINOP(h_punpckhdq, "punpckhdq") BINOP(h_packssdw, "packssdw")
BINOP(h_punpcklqdq, "punpcklqdq") BINOP(h_punpckhqdq, "punpckhqdq")
BINOP(h_pcmpeqb, "pcmpeqb") BINOP(h_pcmpeqw, "pcmpeqw") BINOP(h_pcmpeqd, "pcmpeqd")
BINOP(h_psrlw, "psrlw") BINOP(h_psrld, "psrld") BINOP(h_psrlq, "psrlq") BINOP(h_paddq, "paddq")
BINOP(h_pmullw, "pmullw") BINOP(h_psubusb, "psubusb") BINOP(h_psubusw, "psubusw")
BINOP(h_pminub, "pminub") BINOP(h_pand, "pand") BINOP(h_paddusb, "paddusb") BINOP(h_paddusw, "paddusw")
BINOP(h_pmaxub, "pmaxub") BINOP(h_pandn, "pandn") BINOP(h_pavgb, "pavgb") BINOP(h_psraw, "psraw")
BINOP(h_psrad, "psrad") BINOP(h_pavgw, "pavgw") BINOP(h_pmulhuw, "pmulhuw") BINOP(h_pmulhw, "pmulhw")
BINOP(h_cvttpd2dq, "cvttpd2dq") BINOP(h_psubsb, "psubsb") BINOP(h_psubsw, "psubsw")
BINOP(h_pminsw, "pminsw") BINOP(h_por, "por") BINOP(h_paddsb, "paddsb") BINOP(h_paddsw, "paddsw")
BINOP(h_pmaxsw, "pmaxsw") BINOP(h_pxor, "pxor") BINOP(h_psllw, "psllw") BINOP(h_pslld, "pslld")
BINOP(h_psllq, "psllq") BINOP(h_pmuludq, "pmuludq") BINOP(h_pmaddwd, "pmaddwd")
BINOP(h_psadbw, "psadbw") BINOP(h_psubb, "psubb") BINOP(h_psubw, "psubw") BINOP(h_psubd, "psubd")
BINOP(h_psubq, "psubq") BINOP(h_paddb, "paddb") BINOP(h_paddw, "paddw") BINOP(h_paddd, "paddd")
/* Scalar single (F3). */
BINOP(h_sqrtss, "sqrtss") BINOP(h_rsqrtss, "rsqrtss") BINOP(h_rcpss, "rcpss") BINOP(h_addss, "addss")
BINOP(h_mulss, "mulss") BINOP(h_cvtss2sd, "cvtss2sd") BINOP(h_cvttps2dq, "cvttps2dq")
BINOP(h_subss, "subss") BINOP(h_minss, "minss") BINOP(h_divss, "divss") BINOP(h_maxss, "maxss")
BINOP(h_cvtdq2pd, "cvtdq2pd")
/* Scalar double (F2). */
BINOP(h_sqrtsd, "sqrtsd") BINOP(h_addsd, "addsd") BINOP(h_mulsd, "mulsd") BINOP(h_cvtsd2ss, "cvtsd2ss")
BINOP(h_subsd, "subsd") BINOP(h_minsd, "minsd") BINOP(h_divsd, "divsd") BINOP(h_maxsd, "maxsd")
BINOP(h_cvtpd2dq, "cvtpd2dq")

#define CMPOPS(kind)                                                                     \
    BINOP(h_##kind##0, #kind " $0,") BINOP(h_##kind##1, #kind " $1,")                    \
    BINOP(h_##kind##2, #kind " $2,") BINOP(h_##kind##3, #kind " $3,")                    \
    BINOP(h_##kind##4, #kind " $4,") BINOP(h_##kind##5, #kind " $5,")                    \
    BINOP(h_##kind##6, #kind " $6,") BINOP(h_##kind##7, #kind " $7,")                    \
    static const sse_binop h_##kind[8] = {h_##kind##0, h_##kind##1, h_##kind##2, h_##kind##3, \
                                          h_##kind##4, h_##kind##5, h_##kind##6, h_##kind##7};
CMPOPS(cmpps)
CMPOPS(cmppd)
CMPOPS(cmpss)
CMPOPS(cmpsd)

/* One opcode's four mandatory-prefix variants: none, 66, F3, F2. The
 * memory operand size of each (16 = packed; alignment checked unless
 * `unaligned_ok`), and whether it is FP (MXCSR) or integer. */
struct sse_op {
    sse_binop fn[4];
    uint8_t msize[4];
    uint8_t fp;
};

#define P4(a, b, c, d) {a, b, c, d}
static struct sse_op sse_table[256];

static void def(uint8_t op, sse_binop f0, sse_binop f66, sse_binop ff3, sse_binop ff2, uint8_t m0, uint8_t m66,
                uint8_t mf3, uint8_t mf2, bool fp)
{
    sse_table[op] = (struct sse_op){P4(f0, f66, ff3, ff2), P4(m0, m66, mf3, mf2), fp};
}

static unsigned prefix_index(const struct decoded_insn *in)
{
    return in->rep == 0xf3 ? 2 : in->rep == 0xf2 ? 3 : in->opsize_prefix ? 1 : 0;
}

typedef uint8_t xmm_t[16];

static inline uint8_t *xmm(struct interp *ip, unsigned r)
{
    return ip->s->fx.xmm[r];
}

/* #UD/#NM checks common to SSE instructions (SDM Vol. 3, 13.1). */
static void sse_check(struct interp *ip)
{
    const struct x86_state *s = ip->s;
    if ((s->cr0 & X86_CR0_EM) || !(s->cr4 & X86_CR4_OSFXSR))
        interp_raise(ip, X86_UD, false, 0);
    if (s->cr0 & X86_CR0_TS)
        interp_raise(ip, X86_NM, false, 0);
}

static void load_mem(struct interp *ip, uint64_t la, uint8_t *out, unsigned size)
{
    for (unsigned i = 0; i < size; i += 8)
        store_n(out + i, size - i >= 8 ? 8 : size - i, mem_read(ip, la + i, size - i >= 8 ? 8 : size - i));
}

static void store_mem(struct interp *ip, uint64_t la, const uint8_t *v, unsigned size)
{
    mem_probe_write(ip, la, size);
    for (unsigned i = 0; i < size; i += 8)
        mem_write(ip, la + i, size - i >= 8 ? 8 : size - i, load_n(v + i, size - i >= 8 ? 8 : size - i));
}

/* A 16-byte memory operand of an instruction that requires alignment but is
 * not one of the always-aligned moves: misaligned, it raises #GP(0), unless
 * AMD's misaligned SSE mode is on (MXCSR.MM, settable only when the model's
 * MXCSR_MASK has it): then it raises #AC(0) where alignment checking is
 * enabled and is allowed otherwise (AMD APM Vol. 1 4.3.2). */
static void check_sse_alignment(struct interp *ip, uint64_t la)
{
    if (!(la & 15))
        return;
    if (!(ip->s->fx.mxcsr & CPU_MODEL_MXCSR_MM))
        interp_raise(ip, X86_GP, true, 0);
    if (ip->align_check)
        interp_raise(ip, X86_AC, true, 0);
}

/* The r/m source: a register, or `size` bytes of memory (16-byte aligned
 * when `aligned`, as check_sse_alignment says), zero-padded to 16. */
static void read_src(struct interp *ip, const struct decoded_insn *in, uint8_t *out, unsigned size, bool aligned)
{
    if (in->mod == 3) {
        memcpy(out, xmm(ip, in->rm), 16);
        return;
    }
    uint64_t la = ea_linear(ip, in);
    if (aligned)
        check_sse_alignment(ip, la);
    memset(out, 0, 16);
    load_mem(ip, la, out, size);
}

/* Runs a host operation under the guest MXCSR (see the file comment). */
static void run_fp(struct interp *ip, sse_binop fn, uint8_t *d, const uint8_t *s)
{
    uint32_t guest = ip->s->fx.mxcsr, host;
    __asm__ volatile("stmxcsr %0" : "=m"(host));
    /* DAZ, RC and FTZ from the guest, all exceptions masked, flags clear;
     * not MM, which a host without it would #GP on (and which does not
     * change arithmetic). */
    uint32_t run = (guest & 0xffc0u) | 0x1f80u;
    uint32_t after;
    uint8_t tmp[16];
    memcpy(tmp, d, 16);
    __asm__ volatile("ldmxcsr %0" : : "m"(run));
    fn(tmp, s);
    __asm__ volatile("stmxcsr %0" : "=m"(after));
    __asm__ volatile("ldmxcsr %0" : : "m"(host));
    uint32_t raised = after & 0x3f;
    ip->s->fx.mxcsr = guest | raised;
    if (raised & ~(guest >> 7) & 0x3f)
        interp_raise(ip, (ip->s->cr4 & X86_CR4_OSXMMEXCPT) ? X86_XM : X86_UD, false, 0);
    memcpy(d, tmp, 16);
}

static HANDLER(exec_sse_binop)
{
    sse_check(ip);
    const struct sse_op *op = &sse_table[in->opcode];
    unsigned p = prefix_index(in);
    sse_binop fn = op->fn[p];
    if (!fn)
        interp_raise(ip, X86_UD, false, 0);
    uint8_t src[16];
    read_src(ip, in, src, op->msize[p], op->msize[p] == 16);
    if (op->fp) {
        run_fp(ip, fn, xmm(ip, in->reg), src);
    } else {
        fn(xmm(ip, in->reg), src);
    }
}

static HANDLER(exec_sse_cmp)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    static const sse_binop *const tables[4] = {h_cmpps, h_cmppd, h_cmpss, h_cmpsd};
    static const uint8_t sizes[4] = {16, 16, 4, 8};
    if ((in->imm & 0xff) > 7)
        interp_raise(ip, X86_UD, false, 0); /* AVX predicates 8-31 */
    uint8_t src[16];
    read_src(ip, in, src, sizes[p], sizes[p] == 16);
    run_fp(ip, tables[p][in->imm & 7], xmm(ip, in->reg), src);
}

static void exec_mmx_sse(struct interp *ip, const struct decoded_insn *in, unsigned p);

/* MOVUPS/MOVUPD/MOVSS/MOVSD (0F 10/11), MOVAPS/MOVAPD (0F 28/29),
 * MOVDQA/MOVDQU (66/F3 0F 6F/7F), MOVNTPS/PD (0F 2B), MOVNTDQ (66 0F E7). */
static HANDLER(exec_sse_mov)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    uint8_t op = in->opcode;
    bool store = op == 0x11 || op == 0x29 || op == 0x7f || op == 0x2b || op == 0xe7;
    unsigned size = 16;
    bool aligned = op == 0x28 || op == 0x29 || op == 0x2b || op == 0xe7 || (op >= 0x6f && p == 1);
    if (op == 0x10 || op == 0x11) {
        if (p == 2)
            size = 4;
        else if (p == 3)
            size = 8;
    }
    if ((op == 0x28 || op == 0x29 || op == 0x2b) && p >= 2)
        interp_raise(ip, X86_UD, false, 0);
    if ((op == 0x6f || op == 0x7f) && p != 1 && p != 2)
        interp_raise(ip, X86_UD, false, 0); /* MMX form */
    if (op == 0xe7 && p != 1)
        interp_raise(ip, X86_UD, false, 0);
    if ((op == 0x2b || op == 0xe7) && in->mod == 3)
        interp_raise(ip, X86_UD, false, 0);
    uint8_t *r = xmm(ip, in->reg);
    if (in->mod == 3) {
        uint8_t *m = xmm(ip, in->rm);
        uint8_t *dst = store ? m : r, *src = store ? r : m;
        memmove(dst, src, size); /* MOVSS/MOVSD reg-reg merge the low element */
        return;
    }
    uint64_t la = ea_linear(ip, in);
    if (aligned && (la & 15))
        interp_raise(ip, X86_GP, true, 0);
    if (store) {
        store_mem(ip, la, r, size);
    } else {
        uint8_t v[16] = {0};
        load_mem(ip, la, v, size);
        memcpy(r, v, 16); /* MOVSS/MOVSD loads zero the rest */
    }
}

/* MOVLPS/MOVLPD/MOVHLPS (0F 12/13), MOVHPS/MOVHPD/MOVLHPS (0F 16/17). */
static HANDLER(exec_sse_movlh)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (p >= 2)
        interp_raise(ip, X86_UD, false, 0);
    bool high = in->opcode >= 0x16, store = in->opcode & 1;
    uint8_t *r = xmm(ip, in->reg);
    if (in->mod == 3) {
        if (store || p == 1)
            interp_raise(ip, X86_UD, false, 0);
        uint8_t *m = xmm(ip, in->rm);
        if (high)
            memmove(r + 8, m, 8); /* MOVLHPS */
        else
            memmove(r, m + 8, 8); /* MOVHLPS */
        return;
    }
    uint64_t la = ea_linear(ip, in);
    if (store)
        mem_write(ip, la, 8, load_n(r + (high ? 8 : 0), 8));
    else
        store_n(r + (high ? 8 : 0), 8, mem_read(ip, la, 8));
}

/* MOVD/MOVQ between GPR/memory and XMM (66 0F 6E/7E), MOVQ xmm, xmm/m64
 * (F3 0F 7E), MOVQ xmm/m64, xmm (66 0F D6). */
static HANDLER(exec_sse_movd)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (in->opcode == 0xd6 && p >= 2) {
        exec_mmx_sse(ip, in, p);
        return;
    }
    uint8_t *r = xmm(ip, in->reg);
    if (in->opcode == 0x7e && p == 2) {
        uint64_t v = in->mod == 3 ? load_n(xmm(ip, in->rm), 8) : mem_read(ip, ea_linear(ip, in), 8);
        memset(r, 0, 16);
        store_n(r, 8, v);
        return;
    }
    if (p != 1)
        interp_raise(ip, X86_UD, false, 0); /* MMX forms */
    if (in->opcode == 0xd6) {
        if (in->mod == 3) {
            uint8_t *m = xmm(ip, in->rm);
            uint64_t v = load_n(r, 8);
            memset(m, 0, 16);
            store_n(m, 8, v);
        } else {
            mem_write(ip, ea_linear(ip, in), 8, load_n(r, 8));
        }
        return;
    }
    unsigned size = (in->rex & 8) ? 8 : 4;
    if (in->opcode == 0x6e) {
        uint64_t v = rm_read(ip, in, size);
        memset(r, 0, 16);
        store_n(r, size, v);
    } else {
        uint64_t v = load_n(r, size);
        if (in->mod == 3)
            reg_write(ip, in->rm, size, in, v);
        else
            mem_write(ip, ea_linear(ip, in), size, v);
    }
}

/* PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2) 0F 70. */
static HANDLER(exec_sse_pshuf)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (p == 0)
        interp_raise(ip, X86_UD, false, 0);
    uint8_t src[16], out[16];
    read_src(ip, in, src, 16, true);
    unsigned imm = (unsigned)in->imm & 0xff;
    memcpy(out, src, 16);
    if (p == 1) {
        for (unsigned i = 0; i < 4; i++)
            memcpy(out + 4 * i, src + 4 * ((imm >> (2 * i)) & 3), 4);
    } else {
        unsigned base = p == 2 ? 8 : 0;
        for (unsigned i = 0; i < 4; i++)
            memcpy(out + base + 2 * i, src + base + 2 * ((imm >> (2 * i)) & 3), 2);
    }
    memcpy(xmm(ip, in->reg), out, 16);
}

/* Shifts by immediate: 66 0F 71 (words), 72 (dwords), 73 (qwords, and
 * PSRLDQ/PSLLDQ byte shifts). */
static HANDLER(exec_sse_shift_imm)
{
    sse_check(ip);
    if (prefix_index(in) != 1 || in->mod != 3)
        interp_raise(ip, X86_UD, false, 0);
    uint8_t *d = xmm(ip, in->rm);
    unsigned count = (unsigned)in->imm & 0xff, kind = in->reg & 7;
    unsigned lane = in->opcode == 0x71 ? 2 : in->opcode == 0x72 ? 4 : 8;
    if (in->opcode == 0x73 && (kind == 3 || kind == 7)) {
        uint8_t out[16] = {0};
        unsigned n = count > 16 ? 16 : count;
        for (unsigned i = 0; i < 16; i++) {
            if (kind == 3 && i + n < 16)
                out[i] = d[i + n];
            if (kind == 7 && i >= n)
                out[i] = d[i - n];
        }
        memcpy(d, out, 16);
        return;
    }
    if (!(kind == 2 || kind == 6 || (kind == 4 && lane != 8)))
        interp_raise(ip, X86_UD, false, 0);
    unsigned bits = 8 * lane;
    for (unsigned i = 0; i < 16; i += lane) {
        uint64_t v = load_n(d + i, lane);
        if (kind == 2)
            v = count >= bits ? 0 : v >> count;
        else if (kind == 6)
            v = count >= bits ? 0 : v << count;
        else
            v = (uint64_t)((int64_t)sext_to64(v, lane) >> (count >= bits ? bits - 1 : count));
        store_n(d + i, lane, v);
    }
}

/* SHUFPS (none), SHUFPD (66) 0F C6. */
static HANDLER(exec_sse_shufp)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (p >= 2)
        interp_raise(ip, X86_UD, false, 0);
    uint8_t src[16], out[16];
    read_src(ip, in, src, 16, true);
    uint8_t *d = xmm(ip, in->reg);
    unsigned imm = (unsigned)in->imm & 0xff;
    if (p == 0) {
        memcpy(out, d + 4 * (imm & 3), 4);
        memcpy(out + 4, d + 4 * ((imm >> 2) & 3), 4);
        memcpy(out + 8, src + 4 * ((imm >> 4) & 3), 4);
        memcpy(out + 12, src + 4 * ((imm >> 6) & 3), 4);
    } else {
        memcpy(out, d + 8 * (imm & 1), 8);
        memcpy(out + 8, src + 8 * ((imm >> 1) & 1), 8);
    }
    memcpy(d, out, 16);
}

/* PINSRW (66 0F C4), PEXTRW (66 0F C5). */
static HANDLER(exec_sse_pinsrw_pextrw)
{
    sse_check(ip);
    if (prefix_index(in) != 1)
        interp_raise(ip, X86_UD, false, 0);
    unsigned sel = (unsigned)in->imm & 7;
    if (in->opcode == 0xc4) {
        uint64_t v = in->mod == 3 ? reg_read(ip, in->rm, 4, in) : mem_read(ip, ea_linear(ip, in), 2);
        store_n(xmm(ip, in->reg) + 2 * sel, 2, v);
    } else {
        if (in->mod != 3)
            interp_raise(ip, X86_UD, false, 0);
        reg_write(ip, in->reg, in->opsize == 8 ? 8 : 4, in, load_n(xmm(ip, in->rm) + 2 * sel, 2));
    }
}

/* MOVMSKPS/PD (0F 50), PMOVMSKB (66 0F D7). */
static HANDLER(exec_sse_movmsk)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (in->mod != 3 || p >= 2 || (in->opcode == 0xd7 && p != 1))
        interp_raise(ip, X86_UD, false, 0);
    const uint8_t *s = xmm(ip, in->rm);
    unsigned lane = in->opcode == 0xd7 ? 1 : p == 0 ? 4 : 8;
    uint64_t mask = 0;
    for (unsigned i = 0; i < 16 / lane; i++)
        mask |= (uint64_t)(s[i * lane + lane - 1] >> 7) << i;
    reg_write(ip, in->reg, in->opsize == 8 ? 8 : 4, in, mask);
}

/* CVTSI2SS/SD (F3/F2 0F 2A), CVTT/CVT SS/SD 2SI (0F 2C/2D), through the
 * host with the guest MXCSR. */
static void h_cvtsi2ss32(uint8_t *d, const uint8_t *s) { __asm__ volatile("movdqu (%0), %%xmm0\n\tcvtsi2ssl (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)" : : "r"(d), "r"(s) : "xmm0", "memory"); }
static void h_cvtsi2ss64(uint8_t *d, const uint8_t *s) { __asm__ volatile("movdqu (%0), %%xmm0\n\tcvtsi2ssq (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)" : : "r"(d), "r"(s) : "xmm0", "memory"); }
static void h_cvtsi2sd32(uint8_t *d, const uint8_t *s) { __asm__ volatile("movdqu (%0), %%xmm0\n\tcvtsi2sdl (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)" : : "r"(d), "r"(s) : "xmm0", "memory"); }
static void h_cvtsi2sd64(uint8_t *d, const uint8_t *s) { __asm__ volatile("movdqu (%0), %%xmm0\n\tcvtsi2sdq (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)" : : "r"(d), "r"(s) : "xmm0", "memory"); }
#define CVT2SI(fn, mnem, reg)                                                                      \
    static void fn(uint8_t *d, const uint8_t *s)                                                   \
    {                                                                                              \
        __asm__ volatile("movdqu (%1), %%xmm0\n\t" mnem " %%xmm0, %%" reg "ax\n\tmov %%" reg "ax, (%0)" \
                         : : "r"(d), "r"(s) : "xmm0", "rax", "memory");                            \
    }
CVT2SI(h_cvttss2si32, "cvttss2si", "e") CVT2SI(h_cvttss2si64, "cvttss2si", "r")
CVT2SI(h_cvtss2si32, "cvtss2si", "e") CVT2SI(h_cvtss2si64, "cvtss2si", "r")
CVT2SI(h_cvttsd2si32, "cvttsd2si", "e") CVT2SI(h_cvttsd2si64, "cvttsd2si", "r")
CVT2SI(h_cvtsd2si32, "cvtsd2si", "e") CVT2SI(h_cvtsd2si64, "cvtsd2si", "r")

static HANDLER(exec_sse_cvt_gpr)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (p < 2) {
        exec_mmx_sse(ip, in, p);
        return;
    }
    bool w = in->rex & 8, dbl = p == 3;
    if (in->opcode == 0x2a) {
        uint8_t src[8];
        store_n(src, 8, rm_read(ip, in, w ? 8 : 4));
        sse_binop fn = dbl ? (w ? h_cvtsi2sd64 : h_cvtsi2sd32) : (w ? h_cvtsi2ss64 : h_cvtsi2ss32);
        run_fp(ip, fn, xmm(ip, in->reg), src);
        return;
    }
    uint8_t src[16] = {0};
    read_src(ip, in, src, dbl ? 8 : 4, false);
    bool trunc = in->opcode == 0x2c;
    sse_binop fn = dbl ? (trunc ? (w ? h_cvttsd2si64 : h_cvttsd2si32) : (w ? h_cvtsd2si64 : h_cvtsd2si32))
                       : (trunc ? (w ? h_cvttss2si64 : h_cvttss2si32) : (w ? h_cvtss2si64 : h_cvtss2si32));
    uint8_t out[16] = {0};
    run_fp(ip, fn, out, src);
    reg_write(ip, in->reg, w ? 8 : 4, in, load_n(out, w ? 8 : 4));
}

/* UCOMISS/COMISS (0F 2E/2F), UCOMISD/COMISD (66): ZF PF CF from the
 * compare, OF SF AF cleared. */
#define COMI(fn, mnem)                                                                           \
    static void fn(uint8_t *d, const uint8_t *s)                                                 \
    {                                                                                            \
        uint64_t f;                                                                              \
        __asm__ volatile("movdqu (%1), %%xmm0\n\tmovdqu (%2), %%xmm1\n\t" mnem                   \
                         " %%xmm1, %%xmm0\n\tpushfq\n\tpopq %0"                                  \
                         : "=r"(f) : "r"(d), "r"(s) : "xmm0", "xmm1", "memory", "cc");           \
        memcpy(d, &f, 8);                                                                        \
    }
COMI(h_ucomiss, "ucomiss") COMI(h_comiss, "comiss") COMI(h_ucomisd, "ucomisd") COMI(h_comisd, "comisd")

static HANDLER(exec_sse_comi)
{
    sse_check(ip);
    unsigned p = prefix_index(in);
    if (p >= 2)
        interp_raise(ip, X86_UD, false, 0);
    uint8_t src[16], tmp[16];
    read_src(ip, in, src, p ? 8 : 4, false);
    memcpy(tmp, xmm(ip, in->reg), 16);
    sse_binop fn = in->opcode == 0x2e ? (p ? h_ucomisd : h_ucomiss) : (p ? h_comisd : h_comiss);
    run_fp(ip, fn, tmp, src);
    set_flags(ip, FLAGS_ARITH, load_n(tmp, 8) & (X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF));
}

/* MMX<->SSE: CVTPI2PS/CVTPI2PD (0F/66 0F 2A), CVT(T)PS2PI and CVT(T)PD2PI
 * (0F/66 0F 2C/2D), MOVQ2DQ (F3 0F D6), MOVDQ2Q (F2 0F D6). They compute
 * with the packed-dword SSE2 conversions on the low lanes; an MMX register
 * operand makes the x87 -> MMX transition, a memory operand does not. */
static void exec_mmx_sse(struct interp *ip, const struct decoded_insn *in, unsigned p)
{
    uint8_t op = in->opcode;
    bool pd = p == 1;
    if (op == 0xd6) {
        if (p == 2) { /* MOVQ2DQ xmm, mm */
            x87_mmx_enter(ip);
            uint8_t *x = xmm(ip, in->reg);
            uint64_t v = x87_mmx_read(ip, in->rm);
            memset(x, 0, 16);
            store_n(x, 8, v);
        } else { /* MOVDQ2Q mm, xmm */
            x87_mmx_enter(ip);
            x87_mmx_write(ip, in->reg, load_n(xmm(ip, in->rm), 8));
        }
        return;
    }
    uint8_t src[16] = {0}, tmp[16];
    if (op == 0x2a) {
        if (in->mod == 3) {
            x87_mmx_enter(ip);
            store_n(src, 8, x87_mmx_read(ip, in->rm));
        } else {
            store_n(src, 8, mem_read(ip, ea_linear(ip, in), 8));
        }
        uint8_t *d = xmm(ip, in->reg);
        memcpy(tmp, d, 16);
        run_fp(ip, pd ? h_cvtdq2pd : h_cvtdq2ps, tmp, src);
        memcpy(d, tmp, pd ? 16 : 8); /* CVTPI2PS keeps the upper half */
        return;
    }
    read_src(ip, in, src, pd ? 16 : 8, pd);
    if (!pd)
        memset(src + 8, 0, 8); /* only the two low singles are converted */
    memset(tmp, 0, 16);
    sse_binop fn = op == 0x2c ? (pd ? h_cvttpd2dq : h_cvttps2dq) : (pd ? h_cvtpd2dq : h_cvtps2dq);
    run_fp(ip, fn, tmp, src);
    x87_mmx_enter(ip);
    x87_mmx_write(ip, in->reg, load_n(tmp, 8));
}

/* MOVNTI (0F C3): a plain store here. */
static HANDLER(exec_movnti)
{
    unsigned size = in->opsize == 8 ? 8 : 4;
    mem_write(ip, ea_linear(ip, in), size, reg_read(ip, in->reg, size, in));
}

/* MASKMOVDQU (66 0F F7): byte-masked store to DS:rDI. */
static HANDLER(exec_maskmovdqu)
{
    sse_check(ip);
    if (prefix_index(in) != 1 || in->mod != 3)
        interp_raise(ip, X86_UD, false, 0);
    const uint8_t *v = xmm(ip, in->reg), *m = xmm(ip, in->rm);
    uint64_t base = addr_trunc(ip->s->gpr[R_RDI], in->addrsize) + seg_base(ip, in->seg);
    for (unsigned i = 0; i < 16; i++)
        if (m[i] & 0x80)
            mem_probe_write(ip, base + i, 1);
    for (unsigned i = 0; i < 16; i++)
        if (m[i] & 0x80)
            mem_write(ip, base + i, 1, v[i]);
}

void exec_sse_register(void)
{
    /*   op     none         66           F3           F2           sizes: none 66 F3 F2   fp */
    def(0x51, h_sqrtps, h_sqrtpd, h_sqrtss, h_sqrtsd, 16, 16, 4, 8, true);
    def(0x52, h_rsqrtps, NULL, h_rsqrtss, NULL, 16, 0, 4, 0, true);
    def(0x53, h_rcpps, NULL, h_rcpss, NULL, 16, 0, 4, 0, true);
    def(0x54, h_andps, h_andpd, NULL, NULL, 16, 16, 0, 0, false);
    def(0x55, h_andnps, h_andnpd, NULL, NULL, 16, 16, 0, 0, false);
    def(0x56, h_orps, h_orpd, NULL, NULL, 16, 16, 0, 0, false);
    def(0x57, h_xorps, h_xorpd, NULL, NULL, 16, 16, 0, 0, false);
    def(0x58, h_addps, h_addpd, h_addss, h_addsd, 16, 16, 4, 8, true);
    def(0x59, h_mulps, h_mulpd, h_mulss, h_mulsd, 16, 16, 4, 8, true);
    def(0x5a, h_cvtps2pd, h_cvtpd2ps, h_cvtss2sd, h_cvtsd2ss, 8, 16, 4, 8, true);
    def(0x5b, h_cvtdq2ps, h_cvtps2dq, h_cvttps2dq, NULL, 16, 16, 16, 0, true);
    def(0x5c, h_subps, h_subpd, h_subss, h_subsd, 16, 16, 4, 8, true);
    def(0x5d, h_minps, h_minpd, h_minss, h_minsd, 16, 16, 4, 8, true);
    def(0x5e, h_divps, h_divpd, h_divss, h_divsd, 16, 16, 4, 8, true);
    def(0x5f, h_maxps, h_maxpd, h_maxss, h_maxsd, 16, 16, 4, 8, true);
    def(0x14, h_unpcklps, h_unpcklpd, NULL, NULL, 16, 16, 0, 0, false);
    def(0x15, h_unpckhps, h_unpckhpd, NULL, NULL, 16, 16, 0, 0, false);
    def(0xe6, NULL, h_cvttpd2dq, h_cvtdq2pd, h_cvtpd2dq, 0, 16, 8, 16, true);
    static const struct {
        uint8_t op;
        sse_binop fn;
    } ints[] = {
        {0x60, h_punpcklbw}, {0x61, h_punpcklwd}, {0x62, h_punpckldq}, {0x63, h_packsswb},
        {0x64, h_pcmpgtb}, {0x65, h_pcmpgtw}, {0x66, h_pcmpgtd}, {0x67, h_packuswb},
        {0x68, h_punpckhbw}, {0x69, h_punpckhwd}, {0x6a, h_punpckhdq}, {0x6b, h_packssdw},
        {0x6c, h_punpcklqdq}, {0x6d, h_punpckhqdq}, {0x74, h_pcmpeqb}, {0x75, h_pcmpeqw},
        {0x76, h_pcmpeqd}, {0xd1, h_psrlw}, {0xd2, h_psrld}, {0xd3, h_psrlq}, {0xd4, h_paddq},
        {0xd5, h_pmullw}, {0xd8, h_psubusb}, {0xd9, h_psubusw}, {0xda, h_pminub}, {0xdb, h_pand},
        {0xdc, h_paddusb}, {0xdd, h_paddusw}, {0xde, h_pmaxub}, {0xdf, h_pandn}, {0xe0, h_pavgb},
        {0xe1, h_psraw}, {0xe2, h_psrad}, {0xe3, h_pavgw}, {0xe4, h_pmulhuw}, {0xe5, h_pmulhw},
        {0xe8, h_psubsb}, {0xe9, h_psubsw}, {0xea, h_pminsw}, {0xeb, h_por}, {0xec, h_paddsb},
        {0xed, h_paddsw}, {0xee, h_pmaxsw}, {0xef, h_pxor}, {0xf1, h_psllw}, {0xf2, h_pslld},
        {0xf3, h_psllq}, {0xf4, h_pmuludq}, {0xf5, h_pmaddwd}, {0xf6, h_psadbw}, {0xf8, h_psubb},
        {0xf9, h_psubw}, {0xfa, h_psubd}, {0xfb, h_psubq}, {0xfc, h_paddb}, {0xfd, h_paddw},
        {0xfe, h_paddd},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        def(ints[i].op, NULL, ints[i].fn, NULL, NULL, 0, 16, 0, 0, false);
    for (unsigned op = 0; op < 256; op++) {
        const struct sse_op *o = &sse_table[op];
        if (o->fn[0] || o->fn[1] || o->fn[2] || o->fn[3])
            interp_map0f[op] = exec_sse_binop;
    }
    interp_map0f[0xc2] = exec_sse_cmp;
    interp_map0f[0x10] = interp_map0f[0x11] = interp_map0f[0x28] = interp_map0f[0x29] = exec_sse_mov;
    interp_map0f[0x2b] = interp_map0f[0x6f] = interp_map0f[0x7f] = interp_map0f[0xe7] = exec_sse_mov;
    interp_map0f[0x12] = interp_map0f[0x13] = interp_map0f[0x16] = interp_map0f[0x17] = exec_sse_movlh;
    interp_map0f[0x6e] = interp_map0f[0x7e] = interp_map0f[0xd6] = exec_sse_movd;
    interp_map0f[0x70] = exec_sse_pshuf;
    interp_map0f[0x71] = interp_map0f[0x72] = interp_map0f[0x73] = exec_sse_shift_imm;
    interp_map0f[0xc6] = exec_sse_shufp;
    interp_map0f[0xc4] = interp_map0f[0xc5] = exec_sse_pinsrw_pextrw;
    interp_map0f[0x50] = interp_map0f[0xd7] = exec_sse_movmsk;
    interp_map0f[0x2a] = interp_map0f[0x2c] = interp_map0f[0x2d] = exec_sse_cvt_gpr;
    interp_map0f[0x2e] = interp_map0f[0x2f] = exec_sse_comi;
    interp_map0f[0xc3] = exec_movnti;
    interp_map0f[0xf7] = exec_maskmovdqu;
}

/* Decode-time validity of the SSE opcodes' prefix and ModRM forms, so an
 * encoding this engine rejects is #UD before it is cached. */
bool exec_sse_valid(const struct decoded_insn *in)
{
    unsigned p = prefix_index(in);
    uint8_t op = in->opcode;
    bool reg = in->mod == 3;
    const struct sse_op *o = &sse_table[op];
    if (o->fn[0] || o->fn[1] || o->fn[2] || o->fn[3])
        return o->fn[p] != NULL;
    switch (op) {
    case 0xc2: return true;
    case 0x10: case 0x11: return true;
    case 0x28: case 0x29: return p < 2;
    case 0x2b: return p < 2 && !reg;
    case 0xe7: return p == 1 && !reg;
    case 0x6f: case 0x7f: return p == 1 || p == 2;
    case 0x12: case 0x13: case 0x16: case 0x17: return p == 0 ? !(reg && (op & 1)) : p == 1 && !reg;
    case 0x6e: return p == 1;
    case 0x7e: return p == 1 || p == 2;
    case 0xd6: return p == 1 || (p >= 2 && reg); /* F3/F2: MOVQ2DQ/MOVDQ2Q */
    case 0x70: return p != 0;
    case 0x71: case 0x72: case 0x73: {
        unsigned k = in->reg & 7;
        return p == 1 && reg && (k == 2 || k == 6 || (k == 4 && op != 0x73) || (op == 0x73 && (k == 3 || k == 7)));
    }
    case 0xc6: return p < 2;
    case 0xc4: return p == 1;
    case 0xc5: return p == 1 && reg;
    case 0x50: return p < 2 && reg;
    case 0xd7: return p == 1 && reg;
    case 0x2a: case 0x2c: case 0x2d: return true;
    case 0x2e: case 0x2f: return p < 2;
    case 0xc3: return p == 0 && !reg;
    case 0xf7: return p == 1 && reg;
    default: return true;
    }
}
