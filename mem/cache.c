/* Cache timing model; see mem/cache.h and docs/timing.md. */
#include "mem/cache.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "mem/dram.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

#define CACHE_MAX_ASSOC 1024

/* xorshift64*: small, fast, and its whole state is one serializable word. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Looks block up in its set and makes it the most recent line. Returns
 * true on a hit. On a miss with allocate, installs the block in the
 * victim's way and sets *dirty_victim to the evicted block if it was dirty
 * (CACHE_INVALID otherwise). */
static inline bool touch_line(struct cache *c, uint64_t block, bool make_dirty, bool allocate,
                              uint64_t *dirty_victim)
{
    uint64_t *set = c->ways + (block & c->set_mask) * c->assoc;
    uint64_t key = block << 1;
    unsigned n = c->assoc;
    /* Entries are key or key|1 (dirty); CACHE_INVALID has bit 0 set, and
     * no valid key|1 equals it because blocks are below 2^62. */
    if ((set[0] | 1) == (key | 1)) {
        set[0] |= make_dirty;
        return true;
    }
    /* Sets are small: open-coded shifts beat a memmove call. */
    for (unsigned i = 1; i < n; i++) {
        if ((set[i] | 1) == (key | 1)) {
            uint64_t e = set[i] | make_dirty;
            for (unsigned j = i; j > 0; j--)
                set[j] = set[j - 1];
            set[0] = e;
            return true;
        }
    }
    *dirty_victim = CACHE_INVALID;
    if (!allocate)
        return false;
    /* Lines enter at the front and only move forward, so empty ways are
     * always the last ones: the last way is the LRU line or an empty one. */
    unsigned victim = n - 1;
    if (c->replacement == CACHE_REPL_RANDOM && set[n - 1] != CACHE_INVALID)
        victim = (unsigned)(rng_next(&c->rng) % n);
    uint64_t old = set[victim];
    if (old != CACHE_INVALID && (old & 1))
        *dirty_victim = old >> 1;
    for (unsigned j = victim; j > 0; j--)
        set[j] = set[j - 1];
    set[0] = key | make_dirty;
    return false;
}

static inline uint64_t next_access(struct cache *c, uint64_t addr, unsigned size, enum mem_op op)
{
    if (!c->next)
        return c->miss_latency;
    return c->next->access(c->next, addr, size, op);
}

uint64_t cache_access_slow(struct cache *c, uint64_t addr, unsigned size, enum mem_op op)
{
    bool write = op == MEM_WRITE || (op == MEM_MODIFY && !c->cachegrind);
    if (write)
        c->write_accesses++;
    else
        c->read_accesses++;
    bool write_back = !c->cachegrind && c->write_policy == CACHE_WRITE_BACK;
    bool make_dirty = write && write_back;
    bool allocate = !write || c->write_allocate || c->cachegrind;
    uint64_t first = addr >> c->line_shift;
    uint64_t end = addr + (size ? size : 1) - 1;
    /* An access running past the top of the address space stops there. */
    uint64_t last = (end < addr ? UINT64_MAX : end) >> c->line_shift;
    uint64_t latency = c->hit_latency;
    bool missed = false;
    for (uint64_t block = first;; block++) {
        uint64_t victim;
        if (!touch_line(c, block, make_dirty, allocate, &victim)) {
            missed = true;
            if (!c->cachegrind && allocate) {
                if (victim != CACHE_INVALID) {
                    c->writebacks++;
                    latency += next_access(c, victim << c->line_shift, c->line_size, MEM_WRITE);
                }
                c->fills++;
                latency += next_access(c, block << c->line_shift, c->line_size, MEM_READ);
            }
        }
        if (block == last)
            break;
    }
    if (missed) {
        if (write)
            c->write_misses++;
        else
            c->read_misses++;
        /* cachegrind hands the level below the original access, once. */
        if (c->cachegrind)
            latency += next_access(c, addr, size, write ? MEM_WRITE : MEM_READ);
    }
    if (write && !c->cachegrind && (c->write_policy == CACHE_WRITE_THROUGH || !allocate)) {
        c->write_throughs++;
        latency += next_access(c, addr, size, MEM_WRITE);
    }
    return latency;
}

bool cache_probe(const struct cache *c, uint64_t addr)
{
    uint64_t block = addr >> c->line_shift;
    const uint64_t *set = c->ways + (block & c->set_mask) * c->assoc;
    for (unsigned i = 0; i < c->assoc; i++)
        if ((set[i] | 1) == ((block << 1) | 1))
            return true;
    return false;
}

