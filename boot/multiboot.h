/* Multiboot v1 loader (Multiboot Specification 0.6.96): finds the header in
 * the first 8192 bytes, loads the image through the header's address
 * fields (flags bit 16, the "a.out kludge") or as an ELF, writes the
 * Multiboot information structure in low memory and enters in 32-bit
 * protected mode with EAX = 0x2BADB002, EBX = the information address.
 * The "MultibootLoader" sim object wraps it (docs/boot.md). */
#ifndef TANDEM_BOOT_MULTIBOOT_H
#define TANDEM_BOOT_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/state.h"

struct system;

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH_LIMIT 8192
#define MULTIBOOT_FLAG_PAGE_ALIGN (1u << 0)
#define MULTIBOOT_FLAG_MEMORY_INFO (1u << 1)
#define MULTIBOOT_FLAG_VIDEO_MODE (1u << 2)
#define MULTIBOOT_FLAG_ADDRESSES (1u << 16)

/* Multiboot information structure: offsets and flags bits (spec 3.3). */
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_CMDLINE 16
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_BOOT_LOADER_NAME 64
#define MBI_SIZE 88
#define MBI_HAS_MEMORY (1u << 0)
#define MBI_HAS_CMDLINE (1u << 2)
#define MBI_HAS_MMAP (1u << 6)
#define MBI_HAS_LOADER_NAME (1u << 9)
/* Where tandem puts the pieces, relative to PC_BOOT_MULTIBOOT_INFO. */
#define MBI_MMAP_OFFSET 0x100
#define MBI_LOADER_NAME_OFFSET 0x400

struct multiboot_header {
    size_t offset; /* in the file */
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/* Finds and checks the header (magic, checksum, required flags tandem can
 * honour). 0, or -1 with err_set() naming the file. */
int multiboot_find_header(const uint8_t *data, size_t len, const char *name,
                          struct multiboot_header *h);

/* What multiboot_boot loaded, for logs and tests. */
struct multiboot_info {
    struct multiboot_header hdr;
    bool used_addresses; /* the header's address fields (else ELF) */
    uint64_t load_lo, load_hi; /* physical range the image occupies */
    uint32_t entry;
};

/* Loads path, writes the information structure at PC_BOOT_MULTIBOOT_INFO
 * (command line at PC_BOOT_CMDLINE) and the boot GDT, and fills st with the
 * entry state. 0, or -1 with err_set(). */
int multiboot_boot(struct system *s, const char *path, const char *cmdline,
                   struct multiboot_info *info, struct x86_state *st);

#endif
