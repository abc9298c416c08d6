/* elfboot: the tandem ELF boot protocol (docs/boot.md) reproduced inside
 * QEMU, so the 64-bit entry (_start64) of every guest program is checked on
 * the reference machine too. QEMU boots this image through Multiboot with
 * the program as module 0 (-initrd prog.elf); elfboot loads the program's
 * PT_LOAD segments at p_paddr, writes the boot GDT, empty IDT and 4 GiB
 * identity map where tandem's loaders put them (mem/pc_layout.h), and jumps
 * to e_entry in the entry state tandem gives (cpu/state.c). */
#include "guest.h"
#include "pc_layout.h"

const char test_name[] = "elfboot";

#define MB_INFO_MODS (1u << 3)
#define ELF_PT_LOAD 1

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};
struct multiboot_module {
    uint32_t start, end, string, reserved;
};
struct elf64_header {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* The entry state of boot_state_long_mode (cpu/state.c). */
#define ENTRY_CR0 0x80010033ULL /* PG WP NE ET MP PE */
#define ENTRY_CR4 0x620ULL      /* OSXMMEXCPT OSFXSR PAE */
#define ENTRY_EFER 0xD01ULL     /* NXE LMA LME SCE */

_Noreturn void enter_long_mode_entry(uint64_t entry, uint64_t gdt_ptr, uint64_t idt_ptr);
__asm__(".text\n"
        "enter_long_mode_entry:\n\t"
        "cli\n\t"
        "lgdt (%rsi)\n\t"
        "lidt (%rdx)\n\t"
        "mov $" "0x9000" ", %rax\n\t"
        "mov %rax, %cr3\n\t"
        "mov $0x80010033, %eax\n\t"
        "mov %rax, %cr0\n\t"
        "mov $0x620, %eax\n\t"
        "mov %rax, %cr4\n\t"
        "mov $0x8FF0, %esp\n\t"
        "mov $0x18, %eax\n\t"
        "mov %eax, %ds\n\tmov %eax, %es\n\tmov %eax, %ss\n\tmov %eax, %fs\n\tmov %eax, %gs\n\t"
        "pushq $0x10\n\t"
        "push %rdi\n\t"
        "xor %eax, %eax\n\txor %ebx, %ebx\n\txor %ecx, %ecx\n\txor %edx, %edx\n\t"
        "xor %esi, %esi\n\txor %edi, %edi\n\txor %ebp, %ebp\n\t"
        "xor %r8d, %r8d\n\txor %r9d, %r9d\n\txor %r10d, %r10d\n\txor %r11d, %r11d\n\t"
        "xor %r12d, %r12d\n\txor %r13d, %r13d\n\txor %r14d, %r14d\n\txor %r15d, %r15d\n\t"
        "push $2\n\tpopfq\n\t"
        "lretq\n");
_Static_assert(PC_BOOT_PML4 == 0x9000 && PC_BOOT_STACK == 0x8FF0,
               "the trampoline above hard-codes the boot page tables and stack");

static void write_boot_tables(void)
{
    uint64_t *gdt = phys_ptr(PC_BOOT_GDT);
    gdt[0] = 0;
    gdt[1] = 0x00CF9A000000FFFFULL; /* 0x08 32-bit code */
    gdt[2] = 0x00AF9A000000FFFFULL; /* 0x10 64-bit code */
    gdt[3] = 0x00CF92000000FFFFULL; /* 0x18 data */
    uint64_t *pml4 = phys_ptr(PC_BOOT_PML4);
    uint64_t *pdpt = phys_ptr(PC_BOOT_PDPT);
    uint64_t *pd = phys_ptr(PC_BOOT_PD);
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    pml4[0] = PC_BOOT_PDPT | PTE_PRESENT | PTE_WRITABLE;
    for (unsigned i = 0; i < 4; i++)
        pdpt[i] = (PC_BOOT_PD + 4096 * i) | PTE_PRESENT | PTE_WRITABLE;
    for (unsigned i = 0; i < 2048; i++)
        pd[i] = (uint64_t)i * PAGE_2M | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE;
}

void test_main(void)
{
    CHECK(boot_protocol == BOOT_MULTIBOOT, "elfboot must be started through Multiboot");
    const struct multiboot_info *mbi = (const void *)(uintptr_t)multiboot_info;
    CHECK(mbi && (mbi->flags & MB_INFO_MODS) && mbi->mods_count >= 1,
          "no Multiboot module: pass the program with -initrd PROG.elf");
    const struct multiboot_module *mod = (const void *)(uintptr_t)mbi->mods_addr;
    const uint8_t *file = (const uint8_t *)(uintptr_t)mod->start;
    uint64_t size = mod->end - mod->start;
    const struct elf64_header *eh = (const void *)file;
    CHECK(size >= sizeof *eh && !memcmp(eh->ident, "\177ELF", 4) && eh->ident[4] == 2 &&
              eh->machine == 62,
          "module 0 (%lu bytes) is not an ELF64 x86-64 file", size);
    CHECK(eh->phentsize == sizeof(struct elf64_phdr) && eh->phoff + (uint64_t)eh->phnum * eh->phentsize <= size,
          "module 0: program headers outside the file");
    extern char __load_start[];
    uint64_t self = (uint64_t)(uintptr_t)__load_start;
    const struct elf64_phdr *ph = (const void *)(file + eh->phoff);
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != ELF_PT_LOAD || !ph[i].memsz)
            continue;
        CHECK(ph[i].offset + ph[i].filesz <= size && ph[i].filesz <= ph[i].memsz,
              "module 0: segment %u outside the file", i);
        CHECK(ph[i].paddr >= PC_HIMEM_START && ph[i].paddr + ph[i].memsz <= self,
              "module 0: segment %u at 0x%lx+0x%lx is not between 1 MiB and elfboot (0x%lx)", i,
              ph[i].paddr, ph[i].memsz, self);
        memcpy(phys_ptr(ph[i].paddr), file + ph[i].offset, ph[i].filesz);
        memset(phys_ptr(ph[i].paddr + ph[i].filesz), 0, ph[i].memsz - ph[i].filesz);
    }
    write_boot_tables();
    kprintf("elfboot: entering the program at 0x%lx in long mode (tandem ELF boot protocol)\n",
            eh->entry);
    static struct {
        uint16_t pad[3];
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed, aligned(8))) gdtr = {{0}, 4 * 8 - 1, PC_BOOT_GDT}, idtr = {{0}, 0, PC_BOOT_IDT};
    wrmsr(MSR_EFER, ENTRY_EFER & ~0x400ULL); /* LMA is read-only: set by the CPU */
    enter_long_mode_entry(eh->entry, (uint64_t)(uintptr_t)&gdtr.limit, (uint64_t)(uintptr_t)&idtr.limit);
}
