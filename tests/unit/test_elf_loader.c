/* The ELF loader and the shared boot state: ELF64/ELF32 files built byte by
 * byte here, loaded into a machine's RAM; the entry states, the GDT and the
 * identity map checked against each other and the e820 map per RAM size. */
#include <stdbool.h>

#include "boot/bootstate.h"
#include "boot/elf.h"
#include "boot_testutil.h"
#include "mem/pc_layout.h"
#include "sim/serialize.h"

struct seg_spec {
    uint32_t type;
    uint64_t vaddr, paddr, memsz;
    const void *bytes;
    uint64_t filesz;
};

/* An executable with the given segments: header, program headers, then each
 * segment's bytes at a 0x100-aligned file offset. Returns the file size. */
static size_t build_elf(uint8_t *buf, size_t cap, bool is64, uint16_t machine, uint64_t entry,
                        const struct seg_spec *segs, unsigned nsegs)
{
    memset(buf, 0, cap);
    unsigned ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32;
    memcpy(buf, "\x7f" "ELF", 4);
    buf[4] = is64 ? 2 : 1;
    buf[5] = 1;
    buf[6] = 1;
    wr(buf + 16, 2, 2); /* ET_EXEC */
    wr(buf + 18, machine, 2);
    wr(buf + 20, 1, 4);
    size_t off = (ehsize + phsize * nsegs + 0xff) & ~(size_t)0xff;
    if (is64) {
        wr(buf + 24, entry, 8);
        wr(buf + 32, ehsize, 8);
        wr(buf + 52, ehsize, 2);
        wr(buf + 54, phsize, 2);
        wr(buf + 56, nsegs, 2);
    } else {
        wr(buf + 24, entry, 4);
        wr(buf + 28, ehsize, 4);
        wr(buf + 40, ehsize, 2);
        wr(buf + 42, phsize, 2);
        wr(buf + 44, nsegs, 2);
    }
    for (unsigned i = 0; i < nsegs; i++) {
        uint8_t *ph = buf + ehsize + phsize * i;
        const struct seg_spec *s = &segs[i];
        ck_assert_uint_le(off + s->filesz, cap);
        memcpy(buf + off, s->bytes, s->filesz);
        wr(ph, s->type, 4);
        if (is64) {
            wr(ph + 8, off, 8);
            wr(ph + 16, s->vaddr, 8);
            wr(ph + 24, s->paddr, 8);
            wr(ph + 32, s->filesz, 8);
            wr(ph + 40, s->memsz, 8);
        } else {
            wr(ph + 4, off, 4);
            wr(ph + 8, s->vaddr, 4);
            wr(ph + 12, s->paddr, 4);
            wr(ph + 16, s->filesz, 4);
            wr(ph + 20, s->memsz, 4);
        }
        off = (off + s->filesz + 0xff) & ~(size_t)0xff;
    }
    return off;
}

