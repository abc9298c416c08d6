/* Fuzz target for the checkpoint readers. The first input byte picks:
 *   bit 0 clear  the object-tree reader (then a restore of what parses)
 *   bit 0 set    the memory-chunk decoder, on a 2-block region; with bit 1
 *                set the header CRC-32 is first made to match, so mutations
 *                reach the index checks and the block decoder rather than
 *                stopping at the checksum.
 * Built as a libFuzzer binary with -DTANDEM_FUZZ=ON (clang), and always as a
 * corpus replayer run by ctest so every saved input stays a regression test.
 * The replayer's `--seeds DIR` writes starting inputs (valid chunk files of
 * every block kind, and a valid tree). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint/checkpoint.h"
#include "sim/serialize.h"
#include "sim/sim.h"

#define FUZZ_PAGES (2 * MEMFILE_BLOCK_PAGES)
#define HEADER_BYTES 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rewrites the header CRC-32 of a chunk file held in buf (if its geometry
 * fields give a metadata length inside it). */
static void fix_crc(uint8_t *buf, size_t size)
{
    if (size < HEADER_BYTES + 4)
        return;
    uint64_t pages;
    uint32_t nblocks;
    memcpy(&pages, buf + 16, 8);
    memcpy(&nblocks, buf + 28, 4);
    if (pages > FUZZ_PAGES || nblocks > FUZZ_PAGES)
        return;
    size_t meta = HEADER_BYTES + (size_t)(pages + 7) / 8 + (size_t)nblocks * 16 + 4;
    if (meta > size)
        return;
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(meta - 4));
    memcpy(buf + meta - 4, &crc, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* A malloc'd copy: libfdt refuses blobs that are not 8-byte aligned, as
     * data + 1 is (the readers get theirs from read_whole_file). */
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if ((data[0] & 1) == 0) {
        struct ser_node *root = fdt_to_ser(copy, size - 1);
        if (root) {
            /* A tree that parses must also be safe to restore from. */
            struct simulation sim;
            sim_init(&sim);
            sim_create(&sim, "System", "system");
            sim.instantiated = false;
            if (sim_instantiate(&sim) == 0)
                sim_unserialize(&sim, root);
            sim_destroy(&sim);
            ser_node_free(root);
        }
    } else {
        static uint8_t mem[FUZZ_PAGES * MEMFILE_PAGE];
        if (data[0] & 2)
            fix_crc(copy, size - 1);
        memfile_decode(copy, size - 1, mem, sizeof(mem), "fuzz");
    }
    free(copy);
    return 0;
}

#ifndef TANDEM_LIBFUZZER
#include "sim/util.h"

static int write_seed(const char *dir, const char *name, uint8_t kind, const void *body,
                      size_t len)
{
    char *path = path_join(dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(&kind, 1, 1, f) == 1 && fwrite(body, len, 1, f) == 1;
    ok = f && fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "cannot write %s\n", path);
    free(path);
    return ok ? 0 : 1;
}

/* Chunk files of a region with a compressible block and a random (raw) one,
 * zero pages in both, and the tree of a bare System. */
static int write_seeds(const char *dir)
{
    static uint8_t mem[FUZZ_PAGES * MEMFILE_PAGE];
    uint32_t seed = 1;
    for (uint64_t p = 0; p < FUZZ_PAGES; p++) {
        if (p < MEMFILE_BLOCK_PAGES ? p % 5 == 4 : p % 16 != 0)
            continue; /* zero pages; few random ones keep the seed small */
        for (uint64_t i = 0; i < MEMFILE_PAGE; i++) {
            seed = seed * 1103515245 + 12345;
            mem[p * MEMFILE_PAGE + i] = p < MEMFILE_BLOCK_PAGES ? (uint8_t)(i % 7 + p)
                                                                : (uint8_t)(seed >> 16);
        }
    }
    char *path = path_join(dir, ".seed.zpg");
    uint32_t crc;
    int rc = 0;
    if (memfile_write(path, mem, sizeof(mem), &crc) < 0) {
        fprintf(stderr, "%s\n", err_get());
        free(path);
        return 1;
    }
    size_t len;
    uint8_t *file = read_whole_file(path, &len);
    remove(path);
    free(path);
    rc |= write_seed(dir, "seed-memfile", 1, file, len);
    rc |= write_seed(dir, "seed-memfile-fixcrc", 3, file, len);
    free(file);

    struct simulation sim;
    sim_init(&sim);
    sim_create(&sim, "System", "system");
    if (sim_instantiate(&sim) == 0) {
        struct ser_node *root = sim_serialize(&sim);
        void *blob = ser_to_fdt(root, &len);
        rc |= write_seed(dir, "seed-tree", 0, blob, len);
        free(blob);
        ser_node_free(root);
    }
    sim_destroy(&sim);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
        return write_seeds(argv[2]);
    for (int i = 1; i < argc; i++) {
        size_t len;
        uint8_t *d = read_whole_file(argv[i], &len);
        if (!d) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(d, len);
        free(d);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
#endif
