/* The KVM engine (docs/kvm.md): the guest runs on the host CPU through
 * /dev/kvm (Linux Documentation/virt/kvm/api.rst). One VM per System holds
 * the RAM memslots; each CPU gets a vCPU. Devices stay in tandem: port I/O
 * and MMIO exits go to the bus, interrupts come from our LAPIC model through
 * cpu->intr (userspace irqchip), and the LAPIC MSRs (APIC base,
 * TSC-deadline) exit to userspace through an MSR filter.
 *
 * Time: the guest TSC is the engine's clock. A vCPU has reached simulated
 * tick t when its TSC reads cpu_tsc_at(t); a per-vCPU POSIX timer kicks it
 * out of KVM_RUN when that happens for the next event's tick. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/model.h"
#include "kvm/kvm_priv.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Kvm, "KVM engine: exits, injections, kicks, TSC adjustments");

#define KVM_KICK_SIGNAL (SIGRTMIN + 3)

static int kvm_fd = -1;
static struct kvm_vm *vms;

static int open_kvm(void)
{
    if (kvm_fd >= 0)
        return 0;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            err_set("/dev/kvm does not exist: this host has no KVM (use engine=interp)");
        else if (e == EACCES || e == EPERM)
            err_set("permission denied opening /dev/kvm (join the 'kvm' group, or use "
                    "engine=interp)");
        else
            err_set("cannot open /dev/kvm: %s", strerror(e));
        return -1;
    }
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        err_set("/dev/kvm speaks API version %d, tandem needs %d", version, KVM_API_VERSION);
        close(fd);
        return -1;
    }
    kvm_fd = fd;
    return 0;
}

static int check_cap(int fd, long cap)
{
    int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
    return r < 0 ? 0 : r;
}

static int enable_vm_cap(struct kvm_vm *vm, uint32_t cap, uint64_t arg0)
{
    struct kvm_enable_cap c;
    memset(&c, 0, sizeof(c));
    c.cap = cap;
    c.args[0] = arg0;
    return ioctl(vm->fd, KVM_ENABLE_CAP, &c);
}

/* Model MSRs KVM handles itself; every other index exits to userspace
 * (KVM_X86_SET_MSR_FILTER with default deny), where the LAPIC's MSRs go to
 * cpu->intr and anything outside the CPU model gets #GP, as in the
 * interpreter. IA32_TSC may be read in KVM but writes come to us, because
 * the engine tracks the TSC offset. */
