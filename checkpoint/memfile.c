/* Guest-memory chunk files. Layout (little-endian):
 *   magic "TDMPAGE1", u64 chunk length, u64 page count,
 *   bitmap (1 bit per 4 KiB page: set = page stored),
 *   u64 compressed size, zlib stream of the stored pages in order.
 * Zero pages are not stored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint/checkpoint.h"
#include "sim/object.h"
#include "sim/util.h"

#define PAGE 4096ULL
static const char magic[8] = {'T', 'D', 'M', 'P', 'A', 'G', 'E', '1'};

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < PAGE / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

int memfile_write(const char *path, const uint8_t *mem, uint64_t len, uint32_t *crc_out)
{
    uint64_t pages = len / PAGE;
    size_t bitmap_len = (size_t)((pages + 7) / 8);
    uint8_t *bitmap = calloc(1, bitmap_len ? bitmap_len : 1);
    z_stream z = {0};
    if (deflateInit(&z, 1) != Z_OK) {
        free(bitmap);
        err_set("zlib init failed");
        return -1;
    }
    size_t cap = 1 << 20, used = 0;
    uint8_t *out = malloc(cap);
    uint32_t crc = (uint32_t)crc32(0, NULL, 0);
    for (uint64_t i = 0; i <= pages; i++) {
        int last = i == pages;
        if (!last && page_is_zero(mem + i * PAGE))
            continue;
        if (!last)
            bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        z.next_in = last ? NULL : (Bytef *)(mem + i * PAGE);
        z.avail_in = last ? 0 : (uInt)PAGE;
        int rc;
        do {
            if (cap - used < 65536) {
                cap *= 2;
                out = realloc(out, cap);
            }
            z.next_out = out + used;
            z.avail_out = (uInt)(cap - used);
            rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
            used = cap - z.avail_out;
        } while (z.avail_in || (last && rc != Z_STREAM_END));
        if (!last)
            crc = (uint32_t)crc32(crc, mem + i * PAGE, (uInt)PAGE);
    }
    deflateEnd(&z);
    crc = (uint32_t)crc32(crc, bitmap, (uInt)bitmap_len);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    if (ok) {
        uint64_t hdr[2] = {len, pages}, zsize = used;
        ok = fwrite(magic, 8, 1, f) == 1 && fwrite(hdr, 16, 1, f) == 1 &&
             (bitmap_len == 0 || fwrite(bitmap, bitmap_len, 1, f) == 1) &&
             fwrite(&zsize, 8, 1, f) == 1 && (used == 0 || fwrite(out, used, 1, f) == 1);
        ok = (fclose(f) == 0) && ok;
    }
    if (!ok)
        err_set("cannot write %s: %s", path, strerror(errno ? errno : EIO));
    free(out);
    free(bitmap);
    *crc_out = crc;
    return ok ? 0 : -1;
}

int memfile_decode(const uint8_t *data, size_t size, uint8_t *mem, uint64_t len, const char *name)
{
    uint64_t hdr[2], zsize;
    if (size < 32 || memcmp(data, magic, 8) != 0) {
        err_set("%s: not a tandem memory file (bad magic or too short)", name);
        return -1;
    }
    memcpy(hdr, data + 8, 16);
    if (hdr[0] != len || hdr[1] != len / PAGE) {
        err_set("%s: holds %llu bytes, the machine's region needs %llu", name,
                (unsigned long long)hdr[0], (unsigned long long)len);
        return -1;
    }
    uint64_t pages = hdr[1];
    size_t bitmap_len = (size_t)((pages + 7) / 8);
    if (size < 24 + bitmap_len + 8) {
        err_set("%s: truncated page bitmap", name);
        return -1;
    }
    const uint8_t *bitmap = data + 24;
    memcpy(&zsize, data + 24 + bitmap_len, 8);
    if (zsize != size - (24 + bitmap_len + 8)) {
        err_set("%s: compressed data is %llu bytes, header says %llu (truncated or corrupted)",
                name, (unsigned long long)(size - (24 + bitmap_len + 8)), (unsigned long long)zsize);
        return -1;
    }
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK) {
        err_set("zlib init failed");
        return -1;
    }
    z.next_in = (Bytef *)(data + 24 + bitmap_len + 8);
    z.avail_in = (uInt)zsize;
    int rc = Z_OK;
    for (uint64_t i = 0; i < pages; i++) {
        uint8_t *page = mem + i * PAGE;
        if (!(bitmap[i / 8] & (1u << (i % 8)))) {
            /* Reading an untouched page does not make it resident. */
            if (!page_is_zero(page))
                memset(page, 0, PAGE);
            continue;
        }
        z.next_out = page;
        z.avail_out = (uInt)PAGE;
        while (z.avail_out && rc == Z_OK)
            rc = inflate(&z, Z_NO_FLUSH);
        if (z.avail_out) {
            inflateEnd(&z);
            err_set("%s: compressed page data ends early or is corrupted (page %llu)", name,
                    (unsigned long long)i);
            return -1;
        }
    }
    /* The stream must end exactly here: give it room for one stray byte. */
    uint8_t extra;
    z.next_out = &extra;
    z.avail_out = 1;
    if (rc == Z_OK)
        rc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.avail_out == 0) {
        err_set("%s: compressed data is corrupted or has trailing bytes", name);
        return -1;
    }
    return 0;
}

int memfile_read(const char *path, uint8_t *mem, uint64_t len, uint32_t expect_crc)
{
    size_t size;
    uint8_t *data = read_whole_file(path, &size);
    if (!data)
        return -1;
    int rc = memfile_decode(data, size, mem, len, path);
    if (rc == 0) {
        uint64_t pages = len / PAGE;
        size_t bitmap_len = (size_t)((pages + 7) / 8);
        uint32_t crc = (uint32_t)crc32(0, NULL, 0);
        for (uint64_t i = 0; i < pages; i++)
            if (data[24 + i / 8] & (1u << (i % 8)))
                crc = (uint32_t)crc32(crc, mem + i * PAGE, (uInt)PAGE);
        crc = (uint32_t)crc32(crc, data + 24, (uInt)bitmap_len);
        if (crc != expect_crc) {
            err_set("%s: checksum mismatch (file corrupted)", path);
            rc = -1;
        }
    }
    free(data);
    return rc;
}
