/* ACPI tables for tandem's firmware-less PC (ACPI 6.5, hardware-reduced):
 * RSDP (revision 2) -> XSDT -> FADT (revision 6) -> DSDT, and the MADT.
 *
 * acpi_build() writes them into guest RAM at PC_ACPI_BASE. The "AcpiTables"
 * sim object does that at init, for the System's CPUs and the virtio-mmio
 * devices of the machine, and hands the RSDP address to the Linux loader
 * through acpi_rsdp_address().
 *
 * How AcpiTables finds virtio-mmio devices: every object whose type name
 * starts with "VirtioMMIO" is described in the DSDT, in creation order. Such
 * a type must have the parameters
 *   base  (PARAM_UINT)  guest-physical address of its register window,
 *   gsi   (PARAM_UINT)  the GSI it raises,
 * and may have
 *   size  (PARAM_UINT)  window size (PC_VIRTIO_MMIO_STRIDE when absent),
 *   level_triggered (PARAM_BOOL) whether its interrupt is level triggered
 *                       (edge when absent).
 * A matching object without base or gsi makes init fail with a message
 * naming it. */
#ifndef TANDEM_BOOT_ACPI_H
#define TANDEM_BOOT_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/pc_layout.h"

struct system;
struct simulation;

/* Identity written into every table header (OEMID is 6 characters). */
#define ACPI_OEM_ID "TANDEM"
#define ACPI_CREATOR_ID "TNDM"

struct acpi_virtio_mmio {
    uint64_t base, size; /* register window, below 4 GiB */
    uint32_t gsi;
    bool level_triggered; /* else edge; the interrupt is active high */
};

struct acpi_config {
    /* Legacy devices to describe in the DSDT: COM1 (PNP0501) and the PS/2
     * keyboard controller (PNP0303). */
    bool com1;
    bool ps2_keyboard;
    bool rtc;
    struct acpi_virtio_mmio virtio[PC_VIRTIO_MMIO_MAX];
    unsigned nvirtio;
};

/* Builds every table for sys->ncpus CPUs into guest RAM at PC_ACPI_BASE and
 * stores the RSDP's guest-physical address in *rsdp_addr. Returns 0, or -1
 * with err_set() when the configuration is invalid or the tables do not fit
 * in PC_ACPI_SIZE bytes of RAM. */
int acpi_build(struct system *sys, const struct acpi_config *cfg, uint64_t *rsdp_addr);

/* Fills cfg->virtio from the machine's VirtioMMIO* objects (see above). 0,
 * or -1 with err_set(). */
int acpi_collect_virtio(struct simulation *sim, struct acpi_config *cfg);

/* The RSDP address of the machine's AcpiTables object (building the tables
 * first if its init has not run yet), or 0 when the machine has no tables. */
uint64_t acpi_rsdp_address(struct simulation *sim);

#endif
