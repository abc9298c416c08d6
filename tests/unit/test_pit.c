/* 8254 PIT and port 0x61: counts, OUT edges and IRQ 0 timing from the
 * Intel 8254 datasheet, computed from simulated time. Clock k of the
 * 1.193182 MHz input is at tick ceil(k * 1e12 / 1193182). */
#include <stdlib.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

#define HZ 1193182ULL

struct irq_edge {
    tick_t when;
    bool level;
};

struct machine {
    struct simulation sim;
    struct system *sys;
    struct event horizon; /* keeps sim_run landing exactly on its limit */
    struct irq_edge edges[4096];
    unsigned nedges;
    unsigned other_gsis;
};

static void record_irq(void *opaque, unsigned gsi, bool level)
{
    struct machine *m = opaque;
    if (gsi != PC_GSI_PIT) {
        m->other_gsis++;
        return;
    }
    if (m->nedges < 4096)
        m->edges[m->nedges++] = (struct irq_edge){sim_now(&m->sim), level};
}

static void horizon_fn(struct event *ev, void *arg)
{
    (void)ev;
    (void)arg;
}

static void machine_new(struct machine *m)
{
    sim_init(&m->sim);
    m->nedges = 0;
    m->other_gsis = 0;
    ck_assert_ptr_nonnull(sim_create(&m->sim, "System", "system"));
    ck_assert_int_eq(sim_add_override(&m->sim, "system.mem_size=16M"), 0);
    struct sim_object *pit = sim_create(&m->sim, "PIT8254", "system.pit");
    ck_assert_ptr_nonnull(pit);
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    m->sys = system_of(pit);
    system_add_irq_sink(m->sys, record_irq, m);
    event_init(&m->horizon, "horizon", EVPRI_DEVICE, horizon_fn, NULL);
    sim_schedule(&m->sim, &m->horizon, TICK_MAX - 1);
}

static void advance_to(struct machine *m, tick_t t)
{
    ck_assert_uint_ge(t, sim_now(&m->sim));
    sim_run(&m->sim, t);
    ck_assert_uint_eq(sim_now(&m->sim), t);
}

static tick_t clock_tick(uint64_t k)
{
    return (tick_t)(((unsigned __int128)k * TICKS_PER_S + HZ - 1) / HZ);
}

static uint64_t tick_clock(tick_t t)
{
    return (uint64_t)((unsigned __int128)t * HZ / TICKS_PER_S);
}

static void outb(struct machine *m, uint16_t port, uint8_t v)
{
    bus_pio_write(&m->sys->bus, port, v, 1);
}

static uint8_t inb(struct machine *m, uint16_t port)
{
    return (uint8_t)bus_pio_read(&m->sys->bus, port, 1);
}

static void program(struct machine *m, unsigned ch, uint8_t control, uint16_t count)
{
    outb(m, 0x43, control);
    outb(m, (uint16_t)(0x40 + ch), count & 0xff);
    outb(m, (uint16_t)(0x40 + ch), count >> 8);
}

static uint16_t read_word(struct machine *m, unsigned ch)
{
    uint8_t lo = inb(m, (uint16_t)(0x40 + ch));
    return (uint16_t)(lo | inb(m, (uint16_t)(0x40 + ch)) << 8);
}

