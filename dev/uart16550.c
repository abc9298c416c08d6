/* A 16550A UART, after the National Semiconductor / TI PC16550D datasheet
 * ("PC16550D Universal Asynchronous Receiver/Transmitter with FIFOs").
 *
 * Modelled: every register (RBR/THR, IER, IIR/FCR, LCR with the DLAB divisor
 * latch, MCR with loopback, LSR, MSR, SCR), the 16-byte receive FIFO with its
 * trigger levels and the character-timeout indication (4 character times of
 * the programmed baud rate and frame format), overrun, the datasheet's
 * interrupt priorities, and the PC wiring: the interrupt reaches the GSI only
 * while MCR.OUT2 is set, and never in loopback mode (the datasheet forces the
 * OUT2 pin inactive there).
 *
 * Simplifications, on purpose:
 * - Transmission is instantaneous: a THR write goes to the backend (or, in
 *   loopback, into the receive FIFO) at once, so THR and the TX FIFO are
 *   always empty (LSR.THRE = LSR.TEMT = 1) and a THRE interrupt follows every
 *   write. Baud rate only affects the receive timeout.
 * - Host input never overruns: each poll takes only as many bytes as the RX
 *   FIFO has room for and leaves the rest in the host's buffer. Overrun still
 *   happens for loopback traffic, as on hardware.
 * - No parity/framing errors or breaks arrive (host bytes are clean), so
 *   LSR bits 2-4 and 7 stay 0.
 *
 * Backends: stdio (stdout; stdin polled, put in raw mode when it is a tty and
 * `raw` is set, Ctrl-A x stops the simulation, Ctrl-A Ctrl-A sends Ctrl-A),
 * file (output only), socket (a Unix socket listening at `path`; one client
 * at a time, output is dropped while none is connected), none. Input is
 * polled every `poll_us` of simulated time, only while input is possible
 * (a socket backend, or stdin before its end; stdin on /dev/null, or a
 * terminal the process has in the background, is never polled).
 * `capture` keeps the transmitted text for uart16550_output() (and
 * uart.output(obj) in Lua configs); the capture is host-side output like
 * stdout and is not part of the checkpoint.
 */
#include "dev/uart16550.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/lua.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Uart, "16550 UART register accesses and interrupts");

#define UART_FIFO_SIZE 16
#define UART_CLOCK_HZ 1843200u /* the PC's 1.8432 MHz crystal: 115200 baud at divisor 1 */

/* Register offsets */
enum { REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3, REG_MCR = 4, REG_LSR = 5,
       REG_MSR = 6, REG_SCR = 7 };

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */

#define IIR_NONE 0x01
#define IIR_MSR 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_TIMEOUT 0x0C
#define IIR_FIFO_ON 0xC0

#define FCR_ENABLE 0x01
#define FCR_RX_RESET 0x02
#define FCR_DMA_MODE 0x08

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS 0x1E /* OE, PE, FE, BI: cleared by reading LSR */

#define MSR_DELTAS 0x0F
#define MSR_TERI 0x04
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

enum uart_backend { BACKEND_STDIO, BACKEND_FILE, BACKEND_SOCKET, BACKEND_NONE };
static const char *const backend_choices[] = {"stdio", "file", "socket", "none", NULL};

#define CTRL_A 0x01
#define STR_(x) #x
#define STR(x) STR_(x)

struct uart {
    struct sim_object obj;
    /* params */
    uint32_t port;
    uint32_t gsi;
    int backend;
    char *path;
    bool raw;
    bool capture;
    uint32_t poll_us;

    /* registers */
    uint8_t ier, lcr, mcr, lsr_errors, msr, scr, dll, dlm;
    bool fifo_enabled;
    uint8_t fcr_bits; /* DMA mode and RX trigger bits as last programmed */
    uint8_t rx_fifo[UART_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    bool thre_pending;    /* THRE interrupt condition (cleared by IIR read / THR write) */
    bool timeout_pending; /* character timeout indication */
    bool irq_level;       /* what we last drove onto the GSI */
    struct event rx_timeout_ev;
    struct event poll_ev;

    /* stats */
    uint64_t tx_bytes, rx_bytes, interrupts;

    /* host side */
    bool initialized;
    FILE *out_file;
    int listen_fd, client_fd;
    bool owns_stdin, stdin_eof, escape_pending;
    char *cap;
    size_t cap_len;
    bool cap_truncated;
};

/* ---- the host terminal: raw mode and its restoration on every exit path ---- */

static struct termios saved_termios;
static bool termios_saved;
static bool restore_registered;
static struct uart *stdin_owner;

static void restore_terminal(void)
{
    if (termios_saved) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        termios_saved = false;
    }
}

