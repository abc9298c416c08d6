/* System instructions of the interpreter engine (Intel SDM Vol. 2 and
 * Vol. 3A ch. 2, 5, 9, 16; AMD APM Vol. 2/3 for SYSRET): the ones the
 * user-level interpreter stops before (INTERP_STOP_UNSUPPORTED). Each is
 * decoded again with the interpreter's decoder and executed with its memory
 * helpers; an exception raised half-way restores the state from before the
 * instruction, so every instruction is all-or-nothing. REP INS/OUTS run one
 * iteration per call (RIP stays on the instruction until RCX is 0), so port
 * side effects are never undone.
 *
 * Not provided (raise #GP or #UD as listed): task switches and call/task
 * gates in far transfers (#GP), SYSENTER/SYSEXIT (#UD: AMD in long mode),
 * ARPL, hardware breakpoints in DR7 (stored, not acted upon), virtual-8086
 * mode I/O. */
#include <inttypes.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/interp_engine.h"
#include "cpu/interp_priv.h"
#include "cpu/mmu.h"
#include "cpu/model.h"
#include "cpu/segments.h"
#include "mem/bus.h"
#include "sim/log.h"

static struct sys_engine *sys_of(struct interp *ip)
{
    return (struct sys_engine *)ip; /* ip is the first member */
}

static _Noreturn void raise_gp0(struct interp *ip)
{
    interp_raise(ip, X86_GP, true, 0);
}

static _Noreturn void raise_ud(struct interp *ip)
{
    interp_raise(ip, X86_UD, false, 0);
}

static _Noreturn void raise_fault(struct interp *ip, const struct x86_fault *f)
{
    if (f->vector == X86_PF) {
        ip->s->ev.exception_payload = f->cr2;
        ip->s->ev.exception_has_payload = true;
    }
    struct x86_events *ev = &ip->s->ev;
    ev->exception_pending = true;
    ev->exception_vector = f->vector;
    ev->exception_has_error = f->has_error;
    ev->exception_error = f->error;
    ip->stop = INTERP_STOP_EXCEPTION;
    longjmp(ip->exc_jump, 1);
}

static void require_cpl0(struct interp *ip)
{
    if (x86_cpl(ip->s) != 0)
        raise_gp0(ip);
}

