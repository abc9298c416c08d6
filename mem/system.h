/* The System object: root of the machine. It owns guest RAM (one host
 * mapping per region, shared by both CPU engines), the bus, and the
 * platform-wide wiring every device uses: GSI lines into the interrupt
 * controllers, APIC messages to LAPICs, EOI broadcasts, and reset/power-off
 * requests. Devices are its descendants and find it with system_of(). */
#ifndef TANDEM_MEM_SYSTEM_H
#define TANDEM_MEM_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/bus.h"
#include "sim/object.h"

#define SYSTEM_MAX_RAM_REGIONS 2
#define SYSTEM_MAX_IRQ_SINKS 4
#define SYSTEM_MAX_LAPICS 64
#define SYSTEM_MAX_EOI_LISTENERS 4

struct ram_region {
    uint64_t gpa, size;
    uint8_t *host;
    void *map_base; /* the mapping, 2 MiB-aligned inside */
    uint64_t map_len;
};

/* An interrupt message to a local APIC (IOAPIC redirection, MSI, IPI). */
enum apic_delivery {
    APIC_DM_FIXED = 0,
    APIC_DM_LOWEST = 1,
    APIC_DM_SMI = 2,
    APIC_DM_NMI = 4,
    APIC_DM_INIT = 5,
    APIC_DM_STARTUP = 6,
    APIC_DM_EXTINT = 7,
};

struct apic_msg {
    uint8_t vector;
    uint8_t delivery_mode; /* enum apic_delivery */
    bool level_triggered;
    bool dest_logical;
    uint8_t dest; /* APIC ID (physical) or logical mask; 0xff = broadcast */
};

typedef void (*irq_sink_fn)(void *opaque, unsigned gsi, bool level);
typedef void (*apic_deliver_fn)(void *opaque, const struct apic_msg *msg);
typedef void (*eoi_listener_fn)(void *opaque, uint8_t vector);
/* A logical-destination match callback: does this LAPIC accept mask? */
typedef bool (*apic_logical_match_fn)(void *opaque, uint8_t mask);

struct system {
    struct sim_object obj;
    /* params */
    uint64_t mem_size;
    uint32_t ncpus;
    int on_reset; /* 0 = end the run, 1 = ignore (log only) */

    struct ram_region ram[SYSTEM_MAX_RAM_REGIONS];
    unsigned nram;
    struct bus bus;

    struct { irq_sink_fn fn; void *opaque; } irq_sinks[SYSTEM_MAX_IRQ_SINKS];
    unsigned nirq_sinks;
    struct {
        uint8_t apic_id;
        apic_deliver_fn deliver;
        apic_logical_match_fn logical_match;
        void *opaque;
        void *cpu_intr; /* struct cpu_intr (cpu/intr.h) the CPU attaches to */
    } lapics[SYSTEM_MAX_LAPICS];
    unsigned nlapics;
    struct { eoi_listener_fn fn; void *opaque; } eoi[SYSTEM_MAX_EOI_LISTENERS];
    unsigned neoi;

    uint64_t resets_requested;
};

struct system *system_of(struct sim_object *o);

void system_add_irq_sink(struct system *s, irq_sink_fn fn, void *opaque);
/* A device drives GSI gsi to level (edge devices raise then lower). */
void system_set_irq(struct system *s, unsigned gsi, bool level);
void system_pulse_irq(struct system *s, unsigned gsi);

/* A LAPIC registers its message input and the struct cpu_intr its CPU uses;
 * CPU i attaches to LAPIC i (system_cpu_intr) at startup. */
void system_add_lapic(struct system *s, uint8_t apic_id, apic_deliver_fn deliver,
                      apic_logical_match_fn logical_match, void *opaque, void *cpu_intr);
void *system_cpu_intr(struct system *s, unsigned index);
void system_send_apic_msg(struct system *s, const struct apic_msg *msg);
void system_add_eoi_listener(struct system *s, eoi_listener_fn fn, void *opaque);
void system_broadcast_eoi(struct system *s, uint8_t vector);

/* Guest asked for a reset (i8042 0xFE, triple fault) or power-off (ACPI). */
void system_request_reset(struct system *s, const char *why);
void system_request_poweroff(struct system *s, const char *why);

#endif
