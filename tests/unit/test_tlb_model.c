/* TLB timing model: page sizes, LRU, flushes, parameter errors, random
 * lookups against a reference, serialization. */
#include <stdlib.h>
#include <string.h>

#include "cpu/tlb_model.h"
#include "sim/serialize.h"
#include "testlib.h"

static struct tlb_model *new_tlb(struct simulation *sim, const char *entries, const char *assoc)
{
    sim_init(sim);
    struct sim_object *o = sim_create(sim, "TLB", "tlb");
    ck_assert_msg(o, "%s", err_get());
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "entries"), entries), 0);
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "assoc"), assoc), 0);
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "walk_latency"), "30"), 0);
    return SIM_CAST(struct tlb_model, o);
}

START_TEST(page_sizes_are_tracked_apart)
{
    struct simulation sim;
    struct tlb_model *t = new_tlb(&sim, "16", "4");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert_uint_eq(tlb_model_access(t, 0x401234, TLB_PAGE_4K), 30);
    ck_assert_uint_eq(tlb_model_access(t, 0x401ff8, TLB_PAGE_4K), 0); /* same 4K page */
    ck_assert_uint_eq(tlb_model_access(t, 0x402000, TLB_PAGE_4K), 30);
    ck_assert_uint_eq(tlb_model_access(t, 0x200000, TLB_PAGE_2M), 30);
    ck_assert_uint_eq(tlb_model_access(t, 0x3fffff, TLB_PAGE_2M), 0);  /* same 2M page */
    ck_assert_uint_eq(tlb_model_access(t, 0x40000000, TLB_PAGE_1G), 30);
    ck_assert_uint_eq(tlb_model_access(t, 0x7fffffff, TLB_PAGE_1G), 0);
    ck_assert_uint_eq(t->hits[TLB_PAGE_4K], 1);
    ck_assert_uint_eq(t->misses[TLB_PAGE_4K], 2);
    ck_assert_uint_eq(t->hits[TLB_PAGE_2M], 1);
    ck_assert_uint_eq(t->misses[TLB_PAGE_1G], 1);
    /* A 2M entry does not answer a 4K lookup of the same address. */
    ck_assert(!tlb_model_probe(t, 0x200000, TLB_PAGE_4K));
    ck_assert_double_eq_tol(stat_value(stats_find(&sim, "tlb.missRate")), 4.0 / 7.0, 1e-9);
    sim_destroy(&sim);
}
END_TEST

START_TEST(lru_and_flushes)
{
    struct simulation sim;
    struct tlb_model *t = new_tlb(&sim, "2", "0"); /* fully associative, 2 entries */
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert_uint_eq(t->nsets, 1);
    tlb_model_access(t, 0x1000, TLB_PAGE_4K);
    tlb_model_access(t, 0x2000, TLB_PAGE_4K);
    tlb_model_access(t, 0x1000, TLB_PAGE_4K); /* 0x2000 is LRU */
    tlb_model_access(t, 0x3000, TLB_PAGE_4K);
    ck_assert(tlb_model_probe(t, 0x1000, TLB_PAGE_4K));
    ck_assert(!tlb_model_probe(t, 0x2000, TLB_PAGE_4K));
    tlb_model_flush_page(t, 0x1abc);
    ck_assert(!tlb_model_probe(t, 0x1000, TLB_PAGE_4K));
    ck_assert(tlb_model_probe(t, 0x3000, TLB_PAGE_4K));
    /* The freed way is reused before the LRU entry is evicted. */
    tlb_model_access(t, 0x4000, TLB_PAGE_4K);
    ck_assert(tlb_model_probe(t, 0x3000, TLB_PAGE_4K));
    tlb_model_flush(t);
    ck_assert(!tlb_model_probe(t, 0x3000, TLB_PAGE_4K));
    ck_assert(!tlb_model_probe(t, 0x4000, TLB_PAGE_4K));
    ck_assert_uint_eq(t->flushes, 1);
    sim_destroy(&sim);
}
END_TEST

