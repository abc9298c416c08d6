/* TLB timing model; see cpu/tlb_model.h and docs/timing.md. */
#include "cpu/tlb_model.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

static const unsigned page_shift[TLB_NPAGE_SIZES] = {12, 21, 30};
static const char *const page_names[TLB_NPAGE_SIZES] = {"4k", "2m", "1g"};

static inline uint64_t *set_of(const struct tlb_model *t, uint64_t vpn)
{
    return t->slots + (vpn & t->set_mask) * t->ways;
}

static inline uint64_t key_of(uint64_t vaddr, enum tlb_page_size size, uint64_t *vpn)
{
    *vpn = vaddr >> page_shift[size];
    return *vpn << 2 | (uint64_t)size;
}

uint64_t tlb_model_access_slow(struct tlb_model *t, uint64_t vaddr, enum tlb_page_size size)
{
    uint64_t vpn, key = key_of(vaddr, size, &vpn);
    uint64_t *set = set_of(t, vpn);
    for (unsigned i = 0; i < t->ways; i++) {
        if (set[i] == key) {
            memmove(set + 1, set, i * sizeof(*set));
            set[0] = key;
            t->hits[size]++;
            return t->hit_latency;
        }
    }
    /* Entries enter at the front, so the last way is the LRU one (or empty). */
    memmove(set + 1, set, (t->ways - 1) * sizeof(*set));
    set[0] = key;
    t->misses[size]++;
    return (uint64_t)t->hit_latency + t->walk_latency;
}

bool tlb_model_probe(const struct tlb_model *t, uint64_t vaddr, enum tlb_page_size size)
{
    uint64_t vpn, key = key_of(vaddr, size, &vpn);
    const uint64_t *set = set_of(t, vpn);
    for (unsigned i = 0; i < t->ways; i++)
        if (set[i] == key)
            return true;
    return false;
}

void tlb_model_flush(struct tlb_model *t)
{
    for (size_t i = 0; i < (size_t)t->nsets * t->ways; i++)
        t->slots[i] = TLB_INVALID;
    t->flushes++;
}

void tlb_model_flush_page(struct tlb_model *t, uint64_t vaddr)
{
    for (int s = 0; s < TLB_NPAGE_SIZES; s++) {
        uint64_t vpn, key = key_of(vaddr, (enum tlb_page_size)s, &vpn);
        uint64_t *set = set_of(t, vpn);
        for (unsigned i = 0; i < t->ways; i++) {
            if (set[i] == key) {
                /* Close the gap so empty ways stay at the end. */
                memmove(set + i, set + i + 1, (t->ways - 1 - i) * sizeof(*set));
                set[t->ways - 1] = TLB_INVALID;
                break;
            }
        }
    }
}

void tlb_model_set_inst_counter(struct tlb_model *t, const uint64_t *insts)
{
    t->insts = insts;
}

static double stat_hits(const struct sim_object *o)
{
    const struct tlb_model *t = (const struct tlb_model *)o;
    return (double)(t->hits[0] + t->hits[1] + t->hits[2]);
}

static double stat_misses(const struct sim_object *o)
{
    return (double)tlb_model_misses((const struct tlb_model *)o);
}

static double stat_miss_rate(const struct sim_object *o)
{
    double h = stat_hits(o), m = stat_misses(o);
    return h + m > 0 ? m / (h + m) : 0.0;
}

static double stat_mpki(const struct sim_object *o)
{
    const struct tlb_model *t = (const struct tlb_model *)o;
    uint64_t insts = t->insts ? *t->insts : sim_total_insts(o->sim);
    return insts ? stat_misses(o) * 1000.0 / (double)insts : 0.0;
}

static int tlb_init(struct sim_object *o)
{
    struct tlb_model *t = SIM_CAST(struct tlb_model, o);
    t->ways = t->assoc ? t->assoc : t->entries;
    if (t->entries % t->ways) {
        err_set("entries (%u) is not a multiple of assoc (%u)", t->entries, t->assoc);
        return -1;
    }
    t->nsets = t->entries / t->ways;
    if (t->nsets & (t->nsets - 1)) {
        err_set("entries / assoc = %u sets; the set count must be a power of two", t->nsets);
        return -1;
    }
    t->set_mask = t->nsets - 1;
    t->slots = malloc((size_t)t->entries * sizeof(*t->slots));
    if (!t->slots) {
        err_set("cannot allocate %u TLB entries", t->entries);
        return -1;
    }
    for (size_t i = 0; i < t->entries; i++)
        t->slots[i] = TLB_INVALID;
    /* The registry keeps description pointers: they must be static. */
    static const char *const hit_desc[TLB_NPAGE_SIZES] = {
        "Lookups of 4k pages that hit", "Lookups of 2m pages that hit",
        "Lookups of 1g pages that hit"};
    static const char *const miss_desc[TLB_NPAGE_SIZES] = {
        "Lookups of 4k pages that missed (page walks)",
        "Lookups of 2m pages that missed (page walks)",
        "Lookups of 1g pages that missed (page walks)"};
    for (int s = 0; s < TLB_NPAGE_SIZES; s++) {
        char name[32];
        snprintf(name, sizeof(name), "hits%s", page_names[s]);
        stats_add_counter(o, name, &t->hits[s], "count", hit_desc[s]);
        snprintf(name, sizeof(name), "misses%s", page_names[s]);
        stats_add_counter(o, name, &t->misses[s], "count", miss_desc[s]);
    }
    stats_add_counter(o, "flushes", &t->flushes, "count", "Whole-TLB flushes");
    stats_add_formula(o, "hits", stat_hits, "count", "Lookups that hit");
    stats_add_formula(o, "misses", stat_misses, "count", "Lookups that missed");
    stats_add_formula(o, "missRate", stat_miss_rate, "ratio", "misses / lookups");
    stats_add_formula(o, "mpki", stat_mpki, "count", "Misses per 1000 instructions");
    return 0;
}

