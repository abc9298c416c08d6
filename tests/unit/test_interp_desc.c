/* LAR, LSL, VERR and VERW on the interpreter engine (cpu/exec_sys.c),
 * against a hand-built GDT and LDT, with the expectations worked out from
 * the SDM (Vol. 2A/2B instruction pages): ZF semantics, the destination left
 * alone when ZF=0, the privilege check (CPL and RPL against DPL, conforming
 * code exempt), the null selector, LDT selectors, table limits, and which
 * system descriptor types each instruction accepts in IA-32e mode and in
 * legacy protected mode. Each probe runs one instruction on a machine with
 * the CPU on "interp" and reads the state back. */
#include <string.h>

#include "cpu/cpu.h"
#include "mem/bus.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/object.h"
#include "testlib.h"

#define GDT 0x1000ull
#define LDT 0x2000ull
#define PML4 0x3000ull
#define CODE 0x10000ull
#define DATA 0x11000ull

/* Descriptor flags byte (bits 52-55): G, D/B, L. */
#define FL_G 0x8
#define FL_DB 0x4
#define FL_L 0x2

static uint64_t desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
    return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)access << 40) |
           ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)flags << 52) |
           ((uint64_t)(base >> 24) << 56);
}

/* GDT selectors (index << 3). */
enum {
    SEL_CODE0 = 0x08,      /* 64-bit code, DPL 0 */
    SEL_DATA0 = 0x10,      /* data RW, DPL 0 */
    SEL_CODE3 = 0x18,      /* 64-bit code, DPL 3 */
    SEL_DATA3 = 0x20,      /* data RW, DPL 3, 4 GiB */
    SEL_RO3 = 0x28,        /* data read-only, DPL 3, byte limit 0x1234 */
    SEL_XO3 = 0x30,        /* code execute-only, DPL 3 */
    SEL_CONF0 = 0x38,      /* conforming readable code, DPL 0 */
    SEL_DATA1 = 0x40,      /* data RW, DPL 1 */
    SEL_NP3 = 0x48,        /* data RW, DPL 3, not present */
    SEL_LDT = 0x50,        /* LDT, DPL 3 (16 bytes in IA-32e mode) */
    SEL_TSS64 = 0x60,      /* available 32/64-bit TSS, DPL 3 (16 bytes) */
    SEL_CALLGATE = 0x70,   /* 32/64-bit call gate, DPL 3 (16 bytes) */
    SEL_INTGATE = 0x80,    /* interrupt gate, DPL 3 */
    SEL_TSS16 = 0x88,      /* available 16-bit TSS, DPL 3 */
    SEL_TASKGATE = 0x90,   /* task gate, DPL 3 */
    SEL_CALLGATE16 = 0x98, /* 16-bit call gate, DPL 3 */
    SEL_RESERVED = 0xa0,   /* system type 8 (reserved), DPL 3 */
    SEL_PAST_GDT = 0xa8,   /* beyond the GDT limit */
    SEL_CODE32 = 0xb0,     /* 32-bit code, DPL 0 (legacy tests; within the limit there) */
};
#define GDT_LIMIT (0xa8 - 1)
#define GDT_LIMIT_LEGACY (0xb8 - 1)
/* LDT selectors (TI=1, RPL 3): entries 0-2, limit 0x17. */
enum { LSEL_DATA = 0x07, LSEL_CODE = 0x0f, LSEL_RW = 0x17, LSEL_PAST = 0x1f };

struct machine {
    struct simulation sim;
    struct system *sys;
    struct cpu *cpu;
};

static struct machine m;

static void put64(uint64_t gpa, uint64_t v)
{
    uint8_t *p = bus_ram_ptr(&m.sys->bus, gpa, 8);
    ck_assert_ptr_nonnull(p);
    memcpy(p, &v, 8);
}

