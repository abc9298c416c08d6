/* The local APIC's wiring beyond the CPU interrupt interface (cpu/intr.h):
 * its two local interrupt pins and the external controller (the 8259 PIC)
 * that supplies vectors for ExtINT delivery.
 *
 * In a PC the PIC's INTR output drives LINT0 of the bootstrap processor's
 * LAPIC, which firmware programs as ExtINT; the NMI line drives LINT1. The
 * LAPIC with APIC ID 0 makes that wiring itself at startup when the machine
 * has a PIC8259 (through dev/pic8259.h); these calls are for other sources
 * (tests, a future NMI button). */
#ifndef TANDEM_DEV_LAPIC_H
#define TANDEM_DEV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct lapic;
struct simulation;

/* The controller behind ExtINT: the LAPIC asks it for the vector instead of
 * using its own IRR/ISR (SDM Vol. 3A 10.5.1, "ExtINT"). */
struct lapic_extint_ops {
    /* The vector an acknowledge would return now, or -1 when the controller
     * has nothing to deliver. Must not change the controller's state. */
    int (*peek)(void *opaque);
    /* The interrupt-acknowledge cycle: the controller commits and returns
     * the vector (its own spurious vector if the request went away). */
    uint8_t (*ack)(void *opaque);
};

/* The LAPIC with this APIC ID, or NULL. */
struct lapic *lapic_find(struct simulation *sim, unsigned apic_id);
void lapic_set_extint_source(struct lapic *l, const struct lapic_extint_ops *ops, void *opaque);
/* Drives local interrupt pin LINT0 (pin 0) or LINT1 (pin 1) to an electrical
 * level; the LVT entry decides polarity, trigger mode and delivery. */
void lapic_set_lint(struct lapic *l, unsigned pin, bool level);

#endif
