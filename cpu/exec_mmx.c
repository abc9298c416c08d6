/* MMX (and the SSE/SSE2 additions to MMX registers): no-prefix 0F 6x, 7x,
 * Dx-Fx, C4/C5/D7/E7/F7. Like SSE (cpu/exec_sse.c) the lane arithmetic runs
 * on the host's MMX unit; the MMX registers live in the x87 register file
 * (cpu/exec_x87.c keeps that state). Not implemented (#UD): the MMX<->SSE
 * conversions CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI, MOVQ2DQ, MOVDQ2Q. */
#include "cpu/interp_priv.h"

typedef void (*mmx_binop)(uint64_t *d, const uint64_t *s);

#define MBINOP(fn, mnem)                                                                       \
    static void fn(uint64_t *d, const uint64_t *s)                                             \
    {                                                                                          \
        __asm__ volatile("movq (%0), %%mm0\n\tmovq (%1), %%mm1\n\t" mnem                       \
                         " %%mm1, %%mm0\n\tmovq %%mm0, (%0)\n\temms"                           \
                         :                                                                     \
                         : "r"(d), "r"(s)                                                      \
                         : "mm0", "mm1", "memory");                                            \
    }

MBINOP(m_punpcklbw, "punpcklbw") MBINOP(m_punpcklwd, "punpcklwd") MBINOP(m_punpckldq, "punpckldq")
MBINOP(m_packsswb, "packsswb") MBINOP(m_pcmpgtb, "pcmpgtb") MBINOP(m_pcmpgtw, "pcmpgtw")
MBINOP(m_pcmpgtd, "pcmpgtd") MBINOP(m_packuswb, "packuswb") MBINOP(m_punpckhbw, "punpckhbw")
MBINOP(m_punpckhwd, "punpckhwd") MBINOP(m_punpckhdq, "punpckhdq") MBINOP(m_packssdw, "packssdw")
MBINOP(m_pcmpeqb, "pcmpeqb") MBINOP(m_pcmpeqw, "pcmpeqw") MBINOP(m_pcmpeqd, "pcmpeqd")
MBINOP(m_psrlw, "psrlw") MBINOP(m_psrld, "psrld") MBINOP(m_psrlq, "psrlq") MBINOP(m_paddq, "paddq")
MBINOP(m_pmullw, "pmullw") MBINOP(m_psubusb, "psubusb") MBINOP(m_psubusw, "psubusw")
MBINOP(m_pminub, "pminub") MBINOP(m_pand, "pand") MBINOP(m_paddusb, "paddusb") MBINOP(m_paddusw, "paddusw")
MBINOP(m_pmaxub, "pmaxub") MBINOP(m_pandn, "pandn") MBINOP(m_pavgb, "pavgb") MBINOP(m_psraw, "psraw")
MBINOP(m_psrad, "psrad") MBINOP(m_pavgw, "pavgw") MBINOP(m_pmulhuw, "pmulhuw") MBINOP(m_pmulhw, "pmulhw")
MBINOP(m_psubsb, "psubsb") MBINOP(m_psubsw, "psubsw") MBINOP(m_pminsw, "pminsw") MBINOP(m_por, "por")
MBINOP(m_paddsb, "paddsb") MBINOP(m_paddsw, "paddsw") MBINOP(m_pmaxsw, "pmaxsw") MBINOP(m_pxor, "pxor")
MBINOP(m_psllw, "psllw") MBINOP(m_pslld, "pslld") MBINOP(m_psllq, "psllq") MBINOP(m_pmuludq, "pmuludq")
MBINOP(m_pmaddwd, "pmaddwd") MBINOP(m_psadbw, "psadbw") MBINOP(m_psubb, "psubb") MBINOP(m_psubw, "psubw")
MBINOP(m_psubd, "psubd") MBINOP(m_psubq, "psubq") MBINOP(m_paddb, "paddb") MBINOP(m_paddw, "paddw")
MBINOP(m_paddd, "paddd")

static mmx_binop mmx_ops[256];

