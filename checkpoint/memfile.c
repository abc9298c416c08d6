/* Guest-memory chunk files, format 2 (docs/checkpoint.md). Little-endian:
 *   header   magic "TDMPAGE2", u64 chunk length, u64 page count,
 *            u32 pages per block, u32 block count
 *   bitmap   1 bit per 4 KiB page: set = page stored (zero pages are not)
 *   index    per block: u64 file offset, u32 compressed size, u32 stored pages
 *   u32      CRC-32 of everything above
 *   blocks   per block with stored pages: one zlib stream of them, in order
 * Blocks are independent streams so a lazy restore can decode the one block
 * a guest access needs, and several threads can decode at once. Everything
 * but the block contents is checked by memfile_parse; a block's contents are
 * checked by zlib (format and Adler-32) when it is decoded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint/memfile.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/util.h"

static const char magic[8] = {'T', 'D', 'M', 'P', 'A', 'G', 'E', '2'};
#define HEADER_BYTES 32
#define INDEX_ENTRY_BYTES 16

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < MEMFILE_PAGE / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

static bool page_stored(const uint8_t *bitmap, uint64_t page)
{
    return bitmap[page / 8] & (1u << (page % 8));
}

/* Compresses the stored pages of one block; returns the stream length. */
static size_t deflate_block(z_stream *z, const uint8_t *mem, const uint8_t *bitmap,
                            uint64_t first, uint64_t npages, uint8_t **out, size_t *cap,
                            size_t used)
{
    deflateReset(z);
    for (uint64_t i = first; i <= first + npages; i++) {
        int last = i == first + npages;
        if (!last && !page_stored(bitmap, i))
            continue;
        z->next_in = last ? NULL : (Bytef *)(mem + i * MEMFILE_PAGE);
        z->avail_in = last ? 0 : (uInt)MEMFILE_PAGE;
        int rc;
        do {
            if (*cap - used < 65536) {
                *cap *= 2;
                *out = realloc(*out, *cap);
                if (!*out)
                    fatal("out of memory");
            }
            z->next_out = *out + used;
            z->avail_out = (uInt)(*cap - used);
            rc = deflate(z, last ? Z_FINISH : Z_NO_FLUSH);
            used = *cap - z->avail_out;
        } while (z->avail_in || (last && rc != Z_STREAM_END));
    }
    return used;
}

int memfile_write(const char *path, const uint8_t *mem, uint64_t len, uint32_t *crc_out)
{
    uint64_t pages = len / MEMFILE_PAGE;
    uint32_t nblocks = (uint32_t)((pages + MEMFILE_BLOCK_PAGES - 1) / MEMFILE_BLOCK_PAGES);
    size_t bitmap_len = (size_t)((pages + 7) / 8);
    size_t meta_len = HEADER_BYTES + bitmap_len + (size_t)nblocks * INDEX_ENTRY_BYTES + 4;
    uint8_t *meta = calloc(1, meta_len);
    uint8_t *bitmap = meta + HEADER_BYTES, *index = bitmap + bitmap_len;
    size_t cap = 1 << 20, used = 0;
    uint8_t *out = malloc(cap);
    z_stream z = {0};
    if (!meta || !out || deflateInit(&z, 1) != Z_OK)
        fatal("out of memory");
    memcpy(meta, magic, 8);
    uint64_t hdr[2] = {len, pages};
    uint32_t geometry[2] = {MEMFILE_BLOCK_PAGES, nblocks};
    memcpy(meta + 8, hdr, 16);
    memcpy(meta + 24, geometry, 8);
    for (uint32_t b = 0; b < nblocks; b++) {
        uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
        uint64_t n = pages - first < MEMFILE_BLOCK_PAGES ? pages - first : MEMFILE_BLOCK_PAGES;
        uint32_t stored = 0;
        for (uint64_t i = first; i < first + n; i++) {
            if (!page_is_zero(mem + i * MEMFILE_PAGE)) {
                bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
                stored++;
            }
        }
        size_t start = used;
        if (stored)
            used = deflate_block(&z, mem, bitmap, first, n, &out, &cap, used);
        uint64_t off = meta_len + start;
        uint32_t entry[2] = {(uint32_t)(used - start), stored};
        memcpy(index + (size_t)b * INDEX_ENTRY_BYTES, &off, 8);
        memcpy(index + (size_t)b * INDEX_ENTRY_BYTES + 8, entry, 8);
    }
    deflateEnd(&z);
    uint32_t crc = (uint32_t)crc32(0, meta, (uInt)(meta_len - 4));
    memcpy(meta + meta_len - 4, &crc, 4);
    errno = 0;
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    if (ok) {
        ok = fwrite(meta, meta_len, 1, f) == 1 && (used == 0 || fwrite(out, used, 1, f) == 1);
        ok = (fclose(f) == 0) && ok;
    }
    if (!ok)
        err_set("cannot write %s: %s", path, strerror(errno ? errno : EIO));
    free(out);
    free(meta);
    *crc_out = crc;
    return ok ? 0 : -1;
}

