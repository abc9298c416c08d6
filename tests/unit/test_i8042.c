/* 8042 keyboard controller: controller commands, the keyboard behind it,
 * the reset line, Linux's probe sequence, checkpoint round trip and a
 * randomized access run. Expected bytes come from the IBM PS/2 technical
 * reference and the OSDev command tables. */
#include <stdlib.h>
#include <string.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

#define DATA PC_PORT_I8042_DATA
#define CMD PC_PORT_I8042_CMD

struct machine {
    struct simulation sim;
    struct sim_object *kbc;
    struct bus *bus;
    struct test_gsi_sink sink;
};

static void machine_init(struct machine *m, const char *on_reset)
{
    memset(&m->sink, 0, sizeof(m->sink));
    sim_init(&m->sim);
    struct sim_object *sys = sim_create(&m->sim, "System", "system");
    ck_assert_int_eq(param_set_text(sys, sim_type_param(sys->type, "mem_size"), "16M"), 0);
    ck_assert_int_eq(param_set_text(sys, sim_type_param(sys->type, "on_reset"), on_reset), 0);
    m->kbc = sim_create(&m->sim, "I8042", "system.i8042");
    ck_assert_ptr_nonnull(m->kbc);
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    struct system *s = system_of(m->kbc);
    system_add_irq_sink(s, test_gsi_sink_fn, &m->sink);
    m->bus = &s->bus;
}

static uint8_t status(struct machine *m)
{
    return (uint8_t)bus_pio_read(m->bus, CMD, 1);
}

static void command(struct machine *m, uint8_t c)
{
    bus_pio_write(m->bus, CMD, c, 1);
}

static void data_out(struct machine *m, uint8_t v)
{
    bus_pio_write(m->bus, DATA, v, 1);
}

/* Reads one byte, asserting the output buffer had it. */
static uint8_t data_in(struct machine *m)
{
    ck_assert_msg(status(m) & 1, "output buffer empty");
    return (uint8_t)bus_pio_read(m->bus, DATA, 1);
}

static void expect_empty(struct machine *m)
{
    ck_assert_uint_eq(status(m) & 1, 0);
}

static uint8_t read_ctr(struct machine *m)
{
    command(m, 0x20);
    return data_in(m);
}

static void write_ctr(struct machine *m, uint8_t v)
{
    command(m, 0x60);
    data_out(m, v);
}

