/* ACPI table builder and the "AcpiTables" sim object. Layouts follow the
 * ACPI 6.5 specification: RSDP (5.2.5), system description table header
 * (5.2.6), XSDT (5.2.8), FADT (5.2.9), MADT (5.2.12), DSDT (5.2.11.1), the
 * hardware-reduced sleep registers (4.8.3.7) and \_Sx objects (7.4.2).
 *
 * All tables sit in one block of guest RAM at PC_ACPI_BASE, the RSDP first
 * (Linux also finds it by scanning 0xE0000-0xFFFFF), each table 16-byte
 * aligned after it. */
#include "boot/acpi.h"

#include <stdio.h>
#include <string.h>

#include "boot/aml.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

#define RSDP_SIZE 36
#define RSDP_V1_SIZE 20 /* the part the first checksum covers */
#define HEADER_SIZE 36
#define FADT_SIZE 276 /* revision 6 */
#define FADT_REVISION 6
#define FADT_MINOR_REVISION 5
#define MADT_REVISION 5
#define DSDT_REVISION 2 /* 2: AML integers are 64 bits wide */
#define TABLE_ALIGN 16

/* FADT field offsets (ACPI 5.2.9, table 5.9). */
#define FADT_CENTURY 108
#define FADT_FLAGS 112
#define FADT_MINOR_VERSION 131
#define FADT_X_DSDT 140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG 256
#define FADT_HYPERVISOR_ID 268

/* FADT fixed feature flags. */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/* Generic Address Structure (5.2.3.2). */
#define GAS_SIZE 12
#define GAS_SPACE_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* MADT (5.2.12) entry types and sizes. */
#define MADT_FLAG_PCAT_COMPAT 1u /* the machine also has dual 8259 PICs */
#define MADT_LOCAL_APIC 0
#define MADT_LOCAL_APIC_SIZE 8
#define MADT_IO_APIC 1
#define MADT_IO_APIC_SIZE 12
#define MADT_SOURCE_OVERRIDE 2
#define MADT_SOURCE_OVERRIDE_SIZE 10
#define MADT_LOCAL_APIC_NMI 4
#define MADT_LOCAL_APIC_NMI_SIZE 6
#define MADT_LOCAL_APIC_ENABLED 1u
#define MADT_ALL_PROCESSORS 0xFF

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t checksum_of(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

/* Fills a system description table header (5.2.6); the checksum byte is set
 * by finish_table once the body is written. */
static void put_header(uint8_t *t, const char *sig, uint32_t len, uint8_t revision,
                       const char *oem_table_id)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = revision;
    t[9] = 0;
    memcpy(t + 10, ACPI_OEM_ID, 6);
    memcpy(t + 16, oem_table_id, 8);
    put32(t + 24, 1); /* OEM revision */
    memcpy(t + 28, ACPI_CREATOR_ID, 4);
    put32(t + 32, 1); /* creator revision */
}

static void finish_table(uint8_t *t, size_t len)
{
    t[9] = checksum_of(t, len);
}

static void put_gas_io_byte(uint8_t *g, uint16_t port)
{
    g[0] = GAS_SPACE_SYSTEM_IO;
    g[1] = 8; /* register bit width */
    g[2] = 0; /* bit offset */
    g[3] = GAS_ACCESS_BYTE;
    put64(g + 4, port);
}

static void write_rsdp(uint8_t *p, uint64_t xsdt)
{
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, ACPI_OEM_ID, 6);
    p[15] = 2;       /* revision: ACPI 2.0+ with XSDT */
    put32(p + 16, 0); /* no RSDT: every pointer is in the XSDT */
    put32(p + 20, RSDP_SIZE);
    put64(p + 24, xsdt);
    p[8] = checksum_of(p, RSDP_V1_SIZE);
    p[32] = checksum_of(p, RSDP_SIZE);
}

static void write_xsdt(uint8_t *t, size_t len, const uint64_t *entries, unsigned n)
{
    put_header(t, "XSDT", (uint32_t)len, 1, "TANDEMXS");
    for (unsigned i = 0; i < n; i++)
        put64(t + HEADER_SIZE + 8 * i, entries[i]);
    finish_table(t, len);
}

