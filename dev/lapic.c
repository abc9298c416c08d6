/* Local APIC in xAPIC mode, following the Intel SDM Vol. 3A chapter 10
 * ("Advanced Programmable Interrupt Controller").
 *
 * The architectural registers live in a 1 KiB page laid out exactly like
 * Linux's struct kvm_lapic_state (each 32-bit register at its xAPIC MMIO
 * offset), so the KVM engine moves it with KVM_GET/SET_LAPIC unchanged
 * through the cpu_intr get_regs/set_regs ops. State outside that page: the
 * IA32_APIC_BASE MSR, the TSC deadline, the ESR error accumulator, pending
 * NMI/ExtINT requests, the LINT pin levels and the timer event.
 *
 * Model decisions (where the SDM leaves room, or tandem simplifies):
 * - MMIO: registers are 32 bits wide at 16-byte-aligned offsets. Reads of
 *   any size return the bytes of the register slot they cover (bytes 4-15 of
 *   a slot read as zero). Writes take effect only as 32-bit stores at a
 *   16-byte-aligned offset; any other write is ignored and counted
 *   (misalignedWrites). Accessing a reserved offset sets ESR bit 7 (illegal
 *   register address) and reads zero. While the APIC is globally disabled
 *   (IA32_APIC_BASE[11] = 0) the page reads as all-ones and ignores writes,
 *   as an unmapped address would.
 * - The APIC ID is read-only and equals the apic_id parameter (the System
 *   routes physical destinations by it). Version 0x14 with six LVT entries
 *   (max LVT 5), as KVM reports without CMCI: the CPU model hides machine
 *   checks, so the CMCI LVT register (0x2F0) exists in the page but is not
 *   counted. EOI-broadcast suppression is not offered.
 * - Delivery is instantaneous, so delivery-status bits always read idle.
 * - Fixed/lowest-priority messages are accepted only while the APIC is
 *   software-enabled (SVR[8]); IRR bits accepted before a software disable
 *   stay deliverable (SDM 10.4.7.2). ExtINT is not subject to the TPR and
 *   takes precedence over IRR vectors.
 * - INIT, start-up and SMI messages are counted (ignoredMessages) and logged
 *   once: bringing up application processors is not modelled yet. The
 *   self shorthand delivers whatever mode the ICR names (the SDM defines it
 *   for fixed only), so an NMI to self works as on KVM.
 * - Timer: the input clock is the bus_hz parameter (default 1 GHz, KVM's
 *   APIC bus rate, so counts mean the same on both engines), divided by the
 *   divide configuration. The current count is derived from simulated time,
 *   rounded up, so a one-shot count reads zero only once it has expired; a
 *   periodic count never reads zero (it reloads at the expiry tick). Changing
 *   the divider mid-count scales the remaining time (the count continues at
 *   the new rate). The reserved timer mode 11b counts like one-shot.
 *   A departure the configuration asks for: with timer_min_interval_ns, a
 *   TSC deadline sooner than that after the last expiry fires late, as in a
 *   VM its host did not schedule in time (pc.lua uses it for engine=kvm on
 *   kvm_pvm, docs/linux-on-kvm.md).
 * - TPR: get_tpr/set_tpr carry the whole 8-bit TPR; CR8 is TPR[7:4].
 * - IA32_APIC_BASE: bits 0-7, 9, 10 (x2APIC is not offered) and 40-63 (the
 *   CPU model's 40-bit physical addresses) are reserved. Relocating the page
 *   is refused: it stays mapped at the `base` parameter. Clearing the global
 *   enable returns the APIC to its power-up state (SDM 10.4.3), and while
 *   disabled LINT0 acts as the processor's INTR pin and LINT1 as NMI. */
#include "dev/lapic.h"

#include <string.h>

#include "cpu/intr.h"
#include "dev/pic8259.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Lapic, "Local APIC registers, messages and timer");

/* Register offsets in the page (and the MMIO window). */
enum {
    REG_ID = 0x20,
    REG_VERSION = 0x30,
    REG_TPR = 0x80,
    REG_APR = 0x90,
    REG_PPR = 0xA0,
    REG_EOI = 0xB0,
    REG_RRD = 0xC0,
    REG_LDR = 0xD0,
    REG_DFR = 0xE0,
    REG_SVR = 0xF0,
    REG_ISR = 0x100,
    REG_TMR = 0x180,
    REG_IRR = 0x200,
    REG_ESR = 0x280,
    REG_LVT_CMCI = 0x2F0,
    REG_ICR_LO = 0x300,
    REG_ICR_HI = 0x310,
    REG_LVT_TIMER = 0x320,
    REG_LVT_THERMAL = 0x330,
    REG_LVT_PERF = 0x340,
    REG_LVT_LINT0 = 0x350,
    REG_LVT_LINT1 = 0x360,
    REG_LVT_ERROR = 0x370,
    REG_TIMER_INITIAL = 0x380,
    REG_TIMER_CURRENT = 0x390,
    REG_TIMER_DIVIDE = 0x3E0,
};

static const unsigned lvt_regs[] = {REG_LVT_CMCI,  REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PERF,
                                    REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR};
#define NUM_LVT_REGS (sizeof(lvt_regs) / sizeof(lvt_regs[0]))

#define LAPIC_VERSION 0x14u
#define LAPIC_MAX_LVT 5u
#define SVR_SW_ENABLE (1u << 8)
#define DFR_RESERVED_ONES 0x0FFFFFFFu

#define LVT_VECTOR 0xFFu
#define LVT_DELIVERY_SHIFT 8
#define LVT_POLARITY_LOW (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_LEVEL (1u << 15)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_MODE_SHIFT 17

/* Writable bits per LVT kind (read-only delivery status and remote IRR
 * excluded). */
#define LVT_WRITABLE_TIMER (LVT_VECTOR | LVT_MASKED | (3u << LVT_TIMER_MODE_SHIFT))
#define LVT_WRITABLE_LOCAL (LVT_VECTOR | (7u << LVT_DELIVERY_SHIFT) | LVT_MASKED)
#define LVT_WRITABLE_LINT (LVT_WRITABLE_LOCAL | LVT_POLARITY_LOW | LVT_LEVEL)
#define LVT_WRITABLE_ERROR (LVT_VECTOR | LVT_MASKED)

enum timer_mode { TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2 };

#define ICR_DEST_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_SHORTHAND_SHIFT 18
#define ICR_LO_WRITABLE 0x000CCFFFu
#define ICR_HI_WRITABLE 0xFF000000u
enum { SHORTHAND_NONE, SHORTHAND_SELF, SHORTHAND_ALL, SHORTHAND_OTHERS };

