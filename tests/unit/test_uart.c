/* 16550A UART: register behaviour checked against the PC16550D datasheet,
 * backends, checkpoint round trip and a randomized access run. */
#include <fcntl.h>
#include <signal.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dev/uart16550.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/util.h"
#include "testlib.h"

#define COM1 PC_PORT_COM1
#define THR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

struct machine {
    struct simulation sim;
    struct sim_object *uart;
    struct bus *bus;
    struct test_gsi_sink sink;
};

static void set_param(struct sim_object *o, const char *name, const char *value)
{
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, name), value), 0);
}

/* A System with one UART at COM1 on the given backend. */
static void machine_init(struct machine *m, const char *backend, const char *path, bool capture)
{
    memset(&m->sink, 0, sizeof(m->sink));
    sim_init(&m->sim);
    struct sim_object *sys = sim_create(&m->sim, "System", "system");
    ck_assert_ptr_nonnull(sys);
    set_param(sys, "mem_size", "16M");
    m->uart = sim_create(&m->sim, "UART16550", "system.uart0");
    ck_assert_ptr_nonnull(m->uart);
    set_param(m->uart, "backend", backend);
    if (path)
        set_param(m->uart, "path", path);
    set_param(m->uart, "capture", capture ? "true" : "false");
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    struct system *s = system_of(m->uart);
    system_add_irq_sink(s, test_gsi_sink_fn, &m->sink);
    m->bus = &s->bus;
}

static uint8_t in8(struct machine *m, uint16_t port)
{
    return (uint8_t)bus_pio_read(m->bus, port, 1);
}

static void out8(struct machine *m, uint16_t port, uint8_t v)
{
    bus_pio_write(m->bus, port, v, 1);
}

static void run_for(struct machine *m, tick_t t)
{
    sim_run(&m->sim, sim_now(&m->sim) + t);
}