static void write_fadt(uint8_t *t, uint64_t dsdt)
{
    put_header(t, "FACP", FADT_SIZE, FADT_REVISION, "TANDEMFA");
    /* Everything a hardware-reduced platform lacks (FACS, SCI, SMI command
     * port, PM1/PM2/PM timer/GPE blocks, reset register) stays zero. */
    put32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
                              FADT_F_SLP_BUTTON | FADT_F_HW_REDUCED_ACPI);
    t[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
    t[FADT_CENTURY] = PC_CMOS_CENTURY;
    /* Only the 64-bit pointer: the 32-bit DSDT field must not disagree. */
    put64(t + FADT_X_DSDT, dsdt);
    put_gas_io_byte(t + FADT_SLEEP_CONTROL_REG, PC_PORT_ACPI_SLEEP_CTL);
    put_gas_io_byte(t + FADT_SLEEP_STATUS_REG, PC_PORT_ACPI_SLEEP_STS);
    memcpy(t + FADT_HYPERVISOR_ID, "TANDEM\0\0", 8);
    finish_table(t, FADT_SIZE);
}

static size_t madt_size(unsigned ncpus)
{
    return HEADER_SIZE + 8 + ncpus * MADT_LOCAL_APIC_SIZE + MADT_IO_APIC_SIZE +
           MADT_SOURCE_OVERRIDE_SIZE + MADT_LOCAL_APIC_NMI_SIZE;
}

/* CPU i is ACPI processor UID i. Its APIC id is the one its LAPIC device
 * registered with the System, or i when no LAPIC device exists (yet). */
static uint8_t cpu_apic_id(const struct system *sys, unsigned i)
{
    return i < sys->nlapics ? sys->lapics[i].apic_id : (uint8_t)i;
}

static void write_madt(uint8_t *t, size_t len, const struct system *sys)
{
    put_header(t, "APIC", (uint32_t)len, MADT_REVISION, "TANDEMMA");
    put32(t + HEADER_SIZE, (uint32_t)PC_LAPIC_BASE);
    put32(t + HEADER_SIZE + 4, MADT_FLAG_PCAT_COMPAT);
    uint8_t *e = t + HEADER_SIZE + 8;
    for (unsigned i = 0; i < sys->ncpus; i++, e += MADT_LOCAL_APIC_SIZE) {
        e[0] = MADT_LOCAL_APIC;
        e[1] = MADT_LOCAL_APIC_SIZE;
        e[2] = (uint8_t)i; /* ACPI processor UID */
        e[3] = cpu_apic_id(sys, i);
        put32(e + 4, MADT_LOCAL_APIC_ENABLED);
    }
    e[0] = MADT_IO_APIC;
    e[1] = MADT_IO_APIC_SIZE;
    e[2] = 0; /* I/O APIC id */
    e[3] = 0;
    put32(e + 4, (uint32_t)PC_IOAPIC_BASE);
    put32(e + 8, 0); /* GSI base */
    e += MADT_IO_APIC_SIZE;
    /* The PIT's ISA IRQ 0 arrives on IOAPIC pin 2, as on every PC. Flags 0:
     * polarity and trigger conform to the ISA bus (active high, edge). */
    e[0] = MADT_SOURCE_OVERRIDE;
    e[1] = MADT_SOURCE_OVERRIDE_SIZE;
    e[2] = 0; /* bus: ISA */
    e[3] = PC_IRQ_PIT;
    put32(e + 4, PC_GSI_PIT);
    put16(e + 8, 0);
    e += MADT_SOURCE_OVERRIDE_SIZE;
    e[0] = MADT_LOCAL_APIC_NMI;
    e[1] = MADT_LOCAL_APIC_NMI_SIZE;
    e[2] = MADT_ALL_PROCESSORS;
    put16(e + 3, 0); /* conforming polarity and trigger */
    e[5] = PC_LAPIC_NMI_LINT;
    finish_table(t, len);
}

/* An ISA device: _HID, optional _UID, and _CRS with its port ranges and
 * one IRQ. */
struct isa_port_range {
    uint16_t base, len;
};

static void dsdt_isa_device(struct aml_buf *b, const char *name, const char *hid, int uid,
                            const struct isa_port_range *ports, unsigned nports, unsigned irq)
{
    size_t dev = aml_device_begin(b, name);
    aml_name(b, "_HID");
    aml_eisaid(b, hid);
    if (uid >= 0) {
        aml_name(b, "_UID");
        aml_integer(b, (uint64_t)uid);
    }
    struct aml_buf res;
    aml_init(&res);
    for (unsigned i = 0; i < nports; i++)
        aml_res_io(&res, ports[i].base, ports[i].len);
    aml_res_irq(&res, irq);
    aml_name(b, "_CRS");
    aml_resource_template(b, &res);
    aml_free(&res);
    aml_end(b, dev);
}

