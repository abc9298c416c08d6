/* Interpreter core: the run loop, the decoded-instruction cache, the soft
 * TLB, slow memory paths and exception exit. Instruction semantics live in
 * cpu/exec_*.c. */
#include "cpu/interp.h"

#include <stdlib.h>
#include <string.h>

#include "cpu/inst_class.h"
#include "cpu/interp_priv.h"
#include "cpu/timing.h"
#include "sim/object.h"

/* Decoded-instruction cache tags: the linear address, with bits 63:62 set
 * to 01 (32-bit mode) or 10 (16-bit mode) outside 64-bit mode. One-to-one:
 * a canonical 64-bit address has bits 63:47 equal (prefix 00 or 11), a
 * legacy-mode one is below 2^34. No cached instruction starts at 2^64-1
 * (the last 15 bytes of a page are never cached), so that tag means
 * "empty". In 64-bit mode the tag is the address itself. */
#define ICACHE_NO_TAG (~0ull)

static inline uint64_t icache_tag(uint64_t la, enum x86_mode mode)
{
    return mode == X86_MODE_64 ? la : la | (mode == X86_MODE_32 ? 1ull << 62 : 2ull << 62);
}

static inline struct interp_icache_entry *icache_slot(struct interp *ip, uint64_t la)
{
    return &ip->icache[(la ^ (la >> 11)) & (INTERP_ICACHE_SIZE - 1)];
}

x86_exec_fn interp_map1[256];
x86_exec_fn interp_map0f[256];

static void register_handlers(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    exec_int_register();
    exec_ctl_register();
    exec_str_register();
    exec_sse_register();
    exec_x87_register();
    exec_mmx_register();
}

/* SSE opcodes are checked for their prefix/ModRM form; others pass. */
static bool exec_sse_valid_or_other(const struct decoded_insn *in)
{
    static const uint8_t sse_ops[] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2a, 0x2b,
                                      0x2c, 0x2d, 0x2e, 0x2f, 0x50, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xd6, 0xd7,
                                      0xe6, 0xe7, 0xf7};
    uint8_t op = in->opcode;
    bool sse = (op >= 0x51 && op <= 0x7f) || (op >= 0xd1 && op <= 0xfe);
    for (size_t i = 0; !sse && i < sizeof(sse_ops); i++)
        sse = sse_ops[i] == op;
    return !sse || exec_sse_valid(in);
}

bool interp_select(struct decoded_insn *in)
{
    register_handlers();
    x86_exec_fn fn = NULL;
    if (in->map == MAP_1B)
        fn = interp_map1[in->opcode];
    else if (in->map == MAP_0F)
        fn = interp_map0f[in->opcode];
    /* No-prefix forms of the SSE2 integer opcodes are MMX. */
    if (in->map == MAP_0F && !in->rep && !in->opsize_prefix && exec_mmx_opcode(in->opcode))
        fn = exec_mmx_valid(in) ? exec_mmx_handler : NULL;
    else if (fn && in->map == MAP_0F && !exec_sse_valid_or_other(in))
        fn = NULL;
    if (fn && in->map == MAP_1B && in->opcode >= 0xd8 && in->opcode <= 0xdf && !exec_x87_valid(in))
        fn = NULL;
    in->exec = fn;
    if (fn)
        exec_fast_select(in);
    x86_classify(in);
    return fn != NULL;
}

void interp_tlb_flush(struct interp *ip)
{
    for (unsigned i = 0; i < INTERP_TLB_SIZE; i++) {
        ip->tlb[i].read_page = ip->tlb[i].write_page = ip->tlb[i].exec_page = 1;
        ip->tlb[i].addend = 0;
    }
}

void interp_update_align_check(struct interp *ip)
{
    const struct x86_state *s = ip->s;
    ip->align_check = s->seg[S_CS].dpl == 3 && (s->cr0 & X86_CR0_AM) && (s->rflags & X86_FLAG_AC);
}

void interp_state_changed(struct interp *ip)
{
    const struct x86_state *s = ip->s;
    interp_update_align_check(ip);
    if ((s->msr.efer & X86_EFER_LMA) && s->seg[S_CS].l)
        ip->mode = X86_MODE_64;
    else
        ip->mode = s->seg[S_CS].db ? X86_MODE_32 : X86_MODE_16;
    interp_tlb_flush(ip);
}

