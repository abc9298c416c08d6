/* The Multiboot v1 loader: kernels built byte by byte here (a.out-kludge
 * flat binaries and ELF32), the information structure read back from RAM,
 * the entry state, and each kind of bad header. */
#include "boot/bootstate.h"
#include "boot/multiboot.h"
#include "boot_testutil.h"
#include "mem/pc_layout.h"

#define LOAD 0x100000u

static uint8_t img[16384];

/* A Multiboot header at file offset off with the given flags and, when
 * flags bit 16 is set, address fields. */
static void put_header(uint8_t *p, size_t off, uint32_t flags, uint32_t header_addr,
                       uint32_t load_addr, uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
    wr(p + off, MULTIBOOT_HEADER_MAGIC, 4);
    wr(p + off + 4, flags, 4);
    wr(p + off + 8, (uint32_t)-(MULTIBOOT_HEADER_MAGIC + flags), 4);
    wr(p + off + 12, header_addr, 4);
    wr(p + off + 16, load_addr, 4);
    wr(p + off + 20, load_end, 4);
    wr(p + off + 24, bss_end, 4);
    wr(p + off + 28, entry, 4);
}

/* A 0x200-byte flat kernel: header at 0x40, code bytes at 0x80. */
static const char *flat_kernel(uint32_t load_end, uint32_t bss_end, size_t *len)
{
    memset(img, 0, sizeof(img));
    for (int i = 0; i < 0x200; i++)
        img[i] = (uint8_t)(i * 7 + 1);
    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES | MULTIBOOT_FLAG_MEMORY_INFO, LOAD + 0x40,
               LOAD, load_end, bss_end, LOAD + 0x80);
    *len = 0x200;
    return write_bytes("kernel.flat", img, 0x200);
}

START_TEST(aout_kludge_kernel_loads_and_gets_boot_information)
{
    size_t len;
    const char *path = flat_kernel(0, LOAD + 0x2000, &len);
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    memset(ram(s, LOAD, 0x2000), 0xAA, 0x2000);
    struct multiboot_info info;
    struct x86_state st;
    ck_assert_msg(multiboot_boot(s, path, "verbose x=1", &info, &st) == 0, "%s", err_get());
    ck_assert(info.used_addresses);
    ck_assert_mem_eq(ram(s, LOAD, len), img, len);
    for (uint32_t a = LOAD + len; a < LOAD + 0x2000; a++)
        ck_assert_uint_eq(*ram(s, a, 1), 0);

    ck_assert_uint_eq(st.rip, LOAD + 0x80);
    ck_assert_uint_eq(st.gpr[R_RAX], 0x2BADB002);
    ck_assert_uint_eq(st.gpr[R_RBX], PC_BOOT_MULTIBOOT_INFO);
    ck_assert_uint_eq(st.seg[S_CS].selector, BOOT_SEL_CODE32);
    ck_assert_uint_eq(st.seg[S_CS].db, 1);
    ck_assert_uint_eq(st.seg[S_DS].selector, BOOT_SEL_DATA);
    ck_assert_uint_eq(st.seg[S_DS].limit, 0xffffffff);
    ck_assert_uint_eq(st.cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE);
    ck_assert(!(st.rflags & (X86_FLAG_IF | X86_FLAG_VM)));

    const uint8_t *mbi = ram(s, PC_BOOT_MULTIBOOT_INFO, MBI_SIZE);
    ck_assert_uint_eq(rd(mbi + MBI_FLAGS, 4),
                      MBI_HAS_MEMORY | MBI_HAS_CMDLINE | MBI_HAS_MMAP | MBI_HAS_LOADER_NAME);
    ck_assert_uint_eq(rd(mbi + MBI_MEM_LOWER, 4), 639);
    ck_assert_uint_eq(rd(mbi + MBI_MEM_UPPER, 4), 63 * 1024);
    uint32_t cmd = rd(mbi + MBI_CMDLINE, 4);
    char want[512];
    snprintf(want, sizeof(want), "%s verbose x=1", path);
    ck_assert_str_eq((const char *)ram(s, cmd, strlen(want) + 1), want);
    ck_assert_str_eq((const char *)ram(s, rd(mbi + MBI_BOOT_LOADER_NAME, 4), 7), "tandem");

    /* mmap: 3 entries for a 64 MiB machine, walked by their size fields. */
    uint32_t mlen = rd(mbi + MBI_MMAP_LENGTH, 4), maddr = rd(mbi + MBI_MMAP_ADDR, 4);
    const uint64_t want_map[3][3] = {{0, PC_EBDA_START, 1},
                                     {PC_EBDA_START, 0x100000 - PC_EBDA_START, 2},
                                     {0x100000, (64 << 20) - 0x100000, 1}};
    unsigned n = 0;
    for (uint32_t off = 0; off < mlen; n++) {
        const uint8_t *e = ram(s, maddr + off, 24);
        ck_assert_uint_lt(n, 3);
        ck_assert_uint_eq(rd(e + 4, 8), want_map[n][0]);
        ck_assert_uint_eq(rd(e + 12, 8), want_map[n][1]);
        ck_assert_uint_eq(rd(e + 20, 4), want_map[n][2]);
        off += rd(e, 4) + 4;
    }
    ck_assert_uint_eq(n, 3);
    sim_destroy(&sim);
}
END_TEST