static void build_tables(void)
{
    put64(GDT + SEL_CODE0, desc(0, 0xfffff, 0x9b, FL_G | FL_L));
    put64(GDT + SEL_DATA0, desc(0, 0xfffff, 0x93, FL_G | FL_DB));
    put64(GDT + SEL_CODE3, desc(0, 0xfffff, 0xfb, FL_G | FL_L));
    put64(GDT + SEL_DATA3, desc(0, 0xfffff, 0xf3, FL_G | FL_DB));
    put64(GDT + SEL_RO3, desc(0, 0x1234, 0xf1, FL_DB));
    put64(GDT + SEL_XO3, desc(0, 0xfffff, 0xf8, FL_G | FL_DB));
    put64(GDT + SEL_CONF0, desc(0, 0xfffff, 0x9e, FL_G | FL_DB));
    put64(GDT + SEL_DATA1, desc(0, 0xfffff, 0xb3, FL_G | FL_DB));
    put64(GDT + SEL_NP3, desc(0, 0xfffff, 0x73, FL_G | FL_DB));
    put64(GDT + SEL_LDT, desc(LDT, 0x17, 0xe2, 0));
    put64(GDT + SEL_TSS64, desc(0x4000, 0x67, 0xe9, 0));
    put64(GDT + SEL_CALLGATE, (CODE & 0xffff) | (SEL_CODE3 << 16) | (0xecull << 40));
    put64(GDT + SEL_INTGATE, (CODE & 0xffff) | (SEL_CODE0 << 16) | (0xeeull << 40));
    put64(GDT + SEL_TSS16, desc(0x4000, 0x2b, 0xe1, 0));
    put64(GDT + SEL_TASKGATE, ((uint64_t)SEL_TSS16 << 16) | (0xe5ull << 40));
    put64(GDT + SEL_CALLGATE16, (CODE & 0xffff) | (SEL_CODE3 << 16) | (0xe4ull << 40));
    put64(GDT + SEL_RESERVED, desc(0, 0xffff, 0xe8, 0));
    put64(GDT + SEL_CODE32, desc(0, 0xfffff, 0x9b, FL_G | FL_DB));
    put64(LDT + 0, desc(0, 0xfff, 0xf3, 0));
    put64(LDT + 8, desc(0, 0xfffff, 0xfa, FL_G | FL_L));
    put64(LDT + 16, desc(0, 0xfffff, 0xf3, FL_G | FL_DB));
    /* Identity map of the first 2 MiB, user-accessible. */
    put64(PML4, (PML4 + 0x1000) | 7);
    put64(PML4 + 0x1000, (PML4 + 0x2000) | 7);
    put64(PML4 + 0x2000, 0x87);
}

static void machine_up(void)
{
    memset(&m, 0, sizeof(m));
    sim_init(&m.sim);
    log_set_quiet(true);
    struct sim_object *s = test_new_object(&m.sim, "System", "system");
    test_set_param(s, "mem_size", "16M");
    struct sim_object *c = test_new_object(&m.sim, "CPU", "system.cpu0");
    test_set_param(c, "engine", "interp");
    ck_assert_msg(sim_instantiate(&m.sim) == 0, "instantiate: %s", err_get());
    m.sys = SIM_CAST(struct system, s);
    m.cpu = SIM_CAST(struct cpu, c);
    build_tables();
}

static void machine_down(void)
{
    sim_destroy(&m.sim);
}

static void set_seg(struct x86_segment *sg, uint16_t sel, uint8_t type, unsigned dpl, bool l, bool db)
{
    *sg = (struct x86_segment){.selector = sel, .limit = 0xffffffff, .type = type, .s = 1,
                               .dpl = dpl, .present = 1, .l = l, .db = db, .g = 1};
}

enum probe_mode { LONG64, LEGACY32 };

/* Runs `insn` (followed by a jump to itself) at CPL cpl with RCX = the
 * selector, RAX = 0x5555...55 and ZF = !zf_expected, and returns the state
 * once the instruction retired. */
