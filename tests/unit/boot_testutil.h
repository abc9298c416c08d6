/* Helpers shared by the loader tests (test_elf_loader.c, test_multiboot.c,
 * test_linux_loader.c): a machine with RAM, an inert CPU engine so loader
 * sim objects can start a CPU without KVM, and byte-level file writing. */
#ifndef TANDEM_TESTS_BOOT_TESTUTIL_H
#define TANDEM_TESTS_BOOT_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "mem/system.h"
#include "sim/log.h"
#include "testlib.h"

/* An engine that holds the state and never runs: the loader tests only
 * look at what the loaders hand the CPU. */
static int inert_attach(struct cpu *cpu) { (void)cpu; return 0; }
static int inert_state(struct cpu *cpu) { (void)cpu; return 0; }
static enum cpu_stop inert_run(struct cpu *cpu, tick_t until, tick_t *reached)
{
    (void)cpu;
    *reached = until;
    return CPU_STOP_BUDGET;
}
static void inert_detach(struct cpu *cpu) { (void)cpu; }
static const struct cpu_engine_ops inert_engine = {"inert", inert_attach, inert_state,
                                                   inert_state, inert_run, inert_detach, NULL};
__attribute__((constructor)) static void register_inert_engine(void)
{
    cpu_engine_register(&inert_engine);
}

static inline void set_param(struct sim_object *o, const char *name, const char *value)
{
    const struct param_desc *p = sim_type_param(o->type, name);
    ck_assert_msg(p != NULL, "no parameter %s", name);
    ck_assert_msg(param_set_text(o, p, value) == 0, "%s=%s: %s", name, value, err_get());
}

/* sim_init + a System of mem_size ("512M"), instantiated; no CPU. */
static inline struct system *make_system(struct simulation *sim, const char *mem_size)
{
    sim_init(sim);
    log_set_quiet(true);
    struct sim_object *o = sim_create(sim, "System", "system");
    ck_assert_ptr_nonnull(o);
    set_param(o, "mem_size", mem_size);
    ck_assert_msg(sim_instantiate(sim) == 0, "%s", err_get());
    return SIM_CAST(struct system, o);
}

/* sim_init + a System and a CPU on the inert engine, not instantiated (the
 * caller adds a loader first). */
static inline struct cpu *make_machine_with_cpu(struct simulation *sim, const char *mem_size)
{
    sim_init(sim);
    log_set_quiet(true);
    struct sim_object *o = sim_create(sim, "System", "system");
    ck_assert_ptr_nonnull(o);
    set_param(o, "mem_size", mem_size);
    struct sim_object *c = sim_create(sim, "CPU", "system.cpu0");
    ck_assert_ptr_nonnull(c);
    set_param(c, "engine", "inert");
    return SIM_CAST(struct cpu, c);
}

static inline uint8_t *ram(struct system *s, uint64_t gpa, uint64_t len)
{
    uint8_t *p = bus_ram_ptr(&s->bus, gpa, len);
    ck_assert_msg(p != NULL, "0x%llx+%llu not RAM", (unsigned long long)gpa,
                  (unsigned long long)len);
    return p;
}

static inline uint64_t rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void wr(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Files write_bytes made: removed (with their directories) when the test
 * process exits. */
#define TEST_FILES_MAX 64
static char *test_files[TEST_FILES_MAX];
static unsigned ntest_files;

static void remove_test_files(void)
{
    for (unsigned i = 0; i < ntest_files; i++) {
        remove(test_files[i]);
        char *slash = strrchr(test_files[i], '/');
        *slash = '\0';
        remove(test_files[i]);
        free(test_files[i]);
    }
    ntest_files = 0;
}

/* Writes len bytes to a new file in a fresh temporary directory; the path
 * stays valid until the process exits. */
static inline const char *write_bytes(const char *name, const void *data, size_t len)
{
    ck_assert_uint_lt(ntest_files, TEST_FILES_MAX);
    if (ntest_files == 0)
        atexit(remove_test_files);
    char *dir = test_tmpdir();
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    free(dir);
    test_files[ntest_files++] = path;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

/* The error message contains want. */
#define ck_assert_err_has(want)                                                     \
    ck_assert_msg(strstr(err_get(), (want)) != NULL, "error \"%s\" lacks \"%s\"", \
                  err_get(), (want))

#endif
