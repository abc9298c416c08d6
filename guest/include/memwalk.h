/* A memory-bound workload shared by the bare-metal program
 * guest/tests/memwalk.c and its native twin bench/bench_memwalk.c (the
 * cycle-accounting benchmark, bench/interp-timing): a pointer chase through
 * a single random cycle of 64-byte nodes and a sequential pass with a
 * data-dependent branch, over MEMWALK_BYTES. Freestanding: no library
 * calls, integer only. */
#ifndef TANDEM_GUEST_MEMWALK_H
#define TANDEM_GUEST_MEMWALK_H

#include <stdint.h>

#define MEMWALK_BYTES (128u * 1024u)
#define MEMWALK_NODES (MEMWALK_BYTES / 64u)

struct memwalk_node {
    uint32_t next;
    uint32_t value;
    uint64_t pad[7];
};

/* Links the nodes into one cycle through all of them (Sattolo's shuffle
 * driven by a fixed LCG), so the chase visits every node once per lap. */
static inline void memwalk_init(struct memwalk_node *nodes)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < MEMWALK_NODES; i++) {
        nodes[i].next = i;
        nodes[i].value = i * 2654435761u;
    }
    for (uint32_t i = MEMWALK_NODES - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((seed >> 33) % i);
        uint32_t t = nodes[i].next;
        nodes[i].next = nodes[j].next;
        nodes[j].next = t;
    }
}

/* One lap of the chase from node 0: the number of steps back to node 0
 * (MEMWALK_NODES when the cycle is whole) is stored in *lap. */
static inline uint64_t memwalk_round(struct memwalk_node *nodes, uint32_t *lap)
{
    /* Every round reads memory again: no compiler may fold rounds away. */
    __asm__ __volatile__("" : : : "memory");
    uint64_t sum = 0;
    uint32_t i = 0, steps = 0;
    do {
        sum += nodes[i].value;
        i = nodes[i].next;
        steps++;
    } while (i != 0);
    *lap = steps;
    const uint64_t *words = (const uint64_t *)nodes;
    for (uint32_t w = 0; w < MEMWALK_BYTES / 8; w++) {
        uint64_t v = words[w];
        if (v & 1)
            sum += v >> 3;
        else
            sum ^= v;
    }
    return sum;
}

#endif
