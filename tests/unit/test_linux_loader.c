/* The Linux loader on Debian's real bzImage (fetched by the fetch_kernel
 * fixture into the cache; TANDEM_KERNEL names it): the setup header as
 * NOTES-x86.md measured it, the xz payload extracted to the vmlinux ELF,
 * boot_params/e820/cmdline/initrd/RSDP read back from guest RAM, both entry
 * kinds, the sim object with ACPI tables, and corrupted copies of the
 * kernel each giving its own clear error. */
#include <sys/stat.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/bootstate.h"
#include "boot/elf.h"
#include "boot/linux.h"
#include "boot_testutil.h"
#include "mem/pc_layout.h"
#include "sim/serialize.h"
#include "sim/util.h"

#define DEBIAN_ENTRY 0x1000000ULL

static const char *kernel_path(void)
{
    const char *p = getenv("TANDEM_KERNEL");
    ck_assert_msg(p != NULL, "TANDEM_KERNEL is not set: run through ctest, whose fetch_kernel "
                             "fixture downloads the kernel (scripts/fetch-kernel)");
    return p;
}

static uint8_t *read_kernel(size_t *len)
{
    uint8_t *d = read_whole_file(kernel_path(), len);
    ck_assert_msg(d != NULL, "%s", err_get());
    return d;
}

/* The file NOTES-x86.md measured; later Debian kernels may differ in
 * init_size only. */
static bool is_measured_kernel(void)
{
    char target[256] = {0};
    ssize_t n = readlink(kernel_path(), target, sizeof(target) - 1);
    return n > 0 && strstr(target, "/6.1.0-56-amd64/") != NULL;
}

START_TEST(setup_header_fields_match_the_measured_kernel)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    struct linux_header h;
    ck_assert_msg(linux_parse_header(d, len, kernel_path(), &h) == 0, "%s", err_get());
    ck_assert_uint_eq(h.version, 0x20F);
    ck_assert_uint_eq(h.setup_sects, 39);
    ck_assert_uint_eq(h.setup_size, 0x5000);
    ck_assert_uint_eq(h.loadflags, 0x01);
    ck_assert_uint_eq(h.code32_start, 0x100000);
    ck_assert_uint_eq(h.kernel_alignment, 0x200000);
    ck_assert_uint_eq(h.relocatable, 1);
    ck_assert_uint_eq(h.xloadflags, 0x7f);
    ck_assert_uint_eq(h.pref_address, DEBIAN_ENTRY);
    ck_assert_uint_eq(h.cmdline_size, 0x7ff);
    ck_assert_uint_eq(h.initrd_addr_max, 0x7fffffff);
    if (is_measured_kernel())
        ck_assert_uint_eq(h.init_size, 0x3f98000);
    ck_assert_uint_ge(h.init_size, 32u << 20);
    ck_assert_uint_eq(h.init_size & 0xfff, 0);
    ck_assert_uint_ge(h.header_end, LINUX_HDR_INIT_SIZE + 4);
    ck_assert_str_eq(linux_payload_format(d + h.setup_size + h.payload_offset, h.payload_length),
                     "xz");
    free(d);
}
END_TEST

START_TEST(xz_payload_extracts_to_the_vmlinux_elf)
{
    size_t len, elf_len;
    uint8_t *d = read_kernel(&len), *elf;
    struct linux_header h;
    ck_assert_int_eq(linux_parse_header(d, len, kernel_path(), &h), 0);
    ck_assert_msg(linux_extract_elf(d, len, &h, kernel_path(), &elf, &elf_len) == 0, "%s",
                  err_get());
    ck_assert_uint_gt(elf_len, 32u << 20);
    struct elf_image img;
    ck_assert_msg(elf_parse(elf, elf_len, "vmlinux", &img) == 0, "%s", err_get());
    ck_assert(img.is64);
    ck_assert_uint_eq(img.machine, ELF_EM_X86_64);
    ck_assert_uint_gt(img.nsegs, 0);
    uint64_t entry, lo, hi;
    ck_assert_int_eq(elf_entry_phys(&img, "vmlinux", &entry), 0);
    ck_assert_uint_eq(entry, DEBIAN_ENTRY);
    elf_phys_extent(&img, &lo, &hi);
    ck_assert_uint_eq(lo, h.pref_address);
    ck_assert_uint_le(hi, h.pref_address + h.init_size);
    free(elf);
    free(d);
}
END_TEST