START_TEST(test_power_on_values)
{
    struct machine m;
    machine_init(&m, "none", NULL, false);
    ck_assert_uint_eq(in8(&m, IER), 0x00);
    ck_assert_uint_eq(in8(&m, IIR), 0x01); /* no interrupt, FIFOs off */
    ck_assert_uint_eq(in8(&m, LCR), 0x00);
    ck_assert_uint_eq(in8(&m, MCR), 0x00);
    ck_assert_uint_eq(in8(&m, LSR), 0x60); /* THRE | TEMT */
    ck_assert_uint_eq(in8(&m, MSR) & 0xF0, 0xB0); /* DCD, DSR, CTS of a ready terminal */
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_scratch_and_dlab)
{
    struct machine m;
    machine_init(&m, "none", NULL, true);
    out8(&m, SCR, 0xA5);
    ck_assert_uint_eq(in8(&m, SCR), 0xA5);
    out8(&m, IER, 0x05);
    out8(&m, LCR, 0x83); /* DLAB, 8 data bits */
    out8(&m, THR, 0x0C); /* DLL: 9600 baud */
    out8(&m, IER, 0x01); /* DLM */
    ck_assert_uint_eq(in8(&m, THR), 0x0C);
    ck_assert_uint_eq(in8(&m, IER), 0x01);
    ck_assert_uint_eq(in8(&m, LCR), 0x83);
    out8(&m, LCR, 0x03);
    ck_assert_uint_eq(in8(&m, IER), 0x05); /* the real IER came back */
    ck_assert_str_eq(uart16550_output(m.uart), ""); /* divisor writes transmit nothing */
    out8(&m, THR, 'h');
    out8(&m, THR, 'i');
    ck_assert_str_eq(uart16550_output(m.uart), "hi");
    /* IER's upper nibble is always zero. */
    out8(&m, IER, 0xFF);
    ck_assert_uint_eq(in8(&m, IER), 0x0F);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_loopback)
{
    struct machine m;
    machine_init(&m, "none", NULL, true);
    out8(&m, LCR, 0x03);
    out8(&m, MCR, 0x10); /* loop, all modem outputs off */
    ck_assert_uint_eq(in8(&m, MSR), 0x0B); /* inputs were DCD|DSR|CTS: all three fell */
    ck_assert_uint_eq(in8(&m, MSR), 0x00); /* deltas clear on read */
    out8(&m, MCR, 0x1F); /* loop + DTR RTS OUT1 OUT2 */
    ck_assert_uint_eq(in8(&m, MSR), 0xFB); /* CTS DSR RI DCD, DCTS DDSR DDCD; RI rose: no TERI */
    out8(&m, MCR, 0x1B); /* drop OUT1: RI falls -> TERI */
    ck_assert_uint_eq(in8(&m, MSR), 0xB4);
    out8(&m, THR, 'Q');
    ck_assert_uint_eq(in8(&m, LSR), 0x61); /* DR | THRE | TEMT */
    ck_assert_uint_eq(in8(&m, THR), 'Q');
    ck_assert_uint_eq(in8(&m, LSR), 0x60);
    ck_assert_str_eq(uart16550_output(m.uart), ""); /* loopback sends nothing out */
    /* 7-bit words: the receiver drops bit 7. */
    out8(&m, LCR, 0x02);
    out8(&m, THR, 0xC1);
    ck_assert_uint_eq(in8(&m, THR), 0x41);
    /* Loopback keeps the interrupt off the PC's line even with OUT2 set. */
    out8(&m, IER, 0x02);
    ck_assert_uint_eq(in8(&m, IIR), 0x02);
    ck_assert(!m.sink.level[PC_GSI_COM1]);
    out8(&m, MCR, 0x00);
    ck_assert_str_eq(uart16550_output(m.uart), "");
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_fifo_fill_and_overrun)
{
    struct machine m;
    machine_init(&m, "none", NULL, false);
    out8(&m, LCR, 0x03);
    out8(&m, FCR, 0xC7); /* enable, reset both, trigger 14 */
    ck_assert_uint_eq(in8(&m, IIR) & 0xC0, 0xC0);
    out8(&m, MCR, 0x10);
    out8(&m, IER, 0x01);
    for (int i = 0; i < 13; i++)
        out8(&m, THR, (uint8_t)('a' + i));
    ck_assert_uint_eq(in8(&m, IIR), 0xC1); /* 13 < 14: no data interrupt yet */
    out8(&m, THR, 'n');
    ck_assert_uint_eq(in8(&m, IIR), 0xC4); /* trigger level reached */
    out8(&m, THR, 'o');
    out8(&m, THR, 'p');
    ck_assert_uint_eq(in8(&m, LSR) & 0x03, 0x01); /* 16 bytes, no overrun */
    out8(&m, THR, 'X'); /* 17th: lost */
    out8(&m, IER, 0x05);
    ck_assert_uint_eq(in8(&m, IIR), 0xC6); /* line status outranks data */
    ck_assert_uint_eq(in8(&m, LSR), 0x63); /* DR | OE | THRE | TEMT */
    ck_assert_uint_eq(in8(&m, LSR), 0x61); /* OE clears on read */
    ck_assert_uint_eq(in8(&m, IIR), 0xC4);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(in8(&m, THR), 'a' + i);
    ck_assert_uint_eq(in8(&m, LSR) & 1, 0);
    ck_assert_uint_eq(in8(&m, IIR), 0xC1);

    /* RX FIFO reset empties it. */
    out8(&m, THR, '1');
    out8(&m, THR, '2');
    out8(&m, FCR, 0xC3);
    ck_assert_uint_eq(in8(&m, LSR) & 1, 0);

    /* Without the FIFO RBR holds one byte and a new one overwrites it. */
    out8(&m, FCR, 0x00);
    ck_assert_uint_eq(in8(&m, IIR), 0x01);
    out8(&m, THR, 'A');
    ck_assert_uint_eq(in8(&m, IIR), 0x04);
    out8(&m, THR, 'B');
    ck_assert_uint_eq(in8(&m, LSR), 0x63);
    ck_assert_uint_eq(in8(&m, THR), 'B');
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_thre_interrupt)
{
    struct machine m;
    machine_init(&m, "none", NULL, false);
    out8(&m, LCR, 0x03);
    out8(&m, IER, 0x02);
    ck_assert_uint_eq(in8(&m, IIR), 0x02); /* ETBEI with THR empty: at once */
    ck_assert(!m.sink.level[PC_GSI_COM1]); /* OUT2 clear: the PC's line stays low */
    ck_assert_uint_eq(in8(&m, IIR), 0x01); /* that IIR read cleared THRE */
    out8(&m, THR, 'x');
    out8(&m, MCR, 0x08); /* OUT2 */
    ck_assert(m.sink.level[PC_GSI_COM1]);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_COM1], 1);
    ck_assert_uint_eq(in8(&m, IIR), 0x02);
    ck_assert(!m.sink.level[PC_GSI_COM1]); /* IIR read of THRE drops the line */
    out8(&m, THR, 'y'); /* THR empties again: raised again */
    ck_assert(m.sink.level[PC_GSI_COM1]);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_COM1], 2);
    out8(&m, IER, 0x00);
    ck_assert(!m.sink.level[PC_GSI_COM1]);
    ck_assert_uint_eq(in8(&m, IIR), 0x01);
    /* Re-enabling ETBEI raises it once more. */
    out8(&m, IER, 0x02);
    ck_assert(m.sink.level[PC_GSI_COM1]);
    ck_assert_uint_eq(m.sink.rises[PC_GSI_COM1], 3);
    /* Modem status ranks below THRE. */
    out8(&m, IER, 0x0A);
    out8(&m, MCR, 0x0A); /* drop DTR: no input change outside loopback */
    ck_assert_uint_eq(in8(&m, IIR), 0x02);
    ck_assert_uint_eq(in8(&m, IIR), 0x01);
    const struct stat_entry *e = stats_find(&m.sim, "system.uart0.interrupts");
    ck_assert_ptr_nonnull(e);
    ck_assert_double_eq(stat_value(e), 3);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_rx_timeout)
{
    struct machine m;
    machine_init(&m, "none", NULL, false);
    out8(&m, LCR, 0x83);
    out8(&m, THR, 1); /* 115200 baud: 10-bit frame = 86.8 us */
    out8(&m, IER, 0);
    out8(&m, LCR, 0x03);
    out8(&m, FCR, 0x81); /* FIFO, trigger 8 */
    out8(&m, MCR, 0x10);
    out8(&m, IER, 0x01);
    out8(&m, THR, 'a');
    out8(&m, THR, 'b');
    ck_assert_uint_eq(in8(&m, IIR), 0xC1);
    run_for(&m, 4 * 86 * TICKS_PER_US); /* just under 4 character times */
    ck_assert_uint_eq(in8(&m, IIR), 0xC1);
    run_for(&m, 4 * TICKS_PER_US); /* 348 us > 4 x 86.8 us */
    ck_assert_uint_eq(in8(&m, IIR), 0xCC); /* character timeout */
    ck_assert_uint_eq(in8(&m, THR), 'a');
    ck_assert_uint_eq(in8(&m, IIR), 0xC1); /* a read clears it and restarts the timer */
    run_for(&m, 348 * TICKS_PER_US);
    ck_assert_uint_eq(in8(&m, IIR), 0xCC);
    ck_assert_uint_eq(in8(&m, THR), 'b');
    run_for(&m, 1000 * TICKS_PER_US);
    ck_assert_uint_eq(in8(&m, IIR), 0xC1); /* empty FIFO: no timeout */
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_absent_uarts_read_ff)
{
    struct machine m;
    machine_init(&m, "none", NULL, false);
    static const uint16_t absent[] = {PC_PORT_COM2, PC_PORT_COM3, PC_PORT_COM4};
    for (size_t i = 0; i < 3; i++) {
        for (uint16_t r = 0; r < 8; r++) {
            out8(&m, absent[i] + r, 0x00);
            ck_assert_uint_eq(in8(&m, absent[i] + r), 0xFF);
        }
    }
    ck_assert_uint_eq(bus_pio_read(m.bus, PC_PORT_COM2, 2), 0xFFFF);
    ck_assert_uint_eq(in8(&m, SCR), 0x00); /* COM1 is there */
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(test_file_backend_and_capture_limit)
{
    char *dir = test_tmpdir();
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/out.txt", dir), 0);
    struct machine m;
    machine_init(&m, "file", path, true);
    for (unsigned i = 0; i < UART_CAPTURE_LIMIT + 100; i++)
        out8(&m, THR, (uint8_t)('A' + i % 26));
    const char *cap = uart16550_output(m.uart);
    size_t len = strlen(cap);
    ck_assert_uint_eq(len, UART_CAPTURE_LIMIT + strlen(UART_CAPTURE_TRUNCATED));
    ck_assert_str_eq(cap + UART_CAPTURE_LIMIT, UART_CAPTURE_TRUNCATED);
    ck_assert_int_eq(cap[UART_CAPTURE_LIMIT - 1], 'A' + (UART_CAPTURE_LIMIT - 1) % 26);
    sim_destroy(&m.sim);
    size_t flen;
    char *data = read_whole_file(path, &flen);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(flen, UART_CAPTURE_LIMIT + 100); /* the file gets everything */
    ck_assert_int_eq(data[flen - 1], 'A' + (UART_CAPTURE_LIMIT + 99) % 26);
    free(data);
    unlink(path);
    free(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(test_bad_params)
{
    struct simulation sim;
    sim_init(&sim);
    sim_create(&sim, "System", "system");
    struct sim_object *u = sim_create(&sim, "UART16550", "system.uart0");
    set_param(u, "backend", "file");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "needs the path parameter"));
    sim_destroy(&sim);
    sim_init(&sim);
    sim_create(&sim, "System", "system");
    u = sim_create(&sim, "UART16550", "system.uart0");
    ck_assert_int_eq(param_set_text(u, sim_type_param(u->type, "backend"), "pipe"), -1);
    sim_destroy(&sim);
}
END_TEST

START_TEST(test_socket_backend)
{
    char *dir = test_tmpdir();
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/com1.sock", dir), 0);
    struct machine m;
    machine_init(&m, "socket", path, true);
    out8(&m, THR, 'z'); /* no client yet: dropped */
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(write(c, "hello", 5), 5);
    out8(&m, LCR, 0x03);
    out8(&m, FCR, 0x01);
    /* The client is accepted and read by the periodic poll (100 us). */
    for (int i = 0; i < 200 && (in8(&m, LSR) & 1) == 0; i++) {
        usleep(1000);
        run_for(&m, 100 * TICKS_PER_US);
    }
    char got[6] = {0};
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 200 && (in8(&m, LSR) & 1) == 0; k++) {
            usleep(1000);
            run_for(&m, 100 * TICKS_PER_US);
        }
        got[i] = (char)in8(&m, THR);
    }
    ck_assert_str_eq(got, "hello");
    out8(&m, THR, 'o');
    out8(&m, THR, 'k');
    char back[2];
    ck_assert_int_eq(read(c, back, 2), 2);
    ck_assert_int_eq(memcmp(back, "ok", 2), 0);
    ck_assert_str_eq(uart16550_output(m.uart), "zok");
    close(c);
    sim_destroy(&m.sim);
    ck_assert_int_eq(access(path, F_OK), -1); /* the socket file is removed */
    free(path);
    rmdir(dir);
    free(dir);
}
END_TEST

