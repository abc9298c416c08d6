/* The KVM lockstep oracle (docs/lockstep.md): two identical machines, one
 * CPU on the KVM engine single-stepped at CPL 0 (kvm/kvm_debug.h), one on
 * the interpreter ("interp"), stepped one instruction at a time from the
 * same state and compared after each instruction.
 *
 *   lockstep0 [--max N] [--ram-every N] [--mem SIZE] [--lenient 1] [--trace 1] elf PROGRAM.elf
 *   lockstep0 [...] linux KERNEL [INITRD]
 *
 * Machine K (kvm) is the full PC with its devices; machine I (interp) is a
 * System and a CPU whose whole port space and every non-RAM physical range
 * belong to a replay device. Each device access K makes during a step is
 * recorded; I must make the same accesses in the same order during the
 * same step, and its reads get K's values. At start I gets a copy of K's
 * RAM and CPU state after the loader ran.
 *
 * Exit status: 0 when the run ends without divergence (guest exit, both
 * halted for good, the instruction bound, or CPL 3 reached: kvm_pvm steps
 * CPL 0 only), 1 on a divergence, 2 on a usage or set-up error, 77 when
 * /dev/kvm is not usable (a ctest skip). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/interp.h"
#include "cpu/mmu.h"
#include "cpu/model.h"
#include "cpu/segments.h"
#include "kvm/kvm_debug.h"
#include "mem/bus.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/sim.h"
#include "sim/stats.h"

#define EXIT_DIVERGED 1
#define EXIT_SETUP 2
#define EXIT_SKIP 77

/* Bound on the instructions the interpreter runs to reach the natural
 * boundary KVM stopped at (an event or SYSCALL ran unstepped on KVM). */
#define CATCH_UP_MAX 2000000
/* Bound on the instructions KVM may run past one that exited for I/O, or
 * past an IRET/SYSRET that restored TF. */
#define IO_CATCH_UP_MAX 64
/* kvm_pvm also loses the trap after some emulated instructions without a
 * device exit (FXSAVE): the interpreter may run this many more to reach
 * KVM's RIP; the state compare still sees every register. */
#define LOST_TRAP_MAX 4
/* Bound on the steps of one REP string instruction on KVM. */
#define REP_STEPS_MAX 100000000

struct machine {
    struct simulation sim;
    struct system *sys;
    struct cpu *cpu;
};

#define LOG_MAX 4096
struct replay {
    struct kvm_debug_access log[LOG_MAX];
    unsigned n, next;
    bool overflow;
    char mismatch[256]; /* first replay mismatch of the step, "" if none */
};

struct stats {
    uint64_t steps, catch_up_insts, emulation_skips, rep_steps, interrupts, copies;
    uint64_t ram_checks, halts, unimplemented, guest_tf_steps;
};

static struct replay replay;
static struct stats st;

/* --lenient: instructions the interpreter does not implement (#UD there)
 * that KVM executed take KVM's result; their mnemonics are listed. */
static bool lenient;
/* --trace 1: one line per step. */
static bool trace;
#define UNIMPL_MAX 64
static char unimpl_names[UNIMPL_MAX][32];
static unsigned unimpl_count;

static void note_unimplemented(const char *mnemonic)
{
    st.unimplemented++;
    for (unsigned n = 0; n < unimpl_count; n++)
        if (strcmp(unimpl_names[n], mnemonic) == 0)
            return;
    if (unimpl_count < UNIMPL_MAX)
        snprintf(unimpl_names[unimpl_count++], sizeof(unimpl_names[0]), "%s", mnemonic);
}

/* Whether the interpreter has a handler for the instruction (false: it
 * raises #UD). */
static bool interp_implements(const struct insn_info *in, unsigned bits)
{
    struct decoded_insn d;
    enum x86_mode mode = bits == 64 ? X86_MODE_64 : bits == 32 ? X86_MODE_32 : X86_MODE_16;
    if (x86_decode(in->bytes, sizeof(in->bytes), mode, &d) != DECODE_OK)
        return false;
    return interp_select(&d);
}