START_TEST(test_controller_basics)
{
    struct machine m;
    machine_init(&m, "exit");
    ck_assert_uint_eq(status(&m), 0x14); /* unlocked, SYS */
    ck_assert_uint_eq(read_ctr(&m), 0x65); /* kbd int, SYS, aux disabled, translate */
    ck_assert_uint_eq(status(&m) & 0x08, 0x08); /* last write was a command */
    command(&m, 0xAA);
    ck_assert_uint_eq(status(&m) & 0x21, 0x01);
    ck_assert_uint_eq(data_in(&m), 0x55);
    expect_empty(&m);
    command(&m, 0xAB);
    ck_assert_uint_eq(data_in(&m), 0x00);
    command(&m, 0xA9);
    ck_assert_uint_eq(data_in(&m), 0x00);
    /* Internal RAM beyond the command byte. */
    command(&m, 0x65);
    data_out(&m, 0x9C);
    ck_assert_uint_eq(status(&m) & 0x08, 0x00);
    command(&m, 0x25);
    ck_assert_uint_eq(data_in(&m), 0x9C);
    /* Port enables live in the command byte. */
    command(&m, 0xAD);
    ck_assert_uint_eq(read_ctr(&m) & 0x10, 0x10);
    command(&m, 0xAE);
    ck_assert_uint_eq(read_ctr(&m) & 0x10, 0x00);
    command(&m, 0xA8);
    ck_assert_uint_eq(read_ctr(&m) & 0x20, 0x00);
    command(&m, 0xA7);
    ck_assert_uint_eq(read_ctr(&m) & 0x20, 0x20);
    /* SYS in the status register follows the command byte. */
    write_ctr(&m, 0x00);
    ck_assert_uint_eq(status(&m) & 0x04, 0x00);
    /* Back-to-back commands queue their responses. */
    command(&m, 0xAA);
    command(&m, 0xAB);
    ck_assert_uint_eq(data_in(&m), 0x55);
    ck_assert_uint_eq(data_in(&m), 0x00);
    expect_empty(&m);
    ck_assert(!m.sim.exit_requested);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_output_port)
{
    struct machine m;
    machine_init(&m, "exit");
    command(&m, 0xD0);
    ck_assert_uint_eq(data_in(&m), 0x03); /* reset line high, A20 on */
    command(&m, 0xD1);
    data_out(&m, 0x01); /* A20 off */
    command(&m, 0xD0);
    ck_assert_uint_eq(data_in(&m), 0x01);
    /* 0xD2: a byte that looks like it came from the keyboard. */
    write_ctr(&m, 0x01);
    command(&m, 0xD2);
    data_out(&m, 0x1C);
    ck_assert_uint_eq(status(&m) & 0x21, 0x01);
    ck_assert(m.sink.level[PC_GSI_KEYBOARD]);
    command(&m, 0xD0); /* queued behind it; sees the keyboard byte waiting */
    ck_assert_uint_eq(data_in(&m), 0x1C);
    ck_assert_uint_eq(data_in(&m), 0x11); /* bit 4: keyboard output buffer full */
    ck_assert(!m.sink.level[PC_GSI_KEYBOARD]);
    ck_assert(!m.sim.exit_requested);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_reset_command)
{
    struct machine m;
    machine_init(&m, "exit");
    command(&m, 0xFF); /* pulses nothing */
    ck_assert(!m.sim.exit_requested);
    command(&m, 0xFE);
    ck_assert(m.sim.exit_requested);
    ck_assert_ptr_nonnull(strstr(m.sim.exit_reason, "reset"));
    ck_assert_uint_eq(system_of(m.kbc)->resets_requested, 1);
    sim_destroy(&m.sim);

    machine_init(&m, "exit");
    command(&m, 0xD1);
    data_out(&m, 0x02); /* reset bit low */
    ck_assert(m.sim.exit_requested);
    ck_assert_ptr_nonnull(strstr(m.sim.exit_reason, "reset"));
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_keyboard_commands)
{
    struct machine m;
    machine_init(&m, "exit");
    write_ctr(&m, 0x05); /* kbd interrupt, SYS, no translation */
    data_out(&m, 0xFF);
    ck_assert(m.sink.level[PC_GSI_KEYBOARD]);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert(m.sink.level[PC_GSI_KEYBOARD]); /* the next byte raised it again */
    ck_assert_uint_eq(data_in(&m), 0xAA);
    ck_assert(!m.sink.level[PC_GSI_KEYBOARD]);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_KEYBOARD], 2);
    expect_empty(&m);

    data_out(&m, 0xF2);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xAB);
    ck_assert_uint_eq(data_in(&m), 0x83);
    data_out(&m, 0xED);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0x07);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF0);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0x00);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0x02);
    data_out(&m, 0xF0);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0x03);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF0);
    data_out(&m, 0x00);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0x03);
    data_out(&m, 0xF0);
    data_out(&m, 0x07); /* no such set */
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xFE);
    data_out(&m, 0xF3);
    data_out(&m, 0x20);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF5);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF4);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xEE);
    ck_assert_uint_eq(data_in(&m), 0xEE);
    data_out(&m, 0xFE); /* resend: the last byte again */
    ck_assert_uint_eq(data_in(&m), 0xEE);
    data_out(&m, 0x42); /* unknown */
    ck_assert_uint_eq(data_in(&m), 0xFE);
    expect_empty(&m);

    /* With translation the ID and set numbers arrive in set-1 form. */
    write_ctr(&m, 0x45);
    data_out(&m, 0xF2);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xAB);
    ck_assert_uint_eq(data_in(&m), 0x41);
    data_out(&m, 0xF6); /* defaults: set 2 */
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF0);
    data_out(&m, 0x00);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0x41);

    /* A disabled keyboard port holds the keyboard's bytes back. */
    command(&m, 0xAD);
    data_out(&m, 0xEE);
    expect_empty(&m);
    command(&m, 0xAE);
    ck_assert_uint_eq(data_in(&m), 0xEE);

    /* No interrupt when the command byte disables it. */
    write_ctr(&m, 0x04);
    unsigned rises = m.sink.rises[PC_GSI_KEYBOARD];
    data_out(&m, 0xEE);
    ck_assert_uint_eq(status(&m) & 1, 1);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_KEYBOARD], rises);
    ck_assert_uint_eq(data_in(&m), 0xEE);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_aux_port_without_mouse)
{
    struct machine m;
    machine_init(&m, "exit");
    write_ctr(&m, 0x07); /* both interrupts */
    command(&m, 0xD3);
    data_out(&m, 0x5A);
    ck_assert_uint_eq(status(&m) & 0x61, 0x21); /* OBF from the aux port, no time-out */
    ck_assert(m.sink.level[PC_GSI_MOUSE]);
    ck_assert(!m.sink.level[PC_GSI_KEYBOARD]);
    ck_assert_uint_eq(data_in(&m), 0x5A);
    ck_assert(!m.sink.level[PC_GSI_MOUSE]);
    /* A byte for the absent mouse times out. */
    command(&m, 0xD4);
    data_out(&m, 0xF2);
    ck_assert_uint_eq(status(&m) & 0x61, 0x61);
    ck_assert_uint_eq(data_in(&m), 0xFE);
    expect_empty(&m);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_MOUSE], 2);
    sim_destroy(&m.sim);
}
END_TEST