void cache_invalidate_all(struct cache *c)
{
    /* init refuses loops, so the chain ends. */
    while (c) {
        for (uint64_t i = 0; i < (uint64_t)c->nsets * c->assoc; i++)
            c->ways[i] = CACHE_INVALID;
        struct sim_object *next = c->next_level_obj;
        c = next && !strcmp(next->type->name, "Cache") ? SIM_CAST(struct cache, next) : NULL;
    }
}

void cache_set_inst_counter(struct cache *c, const uint64_t *insts)
{
    c->insts = insts;
}

void cache_attach_counters(struct cache *c, const uint64_t *insts, const uint64_t *cycles)
{
    /* init refuses loops, so the chain ends. */
    while (c) {
        c->insts = insts;
        struct sim_object *next = c->next_level_obj;
        if (!next)
            return;
        if (!strcmp(next->type->name, "DRAM")) {
            dram_set_cycle_counter(SIM_CAST(struct dram, next), cycles);
            return;
        }
        c = SIM_CAST(struct cache, next);
    }
}

static uint64_t cache_level_access(struct mem_level *l, uint64_t addr, unsigned size,
                                   enum mem_op op)
{
    struct cache *c = (struct cache *)((char *)l - offsetof(struct cache, level));
    return cache_access(c, addr, size, op);
}

static uint64_t dram_level_access(struct mem_level *l, uint64_t addr, unsigned size,
                                  enum mem_op op)
{
    struct dram *d = (struct dram *)((char *)l - offsetof(struct dram, level));
    return dram_access(d, addr, size, op);
}

struct mem_level *cache_level_of(struct sim_object *o)
{
    if (!strcmp(o->type->name, "Cache")) {
        struct cache *c = SIM_CAST(struct cache, o);
        c->level.access = cache_level_access;
        return &c->level;
    }
    if (!strcmp(o->type->name, "DRAM")) {
        struct dram *d = SIM_CAST(struct dram, o);
        d->level.access = dram_level_access;
        return &d->level;
    }
    err_set("%s is a %s; a cache's next level must be a Cache or a DRAM", o->path, o->type->name);
    return NULL;
}

static double stat_accesses(const struct sim_object *o)
{
    return (double)cache_accesses((const struct cache *)o);
}

static double stat_misses(const struct sim_object *o)
{
    return (double)cache_misses((const struct cache *)o);
}

static double stat_hits(const struct sim_object *o)
{
    const struct cache *c = (const struct cache *)o;
    return (double)(cache_accesses(c) - cache_misses(c));
}

static double stat_miss_rate(const struct sim_object *o)
{
    const struct cache *c = (const struct cache *)o;
    uint64_t a = cache_accesses(c);
    return a ? (double)cache_misses(c) / (double)a : 0.0;
}

