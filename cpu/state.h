/* The one x86-64 architectural state both CPU engines share (DESIGN.md,
 * "One architectural state, two engines"). Switching engines is state out of
 * one engine into this struct and from it into the other. The x87/SSE state
 * is kept in the FXSAVE memory layout (Intel SDM Vol. 1, 10.5.1) so the
 * 80-bit registers travel without loss. The LAPIC state is not here: it lives
 * in the LAPIC device model (dev/lapic.c) in kvm_lapic_state layout. */
#ifndef TANDEM_CPU_STATE_H
#define TANDEM_CPU_STATE_H

#include <stdbool.h>
#include <stdint.h>

enum x86_gpr {
    R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
    R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
};

enum x86_seg { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_NSEGS };

/* A segment register with its hidden (descriptor cache) part, field by
 * field as in the descriptor (SDM Vol. 3, 3.4.5). */
struct x86_segment {
    uint64_t base;
    uint32_t limit; /* byte-granular, already scaled by G */
    uint16_t selector;
    uint8_t type;   /* 4 bits */
    uint8_t s, dpl, present, avl, l, db, g;
    uint8_t unusable;
};

struct x86_dtable {
    uint64_t base;
    uint16_t limit;
};

/* FXSAVE image, 64-bit format (SDM Vol. 1, Table 10-2). */
struct x86_fxsave {
    uint16_t fcw, fsw;
    uint8_t ftw; /* abridged tag word: bit i set = ST(i) physical reg valid */
    uint8_t reserved1;
    uint16_t fop;
    uint64_t fip, fdp;
    uint32_t mxcsr, mxcsr_mask;
    struct {
        uint8_t bytes[10]; /* 80-bit extended precision, little-endian */
        uint8_t pad[6];
    } st[8];
    uint8_t xmm[16][16];
    uint8_t reserved2[96];
} __attribute__((aligned(16)));
_Static_assert(sizeof(struct x86_fxsave) == 512, "FXSAVE layout is 512 bytes");

/* Exceptions and interrupts between instructions. */
struct x86_events {
    bool exception_pending;   /* raised but not yet delivered */
    uint8_t exception_vector;
    bool exception_has_error;
    uint32_t exception_error;
    uint64_t exception_payload; /* CR2 for #PF, DR6 bits for #DB */
    bool exception_has_payload;
    bool interrupt_injected;  /* an external interrupt being delivered */
    uint8_t interrupt_vector;
    bool nmi_pending, nmi_injected, nmi_masked;
    /* Interrupt shadow after STI (bit 0) or MOV SS/POP SS (bit 1). */
    uint8_t interrupt_shadow;
};

#define X86_SHADOW_STI 1
#define X86_SHADOW_MOV_SS 2

enum x86_run_state { X86_RUNNABLE, X86_HALTED, X86_SHUTDOWN };

/* MSRs the CPU model exposes (cpu/model.c lists them). */
struct x86_msrs {
    uint64_t efer;
    uint64_t star, lstar, cstar, sfmask;
    uint64_t kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t pat;
    uint64_t tsc_aux;
    uint64_t misc_enable;
    uint64_t apic_base;
};

struct x86_state {
    uint64_t gpr[16];
    uint64_t rip;
    uint64_t rflags;
    struct x86_segment seg[S_NSEGS];
    struct x86_segment ldtr, tr;
    struct x86_dtable gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t dr[8]; /* DR4/DR5 unused (aliases), kept for layout simplicity */
    uint64_t xcr0;
    struct x86_msrs msr;
    struct x86_fxsave fx;
    struct x86_events ev;
    enum x86_run_state run_state;
    /* Guest TSC = cycles of the TSC clock at simulated time + tsc_offset. */
    int64_t tsc_offset;
};

/* RFLAGS bits */
#define X86_FLAG_CF (1u << 0)
#define X86_FLAG_FIXED (1u << 1)
#define X86_FLAG_PF (1u << 2)
#define X86_FLAG_AF (1u << 4)
#define X86_FLAG_ZF (1u << 6)
#define X86_FLAG_SF (1u << 7)
#define X86_FLAG_TF (1u << 8)
#define X86_FLAG_IF (1u << 9)
#define X86_FLAG_DF (1u << 10)
#define X86_FLAG_OF (1u << 11)
#define X86_FLAG_IOPL (3u << 12)
#define X86_FLAG_NT (1u << 14)
#define X86_FLAG_RF (1u << 16)
#define X86_FLAG_VM (1u << 17)
#define X86_FLAG_AC (1u << 18)
#define X86_FLAG_VIF (1u << 19)
#define X86_FLAG_VIP (1u << 20)
#define X86_FLAG_ID (1u << 21)

/* Control register bits */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_VME (1ull << 0)
#define X86_CR4_PVI (1ull << 1)
#define X86_CR4_TSD (1ull << 2)
#define X86_CR4_DE (1ull << 3)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_MCE (1ull << 6)
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_PCE (1ull << 8)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)

/* Exception vectors */
enum x86_vector {
    X86_DE = 0, X86_DB = 1, X86_NMI = 2, X86_BP = 3, X86_OF = 4, X86_BR = 5, X86_UD = 6,
    X86_NM = 7, X86_DF = 8, X86_TS = 10, X86_NP = 11, X86_SS = 12, X86_GP = 13, X86_PF = 14,
    X86_MF = 16, X86_AC = 17, X86_MC = 18, X86_XM = 19,
};

/* The state after RESET/INIT (SDM Vol. 3, Table 9-1), real mode at
 * F000:FFF0. */
void x86_state_reset(struct x86_state *s);
/* Flat 64-bit long mode with paging at CR3 and interrupts off: the state
 * loaders hand the guest (Linux 64-bit boot protocol). */
void x86_state_long_mode(struct x86_state *s, uint64_t cr3, uint64_t rip, uint64_t rsp);

struct ser_node;
void x86_state_serialize(const struct x86_state *s, struct ser_node *n);
int x86_state_unserialize(struct x86_state *s, const struct ser_node *n);

#endif