static const char *make_initrd(size_t size)
{
    uint8_t *buf = malloc(size);
    for (size_t i = 0; i < size; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    const char *p = write_bytes("initrd.img", buf, size);
    free(buf);
    return p;
}

START_TEST(boot_params_e820_cmdline_initrd_and_entry_state)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    const size_t initrd_size = 1000000;
    const char *initrd = make_initrd(initrd_size);
    struct simulation sim;
    struct system *s = make_system(&sim, "512M");
    memset(ram(s, PC_BOOT_PARAMS, 4096), 0xAA, 4096);
    struct linux_boot_config cfg = {kernel_path(), initrd, "console=ttyS0 quiet", true, 0xE0000};
    struct linux_boot_info info;
    struct x86_state st;
    ck_assert_msg(linux_boot(s, &cfg, &info, &st) == 0, "%s", err_get());
    const uint8_t *bp = ram(s, PC_BOOT_PARAMS, 4096);

    /* The setup header went over unchanged except the loader's fields. */
    for (size_t off = LINUX_HDR_START; off < info.hdr.header_end; off++) {
        bool loader_field = off == LINUX_HDR_TYPE_OF_LOADER ||
                            (off >= LINUX_HDR_RAMDISK_IMAGE && off < LINUX_HDR_RAMDISK_SIZE + 4) ||
                            (off >= LINUX_HDR_CMD_LINE_PTR && off < LINUX_HDR_CMD_LINE_PTR + 4);
        if (!loader_field)
            ck_assert_msg(bp[off] == d[off], "setup header byte 0x%zx differs", off);
    }
    ck_assert_uint_eq(bp[LINUX_BP_SENTINEL], 0);
    ck_assert_uint_eq(bp[0x000], 0); /* the rest of the zero page is zeroed */
    ck_assert_uint_eq(bp[0x1000 - 1], 0);
    ck_assert_uint_eq(bp[LINUX_HDR_TYPE_OF_LOADER], 0xFF);
    ck_assert_uint_eq(rd(bp + LINUX_HDR_CMD_LINE_PTR, 4), PC_BOOT_CMDLINE);
    ck_assert_uint_eq(rd(bp + LINUX_BP_EXT_CMD_LINE_PTR, 4), 0);
    ck_assert_str_eq((const char *)ram(s, PC_BOOT_CMDLINE, 20), "console=ttyS0 quiet");
    ck_assert_uint_eq(rd(bp + LINUX_BP_ACPI_RSDP, 8), 0xE0000);

    /* e820: usable, EBDA..1 MiB reserved, usable to 512 MiB. */
    ck_assert_uint_eq(bp[LINUX_BP_E820_ENTRIES], 3);
    const uint64_t want[3][3] = {{0, PC_EBDA_START, 1},
                                 {PC_EBDA_START, 0x100000 - PC_EBDA_START, 2},
                                 {0x100000, (512ULL << 20) - 0x100000, 1}};
    for (int i = 0; i < 3; i++) {
        const uint8_t *e = bp + LINUX_BP_E820_TABLE + 20 * i;
        ck_assert_uint_eq(rd(e, 8), want[i][0]);
        ck_assert_uint_eq(rd(e + 8, 8), want[i][1]);
        ck_assert_uint_eq(rd(e + 16, 4), want[i][2]);
    }
    ck_assert_uint_eq(rd(bp + LINUX_BP_E820_TABLE + 60, 8), 0);

    /* The initrd sits page-aligned at the top of RAM (below
     * initrd_addr_max), above the kernel. */
    uint64_t rd_addr = rd(bp + LINUX_HDR_RAMDISK_IMAGE, 4);
    ck_assert_uint_eq(rd_addr, ((512ULL << 20) - initrd_size) & ~0xfffULL);
    ck_assert_uint_eq(rd_addr, info.initrd_addr);
    ck_assert_uint_eq(rd(bp + LINUX_HDR_RAMDISK_SIZE, 4), initrd_size);
    ck_assert_uint_eq(rd(bp + LINUX_BP_EXT_RAMDISK_IMAGE, 4), 0);
    ck_assert_uint_ge(rd_addr, info.kernel_end);
    const uint8_t *rdm = ram(s, rd_addr, initrd_size);
    for (size_t i = 0; i < initrd_size; i += 4099)
        ck_assert_uint_eq(rdm[i], (uint8_t)(i * 131 + 7));

    /* Entry: long mode at the vmlinux entry, RSI = boot_params. */
    ck_assert_uint_eq(info.entry, DEBIAN_ENTRY);
    ck_assert_uint_gt(info.elf_segments, 0);
    ck_assert_uint_eq(st.rip, DEBIAN_ENTRY);
    ck_assert_uint_eq(st.gpr[R_RSI], PC_BOOT_PARAMS);
    ck_assert_uint_eq(st.cr3, PC_BOOT_PML4);
    ck_assert(st.msr.efer & X86_EFER_LMA);
    ck_assert_uint_eq(st.seg[S_CS].selector, BOOT_SEL_CODE64);
    ck_assert(!(st.rflags & X86_FLAG_IF));
    /* startup_64 is code, not zeroes: the segment really landed there. */
    const uint8_t *entry = ram(s, DEBIAN_ENTRY, 16);
    bool nonzero = false;
    for (int i = 0; i < 16; i++)
        nonzero |= entry[i] != 0;
    ck_assert(nonzero);
    ck_assert_uint_eq(rd(ram(s, PC_BOOT_PML4, 8), 8), PC_BOOT_PDPT | 3);
    sim_destroy(&sim);
    free(d);
}
END_TEST

