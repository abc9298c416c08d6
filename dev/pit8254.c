/* The Intel 8254 programmable interval timer (datasheet 231164) at
 * 0x40-0x43, and system control port B (0x61) whose bit 0 gates channel 2
 * and whose bit 5 shows OUT2, as on every PC since the AT.
 *
 * Nothing ticks per PIT clock. Each channel records the PIT clock at which
 * its counting element last started from a known value; the count and the
 * OUT pin at any moment are computed from simulated time. Clock k (k >= 1)
 * is the k-th rising CLK edge after tick 0, at tick ceil(k * 1e12 / hz), so
 * the arithmetic is exact for the non-integral 1.193182 MHz period.
 *
 * A count written to the counter is loaded into the counting element on the
 * next CLK edge (datasheet: "the Counter is loaded on the next CLK pulse");
 * a mode 0 count of N therefore raises OUT N + 1 clocks after the write.
 *
 * Channel 0's OUT drives ISA IRQ 0. The machine's MADT overrides ISA IRQ 0
 * to GSI 2, so the PIT drives GSI PC_GSI_PIT (2) only, with the level of
 * OUT0; the IOAPIC sees pin 2 and the 8259 maps GSI 2 back to its IR0 (see
 * dev/pic8259.c). An event is scheduled at each OUT0 edge and nowhere
 * else.
 *
 * A new count written while mode 2 runs takes effect at the end of the
 * current period, in mode 3 at the end of the current half-cycle (datasheet).
 * A count of 1, illegal in mode 2, counts as 2 in modes 2 and 3. */
#include <stdio.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Pit, "8254 PIT: control words, counts, latches, OUT0 edges, port 0x61");

#define PIT_CHANNELS 3
#define PIT_PORT_CONTROL 3
/* Refresh request toggle of port 0x61 bit 4: every 15.085 us on AT boards. */
#define REFRESH_PERIOD_TICKS 15085000ULL

#define SYSB_GATE2 0x01
#define SYSB_SPEAKER 0x02
#define SYSB_WRITABLE 0x0f
#define SYSB_REFRESH 0x10
#define SYSB_OUT2 0x20

enum rw_mode { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD = 3 };

/* What the next read of a channel's port returns, for latched values. */
enum latch_state { LATCH_NONE = 0, LATCH_LSB, LATCH_MSB, LATCH_WORD_LSB, LATCH_WORD_MSB };

struct pit_channel {
    uint8_t mode;  /* 0-5 */
    uint8_t rw;    /* enum rw_mode, never RW_LATCH */
    uint8_t bcd;
    uint8_t gate;
    uint16_t cr;           /* count register as written */
    uint8_t cr_lsb_written; /* RW_WORD: LSB written, MSB expected */
    uint8_t read_msb_next;  /* RW_WORD live reads: MSB next */
    uint8_t latch;          /* enum latch_state */
    uint16_t latched;
    uint8_t status_latched;
    uint8_t status;
    uint8_t null_count;  /* a count was written ... */
    uint64_t count_write_clock; /* ... at this clock; loaded once counting starts after it */
    uint8_t armed;     /* a count has been written since the control word */
    uint8_t counting;  /* the counting element runs */
    uint8_t tc_done;   /* one-shot modes: terminal count passed before start */
    uint8_t out_idle;  /* OUT while not counting */
    uint32_t reload;   /* count in clocks, 1..modulus (2.. for modes 2/3) */
    uint32_t start_value; /* one-shot modes: counting element at start_clock;
                           * any mode while stopped: the held count */
    uint64_t start_clock;
    uint32_t start_phase; /* modes 2/3: clocks into the period at start_clock */
    uint8_t has_next_reload; /* modes 2/3: new count waiting for a boundary */
    uint32_t next_reload;
    uint32_t next_phase;
    uint64_t next_reload_clock;
};

struct pit8254 {
    struct sim_object obj;
    uint64_t clock_hz; /* param */

    struct pit_channel ch[PIT_CHANNELS];
    uint8_t sysb;      /* port 0x61 writable bits */
    uint8_t irq_level; /* level driven on GSI PC_GSI_PIT */
    struct event out0_event;

    uint64_t irq_edges, control_writes, readbacks;
};