static int connect_to(const char *path)
{
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return c;
}

/* Reads one received byte, polling the socket for up to 200 ms of host time. */
static uint8_t wait_rx(struct machine *m)
{
    for (int i = 0; i < 200 && (in8(m, LSR) & 1) == 0; i++) {
        usleep(1000);
        run_for(m, 100 * TICKS_PER_US);
    }
    ck_assert_uint_eq(in8(m, LSR) & 1, 1);
    return in8(m, THR);
}

START_TEST(test_socket_path_rules_and_reconnect)
{
    char *dir = test_tmpdir();
    char *path, *plain;
    ck_assert_int_ge(asprintf(&path, "%s/com1.sock", dir), 0);
    ck_assert_int_ge(asprintf(&plain, "%s/file", dir), 0);

    /* A path holding an ordinary file is refused and left alone. */
    free(write_temp_file(dir, "file", "keep me"));
    struct simulation sim;
    sim_init(&sim);
    sim_create(&sim, "System", "system");
    struct sim_object *u = sim_create(&sim, "UART16550", "system.uart0");
    set_param(u, "backend", "socket");
    set_param(u, "path", plain);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "is not a socket"));
    sim_destroy(&sim);
    ck_assert_int_eq(access(plain, F_OK), 0);

    /* A stale socket (nobody listening) is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    ck_assert_int_eq(bind(stale, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(stale);
    struct machine m;
    machine_init(&m, "socket", path, false);
    out8(&m, LCR, 0x03);

    /* A live one is refused, and stays. */
    sim_init(&sim);
    sim_create(&sim, "System", "system");
    u = sim_create(&sim, "UART16550", "system.uart0");
    set_param(u, "backend", "socket");
    set_param(u, "path", path);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "in use"));
    sim_destroy(&sim);
    ck_assert_int_eq(access(path, F_OK), 0);

    /* The refused probe above connected once; a client that leaves makes
     * room for the next. */
    int c = connect_to(path);
    ck_assert_int_eq(write(c, "1", 1), 1);
    ck_assert_uint_eq(wait_rx(&m), '1');
    close(c);
    c = connect_to(path);
    ck_assert_int_eq(write(c, "2", 1), 1);
    uint8_t got = wait_rx(&m);
    ck_assert_uint_eq(got, '2');
    close(c);
    sim_destroy(&m.sim);
    unlink(plain);
    free(plain);
    free(path);
    rmdir(dir);
    free(dir);
}
END_TEST