static int install_msr_filter(struct kvm_vm *vm)
{
    static uint8_t all_ones[1] = {0xff};
    static const struct {
        uint32_t base, n, flags;
    } allowed[] = {
        {MSR_IA32_SYSENTER_CS, 3, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE},
        {MSR_IA32_PAT, 1, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE},
        {MSR_EFER, 5, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE}, /* EFER .. SFMASK */
        {MSR_FS_BASE, 3, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE},
        {MSR_IA32_TSC, 1, KVM_MSR_FILTER_READ},
    };
    struct kvm_msr_filter f;
    memset(&f, 0, sizeof(f));
    f.flags = KVM_MSR_FILTER_DEFAULT_DENY;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        f.ranges[i].flags = allowed[i].flags;
        f.ranges[i].nmsrs = allowed[i].n;
        f.ranges[i].base = allowed[i].base;
        f.ranges[i].bitmap = all_ones;
    }
    if (enable_vm_cap(vm, KVM_CAP_X86_USER_SPACE_MSR,
                      KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN |
                          KVM_MSR_EXIT_REASON_INVAL) < 0 ||
        ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &f) < 0) {
        err_set("KVM_X86_SET_MSR_FILTER failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void vm_free(struct kvm_vm *vm)
{
    if (vm->fd >= 0)
        close(vm->fd);
    free(vm);
}

static struct kvm_vm *vm_create(struct system *sys)
{
    struct kvm_vm *vm = calloc(1, sizeof(*vm));
    vm->system = sys;
    vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm->fd < 0) {
        err_set("KVM_CREATE_VM failed: %s", strerror(errno));
        vm->fd = -1;
        vm_free(vm);
        return NULL;
    }
    /* Intel without unrestricted guest runs real mode through these pages;
     * AMD ignores them. Must precede vCPU creation. */
    uint64_t idmap = PC_KVM_IDENTITY_MAP;
    if (check_cap(kvm_fd, KVM_CAP_SET_IDENTITY_MAP_ADDR) &&
        ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
        err_set("KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(errno));
        vm_free(vm);
        return NULL;
    }
    if (check_cap(kvm_fd, KVM_CAP_SET_TSS_ADDR) &&
        ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)PC_KVM_TSS) < 0) {
        err_set("KVM_SET_TSS_ADDR failed: %s", strerror(errno));
        vm_free(vm);
        return NULL;
    }
    for (unsigned i = 0; i < sys->nram; i++) {
        struct kvm_userspace_memory_region mr = {
            .slot = i,
            .guest_phys_addr = sys->ram[i].gpa,
            .memory_size = sys->ram[i].size,
            .userspace_addr = (uint64_t)(uintptr_t)sys->ram[i].host,
        };
        if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
            err_set("KVM_SET_USER_MEMORY_REGION for RAM at %#" PRIx64 " (%" PRIu64
                    " MiB) failed: %s",
                    sys->ram[i].gpa, sys->ram[i].size >> 20, strerror(errno));
            vm_free(vm);
            return NULL;
        }
    }
    if (check_cap(vm->fd, KVM_CAP_EXCEPTION_PAYLOAD) &&
        enable_vm_cap(vm, KVM_CAP_EXCEPTION_PAYLOAD, 1) == 0)
        vm->exception_payload = true;
    if (check_cap(vm->fd, KVM_CAP_X86_USER_SPACE_MSR) && check_cap(vm->fd, KVM_CAP_X86_MSR_FILTER)) {
        if (install_msr_filter(vm) < 0) {
            vm_free(vm);
            return NULL;
        }
        vm->msr_filter = true;
    } else {
        log_warn("KVM lacks MSR filtering (KVM_CAP_X86_MSR_FILTER): the APIC-base and "
                 "TSC-deadline MSRs will not reach the LAPIC model");
    }
    return vm;
}

static struct kvm_vm *vm_get(struct system *sys)
{
    for (struct kvm_vm *vm = vms; vm; vm = vm->next)
        if (vm->system == sys) {
            vm->refs++;
            return vm;
        }
    struct kvm_vm *vm = vm_create(sys);
    if (!vm)
        return NULL;
    vm->refs = 1;
    vm->next = vms;
    vms = vm;
    return vm;
}

static void vm_put(struct kvm_vm *vm)
{
    if (--vm->refs)
        return;
    for (struct kvm_vm **p = &vms; *p; p = &(*p)->next)
        if (*p == vm) {
            *p = vm->next;
            break;
        }
    vm_free(vm);
    if (!vms) {
        close(kvm_fd);
        kvm_fd = -1;
    }
}

static int set_cpuid(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct cpuid_leaf leaves[64];
    size_t n = cpu_model_cpuid_table(cpu->cpu_index, leaves, 64);
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
    c->nent = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        c->entries[i].function = leaves[i].function;
        c->entries[i].index = leaves[i].index;
        c->entries[i].eax = leaves[i].eax;
        c->entries[i].ebx = leaves[i].ebx;
        c->entries[i].ecx = leaves[i].ecx;
        c->entries[i].edx = leaves[i].edx;
    }
    int rc = ioctl(v->fd, KVM_SET_CPUID2, c);
    free(c);
    if (rc < 0) {
        err_set("KVM_SET_CPUID2 refused the CPU model: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void kick_handler(int sig)
{
    (void)sig; /* the signal only has to interrupt KVM_RUN */
}

/* The kick signal stays blocked in the thread and is unblocked only inside
 * KVM_RUN (KVM_SET_SIGNAL_MASK): a timer that fires between our deadline
 * check and the ioctl leaves it pending, and KVM_RUN returns at once. */
static int setup_kick(struct kvm_vcpu *v)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(KVM_KICK_SIGNAL, &sa, NULL);
    sigset_t kick, current;
    sigemptyset(&kick);
    sigaddset(&kick, KVM_KICK_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &kick, &current);
    sigdelset(&current, KVM_KICK_SIGNAL);
    struct {
        struct kvm_signal_mask hdr;
        uint8_t set[8]; /* the kernel's sigset_t: 64 signals */
    } mask;
    mask.hdr.len = 8;
    memcpy(mask.set, &current, 8);
    if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &mask) < 0) {
        err_set("KVM_SET_SIGNAL_MASK failed: %s", strerror(errno));
        return -1;
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = KVM_KICK_SIGNAL;
    sev._sigev_un._tid = gettid();
    if (timer_create(CLOCK_MONOTONIC, &sev, &v->kick_timer) < 0) {
        err_set("timer_create for the vCPU kick failed: %s", strerror(errno));
        return -1;
    }
    v->kick_timer_valid = true;
    return 0;
}