static uint64_t clock_at(const struct pit8254 *p, tick_t t)
{
    return (uint64_t)((unsigned __int128)t * p->clock_hz / TICKS_PER_S);
}

static tick_t tick_of_clock(const struct pit8254 *p, uint64_t k)
{
    unsigned __int128 num = (unsigned __int128)k * TICKS_PER_S;
    return (tick_t)((num + p->clock_hz - 1) / p->clock_hz);
}

static uint64_t now_clock(const struct pit8254 *p)
{
    return clock_at(p, sim_now(p->obj.sim));
}

static uint32_t modulus(const struct pit_channel *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint32_t bcd_to_bin(uint16_t v)
{
    return (v >> 12 & 15) * 1000u + (v >> 8 & 15) * 100u + (v >> 4 & 15) * 10u + (v & 15);
}

static uint16_t bin_to_bcd(uint32_t v)
{
    return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static bool periodic(const struct pit_channel *c)
{
    return c->mode == 2 || c->mode == 3;
}

/* Applies a mode 2/3 count change whose period boundary has passed. */
static void channel_sync(struct pit_channel *c, uint64_t clk)
{
    if (c->has_next_reload && clk >= c->next_reload_clock) {
        c->start_clock = c->next_reload_clock;
        c->reload = c->next_reload;
        c->start_phase = c->next_phase;
        c->has_next_reload = 0;
    }
}

static uint64_t elapsed(const struct pit_channel *c, uint64_t clk)
{
    return clk > c->start_clock ? clk - c->start_clock : 0;
}

/* Modes 2/3: clocks into the current period (0 = just reloaded). */
static uint32_t period_phase(const struct pit_channel *c, uint64_t clk)
{
    return (uint32_t)((elapsed(c, clk) + c->start_phase) % c->reload);
}

/* Counting element at clock clk (binary, 0..modulus-1). */
static uint32_t channel_count(const struct pit_channel *c, uint64_t clk)
{
    uint32_t m = modulus(c);
    if (!c->counting)
        return c->start_value % m;
    if (c->mode == 2)
        return (c->reload - period_phase(c, clk)) % m;
    if (c->mode == 3) {
        /* Odd counts: the high half takes one clock to load N and one to
         * reach N-1, the low half loads N and drops by three. */
        uint32_t n = c->reload, high = (n + 1) / 2, ph = period_phase(c, clk);
        uint32_t v;
        if (ph < high)
            v = (n & 1) && ph ? n + 1 - 2 * ph : n - 2 * ph;
        else
            v = (n & 1) && ph > high ? n - 1 - 2 * (ph - high) : n - 2 * (ph - high);
        return v % m;
    }
    uint64_t e = elapsed(c, clk);
    return (uint32_t)((c->start_value + (uint64_t)m - e % m) % m);
}

static bool channel_out(const struct pit_channel *c, uint64_t clk)
{
    if (!c->counting)
        return c->out_idle;
    uint64_t e = elapsed(c, clk);
    switch (c->mode) {
    case 0:
    case 1:
        return c->tc_done || e >= c->start_value;
    case 4:
    case 5:
        return c->tc_done || e != c->start_value;
    case 2:
        return period_phase(c, clk) != c->reload - 1;
    default: /* 3 */
        return period_phase(c, clk) < (c->reload + 1) / 2;
    }
}

/* The first clock after clk at which OUT changes, or UINT64_MAX. */
static uint64_t channel_next_out_change(const struct pit_channel *c, uint64_t clk)
{
    if (!c->counting)
        return UINT64_MAX;
    uint64_t base = clk > c->start_clock ? clk : c->start_clock;
    uint64_t next;
    switch (c->mode) {
    case 0:
    case 1:
        if (c->tc_done)
            return UINT64_MAX;
        next = c->start_clock + c->start_value;
        break;
    case 4:
    case 5:
        if (c->tc_done)
            return UINT64_MAX;
        next = c->start_clock + c->start_value;
        if (next <= clk)
            next++;
        break;
    case 2: {
        uint32_t ph = period_phase(c, base);
        next = base + (ph < c->reload - 1 ? c->reload - 1 - ph : 1);
        break;
    }
    default: {
        uint32_t ph = period_phase(c, base), high = (c->reload + 1) / 2;
        next = base + (ph < high ? high - ph : c->reload - ph);
        break;
    }
    }
    if (next <= clk)
        return UINT64_MAX;
    if (c->has_next_reload && next > c->next_reload_clock)
        next = c->next_reload_clock;
    return next;
}

/* Channel 0's OUT drives the interrupt line; (re)schedules the next edge. */
static void pit_update_out0(struct pit8254 *p)
{
    struct pit_channel *c = &p->ch[0];
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    bool out = channel_out(c, clk);
    if (out != p->irq_level) {
        p->irq_level = out;
        if (out)
            p->irq_edges++;
        DPRINTF(Pit, &p->obj, "OUT0 %s at clock %llu", out ? "rises" : "falls",
                (unsigned long long)clk);
        system_set_irq(system_of(&p->obj), PC_GSI_PIT, out);
    }
    uint64_t next = channel_next_out_change(c, clk);
    struct event_queue *q = &p->obj.sim->eq;
    if (next == UINT64_MAX) {
        if (event_scheduled(&p->out0_event))
            eq_deschedule(q, &p->out0_event);
    } else {
        tick_t when = tick_of_clock(p, next);
        if (event_scheduled(&p->out0_event))
            eq_reschedule(q, &p->out0_event, when);
        else
            eq_schedule(q, &p->out0_event, when);
    }
}

static void pit_out0_event(struct event *ev, void *arg)
{
    (void)ev;
    pit_update_out0(arg);
}

static void channel_changed(struct pit8254 *p, unsigned i)
{
    if (i == 0)
        pit_update_out0(p);
}

/* Freezes the counting element at its current value. */
static void channel_stop(struct pit_channel *c, uint64_t clk)
{
    if (!c->counting)
        return;
    channel_sync(c, clk);
    bool out = channel_out(c, clk);
    uint64_t e = elapsed(c, clk);
    if (!periodic(c) && !c->tc_done && e < c->start_value) {
        c->start_value -= (uint32_t)e; /* clocks still to go, 1..modulus */
    } else {
        c->start_value = channel_count(c, clk);
        c->tc_done = !periodic(c);
    }
    c->out_idle = out;
    c->counting = 0;
    c->has_next_reload = 0;
}

/* Starts counting from value on the next CLK edge. */
static void channel_start(struct pit_channel *c, uint64_t clk, uint32_t value)
{
    c->start_clock = clk + 1;
    c->start_value = value;
    c->start_phase = 0;
    c->counting = 1;
    c->has_next_reload = 0;
}

static void channel_count_written(struct pit8254 *p, unsigned i)
{
    struct pit_channel *c = &p->ch[i];
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    /* Non-decimal BCD digits are undefined in the datasheet; they wrap. */
    uint32_t n = c->bcd ? bcd_to_bin(c->cr) % 10000 : c->cr;
    if (n == 0)
        n = modulus(c);
    if (periodic(c) && n < 2)
        n = 2;
    c->null_count = 1;
    c->count_write_clock = clk;
    bool first = !c->armed;
    c->armed = 1;
    DPRINTF(Pit, &p->obj, "channel %u count %u (mode %u)", i, n, c->mode);
    switch (c->mode) {
    case 0:
    case 4:
        c->reload = n;
        c->tc_done = 0;
        c->out_idle = c->mode == 4;
        if (c->gate)
            channel_start(c, clk, n);
        else {
            c->counting = 0;
            c->start_value = n;
        }
        break;
    case 1:
    case 5:
        /* Loaded on the next gate trigger. */
        c->reload = n;
        break;
    default:
        if (first || !c->counting) {
            c->reload = n;
            c->start_value = n;
            if (c->gate)
                channel_start(c, clk, n);
        } else {
            /* Mode 2: the new count starts the next period. Mode 3: it
             * starts the next half-cycle, keeping OUT's square wave. */
            uint32_t ph = period_phase(c, clk), high = (c->reload + 1) / 2;
            uint32_t remaining = c->reload - ph;
            c->next_phase = 0;
            if (c->mode == 3 && ph < high) {
                remaining = high - ph;
                c->next_phase = (n + 1) / 2;
            }
            c->has_next_reload = 1;
            c->next_reload = n;
            c->next_reload_clock = c->start_clock + elapsed(c, clk) + remaining;
        }
        break;
    }
    channel_changed(p, i);
}

static void channel_set_gate(struct pit8254 *p, unsigned i, bool gate)
{
    struct pit_channel *c = &p->ch[i];
    if (gate == c->gate)
        return;
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    c->gate = gate;
    if (!c->armed)
        return;
    switch (c->mode) {
    case 0:
    case 4:
        if (!gate)
            channel_stop(c, clk);
        else {
            bool tc = c->tc_done;
            channel_start(c, clk, c->start_value);
            c->tc_done = tc;
        }
        break;
    case 1:
    case 5:
        if (gate) { /* rising edge triggers a (re)load */
            channel_start(c, clk, c->reload);
            c->tc_done = 0;
        }
        break;
    default:
        if (!gate) {
            channel_stop(c, clk); /* the count holds */
            c->out_idle = 1;      /* gate low forces OUT high */
        } else {
            channel_start(c, clk, c->reload);
        }
        break;
    }
    channel_changed(p, i);
}

static void channel_latch_count(struct pit8254 *p, unsigned i)
{
    struct pit_channel *c = &p->ch[i];
    if (c->latch != LATCH_NONE)
        return; /* a latched count stays until read */
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    uint32_t v = channel_count(c, clk);
    c->latched = c->bcd ? bin_to_bcd(v) : (uint16_t)v;
    c->latch = c->rw == RW_LSB ? LATCH_LSB : c->rw == RW_MSB ? LATCH_MSB : LATCH_WORD_LSB;
}

static void channel_latch_status(struct pit8254 *p, unsigned i)
{
    struct pit_channel *c = &p->ch[i];
    if (c->status_latched)
        return;
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    if (c->counting && !c->has_next_reload && clk >= c->start_clock &&
        c->start_clock > c->count_write_clock)
        c->null_count = 0;
    c->status = (uint8_t)((channel_out(c, clk) ? 0x80 : 0) | (c->null_count ? 0x40 : 0) |
                          c->rw << 4 | c->mode << 1 | c->bcd);
    c->status_latched = 1;
}

static void pit_write_control(struct pit8254 *p, uint8_t v)
{
    unsigned sel = v >> 6;
    p->control_writes++;
    if (sel == 3) { /* read-back: bit 5 = !COUNT, bit 4 = !STATUS, bits 3-1 = counters */
        p->readbacks++;
        for (unsigned i = 0; i < PIT_CHANNELS; i++) {
            if (!(v >> (i + 1) & 1))
                continue;
            if (!(v & 0x10))
                channel_latch_status(p, i);
            if (!(v & 0x20))
                channel_latch_count(p, i);
        }
        return;
    }
    unsigned rw = v >> 4 & 3;
    if (rw == RW_LATCH) {
        channel_latch_count(p, sel);
        return;
    }
    struct pit_channel *c = &p->ch[sel];
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    unsigned mode = v >> 1 & 7;
    c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode); /* 6 and 7 alias 2 and 3 */
    c->rw = (uint8_t)rw;
    c->bcd = v & 1;
    c->cr_lsb_written = 0;
    c->read_msb_next = 0;
    c->latch = LATCH_NONE;
    c->status_latched = 0;
    c->null_count = 1;
    c->armed = 0;
    c->counting = 0;
    c->tc_done = 0;
    c->has_next_reload = 0;
    c->out_idle = c->mode != 0;
    DPRINTF(Pit, &p->obj, "channel %u control 0x%02x: mode %u rw %u%s", sel, v, c->mode, rw,
            c->bcd ? " BCD" : "");
    channel_changed(p, sel);
}

static void pit_write_counter(struct pit8254 *p, unsigned i, uint8_t v)
{
    struct pit_channel *c = &p->ch[i];
    switch (c->rw) {
    case RW_LSB:
        c->cr = v;
        break;
    case RW_MSB:
        c->cr = (uint16_t)(v << 8);
        break;
    default:
        if (!c->cr_lsb_written) {
            c->cr = (uint16_t)((c->cr & 0xff00) | v);
            c->cr_lsb_written = 1;
            /* Mode 0: writing the first byte stops the count and drives OUT
             * low at once (datasheet, mode 0). */
            if (c->mode == 0 && c->armed) {
                channel_stop(c, now_clock(p));
                c->out_idle = 0;
                c->tc_done = 0;
                channel_changed(p, i);
            }
            return;
        }
        c->cr = (uint16_t)((c->cr & 0x00ff) | v << 8);
        c->cr_lsb_written = 0;
        break;
    }
    channel_count_written(p, i);
}

static uint8_t pit_read_counter(struct pit8254 *p, unsigned i)
{
    struct pit_channel *c = &p->ch[i];
    if (c->status_latched) {
        c->status_latched = 0;
        return c->status;
    }
    switch (c->latch) {
    case LATCH_LSB:
        c->latch = LATCH_NONE;
        return (uint8_t)c->latched;
    case LATCH_MSB:
        c->latch = LATCH_NONE;
        return (uint8_t)(c->latched >> 8);
    case LATCH_WORD_LSB:
        c->latch = LATCH_WORD_MSB;
        return (uint8_t)c->latched;
    case LATCH_WORD_MSB:
        c->latch = LATCH_NONE;
        return (uint8_t)(c->latched >> 8);
    default:
        break;
    }
    uint64_t clk = now_clock(p);
    channel_sync(c, clk);
    uint32_t count = channel_count(c, clk);
    uint16_t v = c->bcd ? bin_to_bcd(count) : (uint16_t)count;
    switch (c->rw) {
    case RW_LSB:
        return (uint8_t)v;
    case RW_MSB:
        return (uint8_t)(v >> 8);
    default:
        c->read_msb_next ^= 1;
        return c->read_msb_next ? (uint8_t)v : (uint8_t)(v >> 8);
    }
}

/* Wider accesses behave as consecutive byte accesses, as on an ISA bus. */
static uint64_t pit_read(void *opaque, uint64_t off, unsigned size)
{
    struct pit8254 *p = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned port = (unsigned)off + i;
        /* The control register is write-only; reads float high. */
        uint8_t b = port == PIT_PORT_CONTROL ? 0xff : pit_read_counter(p, port);
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

static void pit_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct pit8254 *p = opaque;
    for (unsigned i = 0; i < size; i++) {
        unsigned port = (unsigned)off + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        if (port == PIT_PORT_CONTROL)
            pit_write_control(p, b);
        else
            pit_write_counter(p, port, b);
    }
}

static uint8_t sysb_read_byte(struct pit8254 *p)
{
    tick_t now = sim_now(p->obj.sim);
    uint64_t clk = clock_at(p, now);
    channel_sync(&p->ch[2], clk);
    uint8_t v = p->sysb;
    if ((now / REFRESH_PERIOD_TICKS) & 1)
        v |= SYSB_REFRESH;
    if (channel_out(&p->ch[2], clk))
        v |= SYSB_OUT2;
    return v;
}

static uint64_t sysb_read(void *opaque, uint64_t off, unsigned size)
{
    (void)off;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)sysb_read_byte(opaque) << (8 * i);
    return v;
}

