/* The interpreter as a full-system engine (cpu/interp_engine.c,
 * cpu/exec_sys.c): port and string I/O, MMIO through the bus, #PF delivery
 * with CR2 and error code, INT n and IRETQ, an external interrupt waking
 * HLT, the ring-3 round trip through IRETQ/SYSCALL/SYSRET, and the TSS I/O
 * permission check. The machine and guest layout come from
 * tests/kvm/kvm_testlib.h; no /dev/kvm is needed. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "engine_guest.h"
#include "cpu/mmu.h"
#include "kvm_testlib.h"
#include "sim/stats.h"
#include "testlib.h"

static void put64(struct kvm_machine *m, uint64_t gpa, uint64_t v)
{
    memcpy(guest_ptr(m, gpa), &v, 8);
}

static uint64_t get64(struct kvm_machine *m, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, guest_ptr(m, gpa), 8);
    return v;
}

/* A 64-bit interrupt gate (type 0xE) to TEST_CODE + offset. */
static void gate(struct kvm_machine *m, unsigned vector, size_t offset, unsigned dpl)
{
    uint64_t h = TEST_CODE + offset;
    uint64_t lo = (h & 0xffff) | (0x10ull << 16) | ((0x8eull | (uint64_t)dpl << 5) << 40) |
                  ((h >> 16 & 0xffff) << 48);
    put64(m, TEST_IDT + vector * 16, lo);
    put64(m, TEST_IDT + vector * 16 + 8, h >> 32);
}

static void start(struct kvm_machine *m, bool lapic, size_t entry)
{
    machine_init_engine(m, lapic, "interp");
    machine_load_long_mode(m, engine_guest, sizeof(engine_guest), entry, INTR_HANDLER);
}

static double stat(struct kvm_machine *m, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "system.cpu0.%s", name);
    const struct stat_entry *e = stats_find(&m->sim, path);
    ck_assert_msg(e, "no stat %s", path);
    return stat_value(e);
}

static void expect_io(struct kvm_machine *m, unsigned i, bool mmio, bool write, uint64_t addr,
                      uint64_t val, unsigned size)
{
    ck_assert_msg(i < m->io.n, "only %u device accesses, wanted #%u", m->io.n, i);
    ck_assert_int_eq(m->io.ops[i].mmio, mmio);
    ck_assert_int_eq(m->io.ops[i].write, write);
    ck_assert_uint_eq(m->io.ops[i].addr, addr);
    ck_assert_uint_eq(m->io.ops[i].val, val);
    ck_assert_uint_eq(m->io.ops[i].size, size);
}

START_TEST(port_string_and_mmio_accesses_reach_the_devices)
{
    struct kvm_machine m;
    start(&m, false, IO_TEST);
    memcpy(guest_ptr(&m, 0x6000), "abc", 3);
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 7);
    expect_io(&m, 0, false, true, 0, 0x11, 1);
    expect_io(&m, 1, false, false, 0, 0xabcd1234, 4);
    expect_io(&m, 2, false, true, 0, 'a', 1);
    expect_io(&m, 3, false, true, 0, 'b', 1);
    expect_io(&m, 4, false, true, 0, 'c', 1);
    expect_io(&m, 5, true, true, 0, 0xcafef00d, 4);
    expect_io(&m, 6, true, false, 8, 0x55aa55aa, 4);
    ck_assert_uint_eq(get64(&m, 0x5000) & 0xffffffff, 0xabcd1234);
    ck_assert_uint_eq(get64(&m, 0x5000) >> 32, 0x55aa55aa);
    ck_assert_double_eq(stat(&m, "interpMmioAccesses"), 2);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RCX], 0);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RSI], 0x6003);
    machine_destroy(&m);
}
END_TEST

START_TEST(page_fault_is_delivered_with_cr2_and_error_code)
{
    struct kvm_machine m;
    start(&m, false, PF_TEST);
    gate(&m, X86_PF, PF_HANDLER, 0);
    /* The identity map covers 4 GiB; 0x140000000 is not present. */
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 2);
    expect_io(&m, 0, false, true, 0, PF_WRITE, 4); /* not present, write, supervisor */
    expect_io(&m, 1, false, true, 0, 1, 4);        /* CR2 >> 32 */
    ck_assert_uint_eq(m.cpu->state.cr2, 0x140000000ull);
    ck_assert_double_eq(stat(&m, "interpExceptions"), 1);
    machine_destroy(&m);
}
END_TEST

START_TEST(int_n_runs_the_handler_and_iretq_returns)
{
    struct kvm_machine m;
    start(&m, false, INT_TEST);
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 2);
    expect_io(&m, 0, false, true, 1, 0x99, 1);
    expect_io(&m, 1, false, true, 2, 0x77, 1);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RSP], TEST_STACK);
    machine_destroy(&m);
}
END_TEST