START_TEST(aout_kludge_load_end_limits_what_is_loaded)
{
    size_t len;
    const char *path = flat_kernel(LOAD + 0x100, 0, &len);
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    memset(ram(s, LOAD, 0x200), 0xAA, 0x200);
    struct multiboot_info info;
    struct x86_state st;
    ck_assert_msg(multiboot_boot(s, path, "", &info, &st) == 0, "%s", err_get());
    ck_assert_mem_eq(ram(s, LOAD, 0x100), img, 0x100);
    ck_assert_uint_eq(*ram(s, LOAD + 0x100, 1), 0xAA);
    ck_assert_uint_eq(info.load_hi, LOAD + 0x100);
    /* An empty cmdline leaves just the kernel name. */
    ck_assert_str_eq((const char *)ram(s, PC_BOOT_CMDLINE, strlen(path) + 1), path);
    sim_destroy(&sim);
}
END_TEST

/* An ELF32 kernel with one segment at 0x200000 that carries the Multiboot
 * header (no address fields) at file offset 0x100. */
static const char *elf32_kernel(size_t *len)
{
    memset(img, 0, sizeof(img));
    memcpy(img, "\x7f" "ELF", 4);
    img[4] = 1;
    img[5] = 1;
    img[6] = 1;
    wr(img + 16, 2, 2);
    wr(img + 18, 3, 2);
    wr(img + 20, 1, 4);
    wr(img + 24, 0x200010, 4);
    wr(img + 28, 52, 4);
    wr(img + 40, 52, 2);
    wr(img + 42, 32, 2);
    wr(img + 44, 1, 2);
    uint8_t *ph = img + 52;
    wr(ph, 1, 4);
    wr(ph + 4, 0x100, 4);
    wr(ph + 8, 0x200000, 4);
    wr(ph + 12, 0x200000, 4);
    wr(ph + 16, 0x100, 4);
    wr(ph + 20, 0x1000, 4);
    put_header(img, 0x100, MULTIBOOT_FLAG_PAGE_ALIGN | MULTIBOOT_FLAG_MEMORY_INFO, 0, 0, 0, 0, 0);
    img[0x110] = 0xf4;
    *len = 0x200;
    return write_bytes("kernel.elf", img, 0x200);
}

START_TEST(elf32_multiboot_kernel_loads_by_program_headers)
{
    size_t len;
    const char *path = elf32_kernel(&len);
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    struct multiboot_info info;
    struct x86_state st;
    ck_assert_msg(multiboot_boot(s, path, "a b", &info, &st) == 0, "%s", err_get());
    ck_assert(!info.used_addresses);
    ck_assert_uint_eq(st.rip, 0x200010);
    ck_assert_uint_eq(*ram(s, 0x200010, 1), 0xf4);
    ck_assert_uint_eq(rd(ram(s, 0x200000, 4), 4), MULTIBOOT_HEADER_MAGIC);
    ck_assert_uint_eq(*ram(s, 0x200fff, 1), 0);
    ck_assert_uint_eq(st.gpr[R_RAX], MULTIBOOT_BOOTLOADER_MAGIC);
    sim_destroy(&sim);
}
END_TEST