static bool protected_mode(const struct interp *ip)
{
    return (ip->s->cr0 & X86_CR0_PE) && !(ip->s->rflags & X86_FLAG_VM);
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* ---------- port I/O ---------- */

/* Protected-mode I/O permission: CPL <= IOPL, or the TSS I/O bitmap allows
 * every port of the access (SDM Vol. 1, 19.5). */
static void check_io(struct interp *ip, uint16_t port, unsigned size)
{
    const struct x86_state *s = ip->s;
    if (!(s->cr0 & X86_CR0_PE))
        return;
    if (!(s->rflags & X86_FLAG_VM) && x86_cpl(s) <= ((s->rflags >> 12) & 3))
        return;
    const struct x86_segment *tr = &s->tr;
    if (tr->unusable || !tr->present || (tr->type & 0x9) != 0x9 || tr->limit < 103)
        raise_gp0(ip);
    struct sys_engine *e = sys_of(ip);
    uint16_t map_base;
    if (mmu_read_linear(e->bus, s, tr->base + 102, &map_base, 2) != 2)
        raise_gp0(ip);
    uint32_t first = map_base + port / 8u, last = map_base + (port + size - 1u) / 8u;
    if (last > tr->limit)
        raise_gp0(ip);
    uint8_t bits[2] = {0, 0};
    if (mmu_read_linear(e->bus, s, tr->base + first, bits, last - first + 1) != last - first + 1)
        raise_gp0(ip);
    uint32_t word = bits[0] | (uint32_t)bits[1] << 8;
    uint32_t mask = ((1u << size) - 1) << (port % 8);
    if (word & mask)
        raise_gp0(ip);
}

static unsigned io_size(const struct decoded_insn *in)
{
    return (in->opcode & 1) ? (in->opsize == 2 ? 2 : 4) : 1;
}

static HANDLER(exec_in_out)
{
    unsigned size = io_size(in);
    uint16_t port = (in->opcode & 8) ? (uint16_t)ip->s->gpr[R_RDX] : (uint8_t)in->imm;
    check_io(ip, port, size);
    struct sys_engine *e = sys_of(ip);
    sys_engine_sync_time(e);
    if (in->opcode & 2)
        bus_pio_write(e->bus, port, reg_read(ip, R_RAX, size, in), size);
    else
        reg_write(ip, R_RAX, size, in, bus_pio_read(e->bus, port, size));
}

static uint64_t count_reg(const struct interp *ip, unsigned r, unsigned addrsize)
{
    return addr_trunc(ip->s->gpr[r], addrsize);
}

static void count_reg_set(struct interp *ip, unsigned r, unsigned addrsize, uint64_t v)
{
    uint64_t *g = &ip->s->gpr[r];
    *g = addrsize == 8 ? v : addrsize == 4 ? (uint32_t)v : ((*g & ~0xffffull) | (v & 0xffff));
}

/* INS (6C/6D) and OUTS (6E/6F): one element per call. */
static HANDLER(exec_ins_outs)
{
    unsigned size = io_size(in), as = in->addrsize;
    bool rep = in->rep != 0;
    if (rep && count_reg(ip, R_RCX, as) == 0)
        return;
    uint16_t port = (uint16_t)ip->s->gpr[R_RDX];
    check_io(ip, port, size);
    struct sys_engine *e = sys_of(ip);
    int64_t step = (ip->s->rflags & X86_FLAG_DF) ? -(int64_t)size : (int64_t)size;
    if (in->opcode & 2) {
        uint64_t off = count_reg(ip, R_RSI, as);
        uint64_t v = mem_read(ip, addr_trunc(off, as) + seg_base(ip, in->seg), size);
        sys_engine_sync_time(e);
        bus_pio_write(e->bus, port, v, size);
        count_reg_set(ip, R_RSI, as, off + (uint64_t)step);
    } else {
        uint64_t off = count_reg(ip, R_RDI, as);
        uint64_t la = addr_trunc(off, as) + seg_base(ip, S_ES);
        mem_probe_write(ip, la, size);
        sys_engine_sync_time(e);
        mem_write(ip, la, size, bus_pio_read(e->bus, port, size));
        count_reg_set(ip, R_RDI, as, off + (uint64_t)step);
    }
    if (rep) {
        uint64_t left = count_reg(ip, R_RCX, as) - 1;
        count_reg_set(ip, R_RCX, as, left);
        if (left)
            ip->next_rip = ip->s->rip; /* the next iteration, after pending interrupts */
    }
}

/* ---------- segment registers ---------- */

static void load_sreg(struct interp *ip, enum x86_seg which, uint16_t sel)
{
    struct x86_fault f;
    if (x86_load_data_segment(sys_of(ip)->bus, ip->s, which, sel, &f) < 0)
        raise_fault(ip, &f);
    if (which == S_SS)
        ip->s->ev.interrupt_shadow |= X86_SHADOW_MOV_SS;
}

static HANDLER(exec_mov_sreg)
{
    unsigned which = in->reg & 7;
    if (which == S_CS || which >= S_NSEGS)
        raise_ud(ip);
    load_sreg(ip, which, (uint16_t)rm_read(ip, in, 2));
}

static HANDLER(exec_pop_fs_gs)
{
    unsigned size = ip->mode == X86_MODE_64 ? (in->opsize == 2 ? 2 : 8) : in->opsize;
    uint64_t sp = ip->s->gpr[R_RSP];
    uint16_t sel = (uint16_t)mem_read(ip, stack_la(ip, sp), size);
    load_sreg(ip, in->opcode == 0xa1 ? S_FS : S_GS, sel);
    rsp_set(ip, sp + size);
}

/* LSS/LFS/LGS r, m16:16/32/64. */
static HANDLER(exec_lxs)
{
    if (in->mod == 3)
        raise_ud(ip);
    uint64_t la = ea_linear(ip, in);
    uint64_t off = mem_read(ip, la, in->opsize);
    uint16_t sel = (uint16_t)mem_read(ip, la + in->opsize, 2);
    enum x86_seg which = in->opcode == 0xb2 ? S_SS : in->opcode == 0xb4 ? S_FS : S_GS;
    load_sreg(ip, which, sel);
    reg_write(ip, in->reg, in->opsize, in, off);
}

/* ---------- far transfers ---------- */

static uint64_t truncate_ip(const struct interp *ip, uint64_t v, unsigned opsize, bool to64)
{
    (void)ip;
    return to64 ? v : opsize == 2 ? (uint16_t)v : (uint32_t)v;
}

/* The code segment a far JMP/CALL/RET to sel loads, with the protected-mode
 * checks (SDM Vol. 3A, 5.8.1); rpl is the privilege the new CS gets. */
static struct x86_segment far_code_segment(struct interp *ip, uint16_t sel, unsigned rpl, bool is_return)
{
    struct x86_state *s = ip->s;
    struct x86_segment cs = s->seg[S_CS];
    if (!protected_mode(ip)) {
        cs.selector = sel;
        cs.base = (uint64_t)sel << 4;
        return cs;
    }
    if ((sel & ~3u) == 0)
        raise_gp0(ip);
    struct x86_fault f;
    uint64_t d;
    if (x86_read_descriptor(sys_of(ip)->bus, s, sel, &d, &f) < 0)
        raise_fault(ip, &f);
    x86_decode_descriptor(d, sel, &cs);
    unsigned cpl = x86_cpl(s);
    bool conforming = cs.type & 4;
    if (!cs.s || !(cs.type & 8))
        interp_raise(ip, X86_GP, true, sel & 0xfffc); /* gates and TSS: not supported */
    if (is_return) {
        if (rpl < cpl || (conforming ? cs.dpl > rpl : cs.dpl != rpl))
            interp_raise(ip, X86_GP, true, sel & 0xfffc);
    } else if (conforming ? cs.dpl > cpl : ((sel & 3) > cpl || cs.dpl != cpl)) {
        interp_raise(ip, X86_GP, true, sel & 0xfffc);
    }
    if (!cs.present)
        interp_raise(ip, X86_NP, true, sel & 0xfffc);
    x86_mark_accessed(sys_of(ip)->bus, s, sel, d);
    cs.type |= 1;
    cs.selector = (uint16_t)((sel & ~3u) | rpl);
    return cs;
}

static bool code64(const struct interp *ip, const struct x86_segment *cs)
{
    return (ip->s->msr.efer & X86_EFER_LMA) && cs->l;
}

static void check_target(struct interp *ip, const struct x86_segment *cs, uint64_t rip)
{
    if (code64(ip, cs) ? !canonical(rip) : (protected_mode(ip) && rip > cs->limit))
        raise_gp0(ip);
}

static void far_transfer(struct interp *ip, const struct decoded_insn *in, uint16_t sel, uint64_t off,
                         bool call)
{
    struct x86_state *s = ip->s;
    unsigned cpl = x86_cpl(s);
    struct x86_segment cs = far_code_segment(ip, sel, cpl, false);
    uint64_t rip = truncate_ip(ip, off, in->opsize, code64(ip, &cs));
    check_target(ip, &cs, rip);
    if (call) {
        unsigned size = in->opsize;
        push(ip, size, s->seg[S_CS].selector);
        push(ip, size, ip->next_rip);
    }
    s->seg[S_CS] = cs;
    ip->next_rip = rip;
    sys_of(ip)->state_changed = true;
}

/* JMP/CALL ptr16:16/32 (EA, 9A): invalid in 64-bit mode. */
static HANDLER(exec_far_direct)
{
    if (ip->mode == X86_MODE_64)
        raise_ud(ip);
    uint64_t off = in->opsize == 2 ? (uint16_t)in->imm : (uint32_t)in->imm;
    far_transfer(ip, in, in->imm2, off, in->opcode == 0x9a);
}

/* FF /3 (CALL m16:xx) and FF /5 (JMP m16:xx). */
static HANDLER(exec_far_indirect)
{
    if (in->mod == 3)
        raise_ud(ip);
    uint64_t la = ea_linear(ip, in);
    uint64_t off = mem_read(ip, la, in->opsize);
    uint16_t sel = (uint16_t)mem_read(ip, la + in->opsize, 2);
    far_transfer(ip, in, sel, off, (in->reg & 7) == 3);
}

/* Data segment registers the new, less privileged CPL may not keep
 * (SDM: RET/IRET to outer privilege). */
static void drop_inaccessible_segments(struct x86_state *s, unsigned cpl)
{
    static const enum x86_seg segs[] = {S_ES, S_DS, S_FS, S_GS};
    for (unsigned i = 0; i < 4; i++) {
        struct x86_segment *g = &s->seg[segs[i]];
        bool conforming_code = (g->type & 0xc) == 0xc;
        if (!g->unusable && g->s && !conforming_code && g->dpl < cpl) {
            g->selector = 0;
            g->unusable = 1;
            g->present = 0;
        }
    }
}

/* RETF [imm16] (CA, CB). */
static HANDLER(exec_retf)
{
    struct x86_state *s = ip->s;
    unsigned size = in->opsize;
    uint64_t sp = s->gpr[R_RSP];
    uint64_t rip = mem_read(ip, stack_la(ip, sp), size);
    uint16_t sel = (uint16_t)mem_read(ip, stack_la(ip, sp + size), size);
    uint64_t imm = in->opcode == 0xca ? (uint16_t)in->imm : 0;
    unsigned cpl = x86_cpl(s);
    unsigned rpl = protected_mode(ip) ? (sel & 3u) : cpl;
    struct x86_segment cs = far_code_segment(ip, sel, rpl, true);
    rip = truncate_ip(ip, rip, size, code64(ip, &cs));
    check_target(ip, &cs, rip);
    sp += 2 * size + imm;
    if (rpl > cpl) {
        uint64_t new_sp = mem_read(ip, stack_la(ip, sp), size);
        uint16_t ss = (uint16_t)mem_read(ip, stack_la(ip, sp + size), size);
        s->seg[S_CS] = cs;
        load_sreg(ip, S_SS, ss);
        s->ev.interrupt_shadow &= (uint8_t)~X86_SHADOW_MOV_SS;
        s->gpr[R_RSP] = 0;
        rsp_set(ip, new_sp + imm);
        drop_inaccessible_segments(s, rpl);
    } else {
        s->seg[S_CS] = cs;
        rsp_set(ip, sp);
    }
    ip->next_rip = rip;
    sys_of(ip)->state_changed = true;
}

static HANDLER(exec_iret)
{
    struct x86_fault f;
    struct x86_state *s = ip->s;
    uint64_t rip = s->rip;
    if (x86_iret(sys_of(ip)->bus, s, in->opsize, &f) < 0) {
        s->rip = rip;
        raise_fault(ip, &f);
    }
    ip->next_rip = s->rip;
    sys_of(ip)->state_changed = true;
}

/* ---------- descriptor tables ---------- */

/* 0F 01 /0../3: SGDT, SIDT, LGDT, LIDT. 64-bit mode: 8-byte base; else a
 * 4-byte base (24 bits with a 16-bit operand size when loading). */
static void table_op(struct interp *ip, const struct decoded_insn *in, unsigned r)
{
    struct x86_state *s = ip->s;
    struct x86_dtable *t = (r & 1) ? &s->idtr : &s->gdtr;
    uint64_t la = ea_linear(ip, in);
    unsigned bsize = ip->mode == X86_MODE_64 ? 8 : 4;
    if (r >= 2) {
        require_cpl0(ip);
        uint16_t limit = (uint16_t)mem_read(ip, la, 2);
        uint64_t base = mem_read(ip, la + 2, bsize);
        if (bsize == 4 && in->opsize == 2)
            base &= 0xffffff;
        if (ip->mode == X86_MODE_64 && !canonical(base))
            raise_gp0(ip);
        t->limit = limit;
        t->base = base;
    } else {
        mem_probe_write(ip, la, 2 + bsize);
        mem_write(ip, la, 2, t->limit);
        mem_write(ip, la + 2, bsize, t->base);
    }
}

/* The 8 or 16 (long mode) bytes of a system descriptor in the GDT. */
static void read_system_descriptor(struct interp *ip, uint16_t sel, uint64_t *lo, uint64_t *hi)
{
    struct x86_state *s = ip->s;
    if (sel & 4)
        interp_raise(ip, X86_GP, true, sel & 0xfffc);
    unsigned len = (s->msr.efer & X86_EFER_LMA) ? 16 : 8;
    uint32_t off = sel & ~7u;
    if (off + len - 1 > s->gdtr.limit)
        interp_raise(ip, X86_GP, true, sel & 0xfffc);
    uint64_t d[2] = {0, 0};
    if (mmu_read_linear(sys_of(ip)->bus, s, s->gdtr.base + off, d, len) != len)
        raise_gp0(ip);
    *lo = d[0];
    *hi = d[1];
}

static void load_system_segment(struct interp *ip, struct x86_segment *dst, uint16_t sel, bool tss)
{
    struct x86_state *s = ip->s;
    if ((sel & ~3u) == 0) {
        if (tss)
            raise_gp0(ip);
        memset(dst, 0, sizeof(*dst));
        dst->selector = sel;
        dst->unusable = 1;
        return;
    }
    uint64_t lo, hi;
    read_system_descriptor(ip, sel, &lo, &hi);
    struct x86_segment seg;
    x86_decode_descriptor(lo, sel, &seg);
    bool long_mode = s->msr.efer & X86_EFER_LMA;
    bool ok = !seg.s && (tss ? (seg.type == 9 || (!long_mode && seg.type == 1)) : seg.type == 2);
    if (!ok)
        interp_raise(ip, X86_GP, true, sel & 0xfffc);
    if (!seg.present)
        interp_raise(ip, X86_NP, true, sel & 0xfffc);
    if (long_mode) {
        seg.base |= (hi & 0xffffffffull) << 32;
        if (!canonical(seg.base))
            interp_raise(ip, X86_GP, true, sel & 0xfffc);
    }
    if (tss) {
        /* Mark the TSS busy in the GDT (type 9 -> 11, 1 -> 3). */
        uint64_t pa_lo = lo | (2ull << 40);
        struct mmu_walk w;
        uint64_t la = s->gdtr.base + (sel & ~7u) + 5;
        if (mmu_translate(sys_of(ip)->bus, s, la, MMU_WRITE, false, true, &w) < 0)
            interp_raise(ip, X86_PF, true, w.error_code);
        bus_mem_write(sys_of(ip)->bus, w.paddr, (uint8_t)(pa_lo >> 40), 1);
        seg.type |= 2;
    }
    *dst = seg;
}

/* ---------- LAR, LSL, VERR, VERW (SDM Vol. 2A/2B; AMD APM Vol. 3) ---------- */

/* The descriptor a LAR/LSL/VERR/VERW selector names, if the instruction may
 * look at it: false (the caller clears ZF) for a null selector, a selector
 * beyond its table's limit or into an unusable LDT, and a descriptor whose
 * DPL is below CPL or the selector's RPL, unless it is a conforming code
 * segment (the only one exempt from the privilege check). Other faults of
 * the table read (#PF) are raised. The present bit is not checked. */
static bool inspect_descriptor(struct interp *ip, uint16_t sel, uint64_t *desc, struct x86_segment *seg)
{
    struct x86_state *s = ip->s;
    if ((sel & ~3u) == 0)
        return false;
    struct x86_fault f;
    if (x86_read_descriptor(sys_of(ip)->bus, s, sel, desc, &f) < 0) {
        if (f.vector == X86_GP)
            return false;
        raise_fault(ip, &f);
    }
    x86_decode_descriptor(*desc, sel, seg);
    bool conforming_code = seg->s && (seg->type & 0xc) == 0xc;
    unsigned cpl = x86_cpl(s);
    return conforming_code || (cpl <= seg->dpl && (sel & 3u) <= seg->dpl);
}

/* System descriptor types LAR (lar true) or LSL may report, as the SDM's
 * tables give them (Vol. 2A, LAR and LSL). Legacy protected mode: the TSSs
 * and the LDT for both, the call and task gates for LAR only. IA-32e mode
 * (EFER.LMA: 64-bit and compatibility mode): the 64-bit TSS for both, the
 * 64-bit call gate for LAR, and for LSL the LDT and type 0 (the upper half
 * of a 16-byte descriptor); the 16-bit types and interrupt/trap gates never.
 * (Not checkable on this host's CPU: its kernel's system descriptors are
 * DPL 0, invisible to the CPL-3 oracle of tests/lockstep/desc.c.) */
static bool system_type_valid(const struct x86_state *s, unsigned type, bool lar)
{
    if (s->msr.efer & X86_EFER_LMA)
        return type == 9 || type == 11 || (lar ? type == 12 : type == 0 || type == 2);
    switch (type) {
    case 1: case 2: case 3: case 9: case 11: return true;
    case 4: case 5: case 12: return lar;
    default: return false;
    }
}

/* 0F 02 LAR r, r/m16 and 0F 03 LSL r, r/m16: ZF=1 and the access rights
 * (descriptor bytes 5-6 with limit 19:16: mask 0x00FFFF00, as this AMD host
 * returns; Intel leaves bits 16-19 undefined) or the byte-granular limit;
 * ZF=0 and the destination untouched otherwise. */
static HANDLER(exec_lar_lsl)
{
    if (!protected_mode(ip))
        raise_ud(ip);
    bool lar = in->opcode == 0x02;
    uint16_t sel = (uint16_t)rm_read(ip, in, 2);
    uint64_t desc;
    struct x86_segment seg;
    bool ok = inspect_descriptor(ip, sel, &desc, &seg) &&
              (seg.s || system_type_valid(ip->s, seg.type, lar));
    set_flags(ip, X86_FLAG_ZF, ok ? X86_FLAG_ZF : 0);
    if (!ok)
        return;
    uint32_t v = lar ? (uint32_t)(desc >> 32) & 0x00ffff00u : seg.limit;
    reg_write(ip, in->reg, in->opsize, in, v);
}

/* 0F 00 /4 VERR, /5 VERW r/m16: ZF=1 when the segment is readable (code
 * with R, or data) or writable (data with W) at CPL and the selector's
 * RPL; system segments never are. */
static void exec_verr_verw(struct interp *ip, const struct decoded_insn *in)
{
    bool write = (in->reg & 7) == 5;
    uint16_t sel = (uint16_t)rm_read(ip, in, 2);
    uint64_t desc;
    struct x86_segment seg;
    bool ok = inspect_descriptor(ip, sel, &desc, &seg) && seg.s;
    if (ok) {
        bool code = seg.type & 8;
        ok = write ? !code && (seg.type & 2) : !code || (seg.type & 2);
    }
    set_flags(ip, X86_FLAG_ZF, ok ? X86_FLAG_ZF : 0);
}

static HANDLER(exec_grp6)
{
    struct x86_state *s = ip->s;
    if (!protected_mode(ip))
        raise_ud(ip);
    unsigned r = in->reg & 7;
    switch (r) {
    case 0: case 1: {
        uint16_t sel = r == 0 ? s->ldtr.selector : s->tr.selector;
        if (in->mod == 3)
            reg_write(ip, in->rm, in->opsize, in, sel);
        else
            mem_write(ip, ea_linear(ip, in), 2, sel);
        return;
    }
    case 2: case 3:
        require_cpl0(ip);
        load_system_segment(ip, r == 2 ? &s->ldtr : &s->tr, (uint16_t)rm_read(ip, in, 2), r == 3);
        return;
    default:
        exec_verr_verw(ip, in);
    }
}

/* ---------- control registers ---------- */

#define CR4_ALLOWED (X86_CR4_TSD | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PCE | \
                     X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)