static void tlb_destroy(struct sim_object *o)
{
    free(SIM_CAST(struct tlb_model, o)->slots);
}

static void tlb_serialize(struct sim_object *o, struct ser_node *n)
{
    struct tlb_model *t = SIM_CAST(struct tlb_model, o);
    SER_PUT(n, t, entries);
    SER_PUT(n, t, ways);
    uint64_t *be = malloc((size_t)t->entries * sizeof(*be));
    if (!be)
        fatal("%s: out of memory serializing the TLB", o->path);
    for (size_t i = 0; i < t->entries; i++)
        be[i] = htobe64(t->slots[i]);
    ser_put_bytes(n, "slots", be, (size_t)t->entries * sizeof(*be));
    free(be);
    for (int s = 0; s < TLB_NPAGE_SIZES; s++) {
        char key[32];
        snprintf(key, sizeof(key), "hits_%s", page_names[s]);
        ser_put_u64(n, key, t->hits[s]);
        snprintf(key, sizeof(key), "misses_%s", page_names[s]);
        ser_put_u64(n, key, t->misses[s]);
    }
    SER_PUT(n, t, flushes);
}

static int tlb_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct tlb_model *t = SIM_CAST(struct tlb_model, o);
    uint64_t entries, ways;
    if (ser_get_u64(n, "entries", &entries) < 0 || ser_get_u64(n, "ways", &ways) < 0)
        return -1;
    if (entries != t->entries || ways != t->ways) {
        err_set("%s: checkpoint TLB has %llu entries x %llu ways, this one %u x %u", o->path,
                (unsigned long long)entries, (unsigned long long)ways, t->entries, t->ways);
        return -1;
    }
    if (ser_get_bytes(n, "slots", t->slots, (size_t)t->entries * sizeof(*t->slots)) < 0)
        return -1;
    for (size_t i = 0; i < t->entries; i++) {
        uint64_t e = t->slots[i] = be64toh(t->slots[i]);
        if (e != TLB_INVALID && ((e & 3) >= TLB_NPAGE_SIZES || ((e >> 2) & t->set_mask) != i / t->ways)) {
            err_set("%s: checkpoint TLB entry %zu is malformed", o->path, i);
            return -1;
        }
    }
    for (int s = 0; s < TLB_NPAGE_SIZES; s++) {
        char key[32];
        snprintf(key, sizeof(key), "hits_%s", page_names[s]);
        if (ser_get_u64(n, key, &t->hits[s]) < 0)
            return -1;
        snprintf(key, sizeof(key), "misses_%s", page_names[s]);
        if (ser_get_u64(n, key, &t->misses[s]) < 0)
            return -1;
    }
    return SER_GET(n, t, flushes);
}

static const struct param_desc tlb_params[] = {
    PARAM_UINT_(struct tlb_model, entries, "64", 1, 1 << 20, "count", "Translations held"),
    PARAM_UINT_(struct tlb_model, assoc, "4", 0, 1 << 20, "count",
                "Ways per set (0: fully associative)"),
    PARAM_UINT_(struct tlb_model, hit_latency, "0", 0, 1 << 20, "cycle",
                "Latency of a hit (0: hidden in the pipeline)"),
    PARAM_UINT_(struct tlb_model, walk_latency, "30", 0, 1 << 24, "cycle",
                "Extra latency of a miss (a page walk)"),
    PARAM_END,
};

static struct sim_type tlb_type = {
    .name = "TLB",
    .help = "TLB timing model: 4K/2M/1G translations, set-associative, LRU, fixed walk cost",
    .size = sizeof(struct tlb_model),
    .params = tlb_params,
    .ops = {.init = tlb_init, .serialize = tlb_serialize, .unserialize = tlb_unserialize,
            .destroy = tlb_destroy},
};
SIM_TYPE_REGISTER(tlb_type);