static void sysb_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct pit8254 *p = opaque;
    (void)off;
    (void)size; /* a one-port range: only the low byte reaches port 0x61 */
    p->sysb = (uint8_t)val & SYSB_WRITABLE;
    channel_set_gate(p, 2, p->sysb & SYSB_GATE2);
}

static const struct io_ops pit_ops = {pit_read, pit_write};
static const struct io_ops sysb_ops = {sysb_read, sysb_write};

static int pit_init(struct sim_object *o)
{
    struct pit8254 *p = SIM_CAST(struct pit8254, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("%s: a PIT8254 must be placed under the System object", o->path);
        return -1;
    }
    event_init(&p->out0_event, "pit-out0", EVPRI_DEVICE, pit_out0_event, p);
    /* OUT is undefined at power-on; it starts low (as does IRQ 0) until the
     * first control word, so programming a periodic mode raises IRQ 0 once. */
    for (unsigned i = 0; i < PIT_CHANNELS; i++) {
        p->ch[i].rw = RW_WORD;
        p->ch[i].gate = i != 2; /* channel 2's gate comes from port 0x61 */
    }
    if (bus_map_pio(&sys->bus, PC_PORT_PIT, 4, &pit_ops, p, "pit") < 0 ||
        bus_map_pio(&sys->bus, PC_PORT_SYSCTL_B, 1, &sysb_ops, p, "sysctl-b") < 0)
        return -1;
    stats_add_counter(o, "irqEdges", &p->irq_edges, "count", "Rising edges of OUT0 (IRQ 0)");
    stats_add_counter(o, "controlWrites", &p->control_writes, "count",
                      "Control word writes (incl. latch and read-back commands)");
    stats_add_counter(o, "readBacks", &p->readbacks, "count", "Read-back commands");
    return 0;
}

