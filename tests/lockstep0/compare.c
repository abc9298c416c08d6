/* State comparison and undefined-flag masks for the KVM lockstep oracle
 * (tests/lockstep0/compare.h). The undefined flags follow the AMD64 APM
 * Vol. 3 flag tables (this host is AMD); where Intel and AMD differ the
 * union is masked. */
#include "compare.h"

#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define F_CF X86_FLAG_CF
#define F_PF X86_FLAG_PF
#define F_AF X86_FLAG_AF
#define F_ZF X86_FLAG_ZF
#define F_SF X86_FLAG_SF
#define F_OF X86_FLAG_OF

void insn_decode(struct insn_info *in, uint64_t rip, const uint8_t *bytes, size_t n, unsigned bits)
{
    memset(in, 0, sizeof(*in));
    in->rip = rip;
    memcpy(in->bytes, bytes, n < 16 ? n : 16);
    csh h;
    cs_mode mode = bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16;
    if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) {
        snprintf(in->text, sizeof(in->text), "(capstone unavailable)");
        return;
    }
    cs_insn *insn;
    if (cs_disasm(h, bytes, n, rip, 1, &insn) == 1) {
        in->len = insn->size;
        snprintf(in->mnemonic, sizeof(in->mnemonic), "%s", insn->mnemonic);
        snprintf(in->text, sizeof(in->text), "%.31s %.160s", insn->mnemonic, insn->op_str);
        const char *m = insn->mnemonic;
        bool rep = strncmp(m, "rep", 3) == 0;
        const char *ops[] = {"movs", "stos", "lods", "cmps", "scas", "ins", "outs"};
        for (size_t i = 0; rep && i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strstr(m, ops[i]))
                in->rep_string = true;
        cs_free(insn, 1);
    } else {
        snprintf(in->text, sizeof(in->text), "(capstone cannot decode)");
    }
    cs_close(&h);
}

static bool starts(const char *m, const char *prefix)
{
    return strncmp(m, prefix, strlen(prefix)) == 0;
}

static bool is(const char *m, const char *name)
{
    return strcmp(m, name) == 0;
}

uint64_t insn_flags_mask(const struct insn_info *in)
{
    uint64_t mask = X86_FLAG_TF | X86_FLAG_RF;
    const char *m = in->mnemonic;
    if (is(m, "mul") || is(m, "imul"))
        mask |= F_SF | F_ZF | F_AF | F_PF;
    else if (is(m, "div") || is(m, "idiv"))
        mask |= F_CF | F_OF | F_SF | F_ZF | F_AF | F_PF;
    else if (is(m, "bsf") || is(m, "bsr"))
        mask |= F_CF | F_OF | F_SF | F_AF | F_PF;
    else if (is(m, "bt") || is(m, "bts") || is(m, "btr") || is(m, "btc"))
        mask |= F_OF | F_SF | F_ZF | F_AF | F_PF;
    else if (is(m, "shl") || is(m, "sal") || is(m, "shr") || is(m, "sar"))
        mask |= F_OF | F_AF; /* OF for counts other than 1; AF always */
    else if (is(m, "rol") || is(m, "ror") || is(m, "rcl") || is(m, "rcr"))
        mask |= F_OF;
    else if (is(m, "shld") || is(m, "shrd"))
        mask |= F_OF | F_AF | F_CF;
    else if (is(m, "and") || is(m, "or") || is(m, "xor") || is(m, "test"))
        mask |= F_AF;
    else if (is(m, "aaa") || is(m, "aas"))
        mask |= F_OF | F_SF | F_ZF | F_PF;
    else if (is(m, "daa") || is(m, "das"))
        mask |= F_OF;
    else if (is(m, "aam") || is(m, "aad"))
        mask |= F_OF | F_AF | F_CF;
    else if (starts(m, "lzcnt") || starts(m, "tzcnt") || starts(m, "popcnt"))
        mask |= 0;
    return mask;
}

static void add(struct state_diff *d, const char *field, uint64_t e, uint64_t a)
{
    if (e == a || d->n == DIFF_MAX)
        return;
    snprintf(d->field[d->n], sizeof(d->field[0]), "%s", field);
    d->expected[d->n] = e;
    d->actual[d->n] = a;
    d->n++;
}

