/* ACPI tables: structure and checksums read back from guest RAM, the
 * AcpiTables object, and a disassembly of every table by ACPICA's iasl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/acpi.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum_of(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* A System with ncpus CPUs and nothing else. */
static struct system *make_system(struct simulation *sim, unsigned ncpus)
{
    sim_init(sim);
    struct sim_object *o = sim_create(sim, "System", "system");
    ck_assert_ptr_nonnull(o);
    char text[16];
    snprintf(text, sizeof(text), "%u", ncpus);
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "ncpus"), text), 0);
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "mem_size"), "64M"), 0);
    ck_assert_msg(sim_instantiate(sim) == 0, "%s", err_get());
    return SIM_CAST(struct system, o);
}

static const uint8_t *guest(struct system *sys, uint64_t gpa, uint64_t len)
{
    const uint8_t *p = bus_ram_ptr(&sys->bus, gpa, len);
    ck_assert_msg(p != NULL, "0x%llx+%llu is not in guest RAM", (unsigned long long)gpa,
                  (unsigned long long)len);
    return p;
}

/* A table at gpa whose header checks out: signature, length, checksum. */
static const uint8_t *table(struct system *sys, uint64_t gpa, const char *sig)
{
    const uint8_t *h = guest(sys, gpa, 36);
    ck_assert_msg(memcmp(h, sig, 4) == 0, "table at 0x%llx is '%.4s', expected %s",
                  (unsigned long long)gpa, (const char *)h, sig);
    uint32_t len = rd32(h + 4);
    ck_assert_uint_ge(len, 36);
    const uint8_t *t = guest(sys, gpa, len);
    ck_assert_msg(sum_of(t, len) == 0, "%s checksum is wrong", sig);
    ck_assert_msg(memcmp(t + 10, "TANDEM", 6) == 0, "%s OEM id is '%.6s'", sig, t + 10);
    return t;
}