/* Consumes a kick that interrupted (or pre-empted) KVM_RUN. */
static void eat_kicks(void)
{
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, KVM_KICK_SIGNAL);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&kick, NULL, &zero) > 0)
        ;
}

static const struct {
    enum kvm_counter idx;
    const char *name, *desc;
} counter_desc[] = {
    {KVM_STAT_EXITS_IO, "kvmExitsIo", "KVM exits for port I/O"},
    {KVM_STAT_EXITS_MMIO, "kvmExitsMmio", "KVM exits for MMIO"},
    {KVM_STAT_EXITS_HLT, "kvmExitsHlt", "KVM exits for HLT"},
    {KVM_STAT_EXITS_IRQ_WINDOW, "kvmExitsIrqWindow", "KVM exits when interrupts became deliverable"},
    {KVM_STAT_EXITS_INTR, "kvmExitsIntr", "KVM_RUN returns for a signal (kicks)"},
    {KVM_STAT_EXITS_MSR, "kvmExitsMsr", "KVM exits for RDMSR/WRMSR handled by tandem"},
    {KVM_STAT_EXITS_SHUTDOWN, "kvmExitsShutdown", "KVM exits for a triple fault"},
    {KVM_STAT_EXITS_INTERNAL_ERROR, "kvmExitsInternalError", "KVM emulation failures"},
    {KVM_STAT_EXITS_OTHER, "kvmExitsOther", "Other KVM exits (all reported)"},
    {KVM_STAT_INTERRUPTS, "kvmInterrupts", "External interrupts injected"},
    {KVM_STAT_NMIS, "kvmNmis", "NMIs injected"},
    {KVM_STAT_RUN_NS, "kvmRunTime", "Host time spent inside KVM_RUN"},
    {KVM_STAT_KICKS, "kvmKicks", "Kick timers armed for an event deadline"},
    {KVM_STAT_UD_INTERCEPTS, "kvmUdIntercepts",
     "#UDs kvm_pvm delivered, caught at the guest's handler and handed to the fallback "
     "engine (kvm/kvm_pvm.c)"},
    {KVM_STAT_SYSCALL_REPAIRS, "kvmSyscallRepairs",
     "SYSCALLs from ring 3 kvm_pvm left in user mode at the kernel's entry point, undone and "
     "handed to the fallback engine (kvm/kvm_pvm.c)"},
};

static void register_stats(struct cpu *cpu)
{
    char probe[256];
    snprintf(probe, sizeof(probe), "%s.%s", cpu->obj.path, counter_desc[0].name);
    if (stats_find(cpu->obj.sim, probe))
        return; /* registered by an earlier attach of this CPU */
    for (size_t i = 0; i < sizeof(counter_desc) / sizeof(counter_desc[0]); i++)
        stats_add_counter(&cpu->obj, counter_desc[i].name,
                          &cpu->engine_counters[counter_desc[i].idx],
                          counter_desc[i].idx == KVM_STAT_RUN_NS ? "ns" : "count",
                          counter_desc[i].desc);
}

static void kvm_detach(struct cpu *cpu);

