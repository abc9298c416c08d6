/* Event delivery and IRET in long, protected and real mode: stack frames,
 * privilege changes through the TSS, IST, gate checks, nested faults into
 * #DF and triple fault (SDM Vol. 3A ch. 6); data-segment loads. */
#include <string.h>

#include "cpu/segments.h"
#include "mem/system.h"
#include "testlib.h"

static struct simulation sim;
static struct system *sys;
static uint8_t *ram;

static void setup(void)
{
    sim_init(&sim);
    sys = SIM_CAST(struct system, sim_create(&sim, "System", "system"));
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ram = sys->ram[0].host;
    memset(ram, 0, 1 << 20);
}

static void teardown(void)
{
    sim_destroy(&sim);
}

static void put64(uint64_t pa, uint64_t v) { memcpy(ram + pa, &v, 8); }
static void put32(uint64_t pa, uint32_t v) { memcpy(ram + pa, &v, 4); }
static void put16(uint64_t pa, uint16_t v) { memcpy(ram + pa, &v, 2); }
static uint64_t get64(uint64_t pa) { uint64_t v; memcpy(&v, ram + pa, 8); return v; }
static uint32_t get32(uint64_t pa) { uint32_t v; memcpy(&v, ram + pa, 4); return v; }
static uint16_t get16(uint64_t pa) { uint16_t v; memcpy(&v, ram + pa, 2); return v; }

/* A flat code/data descriptor. */
static uint64_t seg_desc(unsigned type, unsigned dpl, bool l, bool db)
{
    return 0xffffull | (0xfull << 48) | ((uint64_t)type << 40) | (1ull << 44) |
           ((uint64_t)dpl << 45) | (1ull << 47) | ((uint64_t)l << 53) | ((uint64_t)db << 54) |
           (1ull << 55);
}

#define GDT 0x1000
#define IDT 0x2000
#define TSS 0x3000

static void gate64(unsigned vec, uint64_t target, unsigned type, unsigned dpl, unsigned ist)
{
    uint64_t lo = (target & 0xffff) | (0x08ull << 16) | ((uint64_t)ist << 32) |
                  ((uint64_t)type << 40) | ((uint64_t)dpl << 45) | (1ull << 47) |
                  (((target >> 16) & 0xffff) << 48);
    put64(IDT + vec * 16, lo);
    put64(IDT + vec * 16 + 8, target >> 32);
}

/* Long mode at ring 3 with kernel code 0x08, kernel data 0x10, user code
 * 0x1b, user data 0x23; TSS RSP0 = 0x9000, IST1 = 0xa000; identity 2 MiB. */
static struct x86_state lm_user(void)
{
    struct x86_state s;
    x86_state_reset(&s);
    put64(0x4000, 0x5000 | 7);
    put64(0x5000, 0x6000 | 7);
    put64(0x6000, 0x87); /* 2 MiB page, user, writable */
    x86_state_long_mode(&s, 0x4000, 0x400123, 0x7000);
    put64(GDT + 0x08, seg_desc(0xb, 0, true, false));
    put64(GDT + 0x10, seg_desc(0x3, 0, false, true));
    put64(GDT + 0x18, seg_desc(0xb, 3, true, false));
    put64(GDT + 0x20, seg_desc(0x3, 3, false, true));
    s.gdtr.base = GDT;
    s.gdtr.limit = 0x2f;
    s.idtr.base = IDT;
    s.idtr.limit = 256 * 16 - 1;
    s.tr.base = TSS;
    s.tr.limit = 0x67;
    s.tr.type = 0xb;
    s.tr.present = 1;
    put64(TSS + 4, 0x9000);   /* RSP0 */
    put64(TSS + 0x24, 0xa008); /* IST1, deliberately misaligned */
    s.seg[S_CS].selector = 0x1b;
    s.seg[S_CS].dpl = 3;
    s.seg[S_SS].selector = 0x23;
    s.seg[S_SS].dpl = 3;
    s.rflags = X86_FLAG_FIXED | X86_FLAG_IF | X86_FLAG_CF;
    return s;
}