START_TEST(without_decompression_enters_the_bzimage_at_0x200)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    struct simulation sim;
    struct system *s = make_system(&sim, "256M");
    struct linux_boot_config cfg = {kernel_path(), NULL, LINUX_DEFAULT_CMDLINE, false, 0};
    struct linux_boot_info info;
    struct x86_state st;
    ck_assert_msg(linux_boot(s, &cfg, &info, &st) == 0, "%s", err_get());
    ck_assert_uint_eq(info.load_addr, DEBIAN_ENTRY);
    ck_assert_uint_eq(st.rip, DEBIAN_ENTRY + 0x200);
    ck_assert_uint_eq(st.gpr[R_RSI], PC_BOOT_PARAMS);
    ck_assert_mem_eq(ram(s, DEBIAN_ENTRY, 0x10000), d + 0x5000, 0x10000);
    ck_assert_mem_eq(ram(s, DEBIAN_ENTRY + (len - 0x5000) - 256, 256), d + len - 256, 256);
    const uint8_t *bp = ram(s, PC_BOOT_PARAMS, 4096);
    ck_assert_uint_eq(rd(bp + LINUX_HDR_RAMDISK_IMAGE, 4), 0);
    ck_assert_uint_eq(rd(bp + LINUX_HDR_RAMDISK_SIZE, 4), 0);
    ck_assert_uint_eq(rd(bp + LINUX_BP_ACPI_RSDP, 8), 0);
    ck_assert_str_eq((const char *)ram(s, PC_BOOT_CMDLINE, sizeof(LINUX_DEFAULT_CMDLINE)),
                     LINUX_DEFAULT_CMDLINE);
    sim_destroy(&sim);
    free(d);
}
END_TEST

