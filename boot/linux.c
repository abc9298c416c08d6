/* The Linux bzImage loader, 64-bit boot protocol (Documentation/x86/boot.rst
 * "64-bit Boot Protocol", zero-page.rst). See boot/linux.h and docs/boot.md. */
#include "boot/linux.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/acpi.h"
#include "boot/bootstate.h"
#include "boot/elf.h"
#include "cpu/cpu.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/serialize.h"
#include "sim/util.h"

#define LOADED_HIGH 0x01       /* loadflags bit 0: protected-mode code at 1 MiB+ */
#define INITRD_ALIGN 0x1000ULL /* initrds start on a page boundary */
#define MAX_DECOMPRESSED (1ULL << 30) /* sanity bound on the payload trailer */

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int linux_parse_header(const uint8_t *data, size_t len, const char *name,
                       struct linux_header *h)
{
    memset(h, 0, sizeof(*h));
    if (elf_is_elf(data, len)) {
        err_set("%s: not a Linux bzImage but an ELF file (a vmlinux?): load it with ElfLoader, "
                "or give LinuxLoader the bzImage", name);
        return -1;
    }
    if (len < LINUX_HDR_MAGIC + 4) {
        err_set("%s: truncated: %zu bytes is too short for a Linux setup header", name, len);
        return -1;
    }
    if (get_le(data + LINUX_HDR_BOOT_FLAG, 2) != 0xAA55) {
        err_set("%s: not a Linux bzImage: no boot flag 0xAA55 at offset 0x1FE", name);
        return -1;
    }
    if (memcmp(data + LINUX_HDR_MAGIC, "HdrS", 4) != 0) {
        err_set("%s: not a Linux bzImage: no \"HdrS\" magic at offset 0x202 (a kernel older "
                "than boot protocol 2.00?)", name);
        return -1;
    }
    h->version = get_le(data + LINUX_HDR_VERSION, 2);
    if (h->version < LINUX_MIN_PROTOCOL) {
        err_set("%s: Linux boot protocol %u.%02u is older than 2.12, the first with a "
                "64-bit entry point; tandem needs 2.12 or newer", name, h->version >> 8,
                h->version & 0xff);
        return -1;
    }
    h->header_end = LINUX_HDR_MAGIC + data[LINUX_HDR_JUMP + 1];
    if (h->header_end < LINUX_HDR_INIT_SIZE + 4) {
        err_set("%s: setup header ends at 0x%zx, before the init_size field a protocol "
                "%u.%02u header has", name, h->header_end, h->version >> 8, h->version & 0xff);
        return -1;
    }
    if (h->header_end > len) {
        err_set("%s: truncated: the setup header runs to 0x%zx but the file has %zu bytes",
                name, h->header_end, len);
        return -1;
    }
    h->setup_sects = data[LINUX_HDR_SETUP_SECTS];
    h->syssize = get_le(data + LINUX_HDR_SYSSIZE, 4);
    h->loadflags = data[LINUX_HDR_LOADFLAGS];
    h->code32_start = get_le(data + LINUX_HDR_CODE32_START, 4);
    h->initrd_addr_max = get_le(data + LINUX_HDR_INITRD_ADDR_MAX, 4);
    h->kernel_alignment = get_le(data + LINUX_HDR_KERNEL_ALIGNMENT, 4);
    h->relocatable = data[LINUX_HDR_RELOCATABLE];
    h->xloadflags = get_le(data + LINUX_HDR_XLOADFLAGS, 2);
    h->cmdline_size = get_le(data + LINUX_HDR_CMDLINE_SIZE, 4);
    h->payload_offset = get_le(data + LINUX_HDR_PAYLOAD_OFFSET, 4);
    h->payload_length = get_le(data + LINUX_HDR_PAYLOAD_LENGTH, 4);
    h->pref_address = get_le(data + LINUX_HDR_PREF_ADDRESS, 8);
    h->init_size = get_le(data + LINUX_HDR_INIT_SIZE, 4);
    h->setup_size = ((size_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;

    if (!(h->loadflags & LOADED_HIGH)) {
        err_set("%s: a zImage (loadflags bit LOADED_HIGH clear): only bzImages are supported",
                name);
        return -1;
    }
    uint64_t kernel_bytes = (uint64_t)h->syssize * 16;
    if (h->setup_size > len || kernel_bytes > len - h->setup_size) {
        err_set("%s: truncated: the file has %zu bytes but its setup header declares %zu bytes "
                "of setup code and %llu of protected-mode kernel", name, len, h->setup_size,
                (unsigned long long)kernel_bytes);
        return -1;
    }
    if (h->payload_length == 0 ||
        (uint64_t)h->payload_offset + h->payload_length > len - h->setup_size) {
        err_set("%s: the kernel payload (offset 0x%x, %u bytes) lies outside the "
                "protected-mode kernel (%zu bytes)", name, h->payload_offset,
                h->payload_length, len - h->setup_size);
        return -1;
    }
    if (h->init_size == 0) {
        err_set("%s: the setup header gives init_size 0", name);
        return -1;
    }
    return 0;
}

const char *linux_payload_format(const uint8_t *p, size_t len)
{
    static const struct { const char *name; unsigned n; const char *magic; } fmts[] = {
        {"xz", 6, "\xfd" "7zXZ\0"},
        {"gzip", 2, "\x1f\x8b"},
        {"bzip2", 3, "BZh"},
        {"lzma", 3, "\x5d\0\0"},
        {"lzo", 5, "\x89LZO\0"},
        {"lz4", 4, "\x02\x21\x4c\x18"},
        {"zstd", 4, "\x28\xb5\x2f\xfd"},
        {"uncompressed ELF", 4, "\x7f" "ELF"},
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
        if (len >= fmts[i].n && memcmp(p, fmts[i].magic, fmts[i].n) == 0)
            return fmts[i].name;
    return NULL;
}

static const char *lzma_error_text(lzma_ret r)
{
    switch (r) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "memory limit reached";
    case LZMA_FORMAT_ERROR: return "not in xz format";
    case LZMA_OPTIONS_ERROR: return "unsupported xz options";
    case LZMA_DATA_ERROR: return "compressed data is corrupt";
    case LZMA_BUF_ERROR: return "compressed data is truncated";
    default: return "unexpected decoder error";
    }
}

/* The kernel build appends the decompressed size (32-bit little-endian)
 * after the xz stream, inside payload_length; the decoder stops at the end
 * of the stream and the result must have exactly that size. */
static int extract_xz(const uint8_t *in, size_t in_len, const char *name, uint8_t **out,
                      size_t *out_len)
{
    if (in_len < 4) {
        err_set("%s: xz payload of %zu bytes is too short", name, in_len);
        return -1;
    }
    uint64_t expect = get_le(in + in_len - 4, 4);
    if (expect == 0 || expect > MAX_DECOMPRESSED) {
        err_set("%s: xz payload trailer gives a decompressed size of %llu bytes, which is not "
                "plausible (corrupt payload?)", name, (unsigned long long)expect);
        return -1;
    }
    uint8_t *buf = malloc(expect);
    if (!buf) {
        err_set("%s: cannot allocate %llu bytes for the decompressed kernel", name,
                (unsigned long long)expect);
        return -1;
    }
    lzma_stream strm = LZMA_STREAM_INIT;
    lzma_ret r = lzma_stream_decoder(&strm, UINT64_MAX, 0);
    if (r != LZMA_OK) {
        free(buf);
        err_set("%s: cannot start the xz decoder: %s", name, lzma_error_text(r));
        return -1;
    }
    strm.next_in = in;
    strm.avail_in = in_len - 4;
    strm.next_out = buf;
    strm.avail_out = expect;
    /* liblzma returns LZMA_OK while it progresses, then LZMA_STREAM_END, or
     * LZMA_BUF_ERROR when it cannot progress: output full before the end
     * of the stream, or input ended early. */
    do
        r = lzma_code(&strm, LZMA_FINISH);
    while (r == LZMA_OK);
    uint64_t got = strm.total_out;
    bool output_full = strm.avail_out == 0;
    lzma_end(&strm);
    if (r == LZMA_BUF_ERROR && output_full) {
        free(buf);
        err_set("%s: xz payload decompresses to more than the %llu bytes its trailer gives "
                "(corrupt payload?)", name, (unsigned long long)expect);
        return -1;
    }
    if (r != LZMA_STREAM_END) {
        free(buf);
        err_set("%s: xz decompression of the kernel payload failed after %llu bytes: %s", name,
                (unsigned long long)got, lzma_error_text(r));
        return -1;
    }
    if (got != expect) {
        free(buf);
        err_set("%s: xz payload decompressed to %llu bytes but its trailer gives %llu "
                "(corrupt payload?)", name, (unsigned long long)got,
                (unsigned long long)expect);
        return -1;
    }
    *out = buf;
    *out_len = got;
    return 0;
}

int linux_extract_elf(const uint8_t *data, size_t len, const struct linux_header *h,
                      const char *name, uint8_t **elf, size_t *elf_len)
{
    (void)len; /* linux_parse_header checked the payload lies inside data */
    const uint8_t *payload = data + h->setup_size + h->payload_offset;
    const char *fmt = linux_payload_format(payload, h->payload_length);
    if (!fmt) {
        err_set("%s: unknown kernel payload format (first bytes %02x %02x %02x %02x)", name,
                payload[0], payload[1], payload[2], payload[3]);
        return -1;
    }
    if (strcmp(fmt, "uncompressed ELF") == 0) {
        *elf = malloc(h->payload_length);
        if (!*elf) {
            err_set("%s: cannot allocate %u bytes for the kernel", name, h->payload_length);
            return -1;
        }
        memcpy(*elf, payload, h->payload_length);
        *elf_len = h->payload_length;
        return 0;
    }
    if (strcmp(fmt, "xz") != 0) {
        err_set("%s: the kernel payload is %s-compressed; tandem decompresses only xz: set "
                "decompress=false to let the kernel decompress itself", name, fmt);
        return -1;
    }
    return extract_xz(payload, h->payload_length, name, elf, elf_len);
}

/* decompress=true: the vmlinux ELF's segments at their physical addresses. */
static int load_vmlinux(struct system *s, const uint8_t *data, size_t len, const char *name,
                        struct linux_boot_info *info)
{
    uint8_t *elf;
    size_t elf_len;
    if (linux_extract_elf(data, len, &info->hdr, name, &elf, &elf_len) < 0)
        return -1;
    char what[512];
    snprintf(what, sizeof(what), "%s (decompressed payload)", name);
    struct elf_image img;
    int rc = elf_parse(elf, elf_len, what, &img);
    if (rc == 0 && !img.is64) {
        err_set("%s: a 32-bit ELF; the 64-bit boot protocol needs an x86-64 kernel", what);
        rc = -1;
    }
    uint64_t lo, hi;
    if (rc == 0) {
        elf_phys_extent(&img, &lo, &hi);
        if (hi > boot_low_ram_end(s)) {
            err_set("%s: the kernel occupies 0x%llx-0x%llx but RAM below 4 GiB ends at 0x%llx "
                    "(%llu MiB machine): too big for RAM", name, (unsigned long long)lo,
                    (unsigned long long)hi, (unsigned long long)boot_low_ram_end(s),
                    (unsigned long long)(s->mem_size >> 20));
            rc = -1;
        }
    }
    if (rc == 0)
        rc = elf_load(s, elf, &img, what, PC_HIMEM_START);
    if (rc == 0)
        rc = elf_entry_phys(&img, what, &info->entry);
    free(elf);
    if (rc < 0)
        return -1;
    info->load_addr = lo;
    if (hi > info->kernel_end)
        info->kernel_end = hi;
    info->elf_segments = img.nsegs;
    return 0;
}

/* decompress=false: the protected-mode kernel at pref_address, entered at
 * its 64-bit entry (+0x200), where it decompresses and relocates itself. */
static int load_bzimage(struct system *s, const uint8_t *data, size_t len, const char *name,
                        struct linux_boot_info *info)
{
    if (!(info->hdr.xloadflags & LINUX_XLF_KERNEL_64)) {
        err_set("%s: the kernel has no 64-bit entry point (xloadflags bit XLF_KERNEL_64 "
                "clear): is it a 32-bit kernel?", name);
        return -1;
    }
    char what[512];
    snprintf(what, sizeof(what), "%s: protected-mode kernel", name);
    if (boot_copy_to_ram(s, info->load_addr, data + info->hdr.setup_size,
                         len - info->hdr.setup_size, what) < 0)
        return -1;
    info->entry = info->load_addr + LINUX_ENTRY64_OFFSET;
    if (info->load_addr + (len - info->hdr.setup_size) > info->kernel_end)
        info->kernel_end = info->load_addr + (len - info->hdr.setup_size);
    return 0;
}

/* Places the initrd at the highest page-aligned address that keeps it below
 * initrd_addr_max and the end of low RAM, and checks it stays above the
 * kernel. */
static int load_initrd(struct system *s, const char *path, struct linux_boot_info *info)
{
    size_t size;
    uint8_t *data = read_whole_file(path, &size);
    if (!data)
        return -1;
    if (size == 0) {
        err_set("initrd %s is empty", path);
        free(data);
        return -1;
    }
    uint64_t top = (uint64_t)info->hdr.initrd_addr_max + 1;
    if (top > boot_low_ram_end(s))
        top = boot_low_ram_end(s);
    uint64_t addr = size <= top ? (top - size) & ~(INITRD_ALIGN - 1) : 0;
    if (size > top || addr < info->kernel_end) {
        err_set("initrd %s (%zu bytes) does not fit between the end of the kernel (0x%llx) and "
                "0x%llx (the lower of initrd_addr_max+1 and the end of low RAM): it would "
                "overlap the kernel; give the machine more memory or use a smaller initrd",
                path, size, (unsigned long long)info->kernel_end, (unsigned long long)top);
        free(data);
        return -1;
    }
    int rc = boot_copy_to_ram(s, addr, data, size, path);
    free(data);
    if (rc < 0)
        return -1;
    info->initrd_addr = addr;
    info->initrd_size = size;
    return 0;
}

static int write_boot_params(struct system *s, const uint8_t *data,
                             const struct linux_boot_config *cfg, struct linux_boot_info *info)
{
    uint8_t bp[LINUX_BOOT_PARAMS_SIZE] = {0};
    /* The setup header goes over unchanged; the sentinel byte at 0x1EF,
     * just before it, stays 0 to tell the kernel boot_params is sane. */
    memcpy(bp + LINUX_HDR_START, data + LINUX_HDR_START, info->hdr.header_end - LINUX_HDR_START);
    bp[LINUX_BP_SENTINEL] = 0;
    bp[LINUX_HDR_TYPE_OF_LOADER] = 0xFF; /* undefined loader ID */
    put_le(bp + LINUX_HDR_CMD_LINE_PTR, PC_BOOT_CMDLINE, 4);
    put_le(bp + LINUX_BP_EXT_CMD_LINE_PTR, PC_BOOT_CMDLINE >> 32, 4);
    put_le(bp + LINUX_HDR_RAMDISK_IMAGE, info->initrd_addr, 4);
    put_le(bp + LINUX_HDR_RAMDISK_SIZE, info->initrd_size, 4);
    put_le(bp + LINUX_BP_EXT_RAMDISK_IMAGE, info->initrd_addr >> 32, 4);
    put_le(bp + LINUX_BP_EXT_RAMDISK_SIZE, info->initrd_size >> 32, 4);
    put_le(bp + LINUX_BP_ACPI_RSDP, cfg->rsdp_addr, 8);

    struct e820_entry map[BOOT_E820_MAX];
    unsigned n = boot_e820_map(s, map);
    _Static_assert(BOOT_E820_MAX <= LINUX_BP_E820_MAX, "e820 map fits the zero page");
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = bp + LINUX_BP_E820_TABLE + 20 * i;
        put_le(e, map[i].addr, 8);
        put_le(e + 8, map[i].size, 8);
        put_le(e + 16, map[i].type, 4);
    }
    bp[LINUX_BP_E820_ENTRIES] = n;
    info->e820_entries = n;
    return boot_copy_to_ram(s, PC_BOOT_PARAMS, bp, sizeof(bp), "Linux boot_params");
}

static int boot_with_file(struct system *s, const uint8_t *data, size_t len,
                          const struct linux_boot_config *cfg, struct linux_boot_info *info,
                          struct x86_state *st)
{
    const char *name = cfg->kernel;
    if (linux_parse_header(data, len, name, &info->hdr) < 0)
        return -1;
    size_t cmdline_len = strlen(cfg->cmdline);
    if (cmdline_len > info->hdr.cmdline_size || cmdline_len >= PC_BOOT_CMDLINE_MAX) {
        err_set("%s: the command line is %zu bytes but the kernel accepts at most %u", name,
                cmdline_len, info->hdr.cmdline_size < PC_BOOT_CMDLINE_MAX - 1
                                 ? info->hdr.cmdline_size : (unsigned)PC_BOOT_CMDLINE_MAX - 1);
        return -1;
    }
    /* The kernel runs from pref_address (its LOAD_PHYSICAL_ADDR) and claims
     * init_size bytes there while it sets itself up. */
    info->load_addr = info->hdr.pref_address;
    uint64_t low_end = boot_low_ram_end(s);
    if (info->hdr.pref_address < PC_HIMEM_START) {
        err_set("%s: the kernel's preferred load address 0x%llx is below 1 MiB", name,
                (unsigned long long)info->hdr.pref_address);
        return -1;
    }
    if (info->hdr.pref_address > low_end ||
        info->hdr.init_size > low_end - info->hdr.pref_address) {
        err_set("%s: the kernel needs 0x%llx-0x%llx (init_size %u MiB at 0x%llx) but RAM below "
                "4 GiB ends at 0x%llx (%llu MiB machine): too big for RAM", name,
                (unsigned long long)info->hdr.pref_address,
                (unsigned long long)(info->hdr.pref_address + info->hdr.init_size),
                info->hdr.init_size >> 20,
                (unsigned long long)info->hdr.pref_address, (unsigned long long)low_end,
                (unsigned long long)(s->mem_size >> 20));
        return -1;
    }
    info->kernel_end = info->hdr.pref_address + info->hdr.init_size;
    if (cfg->decompress ? load_vmlinux(s, data, len, name, info) < 0
                        : load_bzimage(s, data, len, name, info) < 0)
        return -1;
    if (cfg->initrd && *cfg->initrd && load_initrd(s, cfg->initrd, info) < 0)
        return -1;
    if (boot_copy_to_ram(s, PC_BOOT_CMDLINE, cfg->cmdline, cmdline_len + 1,
                         "Linux command line") < 0 ||
        write_boot_params(s, data, cfg, info) < 0 || boot_write_tables(s) < 0)
        return -1;
    boot_state_long_mode(st, info->entry, PC_BOOT_STACK);
    st->gpr[R_RSI] = PC_BOOT_PARAMS;
    return 0;
}

int linux_boot(struct system *s, const struct linux_boot_config *cfg,
               struct linux_boot_info *info, struct x86_state *st)
{
    memset(info, 0, sizeof(*info));
    size_t len;
    uint8_t *data = read_whole_file(cfg->kernel, &len);
    if (!data)
        return -1;
    int rc = boot_with_file(s, data, len, cfg, info, st);
    free(data);
    return rc;
}

/* ---- The LinuxLoader sim object ---- */

struct linux_loader {
    struct sim_object obj;
    /* params */
    char *kernel;
    char *initrd;
    char *cmdline;
    bool decompress;
    struct sim_object *cpu_ref;