int memfile_parse(struct memfile *m, const uint8_t *data, size_t size, uint64_t len,
                  const char *name)
{
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->data = data;
    m->size = size;
    if (size < HEADER_BYTES + 4 || memcmp(data, magic, 8) != 0) {
        err_set("%s: not a tandem memory file of format 2 (bad magic or too short)", name);
        return -1;
    }
    m->len = get_u64(data + 8);
    m->pages = get_u64(data + 16);
    m->block_pages = get_u32(data + 24);
    m->nblocks = get_u32(data + 28);
    if (m->len != len || m->pages != len / MEMFILE_PAGE || len % MEMFILE_PAGE) {
        err_set("%s: holds %llu bytes, the machine's region needs %llu", name,
                (unsigned long long)m->len, (unsigned long long)len);
        return -1;
    }
    if (m->block_pages != MEMFILE_BLOCK_PAGES ||
        m->nblocks != (m->pages + MEMFILE_BLOCK_PAGES - 1) / MEMFILE_BLOCK_PAGES) {
        err_set("%s: block geometry %u blocks of %u pages does not fit %llu pages", name,
                m->nblocks, m->block_pages, (unsigned long long)m->pages);
        return -1;
    }
    size_t bitmap_len = (size_t)((m->pages + 7) / 8);
    m->meta_len = HEADER_BYTES + bitmap_len + (size_t)m->nblocks * INDEX_ENTRY_BYTES + 4;
    if (size < m->meta_len) {
        err_set("%s: truncated in its page bitmap or block index (%zu bytes, needs %zu)", name,
                size, m->meta_len);
        return -1;
    }
    m->bitmap = data + HEADER_BYTES;
    m->index = m->bitmap + bitmap_len;
    m->crc = get_u32(data + m->meta_len - 4);
    if ((uint32_t)crc32(0, data, (uInt)(m->meta_len - 4)) != m->crc) {
        err_set("%s: header checksum mismatch (bitmap or block index corrupted)", name);
        return -1;
    }
    uint64_t expect_off = m->meta_len;
    for (uint32_t b = 0; b < m->nblocks; b++) {
        uint64_t off = get_u64(m->index + (size_t)b * INDEX_ENTRY_BYTES);
        uint32_t zsize = get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 8);
        uint32_t stored = get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 12);
        uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES, count = 0;
        for (uint64_t i = first; i < first + MEMFILE_BLOCK_PAGES && i < m->pages; i++)
            count += page_stored(m->bitmap, i);
        if (off != expect_off || count != stored || (zsize == 0) != (stored == 0)) {
            err_set("%s: block %u index entry (offset %llu, %u bytes, %u pages) does not match "
                    "the file layout (offset %llu, %llu pages in the bitmap)", name, b,
                    (unsigned long long)off, zsize, stored, (unsigned long long)expect_off,
                    (unsigned long long)count);
            return -1;
        }
        expect_off += zsize;
        m->stored_pages += stored;
    }
    if (expect_off != size) {
        err_set("%s: %zu bytes, the block index accounts for %llu (%s)", name, size,
                (unsigned long long)expect_off, expect_off > size ? "truncated" : "trailing bytes");
        return -1;
    }
    return 0;
}

uint32_t memfile_block_stored(const struct memfile *m, uint32_t b)
{
    return get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 12);
}

uint64_t memfile_block_offset(const struct memfile *m, uint32_t b)
{
    return get_u64(m->index + (size_t)b * INDEX_ENTRY_BYTES);
}