/* MOV to CR0 with the checks and the long-mode activation of SDM Vol. 3A
 * 9.8.5 / 2.5 (EFER.LMA = LME & PG). */
static void write_cr0(struct interp *ip, uint64_t v)
{
    struct x86_state *s = ip->s;
    if (v >> 32)
        raise_gp0(ip);
    v |= X86_CR0_ET;
    if (((v & X86_CR0_PG) && !(v & X86_CR0_PE)) || ((v & X86_CR0_NW) && !(v & X86_CR0_CD)))
        raise_gp0(ip);
    bool pg_on = (v & X86_CR0_PG) && !(s->cr0 & X86_CR0_PG);
    bool pg_off = !(v & X86_CR0_PG) && (s->cr0 & X86_CR0_PG);
    if (pg_on && (s->msr.efer & X86_EFER_LME)) {
        if (!(s->cr4 & X86_CR4_PAE) || s->seg[S_CS].l)
            raise_gp0(ip);
        s->msr.efer |= X86_EFER_LMA;
    }
    if (pg_off && (s->msr.efer & X86_EFER_LMA)) {
        if (ip->mode == X86_MODE_64)
            raise_gp0(ip);
        s->msr.efer &= ~X86_EFER_LMA;
    }
    s->cr0 = v;
}

static void write_cr4(struct interp *ip, uint64_t v)
{
    struct x86_state *s = ip->s;
    if (v & ~(uint64_t)CR4_ALLOWED)
        raise_gp0(ip);
    if ((s->msr.efer & X86_EFER_LMA) && !(v & X86_CR4_PAE))
        raise_gp0(ip);
    s->cr4 = v;
}

