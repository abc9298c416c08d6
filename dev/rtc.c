/* The PC's CMOS real-time clock at ports 0x70 (index) / 0x71 (data), after
 * the Motorola MC146818A datasheet ("MC146818A Real-Time Clock Plus RAM").
 *
 * Time comes from SIMULATED time only: the clock reads start_time (Unix
 * seconds, UTC) at tick 0 and advances one second per simulated second, so
 * every run reads the same dates. While the clock runs, the time and date
 * registers are not stored: each read formats the current time (BCD or
 * binary per register B DM, 12- or 24-hour per register B 24/12, so a mode
 * change reformats them where the chip would keep their old bytes), and a
 * write moves the clock at once. While it is stopped (SET held, or the
 * divider not running) they are plain bytes, as on the chip; restarting the
 * clock interprets them together, normalizing invalid values the way
 * timegm() does. The day of week is kept as software set it (it is not
 * derived from the date) and advances with it. Register 0x32 is the century
 * byte (the convention the PC and the ACPI FADT use) and follows the year.
 *
 * The divider chain (register A DV = 010, a 32.768 kHz time base) runs on a
 * grid anchored at tick 0, or half a second before the moment software
 * released it from reset (the datasheet's "first update 500 ms later").
 * DV values other than 010 stop it. On that grid:
 * - an update happens every second unless SET is held; UIP reads 1 during
 *   the 244 us + 1984 us (update cycle) before it, and the new time, UF, and
 *   AF when the alarm bytes match (0xC0-0xFF = don't care) appear at it;
 * - periodic edges come at the register A RS rate (RS 1 and 2 give 256 and
 *   128 Hz on this time base), setting PF.
 * Events: the update event runs every second while the clock runs (UF is
 * set at each update whatever the enables); the periodic event runs only
 * while PIE is set, and PF with PIE clear is worked out when register C is
 * read. IRQF and the IRQ line (PC_GSI_RTC) follow (PF & PIE) | (AF & AIE) |
 * (UF & UIE) until register C is read. Setting SET clears UIE, as the
 * datasheet says. The index port's bit 7 (NMI mask) is stored; port 0x70
 * reads 0xFF (write-only on the PC).
 * Daylight saving (DSE) and the square-wave pin (SQWE) are stored only.
 */
#include <string.h>
#include <time.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Rtc, "CMOS RTC register accesses and interrupts");

enum { REG_SEC = 0, REG_SEC_ALARM = 1, REG_MIN = 2, REG_MIN_ALARM = 3, REG_HOUR = 4,
       REG_HOUR_ALARM = 5, REG_DOW = 6, REG_DAY = 7, REG_MONTH = 8, REG_YEAR = 9, REG_A = 0x0A,
       REG_B = 0x0B, REG_C = 0x0C, REG_D = 0x0D, REG_CENTURY = PC_CMOS_CENTURY };

#define A_UIP 0x80
#define A_DV_SHIFT 4
#define A_DV_NORMAL 2 /* 32.768 kHz time base */
#define A_RS_MASK 0x0F

#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02

#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

#define D_VRT 0x80

#define TIMEBASE_HZ 32768
/* UIP rises 244 us before the 1984 us update cycle. */
#define UIP_WINDOW (2228 * TICKS_PER_US)

struct rtc {
    struct sim_object obj;
    /* params */
    int64_t start_time;

    uint8_t index;
    bool nmi_masked;
    uint8_t cmos[128]; /* alarms, A (without UIP), B, and the RAM bytes */
    uint8_t reg_c;     /* flags and IRQF */
    int64_t time_base; /* Unix seconds the clock read at time_ref */
    uint64_t time_ref;
    uint8_t dow_adjust; /* software-set day of week minus the computed one, mod 7 */
    int64_t div_anchor; /* tick of a divider-chain second boundary */
    uint64_t pf_sync_tick; /* periodic edges up to here are in PF */
    bool irq_level;
    struct event update_ev, periodic_ev;

    uint64_t interrupts, updates;
};

static tick_t now_of(const struct rtc *r)
{
    return sim_now(r->obj.sim);
}

static bool divider_running(const struct rtc *r)
{
    return ((r->cmos[REG_A] >> A_DV_SHIFT) & 7) == A_DV_NORMAL;
}

static bool clock_running(const struct rtc *r)
{
    return divider_running(r) && !(r->cmos[REG_B] & B_SET);
}

