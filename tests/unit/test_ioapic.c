/* I/O APIC register-level tests following the Intel 82093AA datasheet:
 * identification, redirection entry programming, edge and level delivery
 * into a local APIC (observed through the CPU interrupt interface), masking,
 * remote IRR with EOI re-delivery, polarity, checkpoint round trips and a
 * randomized MMIO stress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/intr.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

#define NS TICKS_PER_NS

struct machine {
    struct simulation sim;
    struct system *sys;
    struct cpu_intr *intr;
};

static struct machine *machine_new(void)
{
    struct machine *m = calloc(1, sizeof(*m));
    sim_init(&m->sim);
    ck_assert_ptr_nonnull(sim_create(&m->sim, "System", "system"));
    ck_assert_ptr_nonnull(sim_create(&m->sim, "LAPIC", "system.lapic0"));
    ck_assert_ptr_nonnull(sim_create(&m->sim, "IOAPIC", "system.ioapic"));
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    m->sys = system_of(sim_find(&m->sim, "system"));
    m->intr = system_cpu_intr(m->sys, 0);
    /* Software-enable the LAPIC so it accepts fixed interrupts. */
    bus_mem_write(&m->sys->bus, PC_LAPIC_BASE + 0xF0, 0x1FF, 4);
    return m;
}

static void machine_free(struct machine *m)
{
    sim_destroy(&m->sim);
    free(m);
}

static uint32_t io_read(struct machine *m, uint32_t index)
{
    bus_mem_write(&m->sys->bus, PC_IOAPIC_BASE, index, 4);
    return (uint32_t)bus_mem_read(&m->sys->bus, PC_IOAPIC_BASE + 0x10, 4);
}

static void io_write(struct machine *m, uint32_t index, uint32_t v)
{
    bus_mem_write(&m->sys->bus, PC_IOAPIC_BASE, index, 4);
    bus_mem_write(&m->sys->bus, PC_IOAPIC_BASE + 0x10, v, 4);
}

static void set_rte(struct machine *m, unsigned pin, uint64_t rte)
{
    io_write(m, 0x11 + 2 * pin, (uint32_t)(rte >> 32));
    io_write(m, 0x10 + 2 * pin, (uint32_t)rte);
}

static uint64_t get_rte(struct machine *m, unsigned pin)
{
    return (uint64_t)io_read(m, 0x11 + 2 * pin) << 32 | io_read(m, 0x10 + 2 * pin);
}

static int pending(struct machine *m)
{
    return m->intr->ops->pending_vector(m->intr->lapic);
}

/* The CPU takes the interrupt and its handler ends with an EOI. */
static uint8_t take_and_eoi(struct machine *m)
{
    uint8_t v = m->intr->ops->ack(m->intr->lapic);
    bus_mem_write(&m->sys->bus, PC_LAPIC_BASE + 0xB0, 0, 4);
    return v;
}

static uint64_t stat(struct machine *m, const char *name)
{
    const struct stat_entry *e = stats_find(&m->sim, name);
    ck_assert_msg(e != NULL, "no stat %s", name);
    return (uint64_t)stat_value(e);
}

static void run_to(struct machine *m, tick_t t)
{
    sim_run(&m->sim, t);
    if (m->sim.eq.now < t)
        m->sim.eq.now = t;
}

#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_ACTIVE_LOW (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LOGICAL (1ull << 11)

START_TEST(test_id_version_arbitration)
{
    struct machine *m = machine_new();
    ck_assert_uint_eq(io_read(m, 0x01), 0x00170011);
    ck_assert_uint_eq(io_read(m, 0x00), 0);
    io_write(m, 0x00, 0xFA000000); /* only bits 27:24 hold the ID */
    ck_assert_uint_eq(io_read(m, 0x00), 0x0A000000);
    ck_assert_uint_eq(io_read(m, 0x02), 0x0A000000);
    io_write(m, 0x01, 0); /* version is read-only */
    ck_assert_uint_eq(io_read(m, 0x01), 0x00170011);
    ck_assert_uint_eq(io_read(m, 0x03), 0); /* unimplemented */
    ck_assert_uint_eq(io_read(m, 0x40), 0);
    /* IOREGSEL reads back its index (bits 7:0). */
    bus_mem_write(&m->sys->bus, PC_IOAPIC_BASE, 0x12345617, 4);
    ck_assert_uint_eq(bus_mem_read(&m->sys->bus, PC_IOAPIC_BASE, 4), 0x17);
    machine_free(m);
}
END_TEST