/* ESR bits (SDM Figure 10-9). */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_ADDR_MASK 0x000000FFFFFFF000ull
#define APIC_BASE_RESERVED (~(APIC_BASE_ADDR_MASK | APIC_BASE_ENABLE | APIC_BASE_BSP))

struct lapic {
    struct sim_object obj;
    /* params */
    uint32_t apic_id;
    uint64_t bus_hz;
    uint64_t base;
    uint64_t timer_min_interval_ns;

    struct system *sys;
    struct clock_domain bus_clock;
    struct cpu_intr intr;
    const struct lapic_extint_ops *extint_ops;
    void *extint_opaque;

    uint8_t regs[LAPIC_REGS_SIZE];
    uint64_t apic_base_msr;
    uint32_t esr_accumulated; /* errors since the last ESR write */
    bool nmi_pending;
    bool extint_msg_pending; /* an ExtINT message waits for acknowledge */
    bool lint_level[2];      /* electrical level of LINT0/LINT1 */
    tick_t tsc_deadline;     /* IA32_TSC_DEADLINE in ticks; 0 = disarmed */
    /* Counting modes: fires when the count reaches zero. TSC-deadline mode:
     * fires at the deadline. */
    struct event timer_event;
    tick_t last_timer_fire; /* 0: never fired */
    bool warned_ignored;

    uint64_t accepted, coalesced, delivered, timer_fires, eois, spurious, nmis, ipis_sent;
    uint64_t timer_held_back;
    uint64_t ignored_messages, misaligned_writes;
};

/* ---- Register page helpers ---- */

static uint32_t reg_get(const struct lapic *l, unsigned off)
{
    uint32_t v;
    memcpy(&v, &l->regs[off], sizeof(v));
    return v;
}

static void reg_put(struct lapic *l, unsigned off, uint32_t v)
{
    memcpy(&l->regs[off], &v, sizeof(v));
}

/* ISR, TMR and IRR hold one bit per vector in eight registers 16 bytes apart. */
static bool vec_test(const struct lapic *l, unsigned bank, unsigned v)
{
    return reg_get(l, bank + (v / 32) * 16) >> (v % 32) & 1;
}

static void vec_assign(struct lapic *l, unsigned bank, unsigned v, bool set)
{
    unsigned off = bank + (v / 32) * 16;
    uint32_t r = reg_get(l, off);
    uint32_t bit = 1u << (v % 32);
    reg_put(l, off, set ? r | bit : r & ~bit);
}

/* Highest vector set in a bank, or -1. */
static int vec_highest(const struct lapic *l, unsigned bank)
{
    for (int i = 7; i >= 0; i--) {
        uint32_t r = reg_get(l, bank + (unsigned)i * 16);
        if (r)
            return i * 32 + 31 - __builtin_clz(r);
    }
    return -1;
}

static bool hw_enabled(const struct lapic *l)
{
    return (l->apic_base_msr & APIC_BASE_ENABLE) != 0;
}

static bool sw_enabled(const struct lapic *l)
{
    return (reg_get(l, REG_SVR) & SVR_SW_ENABLE) != 0;
}

/* SDM 10.8.3.1: the processor priority is the TPR, or the class of the
 * highest in-service vector when that is higher. */
static uint32_t compute_ppr(const struct lapic *l)
{
    uint32_t tpr = reg_get(l, REG_TPR) & 0xFF;
    int isrv = vec_highest(l, REG_ISR);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    return (tpr & 0xF0) >= isr_class ? tpr : isr_class;
}

/* SDM Figure 10-15 (arbitration priority): the TPR when it is at least the
 * highest requested class and above the in-service class; otherwise the
 * highest of the three classes (the figure's "AND" read as that maximum). */
static uint32_t compute_apr(const struct lapic *l)
{
    uint32_t tpr = reg_get(l, REG_TPR) & 0xFF;
    int isrv = vec_highest(l, REG_ISR), irrv = vec_highest(l, REG_IRR);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    uint32_t irr_class = irrv < 0 ? 0 : (uint32_t)irrv & 0xF0;
    if ((tpr & 0xF0) >= irr_class && (tpr & 0xF0) > isr_class)
        return tpr;
    uint32_t apr = tpr & 0xF0;
    if (isr_class > apr)
        apr = isr_class;
    if (irr_class > apr)
        apr = irr_class;
    return apr;
}

/* ---- Timer ---- */

static enum timer_mode timer_mode(const struct lapic *l)
{
    unsigned mode = (reg_get(l, REG_LVT_TIMER) >> LVT_TIMER_MODE_SHIFT) & 3;
    return mode == 3 ? TIMER_ONESHOT : (enum timer_mode)mode;
}

/* Divide configuration bits 0, 1 and 3 (SDM Figure 10-10): 000b divides by
 * 2 ... 110b by 128, 111b by 1. */
static uint64_t timer_divisor_of(uint32_t dcr)
{
    unsigned code = (dcr & 3) | ((dcr >> 1) & 4);
    return 1ull << ((code + 1) & 7);
}

/* Ticks per count at a divide configuration. */
static tick_t timer_count_ticks(const struct lapic *l, uint32_t dcr)
{
    return l->bus_clock.period * timer_divisor_of(dcr);
}

static tick_t ticks_after_now(const struct lapic *l, unsigned __int128 delta)
{
    tick_t now = sim_now(l->obj.sim);
    return delta >= TICK_MAX - now ? TICK_MAX - 1 : now + (tick_t)delta;
}

static bool timer_counting(const struct lapic *l)
{
    return timer_mode(l) != TIMER_TSC_DEADLINE && event_scheduled(&l->timer_event);
}

static uint32_t timer_current_count(const struct lapic *l)
{
    if (!timer_counting(l))
        return 0;
    tick_t per = timer_count_ticks(l, reg_get(l, REG_TIMER_DIVIDE));
    tick_t left = l->timer_event.when - sim_now(l->obj.sim);
    /* At the expiry tick (the event may not have run yet: a CPU reads
     * registers at the tick of its next event) a periodic count has already
     * reloaded. */
    if (left == 0 && timer_mode(l) == TIMER_PERIODIC)
        return reg_get(l, REG_TIMER_INITIAL);
    uint64_t count = left / per + (left % per != 0);
    return count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
}

