/* AML encoder: ACPI 6.5 chapter 20 (AML grammar) and section 6.4 (resource
 * descriptors). See boot/aml.h for the API. */
#include "boot/aml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/log.h"

/* Opcodes (ACPI 20.3). */
enum {
    AML_ZERO = 0x00,
    AML_ONE = 0x01,
    AML_NAME = 0x08,
    AML_BYTE_PREFIX = 0x0A,
    AML_WORD_PREFIX = 0x0B,
    AML_DWORD_PREFIX = 0x0C,
    AML_STRING_PREFIX = 0x0D,
    AML_QWORD_PREFIX = 0x0E,
    AML_SCOPE = 0x10,
    AML_BUFFER = 0x11,
    AML_PACKAGE = 0x12,
    AML_METHOD = 0x14,
    AML_DUAL_NAME_PREFIX = 0x2E,
    AML_MULTI_NAME_PREFIX = 0x2F,
    AML_EXT_PREFIX = 0x5B,
    AML_EXT_DEVICE = 0x82,
    AML_ROOT_CHAR = 0x5C,
    AML_PARENT_PREFIX = 0x5E,
    AML_RETURN = 0xA4,
    AML_ONES = 0xFF,
};

/* Resource descriptor tags (ACPI 6.4.2, 6.4.3): small items carry their
 * length in the tag byte, large items in the two bytes after it. */
enum {
    RES_IRQ_NO_FLAGS = 0x22, /* small item 0x04, length 2 */
    RES_IRQ = 0x23,          /* small item 0x04, length 3 */
    RES_IO = 0x47,           /* small item 0x08, length 7 */
    RES_END_TAG = 0x79,      /* small item 0x0F, length 1 */
    RES_MEMORY32_FIXED = 0x86,
    RES_EXT_IRQ = 0x89,
};

static bool failed(const struct aml_buf *b)
{
    return b->error[0] != '\0';
}

static void set_error(struct aml_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct aml_buf *b, const char *fmt, ...)
{
    if (failed(b))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
}

void aml_init(struct aml_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void aml_free(struct aml_buf *b)
{
    free(b->data);
    aml_init(b);
}

const char *aml_error(struct aml_buf *b)
{
    if (!failed(b) && b->depth)
        set_error(b, "AML object opened at offset %zu was never closed", b->open[b->depth - 1]);
    return failed(b) ? b->error : NULL;
}

static void reserve(struct aml_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data)
        fatal("out of memory growing an AML buffer to %zu bytes", cap);
    b->cap = cap;
}