int interp_init(struct interp *ip, struct x86_state *s, const struct interp_mem_ops *mem)
{
    if (!mem || !mem->translate) {
        err_set("interp: no memory translate hook given");
        return -1;
    }
    memset(ip, 0, sizeof(*ip));
    ip->s = s;
    ip->mem = *mem;
    ip->icache = calloc(INTERP_ICACHE_SIZE, sizeof(*ip->icache));
    if (!ip->icache) {
        err_set("interp: cannot allocate the decoded-instruction cache");
        return -1;
    }
    for (unsigned i = 0; i < INTERP_ICACHE_SIZE; i++) {
        ip->icache[i].tag = ICACHE_NO_TAG;
        ip->icache[i].succ = &ip->icache[i];
    }
    register_handlers();
    interp_state_changed(ip);
    return 0;
}

void interp_destroy(struct interp *ip)
{
    free(ip->icache);
    ip->icache = NULL;
}

_Noreturn void interp_raise(struct interp *ip, uint8_t vector, bool has_error, uint32_t error)
{
    struct x86_events *ev = &ip->s->ev;
    ev->exception_pending = true;
    ev->exception_vector = vector;
    ev->exception_has_error = has_error;
    ev->exception_error = error;
    ev->exception_has_payload = false;
    ip->stop = INTERP_STOP_EXCEPTION;
    longjmp(ip->exc_jump, 1);
}

static _Noreturn void raise_fault(struct interp *ip, const struct interp_fault *f)
{
    if (f->vector == X86_PF) {
        ip->s->ev.exception_payload = f->address;
        ip->s->cr2 = f->address;
    }
    interp_raise(ip, f->vector, f->has_error, f->error);
}

_Noreturn void interp_retire_and_leave(struct interp *ip)
{
    ip->s->rip = ip->next_rip;
    ip->insts++;
    longjmp(ip->exc_jump, 1);
}

_Noreturn void interp_unsupported(struct interp *ip)
{
    ip->stop = INTERP_STOP_UNSUPPORTED;
    longjmp(ip->exc_jump, 1);
}

/* Translates la's page for `access` and caches it; returns the entry. */
static struct interp_tlb_entry *tlb_fill(struct interp *ip, uint64_t la, unsigned access)
{
    if (ip->mode == X86_MODE_64 && !is_canonical(la))
        interp_raise(ip, X86_GP, true, 0);
    uint64_t page = la & ~0xfffull;
    struct interp_fault f = {0};
    ip->fill_paddr = page;
    ip->fill_page_size = TLB_PAGE_4K;
    uint8_t *h = ip->mem.translate(ip->mem.opaque, page, access, &f);
    if (!h && f.vector == INTERP_FAULT_MMIO && ip->mmio.read) {
        if (access & ACC_EXEC)
            interp_unsupported(ip);
        return NULL;
    }
    if (!h) {
        if (f.vector == X86_PF)
            f.address = la; /* CR2 is the faulting byte, not its page */
        raise_fault(ip, &f);
    }
    unsigned idx = (la >> 12) & (INTERP_TLB_SIZE - 1);
    struct interp_tlb_entry *e = &ip->tlb[idx];
    uintptr_t addend = (uintptr_t)h - (uintptr_t)page;
    ip->tlb_phys[idx].addend = ip->fill_paddr - page;
    ip->tlb_phys[idx].page_size = ip->fill_page_size;
    if (e->addend != addend || (e->read_page != page && e->write_page != page && e->exec_page != page))
        e->read_page = e->write_page = e->exec_page = 1;
    e->addend = addend;
    if (access & ACC_WRITE)
        e->write_page = e->read_page = page;
    else if (access & ACC_EXEC)
        e->exec_page = page;
    else
        e->read_page = page;
    return e;
}

static uint8_t *byte_ptr(struct interp *ip, uint64_t la, unsigned access)
{
    struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    uint64_t page = la & ~0xfffull;
    uint64_t tag = access == ACC_WRITE ? e->write_page : access == ACC_EXEC ? e->exec_page : e->read_page;
    if (tag != page)
        e = tlb_fill(ip, la, access);
    return e ? (uint8_t *)(uintptr_t)(la + e->addend) : NULL;
}

/* Bytes [la, la+len) of one page that is device memory, for accesses that
 * cross into or out of it: byte by byte, as the bus splits them too. */
static void mmio_read_bytes(struct interp *ip, uint64_t la, uint8_t *buf, unsigned len)
{
    for (unsigned i = 0; i < len; i++)
        buf[i] = (uint8_t)ip->mmio.read(ip->mem.opaque, la + i, 1);
}