/* The GPR operand of MOV CR/DR: the r/m field in register form (the mod
 * bits are ignored by the processor). */
static unsigned crdr_gpr(const struct decoded_insn *in)
{
    return (in->modrm & 7) | ((in->rex & 1) ? 8 : 0);
}

static HANDLER(exec_mov_cr)
{
    struct x86_state *s = ip->s;
    struct cpu_intr *intr = sys_of(ip)->cpu->intr;
    require_cpl0(ip);
    unsigned cr = in->reg, gpr = crdr_gpr(in);
    unsigned size = ip->mode == X86_MODE_64 ? 8 : 4;
    if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8)
        raise_ud(ip);
    if (in->opcode == 0x20) {
        uint64_t v = cr == 0 ? s->cr0 : cr == 2 ? s->cr2 : cr == 3 ? s->cr3 : cr == 4 ? s->cr4
                     : (intr ? intr->ops->get_tpr(intr->lapic) >> 4 : s->cr8);
        reg_write(ip, gpr, size, in, v);
        return;
    }
    uint64_t v = reg_read(ip, gpr, size, in);
    switch (cr) {
    case 0: write_cr0(ip, v); break;
    case 2: s->cr2 = v; return;
    case 3:
        if (v >> MMU_MAXPHYADDR)
            raise_gp0(ip);
        s->cr3 = v;
        break;
    case 4: write_cr4(ip, v); break;
    default:
        if (v & ~0xfull)
            raise_gp0(ip);
        s->cr8 = v;
        if (intr)
            intr->ops->set_tpr(intr->lapic, (uint8_t)(v << 4));
        return;
    }
    sys_of(ip)->state_changed = true;
}

