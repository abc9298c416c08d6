/* The bus: the guest-physical address map (RAM ranges and MMIO ranges) and
 * the separate port-I/O space. Devices register ranges at init; overlaps are
 * refused. Accesses to unmapped addresses read as all-ones, are counted and
 * logged under the Bus debug flag, and never fail the run. */
#ifndef TANDEM_MEM_BUS_H
#define TANDEM_MEM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_object;

/* Device register callbacks; off is relative to the range base, size is 1,
 * 2, 4 or 8. */
struct io_ops {
    uint64_t (*read)(void *opaque, uint64_t off, unsigned size);
    void (*write)(void *opaque, uint64_t off, uint64_t val, unsigned size);
};

enum bus_range_kind { BUS_RAM, BUS_IO };

struct bus_range {
    uint64_t base, size;
    enum bus_range_kind kind;
    uint8_t *host; /* BUS_RAM */
    const struct io_ops *ops; /* BUS_IO */
    void *opaque;
    const char *name;
};

struct bus_space {
    struct bus_range *ranges; /* sorted by base */
    size_t count, cap;
    uint64_t unmapped_reads, unmapped_writes;
};

struct bus {
    struct sim_object *owner;
    struct bus_space mem;
    struct bus_space pio;
};

void bus_init(struct bus *b, struct sim_object *owner);
void bus_free(struct bus *b);

/* 0, or -1 with err_set() naming both ranges when they overlap. */
int bus_map_ram(struct bus *b, uint64_t gpa, uint64_t size, uint8_t *host, const char *name);
int bus_map_mmio(struct bus *b, uint64_t gpa, uint64_t size, const struct io_ops *ops,
                 void *opaque, const char *name);
int bus_map_pio(struct bus *b, uint16_t port, uint16_t count, const struct io_ops *ops,
                void *opaque, const char *name);

const struct bus_range *bus_find(const struct bus_space *s, uint64_t addr);

/* Host pointer for [gpa, gpa+len) when it lies wholly in one RAM range. */
uint8_t *bus_ram_ptr(const struct bus *b, uint64_t gpa, uint64_t len);

/* A device-or-RAM access of 1/2/4/8 bytes (little-endian). */
uint64_t bus_mem_read(struct bus *b, uint64_t gpa, unsigned size);
void bus_mem_write(struct bus *b, uint64_t gpa, uint64_t val, unsigned size);
uint64_t bus_pio_read(struct bus *b, uint16_t port, unsigned size);
void bus_pio_write(struct bus *b, uint16_t port, uint64_t val, unsigned size);

/* Byte copies across any mix of RAM and MMIO (MMIO byte by byte). */
void bus_read(struct bus *b, uint64_t gpa, void *buf, uint64_t len);
void bus_write(struct bus *b, uint64_t gpa, const void *buf, uint64_t len);

#endif