START_TEST(loader_object_passes_the_rsdp_and_starts_the_cpu)
{
    struct simulation sim;
    struct cpu *cpu = make_machine_with_cpu(&sim, "256M");
    ck_assert_ptr_nonnull(sim_create(&sim, "AcpiTables", "system.acpi"));
    struct sim_object *l = sim_create(&sim, "LinuxLoader", "system.loader");
    ck_assert_ptr_nonnull(l);
    set_param(l, "kernel", kernel_path());
    set_param(l, "decompress", "false"); /* fast; the xz path is tested above */
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    struct system *s = system_of(&cpu->obj);
    uint64_t rsdp = acpi_rsdp_address(&sim);
    ck_assert_uint_ne(rsdp, 0);
    const uint8_t *bp = ram(s, PC_BOOT_PARAMS, 4096);
    ck_assert_uint_eq(rd(bp + LINUX_BP_ACPI_RSDP, 8), rsdp);
    ck_assert_mem_eq(ram(s, rsdp, 8), "RSD PTR ", 8);
    ck_assert_uint_eq(cpu->state.rip, DEBIAN_ENTRY + LINUX_ENTRY64_OFFSET);
    ck_assert_uint_eq(cpu->state.gpr[R_RSI], PC_BOOT_PARAMS);
    ck_assert_str_eq((const char *)ram(s, PC_BOOT_CMDLINE, sizeof(LINUX_DEFAULT_CMDLINE)),
                     LINUX_DEFAULT_CMDLINE);
    struct ser_node *n = sim_serialize(&sim);
    struct ser_node *objs = ser_find_child(n, "objects");
    ck_assert_ptr_nonnull(objs);
    struct ser_node *sysn = ser_find_child(objs, "system");
    ck_assert_ptr_nonnull(sysn);
    struct ser_node *ln = ser_find_child(sysn, "loader");
    ck_assert_ptr_nonnull(ln);
    uint64_t entry;
    ck_assert_int_eq(ser_get_u64(ln, "info.entry", &entry), 0);
    ck_assert_uint_eq(entry, DEBIAN_ENTRY + LINUX_ENTRY64_OFFSET);
    ck_assert_int_eq(sim_unserialize(&sim, n), 0);
    ser_node_free(n);
    sim_destroy(&sim);
}
END_TEST

/* Boots a modified copy of the kernel and expects an error naming the copy
 * and containing want. */
static void expect_error(const uint8_t *data, size_t len, const char *mem, bool decompress,
                         const char *initrd, const char *cmdline, const char *want)
{
    const char *path = write_bytes("vmlinuz-copy", data, len);
    struct simulation sim;
    struct system *s = make_system(&sim, mem);
    struct linux_boot_config cfg = {path, initrd, cmdline ? cmdline : LINUX_DEFAULT_CMDLINE,
                                    decompress, 0};
    struct linux_boot_info info;
    struct x86_state st;
    ck_assert_int_eq(linux_boot(s, &cfg, &info, &st), -1);
    ck_assert_err_has(want);
    ck_assert_err_has(initrd ? initrd : path);
    sim_destroy(&sim);
}

START_TEST(truncated_copies_are_reported_as_truncated)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    struct linux_header h;
    ck_assert_int_eq(linux_parse_header(d, len, "k", &h), 0);
    size_t declared_end = h.setup_size + (size_t)h.syssize * 16;
    const size_t cuts[] = {0x100, 0x230, 0x3000, 0x5100, len / 2, declared_end - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        expect_error(d, cuts[i], "512M", true, NULL, NULL, "truncated");
    free(d);
}
END_TEST

START_TEST(wrong_magic_and_old_protocols_are_refused)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    d[LINUX_HDR_MAGIC] = 'X';
    expect_error(d, len, "512M", true, NULL, NULL, "no \"HdrS\" magic");
    d[LINUX_HDR_MAGIC] = 'H';
    d[LINUX_HDR_BOOT_FLAG] = 0;
    expect_error(d, len, "512M", true, NULL, NULL, "no boot flag 0xAA55");
    d[LINUX_HDR_BOOT_FLAG] = 0x55;
    wr(d + LINUX_HDR_VERSION, 0x0209, 2);
    expect_error(d, len, "512M", true, NULL, NULL, "boot protocol 2.09 is older than 2.12");
    wr(d + LINUX_HDR_VERSION, 0x020F, 2);
    wr(d + LINUX_HDR_XLOADFLAGS, 0x7e, 2);
    expect_error(d, len, "512M", false, NULL, NULL, "no 64-bit entry point");
    free(d);
}
END_TEST