static int kvm_attach(struct cpu *cpu)
{
    if (open_kvm() < 0)
        return -1;
    struct kvm_vcpu *v = calloc(1, sizeof(*v));
    v->fd = -1;
    cpu->engine_priv = v;
    v->vm = vm_get(cpu->system);
    if (!v->vm)
        goto fail;
    v->fd = ioctl(v->vm->fd, KVM_CREATE_VCPU, (unsigned long)cpu->cpu_index);
    if (v->fd < 0) {
        err_set("KVM_CREATE_VCPU %u failed: %s", cpu->cpu_index, strerror(errno));
        goto fail;
    }
    int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0) {
        err_set("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
        goto fail;
    }
    v->run_size = (size_t)size;
    v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        err_set("mmap of the vCPU run area failed: %s", strerror(errno));
        goto fail;
    }
    if (set_cpuid(cpu, v) < 0)
        goto fail;
    int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
    if (khz <= 0) {
        err_set("KVM_GET_TSC_KHZ failed: %s", strerror(errno));
        goto fail;
    }
    v->host_tsc_khz = (uint64_t)khz;
    v->tsc_ratio = 1ull << 32;
    /* With TSC scaling the guest TSC runs at the model's rate, so simulated
     * time advances one ns per host ns; without, at the host's rate. */
    if (check_cap(kvm_fd, KVM_CAP_TSC_CONTROL) &&
        ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)(CPU_MODEL_TSC_HZ / 1000)) == 0)
        v->tsc_ratio = (uint64_t)(((unsigned __int128)(CPU_MODEL_TSC_HZ / 1000) << 32) /
                                  v->host_tsc_khz);
    struct kvm_device_attr attr = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET};
    v->has_tsc_offset_attr = ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &attr) == 0;
    if (setup_kick(v) < 0)
        goto fail;
    v->ud_intercept = cpu_host_kvm_pvm();
    register_stats(cpu);
    return 0;
fail:
    kvm_detach(cpu);
    return -1;
}

static void kvm_detach(struct cpu *cpu)
{
    struct kvm_vcpu *v = kvm_vcpu_of(cpu);
    if (!v)
        return;
    if (v->kick_timer_valid)
        timer_delete(v->kick_timer);
    if (v->run)
        munmap(v->run, v->run_size);
    if (v->fd >= 0)
        close(v->fd);
    if (v->vm)
        vm_put(v->vm);
    else if (!vms && kvm_fd >= 0) { /* attach failed before it had a VM */
        close(kvm_fd);
        kvm_fd = -1;
    }
    free(v);
    cpu->engine_priv = NULL;
}

/* Simulated tick at which the guest TSC reads tsc (inverse of cpu_tsc_at). */
static tick_t tick_of_tsc(const struct cpu *cpu, uint64_t tsc)
{
    uint64_t base = (uint64_t)cpu->state.tsc_offset;
    if (tsc <= base)
        return 0;
    return (tick_t)((unsigned __int128)(tsc - base) * TICKS_PER_S / CPU_MODEL_TSC_HZ);
}

static void arm_kick(struct cpu *cpu, struct kvm_vcpu *v, tick_t until)
{
    uint64_t target = cpu_tsc_at(cpu, until);
    uint64_t now = kvm_guest_tsc_now(v);
    uint64_t guest_khz = (uint64_t)(((unsigned __int128)v->host_tsc_khz * v->tsc_ratio) >> 32);
    uint64_t ns = target > now ? (uint64_t)((unsigned __int128)(target - now) * 1000000 / guest_khz)
                               : 0;
    if (ns == 0)
        ns = 1;
    struct itimerspec its = {.it_value = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)}};
    timer_settime(v->kick_timer, 0, &its, NULL);
    cpu->engine_counters[KVM_STAT_KICKS]++;
}

static void disarm_kick(struct kvm_vcpu *v)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    timer_settime(v->kick_timer, 0, &its, NULL);
    eat_kicks(); /* one that fired after the last exit */
}

static void record_exit(struct cpu *cpu, struct kvm_vcpu *v, uint64_t detail)
{
    struct kvm_exit_record *r = &v->exits[v->nexits++ % KVM_EXIT_RING];
    r->reason = v->run->exit_reason;
    r->detail = detail;
    r->tick = sim_now(cpu->obj.sim);
}

