/* Shared helpers for the Check unit tests. */
#ifndef TANDEM_TESTLIB_H
#define TANDEM_TESTLIB_H

#include <check.h>

#include "cpu/intr.h"
#include "mem/pc_layout.h"
#include "sim/sim.h"

/* Runs one suite, returning the process exit status. */
int run_suite(Suite *s);
/* A fresh temporary directory (removed by the OS test tmp cleanup). */
char *test_tmpdir(void);
/* Runs the tandem binary with arguments; captures stderr+stdout into *out
 * (malloc'd). Returns the exit status. */
int run_tandem(char **out, const char *args_fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes text to a new file in dir; returns its path. */
char *write_temp_file(const char *dir, const char *name, const char *text);

/* Fails the test, naming the first difference, unless both machines
 * serialize to the same tree. */
void test_assert_same_state(struct simulation *a, struct simulation *b);
/* The node of the object at a dotted path ("system.uart0") in a tree from
 * sim_serialize, or NULL. */
struct ser_node *test_object_node(struct ser_node *root, const char *path);

/* Serializes `from`, overwrites property `prop` of the object at `path`
 * with `value`, and requires restoring that into `into` to fail with an
 * error containing `want`. Both machines are destroyed. */
void test_assert_corrupt_refused(struct simulation *from, struct simulation *into, const char *path,
                                 const char *prop, uint64_t value, const char *want);

/* A fake interrupt controller for device tests: the level of every GSI and
 * the count of its rising edges (register with system_add_irq_sink). */
struct test_gsi_sink {
    bool level[PC_IOAPIC_PINS];
    unsigned rises[PC_IOAPIC_PINS];
};
void test_gsi_sink_fn(void *opaque, unsigned gsi, bool level);

/* Object construction for tests, failing the test with the error:
 * sim_create, a parameter from text, an object reference parameter. */
struct sim_object *test_new_object(struct simulation *sim, const char *type, const char *path);
void test_set_param(struct sim_object *o, const char *param, const char *value);
void test_set_ref(struct sim_object *o, const char *param, struct sim_object *ref);

/* A fake LAPIC (cpu/intr.h) whose lines a test drives by hand: the pending
 * vector (-1: none), NMI, TPR, APIC base and timer deadline are plain
 * fields; acknowledgements are counted. */
struct test_lapic {
    struct cpu_intr intr;
    int pending;
    unsigned acks;
    bool nmi;
    unsigned nmi_acks;
    uint8_t tpr;
    uint64_t base;
    tick_t deadline;
};
/* Resets l and registers it as APIC 0 of sys (before sim_instantiate). */
struct system;
void test_lapic_attach(struct test_lapic *l, struct system *sys);

/* Flat guest memory for user-level interpreter tests (the translate hook
 * of cpu/interp.h's interp_mem_ops, opaque = the struct): `size` bytes at
 * linear `base`, the bytes from `ro_from` up read-only (ro_from = size:
 * none). Anything else is a user-mode #PF with the write bit set for
 * writes. */
struct test_flat_mem {
    uint8_t *mem;
    uint64_t base;
    size_t size, ro_from;
};
struct interp_fault;
uint8_t *test_flat_translate(void *flat, uint64_t la, unsigned access, struct interp_fault *f);
/* Makes st a 64-bit CPL-3 state as Linux runs processes (CS 0x33, SS 0x2b,
 * long mode, RFLAGS with only the fixed bit) at rip; other fields kept. */
struct x86_state;
void test_user64_state(struct x86_state *st, uint64_t rip);

#endif
