/* Checkpoints (DESIGN.md "Checkpoints"): a directory holding
 *   tree.dtb      the object tree as a flattened device tree (libfdt): a node
 *                 per sim object, a property per field; `dtc -I dtb -O dts`
 *                 shows it. The root carries the format version, the tick,
 *                 and the memory manifest (file names, sizes, CRC-32s).
 *   mem-R-C.zpg   guest RAM region R, chunk C: page-granular, zero pages
 *                 skipped, zlib-compressed in independent 256 KiB blocks
 *                 (memfile.h); chunks compress in parallel, and restores
 *                 load blocks lazily (lazy.h) or in parallel.
 *   config.json   the configuration that took it.
 * Writing goes to a temporary directory renamed into place, so a failure
 * never leaves a partial checkpoint. Reading validates everything but the
 * block contents before the machine changes; a block that fails to decode
 * ends the run (eager) or stops it with the file and offset named (lazy). */
#ifndef TANDEM_CHECKPOINT_CHECKPOINT_H
#define TANDEM_CHECKPOINT_CHECKPOINT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "checkpoint/memfile.h"

struct simulation;
struct ser_node;

#define CHECKPOINT_FORMAT_VERSION 2
#define CHECKPOINT_CHUNK_BYTES (16ULL << 20) /* a unit of work for one thread */

/* Drains the machine and writes a checkpoint to dir (which must not exist).
 * 0, or -1 with err_set(). */
int checkpoint_save(struct simulation *sim, const char *dir);
/* Restores an instantiated machine from dir. 0, or -1 with err_set(). After
 * a failure that already touched guest RAM the simulation is marked to exit
 * with an error so a half-restored machine never runs. */
int checkpoint_restore(struct simulation *sim, const char *dir);
/* The same with the RAM loading chosen: lazy (userfaultfd; docs/checkpoint.md:
 * the machine runs at once, blocks load in the background or on first touch;
 * falls back to eager when userfaultfd is unavailable) or eager (decoded by
 * one thread per core before returning). checkpoint_restore is lazy where it
 * can be. */
int checkpoint_restore_mode(struct simulation *sim, const char *dir, bool lazy);
/* Waits until a lazy restore has loaded all guest RAM. 0, or -1 with
 * err_set() naming the file and block that failed to decode. */
int checkpoint_wait(void);
/* Prints a summary of the checkpoint at dir to stdout. 0 or -1. */
int checkpoint_info(const char *dir);

/* The tree <-> flattened device tree conversion (exposed for tests and the
 * fuzzer). ser_to_fdt returns a malloc'd blob; fdt_to_ser validates it. */
void *ser_to_fdt(const struct ser_node *root, size_t *len);
struct ser_node *fdt_to_ser(const void *blob, size_t len);

#endif
