/* KVM engine benchmark (run through bench/kvm-native):
 *  1. a ring-3 compute loop, hand-written machine code, run natively on the
 *     host and as a guest under tandem's KVM engine (a tiny ring-0 setup
 *     IRETQs to it): the ratio of the two speeds;
 *  2. the cost of a port-I/O exit round trip through tandem (bus, device,
 *     time keeping) against a bare KVM_RUN loop on the same guest code.
 * Prints the figures, the last line in the bench format. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/sim.h"

#define CODE_GPA 0x10000ULL
#define PML4_GPA 0x9000ULL
#define GDT_GPA 0x500ULL
#define PORT_MARK 0x720 /* each write records the host time */
#define PORT_DONE 0x721 /* ends the run */
#define PORT_SPIN 0x722 /* the exit round-trip loop's port */

/* Guest image at CODE_GPA (assembly in comments). */
static const uint8_t image_setup[] = {
    0x6a, 0x23,                         /* push $0x23      (user SS) */
    0x68, 0x00, 0x00, 0x08, 0x00,       /* push $0x80000   (user RSP) */
    0x68, 0x02, 0x30, 0x00, 0x00,       /* push $0x3002    (RFLAGS, IOPL 3) */
    0x6a, 0x2b,                         /* push $0x2b      (user CS) */
    0x68, 0x00, 0x01, 0x01, 0x00,       /* push $0x10100   (user RIP) */
    0x48, 0xcf,                         /* iretq */
};
static const uint8_t image_user[] = { /* at CODE_GPA + 0x100, ring 3 */
    0x66, 0xba, 0x20, 0x07,             /* mov $0x720,%dx */
    0xee,                               /* out %al,(%dx)      t0 */
    0x48, 0x89, 0xd9,                   /* mov %rbx,%rcx      loop count */
    0x48, 0x01, 0xd0,                   /* 1: add %rdx,%rax */
    0x48, 0x31, 0xc6,                   /* xor %rax,%rsi */
    0x48, 0xc1, 0xc0, 0x03,             /* rol $3,%rax */
    0x48, 0xff, 0xc9,                   /* dec %rcx */
    0x75, 0xf1,                         /* jnz 1b */
    0x66, 0xba, 0x20, 0x07,             /* mov $0x720,%dx */
    0xee,                               /* out %al,(%dx)      t1 */
    0x48, 0x89, 0xe9,                   /* mov %rbp,%rcx      exit count */
    0x66, 0xba, 0x22, 0x07,             /* mov $0x722,%dx */
    0xee,                               /* 2: out %al,(%dx) */
    0x48, 0xff, 0xc9,                   /* dec %rcx */
    0x75, 0xfa,                         /* jnz 2b */
    0x66, 0xba, 0x20, 0x07,             /* mov $0x720,%dx */
    0xee,                               /* out %al,(%dx)      t2 */
    0x66, 0xba, 0x21, 0x07,             /* mov $0x721,%dx */
    0xee,                               /* out %al,(%dx)      done */
    0xeb, 0xfe,                         /* jmp . */
};
/* The same loop as a host function: uint64_t loop(uint64_t count). */
static const uint8_t native_loop[] = {
    0x48, 0x89, 0xf9,                   /* mov %rdi,%rcx */
    0x48, 0x01, 0xd0,                   /* 1: add %rdx,%rax */
    0x48, 0x31, 0xc6,                   /* xor %rax,%rsi */
    0x48, 0xc1, 0xc0, 0x03,             /* rol $3,%rax */
    0x48, 0xff, 0xc9,                   /* dec %rcx */
    0x75, 0xf1,                         /* jnz 1b */
    0xc3,                               /* ret */
};

static void die(const char *what)
{
    fprintf(stderr, "kvm-native: %s\n", what);
    exit(1);
}

/* Page tables (1 GiB identity, 2 MiB user pages), GDT and code in ram. */
static void build_guest(uint8_t *ram)
{
    uint64_t v;
    v = (PML4_GPA + 0x1000) | 7;
    memcpy(ram + PML4_GPA, &v, 8);
    v = (PML4_GPA + 0x2000) | 7;
    memcpy(ram + PML4_GPA + 0x1000, &v, 8);
    for (uint64_t j = 0; j < 512; j++) {
        v = (j << 21) | 0x87;
        memcpy(ram + PML4_GPA + 0x2000 + 8 * j, &v, 8);
    }
    /* null, -, kernel code 0x10, kernel data 0x18, user data 0x20, user code 0x28 */
    const uint64_t gdt[6] = {0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL,
                             0x00cff3000000ffffULL, 0x00affb000000ffffULL};
    memcpy(ram + GDT_GPA, gdt, sizeof(gdt));
    memcpy(ram + CODE_GPA, image_setup, sizeof(image_setup));
    memcpy(ram + CODE_GPA + 0x100, image_user, sizeof(image_user));
}

static void ring0_long_mode(struct x86_state *st, uint64_t loop_count, uint64_t exit_count)
{
    x86_state_reset(st);
    x86_state_long_mode(st, PML4_GPA, CODE_GPA, 0x70000);
    st->gdtr.base = GDT_GPA;
    st->gdtr.limit = 6 * 8 - 1;
    st->gpr[R_RBX] = loop_count;
    st->gpr[R_RBP] = exit_count;
}

struct marks {
    double t[3];
    unsigned n;
    uint64_t spins;
    struct simulation *sim;
};

static uint64_t port_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0;
}

static void port_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    (void)val;
    (void)size;
    struct marks *m = opaque;
    if (off == 0 && m->n < 3)
        m->t[m->n++] = host_seconds();
    else if (off == 1)
        sim_exit(m->sim, 0, "benchmark done");
    else if (off == 2)
        m->spins++;
}

