#include "cpu/state.h"

#include <string.h>

#include "cpu/model.h"
#include "sim/object.h"
#include "sim/serialize.h"

static void seg_set(struct x86_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
                    uint8_t type, uint8_t code_l, uint8_t db, uint8_t g)
{
    memset(s, 0, sizeof(*s));
    s->selector = sel;
    s->base = base;
    s->limit = limit;
    s->type = type;
    s->s = 1;
    s->present = 1;
    s->l = code_l;
    s->db = db;
    s->g = g;
}

void x86_state_reset(struct x86_state *s)
{
    memset(s, 0, sizeof(*s));
    s->rip = 0xfff0;
    s->rflags = X86_FLAG_FIXED;
    s->gpr[R_RDX] = 0x600; /* family/model/stepping is implementation-specific */
    for (int i = 0; i < S_NSEGS; i++)
        seg_set(&s->seg[i], 0, 0, 0xffff, 0x3, 0, 0, 0); /* data, read/write, accessed */
    seg_set(&s->seg[S_CS], 0xf000, 0xffff0000, 0xffff, 0xb, 0, 0, 0);
    s->ldtr.type = 2;
    s->ldtr.present = 1;
    s->ldtr.limit = 0xffff;
    s->tr.type = 0xb; /* busy 32-bit TSS, as KVM and the SDM's reset state expect */
    s->tr.present = 1;
    s->tr.limit = 0xffff;
    s->gdtr.limit = s->idtr.limit = 0xffff;
    s->cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
    s->dr[6] = 0xffff0ff0;
    s->dr[7] = 0x400;
    s->xcr0 = 1;
    s->msr.pat = 0x0007040600070406ULL;
    s->msr.apic_base = 0xfee00000 | (1u << 11) | (1u << 8); /* enabled, BSP */
    s->fx.fcw = 0x37f;
    s->fx.mxcsr = 0x1f80;
    s->fx.mxcsr_mask = cpu_model_mxcsr_mask();
}

void x86_state_long_mode(struct x86_state *s, uint64_t cr3, uint64_t rip, uint64_t rsp)
{
    for (int i = 0; i < S_NSEGS; i++)
        seg_set(&s->seg[i], 0x18, 0, 0xffffffff, 0x3, 0, 1, 1);
    seg_set(&s->seg[S_CS], 0x10, 0, 0xffffffff, 0xb, 1, 0, 1);
    s->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
    s->cr3 = cr3;
    s->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    s->msr.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE | X86_EFER_NXE;
    s->rip = rip;
    s->gpr[R_RSP] = rsp;
    s->rflags = X86_FLAG_FIXED;
    s->run_state = X86_RUNNABLE;
}

static void put_seg(struct ser_node *n, const char *name, const struct x86_segment *sg)
{
    struct ser_node *c = ser_child(n, name);
    SER_PUT(c, sg, base);
    SER_PUT(c, sg, limit);
    SER_PUT(c, sg, selector);
    /* Not "type": sim_unserialize takes nodes with a "type" property for
     * sim objects. */
    ser_put_u64(c, "seg_type", sg->type);
    SER_PUT(c, sg, s);
    SER_PUT(c, sg, dpl);
    SER_PUT(c, sg, present);
    SER_PUT(c, sg, avl);
    SER_PUT(c, sg, l);
    SER_PUT(c, sg, db);
    SER_PUT(c, sg, g);
    SER_PUT(c, sg, unusable);
}

static int get_seg(const struct ser_node *n, const char *name, struct x86_segment *sg)
{
    const struct ser_node *c = ser_find_child(n, name);
    if (!c) {
        err_set("checkpoint node '%s' lacks segment '%s'", n->path, name);
        return -1;
    }
    return SER_GET(c, sg, base) | SER_GET(c, sg, limit) | SER_GET(c, sg, selector) |
           ser_get_uint(c, "seg_type", &sg->type, sizeof(sg->type)) | SER_GET(c, sg, s) | SER_GET(c, sg, dpl) |
           SER_GET(c, sg, present) | SER_GET(c, sg, avl) | SER_GET(c, sg, l) |
           SER_GET(c, sg, db) | SER_GET(c, sg, g) | SER_GET(c, sg, unusable);
}

