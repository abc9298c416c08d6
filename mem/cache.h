/* Cache timing model (docs/timing.md): a blocking, MSHR-free,
 * set-associative cache with bit-selection set index, LRU (move-to-front)
 * or seeded random replacement, write-back + write-allocate by default,
 * and a cachegrind-compatible mode used as an oracle check. Each access
 * returns its latency in cycles; a miss adds the latency of the next level
 * (another Cache or a DRAM object) and, for a dirty victim, the write-back.
 *
 * The model holds no data: it only decides hits and misses. The access
 * function is called once per memory access of the interpreter, so it
 * allocates nothing and hashes nothing. */
#ifndef TANDEM_MEM_CACHE_H
#define TANDEM_MEM_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/object.h"

/* What an access does to the line. A MODIFY (read-modify-write, e.g.
 * `add [mem], reg`) is one access that reads and then writes the line. */
enum mem_op { MEM_READ, MEM_WRITE, MEM_MODIFY };

/* One level of the memory hierarchy as the level above sees it. Cache and
 * DRAM embed one; cache_next_level() finds it from a sim object. */
struct mem_level {
    /* Latency in cycles of an access of size bytes at addr. */
    uint64_t (*access)(struct mem_level *self, uint64_t addr, unsigned size, enum mem_op op);
};

enum cache_replacement { CACHE_REPL_LRU, CACHE_REPL_RANDOM };
enum cache_write_policy { CACHE_WRITE_BACK, CACHE_WRITE_THROUGH };

struct cache {
    struct sim_object obj;
    /* params */
    uint64_t size;      /* bytes */
    uint32_t assoc;     /* ways per set */
    uint32_t line_size; /* bytes, a power of two */
    int replacement;    /* enum cache_replacement */
    uint64_t seed;      /* random replacement's generator seed */
    int write_policy;   /* enum cache_write_policy */
    bool write_allocate;
    bool cachegrind; /* cachegrind's model: see docs/timing.md */
    uint32_t hit_latency;
    struct sim_object *next_level_obj; /* Cache or DRAM; none: misses cost
                                        * miss_latency */
    uint32_t miss_latency; /* cycles a miss costs when there is no next level */

    /* geometry derived in init */
    uint32_t nsets;
    unsigned line_shift;
    uint64_t set_mask;
    bool write_hit_inline;     /* a write hit needs no next-level traffic */
    uint64_t write_makes_dirty; /* 1 when a write hit dirties the line */
    struct mem_level level;
    struct mem_level *next;

    /* Per set, assoc entries in recency order (most recent first): the
     * line's block number (address >> line_shift) shifted left by one, with
     * the dirty flag in bit 0; CACHE_INVALID marks an empty way. */
    uint64_t *ways;
    uint64_t rng;

    const uint64_t *insts; /* instruction count MPKI divides by; NULL: the
                            * simulation's total */

    /* stats */
    uint64_t read_accesses, write_accesses;
    uint64_t read_misses, write_misses;
    uint64_t writebacks;  /* dirty lines written to the next level */
    uint64_t fills;       /* lines fetched from the next level */
    uint64_t write_throughs;
};

#define CACHE_INVALID UINT64_MAX

/* The general access path; cache_access below inlines the common case. */
uint64_t cache_access_slow(struct cache *c, uint64_t addr, unsigned size, enum mem_op op);

/* Latency in cycles of one access of size >= 1 bytes. An access crossing
 * line boundaries touches every line it covers and counts as one access
 * with at most one miss. The inline part handles a hit on the most recent
 * line of a set without a call; everything else goes to cache_access_slow. */
static inline uint64_t cache_access(struct cache *c, uint64_t addr, unsigned size, enum mem_op op)
{
    uint64_t block = addr >> c->line_shift;
    if (__builtin_expect(block == (addr + size - 1) >> c->line_shift, 1)) {
        uint64_t *mru = &c->ways[(block & c->set_mask) * c->assoc];
        if ((*mru | 1) == ((block << 1) | 1)) {
            if (op == MEM_READ || (op == MEM_MODIFY && c->cachegrind)) {
                c->read_accesses++;
                return c->hit_latency;
            }
            if (c->write_hit_inline) {
                c->write_accesses++;
                *mru |= c->write_makes_dirty;
                return c->hit_latency;
            }
        }
    }
    return cache_access_slow(c, addr, size, op);
}

/* The instruction counter MPKI is computed against (e.g. &cpu->insts). */
void cache_set_inst_counter(struct cache *c, const uint64_t *insts);
/* Points c and every cache below it at an instruction counter, and the
 * DRAM at the bottom (if any) at a cycle counter: what a CPU or a trace
 * driver calls once for each hierarchy it drives. */
void cache_attach_counters(struct cache *c, const uint64_t *insts, const uint64_t *cycles);

/* The hierarchy level of a Cache or DRAM object, or NULL (err_set) for
 * any other type. */
struct mem_level *cache_level_of(struct sim_object *o);

/* Empties c and every Cache below it: all lines invalid, dirty ones
 * dropped without a write-back (a cold start, e.g. cachegrind's at program
 * start). Stats are left alone. */
void cache_invalidate_all(struct cache *c);

/* Whether the line holding addr is present (no state change). */
bool cache_probe(const struct cache *c, uint64_t addr);

static inline uint64_t cache_misses(const struct cache *c)
{
    return c->read_misses + c->write_misses;
}

static inline uint64_t cache_accesses(const struct cache *c)
{
    return c->read_accesses + c->write_accesses;
}

#endif
