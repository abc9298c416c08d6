/* CPUID leaves follow the Intel SDM Vol. 2A (CPUID) and AMD APM Vol. 3
 * (Appendix E) bit definitions. */
#include "cpu/model.h"

#include <cpuid.h>
#include <string.h>

#include "sim/object.h"

const uint32_t cpu_model_msrs[] = {
    MSR_IA32_TSC, MSR_IA32_APIC_BASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP,
    MSR_IA32_SYSENTER_EIP, MSR_IA32_PAT, MSR_IA32_TSC_DEADLINE, MSR_EFER, MSR_STAR,
    MSR_LSTAR, MSR_CSTAR, MSR_SFMASK, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
};
const size_t cpu_model_nmsrs = sizeof(cpu_model_msrs) / sizeof(cpu_model_msrs[0]);

/* Leaf 1 EDX: FPU, PSE, TSC, MSR, PAE, CX8, APIC, PGE, CMOV, PAT, CLFSH, MMX,
 * FXSR, SSE, SSE2. Hidden: VME, DE, MCE, SEP, MTRR, MCA, PSE36, HTT. */
#define LEAF1_EDX ((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | \
                   (1u << 9) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19) |         \
                   (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* Leaf 1 ECX: TSC-deadline only (SSE3+, CX16, x2APIC, XSAVE, AVX, POPCNT,
 * MOVBE, RDRAND, PCID and the hypervisor bit are hidden). */
#define LEAF1_ECX (1u << 24)
/* 0x80000001 EDX: SYSCALL, NX, LM. ECX: LAHF/SAHF in 64-bit mode, and
 * MisAlignSse (bit 7) when the MXCSR mask has MM. */
#define EXT1_EDX ((1u << 11) | (1u << 20) | (1u << 29))
#define EXT1_ECX (1u << 0)
#define EXT1_ECX_MISALIGNSSE (1u << 7)

static uint32_t model_mxcsr_mask = CPU_MODEL_MXCSR_MASK_DEFAULT;

uint32_t cpu_model_mxcsr_mask(void)
{
    return model_mxcsr_mask;
}

int cpu_model_set_mxcsr_mask(uint32_t mask)
{
    if ((mask & 0xffffu) != 0xffffu || (mask & ~(0xffffu | CPU_MODEL_MXCSR_MM))) {
        err_set("MXCSR_MASK 0x%x: the CPU model implements MXCSR bits 0-15 and optionally bit 17 "
                "(MM, misaligned SSE mode), nothing else",
                mask);
        return -1;
    }
    model_mxcsr_mask = mask;
    return 0;
}

uint32_t cpu_model_host_mxcsr_mask(void)
{
    static uint32_t probed; /* the host does not change: one FXSAVE per process */
    if (probed)
        return probed;
    uint8_t image[512] __attribute__((aligned(16)));
    memset(image, 0, sizeof(image));
    __asm__ volatile("fxsave %0" : "=m"(image));
    uint32_t mask;
    memcpy(&mask, image + 28, sizeof(mask));
    /* Zero: a CPU from before MXCSR_MASK, whose mask is 0xFFBF (SDM Vol. 1
     * 11.6.6); no x86-64 CPU is one. */
    probed = mask ? mask : 0xffbfu;
    return probed;
}

static void host_vendor(uint32_t regs[3])
{
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    regs[0] = b;
    regs[1] = d;
    regs[2] = c;
}

static uint32_t pack4(const char *s)
{
    return (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[1] << 8 | (uint32_t)(uint8_t)s[2] << 16 |
           (uint32_t)(uint8_t)s[3] << 24;
}

void cpu_model_cpuid(unsigned apic_id, uint32_t function, uint32_t index, struct cpuid_leaf *out)
{
    static const char brand[48] = "tandem x86-64 virtual CPU";
    (void)index;
    memset(out, 0, sizeof(*out));
    out->function = function;
    out->index = index;
    switch (function) {
    case 0: {
        uint32_t v[3];
        host_vendor(v);
        out->eax = 1;
        out->ebx = v[0];
        out->edx = v[1];
        out->ecx = v[2];
        break;
    }
    case 1:
        /* Family 0xF, model 1, stepping 0: a plain x86-64 part. */
        out->eax = (0xF << 8) | (1 << 4);
        out->ebx = (apic_id << 24) | (1 << 16) | (8 << 8); /* CLFLUSH line 64 bytes */
        out->ecx = LEAF1_ECX;
        out->edx = LEAF1_EDX;
        break;
    case 0x80000000: {
        uint32_t v[3];
        host_vendor(v);
        out->eax = 0x80000008;
        out->ebx = v[0];
        out->edx = v[1];
        out->ecx = v[2];
        break;
    }
    case 0x80000001:
        out->eax = (0xF << 8) | (1 << 4);
        out->ecx = EXT1_ECX | (model_mxcsr_mask & CPU_MODEL_MXCSR_MM ? EXT1_ECX_MISALIGNSSE : 0);
        out->edx = EXT1_EDX;
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
        const char *p = brand + 16 * (function - 0x80000002);
        out->eax = pack4(p);
        out->ebx = pack4(p + 4);
        out->ecx = pack4(p + 8);
        out->edx = pack4(p + 12);
        break;
    }
    case 0x80000007:
        out->edx = 1u << 8; /* invariant TSC: it follows simulated time */
        break;
    case 0x80000008:
        out->eax = (48 << 8) | 40; /* 48-bit virtual, 40-bit physical */
        break;
    default:
        break;
    }
}

size_t cpu_model_cpuid_table(unsigned apic_id, struct cpuid_leaf *out, size_t max)
{
    static const uint32_t functions[] = {0, 1, 0x80000000, 0x80000001, 0x80000002,
                                         0x80000003, 0x80000004, 0x80000007, 0x80000008};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]) && n < max; i++)
        cpu_model_cpuid(apic_id, functions[i], 0, &out[n++]);
    return n;
}
