/* IDT, TSS and ring-3 support (Intel SDM Vol. 3A ch. 5-7). */
#include "guest.h"

struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type_attr;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
} __attribute__((packed));

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));

struct descriptor_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern const char trap_stubs[];
extern uint64_t boot_gdt[GDT_ENTRIES];
extern const char syscall_entry[];
extern const char user_return_point[];
extern uint64_t user_kernel_rsp;

static struct idt_gate idt[256] __attribute__((aligned(16)));
static trap_handler_fn handlers[256];
static struct tss64 tss __attribute__((aligned(16)));
/* Ring-0 stack for traps taken from ring 3 (TSS.RSP0). */
static uint8_t ring0_stack[0x2000] __attribute__((aligned(16)));

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "coprocessor overrun",
    "#TS", "#NP", "#SS", "#GP", "#PF", "reserved", "#MF", "#AC", "#MC", "#XM",
    "#VE", "#CP",
};

const char *exception_name(uint64_t vector)
{
    if (vector < 32)
        return exception_names[vector] ? exception_names[vector] : "reserved";
    return "interrupt";
}

static void set_gate(uint8_t vector, unsigned dpl)
{
    uint64_t addr = (uint64_t)(uintptr_t)(trap_stubs + 16 * vector);
    idt[vector] = (struct idt_gate){
        .offset_low = (uint16_t)addr,
        .selector = SEL_CODE64,
        .ist = 0,
        .type_attr = (uint8_t)(0x80 | (dpl << 5) | 0xE), /* present, 64-bit interrupt gate */
        .offset_mid = (uint16_t)(addr >> 16),
        .offset_high = (uint32_t)(addr >> 32),
    };
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate((uint8_t)v, 0);
    struct descriptor_ptr p = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(p));
}

void idt_register(uint8_t vector, trap_handler_fn handler, unsigned dpl)
{
    handlers[vector] = handler;
    set_gate(vector, dpl);
}

void idt_unregister(uint8_t vector)
{
    handlers[vector] = NULL;
    set_gate(vector, 0);
}

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
    trap_handler_fn h = handlers[f->vector & 0xFF];
    if (h) {
        h(f);
        return;
    }
    test_fail("unexpected %s (vector %lu) error 0x%lx at %lx:%lx rsp %lx cr2 %lx",
              exception_name(f->vector), f->vector, f->error_code, f->cs, f->rip, f->rsp,
              read_cr2());
}

void gdt_install_tss(void)
{
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof tss - 1;
    tss.rsp[0] = (uint64_t)(uintptr_t)(ring0_stack + sizeof ring0_stack);
    tss.iomap_base = sizeof tss; /* no I/O permission bitmap */
    /* Available 64-bit TSS (type 9), present, DPL 0 (SDM 7.2.3). */
    boot_gdt[SEL_TSS / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ULL << 40) |
                            (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    boot_gdt[SEL_TSS / 8 + 1] = base >> 32;
    __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

void user_return(struct trap_frame *f, uint64_t value)
{
    f->rip = (uint64_t)(uintptr_t)user_return_point;
    f->cs = SEL_CODE64;
    f->ss = SEL_DATA;
    f->rsp = user_kernel_rsp;
    f->rflags = 2;
    f->rax = value;
}

#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_SFMASK 0xC0000084

void syscall_enable(void)
{
    wrmsr(MSR_STAR, ((uint64_t)SEL_USER_BASE << 48) | ((uint64_t)SEL_CODE64 << 32));
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_SFMASK, 0x47700); /* entry clears TF, IF, DF, IOPL, NT and AC */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
}