START_TEST(test_redirection_programming)
{
    struct machine *m = machine_new();
    for (unsigned pin = 0; pin < 24; pin++)
        ck_assert_uint_eq(get_rte(m, pin), RTE_MASKED); /* reset: masked */
    /* All writable fields; delivery status, remote IRR and reserved bits
     * cannot be set. */
    set_rte(m, 7, 0xFFFFFFFFFFFFFFFFull);
    ck_assert_uint_eq(get_rte(m, 7), 0xFF0000000001AFFFull);
    set_rte(m, 7, 0x0300000000000935ull);
    ck_assert_uint_eq(get_rte(m, 7), 0x0300000000000935ull);
    /* Byte-wide IOWIN writes merge into the selected register. */
    bus_mem_write(&m->sys->bus, PC_IOAPIC_BASE, 0x10 + 14, 1);
    bus_mem_write(&m->sys->bus, PC_IOAPIC_BASE + 0x10, 0x77, 1);
    ck_assert_uint_eq(get_rte(m, 7) & 0xFFFF, 0x0977);
    ck_assert_uint_eq(bus_mem_read(&m->sys->bus, PC_IOAPIC_BASE + 0x11, 1), 0x09);
    /* Indexes past the last entry are unimplemented. */
    io_write(m, 0x40, 0x1234);
    ck_assert_uint_eq(io_read(m, 0x40), 0);
    machine_free(m);
}
END_TEST

START_TEST(test_edge_delivery)
{
    struct machine *m = machine_new();
    set_rte(m, 4, 0x34); /* fixed, physical dest 0, edge, active high */
    ck_assert_int_eq(pending(m), -1);
    system_set_irq(m->sys, 4, true);
    ck_assert_int_eq(pending(m), 0x34);
    ck_assert_uint_eq(take_and_eoi(m), 0x34);
    system_set_irq(m->sys, 4, true); /* still high: no new edge */
    ck_assert_int_eq(pending(m), -1);
    system_set_irq(m->sys, 4, false);
    system_pulse_irq(m->sys, 4);
    ck_assert_int_eq(pending(m), 0x34);
    take_and_eoi(m);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin4.delivered"), 2);
    ck_assert_uint_eq(stat(m, "system.ioapic.interruptsDelivered"), 2);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin5.delivered"), 0);
    /* A destination that is not this LAPIC. */
    set_rte(m, 5, 0x0700000000000035ull);
    system_pulse_irq(m->sys, 5);
    ck_assert_int_eq(pending(m), -1);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin5.delivered"), 1);
    /* Logical destination, flat model, LAPIC logical ID 0x01. */
    bus_mem_write(&m->sys->bus, PC_LAPIC_BASE + 0xD0, 0x01000000, 4);
    set_rte(m, 6, 0x0100000000000000ull | RTE_LOGICAL | 0x36);
    system_pulse_irq(m->sys, 6);
    ck_assert_int_eq(pending(m), 0x36);
    take_and_eoi(m);
    /* GSIs past the 24 pins belong to nobody here. */
    system_pulse_irq(m->sys, 40);
    ck_assert_int_eq(pending(m), -1);
    machine_free(m);
}
END_TEST

START_TEST(test_masking)
{
    struct machine *m = machine_new();
    set_rte(m, 3, RTE_MASKED | 0x43);
    system_set_irq(m->sys, 3, true);
    ck_assert_int_eq(pending(m), -1);
    set_rte(m, 3, 0x43); /* the edge while masked is lost */
    ck_assert_int_eq(pending(m), -1);
    system_set_irq(m->sys, 3, false);
    system_set_irq(m->sys, 3, true);
    ck_assert_int_eq(pending(m), 0x43);
    take_and_eoi(m);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin3.delivered"), 1);
    machine_free(m);
}
END_TEST

