#include "mem/bus.h"

#include <stdlib.h>
#include <string.h>

#include "sim/log.h"
#include "sim/object.h"

DEBUG_FLAG_DEFINE(Bus, "unmapped memory and port accesses");

void bus_init(struct bus *b, struct sim_object *owner)
{
    memset(b, 0, sizeof(*b));
    b->owner = owner;
}

void bus_free(struct bus *b)
{
    free(b->mem.ranges);
    free(b->pio.ranges);
    memset(&b->mem, 0, sizeof(b->mem));
    memset(&b->pio, 0, sizeof(b->pio));
}

static int add_range(struct bus_space *s, const struct bus_range *r, const char *space)
{
    if (r->size == 0 || r->base + r->size < r->base) {
        err_set("%s range '%s' at 0x%llx has an invalid size 0x%llx", space, r->name,
                (unsigned long long)r->base, (unsigned long long)r->size);
        return -1;
    }
    size_t i = 0;
    while (i < s->count && s->ranges[i].base < r->base)
        i++;
    const struct bus_range *clash = NULL;
    if (i > 0 && s->ranges[i - 1].base + s->ranges[i - 1].size > r->base)
        clash = &s->ranges[i - 1];
    if (i < s->count && r->base + r->size > s->ranges[i].base)
        clash = &s->ranges[i];
    if (clash) {
        err_set("%s range '%s' [0x%llx, 0x%llx) overlaps '%s' [0x%llx, 0x%llx)", space, r->name,
                (unsigned long long)r->base, (unsigned long long)(r->base + r->size), clash->name,
                (unsigned long long)clash->base, (unsigned long long)(clash->base + clash->size));
        return -1;
    }
    if (s->count == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->ranges = realloc(s->ranges, s->cap * sizeof(*s->ranges));
    }
    memmove(&s->ranges[i + 1], &s->ranges[i], (s->count - i) * sizeof(*s->ranges));
    s->ranges[i] = *r;
    s->count++;
    return 0;
}

int bus_map_ram(struct bus *b, uint64_t gpa, uint64_t size, uint8_t *host, const char *name)
{
    struct bus_range r = {gpa, size, BUS_RAM, host, NULL, NULL, name};
    return add_range(&b->mem, &r, "memory");
}

int bus_map_mmio(struct bus *b, uint64_t gpa, uint64_t size, const struct io_ops *ops, void *opaque,
                 const char *name)
{
    struct bus_range r = {gpa, size, BUS_IO, NULL, ops, opaque, name};
    return add_range(&b->mem, &r, "memory");
}

int bus_map_pio(struct bus *b, uint16_t port, uint16_t count, const struct io_ops *ops, void *opaque,
                const char *name)
{
    struct bus_range r = {port, count, BUS_IO, NULL, ops, opaque, name};
    if ((uint32_t)port + count > 0x10000) {
        err_set("port range '%s' 0x%x+%u runs past 0xffff", name, port, count);
        return -1;
    }
    return add_range(&b->pio, &r, "port");
}

const struct bus_range *bus_find(const struct bus_space *s, uint64_t addr)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct bus_range *r = &s->ranges[mid];
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

uint8_t *bus_ram_ptr(const struct bus *b, uint64_t gpa, uint64_t len)
{
    const struct bus_range *r = bus_find(&b->mem, gpa);
    if (!r || r->kind != BUS_RAM || gpa - r->base + len > r->size)
        return NULL;
    return r->host + (gpa - r->base);
}

static uint64_t ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, p, size);
    return v;
}

uint64_t bus_mem_read(struct bus *b, uint64_t gpa, unsigned size)
{
    const struct bus_range *r = bus_find(&b->mem, gpa);
    if (r && gpa - r->base + size <= r->size) {
        if (r->kind == BUS_RAM)
            return load_le(r->host + (gpa - r->base), size);
        return r->ops->read(r->opaque, gpa - r->base, size) & ones(size);
    }
    if (r || (size > 1 && bus_find(&b->mem, gpa + size - 1))) {
        uint8_t buf[8];
        bus_read(b, gpa, buf, size);
        return load_le(buf, size);
    }
    b->mem.unmapped_reads++;
    DPRINTF(Bus, b->owner, "unmapped read%u at 0x%llx", size * 8, (unsigned long long)gpa);
    return ones(size);
}

void bus_mem_write(struct bus *b, uint64_t gpa, uint64_t val, unsigned size)
{
    const struct bus_range *r = bus_find(&b->mem, gpa);
    if (r && gpa - r->base + size <= r->size) {
        if (r->kind == BUS_RAM)
            memcpy(r->host + (gpa - r->base), &val, size);
        else
            r->ops->write(r->opaque, gpa - r->base, val & ones(size), size);
        return;
    }
    if (r || (size > 1 && bus_find(&b->mem, gpa + size - 1))) {
        bus_write(b, gpa, &val, size);
        return;
    }
    b->mem.unmapped_writes++;
    DPRINTF(Bus, b->owner, "unmapped write%u at 0x%llx = 0x%llx", size * 8,
            (unsigned long long)gpa, (unsigned long long)val);
}

uint64_t bus_pio_read(struct bus *b, uint16_t port, unsigned size)
{
    const struct bus_range *r = bus_find(&b->pio, port);
    if (r && port - r->base + size <= r->size)
        return r->ops->read(r->opaque, port - r->base, size) & ones(size);
    b->pio.unmapped_reads++;
    DPRINTF(Bus, b->owner, "unmapped in%u from port 0x%x", size * 8, port);
    return ones(size);
}

void bus_pio_write(struct bus *b, uint16_t port, uint64_t val, unsigned size)
{
    const struct bus_range *r = bus_find(&b->pio, port);
    if (r && port - r->base + size <= r->size) {
        r->ops->write(r->opaque, port - r->base, val & ones(size), size);
        return;
    }
    b->pio.unmapped_writes++;
    DPRINTF(Bus, b->owner, "unmapped out%u to port 0x%x = 0x%llx", size * 8, port,
            (unsigned long long)val);
}

void bus_read(struct bus *b, uint64_t gpa, void *buf, uint64_t len)
{
    uint8_t *out = buf;
    while (len) {
        const struct bus_range *r = bus_find(&b->mem, gpa);
        if (r && r->kind == BUS_RAM) {
            uint64_t n = r->size - (gpa - r->base);
            if (n > len)
                n = len;
            memcpy(out, r->host + (gpa - r->base), n);
            out += n, gpa += n, len -= n;
        } else if (r) {
            *out++ = (uint8_t)r->ops->read(r->opaque, gpa - r->base, 1);
            gpa++, len--;
        } else {
            b->mem.unmapped_reads++;
            DPRINTF(Bus, b->owner, "unmapped read8 at 0x%llx", (unsigned long long)gpa);
            *out++ = 0xff;
            gpa++, len--;
        }
    }
}

void bus_write(struct bus *b, uint64_t gpa, const void *buf, uint64_t len)
{
    const uint8_t *in = buf;
    while (len) {
        const struct bus_range *r = bus_find(&b->mem, gpa);
        if (r && r->kind == BUS_RAM) {
            uint64_t n = r->size - (gpa - r->base);
            if (n > len)
                n = len;
            memcpy(r->host + (gpa - r->base), in, n);
            in += n, gpa += n, len -= n;
        } else if (r) {
            r->ops->write(r->opaque, gpa - r->base, *in++, 1);
            gpa++, len--;
        } else {
            b->mem.unmapped_writes++;
            DPRINTF(Bus, b->owner, "unmapped write8 at 0x%llx", (unsigned long long)gpa);
            in++, gpa++, len--;
        }
    }
}