static void dsdt_com1(struct aml_buf *b)
{
    static const struct isa_port_range ports[] = {{PC_PORT_COM1, 8}};
    dsdt_isa_device(b, "COM1", "PNP0501", 1, ports, 1, PC_GSI_COM1);
}

static void dsdt_ps2_keyboard(struct aml_buf *b)
{
    static const struct isa_port_range ports[] = {{PC_PORT_I8042_DATA, 1}, {PC_PORT_I8042_CMD, 1}};
    dsdt_isa_device(b, "PS2K", "PNP0303", -1, ports, 2, PC_GSI_KEYBOARD);
}

/* The CMOS RTC: Linux's rtc_cmos binds only through this PNP id when the
 * platform is hardware-reduced. */
static void dsdt_rtc(struct aml_buf *b)
{
    static const struct isa_port_range ports[] = {{PC_PORT_RTC, 2}};
    dsdt_isa_device(b, "RTC0", "PNP0B00", -1, ports, 1, PC_GSI_RTC);
}

static void dsdt_virtio(struct aml_buf *b, unsigned index, const struct acpi_virtio_mmio *v)
{
    char name[5];
    snprintf(name, sizeof(name), "VR%02X", index & 0xFF); /* index < PC_VIRTIO_MMIO_MAX */
    size_t dev = aml_device_begin(b, name);
    aml_name(b, "_HID");
    aml_string(b, "LNRO0005"); /* the id Linux's virtio_mmio driver matches */
    aml_name(b, "_UID");
    aml_integer(b, index);
    aml_name(b, "_CCA"); /* DMA is cache coherent */
    aml_integer(b, 1);
    struct aml_buf res;
    aml_init(&res);
    aml_res_memory32_fixed(&res, (uint32_t)v->base, (uint32_t)v->size, true);
    aml_res_ext_irq(&res, v->gsi, v->level_triggered, false, false);
    aml_name(b, "_CRS");
    aml_resource_template(b, &res);
    aml_free(&res);
    aml_end(b, dev);
}

static int check_config(const struct system *sys, const struct acpi_config *cfg)
{
    if (sys->ncpus == 0 || sys->ncpus > 255) {
        err_set("ACPI tables: %u CPUs; the MADT describes 1 to 255", sys->ncpus);
        return -1;
    }
    if (cfg->nvirtio > PC_VIRTIO_MMIO_MAX) {
        err_set("ACPI tables: %u virtio-mmio devices, at most %d", cfg->nvirtio,
                PC_VIRTIO_MMIO_MAX);
        return -1;
    }
    for (unsigned i = 0; i < cfg->nvirtio; i++) {
        const struct acpi_virtio_mmio *v = &cfg->virtio[i];
        if (v->size == 0 || v->base + v->size < v->base || v->base + v->size > (1ULL << 32)) {
            err_set("ACPI tables: virtio-mmio device %u window [0x%llx, +0x%llx) must be "
                    "non-empty and below 4 GiB", i, (unsigned long long)v->base,
                    (unsigned long long)v->size);
            return -1;
        }
        if (v->gsi >= PC_IOAPIC_PINS) {
            err_set("ACPI tables: virtio-mmio device %u uses GSI %u, the IOAPIC has GSIs 0-%d",
                    i, v->gsi, PC_IOAPIC_PINS - 1);
            return -1;
        }
    }
    return 0;
}

static int build_dsdt_aml(const struct acpi_config *cfg, struct aml_buf *b)
{
    size_t sb = aml_scope_begin(b, "\\_SB");
    if (cfg->com1)
        dsdt_com1(b);
    if (cfg->ps2_keyboard)
        dsdt_ps2_keyboard(b);
    if (cfg->rtc)
        dsdt_rtc(b);
    for (unsigned i = 0; i < cfg->nvirtio; i++)
        dsdt_virtio(b, i, &cfg->virtio[i]);
    aml_end(b, sb);
    /* \_S5_: SLP_TYP for the sleep control register (element 0; element 1
     * is the PM1b value legacy hardware would use, kept equal). */
    aml_name(b, "\\_S5");
    size_t pkg = aml_package_begin(b, 2);
    aml_integer(b, PC_ACPI_SLP_TYP_S5);
    aml_integer(b, PC_ACPI_SLP_TYP_S5);
    aml_end(b, pkg);
    const char *err = aml_error(b);
    if (err) {
        err_set("DSDT: %s", err);
        return -1;
    }
    return 0;
}

static size_t align_up(size_t v)
{
    return (v + TABLE_ALIGN - 1) & ~(size_t)(TABLE_ALIGN - 1);
}

