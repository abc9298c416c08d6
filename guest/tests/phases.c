/* Alternating ring-3 and ring-0 phases, for the auto engine
 * (docs/engine-switching.md): each round runs a long hash loop in ring 3
 * (entered with IRETQ, left through the #GP a ring-3 HLT raises: kvm_pvm
 * turns a ring-3 INT n into #UD, and its workaround is not what is tested
 * here) and then a shorter one in ring 0.
 * On kvm_pvm the auto engine should move to KVM for the ring-3 phases and
 * back to the interpreter for the ring-0 ones. The result depends only on
 * the instructions, never on timing, so every engine and every switching
 * schedule must print the same hash (tests/switching.cmake compares them). */
#include "guest.h"

const char test_name[] = "phases";

#define ROUNDS 4
#define USER_ITERS 1000000u
#define KERNEL_ITERS 5000u
/* The same rounds computed on the host (Python, 64-bit wrapping). */
#define EXPECTED_HASH 0x7bb74cc709ed0967ull

static uint8_t user_stack[0x2000] __attribute__((aligned(16)));

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static _Noreturn void user_phase(uint64_t seed)
{
    uint64_t h = seed;
    for (uint64_t i = 0; i < USER_ITERS; i++)
        h = mix(h, i);
    __asm__ volatile("hlt" ::"a"(h) : "memory");
    __builtin_unreachable();
}

/* #GP from the ring-3 HLT: back to ring 0 with the hash in RAX. */
static void return_gate(struct trap_frame *f)
{
    user_return(f, f->rax);
}

void test_main(void)
{
    idt_register(VEC_GP, return_gate, 0);
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned r = 0; r < ROUNDS; r++) {
        h = user_enter((uint64_t)(uintptr_t)user_phase,
                       (uint64_t)(uintptr_t)(user_stack + sizeof user_stack), h);
        for (uint64_t i = 0; i < KERNEL_ITERS; i++)
            h = mix(h, i ^ r);
    }
    kprintf("phases: %u rounds of %u ring-3 and %u ring-0 iterations, hash %lx\n", ROUNDS,
            USER_ITERS, KERNEL_ITERS, h);
    CHECK_EQ(h, EXPECTED_HASH, "hash of the rounds");
}
