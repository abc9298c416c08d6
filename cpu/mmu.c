#include "cpu/mmu.h"

#include <string.h>

#include "mem/bus.h"

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define ADDR_MASK(bits) (((1ull << (bits)) - 1) & ~0xfffull)

static uint64_t read_entry(struct bus *bus, uint64_t pa, unsigned size)
{
    uint8_t *p = bus_ram_ptr(bus, pa, size);
    if (p) {
        uint64_t v = 0;
        memcpy(&v, p, size);
        return v;
    }
    return bus_mem_read(bus, pa, size);
}

static void set_bits(struct bus *bus, uint64_t pa, uint64_t entry, uint64_t bits, unsigned size)
{
    if ((entry & bits) == bits)
        return;
    entry |= bits;
    uint8_t *p = bus_ram_ptr(bus, pa, size);
    if (p)
        memcpy(p, &entry, size);
    else
        bus_mem_write(bus, pa, entry, size);
}

static int fault(struct mmu_walk *w, uint32_t code, enum mmu_access acc, bool user, bool nxe)
{
    if (acc == MMU_WRITE)
        code |= PF_WRITE;
    if (user)
        code |= PF_USER;
    /* I/D is reported for fetches when NX is enabled (SDM 4.7). */
    if (acc == MMU_EXEC && nxe)
        code |= PF_FETCH;
    w->error_code = code;
    return -1;
}

int mmu_translate(struct bus *bus, const struct x86_state *s, uint64_t vaddr, enum mmu_access acc,
                  bool user, bool set_ad, struct mmu_walk *w)
{
    memset(w, 0, sizeof(*w));
    if (!(s->cr0 & X86_CR0_PG)) {
        w->paddr = vaddr;
        w->page_size = 1ull << 30;
        w->writable = w->user = w->executable = true;
        return 0;
    }
    bool nxe = (s->msr.efer & X86_EFER_NXE) != 0;
    bool pae = (s->cr4 & X86_CR4_PAE) != 0;
    bool lm = (s->msr.efer & X86_EFER_LMA) != 0;
    unsigned esize = pae ? 8 : 4;
    uint64_t rsvd_hi = pae ? ~((1ull << MMU_MAXPHYADDR) - 1) & ~PTE_NX : 0;
    if (pae && !nxe)
        rsvd_hi |= PTE_NX;

    /* Entries visited, for the A/D update after the permission checks. */
    uint64_t ent_pa[5], ent_val[5];
    int levels, n = 0;
    uint64_t table;
    if (lm) {
        levels = 4;
        table = s->cr3 & ADDR_MASK(MMU_MAXPHYADDR);
    } else if (pae) {
        /* PDPTEs (the processor caches them at CR3 load; we re-read). */
        uint64_t pdpte_pa = (s->cr3 & 0xffffffe0) + ((vaddr >> 30) & 3) * 8;
        uint64_t pdpte = read_entry(bus, pdpte_pa, 8);
        if (!(pdpte & PTE_P))
            return fault(w, 0, acc, user, nxe);
        if (pdpte & (rsvd_hi | 0x1e6))
            return fault(w, PF_PRESENT | PF_RSVD, acc, user, nxe);
        levels = 2;
        table = pdpte & ADDR_MASK(MMU_MAXPHYADDR);
    } else {
        levels = 2;
        table = s->cr3 & 0xfffff000;
    }

    bool writable = true, usr = true, exec = true;
    uint64_t entry = 0, page_size = 4096;
    for (int level = levels; level >= 1; level--) {
        unsigned shift = pae ? 12 + 9 * (level - 1) : 12 + 10 * (level - 1);
        uint64_t index = (vaddr >> shift) & (pae ? 0x1ff : 0x3ff);
        uint64_t pa = table + index * esize;
        entry = read_entry(bus, pa, esize);
        ent_pa[n] = pa;
        ent_val[n++] = entry;
        if (!(entry & PTE_P))
            return fault(w, 0, acc, user, nxe);
        if (entry & rsvd_hi)
            return fault(w, PF_PRESENT | PF_RSVD, acc, user, nxe);
        writable &= (entry & PTE_RW) != 0;
        usr &= (entry & PTE_US) != 0;
        if (entry & PTE_NX & ~rsvd_hi)
            exec = false;
        bool large = level > 1 && (entry & PTE_PS) &&
                     (pae ? (level == 2 || (level == 3 && lm)) : (s->cr4 & X86_CR4_PSE));
        if (lm && level == 4 && (entry & PTE_PS))
            return fault(w, PF_PRESENT | PF_RSVD, acc, user, nxe);
        if (lm && level == 3 && (entry & PTE_PS))
            return fault(w, PF_PRESENT | PF_RSVD, acc, user, nxe); /* 1 GiB pages not exposed */
        if (large) {
            page_size = 1ull << shift;
            uint64_t base;
            if (pae) {
                /* Bits 12..shift-1 of a large-page entry are reserved
                 * except bit 12 (PAT). */
                if (entry & ((page_size - 1) & ~0x1fffull))
                    return fault(w, PF_PRESENT | PF_RSVD, acc, user, nxe);
                base = entry & ADDR_MASK(MMU_MAXPHYADDR) & ~(page_size - 1);
            } else {
                /* PSE-36 is not exposed: bits 13..21 must be zero. */
                if (entry & 0x3fe000)
                    return fault(w, PF_PRESENT | PF_RSVD, acc, user, nxe);
                base = entry & 0xffc00000;
            }
            w->paddr = base | (vaddr & (page_size - 1));
            break;
        }
        table = entry & (pae ? ADDR_MASK(MMU_MAXPHYADDR) : 0xfffff000);
        if (level == 1)
            w->paddr = table | (vaddr & 0xfff);
    }

    bool wp = (s->cr0 & X86_CR0_WP) != 0;
    if (user && !usr)
        return fault(w, PF_PRESENT, acc, user, nxe);
    if (acc == MMU_WRITE && !writable && (user || wp))
        return fault(w, PF_PRESENT, acc, user, nxe);
    if (acc == MMU_EXEC && !exec)
        return fault(w, PF_PRESENT, acc, user, nxe);

    if (set_ad) {
        for (int i = 0; i < n - 1; i++)
            set_bits(bus, ent_pa[i], ent_val[i], PTE_A, esize);
        set_bits(bus, ent_pa[n - 1], ent_val[n - 1], acc == MMU_WRITE ? PTE_A | PTE_D : PTE_A,
                 esize);
    }
    w->page_size = page_size;
    w->writable = writable || (!user && !wp);
    w->user = usr;
    w->executable = exec;
    w->global = (entry & PTE_G) != 0;
    return 0;
}

uint64_t mmu_read_linear(struct bus *bus, const struct x86_state *s, uint64_t vaddr, void *buf,
                         uint64_t len)
{
    uint8_t *out = buf;
    uint64_t done = 0;
    while (done < len) {
        struct mmu_walk w;
        if (mmu_translate(bus, s, vaddr + done, MMU_READ, false, false, &w) < 0)
            break;
        uint64_t in_page = 4096 - ((vaddr + done) & 0xfff);
        uint64_t n = len - done < in_page ? len - done : in_page;
        bus_read(bus, w.paddr, out + done, n);
        done += n;
    }
    return done;
}