static const struct x86_state *probe(enum probe_mode mode, unsigned cpl, const uint8_t *insn,
                                     size_t len, uint16_t sel, bool zf_expected)
{
    uint8_t *code = bus_ram_ptr(&m.sys->bus, CODE, 32);
    memcpy(code, insn, len);
    code[len] = 0xeb; /* jmp . */
    code[len + 1] = 0xfe;
    struct x86_state st;
    x86_state_reset(&st);
    if (mode == LONG64) {
        x86_state_long_mode(&st, PML4, CODE, DATA + 0x800);
        set_seg(&st.seg[S_CS], cpl ? SEL_CODE3 | 3 : SEL_CODE0, 0xb, cpl, true, false);
        set_seg(&st.seg[S_SS], cpl ? SEL_DATA3 | 3 : SEL_DATA0, 0x3, cpl, false, true);
        st.gdtr.limit = GDT_LIMIT;
    } else {
        st.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
        for (int i = 0; i < S_NSEGS; i++)
            set_seg(&st.seg[i], SEL_DATA0, 0x3, 0, false, true);
        set_seg(&st.seg[S_CS], SEL_CODE32, 0xb, 0, false, true);
        st.rip = CODE;
        st.gpr[R_RSP] = DATA + 0x800;
        st.run_state = X86_RUNNABLE;
        st.gdtr.limit = GDT_LIMIT_LEGACY;
    }
    st.gdtr.base = GDT;
    st.ldtr = (struct x86_segment){.selector = SEL_LDT, .base = LDT, .limit = 0x17, .type = 2, .present = 1};
    st.gpr[R_RCX] = sel;
    st.gpr[R_RBX] = DATA;
    memcpy(bus_ram_ptr(&m.sys->bus, DATA, 2), &sel, 2);
    st.gpr[R_RAX] = 0x5555555555555555ull;
    st.rflags = X86_FLAG_FIXED | (zf_expected ? 0 : X86_FLAG_ZF);
    cpu_set_state(m.cpu, &st);
    sim_run(&m.sim, sim_now(&m.sim) + TICKS_PER_US);
    ck_assert_int_eq(cpu_sync_state(m.cpu), 0);
    const struct x86_state *out = &m.cpu->state;
    ck_assert_msg(!out->ev.exception_pending, "exception %u", out->ev.exception_vector);
    ck_assert_msg(out->rip == CODE + len, "rip %#llx: the instruction did not retire in place",
                  (unsigned long long)out->rip);
    return out;
}

static const uint8_t LAR_RAX_CX[] = {0x48, 0x0f, 0x02, 0xc1};  /* lar rax, cx */
static const uint8_t LAR_EAX_CX[] = {0x0f, 0x02, 0xc1};        /* lar eax, cx */
static const uint8_t LAR_AX_CX[] = {0x66, 0x0f, 0x02, 0xc1};   /* lar ax, cx */
static const uint8_t LSL_RAX_CX[] = {0x48, 0x0f, 0x03, 0xc1};  /* lsl rax, cx */
static const uint8_t LSL_EAX_MEM[] = {0x0f, 0x03, 0x03};       /* lsl eax, word [rbx] */
static const uint8_t VERR_CX[] = {0x0f, 0x00, 0xe1};           /* verr cx */
static const uint8_t VERW_CX[] = {0x0f, 0x00, 0xe9};           /* verw cx */
static const uint8_t VERW_MEM[] = {0x0f, 0x00, 0x2b};          /* verw word [rbx] */

#define SENTINEL 0x5555555555555555ull

/* LAR rax: ZF and the result (or the untouched sentinel). */
static void expect_lar(enum probe_mode mode, unsigned cpl, uint16_t sel, bool zf, uint64_t rights)
{
    const uint8_t *insn = mode == LONG64 ? LAR_RAX_CX : LAR_EAX_CX;
    size_t len = mode == LONG64 ? sizeof(LAR_RAX_CX) : sizeof(LAR_EAX_CX);
    const struct x86_state *s = probe(mode, cpl, insn, len, sel, zf);
    ck_assert_msg(!!(s->rflags & X86_FLAG_ZF) == zf, "LAR %#x at CPL %u: ZF %d", sel, cpl, !zf);
    uint64_t want = zf ? rights : SENTINEL;
    ck_assert_msg(s->gpr[R_RAX] == want, "LAR %#x: rax %#llx, want %#llx", sel,
                  (unsigned long long)s->gpr[R_RAX], (unsigned long long)want);
}

