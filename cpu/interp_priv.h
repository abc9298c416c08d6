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
/* Charges a completed data access to ip->timing (cpu/interp.c): DTLB and
 * data cache at the physical address; device memory is not cached. */
void interp_timing_data(struct interp *ip, uint64_t la, unsigned size, bool write);

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

/* Alignment check (#AC(0)): CPL 3 with CR0.AM and RFLAGS.AC set
 * (ip->align_check, kept by interp_update_align_check), for a misaligned
 * data access of its natural size. */
static inline void align_check(struct interp *ip, uint64_t la, unsigned size)
{
    if (UNLIKELY(ip->align_check) && (la & (size - 1)) && (size & (size - 1)) == 0)
        interp_raise(ip, X86_AC, true, 0);
}

static inline uint64_t mem_read(struct interp *ip, uint64_t la, unsigned size)
{
    align_check(ip, la, size);
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    uint64_t v;
    if (LIKELY(e->read_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096))
        v = load_n((const uint8_t *)(uintptr_t)(la + e->addend), size);
    else
        v = interp_read_slow(ip, la, size, ACC_READ);
    if (UNLIKELY(ip->timing))
        interp_timing_data(ip, la, size, false);
    return v;
}

static inline void mem_write(struct interp *ip, uint64_t la, unsigned size, uint64_t v)
{
    align_check(ip, la, size);
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (LIKELY(e->write_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096))
        store_n((uint8_t *)(uintptr_t)(la + e->addend), size, v);
    else
        interp_write_slow(ip, la, size, v);
    if (UNLIKELY(ip->timing))
        interp_timing_data(ip, la, size, true);
}

/* Checks that a write to [la, la+size) will succeed, so a later write
 * cannot fault after registers changed (instructions are all-or-nothing). */
static inline void mem_probe_write(struct interp *ip, uint64_t la, unsigned size)
{
    if (size <= 8)
        align_check(ip, la, size);
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (LIKELY(e->write_page == (la & ~0xfffull) && (la & 0xfff) + size <= 4096))
        return;
    if (size > 8) { /* up to a page: its first and last bytes cover both pages */
        interp_read_slow(ip, la, 1, ACC_WRITE);
        interp_read_slow(ip, la + size - 1, 1, ACC_WRITE);
        return;
    }
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

/* Lazy arithmetic flags: ADD, SUB/CMP, INC/DEC and the logic instructions
 * record their operands and result (ip->lazy_*) instead of computing CF PF
 * AF ZF SF OF; Jcc/SETcc/CMOVcc evaluate the conditions they can from the
 * record directly, everything else materializes RFLAGS first
 * (flags_sync). INC/DEC keep CF: they materialize the flags before them,
 * so RFLAGS.CF is current while their record is pending. interp_run
 * leaves RFLAGS materialized. */
enum { LAZY_NONE, LAZY_ADD, LAZY_SUB, LAZY_LOGIC, LAZY_INC, LAZY_DEC };

static inline uint64_t eager_add_flags(uint64_t a, uint64_t b, uint64_t r, unsigned carry, unsigned size)
{
    bool cf = carry ? r <= a : r < a;
    return szp_flags(r, size) | (cf ? X86_FLAG_CF : 0) | ((a ^ b ^ r) & 0x10 ? X86_FLAG_AF : 0) |
           (((a ^ r) & (b ^ r)) & sign_bit(size) ? X86_FLAG_OF : 0);
}

static inline uint64_t eager_sub_flags(uint64_t a, uint64_t b, uint64_t r, unsigned borrow, unsigned size)
{
    bool cf = borrow ? a <= b : a < b;
    return szp_flags(r, size) | (cf ? X86_FLAG_CF : 0) | ((a ^ b ^ r) & 0x10 ? X86_FLAG_AF : 0) |
           (((a ^ b) & (a ^ r)) & sign_bit(size) ? X86_FLAG_OF : 0);
}

static inline void flags_sync(struct interp *ip)
{
    if (LIKELY(ip->lazy_op == LAZY_NONE))
        return;
    uint64_t f;
    switch (ip->lazy_op) {
    case LAZY_ADD: f = eager_add_flags(ip->lazy_a, ip->lazy_b, ip->lazy_res, 0, ip->lazy_size); break;
    case LAZY_SUB: f = eager_sub_flags(ip->lazy_a, ip->lazy_b, ip->lazy_res, 0, ip->lazy_size); break;
    case LAZY_INC:
        f = (eager_add_flags(ip->lazy_a, 1, ip->lazy_res, 0, ip->lazy_size) & ~(uint64_t)X86_FLAG_CF) |
            (ip->s->rflags & X86_FLAG_CF);
        break;
    case LAZY_DEC:
        f = (eager_sub_flags(ip->lazy_a, 1, ip->lazy_res, 0, ip->lazy_size) & ~(uint64_t)X86_FLAG_CF) |
            (ip->s->rflags & X86_FLAG_CF);
        break;
    default: f = szp_flags(ip->lazy_res, ip->lazy_size); break;
    }
    ip->s->rflags = (ip->s->rflags & ~(uint64_t)FLAGS_ARITH) | f;
    ip->lazy_op = LAZY_NONE;
}

static inline void set_flags(struct interp *ip, uint64_t mask, uint64_t value)
{
    if ((mask & FLAGS_ARITH) == FLAGS_ARITH)
        ip->lazy_op = LAZY_NONE; /* every pending flag is overwritten */
    else
        flags_sync(ip);
    ip->s->rflags = (ip->s->rflags & ~mask) | (value & mask);
}

static inline bool flag(struct interp *ip, uint64_t f)
{
    flags_sync(ip);
    return (ip->s->rflags & f) != 0;
}

static inline void lazy_set(struct interp *ip, unsigned op, uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
    ip->lazy_op = (uint8_t)op;
    ip->lazy_size = (uint8_t)size;
    ip->lazy_a = a;
    ip->lazy_b = b;
    ip->lazy_res = r;
}

/* a + b + carry, flags as ADD/ADC. */
static inline uint64_t alu_add(struct interp *ip, uint64_t a, uint64_t b, unsigned carry, unsigned size)
{
    uint64_t m = size_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a + b + carry) & m;
    if (carry)
        set_flags(ip, FLAGS_ARITH, eager_add_flags(a, b, r, carry, size));
    else
        lazy_set(ip, LAZY_ADD, a, b, r, size);
    return r;
}

