/* Branch predictor and TimingModel: learning loops and patterns, BTB and
 * RAS behaviour, parameter errors, random branch streams, serialization,
 * and the CPI stack the timing model accumulates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/bpred.h"
#include "cpu/timing.h"
#include "sim/serialize.h"
#include "testlib.h"

static struct bpred *new_bpred(struct simulation *sim, const char *kind)
{
    sim_init(sim);
    struct sim_object *o = sim_create(sim, "BranchPredictor", "bp");
    ck_assert_msg(o, "%s", err_get());
    test_set_param(o, "kind", kind);
    return SIM_CAST(struct bpred, o);
}

START_TEST(bimodal_learns_a_loop)
{
    struct simulation sim;
    struct bpred *b = new_bpred(&sim, "bimodal");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    unsigned late_mispredicts = 0;
    /* A 10-iteration loop run 50 times: taken 9 times, then falls out. */
    for (int run = 0; run < 50; run++)
        for (int i = 0; i < 10; i++) {
            bool wrong = bpred_branch(b, 0x401010, 0x401012, i < 9, 0x401000, BRANCH_COND);
            if (run >= 2)
                late_mispredicts += wrong;
        }
    /* Once trained only the loop exit mispredicts. */
    ck_assert_uint_eq(late_mispredicts, 48);
    ck_assert_uint_eq(b->cond_branches, 500);
    ck_assert_uint_eq(b->btb_misses, 1);
    sim_destroy(&sim);
}
END_TEST

static unsigned alternating_mispredicts(const char *kind)
{
    struct simulation sim;
    struct bpred *b = new_bpred(&sim, kind);
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    for (int i = 0; i < 1000; i++)
        bpred_branch(b, 0x5000, 0x5002, i & 1, 0x6000, BRANCH_COND);
    unsigned late = 0;
    for (int i = 0; i < 1000; i++)
        late += bpred_branch(b, 0x5000, 0x5002, i & 1, 0x6000, BRANCH_COND);
    sim_destroy(&sim);
    return late;
}

START_TEST(gshare_learns_what_bimodal_cannot)
{
    /* T,N,T,N...: a 2-bit counter flips between weak states and is wrong
     * about half the time or more; gshare's history separates the cases. */
    ck_assert_uint_ge(alternating_mispredicts("bimodal"), 500);
    ck_assert_uint_eq(alternating_mispredicts("gshare"), 0);
}
END_TEST

START_TEST(return_address_stack)
{
    struct simulation sim;
    struct bpred *b = new_bpred(&sim, "gshare");
    test_set_param(&b->obj, "ras_depth", "4");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    /* Nested calls 3 deep, returns in order: all returns predicted. */
    for (uint64_t d = 0; d < 3; d++)
        bpred_branch(b, 0x1000 + d * 0x100, 0x1005 + d * 0x100, true, 0x1100 + d * 0x100,
                     BRANCH_CALL);
    for (int d = 2; d >= 0; d--)
        ck_assert(!bpred_branch(b, 0x9000, 0x9001, true, 0x1005 + (uint64_t)d * 0x100, BRANCH_RET));
    ck_assert_uint_eq(b->ras_mispredicts, 0);
    /* Empty stack: a return mispredicts. */
    ck_assert(bpred_branch(b, 0x9000, 0x9001, true, 0x1234, BRANCH_RET));
    /* 6 calls into a 4-deep stack: the 4 newest come back right, then the
     * overwritten ones are lost. */
    for (uint64_t d = 0; d < 6; d++)
        bpred_branch(b, 0x2000, 0x2005 + d, true, 0x3000, BRANCH_CALL);
    unsigned wrong = 0;
    for (int d = 5; d >= 0; d--)
        wrong += bpred_branch(b, 0x9000, 0x9001, true, 0x2005 + (uint64_t)d, BRANCH_RET);
    ck_assert_uint_eq(wrong, 2);
    ck_assert_uint_eq(b->ras_mispredicts, 3);
    ck_assert_uint_eq(b->returns, 10);
    sim_destroy(&sim);
}
END_TEST

START_TEST(btb_predicts_targets)
{
    struct simulation sim;
    struct bpred *b = new_bpred(&sim, "gshare");
    test_set_param(&b->obj, "btb_entries", "4");
    test_set_param(&b->obj, "btb_assoc", "2"); /* 2 sets */
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert(bpred_branch(b, 0x100, 0x102, true, 0x500, BRANCH_UNCOND)); /* cold */
    ck_assert(!bpred_branch(b, 0x100, 0x102, true, 0x500, BRANCH_UNCOND));
    /* An indirect jump whose target changes mispredicts each change. */
    ck_assert(bpred_branch(b, 0x200, 0x202, true, 0x600, BRANCH_INDIRECT));
    ck_assert(!bpred_branch(b, 0x200, 0x202, true, 0x600, BRANCH_INDIRECT));
    ck_assert(bpred_branch(b, 0x200, 0x202, true, 0x700, BRANCH_INDIRECT));
    ck_assert_uint_eq(b->indirect_mispredicts, 2);
    /* Three branches in set 0 (even PCs) of a 2-way BTB: LRU evicts 0x100. */
    bpred_branch(b, 0x300, 0x302, true, 0x800, BRANCH_UNCOND);
    ck_assert(bpred_branch(b, 0x100, 0x102, true, 0x500, BRANCH_UNCOND));
    ck_assert_uint_eq(b->btb_misses, 4);
    ck_assert_uint_eq(b->mispredicts, 5);
    sim_destroy(&sim);
}
END_TEST

