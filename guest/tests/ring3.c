/* Ring 3: drops to CPL 3 with IRETQ through a TSS and user segments, runs a
 * checksum with a known answer there, and comes back to ring 0 through an
 * INT gate (DPL 3), through SYSCALL, and through the faults ring 3 must
 * take: HLT (#GP), INT to a DPL-0 gate (#GP), a supervisor-only page (#PF). */
#include "guest.h"

const char test_name[] = "ring3";

#define SYSCALL_VECTOR 0x90
#define KERNEL_ONLY_VECTOR 0x91
#define BUF_SIZE 4096
/* Adler-32 of the LCG-filled buffer below, computed independently. */
#define EXPECTED_ADLER32 0x5c9305d4u
/* 1 GiB: a 2 MiB page this test makes supervisor-only. */
#define SUPERVISOR_PAGE 0x40000000ULL

static uint8_t buffer[BUF_SIZE];
static uint8_t user_stack[0x2000] __attribute__((aligned(16)));
static volatile uint64_t fault_vector, fault_error, fault_cs, fault_cr2;

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

static uint64_t current_cpl(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return cs & 3;
}

/* Ring-3 bodies: each ends by trapping back to ring 0 and never returns. */
static _Noreturn void user_checksum_int(uint64_t buf)
{
    uint64_t result = (current_cpl() << 32) | adler32((const uint8_t *)buf, BUF_SIZE);
    __asm__ volatile("int %[v]" ::"a"(result), [v] "i"(SYSCALL_VECTOR) : "memory");
    __builtin_unreachable();
}

static _Noreturn void user_checksum_syscall(uint64_t buf)
{
    uint64_t result = (current_cpl() << 32) | adler32((const uint8_t *)buf, BUF_SIZE);
    __asm__ volatile("syscall" ::"a"(result) : "rcx", "r11", "memory");
    __builtin_unreachable();
}

static _Noreturn void user_hlt(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("hlt");
    __builtin_unreachable();
}

static _Noreturn void user_int_kernel_gate(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("int %[v]" ::[v] "i"(KERNEL_ONLY_VECTOR));
    __builtin_unreachable();
}

static _Noreturn void user_read(uint64_t addr)
{
    (void)*(volatile uint8_t *)addr;
    __builtin_unreachable();
}

static void syscall_gate(struct trap_frame *f)
{
    fault_cs = f->cs;
    user_return(f, f->rax);
}

static void fault_to_kernel(struct trap_frame *f)
{
    fault_vector = f->vector;
    fault_error = f->error_code;
    fault_cs = f->cs;
    fault_cr2 = read_cr2();
    user_return(f, 0xF00D);
}

static uint64_t run_user(void (*fn)(uint64_t), uint64_t arg)
{
    fault_vector = fault_error = fault_cs = fault_cr2 = ~0ULL;
    return user_enter((uint64_t)(uintptr_t)fn, (uint64_t)(uintptr_t)(user_stack + sizeof user_stack), arg);
}

void test_main(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < BUF_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        buffer[i] = (uint8_t)(x >> 16);
    }
    CHECK_EQ(adler32(buffer, BUF_SIZE), EXPECTED_ADLER32, "ring-0 checksum");

    idt_register(SYSCALL_VECTOR, syscall_gate, 3);
    uint64_t r = run_user(user_checksum_int, (uint64_t)(uintptr_t)buffer);
    CHECK_EQ(r >> 32, 3, "CPL seen by the INT-gate user code");
    CHECK_EQ((uint32_t)r, EXPECTED_ADLER32, "ring-3 checksum (INT return)");
    CHECK_EQ(fault_cs, SEL_USER_CODE64 | 3, "CS pushed by INT 0x90 from ring 3");
    CHECK_EQ(current_cpl(), 0, "CPL after returning");

    syscall_enable();
    r = run_user(user_checksum_syscall, (uint64_t)(uintptr_t)buffer);
    CHECK_EQ(r >> 32, 3, "CPL seen by the SYSCALL user code");
    CHECK_EQ((uint32_t)r, EXPECTED_ADLER32, "ring-3 checksum (SYSCALL return)");

    idt_register(VEC_GP, fault_to_kernel, 0);
    r = run_user(user_hlt, 0);
    CHECK_EQ(r, 0xF00D, "return from HLT in ring 3");
    CHECK_EQ(fault_vector, VEC_GP, "vector for HLT in ring 3");
    CHECK_EQ(fault_error, 0, "#GP error code for HLT");
    CHECK_EQ(fault_cs, SEL_USER_CODE64 | 3, "CS pushed by the #GP from ring 3");

    run_user(user_int_kernel_gate, 0);
    CHECK_EQ(fault_vector, VEC_GP, "vector for INT to a DPL-0 gate");
    /* Error code: the IDT bit (1) set, EXT clear, the vector as index
     * (SDM 6.13: vector * 8 + 2). QEMU TCG reports vector * 16 + 2, the
     * 64-bit IDT byte offset; accept both so QEMU stays the reference. */
    CHECK((fault_error & 3) == 2 && ((fault_error >> 3) == KERNEL_ONLY_VECTOR ||
                                     (fault_error >> 4) == KERNEL_ONLY_VECTOR),
          "#GP error code for INT 0x91: got 0x%lx, want 0x%x", fault_error,
          (KERNEL_ONLY_VECTOR << 3) | 2);

    idt_register(VEC_PF, fault_to_kernel, 0);
    uint64_t *pde = &boot_page_directory[SUPERVISOR_PAGE / PAGE_2M];
    *pde &= ~PTE_USER;
    invlpg(SUPERVISOR_PAGE);
    run_user(user_read, SUPERVISOR_PAGE + 0x123);
    *pde |= PTE_USER;
    invlpg(SUPERVISOR_PAGE);
    CHECK_EQ(fault_vector, VEC_PF, "vector for a ring-3 read of a supervisor page");
    CHECK_EQ(fault_cr2, SUPERVISOR_PAGE + 0x123, "CR2");
    CHECK_EQ(fault_error, 0x5, "#PF error code (present | user, read)");
    kprintf("ring 3 checksum 0x%08x via INT and SYSCALL; #GP and #PF from ring 3 OK\n",
            EXPECTED_ADLER32);
}
