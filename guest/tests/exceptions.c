/* Exceptions taken in ring 0 and resumed: #PF (not present, then write to a
 * read-only page; the handler fixes the mapping and the access restarts),
 * #GP (bad selector, non-canonical address), #UD, #DE, #BP and a TF
 * single-step #DB. Checks vector, error code, faulting RIP, CR2, that the
 * handler sees the interrupted registers and that they survive the trap. */
#include "guest.h"

const char test_name[] = "exceptions";

/* 8 MiB: RAM above the image, one 2 MiB page this test plays with. */
#define TEST_PAGE 0x800000ULL
#define REG_MAGIC 0x1122334455667788ULL

static volatile uint64_t got_vector, got_error, got_rip, got_cr2, got_rax, got_dr6;
static volatile uint64_t fault_at, resume_at, traps;
static uint64_t *test_pde;

/* Records the trap; resumes at resume_at when the test sets one (faults
 * whose instruction must not restart), else returns to the saved RIP. */
static void record(struct trap_frame *f)
{
    traps++;
    got_vector = f->vector;
    got_error = f->error_code;
    got_rip = f->rip;
    got_cr2 = read_cr2();
    got_rax = f->rax;
    if (resume_at)
        f->rip = resume_at;
}

static void fix_page(struct trap_frame *f)
{
    record(f);
    *test_pde |= PTE_PRESENT | PTE_WRITABLE;
    invlpg(TEST_PAGE);
}

static void single_step(struct trap_frame *f)
{
    record(f);
    uint64_t dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    got_dr6 = dr6;
    f->rflags &= ~0x100ULL; /* clear TF: one step only */
}

static void reset(void)
{
    got_vector = got_error = got_rip = got_cr2 = got_rax = got_dr6 = ~0ULL;
    fault_at = resume_at = traps = 0;
}

static void expect(uint64_t vector, uint64_t error, const char *what)
{
    if (traps != 1)
        test_fail("%s: %lu traps, want 1", what, traps);
    if (got_vector != vector)
        test_fail("%s: vector %lu (%s), want %lu (%s)", what, got_vector,
                  exception_name(got_vector), vector, exception_name(vector));
    if (got_error != error)
        test_fail("%s: error code 0x%lx, want 0x%lx", what, got_error, error);
}

/* Runs INSN with fault_at/resume_at set to the addresses of INSN and of the
 * instruction after it. */
#define RUN_FAULTING(insn, ...)                                                   \
    __asm__ volatile("lea 1f(%%rip), %%r11\n\tmov %%r11, %[at]\n\t"              \
                     "lea 2f(%%rip), %%r11\n\tmov %%r11, %[resume]\n\t"         \
                     "1: " insn "\n2:"                                            \
                     : [at] "=m"(fault_at), [resume] "=m"(resume_at)__VA_ARGS__)

static void test_page_faults(void)
{
    volatile uint64_t *p = (volatile uint64_t *)(TEST_PAGE + 0x238);
    test_pde = &boot_page_directory[TEST_PAGE / PAGE_2M];
    idt_register(VEC_PF, fix_page, 0);

    reset();
    *test_pde &= ~PTE_PRESENT;
    invlpg(TEST_PAGE);
    *p = 0xABCD;
    expect(VEC_PF, 0x2, "#PF write to a not-present page");
    CHECK_EQ(got_cr2, (uint64_t)(uintptr_t)p, "CR2 of the not-present write");
    CHECK_EQ(*p, 0xABCD, "the write restarted after the handler mapped the page");

    reset();
    *test_pde &= ~PTE_WRITABLE;
    invlpg(TEST_PAGE);
    CHECK_EQ(*p, 0xABCD, "read of the read-only page");
    CHECK_EQ(traps, 0, "traps taken by a read of a read-only page");
    *p = 0x5678;
    expect(VEC_PF, 0x3, "#PF write to a read-only page (CR0.WP)");
    CHECK_EQ(got_cr2, (uint64_t)(uintptr_t)p, "CR2 of the read-only write");
    CHECK_EQ(*p, 0x5678, "the write restarted after the handler made the page writable");
    idt_unregister(VEC_PF);
}