START_TEST(mode2_rate_generator)
{
    struct machine m;
    machine_new(&m);
    const uint32_t n = 1193;
    program(&m, 0, 0x34, n); /* written at clock 0, loaded at clock 1 */
    ck_assert_uint_eq(m.nedges, 1); /* control word raised OUT0 */
    ck_assert(m.edges[0].level);
    advance_to(&m, 100 * TICKS_PER_MS);
    /* Falls at 1 + kN - 1, rises at 1 + kN. */
    unsigned rises = 0;
    for (unsigned i = 1; i < m.nedges; i++) {
        uint64_t k = (i + 1) / 2;
        bool rise = (i % 2) == 0;
        ck_assert_int_eq(m.edges[i].level, rise);
        ck_assert_uint_eq(m.edges[i].when, clock_tick(1 + k * n - (rise ? 0 : 1)));
        rises += rise;
    }
    uint64_t last_clock = tick_clock(100 * TICKS_PER_MS - 1);
    ck_assert_uint_eq(rises, (last_clock - 1) / n);
    ck_assert_uint_eq(rises, 100);
    ck_assert_uint_eq(m.other_gsis, 0);
    /* Live count: N at the load clock, then one less per clock. */
    uint64_t c = tick_clock(sim_now(&m.sim));
    ck_assert_uint_eq(read_word(&m, 0), n - (c - 1) % n);
    /* A new count (no control word) applies from the end of this period. */
    uint64_t boundary = 1 + ((c - 1) / n + 1) * n;
    outb(&m, 0x40, 500 & 0xff);
    outb(&m, 0x40, 500 >> 8);
    unsigned before = m.nedges;
    advance_to(&m, clock_tick(boundary + 2 * 500 + 1));
    ck_assert_uint_eq(m.nedges - before, 6);
    ck_assert_uint_eq(m.edges[before + 1].when, clock_tick(boundary));
    ck_assert_uint_eq(m.edges[before + 2].when, clock_tick(boundary + 499));
    ck_assert_uint_eq(m.edges[before + 3].when, clock_tick(boundary + 500));
    ck_assert_uint_eq(m.edges[before + 5].when, clock_tick(boundary + 1000));
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(mode3_square_wave)
{
    struct machine m;
    machine_new(&m);
    program(&m, 0, 0x36, 100);
    advance_to(&m, clock_tick(1 + 1000));
    /* Even count: high 50 clocks, low 50. */
    /* Edges at the limit itself are not run: 10 falls, 9 rises. */
    ck_assert_uint_eq(m.nedges, 1 + 19);
    for (unsigned i = 1; i < m.nedges; i++) {
        uint64_t k = i / 2;
        bool rise = (i % 2) == 0;
        ck_assert_int_eq(m.edges[i].level, rise);
        ck_assert_uint_eq(m.edges[i].when, clock_tick(1 + k * 100 + (rise ? 0 : 50)));
    }
    /* Count decrements by two: 100, 98, ... */
    advance_to(&m, clock_tick(1 + 1000 + 10));
    ck_assert_uint_eq(read_word(&m, 0), 80);
    /* Odd count 101: high 51 clocks, low 50. A control word restarts the
     * channel; OUT was high, so the first edge is a fall. */
    uint64_t cw = tick_clock(sim_now(&m.sim));
    program(&m, 0, 0x36, 101);
    unsigned before = m.nedges;
    advance_to(&m, clock_tick(cw + 1 + 3 * 101 + 1));
    ck_assert_uint_eq(m.nedges - before, 6);
    for (unsigned k = 0; k < 3; k++) {
        struct irq_edge *fall = &m.edges[before + 2 * k], *rise = fall + 1;
        ck_assert(!fall->level);
        ck_assert(rise->level);
        ck_assert_uint_eq(fall->when, clock_tick(cw + 1 + k * 101 + 51));
        ck_assert_uint_eq(rise->when, clock_tick(cw + 1 + (k + 1) * 101));
    }
    /* A new count during the high half applies from the next half-cycle. */
    cw = tick_clock(sim_now(&m.sim));
    program(&m, 0, 0x36, 100);
    advance_to(&m, clock_tick(cw + 1 + 10));
    outb(&m, 0x40, 60);
    outb(&m, 0x40, 0);
    before = m.nedges;
    advance_to(&m, clock_tick(cw + 1 + 50 + 5));
    ck_assert_uint_eq(read_word(&m, 0), 60 - 2 * 5); /* low half of the new count */
    advance_to(&m, clock_tick(cw + 1 + 50 + 30 + 60 + 1));
    ck_assert_uint_eq(m.nedges - before, 4);
    ck_assert_uint_eq(m.edges[before].when, clock_tick(cw + 1 + 50));
    ck_assert_uint_eq(m.edges[before + 1].when, clock_tick(cw + 1 + 50 + 30));
    ck_assert_uint_eq(m.edges[before + 2].when, clock_tick(cw + 1 + 50 + 30 + 30));
    ck_assert_uint_eq(m.edges[before + 3].when, clock_tick(cw + 1 + 50 + 30 + 60));
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(mode0_one_shot_exact_tick)
{
    struct machine m;
    machine_new(&m);
    advance_to(&m, 5 * TICKS_PER_US);
    uint64_t cw = tick_clock(sim_now(&m.sim));
    program(&m, 0, 0x30, 1000);
    ck_assert_uint_eq(m.nedges, 0); /* mode 0 OUT starts low */
    tick_t tc = clock_tick(cw + 1 + 1000);
    advance_to(&m, tc - 1);
    ck_assert_uint_eq(m.nedges, 0);
    ck_assert_uint_eq(read_word(&m, 0), 1);
    advance_to(&m, tc + 1);
    ck_assert_uint_eq(m.nedges, 1);
    ck_assert_uint_eq(m.edges[0].when, tc);
    ck_assert(m.edges[0].level);
    /* The counter keeps counting past zero; OUT stays high. */
    advance_to(&m, clock_tick(cw + 1 + 1000 + 5));
    ck_assert_uint_eq(read_word(&m, 0), 0x10000 - 5);
    advance_to(&m, 50 * TICKS_PER_MS);
    ck_assert_uint_eq(m.nedges, 1);
    /* Writing a new count's first byte drives OUT low at once. */
    outb(&m, 0x40, 10);
    ck_assert_uint_eq(m.nedges, 2);
    ck_assert(!m.edges[1].level);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(latch_and_read_back)
{
    struct machine m;
    machine_new(&m);
    program(&m, 0, 0x34, 5000);
    advance_to(&m, clock_tick(101));
    outb(&m, 0x43, 0x00); /* latch channel 0 */
    advance_to(&m, clock_tick(201));
    ck_assert_uint_eq(read_word(&m, 0), 5000 - 100);
    ck_assert_uint_eq(read_word(&m, 0), 5000 - 200); /* live again */
    /* A second latch before the first is read is ignored. */
    outb(&m, 0x43, 0x00);
    advance_to(&m, clock_tick(301));
    outb(&m, 0x43, 0x00);
    ck_assert_uint_eq(read_word(&m, 0), 5000 - 200);
    /* Read-back: status then count of channel 0. */
    outb(&m, 0x43, 0xC2);
    uint8_t status = inb(&m, 0x40);
    ck_assert_uint_eq(status, 0x80 | 0x34); /* OUT high, RW 3, mode 2, binary */
    ck_assert_uint_eq(read_word(&m, 0), 5000 - 300);
    /* A new mode 2 count is "null" until the period ends and loads it. */
    outb(&m, 0x40, 4000 & 0xff);
    outb(&m, 0x40, 4000 >> 8);
    outb(&m, 0x43, 0xE2);
    ck_assert_uint_eq(inb(&m, 0x40), 0x40 | 0x80 | 0x34);
    advance_to(&m, clock_tick(5001));
    outb(&m, 0x43, 0xE2);
    ck_assert_uint_eq(inb(&m, 0x40), 0x80 | 0x34);
    ck_assert_uint_eq(read_word(&m, 0), 4000);
    /* Status only, channel 2 never programmed beyond defaults. */
    outb(&m, 0x43, 0xB6);
    outb(&m, 0x43, 0xE8); /* read-back, status only, channel 2 */
    ck_assert_uint_eq(inb(&m, 0x42), 0x40 | 0x80 | 0x36); /* null count, OUT high */
    /* LSB-only mode and BCD. */
    outb(&m, 0x43, 0x51); /* channel 1, LSB only, mode 0, BCD */
    uint64_t cw = tick_clock(sim_now(&m.sim));
    outb(&m, 0x41, 0x99);
    advance_to(&m, clock_tick(cw + 1 + 9));
    ck_assert_uint_eq(inb(&m, 0x41), 0x90);
    outb(&m, 0x43, 0x61); /* MSB only, BCD: count 0x1000 = 1000 */
    cw = tick_clock(sim_now(&m.sim));
    outb(&m, 0x41, 0x10);
    advance_to(&m, clock_tick(cw + 1 + 1));
    outb(&m, 0x43, 0x40);
    ck_assert_uint_eq(inb(&m, 0x41), 0x09); /* 999 -> 0x0999, MSB */
    ck_assert_uint_eq(inb(&m, 0x43), 0xff); /* control port is write-only */
    sim_destroy(&m.sim);
}
END_TEST

/* What Linux's pit_calibrate_tsc and quick_pit_calibrate do: gate channel
 * 2 on through port 0x61, mode 0 with count 0xFFFF, then watch the count's
 * MSB and port 0x61 bit 5. */
START_TEST(port61_follows_channel2)
{
    struct machine m;
    machine_new(&m);
    advance_to(&m, 3 * TICKS_PER_US);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x01, 0);
    outb(&m, 0x61, (inb(&m, 0x61) & ~0x02) | 0x01);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x0f, 0x01);
    outb(&m, 0x43, 0xB0);
    uint64_t cw = tick_clock(sim_now(&m.sim));
    outb(&m, 0x42, 0xff);
    outb(&m, 0x42, 0xff);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    /* Count down: 0xFFFF at the load clock, then one per clock. */
    for (uint64_t d = 0; d < 0xFFFF; d += 4099) {
        advance_to(&m, clock_tick(cw + 1 + d));
        ck_assert_uint_eq(read_word(&m, 2), 0xFFFF - d);
        ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    }
    tick_t rise = clock_tick(cw + 1 + 0xFFFF);
    advance_to(&m, rise - 1);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    advance_to(&m, rise);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    ck_assert_uint_eq(m.nedges, 0); /* channel 2 raises no interrupt */
    /* Gate off: mode 0 stops counting, OUT2 holds. */
    advance_to(&m, rise + 10 * TICKS_PER_US);
    outb(&m, 0x61, 0x00);
    uint16_t held = read_word(&m, 2);
    advance_to(&m, rise + 1 * TICKS_PER_MS);
    ck_assert_uint_eq(read_word(&m, 2), held);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    /* Refresh toggle follows time (15.085 us). */
    tick_t period = 15085000ULL, next = (sim_now(&m.sim) / period + 1) * period;
    advance_to(&m, next);
    uint8_t r0 = inb(&m, 0x61) & 0x10;
    advance_to(&m, next + period - 1);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x10, r0);
    advance_to(&m, next + period);
    ck_assert_uint_ne(inb(&m, 0x61) & 0x10, r0);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(mode4_strobe_and_gate)
{
    struct machine m;
    machine_new(&m);
    outb(&m, 0x61, 0x01);
    program(&m, 2, 0xB8, 20); /* channel 2, mode 4 */
    uint64_t cw = tick_clock(sim_now(&m.sim));
    advance_to(&m, clock_tick(cw + 1 + 19));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    advance_to(&m, clock_tick(cw + 1 + 20));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    advance_to(&m, clock_tick(cw + 1 + 21));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    /* Mode 1: the gate's rising edge triggers; OUT low until terminal count. */
    outb(&m, 0x61, 0x00);
    program(&m, 2, 0xB2, 30);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    outb(&m, 0x61, 0x01);
    uint64_t trig = tick_clock(sim_now(&m.sim));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    advance_to(&m, clock_tick(trig + 1 + 29));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    advance_to(&m, clock_tick(trig + 1 + 30));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    /* Mode 2: gate low holds the count and forces OUT high; gate high
     * restarts from the full count on the next clock. */
    program(&m, 2, 0xB4, 1000);
    uint64_t start = tick_clock(sim_now(&m.sim)) + 1;
    advance_to(&m, clock_tick(start + 999));
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0);
    outb(&m, 0x61, 0x00);
    ck_assert_uint_eq(inb(&m, 0x61) & 0x20, 0x20);
    advance_to(&m, clock_tick(start + 2000));
    ck_assert_uint_eq(read_word(&m, 2), 1);
    outb(&m, 0x61, 0x01);
    uint64_t restart = tick_clock(sim_now(&m.sim)) + 1;
    advance_to(&m, clock_tick(restart + 10));
    ck_assert_uint_eq(read_word(&m, 2), 990);
    sim_destroy(&m.sim);
}
END_TEST

