/* I/O APIC following the Intel 82093AA I/O Advanced Programmable Interrupt
 * Controller datasheet (order number 290566-001): 24 interrupt pins, each
 * with a 64-bit redirection entry, reached through the indirect
 * IOREGSEL (base + 0x00) / IOWIN (base + 0x10) register pair.
 *
 * Pins take GSI levels from the System (system_add_irq_sink; GSIs 0-23) and
 * deliver through system_send_apic_msg. Edge-triggered pins deliver on the
 * rising edge of the active level while unmasked (edges on a masked pin are
 * lost, per the datasheet). Level-triggered pins deliver while active,
 * unmasked and with remote IRR clear; remote IRR is set on delivery and
 * cleared by an EOI for the entry's vector (system_add_eoi_listener), after
 * which a still-active pin delivers again. Active-low pins (polarity bit)
 * invert the input level.
 *
 * Model decisions:
 * - Delivery is instantaneous: the delivery-status bit always reads idle.
 * - Level semantics (remote IRR) apply to fixed and lowest-priority entries
 *   only; SMI, NMI, INIT and ExtINT entries are edge-triggered whatever the
 *   trigger bit says, as the datasheet requires those modes to be.
 *   Reserved delivery modes (011b, 110b) deliver nothing.
 * - Switching an entry to edge trigger clears its remote IRR.
 * - Arbitration ID mirrors the ID register (there is no APIC bus to
 *   arbitrate on).
 * - MMIO: IOREGSEL occupies bytes 0x00-0x03 (index in bits 7:0) and IOWIN
 *   0x10-0x13. Accesses of any size read the bytes they cover; writes of
 *   fewer than four bytes to IOWIN merge into the selected register. Every
 *   other offset in the 4 KiB window reads zero and ignores writes.
 *   Unimplemented register indexes read zero and ignore writes. */
#include <stdio.h>
#include <string.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Ioapic, "I/O APIC registers and interrupt delivery");

#define IOAPIC_PINS PC_IOAPIC_PINS
#define IOAPIC_VERSION 0x11u

#define IOREGSEL_OFF 0x00
#define IOWIN_OFF 0x10

enum { IOAPIC_REG_ID = 0x00, IOAPIC_REG_VERSION = 0x01, IOAPIC_REG_ARB = 0x02,
       IOAPIC_REG_REDIR = 0x10 };

#define RTE_VECTOR 0xFFull
#define RTE_DELIVERY_SHIFT 8
#define RTE_DEST_LOGICAL (1ull << 11)
#define RTE_POLARITY_LOW (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_DEST_SHIFT 56
/* Vector, delivery mode, destination mode, polarity, trigger, mask and the
 * destination field; delivery status and remote IRR are read-only. */
#define RTE_WRITABLE (0xFF00000000000000ull | 0x1AFFFull)

struct ioapic {
    struct sim_object obj;
    /* params */
    uint64_t base;
    uint32_t id;

    struct system *sys;
    uint32_t ioregsel;
    uint32_t id_reg; /* ID in bits 27:24 */
    uint64_t redir[IOAPIC_PINS];
    uint32_t pin_levels; /* electrical level of each input, bit per pin */

    uint64_t delivered_total;
    uint64_t delivered_pin[IOAPIC_PINS];
};

static bool pin_active(const struct ioapic *io, unsigned pin)
{
    bool level = (io->pin_levels >> pin) & 1;
    return level != ((io->redir[pin] & RTE_POLARITY_LOW) != 0);
}

static unsigned rte_mode(uint64_t rte)
{
    return (rte >> RTE_DELIVERY_SHIFT) & 7;
}

static bool rte_level_semantics(uint64_t rte)
{
    unsigned mode = rte_mode(rte);
    return (rte & RTE_LEVEL) && (mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST);
}

static void deliver(struct ioapic *io, unsigned pin)
{
    uint64_t rte = io->redir[pin];
    unsigned mode = rte_mode(rte);
    if (mode == 3 || mode == 6) {
        DPRINTF(Ioapic, &io->obj, "pin %u uses reserved delivery mode %u: nothing sent", pin,
                mode);
        return;
    }
    struct apic_msg msg = {
        .vector = rte & RTE_VECTOR,
        .delivery_mode = (uint8_t)mode,
        .level_triggered = rte_level_semantics(rte),
        .dest_logical = (rte & RTE_DEST_LOGICAL) != 0,
        .dest = (uint8_t)(rte >> RTE_DEST_SHIFT),
    };
    if (msg.level_triggered)
        io->redir[pin] |= RTE_REMOTE_IRR;
    io->delivered_total++;
    io->delivered_pin[pin]++;
    DPRINTF(Ioapic, &io->obj, "pin %u -> vector %u mode %u dest 0x%02x%s", pin, msg.vector, mode,
            msg.dest, msg.dest_logical ? " logical" : "");
    system_send_apic_msg(io->sys, &msg);
}

/* A level-triggered pin delivers whenever it is active, unmasked and not
 * waiting for an EOI. */