    struct system *system;
    struct cpu *cpu;
    struct x86_state entry_state; /* handed to the CPU at startup */
    struct linux_boot_info info;
};

static int linux_loader_init(struct sim_object *o)
{
    struct linux_loader *l = SIM_CAST(struct linux_loader, o);
    if (boot_loader_attach(o, l->cpu_ref, &l->system, &l->cpu) < 0)
        return -1;
    struct linux_boot_config cfg = {
        .kernel = l->kernel,
        .initrd = l->initrd,
        .cmdline = l->cmdline,
        .decompress = l->decompress,
        .rsdp_addr = acpi_rsdp_address(o->sim),
    };
    if (linux_boot(l->system, &cfg, &l->info, &l->entry_state) < 0)
        return -1;
    log_info("%s: Linux %s (boot protocol %u.%02u%s) at 0x%llx, entry 0x%llx%s%s, "
             "cmdline \"%s\"%s",
             o->path, l->kernel, l->info.hdr.version >> 8, l->info.hdr.version & 0xff,
             l->decompress ? ", xz payload loaded as ELF" : ", self-decompressing",
             (unsigned long long)l->info.load_addr, (unsigned long long)l->info.entry,
             l->info.initrd_size ? ", initrd " : "", l->info.initrd_size ? l->initrd : "",
             l->cmdline, cfg.rsdp_addr ? "" : " (no ACPI tables: acpi_rsdp_addr is 0)");
    return 0;
}

static void linux_loader_startup(struct sim_object *o)
{
    struct linux_loader *l = SIM_CAST(struct linux_loader, o);
    boot_start_cpu(l->cpu, &l->entry_state);
}

/* What was loaded; the kernel and boot structures themselves are guest RAM
 * and the entry state is the CPU's, both saved by their owners. */
static void linux_loader_serialize(struct sim_object *o, struct ser_node *n)
{
    struct linux_loader *l = SIM_CAST(struct linux_loader, o);
    SER_PUT(n, l, info.load_addr);
    SER_PUT(n, l, info.kernel_end);
    SER_PUT(n, l, info.entry);
    SER_PUT(n, l, info.initrd_addr);
    SER_PUT(n, l, info.initrd_size);
}

static int linux_loader_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct linux_loader *l = SIM_CAST(struct linux_loader, o);
    return SER_GET(n, l, info.load_addr) | SER_GET(n, l, info.kernel_end) |
                   SER_GET(n, l, info.entry) | SER_GET(n, l, info.initrd_addr) |
                   SER_GET(n, l, info.initrd_size)
               ? -1 : 0;
}

