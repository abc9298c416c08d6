/* String instructions MOVS/CMPS/STOS/LODS/SCAS with REP/REPE/REPNE and DF
 * (SDM Vol. 2, "REP/REPE/REPZ/REPNE/REPNZ"). The source segment may be
 * overridden, the destination is always ES:rDI; rSI/rDI/rCX are used at the
 * address size. A long REP runs in chunks: after STR_CHUNK iterations the
 * instruction is left with RIP unchanged and the registers updated, as when
 * an interrupt arrives mid-way, so the run loop can stop between chunks. */
#include "cpu/interp_priv.h"

#define STR_CHUNK 4096

static inline uint64_t reg_at_addrsize(const struct interp *ip, unsigned r, unsigned as)
{
    return addr_trunc(ip->s->gpr[r], as);
}

static inline void reg_set_addrsize(struct interp *ip, unsigned r, unsigned as, uint64_t v)
{
    uint64_t *g = &ip->s->gpr[r];
    *g = as == 8 ? v : as == 4 ? (uint32_t)v : ((*g & ~0xffffull) | (v & 0xffff));
}

/* Host address of la for `access` when the soft TLB already holds its
 * page (no fill: a miss goes through the per-element path, which faults
 * in the architectural order). */
static inline uint8_t *tlb_hit(struct interp *ip, uint64_t la, unsigned access)
{
    const struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    uint64_t tag = access == ACC_WRITE ? e->write_page : e->read_page;
    return tag == (la & ~0xfffull) ? (uint8_t *)(uintptr_t)(la + e->addend) : NULL;
}

/* REP MOVS / REP STOS with 64-bit addressing and DF=0, functional mode:
 * up to `limit` whole elements that lie inside the current source and
 * destination pages, moved at once. Returns how many (RSI/RDI updated),
 * 0 when the next element needs the per-element path (a TLB miss, device
 * memory, a page-crossing element, or a MOVS whose destination overlaps
 * the source ahead of it, where the element-by-element copy repeats
 * bytes). */
static uint64_t rep_bulk(struct interp *ip, uint8_t op, unsigned size, uint64_t src_base, uint64_t dst_base,
                         uint64_t limit, const struct decoded_insn *in)
{
    uint64_t *g = ip->s->gpr;
    uint64_t dst = g[R_RDI] + dst_base;
    uint64_t k = (4096 - (dst & 0xfff)) / size;
    uint8_t *pd = tlb_hit(ip, dst, ACC_WRITE);
    k = limit < k ? limit : k;
    if (!pd || k == 0)
        return 0;
    if (op == 0xa4) {
        uint64_t src = g[R_RSI] + src_base;
        uint64_t ks = (4096 - (src & 0xfff)) / size;
        const uint8_t *ps = tlb_hit(ip, src, ACC_READ);
        k = ks < k ? ks : k;
        if (!ps || k == 0 || (pd > ps && pd < ps + k * size))
            return 0;
        memmove(pd, ps, k * size);
        g[R_RSI] += k * size;
    } else {
        uint64_t v = reg_read(ip, R_RAX, size, in);
        if (size == 1) {
            memset(pd, (int)v, k);
        } else {
            for (uint64_t i = 0; i < k; i++)
                store_n(pd + i * size, size, v);
        }
    }
    g[R_RDI] += k * size;
    return k;
}

static void string_op(struct interp *ip, const struct decoded_insn *in)
{
    unsigned size = opsz_w(in), as = in->addrsize;
    uint8_t op = in->opcode & 0xfe;
    int64_t delta = flag(ip, X86_FLAG_DF) ? -(int64_t)size : (int64_t)size;
    uint64_t src_base = seg_base(ip, in->seg), dst_base = seg_base(ip, S_ES);
    bool rep = in->rep != 0;
    uint64_t count = rep ? reg_at_addrsize(ip, R_RCX, as) : 1;
    /* Not with per-element work the bulk path would skip: timing hooks, #AC. */
    bool bulk = rep && (op == 0xa4 || op == 0xaa) && as == 8 && delta > 0 && !ip->timing && !ip->align_check;
    for (unsigned n = 0; count != 0; n++) {
        if (n == STR_CHUNK) {
            ip->next_rip = ip->s->rip; /* resume this instruction */
            return;
        }
        if (bulk && count > 1) {
            uint64_t k = rep_bulk(ip, op, size, src_base, dst_base, count < STR_CHUNK - n ? count : STR_CHUNK - n, in);
            if (k) {
                count -= k;
                reg_set_addrsize(ip, R_RCX, as, count);
                n += (unsigned)k - 1;
                continue;
            }
        }
        uint64_t si = reg_at_addrsize(ip, R_RSI, as), di = reg_at_addrsize(ip, R_RDI, as);
        bool stop = false;
        switch (op) {
        case 0xa4: /* MOVS */
            mem_write(ip, di + dst_base, size, mem_read(ip, si + src_base, size));
            reg_set_addrsize(ip, R_RSI, as, si + (uint64_t)delta);
            reg_set_addrsize(ip, R_RDI, as, di + (uint64_t)delta);
            break;
        case 0xa6: { /* CMPS: [rSI] - [rDI] */
            uint64_t a = mem_read(ip, si + src_base, size);
            uint64_t b = mem_read(ip, di + dst_base, size);
            alu_sub(ip, a, b, 0, size);
            reg_set_addrsize(ip, R_RSI, as, si + (uint64_t)delta);
            reg_set_addrsize(ip, R_RDI, as, di + (uint64_t)delta);
            stop = true;
            break;
        }
        case 0xaa: /* STOS */
            mem_write(ip, di + dst_base, size, reg_read(ip, R_RAX, size, in));
            reg_set_addrsize(ip, R_RDI, as, di + (uint64_t)delta);
            break;
        case 0xac: /* LODS */
            reg_write(ip, R_RAX, size, in, mem_read(ip, si + src_base, size));
            reg_set_addrsize(ip, R_RSI, as, si + (uint64_t)delta);
            break;
        default: /* SCAS: rAX - [rDI] */
            alu_sub(ip, reg_read(ip, R_RAX, size, in), mem_read(ip, di + dst_base, size), 0, size);
            reg_set_addrsize(ip, R_RDI, as, di + (uint64_t)delta);
            stop = true;
            break;
        }
        if (!rep)
            return;
        count--;
        reg_set_addrsize(ip, R_RCX, as, count);
        /* REPE/REPNE end CMPS/SCAS on the ZF condition. */
        if (stop && (in->rep == 0xf3) != flag(ip, X86_FLAG_ZF))
            return;
    }
}

static HANDLER(exec_string)
{
    string_op(ip, in);
}

void exec_str_register(void)
{
    for (unsigned op = 0xa4; op <= 0xa7; op++)
        interp_map1[op] = exec_string;
    for (unsigned op = 0xaa; op <= 0xaf; op++)
        interp_map1[op] = exec_string;
}