static __int128 floor_div(__int128 a, __int128 b)
{
    __int128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Whole time-base cycles since the anchor at tick t (may be negative). */
static __int128 cycles_at(const struct rtc *r, tick_t t)
{
    return floor_div(((__int128)t - r->div_anchor) * TIMEBASE_HZ, (__int128)TICKS_PER_S);
}

/* The first tick at or after the start of time-base cycle c; TICK_MAX when
 * that lies beyond the end of simulated time. */
static tick_t cycle_tick(const struct rtc *r, __int128 c)
{
    __int128 t = r->div_anchor + -floor_div(-c * (__int128)TICKS_PER_S, TIMEBASE_HZ);
    return t >= (__int128)TICK_MAX ? TICK_MAX : (tick_t)t;
}

/* Update boundaries in (a, b]. */
static int64_t updates_between(const struct rtc *r, tick_t a, tick_t b)
{
    return (int64_t)(floor_div(cycles_at(r, b), TIMEBASE_HZ) - floor_div(cycles_at(r, a), TIMEBASE_HZ));
}

static int64_t current_seconds(const struct rtc *r)
{
    if (!clock_running(r))
        return r->time_base;
    return r->time_base + updates_between(r, r->time_ref, now_of(r));
}

/* Folds elapsed updates into time_base before anything changes how time runs. */
static void sync_time(struct rtc *r)
{
    r->time_base = current_seconds(r);
    r->time_ref = now_of(r);
}

/* Periodic rate in time-base cycles, 0 when off. */
static unsigned periodic_cycles(const struct rtc *r)
{
    unsigned rs = r->cmos[REG_A] & A_RS_MASK;
    if (rs == 0 || !divider_running(r))
        return 0;
    return rs <= 2 ? 1u << (rs + 6) : 1u << (rs - 1);
}

/* PF for the edges since the last sync, when no periodic event tracks them. */
static void sync_pf(struct rtc *r)
{
    unsigned p = periodic_cycles(r);
    tick_t now = now_of(r);
    if (p && !event_scheduled(&r->periodic_ev) && floor_div(cycles_at(r, now), p) > floor_div(cycles_at(r, r->pf_sync_tick), p))
        r->reg_c |= C_PF;
    r->pf_sync_tick = now;
}

static void update_irq(struct rtc *r)
{
    uint8_t b = r->cmos[REG_B];
    bool irqf = ((r->reg_c & C_PF) && (b & B_PIE)) || ((r->reg_c & C_AF) && (b & B_AIE)) ||
                ((r->reg_c & C_UF) && (b & B_UIE));
    if (irqf)
        r->reg_c |= C_IRQF;
    if (irqf == r->irq_level)
        return;
    r->irq_level = irqf;
    if (irqf)
        r->interrupts++;
    DPRINTF(Rtc, &r->obj, "irq %s (C=0x%02x)", irqf ? "raised" : "lowered", r->reg_c);
    system_set_irq(system_of(&r->obj), PC_GSI_RTC, irqf);
}

/* Next second boundary of the divider grid after now. */
static tick_t next_update_tick(const struct rtc *r)
{
    __int128 sec = floor_div(cycles_at(r, now_of(r)), TIMEBASE_HZ) + 1;
    return cycle_tick(r, sec * TIMEBASE_HZ);
}

/* force: the grid moved, so a scheduled event is at the wrong time. */
static void arm_update(struct rtc *r, bool force)
{
    struct event_queue *q = &r->obj.sim->eq;
    if (!clock_running(r) || next_update_tick(r) == TICK_MAX) {
        if (event_scheduled(&r->update_ev))
            eq_deschedule(q, &r->update_ev);
    } else if (force || !event_scheduled(&r->update_ev)) {
        eq_reschedule(q, &r->update_ev, next_update_tick(r));
    }
}

static void arm_periodic(struct rtc *r, bool force)
{
    struct event_queue *q = &r->obj.sim->eq;
    unsigned p = periodic_cycles(r);
    if (!p || !(r->cmos[REG_B] & B_PIE)) {
        if (event_scheduled(&r->periodic_ev))
            eq_deschedule(q, &r->periodic_ev);
    } else if (force || !event_scheduled(&r->periodic_ev)) {
        __int128 edge = (floor_div(cycles_at(r, now_of(r)), p) + 1) * p;
        tick_t when = cycle_tick(r, edge);
        if (when != TICK_MAX)
            eq_reschedule(q, &r->periodic_ev, when);
        else if (event_scheduled(&r->periodic_ev))
            eq_deschedule(q, &r->periodic_ev);
    }
}

/* ---- calendar registers ---- */

static uint8_t to_reg(const struct rtc *r, unsigned v)
{
    if (r->cmos[REG_B] & B_DM_BINARY)
        return (uint8_t)v;
    return (uint8_t)((v / 10 % 10) << 4 | v % 10);
}

static unsigned from_reg(const struct rtc *r, uint8_t v)
{
    if (r->cmos[REG_B] & B_DM_BINARY)
        return v;
    return (v >> 4) * 10u + (v & 15);
}

static uint8_t hour_to_reg(const struct rtc *r, unsigned h)
{
    if (r->cmos[REG_B] & B_24H)
        return to_reg(r, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(to_reg(r, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned hour_from_reg(const struct rtc *r, uint8_t v)
{
    if (r->cmos[REG_B] & B_24H)
        return from_reg(r, v);
    return from_reg(r, v & 0x7F) % 12 + ((v & 0x80) ? 12 : 0);
}

/* The register byte for reg at broken-down time tm, in the current mode. */
static uint8_t format_calendar(const struct rtc *r, const struct tm *tm, unsigned reg)
{
    long year = tm->tm_year + 1900L;
    switch (reg) {
    case REG_SEC: return to_reg(r, (unsigned)tm->tm_sec);
    case REG_MIN: return to_reg(r, (unsigned)tm->tm_min);
    case REG_HOUR: return hour_to_reg(r, (unsigned)tm->tm_hour);
    case REG_DOW: return to_reg(r, (unsigned)(tm->tm_wday + r->dow_adjust) % 7 + 1);
    case REG_DAY: return to_reg(r, (unsigned)tm->tm_mday);
    case REG_MONTH: return to_reg(r, (unsigned)tm->tm_mon + 1);
    case REG_YEAR: return to_reg(r, (unsigned)(year % 100));
    default: return to_reg(r, (unsigned)(year / 100 % 100)); /* century */
    }
}

static const unsigned calendar_regs[] = {REG_SEC, REG_MIN, REG_HOUR, REG_DOW, REG_DAY,
                                         REG_MONTH, REG_YEAR, REG_CENTURY};

/* While the clock is stopped (SET held or divider not running) the
 * calendar registers are plain bytes, as on the chip: software writes them
 * one at a time, and only a restart interprets them together (so a month
 * written before its day never passes through an invalid date). */
static void snapshot_calendar(struct rtc *r)
{
    time_t t = (time_t)current_seconds(r);
    struct tm tm;
    gmtime_r(&t, &tm);
    for (size_t i = 0; i < sizeof(calendar_regs) / sizeof(calendar_regs[0]); i++)
        r->cmos[calendar_regs[i]] = format_calendar(r, &tm, calendar_regs[i]);
}

static void commit_calendar(struct rtc *r)
{
    struct tm tm = {0};
    tm.tm_sec = (int)from_reg(r, r->cmos[REG_SEC]);
    tm.tm_min = (int)from_reg(r, r->cmos[REG_MIN]);
    tm.tm_hour = (int)hour_from_reg(r, r->cmos[REG_HOUR]);
    tm.tm_mday = (int)from_reg(r, r->cmos[REG_DAY]);
    tm.tm_mon = (int)from_reg(r, r->cmos[REG_MONTH]) - 1;
    tm.tm_year = (int)(from_reg(r, r->cmos[REG_CENTURY]) * 100 + from_reg(r, r->cmos[REG_YEAR])) - 1900;
    r->time_base = (int64_t)timegm(&tm); /* normalizes out-of-range fields */
    r->time_ref = now_of(r);
    int dow = (int)from_reg(r, r->cmos[REG_DOW]);
    r->dow_adjust = (uint8_t)(((dow - 1 - tm.tm_wday) % 7 + 7) % 7);
    DPRINTF(Rtc, &r->obj, "clock set to %lld", (long long)r->time_base);
}

static uint8_t read_calendar(const struct rtc *r, unsigned reg)
{
    if (!clock_running(r))
        return r->cmos[reg];
    time_t t = (time_t)current_seconds(r);
    struct tm tm;
    gmtime_r(&t, &tm);
    return format_calendar(r, &tm, reg);
}

static void write_calendar(struct rtc *r, unsigned reg, uint8_t v)
{
    if (!clock_running(r)) {
        r->cmos[reg] = v;
        return;
    }
    sync_time(r);
    snapshot_calendar(r);
    r->cmos[reg] = v;
    commit_calendar(r);
}

static bool alarm_matches(const struct rtc *r)
{
    static const unsigned pairs[3][2] = {{REG_SEC_ALARM, REG_SEC}, {REG_MIN_ALARM, REG_MIN},
                                         {REG_HOUR_ALARM, REG_HOUR}};
    for (int i = 0; i < 3; i++) {
        uint8_t alarm = r->cmos[pairs[i][0]];
        if ((alarm & 0xC0) != 0xC0 && alarm != read_calendar(r, pairs[i][1]))
            return false;
    }
    return true;
}

/* ---- events ---- */

static void update_fire(struct event *ev, void *arg)
{
    (void)ev;
    struct rtc *r = arg;
    r->updates++;
    r->reg_c |= C_UF;
    if (alarm_matches(r))
        r->reg_c |= C_AF;
    update_irq(r);
    arm_update(r, true);
}

static void periodic_fire(struct event *ev, void *arg)
{
    (void)ev;
    struct rtc *r = arg;
    r->reg_c |= C_PF;
    r->pf_sync_tick = now_of(r);
    update_irq(r);
    arm_periodic(r, true);
}

/* ---- registers ---- */

static bool uip(const struct rtc *r)
{
    if (!clock_running(r))
        return false;
    return next_update_tick(r) - now_of(r) <= UIP_WINDOW;
}

static uint8_t reg_read(struct rtc *r, unsigned reg)
{
    uint8_t v;
    switch (reg) {
    case REG_SEC: case REG_MIN: case REG_HOUR: case REG_DOW: case REG_DAY: case REG_MONTH:
    case REG_YEAR: case REG_CENTURY:
        return read_calendar(r, reg);
    case REG_A:
        return (uint8_t)(r->cmos[REG_A] | (uip(r) ? A_UIP : 0));
    case REG_C:
        sync_pf(r);
        v = r->reg_c;
        r->reg_c = 0;
        update_irq(r);
        return v;
    case REG_D:
        return D_VRT;
    default:
        return r->cmos[reg];
    }
}

/* Register A or B changes may stop or restart the clock. */
static void write_control(struct rtc *r, unsigned reg, uint8_t v)
{
    bool was_running = clock_running(r);
    sync_time(r);
    sync_pf(r);
    uint8_t old = r->cmos[reg];
    r->cmos[reg] = v;
    bool runs = clock_running(r);
    r->cmos[reg] = old;
    if (was_running && !runs)
        snapshot_calendar(r); /* in the mode before this write */
    r->cmos[reg] = v;
    if (!was_running && runs)
        commit_calendar(r);
}

static void write_reg_a(struct rtc *r, uint8_t v)
{
    bool was_dividing = divider_running(r);
    unsigned old_rate = periodic_cycles(r);
    write_control(r, REG_A, v & 0x7F);
    bool released = !was_dividing && divider_running(r);
    if (released) {
        r->div_anchor = (int64_t)now_of(r) - (int64_t)(TICKS_PER_S / 2);
        r->pf_sync_tick = now_of(r);
    }
    arm_update(r, released);
    arm_periodic(r, released || periodic_cycles(r) != old_rate);
}

static void write_reg_b(struct rtc *r, uint8_t v)
{
    if (v & B_SET)
        v &= (uint8_t)~B_UIE;
    write_control(r, REG_B, v);
    arm_update(r, false);
    arm_periodic(r, false);
    update_irq(r);
}

static void reg_write(struct rtc *r, unsigned reg, uint8_t v)
{
    switch (reg) {
    case REG_SEC: case REG_MIN: case REG_HOUR: case REG_DOW: case REG_DAY: case REG_MONTH:
    case REG_YEAR: case REG_CENTURY:
        write_calendar(r, reg, v);
        break;
    case REG_A:
        write_reg_a(r, v);
        break;
    case REG_B:
        write_reg_b(r, v);
        break;
    case REG_C:
    case REG_D:
        break; /* read-only */
    default:
        r->cmos[reg] = v;
        break;
    }
}

static uint8_t port_read(struct rtc *r, unsigned off)
{
    if (off == 0)
        return 0xFF;
    return reg_read(r, r->index);
}

static void port_write(struct rtc *r, unsigned off, uint8_t v)
{
    if (off == 0) {
        r->index = v & 0x7F;
        r->nmi_masked = v & 0x80;
        return;
    }
    reg_write(r, r->index, v);
}

static uint64_t rtc_read(void *opaque, uint64_t off, unsigned size)
{
    struct rtc *r = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)port_read(r, (unsigned)(off + i)) << (8 * i);
    DPRINTF(Rtc, &r->obj, "read%u port %u (index 0x%02x) = 0x%llx", size * 8, (unsigned)off, r->index,
            (unsigned long long)v);
    return v;
}

static void rtc_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct rtc *r = opaque;
    DPRINTF(Rtc, &r->obj, "write%u port %u = 0x%llx", size * 8, (unsigned)off, (unsigned long long)val);
    for (unsigned i = 0; i < size; i++)
        port_write(r, (unsigned)(off + i), (uint8_t)(val >> (8 * i)));
}

static const struct io_ops rtc_io = {.read = rtc_read, .write = rtc_write};

/* ---- lifecycle ---- */

static int rtc_init(struct sim_object *o)
{
    struct rtc *r = SIM_CAST(struct rtc, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("an RTC must be placed under a System");
        return -1;
    }
    if (bus_map_pio(&sys->bus, PC_PORT_RTC, 2, &rtc_io, r, o->path) < 0)
        return -1;
    event_init(&r->update_ev, "rtc-update", EVPRI_DEVICE, update_fire, r);
    event_init(&r->periodic_ev, "rtc-periodic", EVPRI_DEVICE, periodic_fire, r);
    /* As firmware leaves it: 32.768 kHz divider, 1024 Hz rate selected,
     * interrupts off, BCD, 24-hour. */
    r->cmos[REG_A] = 0x26;
    r->cmos[REG_B] = B_24H;
    r->time_base = r->start_time;
    r->time_ref = now_of(r);
    r->div_anchor = (int64_t)now_of(r);
    r->pf_sync_tick = now_of(r);
    stats_add_counter(o, "interrupts", &r->interrupts, "count", "Rising edges of the RTC interrupt line");
    stats_add_counter(o, "updates", &r->updates, "count", "Update cycles (clock seconds) completed");
    return 0;
}

static void rtc_startup(struct sim_object *o)
{
    arm_update(SIM_CAST(struct rtc, o), true);
}

static void rtc_serialize(struct sim_object *o, struct ser_node *n)
{
    struct rtc *r = SIM_CAST(struct rtc, o);
    SER_PUT(n, r, index);
    SER_PUT(n, r, nmi_masked);
    SER_PUT_ARRAY(n, r, cmos);
    SER_PUT(n, r, reg_c);
    SER_PUT(n, r, time_base);
    SER_PUT(n, r, time_ref);
    SER_PUT(n, r, dow_adjust);
    SER_PUT(n, r, div_anchor);
    SER_PUT(n, r, pf_sync_tick);
    SER_PUT(n, r, irq_level);
    ser_put_event(n, "update_ev", &r->update_ev);
    ser_put_event(n, "periodic_ev", &r->periodic_ev);
    SER_PUT(n, r, interrupts);
    SER_PUT(n, r, updates);
}

static int rtc_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct rtc *r = SIM_CAST(struct rtc, o);
    struct event_queue *q = &o->sim->eq;
    if (SER_GET(n, r, index) < 0 || SER_GET(n, r, nmi_masked) < 0 || SER_GET_ARRAY(n, r, cmos) < 0 ||
        SER_GET(n, r, reg_c) < 0 || SER_GET(n, r, time_base) < 0 || SER_GET(n, r, time_ref) < 0 ||
        SER_GET(n, r, dow_adjust) < 0 || SER_GET(n, r, div_anchor) < 0 ||
        SER_GET(n, r, pf_sync_tick) < 0 || SER_GET(n, r, irq_level) < 0 ||
        ser_get_event(n, "update_ev", &r->update_ev, q) < 0 ||
        ser_get_event(n, "periodic_ev", &r->periodic_ev, q) < 0 || SER_GET(n, r, interrupts) < 0 ||
        SER_GET(n, r, updates) < 0)
        return -1;
    if (r->index > 0x7F || r->dow_adjust > 6) {
        err_set("%s: invalid checkpoint state (index 0x%x, dow_adjust %u)", n->path, r->index,
                r->dow_adjust);
        return -1;
    }
    return 0;
}

static const struct param_desc rtc_params[] = {
    PARAM_INT_(struct rtc, start_time, "1700000000", 0, 253402300799LL, "s",
               "Unix time (UTC) the clock reads at tick 0; the default keeps runs reproducible"),
    PARAM_END,
};

static struct sim_type rtc_type = {
    .name = "RTC",
    .help = "MC146818A CMOS real-time clock and 128 bytes of CMOS RAM, timed by simulated time",
    .size = sizeof(struct rtc),
    .params = rtc_params,
    .ops = {.init = rtc_init, .startup = rtc_startup, .serialize = rtc_serialize,
            .unserialize = rtc_unserialize},
};
SIM_TYPE_REGISTER(rtc_type);