static int enter_raw_mode(void)
{
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) < 0) {
        err_set("cannot read the terminal settings of stdin: %s", strerror(errno));
        return -1;
    }
    saved_termios = t;
    cfmakeraw(&t);
    /* Keep output processing so host-side messages still start at column 0. */
    t.c_oflag |= OPOST;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) {
        err_set("cannot put stdin in raw mode: %s", strerror(errno));
        return -1;
    }
    termios_saved = true;
    if (!restore_registered) {
        atexit(restore_terminal);
        restore_registered = true;
    }
    log_set_fatal_hook(restore_terminal);
    return 0;
}

/* ---- interrupts ---- */

static unsigned rx_trigger_level(const struct uart *u)
{
    static const unsigned levels[4] = {1, 4, 8, 14};
    return u->fifo_enabled ? levels[u->fcr_bits >> 6] : 1;
}

static unsigned rx_capacity(const struct uart *u)
{
    return u->fifo_enabled ? UART_FIFO_SIZE : 1;
}

/* The highest-priority pending source as its IIR code, per the datasheet's
 * interrupt control table. */
static uint8_t pending_iir(const struct uart *u)
{
    if ((u->ier & IER_ELSI) && (u->lsr_errors & LSR_ERRORS))
        return IIR_RLS;
    if ((u->ier & IER_ERBFI) && u->rx_count >= rx_trigger_level(u))
        return IIR_RDA;
    if ((u->ier & IER_ERBFI) && u->timeout_pending)
        return IIR_TIMEOUT;
    if ((u->ier & IER_ETBEI) && u->thre_pending)
        return IIR_THRE;
    if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
        return IIR_MSR;
    return IIR_NONE;
}