START_TEST(bad_geometry_is_refused)
{
    struct simulation sim;
    new_tlb(&sim, "48", "16"); /* 3 sets */
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "power of two"), "%s", err_get());
    sim_destroy(&sim);
    new_tlb(&sim, "12", "8");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "not a multiple of assoc"), "%s", err_get());
    sim_destroy(&sim);
}
END_TEST

START_TEST(random_lookups_match_reference)
{
    /* Reference: fully associative with timestamps (a 1-set TLB is one). */
    struct simulation sim;
    struct tlb_model *t = new_tlb(&sim, "32", "0");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    uint64_t keys[32], stamps[32], clock = 0, misses = 0;
    unsigned used = 0;
    uint64_t seed = 99;
    for (int i = 0; i < 100000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t x = seed >> 13;
        enum tlb_page_size ps = (x & 15) == 0 ? TLB_PAGE_2M : (x & 31) == 1 ? TLB_PAGE_1G : TLB_PAGE_4K;
        uint64_t va = (x >> 8) % (ps == TLB_PAGE_4K ? (48ULL << 12) : 1ULL << 36);
        if ((x >> 50) % 1000 == 0) {
            tlb_model_flush(t);
            used = 0;
        }
        tlb_model_access(t, va, ps);
        uint64_t key = (va >> (ps == TLB_PAGE_4K ? 12 : ps == TLB_PAGE_2M ? 21 : 30)) << 2 | ps;
        clock++;
        unsigned j;
        for (j = 0; j < used && keys[j] != key; j++)
            ;
        if (j == used) {
            misses++;
            if (used < 32) {
                used++;
            } else {
                j = 0;
                for (unsigned k = 1; k < 32; k++)
                    if (stamps[k] < stamps[j])
                        j = k;
            }
            keys[j] = key;
        }
        stamps[j] = clock;
    }
    ck_assert_uint_eq(tlb_model_misses(t), misses);
    ck_assert_uint_gt(misses, 1000);
    sim_destroy(&sim);
}
END_TEST

START_TEST(serialize_round_trip)
{
    struct simulation a, b;
    struct tlb_model *ta = new_tlb(&a, "64", "4");
    ck_assert_int_eq(sim_instantiate(&a), 0);
    struct tlb_model *tb = new_tlb(&b, "64", "4");
    ck_assert_int_eq(sim_instantiate(&b), 0);
    for (uint64_t i = 0; i < 500; i++)
        tlb_model_access(ta, (i * 7919) << 12, i % 5 ? TLB_PAGE_4K : TLB_PAGE_2M);
    struct ser_node *n = sim_serialize(&a);
    ck_assert_msg(sim_unserialize(&b, n) == 0, "%s", err_get());
    for (uint64_t i = 0; i < 500; i++) {
        uint64_t va = (i * 104729) << 12;
        ck_assert_uint_eq(tlb_model_access(ta, va, TLB_PAGE_4K), tlb_model_access(tb, va, TLB_PAGE_4K));
    }
    struct ser_node *na = sim_serialize(&a), *nb = sim_serialize(&b);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(n);
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a);
    sim_destroy(&b);

    /* A different geometry is refused. */
    new_tlb(&a, "64", "4");
    ck_assert_int_eq(sim_instantiate(&a), 0);
    new_tlb(&b, "64", "8");
    ck_assert_int_eq(sim_instantiate(&b), 0);
    n = sim_serialize(&a);
    ck_assert_int_eq(sim_unserialize(&b, n), -1);
    ck_assert_msg(strstr(err_get(), "ways"), "%s", err_get());
    ser_node_free(n);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tlb_model");
    TCase *tc = tcase_create("tlb_model");
    tcase_add_test(tc, page_sizes_are_tracked_apart);
    tcase_add_test(tc, lru_and_flushes);
    tcase_add_test(tc, bad_geometry_is_refused);
    tcase_add_test(tc, random_lookups_match_reference);
    tcase_add_test(tc, serialize_round_trip);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
