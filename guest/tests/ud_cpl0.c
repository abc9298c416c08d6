/* #UD at CPL 0 and CPL 3, one handler entry per fault. On kvm_pvm the host
 * delivers #UD into the guest for instructions its ring-0 emulator lacks
 * and for UD2; tandem intercepts the delivery at the guest's handler, undoes
 * it and lets the interpreter decide (kvm/kvm_pvm.c), so each case below
 * must reach the handler exactly once with the faulting RIP and the
 * interrupted registers, and the instructions around it must be unaffected.
 * POPCNT and MOVBE are not in the CPU model: the interpreter raises #UD for
 * them, while hardware KVM executes them natively whatever CPUID says, so
 * either outcome passes as long as it is one of the two, complete. */
#include "guest.h"

const char test_name[] = "ud_cpl0";

#define REG_MAGIC 0x0123456789abcdefULL

static uint8_t user_stack[0x2000] __attribute__((aligned(16)));
static volatile uint64_t uds, got_rip, got_cs, got_rax, fault_at, resume_at;

static void on_ud(struct trap_frame *f)
{
    uds++;
    got_rip = f->rip;
    got_cs = f->cs;
    got_rax = f->rax;
    if (f->cs & 3)
        user_return(f, uds);
    else
        f->rip = resume_at;
}

static void reset(void)
{
    uds = 0;
    got_rip = got_cs = got_rax = fault_at = resume_at = ~0ULL;
}

/* Exactly one #UD at fault_at, from ring 0, seeing RAX = rax. */
static void expect_one_ud(uint64_t rax, const char *what)
{
    if (uds != 1)
        test_fail("%s: the #UD handler ran %lu times, want 1", what, uds);
    CHECK_EQ(got_rip, fault_at, what);
    CHECK_EQ(got_cs & 3, 0, "CPL of the #UD frame");
    CHECK_EQ(got_rax, rax, "RAX seen by the #UD handler");
}

/* Runs INSN with fault_at/resume_at set to its address and the next one. */
#define RUN(insn, ...)                                                              \
    __asm__ volatile("lea 1f(%%rip), %%r11\n\tmov %%r11, %[at]\n\t"                \
                     "lea 2f(%%rip), %%r11\n\tmov %%r11, %[resume]\n\t"           \
                     "1: " insn "\n2:"                                              \
                     : [at] "=m"(fault_at), [resume] "=m"(resume_at)__VA_ARGS__)

static void test_ud2(void)
{
    reset();
    uint64_t rax = REG_MAGIC, r12 = REG_MAGIC ^ 1;
    RUN("ud2", , "+a"(rax), "+r"(r12) : : "r11", "memory");
    expect_one_ud(REG_MAGIC, "UD2");
    CHECK_EQ(rax, REG_MAGIC, "RAX after UD2");
    CHECK_EQ(r12, REG_MAGIC ^ 1, "R12 after UD2");
}

static void test_lock_nop(void)
{
    reset();
    uint64_t rax = 42;
    RUN(".byte 0xf0, 0x90", , "+a"(rax) : : "r11", "memory"); /* LOCK NOP: always #UD */
    expect_one_ud(42, "LOCK NOP");
}

/* An instruction outside the model: #UD once with the destination kept,
 * or (hardware KVM) executed with its architectural result. */
static void check_unmodelled(const char *what, uint64_t before, uint64_t after, uint64_t result)
{
    if (uds == 0) {
        CHECK_EQ(after, result, what);
        kprintf("%s executed (hardware runs it natively)\n", what);
        return;
    }
    expect_one_ud(before, what);
    CHECK_EQ(after, before, "destination of the #UD instruction");
    kprintf("%s raised #UD once\n", what);
}

static void test_popcnt(void)
{
    reset();
    uint64_t rax = 7, src = 0xf0f0f0f000000003ULL;
    RUN("popcnt %[src], %%rax", , "+a"(rax) : [src] "r"(src) : "r11", "memory");
    check_unmodelled("POPCNT", 7, rax, 18);
}

static void test_movbe(void)
{
    static uint64_t word = 0x1122334455667788ULL;
    reset();
    uint64_t rax = 9;
    RUN("movbe %[m], %%rax", , "+a"(rax) : [m] "m"(word) : "r11", "memory");
    check_unmodelled("MOVBE", 9, rax, 0x8877665544332211ULL);
}

/* A software INT 6 enters the #UD handler with the NEXT RIP in its frame:
 * nothing to undo. */
static void test_int6(void)
{
    reset();
    uint64_t rax = 6;
    RUN("int $6", , "+a"(rax) : : "r11", "memory");
    if (uds != 1)
        test_fail("INT 6: the #UD handler ran %lu times, want 1", uds);
    CHECK_EQ(got_rip, resume_at, "RIP pushed by INT 6 (the next instruction)");
}

static _Noreturn void user_ud2(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("mov %0, %%rax\n\tud2" ::"r"(REG_MAGIC) : "rax");
    __builtin_unreachable();
}

static void test_ring3(void)
{
    reset();
    uint64_t r = user_enter((uint64_t)(uintptr_t)user_ud2,
                            (uint64_t)(uintptr_t)(user_stack + sizeof user_stack), 0);
    CHECK_EQ(r, 1, "#UD handler entries for a ring-3 UD2");
    CHECK_EQ(got_cs & 3, 3, "CPL of the ring-3 #UD frame");
    CHECK_EQ(got_rax, REG_MAGIC, "RAX seen by the ring-3 #UD handler");
}

void test_main(void)
{
    idt_register(VEC_UD, on_ud, 0);
    /* Each case twice: a second #UD at the same place must behave alike. */
    for (int i = 0; i < 2; i++) {
        test_ud2();
        test_lock_nop();
        test_popcnt();
        test_movbe();
        test_int6();
        test_ring3();
    }
    /* Plain instructions after all that still run. */
    uint64_t x = 0x1234;
    __asm__ volatile("bswap %0\n\tbsr %0, %0" : "+r"(x));
    CHECK_EQ(x, 61, "BSWAP+BSR after the #UDs"); /* 0x3412 << 48: bit 61 */
    kprintf("UD2, LOCK NOP, INT 6 and ring-3 UD2: one #UD handler entry each\n");
}
