/* ELF parsing and loading (System V gABI, ELF-64 Object File Format 1.5)
 * and the ElfLoader sim object: the tandem ELF boot protocol, docs/boot.md. */
#include "boot/elf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootstate.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "cpu/cpu.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/serialize.h"
#include "sim/util.h"

#define EI_CLASS 4
#define EI_DATA 5
#define EI_VERSION 6
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define ET_DYN 3
#define PT_LOAD 1
#define PN_XNUM 0xffff

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool elf_is_elf(const uint8_t *data, size_t len)
{
    return len >= 4 && memcmp(data, "\x7f" "ELF", 4) == 0;
}

/* Field offsets and widths of the ELF header and program header, per class. */
struct elf_layout {
    unsigned ehdr_size;
    unsigned addr; /* width of addresses and offsets */
    unsigned e_entry, e_phoff, e_phentsize, e_phnum;
    unsigned phdr_size;
    unsigned p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
};

static const struct elf_layout layout32 = {52, 4, 24, 28, 42, 44, 32, 4, 8, 12, 16, 20};
static const struct elf_layout layout64 = {64, 8, 24, 32, 54, 56, 56, 8, 16, 24, 32, 40};

int elf_parse(const uint8_t *data, size_t len, const char *name, struct elf_image *img)
{
    memset(img, 0, sizeof(*img));
    if (!elf_is_elf(data, len)) {
        err_set("%s: not an ELF file (no \\x7fELF magic)", name);
        return -1;
    }
    if (len < 52) {
        err_set("%s: truncated ELF header (%zu bytes)", name, len);
        return -1;
    }
    if (data[EI_CLASS] != ELFCLASS32 && data[EI_CLASS] != ELFCLASS64) {
        err_set("%s: unknown ELF class %u", name, data[EI_CLASS]);
        return -1;
    }
    img->is64 = data[EI_CLASS] == ELFCLASS64;
    const struct elf_layout *L = img->is64 ? &layout64 : &layout32;
    if (len < L->ehdr_size) {
        err_set("%s: truncated ELF header (%zu bytes)", name, len);
        return -1;
    }
    if (data[EI_DATA] != ELFDATA2LSB || data[EI_VERSION] != 1) {
        err_set("%s: not a little-endian ELF version 1 file", name);
        return -1;
    }
    uint16_t type = get_le(data + 16, 2);
    if (type != ET_EXEC && type != ET_DYN) {
        err_set("%s: ELF type %u is not an executable", name, type);
        return -1;
    }
    img->machine = get_le(data + 18, 2);
    uint16_t want = img->is64 ? ELF_EM_X86_64 : ELF_EM_386;
    if (img->machine != want) {
        err_set("%s: ELF machine %u is not %s", name, img->machine,
                img->is64 ? "x86-64 (62)" : "i386 (3)");
        return -1;
    }
    img->entry = get_le(data + L->e_entry, L->addr);
    uint64_t phoff = get_le(data + L->e_phoff, L->addr);
    unsigned phentsize = get_le(data + L->e_phentsize, 2);
    unsigned phnum = get_le(data + L->e_phnum, 2);
    if (phnum == 0 || phnum == PN_XNUM) {
        err_set("%s: ELF file has %s program headers", name, phnum ? "too many" : "no");
        return -1;
    }
    if (phentsize < L->phdr_size) {
        err_set("%s: ELF program header size %u is smaller than %u", name, phentsize,
                L->phdr_size);
        return -1;
    }
    if (phoff > len || (uint64_t)phnum * phentsize > len - phoff) {
        err_set("%s: ELF program headers (offset 0x%llx, %u x %u bytes) run past the end of the"
                " file (%zu bytes): truncated?",
                name, (unsigned long long)phoff, phnum, phentsize, len);
        return -1;
    }
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = data + phoff + (uint64_t)i * phentsize;
        if (get_le(ph, 4) != PT_LOAD)
            continue;
        struct elf_segment sg = {
            .offset = get_le(ph + L->p_offset, L->addr),
            .vaddr = get_le(ph + L->p_vaddr, L->addr),
            .paddr = get_le(ph + L->p_paddr, L->addr),
            .filesz = get_le(ph + L->p_filesz, L->addr),
            .memsz = get_le(ph + L->p_memsz, L->addr),
        };
        if (sg.memsz == 0)
            continue;
        if (sg.filesz > sg.memsz) {
            err_set("%s: ELF segment %u has file size 0x%llx above its memory size 0x%llx", name,
                    i, (unsigned long long)sg.filesz, (unsigned long long)sg.memsz);
            return -1;
        }
        if (sg.offset > len || sg.filesz > len - sg.offset) {
            err_set("%s: ELF segment %u (file offset 0x%llx, 0x%llx bytes) runs past the end of"
                    " the file (%zu bytes): truncated?",
                    name, i, (unsigned long long)sg.offset, (unsigned long long)sg.filesz, len);
            return -1;
        }
        if (sg.paddr + sg.memsz < sg.paddr) {
            err_set("%s: ELF segment %u wraps around the address space", name, i);
            return -1;
        }
        if (img->nsegs == ELF_MAX_SEGMENTS) {
            err_set("%s: more than %d loadable ELF segments", name, ELF_MAX_SEGMENTS);
            return -1;
        }
        img->segs[img->nsegs++] = sg;
    }
    if (img->nsegs == 0) {
        err_set("%s: ELF file has no loadable (PT_LOAD) segment", name);
        return -1;
    }
    return 0;
}