/* A checkpoint from a machine without input, restored into one with a
 * socket: the restored UART polls its input. */
START_TEST(test_restore_into_machine_with_input)
{
    struct machine a, b;
    machine_init(&a, "none", NULL, false);
    out8(&a, LCR, 0x03);
    run_for(&a, TICKS_PER_MS);
    struct ser_node *snap = sim_serialize(&a.sim);
    char *dir = test_tmpdir();
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/com1.sock", dir), 0);
    machine_init(&b, "socket", path, false);
    ck_assert_msg(sim_unserialize(&b.sim, snap) == 0, "%s", err_get());
    ser_node_free(snap);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(write(c, "r", 1), 1);
    for (int i = 0; i < 200 && (in8(&b, LSR) & 1) == 0; i++) {
        usleep(1000);
        run_for(&b, 100 * TICKS_PER_US);
    }
    ck_assert_uint_eq(in8(&b, THR), 'r');
    close(c);
    sim_destroy(&a.sim);
    sim_destroy(&b.sim);
    free(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(test_stdio_raw_mode_restored)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    int saved_stdin = dup(STDIN_FILENO);
    dup2(slave, STDIN_FILENO);
    struct termios before, during, after;
    tcgetattr(STDIN_FILENO, &before);
    ck_assert(before.c_lflag & ICANON);
    struct machine m;
    machine_init(&m, "stdio", NULL, false);
    ck_assert_uint_eq(m.sim.eq.count, 1); /* the input poll */
    tcgetattr(STDIN_FILENO, &during);
    ck_assert(!(during.c_lflag & (ICANON | ECHO | ISIG)));
    /* Typed bytes reach the receiver; Ctrl-A Ctrl-A is one Ctrl-A. */
    ck_assert_int_eq(write(master, "k\x01\x01", 3), 3);
    out8(&m, FCR, 0x01);
    out8(&m, LCR, 0x03);
    for (int i = 0; i < 200 && (in8(&m, LSR) & 1) == 0; i++) {
        usleep(1000);
        run_for(&m, 100 * TICKS_PER_US);
    }
    usleep(10000);
    run_for(&m, 100 * TICKS_PER_US);
    ck_assert_uint_eq(in8(&m, THR), 'k');
    ck_assert_uint_eq(in8(&m, THR), 0x01);
    ck_assert_uint_eq(in8(&m, LSR) & 1, 0);
    sim_destroy(&m.sim);
    tcgetattr(STDIN_FILENO, &after);
    ck_assert_int_eq(after.c_lflag, before.c_lflag);
    ck_assert_int_eq(after.c_iflag, before.c_iflag);
    dup2(saved_stdin, STDIN_FILENO);
    close(saved_stdin);
    close(slave);
    close(master);
}
END_TEST

/* stdin on /dev/null has no input: no poll events at all. */
START_TEST(test_stdin_dev_null_not_polled)
{
    int saved_stdin = dup(STDIN_FILENO);
    int null_fd = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(null_fd, 0);
    dup2(null_fd, STDIN_FILENO);
    struct machine m;
    machine_init(&m, "stdio", NULL, true);
    ck_assert_uint_eq(m.sim.eq.count, 0);
    out8(&m, THR, '.');
    ck_assert_str_eq(uart16550_output(m.uart), ".");
    sim_destroy(&m.sim);
    dup2(saved_stdin, STDIN_FILENO);
    close(saved_stdin);
    close(null_fd);
}
END_TEST

/* A background job must not touch its controlling terminal (SIGTTOU would
 * stop it): it gets no input and no raw mode. */
START_TEST(test_background_job_leaves_terminal_alone)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A new session with the pty as its controlling terminal. */
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
            _exit(5);
        dup2(slave, STDIN_FILENO);
        pid_t job = fork();
        if (job == 0) {
            setpgid(0, 0); /* a process group that is not the foreground one */
            struct machine m;
            machine_init(&m, "stdio", NULL, false);
            _exit(m.sim.eq.count == 0 ? 0 : 1);
        }
        int st;
        waitpid(job, &st, WUNTRACED);
        if (WIFSTOPPED(st)) {
            kill(job, SIGKILL);
            _exit(3);
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    close(slave);
    close(master);
}
END_TEST

/* Even a fatal internal error restores the terminal (the log fatal hook). */
START_TEST(test_fatal_exit_restores_terminal)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct termios before, after;
    tcgetattr(slave, &before);
    ck_assert(before.c_lflag & ICANON);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(slave, STDIN_FILENO);
        struct machine m;
        machine_init(&m, "stdio", NULL, false);
        struct termios during;
        tcgetattr(STDIN_FILENO, &during);
        if (during.c_lflag & ICANON)
            _exit(2); /* raw mode never happened: the parent fails the test */
        fatal("deliberate internal error to test the terminal restore");
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child status 0x%x", status);
    tcgetattr(slave, &after);
    ck_assert_int_eq(after.c_lflag, before.c_lflag);
    ck_assert_int_eq(after.c_iflag, before.c_iflag);
    close(slave);
    close(master);
}
END_TEST

