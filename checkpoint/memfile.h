/* Guest-memory chunk files (format 2, memfile.c): a page bitmap, a block
 * index, and one zlib stream per block of MEMFILE_BLOCK_PAGES pages so
 * blocks decode independently (in parallel, or lazily on a guest access). */
#ifndef TANDEM_CHECKPOINT_MEMFILE_H
#define TANDEM_CHECKPOINT_MEMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMFILE_PAGE 4096ULL
#define MEMFILE_BLOCK_PAGES 64u /* 256 KiB of guest memory per stream */

/* A parsed chunk file: pointers into the caller's copy of the file. */
struct memfile {
    const char *name;
    const uint8_t *data;
    size_t size;
    uint64_t len, pages;
    uint32_t block_pages, nblocks;
    const uint8_t *bitmap, *index;
    size_t meta_len;
    uint32_t crc; /* of the header, bitmap and index: the manifest records it */
    uint64_t stored_pages;
};

/* Encodes pages [0, len) of mem into a new file; *crc_out gets its header
 * checksum. 0 or -1 (err_set). */
int memfile_write(const char *path, const uint8_t *mem, uint64_t len, uint32_t *crc_out);
/* Checks everything but the block contents (magic, sizes, header checksum,
 * index against bitmap and file size) of a file for a region of len bytes.
 * 0 or -1 with err_set() naming `name`. */
int memfile_parse(struct memfile *m, const uint8_t *data, size_t size, uint64_t len,
                  const char *name);
uint32_t memfile_block_stored(const struct memfile *m, uint32_t block);
uint64_t memfile_block_offset(const struct memfile *m, uint32_t block);
/* Decodes block `block` (zero pages included) into out, which holds its
 * pages: a scratch buffer, or (in_ram) the guest RAM itself, where zero
 * pages are cleared only if they are not zero already. 0, or -1 with
 * err_set() naming the file, block, file offset and chunk offset; out may
 * then hold part of the block. */
int memfile_decode_block(const struct memfile *m, uint32_t block, uint8_t *out, bool in_ram);
/* Parses and decodes a whole file into mem (len bytes). */
int memfile_decode(const uint8_t *data, size_t size, uint8_t *mem, uint64_t len,
                   const char *name);
/* Maps a file read-only (no copy): 0 or -1 (err_set). */
int memfile_map(const char *path, const uint8_t **data, size_t *size);
void memfile_unmap(const uint8_t *data, size_t size);
/* memfile_map + parse + header checksum against expect_crc + decode. */
int memfile_read(const char *path, uint8_t *mem, uint64_t len, uint32_t expect_crc);

#endif
