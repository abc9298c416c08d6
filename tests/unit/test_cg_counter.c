/* The cachegrind counting mode (cpu/cg_counter.c) on the user-level
 * interpreter with a TimingModel: region markers, counting only the marked
 * process at CPL 3, at retirement (a faulting instruction counts once),
 * cachegrind's merging of read-modify-writes and of wide operands, the
 * clamp, the per-instruction buffer limit, configuration errors and
 * serialization. */
#include <string.h>

#include "cpu/cg_counter.h"
#include "cpu/interp.h"
#include "cpu/timing.h"
#include "sim/serialize.h"
#include "testlib.h"

#define GUEST_BASE 0x400000ull
#define GUEST_PAGES 4
#define CR3_PROCESS 0x123000ull
static uint8_t guest[GUEST_PAGES * 4096] __attribute__((aligned(4096)));
/* Pages whose next data access faults once (demand paging). */
static bool fault_once[GUEST_PAGES];

static struct test_flat_mem flat = {guest, GUEST_BASE, sizeof(guest), sizeof(guest)};

static uint8_t *test_translate(void *opaque, uint64_t la, unsigned access, struct interp_fault *f)
{
    uint64_t off = la - GUEST_BASE;
    if (la >= GUEST_BASE && off < sizeof(guest) && !(access & ACC_EXEC) && fault_once[off / 4096]) {
        fault_once[off / 4096] = false;
        static const struct test_flat_mem nothing; /* every access faults */
        return test_flat_translate((void *)&nothing, la, access, f);
    }
    return test_flat_translate(opaque, la, access, f);
}

static int begins, ends;

static void marker(void *opaque, int which)
{
    if (which == INTERP_MARKER_ROI_BEGIN) {
        begins++;
        cg_begin(opaque);
    } else {
        ends++;
    }
}

struct machine {
    struct simulation sim;
    struct x86_state st;
    struct interp ip;
    struct timing_model *t;
    struct cg_counter *cg;
    struct cache *i1, *d1, *ll;
};

static struct cache *cg_cache(struct simulation *sim, const char *path, const char *size,
                              const char *line, struct cache *next)
{
    struct sim_object *o = test_new_object(sim, "Cache", path);
    test_set_param(o, "size", size);
    test_set_param(o, "assoc", "2");
    test_set_param(o, "line_size", line);
    test_set_param(o, "cachegrind", "true");
    if (next)
        test_set_ref(o, "next_level", &next->obj);
    return SIM_CAST(struct cache, o);
}

/* I1 and D1 1 KiB 2-way with 64-byte lines, over a 4 KiB LL with ll_line. */
static void build(struct machine *m, const char *ll_line)
{
    memset(m, 0, sizeof(*m));
    sim_init(&m->sim);
    m->ll = cg_cache(&m->sim, "ll", "4k", ll_line, NULL);
    m->i1 = cg_cache(&m->sim, "i1", "1k", "64", m->ll);
    m->d1 = cg_cache(&m->sim, "d1", "1k", "64", m->ll);
    struct sim_object *cg = test_new_object(&m->sim, "CachegrindCounter", "cg");
    test_set_ref(cg, "icache", &m->i1->obj);
    test_set_ref(cg, "dcache", &m->d1->obj);
    struct sim_object *t = test_new_object(&m->sim, "TimingModel", "timing");
    test_set_ref(t, "cachegrind", cg);
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    m->t = SIM_CAST(struct timing_model, t);
    m->cg = SIM_CAST(struct cg_counter, cg);
    ck_assert_ptr_eq(m->t->cg, m->cg);
}

