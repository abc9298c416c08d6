/* Guest-memory chunk files, format 2 (docs/checkpoint.md). Little-endian:
 *   header   magic "TDMPAGE2", u64 chunk length, u64 page count,
 *            u32 pages per block, u32 block count
 *   bitmap   1 bit per 4 KiB page: set = page stored (zero pages are not)
 *   index    per block: u64 file offset, u32 stored size, u32 stored pages
 *            (bit 31 set: the pages are stored raw, being incompressible)
 *   u32      CRC-32 of everything above
 *   blocks   per block with stored pages: one zlib stream of them, in order,
 *            or the pages themselves when a trial deflate of the first one
 *            shows no gain (random data: compressing it costs the most
 *            time and saves nothing)
 * Blocks are independent streams so a lazy restore can decode the one block
 * a guest access needs, and several threads can decode at once. Everything
 * but the block contents is checked by memfile_parse; a block's contents are
 * checked by zlib (format and Adler-32) when it is decoded. */
#include <errno.h>
#include <stdbool.h>
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
#define BLOCK_RAW 0x80000000u

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

static void reserve(uint8_t **out, size_t *cap, size_t need)
{
    while (*cap < need) {
        *cap *= 2;
        *out = realloc(*out, *cap);
        if (!*out)
            fatal("out of memory");
    }
}

/* The block codec: one reusable zlib deflate stream per thread. */
struct codec {
    z_stream z;
};

static void codec_init(struct codec *k)
{
    memset(&k->z, 0, sizeof(k->z));
    if (deflateInit(&k->z, 1) != Z_OK)
        fatal("out of memory");
}

static void codec_end(struct codec *k)
{
    deflateEnd(&k->z);
}

/* Compresses len bytes of in to one zlib stream at out + used; returns the
 * new used. */
static size_t compress_stream(struct codec *k, const uint8_t *in, size_t len, uint8_t **out,
                              size_t *cap, size_t used)
{
    uLong bound = deflateBound(&k->z, (uLong)len);
    reserve(out, cap, used + bound);
    deflateReset(&k->z);
    k->z.next_in = (Bytef *)in;
    k->z.avail_in = (uInt)len;
    k->z.next_out = *out + used;
    k->z.avail_out = (uInt)bound;
    if (deflate(&k->z, Z_FINISH) != Z_STREAM_END)
        fatal("zlib: a block does not fit its bound");
    return used + (bound - k->z.avail_out);
}

/* Decompresses the zlib stream in[0, zsize) into exactly want bytes at out:
 * Z_OK, Z_DATA_ERROR (bad data or Adler-32) or Z_BUF_ERROR (wrong length). */
static int decompress_stream(const uint8_t *in, size_t zsize, uint8_t *out, size_t want)
{
    uLongf got = (uLongf)want;
    uLong in_used = (uLong)zsize;
    int rc = uncompress2(out, &got, in, &in_used);
    if (rc == Z_OK && (got != want || in_used != zsize))
        rc = Z_BUF_ERROR;
    return rc == Z_OK || rc == Z_DATA_ERROR ? rc : Z_BUF_ERROR;
}

/* A trial compression of the block's first stored page, into the free
 * space of out: true when it saves under 1/16. */
static bool incompressible(struct codec *k, const uint8_t *mem, const uint8_t *bitmap,
                           uint64_t first, uint64_t npages, uint8_t **out, size_t *cap,
                           size_t used)
{
    uint64_t i = first;
    while (i < first + npages && !page_stored(bitmap, i))
        i++;
    size_t end = compress_stream(k, mem + i * MEMFILE_PAGE, MEMFILE_PAGE, out, cap, used);
    return end - used > MEMFILE_PAGE - MEMFILE_PAGE / 16;
}