int memfile_decode_block(const struct memfile *m, uint32_t b, uint8_t *out)
{
    uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
    uint64_t n = m->pages - first < MEMFILE_BLOCK_PAGES ? m->pages - first : MEMFILE_BLOCK_PAGES;
    uint64_t off = memfile_block_offset(m, b);
    uint32_t zsize = get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 8);
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        fatal("out of memory");
    z.next_in = (Bytef *)(m->data + off);
    z.avail_in = zsize;
    int rc = Z_OK;
    for (uint64_t i = first; i < first + n; i++) {
        uint8_t *page = out + (i - first) * MEMFILE_PAGE;
        if (!page_stored(m->bitmap, i)) {
            memset(page, 0, MEMFILE_PAGE);
            continue;
        }
        z.next_out = page;
        z.avail_out = (uInt)MEMFILE_PAGE;
        while (z.avail_out && rc == Z_OK)
            rc = inflate(&z, Z_NO_FLUSH);
        if (z.avail_out)
            break;
    }
    /* The stream must end exactly at the block's last stored page (Adler-32
     * checked) and use all of the block's bytes. */
    uint8_t extra;
    if (z.avail_out == 0) {
        z.next_out = &extra;
        z.avail_out = 1;
        if (rc == Z_OK)
            rc = inflate(&z, Z_FINISH);
    }
    bool ok = rc == Z_STREAM_END && z.avail_out == 1 && z.avail_in == 0;
    inflateEnd(&z);
    if (!ok) {
        err_set("%s: block %u (file offset %llu, %u bytes, guest pages from offset 0x%llx of the "
                "chunk) is corrupted: %s", m->name, b, (unsigned long long)off, zsize,
                (unsigned long long)(first * MEMFILE_PAGE),
                rc == Z_STREAM_END ? "its stream has the wrong length"
                : rc == Z_DATA_ERROR ? "bad compressed data or checksum" : "it ends early");
        return -1;
    }
    return 0;
}

int memfile_decode(const uint8_t *data, size_t size, uint8_t *mem, uint64_t len, const char *name)
{
    struct memfile m;
    if (memfile_parse(&m, data, size, len, name) < 0)
        return -1;
    uint8_t *block = malloc(MEMFILE_BLOCK_PAGES * MEMFILE_PAGE);
    if (!block)
        fatal("out of memory");
    int rc = 0;
    for (uint32_t b = 0; b < m.nblocks && rc == 0; b++) {
        uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
        uint64_t n = m.pages - first < MEMFILE_BLOCK_PAGES ? m.pages - first : MEMFILE_BLOCK_PAGES;
        uint8_t *dst = mem + first * MEMFILE_PAGE;
        if (memfile_block_stored(&m, b) == 0) {
            /* Reading an untouched page does not make it resident. */
            for (uint64_t i = 0; i < n; i++)
                if (!page_is_zero(dst + i * MEMFILE_PAGE))
                    memset(dst + i * MEMFILE_PAGE, 0, MEMFILE_PAGE);
            continue;
        }
        rc = memfile_decode_block(&m, b, block);
        if (rc == 0)
            memcpy(dst, block, n * MEMFILE_PAGE);
    }
    free(block);
    return rc;
}

int memfile_map(const char *path, const uint8_t **data, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_set("cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *size = (size_t)st.st_size;
    void *p = *size ? mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (p == MAP_FAILED) {
        err_set("cannot map %s: %s", path, strerror(errno));
        return -1;
    }
    *data = p;
    return 0;
}

void memfile_unmap(const uint8_t *data, size_t size)
{
    if (data)
        munmap((void *)data, size);
}

int memfile_read(const char *path, uint8_t *mem, uint64_t len, uint32_t expect_crc)
{
    const uint8_t *data;
    size_t size;
    if (memfile_map(path, &data, &size) < 0)
        return -1;
    struct memfile m;
    int rc = memfile_parse(&m, data, size, len, path);
    if (rc == 0 && m.crc != expect_crc) {
        err_set("%s: header checksum 0x%08x, the checkpoint tree expects 0x%08x (file from "
                "another checkpoint?)", path, m.crc, expect_crc);
        rc = -1;
    }
    if (rc == 0)
        rc = memfile_decode(data, size, mem, len, path);
    memfile_unmap(data, size);
    return rc;
}
