/* The legacy 8259A interrupt controller pair (dev/pic8259.c).
 *
 * The PIC's INTR output is what a LAPIC with LINT0 in ExtINT mode sees.
 * Wiring INTR to LINT0 is left to the LAPIC/CPU integration: it registers a
 * notify callback for INTR changes, asks pic8259_pending_vector() whether
 * INTR is asserted, and performs the INTA cycle with pic8259_ack(). */
#ifndef TANDEM_DEV_PIC8259_H
#define TANDEM_DEV_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

struct sim_object;

/* The vector an INTA cycle would return now, or -1 when INTR is low.
 * Does not change state. */
int pic8259_pending_vector(struct sim_object *pic);
/* The INTA cycle: moves the winning request from IRR to ISR (unless in
 * auto-EOI mode) on the master and, through the cascade, the slave, and
 * returns its vector; with nothing pending, the spurious IRQ 7 vector. */
uint8_t pic8259_ack(struct sim_object *pic);
/* INTR level as the master drives it. */
bool pic8259_intr(struct sim_object *pic);
/* Called with the new INTR level whenever it changes. One listener. */
void pic8259_set_intr_notify(struct sim_object *pic, void (*fn)(void *opaque, bool level),
                             void *opaque);

#endif