static HANDLER(exec_mov_dr)
{
    struct x86_state *s = ip->s;
    require_cpl0(ip);
    unsigned dr = in->reg, gpr = crdr_gpr(in);
    unsigned size = ip->mode == X86_MODE_64 ? 8 : 4;
    if (dr > 7)
        raise_ud(ip);
    if (dr == 4 || dr == 5) {
        if (s->cr4 & X86_CR4_DE)
            raise_ud(ip);
        dr += 2;
    }
    if (in->opcode == 0x21) {
        reg_write(ip, gpr, size, in, s->dr[dr]);
        return;
    }
    uint64_t v = reg_read(ip, gpr, size, in);
    if (dr >= 6 && (v >> 32))
        raise_gp0(ip);
    if (dr == 6)
        v = (v & 0xf00f) | 0xffff0ff0ull;
    else if (dr == 7)
        v = (v & 0xffff2bffull) | 0x400;
    s->dr[dr] = v;
}

/* 0F 01: descriptor tables, SMSW/LMSW, INVLPG, SWAPGS. */
static HANDLER(exec_grp7)
{
    struct x86_state *s = ip->s;
    unsigned r = in->reg & 7;
    if (in->mod == 3) {
        if (r == 4) {
            reg_write(ip, in->rm, in->opsize, in, s->cr0);
            return;
        }
        if (r == 7 && (in->modrm & 7) == 0) { /* SWAPGS */
            if (ip->mode != X86_MODE_64)
                raise_ud(ip);
            require_cpl0(ip);
            uint64_t t = s->seg[S_GS].base;
            s->seg[S_GS].base = s->msr.kernel_gs_base;
            s->msr.kernel_gs_base = t;
            return;
        }
        if (r != 6)
            raise_ud(ip); /* MONITOR/MWAIT, XGETBV, RDTSCP, CLAC/STAC...: hidden */
    }
    switch (r) {
    case 0: case 1: case 2: case 3:
        table_op(ip, in, r);
        return;
    case 4:
        mem_write(ip, ea_linear(ip, in), 2, s->cr0);
        return;
    case 6: {
        require_cpl0(ip);
        uint64_t v = rm_read(ip, in, 2);
        /* LMSW loads PE, MP, EM, TS and cannot clear PE. */
        write_cr0(ip, (s->cr0 & ~0xeull) | (v & 0xf) | (s->cr0 & X86_CR0_PE));
        sys_of(ip)->state_changed = true;
        return;
    }
    case 7:
        require_cpl0(ip);
        sys_of(ip)->state_changed = true; /* INVLPG: the soft TLB is dropped whole */
        return;
    default:
        raise_ud(ip);
    }
}