static void mmio_write_bytes(struct interp *ip, uint64_t la, const uint8_t *buf, unsigned len)
{
    for (unsigned i = 0; i < len; i++)
        ip->mmio.write(ip->mem.opaque, la + i, 1, buf[i]);
}

/* Reads (or, with ACC_WRITE, probes for writing) an access that missed the
 * TLB or crosses a page. Both pages are translated before any byte moves. */
uint64_t interp_read_slow(struct interp *ip, uint64_t la, unsigned size, unsigned access)
{
    unsigned first = 4096 - (unsigned)(la & 0xfff);
    if (first >= size) {
        const uint8_t *p = byte_ptr(ip, la, access);
        if (p)
            return load_n(p, size);
        return access == ACC_WRITE ? 0 : ip->mmio.read(ip->mem.opaque, la, size);
    }
    uint8_t *p0 = byte_ptr(ip, la, access);
    uint8_t *p1 = byte_ptr(ip, la + first, access);
    if (access == ACC_WRITE)
        return 0; /* a probe: both pages are writable */
    uint8_t buf[16];
    if (p0)
        memcpy(buf, p0, first);
    else
        mmio_read_bytes(ip, la, buf, first);
    if (p1)
        memcpy(buf + first, p1, size - first);
    else
        mmio_read_bytes(ip, la + first, buf + first, size - first);
    return load_n(buf, size);
}

void interp_write_slow(struct interp *ip, uint64_t la, unsigned size, uint64_t v)
{
    unsigned first = 4096 - (unsigned)(la & 0xfff);
    if (first >= size) {
        uint8_t *p = byte_ptr(ip, la, ACC_WRITE);
        if (p)
            store_n(p, size, v);
        else
            ip->mmio.write(ip->mem.opaque, la, size, v);
        return;
    }
    uint8_t *p0 = byte_ptr(ip, la, ACC_WRITE);
    uint8_t *p1 = byte_ptr(ip, la + first, ACC_WRITE);
    uint8_t buf[16];
    store_n(buf, size, v);
    if (p0)
        memcpy(p0, buf, first);
    else
        mmio_write_bytes(ip, la, buf, first);
    if (p1)
        memcpy(p1, buf + first, size - first);
    else
        mmio_write_bytes(ip, la + first, buf + first, size - first);
}

static _Noreturn void raise_decode(struct interp *ip, enum decode_status st)
{
    if (st == DECODE_TOO_LONG)
        interp_raise(ip, X86_GP, true, 0);
    interp_raise(ip, X86_UD, false, 0);
}

/* Decodes an instruction that crosses into the next page, fetching that
 * page only if the decoder needs its bytes. */
static const struct decoded_insn *decode_crossing(struct interp *ip, uint64_t la, const uint8_t *p,
                                                  struct decoded_insn *out)
{
    unsigned first = 4096 - (unsigned)(la & 0xfff);
    enum decode_status st = x86_decode(p, first, ip->mode, out);
    if (st == DECODE_TRUNCATED) {
        uint8_t buf[X86_MAX_INSN_LEN];
        memcpy(buf, p, first);
        const uint8_t *p1 = byte_ptr(ip, la + first, ACC_EXEC);
        memcpy(buf + first, p1, X86_MAX_INSN_LEN - first);
        st = x86_decode(buf, X86_MAX_INSN_LEN, ip->mode, out);
    }
    if (st != DECODE_OK)
        raise_decode(ip, st);
    if (!interp_select(out))
        interp_raise(ip, X86_UD, false, 0);
    return out;
}

/* Decodes the instruction at la (host bytes p, at least 16 valid) into
 * cache entry c. */
static __attribute__((noinline)) const struct decoded_insn *decode_into(struct interp *ip,
                                                                       struct interp_icache_entry *c,
                                                                       uint64_t la, const uint8_t *p)
{
    enum decode_status st = x86_decode(p, X86_MAX_INSN_LEN, ip->mode, &c->in);
    if (st != DECODE_OK || !interp_select(&c->in)) {
        c->tag = ICACHE_NO_TAG; /* the entry was overwritten by a failed decode: never a hit */
        raise_decode(ip, st == DECODE_OK ? DECODE_UD : st);
    }
    c->tag = icache_tag(la, ip->mode);
    uint8_t mask[16] = {0}, bytes[16] = {0};
    memset(mask, 0xff, c->in.len);
    memcpy(bytes, p, c->in.len);
    memcpy(c->mask, mask, 16);
    memcpy(c->bytes, bytes, 16);
    return &c->in;
}

