/* SYSCALL/SYSRETQ round trips from a ring-3 loop: 2,000 system calls, each
 * after a little ring-3 work, so an engine switch lands at CPL 3 and at CPL
 * 0 many times. The SYSCALL entry checks it runs at CPL 0 and computes
 * x -> 3x + 1 mod 2^16; the user loop checks every answer and returns a
 * checksum compared with one computed in ring 0. The entry point is
 * reached through a supervisor-only alias in the upper half, where Linux
 * keeps entry_SYSCALL_64: that is the case kvm_pvm gets wrong (it jumps
 * there still in user mode, and the guest takes a #PF), which tandem
 * repairs (kvm/kvm_pvm.c, `kvmSyscallRepairs`). */
#include "guest.h"

const char test_name[] = "syscall_loop";

#define CALLS 2000
#define WORK 20
#define RETURN_VECTOR 0x90

/* -2 GiB: PML4 slot 511, PDPT slot 510, as Linux's kernel text. */
#define UPPER_ALIAS 0xffffffff80000000ULL

extern uint64_t boot_pml4[512];
static uint64_t upper_pdpt[512] __attribute__((aligned(4096)));
static uint8_t user_stack[0x2000] __attribute__((aligned(16)));
/* Written by the SYSCALL entry at CPL 0. */
uint64_t entries_not_cpl0;
uint64_t entry_count;

/* The SYSCALL target: no stack (SYSCALL keeps the user's RSP), IF clear
 * (SFMASK), R8 free (the caller lists it as clobbered). */
__asm__(".text\n"
        ".globl loop_syscall_entry\n"
        "loop_syscall_entry:\n"
        "  mov %cs, %r8\n"
        "  and $3, %r8\n"
        "  jz 1f\n"
        "  incq entries_not_cpl0(%rip)\n"
        "1:\n"
        "  incq entry_count(%rip)\n"
        "  lea 1(%rax,%rax,2), %rax\n"
        "  movzwl %ax, %eax\n"
        "  sysretq\n");
extern const char loop_syscall_entry[];

static uint64_t step(uint64_t x)
{
    return (3 * x + 1) & 0xffff;
}

static uint64_t work(uint64_t h, uint64_t i)
{
    for (uint64_t j = 0; j < WORK; j++)
        h = h * 31 + (i ^ j);
    return h;
}

static uint64_t expected_checksum(void)
{
    uint64_t x = 1, h = 0;
    for (uint64_t i = 0; i < CALLS; i++) {
        h = work(h, i);
        x = step(x ^ (h & 0xff));
        h += x;
    }
    return h;
}

/* Result: the checksum, or 0 when a SYSCALL answered wrongly. */
static _Noreturn void user_loop(uint64_t unused)
{
    (void)unused;
    uint64_t x = 1, h = 0, result;
    for (uint64_t i = 0; i < CALLS; i++) {
        h = work(h, i);
        uint64_t arg = x ^ (h & 0xff), answer;
        __asm__ volatile("syscall" : "=a"(answer) : "a"(arg) : "rcx", "r11", "r8", "memory");
        if (answer != step(arg)) {
            h = 0;
            break;
        }
        x = answer;
        h += x;
    }
    result = h;
    __asm__ volatile("int %[v]" ::"a"(result), [v] "i"(RETURN_VECTOR) : "memory");
    __builtin_unreachable();
}

static void unexpected_gp(struct trap_frame *f)
{
    test_fail("#GP at %lx:%lx after %lu SYSCALL entries (%lu outside CPL 0)", f->cs, f->rip,
              entry_count, entries_not_cpl0);
}

static void return_gate(struct trap_frame *f)
{
    user_return(f, f->rax);
}

void test_main(void)
{
    uint64_t want = expected_checksum();
    idt_register(RETURN_VECTOR, return_gate, 3);
    idt_register(VEC_GP, unexpected_gp, 0);
    /* The first GiB again at UPPER_ALIAS, supervisor-only (no PTE_USER). */
    upper_pdpt[510] = (uint64_t)(uintptr_t)boot_page_directory | PTE_PRESENT | PTE_WRITABLE;
    boot_pml4[511] = (uint64_t)(uintptr_t)upper_pdpt | PTE_PRESENT | PTE_WRITABLE;
    syscall_enable();
    wrmsr(0xC0000082, UPPER_ALIAS + (uint64_t)(uintptr_t)loop_syscall_entry); /* IA32_LSTAR */
    uint64_t got = user_enter((uint64_t)(uintptr_t)user_loop,
                              (uint64_t)(uintptr_t)(user_stack + sizeof user_stack), 0);
    CHECK_EQ(entries_not_cpl0, 0, "SYSCALL entries that ran outside CPL 0");
    CHECK_EQ(entry_count, CALLS, "SYSCALL entries");
    CHECK_EQ(got, want, "ring-3 checksum over the SYSCALL answers");
    kprintf("%d SYSCALL/SYSRETQ round trips from ring 3, checksum 0x%lx\n", CALLS, got);
}