static HANDLER(exec_clts)
{
    (void)in;
    require_cpl0(ip);
    ip->s->cr0 &= ~X86_CR0_TS;
}

static HANDLER(exec_cache_flush)
{
    (void)in;
    require_cpl0(ip); /* INVD, WBINVD: no caches to write back */
}

/* ---------- MSRs ---------- */

static tick_t tick_of_tsc(const struct sys_engine *e, uint64_t tsc)
{
    uint64_t cycles = tsc - (uint64_t)e->cpu->state.tsc_offset;
    return (tick_t)((unsigned __int128)cycles * TICKS_PER_S / CPU_MODEL_TSC_HZ);
}

static bool rdmsr(struct sys_engine *e, uint32_t idx, uint64_t *v)
{
    struct x86_state *s = e->ip.s;
    struct cpu_intr *intr = e->cpu->intr;
    switch (idx) {
    case MSR_IA32_TSC: *v = cpu_tsc_at(e->cpu, sys_engine_sync_time(e)); return true;
    case MSR_IA32_APIC_BASE: *v = intr ? intr->ops->get_base(intr->lapic) : s->msr.apic_base; return true;
    case MSR_IA32_SYSENTER_CS: *v = s->msr.sysenter_cs; return true;
    case MSR_IA32_SYSENTER_ESP: *v = s->msr.sysenter_esp; return true;
    case MSR_IA32_SYSENTER_EIP: *v = s->msr.sysenter_eip; return true;
    case MSR_IA32_PAT: *v = s->msr.pat; return true;
    case MSR_IA32_TSC_DEADLINE: {
        tick_t d = intr ? intr->ops->get_deadline(intr->lapic) : 0;
        *v = d ? cpu_tsc_at(e->cpu, d) : 0;
        return true;
    }
    case MSR_EFER: *v = s->msr.efer; return true;
    case MSR_STAR: *v = s->msr.star; return true;
    case MSR_LSTAR: *v = s->msr.lstar; return true;
    case MSR_CSTAR: *v = s->msr.cstar; return true;
    case MSR_SFMASK: *v = s->msr.sfmask; return true;
    case MSR_FS_BASE: *v = s->seg[S_FS].base; return true;
    case MSR_GS_BASE: *v = s->seg[S_GS].base; return true;
    case MSR_KERNEL_GS_BASE: *v = s->msr.kernel_gs_base; return true;
    default: return false;
    }
}

