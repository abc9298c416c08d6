/* KVM engine state transfer: a rich architectural state goes into a vCPU
 * and comes back out unchanged, field by field. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <x86intrin.h>

#include "kvm_testlib.h"
#include "testlib.h"

static void fill_segment(struct x86_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
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

static void rich_state(struct x86_state *st)
{
    x86_state_reset(st);
    x86_state_long_mode(st, 0x9000, 0xffffffff81001234ULL, 0xffffc90000013f00ULL);
    for (int i = 0; i < 16; i++)
        st->gpr[i] = 0x0101010101010101ULL * (uint64_t)(i + 1) + 0x1000 * (uint64_t)i;
    st->gpr[R_RSP] = 0xffffc90000013f00ULL;
    st->rflags = X86_FLAG_FIXED | X86_FLAG_IF | X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_OF;
    fill_segment(&st->seg[S_CS], 0x10, 0, 0xffffffff, 0xb, 1, 0, 1);
    fill_segment(&st->seg[S_FS], 0, 0x7fff12340000ULL, 0xffffffff, 0x3, 0, 1, 1);
    fill_segment(&st->seg[S_GS], 0, 0xffff888812340000ULL, 0xffffffff, 0x3, 0, 1, 1);
    memset(&st->tr, 0, sizeof(st->tr));
    st->tr.selector = 0x40;
    st->tr.base = 0xfffffe0000003000ULL;
    st->tr.limit = 0x67;
    st->tr.type = 0xb;
    st->tr.present = 1;
    memset(&st->ldtr, 0, sizeof(st->ldtr));
    st->ldtr.selector = 0x50;
    st->ldtr.base = 0xfffffe0000004000ULL;
    st->ldtr.limit = 0xfff;
    st->ldtr.type = 2;
    st->ldtr.present = 1;
    st->gdtr.base = 0xfffffe0000001000ULL;
    st->gdtr.limit = 0x7f;
    st->idtr.base = 0xfffffe0000000000ULL;
    st->idtr.limit = 0xfff;
    st->cr0 |= X86_CR0_TS | X86_CR0_AM;
    st->cr2 = 0xdeadb000;
    st->cr4 |= X86_CR4_PGE | X86_CR4_DE | X86_CR4_PSE;
    st->cr8 = 5;
    st->dr[0] = 0x401000;
    st->dr[1] = 0x402000;
    st->dr[3] = 0x403000;
    st->dr[6] = 0xffff0ff1;
    st->dr[7] = 0x00010401;
    st->msr.star = 0x0023001000000000ULL;
    st->msr.lstar = 0xffffffff81a00000ULL;
    st->msr.cstar = 0xffffffff81a00100ULL;
    st->msr.sfmask = 0x47700;
    st->msr.kernel_gs_base = 0xffff888000000000ULL;
    st->msr.sysenter_cs = 0x10;
    st->msr.sysenter_esp = 0xffff0000;
    st->msr.sysenter_eip = 0xffff1000;
    st->msr.pat = 0x0007010600070106ULL;
    /* x87: TOP=6, ST(0)=pi, ST(1)=a quiet NaN with a payload (80-bit, exact). */
    static const uint8_t pi80[10] = {0x35, 0xc2, 0x68, 0x21, 0xa2, 0xda, 0x0f, 0xc9, 0x00, 0x40};
    static const uint8_t nan80[10] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0x7f};
    st->fx.fcw = 0x027f;
    st->fx.fsw = 6 << 11;
    st->fx.ftw = 0xc0;
    st->fx.fop = 0x07d9;
    st->fx.fip = 0x401234;
    st->fx.fdp = 0x605678;
    st->fx.mxcsr = 0x1fa0;
    memcpy(st->fx.st[0].bytes, pi80, 10);
    memcpy(st->fx.st[1].bytes, nan80, 10);
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 16; b++)
            st->fx.xmm[r][b] = (uint8_t)(r * 16 + b * 7 + 3);
    st->ev.exception_pending = true;
    st->ev.exception_vector = X86_PF;
    st->ev.exception_has_error = true;
    st->ev.exception_error = 2;
    st->ev.exception_has_payload = true;
    st->ev.exception_payload = 0xdeadb000;
    st->ev.interrupt_shadow = X86_SHADOW_STI;
    st->ev.nmi_masked = true;
    st->run_state = X86_HALTED;
    st->tsc_offset = 1000000000000LL;
}

