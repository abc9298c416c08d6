#include "cpu/segments.h"

#include <string.h>

#include "cpu/mmu.h"
#include "mem/bus.h"

#define SEL_INDEX(sel) ((uint32_t)(sel) & 0xfffc)

static void set_fault(struct x86_fault *f, uint8_t vector, bool has_error, uint32_t error)
{
    f->vector = vector;
    f->has_error = has_error;
    f->error = error;
    f->cr2 = 0;
}

/* Implicit supervisor accesses to linear memory (descriptor tables, TSS,
 * stacks during delivery), split at page boundaries. */
static int lin_access(struct bus *bus, const struct x86_state *s, uint64_t addr, void *buf,
                      unsigned len, bool write, struct x86_fault *f)
{
    uint8_t *p = buf;
    while (len) {
        struct mmu_walk w;
        if (mmu_translate(bus, s, addr, write ? MMU_WRITE : MMU_READ, false, true, &w) < 0) {
            set_fault(f, X86_PF, true, w.error_code);
            f->cr2 = addr;
            return -1;
        }
        unsigned n = 4096 - (unsigned)(addr & 0xfff);
        if (n > len)
            n = len;
        if (write)
            bus_write(bus, w.paddr, p, n);
        else
            bus_read(bus, w.paddr, p, n);
        p += n, addr += n, len -= n;
    }
    return 0;
}

int x86_read_descriptor(struct bus *bus, const struct x86_state *s, uint16_t selector,
                        uint64_t *desc, struct x86_fault *f)
{
    bool ldt = selector & 4;
    uint64_t base = ldt ? s->ldtr.base : s->gdtr.base;
    uint32_t limit = ldt ? (s->ldtr.unusable ? 0 : s->ldtr.limit) : s->gdtr.limit;
    uint32_t off = SEL_INDEX(selector) & ~7u;
    if ((ldt && s->ldtr.unusable) || off + 7 > limit) {
        set_fault(f, X86_GP, true, SEL_INDEX(selector));
        return -1;
    }
    return lin_access(bus, s, base + off, desc, 8, false, f);
}

void x86_decode_descriptor(uint64_t d, uint16_t selector, struct x86_segment *seg)
{
    memset(seg, 0, sizeof(*seg));
    seg->selector = selector;
    seg->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    seg->limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));
    seg->type = (d >> 40) & 0xf;
    seg->s = (d >> 44) & 1;
    seg->dpl = (d >> 45) & 3;
    seg->present = (d >> 47) & 1;
    seg->avl = (d >> 52) & 1;
    seg->l = (d >> 53) & 1;
    seg->db = (d >> 54) & 1;
    seg->g = (d >> 55) & 1;
    if (seg->g)
        seg->limit = (seg->limit << 12) | 0xfff;
}

void x86_mark_accessed(struct bus *bus, const struct x86_state *s, uint16_t selector, uint64_t d)
{
    if (!((d >> 44) & 1) || ((d >> 40) & 1))
        return;
    struct x86_fault ignore;
    uint64_t base = (selector & 4) ? s->ldtr.base : s->gdtr.base;
    uint8_t byte = (uint8_t)((d >> 40) | 1);
    lin_access(bus, s, base + (SEL_INDEX(selector) & ~7u) + 5, &byte, 1, true, &ignore);
}

static void null_segment(struct x86_segment *seg, uint16_t selector)
{
    memset(seg, 0, sizeof(*seg));
    seg->selector = selector;
    seg->unusable = 1;
}

static bool long_mode(const struct x86_state *s)
{
    return (s->msr.efer & X86_EFER_LMA) != 0;
}

static bool in_64bit_code(const struct x86_state *s)
{
    return long_mode(s) && s->seg[S_CS].l;
}

/* Checks a stack-segment descriptor for privilege level pl; error codes get
 * ext added. */
