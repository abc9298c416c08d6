/* Helpers shared by the interpreter's instruction handlers (cpu/exec_*.c):
 * register and memory operand access, effective addresses, flag
 * computation. Everything on the per-instruction path is inline. */
#ifndef TANDEM_CPU_INTERP_PRIV_H
#define TANDEM_CPU_INTERP_PRIV_H

#include <string.h>

#include "cpu/interp.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define HANDLER(name) void name(struct interp *ip, const struct decoded_insn *in)

#define FLAGS_ARITH (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF)

static inline uint64_t size_mask(unsigned size)
{
    return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline uint64_t sign_bit(unsigned size)
{
    return 1ull << (8 * size - 1);
}

static inline uint64_t sext_to64(uint64_t v, unsigned size)
{
    unsigned sh = 64 - 8 * size;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* --- registers --- */

static inline uint64_t reg_read(const struct interp *ip, unsigned r, unsigned size, const struct decoded_insn *in)
{
    const uint64_t *g = ip->s->gpr;
    switch (size) {
    case 1:
        if (!in->rex && r >= 4 && r < 8)
            return (g[r - 4] >> 8) & 0xff;
        return g[r] & 0xff;
    case 2: return g[r] & 0xffff;
    case 4: return g[r] & 0xffffffffu;
    default: return g[r];
    }
}

static inline void reg_write(struct interp *ip, unsigned r, unsigned size, const struct decoded_insn *in, uint64_t v)
{
    uint64_t *g = ip->s->gpr;
    switch (size) {
    case 1:
        if (!in->rex && r >= 4 && r < 8)
            g[r - 4] = (g[r - 4] & ~0xff00ull) | ((v & 0xff) << 8);
        else
            g[r] = (g[r] & ~0xffull) | (v & 0xff);
        break;
    case 2: g[r] = (g[r] & ~0xffffull) | (v & 0xffff); break;
    case 4: g[r] = v & 0xffffffffu; break;
    default: g[r] = v; break;
    }
}

/* --- memory --- */

uint64_t interp_read_slow(struct interp *ip, uint64_t la, unsigned size, unsigned access);
void interp_write_slow(struct interp *ip, uint64_t la, unsigned size, uint64_t v);
/* Host pointer for a whole access that must not fault later (RMW, string
 * ops): NULL if it crosses a page (caller then uses read/write). */
uint8_t *interp_host_ptr(struct interp *ip, uint64_t la, unsigned size, unsigned access);

static inline uint64_t load_n(const uint8_t *p, unsigned size)
{
    switch (size) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    case 8: { uint64_t v; memcpy(&v, p, 8); return v; }
    default: { uint64_t v = 0; memcpy(&v, p, size); return v; }
    }
}

static inline void store_n(uint8_t *p, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: *p = (uint8_t)v; break;
    case 2: { uint16_t t = (uint16_t)v; memcpy(p, &t, 2); break; }
    case 4: { uint32_t t = (uint32_t)v; memcpy(p, &t, 4); break; }
    default: memcpy(p, &v, size); break;
    }
}

static inline uint64_t mem_read(struct interp *ip, uint64_t la, unsigned size)
{
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (LIKELY(e->read_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096))
        return load_n((const uint8_t *)(uintptr_t)(la + e->addend), size);
    return interp_read_slow(ip, la, size, ACC_READ);
}

static inline void mem_write(struct interp *ip, uint64_t la, unsigned size, uint64_t v)
{
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (LIKELY(e->write_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096)) {
        store_n((uint8_t *)(uintptr_t)(la + e->addend), size, v);
        return;
    }
    interp_write_slow(ip, la, size, v);
}

/* Checks that a write to [la, la+size) will succeed, so a later write
 * cannot fault after registers changed (instructions are all-or-nothing). */
static inline void mem_probe_write(struct interp *ip, uint64_t la, unsigned size)
{
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (LIKELY(e->write_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096))
        return;
    interp_read_slow(ip, la, size, ACC_WRITE);
}