/* The same activity on both machines: transmit (in and out of loopback),
 * read, acknowledge, let time pass. */
static void activity(struct machine *m, unsigned step)
{
    if (step % 4 == 0)
        out8(m, MCR, (uint8_t)(0x0B | (step % 8 ? 0x10 : 0)));
    out8(m, THR, (uint8_t)('0' + step % 10));
    if (step % 3 == 0)
        (void)in8(m, THR);
    if (step % 5 == 0)
        (void)in8(m, IIR);
    run_for(m, (30 + step * 7) * TICKS_PER_US);
}

static void log_observation(struct machine *m, char *buf, size_t *len)
{
    buf[(*len)++] = (char)m->sink.level[PC_GSI_COM1];
    buf[(*len)++] = (char)in8(m, IIR);
    buf[(*len)++] = (char)in8(m, LSR);
    buf[(*len)++] = (char)in8(m, MSR);
}

START_TEST(test_checkpoint_round_trip)
{
    struct machine a, b;
    machine_init(&a, "none", NULL, true);
    out8(&a, LCR, 0x83);
    out8(&a, THR, 3);
    out8(&a, LCR, 0x1B); /* 8E2 */
    out8(&a, FCR, 0x41); /* FIFO, trigger 4 */
    out8(&a, SCR, 0x77);
    out8(&a, THR, '>');  /* goes out */
    out8(&a, MCR, 0x1B); /* loopback: TX lands in the RX FIFO */
    out8(&a, IER, 0x0F);
    for (int i = 0; i < 3; i++)
        out8(&a, THR, (uint8_t)('A' + i));
    out8(&a, MCR, 0x0B); /* loopback off: OUT2 lets the pending THRE through */
    run_for(&a, 100 * TICKS_PER_US); /* the timeout timer is armed, not fired */
    ck_assert(a.sink.level[PC_GSI_COM1]);
    ck_assert_uint_eq(in8(&a, LSR) & 1, 1);

    struct ser_node *snap = sim_serialize(&a.sim);
    size_t sent_before = strlen(uart16550_output(a.uart));
    machine_init(&b, "none", NULL, true);
    ck_assert_msg(sim_unserialize(&b.sim, snap) == 0, "%s", err_get());
    ser_node_free(snap);
    b.sink = a.sink; /* the interrupt controller restores its own view */

    char obs_a[512], obs_b[512];
    size_t la = 0, lb = 0;
    for (unsigned step = 0; step < 40; step++) {
        activity(&a, step);
        activity(&b, step);
        log_observation(&a, obs_a, &la);
        log_observation(&b, obs_b, &lb);
    }
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(obs_a, obs_b, la), 0);
    ck_assert_uint_eq(in8(&b, SCR), 0x77);
    /* loopback is off for steps 0-3, 8-11, ...: those digits went out */
    ck_assert_str_eq(uart16550_output(a.uart), ">01238901678945672345");
    ck_assert_str_eq(uart16550_output(a.uart) + sent_before, uart16550_output(b.uart));
    ck_assert_uint_eq(a.sink.rises[PC_GSI_COM1], b.sink.rises[PC_GSI_COM1]);
    test_assert_same_state(&a.sim, &b.sim);
    sim_destroy(&a.sim);
    sim_destroy(&b.sim);
}
END_TEST

