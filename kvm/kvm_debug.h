/* Single-stepping a vCPU of the KVM engine (kvm/kvm_debug.c), for the
 * lockstep oracle (docs/lockstep.md). A stepping session owns the vCPU: the
 * CPU's run event must not drive the engine meanwhile. Each step runs the
 * guest for one instruction with KVM_GUESTDBG_SINGLESTEP (and BLOCKIRQ, so
 * KVM injects nothing by itself); port I/O and MMIO exits in between go to
 * the bus as in a normal run, and each device access is reported to an
 * optional hook first (the harness records them to replay elsewhere).
 *
 * KVM single-steps by setting RFLAGS.TF behind the guest's back, so an
 * instruction that delivers an event (exception, interrupt, SYSCALL) clears
 * TF and the guest runs unstepped until it is restored (IRET/SYSRET): one
 * step may then cover many instructions. On kvm_pvm stepping works at CPL 0
 * only (at CPL 3 the guest receives the #DB). */
#ifndef TANDEM_KVM_KVM_DEBUG_H
#define TANDEM_KVM_KVM_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

/* One device access made during a step: port (mmio false) or physical
 * address, size in bytes, the value written or the value the device
 * returned. */
struct kvm_debug_access {
    bool mmio, write;
    uint64_t addr;
    unsigned size;
    uint64_t value;
};

typedef void (*kvm_debug_access_fn)(void *opaque, const struct kvm_debug_access *a);

enum kvm_step_result {
    KVM_STEP_DONE,      /* one instruction (or an event and what ran unstepped) retired */
    KVM_STEP_HALT,      /* HLT: RIP after it */
    KVM_STEP_EMULATION, /* KVM cannot emulate the instruction at RIP (not executed) */
    KVM_STEP_SHUTDOWN,  /* triple fault */
    KVM_STEP_ERROR,     /* reported with err_set */
};

/* Starts a session on a CPU whose engine is "kvm": loads cpu->state into
 * the vCPU if the engine does not hold it and turns single-stepping on.
 * 0 or -1 (err_set). */
int kvm_debug_begin(struct cpu *cpu, kvm_debug_access_fn hook, void *opaque);
/* Executes one guest instruction; cpu->state holds the state after it (for
 * every result but KVM_STEP_ERROR). */
enum kvm_step_result kvm_debug_step(struct cpu *cpu);
/* Reloads cpu->state into the vCPU (after the caller changed it).
 * 0 or -1 (err_set). */
int kvm_debug_load_state(struct cpu *cpu);
/* Turns single-stepping off; the engine keeps the live state. 0 or -1. */
int kvm_debug_end(struct cpu *cpu);

#endif
