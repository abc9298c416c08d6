/* MC146818A CMOS RTC: calendar from simulated time, modes, UIP, periodic,
 * update and alarm interrupts, setting the clock, checkpoint round trip and
 * a randomized access run. Expected values are worked out by hand from the
 * datasheet and start_time 1700000000 = Tue 2023-11-14 22:13:20 UTC. */
#include <stdlib.h>
#include <string.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

struct machine {
    struct simulation sim;
    struct sim_object *rtc;
    struct bus *bus;
    struct test_gsi_sink sink;
    struct event keepalive;
};

static void keepalive_fn(struct event *ev, void *arg)
{
    (void)ev;
    (void)arg;
}

/* With the clock stopped the RTC has no events; this stands in for the rest
 * of a machine so that sim_run still advances time. */
static void keep_time_moving(struct machine *m)
{
    event_init(&m->keepalive, "test-keepalive", EVPRI_DEVICE, keepalive_fn, NULL);
    sim_schedule(&m->sim, &m->keepalive, TICK_MAX - 1);
}

static void machine_init(struct machine *m)
{
    memset(&m->sink, 0, sizeof(m->sink));
    sim_init(&m->sim);
    struct sim_object *sys = sim_create(&m->sim, "System", "system");
    ck_assert_int_eq(param_set_text(sys, sim_type_param(sys->type, "mem_size"), "16M"), 0);
    m->rtc = sim_create(&m->sim, "RTC", "system.rtc");
    ck_assert_ptr_nonnull(m->rtc);
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    struct system *s = system_of(m->rtc);
    system_add_irq_sink(s, test_gsi_sink_fn, &m->sink);
    m->bus = &s->bus;
}

static uint8_t cmos_read(struct machine *m, uint8_t reg)
{
    bus_pio_write(m->bus, PC_PORT_RTC, reg, 1);
    return (uint8_t)bus_pio_read(m->bus, PC_PORT_RTC + 1, 1);
}

static void cmos_write(struct machine *m, uint8_t reg, uint8_t v)
{
    bus_pio_write(m->bus, PC_PORT_RTC, reg, 1);
    bus_pio_write(m->bus, PC_PORT_RTC + 1, v, 1);
}

static void run_until(struct machine *m, tick_t t)
{
    sim_run(&m->sim, t);
    ck_assert_uint_eq(sim_now(&m->sim), t);
}

/* sec, min, hour, dow, day, month, year, century */
static void expect_time(struct machine *m, const uint8_t want[8])
{
    static const uint8_t regs[8] = {0, 2, 4, 6, 7, 8, 9, 0x32};
    for (int i = 0; i < 8; i++)
        ck_assert_msg(cmos_read(m, regs[i]) == want[i], "register 0x%x = 0x%02x, want 0x%02x",
                      regs[i], cmos_read(m, regs[i]), want[i]);
}