/* A corrupt checkpoint is refused with a message naming what is wrong. */
START_TEST(test_corrupt_checkpoint_refused)
{
    struct machine a, b;
    machine_init(&a, "none", NULL, false);
    machine_init(&b, "none", NULL, false);
    test_assert_corrupt_refused(&a.sim, &b.sim, "system.uart0", "rx_count", 17,
                                "RX FIFO state is invalid");
}
END_TEST

START_TEST(test_random_accesses)
{
    struct machine m;
    machine_init(&m, "none", NULL, true);
    srandom(12345);
    static const unsigned sizes[] = {1, 2, 4};
    for (unsigned i = 0; i < 200000; i++) {
        long r = random();
        unsigned size = sizes[r % 3];
        uint16_t port = (uint16_t)(COM1 - 4 + (r >> 2) % 16);
        if ((r >> 8) & 1)
            bus_pio_write(m.bus, port, (uint64_t)random() | (uint64_t)random() << 31, size);
        else
            (void)bus_pio_read(m.bus, port, size);
        if ((i & 255) == 0) {
            run_for(&m, (uint64_t)(random() % 2000) * TICKS_PER_US);
            /* Invariants: THR always empty, IIR bits 4-5 zero, IER high nibble zero. */
            ck_assert_uint_eq(in8(&m, LSR) & 0x60, 0x60);
            ck_assert_uint_eq(in8(&m, IIR) & 0x30, 0);
            out8(&m, LCR, in8(&m, LCR) & 0x7F);
            ck_assert_uint_eq(in8(&m, IER) & 0xF0, 0);
        }
    }
    ck_assert_ptr_nonnull(uart16550_output(m.uart));
    sim_destroy(&m.sim);
}
END_TEST

