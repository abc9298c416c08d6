/* Internals of the KVM engine shared by its files: the per-simulation VM,
 * the per-CPU vCPU, state transfer (kvm_state.c) and failure reports
 * (kvm_report.c). docs/kvm.md explains the choices. */
#ifndef TANDEM_KVM_KVM_PRIV_H
#define TANDEM_KVM_KVM_PRIV_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cpu/cpu.h"

/* One VM per System: its vCPUs share the memslots. */
struct kvm_vm {
    struct system *system;
    int fd;
    unsigned refs;
    bool exception_payload; /* KVM_CAP_EXCEPTION_PAYLOAD enabled */
    bool msr_filter;        /* LAPIC MSRs exit to userspace */
    struct kvm_vm *next;
};

/* The last exits, for failure reports. */
#define KVM_EXIT_RING 16
struct kvm_exit_record {
    uint32_t reason;
    uint64_t detail; /* port, guest-physical address or MSR index */
    tick_t tick;
};

struct kvm_vcpu {
    struct kvm_vm *vm;
    int fd;
    struct kvm_run *run;
    size_t run_size;
    timer_t kick_timer;
    bool kick_timer_valid;
    bool has_tsc_offset_attr; /* KVM_VCPU_TSC_OFFSET (exact offsets) */
    bool tsc_fixed;           /* KVM ignores TSC offsets (kvm_pvm) */
    /* An I/O, MMIO or MSR exit whose result KVM applies on the next
     * KVM_RUN: flushed (immediate_exit) before reading or writing state. */
    bool completion_pending;
    bool halted;
    /* RFLAGS.IF as of the last exit (or state_in): whether a halted vCPU
     * wakes for an interrupt. */
    bool guest_if;
    /* Guest TSC = host TSC * tsc_ratio / 2^32 + kvm_tsc_offset. */
    uint64_t tsc_ratio;
    int64_t kvm_tsc_offset;
    uint64_t host_tsc_khz;
    /* IA32_APIC_BASE when the machine has no LAPIC model. */
    uint64_t apic_base;
    uint8_t cr8_at_entry;
    /* kvm_pvm workarounds (kvm/kvm_pvm.c), armed on kvm_pvm hosts: the
     * #UD intercept and the SYSCALL repair, hardware breakpoints on the #UD
     * and #PF handlers at these addresses (0: none). */
    bool ud_intercept;
    uint64_t ud_bp_addr;
    uint64_t pf_bp_addr; /* the #PF handler's (SYSCALL repair), 0: none */
    /* RIP at the last state_in, until the next #UD intercept: a state
     * loaded at the handler's first instruction had its #UD delivered by
     * the fallback engine. */
    bool ud_entry_pending;
    uint64_t ud_entry_rip;
    struct kvm_exit_record exits[KVM_EXIT_RING];
    unsigned nexits;
    /* A single-step session (kvm/kvm_debug.c) is on; it owns the guest
     * debug registers, so the #UD intercept is off meanwhile. */
    bool stepping;
    bool ud_intercept_saved;
};

/* Indices into cpu->engine_counters. */
enum kvm_counter {
    KVM_STAT_EXITS_IO,
    KVM_STAT_EXITS_MMIO,
    KVM_STAT_EXITS_HLT,
    KVM_STAT_EXITS_IRQ_WINDOW,
    KVM_STAT_EXITS_INTR,
    KVM_STAT_EXITS_MSR,
    KVM_STAT_EXITS_SHUTDOWN,
    KVM_STAT_EXITS_INTERNAL_ERROR,
    KVM_STAT_EXITS_OTHER,
    KVM_STAT_INTERRUPTS,
    KVM_STAT_NMIS,
    KVM_STAT_RUN_NS,
    KVM_STAT_KICKS,
    KVM_STAT_UD_INTERCEPTS,
    KVM_STAT_SYSCALL_REPAIRS,
    KVM_STAT_COUNT,
};
/* The interpreter engine's counters start at slot 16 (cpu/interp_engine.c):
 * both engines' counters live in the CPU and survive switches. */
_Static_assert(KVM_STAT_COUNT <= 16, "KVM counters overlap the interpreter engine's");

static inline struct kvm_vcpu *kvm_vcpu_of(struct cpu *cpu)
{
    return cpu->engine_priv;
}

/* kvm_state.c */
/* kvm/kvm_pvm.c: kvm_pvm delivers #UD for INT n at CPL 3 and for
 * instructions its ring-0 emulator lacks; caught at the guest's #UD handler,
 * undone, and the instruction handed to the fallback engine. */
int kvm_pvm_arm_intercepts(struct cpu *cpu, struct kvm_vcpu *v);
enum cpu_stop kvm_pvm_intercepted(struct cpu *cpu, struct kvm_vcpu *v, uint8_t vector);
int kvm_state_in(struct cpu *cpu);
int kvm_state_out(struct cpu *cpu);
/* Makes KVM finish the last exit (I/O data into registers, RIP past the
 * instruction) without running the guest. 0 or -1 (err_set). */
int kvm_complete_exit(struct kvm_vcpu *v);
uint64_t kvm_guest_tsc_now(const struct kvm_vcpu *v);
/* Sets the guest TSC to value (now). Where KVM cannot offset the guest
 * TSC the CPU's tsc_offset moves instead, so both agree. 0 or -1. */
int kvm_set_guest_tsc(struct cpu *cpu, struct kvm_vcpu *v, uint64_t value);

/* kvm.c: the handler of an RDMSR/WRMSR exit (also used by kvm_debug.c's
 * stepping loop). 0, or -1 with err_set. */
int kvm_handle_msr(struct cpu *cpu, struct kvm_vcpu *v, bool write);

/* kvm_report.c */
const char *kvm_exit_name(uint32_t reason);
/* Logs the last exits and the instruction at RIP (disassembled). */
void kvm_report_exits(struct cpu *cpu);
void kvm_report_instruction(struct cpu *cpu, const struct x86_state *st);
/* Reads len bytes at a linear address through the guest's page tables.
 * Returns the number of bytes read (short on a non-present page). */
size_t kvm_read_guest_linear(struct cpu *cpu, const struct x86_state *st, uint64_t linear,
                             uint8_t *buf, size_t len);

#endif