static bool interrupt_wakes(struct cpu *cpu, struct kvm_vcpu *v)
{
    if (!cpu->intr)
        return false;
    const struct cpu_intr_ops *ops = cpu->intr->ops;
    if (ops->nmi_pending(cpu->intr->lapic))
        return true;
    return v->guest_if && ops->pending_vector(cpu->intr->lapic) >= 0;
}

/* Userspace irqchip: before each entry, hand KVM the NMI and the highest
 * LAPIC interrupt if the guest can take it now, or ask KVM to exit as soon
 * as it can (interrupt window). CR8 follows the LAPIC's TPR. */
static int prepare_interrupts(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    if (!cpu->intr) {
        run->request_interrupt_window = 0;
        return 0;
    }
    const struct cpu_intr_ops *ops = cpu->intr->ops;
    void *l = cpu->intr->lapic;
    if (ops->nmi_pending(l)) {
        ops->nmi_ack(l);
        if (ioctl(v->fd, KVM_NMI, 0) < 0) {
            err_set("KVM_NMI failed: %s", strerror(errno));
            return -1;
        }
        cpu->engine_counters[KVM_STAT_NMIS]++;
    }
    v->cr8_at_entry = (uint8_t)(ops->get_tpr(l) >> 4);
    run->cr8 = v->cr8_at_entry;
    if (ops->pending_vector(l) < 0) {
        run->request_interrupt_window = 0;
        return 0;
    }
    if (run->ready_for_interrupt_injection && run->if_flag) {
        struct kvm_interrupt irq = {.irq = ops->ack(l)};
        if (ioctl(v->fd, KVM_INTERRUPT, &irq) < 0) {
            err_set("KVM_INTERRUPT (vector %u) failed: %s", irq.irq, strerror(errno));
            return -1;
        }
        DPRINTF(Kvm, &cpu->obj, "inject vector %u", irq.irq);
        cpu->engine_counters[KVM_STAT_INTERRUPTS]++;
        run->ready_for_interrupt_injection = 0;
        run->request_interrupt_window = ops->pending_vector(l) >= 0;
    } else {
        run->request_interrupt_window = 1;
    }
    return 0;
}

static void handle_io(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    struct bus *bus = &cpu->system->bus;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;
    /* String I/O (INS/OUTS, REP) hands us count elements at once. */
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            uint64_t val = 0;
            memcpy(&val, data, size);
            bus_pio_write(bus, run->io.port, val, size);
        } else {
            uint64_t val = bus_pio_read(bus, run->io.port, size);
            memcpy(data, &val, size);
        }
    }
}

static void handle_mmio(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    struct bus *bus = &cpu->system->bus;
    unsigned len = run->mmio.len;
    bool natural = len == 1 || len == 2 || len == 4 || len == 8;
    if (run->mmio.is_write) {
        uint64_t val = 0;
        memcpy(&val, run->mmio.data, len);
        if (natural)
            bus_mem_write(bus, run->mmio.phys_addr, val, len);
        else
            bus_write(bus, run->mmio.phys_addr, run->mmio.data, len);
    } else if (natural) {
        uint64_t val = bus_mem_read(bus, run->mmio.phys_addr, len);
        memcpy(run->mmio.data, &val, len);
    } else {
        bus_read(bus, run->mmio.phys_addr, run->mmio.data, len);
    }
}