START_TEST(bad_parameters_are_refused)
{
    struct simulation sim;
    struct bpred *b = new_bpred(&sim, "gshare");
    test_set_param(&b->obj, "table_entries", "1000");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "table_entries must be a power of two"), "%s", err_get());
    sim_destroy(&sim);
    b = new_bpred(&sim, "gshare");
    test_set_param(&b->obj, "btb_entries", "24");
    test_set_param(&b->obj, "btb_assoc", "4");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "btb_entries"), "%s", err_get());
    sim_destroy(&sim);
    b = new_bpred(&sim, "gshare");
    ck_assert_int_eq(param_set_text(&b->obj, sim_type_param(b->obj.type, "kind"), "tage"), -1);
    sim_destroy(&sim);
}
END_TEST

static void random_branches(struct bpred *b, uint64_t *seed, int count)
{
    for (int i = 0; i < count; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t x = *seed >> 11;
        uint64_t pc = 0x400000 + (x & 0xfff);
        enum branch_kind kind = (enum branch_kind)((x >> 12) % 5);
        bool taken = kind != BRANCH_COND || ((x >> 16) & 3) != 0;
        bpred_branch(b, pc, pc + 2 + ((x >> 20) & 7), taken, 0x400000 + ((x >> 24) & 0xffff), kind);
    }
}

START_TEST(random_streams_and_serialization)
{
    struct simulation a, c;
    struct bpred *ba = new_bpred(&a, "gshare");
    test_set_param(&ba->obj, "ras_depth", "8");
    ck_assert_int_eq(sim_instantiate(&a), 0);
    struct bpred *bc = new_bpred(&c, "gshare");
    test_set_param(&bc->obj, "ras_depth", "8");
    ck_assert_int_eq(sim_instantiate(&c), 0);
    uint64_t seed = 5;
    random_branches(ba, &seed, 50000);
    struct ser_node *mid = sim_serialize(&a);
    ck_assert_msg(sim_unserialize(&c, mid) == 0, "%s", err_get());
    uint64_t seed_c = seed;
    random_branches(ba, &seed, 50000);
    random_branches(bc, &seed_c, 50000);
    struct ser_node *na = sim_serialize(&a), *nc = sim_serialize(&c);
    ck_assert(ser_node_equal(na, nc));
    ck_assert_uint_eq(ba->lookups, 100000);
    ck_assert_uint_eq(ba->mispredicts, bc->mispredicts);
    ck_assert_uint_le(ba->cond_mispredicts, ba->cond_branches);
    ck_assert_uint_le(ba->mispredicts, ba->lookups);
    ser_node_free(mid);
    ser_node_free(na);
    ser_node_free(nc);
    sim_destroy(&a);
    sim_destroy(&c);

    /* Other geometry is refused. */
    new_bpred(&a, "gshare");
    ck_assert_int_eq(sim_instantiate(&a), 0);
    struct bpred *bd = new_bpred(&c, "gshare");
    test_set_param(&bd->obj, "ras_depth", "32");
    ck_assert_int_eq(sim_instantiate(&c), 0);
    mid = sim_serialize(&a);
    ck_assert_int_eq(sim_unserialize(&c, mid), -1);
    ck_assert_msg(strstr(err_get(), "RAS"), "%s", err_get());
    ser_node_free(mid);
    sim_destroy(&a);
    sim_destroy(&c);
}
END_TEST