START_TEST(external_interrupt_wakes_hlt_once)
{
    struct kvm_machine m;
    start(&m, true, INTR_MAIN);
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 0);
    m.lapic.pending = TEST_INTR_VECTOR;
    cpu_notify_interrupt(m.cpu);
    sim_run(&m.sim, 2 * TICKS_PER_MS);
    ck_assert(m.cpu->sleeping); /* back in the HLT loop */
    ck_assert_uint_eq(m.lapic.acks, 1);
    ck_assert_uint_eq(m.io.n, 1);
    expect_io(&m, 0, false, true, 1, 0x99, 1);
    ck_assert_double_eq(stat(&m, "interpInterrupts"), 1);
    machine_destroy(&m);
}
END_TEST

/* Adds ring-3 segments (0x23 data, 0x2b 64-bit code) and makes the
 * identity map user-accessible. */
static void add_user_mode(struct kvm_machine *m)
{
    put64(m, 0x520, 0x00cff3000000ffffULL);
    put64(m, 0x528, 0x00affb000000ffffULL);
    put64(m, TEST_PML4, get64(m, TEST_PML4) | 4);
    for (uint64_t i = 0; i < 4; i++) {
        uint64_t pdpt = TEST_PML4 + 0x1000, pd = TEST_PML4 + 0x2000 + 0x1000 * i;
        put64(m, pdpt + 8 * i, get64(m, pdpt + 8 * i) | 4);
        for (uint64_t j = 0; j < 512; j++)
            put64(m, pd + 8 * j, get64(m, pd + 8 * j) | 4);
    }
    ck_assert_int_eq(cpu_sync_state(m->cpu), 0);
    struct x86_state st = m->cpu->state;
    st.gdtr.limit = 0x2f;
    cpu_set_state(m->cpu, &st);
}

START_TEST(ring3_round_trip_through_iretq_syscall_and_sysret)
{
    struct kvm_machine m;
    start(&m, false, RING3_TEST);
    add_user_mode(&m);
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 3);
    expect_io(&m, 0, false, true, 0, 0x1234, 4); /* first SYSCALL from ring 3 */
    expect_io(&m, 1, false, true, 0, 0x5678, 4); /* the second, after SYSRET */
    expect_io(&m, 2, false, true, 0, 0x10, 4);   /* kernel CS */
    ck_assert_uint_eq(m.cpu->state.gpr[R_R11] & X86_FLAG_IF, 0);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RCX], TEST_CODE + USER_CODE + 14);
    machine_destroy(&m);
}
END_TEST

START_TEST(ring3_port_access_outside_the_tss_bitmap_raises_gp)
{
    struct kvm_machine m;
    start(&m, false, USER_IO);
    add_user_mode(&m);
    gate(&m, X86_GP, GP_HANDLER, 0);
    /* A TSS at 0x3000 whose I/O bitmap base lies beyond its limit: no port
     * is allowed at CPL 3 with IOPL 0. */
    uint16_t map_base = 0x68;
    memcpy(guest_ptr(&m, 0x3000 + 102), &map_base, 2);
    put64(&m, 0x3000 + 4, 0x8000); /* RSP0 */
    ck_assert_int_eq(cpu_sync_state(m.cpu), 0);
    struct x86_state st = m.cpu->state;
    st.idtr = (struct x86_dtable){.base = TEST_IDT, .limit = 256 * 16 - 1};
    st.tr = (struct x86_segment){.base = 0x3000, .limit = 0x67, .selector = 0x30, .type = 11,
                                 .present = 1};
    st.seg[S_CS] = (struct x86_segment){.selector = 0x2b, .limit = 0xffffffff, .type = 11, .s = 1,
                                        .dpl = 3, .present = 1, .l = 1, .g = 1};
    st.seg[S_SS] = (struct x86_segment){.selector = 0x23, .limit = 0xffffffff, .type = 3, .s = 1,
                                        .dpl = 3, .present = 1, .db = 1, .g = 1};
    cpu_set_state(m.cpu, &st);
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 2); /* only the handler's writes: the OUT never happened */
    expect_io(&m, 0, false, true, 0, 0, 4);                        /* #GP(0) */
    expect_io(&m, 1, false, true, 0, TEST_CODE + USER_IO + 4, 4); /* at the OUT */
    ck_assert_uint_eq(m.cpu->state.seg[S_CS].selector, 0x10);
    ck_assert_uint_eq(m.cpu->state.gpr[R_RSP], 0x8000 - 6 * 8 + 8);
    machine_destroy(&m);
}
END_TEST