int kvm_handle_msr(struct cpu *cpu, struct kvm_vcpu *v, bool write)
{
    struct kvm_run *run = v->run;
    const struct cpu_intr_ops *ops = cpu->intr ? cpu->intr->ops : NULL;
    void *l = cpu->intr ? cpu->intr->lapic : NULL;
    uint64_t data = run->msr.data;
    run->msr.error = 0;
    switch (run->msr.index) {
    case MSR_IA32_APIC_BASE:
        if (!write)
            run->msr.data = ops ? ops->get_base(l) : v->apic_base;
        else if (ops)
            run->msr.error = !ops->set_base(l, data);
        else
            v->apic_base = data;
        return 0;
    case MSR_IA32_TSC_DEADLINE:
        if (!ops) { /* no LAPIC, no timer: reads 0, writes are dropped */
            if (!write)
                run->msr.data = 0;
        } else if (!write) {
            tick_t d = ops->get_deadline(l);
            run->msr.data = d ? cpu_tsc_at(cpu, d) : 0;
        } else if (data == 0) {
            ops->set_deadline(l, 0);
        } else {
            tick_t t = tick_of_tsc(cpu, data), now = sim_now(cpu->obj.sim);
            ops->set_deadline(l, t > now ? t : (now ? now : 1));
        }
        return 0;
    case MSR_IA32_TSC:
        if (!write) {
            run->msr.data = kvm_guest_tsc_now(v);
            return 0;
        }
        /* The state's offset moves with it, so simulated time (which follows
         * the guest TSC) does not jump. */
        cpu->state.tsc_offset += (int64_t)(data - kvm_guest_tsc_now(v));
        return kvm_set_guest_tsc(cpu, v, data);
    default:
        DPRINTF(Kvm, &cpu->obj, "%s of MSR %#x outside the CPU model: #GP", write ? "wrmsr" : "rdmsr",
                run->msr.index);
        run->msr.error = 1;
        return 0;
    }
}

/* Fills the fields the failure reports need (mode, RIP, paging). */
static int fetch_report_state(struct kvm_vcpu *v, struct x86_state *st)
{
    struct kvm_regs r;
    struct kvm_sregs sr;
    if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
        return -1;
    memset(st, 0, sizeof(*st));
    st->rip = r.rip;
    st->rflags = r.rflags;
    st->seg[S_CS].base = sr.cs.base;
    st->seg[S_CS].l = sr.cs.l;
    st->seg[S_CS].db = sr.cs.db;
    st->seg[S_CS].dpl = sr.cs.dpl;
    st->cr0 = sr.cr0;
    st->cr3 = sr.cr3;
    st->cr4 = sr.cr4;
    st->msr.efer = sr.efer;
    return 0;
}

static enum cpu_stop report_internal_error(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    static const char *const sub[] = {"", "emulation failure", "simultaneous exceptions",
                                      "delivery event", "unexpected exit reason"};
    uint32_t s = run->internal.suberror;
    if (s == KVM_INTERNAL_ERROR_EMULATION) {
        /* Not fatal: the CPU hands the instruction to its fallback engine. */
        DPRINTF(Kvm, &cpu->obj, "emulation failure: the instruction goes to the fallback engine");
        return CPU_STOP_FALLBACK;
    }
    log_error("%s: KVM internal error %u (%s) with %u data words:", cpu->obj.path, s,
              s < sizeof(sub) / sizeof(sub[0]) ? sub[s] : "unknown", run->internal.ndata);
    for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
        log_error("  data[%u] = %#llx", i, (unsigned long long)run->internal.data[i]);
    struct x86_state st;
    if (fetch_report_state(v, &st) == 0)
        kvm_report_instruction(cpu, &st);
    else
        log_error("  (registers unavailable: %s)", strerror(errno));
    kvm_report_exits(cpu);
    return CPU_STOP_ERROR;
}

static enum cpu_stop kvm_run_engine(struct cpu *cpu, tick_t until, tick_t *reached)
{
    struct kvm_vcpu *v = kvm_vcpu_of(cpu);
    struct simulation *sim = cpu->obj.sim;
    struct kvm_run *run = v->run;
    tick_t start = sim_now(sim);
    *reached = start;

    /* Simulated time moved on without the guest (halt, other events): its
     * TSC catches up. A TSC that is ahead keeps running: the vCPU then
     * waits below until simulated time reaches it. */
    uint64_t target = cpu_tsc_at(cpu, start);
    if (kvm_guest_tsc_now(v) < target && kvm_set_guest_tsc(cpu, v, target) < 0) {
        log_error("%s: %s", cpu->obj.path, err_get());
        return CPU_STOP_ERROR;
    }
    if (sim->run_insts_target) {
        char why[256];
        snprintf(why, sizeof(why), "%s: a run limited in instructions (for_insts) needs an engine "
                 "that counts them, the interpreter; KVM does not", cpu->obj.path);
        log_error("%s", why);
        sim_exit(sim, 1, why); /* as any run error (cpu/cpu.c) */
        return CPU_STOP_EXIT;
    }
    if (v->halted) {
        if (!interrupt_wakes(cpu, v))
            return CPU_STOP_HALT;
        v->halted = false;
    }