/* Starts counting down from count (0 stops the timer). */
static void timer_start_count(struct lapic *l, uint32_t count)
{
    struct event_queue *eq = &l->obj.sim->eq;
    if (count == 0) {
        eq_deschedule(eq, &l->timer_event);
        return;
    }
    tick_t per = timer_count_ticks(l, reg_get(l, REG_TIMER_DIVIDE));
    eq_reschedule(eq, &l->timer_event, ticks_after_now(l, (unsigned __int128)count * per));
}

/* The derived registers, brought up to date in the page before anyone
 * outside reads the page as a whole. */
static void refresh_derived(struct lapic *l)
{
    reg_put(l, REG_PPR, compute_ppr(l));
    reg_put(l, REG_APR, compute_apr(l));
    reg_put(l, REG_TIMER_CURRENT, timer_current_count(l));
}

/* ---- Interrupt acceptance ---- */

static void notify_if_deliverable(struct lapic *l);
static void accept_fixed(struct lapic *l, unsigned vector, bool level);

/* Errors accumulate until the next ESR write and raise the error LVT. */
static void record_error(struct lapic *l, uint32_t bits)
{
    l->esr_accumulated |= bits;
    uint32_t lvt = reg_get(l, REG_LVT_ERROR);
    if (lvt & LVT_MASKED)
        return;
    unsigned vector = lvt & LVT_VECTOR;
    if (vector < 16) {
        /* An illegal error vector is itself an error; it raises nothing. */
        l->esr_accumulated |= ESR_RECV_ILLEGAL_VECTOR;
        return;
    }
    accept_fixed(l, vector, false);
}

static void accept_fixed(struct lapic *l, unsigned vector, bool level)
{
    if (vector < 16) {
        record_error(l, ESR_RECV_ILLEGAL_VECTOR);
        return;
    }
    if (vec_test(l, REG_IRR, vector))
        l->coalesced++; /* one IRR bit holds one request per vector */
    else
        l->accepted++;
    vec_assign(l, REG_IRR, vector, true);
    vec_assign(l, REG_TMR, vector, level);
    DPRINTF(Lapic, &l->obj, "accept vector %u (%s)", vector, level ? "level" : "edge");
    notify_if_deliverable(l);
}

static void raise_nmi(struct lapic *l)
{
    l->nmi_pending = true;
    DPRINTF(Lapic, &l->obj, "NMI pending");
    notify_if_deliverable(l);
}

static void note_ignored(struct lapic *l, unsigned mode, const char *source)
{
    static const char *const mode_names[8] = {"fixed", "lowest-priority", "SMI",   "reserved (3)",
                                              "NMI",   "INIT",            "start-up", "ExtINT"};
    l->ignored_messages++;
    DPRINTF(Lapic, &l->obj, "ignored %s delivery from %s", mode_names[mode & 7], source);
    if (!l->warned_ignored) {
        l->warned_ignored = true;
        log_warn("%s: %s delivery from %s is not modelled and was ignored (further ones are "
                 "counted in ignoredMessages)",
                 l->obj.path, mode_names[mode & 7], source);
    }
}

/* A local source (timer, error, thermal, performance, CMCI) fires through
 * its LVT entry; these are edge-triggered. */
static void lvt_fire(struct lapic *l, unsigned lvt_off)
{
    uint32_t lvt = reg_get(l, lvt_off);
    if (lvt & LVT_MASKED)
        return;
    unsigned mode = (lvt >> LVT_DELIVERY_SHIFT) & 7;
    switch (mode) {
    case APIC_DM_FIXED:
        accept_fixed(l, lvt & LVT_VECTOR, false);
        break;
    case APIC_DM_NMI:
        raise_nmi(l);
        break;
    default:
        note_ignored(l, mode, "a local vector table entry");
        break;
    }
}

static void timer_fire(struct event *ev, void *arg)
{
    (void)ev;
    struct lapic *l = arg;
    l->timer_fires++;
    l->last_timer_fire = sim_now(l->obj.sim);
    enum timer_mode mode = timer_mode(l);
    if (mode == TIMER_TSC_DEADLINE) {
        l->tsc_deadline = 0;
    } else if (mode == TIMER_PERIODIC) {
        uint32_t initial = reg_get(l, REG_TIMER_INITIAL);
        if (initial) {
            tick_t per = timer_count_ticks(l, reg_get(l, REG_TIMER_DIVIDE));
            sim_schedule(l->obj.sim, &l->timer_event,
                         ticks_after_now(l, (unsigned __int128)initial * per));
        }
    }
    DPRINTF(Lapic, &l->obj, "timer fired (mode %d)", (int)mode);
    lvt_fire(l, REG_LVT_TIMER);
}

/* ---- LINT pins ---- */

static bool lint_active(const struct lapic *l, unsigned pin)
{
    uint32_t lvt = reg_get(l, pin ? REG_LVT_LINT1 : REG_LVT_LINT0);
    return l->lint_level[pin] != ((lvt & LVT_POLARITY_LOW) != 0);
}

static bool extint_requested(const struct lapic *l)
{
    if (!hw_enabled(l))
        return l->lint_level[0];
    if (l->extint_msg_pending)
        return true;
    uint32_t lvt = reg_get(l, REG_LVT_LINT0);
    return !(lvt & LVT_MASKED) && ((lvt >> LVT_DELIVERY_SHIFT) & 7) == APIC_DM_EXTINT &&
           lint_active(l, 0);
}

/* A level-triggered fixed LINT0 delivers while active, once per EOI (the
 * remote IRR bit tracks the one in service). */
static void lint0_evaluate_level(struct lapic *l)
{
    uint32_t lvt = reg_get(l, REG_LVT_LINT0);
    if (!hw_enabled(l) || (lvt & (LVT_MASKED | LVT_REMOTE_IRR)) || !(lvt & LVT_LEVEL) ||
        ((lvt >> LVT_DELIVERY_SHIFT) & 7) != APIC_DM_FIXED || !lint_active(l, 0))
        return;
    reg_put(l, REG_LVT_LINT0, lvt | LVT_REMOTE_IRR);
    accept_fixed(l, lvt & LVT_VECTOR, true);
}