/* Serialize in the middle of everything, continue both machines. */
START_TEST(serialize_round_trip)
{
    struct machine *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    machine_new(a);
    machine_new(b);
    program(a, 0, 0x34, 997);
    outb(a, 0x61, 0x01);
    program(a, 2, 0xB6, 333);
    advance_to(a, 3 * TICKS_PER_MS + 12345);
    outb(a, 0x40, 1500 & 0xff); /* new count: pending until the period ends */
    outb(a, 0x40, 1500 >> 8);
    outb(a, 0x43, 0x80);       /* latch channel 2 ... */
    inb(a, 0x42);              /* ... and read only its LSB */
    outb(a, 0x43, 0xE2);       /* status of channel 0 latched, unread */
    outb(a, 0x43, 0x70);       /* channel 1 control, count half written */
    outb(a, 0x41, 0x34);
    struct ser_node *na = sim_serialize(&a->sim);
    ck_assert_msg(sim_unserialize(&b->sim, na) == 0, "%s", err_get());
    struct ser_node *nb = sim_serialize(&b->sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    /* The restore emptied the queue of everything the objects did not own;
     * re-arm the horizon in both so their event sequence numbers agree. */
    ck_assert(!event_scheduled(&b->horizon));
    sim_schedule(&b->sim, &b->horizon, TICK_MAX - 1);
    eq_reschedule(&a->sim.eq, &a->horizon, TICK_MAX - 1);
    unsigned a0 = a->nedges;
    b->nedges = 0;
    tick_t t = sim_now(&a->sim);
    for (int step = 0; step < 40; step++) {
        t += 250 * TICKS_PER_US + 777;
        advance_to(a, t);
        advance_to(b, t);
        ck_assert_uint_eq(inb(a, 0x42), inb(b, 0x42));
        ck_assert_uint_eq(inb(a, 0x40), inb(b, 0x40));
        ck_assert_uint_eq(inb(a, 0x61), inb(b, 0x61));
        if (step == 20) {
            outb(a, 0x41, 0x12);
            outb(b, 0x41, 0x12);
        }
    }
    ck_assert_uint_gt(b->nedges, 10);
    ck_assert_uint_eq(a->nedges - a0, b->nedges);
    for (unsigned i = 0; i < b->nedges; i++) {
        ck_assert_uint_eq(a->edges[a0 + i].when, b->edges[i].when);
        ck_assert_int_eq(a->edges[a0 + i].level, b->edges[i].level);
    }
    na = sim_serialize(&a->sim);
    nb = sim_serialize(&b->sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a->sim);
    sim_destroy(&b->sim);
    free(a);
    free(b);
}
END_TEST

START_TEST(random_port_access)
{
    struct machine *m = calloc(1, sizeof(*m));
    machine_new(m);
    static const uint16_t ports[] = {0x40, 0x41, 0x42, 0x43, 0x61};
    static const unsigned sizes[] = {1, 2, 4};
    srand(4242);
    tick_t t = 0;
    for (int i = 0; i < 200000; i++) {
        uint16_t port = ports[rand() % 5];
        unsigned size = sizes[rand() % 3];
        if (rand() & 1)
            bus_pio_write(&m->sys->bus, port, (uint64_t)rand(), size);
        else
            bus_pio_read(&m->sys->bus, port, size);
        t += (tick_t)(rand() % 4000) * 1000;
        m->nedges = 0;
        advance_to(m, t);
    }
    /* Still a working timer afterwards. */
    program(m, 0, 0x34, 100);
    m->nedges = 0;
    advance_to(m, t + clock_tick(1000));
    ck_assert_uint_ge(m->nedges, 18);
    sim_destroy(&m->sim);
    free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pit8254");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, mode2_rate_generator);
    tcase_add_test(tc, mode3_square_wave);
    tcase_add_test(tc, mode0_one_shot_exact_tick);
    tcase_add_test(tc, latch_and_read_back);
    tcase_add_test(tc, port61_follows_channel2);
    tcase_add_test(tc, mode4_strobe_and_gate);
    tcase_add_test(tc, serialize_round_trip);
    tcase_add_test(tc, random_port_access);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
