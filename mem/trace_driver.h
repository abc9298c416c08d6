/* TraceDriver: feeds a memory-access stream into the timing models, standing
 * in for a CPU until the interpreter drives them (docs/timing.md). The
 * stream comes from a source: a valgrind lackey trace file
 * (`valgrind --tool=lackey --trace-mem=yes`: I/L/S/M lines) loaded into
 * memory, or a synthetic, seeded generator. Instruction fetches go to
 * icache (and itlb), data accesses to dcache (and dtlb); MPKI counters and
 * the DRAM clock of every level below are pointed at the driver's own
 * instruction and cycle counts, so several drivers can run side by side in
 * one simulation (configs/cache-sweep.lua). */
#ifndef TANDEM_MEM_TRACE_DRIVER_H
#define TANDEM_MEM_TRACE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/cache.h"
#include "sim/event.h"
#include "sim/object.h"
#include "sim/tick.h"

struct tlb_model;

enum trace_kind { TRACE_IFETCH, TRACE_LOAD, TRACE_STORE, TRACE_MODIFY };

struct trace_access {
    uint64_t addr;
    unsigned size;
    enum trace_kind kind;
};

/* A loaded trace: records packed as addr | size << 52 | kind << 62. */
#define TRACE_ADDR_BITS 52
#define TRACE_MAX_SIZE 1023u

struct trace_buffer {
    uint64_t *records;
    size_t count;
};

/* Parses a lackey --trace-mem=yes log; 0 or -1 (err_set naming file:line). */
int trace_load_lackey(struct trace_buffer *t, const char *path);
void trace_buffer_free(struct trace_buffer *t);

static inline struct trace_access trace_record(const struct trace_buffer *t, size_t i)
{
    uint64_t r = t->records[i];
    struct trace_access a = {r & ((1ULL << TRACE_ADDR_BITS) - 1),
                             (unsigned)(r >> TRACE_ADDR_BITS) & TRACE_MAX_SIZE,
                             (enum trace_kind)(r >> 62)};
    return a;
}

enum trace_source { TRACE_SOURCE_LACKEY, TRACE_SOURCE_SYNTHETIC };

struct trace_driver {
    struct sim_object obj;
    /* params */
    int source; /* enum trace_source */
    char *file;
    struct sim_object *icache_obj, *dcache_obj, *itlb_obj, *dtlb_obj;
    uint64_t clock_hz;
    uint64_t batch; /* accesses per event */
    uint64_t synthetic_insts;
    uint64_t code_footprint, data_footprint;
    uint64_t seed;
    uint32_t base_cycles; /* cycles per instruction before memory stalls */

    struct cache *icache, *dcache;
    struct tlb_model *itlb, *dtlb;
    struct trace_buffer trace;
    bool trace_borrowed; /* records belong to another driver of the same file */
    struct clock_domain clock;
    struct event step_event;
    unsigned max_access; /* cachegrind clamps accesses to its smallest line */

    /* state */
    uint64_t position; /* accesses consumed */
    uint64_t rng;
    uint64_t code_pc;    /* synthetic: next instruction address */
    uint64_t stream_pos; /* synthetic: strided stream offset */
    uint64_t synth_emitted; /* synthetic: instructions generated */
    bool finished;

    /* stats */
    uint64_t insts, cycles;
    uint64_t loads, stores, modifies;
};

/* The next access of the stream, or false at its end. */
bool trace_driver_next(struct trace_driver *d, struct trace_access *a);
/* Plays up to max accesses through the models; returns how many. */
uint64_t trace_driver_step(struct trace_driver *d, uint64_t max);

#endif
