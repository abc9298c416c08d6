/* Lockstep harness: the same code runs natively in a forked child under
 * ptrace single-step and in the interpreter in the parent (whose address
 * space is an identical copy after fork), and the states are compared after
 * every instruction. */
#ifndef TANDEM_TESTS_LOCKSTEP_H
#define TANDEM_TESTS_LOCKSTEP_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

/* Fixed regions for generated code, below 4 GiB so 32-bit addressing
 * (67 prefix) reaches them. */
#define LS_CODE_BASE 0x30000000ull
#define LS_CODE_SIZE 0x10000ull
#define LS_DATA_BASE 0x30100000ull
#define LS_DATA_SIZE 0x4000ull
#define LS_DATA_PTR (LS_DATA_BASE + 0x2000) /* RBX during generated runs */
#define LS_STACK_TOP (LS_DATA_BASE + 0x3800) /* RSP during generated runs */

struct ls_rng {
    uint64_t s;
};
uint64_t ls_rand(struct ls_rng *r);

/* A generated instruction sequence and the registers it starts from. */
struct ls_program {
    size_t len; /* bytes of code written at LS_CODE_BASE */
    struct user_regs_struct regs;
};

/* Group names the generator knows, NULL-terminated. */
extern const char *const ls_groups[];
/* Writes about `count` instructions of `group` at LS_CODE_BASE (ending with
 * INT3) and random data into the data region; returns 0 or -1 if the group
 * is unknown. */
int ls_generate(const char *group, struct ls_rng *rng, csh cs, unsigned count, struct ls_program *p);

/* Real-code workloads (tests/lockstep/workloads.c), integer-only so the
 * interpreter runs all of them. */
struct ls_workload {
    const char *name;
    uint64_t (*fn)(uint64_t arg);
    uint64_t arg;
};
extern const struct ls_workload ls_workloads[];
/* The memory the workloads touch besides their stack. */
void ls_workload_memory(void **base, size_t *size);
void ls_workload_fp_memory(void **base, size_t *size);
uint64_t ls_w_nbody(uint64_t steps);

/* `lockstep desc` (tests/lockstep/desc.c): LAR/LSL/VERR/VERW at CPL 3 on
 * this CPU against the interpreter over Linux's GDT; the exit status. */
int ls_run_desc(void);
uint64_t ls_w_ldseries(uint64_t n);

#endif