static bool pat_valid(uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = (v >> (8 * i)) & 0xff;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

static bool wrmsr(struct sys_engine *e, uint32_t idx, uint64_t v)
{
    struct x86_state *s = e->ip.s;
    struct cpu_intr *intr = e->cpu->intr;
    switch (idx) {
    case MSR_IA32_TSC:
        s->tsc_offset = 0;
        s->tsc_offset = (int64_t)(v - cpu_tsc_at(e->cpu, sys_engine_sync_time(e)));
        return true;
    case MSR_IA32_APIC_BASE:
        if (intr && !intr->ops->set_base(intr->lapic, v))
            return false;
        s->msr.apic_base = v;
        return true;
    case MSR_IA32_SYSENTER_CS: s->msr.sysenter_cs = v & 0xffff; return true;
    case MSR_IA32_SYSENTER_ESP: s->msr.sysenter_esp = v; return canonical(v);
    case MSR_IA32_SYSENTER_EIP: s->msr.sysenter_eip = v; return canonical(v);
    case MSR_IA32_PAT:
        if (!pat_valid(v))
            return false;
        s->msr.pat = v;
        return true;
    case MSR_IA32_TSC_DEADLINE:
        if (intr) {
            sys_engine_sync_time(e);
            intr->ops->set_deadline(intr->lapic, v ? tick_of_tsc(e, v) : 0);
        }
        return true;
    case MSR_EFER: {
        if (v & ~CPU_MODEL_EFER_MASK)
            return false;
        if ((s->cr0 & X86_CR0_PG) && ((v ^ s->msr.efer) & X86_EFER_LME))
            return false;
        s->msr.efer = (v & ~X86_EFER_LMA) | (s->msr.efer & X86_EFER_LMA);
        e->state_changed = true;
        return true;
    }
    case MSR_STAR: s->msr.star = v; return true;
    case MSR_LSTAR: s->msr.lstar = v; return canonical(v);
    case MSR_CSTAR: s->msr.cstar = v; return canonical(v);
    case MSR_SFMASK: s->msr.sfmask = v & 0xffffffffull; return true;
    case MSR_FS_BASE: s->seg[S_FS].base = v; return canonical(v);
    case MSR_GS_BASE: s->seg[S_GS].base = v; return canonical(v);
    case MSR_KERNEL_GS_BASE: s->msr.kernel_gs_base = v; return canonical(v);
    default: return false;
    }
}

static HANDLER(exec_msr)
{
    (void)in;
    struct x86_state *s = ip->s;
    require_cpl0(ip);
    uint32_t idx = (uint32_t)s->gpr[R_RCX];
    if (in->opcode == 0x32) {
        uint64_t v;
        if (!rdmsr(sys_of(ip), idx, &v))
            raise_gp0(ip);
        s->gpr[R_RAX] = (uint32_t)v;
        s->gpr[R_RDX] = v >> 32;
    } else {
        uint64_t v = (uint32_t)s->gpr[R_RAX] | (s->gpr[R_RDX] << 32);
        if (!wrmsr(sys_of(ip), idx, v))
            raise_gp0(ip); /* the snapshot undoes a partial write */
    }
}

/* ---------- SYSRET (AMD APM Vol. 3) ---------- */

static HANDLER(exec_sysret)
{
    struct x86_state *s = ip->s;
    if (!(s->msr.efer & X86_EFER_SCE) || ip->mode != X86_MODE_64)
        raise_ud(ip);
    require_cpl0(ip);
    uint16_t base = (uint16_t)(s->msr.star >> 48);
    bool to64 = in->opsize == 8;
    uint64_t rip = to64 ? s->gpr[R_RCX] : (uint32_t)s->gpr[R_RCX];
    if (!canonical(rip))
        raise_gp0(ip);
    s->seg[S_CS] = (struct x86_segment){.selector = (uint16_t)((to64 ? base + 16 : base) | 3),
                                        .limit = 0xffffffff, .type = 11, .s = 1, .dpl = 3,
                                        .present = 1, .l = to64, .db = !to64, .g = 1};
    s->seg[S_SS] = (struct x86_segment){.selector = (uint16_t)((base + 8) | 3), .limit = 0xffffffff,
                                        .type = 3, .s = 1, .dpl = 3, .present = 1, .db = 1, .g = 1};
    s->rflags = (s->gpr[R_R11] & ~(uint64_t)(X86_FLAG_RF | X86_FLAG_VM)) | X86_FLAG_FIXED;
    ip->next_rip = rip;
    sys_of(ip)->state_changed = true;
}

/* INTO: vector 4 as a software exception when OF=1. */
static bool exec_into(struct interp *ip)
{
    if (ip->mode == X86_MODE_64)
        raise_ud(ip);
    return (ip->s->rflags & X86_FLAG_OF) != 0;
}

/* ---------- dispatch ---------- */

static x86_exec_fn sys_handler(struct interp *ip, const struct decoded_insn *in)
{
    if (in->map == MAP_1B) {
        switch (in->opcode) {
        case 0x6c: case 0x6d: case 0x6e: case 0x6f: return exec_ins_outs;
        case 0x8e: return exec_mov_sreg;
        case 0x9a: case 0xea: return exec_far_direct;
        case 0xca: case 0xcb: return exec_retf;
        case 0xcf: return exec_iret;
        case 0xe4: case 0xe5: case 0xe6: case 0xe7:
        case 0xec: case 0xed: case 0xee: case 0xef: return exec_in_out;
        case 0xff: return ((in->reg & 7) == 3 || (in->reg & 7) == 5) ? exec_far_indirect : NULL;
        default: return NULL;
        }
    }
    if (in->map != MAP_0F)
        return NULL;
    switch (in->opcode) {
    case 0x00: return exec_grp6;
    case 0x01: return exec_grp7;
    case 0x02: case 0x03: return exec_lar_lsl;
    case 0x06: return exec_clts;
    case 0x07: return exec_sysret;
    case 0x08: case 0x09: return exec_cache_flush;
    case 0x20: case 0x22: return exec_mov_cr;
    case 0x21: case 0x23: return exec_mov_dr;
    case 0x30: case 0x32: return exec_msr;
    case 0xa1: case 0xa9: return exec_pop_fs_gs;
    case 0xb2: case 0xb4: case 0xb5: return exec_lxs;
    case 0x33: case 0x34: case 0x35: case 0x37: case 0xaa:
        return NULL; /* RDPMC, SYSENTER/SYSEXIT, GETSEC, RSM: #UD below */
    default:
        (void)ip;
        return NULL;
    }
}

/* Decodes the instruction at CS:RIP, fetching byte by byte until the
 * decoder has what it needs (never touching bytes past the instruction). */
static void fetch_decode(struct interp *ip, struct decoded_insn *in)
{
    const struct x86_state *s = ip->s;
    uint64_t la = ip->mode == X86_MODE_64 ? s->rip : addr_trunc(s->rip, 4) + s->seg[S_CS].base;
    uint8_t buf[X86_MAX_INSN_LEN];
    enum decode_status st = DECODE_TRUNCATED;
    for (unsigned n = 0; st == DECODE_TRUNCATED && n < X86_MAX_INSN_LEN; n++) {
        buf[n] = (uint8_t)interp_read_slow(ip, la + n, 1, ACC_EXEC);
        st = x86_decode(buf, n + 1, ip->mode, in);
    }
    if (st == DECODE_TOO_LONG || st == DECODE_TRUNCATED)
        raise_gp0(ip);
    if (st != DECODE_OK)
        raise_ud(ip);
}

enum exec_sys_result exec_sys(struct sys_engine *e)
{
    struct interp *ip = &e->ip;
    struct x86_state *s = ip->s;
    e->before = *s;
    struct decoded_insn in;
    memset(&in, 0, sizeof(in));
    ip->stop = INTERP_STOP_COUNT;
    if (setjmp(ip->exc_jump)) {
        if (ip->stop == INTERP_STOP_EXCEPTION) {
            struct x86_events ev = s->ev;
            uint64_t cr2 = s->cr2;
            *s = e->before;
            s->ev = ev;
            s->cr2 = cr2;
            e->state_changed = true;
            return EXEC_SYS_EXCEPTION;
        }
        *s = e->before;
        err_set("interpreter engine: cannot execute from device memory at rip %#" PRIx64, s->rip);
        return EXEC_SYS_ERROR;
    }
    fetch_decode(ip, &in);
    uint64_t next = s->rip + in.len;
    ip->next_rip = ip->mode == X86_MODE_64 ? next : ip->mode == X86_MODE_32 ? (uint32_t)next : (uint16_t)next;
    if (in.map == MAP_1B && in.opcode == 0xce) {
        bool trap = exec_into(ip);
        s->rip = ip->next_rip;
        ip->insts++;
        if (!trap)
            return EXEC_SYS_DONE;
        s->ev.exception_pending = true;
        s->ev.exception_vector = X86_OF;
        s->ev.exception_has_error = false;
        return EXEC_SYS_SOFT_EVENT;
    }
    x86_exec_fn fn = sys_handler(ip, &in);
    if (!fn)
        raise_ud(ip);
    fn(ip, &in);
    s->rip = ip->next_rip;
    ip->insts++;
    return EXEC_SYS_DONE;
}
