/* Multiboot v1 loader (Multiboot Specification 0.6.96, sections 3.1-3.3)
 * and the MultibootLoader sim object; see boot/multiboot.h, docs/boot.md. */
#include "boot/multiboot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootstate.h"
#include "boot/elf.h"
#include "cpu/cpu.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/serialize.h"
#include "sim/util.h"

#define LOADER_NAME "tandem"

static uint32_t get_le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int multiboot_find_header(const uint8_t *data, size_t len, const char *name,
                          struct multiboot_header *h)
{
    memset(h, 0, sizeof(*h));
    size_t limit = len < MULTIBOOT_SEARCH_LIMIT ? len : MULTIBOOT_SEARCH_LIMIT;
    size_t off;
    for (off = 0; off + 12 <= limit; off += 4) {
        if (get_le32(data + off) != MULTIBOOT_HEADER_MAGIC)
            continue;
        uint32_t flags = get_le32(data + off + 4);
        if (get_le32(data + off) + flags + get_le32(data + off + 8) == 0)
            break;
    }
    if (off + 12 > limit) {
        err_set("%s: no Multiboot header (magic 0x1BADB002 with a valid checksum, 4-byte "
                "aligned) in the first %zu bytes", name, limit);
        return -1;
    }
    h->offset = off;
    h->flags = get_le32(data + off + 4);
    if (h->flags & MULTIBOOT_FLAG_VIDEO_MODE) {
        err_set("%s: the Multiboot header requires a video mode (flags bit 2); tandem boots "
                "in text mode only", name);
        return -1;
    }
    uint32_t unknown = h->flags & 0xFFF8u;
    if (unknown) {
        err_set("%s: the Multiboot header sets required flags 0x%x that tandem does not know",
                name, unknown);
        return -1;
    }
    if (h->flags & MULTIBOOT_FLAG_ADDRESSES) {
        if (off + 32 > len) {
            err_set("%s: truncated Multiboot header at offset 0x%zx (the address fields are "
                    "missing)", name, off);
            return -1;
        }
        h->header_addr = get_le32(data + off + 12);
        h->load_addr = get_le32(data + off + 16);
        h->load_end_addr = get_le32(data + off + 20);
        h->bss_end_addr = get_le32(data + off + 24);
        h->entry_addr = get_le32(data + off + 28);
    }
    return 0;
}

/* Flags bit 16: the file from (header offset - (header_addr - load_addr))
 * goes to load_addr, up to load_end_addr (0: the end of the file), then
 * zeroes up to bss_end_addr (0: no bss). */
static int load_with_addresses(struct system *s, const uint8_t *data, size_t len,
                               const char *name, struct multiboot_info *info)
{
    const struct multiboot_header *h = &info->hdr;
    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > h->offset) {
        err_set("%s: Multiboot load_addr 0x%x and header_addr 0x%x put the image start before "
                "the beginning of the file (header at file offset 0x%zx)", name, h->load_addr,
                h->header_addr, h->offset);
        return -1;
    }
    size_t file_start = h->offset - (h->header_addr - h->load_addr);
    uint64_t load_size = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr
                                          : (uint64_t)(len - file_start);
    if (h->load_end_addr && h->load_end_addr <= h->load_addr) {
        err_set("%s: Multiboot load_end_addr 0x%x is not above load_addr 0x%x", name,
                h->load_end_addr, h->load_addr);
        return -1;
    }
    if (load_size > len - file_start) {
        err_set("%s: truncated: Multiboot load range 0x%x-0x%x needs %llu bytes from file "
                "offset 0x%zx but the file has %zu bytes", name, h->load_addr, h->load_end_addr,
                (unsigned long long)load_size, file_start, len);
        return -1;
    }
    uint64_t load_end = h->load_addr + load_size;
    uint64_t bss_end = h->bss_end_addr ? h->bss_end_addr : load_end;
    if (bss_end < load_end) {
        err_set("%s: Multiboot bss_end_addr 0x%x is below the end of the loaded image 0x%llx",
                name, h->bss_end_addr, (unsigned long long)load_end);
        return -1;
    }
    if (h->entry_addr < h->load_addr || h->entry_addr >= bss_end) {
        err_set("%s: Multiboot entry_addr 0x%x lies outside the image 0x%x-0x%llx", name,
                h->entry_addr, h->load_addr, (unsigned long long)bss_end);
        return -1;
    }
    if (h->load_addr < PC_HIMEM_START) {
        err_set("%s: Multiboot load_addr 0x%x is below 1 MiB, where the boot structures live",
                name, h->load_addr);
        return -1;
    }
    char what[512];
    snprintf(what, sizeof(what), "%s: Multiboot image", name);
    if (boot_copy_to_ram(s, h->load_addr, data + file_start, load_size, what) < 0 ||
        boot_zero_ram(s, load_end, bss_end - load_end, what) < 0)
        return -1;
    info->used_addresses = true;
    info->load_lo = h->load_addr;
    info->load_hi = bss_end;
    info->entry = h->entry_addr;
    return 0;
}