START_TEST(test_level_remote_irr_and_eoi)
{
    struct machine *m = machine_new();
    set_rte(m, 10, RTE_LEVEL | 0x5A);
    system_set_irq(m->sys, 10, true);
    ck_assert_int_eq(pending(m), 0x5A);
    ck_assert(get_rte(m, 10) & RTE_REMOTE_IRR);
    /* The LAPIC marks it level-triggered in the TMR. */
    ck_assert(bus_mem_read(&m->sys->bus, PC_LAPIC_BASE + 0x180 + (0x5A / 32) * 16, 4) >>
              (0x5A % 32) & 1);
    /* EOI while still asserted: delivered again. */
    ck_assert_uint_eq(take_and_eoi(m), 0x5A);
    ck_assert_int_eq(pending(m), 0x5A);
    ck_assert(get_rte(m, 10) & RTE_REMOTE_IRR);
    /* An EOI for another vector leaves the remote IRR alone. */
    uint8_t v = m->intr->ops->ack(m->intr->lapic);
    ck_assert_uint_eq(v, 0x5A);
    system_set_irq(m->sys, 10, false);
    system_broadcast_eoi(m->sys, 0x5B);
    ck_assert(get_rte(m, 10) & RTE_REMOTE_IRR);
    /* Deasserted, then EOI: remote IRR clears, nothing more. */
    bus_mem_write(&m->sys->bus, PC_LAPIC_BASE + 0xB0, 0, 4);
    ck_assert(!(get_rte(m, 10) & RTE_REMOTE_IRR));
    ck_assert_int_eq(pending(m), -1);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin10.delivered"), 2);
    /* While remote IRR is set, the level does not deliver again. */
    system_set_irq(m->sys, 10, true);
    ck_assert_int_eq(pending(m), 0x5A);
    ck_assert_uint_eq(m->intr->ops->ack(m->intr->lapic), 0x5A);
    system_set_irq(m->sys, 10, false);
    system_set_irq(m->sys, 10, true);
    ck_assert_int_eq(pending(m), -1);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin10.delivered"), 3);
    /* Switching to edge clears the remote IRR. */
    set_rte(m, 10, 0x5A);
    ck_assert(!(get_rte(m, 10) & RTE_REMOTE_IRR));
    machine_free(m);
}
END_TEST

START_TEST(test_unmask_pending_level)
{
    struct machine *m = machine_new();
    set_rte(m, 9, RTE_MASKED | RTE_LEVEL | 0x69);
    system_set_irq(m->sys, 9, true);
    ck_assert_int_eq(pending(m), -1);
    set_rte(m, 9, RTE_LEVEL | 0x69);
    ck_assert_int_eq(pending(m), 0x69);
    ck_assert(get_rte(m, 9) & RTE_REMOTE_IRR);
    machine_free(m);
}
END_TEST

START_TEST(test_polarity)
{
    struct machine *m = machine_new();
    /* Level, active low: an idle (low) line is asserted. */
    set_rte(m, 11, RTE_ACTIVE_LOW | RTE_LEVEL | 0x7B);
    ck_assert_int_eq(pending(m), 0x7B);
    system_set_irq(m->sys, 11, true); /* deasserted */
    ck_assert_uint_eq(take_and_eoi(m), 0x7B);
    ck_assert_int_eq(pending(m), -1);
    ck_assert(!(get_rte(m, 11) & RTE_REMOTE_IRR));
    /* Edge, active low: the falling edge delivers. */
    set_rte(m, 12, RTE_ACTIVE_LOW | 0x7C);
    system_set_irq(m->sys, 12, true);
    ck_assert_int_eq(pending(m), -1);
    system_set_irq(m->sys, 12, false);
    ck_assert_int_eq(pending(m), 0x7C);
    take_and_eoi(m);
    machine_free(m);
}
END_TEST