static void test_faults(void)
{
    idt_register(VEC_GP, record, 0);
    idt_register(VEC_UD, record, 0);
    idt_register(VEC_DE, record, 0);

    reset();
    RUN_FAULTING("mov %w[sel], %%ds", : [sel] "r"(0x1238) : "r11", "memory");
    expect(VEC_GP, 0x1238, "#GP loading a selector beyond the GDT limit");
    CHECK_EQ(got_rip, fault_at, "#GP (selector) RIP");

    reset();
    uint64_t dummy;
    RUN_FAULTING("mov (%[addr]), %[val]", , [val] "=r"(dummy) : [addr] "r"(0x8000000000000000ULL) : "r11", "memory");
    (void)dummy;
    expect(VEC_GP, 0, "#GP on a non-canonical address");
    CHECK_EQ(got_rip, fault_at, "#GP (non-canonical) RIP");

    reset();
    uint64_t r12_after;
    __asm__ volatile("mov %[magic], %%r12\n\tmov %[magic], %%rax\n\t"
                     "lea 1f(%%rip), %%r11\n\tmov %%r11, %[at]\n\t"
                     "lea 2f(%%rip), %%r11\n\tmov %%r11, %[resume]\n\t"
                     "1: ud2\n2:\tmov %%r12, %[r12]"
                     : [at] "=m"(fault_at), [resume] "=m"(resume_at), [r12] "=r"(r12_after)
                     : [magic] "r"(REG_MAGIC)
                     : "r11", "r12", "rax", "memory");
    expect(VEC_UD, 0, "#UD on UD2");
    CHECK_EQ(got_rax, REG_MAGIC, "RAX seen by the #UD handler");
    CHECK_EQ(got_rip, fault_at, "#UD RIP (the UD2)");
    CHECK_EQ(r12_after, REG_MAGIC, "R12 preserved across the #UD handler");

    reset();
    uint64_t rax = 7, rdx = 0;
    RUN_FAULTING("divq %[zero]", , "+a"(rax), "+d"(rdx) : [zero] "r"(0ULL) : "r11", "memory");
    expect(VEC_DE, 0, "#DE on division by zero");
    CHECK_EQ(got_rip, fault_at, "#DE RIP");
    CHECK_EQ(rax, 7, "RAX after the skipped DIV");

    idt_unregister(VEC_GP);
    idt_unregister(VEC_UD);
    idt_unregister(VEC_DE);
}

static void test_traps(void)
{
    idt_register(VEC_BP, record, 0);
    reset();
    RUN_FAULTING("int3", : : "r11", "memory");
    resume_at = 0;
    expect(VEC_BP, 0, "#BP on INT3");
    /* A trap: the saved RIP is the instruction after INT3. */
    CHECK_EQ(got_rip, fault_at + 1, "#BP RIP");

    idt_register(VEC_DB, single_step, 0);
    reset();
    uint64_t after_nop;
    /* POPF sets TF; the trap comes after the NEXT instruction (SDM 17.3.1.4). */
    __asm__ volatile("lea 1f(%%rip), %0\n\t"
                     "pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\tnop\n1:\tnop"
                     : "=&r"(after_nop)::"memory");
    expect(VEC_DB, 0, "#DB single step");
    CHECK_EQ(got_rip, after_nop, "#DB RIP (after the first instruction with TF)");
    CHECK(got_dr6 & (1u << 14), "DR6.BS clear after a single step (DR6 0x%lx)", got_dr6);
    idt_unregister(VEC_DB);
    idt_unregister(VEC_BP);
}

void test_main(void)
{
    test_page_faults();
    test_faults();
    test_traps();
    kprintf("#PF x2, #GP x2, #UD, #DE, #BP, #DB handled and resumed\n");
}