int acpi_build(struct system *sys, const struct acpi_config *cfg, uint64_t *rsdp_addr)
{
    if (check_config(sys, cfg) < 0)
        return -1;
    struct aml_buf dsdt_aml;
    aml_init(&dsdt_aml);
    if (build_dsdt_aml(cfg, &dsdt_aml) < 0) {
        aml_free(&dsdt_aml);
        return -1;
    }
    enum { XSDT_ENTRIES = 2 };
    size_t xsdt_len = HEADER_SIZE + 8 * XSDT_ENTRIES;
    size_t madt_len = madt_size(sys->ncpus);
    size_t dsdt_len = HEADER_SIZE + dsdt_aml.len;
    size_t xsdt_off = align_up(RSDP_SIZE);
    size_t fadt_off = align_up(xsdt_off + xsdt_len);
    size_t madt_off = align_up(fadt_off + FADT_SIZE);
    size_t dsdt_off = align_up(madt_off + madt_len);
    size_t total = dsdt_off + dsdt_len;
    if (total > PC_ACPI_SIZE) {
        err_set("ACPI tables need %zu bytes, more than the %llu-byte area at 0x%llx", total,
                (unsigned long long)PC_ACPI_SIZE, (unsigned long long)PC_ACPI_BASE);
        aml_free(&dsdt_aml);
        return -1;
    }
    uint8_t *area = bus_ram_ptr(&sys->bus, PC_ACPI_BASE, total);
    if (!area) {
        err_set("ACPI tables: guest RAM does not cover [0x%llx, 0x%llx)",
                (unsigned long long)PC_ACPI_BASE, (unsigned long long)(PC_ACPI_BASE + total));
        aml_free(&dsdt_aml);
        return -1;
    }
    memset(area, 0, total);
    uint64_t base = PC_ACPI_BASE;
    uint64_t xsdt_entries[XSDT_ENTRIES] = {base + fadt_off, base + madt_off};
    write_rsdp(area, base + xsdt_off);
    write_xsdt(area + xsdt_off, xsdt_len, xsdt_entries, XSDT_ENTRIES);
    write_fadt(area + fadt_off, base + dsdt_off);
    write_madt(area + madt_off, madt_len, sys);
    put_header(area + dsdt_off, "DSDT", (uint32_t)dsdt_len, DSDT_REVISION, "TANDEMDS");
    memcpy(area + dsdt_off + HEADER_SIZE, dsdt_aml.data, dsdt_aml.len);
    finish_table(area + dsdt_off, dsdt_len);
    aml_free(&dsdt_aml);
    *rsdp_addr = base;
    return 0;
}

/* Reads an unsigned integer or bool parameter of o through its type's
 * schema: 1 when present, 0 when the type has no such parameter, -1 (with
 * err_set) when it has one of another kind. */
static int read_param(struct sim_object *o, const char *name, enum param_type want, uint64_t *out)
{
    const struct param_desc *p = sim_type_param(o->type, name);
    if (!p)
        return 0;
    if (p->type != want) {
        err_set("%s (%s): parameter '%s' is not %s, so ACPI cannot describe the device",
                o->path, o->type->name, name,
                want == PARAM_BOOL ? "a bool" : "an unsigned integer");
        return -1;
    }
    const uint8_t *f = (const uint8_t *)o + p->offset;
    if (want == PARAM_BOOL) {
        *out = *(const bool *)f;
        return 1;
    }
    switch (p->width) {
    case 1: *out = *f; break;
    case 2: *out = *(const uint16_t *)f; break;
    case 4: *out = *(const uint32_t *)f; break;
    case 8: *out = *(const uint64_t *)f; break;
    default:
        err_set("%s: parameter '%s' has an unsupported width %zu", o->path, name, p->width);
        return -1;
    }
    return 1;
}

#define VIRTIO_TYPE_PREFIX "VirtioMMIO"