START_TEST(test_long_mode_fault_from_user)
{
    struct x86_state s = lm_user();
    gate64(X86_PF, 0xffff800000001000ull, 0xe, 0, 0);
    struct x86_event ev = {EVENT_EXCEPTION, X86_PF, true, 6, 0xdead000};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &ev), 0);
    ck_assert_uint_eq(s.rip, 0xffff800000001000ull);
    ck_assert_uint_eq(s.cr2, 0xdead000);
    ck_assert_uint_eq(s.seg[S_CS].selector, 0x08);
    ck_assert_uint_eq(x86_cpl(&s), 0);
    ck_assert_uint_eq(s.seg[S_SS].selector, 0);
    ck_assert_uint_eq(s.gpr[R_RSP], 0x9000 - 48);
    ck_assert(!(s.rflags & X86_FLAG_IF)); /* interrupt gate */
    ck_assert(s.rflags & X86_FLAG_CF);
    uint64_t f = 0x9000 - 48;
    ck_assert_uint_eq(get64(f + 0), 6);
    ck_assert_uint_eq(get64(f + 8), 0x400123);
    ck_assert_uint_eq(get64(f + 16), 0x1b);
    /* A fault pushes RFLAGS with RF set. */
    ck_assert_uint_eq(get64(f + 24), X86_FLAG_FIXED | X86_FLAG_IF | X86_FLAG_CF | X86_FLAG_RF);
    ck_assert_uint_eq(get64(f + 32), 0x7000);
    ck_assert_uint_eq(get64(f + 40), 0x23);
    /* IRETQ (after the handler pops the error code) returns to ring 3. */
    s.gpr[R_RSP] += 8;
    struct x86_fault fault;
    ck_assert_int_eq(x86_iret(&sys->bus, &s, 8, &fault), 0);
    ck_assert_uint_eq(s.rip, 0x400123);
    ck_assert_uint_eq(x86_cpl(&s), 3);
    ck_assert_uint_eq(s.seg[S_SS].selector, 0x23);
    ck_assert_uint_eq(s.gpr[R_RSP], 0x7000);
    ck_assert(s.rflags & X86_FLAG_IF);
}
END_TEST

START_TEST(test_long_mode_soft_int_ist_and_dpl)
{
    struct x86_state s = lm_user();
    gate64(0x80, 0x2000, 0xf, 3, 1); /* trap gate, user-callable, IST1 */
    gate64(0x81, 0x3000, 0xe, 0, 0); /* kernel-only */
    gate64(X86_GP, 0x4000, 0xe, 0, 0);
    struct x86_event ev = {EVENT_SOFT_INT, 0x80, false, 0, 0};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &ev), 0);
    ck_assert_uint_eq(s.gpr[R_RSP], 0xa000 - 40); /* IST aligned down to 16 */
    ck_assert(!(get64(s.gpr[R_RSP] + 16) & X86_FLAG_RF)); /* INT n is not a fault */
    ck_assert(s.rflags & X86_FLAG_IF);            /* trap gate keeps IF */
    s = lm_user();
    struct x86_event bad = {EVENT_SOFT_INT, 0x81, false, 0, 0};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &bad), 0);
    ck_assert_uint_eq(s.rip, 0x4000); /* #GP(0x81*8+2) instead */
    ck_assert_uint_eq(get64(s.gpr[R_RSP]), 0x81 * 8 + 2);
}
END_TEST

START_TEST(test_double_and_triple_fault)
{
    struct x86_state s = lm_user();
    /* #GP's gate is not present: #NP while delivering #GP -> #DF. */
    gate64(X86_DF, 0x5000, 0xe, 0, 1);
    struct x86_event ev = {EVENT_EXCEPTION, X86_GP, true, 0, 0};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &ev), 0);
    ck_assert_uint_eq(s.rip, 0x5000);
    ck_assert_uint_eq(get64(s.gpr[R_RSP]), 0); /* #DF error code is 0 */
    /* Without a #DF handler the machine shuts down. */
    s = lm_user();
    put64(IDT + X86_DF * 16, 0);
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &ev), -1);
    ck_assert_int_eq(s.run_state, X86_SHUTDOWN);
    /* A benign first event (external interrupt 0x30, gate missing) is
     * followed by a plain #NP with EXT set, not #DF. */
    s = lm_user();
    gate64(X86_NP, 0x6000, 0xe, 0, 0);
    gate64(0x30, 0x7000, 0xe, 0, 0);
    put64(IDT + 0x30 * 16, get64(IDT + 0x30 * 16) & ~(1ull << 47)); /* not present */
    struct x86_event irq = {EVENT_EXTERNAL, 0x30, false, 0, 0};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &irq), 0);
    ck_assert_uint_eq(s.rip, 0x6000);
    ck_assert_uint_eq(get64(s.gpr[R_RSP]), 0x30 * 8 + 2 + 1);
}
END_TEST