static double stat_mpki(const struct sim_object *o)
{
    const struct cache *c = (const struct cache *)o;
    uint64_t insts = c->insts ? *c->insts : sim_total_insts(o->sim);
    return insts ? (double)cache_misses(c) * 1000.0 / (double)insts : 0.0;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int cache_init(struct sim_object *o)
{
    struct cache *c = SIM_CAST(struct cache, o);
    if (!is_pow2(c->line_size) || c->line_size < 4) {
        err_set("line_size must be a power of two of at least 4 bytes, got %u", c->line_size);
        return -1;
    }
    if (c->assoc == 0 || c->assoc > CACHE_MAX_ASSOC) {
        err_set("assoc must be 1..%u, got %u", CACHE_MAX_ASSOC, c->assoc);
        return -1;
    }
    uint64_t set_bytes = (uint64_t)c->assoc * c->line_size;
    if (c->size % set_bytes || !is_pow2(c->size / set_bytes)) {
        err_set("size %llu is not a power-of-two number of sets of assoc %u x line_size %u bytes",
                (unsigned long long)c->size, c->assoc, c->line_size);
        return -1;
    }
    if (c->cachegrind && c->replacement != CACHE_REPL_LRU) {
        err_set("cachegrind mode uses LRU replacement; replacement=random contradicts it");
        return -1;
    }
    if (c->cachegrind && (c->write_policy != CACHE_WRITE_BACK || !c->write_allocate)) {
        err_set("cachegrind mode allocates on writes and counts no write traffic; "
                "leave write_policy and write_allocate at their defaults");
        return -1;
    }
    if (c->next_level_obj) {
        /* A loop in the hierarchy would recurse forever on a miss. */
        struct sim_object *n = c->next_level_obj;
        for (unsigned depth = 0; n; depth++) {
            if (n == o || depth > 64) {
                err_set("next_level chain from %s loops back to it", o->path);
                return -1;
            }
            if (strcmp(n->type->name, "Cache"))
                break;
            n = SIM_CAST(struct cache, n)->next_level_obj;
        }
        c->next = cache_level_of(c->next_level_obj);
        if (!c->next)
            return -1;
    }
    cache_level_of(o);
    c->nsets = (uint32_t)(c->size / set_bytes);
    c->line_shift = (unsigned)__builtin_ctz(c->line_size);
    c->set_mask = c->nsets - 1;
    c->write_hit_inline = c->cachegrind || c->write_policy == CACHE_WRITE_BACK;
    c->write_makes_dirty = !c->cachegrind && c->write_policy == CACHE_WRITE_BACK;
    size_t n = (size_t)c->nsets * c->assoc;
    c->ways = malloc(n * sizeof(*c->ways));
    if (!c->ways) {
        err_set("cannot allocate %zu tag entries", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        c->ways[i] = CACHE_INVALID;
    /* xorshift must not start at zero. */
    c->rng = c->seed ? c->seed : 0x9E3779B97F4A7C15ULL;

    stats_add_counter(o, "readAccesses", &c->read_accesses, "count", "Read (and fetch) accesses");
    stats_add_counter(o, "writeAccesses", &c->write_accesses, "count", "Write accesses");
    stats_add_counter(o, "readMisses", &c->read_misses, "count", "Read accesses that missed");
    stats_add_counter(o, "writeMisses", &c->write_misses, "count", "Write accesses that missed");
    stats_add_counter(o, "writebacks", &c->writebacks, "count",
                      "Dirty lines written back to the next level");
    stats_add_counter(o, "fills", &c->fills, "count", "Lines fetched from the next level");
    stats_add_counter(o, "writeThroughs", &c->write_throughs, "count",
                      "Writes passed on to the next level (write-through or no-allocate)");
    stats_add_formula(o, "accesses", stat_accesses, "count", "All accesses");
    stats_add_formula(o, "hits", stat_hits, "count", "Accesses that hit");
    stats_add_formula(o, "misses", stat_misses, "count", "Accesses that missed (at most one each)");
    stats_add_formula(o, "missRate", stat_miss_rate, "ratio", "misses / accesses");
    stats_add_formula(o, "mpki", stat_mpki, "count",
                      "Misses per 1000 instructions (the CPU's counter, else all CPUs')");
    return 0;
}

static void cache_destroy(struct sim_object *o)
{
    free(SIM_CAST(struct cache, o)->ways);
}

static void cache_serialize(struct sim_object *o, struct ser_node *n)
{
    struct cache *c = SIM_CAST(struct cache, o);
    SER_PUT(n, c, nsets);
    SER_PUT(n, c, assoc);
    SER_PUT(n, c, line_size);
    size_t count = (size_t)c->nsets * c->assoc;
    uint64_t *be = malloc(count * sizeof(*be));
    if (!be)
        fatal("%s: out of memory serializing %zu tag entries", o->path, count);
    for (size_t i = 0; i < count; i++)
        be[i] = htobe64(c->ways[i]);
    ser_put_bytes(n, "ways", be, count * sizeof(*be));
    free(be);
    SER_PUT(n, c, rng);
    SER_PUT(n, c, read_accesses);
    SER_PUT(n, c, write_accesses);
    SER_PUT(n, c, read_misses);
    SER_PUT(n, c, write_misses);
    SER_PUT(n, c, writebacks);
    SER_PUT(n, c, fills);
    SER_PUT(n, c, write_throughs);
}

/* Whether a checkpointed tag array of `entries` ways holds no line. */
static bool checkpoint_cache_empty(const struct ser_node *n, uint64_t entries)
{
    const struct ser_prop *p = ser_find_prop(n, "ways");
    if (!p || p->len != entries * sizeof(uint64_t))
        return false;
    for (uint64_t i = 0; i < entries; i++) {
        uint64_t be;
        memcpy(&be, p->data + i * sizeof(be), sizeof(be));
        if (be64toh(be) != CACHE_INVALID)
            return false;
    }
    return true;
}

static int cache_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct cache *c = SIM_CAST(struct cache, o);
    uint64_t nsets, assoc, line_size;
    if (ser_get_u64(n, "nsets", &nsets) < 0 || ser_get_u64(n, "assoc", &assoc) < 0 ||
        ser_get_u64(n, "line_size", &line_size) < 0)
        return -1;
    size_t count = (size_t)c->nsets * c->assoc;
    if (nsets != c->nsets || assoc != c->assoc || line_size != c->line_size) {
        /* A cold (empty) cache carries no state its geometry matters to:
         * it restores into any geometry, cold. A warm one cannot. */
        if (!checkpoint_cache_empty(n, nsets * assoc)) {
            err_set("%s: checkpoint cache has %llu sets x %llu ways x %llu-byte lines, "
                    "this one %u x %u x %u (only an empty cache restores into another geometry)",
                    o->path, (unsigned long long)nsets, (unsigned long long)assoc,
                    (unsigned long long)line_size, c->nsets, c->assoc, c->line_size);
            return -1;
        }
        for (size_t i = 0; i < count; i++)
            c->ways[i] = CACHE_INVALID;
    } else if (ser_get_bytes(n, "ways", c->ways, count * sizeof(*c->ways)) < 0) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        c->ways[i] = be64toh(c->ways[i]);
        if (c->ways[i] != CACHE_INVALID && (c->ways[i] >> 1 & c->set_mask) != i / c->assoc) {
            err_set("%s: checkpoint line %zu holds a block of another set", o->path, i);
            return -1;
        }
    }
    if (SER_GET(n, c, rng) < 0 || SER_GET(n, c, read_accesses) < 0 ||
        SER_GET(n, c, write_accesses) < 0 || SER_GET(n, c, read_misses) < 0 ||
        SER_GET(n, c, write_misses) < 0 || SER_GET(n, c, writebacks) < 0 ||
        SER_GET(n, c, fills) < 0 || SER_GET(n, c, write_throughs) < 0)
        return -1;
    if (c->rng == 0) {
        err_set("%s: checkpoint random-replacement state is zero", o->path);
        return -1;
    }
    return 0;
}

static const char *const replacement_choices[] = {"lru", "random", NULL};
static const char *const write_policy_choices[] = {"writeback", "writethrough", NULL};

static const struct param_desc cache_params[] = {
    PARAM_UINT_(struct cache, size, "32k", 4, 1LL << 36, "byte", "Capacity"),
    PARAM_UINT_(struct cache, assoc, "8", 1, CACHE_MAX_ASSOC, "count", "Ways per set"),
    PARAM_UINT_(struct cache, line_size, "64", 4, 1 << 16, "byte", "Line size (power of two)"),
    PARAM_ENUM_(struct cache, replacement, "lru", replacement_choices,
                "Victim choice: least recently used, or random (seeded by seed)"),
    PARAM_UINT_(struct cache, seed, "1", 0, -1, "", "Seed of random replacement's generator"),
    PARAM_ENUM_(struct cache, write_policy, "writeback", write_policy_choices,
                "writeback: dirty lines are written on eviction; writethrough: every write "
                "goes on to the next level"),
    PARAM_BOOL_(struct cache, write_allocate, "true",
                "A write miss fetches the line (else the write goes around the cache)"),
    PARAM_BOOL_(struct cache, cachegrind, "false",
                "cachegrind's model: no write-backs, read-modify-write counts as a read, the "
                "next level sees the original access once per miss"),
    PARAM_UINT_(struct cache, hit_latency, "4", 0, 1 << 20, "cycle", "Latency of a hit"),
    {"next_level", PARAM_OBJECT, PARAM_FIELD_(struct cache, next_level_obj), "", 1, 0, NULL, NULL,
     "", "The level below (a Cache or DRAM); none: a miss costs miss_latency"},
    PARAM_UINT_(struct cache, miss_latency, "100", 0, 1 << 24, "cycle",
                "Extra latency of a miss when there is no next_level"),
    PARAM_END,
};

static struct sim_type cache_type = {
    .name = "Cache",
    .help = "Set-associative blocking cache timing model (tags only, no data)",
    .size = sizeof(struct cache),
    .params = cache_params,
    .ops = {.init = cache_init, .serialize = cache_serialize, .unserialize = cache_unserialize,
            .destroy = cache_destroy},
};
SIM_TYPE_REGISTER(cache_type);