static inline uint64_t seg_base(const struct interp *ip, unsigned seg)
{
    if (ip->mode == X86_MODE_64 && seg < S_FS)
        return 0;
    return ip->s->seg[seg].base;
}

static inline uint64_t addr_trunc(uint64_t a, unsigned addrsize)
{
    return addrsize == 8 ? a : addrsize == 4 ? (uint32_t)a : (uint16_t)a;
}

/* Offset part of the memory operand (before the segment base). */
static inline uint64_t ea_offset(const struct interp *ip, const struct decoded_insn *in)
{
    uint64_t a = (uint64_t)in->disp;
    if (in->base != X86_NO_REG)
        a += ip->s->gpr[in->base];
    if (in->index != X86_NO_REG)
        a += ip->s->gpr[in->index] << in->scale;
    if (in->rip_relative)
        a += ip->s->rip + in->len;
    return addr_trunc(a, in->addrsize);
}

static inline bool is_canonical(uint64_t la)
{
    return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* A non-canonical stack-segment address raises #SS(0), not #GP(0). */
static inline uint64_t ss_checked(struct interp *ip, uint64_t la)
{
    if (UNLIKELY(ip->mode == X86_MODE_64 && !is_canonical(la)))
        interp_raise(ip, X86_SS, true, 0);
    return la;
}

static inline uint64_t ea_linear(struct interp *ip, const struct decoded_insn *in)
{
    uint64_t la = ea_offset(ip, in) + seg_base(ip, in->seg);
    return in->seg == S_SS ? ss_checked(ip, la) : la;
}

static inline uint64_t rm_read(struct interp *ip, const struct decoded_insn *in, unsigned size)
{
    if (in->mod == 3)
        return reg_read(ip, in->rm, size, in);
    return mem_read(ip, ea_linear(ip, in), size);
}

static inline void rm_write(struct interp *ip, const struct decoded_insn *in, unsigned size, uint64_t v)
{
    if (in->mod == 3)
        reg_write(ip, in->rm, size, in, v);
    else
        mem_write(ip, ea_linear(ip, in), size, v);
}

/* --- stack --- */

static inline unsigned stack_addrsize(const struct interp *ip)
{
    return ip->mode == X86_MODE_64 ? 8 : ip->s->seg[S_SS].db ? 4 : 2;
}

static inline uint64_t stack_la(struct interp *ip, uint64_t rsp)
{
    return ss_checked(ip, addr_trunc(rsp, stack_addrsize(ip)) + seg_base(ip, S_SS));
}

static inline void rsp_set(struct interp *ip, uint64_t v)
{
    unsigned as = stack_addrsize(ip);
    uint64_t *sp = &ip->s->gpr[R_RSP];
    *sp = as == 8 ? v : as == 4 ? (uint32_t)v : ((*sp & ~0xffffull) | (v & 0xffff));
}

static inline void push(struct interp *ip, unsigned size, uint64_t v)
{
    uint64_t sp = ip->s->gpr[R_RSP] - size;
    mem_write(ip, stack_la(ip, sp), size, v);
    rsp_set(ip, sp);
}

static inline uint64_t pop(struct interp *ip, unsigned size)
{
    uint64_t sp = ip->s->gpr[R_RSP];
    uint64_t v = mem_read(ip, stack_la(ip, sp), size);
    rsp_set(ip, sp + size);
    return v;
}

/* --- flags --- */

static inline uint64_t parity_flag(uint64_t res)
{
    return __builtin_parity((unsigned)(res & 0xff)) ? 0 : X86_FLAG_PF;
}

static inline uint64_t szp_flags(uint64_t res, unsigned size)
{
    res &= size_mask(size);
    return parity_flag(res) | (res == 0 ? X86_FLAG_ZF : 0) | ((res & sign_bit(size)) ? X86_FLAG_SF : 0);
}

static inline void set_flags(struct interp *ip, uint64_t mask, uint64_t value)
{
    ip->s->rflags = (ip->s->rflags & ~mask) | (value & mask);
}

static inline bool flag(const struct interp *ip, uint64_t f)
{
    return (ip->s->rflags & f) != 0;
}

/* a + b + carry, flags as ADD/ADC. */
static inline uint64_t alu_add(struct interp *ip, uint64_t a, uint64_t b, unsigned carry, unsigned size)
{
    uint64_t m = size_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a + b + carry) & m;
    bool cf = carry ? r <= a : r < a;
    uint64_t f = szp_flags(r, size) | (cf ? X86_FLAG_CF : 0) | ((a ^ b ^ r) & 0x10 ? X86_FLAG_AF : 0) |
                 (((a ^ r) & (b ^ r)) & sign_bit(size) ? X86_FLAG_OF : 0);
    set_flags(ip, FLAGS_ARITH, f);
    return r;
}