START_TEST(test_real_mode)
{
    struct x86_state s;
    x86_state_reset(&s);
    s.seg[S_CS].selector = 0x1000;
    s.seg[S_CS].base = 0x10000;
    s.rip = 0x234;
    s.seg[S_SS].base = 0x20000;
    s.seg[S_SS].selector = 0x2000;
    s.gpr[R_RSP] = 0x100;
    s.rflags = X86_FLAG_FIXED | X86_FLAG_IF | X86_FLAG_ZF;
    s.idtr.base = 0;
    s.idtr.limit = 0x3ff;
    put32(8 * 4, (0x3000u << 16) | 0x55);
    struct x86_event ev = {EVENT_SOFT_INT, 8, false, 0, 0};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &ev), 0);
    ck_assert_uint_eq(s.seg[S_CS].base, 0x30000);
    ck_assert_uint_eq(s.rip, 0x55);
    ck_assert_uint_eq(s.gpr[R_RSP], 0xfa);
    ck_assert_uint_eq(get16(0x200fa), 0x234);
    ck_assert_uint_eq(get16(0x200fc), 0x1000);
    ck_assert_uint_eq(get16(0x200fe), X86_FLAG_FIXED | X86_FLAG_IF | X86_FLAG_ZF);
    ck_assert(!(s.rflags & X86_FLAG_IF));
    struct x86_fault f;
    ck_assert_int_eq(x86_iret(&sys->bus, &s, 2, &f), 0);
    ck_assert_uint_eq(s.seg[S_CS].base, 0x10000);
    ck_assert_uint_eq(s.rip, 0x234);
    ck_assert_uint_eq(s.gpr[R_RSP], 0x100);
    ck_assert(s.rflags & X86_FLAG_IF);
}
END_TEST

/* 32-bit protected mode, paging off: ring 3 -> ring 0 through a 32-bit TSS. */
START_TEST(test_protected_mode_privilege_change)
{
    struct x86_state s;
    x86_state_reset(&s);
    s.cr0 |= X86_CR0_PE;
    put64(GDT + 0x08, seg_desc(0xb, 0, false, true));
    put64(GDT + 0x10, seg_desc(0x3, 0, false, true));
    put64(GDT + 0x18, seg_desc(0xb, 3, false, true));
    put64(GDT + 0x20, seg_desc(0x3, 3, false, true));
    s.gdtr.base = GDT;
    s.gdtr.limit = 0x27;
    put64(IDT + 0x40 * 8, (0x1234ull & 0xffff) | (0x08ull << 16) | (0xeull << 40) | (3ull << 45) |
                              (1ull << 47));
    s.idtr.base = IDT;
    s.idtr.limit = 0x7ff;
    s.tr.base = TSS;
    s.tr.limit = 0x67;
    s.tr.type = 0xb;
    put32(TSS + 4, 0x8000); /* ESP0 */
    put16(TSS + 8, 0x10);   /* SS0 */
    struct x86_fault f;
    s.seg[S_CS].selector = 0x1b;
    s.seg[S_CS].dpl = 3;
    ck_assert_int_eq(x86_load_data_segment(&sys->bus, &s, S_SS, 0x23, &f), 0);
    ck_assert_int_eq(x86_load_data_segment(&sys->bus, &s, S_DS, 0x23, &f), 0);
    ck_assert_uint_eq(ram[GDT + 0x20 + 5] & 1, 1); /* accessed bit set */
    ck_assert_int_eq(x86_load_data_segment(&sys->bus, &s, S_DS, 0x10, &f), -1);
    ck_assert_uint_eq(f.vector, X86_GP);
    ck_assert_uint_eq(f.error, 0x10);
    s.gpr[R_RSP] = 0x6000;
    s.rip = 0x777;
    struct x86_event ev = {EVENT_SOFT_INT, 0x40, false, 0, 0};
    ck_assert_int_eq(x86_deliver_event(&sys->bus, &s, &ev), 0);
    ck_assert_uint_eq(s.seg[S_SS].selector, 0x10);
    ck_assert_uint_eq(s.gpr[R_RSP], 0x8000 - 20);
    ck_assert_uint_eq(get32(0x8000 - 20), 0x777);
    ck_assert_uint_eq(get32(0x8000 - 16), 0x1b);
    ck_assert_uint_eq(get32(0x8000 - 8), 0x6000);
    ck_assert_uint_eq(get32(0x8000 - 4), 0x23);
    ck_assert_uint_eq(s.rip, 0x1234);
    ck_assert_int_eq(x86_iret(&sys->bus, &s, 4, &f), 0);
    ck_assert_uint_eq(x86_cpl(&s), 3);
    ck_assert_uint_eq(s.gpr[R_RSP], 0x6000);
    ck_assert_uint_eq(s.rip, 0x777);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("segments");
    TCase *tc = tcase_create("delivery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_long_mode_fault_from_user);
    tcase_add_test(tc, test_long_mode_soft_int_ist_and_dpl);
    tcase_add_test(tc, test_double_and_triple_fault);
    tcase_add_test(tc, test_real_mode);
    tcase_add_test(tc, test_protected_mode_privilege_change);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