void lapic_set_lint(struct lapic *l, unsigned pin, bool level)
{
    if (pin > 1)
        fatal("%s: LINT pin %u does not exist (LINT0 and LINT1 only)", l->obj.path, pin);
    bool was_active = lint_active(l, pin);
    bool was_level = l->lint_level[pin];
    l->lint_level[pin] = level;
    if (!hw_enabled(l)) {
        /* Without an APIC, LINT0 is INTR and LINT1 is the (edge) NMI pin
         * (SDM 10.4.3). */
        if (pin == 1 && level && !was_level)
            raise_nmi(l);
        else if (pin == 0)
            notify_if_deliverable(l);
        return;
    }
    bool active = lint_active(l, pin);
    uint32_t lvt = reg_get(l, pin ? REG_LVT_LINT1 : REG_LVT_LINT0);
    if (lvt & LVT_MASKED)
        return;
    unsigned mode = (lvt >> LVT_DELIVERY_SHIFT) & 7;
    bool rising = active && !was_active;
    switch (mode) {
    case APIC_DM_FIXED:
        /* LINT1 supports only edge triggering (SDM 10.5.1). */
        if (pin == 0 && (lvt & LVT_LEVEL))
            lint0_evaluate_level(l);
        else if (rising)
            accept_fixed(l, lvt & LVT_VECTOR, false);
        break;
    case APIC_DM_NMI:
        if (rising)
            raise_nmi(l);
        break;
    case APIC_DM_EXTINT:
        if (active)
            notify_if_deliverable(l);
        break;
    default:
        if (rising)
            note_ignored(l, mode, pin ? "LINT1" : "LINT0");
        break;
    }
}

/* ---- Messages from the System (IOAPIC, MSI, IPIs) ---- */

static void lapic_deliver_msg(void *opaque, const struct apic_msg *msg)
{
    struct lapic *l = opaque;
    if (!hw_enabled(l)) {
        l->ignored_messages++;
        DPRINTF(Lapic, &l->obj, "message while globally disabled dropped");
        return;
    }
    switch (msg->delivery_mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        if (!sw_enabled(l)) {
            l->ignored_messages++;
            DPRINTF(Lapic, &l->obj, "vector %u dropped: software-disabled", msg->vector);
            return;
        }
        accept_fixed(l, msg->vector, msg->level_triggered);
        break;
    case APIC_DM_NMI:
        raise_nmi(l);
        break;
    case APIC_DM_EXTINT:
        l->extint_msg_pending = true;
        notify_if_deliverable(l);
        break;
    default:
        note_ignored(l, msg->delivery_mode, "an interrupt message");
        break;
    }
}

/* SDM 10.6.2.2: flat model matches any common bit of the 8-bit logical ID;
 * cluster model matches the cluster (high nibble, 0xF = all clusters) and
 * any common bit of the low nibble. 0xFF is a broadcast in both. */
static bool lapic_logical_match(void *opaque, uint8_t mask)
{
    struct lapic *l = opaque;
    if (mask == 0xFF)
        return true;
    uint8_t logical_id = reg_get(l, REG_LDR) >> 24;
    if ((reg_get(l, REG_DFR) >> 28) == 0xF)
        return (logical_id & mask) != 0;
    uint8_t cluster = mask >> 4;
    return (cluster == 0xF || cluster == logical_id >> 4) && (mask & logical_id & 0xF) != 0;
}