static HANDLER(exec_mmx)
{
    uint8_t op = in->opcode;
    if (op == 0x77) {
        x87_emms(ip);
        return;
    }
    /* Memory operands are read before the MMX state transition, so a
     * faulting access leaves the x87 state untouched. */
    switch (op) {
    case 0x6e: { /* MOVD/MOVQ mm, r/m */
        unsigned size = (in->rex & 8) ? 8 : 4;
        uint64_t v = rm_read(ip, in, size);
        x87_mmx_enter(ip);
        x87_mmx_write(ip, in->reg, v);
        return;
    }
    case 0x7e: { /* MOVD/MOVQ r/m, mm */
        unsigned size = (in->rex & 8) ? 8 : 4;
        uint64_t la = 0;
        if (in->mod != 3) {
            la = ea_linear(ip, in);
            mem_probe_write(ip, la, size);
        }
        x87_mmx_enter(ip);
        uint64_t v = x87_mmx_read(ip, in->reg);
        if (in->mod == 3)
            reg_write(ip, in->rm, size, in, v);
        else
            mem_write(ip, la, size, v);
        return;
    }
    case 0x7f: case 0xe7: { /* MOVQ mm/m64, mm; MOVNTQ */
        uint64_t la = 0;
        if (in->mod != 3) {
            la = ea_linear(ip, in);
            mem_probe_write(ip, la, 8);
        }
        x87_mmx_enter(ip);
        uint64_t v = x87_mmx_read(ip, in->reg);
        if (in->mod == 3)
            x87_mmx_write(ip, in->rm, v);
        else
            mem_write(ip, la, 8, v);
        return;
    }
    case 0xc5: { /* PEXTRW r32, mm, imm8 */
        x87_mmx_enter(ip);
        uint64_t v = x87_mmx_read(ip, in->rm);
        reg_write(ip, in->reg, in->opsize == 8 ? 8 : 4, in, (v >> (16 * (in->imm & 3))) & 0xffff);
        return;
    }
    case 0xd7: { /* PMOVMSKB r32, mm */
        x87_mmx_enter(ip);
        uint64_t v = x87_mmx_read(ip, in->rm), mask = 0;
        for (unsigned i = 0; i < 8; i++)
            mask |= ((v >> (8 * i + 7)) & 1) << i;
        reg_write(ip, in->reg, in->opsize == 8 ? 8 : 4, in, mask);
        return;
    }
    case 0xf7: { /* MASKMOVQ mm, mm: byte-masked store to DS:rDI */
        uint64_t base = addr_trunc(ip->s->gpr[R_RDI], in->addrsize) + seg_base(ip, in->seg);
        x87_mmx_enter(ip);
        uint64_t v = x87_mmx_read(ip, in->reg), m = x87_mmx_read(ip, in->rm);
        for (unsigned i = 0; i < 8; i++)
            if ((m >> (8 * i + 7)) & 1)
                mem_probe_write(ip, base + i, 1);
        for (unsigned i = 0; i < 8; i++)
            if ((m >> (8 * i + 7)) & 1)
                mem_write(ip, base + i, 1, v >> (8 * i));
        return;
    }
    default:
        break;
    }
    bool reg_src = in->mod == 3 && op != 0xc4 && !(op >= 0x71 && op <= 0x73);
    uint64_t src = in->mod != 3 && op != 0xc4 ? mem_read(ip, ea_linear(ip, in), 8) : 0;
    uint64_t word = 0;
    if (op == 0xc4)
        word = in->mod == 3 ? reg_read(ip, in->rm, 2, in) : mem_read(ip, ea_linear(ip, in), 2);
    x87_mmx_enter(ip);
    /* Register operands are read after TOP became 0 (MMX register N is
     * physical register N). */
    if (reg_src)
        src = x87_mmx_read(ip, in->rm);
    if (op == 0x6f) { /* MOVQ mm, mm/m64 */
        x87_mmx_write(ip, in->reg, src);
        return;
    }
    if (op == 0x70) { /* PSHUFW */
        uint64_t out = 0;
        for (unsigned i = 0; i < 4; i++)
            out |= ((src >> (16 * ((in->imm >> (2 * i)) & 3))) & 0xffff) << (16 * i);
        x87_mmx_write(ip, in->reg, out);
        return;
    }
    if (op == 0xc4) { /* PINSRW */
        unsigned sh = 16 * (in->imm & 3);
        uint64_t v = x87_mmx_read(ip, in->reg);
        x87_mmx_write(ip, in->reg, (v & ~(0xffffull << sh)) | ((word & 0xffff) << sh));
        return;
    }
    if (op >= 0x71 && op <= 0x73) { /* shifts by immediate */
        unsigned lane = op == 0x71 ? 2 : op == 0x72 ? 4 : 8, bits = 8 * lane, kind = in->reg & 7;
        unsigned count = (unsigned)in->imm & 0xff;
        uint64_t v = x87_mmx_read(ip, in->rm), out = 0;
        for (unsigned i = 0; i < 8; i += lane) {
            uint64_t e = (v >> (8 * i)) & size_mask(lane);
            if (kind == 2)
                e = count >= bits ? 0 : e >> count;
            else if (kind == 6)
                e = count >= bits ? 0 : e << count;
            else
                e = (uint64_t)((int64_t)sext_to64(e, lane) >> (count >= bits ? bits - 1 : count));
            out |= (e & size_mask(lane)) << (8 * i);
        }
        x87_mmx_write(ip, in->rm, out);
        return;
    }
    uint64_t d = x87_mmx_read(ip, in->reg);
    mmx_ops[op](&d, &src);
    x87_mmx_write(ip, in->reg, d);
}

