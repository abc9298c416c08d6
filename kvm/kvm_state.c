/* State transfer between struct x86_state and a KVM vCPU (KVM API:
 * KVM_GET/SET_REGS, SREGS, XSAVE, XCRS, MSRS, VCPU_EVENTS, DEBUGREGS). The
 * LAPIC has nothing to transfer: with a userspace irqchip it lives in dev/
 * all the time. The halted state is kept by the engine (KVM_SET_MP_STATE
 * refuses HALTED without an in-kernel LAPIC, and HLT exits to us anyway). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include "cpu/model.h"
#include "kvm/kvm_priv.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/sim.h"

static int vcpu_ioctl(struct kvm_vcpu *v, unsigned long req, void *arg, const char *what)
{
    if (ioctl(v->fd, req, arg) < 0) {
        err_set("%s failed: %s", what, strerror(errno));
        return -1;
    }
    return 0;
}

int kvm_complete_exit(struct kvm_vcpu *v)
{
    if (!v->completion_pending)
        return 0;
    v->run->immediate_exit = 1;
    int rc = ioctl(v->fd, KVM_RUN, 0);
    int saved = errno;
    v->run->immediate_exit = 0;
    v->completion_pending = false;
    if (rc < 0 && saved != EINTR) {
        err_set("KVM_RUN (completing the last exit) failed: %s", strerror(saved));
        return -1;
    }
    return 0;
}

uint64_t kvm_guest_tsc_now(const struct kvm_vcpu *v)
{
    unsigned __int128 scaled = (unsigned __int128)__rdtsc() * v->tsc_ratio;
    return (uint64_t)(scaled >> 32) + (uint64_t)v->kvm_tsc_offset;
}

/* Host TSC, scaled to the guest's rate. */
static uint64_t host_tsc_scaled(const struct kvm_vcpu *v)
{
    return kvm_guest_tsc_now(v) - (uint64_t)v->kvm_tsc_offset;
}

/* Reads IA32_TSC from KVM between two host TSC reads: the offset KVM really
 * applies (to within one ioctl). */
static int measure_tsc_offset(struct kvm_vcpu *v, int64_t *offset)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m = {.hdr.nmsrs = 1, .e = {.index = MSR_IA32_TSC}};
    uint64_t before = host_tsc_scaled(v);
    if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1) {
        err_set("KVM_GET_MSRS(IA32_TSC) failed: %s", strerror(errno));
        return -1;
    }
    uint64_t after = host_tsc_scaled(v);
    *offset = (int64_t)(m.e.data - (before + (after - before) / 2));
    return 0;
}

/* A KVM that ignores TSC offsets (kvm_pvm shows the guest the host TSC)
 * is detected by reading back: tolerance 1 ms of cycles. */
#define TSC_SET_TOLERANCE (CPU_MODEL_TSC_HZ / 1000)

