/* Shared set-up for the KVM engine tests: a machine with one KVM CPU, a
 * recording test device on ports 0x710-0x713 and MMIO at 0xD0000000, an
 * identity-mapped long-mode environment, and a stand-in LAPIC (struct
 * cpu_intr) the tests drive by hand. */
#ifndef TANDEM_KVM_TESTLIB_H
#define TANDEM_KVM_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mem/system.h"
#include "sim/sim.h"
#include "testlib.h"

#define TEST_PORT 0x710
#define TEST_MMIO 0xD0000000ULL
#define TEST_CODE 0x10000ULL
#define TEST_STACK 0x8ff0ULL
#define TEST_PML4 0x9000ULL
#define TEST_IDT 0x7100ULL
#define TEST_IDT_PTR 0x7000ULL
#define TEST_INTR_VECTOR 0x40

/* ctest's skip code (SKIP_RETURN_CODE in tests/kvm.cmake). */
#define TEST_SKIP 77

struct test_io_log {
    unsigned n;
    struct {
        bool mmio, write;
        uint64_t addr, val;
        unsigned size;
    } ops[64];
};

struct kvm_machine {
    struct simulation sim;
    struct cpu *cpu;
    struct system *sys;
    struct test_lapic lapic;
    struct test_io_log io;
};

/* Prints "SKIPPED: reason" and returns false when /dev/kvm cannot be used. */
bool kvm_usable(void);
/* Builds and instantiates the machine (with the fake LAPIC when lapic). */
void machine_init(struct kvm_machine *m, bool lapic);
/* The same machine with the CPU on another engine (e.g. "interp"). */
void machine_init_engine(struct kvm_machine *m, bool lapic, const char *engine);
void machine_destroy(struct kvm_machine *m);
/* Copies code to TEST_CODE, sets up page tables, GDT and IDT (vector
 * TEST_INTR_VECTOR -> TEST_CODE + handler_offset when nonzero) and puts the
 * CPU in 64-bit mode at TEST_CODE + entry_offset. */
void machine_load_long_mode(struct kvm_machine *m, const uint8_t *code, size_t len,
                            size_t entry_offset, size_t handler_offset);
/* Points IDT vector at TEST_CODE + handler_offset (64-bit interrupt gate). */
void machine_set_gate(struct kvm_machine *m, unsigned vector, size_t handler_offset);
uint8_t *guest_ptr(struct kvm_machine *m, uint64_t gpa);
/* Runs fn with stderr captured; returns the text (malloc'd). */
char *capture_stderr_begin(void);
char *capture_stderr_end(char *state);

#endif
