/* AcpiPM: the hardware-reduced sleep control and status registers. */
#include <stdlib.h>
#include <string.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

#define CTL PC_PORT_ACPI_SLEEP_CTL
#define STS PC_PORT_ACPI_SLEEP_STS
#define SLP_EN 0x20
#define WAK_STS 0x80

static struct bus *machine(struct simulation *sim)
{
    sim_init(sim);
    ck_assert_ptr_nonnull(sim_create(sim, "System", "system"));
    ck_assert_ptr_nonnull(sim_create(sim, "AcpiPM", "system.acpi_pm"));
    ck_assert_msg(sim_instantiate(sim) == 0, "%s", err_get());
    return &system_of(sim_find(sim, "system"))->bus;
}

static uint8_t slp_typ(unsigned t)
{
    return (uint8_t)(t << 2);
}

START_TEST(s5_powers_off)
{
    struct simulation sim;
    struct bus *bus = machine(&sim);
    /* Linux first clears WAK_STS, then writes SLP_TYP | SLP_EN. */
    bus_pio_write(bus, STS, WAK_STS, 1);
    ck_assert(!sim.exit_requested);
    bus_pio_write(bus, CTL, slp_typ(PC_ACPI_SLP_TYP_S5) | SLP_EN, 1);
    ck_assert(sim.exit_requested);
    ck_assert_int_eq(sim.exit_code, 0);
    ck_assert_msg(strstr(sim.exit_reason, "powered off"), "exit reason '%s'", sim.exit_reason);
    sim_destroy(&sim);
}
END_TEST

START_TEST(sleep_type_without_enable_does_nothing)
{
    struct simulation sim;
    struct bus *bus = machine(&sim);
    bus_pio_write(bus, CTL, slp_typ(PC_ACPI_SLP_TYP_S5), 1);
    ck_assert(!sim.exit_requested);
    /* SLP_TYP reads back; SLP_EN and reserved bits read as zero. */
    ck_assert_uint_eq(bus_pio_read(bus, CTL, 1), slp_typ(PC_ACPI_SLP_TYP_S5));
    bus_pio_write(bus, CTL, 0xFF & ~SLP_EN, 1);
    ck_assert_uint_eq(bus_pio_read(bus, CTL, 1), 0x1C);
    ck_assert(!sim.exit_requested); /* SLP_TYP 7 without SLP_EN */
    ck_assert_uint_eq(bus_pio_read(bus, STS, 1), 0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(other_sleep_states_wake_at_once)
{
    struct simulation sim;
    struct bus *bus = machine(&sim);
    bus_pio_write(bus, CTL, slp_typ(3) | SLP_EN, 1);
    ck_assert(!sim.exit_requested);
    ck_assert_uint_eq(bus_pio_read(bus, STS, 1), WAK_STS);
    /* Writing 0 leaves WAK_STS; writing 1 clears it. */
    bus_pio_write(bus, STS, 0x7F, 1);
    ck_assert_uint_eq(bus_pio_read(bus, STS, 1), WAK_STS);
    bus_pio_write(bus, STS, WAK_STS, 1);
    ck_assert_uint_eq(bus_pio_read(bus, STS, 1), 0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(word_access_spans_both_registers)
{
    struct simulation sim;
    struct bus *bus = machine(&sim);
    bus_pio_write(bus, CTL, slp_typ(1) | SLP_EN, 1);
    ck_assert_uint_eq(bus_pio_read(bus, CTL, 2), (uint64_t)WAK_STS << 8 | slp_typ(1));
    bus_pio_write(bus, CTL, (uint64_t)WAK_STS << 8 | slp_typ(2), 2);
    ck_assert_uint_eq(bus_pio_read(bus, CTL, 2), slp_typ(2));
    ck_assert(!sim.exit_requested);
    sim_destroy(&sim);
}
END_TEST

START_TEST(random_port_accesses)
{
    struct simulation sim;
    struct bus *bus = machine(&sim);
    srand(12345);
    static const unsigned sizes[] = {1, 2, 4};
    for (int i = 0; i < 200000; i++) {
        uint16_t port = (uint16_t)(CTL - 4 + rand() % 10);
        unsigned size = sizes[rand() % 3];
        if (rand() & 1) {
            bus_pio_write(bus, port, (uint64_t)rand() << 16 ^ (uint64_t)rand(), size);
        } else {
            uint64_t v = bus_pio_read(bus, port, size);
            if (port == CTL && size == 1)
                ck_assert_uint_eq(v & ~0x1CULL, 0);
            if (port == STS && size == 1)
                ck_assert_uint_eq(v & ~(uint64_t)WAK_STS, 0);
        }
    }
    sim_destroy(&sim);
}
END_TEST

static struct ser_node *pm_node(struct ser_node *root)
{
    struct ser_node *n = ser_find_child(ser_find_child(root, "objects"), "system");
    ck_assert_ptr_nonnull(n);
    n = ser_find_child(n, "acpi_pm");
    ck_assert_ptr_nonnull(n);
    return n;
}

START_TEST(serialize_round_trip)
{
    struct simulation a, b;
    struct bus *bus_a = machine(&a);
    struct bus *bus_b = machine(&b);
    bus_pio_write(bus_a, CTL, slp_typ(2) | SLP_EN, 1); /* WAK_STS set, counted */
    bus_pio_write(bus_a, CTL, slp_typ(6), 1);
    struct ser_node *n = sim_serialize(&a);
    uint64_t ignored;
    ck_assert_int_eq(ser_get_u64(pm_node(n), "ignored_sleep_requests", &ignored), 0);
    ck_assert_uint_eq(ignored, 1);
    ck_assert_msg(sim_unserialize(&b, n) == 0, "%s", err_get());
    ck_assert_uint_eq(bus_pio_read(bus_b, CTL, 1), slp_typ(6));
    ck_assert_uint_eq(bus_pio_read(bus_b, STS, 1), WAK_STS);
    struct ser_node *n2 = sim_serialize(&b);
    ck_assert(ser_node_equal(n, n2));

    /* A state the registers cannot hold is refused. */
    ser_put_u64(pm_node(n2), "sleep_type", 9);
    ck_assert_int_eq(sim_unserialize(&b, n2), -1);
    ck_assert_msg(strstr(err_get(), "sleep_type"), "%s", err_get());
    ser_node_free(n);
    ser_node_free(n2);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

START_TEST(must_sit_under_system)
{
    struct simulation sim;
    sim_init(&sim);
    ck_assert_ptr_nonnull(sim_create(&sim, "AcpiPM", "acpi_pm"));
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "System"), "%s", err_get());
    sim_destroy(&sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acpi_pm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, s5_powers_off);
    tcase_add_test(tc, sleep_type_without_enable_does_nothing);
    tcase_add_test(tc, other_sleep_states_wake_at_once);
    tcase_add_test(tc, word_access_spans_both_registers);
    tcase_add_test(tc, random_port_accesses);
    tcase_add_test(tc, serialize_round_trip);
    tcase_add_test(tc, must_sit_under_system);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