int acpi_collect_virtio(struct simulation *sim, struct acpi_config *cfg)
{
    cfg->nvirtio = 0;
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        if (strncmp(o->type->name, VIRTIO_TYPE_PREFIX, strlen(VIRTIO_TYPE_PREFIX)) != 0)
            continue;
        if (cfg->nvirtio == PC_VIRTIO_MMIO_MAX) {
            err_set("%s: more than %d virtio-mmio devices for the DSDT", o->path,
                    PC_VIRTIO_MMIO_MAX);
            return -1;
        }
        struct acpi_virtio_mmio *v = &cfg->virtio[cfg->nvirtio];
        uint64_t base, gsi, size = PC_VIRTIO_MMIO_STRIDE, level = 0;
        int has_base = read_param(o, "base", PARAM_UINT, &base);
        int has_gsi = read_param(o, "gsi", PARAM_UINT, &gsi);
        if (has_base < 0 || has_gsi < 0 || read_param(o, "size", PARAM_UINT, &size) < 0 ||
            read_param(o, "level_triggered", PARAM_BOOL, &level) < 0)
            return -1;
        if (!has_base || !has_gsi) {
            err_set("%s (%s): a " VIRTIO_TYPE_PREFIX "* type needs 'base' and 'gsi' "
                    "parameters for the DSDT", o->path, o->type->name);
            return -1;
        }
        if (gsi > UINT32_MAX) {
            err_set("%s: gsi %llu is out of range", o->path, (unsigned long long)gsi);
            return -1;
        }
        v->base = base;
        v->size = size;
        v->gsi = (uint32_t)gsi;
        v->level_triggered = level != 0;
        cfg->nvirtio++;
    }
    return 0;
}

/* ---- the AcpiTables sim object ---- */

struct acpi_tables {
    struct sim_object obj;
    /* params */
    bool com1;
    bool ps2_keyboard;
    bool rtc;

    bool built;
    uint64_t rsdp_addr;
};

static int acpi_tables_build(struct acpi_tables *t)
{
    if (t->built)
        return 0;
    struct system *sys = system_of(&t->obj);
    if (!sys) {
        err_set("%s must be placed under the System object", t->obj.path);
        return -1;
    }
    struct acpi_config cfg = {.com1 = t->com1, .ps2_keyboard = t->ps2_keyboard, .rtc = t->rtc};
    if (acpi_collect_virtio(t->obj.sim, &cfg) < 0 || acpi_build(sys, &cfg, &t->rsdp_addr) < 0)
        return -1;
    t->built = true;
    return 0;
}

static int acpi_tables_init(struct sim_object *o)
{
    return acpi_tables_build(SIM_CAST(struct acpi_tables, o));
}

uint64_t acpi_rsdp_address(struct simulation *sim)
{
    struct sim_object *o = sim_find_type(sim, "AcpiTables");
    if (!o)
        return 0;
    struct acpi_tables *t = SIM_CAST(struct acpi_tables, o);
    if (acpi_tables_build(t) < 0) {
        log_error("%s: %s", o->path, err_get());
        return 0;
    }
    return t->rsdp_addr;
}

/* The tables themselves are guest RAM and travel with it; the object only
 * remembers where the RSDP is. */
static void acpi_tables_serialize(struct sim_object *o, struct ser_node *n)
{
    struct acpi_tables *t = SIM_CAST(struct acpi_tables, o);
    SER_PUT(n, t, rsdp_addr);
}

static int acpi_tables_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct acpi_tables *t = SIM_CAST(struct acpi_tables, o);
    if (SER_GET(n, t, rsdp_addr) < 0)
        return -1;
    if (t->rsdp_addr < PC_ACPI_BASE || t->rsdp_addr + RSDP_SIZE > PC_ACPI_BASE + PC_ACPI_SIZE) {
        err_set("%s: checkpoint puts the RSDP at 0x%llx, outside the ACPI area [0x%llx, 0x%llx)",
                o->path, (unsigned long long)t->rsdp_addr, (unsigned long long)PC_ACPI_BASE,
                (unsigned long long)(PC_ACPI_BASE + PC_ACPI_SIZE));
        return -1;
    }
    t->built = true;
    return 0;
}

static const struct param_desc acpi_tables_params[] = {
    PARAM_BOOL_(struct acpi_tables, com1, "true",
                "Describe COM1 (PNP0501, port 0x3F8, IRQ 4) in the DSDT"),
    PARAM_BOOL_(struct acpi_tables, ps2_keyboard, "true",
                "Describe the i8042 keyboard controller (PNP0303, ports 0x60/0x64, IRQ 1)"),
    PARAM_BOOL_(struct acpi_tables, rtc, "true",
                "Describe the CMOS RTC (PNP0B00, ports 0x70/0x71, IRQ 8)"),
    PARAM_END,
};

static struct sim_type acpi_tables_type = {
    .name = "AcpiTables",
    .help = "ACPI 6.5 hardware-reduced tables (RSDP, XSDT, FADT, MADT, DSDT) in guest RAM "
            "for the System's CPUs and its VirtioMMIO* devices",
    .size = sizeof(struct acpi_tables),
    .params = acpi_tables_params,
    .ops = {.init = acpi_tables_init, .serialize = acpi_tables_serialize,
            .unserialize = acpi_tables_unserialize},
};
SIM_TYPE_REGISTER(acpi_tables_type);