static const char *const seg_names[S_NSEGS] = {"es", "cs", "ss", "ds", "fs", "gs"};

void x86_state_serialize(const struct x86_state *s, struct ser_node *n)
{
    SER_PUT_ARRAY(n, s, gpr);
    SER_PUT(n, s, rip);
    SER_PUT(n, s, rflags);
    for (int i = 0; i < S_NSEGS; i++)
        put_seg(n, seg_names[i], &s->seg[i]);
    put_seg(n, "ldtr", &s->ldtr);
    put_seg(n, "tr", &s->tr);
    SER_PUT(n, s, gdtr.base);
    SER_PUT(n, s, gdtr.limit);
    SER_PUT(n, s, idtr.base);
    SER_PUT(n, s, idtr.limit);
    SER_PUT(n, s, cr0);
    SER_PUT(n, s, cr2);
    SER_PUT(n, s, cr3);
    SER_PUT(n, s, cr4);
    SER_PUT(n, s, cr8);
    SER_PUT_ARRAY(n, s, dr);
    SER_PUT(n, s, xcr0);
    ser_put_bytes(n, "msr", &s->msr, sizeof(s->msr));
    ser_put_bytes(n, "fxsave", &s->fx, sizeof(s->fx));
    SER_PUT(n, s, ev.exception_pending);
    SER_PUT(n, s, ev.exception_vector);
    SER_PUT(n, s, ev.exception_has_error);
    SER_PUT(n, s, ev.exception_error);
    SER_PUT(n, s, ev.exception_payload);
    SER_PUT(n, s, ev.exception_has_payload);
    SER_PUT(n, s, ev.interrupt_injected);
    SER_PUT(n, s, ev.interrupt_vector);
    SER_PUT(n, s, ev.nmi_pending);
    SER_PUT(n, s, ev.nmi_injected);
    SER_PUT(n, s, ev.nmi_masked);
    SER_PUT(n, s, ev.interrupt_shadow);
    SER_PUT(n, s, run_state);
    SER_PUT(n, s, tsc_offset);
}

int x86_state_unserialize(struct x86_state *s, const struct ser_node *n)
{
    int rc = SER_GET_ARRAY(n, s, gpr) | SER_GET(n, s, rip) | SER_GET(n, s, rflags);
    for (int i = 0; i < S_NSEGS && !rc; i++)
        rc |= get_seg(n, seg_names[i], &s->seg[i]);
    if (rc || get_seg(n, "ldtr", &s->ldtr) || get_seg(n, "tr", &s->tr))
        return -1;
    rc = SER_GET(n, s, gdtr.base) | SER_GET(n, s, gdtr.limit) | SER_GET(n, s, idtr.base) |
         SER_GET(n, s, idtr.limit) | SER_GET(n, s, cr0) | SER_GET(n, s, cr2) |
         SER_GET(n, s, cr3) | SER_GET(n, s, cr4) | SER_GET(n, s, cr8) |
         SER_GET_ARRAY(n, s, dr) | SER_GET(n, s, xcr0) |
         ser_get_bytes(n, "msr", &s->msr, sizeof(s->msr)) |
         ser_get_bytes(n, "fxsave", &s->fx, sizeof(s->fx)) |
         SER_GET(n, s, ev.exception_pending) | SER_GET(n, s, ev.exception_vector) |
         SER_GET(n, s, ev.exception_has_error) | SER_GET(n, s, ev.exception_error) |
         SER_GET(n, s, ev.exception_payload) | SER_GET(n, s, ev.exception_has_payload) |
         SER_GET(n, s, ev.interrupt_injected) | SER_GET(n, s, ev.interrupt_vector) |
         SER_GET(n, s, ev.nmi_pending) | SER_GET(n, s, ev.nmi_injected) |
         SER_GET(n, s, ev.nmi_masked) | SER_GET(n, s, ev.interrupt_shadow) |
         SER_GET(n, s, run_state) | SER_GET(n, s, tsc_offset);
    return rc ? -1 : 0;
}