START_TEST(test_time_after_seconds)
{
    struct machine m;
    machine_init(&m);
    expect_time(&m, (const uint8_t[]){0x20, 0x13, 0x22, 0x03, 0x14, 0x11, 0x23, 0x20});
    ck_assert_uint_eq(cmos_read(&m, 0x0A), 0x26);
    ck_assert_uint_eq(cmos_read(&m, 0x0B), 0x02);
    ck_assert_uint_eq(cmos_read(&m, 0x0D), 0x80);
    run_until(&m, 100 * TICKS_PER_S - 1);
    ck_assert_uint_eq(cmos_read(&m, 0), 0x59);
    run_until(&m, 100 * TICKS_PER_S);
    expect_time(&m, (const uint8_t[]){0x00, 0x15, 0x22, 0x03, 0x14, 0x11, 0x23, 0x20});
    /* Past midnight: Wednesday the 15th. */
    run_until(&m, (100 + 6300) * TICKS_PER_S);
    expect_time(&m, (const uint8_t[]){0x00, 0x00, 0x00, 0x04, 0x15, 0x11, 0x23, 0x20});
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_binary_and_12_hour)
{
    struct machine m;
    machine_init(&m);
    cmos_write(&m, 0x0B, 0x06); /* binary, 24 h */
    expect_time(&m, (const uint8_t[]){20, 13, 22, 3, 14, 11, 23, 20});
    cmos_write(&m, 0x0B, 0x04); /* binary, 12 h: 10 PM */
    ck_assert_uint_eq(cmos_read(&m, 4), 0x8A);
    cmos_write(&m, 0x0B, 0x00); /* BCD, 12 h */
    ck_assert_uint_eq(cmos_read(&m, 4), 0x90);
    /* Midnight and noon in 12-hour mode are 12. */
    run_until(&m, 6400 * TICKS_PER_S); /* 00:00:00 */
    ck_assert_uint_eq(cmos_read(&m, 4), 0x12);
    run_until(&m, (6400 + 12 * 3600) * TICKS_PER_S);
    ck_assert_uint_eq(cmos_read(&m, 4), 0x92);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_uip_window)
{
    struct machine m;
    machine_init(&m);
    keep_time_moving(&m);
    run_until(&m, TICKS_PER_S - 2229 * TICKS_PER_US);
    ck_assert_uint_eq(cmos_read(&m, 0x0A) & 0x80, 0);
    run_until(&m, TICKS_PER_S - 2228 * TICKS_PER_US);
    ck_assert_uint_eq(cmos_read(&m, 0x0A) & 0x80, 0x80);
    ck_assert_uint_eq(cmos_read(&m, 0), 0x20); /* still the old second */
    run_until(&m, TICKS_PER_S);
    ck_assert_uint_eq(cmos_read(&m, 0x0A) & 0x80, 0);
    ck_assert_uint_eq(cmos_read(&m, 0), 0x21);
    /* SET stops updates: no UIP. */
    cmos_write(&m, 0x0B, 0x82);
    run_until(&m, 2 * TICKS_PER_S - TICKS_PER_MS);
    ck_assert_uint_eq(cmos_read(&m, 0x0A) & 0x80, 0);
    sim_destroy(&m.sim);
}
END_TEST

/* Runs to `until` in small steps, reading register C whenever the line is
 * up as an interrupt handler would; returns the interrupts taken. */
static unsigned service_interrupts(struct machine *m, tick_t until, tick_t step, uint8_t expect_c)
{
    unsigned taken = 0;
    while (sim_now(&m->sim) < until) {
        tick_t next = sim_now(&m->sim) + step;
        run_until(m, next < until ? next : until);
        if (m->sink.level[PC_GSI_RTC]) {
            ck_assert_uint_eq(cmos_read(m, 0x0C) & 0xF0 & expect_c, expect_c);
            ck_assert(!m->sink.level[PC_GSI_RTC]);
            taken++;
        }
    }
    return taken;
}