#define CHANNEL_FIELDS(X)                                                                   \
    X(mode) X(rw) X(bcd) X(gate) X(cr) X(cr_lsb_written) X(read_msb_next) X(latch)      \
    X(latched) X(status_latched) X(status) X(null_count) X(count_write_clock) X(armed)   \
    X(counting) X(tc_done) X(out_idle) X(reload) X(start_value) X(start_clock)           \
    X(start_phase) X(has_next_reload) X(next_reload) X(next_phase) X(next_reload_clock)

static void pit_serialize(struct sim_object *o, struct ser_node *n)
{
    struct pit8254 *p = SIM_CAST(struct pit8254, o);
    for (unsigned i = 0; i < PIT_CHANNELS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "channel%u", i);
        struct ser_node *cn = ser_child(n, name);
        struct pit_channel *c = &p->ch[i];
#define PUT_FIELD(f) SER_PUT(cn, c, f);
        CHANNEL_FIELDS(PUT_FIELD)
#undef PUT_FIELD
    }
    SER_PUT(n, p, sysb);
    SER_PUT(n, p, irq_level);
    SER_PUT(n, p, irq_edges);
    SER_PUT(n, p, control_writes);
    SER_PUT(n, p, readbacks);
    ser_put_event(n, "out0_event", &p->out0_event);
}