static int check_stack_segment(uint64_t d, uint16_t sel, unsigned pl, uint8_t bad_vector,
                               uint32_t ext, struct x86_segment *out, struct x86_fault *f)
{
    x86_decode_descriptor(d, sel, out);
    bool writable_data = out->s && !(out->type & 8) && (out->type & 2);
    if ((sel & 3) != pl || out->dpl != pl || !writable_data) {
        set_fault(f, bad_vector, true, SEL_INDEX(sel) | ext);
        return -1;
    }
    if (!out->present) {
        set_fault(f, X86_SS, true, SEL_INDEX(sel) | ext);
        return -1;
    }
    return 0;
}

int x86_load_data_segment(struct bus *bus, struct x86_state *s, enum x86_seg which,
                          uint16_t selector, struct x86_fault *f)
{
    struct x86_segment *seg = &s->seg[which];
    if (!(s->cr0 & X86_CR0_PE) || (s->rflags & X86_FLAG_VM)) {
        seg->selector = selector;
        seg->base = (uint64_t)selector << 4;
        return 0;
    }
    unsigned cpl = x86_cpl(s);
    if (SEL_INDEX(selector) == 0 && !(selector & 4)) {
        if (which == S_SS && !(in_64bit_code(s) && cpl < 3 && (selector & 3) == cpl)) {
            set_fault(f, X86_GP, true, 0);
            return -1;
        }
        null_segment(seg, selector);
        if (which == S_SS)
            seg->dpl = (uint8_t)cpl;
        return 0;
    }
    uint64_t d;
    if (x86_read_descriptor(bus, s, selector, &d, f) < 0)
        return -1;
    struct x86_segment tmp;
    if (which == S_SS) {
        if (check_stack_segment(d, selector, cpl, X86_GP, 0, &tmp, f) < 0)
            return -1;
    } else {
        x86_decode_descriptor(d, selector, &tmp);
        bool code = tmp.type & 8, readable = tmp.type & 2, conforming = code && (tmp.type & 4);
        if (!tmp.s || (code && !readable) ||
            (!conforming && ((selector & 3) > tmp.dpl || cpl > tmp.dpl))) {
            set_fault(f, X86_GP, true, SEL_INDEX(selector));
            return -1;
        }
        if (!tmp.present) {
            set_fault(f, X86_NP, true, SEL_INDEX(selector));
            return -1;
        }
    }
    x86_mark_accessed(bus, s, selector, d);
    tmp.type |= 1;
    *seg = tmp;
    return 0;
}

/* ---- event delivery ---- */

struct stack {
    uint64_t base, sp, mask;
};

static int push(struct bus *bus, const struct x86_state *s, struct stack *st, uint64_t v,
                unsigned size, struct x86_fault *f)
{
    st->sp = (st->sp - size) & st->mask;
    return lin_access(bus, s, st->base + st->sp, &v, size, true, f);
}

static int pop(struct bus *bus, const struct x86_state *s, struct stack *st, uint64_t *v,
               unsigned size, struct x86_fault *f)
{
    *v = 0;
    if (lin_access(bus, s, st->base + st->sp, v, size, false, f) < 0)
        return -1;
    st->sp = (st->sp + size) & st->mask;
    return 0;
}

static uint64_t sp_mask(const struct x86_segment *ss, bool mode64)
{
    return mode64 ? ~0ull : ss->db ? 0xffffffffull : 0xffffull;
}

static void write_sp(struct x86_state *s, const struct stack *st)
{
    if (st->mask == 0xffff)
        s->gpr[R_RSP] = (s->gpr[R_RSP] & ~0xffffull) | st->sp;
    else
        s->gpr[R_RSP] = st->sp;
}

static int deliver_real(struct bus *bus, struct x86_state *s, const struct x86_event *ev,
                        struct x86_fault *f)
{
    uint32_t off = ev->vector * 4u;
    if (off + 3 > s->idtr.limit) {
        set_fault(f, X86_GP, true, 0);
        return -1;
    }
    uint32_t vec;
    if (lin_access(bus, s, s->idtr.base + off, &vec, 4, false, f) < 0)
        return -1;
    struct stack st = {s->seg[S_SS].base, s->gpr[R_RSP] & 0xffff, 0xffff};
    if (push(bus, s, &st, s->rflags & 0xffff, 2, f) || push(bus, s, &st, s->seg[S_CS].selector, 2, f) ||
        push(bus, s, &st, s->rip & 0xffff, 2, f))
        return -1;
    write_sp(s, &st);
    s->rflags &= ~(uint64_t)(X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_AC | X86_FLAG_RF);
    s->seg[S_CS].selector = (uint16_t)(vec >> 16);
    s->seg[S_CS].base = (uint64_t)(vec >> 16) << 4;
    s->rip = vec & 0xffff;
    return 0;
}