static void update_irq(struct uart *u)
{
    bool level = pending_iir(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (level)
        u->interrupts++;
    DPRINTF(Uart, &u->obj, "irq %s (iir 0x%02x)", level ? "raised" : "lowered", pending_iir(u));
    system_set_irq(system_of(&u->obj), u->gsi, level);
}

/* ---- receive path ---- */

/* One character time in ticks for the current divisor and frame format. */
static tick_t char_ticks(const struct uart *u)
{
    unsigned divisor = (unsigned)u->dll | (unsigned)u->dlm << 8;
    if (divisor == 0)
        divisor = 0x10000; /* the datasheet leaves 0 undefined; take the slowest rate */
    unsigned data_bits = 5 + (u->lcr & 3);
    /* In half bits: start, data, parity, and 1, 1.5 (5-bit words) or 2 stop bits. */
    unsigned half_bits = 2 * (1 + data_bits + ((u->lcr >> 3) & 1));
    half_bits += (u->lcr & 4) ? (data_bits == 5 ? 3 : 4) : 2;
    /* 128 bits: the slowest frame (divisor 65536) overflows 64-bit picoseconds here. */
    return (tick_t)((unsigned __int128)half_bits * divisor * 16 * TICKS_PER_S / (2ULL * UART_CLOCK_HZ));
}

/* now + delay, or TICK_MAX when that is past the end of simulated time. */
static tick_t ticks_from_now(const struct uart *u, tick_t delay)
{
    tick_t now = sim_now(u->obj.sim);
    return delay >= TICK_MAX - now ? TICK_MAX : now + delay;
}

/* The timeout indication fires after 4 character times with data in the
 * FIFO and nothing received or read. */
static void restart_rx_timeout(struct uart *u)
{
    struct event_queue *q = &u->obj.sim->eq;
    u->timeout_pending = false;
    tick_t when = ticks_from_now(u, 4 * char_ticks(u));
    if (u->fifo_enabled && u->rx_count && when != TICK_MAX)
        eq_reschedule(q, &u->rx_timeout_ev, when);
    else if (event_scheduled(&u->rx_timeout_ev))
        eq_deschedule(q, &u->rx_timeout_ev);
}

static void rx_timeout_fire(struct event *ev, void *arg)
{
    (void)ev;
    struct uart *u = arg;
    u->timeout_pending = u->rx_count > 0;
    update_irq(u);
}

static void clear_rx(struct uart *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
    restart_rx_timeout(u);
}

static void receive_byte(struct uart *u, uint8_t byte)
{
    byte &= (uint8_t)(0xFF >> (3 - (u->lcr & 3)));
    u->rx_bytes++;
    if (u->rx_count == rx_capacity(u)) {
        u->lsr_errors |= LSR_OE;
        /* Without the FIFO the new character overwrites RBR; with it the
         * character in the shift register is lost. */
        if (!u->fifo_enabled)
            u->rx_fifo[u->rx_head] = byte;
    } else {
        u->rx_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
        u->rx_count++;
    }
    restart_rx_timeout(u);
    update_irq(u);
}

static uint8_t read_rbr(struct uart *u)
{
    if (!u->rx_count)
        return u->rx_fifo[u->rx_head];
    uint8_t byte = u->rx_fifo[u->rx_head];
    u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
    u->rx_count--;
    restart_rx_timeout(u);
    update_irq(u);
    return byte;
}

/* ---- transmit path and backends ---- */

static void capture_byte(struct uart *u, uint8_t byte)
{
    if (!u->capture || u->cap_truncated)
        return;
    if (u->cap_len == UART_CAPTURE_LIMIT) {
        memcpy(u->cap + u->cap_len, UART_CAPTURE_TRUNCATED, sizeof(UART_CAPTURE_TRUNCATED));
        u->cap_len += sizeof(UART_CAPTURE_TRUNCATED) - 1;
        u->cap_truncated = true;
        return;
    }
    u->cap[u->cap_len++] = (char)byte;
    u->cap[u->cap_len] = '\0';
}

static void close_client(struct uart *u)
{
    if (u->client_fd >= 0) {
        close(u->client_fd);
        u->client_fd = -1;
        DPRINTF(Uart, &u->obj, "socket client disconnected");
    }
}

static void write_all(int fd, const uint8_t *buf, size_t len, struct uart *u)
{
    while (len) {
        ssize_t n = u->backend == BACKEND_SOCKET ? send(fd, buf, len, MSG_NOSIGNAL)
                                                 : write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (u->backend == BACKEND_SOCKET)
                close_client(u);
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void transmit(struct uart *u, uint8_t byte)
{
    u->tx_bytes++;
    if (u->mcr & MCR_LOOP) {
        receive_byte(u, byte);
        return;
    }
    capture_byte(u, byte);
    switch (u->backend) {
    case BACKEND_STDIO:
        write_all(STDOUT_FILENO, &byte, 1, u);
        break;
    case BACKEND_FILE:
        fputc(byte, u->out_file);
        break;
    case BACKEND_SOCKET:
        if (u->client_fd >= 0)
            write_all(u->client_fd, &byte, 1, u);
        break;
    default:
        break;
    }
}

static bool input_possible(const struct uart *u)
{
    return (u->owns_stdin && !u->stdin_eof) || u->listen_fd >= 0;
}

/* Host bytes from stdin, after the Ctrl-A escape handling. */
static void take_stdin_bytes(struct uart *u, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (termios_saved && u->escape_pending) {
            u->escape_pending = false;
            if (buf[i] == 'x') {
                log_info("%s: Ctrl-A x: stopping the simulation", u->obj.path);
                sim_stop_requested = 1;
                continue;
            }
            if (buf[i] != CTRL_A)
                receive_byte(u, CTRL_A);
        } else if (termios_saved && buf[i] == CTRL_A) {
            u->escape_pending = true;
            continue;
        }
        receive_byte(u, buf[i]);
    }
}

static void poll_input(struct uart *u)
{
    unsigned room = rx_capacity(u) - u->rx_count;
    if ((u->mcr & MCR_LOOP) || room == 0)
        return;
    uint8_t buf[UART_FIFO_SIZE];
    if (u->owns_stdin && !u->stdin_eof) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            ssize_t n = read(STDIN_FILENO, buf, room);
            if (n > 0)
                take_stdin_bytes(u, buf, (size_t)n);
            else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                u->stdin_eof = true;
        }
        return;
    }
    if (u->listen_fd < 0)
        return;
    if (u->client_fd < 0) {
        u->client_fd = accept4(u->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (u->client_fd < 0)
            return;
        DPRINTF(Uart, &u->obj, "socket client connected");
    }
    ssize_t n = recv(u->client_fd, buf, room, MSG_DONTWAIT);
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++)
            receive_byte(u, buf[i]);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close_client(u);
    }
}