static int pit_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct pit8254 *p = SIM_CAST(struct pit8254, o);
    for (unsigned i = 0; i < PIT_CHANNELS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "channel%u", i);
        struct ser_node *cn = ser_find_child(n, name);
        struct pit_channel *c = &p->ch[i];
        if (!cn) {
            err_set("%s: checkpoint lacks the state of PIT %s", o->path, name);
            return -1;
        }
#define GET_FIELD(f) if (SER_GET(cn, c, f) < 0) return -1;
        CHANNEL_FIELDS(GET_FIELD)
#undef GET_FIELD
        if (c->mode > 5 || c->rw == RW_LATCH || c->rw > RW_WORD || c->latch > LATCH_WORD_MSB ||
            c->reload > 65536 || c->start_value > 65536 || c->next_reload > 65536 ||
            (c->counting && periodic(c) && (c->reload < 2 || c->start_phase >= c->reload)) ||
            (c->has_next_reload && (c->next_reload < 2 || c->next_phase >= c->next_reload))) {
            err_set("%s: PIT %s state out of range (mode %u, rw %u, reload %u)", o->path, name,
                    c->mode, c->rw, c->reload);
            return -1;
        }
    }
    if (SER_GET(n, p, sysb) < 0 || SER_GET(n, p, irq_level) < 0 || SER_GET(n, p, irq_edges) < 0 ||
        SER_GET(n, p, control_writes) < 0 || SER_GET(n, p, readbacks) < 0 ||
        ser_get_event(n, "out0_event", &p->out0_event, &o->sim->eq) < 0)
        return -1;
    p->sysb &= SYSB_WRITABLE;
    return 0;
}

static const struct param_desc pit_params[] = {
    PARAM_UINT_(struct pit8254, clock_hz, "1193182", 1000, 100000000, "Hz",
                "PIT input clock (the PC's is 14.31818 MHz / 12)"),
    PARAM_END,
};

static struct sim_type pit_type = {
    .name = "PIT8254",
    .help = "8254 interval timer at 0x40-0x43 with system control port B (0x61)",
    .size = sizeof(struct pit8254),
    .params = pit_params,
    .ops = {.init = pit_init, .serialize = pit_serialize, .unserialize = pit_unserialize},
};
SIM_TYPE_REGISTER(pit_type);