START_TEST(timing_model_cpi_stack)
{
    struct simulation sim;
    sim_init(&sim);
    struct sim_object *l1i = sim_create(&sim, "Cache", "l1i");
    struct sim_object *l1d = sim_create(&sim, "Cache", "l1d");
    test_set_param(l1d, "hit_latency", "4");
    test_set_param(l1d, "miss_latency", "100");
    test_set_param(l1i, "hit_latency", "2");
    test_set_param(l1i, "miss_latency", "50");
    struct sim_object *dtlb = sim_create(&sim, "TLB", "dtlb");
    test_set_param(dtlb, "walk_latency", "30");
    struct sim_object *bp = sim_create(&sim, "BranchPredictor", "bp");
    test_set_param(bp, "mispredict_penalty", "15");
    struct sim_object *tm = sim_create(&sim, "TimingModel", "timing");
    test_set_param(tm, "div_cycles", "25");
    ck_assert_int_eq(param_set_object(tm, sim_type_param(tm->type, "icache"), l1i), 0);
    ck_assert_int_eq(param_set_object(tm, sim_type_param(tm->type, "dcache"), l1d), 0);
    ck_assert_int_eq(param_set_object(tm, sim_type_param(tm->type, "dtlb"), dtlb), 0);
    ck_assert_int_eq(param_set_object(tm, sim_type_param(tm->type, "bpred"), bp), 0);
    sim.outdir = test_tmpdir();
    ck_assert_msg(sim_instantiate(&sim) == 0, "%s", err_get());
    struct timing_model *t = SIM_CAST(struct timing_model, tm);
    uint64_t insts = 0, cycles = 0;
    timing_attach_counters(t, &insts, &cycles);

    /* add rax, rbx: cold fetch (50 stall) + 1 */
    cycles += timing_fetch(t, 0x1000, 3, TLB_PAGE_4K) + timing_inst(t, IC_ALU);
    ck_assert_uint_eq(cycles, 51);
    /* div: fetch hits (no stall) + 25 */
    cycles += timing_fetch(t, 0x1003, 3, TLB_PAGE_4K) + timing_inst(t, IC_DIV);
    ck_assert_uint_eq(cycles, 76);
    /* mov rax, [x] twice: walk 30 + miss (4 + 100) + 1, then 4 + 1 */
    cycles += timing_inst(t, IC_LOAD) + timing_data(t, 0x80000, 8, MEM_READ, TLB_PAGE_4K);
    cycles += timing_inst(t, IC_LOAD) + timing_data(t, 0x80008, 8, MEM_READ, TLB_PAGE_4K);
    ck_assert_uint_eq(cycles, 76 + 135 + 5);
    /* a cold taken branch: BTB miss -> 15 */
    cycles += timing_inst(t, IC_BRANCH) + timing_branch(t, 0x1010, 0x1012, true, 0x1000, BRANCH_COND);
    ck_assert_uint_eq(cycles, 216 + 16);
    insts = 5;
    ck_assert_uint_eq(t->cpi.base, 1 + 25 + 1 + 1 + 1);
    ck_assert_uint_eq(t->cpi.icache, 50);
    ck_assert_uint_eq(t->cpi.dcache, 104 + 4);
    ck_assert_uint_eq(t->cpi.tlb, 30);
    ck_assert_uint_eq(t->cpi.branch, 15);
    ck_assert_uint_eq(cpi_stack_total(&t->cpi), cycles);
    ck_assert_uint_eq(t->class_insts[IC_LOAD], 2);
    ck_assert_double_eq_tol(stat_value(stats_find(&sim, "timing.cpi")), 232.0 / 5, 1e-9);
    /* MPKI counts against the attached counter. */
    ck_assert_double_eq_tol(stat_value(stats_find(&sim, "l1d.mpki")), 200.0, 1e-9);
    ck_assert_double_eq_tol(stat_value(stats_find(&sim, "bp.mpki")), 200.0, 1e-9);

    /* The stats dump names every model's stats with their descriptions. */
    ck_assert_msg(stats_dump(&sim, "test") == 0, "%s", err_get());
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/stats.txt", sim.outdir), 0);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char text[65536];
    size_t got = fread(text, 1, sizeof(text) - 1, f);
    text[got] = 0;
    fclose(f);
    free(path);
    ck_assert_msg(strstr(text, "timing.insts_div") && strstr(text, "dtlb.misses4k") &&
                  strstr(text, "Lookups of 4k pages that missed") && strstr(text, "bp.mpki") &&
                  strstr(text, "l1d.missRate"), "%s", text);

    struct ser_node *n = sim_serialize(&sim);
    const struct ser_node *tn = ser_find_child(ser_find_child(n, "objects"), "timing");
    ck_assert_ptr_nonnull(tn);
    uint64_t v;
    ck_assert_int_eq(ser_get_u64(tn, "cpi.dcache", &v), 0);
    ck_assert_uint_eq(v, 108);
    ser_node_free(n);
    sim_destroy(&sim);
}
END_TEST

START_TEST(timing_model_refuses_wrong_references)
{
    struct simulation sim;
    sim_init(&sim);
    struct sim_object *tlb = sim_create(&sim, "TLB", "tlb");
    struct sim_object *tm = sim_create(&sim, "TimingModel", "timing");
    /* The schema restricts the type already at configuration time. */
    ck_assert_int_eq(param_set_object(tm, sim_type_param(tm->type, "dcache"), tlb), -1);
    ck_assert_msg(strstr(err_get(), "Cache"), "%s", err_get());
    sim_destroy(&sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bpred");
    TCase *tc = tcase_create("bpred");
    tcase_add_test(tc, bimodal_learns_a_loop);
    tcase_add_test(tc, gshare_learns_what_bimodal_cannot);
    tcase_add_test(tc, return_address_stack);
    tcase_add_test(tc, btb_predicts_targets);
    tcase_add_test(tc, bad_parameters_are_refused);
    tcase_add_test(tc, random_streams_and_serialization);
    tcase_add_test(tc, timing_model_cpi_stack);
    tcase_add_test(tc, timing_model_refuses_wrong_references);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