static int read_tss(struct bus *bus, const struct x86_state *s, uint32_t off, void *out,
                    unsigned len, uint32_t ext, struct x86_fault *f)
{
    if (off + len - 1 > s->tr.limit) {
        set_fault(f, X86_TS, true, SEL_INDEX(s->tr.selector) | ext);
        return -1;
    }
    return lin_access(bus, s, s->tr.base + off, out, len, false, f);
}

/* Faults push RFLAGS with RF set, so the handler's IRET re-executes the
 * instruction without re-triggering an instruction breakpoint (SDM Vol. 3A
 * 18.3.1.1); traps, aborts and interrupts push it as it is. */
static bool is_fault(const struct x86_event *ev)
{
    if (ev->source != EVENT_EXCEPTION)
        return false;
    switch (ev->vector) {
    case X86_DE: case X86_BR: case X86_UD: case X86_NM: case X86_TS: case X86_NP:
    case X86_SS: case X86_GP: case X86_PF: case X86_MF: case X86_AC: case X86_XM:
        return true;
    default:
        return false;
    }
}

static int deliver_protected(struct bus *bus, struct x86_state *s, const struct x86_event *ev,
                             struct x86_fault *f)
{
    bool lm = long_mode(s);
    bool soft = ev->source == EVENT_SOFT_INT || ev->source == EVENT_SOFT_EXC;
    uint32_t ext = soft ? 0 : 1;
    unsigned esize = lm ? 16 : 8, cpl = x86_cpl(s);
    uint32_t idt_err = ev->vector * 8u + 2 + ext;
    if (ev->vector * esize + esize - 1 > s->idtr.limit) {
        set_fault(f, X86_GP, true, idt_err);
        return -1;
    }
    uint64_t gate[2] = {0, 0};
    if (lin_access(bus, s, s->idtr.base + ev->vector * esize, gate, esize, false, f) < 0)
        return -1;
    unsigned type = (gate[0] >> 40) & 0xf, gdpl = (gate[0] >> 45) & 3;
    bool valid = lm ? (type == 0xe || type == 0xf) : (type == 6 || type == 7 || type == 0xe || type == 0xf);
    if (!valid || (lm && ((gate[1] >> 40) & 0x1f) != 0)) {
        /* Task gates (type 5) are not supported: they fault like a bad gate. */
        set_fault(f, X86_GP, true, idt_err);
        return -1;
    }
    if (soft && gdpl < cpl) {
        set_fault(f, X86_GP, true, ev->vector * 8u + 2);
        return -1;
    }
    if (!((gate[0] >> 47) & 1)) {
        set_fault(f, X86_NP, true, idt_err);
        return -1;
    }
    if (s->rflags & X86_FLAG_VM) {
        set_fault(f, X86_GP, true, ext); /* virtual-8086 mode is not modelled */
        return -1;
    }
    uint16_t sel = (uint16_t)(gate[0] >> 16);
    uint64_t target = (gate[0] & 0xffff) | (((gate[0] >> 48) & 0xffff) << 16);
    if (lm)
        target |= (gate[1] & 0xffffffffull) << 32;
    unsigned ist = lm ? (gate[0] >> 32) & 7 : 0;
    bool gate32 = lm || (type & 8);
    if (SEL_INDEX(sel) == 0 && !(sel & 4)) {
        set_fault(f, X86_GP, true, ext);
        return -1;
    }
    uint64_t d;
    if (x86_read_descriptor(bus, s, sel, &d, f) < 0) {
        f->error |= ext;
        return -1;
    }
    struct x86_segment cs;
    x86_decode_descriptor(d, sel, &cs);
    if (!cs.s || !(cs.type & 8) || cs.dpl > cpl || (lm && (!cs.l || cs.db))) {
        set_fault(f, X86_GP, true, SEL_INDEX(sel) | ext);
        return -1;
    }
    if (!cs.present) {
        set_fault(f, X86_NP, true, SEL_INDEX(sel) | ext);
        return -1;
    }
    unsigned new_cpl = (cs.type & 4) ? cpl : cs.dpl;
    bool inner = new_cpl < cpl;
    uint64_t old_ss = s->seg[S_SS].selector, old_sp = s->gpr[R_RSP];
    struct x86_segment new_ss = s->seg[S_SS];
    struct stack st;
    if (lm) {
        uint64_t rsp = old_sp;
        /* IST switches the stack at any privilege level. */
        if (ist || inner) {
            uint32_t off = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * new_cpl;
            if (read_tss(bus, s, off, &rsp, 8, ext, f) < 0)
                return -1;
        }
        if (inner) {
            memset(&new_ss, 0, sizeof(new_ss));
            new_ss.selector = (uint16_t)new_cpl;
            new_ss.unusable = 1;
            new_ss.dpl = (uint8_t)new_cpl;
        }
        st = (struct stack){0, rsp & ~0xfull, ~0ull};
    } else if (inner) {
        bool tss32 = (s->tr.type & 8) != 0;
        uint32_t esp = 0;
        uint16_t ss = 0;
        unsigned w = tss32 ? 4 : 2;
        if (read_tss(bus, s, (tss32 ? 4 : 2) + 2 * w * new_cpl, &esp, w, ext, f) < 0 ||
            read_tss(bus, s, (tss32 ? 8 : 4) + 2 * w * new_cpl, &ss, 2, ext, f) < 0)
            return -1;
        if (SEL_INDEX(ss) == 0 && !(ss & 4)) {
            set_fault(f, X86_TS, true, ext);
            return -1;
        }
        uint64_t sd;
        if (x86_read_descriptor(bus, s, ss, &sd, f) < 0) {
            set_fault(f, X86_TS, true, SEL_INDEX(ss) | ext);
            return -1;
        }
        if (check_stack_segment(sd, ss, new_cpl, X86_TS, ext, &new_ss, f) < 0)
            return -1;
        new_ss.type |= 1;
        st = (struct stack){new_ss.base, esp & sp_mask(&new_ss, false), sp_mask(&new_ss, false)};
    } else {
        st = (struct stack){new_ss.base, old_sp & sp_mask(&new_ss, false), sp_mask(&new_ss, false)};
    }
    unsigned w = lm ? 8 : gate32 ? 4 : 2;
    int rc = 0;
    if (lm || inner) {
        rc |= push(bus, s, &st, old_ss, w, f);
        if (!rc)
            rc |= push(bus, s, &st, old_sp, w, f);
    }
    if (!rc)
        /* RF from an earlier IRET is not pushed: the interpreter does not
         * clear RF after each instruction as the processor does (found by
         * lockstep0: an INT3 frame after a #PF's IRET carried RF). */
        rc |= push(bus, s, &st, (s->rflags & ~(uint64_t)X86_FLAG_RF) | (is_fault(ev) ? X86_FLAG_RF : 0),
                   w, f);
    if (!rc)
        rc |= push(bus, s, &st, s->seg[S_CS].selector, w, f);
    if (!rc)
        rc |= push(bus, s, &st, s->rip, w, f);
    if (!rc && ev->has_error)
        rc |= push(bus, s, &st, ev->error, w, f);
    if (rc)
        return -1;
    x86_mark_accessed(bus, s, sel, d);
    cs.type |= 1;
    cs.selector = (uint16_t)((sel & ~3u) | new_cpl);
    s->seg[S_CS] = cs;
    s->seg[S_SS] = new_ss;
    s->gpr[R_RSP] = (lm || new_ss.db) ? st.sp : (old_sp & ~0xffffull) | st.sp;
    s->rflags &= ~(uint64_t)(X86_FLAG_TF | X86_FLAG_NT | X86_FLAG_RF | X86_FLAG_VM);
    if (!(type & 1))
        s->rflags &= ~(uint64_t)X86_FLAG_IF;
    s->rip = gate32 ? target : target & 0xffff;
    return 0;
}

