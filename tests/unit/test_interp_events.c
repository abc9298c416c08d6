/* Event delivery details of the interpreter engine (cpu/interp_engine.c)
 * that Linux depends on (SDM Vol. 3A 6.7.1 and 6.8.3; STI, POPF): the
 * interrupt shadow after STI and after MOV SS (an interrupt pending at the
 * boundary is taken one instruction later), an interrupt pending when POPF
 * sets IF taken right after it, and NMI delivery through vector 2
 * regardless of IF, with further NMIs held until the handler's IRET. The
 * CPU runs on "interp" with a fake LAPIC whose interrupt and NMI lines the
 * test drives. */
#include <string.h>

#include "cpu/cpu.h"
#include "mem/bus.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/object.h"
#include "testlib.h"

#define GDT 0x1000ull
#define IDT 0x2000ull
#define PML4 0x3000ull
#define STACK_TOP 0x9000ull
#define CODE 0x10000ull
#define EXT_HANDLER (CODE + 0x100)
#define NMI_HANDLER (CODE + 0x200)
#define DATA 0x11000ull
#define EXT_VECTOR 0x40
#define TEST_PORT 0x710

static struct {
    struct simulation sim;
    struct system *sys;
    struct cpu *cpu;
    struct test_lapic lapic;
    unsigned port_writes; /* the NMI handler's */
} m;

/* The NMI handler's port write: the first one raises a second NMI while the
 * handler still runs. */
static uint64_t port_read(void *o, uint64_t off, unsigned size)
{
    (void)o;
    (void)off;
    (void)size;
    return 0;
}
static void port_write(void *o, uint64_t off, uint64_t val, unsigned size)
{
    (void)off;
    (void)val;
    (void)size;
    struct test_lapic *f = o;
    if (++m.port_writes == 1) {
        f->nmi = true;
        f->intr.notify(f->intr.cpu);
    }
}
static const struct io_ops port_ops = {port_read, port_write};

static void put64(uint64_t gpa, uint64_t v)
{
    uint8_t *p = bus_ram_ptr(&m.sys->bus, gpa, 8);
    ck_assert_ptr_nonnull(p);
    memcpy(p, &v, 8);
}

static uint64_t get64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, bus_ram_ptr(&m.sys->bus, gpa, 8), 8);
    return v;
}

static void put_code(uint64_t gpa, const uint8_t *code, size_t len)
{
    memcpy(bus_ram_ptr(&m.sys->bus, gpa, len), code, len);
}