static void schedule_poll(struct uart *u)
{
    tick_t when = ticks_from_now(u, u->poll_us * TICKS_PER_US);
    if (input_possible(u) && when != TICK_MAX)
        sim_schedule(u->obj.sim, &u->poll_ev, when);
}

static void poll_fire(struct event *ev, void *arg)
{
    (void)ev;
    struct uart *u = arg;
    poll_input(u);
    schedule_poll(u);
}

/* ---- registers ---- */

static void set_modem_inputs(struct uart *u)
{
    uint8_t in;
    if (u->mcr & MCR_LOOP)
        in = (uint8_t)(((u->mcr & MCR_RTS) ? MSR_CTS : 0) | ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
                       ((u->mcr & MCR_OUT1) ? MSR_RI : 0) | ((u->mcr & MCR_OUT2) ? MSR_DCD : 0));
    else
        in = MSR_DCD | MSR_DSR | MSR_CTS; /* a connected, ready terminal */
    uint8_t old = u->msr & 0xF0, changed = old ^ in;
    uint8_t deltas = (uint8_t)((changed & (MSR_CTS | MSR_DSR | MSR_DCD)) >> 4);
    if ((old & MSR_RI) && !(in & MSR_RI))
        deltas |= MSR_TERI;
    u->msr = (uint8_t)(in | (u->msr & MSR_DELTAS) | deltas);
}

static uint8_t reg_read(struct uart *u, unsigned reg)
{
    uint8_t v;
    switch (reg) {
    case REG_RBR_THR:
        return (u->lcr & LCR_DLAB) ? u->dll : read_rbr(u);
    case REG_IER:
        return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
    case REG_IIR_FCR:
        v = pending_iir(u);
        if (v == IIR_THRE) {
            u->thre_pending = false;
            update_irq(u);
        }
        return (uint8_t)(v | (u->fifo_enabled ? IIR_FIFO_ON : 0));
    case REG_LCR:
        return u->lcr;
    case REG_MCR:
        return u->mcr;
    case REG_LSR:
        v = (uint8_t)(u->lsr_errors | (u->rx_count ? LSR_DR : 0) | LSR_THRE | LSR_TEMT);
        if (u->lsr_errors) {
            u->lsr_errors = 0;
            update_irq(u);
        }
        return v;
    case REG_MSR:
        v = u->msr;
        if (u->msr & MSR_DELTAS) {
            u->msr &= (uint8_t)~MSR_DELTAS;
            update_irq(u);
        }
        return v;
    default:
        return u->scr;
    }
}

static void write_fcr(struct uart *u, uint8_t v)
{
    bool enable = v & FCR_ENABLE;
    if (enable != u->fifo_enabled) {
        u->fifo_enabled = enable;
        clear_rx(u); /* changing the FIFO mode clears both FIFOs */
    }
    if (!enable)
        return; /* the other bits program only while bit 0 is set */
    u->fcr_bits = v & (0xC0 | FCR_DMA_MODE);
    if (v & FCR_RX_RESET)
        clear_rx(u);
    /* TX FIFO reset: the TX FIFO is always empty (instantaneous transmission). */
}