/* Whether a no-prefix 0F opcode is an MMX instruction this engine runs. */
bool exec_mmx_valid(const struct decoded_insn *in)
{
    uint8_t op = in->opcode;
    bool reg = in->mod == 3;
    if (mmx_ops[op])
        return true;
    switch (op) {
    case 0x6e: case 0x6f: case 0x7e: case 0x7f: case 0x77: case 0x70: case 0xc4:
        return true;
    case 0xe7: return !reg;
    case 0xc5: case 0xd7: case 0xf7: return reg;
    case 0x71: case 0x72: {
        unsigned k = in->reg & 7;
        return reg && (k == 2 || k == 4 || k == 6);
    }
    case 0x73: {
        unsigned k = in->reg & 7;
        return reg && (k == 2 || k == 6);
    }
    default: return false;
    }
}

bool exec_mmx_opcode(uint8_t op)
{
    return mmx_ops[op] || op == 0x6e || op == 0x6f || op == 0x7e || op == 0x7f || op == 0x77 || op == 0x70 ||
           op == 0xc4 || op == 0xc5 || op == 0xd7 || op == 0xe7 || op == 0xf7 || (op >= 0x71 && op <= 0x73);
}

x86_exec_fn exec_mmx_handler = exec_mmx;

void exec_mmx_register(void)
{
    static const struct {
        uint8_t op;
        mmx_binop fn;
    } ops[] = {
        {0x60, m_punpcklbw}, {0x61, m_punpcklwd}, {0x62, m_punpckldq}, {0x63, m_packsswb},
        {0x64, m_pcmpgtb}, {0x65, m_pcmpgtw}, {0x66, m_pcmpgtd}, {0x67, m_packuswb},
        {0x68, m_punpckhbw}, {0x69, m_punpckhwd}, {0x6a, m_punpckhdq}, {0x6b, m_packssdw},
        {0x74, m_pcmpeqb}, {0x75, m_pcmpeqw}, {0x76, m_pcmpeqd}, {0xd1, m_psrlw}, {0xd2, m_psrld},
        {0xd3, m_psrlq}, {0xd4, m_paddq}, {0xd5, m_pmullw}, {0xd8, m_psubusb}, {0xd9, m_psubusw},
        {0xda, m_pminub}, {0xdb, m_pand}, {0xdc, m_paddusb}, {0xdd, m_paddusw}, {0xde, m_pmaxub},
        {0xdf, m_pandn}, {0xe0, m_pavgb}, {0xe1, m_psraw}, {0xe2, m_psrad}, {0xe3, m_pavgw},
        {0xe4, m_pmulhuw}, {0xe5, m_pmulhw}, {0xe8, m_psubsb}, {0xe9, m_psubsw}, {0xea, m_pminsw},
        {0xeb, m_por}, {0xec, m_paddsb}, {0xed, m_paddsw}, {0xee, m_pmaxsw}, {0xef, m_pxor},
        {0xf1, m_psllw}, {0xf2, m_pslld}, {0xf3, m_psllq}, {0xf4, m_pmuludq}, {0xf5, m_pmaddwd},
        {0xf6, m_psadbw}, {0xf8, m_psubb}, {0xf9, m_psubw}, {0xfa, m_psubd}, {0xfb, m_psubq},
        {0xfc, m_paddb}, {0xfd, m_paddw}, {0xfe, m_paddd},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        mmx_ops[ops[i].op] = ops[i].fn;
}