/* The decoded instruction at RIP: from the cache when its bytes still
 * match memory, else decoded now. */
static inline __attribute__((always_inline)) const struct decoded_insn *fetch(struct interp *ip,
                                                                           struct decoded_insn *scratch)
{
    uint64_t rip = ip->s->rip;
    uint64_t la = ip->mode == X86_MODE_64 ? rip : addr_trunc(rip, 4) + ip->s->seg[S_CS].base;
    struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
    if (UNLIKELY(e->exec_page != (la & ~0xfffull)))
        e = tlb_fill(ip, la, ACC_EXEC);
    const uint8_t *p = (const uint8_t *)(uintptr_t)(la + e->addend);
    unsigned room = 4096 - (unsigned)(la & 0xfff);
    struct interp_icache_entry *c = icache_slot(ip, la);
    if (UNLIKELY(room < 16))
        return decode_crossing(ip, la, p, scratch);
    if (LIKELY(c->tag == icache_tag(la, ip->mode))) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        if (LIKELY(((w0 & c->mask[0]) == c->bytes[0]) & ((w1 & c->mask[1]) == c->bytes[1])))
            return &c->in;
    }
    return decode_into(ip, c, la, p);
}

void interp_timing_data(struct interp *ip, uint64_t la, unsigned size, bool write)
{
    unsigned idx = (la >> 12) & (INTERP_TLB_SIZE - 1);
    const struct interp_tlb_entry *e = &ip->tlb[idx];
    uint64_t page = la & ~0xfffull;
    if (e->read_page != page && e->write_page != page)
        return; /* device memory: never cached, nor in the soft TLB */
    const struct interp_tlb_phys *p = &ip->tlb_phys[idx];
    ip->cycles += timing_data_pa(ip->timing, la, la + p->addend, size, write ? MEM_WRITE : MEM_READ,
                                 (enum tlb_page_size)p->page_size);
}

/* A REP string instruction retires once per chunk of iterations (cpu/
 * exec_str.c) but costs its base cycles per iteration: the iterations after
 * the first, from how far RCX (at the address size) moved. */
static uint64_t rep_iteration_cycles(struct interp *ip, const struct decoded_insn *in, uint64_t rcx_before)
{
    uint64_t mask = size_mask(in->addrsize);
    uint64_t iterations = ((rcx_before & mask) - (ip->s->gpr[R_RCX] & mask)) & mask;
    if (iterations <= 1)
        return 0;
    uint64_t extra = (iterations - 1) * ip->timing->cost[IC_STRING];
    ip->timing->cpi.base += extra;
    return extra;
}

/* interp_run's loop with cycle accounting: the fetch (ITLB, L1I at the
 * physical address), the class's base cost, the data accesses (charged by
 * mem_read/mem_write) and the branch outcome of every retired instruction.
 * An instruction that faults is charged its fetch only. */
static __attribute__((noinline)) void run_timed(struct interp *ip, uint64_t target)
{
    struct x86_state *s = ip->s;
    struct timing_model *t = ip->timing;
    struct decoded_insn scratch;
    while (ip->insts < target && ip->cycles < ip->cycle_limit) {
        const struct decoded_insn *in = fetch(ip, &scratch);
        uint64_t rip = s->rip;
        uint64_t la = ip->mode == X86_MODE_64 ? rip : addr_trunc(rip, 4) + s->seg[S_CS].base;
        const struct interp_tlb_phys *p = &ip->tlb_phys[(la >> 12) & (INTERP_TLB_SIZE - 1)];
        ip->cycles += timing_fetch_pa(t, la, la + p->addend, in->len, (enum tlb_page_size)p->page_size);
        uint64_t next = rip + in->len;
        uint64_t fallthrough =
            ip->mode == X86_MODE_64 ? next : ip->mode == X86_MODE_32 ? (uint32_t)next : (uint16_t)next;
        ip->next_rip = fallthrough;
        uint64_t rcx = s->gpr[R_RCX];
        in->exec(ip, in);
        ip->cycles += timing_inst(t, (enum inst_class)in->iclass);
        if (UNLIKELY(in->iclass == IC_STRING && in->rep))
            ip->cycles += rep_iteration_cycles(ip, in, rcx);
        if (in->bkind)
            ip->cycles += timing_branch(t, rip, fallthrough, ip->next_rip != fallthrough, ip->next_rip,
                                        (enum branch_kind)(in->bkind - 1));
        s->rip = ip->next_rip;
        ip->insts++;
    }
}

