/* Checkpoints (DESIGN.md "Checkpoints"): a directory holding
 *   tree.dtb      the object tree as a flattened device tree (libfdt): a node
 *                 per sim object, a property per field; `dtc -I dtb -O dts`
 *                 shows it. The root carries the format version, the tick,
 *                 and the memory manifest (file names, sizes, CRC-32s).
 *   mem-R-C.zpg   guest RAM region R, chunk C: page-granular, zero pages
 *                 skipped, zlib-compressed; chunks compress in parallel.
 *   config.json   the configuration that took it.
 * Writing goes to a temporary directory renamed into place, so a failure
 * never leaves a partial checkpoint. Reading validates everything it can
 * before the machine changes; a failure part-way through RAM ends the run. */
#ifndef TANDEM_CHECKPOINT_CHECKPOINT_H
#define TANDEM_CHECKPOINT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

struct simulation;
struct ser_node;

#define CHECKPOINT_FORMAT_VERSION 1
#define CHECKPOINT_CHUNK_BYTES (64ULL << 20)

/* Drains the machine and writes a checkpoint to dir (which must not exist).
 * 0, or -1 with err_set(). */
int checkpoint_save(struct simulation *sim, const char *dir);
/* Restores an instantiated machine from dir. 0, or -1 with err_set(). After
 * a failure that already touched guest RAM the simulation is marked to exit
 * with an error so a half-restored machine never runs. */
int checkpoint_restore(struct simulation *sim, const char *dir);
/* Prints a summary of the checkpoint at dir to stdout. 0 or -1. */
int checkpoint_info(const char *dir);

/* The tree <-> flattened device tree conversion (exposed for tests and the
 * fuzzer). ser_to_fdt returns a malloc'd blob; fdt_to_ser validates it. */
void *ser_to_fdt(const struct ser_node *root, size_t *len);
struct ser_node *fdt_to_ser(const void *blob, size_t len);

/* One memory chunk file: encode pages [0, len) of mem, decode into mem.
 * Exposed for tests and the fuzzer. */
int memfile_write(const char *path, const uint8_t *mem, uint64_t len, uint32_t *crc_out);
int memfile_read(const char *path, uint8_t *mem, uint64_t len, uint32_t expect_crc);
int memfile_decode(const uint8_t *data, size_t size, uint8_t *mem, uint64_t len,
                   const char *name);

#endif
