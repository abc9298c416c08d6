/* Guest linear-to-physical translation by walking the guest's page tables
 * (Intel SDM Vol. 3A ch. 4; AMD APM Vol. 2 ch. 5): no paging, 32-bit
 * (with 4 MiB pages under CR4.PSE), PAE and 4-level long-mode paging, with
 * the U/S, R/W (CR0.WP) and NX checks and the #PF error code. Shared by the
 * interpreter's TLB refill and by engines that must read guest memory
 * (KVM's internal-error report, debuggers). */
#ifndef TANDEM_CPU_MMU_H
#define TANDEM_CPU_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/state.h"

struct bus;

enum mmu_access { MMU_READ = 0, MMU_WRITE = 1, MMU_EXEC = 2 };

/* #PF error code bits */
#define PF_PRESENT (1u << 0)
#define PF_WRITE (1u << 1)
#define PF_USER (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_FETCH (1u << 4)

#define MMU_MAXPHYADDR 40

struct mmu_walk {
    uint64_t paddr;
    uint64_t page_size; /* 4 KiB, 2/4 MiB or 1 GiB; the whole linear range
                           [vaddr & ~(size-1), +size) maps contiguously */
    bool writable;      /* for the access's privilege (includes WP rules) */
    bool user;          /* user-accessible */
    bool executable;
    bool global;
    uint32_t error_code; /* valid when the walk fails */
};

/* Translates vaddr for an access of kind acc at privilege user (CPL 3) or
 * supervisor. With set_ad the walk sets accessed bits on every level and the
 * dirty bit on the leaf for writes, as the processor does. Returns 0, or -1
 * with w->error_code for a #PF (the caller sets CR2 and delivers). */
int mmu_translate(struct bus *bus, const struct x86_state *s, uint64_t vaddr, enum mmu_access acc,
                  bool user, bool set_ad, struct mmu_walk *w);

/* Copies len bytes of guest linear memory for debugging or reports,
 * supervisor read, no A/D updates. Returns bytes copied before a fault. */
uint64_t mmu_read_linear(struct bus *bus, const struct x86_state *s, uint64_t vaddr, void *buf,
                         uint64_t len);

#endif