/* a - b - borrow, flags as SUB/SBB/CMP. */
static inline uint64_t alu_sub(struct interp *ip, uint64_t a, uint64_t b, unsigned borrow, unsigned size)
{
    uint64_t m = size_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a - b - borrow) & m;
    if (borrow)
        set_flags(ip, FLAGS_ARITH, eager_sub_flags(a, b, r, borrow, size));
    else
        lazy_set(ip, LAZY_SUB, a, b, r, size);
    return r;
}

/* AND/OR/XOR/TEST: CF=OF=0; AF is undefined, cleared like the hardware. */
static inline uint64_t alu_logic(struct interp *ip, uint64_t r, unsigned size)
{
    r &= size_mask(size);
    lazy_set(ip, LAZY_LOGIC, 0, 0, r, size);
    return r;
}

/* Jcc/SETcc/CMOVcc condition (SDM Vol. 1, Table B-1): from the lazy
 * record where it decides the condition alone (ZF and SF of every kind; CF
 * after ADD/SUB/logic; OF after SUB/logic), else from materialized RFLAGS. */
static inline __attribute__((always_inline)) bool cond_true(struct interp *ip, unsigned cc)
{
    bool r;
    unsigned op = ip->lazy_op;
    if (op != LAZY_NONE) {
        uint64_t a = ip->lazy_a, b = ip->lazy_b, res = ip->lazy_res;
        unsigned sh = 64 - 8 * ip->lazy_size;
        bool neg = (int64_t)(res << sh) < 0;
        switch (cc >> 1) {
        case 1:                                                     /* B: CF */
            if (op == LAZY_SUB || op == LAZY_LOGIC) {
                r = op == LAZY_SUB && a < b;
                goto done;
            }
            if (op == LAZY_ADD) {
                r = res < a;
                goto done;
            }
            break;
        case 2: r = res == 0; goto done;                            /* E */
        case 3:                                                     /* BE */
            if (op == LAZY_SUB || op == LAZY_LOGIC) {
                r = (op == LAZY_SUB && a < b) || res == 0;
                goto done;
            }
            if (op == LAZY_ADD) {
                r = res < a || res == 0;
                goto done;
            }
            break;
        case 4: r = neg; goto done;                                 /* S */
        case 6:                                                     /* L: SF != OF */
            if (op == LAZY_SUB || op == LAZY_LOGIC) {
                r = op == LAZY_SUB ? (int64_t)(a << sh) < (int64_t)(b << sh) : neg;
                goto done;
            }
            break;
        case 7:                                                     /* LE */
            if (op == LAZY_SUB || op == LAZY_LOGIC) {
                r = op == LAZY_SUB ? (int64_t)(a << sh) <= (int64_t)(b << sh) : neg || res == 0;
                goto done;
            }
            break;
        default: break;                                             /* O, P */
        }
    }
    flags_sync(ip);
    uint64_t f = ip->s->rflags;
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
done:
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
void exec_x87_register(void);
void exec_mmx_register(void);
bool exec_mmx_valid(const struct decoded_insn *in);
bool exec_mmx_opcode(uint8_t op);
extern x86_exec_fn exec_mmx_handler;
/* Replaces in->exec with a specialised handler for the frequent forms
 * (cpu/exec_fast.c); leaves it alone otherwise. */
void exec_fast_select(struct decoded_insn *in);
/* MMX state in the x87 register file (cpu/exec_x87.c). */
void x87_mmx_enter(struct interp *ip);
uint64_t x87_mmx_read(struct interp *ip, unsigned n);
void x87_mmx_write(struct interp *ip, unsigned n, uint64_t v);
void x87_emms(struct interp *ip);
bool exec_x87_valid(const struct decoded_insn *in);
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
/* Retires the current instruction (RIP = next_rip) and leaves interp_run
 * with ip->stop as it is (INTERP_STOP_COUNT unless set): for instructions
 * after which the caller must look at the state before running on. */
_Noreturn void interp_retire_and_leave(struct interp *ip);
/* Recomputes ip->align_check after RFLAGS.AC, CR0.AM or CPL changed. */
void interp_update_align_check(struct interp *ip);

#endif