struct tables {
    const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

static struct tables read_tables(struct system *sys, uint64_t rsdp_addr)
{
    struct tables t;
    ck_assert_uint_eq(rsdp_addr, PC_ACPI_BASE);
    t.rsdp = guest(sys, rsdp_addr, 36);
    ck_assert(memcmp(t.rsdp, "RSD PTR ", 8) == 0);
    ck_assert_msg(sum_of(t.rsdp, 20) == 0, "RSDP checksum (20 bytes) is wrong");
    ck_assert_msg(sum_of(t.rsdp, 36) == 0, "RSDP extended checksum (36 bytes) is wrong");
    ck_assert_uint_eq(t.rsdp[15], 2);
    ck_assert_uint_eq(rd32(t.rsdp + 20), 36);
    ck_assert(memcmp(t.rsdp + 9, "TANDEM", 6) == 0);
    t.xsdt = table(sys, rd64(t.rsdp + 24), "XSDT");
    uint32_t xlen = rd32(t.xsdt + 4);
    ck_assert_uint_eq((xlen - 36) % 8, 0);
    t.fadt = t.madt = NULL;
    for (uint32_t off = 36; off < xlen; off += 8) {
        uint64_t gpa = rd64(t.xsdt + off);
        const uint8_t *h = guest(sys, gpa, 4);
        if (memcmp(h, "FACP", 4) == 0)
            t.fadt = table(sys, gpa, "FACP");
        else if (memcmp(h, "APIC", 4) == 0)
            t.madt = table(sys, gpa, "APIC");
        else
            ck_abort_msg("XSDT points to an unexpected table '%.4s'", (const char *)h);
    }
    ck_assert_msg(t.fadt && t.madt, "XSDT must point to the FADT and the MADT");
    ck_assert_uint_eq(rd32(t.fadt + 4), 276);
    ck_assert_uint_eq(t.fadt[8], 6);
    ck_assert_uint_eq(rd32(t.fadt + 40), 0); /* 32-bit DSDT: X_DSDT only */
    t.dsdt = table(sys, rd64(t.fadt + 140), "DSDT");
    return t;
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    return memmem(hay, n, needle, m) != NULL;
}

START_TEST(tables_for_one_cpu)
{
    struct simulation sim;
    struct system *sys = make_system(&sim, 1);
    struct acpi_config cfg = {.com1 = true, .ps2_keyboard = true};
    uint64_t rsdp = 0;
    ck_assert_msg(acpi_build(sys, &cfg, &rsdp) == 0, "%s", err_get());
    struct tables t = read_tables(sys, rsdp);

    /* FADT: hardware reduced, no fixed buttons, sleep registers in I/O. */
    uint32_t flags = rd32(t.fadt + 112);
    ck_assert_msg(flags & (1u << 20), "HW_REDUCED_ACPI not set");
    ck_assert_msg(flags & (1u << 4), "PWR_BUTTON not set");
    ck_assert_msg(flags & (1u << 5), "SLP_BUTTON not set");
    const uint8_t *ctl = t.fadt + 244, *sts = t.fadt + 256;
    ck_assert_uint_eq(ctl[0], 1); /* system I/O */
    ck_assert_uint_eq(ctl[1], 8);
    ck_assert_uint_eq(rd64(ctl + 4), PC_PORT_ACPI_SLEEP_CTL);
    ck_assert_uint_eq(sts[0], 1);
    ck_assert_uint_eq(rd64(sts + 4), PC_PORT_ACPI_SLEEP_STS);

    /* MADT: LAPIC base, one LAPIC, IOAPIC, override IRQ0 -> GSI2, NMI. */
    ck_assert_uint_eq(rd32(t.madt + 36), PC_LAPIC_BASE);
    uint32_t mlen = rd32(t.madt + 4);
    unsigned counts[16] = {0};
    for (uint32_t off = 44; off < mlen;) {
        const uint8_t *e = t.madt + off;
        ck_assert_uint_ge(e[1], 2);
        ck_assert_uint_lt(e[0], 16);
        counts[e[0]]++;
        if (e[0] == 0) {
            ck_assert_uint_eq(e[3], 0);
            ck_assert_uint_eq(rd32(e + 4) & 1, 1);
        } else if (e[0] == 1) {
            ck_assert_uint_eq(e[2], 0);
            ck_assert_uint_eq(rd32(e + 4), PC_IOAPIC_BASE);
            ck_assert_uint_eq(rd32(e + 8), 0);
        } else if (e[0] == 2) {
            ck_assert_uint_eq(e[3], 0);
            ck_assert_uint_eq(rd32(e + 4), 2);
        } else if (e[0] == 4) {
            ck_assert_uint_eq(e[2], 0xFF);
            ck_assert_uint_eq(e[5], 1);
        }
        off += e[1];
        ck_assert_uint_le(off, mlen);
    }
    ck_assert_uint_eq(counts[0], 1);
    ck_assert_uint_eq(counts[1], 1);
    ck_assert_uint_eq(counts[2], 1);
    ck_assert_uint_eq(counts[4], 1);

    /* DSDT: COM1 and keyboard by EISA id (DWordConst), \_S5_, no virtio. */
    uint32_t dlen = rd32(t.dsdt + 4);
    ck_assert(contains(t.dsdt, dlen, "\x0C\x41\xD0\x05\x01", 5));
    ck_assert(contains(t.dsdt, dlen, "\x0C\x41\xD0\x03\x03", 5));
    ck_assert(contains(t.dsdt, dlen, "\x47\x01\xF8\x03\xF8\x03\x01\x08", 8));
    ck_assert(contains(t.dsdt, dlen, "_S5_\x12", 5));
    ck_assert(!contains(t.dsdt, dlen, "LNRO0005", 8));
    sim_destroy(&sim);
}
END_TEST

static unsigned count_lapics(const uint8_t *madt)
{
    unsigned n = 0;
    for (uint32_t off = 44; off < rd32(madt + 4); off += madt[off + 1])
        n += madt[off] == 0;
    return n;
}

START_TEST(madt_has_one_lapic_per_cpu)
{
    struct simulation sim;
    struct system *sys = make_system(&sim, 4);
    struct acpi_config cfg = {.com1 = true, .ps2_keyboard = true};
    uint64_t rsdp;
    ck_assert_msg(acpi_build(sys, &cfg, &rsdp) == 0, "%s", err_get());
    struct tables t = read_tables(sys, rsdp);
    ck_assert_uint_eq(count_lapics(t.madt), 4);
    for (unsigned i = 0; i < 4; i++) {
        const uint8_t *e = t.madt + 44 + 8 * i;
        ck_assert_uint_eq(e[0], 0);
        ck_assert_uint_eq(e[2], i); /* processor UID */
        ck_assert_uint_eq(e[3], i); /* APIC id */
    }
    sim_destroy(&sim);
}
END_TEST

static void two_virtio(struct acpi_config *cfg)
{
    cfg->nvirtio = 2;
    cfg->virtio[0] = (struct acpi_virtio_mmio){PC_VIRTIO_MMIO_BASE, PC_VIRTIO_MMIO_STRIDE,
                                               PC_GSI_VIRTIO_FIRST, false};
    cfg->virtio[1] = (struct acpi_virtio_mmio){PC_VIRTIO_MMIO_BASE + PC_VIRTIO_MMIO_STRIDE,
                                               PC_VIRTIO_MMIO_STRIDE, PC_GSI_VIRTIO_FIRST + 1,
                                               true};
}

START_TEST(dsdt_describes_virtio_devices)
{
    struct simulation sim;
    struct system *sys = make_system(&sim, 1);
    struct acpi_config cfg = {.com1 = false, .ps2_keyboard = false};
    two_virtio(&cfg);
    uint64_t rsdp;
    ck_assert_msg(acpi_build(sys, &cfg, &rsdp) == 0, "%s", err_get());
    struct tables t = read_tables(sys, rsdp);
    uint32_t dlen = rd32(t.dsdt + 4);
    ck_assert(!contains(t.dsdt, dlen, "\x0C\x41\xD0\x05\x01", 5));
    ck_assert(!contains(t.dsdt, dlen, "\x0C\x41\xD0\x03\x03", 5));
    ck_assert(contains(t.dsdt, dlen, "VR00", 4));
    ck_assert(contains(t.dsdt, dlen, "VR01", 4));
    ck_assert(contains(t.dsdt, dlen, "\x0DLNRO0005", 10));
    /* Memory32Fixed at 0xD0000000 and 0xD0001000, 4 KiB each. */
    ck_assert(contains(t.dsdt, dlen, "\x86\x09\x00\x01\x00\x00\x00\xD0\x00\x10\x00\x00", 12));
    ck_assert(contains(t.dsdt, dlen, "\x86\x09\x00\x01\x00\x10\x00\xD0\x00\x10\x00\x00", 12));
    /* Extended interrupts: GSI 16 edge, GSI 17 level, both active high. */
    ck_assert(contains(t.dsdt, dlen, "\x89\x06\x00\x03\x01\x10\x00\x00\x00", 9));
    ck_assert(contains(t.dsdt, dlen, "\x89\x06\x00\x01\x01\x11\x00\x00\x00", 9));
    sim_destroy(&sim);
}
END_TEST

START_TEST(bad_virtio_config_is_refused)
{
    struct simulation sim;
    struct system *sys = make_system(&sim, 1);
    struct acpi_config cfg = {0};
    uint64_t rsdp = 0;
    two_virtio(&cfg);
    cfg.virtio[1].gsi = PC_IOAPIC_PINS;
    ck_assert_int_eq(acpi_build(sys, &cfg, &rsdp), -1);
    ck_assert_msg(strstr(err_get(), "GSI 24"), "%s", err_get());
    two_virtio(&cfg);
    cfg.virtio[0].base = 0xFFFFF800;
    ck_assert_int_eq(acpi_build(sys, &cfg, &rsdp), -1);
    ck_assert_msg(strstr(err_get(), "below 4 GiB"), "%s", err_get());
    two_virtio(&cfg);
    cfg.nvirtio = PC_VIRTIO_MMIO_MAX + 1;
    ck_assert_int_eq(acpi_build(sys, &cfg, &rsdp), -1);
    ck_assert_msg(strstr(err_get(), "virtio-mmio devices"), "%s", err_get());
    ck_assert_uint_eq(rsdp, 0);
    sim_destroy(&sim);
}
END_TEST

/* ---- The AcpiTables object with stand-in virtio-mmio types ---- */

struct fake_virtio {
    struct sim_object obj;
    uint64_t base;
    uint32_t gsi;
    bool level_triggered;
};

static const struct param_desc fake_virtio_params[] = {
    PARAM_UINT_(struct fake_virtio, base, "0xD0000000", 0, 0xFFFFFFFFLL, "", "window"),
    PARAM_UINT_(struct fake_virtio, gsi, "16", 0, 255, "", "interrupt"),
    PARAM_BOOL_(struct fake_virtio, level_triggered, "false", "trigger mode"),
    PARAM_END,
};
static struct sim_type fake_virtio_type = {
    .name = "VirtioMMIOTestDevice",
    .help = "test stand-in for a virtio-mmio transport",
    .size = sizeof(struct fake_virtio),
    .params = fake_virtio_params,
};
SIM_TYPE_REGISTER(fake_virtio_type);

struct fake_virtio_no_gsi {
    struct sim_object obj;
    uint64_t base;
};
static const struct param_desc fake_virtio_no_gsi_params[] = {
    PARAM_UINT_(struct fake_virtio_no_gsi, base, "0xD0000000", 0, 0xFFFFFFFFLL, "", "window"),
    PARAM_END,
};
static struct sim_type fake_virtio_no_gsi_type = {
    .name = "VirtioMMIONoGsi",
    .help = "test stand-in lacking a gsi parameter",
    .size = sizeof(struct fake_virtio_no_gsi),
    .params = fake_virtio_no_gsi_params,
};
SIM_TYPE_REGISTER(fake_virtio_no_gsi_type);

static struct sim_object *machine_with_tables(struct simulation *sim, unsigned nvirtio)
{
    sim_init(sim);
    struct sim_object *sys = sim_create(sim, "System", "system");
    test_set_param(sys, "mem_size", "32M");
    struct sim_object *tables = sim_create(sim, "AcpiTables", "system.acpi");
    ck_assert_ptr_nonnull(tables);
    /* Created after the tables object: collection reads parameters only. */
    for (unsigned i = 0; i < nvirtio; i++) {
        char path[32], text[32];
        snprintf(path, sizeof(path), "system.virtio%u", i);
        struct sim_object *v = sim_create(sim, "VirtioMMIOTestDevice", path);
        ck_assert_ptr_nonnull(v);
        snprintf(text, sizeof(text), "0x%llx",
                 (unsigned long long)(PC_VIRTIO_MMIO_BASE + i * PC_VIRTIO_MMIO_STRIDE));
        test_set_param(v, "base", text);
        snprintf(text, sizeof(text), "%u", PC_GSI_VIRTIO_FIRST + i);
        test_set_param(v, "gsi", text);
        test_set_param(v, "level_triggered", i % 2 ? "true" : "false");
    }
    return tables;
}

START_TEST(acpi_tables_object_builds_at_init)
{
    struct simulation sim;
    machine_with_tables(&sim, 3);
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    uint64_t rsdp = acpi_rsdp_address(&sim);
    struct system *sys = system_of(sim_find(&sim, "system"));
    struct tables t = read_tables(sys, rsdp);
    uint32_t dlen = rd32(t.dsdt + 4);
    ck_assert(contains(t.dsdt, dlen, "VR02", 4));
    ck_assert(!contains(t.dsdt, dlen, "VR03", 4));
    ck_assert(contains(t.dsdt, dlen, "\x89\x06\x00\x01\x01\x11\x00\x00\x00", 9));
    ck_assert(contains(t.dsdt, dlen, "\x0C\x41\xD0\x05\x01", 5));

    struct acpi_config cfg;
    ck_assert_int_eq(acpi_collect_virtio(&sim, &cfg), 0);
    ck_assert_uint_eq(cfg.nvirtio, 3);
    ck_assert_uint_eq(cfg.virtio[2].base, PC_VIRTIO_MMIO_BASE + 2 * PC_VIRTIO_MMIO_STRIDE);
    ck_assert_uint_eq(cfg.virtio[2].size, PC_VIRTIO_MMIO_STRIDE);
    ck_assert_uint_eq(cfg.virtio[2].gsi, PC_GSI_VIRTIO_FIRST + 2);
    ck_assert(cfg.virtio[1].level_triggered && !cfg.virtio[2].level_triggered);
    sim_destroy(&sim);
}
END_TEST

START_TEST(legacy_devices_can_be_left_out)
{
    struct simulation sim;
    struct sim_object *tables = machine_with_tables(&sim, 0);
    test_set_param(tables, "com1", "false");
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    struct system *sys = system_of(tables);
    struct tables t = read_tables(sys, acpi_rsdp_address(&sim));
    uint32_t dlen = rd32(t.dsdt + 4);
    ck_assert(!contains(t.dsdt, dlen, "\x0C\x41\xD0\x05\x01", 5));
    ck_assert(contains(t.dsdt, dlen, "\x0C\x41\xD0\x03\x03", 5));
    sim_destroy(&sim);
}
END_TEST

START_TEST(no_tables_object_means_no_rsdp)
{
    struct simulation sim;
    make_system(&sim, 1);
    ck_assert_uint_eq(acpi_rsdp_address(&sim), 0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(virtio_type_without_gsi_is_refused)
{
    struct simulation sim;
    machine_with_tables(&sim, 0);
    ck_assert_ptr_nonnull(sim_create(&sim, "VirtioMMIONoGsi", "system.vbad"));
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "system.vbad") && strstr(err_get(), "'gsi'"), "%s",
                  err_get());
    sim_destroy(&sim);
}
END_TEST

START_TEST(too_many_virtio_devices_is_refused)
{
    struct simulation sim;
    machine_with_tables(&sim, PC_VIRTIO_MMIO_MAX + 1);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "more than"), "%s", err_get());
    sim_destroy(&sim);
}
END_TEST