int kvm_set_guest_tsc(struct cpu *cpu, struct kvm_vcpu *v, uint64_t value)
{
    if (!v->tsc_fixed) {
        int64_t want = (int64_t)(value - host_tsc_scaled(v));
        int rc;
        if (v->has_tsc_offset_attr) {
            struct kvm_device_attr attr = {.group = KVM_VCPU_TSC_CTRL,
                                           .attr = KVM_VCPU_TSC_OFFSET,
                                           .addr = (uint64_t)(uintptr_t)&want};
            rc = ioctl(v->fd, KVM_SET_DEVICE_ATTR, &attr);
        } else {
            struct {
                struct kvm_msrs hdr;
                struct kvm_msr_entry e;
            } m = {.hdr.nmsrs = 1, .e = {.index = MSR_IA32_TSC, .data = value}};
            rc = ioctl(v->fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
        }
        if (rc < 0) {
            err_set("setting the guest TSC failed: %s", strerror(errno));
            return -1;
        }
        if (measure_tsc_offset(v, &v->kvm_tsc_offset) < 0)
            return -1;
        int64_t miss = v->kvm_tsc_offset - want;
        if (miss > -(int64_t)TSC_SET_TOLERANCE && miss < (int64_t)TSC_SET_TOLERANCE)
            return 0;
        v->tsc_fixed = true;
        log_info("%s: KVM does not apply guest TSC offsets (the guest sees the host TSC): "
                 "tandem adopts the guest's TSC as the CPU's TSC",
                 cpu->obj.path);
    }
    /* The guest's TSC cannot move: simulated time's TSC moves to it. */
    cpu->state.tsc_offset += (int64_t)(kvm_guest_tsc_now(v) - value);
    return 0;
}

static void seg_to_kvm(struct kvm_segment *k, const struct x86_segment *s)
{
    memset(k, 0, sizeof(*k));
    k->base = s->base;
    k->limit = s->limit;
    k->selector = s->selector;
    k->type = s->type;
    k->present = s->present;
    k->dpl = s->dpl;
    k->db = s->db;
    k->s = s->s;
    k->l = s->l;
    k->g = s->g;
    k->avl = s->avl;
    k->unusable = s->unusable;
}

static void seg_from_kvm(struct x86_segment *s, const struct kvm_segment *k)
{
    memset(s, 0, sizeof(*s));
    s->base = k->base;
    s->limit = k->limit;
    s->selector = k->selector;
    s->type = k->type;
    s->present = k->present;
    s->dpl = k->dpl;
    s->db = k->db;
    s->s = k->s;
    s->l = k->l;
    s->g = k->g;
    s->avl = k->avl;
    s->unusable = k->unusable;
}

/* struct kvm_regs lists the GPRs in its own order. */
static __u64 *kvm_gpr(struct kvm_regs *r, int i)
{
    __u64 *const map[16] = {&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
                               &r->rsi, &r->rdi, &r->r8,  &r->r9,  &r->r10, &r->r11,
                               &r->r12, &r->r13, &r->r14, &r->r15};
    return map[i];
}

/* Model MSRs KVM keeps for us, and where they live in x86_msrs. TSC,
 * APIC_BASE and TSC_DEADLINE are handled apart (TSC offset, LAPIC), EFER
 * travels in SREGS, FS/GS_BASE in the segment registers. */
static uint64_t *msr_field(struct x86_msrs *m, uint32_t index)
{
    switch (index) {
    case MSR_IA32_SYSENTER_CS: return &m->sysenter_cs;
    case MSR_IA32_SYSENTER_ESP: return &m->sysenter_esp;
    case MSR_IA32_SYSENTER_EIP: return &m->sysenter_eip;
    case MSR_IA32_PAT: return &m->pat;
    case MSR_STAR: return &m->star;
    case MSR_LSTAR: return &m->lstar;
    case MSR_CSTAR: return &m->cstar;
    case MSR_SFMASK: return &m->sfmask;
    case MSR_KERNEL_GS_BASE: return &m->kernel_gs_base;
    default: return NULL;
    }
}

struct msr_list {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[32];
};

static void msr_list_build(struct msr_list *l, struct x86_msrs *m)
{
    l->hdr.nmsrs = 0;
    for (size_t i = 0; i < cpu_model_nmsrs; i++) {
        uint64_t *f = msr_field(m, cpu_model_msrs[i]);
        if (!f)
            continue;
        struct kvm_msr_entry *e = &l->e[l->hdr.nmsrs++];
        memset(e, 0, sizeof(*e));
        e->index = cpu_model_msrs[i];
        e->data = *f;
    }
}

static int msrs_in(struct kvm_vcpu *v, struct x86_state *st)
{
    struct msr_list l;
    msr_list_build(&l, &st->msr);
    int n = ioctl(v->fd, KVM_SET_MSRS, &l);
    if (n != (int)l.hdr.nmsrs) {
        err_set("KVM_SET_MSRS refused MSR %#x (value %#llx)%s%s",
                n >= 0 && n < (int)l.hdr.nmsrs ? l.e[n].index : 0,
                n >= 0 && n < (int)l.hdr.nmsrs ? (unsigned long long)l.e[n].data : 0ULL,
                n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

static int msrs_out(struct kvm_vcpu *v, struct x86_state *st)
{
    struct msr_list l;
    msr_list_build(&l, &st->msr);
    int n = ioctl(v->fd, KVM_GET_MSRS, &l);
    if (n != (int)l.hdr.nmsrs) {
        err_set("KVM_GET_MSRS could not read MSR %#x%s%s",
                n >= 0 && n < (int)l.hdr.nmsrs ? l.e[n].index : 0, n < 0 ? ": " : "",
                n < 0 ? strerror(errno) : "");
        return -1;
    }
    for (unsigned i = 0; i < l.hdr.nmsrs; i++)
        *msr_field(&st->msr, l.e[i].index) = l.e[i].data;
    return 0;
}

/* KVM's shadow bits are the other way round from ours. */
static uint8_t shadow_to_kvm(uint8_t s)
{
    return (uint8_t)(((s & X86_SHADOW_STI) ? KVM_X86_SHADOW_INT_STI : 0) |
                     ((s & X86_SHADOW_MOV_SS) ? KVM_X86_SHADOW_INT_MOV_SS : 0));
}

static uint8_t shadow_from_kvm(uint8_t k)
{
    return (uint8_t)(((k & KVM_X86_SHADOW_INT_STI) ? X86_SHADOW_STI : 0) |
                     ((k & KVM_X86_SHADOW_INT_MOV_SS) ? X86_SHADOW_MOV_SS : 0));
}

static int events_in(struct kvm_vcpu *v, const struct x86_state *st)
{
    const struct x86_events *e = &st->ev;
    struct kvm_vcpu_events k;
    memset(&k, 0, sizeof(k));
    k.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    if (e->exception_pending) {
        k.exception.nr = e->exception_vector;
        k.exception.has_error_code = e->exception_has_error;
        k.exception.error_code = e->exception_error;
        /* With payloads a raised-but-undelivered exception is "pending"
         * (CR2/DR6 change at delivery); without, KVM only knows injected. */
        if (v->vm->exception_payload)
            k.exception.pending = 1;
        else
            k.exception.injected = 1;
    }
    if (v->vm->exception_payload) {
        k.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
        k.exception_has_payload = e->exception_pending && e->exception_has_payload;
        k.exception_payload = e->exception_payload;
    } else if (e->exception_pending && e->exception_has_payload) {
        err_set("a pending exception with a payload needs KVM_CAP_EXCEPTION_PAYLOAD");
        return -1;
    }
    k.interrupt.injected = e->interrupt_injected;
    k.interrupt.nr = e->interrupt_vector;
    k.interrupt.shadow = shadow_to_kvm(e->interrupt_shadow);
    k.nmi.injected = e->nmi_injected;
    k.nmi.pending = e->nmi_pending;
    k.nmi.masked = e->nmi_masked;
    return vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &k, "KVM_SET_VCPU_EVENTS");
}

static int events_out(struct kvm_vcpu *v, struct x86_state *st)
{
    struct kvm_vcpu_events k;
    if (vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &k, "KVM_GET_VCPU_EVENTS") < 0)
        return -1;
    struct x86_events *e = &st->ev;
    memset(e, 0, sizeof(*e));
    e->exception_pending = k.exception.pending || k.exception.injected;
    if (e->exception_pending) {
        e->exception_vector = k.exception.nr;
        e->exception_has_error = k.exception.has_error_code;
        e->exception_error = k.exception.error_code;
        if ((k.flags & KVM_VCPUEVENT_VALID_PAYLOAD) && k.exception_has_payload) {
            e->exception_has_payload = true;
            e->exception_payload = k.exception_payload;
        }
    }
    e->interrupt_injected = k.interrupt.injected;
    e->interrupt_vector = k.interrupt.injected ? k.interrupt.nr : 0;
    e->interrupt_shadow = shadow_from_kvm(k.interrupt.shadow);
    e->nmi_injected = k.nmi.injected;
    e->nmi_pending = k.nmi.pending;
    e->nmi_masked = k.nmi.masked;
    return 0;
}

static int fpu_in(struct kvm_vcpu *v, const struct x86_state *st)
{
    static struct kvm_xsave xs; /* 4 KiB: not on the stack */
    if (vcpu_ioctl(v, KVM_GET_XSAVE, &xs, "KVM_GET_XSAVE") < 0)
        return -1;
    struct x86_fxsave fx = st->fx;
    /* The guest runs on the host's SSE unit: an MXCSR the host does not
     * implement (a state from a model with MM moved to a host without
     * it) would fail KVM_SET_XSAVE with a bare EINVAL. */
    uint32_t host_mask = cpu_model_host_mxcsr_mask();
    if (fx.mxcsr & ~host_mask) {
        err_set("KVM: MXCSR 0x%x has bits this host's SSE unit lacks (its MXCSR_MASK is 0x%x)",
                fx.mxcsr, host_mask);
        return -1;
    }
    /* MXCSR_MASK is the hardware's, not state: keep what KVM reports (the
     * guest's own FXSAVE stores the host's mask whatever the model says:
     * docs/lockstep.md, "MXCSR_MASK"). */
    memcpy(&fx.mxcsr_mask, (uint8_t *)xs.region + offsetof(struct x86_fxsave, mxcsr_mask),
           sizeof(fx.mxcsr_mask));
    memcpy(xs.region, &fx, sizeof(fx));
    /* XSTATE_BV (XSAVE header at byte 512): x87 and SSE are present, so
     * KVM loads them rather than their init values. */
    uint64_t xstate_bv;
    memcpy(&xstate_bv, (uint8_t *)xs.region + 512, sizeof(xstate_bv));
    xstate_bv |= 3;
    memcpy((uint8_t *)xs.region + 512, &xstate_bv, sizeof(xstate_bv));
    return vcpu_ioctl(v, KVM_SET_XSAVE, &xs, "KVM_SET_XSAVE");
}

static int fpu_out(struct kvm_vcpu *v, struct x86_state *st)
{
    static struct kvm_xsave xs;
    if (vcpu_ioctl(v, KVM_GET_XSAVE, &xs, "KVM_GET_XSAVE") < 0)
        return -1;
    uint32_t mask = st->fx.mxcsr_mask;
    memcpy(&st->fx, xs.region, sizeof(st->fx));
    st->fx.mxcsr_mask = mask;
    return 0;
}

static int xcr0_in(struct kvm_vcpu *v, const struct x86_state *st)
{
    struct kvm_xcrs x;
    memset(&x, 0, sizeof(x));
    x.nr_xcrs = 1;
    x.xcrs[0].xcr = 0;
    x.xcrs[0].value = st->xcr0;
    return vcpu_ioctl(v, KVM_SET_XCRS, &x, "KVM_SET_XCRS");
}

static int xcr0_out(struct kvm_vcpu *v, struct x86_state *st)
{
    struct kvm_xcrs x;
    if (vcpu_ioctl(v, KVM_GET_XCRS, &x, "KVM_GET_XCRS") < 0)
        return -1;
    for (unsigned i = 0; i < x.nr_xcrs; i++)
        if (x.xcrs[i].xcr == 0)
            st->xcr0 = x.xcrs[i].value;
    return 0;
}

static int debugregs_in(struct kvm_vcpu *v, const struct x86_state *st)
{
    struct kvm_debugregs d;
    memset(&d, 0, sizeof(d));
    for (int i = 0; i < 4; i++)
        d.db[i] = st->dr[i];
    d.dr6 = st->dr[6];
    d.dr7 = st->dr[7];
    return vcpu_ioctl(v, KVM_SET_DEBUGREGS, &d, "KVM_SET_DEBUGREGS");
}

static int debugregs_out(struct kvm_vcpu *v, struct x86_state *st)
{
    struct kvm_debugregs d;
    if (vcpu_ioctl(v, KVM_GET_DEBUGREGS, &d, "KVM_GET_DEBUGREGS") < 0)
        return -1;
    for (int i = 0; i < 4; i++)
        st->dr[i] = d.db[i];
    st->dr[6] = d.dr6;
    st->dr[7] = d.dr7;
    return 0;
}

int kvm_state_in(struct cpu *cpu)
{
    struct kvm_vcpu *v = kvm_vcpu_of(cpu);
    struct x86_state *st = &cpu->state;
    /* A half-finished exit would otherwise land on the new state. */
    if (kvm_complete_exit(v) < 0)
        return -1;

    struct kvm_sregs sr;
    if (vcpu_ioctl(v, KVM_GET_SREGS, &sr, "KVM_GET_SREGS") < 0)
        return -1;
    const int order[S_NSEGS] = {S_ES, S_CS, S_SS, S_DS, S_FS, S_GS};
    struct kvm_segment *ksegs[S_NSEGS] = {&sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs};
    for (int i = 0; i < S_NSEGS; i++)
        seg_to_kvm(ksegs[i], &st->seg[order[i]]);
    seg_to_kvm(&sr.ldt, &st->ldtr);
    seg_to_kvm(&sr.tr, &st->tr);
    sr.gdt.base = st->gdtr.base;
    sr.gdt.limit = st->gdtr.limit;
    sr.idt.base = st->idtr.base;
    sr.idt.limit = st->idtr.limit;
    memset(sr.gdt.padding, 0, sizeof(sr.gdt.padding));
    memset(sr.idt.padding, 0, sizeof(sr.idt.padding));
    sr.cr0 = st->cr0;
    sr.cr2 = st->cr2;
    sr.cr3 = st->cr3;
    sr.cr4 = st->cr4;
    sr.cr8 = cpu->intr ? (uint64_t)(cpu->intr->ops->get_tpr(cpu->intr->lapic) >> 4) : st->cr8;
    sr.efer = st->msr.efer;
    sr.apic_base = cpu->intr ? cpu->intr->ops->get_base(cpu->intr->lapic) : st->msr.apic_base;
    v->apic_base = st->msr.apic_base;
    /* Injected interrupts travel in VCPU_EVENTS. */
    memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
    if (vcpu_ioctl(v, KVM_SET_SREGS, &sr, "KVM_SET_SREGS") < 0)
        return -1;

    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 16; i++)
        *kvm_gpr(&r, i) = st->gpr[i];
    r.rip = st->rip;
    r.rflags = st->rflags;
    if (vcpu_ioctl(v, KVM_SET_REGS, &r, "KVM_SET_REGS") < 0)
        return -1;

    if (xcr0_in(v, st) < 0 || fpu_in(v, st) < 0 || msrs_in(v, st) < 0 || debugregs_in(v, st) < 0 ||
        events_in(v, st) < 0)
        return -1;
    if (kvm_set_guest_tsc(cpu, v, cpu_tsc_at(cpu, sim_now(cpu->obj.sim))) < 0)
        return -1;
    v->halted = st->run_state == X86_HALTED;
    v->guest_if = (st->rflags & X86_FLAG_IF) != 0;
    v->ud_entry_pending = true;
    v->ud_entry_rip = st->rip;
    return 0;
}

int kvm_state_out(struct cpu *cpu)
{
    struct kvm_vcpu *v = kvm_vcpu_of(cpu);
    struct x86_state *st = &cpu->state;
    if (kvm_complete_exit(v) < 0)
        return -1;

    struct kvm_regs r;
    if (vcpu_ioctl(v, KVM_GET_REGS, &r, "KVM_GET_REGS") < 0)
        return -1;
    for (int i = 0; i < 16; i++)
        st->gpr[i] = *kvm_gpr(&r, i);
    st->rip = r.rip;
    st->rflags = r.rflags;

    struct kvm_sregs sr;
    if (vcpu_ioctl(v, KVM_GET_SREGS, &sr, "KVM_GET_SREGS") < 0)
        return -1;
    const int order[S_NSEGS] = {S_ES, S_CS, S_SS, S_DS, S_FS, S_GS};
    const struct kvm_segment *ksegs[S_NSEGS] = {&sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs};
    for (int i = 0; i < S_NSEGS; i++)
        seg_from_kvm(&st->seg[order[i]], ksegs[i]);
    seg_from_kvm(&st->ldtr, &sr.ldt);
    seg_from_kvm(&st->tr, &sr.tr);
    st->gdtr.base = sr.gdt.base;
    st->gdtr.limit = sr.gdt.limit;
    st->idtr.base = sr.idt.base;
    st->idtr.limit = sr.idt.limit;
    st->cr0 = sr.cr0;
    st->cr2 = sr.cr2;
    st->cr3 = sr.cr3;
    st->cr4 = sr.cr4;
    st->cr8 = sr.cr8;
    st->msr.efer = sr.efer;
    st->msr.apic_base = cpu->intr ? cpu->intr->ops->get_base(cpu->intr->lapic) : v->apic_base;

    if (xcr0_out(v, st) < 0 || fpu_out(v, st) < 0 || msrs_out(v, st) < 0 ||
        debugregs_out(v, st) < 0 || events_out(v, st) < 0)
        return -1;
    /* A guest TSC that ran ahead of simulated time (a kick arrives a little
     * after the deadline) keeps its lead: it is folded into the offset so
     * the TSC never steps back. One that lags (time passed while halted or
     * between runs) takes simulated time's value, as it would have at the
     * next run. */
    uint64_t model_cycles = cpu_tsc_at(cpu, sim_now(cpu->obj.sim)) - (uint64_t)st->tsc_offset;
    int64_t lead_offset = (int64_t)(kvm_guest_tsc_now(v) - model_cycles);
    if (lead_offset > st->tsc_offset)
        st->tsc_offset = lead_offset;
    st->run_state = v->halted ? X86_HALTED : X86_RUNNABLE;
    return 0;
}