/* Copies the RAM pages where from and to differ. */
static void sync_ram(struct machine *to, const struct machine *from)
{
    for (unsigned r = 0; r < from->sys->nram; r++)
        for (uint64_t off = 0; off < from->sys->ram[r].size; off += 4096)
            if (memcmp(to->sys->ram[r].host + off, from->sys->ram[r].host + off, 4096))
                memcpy(to->sys->ram[r].host + off, from->sys->ram[r].host + off, 4096);
}


static void die(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "lockstep0: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(code);
}

static struct sim_object *create(struct machine *m, const char *type, const char *path,
                                 const char *const *params)
{
    struct sim_object *o = sim_create(&m->sim, type, path);
    if (!o)
        die(EXIT_SETUP, "%s", err_get());
    for (; params && params[0]; params += 2)
        if (param_set_text(o, sim_type_param(o->type, params[0]), params[1]) < 0)
            die(EXIT_SETUP, "%s", err_get());
    return o;
}

/* Machine K: the PC of configs/machine.lua with its loader. */
static void build_kvm_machine(struct machine *m, const char *mem, const char *loader,
                              const char *const *loader_params)
{
    sim_init(&m->sim);
    m->sys = SIM_CAST(struct system, create(m, "System", "system",
                                            (const char *const[]){"mem_size", mem, NULL}));
    create(m, "LAPIC", "system.lapic0", NULL);
    create(m, "IOAPIC", "system.ioapic", NULL);
    create(m, "PIC8259", "system.pic", NULL);
    create(m, "PIT8254", "system.pit", NULL);
    create(m, "RTC", "system.rtc", NULL);
    create(m, "UART16550", "system.uart0", (const char *const[]){"raw", "false", NULL});
    create(m, "I8042", "system.i8042", NULL);
    create(m, "GuestControl", "system.guestctl", NULL);
    create(m, "DebugExit", "system.debug_exit", NULL);
    create(m, "AcpiTables", "system.acpi", NULL);
    create(m, "AcpiPM", "system.acpi_pm", NULL);
    m->cpu = SIM_CAST(struct cpu, create(m, "CPU", "system.cpu0",
                                         (const char *const[]){"engine", "kvm", NULL}));
    create(m, loader, "system.loader", loader_params);
    if (sim_instantiate(&m->sim) < 0)
        die(EXIT_SETUP, "%s", err_get());
}

static struct replay_range {
    bool mmio;
    uint64_t base;
} pio_range = {false, 0};
static struct replay_range mmio_ranges[8];

static uint64_t replay_access(const struct replay_range *r, uint64_t off, unsigned size,
                              bool write, uint64_t value)
{
    uint64_t addr = r->base + off;
    const struct kvm_debug_access *a = replay.next < replay.n ? &replay.log[replay.next] : NULL;
    if (a && a->mmio == r->mmio && a->write == write && a->addr == addr && a->size == size &&
        (!write || a->value == value)) {
        replay.next++;
        return a->value;
    }
    if (!replay.mismatch[0]) {
        char want[96] = "nothing";
        if (a)
            snprintf(want, sizeof(want), "%s %s %#" PRIx64 " size %u value %#" PRIx64,
                     a->write ? "write" : "read", a->mmio ? "mmio" : "port", a->addr, a->size,
                     a->value);
        snprintf(replay.mismatch, sizeof(replay.mismatch),
                 "device access #%u: interp made %s %s %#" PRIx64 " size %u value %#" PRIx64
                 ", kvm made %s",
                 replay.next, write ? "write" : "read", r->mmio ? "mmio" : "port", addr, size,
                 write ? value : 0, want);
    }
    return ~0ull >> (64 - 8 * size);
}

static uint64_t replay_read(void *opaque, uint64_t off, unsigned size)
{
    return replay_access(opaque, off, size, false, 0);
}

static void replay_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    replay_access(opaque, off, size, true, val);
}

static const struct io_ops replay_ops = {replay_read, replay_write};

static void record(void *opaque, const struct kvm_debug_access *a)
{
    (void)opaque;
    if (replay.n == LOG_MAX) {
        replay.overflow = true;
        return;
    }
    replay.log[replay.n++] = *a;
}