START_TEST(corrupt_or_foreign_payloads_name_the_problem)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    struct linux_header h;
    ck_assert_int_eq(linux_parse_header(d, len, "k", &h), 0);
    uint8_t *payload = d + h.setup_size + h.payload_offset;
    for (size_t i = 0; i < 64; i++)
        payload[h.payload_length / 2 + i] ^= 0x5a;
    expect_error(d, len, "512M", true, NULL, NULL,
                 "xz decompression of the kernel payload failed after");
    ck_assert_err_has("compressed data is corrupt");
    for (size_t i = 0; i < 64; i++)
        payload[h.payload_length / 2 + i] ^= 0x5a;
    /* The size the build appends after the xz stream must match. */
    uint8_t *trailer = payload + h.payload_length - 4;
    uint32_t size = rd(trailer, 4);
    wr(trailer, size - 1, 4);
    expect_error(d, len, "512M", true, NULL, NULL, "decompresses to more than");
    wr(trailer, size + 4096, 4);
    expect_error(d, len, "512M", true, NULL, NULL, "but its trailer gives");
    wr(trailer, size, 4);
    memcpy(payload, "\x1f\x8b\x08\x00", 4);
    expect_error(d, len, "512M", true, NULL, NULL, "payload is gzip-compressed");
    memcpy(payload, "\x01\x02\x03\x04", 4);
    expect_error(d, len, "512M", true, NULL, NULL, "unknown kernel payload format");
    free(d);
}
END_TEST

START_TEST(kernel_or_initrd_too_big_for_ram)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    expect_error(d, len, "32M", true, NULL, NULL, "too big for RAM");
    expect_error(d, len, "32M", false, NULL, NULL, "too big for RAM");

    /* 128 MiB: the kernel claims 16 MiB + init_size, leaving less than the
     * initrd's 64 MiB below the end of RAM. */
    char *dir = test_tmpdir();
    char *big = path_join(dir, "big.initrd");
    FILE *f = fopen(big, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 64 << 20), 0); /* sparse: no 64 MiB written */
    fclose(f);
    expect_error(d, len, "128M", false, big, NULL, "does not fit between the end of the kernel");
    unlink(big);
    rmdir(dir);
    free(big);
    free(dir);
    expect_error(d, len, "128M", false, write_bytes("empty.initrd", "", 0), NULL, "is empty");
    free(d);
}
END_TEST

START_TEST(command_line_longer_than_cmdline_size_is_refused)
{
    size_t len;
    uint8_t *d = read_kernel(&len);
    char line[2100];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    expect_error(d, len, "512M", false, NULL, line,
                 "command line is 2099 bytes but the kernel accepts at most 2047");
    line[2047] = '\0';
    const char *path = write_bytes("vmlinuz-ok", d, len);
    struct simulation sim;
    struct system *s = make_system(&sim, "256M");
    struct linux_boot_config cfg = {path, NULL, line, false, 0};
    struct linux_boot_info info;
    struct x86_state st;
    ck_assert_msg(linux_boot(s, &cfg, &info, &st) == 0, "%s", err_get());
    ck_assert_uint_eq(strlen((const char *)ram(s, PC_BOOT_CMDLINE, 2048)), 2047);
    sim_destroy(&sim);
    free(d);
}
END_TEST

START_TEST(elf_or_missing_files_are_not_bzimages)
{
    static const uint8_t elf[512] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    expect_error(elf, sizeof(elf), "512M", true, NULL, NULL, "not a Linux bzImage but an ELF file");
    struct simulation sim;
    struct system *s = make_system(&sim, "512M");
    struct linux_boot_config cfg = {"/nonexistent/vmlinuz", NULL, "", true, 0};
    struct linux_boot_info info;
    struct x86_state st;
    ck_assert_int_eq(linux_boot(s, &cfg, &info, &st), -1);
    ck_assert_err_has("cannot open /nonexistent/vmlinuz");
    sim_destroy(&sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("linux_loader");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, setup_header_fields_match_the_measured_kernel);
    tcase_add_test(tc, xz_payload_extracts_to_the_vmlinux_elf);
    tcase_add_test(tc, boot_params_e820_cmdline_initrd_and_entry_state);
    tcase_add_test(tc, without_decompression_enters_the_bzimage_at_0x200);
    tcase_add_test(tc, loader_object_passes_the_rsdp_and_starts_the_cpu);
    tcase_add_test(tc, truncated_copies_are_reported_as_truncated);
    tcase_add_test(tc, wrong_magic_and_old_protocols_are_refused);
    tcase_add_test(tc, corrupt_or_foreign_payloads_name_the_problem);
    tcase_add_test(tc, kernel_or_initrd_too_big_for_ram);
    tcase_add_test(tc, command_line_longer_than_cmdline_size_is_refused);
    tcase_add_test(tc, elf_or_missing_files_are_not_bzimages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