/* Appends the block's stored pages to out at used; returns the new used. */
static size_t gather_pages(const uint8_t *mem, const uint8_t *bitmap, uint64_t first,
                           uint64_t npages, uint8_t **out, size_t *cap, size_t used)
{
    reserve(out, cap, used + npages * MEMFILE_PAGE);
    for (uint64_t i = first; i < first + npages; i++) {
        if (page_stored(bitmap, i)) {
            memcpy(*out + used, mem + i * MEMFILE_PAGE, MEMFILE_PAGE);
            used += MEMFILE_PAGE;
        }
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
    size_t gather_cap = MEMFILE_BLOCK_PAGES * MEMFILE_PAGE;
    uint8_t *gather = malloc(gather_cap);
    if (!meta || !out || !gather)
        fatal("out of memory");
    struct codec codec;
    codec_init(&codec);
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
        bool raw = stored && incompressible(&codec, mem, bitmap, first, n, &out, &cap, used);
        if (raw)
            used = gather_pages(mem, bitmap, first, n, &out, &cap, used);
        else if (stored)
            used = compress_stream(&codec, gather,
                                   gather_pages(mem, bitmap, first, n, &gather, &gather_cap, 0),
                                   &out, &cap, used);
        uint64_t off = meta_len + start;
        uint32_t entry[2] = {(uint32_t)(used - start), stored | (raw ? BLOCK_RAW : 0)};
        memcpy(index + (size_t)b * INDEX_ENTRY_BYTES, &off, 8);
        memcpy(index + (size_t)b * INDEX_ENTRY_BYTES + 8, entry, 8);
    }
    codec_end(&codec);
    free(gather);
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
        uint32_t word = get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 12);
        uint32_t stored = word & ~BLOCK_RAW;
        uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES, count = 0;
        for (uint64_t i = first; i < first + MEMFILE_BLOCK_PAGES && i < m->pages; i++)
            count += page_stored(m->bitmap, i);
        if (off != expect_off || count != stored || (zsize == 0) != (stored == 0) ||
            ((word & BLOCK_RAW) && zsize != stored * MEMFILE_PAGE)) {
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
    return get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 12) & ~BLOCK_RAW;
}

uint64_t memfile_block_offset(const struct memfile *m, uint32_t b)
{
    return get_u64(m->index + (size_t)b * INDEX_ENTRY_BYTES);
}

/* Clears a page of out: always in a scratch buffer; in guest RAM only when
 * it is not zero already (reading an untouched page keeps it unallocated). */
static void clear_page(uint8_t *page, bool in_ram)
{
    if (!in_ram || !page_is_zero(page))
        memset(page, 0, MEMFILE_PAGE);
}

int memfile_decode_block(const struct memfile *m, uint32_t b, uint8_t *out, bool in_ram)
{
    uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
    uint64_t n = m->pages - first < MEMFILE_BLOCK_PAGES ? m->pages - first : MEMFILE_BLOCK_PAGES;
    uint64_t off = memfile_block_offset(m, b);
    uint32_t zsize = get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 8);
    uint64_t stored = memfile_block_stored(m, b);
    /* The stored pages land contiguously at the start of out, then move to
     * their slots from the last one down (a slot is never below its page). */
    if (get_u32(m->index + (size_t)b * INDEX_ENTRY_BYTES + 12) & BLOCK_RAW) {
        memcpy(out, m->data + off, stored * MEMFILE_PAGE);
    } else if (stored) {
        int rc = decompress_stream(m->data + off, zsize, out, stored * MEMFILE_PAGE);
        if (rc != Z_OK) {
            err_set("%s: block %u (file offset %llu, %u bytes, guest pages from offset 0x%llx "
                    "of the chunk) is corrupted: %s", m->name, b, (unsigned long long)off, zsize,
                    (unsigned long long)(first * MEMFILE_PAGE),
                    rc == Z_DATA_ERROR ? "bad compressed data or checksum"
                                       : "its stream has the wrong length");
            return -1;
        }
    }
    uint64_t j = stored;
    for (uint64_t i = n; i-- > 0;) {
        uint8_t *page = out + i * MEMFILE_PAGE;
        if (page_stored(m->bitmap, first + i)) {
            if (--j != i)
                memcpy(page, out + j * MEMFILE_PAGE, MEMFILE_PAGE);
        } else {
            clear_page(page, in_ram && i >= stored);
        }
    }
    return 0;
}

int memfile_decode(const uint8_t *data, size_t size, uint8_t *mem, uint64_t len, const char *name)
{
    struct memfile m;
    if (memfile_parse(&m, data, size, len, name) < 0)
        return -1;
    int rc = 0;
    for (uint32_t b = 0; b < m.nblocks && rc == 0; b++) {
        uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
        uint64_t n = m.pages - first < MEMFILE_BLOCK_PAGES ? m.pages - first : MEMFILE_BLOCK_PAGES;
        uint8_t *dst = mem + first * MEMFILE_PAGE;
        if (memfile_block_stored(&m, b) == 0) {
            for (uint64_t i = 0; i < n; i++)
                clear_page(dst + i * MEMFILE_PAGE, true);
            continue;
        }
        rc = memfile_decode_block(&m, b, dst, true);
    }
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