/* 64-bit user mode (CPL 3) under CR3_PROCESS, code at GUEST_BASE. */
static void start(struct machine *m, const uint8_t *code, size_t len)
{
    memset(guest, 0, sizeof(guest));
    memset(fault_once, 0, sizeof(fault_once));
    memcpy(guest, code, len);
    struct x86_state *s = &m->st;
    test_user64_state(s, GUEST_BASE);
    s->cr0 = X86_CR0_PE | X86_CR0_PG;
    s->cr4 = X86_CR4_OSFXSR | X86_CR4_PAE;
    s->cr3 = CR3_PROCESS | 0x5; /* PCID 5: not part of the process's identity */
    s->gpr[R_RSP] = GUEST_BASE + 3 * 4096;
    s->gpr[R_RBX] = GUEST_BASE + 0x1000;
    s->fx.mxcsr = 0x1f80;
    struct interp_mem_ops ops = {test_translate, &flat};
    ck_assert_int_eq(interp_init(&m->ip, s, &ops), 0);
    m->ip.timing = m->t;
    m->ip.cycle_limit = UINT64_MAX;
    m->ip.marker = marker;
    m->ip.marker_opaque = m->cg;
    cg_attach_state(m->cg, s);
    interp_state_changed(&m->ip);
    begins = ends = 0;
}

static void finish(struct machine *m)
{
    interp_destroy(&m->ip);
    sim_destroy(&m->sim);
}

#define BEGIN_MARKER 0x0f, 0x1f, 0x84, 0x00, 0x42, 0x4e, 0x44, 0x4d
#define END_MARKER 0x0f, 0x1f, 0x84, 0x00, 0x45, 0x4e, 0x44, 0x4d

static const uint8_t program[] = {
    0x48, 0x8b, 0x03,             /* mov rax, [rbx]        before the marker: not counted */
    BEGIN_MARKER,                 /* counted itself */
    0x48, 0x01, 0x0b,             /* add [rbx], rcx        one modify (faults once first) */
    0xf3, 0x0f, 0x6f, 0x43, 0x3b, /* movdqu xmm0, [rbx+59] one 16-byte read, two lines */
    0x48, 0x89, 0x43, 0x40,       /* mov [rbx+64], rax     a write */
    0x0f, 0x1f, 0x84, 0x00, 0x44, 0x4e, 0x44, 0x4d, /* nopl with another displacement: a NOP */
    END_MARKER,
    0x90,                         /* nop */
};

START_TEST(counts_the_marked_process_like_cachegrind)
{
    struct machine m;
    build(&m, "64");
    start(&m, program, sizeof(program));
    ck_assert_int_eq(interp_run(&m.ip, 1), INTERP_STOP_COUNT);
    ck_assert_uint_eq(m.cg->insts, 0); /* no region yet */
    fault_once[1] = true;
    ck_assert_int_eq(interp_run(&m.ip, 10), INTERP_STOP_EXCEPTION); /* add [rbx] faults */
    ck_assert_int_eq(begins, 1);
    ck_assert_uint_eq(m.cg->insts, 1); /* the marker */
    m.st.ev.exception_pending = false;
    ck_assert_int_eq(interp_run(&m.ip, 6), INTERP_STOP_COUNT); /* add again ... nop */
    ck_assert_int_eq(ends, 1);
    ck_assert_uint_eq(m.cg->insts, 7);
    ck_assert_uint_eq(m.i1->read_accesses, 7);
    ck_assert_uint_eq(m.cg->data_accesses, 3);
    ck_assert_uint_eq(m.cg->modifies, 1);
    ck_assert_uint_eq(m.d1->read_accesses, 2); /* the modify and the 16-byte read */
    ck_assert_uint_eq(m.d1->write_accesses, 1);
    /* modify misses line 0; the straddling read hits line 0 but misses line 1
     * (one miss); the write hits line 1. */
    ck_assert_uint_eq(m.d1->read_misses, 2);
    ck_assert_uint_eq(m.d1->write_misses, 0);
    ck_assert_uint_eq(m.cg->dropped, 0);

    /* Kernel mode, or another process: not counted. */
    m.st.rip = GUEST_BASE + sizeof(program) - 1;
    m.st.seg[S_CS].selector = 0x10;
    ck_assert_int_eq(interp_run(&m.ip, 1), INTERP_STOP_COUNT);
    m.st.rip = GUEST_BASE + sizeof(program) - 1;
    m.st.seg[S_CS].selector = 0x33;
    m.st.cr3 = CR3_PROCESS + 0x1000;
    ck_assert_int_eq(interp_run(&m.ip, 1), INTERP_STOP_COUNT);
    ck_assert_uint_eq(m.cg->insts, 7);
    /* The process again (another PCID): counted. */
    m.st.rip = GUEST_BASE + sizeof(program) - 1;
    m.st.cr3 = CR3_PROCESS | 0x9;
    ck_assert_int_eq(interp_run(&m.ip, 1), INTERP_STOP_COUNT);
    ck_assert_uint_eq(m.cg->insts, 8);
    /* After the region: nothing. */
    cg_stop(m.cg);
    m.st.rip = GUEST_BASE + sizeof(program) - 1;
    ck_assert_int_eq(interp_run(&m.ip, 1), INTERP_STOP_COUNT);
    ck_assert_uint_eq(m.cg->insts, 8);
    finish(&m);
}
END_TEST