static int load_elf(struct system *s, const uint8_t *data, size_t len, const char *name,
                    struct multiboot_info *info)
{
    struct elf_image img;
    uint64_t entry;
    if (elf_parse(data, len, name, &img) < 0 || elf_entry_phys(&img, name, &entry) < 0)
        return -1;
    elf_phys_extent(&img, &info->load_lo, &info->load_hi);
    if (info->load_hi > (1ULL << 32) || entry > UINT32_MAX) {
        err_set("%s: a Multiboot kernel must lie below 4 GiB (it spans 0x%llx-0x%llx, entry "
                "0x%llx)", name, (unsigned long long)info->load_lo,
                (unsigned long long)info->load_hi, (unsigned long long)entry);
        return -1;
    }
    if (elf_load(s, data, &img, name, PC_HIMEM_START) < 0)
        return -1;
    info->entry = entry;
    return 0;
}

static int write_info(struct system *s, const char *path, const char *cmdline)
{
    /* Like GRUB and QEMU, the command line starts with the kernel's name
     * (kvm-unit-tests take it as argv[0]). */
    char *line;
    if (asprintf(&line, "%s%s%s", path, *cmdline ? " " : "", cmdline) < 0) {
        err_set("out of memory");
        return -1;
    }
    size_t line_len = strlen(line);
    if (line_len >= PC_BOOT_CMDLINE_MAX) {
        err_set("the Multiboot command line is %zu bytes (at most %llu)", line_len,
                (unsigned long long)PC_BOOT_CMDLINE_MAX - 1);
        free(line);
        return -1;
    }
    int rc = boot_copy_to_ram(s, PC_BOOT_CMDLINE, line, line_len + 1, "Multiboot command line");
    free(line);
    if (rc < 0)
        return -1;

    uint8_t page[4096] = {0};
    struct e820_entry map[BOOT_E820_MAX];
    unsigned n = boot_e820_map(s, map);
    uint64_t low_end = boot_low_ram_end(s);
    /* mmap entries: size (of the rest, 20), base, length, type. */
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = page + MBI_MMAP_OFFSET + 24 * i;
        put_le(e, 20, 4);
        put_le(e + 4, map[i].addr, 8);
        put_le(e + 12, map[i].size, 8);
        put_le(e + 20, map[i].type, 4);
    }
    memcpy(page + MBI_LOADER_NAME_OFFSET, LOADER_NAME, sizeof(LOADER_NAME));
    put_le(page + MBI_FLAGS, MBI_HAS_MEMORY | MBI_HAS_CMDLINE | MBI_HAS_MMAP |
                                 MBI_HAS_LOADER_NAME, 4);
    put_le(page + MBI_MEM_LOWER, PC_EBDA_START / 1024, 4);
    put_le(page + MBI_MEM_UPPER, (low_end - PC_HIMEM_START) / 1024, 4);
    put_le(page + MBI_CMDLINE, PC_BOOT_CMDLINE, 4);
    put_le(page + MBI_MMAP_LENGTH, 24 * n, 4);
    put_le(page + MBI_MMAP_ADDR, PC_BOOT_MULTIBOOT_INFO + MBI_MMAP_OFFSET, 4);
    put_le(page + MBI_BOOT_LOADER_NAME, PC_BOOT_MULTIBOOT_INFO + MBI_LOADER_NAME_OFFSET, 4);
    return boot_copy_to_ram(s, PC_BOOT_MULTIBOOT_INFO, page, sizeof(page),
                            "Multiboot information");
}

