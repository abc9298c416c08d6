/* The lockstep oracle's state comparison (docs/lockstep.md): which fields
 * of struct x86_state are compared, which RFLAGS bits an instruction leaves
 * undefined (AMD), and the divergence report. */
#ifndef TANDEM_TESTS_LOCKSTEP0_COMPARE_H
#define TANDEM_TESTS_LOCKSTEP0_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/state.h"

/* The instruction at RIP, disassembled with capstone. */
struct insn_info {
    uint64_t rip;
    uint8_t bytes[16];
    unsigned len;        /* 0: capstone could not decode it */
    char mnemonic[32];
    char text[200];      /* "mnemonic operands" */
    bool rep_string;     /* REP/REPE/REPNE + string operation */
};

/* Decodes the bytes fetched at rip in the given mode (16, 32 or 64). */
void insn_decode(struct insn_info *in, uint64_t rip, const uint8_t *bytes, size_t n, unsigned bits);

/* RFLAGS bits the instruction leaves undefined, plus those never compared
 * (TF: KVM hides it while stepping; RF). */
uint64_t insn_flags_mask(const struct insn_info *in);

#define DIFF_MAX 64
struct state_diff {
    unsigned n;
    char field[DIFF_MAX][24];
    uint64_t expected[DIFF_MAX], actual[DIFF_MAX];
};

/* Compares kvm (expected) with interp (actual) over every compared field,
 * RFLAGS under ~flags_mask. Returns the number of differing fields. */
unsigned state_compare(const struct x86_state *kvm, const struct x86_state *interp,
                       uint64_t flags_mask, struct state_diff *d);
/* Prints the differing fields, then both states side by side. */
void state_report(const struct x86_state *kvm, const struct x86_state *interp,
                  const struct state_diff *d);

#endif
