/* 8259A PIC pair: register-level behaviour from the Intel 8259A datasheet
 * and the PC wiring (cascade on IR2, ELCR, PIT on GSI 2). */
#include <stdlib.h>

#include "dev/pic8259.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

struct machine {
    struct simulation sim;
    struct sim_object *pic;
    struct system *sys;
};

static void machine_new(struct machine *m)
{
    sim_init(&m->sim);
    ck_assert_ptr_nonnull(sim_create(&m->sim, "System", "system"));
    ck_assert_int_eq(sim_add_override(&m->sim, "system.mem_size=16M"), 0);
    m->pic = sim_create(&m->sim, "PIC8259", "system.pic");
    ck_assert_ptr_nonnull(m->pic);
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    m->sys = system_of(m->pic);
}

static void outb(struct machine *m, uint16_t port, uint8_t v)
{
    bus_pio_write(&m->sys->bus, port, v, 1);
}

static uint8_t inb(struct machine *m, uint16_t port)
{
    return (uint8_t)bus_pio_read(&m->sys->bus, port, 1);
}

/* The sequence Linux's init_8259A uses: edge, cascade, 8086 mode. */
static void pc_init(struct machine *m, uint8_t icw4)
{
    outb(m, 0x20, 0x11);
    outb(m, 0x21, 0x20);
    outb(m, 0x21, 0x04);
    outb(m, 0x21, icw4);
    outb(m, 0xA0, 0x11);
    outb(m, 0xA1, 0x28);
    outb(m, 0xA1, 0x02);
    outb(m, 0xA1, icw4);
}

static uint8_t read_isr(struct machine *m, uint16_t base)
{
    outb(m, base, 0x0B);
    return inb(m, base);
}

static uint8_t read_irr(struct machine *m, uint16_t base)
{
    outb(m, base, 0x0A);
    return inb(m, base);
}