START_TEST(begin_marker_starts_cold)
{
    struct machine m;
    build(&m, "64");
    static const uint8_t code[] = {BEGIN_MARKER, 0x48, 0x8b, 0x03, BEGIN_MARKER, 0x48, 0x8b, 0x03};
    start(&m, code, sizeof(code));
    ck_assert_int_eq(interp_run(&m.ip, 2), INTERP_STOP_COUNT);
    ck_assert_uint_eq(m.d1->read_misses, 1);
    ck_assert_int_eq(interp_run(&m.ip, 2), INTERP_STOP_COUNT);
    /* The second region starts with empty caches: the same load misses
     * again (stats are the region's to reset, not the counter's). */
    ck_assert_uint_eq(m.cg->regions, 2);
    ck_assert_uint_eq(m.d1->read_misses, 2);
    ck_assert_uint_eq(m.ll->read_misses, 4); /* the code line and the data line, per region */
    finish(&m);
}
END_TEST

START_TEST(merging_clamp_and_buffer_limit)
{
    struct machine m;
    build(&m, "32"); /* the smallest line anywhere: 32 bytes */
    static const uint8_t code[] = {BEGIN_MARKER};
    start(&m, code, sizeof(code));
    ck_assert_int_eq(interp_run(&m.ip, 1), INTERP_STOP_COUNT);
    ck_assert_uint_eq(m.cg->max_access, 32);
    struct timing_model *t = m.t;
    uint64_t base = GUEST_BASE + 0x2000;
    /* FXSAVE-like: 64 adjacent 8-byte writes, one 512-byte access clamped
     * to 32 bytes: one line. */
    timing_fetch(t, GUEST_BASE, 4, TLB_PAGE_4K);
    for (unsigned i = 0; i < 64; i++)
        timing_data(t, base + 8 * i, 8, MEM_WRITE, TLB_PAGE_4K);
    timing_inst(t, IC_STORE);
    ck_assert_uint_eq(m.d1->write_accesses, 1);
    ck_assert_uint_eq(m.d1->write_misses, 1);
    ck_assert(!cache_probe(m.d1, base + 64));
    /* A read then a write of another size, or of another address: two
     * accesses, no modify. */
    timing_fetch(t, GUEST_BASE, 4, TLB_PAGE_4K);
    timing_data(t, base, 8, MEM_READ, TLB_PAGE_4K);
    timing_data(t, base, 4, MEM_WRITE, TLB_PAGE_4K);
    timing_inst(t, IC_ALU);
    ck_assert_uint_eq(m.cg->modifies, 0);
    ck_assert_uint_eq(m.d1->read_accesses, 1);
    ck_assert_uint_eq(m.d1->write_accesses, 2);
    /* More separate accesses than the buffer holds: the rest are dropped
     * and counted. */
    timing_fetch(t, GUEST_BASE, 4, TLB_PAGE_4K);
    for (unsigned i = 0; i < CG_MAX_ACCESSES + 3; i++)
        timing_data(t, base + 64 * i, 8, MEM_READ, TLB_PAGE_4K);
    timing_inst(t, IC_LOAD);
    ck_assert_uint_eq(m.cg->dropped, 3);
    ck_assert_uint_eq(m.d1->read_accesses, 1 + CG_MAX_ACCESSES);
    /* A fetch without a retirement (a fault) leaves nothing behind. */
    timing_fetch(t, GUEST_BASE, 4, TLB_PAGE_4K);
    timing_data(t, base, 8, MEM_READ, TLB_PAGE_4K);
    timing_fetch(t, GUEST_BASE, 4, TLB_PAGE_4K);
    timing_inst(t, IC_NOP);
    ck_assert_uint_eq(m.d1->read_accesses, 1 + CG_MAX_ACCESSES);
    ck_assert_uint_eq(m.cg->insts, 5);
    finish(&m);
}
END_TEST