START_TEST(test_delivery_modes)
{
    struct machine *m = machine_new();
    set_rte(m, 1, (4u << 8) | RTE_LEVEL); /* NMI: edge whatever the trigger bit */
    system_set_irq(m->sys, 1, true);
    ck_assert(m->intr->ops->nmi_pending(m->intr->lapic));
    ck_assert(!(get_rte(m, 1) & RTE_REMOTE_IRR));
    m->intr->ops->nmi_ack(m->intr->lapic);
    set_rte(m, 2, (3u << 8) | 0x22); /* reserved mode: nothing sent */
    system_pulse_irq(m->sys, 2);
    ck_assert_uint_eq(stat(m, "system.ioapic.pin2.delivered"), 0);
    ck_assert_int_eq(pending(m), -1);
    machine_free(m);
}
END_TEST

/* A stand-in CPU: each step takes one deliverable vector and ends it (a
 * still-asserted level line re-delivers at once); logs ticks. */
struct delivery_log {
    tick_t tick[4096];
    uint8_t vector[4096];
    size_t n;
};

static void cpu_step(struct machine *m, struct delivery_log *log, tick_t until, unsigned step)
{
    run_to(m, until);
    /* A device pulses GSI 5 (edge) every 7th step; GSI 10 (level) is
     * asserted for two steps out of five. */
    if (step % 7 == 0)
        system_pulse_irq(m->sys, 5);
    system_set_irq(m->sys, 10, step % 5 >= 3);
    if (m->intr->ops->pending_vector(m->intr->lapic) >= 0) {
        ck_assert_uint_lt(log->n, 4096);
        log->tick[log->n] = sim_now(&m->sim);
        log->vector[log->n++] = take_and_eoi(m);
    }
}

START_TEST(test_serialize_mid_activity)
{
    struct machine *a = machine_new();
    struct bus *b_a = &a->sys->bus;
    set_rte(a, 5, 0x35);
    set_rte(a, 10, RTE_LEVEL | 0x8A);
    bus_mem_write(b_a, PC_LAPIC_BASE + 0x3E0, 0xB, 4);
    bus_mem_write(b_a, PC_LAPIC_BASE + 0x320, (1u << 17) | 0x66, 4);
    bus_mem_write(b_a, PC_LAPIC_BASE + 0x380, 333, 4);
    system_set_irq(a->sys, 10, true); /* remote IRR set, 0x8A in the IRR */
    system_pulse_irq(a->sys, 5);
    ck_assert_uint_eq(a->intr->ops->ack(a->intr->lapic), 0x8A); /* in service */
    ck_assert_int_eq(a->intr->ops->pending_vector(a->intr->lapic), -1); /* 0x35 waits */
    bus_mem_write(b_a, PC_IOAPIC_BASE, 0x14, 4); /* IOREGSEL state too */
    run_to(a, 777777);
    ck_assert(get_rte(a, 10) & RTE_REMOTE_IRR);

    struct ser_node *snap = sim_serialize(&a->sim);
    struct machine *b = machine_new();
    ck_assert_msg(sim_unserialize(&b->sim, snap) == 0, "%s", err_get());
    ser_node_free(snap);
    ck_assert(get_rte(b, 10) & RTE_REMOTE_IRR);
    /* io_read moved IOREGSEL on both; put it back the same way. */
    bus_mem_write(&a->sys->bus, PC_IOAPIC_BASE, 0x14, 4);
    bus_mem_write(&b->sys->bus, PC_IOAPIC_BASE, 0x14, 4);

    static struct delivery_log la, lb;
    memset(&la, 0, sizeof(la));
    memset(&lb, 0, sizeof(lb));
    /* The restored in-service 0x8A ends: the level re-delivers. */
    bus_mem_write(&a->sys->bus, PC_LAPIC_BASE + 0xB0, 0, 4);
    bus_mem_write(&b->sys->bus, PC_LAPIC_BASE + 0xB0, 0, 4);
    unsigned step = 0;
    for (tick_t t = 777777 + 50 * NS; t < 777777 + 5000 * NS; t += 50 * NS, step++) {
        cpu_step(a, &la, t, step);
        cpu_step(b, &lb, t, step);
    }
    ck_assert(memchr(la.vector, 0x8A, la.n) && memchr(la.vector, 0x35, la.n) &&
              memchr(la.vector, 0x66, la.n));
    ck_assert_uint_eq(la.n, lb.n);
    ck_assert_mem_eq(la.tick, lb.tick, la.n * sizeof(la.tick[0]));
    ck_assert_mem_eq(la.vector, lb.vector, la.n);
    struct ser_node *na = sim_serialize(&a->sim), *nb = sim_serialize(&b->sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    machine_free(a);
    machine_free(b);
}
END_TEST

START_TEST(test_unserialize_rejects_bad_entry)
{
    struct machine *a = machine_new();
    struct ser_node *snap = sim_serialize(&a->sim);
    struct ser_node *io = ser_find_child(ser_find_child(ser_find_child(snap, "objects"), "system"),
                                         "ioapic");
    ck_assert_ptr_nonnull(io);
    uint8_t redir[24 * 8] = {0};
    redir[6] = 0x10; /* entry 0: delivery status (bit 12) cannot be saved set */
    ser_put_bytes(io, "redir", redir, sizeof(redir));
    struct machine *b = machine_new();
    ck_assert_int_eq(sim_unserialize(&b->sim, snap), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "redirection entry 0"));
    ser_node_free(snap);
    machine_free(a);
    machine_free(b);
}
END_TEST