static void expect_lsl(enum probe_mode mode, unsigned cpl, uint16_t sel, bool zf, uint64_t limit)
{
    const struct x86_state *s = probe(mode, cpl, LSL_RAX_CX + (mode == LONG64 ? 0 : 1),
                                      sizeof(LSL_RAX_CX) - (mode == LONG64 ? 0 : 1), sel, zf);
    ck_assert_msg(!!(s->rflags & X86_FLAG_ZF) == zf, "LSL %#x at CPL %u: ZF %d", sel, cpl, !zf);
    ck_assert_msg(s->gpr[R_RAX] == (zf ? limit : SENTINEL), "LSL %#x: rax %#llx", sel,
                  (unsigned long long)s->gpr[R_RAX]);
}

static void expect_ver(const uint8_t *insn, unsigned cpl, uint16_t sel, bool zf)
{
    const struct x86_state *s = probe(LONG64, cpl, insn, 3, sel, zf);
    ck_assert_msg(!!(s->rflags & X86_FLAG_ZF) == zf, "VER%c %#x at CPL %u: ZF %d",
                  insn[2] == 0xe1 ? 'R' : 'W', sel, cpl, !zf);
    ck_assert_uint_eq(s->gpr[R_RAX], SENTINEL);
}

START_TEST(lar_code_and_data_segments)
{
    expect_lar(LONG64, 3, SEL_DATA3 | 3, true, 0x00cff300);
    expect_lar(LONG64, 3, SEL_CODE3 | 3, true, 0x00affb00);
    expect_lar(LONG64, 3, SEL_RO3 | 3, true, 0x0040f100);
    expect_lar(LONG64, 3, SEL_NP3 | 3, true, 0x00cf7300); /* P is not checked: reported as 0 */
    expect_lar(LONG64, 3, SEL_CODE0, false, 0);           /* DPL 0 < CPL 3 */
    expect_lar(LONG64, 3, SEL_DATA1 | 3, false, 0);
    expect_lar(LONG64, 3, SEL_CONF0 | 3, true, 0x00cf9e00); /* conforming: no privilege check */
    expect_lar(LONG64, 0, SEL_DATA0, true, 0x00cf9300);
    expect_lar(LONG64, 0, SEL_DATA0 | 2, false, 0);         /* RPL 2 > DPL 0 */
    expect_lar(LONG64, 0, SEL_DATA1 | 1, true, 0x00cfb300); /* RPL 1 = DPL 1 */
}
END_TEST

START_TEST(lar_operand_sizes)
{
    const struct x86_state *s = probe(LONG64, 3, LAR_EAX_CX, sizeof(LAR_EAX_CX), SEL_DATA3 | 3, true);
    ck_assert_uint_eq(s->gpr[R_RAX], 0x00cff300); /* 32-bit: zero-extended */
    s = probe(LONG64, 3, LAR_AX_CX, sizeof(LAR_AX_CX), SEL_DATA3 | 3, true);
    ck_assert_uint_eq(s->gpr[R_RAX], 0x555555555555f300ull); /* 16-bit: low word only */
    s = probe(LONG64, 3, LAR_EAX_CX, sizeof(LAR_EAX_CX), SEL_CODE0, false);
    ck_assert_uint_eq(s->gpr[R_RAX], SENTINEL); /* ZF=0: not written, not even zero-extended */
}
END_TEST

START_TEST(null_ldt_and_limit_selectors)
{
    for (uint16_t sel = 0; sel < 4; sel++) {
        expect_lar(LONG64, 0, sel, false, 0);
        expect_lsl(LONG64, 0, sel, false, 0);
        expect_ver(VERR_CX, 0, sel, false);
        expect_ver(VERW_CX, 0, sel, false);
    }
    expect_lar(LONG64, 3, SEL_PAST_GDT | 3, false, 0);
    /* LDT index 0 is a real entry, not a null selector. */
    expect_lar(LONG64, 3, LSEL_DATA, true, 0x0000f300);
    expect_lsl(LONG64, 3, LSEL_DATA, true, 0xfff);
    expect_ver(VERW_CX, 3, LSEL_RW, true);
    expect_ver(VERR_CX, 3, LSEL_CODE, true);
    expect_ver(VERW_CX, 3, LSEL_CODE, false);
    expect_lar(LONG64, 3, LSEL_PAST, false, 0);
}
END_TEST