START_TEST(acpi_tables_serialize_round_trip)
{
    struct simulation a, b;
    machine_with_tables(&a, 1);
    ck_assert_msg(sim_instantiate(&a) == 0, "%s", err_get());
    machine_with_tables(&b, 1);
    ck_assert_msg(sim_instantiate(&b) == 0, "%s", err_get());
    struct ser_node *n = sim_serialize(&a);
    struct ser_node *objs = ser_find_child(n, "objects");
    ck_assert_ptr_nonnull(objs);
    struct ser_node *system = ser_find_child(objs, "system");
    ck_assert_ptr_nonnull(system);
    struct ser_node *acpi = ser_find_child(system, "acpi");
    ck_assert_ptr_nonnull(acpi);
    uint64_t saved;
    ck_assert_int_eq(ser_get_u64(acpi, "rsdp_addr", &saved), 0);
    ck_assert_uint_eq(saved, PC_ACPI_BASE);
    ck_assert_msg(sim_unserialize(&b, n) == 0, "%s", err_get());
    ck_assert_uint_eq(acpi_rsdp_address(&b), PC_ACPI_BASE);
    struct ser_node *n2 = sim_serialize(&b);
    ck_assert(ser_node_equal(n, n2));
    ser_put_u64(acpi, "rsdp_addr", 0x1000);
    ck_assert_int_eq(sim_unserialize(&b, n), -1);
    ck_assert_msg(strstr(err_get(), "outside the ACPI area"), "%s", err_get());
    ser_node_free(n);
    ser_node_free(n2);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

/* ---- iasl ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void write_blob(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Check's messages are size-limited: a long text goes to stderr instead. */
static void expect_in(const char *text, const char *needle, const char *what)
{
    if (!strstr(text, needle))
        fprintf(stderr, "---- %s ----\n%s\n----\n", what, text);
    ck_assert_msg(strstr(text, needle), "%s lacks '%s' (printed above)", what, needle);
}

static void expect_clean(const char *text, const char *what)
{
    bool bad = strcasestr(text, "error") || strcasestr(text, "warning");
    if (bad)
        fprintf(stderr, "---- %s ----\n%s\n----\n", what, text);
    ck_assert_msg(!bad, "iasl reported an error or warning in %s (printed above)", what);
}

/* Disassembles dir/name.dat; returns the .dsl text after checking iasl
 * succeeded without complaint. */
static char *iasl_disassemble(const char *dir, const char *name)
{
    char cmd[1024], log[512], dsl[512];
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    snprintf(cmd, sizeof(cmd), "cd '%s' && iasl -d %s.dat > '%s' 2>&1", dir, name, log);
    int rc = system(cmd);
    char *out = slurp(log);
    if (rc != 0)
        fprintf(stderr, "---- iasl -d %s.dat ----\n%s\n----\n", name, out);
    ck_assert_msg(rc == 0, "iasl -d %s.dat failed with status %d (output printed above)", name,
                  rc);
    /* iasl reports problems in the AML on its console and as comments in the
     * .dsl; either one fails the test. */
    expect_clean(out, log);
    free(out);
    snprintf(dsl, sizeof(dsl), "%s/%s.dsl", dir, name);
    char *text = slurp(dsl);
    expect_clean(text, dsl);
    return text;
}

START_TEST(iasl_disassembles_every_table)
{
    ck_assert_msg(system("command -v iasl > /dev/null 2>&1") == 0,
                  "iasl not found: install acpica-tools (scripts/setup installs it)");
    struct simulation sim;
    struct system *sys = make_system(&sim, 2);
    struct acpi_config cfg = {.com1 = true, .ps2_keyboard = true, .rtc = true};
    two_virtio(&cfg);
    uint64_t rsdp;
    ck_assert_msg(acpi_build(sys, &cfg, &rsdp) == 0, "%s", err_get());
    struct tables t = read_tables(sys, rsdp);
    char *dir = test_tmpdir();
    write_blob(dir, "xsdt.dat", t.xsdt, rd32(t.xsdt + 4));
    write_blob(dir, "facp.dat", t.fadt, rd32(t.fadt + 4));
    write_blob(dir, "apic.dat", t.madt, rd32(t.madt + 4));
    write_blob(dir, "dsdt.dat", t.dsdt, rd32(t.dsdt + 4));

    /* The RSDP is no system description table: iasl -d cannot read it as a
     * file, and read_tables checked it. */
    char *s = iasl_disassemble(dir, "xsdt");
    expect_in(s, "[XSDT]", "xsdt.dsl");
    free(s);
    s = iasl_disassemble(dir, "facp");
    expect_in(s, "Hardware Reduced (V5) : 1", "facp.dsl");
    expect_in(s, "Sleep Control Register", "facp.dsl");
    expect_in(s, "RTC Century Index : 32", "facp.dsl");
    free(s);
    s = iasl_disassemble(dir, "apic");
    expect_in(s, "Processor Local APIC", "apic.dsl");
    free(s);
    s = iasl_disassemble(dir, "dsdt");
    static const char *const want[] = {"PNP0501", "PNP0303", "PNP0B00", "LNRO0005", "_S5_", "VR01",
                                       "IO (Decode16", "Memory32Fixed (ReadWrite",
                                       "Interrupt (ResourceConsumer, Level"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        expect_in(s, want[i], "dsdt.dsl");
    free(s);
    /* The disassembly compiles back without a single complaint. */
    char cmd[600], log[512];
    snprintf(log, sizeof(log), "%s/recompile.log", dir);
    snprintf(cmd, sizeof(cmd), "cd '%s' && iasl -p recompiled dsdt.dsl > '%s' 2>&1", dir, log);
    int rc = system(cmd);
    s = slurp(log);
    if (rc != 0)
        fprintf(stderr, "---- iasl dsdt.dsl ----\n%s\n----\n", s);
    ck_assert_msg(rc == 0, "iasl could not recompile dsdt.dsl (output printed above)");
    expect_in(s, "0 Errors, 0 Warnings, 0 Remarks", "recompile.log");
    free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
    sim_destroy(&sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acpi");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tables_for_one_cpu);
    tcase_add_test(tc, madt_has_one_lapic_per_cpu);
    tcase_add_test(tc, dsdt_describes_virtio_devices);
    tcase_add_test(tc, bad_virtio_config_is_refused);
    tcase_add_test(tc, acpi_tables_object_builds_at_init);
    tcase_add_test(tc, legacy_devices_can_be_left_out);
    tcase_add_test(tc, no_tables_object_means_no_rsdp);
    tcase_add_test(tc, virtio_type_without_gsi_is_refused);
    tcase_add_test(tc, too_many_virtio_devices_is_refused);
    tcase_add_test(tc, acpi_tables_serialize_round_trip);
    tcase_add_test(tc, iasl_disassembles_every_table);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