/* The order of operations of Linux 6.1's drivers/input/serio/i8042.c probe
 * (flush, self test, command byte, AUX checks, MUX detection) and atkbd's
 * keyboard probe, with the answers that make each step succeed. */
START_TEST(test_linux_probe_sequence)
{
    struct machine m;
    machine_init(&m, "exit");
    while (status(&m) & 1)
        (void)bus_pio_read(m.bus, DATA, 1);
    command(&m, 0xAA);
    ck_assert_uint_eq(data_in(&m), 0x55);
    uint8_t ctr = read_ctr(&m);
    ck_assert_uint_eq(read_ctr(&m), ctr);
    ctr = (uint8_t)((ctr | 0x30) & ~0x03); /* both ports disabled, no interrupts */
    write_ctr(&m, ctr);
    ck_assert_uint_eq(read_ctr(&m), ctr);
    /* i8042_check_aux: loopback, then the AUX enable bit test */
    command(&m, 0xD3);
    data_out(&m, 0x5A);
    ck_assert_uint_eq(data_in(&m), 0x5A);
    command(&m, 0xA7);
    ck_assert_uint_eq(read_ctr(&m) & 0x20, 0x20);
    command(&m, 0xA8);
    ck_assert_uint_eq(read_ctr(&m) & 0x20, 0x00);
    /* i8042_check_mux: a plain controller echoes 0xA4 (no active MUX) */
    static const uint8_t mux_probe[] = {0xF0, 0x56, 0xA4};
    for (size_t i = 0; i < 3; i++) {
        command(&m, 0xD3);
        data_out(&m, mux_probe[i]);
        ck_assert_uint_eq(data_in(&m), mux_probe[i]);
    }
    /* AUX IRQ test: loopback with the AUX interrupt enabled raises IRQ12 */
    write_ctr(&m, (uint8_t)((ctr & ~0x20) | 0x02));
    command(&m, 0xD3);
    data_out(&m, 0xA5);
    ck_assert(m.sink.level[PC_GSI_MOUSE]);
    ck_assert_uint_eq(data_in(&m), 0xA5);
    /* Keyboard port on, interrupts on, translation on. */
    write_ctr(&m, 0x47);
    /* atkbd: deactivate, GETID, set LEDs, typematic, enable. */
    data_out(&m, 0xF5);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF2);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    ck_assert_uint_eq(data_in(&m), 0xAB);
    ck_assert_uint_eq(data_in(&m), 0x41);
    data_out(&m, 0xED);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0x00);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF3);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0x00);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    data_out(&m, 0xF4);
    ck_assert_uint_eq(data_in(&m), 0xFA);
    expect_empty(&m);
    ck_assert(!m.sim.exit_requested);
    sim_destroy(&m.sim);
}
END_TEST

