/* DRAM timing model (docs/timing.md): a fixed access latency plus one
 * channel of finite bandwidth. A request occupies the channel for
 * size / bytes-per-cycle cycles; a request that arrives while the channel is
 * busy waits for it, so back-to-back misses queue. Latencies are returned in
 * cycles of clock_hz (the CPU clock the caches count in). */
#ifndef TANDEM_MEM_DRAM_H
#define TANDEM_MEM_DRAM_H

#include <stdint.h>

#include "mem/cache.h"
#include "sim/object.h"
#include "sim/tick.h"

/* Channel occupancy is kept in 1/256 cycles so fractional transfer times
 * accumulate exactly (no floating point on the access path). */
#define DRAM_FRAC_SHIFT 8

struct dram {
    struct sim_object obj;
    /* params */
    double latency_ns;
    double bandwidth_gbps; /* GB/s, 1e9 bytes per second */
    uint64_t clock_hz;

    struct mem_level level;
    struct clock_domain clock;
    uint64_t latency_cycles;
    uint64_t frac_cycles_per_byte; /* cycles per byte << DRAM_FRAC_SHIFT */
    /* The current cycle, read at each request; NULL: simulated time in
     * cycles of clock_hz. */
    const uint64_t *cycle_counter;

    uint64_t busy_until; /* channel free from this cycle << DRAM_FRAC_SHIFT */
    uint64_t last_now;   /* the cycle of the latest request */

    /* stats */
    uint64_t reads, writes;
    uint64_t bytes_read, bytes_written;
    uint64_t queue_cycles; /* cycles requests waited for the channel */
};

/* Latency in cycles of a request of size bytes issued now. */
uint64_t dram_access(struct dram *d, uint64_t addr, unsigned size, enum mem_op op);
/* Where "now" comes from (e.g. &cpu->cycles or a trace driver's count). */
void dram_set_cycle_counter(struct dram *d, const uint64_t *cycles);

#endif