static const struct io_ops port_ops = {port_read, port_write};

static void run_tandem(uint64_t loop_count, uint64_t exit_count, struct marks *m)
{
    struct simulation sim;
    sim_init(&sim);
    log_set_quiet(true);
    struct sim_object *s = sim_create(&sim, "System", "system");
    if (!s || !sim_create(&sim, "CPU", "system.cpu0"))
        die(err_get());
    param_set_text(s, sim_type_param(s->type, "mem_size"), "64M");
    if (sim_instantiate(&sim) < 0)
        die(err_get());
    struct system *sys = SIM_CAST(struct system, s);
    struct cpu *cpu = SIM_CAST(struct cpu, sim_find(&sim, "system.cpu0"));
    memset(m, 0, sizeof(*m));
    m->sim = &sim;
    if (bus_map_pio(&sys->bus, PORT_MARK, 3, &port_ops, m, "bench") < 0)
        die(err_get());
    build_guest(sys->ram[0].host);
    struct x86_state st;
    ring0_long_mode(&st, loop_count, exit_count);
    cpu_set_state(cpu, &st);
    sim_run(&sim, TICK_MAX);
    if (m->n != 3)
        die("the guest did not reach its end under tandem (see the errors above)");
    sim_destroy(&sim);
}

/* The same guest on a bare VM: KVM_RUN, continue on every I/O exit. */
static double bare_kvm_exit_cost(uint64_t exit_count)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("cannot create a bare VM");
    size_t ram_size = 4 << 20;
    uint8_t *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    build_guest(ram);
    struct kvm_userspace_memory_region mr = {0, 0, 0, ram_size, (uint64_t)(uintptr_t)ram};
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0 || vcpu < 0)
        die("cannot set up the bare vCPU");
    struct kvm_run *run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0),
                               PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct kvm_sregs sr;
    ioctl(vcpu, KVM_GET_SREGS, &sr);
    struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb,
                               .present = 1, .s = 1, .l = 1, .g = 1};
    struct kvm_segment data = {.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 0x3,
                               .present = 1, .s = 1, .db = 1, .g = 1};
    sr.cs = code;
    sr.ds = sr.es = sr.fs = sr.gs = sr.ss = data;
    sr.gdt.base = GDT_GPA;
    sr.gdt.limit = 6 * 8 - 1;
    sr.cr0 = 0x80050033;
    sr.cr3 = PML4_GPA;
    sr.cr4 = 0x620;
    sr.efer = 0xd01;
    struct kvm_regs r = {.rip = CODE_GPA, .rsp = 0x70000, .rflags = 2, .rbx = 1,
                         .rbp = exit_count};
    if (ioctl(vcpu, KVM_SET_SREGS, &sr) < 0 || ioctl(vcpu, KVM_SET_REGS, &r) < 0)
        die("cannot load the bare vCPU state");
    double t[3];
    unsigned marks = 0;
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0)
            die("bare KVM_RUN failed");
        if (run->exit_reason != KVM_EXIT_IO)
            die("bare guest stopped with an unexpected exit");
        if (run->io.port == PORT_MARK && marks < 3)
            t[marks++] = host_seconds();
        else if (run->io.port == PORT_DONE)
            break;
    }
    close(vcpu);
    close(vm);
    close(kvm);
    munmap(ram, ram_size);
    return (t[2] - t[1]) / (double)exit_count;
}

static double native_seconds(uint64_t count)
{
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (page == MAP_FAILED)
        die("cannot map executable memory for the native loop");
    memcpy(page, native_loop, sizeof(native_loop));
    uint64_t (*loop)(uint64_t) = (uint64_t (*)(uint64_t))page;
    double t0 = host_seconds();
    loop(count);
    double t = host_seconds() - t0;
    munmap(page, 4096);
    return t;
}

int main(int argc, char **argv)
{
    uint64_t iterations = argc > 1 ? strtoull(argv[1], NULL, 0) : 2000000000ULL;
    uint64_t exits = argc > 2 ? strtoull(argv[2], NULL, 0) : 20000;
    native_seconds(iterations / 20); /* warm up the core's clock */
    struct marks m;
    double best_native = 1e9, best_guest = 1e9, tandem_exit = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double n = native_seconds(iterations);
        run_tandem(iterations, exits, &m);
        double g = m.t[1] - m.t[0];
        double e = (m.t[2] - m.t[1]) / (double)exits;
        if (n < best_native)
            best_native = n;
        if (g < best_guest)
            best_guest = g;
        if (e < tandem_exit)
            tandem_exit = e;
    }
    double bare_exit = bare_kvm_exit_cost(exits);
    double native_rate = (double)iterations / best_native / 1e6;
    double guest_rate = (double)iterations / best_guest / 1e6;
    double ratio = guest_rate / native_rate;
    printf("ring-3 loop, %llu iterations (best of 3):\n", (unsigned long long)iterations);
    printf("  native          %8.1f Miter/s (%.3f s)\n", native_rate, best_native);
    printf("  tandem KVM      %8.1f Miter/s (%.3f s)\n", guest_rate, best_guest);
    printf("port-I/O exit round trip, %llu exits:\n", (unsigned long long)exits);
    printf("  tandem KVM      %8.2f us\n", tandem_exit * 1e6);
    printf("  bare KVM_RUN    %8.2f us\n", bare_exit * 1e6);
    printf("kvm-native: %.3f ratio (peer native %.1f Miter/s, ratio %.3f)\n", ratio, native_rate,
           ratio);
    return 0;
}