void aml_bytes(struct aml_buf *b, const void *p, size_t n)
{
    if (failed(b) || n == 0)
        return;
    reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void aml_byte(struct aml_buf *b, uint8_t v)
{
    aml_bytes(b, &v, 1);
}

void aml_u16(struct aml_buf *b, uint16_t v)
{
    uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    aml_bytes(b, le, sizeof(le));
}

void aml_u32(struct aml_buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    aml_bytes(b, le, sizeof(le));
}

static void aml_u64(struct aml_buf *b, uint64_t v)
{
    aml_u32(b, (uint32_t)v);
    aml_u32(b, (uint32_t)(v >> 32));
}

unsigned aml_pkglen_encode(uint32_t len, uint8_t out[4])
{
    if (len < (1u << 6)) {
        out[0] = (uint8_t)len;
        return 1;
    }
    /* Multi-byte form: bits 7-6 of the lead byte count the bytes that
     * follow, its bits 3-0 hold the low nibble, each following byte the
     * next 8 bits. */
    unsigned follow;
    if (len < (1u << 12))
        follow = 1;
    else if (len < (1u << 20))
        follow = 2;
    else if (len < (1u << 28))
        follow = 3;
    else
        return 0;
    out[0] = (uint8_t)((follow << 6) | (len & 0xF));
    for (unsigned i = 0; i < follow; i++)
        out[1 + i] = (uint8_t)(len >> (4 + 8 * i));
    return follow + 1;
}

static bool seg_lead_char(char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool seg_char(char c)
{
    return seg_lead_char(c) || (c >= '0' && c <= '9');
}

void aml_name_string(struct aml_buf *b, const char *path)
{
    if (failed(b))
        return;
    const char *p = path;
    uint8_t prefix[256];
    size_t nprefix = 0;
    if (*p == '\\')
        prefix[nprefix++] = AML_ROOT_CHAR, p++;
    else
        while (*p == '^' && nprefix < sizeof(prefix))
            prefix[nprefix++] = AML_PARENT_PREFIX, p++;
    char segs[255][4];
    size_t nsegs = 0;
    while (*p) {
        size_t n = 0;
        while (p[n] && p[n] != '.')
            n++;
        if (n == 0 || n > 4 || !seg_lead_char(p[0])) {
            set_error(b, "invalid AML name '%s': each segment needs 1-4 characters, "
                         "starting with A-Z or '_'", path);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (!seg_char(p[i])) {
                set_error(b, "invalid AML name '%s': character '%c' is not A-Z, 0-9 or '_'",
                          path, p[i]);
                return;
            }
        }
        if (nsegs == 255) {
            set_error(b, "invalid AML name '%s': more than 255 segments", path);
            return;
        }
        memset(segs[nsegs], '_', 4);
        memcpy(segs[nsegs], p, n);
        nsegs++;
        p += n;
        if (*p == '.') {
            p++;
            if (!*p) {
                set_error(b, "invalid AML name '%s': ends with '.'", path);
                return;
            }
        }
    }
    aml_bytes(b, prefix, nprefix);
    if (nsegs == 0) {
        aml_byte(b, 0x00); /* NullName */
        return;
    }
    if (nsegs == 2)
        aml_byte(b, AML_DUAL_NAME_PREFIX);
    else if (nsegs > 2) {
        aml_byte(b, AML_MULTI_NAME_PREFIX);
        aml_byte(b, (uint8_t)nsegs);
    }
    aml_bytes(b, segs, 4 * nsegs);
}

void aml_integer(struct aml_buf *b, uint64_t v)
{
    if (v == 0)
        aml_byte(b, AML_ZERO);
    else if (v == 1)
        aml_byte(b, AML_ONE);
    else if (v == UINT64_MAX)
        aml_byte(b, AML_ONES);
    else if (v <= 0xFF) {
        aml_byte(b, AML_BYTE_PREFIX);
        aml_byte(b, (uint8_t)v);
    } else if (v <= 0xFFFF) {
        aml_byte(b, AML_WORD_PREFIX);
        aml_u16(b, (uint16_t)v);
    } else if (v <= 0xFFFFFFFF) {
        aml_byte(b, AML_DWORD_PREFIX);
        aml_u32(b, (uint32_t)v);
    } else {
        aml_byte(b, AML_QWORD_PREFIX);
        aml_u64(b, v);
    }
}

void aml_dword_const(struct aml_buf *b, uint32_t v)
{
    aml_byte(b, AML_DWORD_PREFIX);
    aml_u32(b, v);
}

void aml_string(struct aml_buf *b, const char *s)
{
    for (const char *c = s; *c; c++) {
        if (*c < 0x20 || *c > 0x7E) {
            set_error(b, "AML string \"%s\" holds a non-printable character (0x%02x)", s,
                      (unsigned)(uint8_t)*c);
            return;
        }
    }
    aml_byte(b, AML_STRING_PREFIX);
    aml_bytes(b, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

uint32_t aml_eisaid_value(struct aml_buf *b, const char *id)
{
    bool ok = strlen(id) == 7;
    for (int i = 0; ok && i < 3; i++)
        ok = id[i] >= 'A' && id[i] <= 'Z';
    for (int i = 3; ok && i < 7; i++)
        ok = hex_digit(id[i]) >= 0;
    if (!ok) {
        set_error(b, "invalid EISA id '%s': expected three letters A-Z and four hex digits "
                     "(e.g. PNP0501)", id);
        return 0;
    }
    /* Letters are 5-bit codes ('A' = 1) packed big-endian into 15 bits,
     * followed by the 16-bit product number; the 32-bit value is stored
     * byte by byte in that order, so as a little-endian DWORD it reads
     * byte-swapped. */
    uint16_t vendor = (uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
    uint16_t product = 0;
    for (int i = 3; i < 7; i++)
        product = (uint16_t)((product << 4) | hex_digit(id[i]));
    return (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xFF) << 8 |
           (uint32_t)(product >> 8) << 16 | (uint32_t)(product & 0xFF) << 24;
}

void aml_eisaid(struct aml_buf *b, const char *id)
{
    uint32_t v = aml_eisaid_value(b, id);
    aml_dword_const(b, v);
}

void aml_name(struct aml_buf *b, const char *name)
{
    aml_byte(b, AML_NAME);
    aml_name_string(b, name);
}

/* Records where the body of an object starts (right after its opcode); the
 * PkgLength is inserted there by aml_end. */
static size_t open_object(struct aml_buf *b)
{
    if (failed(b))
        return b->len;
    if (b->depth == AML_MAX_DEPTH) {
        set_error(b, "AML objects nested deeper than %d", AML_MAX_DEPTH);
        return b->len;
    }
    b->open[b->depth++] = b->len;
    return b->len;
}

void aml_end(struct aml_buf *b, size_t mark)
{
    if (failed(b))
        return;
    if (b->depth == 0 || b->open[b->depth - 1] != mark) {
        set_error(b, "aml_end(%zu) does not close the innermost open AML object", mark);
        return;
    }
    b->depth--;
    size_t body = b->len - mark;
    /* The PkgLength counts its own bytes, so the encoding width depends on
     * the total: try each width until the total fits it. */
    uint8_t enc[4];
    unsigned n = 0;
    for (unsigned width = 1; width <= 4; width++) {
        if (body + width >= (1u << 28))
            break;
        n = aml_pkglen_encode((uint32_t)(body + width), enc);
        if (n == width)
            break;
        n = 0;
    }
    if (n == 0) {
        set_error(b, "AML object at offset %zu is too long (%zu bytes)", mark, body);
        return;
    }
    reserve(b, n);
    memmove(b->data + mark + n, b->data + mark, body);
    memcpy(b->data + mark, enc, n);
    b->len += n;
}

size_t aml_scope_begin(struct aml_buf *b, const char *name)
{
    aml_byte(b, AML_SCOPE);
    size_t mark = open_object(b);
    aml_name_string(b, name);
    return mark;
}

size_t aml_device_begin(struct aml_buf *b, const char *name)
{
    aml_byte(b, AML_EXT_PREFIX);
    aml_byte(b, AML_EXT_DEVICE);
    size_t mark = open_object(b);
    aml_name_string(b, name);
    return mark;
}

size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned nargs, bool serialized)
{
    if (nargs > 7)
        set_error(b, "method %s: %u arguments, AML allows at most 7", name, nargs);
    aml_byte(b, AML_METHOD);
    size_t mark = open_object(b);
    aml_name_string(b, name);
    /* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7
     * SyncLevel (0). */
    aml_byte(b, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
    return mark;
}

size_t aml_package_begin(struct aml_buf *b, unsigned nelements)
{
    if (nelements > 255)
        set_error(b, "package of %u elements: a Package holds at most 255 (VarPackage "
                     "is not supported)", nelements);
    aml_byte(b, AML_PACKAGE);
    size_t mark = open_object(b);
    aml_byte(b, (uint8_t)nelements);
    return mark;
}

void aml_return(struct aml_buf *b)
{
    aml_byte(b, AML_RETURN);
}

void aml_buffer(struct aml_buf *b, const void *data, size_t len)
{
    aml_byte(b, AML_BUFFER);
    size_t mark = open_object(b);
    aml_integer(b, len);
    aml_bytes(b, data, len);
    aml_end(b, mark);
}

void aml_res_io(struct aml_buf *b, uint16_t base, uint8_t len)
{
    aml_byte(b, RES_IO);
    aml_byte(b, 0x01); /* information: decodes 16 address bits */
    aml_u16(b, base);  /* minimum base */
    aml_u16(b, base);  /* maximum base: the range is fixed */
    aml_byte(b, 0x01); /* base alignment */
    aml_byte(b, len);
}

static uint16_t irq_mask(struct aml_buf *b, unsigned irq)
{
    if (irq > 15) {
        set_error(b, "IRQ descriptor for IRQ %u: only IRQs 0-15 fit (use an Extended "
                     "Interrupt descriptor)", irq);
        return 0;
    }
    return (uint16_t)(1u << irq);
}

void aml_res_irq(struct aml_buf *b, unsigned irq)
{
    uint16_t mask = irq_mask(b, irq);
    aml_byte(b, RES_IRQ_NO_FLAGS);
    aml_u16(b, mask);
}

void aml_res_irq_flags(struct aml_buf *b, unsigned irq, bool level_triggered, bool active_low,
                       bool shared)
{
    uint16_t mask = irq_mask(b, irq);
    aml_byte(b, RES_IRQ);
    aml_u16(b, mask);
    /* Information: bit 0 edge (1) / level (0), bit 3 active low, bit 4
     * shared. */
    aml_byte(b, (uint8_t)((level_triggered ? 0 : 0x01) | (active_low ? 0x08 : 0) |
                          (shared ? 0x10 : 0)));
}

void aml_res_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t len, bool writable)
{
    aml_byte(b, RES_MEMORY32_FIXED);
    aml_u16(b, 9); /* length of the data that follows the 3-byte header */
    aml_byte(b, writable ? 0x01 : 0x00);
    aml_u32(b, base);
    aml_u32(b, len);
}

void aml_res_ext_irq(struct aml_buf *b, uint32_t gsi, bool level_triggered, bool active_low,
                     bool shared)
{
    aml_byte(b, RES_EXT_IRQ);
    aml_u16(b, 6); /* flags, table length, one interrupt number */
    /* Flags: bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared. */
    aml_byte(b, (uint8_t)(0x01 | (level_triggered ? 0 : 0x02) | (active_low ? 0x04 : 0) |
                          (shared ? 0x08 : 0)));
    aml_byte(b, 1);
    aml_u32(b, gsi);
}

void aml_res_end(struct aml_buf *res)
{
    aml_byte(res, RES_END_TAG);
    uint8_t sum = 0;
    for (size_t i = 0; i < res->len; i++)
        sum = (uint8_t)(sum + res->data[i]);
    aml_byte(res, (uint8_t)-sum);
}

void aml_resource_template(struct aml_buf *b, struct aml_buf *res)
{
    aml_res_end(res);
    const char *err = aml_error(res);
    if (err) {
        set_error(b, "resource template: %s", err);
        return;
    }
    aml_buffer(b, res->data, res->len);
}