static void activity(struct machine *m, unsigned step, uint8_t *obs, size_t *n)
{
    static const uint8_t kbd_bytes[] = {0xEE, 0xF2, 0xED, 0x02, 0xF0, 0x00, 0xFE, 0x99};
    switch (step % 5) {
    case 0:
        data_out(m, kbd_bytes[step % 8]);
        break;
    case 1:
        command(m, step % 2 ? 0xAE : 0xAD);
        break;
    case 2:
        obs[(*n)++] = (uint8_t)bus_pio_read(m->bus, DATA, 1);
        break;
    case 3:
        command(m, 0xD3);
        data_out(m, (uint8_t)step);
        break;
    default:
        command(m, 0xD0);
        break;
    }
    obs[(*n)++] = status(m);
    obs[(*n)++] = (uint8_t)(m->sink.level[PC_GSI_KEYBOARD] | m->sink.level[PC_GSI_MOUSE] << 1);
}

START_TEST(test_checkpoint_round_trip)
{
    struct machine a, b;
    machine_init(&a, "exit");
    write_ctr(&a, 0x17); /* interrupts on, keyboard port disabled */
    data_out(&a, 0xFF);  /* reset: 0xFA 0xAA wait in the keyboard */
    data_out(&a, 0xF2);
    data_out(&a, 0xED);  /* the keyboard now waits for the LED byte */
    command(&a, 0xD3);
    data_out(&a, 0x77);  /* a byte in the output buffer, IRQ12 high */
    command(&a, 0xAA);   /* a queued controller response */
    command(&a, 0x60);   /* the controller now waits for a data byte */
    ck_assert(a.sink.level[PC_GSI_MOUSE]);

    struct ser_node *snap = sim_serialize(&a.sim);
    machine_init(&b, "exit");
    ck_assert_msg(sim_unserialize(&b.sim, snap) == 0, "%s", err_get());
    ser_node_free(snap);
    b.sink = a.sink; /* the interrupt controller's view is restored by its own model */

    uint8_t obs_a[256], obs_b[256];
    size_t na = 0, nb = 0;
    data_out(&a, 0x07);
    data_out(&b, 0x07);
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
    machine_init(&a, "exit");
    machine_init(&b, "exit");
    test_assert_corrupt_refused(&a.sim, &b.sim, "system.i8042", "kbd_pending_cmd", 0x42,
                                "invalid pending keyboard command 0x42");
}
END_TEST

START_TEST(test_random_accesses)
{
    struct machine m;
    machine_init(&m, "ignore");
    srandom(8042);
    static const unsigned sizes[] = {1, 2, 4};
    for (unsigned i = 0; i < 200000; i++) {
        long r = random();
        unsigned size = sizes[r % 3];
        uint16_t port = (uint16_t)(0x5E + (r >> 2) % 9);
        if ((r >> 8) & 1)
            bus_pio_write(m.bus, port, (uint64_t)random() | (uint64_t)random() << 31, size);
        else
            (void)bus_pio_read(m.bus, port, size);
        if ((i & 255) == 0) {
            /* Invariants: never busy, keylock open, IRQ1 only with a keyboard byte. */
            uint8_t st = status(&m);
            ck_assert_uint_eq(st & 0x12, 0x10);
            if (m.sink.level[PC_GSI_KEYBOARD])
                ck_assert_uint_eq(st & 0x21, 0x01);
        }
    }
    ck_assert(!m.sim.exit_requested);
    ck_assert_uint_gt(system_of(m.kbc)->resets_requested, 0);
    sim_destroy(&m.sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("i8042");
    TCase *tc = tcase_create("controller");
    tcase_add_test(tc, test_controller_basics);
    tcase_add_test(tc, test_output_port);
    tcase_add_test(tc, test_reset_command);
    tcase_add_test(tc, test_keyboard_commands);
    tcase_add_test(tc, test_aux_port_without_mouse);
    tcase_add_test(tc, test_linux_probe_sequence);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc, test_corrupt_checkpoint_refused);
    tcase_add_test(tc, test_random_accesses);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