START_TEST(test_periodic_interrupts)
{
    struct machine m;
    machine_init(&m);
    (void)cmos_read(&m, 0x0C);
    cmos_write(&m, 0x0B, 0x42); /* PIE, 1024 Hz from register A = 0x26 */
    ck_assert_uint_eq(service_interrupts(&m, TICKS_PER_S + 1, 50 * TICKS_PER_US, 0xC0), 1024);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_RTC], 1024);
    /* 2 Hz */
    cmos_write(&m, 0x0A, 0x2F);
    ck_assert_uint_eq(service_interrupts(&m, 3 * TICKS_PER_S + 1, TICKS_PER_MS, 0xC0), 4);
    /* Rate 0: none. */
    cmos_write(&m, 0x0A, 0x20);
    ck_assert_uint_eq(service_interrupts(&m, 4 * TICKS_PER_S, TICKS_PER_MS, 0xC0), 0);
    /* PIE off: no interrupt, but PF is still set by the running rate. */
    cmos_write(&m, 0x0B, 0x02);
    cmos_write(&m, 0x0A, 0x26);
    run_until(&m, 4 * TICKS_PER_S + 2 * TICKS_PER_MS);
    ck_assert(!m.sink.level[PC_GSI_RTC]);
    ck_assert_uint_eq(cmos_read(&m, 0x0C) & 0x40, 0x40);
    ck_assert_uint_eq(cmos_read(&m, 0x0C) & 0x40, 0x00); /* cleared, no edge since */
    const struct stat_entry *e = stats_find(&m.sim, "system.rtc.interrupts");
    ck_assert_ptr_nonnull(e);
    ck_assert_double_eq(stat_value(e), 1028);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_update_interrupt_and_register_c)
{
    struct machine m;
    machine_init(&m);
    cmos_write(&m, 0x0A, 0x20); /* no periodic rate, so PF stays clear */
    cmos_write(&m, 0x0B, 0x12); /* UIE */
    run_until(&m, TICKS_PER_S - 1);
    ck_assert(!m.sink.level[PC_GSI_RTC]);
    run_until(&m, TICKS_PER_S + 1);
    ck_assert(m.sink.level[PC_GSI_RTC]);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0x90); /* IRQF | UF */
    ck_assert(!m.sink.level[PC_GSI_RTC]);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0x00);
    /* Flags without their enable do not raise IRQF; enabling later does. */
    cmos_write(&m, 0x0B, 0x02);
    run_until(&m, 2 * TICKS_PER_S + 1);
    ck_assert(!m.sink.level[PC_GSI_RTC]);
    cmos_write(&m, 0x0B, 0x12);
    ck_assert(m.sink.level[PC_GSI_RTC]);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0x90);
    /* Registers C and D ignore writes. */
    cmos_write(&m, 0x0C, 0xFF);
    cmos_write(&m, 0x0D, 0x00);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0x00);
    ck_assert_uint_eq(cmos_read(&m, 0x0D), 0x80);
    /* SET clears UIE. */
    cmos_write(&m, 0x0B, 0x92);
    ck_assert_uint_eq(cmos_read(&m, 0x0B), 0x82);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_alarm)
{
    struct machine m;
    machine_init(&m);
    cmos_write(&m, 0x0A, 0x20); /* no periodic rate, so PF stays clear */
    cmos_write(&m, 0x01, 0x23); /* 22:13:23 */
    cmos_write(&m, 0x03, 0x13);
    cmos_write(&m, 0x05, 0x22);
    cmos_write(&m, 0x0B, 0x22); /* AIE */
    run_until(&m, 2 * TICKS_PER_S + 1);
    ck_assert(!m.sink.level[PC_GSI_RTC]);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0x10); /* UF only */
    run_until(&m, 3 * TICKS_PER_S + 1);
    ck_assert(m.sink.level[PC_GSI_RTC]);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0xB0); /* IRQF | AF | UF */
    /* Don't-care seconds: every second of 22:14 matches. */
    cmos_write(&m, 0x01, 0xC0);
    cmos_write(&m, 0x03, 0x14);
    run_until(&m, 39 * TICKS_PER_S + 1); /* 22:13:59 */
    ck_assert(!m.sink.level[PC_GSI_RTC]);
    run_until(&m, 40 * TICKS_PER_S + 1);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0xB0);
    run_until(&m, 41 * TICKS_PER_S + 1);
    ck_assert_uint_eq(cmos_read(&m, 0x0C), 0xB0);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_set_clock_like_linux)
{
    struct machine m;
    machine_init(&m);
    keep_time_moving(&m);
    /* First Jan 31 2024, then Feb 29 written year, month, day, ... as
     * Linux's mc146818_set_time does: no invalid Feb 31 on the way. */
    cmos_write(&m, 0x0B, 0x82);
    cmos_write(&m, 0x09, 0x24);
    cmos_write(&m, 0x08, 0x01);
    cmos_write(&m, 0x07, 0x31);
    cmos_write(&m, 0x0B, 0x02);
    ck_assert_uint_eq(cmos_read(&m, 0x07), 0x31);
    cmos_write(&m, 0x0B, 0x82);
    cmos_write(&m, 0x0A, 0x70); /* divider in reset too */
    cmos_write(&m, 0x09, 0x24);
    cmos_write(&m, 0x08, 0x02);
    cmos_write(&m, 0x07, 0x29);
    cmos_write(&m, 0x04, 0x12);
    cmos_write(&m, 0x02, 0x34);
    cmos_write(&m, 0x00, 0x56);
    ck_assert_uint_eq(cmos_read(&m, 0x08), 0x02); /* plain bytes while stopped */
    run_until(&m, 5 * TICKS_PER_S);
    cmos_write(&m, 0x0B, 0x02);
    ck_assert_uint_eq(cmos_read(&m, 0x00), 0x56); /* divider still in reset */
    cmos_write(&m, 0x0A, 0x26); /* released: first update 500 ms later */
    run_until(&m, 5 * TICKS_PER_S + TICKS_PER_S / 2 - 1);
    ck_assert_uint_eq(cmos_read(&m, 0x00), 0x56);
    run_until(&m, 5 * TICKS_PER_S + TICKS_PER_S / 2);
    ck_assert_uint_eq(cmos_read(&m, 0x00), 0x57);
    run_until(&m, 8 * TICKS_PER_S + TICKS_PER_S / 2);
    /* 2024-02-29 12:35:00. The day of week is not derived from the date:
     * nobody wrote it, so it still says Tuesday (3). */
    expect_time(&m, (const uint8_t[]){0x00, 0x35, 0x12, 0x03, 0x29, 0x02, 0x24, 0x20});
    /* A single write while running moves the clock at once. */
    cmos_write(&m, 0x32, 0x21);
    ck_assert_uint_eq(cmos_read(&m, 0x09), 0x24);
    ck_assert_uint_eq(cmos_read(&m, 0x32), 0x21);
    /* Day of week is software's to set; it keeps counting from there. */
    cmos_write(&m, 0x06, 0x01);
    run_until(&m, (8 + 86400) * TICKS_PER_S + TICKS_PER_S / 2);
    ck_assert_uint_eq(cmos_read(&m, 0x06), 0x02);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_index_and_ram)
{
    struct machine m;
    machine_init(&m);
    for (unsigned r = 0x0E; r < 0x80; r++) {
        if (r != 0x32)
            cmos_write(&m, (uint8_t)r, (uint8_t)(r * 7));
    }
    for (unsigned r = 0x0E; r < 0x80; r++) {
        if (r != 0x32)
            ck_assert_uint_eq(cmos_read(&m, (uint8_t)r), (uint8_t)(r * 7));
    }
    /* Bit 7 of the index is the NMI mask, not part of the address. */
    cmos_write(&m, 0x80 | 0x40, 0x5A);
    ck_assert_uint_eq(cmos_read(&m, 0x40), 0x5A);
    ck_assert_uint_eq(bus_pio_read(m.bus, PC_PORT_RTC, 1), 0xFF);
    /* A 16-bit write sets index and data together. */
    bus_pio_write(m.bus, PC_PORT_RTC, 0xA541, 2);
    ck_assert_uint_eq(cmos_read(&m, 0x41), 0xA5);
    sim_destroy(&m.sim);
}
END_TEST