static const struct param_desc linux_loader_params[] = {
    PARAM_STRING_REQUIRED_(struct linux_loader, kernel, "Path of the Linux bzImage"),
    PARAM_STRING_(struct linux_loader, initrd, "", "Path of an initrd/initramfs; empty: none"),
    PARAM_STRING_(struct linux_loader, cmdline, LINUX_DEFAULT_CMDLINE, "Kernel command line"),
    PARAM_BOOL_(struct linux_loader, decompress, "true",
                "Extract the xz payload and enter the vmlinux ELF directly (false: enter the "
                "bzImage's 64-bit entry and let the kernel decompress itself)"),
    {"cpu", PARAM_OBJECT, PARAM_FIELD_(struct linux_loader, cpu_ref), "", 1, 0, NULL, "CPU", "",
     "The CPU that starts the kernel; default: the first CPU"},
    PARAM_END,
};

static struct sim_type linux_loader_type = {
    .name = "LinuxLoader",
    .help = "Loads a Linux bzImage (and initrd) and starts it through the 64-bit boot protocol",
    .size = sizeof(struct linux_loader),
    .params = linux_loader_params,
    .ops = {.init = linux_loader_init, .startup = linux_loader_startup,
            .serialize = linux_loader_serialize, .unserialize = linux_loader_unserialize},
};
SIM_TYPE_REGISTER(linux_loader_type);
