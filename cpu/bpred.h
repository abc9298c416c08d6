/* Branch predictor timing model (docs/timing.md): a direction predictor
 * (bimodal: 2-bit counters indexed by PC; gshare: the PC XOR a global
 * history), a set-associative branch target buffer for taken targets, and a
 * return-address stack. One call per executed branch predicts and updates,
 * and says whether the front end was wrong; the caller charges
 * mispredict_penalty cycles for it. */
#ifndef TANDEM_CPU_BPRED_H
#define TANDEM_CPU_BPRED_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/object.h"

enum branch_kind {
    BRANCH_COND,     /* Jcc, LOOP, JRCXZ: direction predicted, target from the BTB */
    BRANCH_UNCOND,   /* direct JMP: target from the BTB */
    BRANCH_INDIRECT, /* JMP r/m: target from the BTB */
    BRANCH_CALL,     /* direct or indirect CALL: target from the BTB, pushes the RAS */
    BRANCH_RET,      /* RET: target popped from the RAS */
};

enum bpred_kind { BPRED_BIMODAL, BPRED_GSHARE };

struct bpred_btb_entry {
    uint64_t pc; /* BPRED_NO_PC: empty */
    uint64_t target;
};

#define BPRED_NO_PC UINT64_MAX

struct bpred {
    struct sim_object obj;
    /* params */
    int kind; /* enum bpred_kind */
    uint32_t table_entries; /* 2-bit counters */
    uint32_t history_bits;  /* gshare global history length */
    uint32_t btb_entries, btb_assoc;
    uint32_t ras_depth;
    uint32_t mispredict_penalty;

    uint32_t table_mask, btb_sets, btb_set_mask;
    uint8_t *counters;              /* table_entries, values 0..3 */
    struct bpred_btb_entry *btb;    /* btb_entries, per set most recent first */
    uint64_t *ras;                  /* ras_depth return addresses, circular */
    uint64_t history;               /* taken = 1, newest in bit 0 */
    uint32_t ras_top;               /* index of the next push */
    uint32_t ras_count;             /* valid entries (<= ras_depth) */
    const uint64_t *insts;          /* MPKI's instruction count; NULL: the simulation's */

    /* stats */
    uint64_t lookups;
    uint64_t cond_branches, cond_mispredicts;
    uint64_t btb_lookups, btb_misses;
    uint64_t indirect_mispredicts;
    uint64_t returns, ras_mispredicts;
    uint64_t mispredicts;
};

/* Predicts and updates for one executed branch at pc. fallthrough is the
 * next instruction's address (what a call pushes), taken whether it jumped
 * (always true except for BRANCH_COND), target where it went when taken.
 * Returns true when the prediction was wrong (direction or target). */
bool bpred_branch(struct bpred *b, uint64_t pc, uint64_t fallthrough, bool taken,
                  uint64_t target, enum branch_kind kind);
void bpred_set_inst_counter(struct bpred *b, const uint64_t *insts);

#endif