START_TEST(init_sequence_and_mask)
{
    struct machine m;
    machine_new(&m);
    /* Masked until initialized. */
    ck_assert_uint_eq(inb(&m, 0x21), 0xff);
    system_pulse_irq(m.sys, 1);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    pc_init(&m, 0x01);
    /* ICW1 cleared the IMR and the latched request. */
    ck_assert_uint_eq(inb(&m, 0x21), 0x00);
    ck_assert_uint_eq(inb(&m, 0xA1), 0x00);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    /* Linux's probe: write 0xff, read it back. */
    outb(&m, 0x21, 0xff);
    ck_assert_uint_eq(inb(&m, 0x21), 0xff);
    outb(&m, 0x21, 0x00);
    system_pulse_irq(m.sys, 1);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), 0x21);
    ck_assert(pic8259_intr(m.pic));
    outb(&m, 0x21, 0x02); /* mask IRQ1: IRR keeps it, INTR drops */
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    ck_assert_uint_eq(read_irr(&m, 0x20), 0x02);
    outb(&m, 0x21, 0x00);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x21);
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x02);
    ck_assert_uint_eq(read_irr(&m, 0x20), 0x00);
    outb(&m, 0x20, 0x20); /* non-specific EOI */
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x00);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(nesting_and_eoi)
{
    struct machine m;
    machine_new(&m);
    pc_init(&m, 0x01);
    system_pulse_irq(m.sys, 3);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x23);
    /* Lower priority waits while IR3 is in service. */
    system_pulse_irq(m.sys, 5);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    /* Higher priority (IRQ0 arrives as GSI 2) nests. */
    system_pulse_irq(m.sys, PC_GSI_PIT);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), 0x20);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x20);
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x09);
    outb(&m, 0x20, 0x20); /* clears IR0, the highest in service */
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x08);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    outb(&m, 0x20, 0x63); /* specific EOI for IR3 */
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x00);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x25);
    /* GSI 0 is not an ISA line. */
    outb(&m, 0x20, 0x20);
    system_pulse_irq(m.sys, 0);
    ck_assert_uint_eq(read_irr(&m, 0x20), 0x00);
    /* Nothing pending: spurious IRQ 7, ISR untouched. */
    ck_assert_int_eq(pic8259_ack(m.pic), 0x27);
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x00);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(cascade_priority)
{
    struct machine m;
    machine_new(&m);
    pc_init(&m, 0x01);
    system_pulse_irq(m.sys, 3);
    system_pulse_irq(m.sys, PC_GSI_RTC); /* IRQ 8: slave IR0 via master IR2 */
    ck_assert_int_eq(pic8259_pending_vector(m.pic), 0x28);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x28);
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x04);
    ck_assert_uint_eq(read_isr(&m, 0xA0), 0x01);
    /* IR3 is below IR2 in service; IR1 above preempts. */
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    system_pulse_irq(m.sys, 1);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x21);
    outb(&m, 0x20, 0x20);
    /* Another slave request waits for the master's IR2 EOI. */
    system_pulse_irq(m.sys, 12);
    outb(&m, 0xA0, 0x20);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    outb(&m, 0x20, 0x20);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), 0x2C);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x2C);
    outb(&m, 0xA0, 0x20);
    outb(&m, 0x20, 0x20);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x23);
    /* Slave masked: its request does not reach the master. */
    outb(&m, 0x20, 0x20);
    outb(&m, 0xA1, 0x10);
    system_pulse_irq(m.sys, 12);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(level_vs_edge_elcr)
{
    struct machine m;
    machine_new(&m);
    pc_init(&m, 0x01);
    /* IRQ 0, 1, 2, 8, 13 are fixed edge. */
    outb(&m, 0x4D0, 0xff);
    outb(&m, 0x4D1, 0xff);
    ck_assert_uint_eq(inb(&m, 0x4D0), 0xf8);
    ck_assert_uint_eq(inb(&m, 0x4D1), 0xde);
    outb(&m, 0x4D0, 0x00);
    outb(&m, 0x4D1, 0x04); /* IRQ 10 level */
    system_set_irq(m.sys, 10, true);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x2A);
    outb(&m, 0xA0, 0x20);
    outb(&m, 0x20, 0x20);
    /* Still asserted: requested again. */
    ck_assert_int_eq(pic8259_pending_vector(m.pic), 0x2A);
    system_set_irq(m.sys, 10, false);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    ck_assert_uint_eq(read_irr(&m, 0xA0), 0x00);
    /* Edge IRQ 11 held high: one request only. */
    system_set_irq(m.sys, 11, true);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x2B);
    outb(&m, 0xA0, 0x20);
    outb(&m, 0x20, 0x20);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), -1);
    system_set_irq(m.sys, 11, false);
    system_set_irq(m.sys, 11, true);
    ck_assert_int_eq(pic8259_pending_vector(m.pic), 0x2B);
    /* LTIM in ICW1 makes every input level-sensitive. */
    outb(&m, 0xA0, 0x19);
    outb(&m, 0xA1, 0x28);
    outb(&m, 0xA1, 0x02);
    outb(&m, 0xA1, 0x01);
    ck_assert_uint_eq(read_irr(&m, 0xA0), 0x08);
    system_set_irq(m.sys, 11, false);
    ck_assert_uint_eq(read_irr(&m, 0xA0), 0x00);
    sim_destroy(&m.sim);
}
END_TEST

static unsigned intr_changes;
static bool intr_last;
static void intr_notify(void *opaque, bool level)
{
    (void)opaque;
    intr_changes++;
    intr_last = level;
}

START_TEST(aeoi_poll_rotate_notify)
{
    struct machine m;
    machine_new(&m);
    intr_changes = 0;
    pic8259_set_intr_notify(m.pic, intr_notify, NULL);
    pc_init(&m, 0x03); /* auto-EOI */
    system_pulse_irq(m.sys, 4);
    ck_assert_uint_eq(intr_changes, 1);
    ck_assert(intr_last);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x24);
    ck_assert_uint_eq(intr_changes, 2);
    ck_assert(!intr_last);
    ck_assert_uint_eq(read_isr(&m, 0x20), 0x00);
    /* Poll: the read is the acknowledge. */
    system_pulse_irq(m.sys, 6);
    outb(&m, 0x20, 0x0C);
    ck_assert_uint_eq(inb(&m, 0x20), 0x86);
    outb(&m, 0x20, 0x0C);
    ck_assert_uint_eq(inb(&m, 0x20), 0x00);
    /* Set priority: IR4 lowest, so IR5 is now above IR3. */
    outb(&m, 0x20, 0xC4);
    system_pulse_irq(m.sys, 3);
    system_pulse_irq(m.sys, 5);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x25);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x23);
    /* Rotate on specific EOI in normal mode: IR3 becomes lowest. */
    pc_init(&m, 0x01);
    system_pulse_irq(m.sys, 3);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x23);
    outb(&m, 0x20, 0xE3);
    system_pulse_irq(m.sys, 1);
    system_pulse_irq(m.sys, 4);
    ck_assert_int_eq(pic8259_ack(m.pic), 0x24);
    sim_destroy(&m.sim);
}
END_TEST

