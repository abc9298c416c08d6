/* The "auto" engine (cpu/engine_auto.c, docs/engine-switching.md): wraps the
 * interpreter and KVM and runs the guest on whichever is faster for what it
 * is doing, switching in memory at batch ends. */
#ifndef TANDEM_CPU_ENGINE_AUTO_H
#define TANDEM_CPU_ENGINE_AUTO_H

#include <stdbool.h>

#include "sim/tick.h"

struct cpu;

#define ENGINE_AUTO_MAX_WINDOW 256

struct engine_auto_policy {
    unsigned window;          /* CPL samples per decision, 1..ENGINE_AUTO_MAX_WINDOW */
    unsigned to_kvm_ring0;    /* on interp: to KVM when at most this many samples are ring 0 */
    unsigned to_interp_ring0; /* on KVM: to interp when at least this many samples are ring 0 */
    tick_t sample_ticks;      /* simulated time between CPL samples */
    bool kvm_fast_ring0;      /* KVM runs ring 0 at full speed (hardware KVM): stay on KVM */
};

/* The CPU's auto-engine policy; NULL (err_set) when its engine is not auto. */
struct engine_auto_policy *engine_auto_policy(struct cpu *cpu);
/* Checks a policy after changes; 0 or -1 (err_set naming the field). */
int engine_auto_policy_check(const struct engine_auto_policy *p);
/* "interp" or "kvm": the engine the auto engine runs now; NULL (err_set)
 * when the CPU's engine is not auto. */
const char *engine_auto_current(struct cpu *cpu);

#endif