int elf_entry_phys(const struct elf_image *img, const char *name, uint64_t *entry)
{
    /* Physical match first: Linux's vmlinux gives its physical entry
     * (phys_startup_64) in e_entry, and its per-CPU segment has virtual
     * address 0, which would otherwise capture low entry points. */
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct elf_segment *sg = &img->segs[i];
        if (img->entry >= sg->paddr && img->entry - sg->paddr < sg->memsz) {
            *entry = img->entry;
            return 0;
        }
    }
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct elf_segment *sg = &img->segs[i];
        if (img->entry >= sg->vaddr && img->entry - sg->vaddr < sg->memsz) {
            *entry = img->entry - sg->vaddr + sg->paddr;
            return 0;
        }
    }
    err_set("%s: ELF entry point 0x%llx lies in no loadable segment", name,
            (unsigned long long)img->entry);
    return -1;
}

void elf_phys_extent(const struct elf_image *img, uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (unsigned i = 0; i < img->nsegs; i++) {
        if (img->segs[i].paddr < *lo)
            *lo = img->segs[i].paddr;
        if (img->segs[i].paddr + img->segs[i].memsz > *hi)
            *hi = img->segs[i].paddr + img->segs[i].memsz;
    }
}

int elf_load(struct system *s, const uint8_t *data, const struct elf_image *img,
             const char *name, uint64_t min_addr)
{
    char what[512];
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct elf_segment *sg = &img->segs[i];
        snprintf(what, sizeof(what), "%s: loadable segment at 0x%llx", name,
                 (unsigned long long)sg->paddr);
        if (sg->paddr < min_addr) {
            err_set("%s lies below 0x%llx, where the boot structures live", what,
                    (unsigned long long)min_addr);
            return -1;
        }
        if (boot_zero_ram(s, sg->paddr, sg->memsz, what) < 0 ||
            boot_copy_to_ram(s, sg->paddr, data + sg->offset, sg->filesz, what) < 0)
            return -1;
    }
    return 0;
}