START_TEST(unusable_ldtr_clears_zf)
{
    /* The probe loads LDTR; replace it with a null one. */
    static const uint8_t lldt_then_lar[] = {0x31, 0xd2,              /* xor edx, edx */
                                            0x0f, 0x00, 0xd2,        /* lldt dx (null) */
                                            0x48, 0x0f, 0x02, 0xc1}; /* lar rax, cx */
    const struct x86_state *s = probe(LONG64, 0, lldt_then_lar, sizeof(lldt_then_lar), LSEL_DATA, false);
    ck_assert(s->ldtr.unusable);
    ck_assert_uint_eq(s->rflags & X86_FLAG_ZF, 0);
    ck_assert_uint_eq(s->gpr[R_RAX], SENTINEL);
}
END_TEST

START_TEST(lsl_limits)
{
    expect_lsl(LONG64, 3, SEL_RO3 | 3, true, 0x1234);
    expect_lsl(LONG64, 3, SEL_DATA3 | 3, true, 0xffffffff); /* G=1: scaled, 32 bits */
    expect_lsl(LONG64, 3, SEL_DATA1 | 3, false, 0);
    expect_lsl(LONG64, 3, SEL_CONF0 | 3, true, 0xffffffff);
    const struct x86_state *s = probe(LONG64, 3, LSL_EAX_MEM, sizeof(LSL_EAX_MEM), SEL_RO3 | 3, true);
    ck_assert_uint_eq(s->gpr[R_RAX], 0x1234);
}
END_TEST

START_TEST(system_types_in_ia32e_mode)
{
    expect_lar(LONG64, 3, SEL_LDT | 3, false, 0); /* SDM: not for LAR in IA-32e mode */
    expect_lsl(LONG64, 3, SEL_LDT | 3, true, 0x17);
    /* Type 0, the upper half of a 16-byte descriptor (DPL 0): LSL only. */
    expect_lsl(LONG64, 0, SEL_LDT + 8, true, 0);
    expect_lar(LONG64, 0, SEL_LDT + 8, false, 0);
    expect_lar(LONG64, 3, SEL_TSS64 | 3, true, 0x0000e900);
    expect_lsl(LONG64, 3, SEL_TSS64 | 3, true, 0x67);
    expect_lar(LONG64, 3, SEL_CALLGATE | 3, true, 0x0000ec00);
    expect_lsl(LONG64, 3, SEL_CALLGATE | 3, false, 0);
    expect_lar(LONG64, 3, SEL_INTGATE | 3, false, 0);
    expect_lsl(LONG64, 3, SEL_INTGATE | 3, false, 0);
    expect_lar(LONG64, 3, SEL_TSS16 | 3, false, 0);
    expect_lsl(LONG64, 3, SEL_TSS16 | 3, false, 0);
    expect_lar(LONG64, 3, SEL_TASKGATE | 3, false, 0);
    expect_lar(LONG64, 3, SEL_CALLGATE16 | 3, false, 0);
    expect_lar(LONG64, 3, SEL_RESERVED | 3, false, 0);
    expect_ver(VERR_CX, 3, SEL_LDT | 3, false);
    expect_ver(VERW_CX, 3, SEL_TSS64 | 3, false);
}
END_TEST

START_TEST(system_types_in_legacy_protected_mode)
{
    expect_lar(LEGACY32, 0, SEL_TSS16, true, 0x0000e100);
    expect_lsl(LEGACY32, 0, SEL_TSS16, true, 0x2b);
    expect_lar(LEGACY32, 0, SEL_TASKGATE, true, 0x0000e500);
    expect_lsl(LEGACY32, 0, SEL_TASKGATE, false, 0);
    expect_lar(LEGACY32, 0, SEL_CALLGATE16, true, 0x0000e400);
    expect_lsl(LEGACY32, 0, SEL_CALLGATE16, false, 0);
    expect_lar(LEGACY32, 0, SEL_CALLGATE, true, 0x0000ec00);
    expect_lar(LEGACY32, 0, SEL_INTGATE, false, 0);
    expect_lar(LEGACY32, 0, SEL_RESERVED, false, 0);
    expect_lar(LEGACY32, 0, SEL_TSS64, true, 0x0000e900);
    expect_lsl(LEGACY32, 0, SEL_LDT, true, 0x17);
    expect_lar(LEGACY32, 0, SEL_LDT, true, 0x0000e200);
    expect_lsl(LEGACY32, 0, SEL_LDT + 8, false, 0); /* type 0: reserved here */
    expect_lar(LEGACY32, 0, SEL_CODE32, true, 0x00cf9b00);
}
END_TEST