static const uint8_t code[] = {0xfa, 0xf4, 0xeb, 0xfd, 0x90, 0x90, 0x90, 0x90,
                               0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
static uint8_t filebuf[16384];

static const char *elf_file(bool is64, uint16_t machine, uint64_t entry,
                            const struct seg_spec *segs, unsigned n, size_t *len_out)
{
    size_t len = build_elf(filebuf, sizeof(filebuf), is64, machine, entry, segs, n);
    if (len_out)
        *len_out = len;
    return write_bytes("prog.elf", filebuf, len);
}

START_TEST(elf64_loads_segments_zeroes_bss_and_enters_long_mode)
{
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    struct seg_spec segs[] = {
        {1, 0x200000, 0x200000, 0x3000, code, sizeof(code)},
        {1, 0x400000, 0x400000, 8, code + 8, 8},
    };
    const char *path = elf_file(true, ELF_EM_X86_64, 0x200002, segs, 2, NULL);
    memset(ram(s, 0x200000, 0x3000), 0xAA, 0x3000);
    struct elf_image img;
    struct x86_state st;
    ck_assert_msg(elf_boot(s, path, &img, &st) == 0, "%s", err_get());
    ck_assert(img.is64);
    ck_assert_uint_eq(img.nsegs, 2);
    ck_assert_mem_eq(ram(s, 0x200000, sizeof(code)), code, sizeof(code));
    ck_assert_mem_eq(ram(s, 0x400000, 8), code + 8, 8);
    for (uint64_t a = 0x200000 + sizeof(code); a < 0x203000; a++)
        ck_assert_uint_eq(*ram(s, a, 1), 0);
    ck_assert_uint_eq(st.rip, 0x200002);
    ck_assert_uint_eq(st.gpr[R_RSP], PC_BOOT_STACK);
    ck_assert_uint_eq(st.seg[S_CS].selector, BOOT_SEL_CODE64);
    ck_assert_uint_eq(st.seg[S_CS].l, 1);
    ck_assert_uint_eq(st.seg[S_SS].selector, BOOT_SEL_DATA);
    ck_assert(st.cr0 & X86_CR0_PG);
    ck_assert(st.cr0 & X86_CR0_PE);
    ck_assert(!(st.cr0 & (X86_CR0_CD | X86_CR0_NW | X86_CR0_EM)));
    ck_assert_uint_eq(st.cr3, PC_BOOT_PML4);
    ck_assert_uint_eq(st.cr4 & (X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT),
                      X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT);
    ck_assert(st.msr.efer & X86_EFER_LMA);
    ck_assert(st.msr.efer & X86_EFER_LME);
    ck_assert(!(st.rflags & X86_FLAG_IF));
    ck_assert_uint_eq(st.gdtr.base, PC_BOOT_GDT);
    ck_assert_uint_eq(st.gdtr.limit, BOOT_GDT_ENTRIES * 8 - 1);
    ck_assert_uint_eq(st.idtr.base, PC_BOOT_IDT);
    ck_assert_uint_eq(st.idtr.limit, 0);
    ck_assert_uint_eq(st.run_state, X86_RUNNABLE);
    sim_destroy(&sim);
}
END_TEST

/* Decodes the descriptor for sel from the GDT in RAM and compares it with
 * the descriptor cache the entry state carries. */
static void check_descriptor(struct system *s, const struct x86_segment *sg)
{
    uint64_t d = rd(ram(s, PC_BOOT_GDT + (sg->selector & ~7u), 8), 8);
    uint64_t base = ((d >> 16) & 0xffffff) | ((d >> 56) << 24);
    uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    unsigned g = (d >> 55) & 1;
    if (g)
        limit = (limit << 12) | 0xfff;
    ck_assert_uint_eq(base, sg->base);
    ck_assert_uint_eq(limit, sg->limit);
    ck_assert_uint_eq((d >> 40) & 0xf, sg->type);
    ck_assert_uint_eq((d >> 44) & 1, sg->s);
    ck_assert_uint_eq((d >> 45) & 3, sg->dpl);
    ck_assert_uint_eq((d >> 47) & 1, sg->present);
    ck_assert_uint_eq((d >> 53) & 1, sg->l);
    ck_assert_uint_eq((d >> 54) & 1, sg->db);
    ck_assert_uint_eq(g, sg->g);
}

START_TEST(gdt_in_ram_matches_entry_states)
{
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    ck_assert_int_eq(boot_write_tables(s), 0);
    ck_assert_uint_eq(rd(ram(s, PC_BOOT_GDT, 8), 8), 0); /* null descriptor */
    struct x86_state st;
    boot_state_long_mode(&st, 0x100000, PC_BOOT_STACK);
    for (int i = 0; i < S_NSEGS; i++)
        check_descriptor(s, &st.seg[i]);
    ck_assert_uint_eq(st.seg[S_CS].selector, 0x10);
    boot_state_protected_mode(&st, 0x100000, PC_BOOT_STACK);
    for (int i = 0; i < S_NSEGS; i++)
        check_descriptor(s, &st.seg[i]);
    ck_assert_uint_eq(st.seg[S_CS].selector, 0x08);
    ck_assert_uint_eq(st.seg[S_CS].db, 1);
    ck_assert_uint_eq(st.seg[S_DS].selector, 0x18);
    sim_destroy(&sim);
}
END_TEST

/* Walks the boot page tables in RAM like the MMU does (4-level, 2 MiB). */
static uint64_t translate(struct system *s, uint64_t va)
{
    uint64_t pml4e = rd(ram(s, PC_BOOT_PML4 + 8 * ((va >> 39) & 511), 8), 8);
    ck_assert_msg(pml4e & 1, "PML4E for 0x%llx not present", (unsigned long long)va);
    uint64_t pdpte = rd(ram(s, (pml4e & ~0xfffULL) + 8 * ((va >> 30) & 511), 8), 8);
    ck_assert_msg(pdpte & 1, "PDPTE for 0x%llx not present", (unsigned long long)va);
    ck_assert(!(pdpte & 0x80));
    uint64_t pde = rd(ram(s, (pdpte & 0x000ffffffffff000ULL) + 8 * ((va >> 21) & 511), 8), 8);
    ck_assert_msg((pde & 0x83) == 0x83, "PDE for 0x%llx not a present writable 2 MiB page",
                  (unsigned long long)va);
    return (pde & 0x000fffffffe00000ULL) | (va & 0x1fffff);
}

START_TEST(identity_map_covers_first_4_gib)
{
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    ck_assert_int_eq(boot_write_tables(s), 0);
    static const uint64_t probes[] = {0, 0x7000, 0x1234567, 0x1000000, 0xbfffffff,
                                      0xc0000000, 0xfec00000, 0xfee00fff, 0xffffffff};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        ck_assert_uint_eq(translate(s, probes[i]), probes[i]);
    /* Nothing above 4 GiB is mapped. */
    ck_assert_uint_eq(rd(ram(s, PC_BOOT_PDPT + 8 * 4, 8), 8), 0);
    ck_assert_uint_eq(rd(ram(s, PC_BOOT_PML4 + 8, 8), 8), 0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(elf64_high_virtual_entry_is_translated_to_physical)
{
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    struct seg_spec segs[] = {{1, 0xffffffff80200000ULL, 0x200000, 0x1000, code, sizeof(code)}};
    const char *path = elf_file(true, ELF_EM_X86_64, 0xffffffff80200004ULL, segs, 1, NULL);
    struct elf_image img;
    struct x86_state st;
    ck_assert_msg(elf_boot(s, path, &img, &st) == 0, "%s", err_get());
    ck_assert_uint_eq(st.rip, 0x200004);
    sim_destroy(&sim);
}
END_TEST

START_TEST(elf32_enters_flat_protected_mode_without_paging)
{
    struct simulation sim;
    struct system *s = make_system(&sim, "64M");
    struct seg_spec segs[] = {{1, 0x100000, 0x100000, 0x2000, code, sizeof(code)}};
    const char *path = elf_file(false, ELF_EM_386, 0x100001, segs, 1, NULL);
    struct elf_image img;
    struct x86_state st;
    ck_assert_msg(elf_boot(s, path, &img, &st) == 0, "%s", err_get());
    ck_assert(!img.is64);
    ck_assert_mem_eq(ram(s, 0x100000, sizeof(code)), code, sizeof(code));
    ck_assert_uint_eq(*ram(s, 0x101fff, 1), 0);
    ck_assert_uint_eq(st.rip, 0x100001);
    ck_assert_uint_eq(st.gpr[R_RSP], PC_BOOT_STACK);
    ck_assert_uint_eq(st.seg[S_CS].selector, BOOT_SEL_CODE32);
    ck_assert_uint_eq(st.seg[S_CS].l, 0);
    ck_assert_uint_eq(st.seg[S_CS].db, 1);
    ck_assert_uint_eq(st.seg[S_CS].limit, 0xffffffff);
    ck_assert_uint_eq(st.cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE);
    ck_assert_uint_eq(st.msr.efer, 0);
    ck_assert(!(st.rflags & X86_FLAG_IF));
    sim_destroy(&sim);
}
END_TEST

static void expect_boot_error(const char *mem, const char *path, const char *want)
{
    struct simulation sim;
    struct system *s = make_system(&sim, mem);
    struct elf_image img;
    struct x86_state st;
    ck_assert_int_eq(elf_boot(s, path, &img, &st), -1);
    ck_assert_err_has(want);
    ck_assert_err_has(path);
    sim_destroy(&sim);
}

START_TEST(bad_elf_files_give_clear_errors)
{
    struct seg_spec good[] = {{1, 0x200000, 0x200000, 0x1000, code, sizeof(code)}};
    size_t len;
    const char *path = elf_file(true, ELF_EM_X86_64, 0x200000, good, 1, &len);

    /* Truncated inside the segment data (at 0x100-0x110), and inside the
     * header. */
    const char *cut = write_bytes("cut.elf", filebuf, 0x108);
    expect_boot_error("64M", cut, "truncated");
    const char *cut_hdr = write_bytes("cut_hdr.elf", filebuf, 40);
    expect_boot_error("64M", cut_hdr, "truncated ELF header");
    const char *not_elf = write_bytes("text.bin", "hello, this is not an ELF file", 30);
    expect_boot_error("64M", not_elf, "not an ELF file");
    expect_boot_error("64M", "/nonexistent/prog.elf", "cannot open");

    elf_file(true, ELF_EM_386, 0x200000, good, 1, NULL);
    path = write_bytes("machine.elf", filebuf, len);
    expect_boot_error("64M", path, "is not x86-64");

    path = elf_file(true, ELF_EM_X86_64, 0x900000, good, 1, NULL);
    expect_boot_error("64M", path, "entry point 0x900000 lies in no loadable segment");

    struct seg_spec low[] = {{1, 0x8000, 0x8000, 0x1000, code, sizeof(code)}};
    path = elf_file(true, ELF_EM_X86_64, 0x8000, low, 1, NULL);
    expect_boot_error("64M", path, "below 0x100000");

    struct seg_spec high[] = {{1, 0x7ff0000, 0x7ff0000, 0x20000, code, sizeof(code)}};
    path = elf_file(true, ELF_EM_X86_64, 0x7ff0000, high, 1, NULL);
    expect_boot_error("128M", path, "not all RAM");

    struct seg_spec note[] = {{4, 0x200000, 0x200000, 0x1000, code, sizeof(code)}};
    path = elf_file(true, ELF_EM_X86_64, 0x200000, note, 1, NULL);
    expect_boot_error("64M", path, "no loadable (PT_LOAD) segment");

    struct seg_spec inverted[] = {{1, 0x200000, 0x200000, 8, code, sizeof(code)}};
    path = elf_file(true, ELF_EM_X86_64, 0x200000, inverted, 1, NULL);
    expect_boot_error("64M", path, "above its memory size");
}
END_TEST

START_TEST(e820_map_per_ram_size)
{
    struct simulation sim;
    struct system *s = make_system(&sim, "512M");
    struct e820_entry m[BOOT_E820_MAX];
    ck_assert_uint_eq(boot_e820_map(s, m), 3);
    ck_assert_uint_eq(m[0].addr, 0);
    ck_assert_uint_eq(m[0].size, PC_EBDA_START);
    ck_assert_uint_eq(m[0].type, E820_RAM);
    ck_assert_uint_eq(m[1].addr, PC_EBDA_START);
    ck_assert_uint_eq(m[1].addr + m[1].size, 0x100000);
    ck_assert_uint_eq(m[1].type, E820_RESERVED);
    ck_assert_uint_eq(m[2].addr, 0x100000);
    ck_assert_uint_eq(m[2].addr + m[2].size, 512ULL << 20);
    ck_assert_uint_eq(m[2].type, E820_RAM);
    sim_destroy(&sim);

    s = make_system(&sim, "4G");
    ck_assert_uint_eq(boot_e820_map(s, m), 4);
    ck_assert_uint_eq(m[2].addr + m[2].size, PC_LOW_RAM_END);
    ck_assert_uint_eq(m[3].addr, PC_HIGH_RAM_BASE);
    ck_assert_uint_eq(m[3].size, (4ULL << 30) - PC_LOW_RAM_END);
    ck_assert_uint_eq(m[3].type, E820_RAM);
    sim_destroy(&sim);
}
END_TEST

START_TEST(elf_loader_object_starts_the_cpu)
{
    struct seg_spec segs[] = {{1, 0x300000, 0x300000, 0x1000, code, sizeof(code)}};
    const char *path = elf_file(true, ELF_EM_X86_64, 0x300000, segs, 1, NULL);
    struct simulation sim;
    struct cpu *cpu = make_machine_with_cpu(&sim, "64M");
    struct sim_object *l = sim_create(&sim, "ElfLoader", "system.loader");
    ck_assert_ptr_nonnull(l);
    set_param(l, "kernel", path);
    set_param(l, "cpu", "system.cpu0");
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    ck_assert_uint_eq(cpu->state.rip, 0x300000);
    ck_assert_uint_eq(cpu->state.seg[S_CS].selector, BOOT_SEL_CODE64);
    ck_assert_uint_eq(cpu->state.cr3, PC_BOOT_PML4);
    struct system *s = system_of(&cpu->obj);
    ck_assert_mem_eq(ram(s, 0x300000, sizeof(code)), code, sizeof(code));

    struct ser_node *n = sim_serialize(&sim);
    ck_assert_int_eq(sim_unserialize(&sim, n), 0);
    ser_node_free(n);
    sim_destroy(&sim);
}
END_TEST

START_TEST(elf_loader_starts_the_cpu_it_is_given)
{
    struct seg_spec segs[] = {{1, 0x300000, 0x300000, 0x1000, code, sizeof(code)}};
    const char *path = elf_file(true, ELF_EM_X86_64, 0x300000, segs, 1, NULL);
    struct simulation sim;
    struct cpu *cpu0 = make_machine_with_cpu(&sim, "64M");
    set_param(sim_find(&sim, "system"), "ncpus", "2");
    struct sim_object *c1 = sim_create(&sim, "CPU", "system.cpu1");
    set_param(c1, "engine", "inert");
    set_param(c1, "cpu_index", "1");
    struct sim_object *l = sim_create(&sim, "ElfLoader", "system.loader");
    set_param(l, "kernel", path);
    set_param(l, "cpu", "system.cpu1");
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    struct cpu *cpu1 = SIM_CAST(struct cpu, c1);
    ck_assert_uint_eq(cpu1->state.rip, 0x300000);
    ck_assert_uint_eq(cpu1->state.seg[S_CS].selector, BOOT_SEL_CODE64);
    /* The CPU keeps its own APIC base: CPU 1 is not the bootstrap CPU. */
    ck_assert_uint_eq(cpu1->state.msr.apic_base & (1u << 8), 0);
    ck_assert_uint_eq(cpu0->state.rip, 0xfff0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(elf_loader_without_cpu_or_file_is_an_error)
{
    struct seg_spec segs[] = {{1, 0x300000, 0x300000, 0x1000, code, sizeof(code)}};
    const char *path = elf_file(true, ELF_EM_X86_64, 0x300000, segs, 1, NULL);
    struct simulation sim;
    sim_init(&sim);
    struct sim_object *sys = sim_create(&sim, "System", "system");
    set_param(sys, "mem_size", "64M");
    struct sim_object *l = sim_create(&sim, "ElfLoader", "system.loader");
    set_param(l, "kernel", path);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_err_has("system.loader (ElfLoader)");
    ck_assert_err_has("no CPU");
    sim_destroy(&sim);

    make_machine_with_cpu(&sim, "64M");
    l = sim_create(&sim, "ElfLoader", "system.loader");
    set_param(l, "kernel", "/nonexistent.elf");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_err_has("cannot open /nonexistent.elf");
    sim_destroy(&sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elf_loader");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, elf64_loads_segments_zeroes_bss_and_enters_long_mode);
    tcase_add_test(tc, gdt_in_ram_matches_entry_states);
    tcase_add_test(tc, identity_map_covers_first_4_gib);
    tcase_add_test(tc, elf64_high_virtual_entry_is_translated_to_physical);
    tcase_add_test(tc, elf32_enters_flat_protected_mode_without_paging);
    tcase_add_test(tc, bad_elf_files_give_clear_errors);
    tcase_add_test(tc, e820_map_per_ram_size);
    tcase_add_test(tc, elf_loader_object_starts_the_cpu);
    tcase_add_test(tc, elf_loader_starts_the_cpu_it_is_given);
    tcase_add_test(tc, elf_loader_without_cpu_or_file_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