static void evaluate_level(struct ioapic *io, unsigned pin)
{
    uint64_t rte = io->redir[pin];
    if (rte_level_semantics(rte) && !(rte & (RTE_MASKED | RTE_REMOTE_IRR)) && pin_active(io, pin))
        deliver(io, pin);
}

static void ioapic_set_irq(void *opaque, unsigned gsi, bool level)
{
    struct ioapic *io = opaque;
    if (gsi >= IOAPIC_PINS)
        return; /* another controller's GSI */
    bool was_active = pin_active(io, gsi);
    if (level)
        io->pin_levels |= 1u << gsi;
    else
        io->pin_levels &= ~(1u << gsi);
    uint64_t rte = io->redir[gsi];
    if (rte_level_semantics(rte))
        evaluate_level(io, gsi);
    else if (!was_active && pin_active(io, gsi) && !(rte & RTE_MASKED))
        deliver(io, gsi);
}

static void ioapic_eoi(void *opaque, uint8_t vector)
{
    struct ioapic *io = opaque;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t rte = io->redir[pin];
        if (!(rte & RTE_REMOTE_IRR) || (rte & RTE_VECTOR) != vector)
            continue;
        io->redir[pin] = rte & ~RTE_REMOTE_IRR;
        DPRINTF(Ioapic, &io->obj, "EOI vector %u clears remote IRR of pin %u", vector, pin);
        evaluate_level(io, pin);
    }
}

static uint32_t reg_read(struct ioapic *io, uint32_t index)
{
    switch (index) {
    case IOAPIC_REG_ID:
    case IOAPIC_REG_ARB:
        return io->id_reg;
    case IOAPIC_REG_VERSION:
        return IOAPIC_VERSION | ((IOAPIC_PINS - 1) << 16);
    default:
        if (index >= IOAPIC_REG_REDIR && index < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
            uint64_t rte = io->redir[(index - IOAPIC_REG_REDIR) / 2];
            return (index & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
        }
        DPRINTF(Ioapic, &io->obj, "read of unimplemented register 0x%02x", index);
        return 0;
    }
}

static void reg_write(struct ioapic *io, uint32_t index, uint32_t val)
{
    DPRINTF(Ioapic, &io->obj, "write register 0x%02x = 0x%08x", index, val);
    if (index == IOAPIC_REG_ID) {
        io->id_reg = val & 0x0F000000u;
        return;
    }
    if (index < IOAPIC_REG_REDIR || index >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
        return; /* read-only or unimplemented */
    unsigned pin = (index - IOAPIC_REG_REDIR) / 2;
    uint64_t old = io->redir[pin];
    uint64_t written = (index & 1) ? ((uint64_t)val << 32) | (old & 0xFFFFFFFFu)
                                   : (old & 0xFFFFFFFF00000000ull) | val;
    uint64_t rte = (written & RTE_WRITABLE) | (old & RTE_REMOTE_IRR);
    if (!rte_level_semantics(rte))
        rte &= ~RTE_REMOTE_IRR;
    io->redir[pin] = rte;
    /* Unmasking (or reprogramming) a pending level interrupt delivers it. */
    evaluate_level(io, pin);
}

/* Byte b (0-3) of IOREGSEL or IOWIN; other offsets read zero. */
static uint64_t ioapic_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct ioapic *io = opaque;
    uint64_t result = 0;
    bool have_win = false;
    uint32_t win = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t a = off + i;
        uint32_t byte = 0;
        if (a < IOREGSEL_OFF + 4) {
            byte = (io->ioregsel >> (8 * (a - IOREGSEL_OFF))) & 0xFF;
        } else if (a >= IOWIN_OFF && a < IOWIN_OFF + 4) {
            if (!have_win) {
                win = reg_read(io, io->ioregsel);
                have_win = true;
            }
            byte = (win >> (8 * (a - IOWIN_OFF))) & 0xFF;
        }
        result |= (uint64_t)byte << (8 * i);
    }
    return result;
}

static void ioapic_mmio_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct ioapic *io = opaque;
    uint32_t win = 0, win_mask = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t a = off + i;
        uint32_t byte = (val >> (8 * i)) & 0xFF;
        if (a == IOREGSEL_OFF) {
            io->ioregsel = byte; /* bits 31:8 are reserved */
        } else if (a >= IOWIN_OFF && a < IOWIN_OFF + 4) {
            win |= byte << (8 * (a - IOWIN_OFF));
            win_mask |= 0xFFu << (8 * (a - IOWIN_OFF));
        }
    }
    if (win_mask)
        reg_write(io, io->ioregsel, (reg_read(io, io->ioregsel) & ~win_mask) | win);
}

static const struct io_ops ioapic_mmio_ops = {ioapic_mmio_read, ioapic_mmio_write};

