/* Hardware-reduced ACPI sleep registers (ACPI 6.5 section 4.8.3.7, "Sleep
 * Control and Status Registers"), which the FADT built by boot/acpi.c points
 * at: two byte-wide I/O ports.
 *
 *   sleep control (PC_PORT_ACPI_SLEEP_CTL): bits 2-4 SLP_TYP, bit 5 SLP_EN
 *     (write-only, reads 0); other bits reserved, read 0.
 *   sleep status (PC_PORT_ACPI_SLEEP_STS): bit 7 WAK_STS, write 1 to clear;
 *     other bits reserved, read 0.
 *
 * Setting SLP_EN with the SLP_TYP the DSDT's \_S5_ names powers the machine
 * off. Other sleep states are not modelled: the request is logged and the
 * machine "wakes" at once by setting WAK_STS, because an OS waits for
 * WAK_STS after entering a sleep state and would otherwise spin forever. */
#include <stdbool.h>
#include <stdint.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(AcpiPM, "ACPI sleep control/status register accesses");

_Static_assert(PC_PORT_ACPI_SLEEP_STS == PC_PORT_ACPI_SLEEP_CTL + 1,
               "the sleep registers are mapped as one two-port range");

#define SLEEP_CTL_OFF 0
#define SLEEP_STS_OFF 1
#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK 0x7
#define SLP_EN 0x20
#define WAK_STS 0x80

struct acpi_pm {
    struct sim_object obj;
    uint8_t sleep_type;   /* SLP_TYP last written */
    bool wake_status;     /* WAK_STS */
    uint64_t poweroff_requests;
    uint64_t ignored_sleep_requests;
};

static uint8_t pm_read_byte(struct acpi_pm *pm, unsigned off)
{
    if (off == SLEEP_CTL_OFF)
        return (uint8_t)(pm->sleep_type << SLP_TYP_SHIFT);
    return pm->wake_status ? WAK_STS : 0;
}

static void pm_write_ctl(struct acpi_pm *pm, uint8_t v)
{
    pm->sleep_type = (v >> SLP_TYP_SHIFT) & SLP_TYP_MASK;
    if (!(v & SLP_EN))
        return;
    if (pm->sleep_type == PC_ACPI_SLP_TYP_S5) {
        pm->poweroff_requests++;
        system_request_poweroff(system_of(&pm->obj), "ACPI S5");
        return;
    }
    pm->ignored_sleep_requests++;
    log_info("%s: guest asked for sleep type %u, which is not modelled; waking at once",
             pm->obj.path, pm->sleep_type);
    pm->wake_status = true;
}

static void pm_write_byte(struct acpi_pm *pm, unsigned off, uint8_t v)
{
    if (off == SLEEP_CTL_OFF)
        pm_write_ctl(pm, v);
    else if (v & WAK_STS)
        pm->wake_status = false;
}

/* Wider accesses touch both registers, one byte each, low byte first. */
static uint64_t pm_read(void *opaque, uint64_t off, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)pm_read_byte(pm, (unsigned)(off + i)) << (8 * i);
    DPRINTF(AcpiPM, &pm->obj, "read%u at +%llu = 0x%llx", size * 8, (unsigned long long)off,
            (unsigned long long)v);
    return v;
}

static void pm_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct acpi_pm *pm = opaque;
    DPRINTF(AcpiPM, &pm->obj, "write%u at +%llu = 0x%llx", size * 8, (unsigned long long)off,
            (unsigned long long)val);
    for (unsigned i = 0; i < size; i++)
        pm_write_byte(pm, (unsigned)(off + i), (uint8_t)(val >> (8 * i)));
}

static const struct io_ops pm_ops = {.read = pm_read, .write = pm_write};

static int acpi_pm_init(struct sim_object *o)
{
    struct acpi_pm *pm = SIM_CAST(struct acpi_pm, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("%s must be placed under the System object", o->path);
        return -1;
    }
    if (bus_map_pio(&sys->bus, PC_PORT_ACPI_SLEEP_CTL, 2, &pm_ops, pm, o->path) < 0)
        return -1;
    stats_add_counter(o, "poweroffRequests", &pm->poweroff_requests, "count",
                      "S5 (soft off) requests through the sleep control register");
    stats_add_counter(o, "ignoredSleepRequests", &pm->ignored_sleep_requests, "count",
                      "Requests for sleep states that are not modelled");
    return 0;
}

static void acpi_pm_serialize(struct sim_object *o, struct ser_node *n)
{
    struct acpi_pm *pm = SIM_CAST(struct acpi_pm, o);
    SER_PUT(n, pm, sleep_type);
    SER_PUT(n, pm, wake_status);
    SER_PUT(n, pm, poweroff_requests);
    SER_PUT(n, pm, ignored_sleep_requests);
}

static int acpi_pm_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct acpi_pm *pm = SIM_CAST(struct acpi_pm, o);
    uint64_t wake;
    if (SER_GET(n, pm, sleep_type) < 0 || ser_get_u64(n, "wake_status", &wake) < 0 ||
        SER_GET(n, pm, poweroff_requests) < 0 || SER_GET(n, pm, ignored_sleep_requests) < 0)
        return -1;
    if (pm->sleep_type > SLP_TYP_MASK || wake > 1) {
        err_set("%s: checkpoint holds sleep_type %u and wake_status %llu; SLP_TYP is 3 bits "
                "and WAK_STS 1 bit", o->path, pm->sleep_type, (unsigned long long)wake);
        return -1;
    }
    pm->wake_status = wake != 0;
    return 0;
}

static const struct param_desc acpi_pm_params[] = {
    PARAM_END,
};

static struct sim_type acpi_pm_type = {
    .name = "AcpiPM",
    .help = "Hardware-reduced ACPI sleep control/status registers (S5 powers off)",
    .size = sizeof(struct acpi_pm),
    .params = acpi_pm_params,
    .ops = {.init = acpi_pm_init, .serialize = acpi_pm_serialize,
            .unserialize = acpi_pm_unserialize},
};
SIM_TYPE_REGISTER(acpi_pm_type);
