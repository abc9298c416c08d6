/* The CPU model, defined once and presented by both engines: CPUID leaves
 * and the MSR set. Features the interpreter does not implement are hidden
 * (docs/cpu-model.md lists the choices). */
#ifndef TANDEM_CPU_MODEL_H
#define TANDEM_CPU_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* The guest TSC frequency: fixed, so interpreter runs are deterministic. */
#define CPU_MODEL_TSC_HZ 2000000000ULL

struct cpuid_leaf {
    uint32_t function, index;
    uint32_t eax, ebx, ecx, edx;
};

/* CPUID as executed on CPU apic_id. Leaves beyond the maximum return zeros
 * (AMD behaviour). */
void cpu_model_cpuid(unsigned apic_id, uint32_t function, uint32_t index, struct cpuid_leaf *out);
/* Every leaf the model defines, for KVM_SET_CPUID2; returns the count. */
size_t cpu_model_cpuid_table(unsigned apic_id, struct cpuid_leaf *out, size_t max);

/* MSR indices (SDM Vol. 4 / AMD APM Vol. 2). */
#define MSR_IA32_TSC 0x10
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_PAT 0x277
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

/* The MSRs the model exposes; any other index raises #GP in both engines. */
extern const uint32_t cpu_model_msrs[];
extern const size_t cpu_model_nmsrs;

/* MXCSR_MASK, the word FXSAVE stores at bytes 28-31: the MXCSR bits the
 * model implements. LDMXCSR and FXRSTOR raise #GP(0) for a value with any
 * other bit set. The default is the SSE2 baseline (bits 0-15, DAZ
 * included). A model may add bit 17, MM: AMD's misaligned SSE mode (AMD
 * APM Vol. 1 4.3.2, Vol. 4 per-instruction exceptions; CPUID 8000_0001h
 * ECX[7] MisAlignSse, advertised exactly when the mask has it). The mask is
 * process-wide like the rest of the model: every CPU presents the same one. */
#define CPU_MODEL_MXCSR_MASK_DEFAULT 0xffffu
#define CPU_MODEL_MXCSR_MM (1u << 17)
uint32_t cpu_model_mxcsr_mask(void);
/* 0, or -1 (err_set) for a mask this model cannot implement: it must hold
 * bits 0-15 and nothing above them but MM. */
int cpu_model_set_mxcsr_mask(uint32_t mask);
/* The MXCSR_MASK of the CPU this process runs on (a host FXSAVE): what a
 * model of this host uses, and what KVM guests see whatever the model says. */
uint32_t cpu_model_host_mxcsr_mask(void);

/* EFER bits the guest may set. */
#define CPU_MODEL_EFER_MASK 0xd01ull /* SCE, LME, LMA, NXE */

#endif