/* a - b - borrow, flags as SUB/SBB/CMP. */
static inline uint64_t alu_sub(struct interp *ip, uint64_t a, uint64_t b, unsigned borrow, unsigned size)
{
    uint64_t m = size_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a - b - borrow) & m;
    bool cf = borrow ? a <= b : a < b;
    uint64_t f = szp_flags(r, size) | (cf ? X86_FLAG_CF : 0) | ((a ^ b ^ r) & 0x10 ? X86_FLAG_AF : 0) |
                 (((a ^ b) & (a ^ r)) & sign_bit(size) ? X86_FLAG_OF : 0);
    set_flags(ip, FLAGS_ARITH, f);
    return r;
}

/* AND/OR/XOR/TEST: CF=OF=0; AF is undefined, cleared like the hardware. */
static inline uint64_t alu_logic(struct interp *ip, uint64_t r, unsigned size)
{
    r &= size_mask(size);
    set_flags(ip, FLAGS_ARITH, szp_flags(r, size));
    return r;
}

/* Jcc/SETcc/CMOVcc condition (SDM Vol. 1, Table B-1). */
static inline bool cond_true(const struct interp *ip, unsigned cc)
{
    uint64_t f = ip->s->rflags;
    bool r;
    switch (cc >> 1) {
    case 0: r = f & X86_FLAG_OF; break;
    case 1: r = f & X86_FLAG_CF; break;
    case 2: r = f & X86_FLAG_ZF; break;
    case 3: r = f & (X86_FLAG_CF | X86_FLAG_ZF); break;
    case 4: r = f & X86_FLAG_SF; break;
    case 5: r = f & X86_FLAG_PF; break;
    case 6: r = !(f & X86_FLAG_SF) != !(f & X86_FLAG_OF); break;
    default: r = (f & X86_FLAG_ZF) || (!(f & X86_FLAG_SF) != !(f & X86_FLAG_OF)); break;
    }
    return (cc & 1) ? !r : r;
}

static inline unsigned cpl(const struct interp *ip)
{
    return ip->s->seg[S_CS].dpl;
}

/* Operand size of byte forms: opcodes with bit 0 clear operate on bytes. */
static inline unsigned opsz_w(const struct decoded_insn *in)
{
    return (in->opcode & 1) ? in->opsize : 1;
}

/* Handler registration tables, filled by each exec_*.c file. */
extern x86_exec_fn interp_map1[256];
extern x86_exec_fn interp_map0f[256];
void exec_int_register(void);
void exec_ctl_register(void);
void exec_str_register(void);
void exec_sse_register(void);
/* False for SSE opcodes whose prefix/ModRM form is undefined. */
bool exec_sse_valid(const struct decoded_insn *in);

/* Branch target: truncated to the operand size outside 64-bit mode. */
static inline void jump_to(struct interp *ip, const struct decoded_insn *in, uint64_t target)
{
    if (ip->mode != X86_MODE_64)
        target = in->opsize == 2 ? (uint16_t)target : (uint32_t)target;
    ip->next_rip = target;
}

/* INC/DEC of the r/m operand (FE, FF /0 /1). */
void exec_incdec_rm(struct interp *ip, const struct decoded_insn *in, unsigned size);

_Noreturn void interp_unsupported(struct interp *ip);

#endif