int multiboot_boot(struct system *s, const char *path, const char *cmdline,
                   struct multiboot_info *info, struct x86_state *st)
{
    memset(info, 0, sizeof(*info));
    size_t len;
    uint8_t *data = read_whole_file(path, &len);
    if (!data)
        return -1;
    int rc = multiboot_find_header(data, len, path, &info->hdr);
    if (rc == 0 && (info->hdr.flags & MULTIBOOT_FLAG_ADDRESSES)) {
        rc = load_with_addresses(s, data, len, path, info);
    } else if (rc == 0 && elf_is_elf(data, len)) {
        rc = load_elf(s, data, len, path, info);
    } else if (rc == 0) {
        err_set("%s: the Multiboot header has no address fields (flags bit 16) and the file is "
                "not ELF: cannot tell where to load it", path);
        rc = -1;
    }
    free(data);
    if (rc < 0 || write_info(s, path, cmdline) < 0 || boot_write_tables(s) < 0)
        return -1;
    boot_state_protected_mode(st, info->entry, PC_BOOT_STACK);
    st->gpr[R_RAX] = MULTIBOOT_BOOTLOADER_MAGIC;
    st->gpr[R_RBX] = PC_BOOT_MULTIBOOT_INFO;
    return 0;
}

/* ---- The MultibootLoader sim object ---- */

struct multiboot_loader {
    struct sim_object obj;
    /* params */
    char *kernel;
    char *cmdline;
    struct sim_object *cpu_ref;

    struct system *system;
    struct cpu *cpu;
    struct x86_state entry_state; /* handed to the CPU at startup */
    struct multiboot_info info;
};

static int multiboot_loader_init(struct sim_object *o)
{
    struct multiboot_loader *l = SIM_CAST(struct multiboot_loader, o);
    if (boot_loader_attach(o, l->cpu_ref, &l->system, &l->cpu) < 0 ||
        multiboot_boot(l->system, l->kernel, l->cmdline, &l->info, &l->entry_state) < 0)
        return -1;
    log_info("%s: Multiboot %s loaded at 0x%llx-0x%llx (%s), entry 0x%x", o->path, l->kernel,
             (unsigned long long)l->info.load_lo, (unsigned long long)l->info.load_hi,
             l->info.used_addresses ? "header address fields" : "ELF", l->info.entry);
    return 0;
}

static void multiboot_loader_startup(struct sim_object *o)
{
    struct multiboot_loader *l = SIM_CAST(struct multiboot_loader, o);
    boot_start_cpu(l->cpu, &l->entry_state);
}

/* The image and the information structure are guest RAM and the entry
 * state is the CPU's; the loader keeps only what it loaded. */
static void multiboot_loader_serialize(struct sim_object *o, struct ser_node *n)
{
    struct multiboot_loader *l = SIM_CAST(struct multiboot_loader, o);
    SER_PUT(n, l, info.load_lo);
    SER_PUT(n, l, info.load_hi);
    SER_PUT(n, l, info.entry);
}

static int multiboot_loader_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct multiboot_loader *l = SIM_CAST(struct multiboot_loader, o);
    return SER_GET(n, l, info.load_lo) | SER_GET(n, l, info.load_hi) | SER_GET(n, l, info.entry)
               ? -1 : 0;
}

static const struct param_desc multiboot_loader_params[] = {
    PARAM_STRING_REQUIRED_(struct multiboot_loader, kernel, "Path of the Multiboot kernel"),
    PARAM_STRING_(struct multiboot_loader, cmdline, "",
                  "Command line (the kernel path is prepended, as GRUB and QEMU do)"),
    {"cpu", PARAM_OBJECT, PARAM_FIELD_(struct multiboot_loader, cpu_ref), "", 1, 0, NULL, "CPU",
     "", "The CPU that starts the kernel; default: the first CPU"},
    PARAM_END,
};

static struct sim_type multiboot_loader_type = {
    .name = "MultibootLoader",
    .help = "Loads a Multiboot v1 kernel (ELF or a.out-kludge) and enters it in 32-bit "
            "protected mode",
    .size = sizeof(struct multiboot_loader),
    .params = multiboot_loader_params,
    .ops = {.init = multiboot_loader_init, .startup = multiboot_loader_startup,
            .serialize = multiboot_loader_serialize,
            .unserialize = multiboot_loader_unserialize},
};
SIM_TYPE_REGISTER(multiboot_loader_type);