static void send_ipi(struct lapic *l)
{
    uint32_t lo = reg_get(l, REG_ICR_LO);
    unsigned mode = (lo >> 8) & 7;
    struct apic_msg msg = {
        .vector = lo & 0xFF,
        .delivery_mode = (uint8_t)mode,
        .level_triggered = (lo & ICR_TRIGGER_LEVEL) != 0,
        .dest_logical = (lo & ICR_DEST_LOGICAL) != 0,
        .dest = reg_get(l, REG_ICR_HI) >> 24,
    };
    if (mode == APIC_DM_INIT && msg.level_triggered && !(lo & ICR_LEVEL_ASSERT)) {
        /* INIT level de-assert only resynchronised arbitration IDs on the
         * old APIC bus; processors since the Pentium 4 ignore it. */
        DPRINTF(Lapic, &l->obj, "INIT level de-assert ignored");
        return;
    }
    if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && msg.vector < 16) {
        record_error(l, ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    l->ipis_sent++;
    unsigned shorthand = (lo >> ICR_SHORTHAND_SHIFT) & 3;
    DPRINTF(Lapic, &l->obj, "IPI vector %u mode %u shorthand %u dest 0x%02x%s", msg.vector, mode,
            shorthand, msg.dest, msg.dest_logical ? " logical" : "");
    switch (shorthand) {
    case SHORTHAND_NONE:
        system_send_apic_msg(l->sys, &msg);
        break;
    case SHORTHAND_SELF:
        lapic_deliver_msg(l, &msg);
        break;
    case SHORTHAND_ALL:
        msg.dest_logical = false;
        msg.dest = 0xFF;
        system_send_apic_msg(l->sys, &msg);
        break;
    case SHORTHAND_OTHERS:
        for (unsigned i = 0; i < l->sys->nlapics; i++) {
            if (l->sys->lapics[i].opaque == l)
                continue;
            l->sys->lapics[i].deliver(l->sys->lapics[i].opaque, &msg);
            if (mode == APIC_DM_LOWEST)
                break;
        }
        break;
    }
}

/* ---- Power-up state and the CPU interface ---- */

/* SDM 10.4.7.1: everything zero except the ID, version, DFR all ones, SVR
 * 0xFF and every LVT masked. */
static void power_up(struct lapic *l)
{
    memset(l->regs, 0, sizeof(l->regs));
    reg_put(l, REG_ID, l->apic_id << 24);
    reg_put(l, REG_VERSION, LAPIC_VERSION | (LAPIC_MAX_LVT << 16));
    reg_put(l, REG_DFR, 0xFFFFFFFFu);
    reg_put(l, REG_SVR, 0xFF);
    for (size_t i = 0; i < NUM_LVT_REGS; i++)
        reg_put(l, lvt_regs[i], LVT_MASKED);
    l->esr_accumulated = 0;
    l->nmi_pending = false;
    l->extint_msg_pending = false;
    l->tsc_deadline = 0;
    eq_deschedule(&l->obj.sim->eq, &l->timer_event);
    refresh_derived(l);
}

static int pending_vector(void *opaque)
{
    struct lapic *l = opaque;
    if (extint_requested(l) && l->extint_ops) {
        int v = l->extint_ops->peek(l->extint_opaque);
        if (v >= 0)
            return v;
    }
    if (!hw_enabled(l))
        return -1;
    int irrv = vec_highest(l, REG_IRR);
    if (irrv < 0 || ((uint32_t)irrv & 0xF0) <= (compute_ppr(l) & 0xF0))
        return -1;
    return irrv;
}

static void notify_if_deliverable(struct lapic *l)
{
    if (l->intr.notify && (l->nmi_pending || pending_vector(l) >= 0))
        l->intr.notify(l->intr.cpu);
}

static uint8_t intr_ack(void *opaque)
{
    struct lapic *l = opaque;
    if (extint_requested(l) && l->extint_ops && l->extint_ops->peek(l->extint_opaque) >= 0) {
        l->extint_msg_pending = false;
        l->delivered++;
        uint8_t v = l->extint_ops->ack(l->extint_opaque);
        DPRINTF(Lapic, &l->obj, "ExtINT vector %u taken", v);
        return v;
    }
    int v = pending_vector(l);
    if (v < 0) {
        l->spurious++;
        DPRINTF(Lapic, &l->obj, "acknowledge with nothing pending: spurious vector");
        return reg_get(l, REG_SVR) & 0xFF;
    }
    vec_assign(l, REG_IRR, (unsigned)v, false);
    vec_assign(l, REG_ISR, (unsigned)v, true);
    l->delivered++;
    DPRINTF(Lapic, &l->obj, "vector %d taken", v);
    return (uint8_t)v;
}

static bool intr_nmi_pending(void *opaque)
{
    return SIM_CAST(struct lapic, opaque)->nmi_pending;
}

static void intr_nmi_ack(void *opaque)
{
    struct lapic *l = opaque;
    if (l->nmi_pending)
        l->nmis++;
    l->nmi_pending = false;
}

static uint8_t intr_get_tpr(void *opaque)
{
    return reg_get(opaque, REG_TPR) & 0xFF;
}

static void intr_set_tpr(void *opaque, uint8_t tpr)
{
    struct lapic *l = opaque;
    reg_put(l, REG_TPR, tpr);
    notify_if_deliverable(l);
}

static uint64_t intr_get_base(void *opaque)
{
    return SIM_CAST(struct lapic, opaque)->apic_base_msr;
}

static bool intr_set_base(void *opaque, uint64_t value)
{
    struct lapic *l = opaque;
    if (value & APIC_BASE_RESERVED) {
        DPRINTF(Lapic, &l->obj, "IA32_APIC_BASE 0x%llx sets reserved bits",
                (unsigned long long)value);
        return false;
    }
    if ((value & APIC_BASE_ADDR_MASK) != l->base) {
        DPRINTF(Lapic, &l->obj, "IA32_APIC_BASE 0x%llx relocates the page: refused",
                (unsigned long long)value);
        return false;
    }
    bool was_enabled = hw_enabled(l);
    l->apic_base_msr = value;
    if (was_enabled && !hw_enabled(l)) {
        DPRINTF(Lapic, &l->obj, "globally disabled: back to power-up state");
        power_up(l);
    }
    notify_if_deliverable(l);
    return true;
}

static tick_t intr_get_deadline(void *opaque)
{
    struct lapic *l = opaque;
    return timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
}

/* SDM 10.5.4.1: writes outside TSC-deadline mode are ignored; a deadline in
 * the past fires at once; 0 disarms. With timer_min_interval_ns the timer
 * fires no sooner than that after its last expiry: the guest sees a late
 * interrupt, as a VM does when its host did not schedule it in time. */
static void intr_set_deadline(void *opaque, tick_t deadline)
{
    struct lapic *l = opaque;
    if (timer_mode(l) != TIMER_TSC_DEADLINE)
        return;
    l->tsc_deadline = deadline;
    struct event_queue *eq = &l->obj.sim->eq;
    if (deadline == 0) {
        eq_deschedule(eq, &l->timer_event);
        return;
    }
    tick_t now = sim_now(l->obj.sim);
    tick_t at = deadline > now ? deadline : now;
    tick_t earliest = l->last_timer_fire + l->timer_min_interval_ns * TICKS_PER_NS;
    if (l->timer_min_interval_ns && l->last_timer_fire && at < earliest) {
        at = earliest;
        l->timer_held_back++;
    }
    eq_reschedule(eq, &l->timer_event, at);
}

static void intr_get_regs(void *opaque, uint8_t regs[LAPIC_REGS_SIZE])
{
    struct lapic *l = opaque;
    refresh_derived(l);
    memcpy(regs, l->regs, LAPIC_REGS_SIZE);
}

static bool same_reg(const struct lapic *l, const uint8_t *page, unsigned off)
{
    return memcmp(&l->regs[off], &page[off], 4) == 0;
}

/* Takes over a register page (engine hand-over). When the timer registers
 * are what this model reports now, the running countdown continues
 * unchanged (to the tick); otherwise the count restarts from the page's
 * current count. A TSC deadline survives only if the mode stays
 * TSC-deadline (the engine transfers the deadline itself). */
static void intr_set_regs(void *opaque, const uint8_t regs[LAPIC_REGS_SIZE])
{
    struct lapic *l = opaque;
    refresh_derived(l);
    bool timer_unchanged = same_reg(l, regs, REG_LVT_TIMER) &&
                           same_reg(l, regs, REG_TIMER_INITIAL) &&
                           same_reg(l, regs, REG_TIMER_CURRENT) &&
                           same_reg(l, regs, REG_TIMER_DIVIDE);
    bool was_deadline = timer_mode(l) == TIMER_TSC_DEADLINE;
    uint32_t id = reg_get(l, REG_ID), version = reg_get(l, REG_VERSION);
    memcpy(l->regs, regs, LAPIC_REGS_SIZE);
    if (reg_get(l, REG_ID) != id)
        DPRINTF(Lapic, &l->obj, "register page carries ID 0x%08x; keeping 0x%08x",
                reg_get(l, REG_ID), id);
    reg_put(l, REG_ID, id);
    reg_put(l, REG_VERSION, version);
    if (!timer_unchanged) {
        struct event_queue *eq = &l->obj.sim->eq;
        enum timer_mode mode = timer_mode(l);
        if (mode == TIMER_TSC_DEADLINE) {
            if (!was_deadline) {
                l->tsc_deadline = 0;
                eq_deschedule(eq, &l->timer_event);
            }
        } else {
            l->tsc_deadline = 0;
            uint32_t current = reg_get(l, REG_TIMER_CURRENT);
            if (current == 0 && mode == TIMER_PERIODIC && reg_get(l, REG_TIMER_INITIAL))
                eq_reschedule(eq, &l->timer_event, sim_now(l->obj.sim)); /* due now */
            else
                timer_start_count(l, current);
        }
    }
    refresh_derived(l);
    lint0_evaluate_level(l);
    notify_if_deliverable(l);
}

static const struct cpu_intr_ops lapic_intr_ops = {
    .pending_vector = pending_vector,
    .ack = intr_ack,
    .nmi_pending = intr_nmi_pending,
    .nmi_ack = intr_nmi_ack,
    .get_tpr = intr_get_tpr,
    .set_tpr = intr_set_tpr,
    .get_base = intr_get_base,
    .set_base = intr_set_base,
    .get_deadline = intr_get_deadline,
    .set_deadline = intr_set_deadline,
    .get_regs = intr_get_regs,
    .set_regs = intr_set_regs,
};

/* ---- MMIO ---- */

static bool reg_readable(unsigned off)
{
    switch (off) {
    case REG_ID: case REG_VERSION: case REG_TPR: case REG_APR: case REG_PPR: case REG_EOI:
    case REG_RRD: case REG_LDR: case REG_DFR: case REG_SVR: case REG_ESR: case REG_LVT_CMCI:
    case REG_ICR_LO: case REG_ICR_HI: case REG_LVT_TIMER: case REG_LVT_THERMAL:
    case REG_LVT_PERF: case REG_LVT_LINT0: case REG_LVT_LINT1: case REG_LVT_ERROR:
    case REG_TIMER_INITIAL: case REG_TIMER_CURRENT: case REG_TIMER_DIVIDE:
        return true;
    default:
        return off >= REG_ISR && off < REG_ESR; /* ISR, TMR, IRR */
    }
}

static uint32_t reg_read(struct lapic *l, unsigned off)
{
    if (!reg_readable(off)) {
        DPRINTF(Lapic, &l->obj, "read of reserved register 0x%03x", off);
        record_error(l, ESR_ILLEGAL_REGISTER);
        return 0;
    }
    switch (off) {
    case REG_APR:
        return compute_apr(l);
    case REG_PPR:
        return compute_ppr(l);
    case REG_EOI: /* write-only */
    case REG_RRD: /* remote read is not supported since the Pentium 4 */
        return 0;
    case REG_TIMER_CURRENT:
        return timer_current_count(l);
    default:
        return reg_get(l, off);
    }
}

static void write_eoi(struct lapic *l)
{
    l->eois++;
    int v = vec_highest(l, REG_ISR);
    if (v < 0) {
        DPRINTF(Lapic, &l->obj, "EOI with nothing in service");
        return;
    }
    vec_assign(l, REG_ISR, (unsigned)v, false);
    DPRINTF(Lapic, &l->obj, "EOI vector %d", v);
    uint32_t lint0 = reg_get(l, REG_LVT_LINT0);
    if ((lint0 & LVT_REMOTE_IRR) && (lint0 & LVT_VECTOR) == (unsigned)v) {
        reg_put(l, REG_LVT_LINT0, lint0 & ~LVT_REMOTE_IRR);
        lint0_evaluate_level(l);
    }
    if (vec_test(l, REG_TMR, (unsigned)v))
        system_broadcast_eoi(l->sys, (uint8_t)v);
    notify_if_deliverable(l);
}

static void write_lvt(struct lapic *l, unsigned off, uint32_t val, uint32_t writable)
{
    uint32_t keep = reg_get(l, off) & LVT_REMOTE_IRR;
    uint32_t lvt = (val & writable) | keep;
    if (!sw_enabled(l))
        lvt |= LVT_MASKED; /* SDM 10.4.7.2: masks cannot be cleared */
    if (!(lvt & LVT_LEVEL))
        lvt &= ~LVT_REMOTE_IRR;
    reg_put(l, off, lvt);
}

static void write_timer_lvt(struct lapic *l, uint32_t val)
{
    bool was_deadline = timer_mode(l) == TIMER_TSC_DEADLINE;
    write_lvt(l, REG_LVT_TIMER, val, LVT_WRITABLE_TIMER);
    /* SDM 10.5.4.1: switching into or out of TSC-deadline mode disarms the
     * timer; switching between one-shot and periodic takes effect at the
     * next expiry. */
    if (was_deadline != (timer_mode(l) == TIMER_TSC_DEADLINE)) {
        eq_deschedule(&l->obj.sim->eq, &l->timer_event);
        reg_put(l, REG_TIMER_INITIAL, 0);
        l->tsc_deadline = 0;
    }
}

static void write_divide(struct lapic *l, uint32_t val)
{
    uint32_t old = reg_get(l, REG_TIMER_DIVIDE);
    uint32_t dcr = val & 0xB;
    reg_put(l, REG_TIMER_DIVIDE, dcr);
    if (!timer_counting(l))
        return;
    tick_t now = sim_now(l->obj.sim);
    unsigned __int128 left = l->timer_event.when - now;
    left = left * timer_divisor_of(dcr) / timer_divisor_of(old);
    eq_reschedule(&l->obj.sim->eq, &l->timer_event, ticks_after_now(l, left));
}

static void write_svr(struct lapic *l, uint32_t val)
{
    reg_put(l, REG_SVR, val & 0x1FF);
    if (!sw_enabled(l)) {
        for (size_t i = 0; i < NUM_LVT_REGS; i++)
            reg_put(l, lvt_regs[i], reg_get(l, lvt_regs[i]) | LVT_MASKED);
    }
    notify_if_deliverable(l);
}

static void reg_write(struct lapic *l, unsigned off, uint32_t val)
{
    DPRINTF(Lapic, &l->obj, "write 0x%03x = 0x%08x", off, val);
    switch (off) {
    case REG_TPR:
        reg_put(l, REG_TPR, val & 0xFF);
        notify_if_deliverable(l);
        break;
    case REG_EOI:
        write_eoi(l);
        break;
    case REG_LDR:
        reg_put(l, REG_LDR, val & 0xFF000000u);
        break;
    case REG_DFR:
        reg_put(l, REG_DFR, (val & 0xF0000000u) | DFR_RESERVED_ONES);
        break;
    case REG_SVR:
        write_svr(l, val);
        break;
    case REG_ESR:
        /* SDM 10.5.3: a write latches the errors seen since the last one. */
        reg_put(l, REG_ESR, l->esr_accumulated);
        l->esr_accumulated = 0;
        break;
    case REG_ICR_LO:
        reg_put(l, REG_ICR_LO, val & ICR_LO_WRITABLE);
        send_ipi(l);
        break;
    case REG_ICR_HI:
        reg_put(l, REG_ICR_HI, val & ICR_HI_WRITABLE);
        break;
    case REG_LVT_TIMER:
        write_timer_lvt(l, val);
        break;
    case REG_LVT_CMCI:
    case REG_LVT_THERMAL:
    case REG_LVT_PERF:
        write_lvt(l, off, val, LVT_WRITABLE_LOCAL);
        break;
    case REG_LVT_LINT0:
    case REG_LVT_LINT1:
        write_lvt(l, off, val, LVT_WRITABLE_LINT);
        if (off == REG_LVT_LINT0) {
            lint0_evaluate_level(l);
            notify_if_deliverable(l); /* ExtINT may have been unmasked */
        }
        break;
    case REG_LVT_ERROR:
        write_lvt(l, off, val, LVT_WRITABLE_ERROR);
        break;
    case REG_TIMER_INITIAL:
        if (timer_mode(l) == TIMER_TSC_DEADLINE)
            break; /* ignored in TSC-deadline mode (SDM 10.5.4.1) */
        reg_put(l, REG_TIMER_INITIAL, val);
        timer_start_count(l, val);
        break;
    case REG_TIMER_DIVIDE:
        write_divide(l, val);
        break;
    default:
        if (!reg_readable(off)) {
            DPRINTF(Lapic, &l->obj, "write to reserved register 0x%03x", off);
            record_error(l, ESR_ILLEGAL_REGISTER);
        }
        /* Otherwise a read-only register: the write is ignored. */
        break;
    }
}

static uint64_t lapic_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct lapic *l = opaque;
    if (!hw_enabled(l))
        return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    uint64_t result = 0;
    for (unsigned i = 0; i < size;) {
        uint64_t addr = off + i;
        unsigned in_slot = addr & 0xF;
        unsigned n = 16 - in_slot < size - i ? 16 - in_slot : size - i;
        uint32_t v = addr < PC_LAPIC_SIZE ? reg_read(l, (unsigned)(addr & ~0xFull)) : 0;
        for (unsigned k = 0; k < n; k++) {
            unsigned b = in_slot + k;
            uint64_t byte = b < 4 ? (v >> (8 * b)) & 0xFF : 0;
            result |= byte << (8 * (i + k));
        }
        i += n;
    }
    return result;
}