/* Real mode -> protected mode -> long mode -> compatibility mode, as the SDM
 * (9.9, 9.8.5) describes, loaded at TEST_CODE and entered at
 * CS = TEST_CODE >> 4, IP = 0. GNU as source:
 *     .code16
 * start:
 *     cli
 *     mov %cs, %ax
 *     mov %ax, %ds
 *     lgdtl gdtptr - start
 *     mov %cr0, %eax
 *     or $1, %al
 *     mov %eax, %cr0
 *     ljmpl $0x08, $(0x10000 + pm32 - start)
 *     .code32
 * pm32:
 *     mov $0x10, %ax
 *     mov %ax, %ds
 *     mov %ax, %es
 *     mov %ax, %ss
 *     mov $0x8ff0, %esp
 *     mov %cr4, %eax
 *     or $0x20, %eax
 *     mov %eax, %cr4
 *     mov $0x9000, %eax
 *     mov %eax, %cr3
 *     mov $0xc0000080, %ecx
 *     rdmsr
 *     or $0x100, %eax
 *     wrmsr
 *     mov %cr0, %eax
 *     or $0x80000000, %eax
 *     mov %eax, %cr0
 *     ljmp $0x18, $(0x10000 + lm64 - start)
 *     .code64
 * lm64:
 *     mov $0xc0000080, %ecx
 *     rdmsr
 *     mov $0x710, %dx
 *     out %eax, (%dx)
 *     push $0x08
 *     push $(0x10000 + compat - start)
 *     lretq
 *     .code32
 * compat:
 *     mov $0x55, %eax
 *     out %eax, (%dx)
 *     hlt
 *     .p2align 3
 * gdt:
 *     .quad 0
 *     .quad 0x00cf9b000000ffff
 *     .quad 0x00cf93000000ffff
 *     .quad 0x00af9b000000ffff
 * gdtptr:
 *     .word 31
 *     .long 0x10000 + gdt - start
 */
static const uint8_t mode_switch_guest[] = {
    0xfa, 0x8c, 0xc8, 0x8e, 0xd8, 0x66, 0x0f, 0x01, 0x16, 0x98, 0x00, 0x0f,
    0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x1b, 0x00, 0x01,
    0x00, 0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e,
    0xd0, 0xbc, 0xf0, 0x8f, 0x00, 0x00, 0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20,
    0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x90, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0xb9,
    0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f,
    0x30, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0,
    0xea, 0x5b, 0x00, 0x01, 0x00, 0x18, 0x00, 0xb9, 0x80, 0x00, 0x00, 0xc0,
    0x0f, 0x32, 0x66, 0xba, 0x10, 0x07, 0xef, 0x6a, 0x08, 0x68, 0x70, 0x00,
    0x01, 0x00, 0x48, 0xcb, 0xb8, 0x55, 0x00, 0x00, 0x00, 0xef, 0xf4, 0x90,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x9b, 0xcf, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xaf, 0x00, 0x1f, 0x00, 0x78, 0x00,
    0x01, 0x00,
};

START_TEST(real_to_protected_to_long_to_compatibility_mode)
{
    struct kvm_machine m;
    start(&m, false, IO_TEST);
    memcpy(guest_ptr(&m, TEST_CODE), mode_switch_guest, sizeof(mode_switch_guest));
    struct x86_state st;
    x86_state_reset(&st);
    st.seg[S_CS].selector = TEST_CODE >> 4;
    st.seg[S_CS].base = TEST_CODE;
    st.rip = 0;
    cpu_set_state(m.cpu, &st);
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert(m.cpu->sleeping);
    ck_assert_uint_eq(m.io.n, 2);
    expect_io(&m, 0, false, true, 0, X86_EFER_LME | X86_EFER_LMA, 4); /* RDMSR EFER in 64-bit mode */
    expect_io(&m, 1, false, true, 0, 0x55, 4);                         /* from compatibility mode */
    const struct x86_state *s = &m.cpu->state;
    ck_assert_uint_eq(s->seg[S_CS].selector, 0x08);
    ck_assert(!s->seg[S_CS].l && s->seg[S_CS].db);
    ck_assert_uint_eq(s->cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE | X86_CR0_PG);
    ck_assert_uint_eq(s->gdtr.base, TEST_CODE + 0x78);
    ck_assert_uint_eq(s->seg[S_SS].selector, 0x10);
    machine_destroy(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interp_engine");
    TCase *tc = tcase_create("engine");
    tcase_add_test(tc, port_string_and_mmio_accesses_reach_the_devices);
    tcase_add_test(tc, page_fault_is_delivered_with_cr2_and_error_code);
    tcase_add_test(tc, int_n_runs_the_handler_and_iretq_returns);
    tcase_add_test(tc, external_interrupt_wakes_hlt_once);
    tcase_add_test(tc, ring3_round_trip_through_iretq_syscall_and_sysret);
    tcase_add_test(tc, ring3_port_access_outside_the_tss_bitmap_raises_gp);
    tcase_add_test(tc, real_to_protected_to_long_to_compatibility_mode);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