START_TEST(verr_verw)
{
    expect_ver(VERR_CX, 3, SEL_DATA3 | 3, true);
    expect_ver(VERW_CX, 3, SEL_DATA3 | 3, true);
    expect_ver(VERR_CX, 3, SEL_RO3 | 3, true);
    expect_ver(VERW_CX, 3, SEL_RO3 | 3, false);
    expect_ver(VERR_CX, 3, SEL_CODE3 | 3, true); /* readable code */
    expect_ver(VERW_CX, 3, SEL_CODE3 | 3, false);
    expect_ver(VERR_CX, 3, SEL_XO3 | 3, false);  /* execute-only */
    expect_ver(VERR_CX, 3, SEL_CONF0 | 3, true); /* conforming readable: any privilege */
    expect_ver(VERR_CX, 3, SEL_DATA0 | 3, false);
    expect_ver(VERW_CX, 0, SEL_DATA0 | 3, false); /* RPL 3 > DPL 0 */
    expect_ver(VERW_CX, 0, SEL_DATA0, true);
    expect_ver(VERR_CX, 3, SEL_NP3 | 3, true);    /* P is not checked */
    const struct x86_state *s = probe(LONG64, 3, VERW_MEM, sizeof(VERW_MEM), SEL_DATA3 | 3, true);
    ck_assert(s->rflags & X86_FLAG_ZF);
}
END_TEST

START_TEST(real_mode_raises_ud)
{
    /* Real mode: IVT entry 6 points at a HLT; LAR must not execute. */
    uint8_t *code = bus_ram_ptr(&m.sys->bus, CODE, 8);
    memcpy(code, LAR_EAX_CX, sizeof(LAR_EAX_CX));
    uint32_t ivt6 = 0x0600; /* 0000:0600 */
    memcpy(bus_ram_ptr(&m.sys->bus, 6 * 4, 4), &ivt6, 4);
    *bus_ram_ptr(&m.sys->bus, 0x600, 1) = 0xf4;
    struct x86_state st;
    x86_state_reset(&st);
    for (int i = 0; i < S_NSEGS; i++) {
        st.seg[i].selector = 0;
        st.seg[i].base = 0;
    }
    st.seg[S_CS].selector = CODE >> 4;
    st.seg[S_CS].base = CODE;
    st.rip = 0;
    st.gpr[R_RSP] = 0x7000;
    st.gpr[R_RAX] = SENTINEL;
    st.idtr.limit = 0x3ff;
    cpu_set_state(m.cpu, &st);
    sim_run(&m.sim, sim_now(&m.sim) + TICKS_PER_US);
    ck_assert_int_eq(cpu_sync_state(m.cpu), 0);
    ck_assert_uint_eq(m.cpu->state.seg[S_CS].base, 0);
    ck_assert_uint_eq(m.cpu->state.rip, 0x601);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RAX], SENTINEL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interp_desc");
    TCase *tc = tcase_create("lar_lsl_verr_verw");
    tcase_add_checked_fixture(tc, machine_up, machine_down);
    tcase_add_test(tc, lar_code_and_data_segments);
    tcase_add_test(tc, lar_operand_sizes);
    tcase_add_test(tc, null_ldt_and_limit_selectors);
    tcase_add_test(tc, unusable_ldtr_clears_zf);
    tcase_add_test(tc, lsl_limits);
    tcase_add_test(tc, system_types_in_ia32e_mode);
    tcase_add_test(tc, system_types_in_legacy_protected_mode);
    tcase_add_test(tc, verr_verw);
    tcase_add_test(tc, real_mode_raises_ud);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