static void lapic_mmio_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct lapic *l = opaque;
    if (!hw_enabled(l))
        return;
    if (size != 4 || (off & 0xF) || off >= PC_LAPIC_SIZE) {
        l->misaligned_writes++;
        DPRINTF(Lapic, &l->obj, "%u-byte write at 0x%llx ignored", size,
                (unsigned long long)off);
        return;
    }
    reg_write(l, (unsigned)off, (uint32_t)val);
}

static const struct io_ops lapic_mmio_ops = {lapic_mmio_read, lapic_mmio_write};

/* ---- Public wiring ---- */

struct lapic *lapic_find(struct simulation *sim, unsigned apic_id)
{
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        if (strcmp(o->type->name, "LAPIC") == 0 && SIM_CAST(struct lapic, o)->apic_id == apic_id)
            return SIM_CAST(struct lapic, o);
    }
    return NULL;
}

void lapic_set_extint_source(struct lapic *l, const struct lapic_extint_ops *ops, void *opaque)
{
    l->extint_ops = ops;
    l->extint_opaque = opaque;
    notify_if_deliverable(l);
}

/* ---- PC wiring: the 8259's INTR output drives the BSP's LINT0 ---- */

static void pic_intr_changed(void *opaque, bool level)
{
    lapic_set_lint(opaque, 0, level);
}