static void reg_write(struct uart *u, unsigned reg, uint8_t v)
{
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            u->dll = v;
            break;
        }
        u->thre_pending = false;
        transmit(u, v);
        u->thre_pending = true; /* the (instantaneous) transmission emptied THR again */
        break;
    case REG_IER:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
            break;
        }
        /* Enabling ETBEI while THR is empty raises THRE at once. */
        if (!(u->ier & IER_ETBEI) && (v & IER_ETBEI))
            u->thre_pending = true;
        u->ier = v & 0x0F;
        break;
    case REG_IIR_FCR:
        write_fcr(u, v);
        break;
    case REG_LCR:
        u->lcr = v;
        break;
    case REG_MCR:
        u->mcr = v & 0x1F;
        set_modem_inputs(u);
        break;
    case REG_LSR:
    case REG_MSR:
        break; /* read-only (factory test writes are not modelled) */
    default:
        u->scr = v;
        break;
    }
    update_irq(u);
}

/* Wider accesses reach consecutive registers byte by byte, as the ISA bus
 * splits them for an 8-bit device. */
static uint64_t uart_read(void *opaque, uint64_t off, unsigned size)
{
    struct uart *u = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)reg_read(u, (unsigned)(off + i)) << (8 * i);
    DPRINTF(Uart, &u->obj, "read%u reg %u = 0x%llx", size * 8, (unsigned)off, (unsigned long long)v);
    return v;
}

static void uart_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct uart *u = opaque;
    DPRINTF(Uart, &u->obj, "write%u reg %u = 0x%llx", size * 8, (unsigned)off,
            (unsigned long long)val);
    for (unsigned i = 0; i < size; i++)
        reg_write(u, (unsigned)(off + i), (uint8_t)(val >> (8 * i)));
}

static const struct io_ops uart_io = {.read = uart_read, .write = uart_write};

/* ---- lifecycle ---- */