static void activity(struct machine *m, unsigned step, uint8_t *obs, size_t *n)
{
    run_until(m, sim_now(&m->sim) + (step % 7 + 1) * 37 * TICKS_PER_MS);
    obs[(*n)++] = m->sink.level[PC_GSI_RTC];
    if (step % 3 == 0)
        obs[(*n)++] = cmos_read(m, 0x0C);
    obs[(*n)++] = cmos_read(m, 0x00);
    obs[(*n)++] = cmos_read(m, 0x0A);
    if (step == 20)
        cmos_write(m, 0x0A, 0x2C); /* 16 Hz */
}

START_TEST(test_checkpoint_round_trip)
{
    struct machine a, b;
    machine_init(&a);
    cmos_write(&a, 0x0A, 0x2A); /* 64 Hz */
    cmos_write(&a, 0x01, 0xC0);
    cmos_write(&a, 0x03, 0xC0);
    cmos_write(&a, 0x05, 0xC0); /* alarm every second */
    cmos_write(&a, 0x0B, 0x76); /* PIE AIE UIE, binary */
    cmos_write(&a, 0x50, 0x99);
    bus_pio_write(a.bus, PC_PORT_RTC, 0x8E, 1); /* NMI masked, index 0x0E */
    run_until(&a, 1234567 * TICKS_PER_US); /* IRQ pending, events armed */
    ck_assert(a.sink.level[PC_GSI_RTC]);

    struct ser_node *snap = sim_serialize(&a.sim);
    machine_init(&b);
    ck_assert_msg(sim_unserialize(&b.sim, snap) == 0, "%s", err_get());
    ser_node_free(snap);
    b.sink = a.sink; /* the interrupt controller restores its own view */
    ck_assert_uint_eq(cmos_read(&b, 0x50), 0x99);

    uint8_t obs_a[1024], obs_b[1024];
    size_t na = 0, nb = 0;
    for (unsigned step = 0; step < 60; step++) {
        activity(&a, step, obs_a, &na);
        activity(&b, step, obs_b, &nb);
    }
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(obs_a, obs_b, na), 0);
    test_assert_same_state(&a.sim, &b.sim);
    sim_destroy(&a.sim);
    sim_destroy(&b.sim);
}
END_TEST