/* The functional loop (no timing model), specialised for the code
 * segment's mode so 64-bit code computes neither the CS base nor the RIP
 * truncation. It keeps the current code page's host address across
 * instructions: nothing inside interp_run flushes the soft TLB (CR3
 * writes, INVLPG and mode changes are system instructions, which end the
 * run), so a translation used once stays valid until the run returns. The
 * next decoded record is first looked for where it was last time (the
 * previous record's `succ`), then by index. Every record is still
 * confirmed against the bytes in memory before it runs, so self-modifying
 * code stays exact. RIP and the retired count live in registers and are
 * stored once per instruction, where handlers and the exception exit read
 * them. */
static inline __attribute__((always_inline)) void run_fast_mode(struct interp *ip, uint64_t target,
                                                              const enum x86_mode mode)
{
    struct x86_state *s = ip->s;
    const uint64_t cs_base = mode == X86_MODE_64 ? 0 : s->seg[S_CS].base;
    uint64_t rip = s->rip;
    /* Linear page of code_addend. It starts 2^63 away from the first fetch,
     * so the first "la - code_page" test below always refills (a fixed
     * sentinel would pass it for low addresses, e.g. real-mode code). */
    uint64_t code_page = (mode == X86_MODE_64 ? rip : (uint32_t)rip + cs_base) + (1ull << 63);
    uintptr_t code_addend = 0;
    uint64_t left = target - ip->insts; /* interp_run: target > insts */
    struct decoded_insn scratch;
    struct interp_icache_entry *no_link = ip->icache;
    struct interp_icache_entry **link = &no_link; /* the previous record's succ */
    while (left) {
        uint64_t la = mode == X86_MODE_64 ? rip : (uint32_t)rip + cs_base;
        const struct decoded_insn *in;
        /* One compare for both "another page" and "the last 15 bytes". */
        if (UNLIKELY(la - code_page > 4096 - 16)) {
            if ((la & ~0xfffull) != code_page) {
                struct interp_tlb_entry *e = &ip->tlb[(la >> 12) & (INTERP_TLB_SIZE - 1)];
                if (e->exec_page != (la & ~0xfffull))
                    e = tlb_fill(ip, la, ACC_EXEC);
                code_page = la & ~0xfffull;
                code_addend = e->addend;
            }
            if ((la & 0xfff) > 4096 - 16) {
                in = decode_crossing(ip, la, (const uint8_t *)(uintptr_t)(la + code_addend), &scratch);
                link = &no_link;
                goto execute;
            }
        }
        {
            const uint8_t *p = (const uint8_t *)(uintptr_t)(la + code_addend);
            uint64_t tag = icache_tag(la, mode);
            struct interp_icache_entry *c = *link;
            uint64_t w0, w1;
            memcpy(&w0, p, 8);
            memcpy(&w1, p + 8, 8);
            if (UNLIKELY(c->tag != tag)) {
                c = icache_slot(ip, la);
                *link = c;
                if (c->tag != tag)
                    goto decode;
            }
            if (LIKELY((w0 & c->mask[0]) == c->bytes[0] && (w1 & c->mask[1]) == c->bytes[1])) {
                in = &c->in;
            } else {
            decode:
                in = decode_into(ip, c, la, p);
            }
            link = &c->succ;
        }
    execute:;
        uint64_t next = rip + in->len;
        ip->next_rip = mode == X86_MODE_64 ? next : mode == X86_MODE_32 ? (uint32_t)next : (uint16_t)next;
        in->exec(ip, in);
        rip = ip->next_rip;
        s->rip = rip;
        ip->insts++;
        left--;
    }
}

static __attribute__((noinline)) void run_fast(struct interp *ip, uint64_t target)
{
    switch (ip->mode) {
    case X86_MODE_64: run_fast_mode(ip, target, X86_MODE_64); break;
    case X86_MODE_32: run_fast_mode(ip, target, X86_MODE_32); break;
    default: run_fast_mode(ip, target, X86_MODE_16); break;
    }
}

enum interp_stop interp_run(struct interp *ip, uint64_t count)
{
    uint64_t target = count > UINT64_MAX - ip->insts ? UINT64_MAX : ip->insts + count;
    ip->stop = INTERP_STOP_COUNT;
    if (setjmp(ip->exc_jump)) {
        flags_sync(ip);
        return ip->stop;
    }
    if (UNLIKELY(ip->timing))
        run_timed(ip, target);
    else if (target > ip->insts)
        run_fast(ip, target);
    flags_sync(ip);
    return INTERP_STOP_COUNT;
}