static int pic_peek(void *opaque)
{
    return pic8259_pending_vector(opaque);
}

static uint8_t pic_ack(void *opaque)
{
    return pic8259_ack(opaque);
}

static const struct lapic_extint_ops pic_extint_ops = {pic_peek, pic_ack};

/* ---- Sim object ---- */

static int lapic_init(struct sim_object *o)
{
    struct lapic *l = SIM_CAST(struct lapic, o);
    if (l->base & (PC_LAPIC_SIZE - 1) || l->base & ~APIC_BASE_ADDR_MASK) {
        err_set("%s: base 0x%llx must be 4 KiB aligned and below 1 TiB (40-bit physical)",
                o->path, (unsigned long long)l->base);
        return -1;
    }
    l->sys = system_of(o);
    if (!l->sys) {
        err_set("%s: a LAPIC must be placed under the System object", o->path);
        return -1;
    }
    for (unsigned i = 0; i < l->sys->nlapics; i++) {
        if (l->sys->lapics[i].apic_id == l->apic_id) {
            err_set("%s: apic_id %u is already used by another LAPIC", o->path, l->apic_id);
            return -1;
        }
    }
    clock_domain_init_hz(&l->bus_clock, l->bus_hz);
    event_init(&l->timer_event, "lapic-timer", EVPRI_DEVICE, timer_fire, l);
    l->apic_base_msr = l->base | APIC_BASE_ENABLE | (l->apic_id == 0 ? APIC_BASE_BSP : 0);
    power_up(l);
    l->intr.ops = &lapic_intr_ops;
    l->intr.lapic = l;
    if (bus_map_mmio(&l->sys->bus, l->base, PC_LAPIC_SIZE, &lapic_mmio_ops, l, o->path) < 0)
        return -1;
    system_add_lapic(l->sys, (uint8_t)l->apic_id, lapic_deliver_msg, lapic_logical_match, l,
                     &l->intr);
    stats_add_counter(o, "interruptsAccepted", &l->accepted, "count",
                      "Fixed interrupts accepted into the IRR");
    stats_add_counter(o, "interruptsCoalesced", &l->coalesced, "count",
                      "Fixed interrupts that found their vector already requested");
    stats_add_counter(o, "interruptsDelivered", &l->delivered, "count",
                      "Interrupts the CPU acknowledged (fixed and ExtINT)");
    stats_add_counter(o, "timerFires", &l->timer_fires, "count", "Timer expiries");
    stats_add_counter(o, "timerHeldBack", &l->timer_held_back, "count",
                      "TSC deadlines that fired late to keep timer_min_interval_ns");
    stats_add_counter(o, "eois", &l->eois, "count", "EOI register writes");
    stats_add_counter(o, "spurious", &l->spurious, "count",
                      "Acknowledges answered with the spurious vector");
    stats_add_counter(o, "nmisDelivered", &l->nmis, "count", "NMIs the CPU took");
    stats_add_counter(o, "ipisSent", &l->ipis_sent, "count", "Interprocessor interrupts sent");
    stats_add_counter(o, "ignoredMessages", &l->ignored_messages, "count",
                      "Interrupts dropped (APIC disabled, or INIT/start-up/SMI not modelled)");
    stats_add_counter(o, "misalignedWrites", &l->misaligned_writes, "count",
                      "Register writes that were not aligned 32-bit stores (ignored)");
    return 0;
}

