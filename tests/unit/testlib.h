/* Shared helpers for the Check unit tests. */
#ifndef TANDEM_TESTLIB_H
#define TANDEM_TESTLIB_H

#include <check.h>

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

/* A fake interrupt controller for device tests: the level of every GSI and
 * the count of its rising edges (register with system_add_irq_sink). */
struct test_gsi_sink {
    bool level[PC_IOAPIC_PINS];
    unsigned rises[PC_IOAPIC_PINS];
};
void test_gsi_sink_fn(void *opaque, unsigned gsi, bool level);

#endif