/* Machine I: System + CPU on the interpreter, devices replaced by replay. */
static void build_interp_machine(struct machine *m, const char *mem)
{
    sim_init(&m->sim);
    m->sys = SIM_CAST(struct system, create(m, "System", "system",
                                            (const char *const[]){"mem_size", mem, NULL}));
    m->cpu = SIM_CAST(struct cpu, create(m, "CPU", "system.cpu0",
                                         (const char *const[]){"engine", "interp", NULL}));
    if (sim_instantiate(&m->sim) < 0)
        die(EXIT_SETUP, "%s", err_get());
    struct bus *b = &m->sys->bus;
    if (bus_map_pio(b, 0, 0xffff, &replay_ops, &pio_range, "replay-pio") < 0 ||
        bus_map_pio(b, 0xffff, 1, &replay_ops, &pio_range, "replay-pio-top") < 0)
        die(EXIT_SETUP, "%s", err_get());
    uint64_t at = 0;
    unsigned nr = 0;
    for (unsigned i = 0; i <= m->sys->nram; i++) {
        uint64_t end = i < m->sys->nram ? m->sys->ram[i].gpa : 1ull << 52;
        if (end > at) {
            if (nr == 8)
                die(EXIT_SETUP, "%s", "too many RAM holes for the replay device");
            mmio_ranges[nr] = (struct replay_range){true, at};
            if (bus_map_mmio(b, at, end - at, &replay_ops, &mmio_ranges[nr], "replay-mmio") < 0)
                die(EXIT_SETUP, "%s", err_get());
            nr++;
        }
        if (i < m->sys->nram)
            at = m->sys->ram[i].gpa + m->sys->ram[i].size;
    }
}

static void copy_ram(struct machine *to, const struct machine *from)
{
    if (to->sys->nram != from->sys->nram)
        die(EXIT_SETUP, "%s", "the two machines have different RAM layouts");
    for (unsigned i = 0; i < from->sys->nram; i++)
        memcpy(to->sys->ram[i].host, from->sys->ram[i].host, from->sys->ram[i].size);
}

/* KVM single-steps with RFLAGS.TF set behind the guest's back, and event
 * delivery pushes it into the guest's stack frame: a qword that differs
 * only in TF and otherwise looks like RFLAGS (bit 1 set, bits 22-63 clear)
 * is such an image. */
static bool tf_in_frame(const uint8_t *kq, const uint8_t *iq)
{
    uint64_t a, b;
    memcpy(&a, kq, 8);
    memcpy(&b, iq, 8);
    return (a ^ b) == X86_FLAG_TF && (a & b & X86_FLAG_FIXED) && (a >> 22) == 0;
}

/* First differing guest-physical address, or -1 when RAM is identical. */
static int64_t ram_differs(const struct machine *k, const struct machine *i, uint8_t *kb, uint8_t *ib)
{
    st.ram_checks++;
    for (unsigned r = 0; r < k->sys->nram; r++) {
        const uint8_t *a = k->sys->ram[r].host, *b = i->sys->ram[r].host;
        uint64_t size = k->sys->ram[r].size;
        for (uint64_t off = 0; off < size; off += 4096) {
            if (memcmp(a + off, b + off, 4096) == 0)
                continue;
            for (uint64_t j = off; j < off + 4096; j++) {
                if (a[j] == b[j])
                    continue;
                if (tf_in_frame(a + (j & ~7ull), b + (j & ~7ull))) {
                    j |= 7; /* KVM's stepping TF in a pushed RFLAGS image */
                    continue;
                }
                *kb = a[j];
                *ib = b[j];
                return (int64_t)(k->sys->ram[r].gpa + j);
            }
        }
    }
    return -1;
}

static unsigned fetch_insn(struct machine *m, struct insn_info *in)
{
    const struct x86_state *s = &m->cpu->state;
    uint8_t bytes[16];
    uint64_t la = s->seg[S_CS].base + s->rip;
    uint64_t n = mmu_read_linear(&m->sys->bus, s, la, bytes, sizeof(bytes));
    unsigned bits = s->seg[S_CS].l && (s->msr.efer & X86_EFER_LMA) ? 64 : s->seg[S_CS].db ? 32 : 16;
    insn_decode(in, s->rip, bytes, n, bits);
    return bits;
}