static int ioapic_init(struct sim_object *o)
{
    struct ioapic *io = SIM_CAST(struct ioapic, o);
    if (io->base & (PC_IOAPIC_SIZE - 1)) {
        err_set("%s: base 0x%llx must be 4 KiB aligned", o->path, (unsigned long long)io->base);
        return -1;
    }
    io->sys = system_of(o);
    if (!io->sys) {
        err_set("%s: an IOAPIC must be placed under the System object", o->path);
        return -1;
    }
    io->id_reg = io->id << 24;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        io->redir[pin] = RTE_MASKED;
    if (bus_map_mmio(&io->sys->bus, io->base, PC_IOAPIC_SIZE, &ioapic_mmio_ops, io, o->path) < 0)
        return -1;
    system_add_irq_sink(io->sys, ioapic_set_irq, io);
    system_add_eoi_listener(io->sys, ioapic_eoi, io);
    stats_add_counter(o, "interruptsDelivered", &io->delivered_total, "count",
                      "Interrupt messages sent, all pins");
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        char name[32];
        snprintf(name, sizeof(name), "pin%u.delivered", pin);
        stats_add_counter(o, name, &io->delivered_pin[pin], "count",
                          "Interrupt messages sent for this pin");
    }
    return 0;
}

static void put_u64_array(struct ser_node *n, const char *key, const uint64_t *v, size_t count)
{
    uint8_t buf[8 * IOAPIC_PINS];
    for (size_t i = 0; i < count; i++)
        for (int b = 0; b < 8; b++)
            buf[8 * i + b] = (uint8_t)(v[i] >> (56 - 8 * b));
    ser_put_bytes(n, key, buf, 8 * count);
}

static int get_u64_array(const struct ser_node *n, const char *key, uint64_t *v, size_t count)
{
    uint8_t buf[8 * IOAPIC_PINS];
    if (ser_get_bytes(n, key, buf, 8 * count) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        v[i] = 0;
        for (int b = 0; b < 8; b++)
            v[i] = (v[i] << 8) | buf[8 * i + b];
    }
    return 0;
}

static void ioapic_serialize(struct sim_object *o, struct ser_node *n)
{
    struct ioapic *io = SIM_CAST(struct ioapic, o);
    SER_PUT(n, io, ioregsel);
    SER_PUT(n, io, id_reg);
    put_u64_array(n, "redir", io->redir, IOAPIC_PINS);
    SER_PUT(n, io, pin_levels);
    SER_PUT(n, io, delivered_total);
    put_u64_array(n, "delivered_pin", io->delivered_pin, IOAPIC_PINS);
}

static int ioapic_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct ioapic *io = SIM_CAST(struct ioapic, o);
    uint64_t redir[IOAPIC_PINS], delivered_pin[IOAPIC_PINS];
    uint64_t ioregsel, id_reg, pin_levels;
    if (ser_get_u64(n, "ioregsel", &ioregsel) < 0 || ser_get_u64(n, "id_reg", &id_reg) < 0 ||
        ser_get_u64(n, "pin_levels", &pin_levels) < 0 ||
        get_u64_array(n, "redir", redir, IOAPIC_PINS) < 0 ||
        get_u64_array(n, "delivered_pin", delivered_pin, IOAPIC_PINS) < 0 ||
        SER_GET(n, io, delivered_total) < 0)
        return -1;
    if (ioregsel > 0xFF || (id_reg & ~0x0F000000ull) || pin_levels >> IOAPIC_PINS) {
        err_set("%s: checkpoint IOREGSEL 0x%llx, ID 0x%llx or pin levels 0x%llx out of range",
                o->path, (unsigned long long)ioregsel, (unsigned long long)id_reg,
                (unsigned long long)pin_levels);
        return -1;
    }
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        if (redir[pin] & ~(RTE_WRITABLE | RTE_REMOTE_IRR)) {
            err_set("%s: checkpoint redirection entry %u (0x%016llx) sets reserved bits",
                    o->path, pin, (unsigned long long)redir[pin]);
            return -1;
        }
    }
    io->ioregsel = (uint32_t)ioregsel;
    io->id_reg = (uint32_t)id_reg;
    io->pin_levels = (uint32_t)pin_levels;
    memcpy(io->redir, redir, sizeof(redir));
    memcpy(io->delivered_pin, delivered_pin, sizeof(delivered_pin));
    return 0;
}

static const struct param_desc ioapic_params[] = {
    PARAM_UINT_(struct ioapic, base, "0xFEC00000", 0, 0xFFFFFFF000LL, "",
                "Guest-physical address of the 4 KiB register window (PC_IOAPIC_BASE)"),
    PARAM_UINT_(struct ioapic, id, "0", 0, 15, "", "I/O APIC ID (4 bits)"),
    PARAM_END,
};

static struct sim_type ioapic_type = {
    .name = "IOAPIC",
    .help = "82093AA I/O APIC: 24 redirection entries routing GSIs to local APICs",
    .size = sizeof(struct ioapic),
    .params = ioapic_params,
    .ops = {.init = ioapic_init, .serialize = ioapic_serialize,
            .unserialize = ioapic_unserialize},
};
SIM_TYPE_REGISTER(ioapic_type);