/* configs/uart-demo.lua builds the three legacy devices and runs a second. */
START_TEST(test_demo_config)
{
    const char *src = getenv("TANDEM_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char *dir = test_tmpdir();
    char *out;
    int rc = run_tandem(&out, "run --quiet --outdir %s/out %s/configs/uart-demo.lua -- uart_backend=none"
                        " </dev/null", dir, src);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "rtc updates 1, uart0 txBytes 0, output ''") != NULL, "%s", out);
    free(out);
    char *stats;
    ck_assert_int_ge(asprintf(&stats, "%s/out/stats.txt", dir), 0);
    size_t len;
    char *text = read_whole_file(stats, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "system.i8042.commands"));
    free(text);
    free(stats);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("uart16550");
    TCase *tc = tcase_create("registers");
    tcase_add_test(tc, test_power_on_values);
    tcase_add_test(tc, test_scratch_and_dlab);
    tcase_add_test(tc, test_loopback);
    tcase_add_test(tc, test_fifo_fill_and_overrun);
    tcase_add_test(tc, test_thre_interrupt);
    tcase_add_test(tc, test_rx_timeout);
    tcase_add_test(tc, test_absent_uarts_read_ff);
    tcase_add_test(tc, test_file_backend_and_capture_limit);
    tcase_add_test(tc, test_bad_params);
    tcase_add_test(tc, test_socket_backend);
    tcase_add_test(tc, test_socket_path_rules_and_reconnect);
    tcase_add_test(tc, test_restore_into_machine_with_input);
    tcase_add_test(tc, test_stdio_raw_mode_restored);
    tcase_add_test(tc, test_stdin_dev_null_not_polled);
    tcase_add_test(tc, test_background_job_leaves_terminal_alone);
    tcase_add_test(tc, test_fatal_exit_restores_terminal);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc, test_corrupt_checkpoint_refused);
    tcase_add_test(tc, test_random_accesses);
    tcase_add_test(tc, test_demo_config);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
