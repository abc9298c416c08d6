/* ELF executables for the loaders (System V gABI; ELF-64 Object File
 * Format 1.5): parsing with every field checked against the file, loading
 * the PT_LOAD segments at their physical addresses, and the "ElfLoader" sim
 * object implementing the tandem ELF boot protocol (docs/boot.md). */
#ifndef TANDEM_BOOT_ELF_H
#define TANDEM_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/state.h"

struct system;

#define ELF_EM_386 3
#define ELF_EM_X86_64 62
#define ELF_MAX_SEGMENTS 64

struct elf_segment {
    uint64_t offset;  /* in the file */
    uint64_t paddr, vaddr;
    uint64_t filesz, memsz;
};

struct elf_image {
    bool is64;        /* ELFCLASS64 */
    uint16_t machine; /* e_machine */
    uint64_t entry;   /* e_entry as written in the file */
    unsigned nsegs;   /* PT_LOAD segments with memsz > 0 */
    struct elf_segment segs[ELF_MAX_SEGMENTS];
};

/* True when data starts with the ELF magic. */
bool elf_is_elf(const uint8_t *data, size_t len);
/* Parses an x86 executable (ELFCLASS32 + EM_386 or ELFCLASS64 + EM_X86_64,
 * little-endian, ET_EXEC or ET_DYN) and checks that every PT_LOAD segment
 * lies inside the file. name is the file name for errors. 0, or -1 with
 * err_set(). */
int elf_parse(const uint8_t *data, size_t len, const char *name, struct elf_image *img);
/* The entry point as a physical address: e_entry itself when it lies in a
 * segment's physical range, else e_entry translated through the segment
 * whose virtual range holds it (a kernel linked at a high virtual address
 * but loaded at p_paddr). -1 with err_set() when it is in neither. */
int elf_entry_phys(const struct elf_image *img, const char *name, uint64_t *entry);
/* Lowest and one-past-highest physical address the segments occupy. */
void elf_phys_extent(const struct elf_image *img, uint64_t *lo, uint64_t *hi);
/* Copies each PT_LOAD segment to p_paddr and zeroes p_memsz - p_filesz
 * after it. Segments must lie in RAM and at or above min_addr (keeping them
 * clear of the boot structures). 0, or -1 with err_set(). */
int elf_load(struct system *s, const uint8_t *data, const struct elf_image *img,
             const char *name, uint64_t min_addr);

/* The tandem ELF boot protocol (docs/boot.md): loads path at or above
 * 1 MiB, writes the boot GDT and identity map, and fills st with the entry
 * state (ELF64: long mode; ELF32: flat protected mode, paging off). img
 * receives the parsed image. 0, or -1 with err_set(). */
int elf_boot(struct system *s, const char *path, struct elf_image *img, struct x86_state *st);

#endif