/* A corrupt checkpoint is refused with a message naming what is wrong. */
START_TEST(test_corrupt_checkpoint_refused)
{
    struct machine a, b;
    machine_init(&a);
    machine_init(&b);
    test_assert_corrupt_refused(&a.sim, &b.sim, "system.rtc", "dow_adjust", 9,
                                "dow_adjust 9");
}
END_TEST

START_TEST(test_random_accesses)
{
    struct machine m;
    machine_init(&m);
    srandom(146818);
    static const unsigned sizes[] = {1, 2, 4};
    for (unsigned i = 0; i < 200000; i++) {
        long r = random();
        unsigned size = sizes[r % 3];
        uint16_t port = (uint16_t)(PC_PORT_RTC - 2 + (r >> 2) % 6);
        if ((r >> 8) & 1)
            bus_pio_write(m.bus, port, (uint64_t)random() | (uint64_t)random() << 31, size);
        else
            (void)bus_pio_read(m.bus, port, size);
        if ((i & 1023) == 0) {
            sim_run(&m.sim, sim_now(&m.sim) + (tick_t)(random() % 3000) * TICKS_PER_MS);
            /* Invariants: VRT set; register C's low nibble zero; IRQF <=> the line. */
            ck_assert_uint_eq(cmos_read(&m, 0x0D), 0x80);
            bool line = m.sink.level[PC_GSI_RTC];
            uint8_t c = cmos_read(&m, 0x0C);
            ck_assert_uint_eq(c & 0x0F, 0);
            ck_assert_int_eq(!!(c & 0x80), line);
            ck_assert(!m.sink.level[PC_GSI_RTC]);
        }
    }
    sim_destroy(&m.sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rtc");
    TCase *tc = tcase_create("mc146818");
    tcase_add_test(tc, test_time_after_seconds);
    tcase_add_test(tc, test_binary_and_12_hour);
    tcase_add_test(tc, test_uip_window);
    tcase_add_test(tc, test_periodic_interrupts);
    tcase_add_test(tc, test_update_interrupt_and_register_c);
    tcase_add_test(tc, test_alarm);
    tcase_add_test(tc, test_set_clock_like_linux);
    tcase_add_test(tc, test_index_and_ram);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc, test_corrupt_checkpoint_refused);
    tcase_add_test(tc, test_random_accesses);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
