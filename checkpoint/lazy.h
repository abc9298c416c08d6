/* Lazy restore of guest RAM (docs/checkpoint.md): the RAM regions are
 * emptied and registered with userfaultfd; a loader thread decodes the
 * checkpoint's blocks in the background and, first, any block a guest access
 * (interpreter, KVM, device or Lua) is waiting for. The machine runs as soon
 * as the loader starts. */
#ifndef TANDEM_CHECKPOINT_LAZY_H
#define TANDEM_CHECKPOINT_LAZY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint/memfile.h"

/* One parsed chunk file and where it goes. The loader takes ownership of the
 * mapping (data, size) and path. */
struct lazy_chunk {
    struct memfile m;
    const uint8_t *data;
    size_t size;
    char *path;
    uint8_t *host; /* the chunk's first byte of guest RAM */
    uint64_t gpa;
};

struct lazy_stats {
    double seconds;          /* from lazy_start until every block was in place */
    uint64_t blocks;         /* blocks with stored pages */
    uint64_t blocks_on_fault; /* of them, loaded because an access waited */
    uint64_t zero_blocks_on_fault;
};

/* True when this process may use userfaultfd (checked once). */
bool lazy_available(void);
/* Empties and registers the regions [host[i], host[i] + size[i]), then starts
 * the loader over chunks (taking them over, and the array). 0, or -1 with
 * err_set(): the regions may have been emptied (all zero), and the caller
 * loads them eagerly instead. */
int lazy_start(const char *dir, uint8_t *const *host, const uint64_t *size, unsigned nregions,
               struct lazy_chunk *chunks, size_t nchunks);
/* Waits for the loader in progress (if any) to finish and frees it. 0, or -1
 * with err_set() when a block failed to decode; *stats (optional) gets the
 * finished load's figures. Safe to call with no load in progress (0, and
 * stats of the last load or zeros). */
int lazy_wait(struct lazy_stats *stats);

#endif