    /* Once per run rather than per exit: the guest's IDT rarely moves, and a
     * breakpoint left on an old handler is re-checked when it hits. */
    if (v->ud_intercept && kvm_pvm_arm_intercepts(cpu, v) < 0) {
        log_error("%s: %s", cpu->obj.path, err_get());
        return CPU_STOP_ERROR;
    }

    enum cpu_stop result = CPU_STOP_BUDGET;
    tick_t armed_for = 0;
    for (;;) {
        tick_t next = eq_next_tick(&sim->eq);
        if (next < until)
            until = next; /* a device scheduled something during an exit */
        tick_t t = tick_of_tsc(cpu, kvm_guest_tsc_now(v));
        if (t >= until) {
            cpu_advance_time(cpu, until);
            break;
        }
        cpu_advance_time(cpu, t);
        if (sim_interrupted(sim)) {
            result = CPU_STOP_EXIT;
            break;
        }
        if (cpu->yield_request)
            break;
        if (prepare_interrupts(cpu, v) < 0) {
            log_error("%s: %s", cpu->obj.path, err_get());
            result = CPU_STOP_ERROR;
            break;
        }
        if (armed_for != until) {
            arm_kick(cpu, v, until);
            armed_for = until;
        }
        double t0 = host_seconds();
        int rc = ioctl(v->fd, KVM_RUN, 0);
        int err = errno;
        cpu->engine_counters[KVM_STAT_RUN_NS] += (uint64_t)((host_seconds() - t0) * 1e9);
        v->completion_pending = false;
        v->guest_if = run->if_flag;
        if (rc < 0) {
            if (err == EINTR || err == EAGAIN) {
                eat_kicks();
                armed_for = 0; /* the timer may have fired: re-arm if needed */
                cpu->engine_counters[KVM_STAT_EXITS_INTR]++;
                continue;
            }
            log_error("%s: KVM_RUN failed: %s", cpu->obj.path, strerror(err));
            kvm_report_exits(cpu);
            result = CPU_STOP_ERROR;
            break;
        }
        cpu_advance_time(cpu, tick_of_tsc(cpu, kvm_guest_tsc_now(v)));
        if (cpu->intr && run->cr8 != v->cr8_at_entry)
            cpu->intr->ops->set_tpr(cpu->intr->lapic, (uint8_t)(run->cr8 << 4));

        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            record_exit(cpu, v, run->io.port);
            cpu->engine_counters[KVM_STAT_EXITS_IO]++;
            handle_io(cpu, v);
            v->completion_pending = true;
            continue;
        case KVM_EXIT_MMIO:
            record_exit(cpu, v, run->mmio.phys_addr);
            cpu->engine_counters[KVM_STAT_EXITS_MMIO]++;
            handle_mmio(cpu, v);
            v->completion_pending = true;
            continue;
        case KVM_EXIT_X86_RDMSR:
        case KVM_EXIT_X86_WRMSR:
            record_exit(cpu, v, run->msr.index);
            cpu->engine_counters[KVM_STAT_EXITS_MSR]++;
            v->completion_pending = true;
            if (kvm_handle_msr(cpu, v, run->exit_reason == KVM_EXIT_X86_WRMSR) < 0) {
                log_error("%s: %s", cpu->obj.path, err_get());
                result = CPU_STOP_ERROR;
                break;
            }
            continue;
        case KVM_EXIT_HLT:
            record_exit(cpu, v, 0);
            cpu->engine_counters[KVM_STAT_EXITS_HLT]++;
            if (interrupt_wakes(cpu, v))
                continue;
            v->halted = true;
            result = CPU_STOP_HALT;
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            cpu->engine_counters[KVM_STAT_EXITS_IRQ_WINDOW]++;
            continue;
        case KVM_EXIT_INTR:
            cpu->engine_counters[KVM_STAT_EXITS_INTR]++;
            continue;
        case KVM_EXIT_SHUTDOWN:
            record_exit(cpu, v, 0);
            cpu->engine_counters[KVM_STAT_EXITS_SHUTDOWN]++;
            log_error("%s: KVM_EXIT_SHUTDOWN: the guest triple-faulted", cpu->obj.path);
            kvm_report_exits(cpu);
            result = CPU_STOP_SHUTDOWN;
            break;
        case KVM_EXIT_DEBUG:
            if (v->stepping) { /* a kvm_debug session (kvm_debug.c) steps this vCPU */
                record_exit(cpu, v, 0);
                continue;
            }
            uint64_t pc = run->debug.arch.pc;
            if (pc && (pc == v->ud_bp_addr || pc == v->pf_bp_addr)) {
                record_exit(cpu, v, pc);
                cpu->engine_counters[KVM_STAT_EXITS_OTHER]++;
                if (kvm_pvm_arm_intercepts(cpu, v) < 0) {
                    log_error("%s: %s", cpu->obj.path, err_get());
                    result = CPU_STOP_ERROR;
                    break;
                }
                if (pc != v->ud_bp_addr && pc != v->pf_bp_addr)
                    continue; /* the IDT moved: the old handler address is plain code now */
                result = kvm_pvm_intercepted(cpu, v, pc == v->ud_bp_addr ? X86_UD : X86_PF);
                break;
            }
            record_exit(cpu, v, 0);
            cpu->engine_counters[KVM_STAT_EXITS_OTHER]++;
            log_error("%s: unexpected KVM debug exit at %#llx", cpu->obj.path,
                      (unsigned long long)run->debug.arch.pc);
            kvm_report_exits(cpu);
            result = CPU_STOP_ERROR;
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            record_exit(cpu, v, run->internal.suberror);
            cpu->engine_counters[KVM_STAT_EXITS_INTERNAL_ERROR]++;
            result = report_internal_error(cpu, v);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            record_exit(cpu, v, run->fail_entry.hardware_entry_failure_reason);
            cpu->engine_counters[KVM_STAT_EXITS_OTHER]++;
            log_error("%s: KVM_EXIT_FAIL_ENTRY: hardware entry failure reason %#llx on host CPU %u",
                      cpu->obj.path,
                      (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                      run->fail_entry.cpu);
            kvm_report_exits(cpu);
            result = CPU_STOP_ERROR;
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            record_exit(cpu, v, run->system_event.type);
            cpu->engine_counters[KVM_STAT_EXITS_OTHER]++;
            if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
                system_request_reset(cpu->system, "KVM system event");
                result = CPU_STOP_EXIT;
                break;
            }
            log_error("%s: KVM system event %u", cpu->obj.path, run->system_event.type);
            kvm_report_exits(cpu);
            result = run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? CPU_STOP_SHUTDOWN
                                                                         : CPU_STOP_ERROR;
            break;
        default:
            record_exit(cpu, v, 0);
            cpu->engine_counters[KVM_STAT_EXITS_OTHER]++;
            log_error("%s: unexpected KVM exit %u (%s)", cpu->obj.path, run->exit_reason,
                      kvm_exit_name(run->exit_reason));
            kvm_report_exits(cpu);
            result = CPU_STOP_ERROR;
            break;
        }
        break;
    }
    if (armed_for)
        disarm_kick(v);
    *reached = sim_now(sim);
    return result;
}

/* CPL without a full state_out (the auto engine samples it after each
 * batch): SS.DPL, which KVM keeps equal to CPL in every mode (0 in real
 * mode, 3 in virtual-8086 mode). */
static int kvm_cpl(struct cpu *cpu)
{
    struct kvm_vcpu *v = kvm_vcpu_of(cpu);
    if (kvm_complete_exit(v) < 0)
        return -1;
    struct kvm_sregs sr;
    if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
        err_set("KVM_GET_SREGS failed: %s", strerror(errno));
        return -1;
    }
    return sr.ss.dpl;
}

static const struct cpu_engine_ops kvm_engine = {
    .name = "kvm",
    .attach = kvm_attach,
    .state_in = kvm_state_in,
    .state_out = kvm_state_out,
    .run = kvm_run_engine,
    .detach = kvm_detach,
    .cpl = kvm_cpl,
};

CPU_ENGINE_REGISTER(kvm_engine);
