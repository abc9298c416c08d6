/* TLB timing model (docs/timing.md): hit/miss accounting for a
 * set-associative TLB holding 4 KiB, 2 MiB and 1 GiB translations in one
 * array, LRU (move-to-front) within a set. It decides timing only: the
 * functional translation stays with the interpreter's MMU, which tells the
 * model the page size of each translation it used. A miss costs a fixed
 * walk_latency (cycles); an engine that wants page-walk loads to go through
 * the data cache instead sets walk_latency to 0 and charges its PTE reads
 * with cache_access itself. */
#ifndef TANDEM_CPU_TLB_MODEL_H
#define TANDEM_CPU_TLB_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/object.h"

enum tlb_page_size { TLB_PAGE_4K, TLB_PAGE_2M, TLB_PAGE_1G, TLB_NPAGE_SIZES };

struct tlb_model {
    struct sim_object obj;
    /* params */
    uint32_t entries;
    uint32_t assoc; /* 0: fully associative */
    uint32_t hit_latency;
    uint32_t walk_latency;

    uint32_t nsets, ways;
    uint64_t set_mask;
    /* Per set, ways entries in recency order: the virtual page number
     * (vaddr >> page shift) << 2 | page size; TLB_INVALID marks an empty
     * way. */
    uint64_t *slots;
    const uint64_t *insts; /* MPKI's instruction count; NULL: the simulation's */

    /* stats, per page size */
    uint64_t hits[TLB_NPAGE_SIZES], misses[TLB_NPAGE_SIZES];
    uint64_t flushes;
};

#define TLB_INVALID UINT64_MAX

uint64_t tlb_model_access_slow(struct tlb_model *t, uint64_t vaddr, enum tlb_page_size size);

/* Looks up the translation of vaddr in a page of the given size, filling
 * it on a miss; returns the latency in cycles (hit_latency, or
 * hit_latency + walk_latency on a miss). Inline for a hit on the most
 * recent way of its set (nothing moves), the common case of an
 * interpreter charging every fetch and data access. */
static inline uint64_t tlb_model_access(struct tlb_model *t, uint64_t vaddr, enum tlb_page_size size)
{
    uint64_t vpn = vaddr >> (12 + 9 * (unsigned)size);
    if (t->slots[(vpn & t->set_mask) * t->ways] == (vpn << 2 | (uint64_t)size)) {
        t->hits[size]++;
        return t->hit_latency;
    }
    return tlb_model_access_slow(t, vaddr, size);
}
/* Whether the translation is present (no state change). */
bool tlb_model_probe(const struct tlb_model *t, uint64_t vaddr, enum tlb_page_size size);
/* Drops every entry (CR3 write without PCID, INVLPG of a large range). */
void tlb_model_flush(struct tlb_model *t);
/* Drops the entries of any size that map vaddr (INVLPG). */
void tlb_model_flush_page(struct tlb_model *t, uint64_t vaddr);
void tlb_model_set_inst_counter(struct tlb_model *t, const uint64_t *insts);

static inline uint64_t tlb_model_misses(const struct tlb_model *t)
{
    return t->misses[0] + t->misses[1] + t->misses[2];
}

#endif