static void add_seg(struct state_diff *d, const char *name, const struct x86_segment *e,
                    const struct x86_segment *a)
{
    char f[24];
#define SEGF(x)                                          \
    snprintf(f, sizeof(f), "%s.%s", name, #x);           \
    add(d, f, e->x, a->x);
    SEGF(selector) SEGF(base) SEGF(limit) SEGF(type) SEGF(s) SEGF(dpl) SEGF(present) SEGF(l)
    SEGF(db) SEGF(g) SEGF(unusable)
#undef SEGF
}

static uint64_t bytes_at(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

unsigned state_compare(const struct x86_state *k, const struct x86_state *i, uint64_t flags_mask,
                       struct state_diff *d)
{
    static const char *const gpr[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    static const char *const seg[S_NSEGS] = {"es", "cs", "ss", "ds", "fs", "gs"};
    char f[24];
    memset(d, 0, sizeof(*d));
    for (int r = 0; r < 16; r++)
        add(d, gpr[r], k->gpr[r], i->gpr[r]);
    add(d, "rip", k->rip, i->rip);
    add(d, "rflags", k->rflags & ~flags_mask, i->rflags & ~flags_mask);
    for (int s = 0; s < S_NSEGS; s++) {
        /* A null selector in a data segment register: AMD keeps the old
         * hidden attributes (KVM reports them usable), Intel marks the
         * register unusable; neither is visible to 64-bit code, so only the
         * selector (and the FS/GS base, which the MSRs set) is compared. */
        bool null_data = s != S_CS && (k->seg[s].selector & ~3) == 0 &&
                         (i->seg[s].selector & ~3) == 0;
        if (null_data) {
            snprintf(f, sizeof(f), "%s.selector", seg[s]);
            add(d, f, k->seg[s].selector, i->seg[s].selector);
            snprintf(f, sizeof(f), "%s.base", seg[s]);
            if (s == S_FS || s == S_GS)
                add(d, f, k->seg[s].base, i->seg[s].base);
            continue;
        }
        add_seg(d, seg[s], &k->seg[s], &i->seg[s]);
    }
    add_seg(d, "ldtr", &k->ldtr, &i->ldtr);
    add_seg(d, "tr", &k->tr, &i->tr);
    add(d, "gdtr.base", k->gdtr.base, i->gdtr.base);
    add(d, "gdtr.limit", k->gdtr.limit, i->gdtr.limit);
    add(d, "idtr.base", k->idtr.base, i->idtr.base);
    add(d, "idtr.limit", k->idtr.limit, i->idtr.limit);
    add(d, "cr0", k->cr0, i->cr0);
    add(d, "cr2", k->cr2, i->cr2);
    add(d, "cr3", k->cr3, i->cr3);
    add(d, "cr4", k->cr4, i->cr4);
    add(d, "cr8", k->cr8, i->cr8);
    for (int r = 0; r < 4; r++) {
        snprintf(f, sizeof(f), "dr%d", r);
        add(d, f, k->dr[r], i->dr[r]);
    }
    add(d, "dr7", k->dr[7], i->dr[7]);
    add(d, "xcr0", k->xcr0, i->xcr0);
    add(d, "efer", k->msr.efer, i->msr.efer);
    add(d, "star", k->msr.star, i->msr.star);
    add(d, "lstar", k->msr.lstar, i->msr.lstar);
    add(d, "cstar", k->msr.cstar, i->msr.cstar);
    add(d, "sfmask", k->msr.sfmask, i->msr.sfmask);
    add(d, "kernel_gs_base", k->msr.kernel_gs_base, i->msr.kernel_gs_base);
    add(d, "sysenter_cs", k->msr.sysenter_cs, i->msr.sysenter_cs);
    add(d, "sysenter_esp", k->msr.sysenter_esp, i->msr.sysenter_esp);
    add(d, "sysenter_eip", k->msr.sysenter_eip, i->msr.sysenter_eip);
    add(d, "pat", k->msr.pat, i->msr.pat);
    add(d, "apic_base", k->msr.apic_base, i->msr.apic_base);
    add(d, "fcw", k->fx.fcw, i->fx.fcw);
    add(d, "fsw", k->fx.fsw, i->fx.fsw);
    add(d, "ftw", k->fx.ftw, i->fx.ftw);
    /* AMD saves FOP/FIP/FDP (FXSAVE/XSAVE, hence KVM's view) only while an
     * unmasked x87 exception is pending (FSW.ES); otherwise they read 0. */
    if ((k->fx.fsw | i->fx.fsw) & 0x80) {
        add(d, "fop", k->fx.fop, i->fx.fop);
        add(d, "fip", k->fx.fip, i->fx.fip);
        add(d, "fdp", k->fx.fdp, i->fx.fdp);
    }
    add(d, "mxcsr", k->fx.mxcsr, i->fx.mxcsr);
    for (int r = 0; r < 8; r++) {
        snprintf(f, sizeof(f), "st%d.mant", r);
        add(d, f, bytes_at(k->fx.st[r].bytes, 8), bytes_at(i->fx.st[r].bytes, 8));
        snprintf(f, sizeof(f), "st%d.exp", r);
        add(d, f, bytes_at(k->fx.st[r].bytes + 8, 2), bytes_at(i->fx.st[r].bytes + 8, 2));
    }
    for (int r = 0; r < 16; r++) {
        snprintf(f, sizeof(f), "xmm%d.lo", r);
        add(d, f, bytes_at(k->fx.xmm[r], 8), bytes_at(i->fx.xmm[r], 8));
        snprintf(f, sizeof(f), "xmm%d.hi", r);
        add(d, f, bytes_at(k->fx.xmm[r] + 8, 8), bytes_at(i->fx.xmm[r] + 8, 8));
    }
    add(d, "exception_pending", k->ev.exception_pending, i->ev.exception_pending);
    add(d, "interrupt_injected", k->ev.interrupt_injected, i->ev.interrupt_injected);
    add(d, "nmi_pending", k->ev.nmi_pending, i->ev.nmi_pending);
    add(d, "nmi_masked", k->ev.nmi_masked, i->ev.nmi_masked);
    add(d, "run_state", k->run_state, i->run_state);
    return d->n;
}

void state_report(const struct x86_state *k, const struct x86_state *i, const struct state_diff *d)
{
    printf("differing fields (%u):\n", d->n);
    for (unsigned n = 0; n < d->n; n++)
        printf("  %-18s kvm %#018" PRIx64 "  interp %#018" PRIx64 "\n", d->field[n], d->expected[n],
               d->actual[n]);
    static const char *const gpr[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    printf("state            kvm                 interp\n");
    for (int r = 0; r < 16; r++)
        printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", gpr[r], k->gpr[r], i->gpr[r]);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "rip", k->rip, i->rip);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "rflags", k->rflags, i->rflags);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "cr0", k->cr0, i->cr0);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "cr3", k->cr3, i->cr3);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "cr4", k->cr4, i->cr4);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "efer", k->msr.efer, i->msr.efer);
    printf("  %-6s %#018" PRIx64 "  %#018" PRIx64 "\n", "cs", (uint64_t)k->seg[S_CS].selector,
           (uint64_t)i->seg[S_CS].selector);
}