/* One instruction on the interpreter engine of m. */
static enum cpu_stop interp_step(struct machine *m)
{
    struct cpu *c = m->cpu;
    if (!c->state_in_engine) {
        if (c->engine->state_in(c) < 0)
            die(EXIT_SETUP, "%s", err_get());
        c->state_in_engine = true;
    }
    tick_t reached;
    c->in_run = true;
    enum cpu_stop why = c->engine->run(c, sim_now(&m->sim) + c->clock.period, &reached);
    c->in_run = false;
    return why;
}

static uint64_t interp_events(struct machine *m)
{
    const struct stat_entry *e = stats_find(&m->sim, "system.cpu0.interpExceptions");
    const struct stat_entry *f = stats_find(&m->sim, "system.cpu0.interpInterrupts");
    return (uint64_t)(stat_value(e) + stat_value(f));
}

/* KVM cannot emulate the instruction at RIP (kvm_pvm at CPL 0): an
 * interpreter instance on K's own CPU and memory executes it, and KVM
 * reloads the result. No LAPIC interrupt is taken during that step. */
static void *k_fallback_priv;
static void kvm_side_fallback(struct machine *k)
{
    struct cpu *c = k->cpu;
    const struct cpu_engine_ops *kvm = c->engine, *interp = cpu_engine_find("interp");
    void *kvm_priv = c->engine_priv;
    struct cpu_intr *intr = c->intr;
    c->engine = interp;
    c->engine_priv = k_fallback_priv;
    c->intr = NULL;
    if (!c->engine_priv && interp->attach(c) < 0)
        die(EXIT_SETUP, "%s", err_get());
    c->state_in_engine = false;
    interp_step(k);
    k_fallback_priv = c->engine_priv;
    c->engine = kvm;
    c->engine_priv = kvm_priv;
    c->intr = intr;
    if (kvm_debug_load_state(c) < 0)
        die(EXIT_SETUP, "%s", err_get());
}

/* Moves K's simulated time to t, servicing the events due. */
static void k_advance(struct machine *k, tick_t t)
{
    struct event_queue *q = &k->sim.eq;
    while (q->count && eq_next_tick(q) <= t && !k->sim.exit_requested)
        eq_service_one(q);
    if (t > q->now)
        q->now = t;
}

static bool interrupt_deliverable(struct machine *k)
{
    const struct x86_state *s = &k->cpu->state;
    struct cpu_intr *intr = k->cpu->intr;
    return intr && (s->rflags & X86_FLAG_IF) && !s->ev.interrupt_shadow &&
           !s->ev.exception_pending && intr->ops->pending_vector(intr->lapic) >= 0;
}

/* The same external interrupt, injected on both sides at this boundary. */
static void inject(struct machine *k, struct machine *i)
{
    struct cpu_intr *intr = k->cpu->intr;
    uint8_t vector = intr->ops->ack(intr->lapic);
    struct x86_state *ks = &k->cpu->state, *is = &i->cpu->state;
    ks->ev.interrupt_injected = is->ev.interrupt_injected = true;
    ks->ev.interrupt_vector = is->ev.interrupt_vector = vector;
    ks->run_state = is->run_state = X86_RUNNABLE;
    if (kvm_debug_load_state(k->cpu) < 0)
        die(EXIT_SETUP, "%s", err_get());
    i->cpu->state_in_engine = false;
    st.interrupts++;
}

/* Results that come from outside the instruction stream on KVM: copied to
 * the interpreter (docs/lockstep.md lists them). */
static void copy_nondeterministic(const struct insn_info *in, const struct x86_state *k,
                                  struct x86_state *i)
{
    const char *m = in->mnemonic;
    bool rdmsr_ext = strcmp(m, "rdmsr") == 0 &&
                     (k->gpr[R_RCX] == 0x10 || k->gpr[R_RCX] == 0x1b || k->gpr[R_RCX] == 0x6e0);
    if (strcmp(m, "rdtsc") == 0 || strcmp(m, "rdtscp") == 0 || rdmsr_ext) {
        i->gpr[R_RAX] = k->gpr[R_RAX];
        i->gpr[R_RDX] = k->gpr[R_RDX];
        if (strcmp(m, "rdtscp") == 0)
            i->gpr[R_RCX] = k->gpr[R_RCX];
        st.copies++;
    } else if (strcmp(m, "cpuid") == 0) {
        /* kvm_pvm shows the host's leaf 1 feature words (docs/kvm.md). */
        for (int r = R_RAX; r <= R_RBX; r++)
            i->gpr[r] = k->gpr[r];
        st.copies++;
    } else if (strcmp(m, "rdrand") == 0 || strcmp(m, "rdseed") == 0) {
        memcpy(i->gpr, k->gpr, sizeof(i->gpr));
        i->rflags = k->rflags;
        st.copies++;
    }
}