static void expect_error(const void *data, size_t len, const char *want)
{
    const char *path = write_bytes("bad.bin", data, len);
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    struct multiboot_info info;
    struct x86_state st;
    ck_assert_int_eq(multiboot_boot(s, path, "", &info, &st), -1);
    ck_assert_err_has(want);
    ck_assert_err_has(path);
    sim_destroy(&sim);
}

START_TEST(bad_multiboot_kernels_give_clear_errors)
{
    size_t len;
    flat_kernel(0, 0, &len);
    img[0x48] ^= 1; /* checksum */
    expect_error(img, len, "no Multiboot header");

    /* A valid header beyond the first 8192 bytes is not found. */
    memset(img, 0, sizeof(img));
    put_header(img, 8192, MULTIBOOT_FLAG_ADDRESSES, LOAD + 8192, LOAD, 0, 0, LOAD);
    expect_error(img, 8192 + 64, "in the first 8192 bytes");

    flat_kernel(0, 0, &len);
    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES | MULTIBOOT_FLAG_VIDEO_MODE, LOAD + 0x40, LOAD,
               0, 0, LOAD + 0x80);
    expect_error(img, len, "video mode");

    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES | (1u << 5), LOAD + 0x40, LOAD, 0, 0,
               LOAD + 0x80);
    expect_error(img, len, "required flags 0x20");

    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, LOAD + 0x40, LOAD, LOAD + 0x1000, 0,
               LOAD + 0x80);
    expect_error(img, len, "truncated");

    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, LOAD + 0x1000, LOAD, 0, 0, LOAD + 0x80);
    expect_error(img, len, "before the beginning of the file");

    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, 0x8040, 0x8000, 0, 0, 0x8080);
    expect_error(img, len, "below 1 MiB");

    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, LOAD + 0x40, LOAD, 0, 0, LOAD + 0x5000);
    expect_error(img, len, "entry_addr 0x105000 lies outside");

    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, LOAD + 0x40, LOAD, 0, LOAD + 0x10,
               LOAD + 0x80);
    expect_error(img, len, "bss_end_addr");

    put_header(img, 0x40, 0, 0, 0, 0, 0, 0);
    expect_error(img, len, "not ELF: cannot tell where to load it");

    /* Truncated inside the address fields. */
    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, LOAD + 0x40, LOAD, 0, 0, LOAD + 0x80);
    expect_error(img, 0x50, "truncated Multiboot header");

    /* Too big for a 64 MiB machine. */
    put_header(img, 0x40, MULTIBOOT_FLAG_ADDRESSES, LOAD + 0x40, LOAD, 0, 0x5000000, LOAD + 0x80);
    expect_error(img, len, "not all RAM");
}
END_TEST

START_TEST(multiboot_loader_object_starts_the_cpu)
{
    size_t len;
    const char *path = flat_kernel(0, 0, &len);
    struct simulation sim;
    struct cpu *cpu = make_machine_with_cpu(&sim, "64M");
    struct sim_object *l = sim_create(&sim, "MultibootLoader", "system.loader");
    ck_assert_ptr_nonnull(l);
    set_param(l, "kernel", path);
    set_param(l, "cmdline", "console=serial");
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    ck_assert_uint_eq(cpu->state.rip, LOAD + 0x80);
    ck_assert_uint_eq(cpu->state.gpr[R_RAX], MULTIBOOT_BOOTLOADER_MAGIC);
    ck_assert_uint_eq(cpu->state.gpr[R_RBX], PC_BOOT_MULTIBOOT_INFO);
    ck_assert_uint_eq(cpu->state.seg[S_CS].selector, BOOT_SEL_CODE32);
    sim_destroy(&sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("multiboot");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, aout_kludge_kernel_loads_and_gets_boot_information);
    tcase_add_test(tc, aout_kludge_load_end_limits_what_is_loaded);
    tcase_add_test(tc, elf32_multiboot_kernel_loads_by_program_headers);
    tcase_add_test(tc, bad_multiboot_kernels_give_clear_errors);
    tcase_add_test(tc, multiboot_loader_object_starts_the_cpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