static bool contributory(uint8_t v)
{
    return v == X86_DE || v == X86_TS || v == X86_NP || v == X86_SS || v == X86_GP;
}

int x86_deliver_event(struct bus *bus, struct x86_state *s, const struct x86_event *ev)
{
    struct x86_event cur = *ev;
    for (;;) {
        if (cur.source == EVENT_EXCEPTION && cur.vector == X86_PF)
            s->cr2 = cur.cr2;
        struct x86_fault f;
        int rc = (s->cr0 & X86_CR0_PE) ? deliver_protected(bus, s, &cur, &f)
                                        : deliver_real(bus, s, &cur, &f);
        if (rc == 0) {
            s->ev.interrupt_shadow = 0;
            if (cur.source == EVENT_NMI)
                s->ev.nmi_masked = true;
            s->run_state = X86_RUNNABLE;
            return 0;
        }
        bool first_pf = cur.vector == X86_PF && cur.source == EVENT_EXCEPTION;
        bool first_contrib = contributory(cur.vector) &&
                             (cur.source == EVENT_EXCEPTION || cur.source == EVENT_SOFT_EXC);
        if (cur.vector == X86_DF && cur.source == EVENT_EXCEPTION) {
            s->run_state = X86_SHUTDOWN;
            return -1;
        }
        if ((first_contrib && contributory(f.vector)) ||
            (first_pf && (f.vector == X86_PF || contributory(f.vector)))) {
            if (f.vector == X86_PF)
                s->cr2 = f.cr2;
            cur = (struct x86_event){EVENT_EXCEPTION, X86_DF, true, 0, 0};
        } else {
            cur = (struct x86_event){EVENT_EXCEPTION, f.vector, f.has_error, f.error, f.cr2};
        }
    }
}