#define CHECK_FIELD(f)                                                                            \
    do {                                                                                          \
        if (memcmp(&a->f, &b->f, sizeof(a->f)) != 0) {                                           \
            snprintf(diff, len, "%s differs", #f);                                               \
            return false;                                                                         \
        }                                                                                         \
    } while (0)

static bool seg_equal(const char *name, const struct x86_segment *x, const struct x86_segment *y,
                      char *diff, size_t len)
{
    if (memcmp(x, y, sizeof(*x)) == 0)
        return true;
    snprintf(diff, len,
             "%s differs: in sel %#x base %#llx limit %#x type %u s%u dpl%u p%u avl%u l%u db%u g%u u%u"
             " / out sel %#x base %#llx limit %#x type %u s%u dpl%u p%u avl%u l%u db%u g%u u%u",
             name, x->selector, (unsigned long long)x->base, x->limit, x->type, x->s, x->dpl,
             x->present, x->avl, x->l, x->db, x->g, x->unusable, y->selector,
             (unsigned long long)y->base, y->limit, y->type, y->s, y->dpl, y->present, y->avl,
             y->l, y->db, y->g, y->unusable);
    return false;
}

/* Reports the first field that differs. The TSC may run ahead by the host
 * time the test took (it never runs back). */
static bool state_equal(const struct x86_state *a, const struct x86_state *b, char *diff,
                        size_t len)
{
    for (int i = 0; i < 16; i++)
        if (a->gpr[i] != b->gpr[i]) {
            snprintf(diff, len, "gpr[%d] %#llx != %#llx", i, (unsigned long long)a->gpr[i],
                     (unsigned long long)b->gpr[i]);
            return false;
        }
    CHECK_FIELD(rip);
    CHECK_FIELD(rflags);
    static const char *const names[S_NSEGS] = {"es", "cs", "ss", "ds", "fs", "gs"};
    for (int i = 0; i < S_NSEGS; i++)
        if (!seg_equal(names[i], &a->seg[i], &b->seg[i], diff, len))
            return false;
    if (!seg_equal("ldtr", &a->ldtr, &b->ldtr, diff, len) ||
        !seg_equal("tr", &a->tr, &b->tr, diff, len))
        return false;
    CHECK_FIELD(gdtr.base);
    CHECK_FIELD(gdtr.limit);
    CHECK_FIELD(idtr.base);
    CHECK_FIELD(idtr.limit);
    CHECK_FIELD(cr0);
    CHECK_FIELD(cr2);
    CHECK_FIELD(cr3);
    CHECK_FIELD(cr4);
    CHECK_FIELD(cr8);
    for (int i = 0; i < 8; i++)
        if (i != 4 && i != 5 && a->dr[i] != b->dr[i]) {
            snprintf(diff, len, "dr%d %#llx != %#llx", i, (unsigned long long)a->dr[i],
                     (unsigned long long)b->dr[i]);
            return false;
        }
    CHECK_FIELD(xcr0);
    CHECK_FIELD(msr.efer);
    CHECK_FIELD(msr.star);
    CHECK_FIELD(msr.lstar);
    CHECK_FIELD(msr.cstar);
    CHECK_FIELD(msr.sfmask);
    CHECK_FIELD(msr.kernel_gs_base);
    CHECK_FIELD(msr.sysenter_cs);
    CHECK_FIELD(msr.sysenter_esp);
    CHECK_FIELD(msr.sysenter_eip);
    CHECK_FIELD(msr.pat);
    CHECK_FIELD(msr.apic_base);
    CHECK_FIELD(fx.fcw);
    CHECK_FIELD(fx.fsw);
    CHECK_FIELD(fx.ftw);
    CHECK_FIELD(fx.fop);
    CHECK_FIELD(fx.fip);
    CHECK_FIELD(fx.fdp);
    CHECK_FIELD(fx.mxcsr);
    CHECK_FIELD(fx.mxcsr_mask);
    for (int i = 0; i < 8; i++)
        if (memcmp(a->fx.st[i].bytes, b->fx.st[i].bytes, 10) != 0) {
            snprintf(diff, len, "fx.st[%d] differs", i);
            return false;
        }
    CHECK_FIELD(fx.xmm);
    CHECK_FIELD(ev.exception_pending);
    CHECK_FIELD(ev.exception_vector);
    CHECK_FIELD(ev.exception_has_error);
    CHECK_FIELD(ev.exception_error);
    CHECK_FIELD(ev.exception_has_payload);
    CHECK_FIELD(ev.exception_payload);
    CHECK_FIELD(ev.interrupt_injected);
    CHECK_FIELD(ev.interrupt_vector);
    CHECK_FIELD(ev.nmi_pending);
    CHECK_FIELD(ev.nmi_injected);
    CHECK_FIELD(ev.nmi_masked);
    CHECK_FIELD(ev.interrupt_shadow);
    CHECK_FIELD(run_state);
    int64_t tsc_lead = b->tsc_offset - a->tsc_offset;
    if (tsc_lead < 0 || tsc_lead > 2000000000LL) { /* at most 1 s of guest cycles */
        snprintf(diff, len, "tsc_offset %lld -> %lld", (long long)a->tsc_offset,
                 (long long)b->tsc_offset);
        return false;
    }
    return true;
}

static void round_trip(const struct x86_state *in)
{
    struct kvm_machine m;
    machine_init(&m, false);
    struct cpu *cpu = m.cpu;
    cpu_set_state(cpu, in);
    ck_assert_msg(cpu->engine->state_in(cpu) == 0, "state_in: %s", err_get());
    memset(&cpu->state, 0xa5, sizeof(cpu->state));
    cpu->state.tsc_offset = in->tsc_offset;
    cpu->state.fx.mxcsr_mask = in->fx.mxcsr_mask;
    ck_assert_msg(cpu->engine->state_out(cpu) == 0, "state_out: %s", err_get());
    /* A KVM that cannot offset the guest TSC (kvm_pvm) shows the guest the
     * host TSC; the engine then adopts it as the CPU's TSC (at tick 0 here,
     * so the offset is the host TSC itself). */
    int64_t host_lead = cpu->state.tsc_offset - (int64_t)__rdtsc();
    if (cpu->state.tsc_offset - in->tsc_offset > 2000000000LL && host_lead > -2000000000LL &&
        host_lead < 2000000000LL) {
        printf("NOTE: KVM ignores guest TSC offsets here: the guest TSC is the host's\n");
        cpu->state.tsc_offset = in->tsc_offset;
    }
    char diff[512];
    ck_assert_msg(state_equal(in, &cpu->state, diff, sizeof(diff)), "round trip: %s", diff);
    machine_destroy(&m);
}

START_TEST(rich_long_mode_state_round_trips)
{
    struct x86_state st;
    rich_state(&st);
    round_trip(&st);
}
END_TEST

START_TEST(injected_interrupt_and_nmi_round_trip)
{
    struct x86_state st;
    rich_state(&st);
    st.ev = (struct x86_events){0};
    st.ev.interrupt_injected = true;
    st.ev.interrupt_vector = 0x31;
    st.ev.nmi_pending = true;
    st.ev.interrupt_shadow = X86_SHADOW_MOV_SS;
    st.run_state = X86_RUNNABLE;
    round_trip(&st);
}
END_TEST

START_TEST(reset_state_round_trips)
{
    struct x86_state st;
    x86_state_reset(&st);
    round_trip(&st);
}
END_TEST

int main(void)
{
    if (!kvm_usable())
        return TEST_SKIP;
    Suite *s = suite_create("kvm_state");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, rich_long_mode_state_round_trips);
    tcase_add_test(tc, injected_interrupt_and_nmi_round_trip);
    tcase_add_test(tc, reset_state_round_trips);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
