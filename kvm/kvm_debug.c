/* Single-stepping a KVM vCPU (kvm/kvm_debug.h; KVM API: KVM_SET_GUEST_DEBUG,
 * KVM_EXIT_DEBUG). The step loop is the engine's run loop cut down to what
 * one instruction needs: no kick timer (a step is short), no interrupt
 * injection (the caller injects events through the state, at the boundary
 * it chooses), device exits to the bus with every access shown to the
 * session's hook. */
#include "kvm/kvm_debug.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm/kvm_priv.h"
#include "mem/bus.h"
#include "mem/system.h"
#include "sim/log.h"

/* The session's hook; one stepping session per process is all the harness
 * needs (KVM_RUN is not reentrant anyway). */
static kvm_debug_access_fn session_hook;
static void *session_opaque;

static void report(const struct kvm_debug_access *a)
{
    if (session_hook)
        session_hook(session_opaque, a);
}

static int set_guest_debug(struct kvm_vcpu *v, uint32_t control)
{
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof(dbg));
    dbg.control = control;
    if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
        err_set("KVM_SET_GUEST_DEBUG (control %#x) failed: %s", control, strerror(errno));
        return -1;
    }
    return 0;
}

static struct kvm_vcpu *session_vcpu(struct cpu *cpu)
{
    if (!cpu->engine || strcmp(cpu->engine->name, "kvm") != 0) {
        err_set("%s: single-stepping needs the kvm engine (the CPU runs '%s')", cpu->obj.path,
                cpu->engine ? cpu->engine->name : "none");
        return NULL;
    }
    return kvm_vcpu_of(cpu);
}

int kvm_debug_load_state(struct cpu *cpu)
{
    struct kvm_vcpu *v = session_vcpu(cpu);
    if (!v || cpu->engine->state_in(cpu) < 0)
        return -1;
    cpu->state_in_engine = true;
    v->halted = cpu->state.run_state == X86_HALTED;
    return 0;
}

int kvm_debug_begin(struct cpu *cpu, kvm_debug_access_fn hook, void *opaque)
{
    struct kvm_vcpu *v = session_vcpu(cpu);
    if (!v)
        return -1;
    if (!cpu->state_in_engine && kvm_debug_load_state(cpu) < 0)
        return -1;
    if (set_guest_debug(v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_BLOCKIRQ) < 0)
        return -1;
    session_hook = hook;
    session_opaque = opaque;
    v->stepping = true;
    /* The kvm_pvm #UD intercept (kvm_pvm.c) uses guest debug too. */
    v->ud_intercept_saved = v->ud_intercept;
    v->ud_intercept = false;
    v->ud_bp_addr = v->pf_bp_addr = 0;
    return 0;
}

int kvm_debug_end(struct cpu *cpu)
{
    struct kvm_vcpu *v = session_vcpu(cpu);
    if (!v)
        return -1;
    v->stepping = false;
    v->ud_intercept = v->ud_intercept_saved;
    v->ud_bp_addr = v->pf_bp_addr = 0; /* re-armed by the next run */
    session_hook = NULL;
    session_opaque = NULL;
    return set_guest_debug(v, 0);
}

static void step_io(struct cpu *cpu, struct kvm_run *run)
{
    struct bus *bus = &cpu->system->bus;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        struct kvm_debug_access a = {.mmio = false, .addr = run->io.port, .size = size};
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            memcpy(&a.value, data, size);
            a.write = true;
            report(&a);
            bus_pio_write(bus, run->io.port, a.value, size);
        } else {
            a.value = bus_pio_read(bus, run->io.port, size);
            memcpy(data, &a.value, size);
            report(&a);
        }
    }
}

/* MMIO of 1, 2, 4 or 8 bytes goes as one access; other lengths (KVM splits
 * string and SSE accesses) byte by byte, each reported. */
static void step_mmio(struct cpu *cpu, struct kvm_run *run)
{
    struct bus *bus = &cpu->system->bus;
    unsigned len = run->mmio.len;
    bool natural = len == 1 || len == 2 || len == 4 || len == 8;
    unsigned unit = natural ? len : 1;
    for (unsigned off = 0; off < len; off += unit) {
        struct kvm_debug_access a = {.mmio = true, .write = run->mmio.is_write != 0,
                                     .addr = run->mmio.phys_addr + off, .size = unit};
        if (a.write) {
            memcpy(&a.value, run->mmio.data + off, unit);
            report(&a);
            bus_mem_write(bus, a.addr, a.value, unit);
        } else {
            a.value = bus_mem_read(bus, a.addr, unit);
            memcpy(run->mmio.data + off, &a.value, unit);
            report(&a);
        }
    }
}

enum kvm_step_result kvm_debug_step(struct cpu *cpu)
{
    struct kvm_vcpu *v = session_vcpu(cpu);
    if (!v)
        return KVM_STEP_ERROR;
    if (!v->stepping) {
        err_set("%s: kvm_debug_step outside a stepping session", cpu->obj.path);
        return KVM_STEP_ERROR;
    }
    struct kvm_run *run = v->run;
    enum kvm_step_result result;
    run->request_interrupt_window = 0;
    for (;;) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            err_set("KVM_RUN (single step) failed: %s", strerror(errno));
            return KVM_STEP_ERROR;
        }
        v->completion_pending = false;
        switch (run->exit_reason) {
        case KVM_EXIT_DEBUG:
            result = KVM_STEP_DONE;
            break;
        case KVM_EXIT_IO:
            step_io(cpu, run);
            v->completion_pending = true;
            continue;
        case KVM_EXIT_MMIO:
            step_mmio(cpu, run);
            v->completion_pending = true;
            continue;
        case KVM_EXIT_X86_RDMSR:
        case KVM_EXIT_X86_WRMSR:
            v->completion_pending = true;
            if (kvm_handle_msr(cpu, v, run->exit_reason == KVM_EXIT_X86_WRMSR) < 0)
                return KVM_STEP_ERROR;
            continue;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
        case KVM_EXIT_INTR:
            continue;
        case KVM_EXIT_HLT:
            result = KVM_STEP_HALT;
            break;
        case KVM_EXIT_SHUTDOWN:
            result = KVM_STEP_SHUTDOWN;
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
                result = KVM_STEP_EMULATION;
                break;
            }
            err_set("KVM internal error %u while single-stepping", run->internal.suberror);
            return KVM_STEP_ERROR;
        default:
            err_set("unexpected KVM exit %u (%s) while single-stepping", run->exit_reason,
                    kvm_exit_name(run->exit_reason));
            return KVM_STEP_ERROR;
        }
        break;
    }
    if (cpu->engine->state_out(cpu) < 0)
        return KVM_STEP_ERROR;
    if (result == KVM_STEP_HALT)
        cpu->state.run_state = X86_HALTED;
    return result;
}