START_TEST(test_random_mmio)
{
    struct machine *m = machine_new();
    struct bus *b = &m->sys->bus;
    static const unsigned sizes[] = {1, 2, 4, 8};
    srand(82093);
    for (unsigned i = 0; i < 200000; i++) {
        unsigned r = (unsigned)rand();
        unsigned size = sizes[r & 3];
        uint64_t off;
        switch ((r >> 2) & 3) {
        case 0: off = (unsigned)rand() % PC_IOAPIC_SIZE; break;
        case 1: off = (unsigned)rand() % 0x20; break;
        default: off = (r >> 4) & 1 ? 0x10 : 0x00; break;
        }
        uint64_t val = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
        if ((r >> 5) & 1) {
            /* Mostly valid indexes, sometimes anything. */
            if (off == 0 && (r >> 6) & 3)
                val = (unsigned)rand() % 0x40;
            bus_mem_write(b, PC_IOAPIC_BASE + off, val, size);
        } else {
            (void)bus_mem_read(b, PC_IOAPIC_BASE + off, size);
        }
        switch ((r >> 8) & 7) {
        case 0:
            system_set_irq(m->sys, (unsigned)rand() % 32, (r >> 11) & 1);
            break;
        case 1:
            if (m->intr->ops->pending_vector(m->intr->lapic) >= 0)
                take_and_eoi(m);
            break;
        case 2:
            system_broadcast_eoi(m->sys, (uint8_t)rand());
            break;
        default:
            break;
        }
    }
    ck_assert_uint_eq(io_read(m, 0x01), 0x00170011);
    ck_assert_uint_gt(stat(m, "system.ioapic.interruptsDelivered"), 100);
    machine_free(m);
}
END_TEST

static Suite *ioapic_suite(void)
{
    Suite *s = suite_create("ioapic");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_id_version_arbitration);
    tcase_add_test(tc, test_redirection_programming);
    tcase_add_test(tc, test_edge_delivery);
    tcase_add_test(tc, test_masking);
    tcase_add_test(tc, test_level_remote_irr_and_eoi);
    tcase_add_test(tc, test_unmask_pending_level);
    tcase_add_test(tc, test_polarity);
    tcase_add_test(tc, test_delivery_modes);
    tcase_add_test(tc, test_serialize_mid_activity);
    tcase_add_test(tc, test_unserialize_rejects_bad_entry);
    tcase_add_test(tc, test_random_mmio);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(ioapic_suite());
}
