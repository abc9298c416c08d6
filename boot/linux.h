/* The Linux bzImage loader: the x86 boot protocol's 64-bit entry
 * (Documentation/x86/boot.rst, zero-page.rst). It parses the setup header,
 * builds boot_params (the zero page) with the command line, the e820 map,
 * the initrd and the ACPI RSDP, loads the kernel and produces the entry
 * state. Two ways to load (docs/boot.md):
 *   decompress=true   tandem extracts the xz payload (the vmlinux ELF) and
 *                     loads its segments at p_paddr, entering at e_entry;
 *   decompress=false  the protected-mode kernel is loaded at pref_address
 *                     and entered at +0x200 (it decompresses itself). */
#ifndef TANDEM_BOOT_LINUX_H
#define TANDEM_BOOT_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/state.h"

struct system;

/* Offsets in the zero page (boot_params) and the setup header, which sits
 * at the same offsets in the bzImage file. */
#define LINUX_BP_ACPI_RSDP 0x070
#define LINUX_BP_EXT_RAMDISK_IMAGE 0x0C0
#define LINUX_BP_EXT_RAMDISK_SIZE 0x0C4
#define LINUX_BP_EXT_CMD_LINE_PTR 0x0C8
#define LINUX_BP_E820_ENTRIES 0x1E8
#define LINUX_BP_SENTINEL 0x1EF
#define LINUX_BP_E820_TABLE 0x2D0
#define LINUX_BP_E820_MAX 128
#define LINUX_HDR_START 0x1F1 /* setup_sects: first setup header byte */
#define LINUX_HDR_SETUP_SECTS 0x1F1
#define LINUX_HDR_SYSSIZE 0x1F4
#define LINUX_HDR_BOOT_FLAG 0x1FE
#define LINUX_HDR_JUMP 0x200
#define LINUX_HDR_MAGIC 0x202
#define LINUX_HDR_VERSION 0x206
#define LINUX_HDR_TYPE_OF_LOADER 0x210
#define LINUX_HDR_LOADFLAGS 0x211
#define LINUX_HDR_CODE32_START 0x214
#define LINUX_HDR_RAMDISK_IMAGE 0x218
#define LINUX_HDR_RAMDISK_SIZE 0x21C
#define LINUX_HDR_CMD_LINE_PTR 0x228
#define LINUX_HDR_INITRD_ADDR_MAX 0x22C
#define LINUX_HDR_KERNEL_ALIGNMENT 0x230
#define LINUX_HDR_RELOCATABLE 0x234
#define LINUX_HDR_XLOADFLAGS 0x236
#define LINUX_HDR_CMDLINE_SIZE 0x238
#define LINUX_HDR_PAYLOAD_OFFSET 0x248
#define LINUX_HDR_PAYLOAD_LENGTH 0x24C
#define LINUX_HDR_PREF_ADDRESS 0x258
#define LINUX_HDR_INIT_SIZE 0x260
#define LINUX_BOOT_PARAMS_SIZE 4096

#define LINUX_XLF_KERNEL_64 0x1 /* has the 64-bit entry at load address + 0x200 */
#define LINUX_ENTRY64_OFFSET 0x200
#define LINUX_MIN_PROTOCOL 0x20C /* 2.12: xloadflags, the 64-bit entry */
#define LINUX_DEFAULT_CMDLINE "console=ttyS0 nokaslr mitigations=off nopti"

/* The setup header fields the loader uses. */
struct linux_header {
    uint16_t version;       /* boot protocol, 0x20F = 2.15 */
    uint8_t setup_sects;    /* as stored (0 means 4) */
    uint32_t syssize;       /* protected-mode code size in 16-byte units */
    uint8_t loadflags;
    uint32_t code32_start;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t payload_offset, payload_length;
    uint64_t pref_address;
    uint32_t init_size;
    size_t setup_size;  /* (setup_sects + 1) * 512: file offset of the
                         * protected-mode kernel */
    size_t header_end;  /* 0x202 + byte 0x201: end of the setup header */
};

/* Parses and checks the setup header of a bzImage in memory (boot flag,
 * "HdrS", protocol >= 2.12, the file holds what it declares). name is the
 * file name for errors. 0, or -1 with err_set(). */
int linux_parse_header(const uint8_t *data, size_t len, const char *name,
                       struct linux_header *h);

/* Names the format of a compressed payload from its magic ("xz", "gzip",
 * "bzip2", "lzma", "lzo", "lz4", "zstd", "uncompressed ELF"), or NULL. */
const char *linux_payload_format(const uint8_t *p, size_t len);

/* Extracts the payload (the vmlinux ELF) into a malloc'd buffer. Only xz
 * (and an uncompressed ELF) is handled; other formats are named in the
 * error. 0, or -1 with err_set(). */
int linux_extract_elf(const uint8_t *data, size_t len, const struct linux_header *h,
                      const char *name, uint8_t **elf, size_t *elf_len);

struct linux_boot_config {
    const char *kernel;  /* path of the bzImage */
    const char *initrd;  /* path or NULL */
    const char *cmdline;
    bool decompress;
    uint64_t rsdp_addr;  /* boot_params.acpi_rsdp_addr; 0: none */
};

/* What linux_boot did, for logs and tests. */
struct linux_boot_info {
    struct linux_header hdr;
    uint64_t load_addr;   /* physical base of the kernel */
    uint64_t kernel_end;  /* end of the memory the kernel claims (init_size) */
    uint64_t entry;       /* physical entry point */
    unsigned elf_segments; /* decompress=true: PT_LOAD segments loaded */
    uint64_t initrd_addr, initrd_size;
    unsigned e820_entries;
};

/* Loads kernel (and initrd), writes boot_params at PC_BOOT_PARAMS, the
 * command line at PC_BOOT_CMDLINE, the boot GDT and page tables, and fills
 * st with the 64-bit entry state (RSI = boot_params). 0, or -1 with
 * err_set() naming the file and the problem. */
int linux_boot(struct system *s, const struct linux_boot_config *cfg,
               struct linux_boot_info *info, struct x86_state *st);

#endif