/* ---- IRET ---- */

int x86_iret(struct bus *bus, struct x86_state *s, unsigned opsize, struct x86_fault *f)
{
    bool mode64 = in_64bit_code(s);
    struct x86_segment *ss = &s->seg[S_SS];
    uint64_t mask = sp_mask(ss, mode64);
    struct stack st = {mode64 ? 0 : ss->base, s->gpr[R_RSP] & mask, mask};
    uint64_t rip, cs_sel, flags;
    if (!(s->cr0 & X86_CR0_PE)) {
        if (pop(bus, s, &st, &rip, opsize, f) || pop(bus, s, &st, &cs_sel, opsize, f) ||
            pop(bus, s, &st, &flags, opsize, f))
            return -1;
        uint64_t keep = opsize == 2 ? ~0xffffull : (X86_FLAG_VM | X86_FLAG_VIF | X86_FLAG_VIP);
        s->rflags = (s->rflags & keep) | (flags & ~keep & 0x3f7fd5) | X86_FLAG_FIXED;
        write_sp(s, &st);
        s->seg[S_CS].selector = (uint16_t)cs_sel;
        s->seg[S_CS].base = (cs_sel & 0xffff) << 4;
        s->rip = rip & (opsize == 2 ? 0xffff : 0xffffffff);
        s->ev.nmi_masked = false;
        return 0;
    }
    if ((s->rflags & X86_FLAG_NT) || (s->rflags & X86_FLAG_VM)) {
        set_fault(f, X86_GP, true, 0); /* task returns and VM86 are not modelled */
        return -1;
    }
    unsigned cpl = x86_cpl(s);
    if (pop(bus, s, &st, &rip, opsize, f) || pop(bus, s, &st, &cs_sel, opsize, f) ||
        pop(bus, s, &st, &flags, opsize, f))
        return -1;
    uint16_t sel = (uint16_t)cs_sel;
    unsigned rpl = sel & 3;
    if (SEL_INDEX(sel) == 0 && !(sel & 4)) {
        set_fault(f, X86_GP, true, 0);
        return -1;
    }
    uint64_t d;
    if (x86_read_descriptor(bus, s, sel, &d, f) < 0)
        return -1;
    struct x86_segment cs;
    x86_decode_descriptor(d, sel, &cs);
    bool conforming = cs.type & 4;
    if (rpl < cpl || !cs.s || !(cs.type & 8) || (conforming ? cs.dpl > rpl : cs.dpl != rpl) ||
        (long_mode(s) && cs.l && cs.db)) {
        set_fault(f, X86_GP, true, SEL_INDEX(sel));
        return -1;
    }
    if (!cs.present) {
        set_fault(f, X86_NP, true, SEL_INDEX(sel));
        return -1;
    }
    bool outer = rpl > cpl;
    struct x86_segment new_ss = *ss;
    uint64_t new_sp = 0;
    bool pop_stack = mode64 || outer;
    if (pop_stack) {
        uint64_t ss_sel;
        if (pop(bus, s, &st, &new_sp, opsize, f) || pop(bus, s, &st, &ss_sel, opsize, f))
            return -1;
        uint16_t nss = (uint16_t)ss_sel;
        if (SEL_INDEX(nss) == 0 && !(nss & 4)) {
            /* A null SS is allowed returning to 64-bit code below ring 3. */
            if (!(long_mode(s) && cs.l && rpl < 3)) {
                set_fault(f, X86_GP, true, 0);
                return -1;
            }
            memset(&new_ss, 0, sizeof(new_ss));
            new_ss.selector = nss;
            new_ss.unusable = 1;
            new_ss.dpl = (uint8_t)rpl;
        } else {
            uint64_t sd;
            if (x86_read_descriptor(bus, s, nss, &sd, f) < 0)
                return -1;
            if (check_stack_segment(sd, nss, rpl, X86_GP, 0, &new_ss, f) < 0)
                return -1;
            x86_mark_accessed(bus, s, nss, sd);
            new_ss.type |= 1;
        }
    }
    /* Which RFLAGS bits the return may change depends on the old CPL/IOPL. */
    uint64_t changeable = X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF |
                          X86_FLAG_TF | X86_FLAG_DF | X86_FLAG_OF | X86_FLAG_NT | X86_FLAG_RF |
                          X86_FLAG_AC | X86_FLAG_ID;
    unsigned iopl = (s->rflags >> 12) & 3;
    if (cpl == 0)
        changeable |= X86_FLAG_IOPL | X86_FLAG_VIF | X86_FLAG_VIP;
    if (cpl <= iopl)
        changeable |= X86_FLAG_IF;
    if (opsize == 2)
        changeable &= 0xffff;
    s->rflags = (s->rflags & ~changeable) | (flags & changeable) | X86_FLAG_FIXED;
    x86_mark_accessed(bus, s, sel, d);
    cs.type |= 1;
    s->seg[S_CS] = cs;
    s->rip = cs.l && long_mode(s) ? rip : rip & 0xffffffff;
    if (opsize == 2)
        s->rip &= 0xffff;
    if (pop_stack) {
        s->seg[S_SS] = new_ss;
        s->gpr[R_RSP] = cs.l && long_mode(s) ? new_sp
                        : new_ss.db ? new_sp & 0xffffffff
                                    : (s->gpr[R_RSP] & ~0xffffull) | (new_sp & 0xffff);
    } else {
        write_sp(s, &st);
    }
    if (outer) {
        /* Data segments the outer level may not use become null. */
        static const enum x86_seg data[] = {S_ES, S_DS, S_FS, S_GS};
        for (int i = 0; i < 4; i++) {
            struct x86_segment *dseg = &s->seg[data[i]];
            bool code_conf = (dseg->type & 8) && (dseg->type & 4);
            if (!dseg->unusable && dseg->s && !code_conf && dseg->dpl < rpl)
                null_segment(dseg, 0);
        }
    }
    s->ev.nmi_masked = false;
    return 0;
}