int elf_boot(struct system *s, const char *path, struct elf_image *img, struct x86_state *st)
{
    size_t len;
    uint8_t *data = read_whole_file(path, &len);
    if (!data)
        return -1;
    uint64_t entry;
    int rc = elf_parse(data, len, path, img);
    if (rc == 0)
        rc = elf_entry_phys(img, path, &entry);
    if (rc == 0 && !img->is64 && entry > UINT32_MAX) {
        err_set("%s: 32-bit ELF entry point 0x%llx is above 4 GiB", path,
                (unsigned long long)entry);
        rc = -1;
    }
    if (rc == 0)
        rc = elf_load(s, data, img, path, PC_HIMEM_START);
    free(data);
    if (rc < 0)
        return -1;
    /* Both entries need the GDT; the 32-bit one leaves paging off, so the
     * page tables are merely there for a program that enables it. */
    if (boot_write_tables(s) < 0)
        return -1;
    if (img->is64)
        boot_state_long_mode(st, entry, PC_BOOT_STACK);
    else
        boot_state_protected_mode(st, entry, PC_BOOT_STACK);
    return 0;
}

/* ---- The ElfLoader sim object ---- */

struct elf_loader {
    struct sim_object obj;
    /* params */
    char *kernel;
    struct sim_object *cpu_ref;

    struct system *system;
    struct cpu *cpu;
    struct x86_state entry_state; /* handed to the CPU at startup */
    struct elf_image img;
};

static int elf_loader_init(struct sim_object *o)
{
    struct elf_loader *l = SIM_CAST(struct elf_loader, o);
    if (boot_loader_attach(o, l->cpu_ref, &l->system, &l->cpu) < 0 ||
        elf_boot(l->system, l->kernel, &l->img, &l->entry_state) < 0)
        return -1;
    log_info("%s: %s: ELF%d, %u segments, %s entry at 0x%llx", o->path, l->kernel,
             l->img.is64 ? 64 : 32, l->img.nsegs,
             l->img.is64 ? "64-bit long mode" : "32-bit protected mode",
             (unsigned long long)l->entry_state.rip);
    return 0;
}

static void elf_loader_startup(struct sim_object *o)
{
    struct elf_loader *l = SIM_CAST(struct elf_loader, o);
    boot_start_cpu(l->cpu, &l->entry_state);
}

/* The program and boot structures are guest RAM and the entry state is the
 * CPU's; the loader keeps only what it loaded. */
static void elf_loader_serialize(struct sim_object *o, struct ser_node *n)
{
    struct elf_loader *l = SIM_CAST(struct elf_loader, o);
    SER_PUT(n, l, img.entry);
    SER_PUT(n, l, img.nsegs);
}

static int elf_loader_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct elf_loader *l = SIM_CAST(struct elf_loader, o);
    if (SER_GET(n, l, img.entry) < 0 || SER_GET(n, l, img.nsegs) < 0)
        return -1;
    if (l->img.nsegs > ELF_MAX_SEGMENTS) {
        err_set("%s: checkpoint gives %u segments (at most %d)", o->path, l->img.nsegs,
                ELF_MAX_SEGMENTS);
        return -1;
    }
    return 0;
}

static const struct param_desc elf_loader_params[] = {
    PARAM_STRING_REQUIRED_(struct elf_loader, kernel, "Path of the ELF32 or ELF64 executable"),
    {"cpu", PARAM_OBJECT, PARAM_FIELD_(struct elf_loader, cpu_ref), "", 1, 0, NULL, "CPU", "",
     "The CPU that starts the program; default: the first CPU"},
    PARAM_END,
};

static struct sim_type elf_loader_type = {
    .name = "ElfLoader",
    .help = "Loads an ELF executable at its physical addresses and enters it in 64-bit long "
            "mode (ELF64) or 32-bit protected mode (ELF32): the tandem ELF boot protocol",
    .size = sizeof(struct elf_loader),
    .params = elf_loader_params,
    .ops = {.init = elf_loader_init, .startup = elf_loader_startup,
            .serialize = elf_loader_serialize, .unserialize = elf_loader_unserialize},
};
SIM_TYPE_REGISTER(elf_loader_type);