struct intr_trace {
    unsigned changes;
    bool level;
};

static void trace_intr(void *opaque, bool level)
{
    struct intr_trace *t = opaque;
    t->changes++;
    t->level = level;
}

/* Drives one machine through a fixed pseudo-random script step. */
static int script_step(struct machine *m, uint32_t *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    uint32_t r = *rng >> 8;
    unsigned gsi = r % 16;
    switch (r >> 4 & 3) {
    case 0:
        system_pulse_irq(m->sys, gsi);
        return -2;
    case 1:
        return pic8259_ack(m->pic);
    case 2:
        outb(m, gsi & 8 ? 0xA0 : 0x20, 0x20);
        return -3;
    default:
        return pic8259_pending_vector(m->pic);
    }
}

START_TEST(serialize_round_trip)
{
    struct machine a, b;
    machine_new(&a);
    machine_new(&b);
    pc_init(&a, 0x01);
    outb(&a, 0x4D1, 0x04);
    system_set_irq(a.sys, 10, true);
    uint32_t rng = 7;
    for (int i = 0; i < 500; i++)
        script_step(&a, &rng);
    outb(&a, 0x20, 0x0B); /* leave OCW3 state mid-way */
    struct ser_node *na = sim_serialize(&a.sim);
    ck_assert_msg(sim_unserialize(&b.sim, na) == 0, "%s", err_get());
    struct ser_node *nb = sim_serialize(&b.sim);
    ck_assert(ser_node_equal(na, nb));
    uint32_t rng_b = rng;
    struct intr_trace ta = {0}, tb = {0};
    pic8259_set_intr_notify(a.pic, trace_intr, &ta);
    pic8259_set_intr_notify(b.pic, trace_intr, &tb);
    for (int i = 0; i < 2000; i++) {
        ck_assert_int_eq(script_step(&a, &rng), script_step(&b, &rng_b));
        /* The same INTR edges after the same steps. */
        ck_assert_uint_eq(ta.changes, tb.changes);
        ck_assert_int_eq(ta.level, tb.level);
    }
    ck_assert_uint_gt(ta.changes, 100);
    ser_node_free(na);
    ser_node_free(nb);
    na = sim_serialize(&a.sim);
    nb = sim_serialize(&b.sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a.sim);
    sim_destroy(&b.sim);
}
END_TEST

START_TEST(random_port_access)
{
    struct machine m;
    machine_new(&m);
    static const uint16_t ports[] = {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1};
    static const unsigned sizes[] = {1, 2, 4};
    srand(12345);
    for (int i = 0; i < 200000; i++) {
        uint16_t port = ports[rand() % 6];
        unsigned size = sizes[rand() % 3];
        if (rand() & 1)
            bus_pio_write(&m.sys->bus, port, (uint64_t)rand(), size);
        else
            bus_pio_read(&m.sys->bus, port, size);
        if (rand() % 4 == 0)
            system_set_irq(m.sys, (unsigned)(rand() % 24), rand() & 1);
        int v = pic8259_pending_vector(m.pic);
        ck_assert_int_ge(v, -1);
        ck_assert_int_le(v, 255);
        if (v >= 0 && rand() % 2 == 0)
            ck_assert_int_eq(pic8259_ack(m.pic), v);
    }
    sim_destroy(&m.sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pic8259");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, init_sequence_and_mask);
    tcase_add_test(tc, nesting_and_eoi);
    tcase_add_test(tc, cascade_priority);
    tcase_add_test(tc, level_vs_edge_elcr);
    tcase_add_test(tc, aeoi_poll_rotate_notify);
    tcase_add_test(tc, serialize_round_trip);
    tcase_add_test(tc, random_port_access);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