START_TEST(serialized_mid_instruction)
{
    struct machine a, b;
    build(&a, "64");
    static const uint8_t code[] = {BEGIN_MARKER};
    start(&a, code, sizeof(code));
    ck_assert_int_eq(interp_run(&a.ip, 1), INTERP_STOP_COUNT);
    timing_fetch(a.t, GUEST_BASE, 3, TLB_PAGE_4K);
    timing_data(a.t, GUEST_BASE + 0x1000, 8, MEM_READ, TLB_PAGE_4K);
    timing_data(a.t, GUEST_BASE + 0x1000, 8, MEM_WRITE, TLB_PAGE_4K);
    struct ser_node *n = sim_serialize(&a.sim);
    build(&b, "64");
    ck_assert_msg(sim_unserialize(&b.sim, n) == 0, "%s", err_get());
    ck_assert_uint_eq(b.cg->cr3, CR3_PROCESS);
    ck_assert(b.cg->counting && b.cg->counted);
    ck_assert_uint_eq(b.cg->n, 1);
    ck_assert_uint_eq(b.cg->acc[0].op, MEM_MODIFY);
    test_assert_same_state(&a.sim, &b.sim);
    /* The restored counter finishes the instruction like the original. */
    timing_inst(a.t, IC_ALU);
    timing_inst(b.t, IC_ALU);
    ck_assert_uint_eq(b.cg->modifies, 1);
    test_assert_same_state(&a.sim, &b.sim);
    ser_node_free(n);
    finish(&a);
    sim_destroy(&b.sim);
}
END_TEST

START_TEST(refuses_caches_not_in_cachegrind_mode)
{
    struct simulation sim;
    sim_init(&sim);
    struct sim_object *ll = test_new_object(&sim, "Cache", "ll"); /* not cachegrind mode */
    struct cache *i1 = cg_cache(&sim, "i1", "1k", "64", SIM_CAST(struct cache, ll));
    struct cache *d1 = cg_cache(&sim, "d1", "1k", "64", SIM_CAST(struct cache, ll));
    struct sim_object *cg = test_new_object(&sim, "CachegrindCounter", "cg");
    test_set_ref(cg, "icache", &i1->obj);
    test_set_ref(cg, "dcache", &d1->obj);
    ck_assert_int_ne(sim_instantiate(&sim), 0);
    ck_assert_msg(strstr(err_get(), "ll") && strstr(err_get(), "cachegrind mode"), "%s", err_get());
    sim_destroy(&sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cg_counter");
    TCase *tc = tcase_create("cg_counter");
    tcase_add_test(tc, counts_the_marked_process_like_cachegrind);
    tcase_add_test(tc, begin_marker_starts_cold);
    tcase_add_test(tc, merging_clamp_and_buffer_limit);
    tcase_add_test(tc, serialized_mid_instruction);
    tcase_add_test(tc, refuses_caches_not_in_cachegrind_mode);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
