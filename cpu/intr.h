/* The interrupt interface between a CPU engine and its local APIC. The
 * LAPIC model (dev/lapic.c) implements it; engines (interpreter, KVM) use it
 * and never see the device. This is the only part of cpu/ that dev/ uses. */
#ifndef TANDEM_CPU_INTR_H
#define TANDEM_CPU_INTR_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/tick.h"

/* Size of the kvm_lapic_state register page (linux/kvm.h, KVM_APIC_REG_SIZE). */
#define LAPIC_REGS_SIZE 0x400

struct cpu_intr_ops {
    /* Highest-priority fixed/ExtINT vector the LAPIC would deliver now
     * (IRR above PPR, APIC enabled), or -1. Does not change state. */
    int (*pending_vector)(void *lapic);
    /* The CPU takes the interrupt: IRR -> ISR; returns the vector (or the
     * spurious vector if it vanished). */
    uint8_t (*ack)(void *lapic);
    /* NMI: pending? and take it. */
    bool (*nmi_pending)(void *lapic);
    void (*nmi_ack)(void *lapic);
    /* The whole 8-bit TPR; CR8 is TPR[7:4], so the CPU shifts by 4. */
    uint8_t (*get_tpr)(void *lapic);
    void (*set_tpr)(void *lapic, uint8_t tpr);
    /* IA32_APIC_BASE. set returns false for a value the model refuses. */
    uint64_t (*get_base)(void *lapic);
    bool (*set_base)(void *lapic, uint64_t value);
    /* IA32_TSC_DEADLINE, converted by the CPU to simulated ticks; 0 disarms. */
    tick_t (*get_deadline)(void *lapic);
    void (*set_deadline)(void *lapic, tick_t deadline);
    /* The register page in kvm_lapic_state layout, for engine hand-over. */
    void (*get_regs)(void *lapic, uint8_t regs[LAPIC_REGS_SIZE]);
    void (*set_regs)(void *lapic, const uint8_t regs[LAPIC_REGS_SIZE]);
};

/* What a CPU attaches to: the LAPIC ops plus a callback the LAPIC calls when
 * something became deliverable (wake a halted CPU, kick KVM_RUN). */
struct cpu_intr {
    const struct cpu_intr_ops *ops;
    void *lapic;
    void (*notify)(void *cpu);
    void *cpu;
};

#endif