static void print_summary(double secs)
{
    printf("lockstep0: %" PRIu64 " steps in %.1f s (%.0f steps/s); interp catch-up insts %" PRIu64
           ", emulation skips %" PRIu64 ", extra REP steps %" PRIu64 ", interrupts %" PRIu64
           ", copied results %" PRIu64 ", halts %" PRIu64 ", RAM compares %" PRIu64 ", guest-TF steps %" PRIu64 "\n",
           st.steps, secs, secs > 0 ? st.steps / secs : 0.0, st.catch_up_insts,
           st.emulation_skips, st.rep_steps, st.interrupts, st.copies, st.halts, st.ram_checks, st.guest_tf_steps);
}

static void diverge(const char *why, const struct insn_info *in, struct machine *k,
                    struct machine *i, const struct state_diff *d)
{
    printf("DIVERGENCE after step %" PRIu64 ": %s\n", st.steps, why);
    printf("instruction at %#" PRIx64 ": %s (bytes", in->rip, in->text);
    for (unsigned b = 0; b < (in->len ? in->len : 8); b++)
        printf(" %02x", in->bytes[b]);
    printf(")\n");
    struct state_diff local;
    if (!d) {
        state_compare(&k->cpu->state, &i->cpu->state, insn_flags_mask(in), &local);
        d = &local;
    }
    state_report(&k->cpu->state, &i->cpu->state, d);
}