/* A 64-bit interrupt gate to handler, CS 0x08. */
static void gate(unsigned vector, uint64_t handler)
{
    put64(IDT + 16 * vector,
          (handler & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((handler >> 16 & 0xffff) << 48));
    put64(IDT + 16 * vector + 8, handler >> 32);
}

/* The handler of EXT_VECTOR: stores RAX and RBX at DATA, halts. */
static const uint8_t ext_handler[] = {
    0x48, 0x89, 0x04, 0x25, 0x00, 0x10, 0x01, 0x00, /* mov [0x11000], rax */
    0x48, 0x89, 0x1c, 0x25, 0x08, 0x10, 0x01, 0x00, /* mov [0x11008], rbx */
    0xf4,                                           /* 1: hlt */
    0xeb, 0xfd,                                     /* jmp 1b */
};

/* The NMI handler: R8 counts invocations, R10 the nesting depth, stored
 * at DATA + 8 * R8; one port write; IRETQ. */
static const uint8_t nmi_handler[] = {
    0x49, 0xff, 0xc0,                               /* inc r8 */
    0x49, 0xff, 0xc2,                               /* inc r10 */
    0x4e, 0x89, 0x14, 0xc5, 0x00, 0x10, 0x01, 0x00, /* mov [r8*8 + 0x11000], r10 */
    0xee,                                           /* out dx, al */
    0x49, 0xff, 0xca,                               /* dec r10 */
    0x48, 0xcf,                                     /* iretq */
};

static void machine_up(void)
{
    memset(&m, 0, sizeof(m));
    sim_init(&m.sim);
    log_set_quiet(true);
    struct sim_object *s = test_new_object(&m.sim, "System", "system");
    test_set_param(s, "mem_size", "16M");
    struct sim_object *c = test_new_object(&m.sim, "CPU", "system.cpu0");
    test_set_param(c, "engine", "interp");
    m.sys = SIM_CAST(struct system, s);
    m.cpu = SIM_CAST(struct cpu, c);
    test_lapic_attach(&m.lapic, m.sys);
    ck_assert_msg(sim_instantiate(&m.sim) == 0, "instantiate: %s", err_get());
    ck_assert_int_eq(bus_map_pio(&m.sys->bus, TEST_PORT, 1, &port_ops, &m.lapic, "test-port"), 0);
    put64(GDT + 0x08, 0x00af9b000000ffffull); /* 64-bit code */
    put64(GDT + 0x10, 0x00cf93000000ffffull); /* data */
    put64(GDT + 0x18, 0x00cf93000000ffffull); /* data (the MOV SS test loads it) */
    put64(PML4, (PML4 + 0x1000) | 3);
    put64(PML4 + 0x1000, (PML4 + 0x2000) | 3);
    put64(PML4 + 0x2000, 0x83);
    gate(EXT_VECTOR, EXT_HANDLER);
    gate(X86_NMI, NMI_HANDLER);
    put_code(EXT_HANDLER, ext_handler, sizeof(ext_handler));
    put_code(NMI_HANDLER, nmi_handler, sizeof(nmi_handler));
}

static void machine_down(void)
{
    sim_destroy(&m.sim);
}

/* Loads code at CODE and a 64-bit CPL 0 state with IF as given. */
static void start(const uint8_t *code, size_t len, bool interrupts_enabled)
{
    put_code(CODE, code, len);
    struct x86_state st;
    x86_state_reset(&st);
    x86_state_long_mode(&st, PML4, CODE, STACK_TOP);
    st.seg[S_CS].selector = 0x08;
    for (int i = 0; i < S_NSEGS; i++)
        if (i != S_CS)
            st.seg[i].selector = 0x10;
    st.gdtr = (struct x86_dtable){.base = GDT, .limit = 0x1f};
    st.idtr = (struct x86_dtable){.base = IDT, .limit = 256 * 16 - 1};
    st.gpr[R_RCX] = 0x18;
    st.gpr[R_RDX] = TEST_PORT;
    if (interrupts_enabled)
        st.rflags |= X86_FLAG_IF;
    cpu_set_state(m.cpu, &st);
}

/* Runs exactly one instruction (one cycle: the engine runs one instruction
 * per cycle without a timing model) and returns the state after it. */
static const struct x86_state *step(void)
{
    sim_run(&m.sim, sim_now(&m.sim) + m.cpu->clock.period);
    ck_assert_int_eq(cpu_sync_state(m.cpu), 0);
    return &m.cpu->state;
}

static const uint8_t inc_eax_ebx[] = {
    0xff, 0xc0, /* inc eax */
    0xff, 0xc3, /* inc ebx */
    0xeb, 0xfe, /* jmp . */
};

START_TEST(interrupt_is_taken_at_the_first_boundary_with_if_set)
{
    /* The control case: no shadow, the interrupt comes before inc eax. */
    start(inc_eax_ebx, sizeof(inc_eax_ebx), true);
    m.lapic.pending = EXT_VECTOR;
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert_uint_eq(m.lapic.acks, 1);
    ck_assert_uint_eq(get64(DATA), 0);
    ck_assert_uint_eq(get64(DATA + 8), 0);
    ck_assert_uint_eq(get64(STACK_TOP - 40), CODE); /* the frame's RIP */
}
END_TEST

START_TEST(sti_shadow_delays_the_interrupt_by_one_instruction)
{
    static const uint8_t code[] = {
        0xfb,       /* sti */
        0xff, 0xc0, /* inc eax: in STI's shadow */
        0xff, 0xc3, /* inc ebx */
        0xeb, 0xfe, /* jmp . */
    };
    start(code, sizeof(code), false);
    m.lapic.pending = EXT_VECTOR;
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert_uint_eq(m.lapic.acks, 1);
    ck_assert_uint_eq(get64(DATA), 1);
    ck_assert_uint_eq(get64(DATA + 8), 0);
    ck_assert_uint_eq(get64(STACK_TOP - 40), CODE + 3); /* returns to inc ebx */
}
END_TEST

START_TEST(sti_nop_cli_opens_an_interrupt_window)
{
    static const uint8_t code[] = {
        0xfb,       /* sti */
        0x90,       /* nop: the window */
        0xfa,       /* cli */
        0xff, 0xc0, /* inc eax */
        0xeb, 0xfe, /* jmp . */
    };
    start(code, sizeof(code), false);
    m.lapic.pending = EXT_VECTOR;
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert_uint_eq(m.lapic.acks, 1);
    ck_assert_uint_eq(get64(DATA), 0);
    ck_assert_uint_eq(get64(STACK_TOP - 40), CODE + 2); /* returns to cli */
}
END_TEST

START_TEST(popf_setting_if_takes_a_pending_interrupt_next)
{
    static const uint8_t code[] = {
        0x68, 0x02, 0x02, 0x00, 0x00, /* push 0x202 */
        0x9d,                         /* popf: IF=1, no shadow */
        0xff, 0xc0,                   /* inc eax */
        0xeb, 0xfe,                   /* jmp . */
    };
    start(code, sizeof(code), false);
    m.lapic.pending = EXT_VECTOR;
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert_uint_eq(m.lapic.acks, 1);
    ck_assert_uint_eq(get64(DATA), 0);
    ck_assert_uint_eq(get64(STACK_TOP - 40), CODE + 6);
}
END_TEST

START_TEST(mov_ss_shadow_delays_the_interrupt_by_one_instruction)
{
    static const uint8_t code[] = {
        0x8e, 0xd1, /* mov ss, cx */
        0xff, 0xc0, /* inc eax: in MOV SS's shadow */
        0xff, 0xc3, /* inc ebx */
        0xeb, 0xfe, /* jmp . */
    };
    start(code, sizeof(code), true);
    const struct x86_state *s = step();
    ck_assert_uint_eq(s->rip, CODE + 2);
    ck_assert_uint_eq(s->seg[S_SS].selector, 0x18);
    ck_assert_uint_ne(s->ev.interrupt_shadow, 0);
    /* The interrupt arrives at the boundary after MOV SS (IF=1). */
    m.lapic.pending = EXT_VECTOR;
    sim_run(&m.sim, sim_now(&m.sim) + TICKS_PER_MS);
    ck_assert_uint_eq(m.lapic.acks, 1);
    ck_assert_uint_eq(get64(DATA), 1);
    ck_assert_uint_eq(get64(DATA + 8), 0);
    ck_assert_uint_eq(get64(STACK_TOP - 40), CODE + 4);
}
END_TEST

START_TEST(nmi_ignores_if_and_waits_for_iret)
{
    static const uint8_t code[] = {0xeb, 0xfe}; /* jmp . with IF=0 */
    start(code, sizeof(code), false);
    m.lapic.pending = EXT_VECTOR; /* masked by IF=0: never taken */
    m.lapic.nmi = true;
    sim_run(&m.sim, TICKS_PER_MS);
    ck_assert_int_eq(cpu_sync_state(m.cpu), 0);
    const struct x86_state *s = &m.cpu->state;
    /* Two NMIs, the second raised inside the first handler and delivered
     * only after its IRETQ: depth 1 both times. */
    ck_assert_uint_eq(m.lapic.nmi_acks, 2);
    ck_assert_uint_eq(s->gpr[R_R8], 2);
    ck_assert_uint_eq(get64(DATA + 8), 1);
    ck_assert_uint_eq(get64(DATA + 16), 1);
    ck_assert_uint_eq(s->gpr[R_R10], 0);
    ck_assert(!s->ev.nmi_masked);
    ck_assert_uint_eq(m.lapic.acks, 0);
    ck_assert_uint_eq(s->rip, CODE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interp_events");
    TCase *tc = tcase_create("events");
    tcase_add_checked_fixture(tc, machine_up, machine_down);
    tcase_add_test(tc, interrupt_is_taken_at_the_first_boundary_with_if_set);
    tcase_add_test(tc, sti_shadow_delays_the_interrupt_by_one_instruction);
    tcase_add_test(tc, sti_nop_cli_opens_an_interrupt_window);
    tcase_add_test(tc, popf_setting_if_takes_a_pending_interrupt_next);
    tcase_add_test(tc, mov_ss_shadow_delays_the_interrupt_by_one_instruction);
    tcase_add_test(tc, nmi_ignores_if_and_waits_for_iret);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