/* The LAPIC with APIC ID 0 is the bootstrap processor's: a PC wires the
 * 8259 pair's INTR to its LINT0 (firmware programs LINT0 as ExtINT). */
static void lapic_startup(struct sim_object *o)
{
    struct lapic *l = SIM_CAST(struct lapic, o);
    struct sim_object *pic = sim_find_type(o->sim, "PIC8259");
    if (l->apic_id != 0 || !pic)
        return;
    lapic_set_extint_source(l, &pic_extint_ops, pic);
    pic8259_set_intr_notify(pic, pic_intr_changed, l);
    lapic_set_lint(l, 0, pic8259_intr(pic));
}

static void lapic_destroy(struct sim_object *o)
{
    struct lapic *l = SIM_CAST(struct lapic, o);
    eq_deschedule(&o->sim->eq, &l->timer_event);
}

static void lapic_serialize(struct sim_object *o, struct ser_node *n)
{
    struct lapic *l = SIM_CAST(struct lapic, o);
    refresh_derived(l);
    SER_PUT_ARRAY(n, l, regs);
    SER_PUT(n, l, apic_base_msr);
    SER_PUT(n, l, esr_accumulated);
    SER_PUT(n, l, nmi_pending);
    SER_PUT(n, l, extint_msg_pending);
    ser_put_u64(n, "lint0_level", l->lint_level[0]);
    ser_put_u64(n, "lint1_level", l->lint_level[1]);
    SER_PUT(n, l, tsc_deadline);
    SER_PUT(n, l, last_timer_fire);
    SER_PUT(n, l, timer_held_back);
    ser_put_event(n, "timer_event", &l->timer_event);
    SER_PUT(n, l, accepted);
    SER_PUT(n, l, coalesced);
    SER_PUT(n, l, delivered);
    SER_PUT(n, l, timer_fires);
    SER_PUT(n, l, eois);
    SER_PUT(n, l, spurious);
    SER_PUT(n, l, nmis);
    SER_PUT(n, l, ipis_sent);
    SER_PUT(n, l, ignored_messages);
    SER_PUT(n, l, misaligned_writes);
}

static int lapic_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct lapic *l = SIM_CAST(struct lapic, o);
    uint8_t regs[LAPIC_REGS_SIZE];
    uint64_t apic_base_msr;
    if (ser_get_bytes(n, "regs", regs, sizeof(regs)) < 0 ||
        ser_get_u64(n, "apic_base_msr", &apic_base_msr) < 0)
        return -1;
    uint32_t id;
    memcpy(&id, &regs[REG_ID], sizeof(id));
    if (id >> 24 != l->apic_id) {
        err_set("%s: checkpoint LAPIC has APIC ID %u, this one %u", o->path, id >> 24,
                l->apic_id);
        return -1;
    }
    if ((apic_base_msr & APIC_BASE_RESERVED) || (apic_base_msr & APIC_BASE_ADDR_MASK) != l->base) {
        err_set("%s: checkpoint IA32_APIC_BASE 0x%llx does not fit this LAPIC at 0x%llx",
                o->path, (unsigned long long)apic_base_msr, (unsigned long long)l->base);
        return -1;
    }
    uint64_t lint0, lint1;
    if (SER_GET(n, l, esr_accumulated) < 0 || SER_GET(n, l, nmi_pending) < 0 ||
        SER_GET(n, l, extint_msg_pending) < 0 || ser_get_u64(n, "lint0_level", &lint0) < 0 ||
        ser_get_u64(n, "lint1_level", &lint1) < 0 || SER_GET(n, l, tsc_deadline) < 0 ||
        SER_GET(n, l, accepted) < 0 || SER_GET(n, l, coalesced) < 0 ||
        SER_GET(n, l, delivered) < 0 ||
        SER_GET(n, l, timer_fires) < 0 || SER_GET(n, l, eois) < 0 ||
        SER_GET(n, l, spurious) < 0 || SER_GET(n, l, nmis) < 0 ||
        SER_GET(n, l, ipis_sent) < 0 || SER_GET(n, l, ignored_messages) < 0 ||
        SER_GET(n, l, misaligned_writes) < 0)
        return -1;
    /* Absent from checkpoints taken before timer_min_interval_ns existed. */
    l->last_timer_fire = l->timer_held_back = 0;
    if ((ser_find_prop(n, "last_timer_fire") && SER_GET(n, l, last_timer_fire) < 0) ||
        (ser_find_prop(n, "timer_held_back") && SER_GET(n, l, timer_held_back) < 0))
        return -1;
    if (lint0 > 1 || lint1 > 1) {
        err_set("%s: checkpoint LINT levels %llu/%llu are not 0 or 1", o->path,
                (unsigned long long)lint0, (unsigned long long)lint1);
        return -1;
    }
    if (ser_get_event(n, "timer_event", &l->timer_event, &o->sim->eq) < 0)
        return -1;
    memcpy(l->regs, regs, sizeof(regs));
    l->apic_base_msr = apic_base_msr;
    l->lint_level[0] = lint0;
    l->lint_level[1] = lint1;
    return 0;
}

static const struct param_desc lapic_params[] = {
    PARAM_UINT_(struct lapic, apic_id, "0", 0, 254, "",
                "xAPIC ID (255 is the broadcast destination)"),
    PARAM_UINT_(struct lapic, bus_hz, "1000000000", 1000000, 10000000000LL, "Hz",
                "Timer input clock before the divide configuration (KVM uses 1 GHz)"),
    PARAM_UINT_(struct lapic, base, "0xFEE00000", 0, 0xFFFFFFF000LL, "",
                "Guest-physical address of the 4 KiB register page (PC_LAPIC_BASE)"),
    PARAM_UINT_(struct lapic, timer_min_interval_ns, "0", 0, 1000000000, "ns",
                "Least simulated time between two TSC-deadline timer interrupts: a sooner "
                "deadline fires late (0: exact; docs/linux-on-kvm.md)"),
    PARAM_END,
};

static struct sim_type lapic_type = {
    .name = "LAPIC",
    .help = "Local APIC (xAPIC): interrupt priority, IPIs, LINT pins and the APIC timer",
    .size = sizeof(struct lapic),
    .params = lapic_params,
    .ops = {.init = lapic_init, .startup = lapic_startup, .serialize = lapic_serialize,
            .unserialize = lapic_unserialize, .destroy = lapic_destroy},
};
SIM_TYPE_REGISTER(lapic_type);