int main(int argc, char **argv)
{
    uint64_t max = 20000, ram_every = 1000;
    const char *mem = "128M";
    int a = 1;
    for (; a < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        if (a + 1 >= argc)
            die(EXIT_SETUP, "option %s needs a value", argv[a]);
        if (strcmp(argv[a], "--max") == 0)
            max = strtoull(argv[a + 1], NULL, 0);
        else if (strcmp(argv[a], "--ram-every") == 0)
            ram_every = strtoull(argv[a + 1], NULL, 0);
        else if (strcmp(argv[a], "--mem") == 0)
            mem = argv[a + 1];
        else if (strcmp(argv[a], "--trace") == 0)
            trace = strcmp(argv[a + 1], "0") != 0;
        else if (strcmp(argv[a], "--lenient") == 0)
            lenient = strcmp(argv[a + 1], "0") != 0;
        else
            die(EXIT_SETUP, "unknown option %s", argv[a]);
    }
    if (a + 1 >= argc || (strcmp(argv[a], "elf") != 0 && strcmp(argv[a], "linux") != 0))
        die(EXIT_SETUP, "%s",
            "usage: lockstep0 [--max N] [--ram-every N] [--mem SIZE] [--lenient 1] [--trace 1] elf PROGRAM.elf | linux "
            "KERNEL [INITRD]");
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("SKIPPED: cannot open /dev/kvm: %s\n", strerror(errno));
        return EXIT_SKIP;
    }
    close(fd);
    /* K's guest runs on this host's SSE unit, whose FXSAVE stores the host's
     * MXCSR_MASK and whose LDMXCSR takes what that mask allows: I is a
     * model of this host, so both are the same CPU (docs/lockstep.md). */
    if (cpu_model_set_mxcsr_mask(cpu_model_host_mxcsr_mask()) < 0)
        die(EXIT_SETUP, "the host as a CPU model: %s", err_get());
    log_set_quiet(true);
    setvbuf(stdout, NULL, _IOLBF, 0);

    static struct machine k, i;
    if (strcmp(argv[a], "elf") == 0)
        build_kvm_machine(&k, mem, "ElfLoader", (const char *const[]){"kernel", argv[a + 1], NULL});
    else
        build_kvm_machine(&k, mem, "LinuxLoader",
                          (const char *const[]){"kernel", argv[a + 1], "initrd",
                                                a + 2 < argc ? argv[a + 2] : "", "cmdline",
                                                "console=ttyS0 nokaslr mitigations=off nopti "
                                                "panic=-1 loglevel=4",
                                                NULL});
    build_interp_machine(&i, mem);
    eq_deschedule(&k.sim.eq, &k.cpu->run_event);
    if (event_scheduled(&i.cpu->run_event))
        eq_deschedule(&i.sim.eq, &i.cpu->run_event);
    k.sim.run_until = i.sim.run_until = TICK_MAX;
    copy_ram(&i, &k);
    cpu_set_state(i.cpu, &k.cpu->state);
    if (kvm_debug_begin(k.cpu, record, NULL) < 0)
        die(EXIT_SETUP, "%s", err_get());

    double t0 = host_seconds();
    const char *end = NULL;
    int rc = 0;
    struct insn_info in;
    struct state_diff d;
    while (!end) {
        if (st.steps >= max) {
            end = "instruction bound reached";
            break;
        }
        struct x86_state *ks = &k.cpu->state;
        if (x86_cpl(ks) != 0) {
            end = "CPL 3 reached (kvm_pvm single-steps CPL 0 only): compared up to here";
            break;
        }
        if (ks->run_state == X86_HALTED) {
            /* Both halted: simulated time jumps to the events until an
             * interrupt can wake them. */
            st.halts++;
            while (!interrupt_deliverable(&k) && k.sim.eq.count && !k.sim.exit_requested)
                k_advance(&k, eq_next_tick(&k.sim.eq));
            if (k.sim.exit_requested) {
                end = "the guest ended the run";
                break;
            }
            if (!interrupt_deliverable(&k)) {
                end = "both CPUs halted with nothing left to wake them";
                break;
            }
        }
        if (interrupt_deliverable(&k))
            inject(&k, &i);
        unsigned bits = fetch_insn(&k, &in);
        bool unimplemented = lenient && in.len && !interp_implements(&in, bits);
        bool to_user = strncmp(in.mnemonic, "iret", 4) == 0 || strncmp(in.mnemonic, "sysret", 6) == 0;
        uint8_t kb, ib;
        int64_t ram_at = to_user ? ram_differs(&k, &i, &kb, &ib) : -1;
        if (ram_at >= 0) { /* checked here too: a return to ring 3 may end the run */
            char why[128];
            snprintf(why, sizeof(why), "guest RAM differs at %#" PRIx64 " (kvm %#04x, interp %#04x) before step %" PRIu64,
                     (uint64_t)ram_at, kb, ib, st.steps + 1);
            diverge(why, &in, &k, &i, NULL);
            rc = EXIT_DIVERGED;
            break;
        }
        uint64_t events_before = interp_events(&i);
        replay.n = replay.next = 0;
        replay.overflow = false;
        replay.mismatch[0] = 0;

        enum kvm_step_result kr;
        if (i.cpu->state.rflags & X86_FLAG_TF) {
            /* The guest single-steps itself: KVM's own stepping owns TF and
             * would swallow the guest's #DB, so the interpreter executes
             * the instruction (and delivers the trap) on both sides. */
            st.guest_tf_steps++;
            ks->rflags |= X86_FLAG_TF;
            kvm_side_fallback(&k);
            kr = KVM_STEP_DONE;
        } else {
            kr = kvm_debug_step(k.cpu);
        }
        uint64_t rep_rip = in.rip;
        while (kr == KVM_STEP_DONE && in.rep_string && ks->rip == rep_rip &&
               !ks->ev.interrupt_injected && st.rep_steps < REP_STEPS_MAX) {
            st.rep_steps++; /* KVM steps each iteration; the interpreter the whole instruction */
            kr = kvm_debug_step(k.cpu);
        }
        if (kr == KVM_STEP_DONE && strcmp(in.mnemonic, "hlt") == 0 && ks->rip == in.rip + in.len) {
            /* Stepped over HLT, kvm_pvm reports the debug exit, not the halt. */
            kr = KVM_STEP_HALT;
            ks->run_state = X86_HALTED;
        }
        if (kr == KVM_STEP_HALT && strcmp(in.mnemonic, "hlt") != 0) {
            /* kvm_pvm reports the HLT exit of a HLT it already stepped over
             * (see above) late, after the interrupt that woke it: the
             * instruction stepped here completed normally. */
            kr = KVM_STEP_DONE;
            ks->run_state = X86_RUNNABLE;
        }
        if (kr == KVM_STEP_ERROR)
            die(EXIT_SETUP, "%s", err_get());
        if (kr == KVM_STEP_EMULATION) {
            st.emulation_skips++;
            if (in.len && !interp_implements(&in, bits))
                printf("lockstep0: NOTE step %" PRIu64 ": KVM cannot emulate '%s' at CPL 0 and the "
                       "interpreter does not implement it: both sides raise #UD\n",
                       st.steps + 1, in.text);
            kvm_side_fallback(&k);
        }
        enum cpu_stop ir;
        if (unimplemented && kr == KVM_STEP_DONE && ks->rip == in.rip + in.len) {
            note_unimplemented(in.mnemonic);
            i.cpu->state = *ks;
            i.cpu->state_in_engine = false;
            sync_ram(&i, &k);
            replay.next = replay.n;
            ir = CPU_STOP_BUDGET;
        } else {
            ir = interp_step(&i);
        }
        st.steps++;
        k_advance(&k, sim_now(&k.sim) + k.cpu->clock.period);
        if (kr == KVM_STEP_SHUTDOWN || ir == CPU_STOP_SHUTDOWN) {
            if (kr == KVM_STEP_SHUTDOWN && ir == CPU_STOP_SHUTDOWN) {
                end = "both sides triple-faulted";
                break;
            }
            diverge(kr == KVM_STEP_SHUTDOWN ? "KVM triple-faulted, the interpreter did not"
                                            : "the interpreter triple-faulted, KVM did not",
                    &in, &k, &i, NULL);
            rc = EXIT_DIVERGED;
            break;
        }
        if (ir == CPU_STOP_ERROR) {
            diverge("the interpreter engine failed (reported above)", &in, &k, &i, NULL);
            rc = EXIT_DIVERGED;
            break;
        }
        /* An event (or SYSCALL) cleared TF on KVM: it stopped at the next
         * natural boundary; the interpreter runs on to the same place. */
        bool event = interp_events(&i) != events_before || strcmp(in.mnemonic, "syscall") == 0;
        /* kvm_pvm loses the single-step trap of an instruction that exited
         * to userspace (port I/O, MMIO): KVM then also runs the next one. */
        bool iret = strncmp(in.mnemonic, "iret", 4) == 0 || strncmp(in.mnemonic, "sysret", 6) == 0;
        unsigned limit = event ? CATCH_UP_MAX : replay.n || iret ? IO_CATCH_UP_MAX : LOST_TRAP_MAX;
        struct x86_state *is = &i.cpu->state;
        /* The interpreter may split a REP string instruction too (at page
         * boundaries): it finishes it here, as KVM did. */
        for (uint64_t n = 0; in.rep_string && ir == CPU_STOP_BUDGET && is->rip == in.rip &&
                             ks->rip != in.rip && n < REP_STEPS_MAX; n++) {
            ir = interp_step(&i);
            st.rep_steps++;
        }
        uint64_t guard = 0;
        for (unsigned n = 0; n < limit && ir == CPU_STOP_BUDGET && guard < REP_STEPS_MAX; guard++) {
            if (is->rip == ks->rip && is->gpr[R_RSP] == ks->gpr[R_RSP] &&
                is->seg[S_CS].selector == ks->seg[S_CS].selector)
                break;
            uint64_t before = is->rip;
            ir = interp_step(&i);
            st.catch_up_insts++;
            if (is->rip != before) /* a REP the interpreter splits counts once */
                n++;
        }
        if (x86_cpl(&i.cpu->state) == 3) {
            /* KVM ran ring 3 unstepped (kvm_pvm steps CPL 0 only) to a
             * boundary the interpreter cannot find reliably. */
            end = "the interpreter reached CPL 3 (kvm_pvm single-steps CPL 0 only): compared up "
                  "to the transition";
            break;
        }
        if (limit && is->rip == ks->rip && is->gpr[R_RCX] != ks->gpr[R_RCX] && ir == CPU_STOP_BUDGET) {
            /* The boundary found is inside a REP string instruction that
             * one side (or both) stopped part-way: both finish it. */
            struct insn_info at;
            fetch_insn(&k, &at);
            if (at.rep_string) {
                while (kr == KVM_STEP_DONE && ks->rip == at.rip && st.rep_steps < REP_STEPS_MAX) {
                    kr = kvm_debug_step(k.cpu);
                    st.rep_steps++;
                }
                while (ir == CPU_STOP_BUDGET && is->rip == at.rip && st.rep_steps < REP_STEPS_MAX) {
                    ir = interp_step(&i);
                    st.rep_steps++;
                }
                if (kr == KVM_STEP_ERROR)
                    die(EXIT_SETUP, "%s", err_get());
            }
        }
        if (replay.overflow) {
            diverge("more than 4096 device accesses in one step", &in, &k, &i, NULL);
            rc = EXIT_DIVERGED;
            break;
        }
        if (!replay.mismatch[0] && replay.next != replay.n)
            snprintf(replay.mismatch, sizeof(replay.mismatch),
                     "kvm made %u device accesses, interp only %u", replay.n, replay.next);
        if (replay.mismatch[0]) {
            diverge(replay.mismatch, &in, &k, &i, NULL);
            rc = EXIT_DIVERGED;
            break;
        }
        copy_nondeterministic(&in, ks, is);
        if (trace)
            printf("step %" PRIu64 " %#" PRIx64 " %-40s kvm %d -> %#" PRIx64 " interp %d -> %#" PRIx64
                   "%s\n", st.steps, in.rip, in.text, kr, ks->rip, ir, is->rip,
                   ks->run_state == X86_HALTED ? " (kvm halted)" : "");
        uint64_t mask = insn_flags_mask(&in);
        if (state_compare(ks, is, mask, &d)) {
            diverge("architectural state differs", &in, &k, &i, &d);
            rc = EXIT_DIVERGED;
            break;
        }
        /* Undefined flags take KVM's values, so they cannot show up as a
         * difference at a later instruction that reads or keeps them. */
        uint64_t undefined = mask & ~(uint64_t)(X86_FLAG_TF | X86_FLAG_RF);
        is->rflags = (is->rflags & ~undefined) | (ks->rflags & undefined);
        if (ram_every && st.steps % ram_every == 0) {
            uint8_t kb, ib;
            int64_t at = ram_differs(&k, &i, &kb, &ib);
            if (at >= 0) {
                char why[160];
                snprintf(why, sizeof(why),
                         "guest RAM differs at %#" PRIx64 " (kvm %#04x, interp %#04x), found by "
                         "the check after step %" PRIu64 " (checked every %" PRIu64 ")",
                         (uint64_t)at, kb, ib, st.steps, ram_every);
                diverge(why, &in, &k, &i, NULL);
                rc = EXIT_DIVERGED;
                break;
            }
        }
        if (st.steps % 100000 == 0)
            printf("lockstep0: %" PRIu64 " steps, at %#" PRIx64 " CPL %u, %.0f s\n", st.steps, ks->rip,
                   x86_cpl(ks), host_seconds() - t0);
        if (k.sim.exit_requested)
            end = "the guest ended the run";
    }
    bool at_user = x86_cpl(&i.cpu->state) == 3;
    if (!rc && !at_user) {
        uint8_t kb, ib;
        int64_t at = ram_differs(&k, &i, &kb, &ib);
        if (at >= 0) {
            printf("DIVERGENCE at the end: guest RAM differs at %#" PRIx64 " (kvm %#04x, interp %#04x)\n",
                   (uint64_t)at, kb, ib);
            rc = EXIT_DIVERGED;
        }
    }
    print_summary(host_seconds() - t0);
    if (unimpl_count) {
        printf("lockstep0: %" PRIu64 " instructions the interpreter does not implement took KVM's "
               "result (--lenient):", st.unimplemented);
        for (unsigned n = 0; n < unimpl_count; n++)
            printf(" %s", unimpl_names[n]);
        printf("\n");
    }
    if (!rc)
        printf("lockstep0: PASS (%s; guest exit status %d)\n", end,
               k.sim.exit_requested ? k.sim.exit_code : -1);
    kvm_debug_end(k.cpu);
    sim_destroy(&k.sim);
    sim_destroy(&i.sim);
    return rc;
}