static int open_socket(struct uart *u)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(u->path) >= sizeof(addr.sun_path)) {
        err_set("socket path '%s' is longer than %zu bytes", u->path,
                sizeof(addr.sun_path) - 1);
        return -1;
    }
    strcpy(addr.sun_path, u->path);
    struct stat st;
    /* A stale socket from an earlier run is replaced; a live one (something
     * accepts connections on it) or any other file is not. */
    if (lstat(u->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            err_set("socket path '%s' exists and is not a socket", u->path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            err_set("socket path '%s' is in use by another process", u->path);
            return -1;
        }
        unlink(u->path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        err_set("cannot create Unix socket '%s': %s", u->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    u->listen_fd = fd; /* from here on destroy removes the socket file */
    if (listen(fd, 1) < 0) {
        err_set("cannot listen on Unix socket '%s': %s", u->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_backend(struct uart *u)
{
    switch (u->backend) {
    case BACKEND_STDIO:
        if (stdin_owner) {
            log_info("%s: stdin already feeds %s; this UART only writes to stdout", u->obj.path,
                     stdin_owner->obj.path);
            return 0;
        }
        stdin_owner = u;
        u->owns_stdin = true;
        /* A non-terminal character device (/dev/null) never has input:
         * don't poll it, so runs with and without it schedule alike. */
        struct stat st;
        if (fstat(STDIN_FILENO, &st) < 0 || (S_ISCHR(st.st_mode) && !isatty(STDIN_FILENO)))
            u->stdin_eof = true;
        if (!isatty(STDIN_FILENO))
            return 0;
        /* A background job reading or reconfiguring its controlling
         * terminal would be stopped by SIGTTIN/SIGTTOU: leave it alone.
         * (tcgetpgrp fails on a terminal that is not the controlling one.) */
        pid_t foreground = tcgetpgrp(STDIN_FILENO);
        if (foreground >= 0 && foreground != getpgrp()) {
            log_info("%s: running in the background: no input from the terminal", u->obj.path);
            u->stdin_eof = true;
            return 0;
        }
        if (u->raw && enter_raw_mode() < 0)
            return -1;
        return 0;
    case BACKEND_FILE:
        if (!*u->path) {
            err_set("backend 'file' needs the path parameter");
            return -1;
        }
        u->out_file = fopen(u->path, "w");
        if (!u->out_file) {
            err_set("cannot open output file '%s': %s", u->path, strerror(errno));
            return -1;
        }
        return 0;
    case BACKEND_SOCKET:
        if (!*u->path) {
            err_set("backend 'socket' needs the path parameter");
            return -1;
        }
        return open_socket(u);
    default:
        return 0;
    }
}

static int uart_init(struct sim_object *o)
{
    struct uart *u = SIM_CAST(struct uart, o);
    u->listen_fd = u->client_fd = -1;
    u->initialized = true;
    event_init(&u->rx_timeout_ev, "uart-rx-timeout", EVPRI_DEVICE, rx_timeout_fire, u);
    event_init(&u->poll_ev, "uart-poll", EVPRI_DEVICE, poll_fire, u);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("a UART16550 must be placed under a System");
        return -1;
    }
    if (u->gsi >= PC_IOAPIC_PINS) {
        err_set("gsi %u is out of range (0-%d)", u->gsi, PC_IOAPIC_PINS - 1);
        return -1;
    }
    if (bus_map_pio(&sys->bus, (uint16_t)u->port, 8, &uart_io, u, o->path) < 0)
        return -1;
    if (u->capture) {
        u->cap = malloc(UART_CAPTURE_LIMIT + sizeof(UART_CAPTURE_TRUNCATED));
        if (!u->cap) {
            err_set("cannot allocate the capture buffer");
            return -1;
        }
        u->cap[0] = '\0';
    }
    /* Power-on values (datasheet reset table). */
    u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
    stats_add_counter(o, "txBytes", &u->tx_bytes, "byte", "Bytes transmitted (THR writes)");
    stats_add_counter(o, "rxBytes", &u->rx_bytes, "byte", "Bytes received (host input and loopback)");
    stats_add_counter(o, "interrupts", &u->interrupts, "count", "Rising edges of the interrupt line");
    return open_backend(u);
}

static void uart_startup(struct sim_object *o)
{
    schedule_poll(SIM_CAST(struct uart, o));
}

static bool uart_drain(struct sim_object *o)
{
    struct uart *u = SIM_CAST(struct uart, o);
    if (u->out_file)
        fflush(u->out_file);
    return true;
}

static void uart_serialize(struct sim_object *o, struct ser_node *n)
{
    struct uart *u = SIM_CAST(struct uart, o);
    if (u->out_file)
        fflush(u->out_file);
    SER_PUT(n, u, ier);
    SER_PUT(n, u, lcr);
    SER_PUT(n, u, mcr);
    SER_PUT(n, u, lsr_errors);
    SER_PUT(n, u, msr);
    SER_PUT(n, u, scr);
    SER_PUT(n, u, dll);
    SER_PUT(n, u, dlm);
    SER_PUT(n, u, fifo_enabled);
    SER_PUT(n, u, fcr_bits);
    SER_PUT_ARRAY(n, u, rx_fifo);
    SER_PUT(n, u, rx_head);
    SER_PUT(n, u, rx_count);
    SER_PUT(n, u, thre_pending);
    SER_PUT(n, u, timeout_pending);
    SER_PUT(n, u, irq_level);
    ser_put_event(n, "rx_timeout_ev", &u->rx_timeout_ev);
    ser_put_event(n, "poll_ev", &u->poll_ev);
    SER_PUT(n, u, tx_bytes);
    SER_PUT(n, u, rx_bytes);
    SER_PUT(n, u, interrupts);
}

static int uart_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct uart *u = SIM_CAST(struct uart, o);
    struct event_queue *q = &o->sim->eq;
    if (SER_GET(n, u, ier) < 0 || SER_GET(n, u, lcr) < 0 || SER_GET(n, u, mcr) < 0 ||
        SER_GET(n, u, lsr_errors) < 0 || SER_GET(n, u, msr) < 0 || SER_GET(n, u, scr) < 0 ||
        SER_GET(n, u, dll) < 0 || SER_GET(n, u, dlm) < 0 || SER_GET(n, u, fifo_enabled) < 0 ||
        SER_GET(n, u, fcr_bits) < 0 || SER_GET_ARRAY(n, u, rx_fifo) < 0 ||
        SER_GET(n, u, rx_head) < 0 || SER_GET(n, u, rx_count) < 0 ||
        SER_GET(n, u, thre_pending) < 0 || SER_GET(n, u, timeout_pending) < 0 ||
        SER_GET(n, u, irq_level) < 0 || ser_get_event(n, "rx_timeout_ev", &u->rx_timeout_ev, q) < 0 ||
        ser_get_event(n, "poll_ev", &u->poll_ev, q) < 0 || SER_GET(n, u, tx_bytes) < 0 ||
        SER_GET(n, u, rx_bytes) < 0 || SER_GET(n, u, interrupts) < 0)
        return -1;
    if (u->rx_head >= UART_FIFO_SIZE || u->rx_count > rx_capacity(u)) {
        err_set("%s: checkpoint RX FIFO state is invalid (head %u, count %u)", n->path, u->rx_head,
                u->rx_count);
        return -1;
    }
    /* A checkpoint taken without input (e.g. backend none) restored into a
     * machine that has some: start polling it. */
    if (!event_scheduled(&u->poll_ev))
        schedule_poll(u);
    /* irq_level is the line as driven before the checkpoint; the interrupt
     * controllers restore their own view of their input pins. */
    return 0;
}

static void uart_destroy(struct sim_object *o)
{
    struct uart *u = SIM_CAST(struct uart, o);
    if (!u->initialized)
        return; /* an earlier object's init failed before ours ran */
    if (u->out_file && fclose(u->out_file) != 0)
        log_error("%s: writing output file '%s' failed: %s", o->path, u->path, strerror(errno));
    close_client(u);
    if (u->listen_fd >= 0) {
        close(u->listen_fd);
        unlink(u->path);
    }
    if (stdin_owner == u) {
        stdin_owner = NULL;
        restore_terminal();
    }
    free(u->cap);
}

const char *uart16550_output(struct sim_object *o)
{
    if (!o || strcmp(o->type->name, "UART16550") != 0)
        return NULL;
    return SIM_CAST(struct uart, o)->cap;
}

/* uart.output(uart) in configs: the captured text, for scripted checks of
 * what the guest printed. */
static int l_uart_output(lua_State *L)
{
    struct sim_object *o = lua_check_object(L, 1);
    if (strcmp(o->type->name, "UART16550") != 0)
        return luaL_error(L, "uart.output: %s is a %s, not a UART16550", o->path, o->type->name);
    const char *text = uart16550_output(o);
    if (!text)
        return luaL_error(L, "uart.output: %s has capture = false", o->path);
    lua_pushstring(L, text);
    return 1;
}

static const luaL_Reg uart_lua_funcs[] = {{"output", l_uart_output}, {NULL, NULL}};
static struct lua_extension uart_lua = {.table = "uart", .funcs = uart_lua_funcs};
LUA_EXTENSION_REGISTER(uart_lua);

static const struct param_desc uart_params[] = {
    PARAM_UINT_(struct uart, port, STR(PC_PORT_COM1), 0, 0xfff8, "port", "First of the 8 I/O ports"),
    PARAM_UINT_(struct uart, gsi, STR(PC_GSI_COM1), 0, PC_IOAPIC_PINS - 1, "gsi",
                "Interrupt line (GSI) the UART drives (COM1: 4, COM2: 3)"),
    PARAM_ENUM_(struct uart, backend, "stdio", backend_choices,
                "Where transmitted bytes go and received bytes come from"),
    PARAM_STRING_(struct uart, path, "", "Output file (backend=file) or Unix socket path (backend=socket)"),
    PARAM_BOOL_(struct uart, raw, "true", "Put a terminal on stdin in raw mode (backend=stdio)"),
    PARAM_BOOL_(struct uart, capture, "false",
                "Keep the transmitted text (first 1 MiB) for uart16550_output()"),
    PARAM_UINT_(struct uart, poll_us, "100", 1, 1000000, "us",
                "Simulated time between polls of the host input"),
    PARAM_END,
};

static struct sim_type uart_type = {
    .name = "UART16550",
    .help = "16550A UART (PC16550D datasheet) with stdio, file, Unix-socket or no backend",
    .size = sizeof(struct uart),
    .params = uart_params,
    .ops = {.init = uart_init, .startup = uart_startup, .drain = uart_drain,
            .serialize = uart_serialize, .unserialize = uart_unserialize, .destroy = uart_destroy},
};
SIM_TYPE_REGISTER(uart_type);
