/* Cache and DRAM timing models: geometry, LRU and random replacement,
 * write policies, cachegrind mode, latencies, parameter errors, a naive
 * reference model on random streams, determinism and serialization. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/cache.h"
#include "mem/dram.h"
#include "mem/trace_driver.h"
#include "sim/serialize.h"
#include "testlib.h"

static struct cache *new_cache(struct simulation *sim, const char *path, const char *size,
                               const char *assoc, const char *line)
{
    struct sim_object *o = test_new_object(sim, "Cache", path);
    test_set_param(o, "size", size);
    test_set_param(o, "assoc", assoc);
    test_set_param(o, "line_size", line);
    return SIM_CAST(struct cache, o);
}

static void instantiate(struct simulation *sim)
{
    ck_assert_msg(sim_instantiate(sim) == 0, "%s", err_get());
}

START_TEST(direct_mapped_conflicts)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "256", "1", "64"); /* 4 sets */
    instantiate(&sim);
    ck_assert_uint_eq(c->nsets, 4);
    cache_access(c, 0x000, 8, MEM_READ);  /* miss, set 0 */
    cache_access(c, 0x008, 8, MEM_READ);  /* hit, same line */
    cache_access(c, 0x100, 8, MEM_READ);  /* miss, set 0 again: evicts 0x000 */
    cache_access(c, 0x000, 8, MEM_READ);  /* conflict miss */
    cache_access(c, 0x040, 8, MEM_READ);  /* miss, set 1 */
    ck_assert_uint_eq(c->read_accesses, 5);
    ck_assert_uint_eq(c->read_misses, 4);
    ck_assert(cache_probe(c, 0x000));
    ck_assert(!cache_probe(c, 0x100));
    sim_destroy(&sim);
}
END_TEST

START_TEST(lru_evicts_least_recent)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "128", "2", "64"); /* one set, 2 ways */
    instantiate(&sim);
    cache_access(c, 0x000, 1, MEM_READ); /* A miss */
    cache_access(c, 0x040, 1, MEM_READ); /* B miss */
    cache_access(c, 0x000, 1, MEM_READ); /* A hit: B is now LRU */
    cache_access(c, 0x080, 1, MEM_READ); /* C miss evicts B */
    ck_assert(cache_probe(c, 0x000));
    ck_assert(!cache_probe(c, 0x040));
    ck_assert(cache_probe(c, 0x080));
    ck_assert_uint_eq(cache_misses(c), 3);
    sim_destroy(&sim);
}
END_TEST

START_TEST(straddling_access_is_one_access)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "1k", "2", "64");
    instantiate(&sim);
    cache_access(c, 0x7e, 4, MEM_READ); /* lines 0x40 and 0x80 */
    ck_assert_uint_eq(cache_accesses(c), 1);
    ck_assert_uint_eq(cache_misses(c), 1);
    ck_assert_uint_eq(c->fills, 2);
    ck_assert(cache_probe(c, 0x40) && cache_probe(c, 0x80));
    cache_access(c, 0xbe, 4, MEM_READ); /* 0x80 present, 0xc0 not: one miss */
    ck_assert_uint_eq(cache_misses(c), 2);
    cache_access(c, 0x7f, 2, MEM_READ); /* both present */
    ck_assert_uint_eq(cache_misses(c), 2);
    sim_destroy(&sim);
}
END_TEST

START_TEST(writeback_latency_through_hierarchy)
{
    struct simulation sim;
    sim_init(&sim);
    struct dram *d = SIM_CAST(struct dram, test_new_object(&sim, "DRAM", "mem"));
    test_set_param(&d->obj, "latency_ns", "50");
    test_set_param(&d->obj, "bandwidth_gbps", "64"); /* 32 bytes per cycle at 2 GHz */
    struct cache *l2 = new_cache(&sim, "l2", "1k", "1", "64");
    test_set_param(&l2->obj, "hit_latency", "12");
    test_set_ref(&l2->obj, "next_level", &d->obj);
    struct cache *l1 = new_cache(&sim, "l1", "128", "1", "64"); /* 2 sets */
    test_set_param(&l1->obj, "hit_latency", "4");
    test_set_ref(&l1->obj, "next_level", &l2->obj);
    instantiate(&sim);
    uint64_t now = 0;
    dram_set_cycle_counter(d, &now);
    ck_assert_uint_eq(d->latency_cycles, 100);
    /* Cold: L1 miss -> L2 miss -> DRAM (100 + 64 bytes / 32 per cycle). */
    ck_assert_uint_eq(cache_access(l1, 0x0, 8, MEM_WRITE), 4 + 12 + 100 + 2);
    now = 1000;
    ck_assert_uint_eq(cache_access(l1, 0x0, 8, MEM_READ), 4);
    /* 0x80 maps to L1 set 0: evicts the dirty line (written back to L2,
     * which hits) and fills from DRAM. */
    ck_assert_uint_eq(cache_access(l1, 0x80, 8, MEM_READ), 4 + 12 + (12 + 100 + 2));
    ck_assert_uint_eq(l1->writebacks, 1);
    ck_assert_uint_eq(l2->write_accesses, 1);
    ck_assert_uint_eq(l2->writebacks, 0);
    ck_assert_uint_eq(d->reads, 2);
    ck_assert_uint_eq(d->bytes_read, 128);
    sim_destroy(&sim);
}
END_TEST

START_TEST(dram_requests_queue_on_the_channel)
{
    struct simulation sim;
    sim_init(&sim);
    struct dram *d = SIM_CAST(struct dram, test_new_object(&sim, "DRAM", "mem"));
    test_set_param(&d->obj, "latency_ns", "10");
    test_set_param(&d->obj, "bandwidth_gbps", "16"); /* 8 bytes per cycle at 2 GHz */
    instantiate(&sim);
    uint64_t now = 100;
    dram_set_cycle_counter(d, &now);
    ck_assert_uint_eq(dram_access(d, 0, 64, MEM_READ), 20 + 8);
    /* Same cycle: waits 8 cycles for the channel. */
    ck_assert_uint_eq(dram_access(d, 64, 64, MEM_READ), 20 + 16);
    ck_assert_uint_eq(d->queue_cycles, 8);
    now = 1000; /* channel idle again */
    ck_assert_uint_eq(dram_access(d, 0, 64, MEM_WRITE), 20 + 8);
    /* A clock reset (stats reset of its owner) must not stall forever. */
    now = 5;
    ck_assert_uint_eq(dram_access(d, 0, 64, MEM_READ), 20 + 8);
    ck_assert_uint_eq(d->writes, 1);
    ck_assert_uint_eq(d->bytes_written, 64);
    sim_destroy(&sim);
}
END_TEST

START_TEST(cachegrind_mode_rules)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *ll = new_cache(&sim, "ll", "4k", "4", "64");
    test_set_param(&ll->obj, "cachegrind", "true");
    struct cache *d1 = new_cache(&sim, "d1", "128", "1", "64");
    test_set_param(&d1->obj, "cachegrind", "true");
    test_set_ref(&d1->obj, "next_level", &ll->obj);
    instantiate(&sim);
    cache_access(d1, 0x0, 8, MEM_MODIFY); /* counts as a read */
    ck_assert_uint_eq(d1->read_accesses, 1);
    ck_assert_uint_eq(d1->write_accesses, 0);
    ck_assert_uint_eq(d1->read_misses, 1);
    cache_access(d1, 0x0, 8, MEM_WRITE); /* hit; nothing becomes dirty */
    cache_access(d1, 0x80, 8, MEM_READ);  /* evicts line 0: no write-back */
    ck_assert_uint_eq(d1->writebacks, 0);
    ck_assert_uint_eq(ll->write_accesses, 0);
    /* A straddling miss reaches LL once, as the original access. */
    cache_access(d1, 0x13e, 4, MEM_WRITE);
    ck_assert_uint_eq(d1->write_misses, 1);
    ck_assert_uint_eq(ll->write_accesses, 1);
    ck_assert_uint_eq(ll->write_misses, 1);
    ck_assert(cache_probe(ll, 0x100) && cache_probe(ll, 0x140));
    ck_assert_uint_eq(cache_accesses(ll), 3);
    sim_destroy(&sim);
}
END_TEST

START_TEST(write_through_and_no_allocate)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *l2 = new_cache(&sim, "l2", "4k", "4", "64");
    struct cache *wt = new_cache(&sim, "wt", "1k", "2", "64");
    test_set_param(&wt->obj, "write_policy", "writethrough");
    test_set_ref(&wt->obj, "next_level", &l2->obj);
    struct cache *na = new_cache(&sim, "na", "1k", "2", "64");
    test_set_param(&na->obj, "write_allocate", "false");
    test_set_ref(&na->obj, "next_level", &l2->obj);
    instantiate(&sim);
    cache_access(wt, 0x0, 8, MEM_WRITE); /* allocates, and writes through */
    cache_access(wt, 0x0, 8, MEM_WRITE); /* hit, writes through */
    ck_assert_uint_eq(wt->write_throughs, 2);
    ck_assert(cache_probe(wt, 0x0));
    for (int i = 0; i < 64; i++)
        cache_access(wt, (uint64_t)i * 64, 8, MEM_READ);
    ck_assert_uint_eq(wt->writebacks, 0); /* never dirty */
    cache_access(na, 0x1000, 8, MEM_WRITE); /* miss goes around */
    ck_assert(!cache_probe(na, 0x1000));
    ck_assert_uint_eq(na->write_misses, 1);
    ck_assert_uint_eq(na->write_throughs, 1);
    ck_assert_uint_eq(na->fills, 0);
    sim_destroy(&sim);
}
END_TEST

static void expect_init_error(const char *param, const char *value, const char *message)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "32k", "8", "64");
    test_set_param(&c->obj, param, value);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), message), "error '%s' lacks '%s'", err_get(), message);
    sim_destroy(&sim);
}

START_TEST(bad_parameters_are_refused)
{
    expect_init_error("line_size", "48", "line_size must be a power of two");
    expect_init_error("size", "24k", "power-of-two number of sets");
    expect_init_error("assoc", "3", "power-of-two number of sets");
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "32k", "8", "64");
    test_set_param(&c->obj, "cachegrind", "true");
    test_set_param(&c->obj, "replacement", "random");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert(strstr(err_get(), "cachegrind mode uses LRU"));
    sim_destroy(&sim);

    sim_init(&sim);
    struct cache *a = new_cache(&sim, "a", "1k", "2", "64");
    struct cache *b = new_cache(&sim, "b", "1k", "2", "64");
    test_set_ref(&a->obj, "next_level", &b->obj);
    test_set_ref(&b->obj, "next_level", &a->obj);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "loops back"), "%s", err_get());
    sim_destroy(&sim);

    sim_init(&sim);
    a = new_cache(&sim, "a", "1k", "2", "64");
    struct sim_object *drv = test_new_object(&sim, "TraceDriver", "drv");
    test_set_param(drv, "source", "synthetic");
    test_set_ref(&a->obj, "next_level", drv);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "must be a Cache or a DRAM"), "%s", err_get());
    sim_destroy(&sim);

    sim_init(&sim);
    struct sim_object *d = test_new_object(&sim, "DRAM", "mem");
    test_set_param(d, "bandwidth_gbps", "0");
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_msg(strstr(err_get(), "bandwidth_gbps"), "%s", err_get());
    sim_destroy(&sim);
}
END_TEST

/* The reference: per-way timestamps, evict the invalid or oldest way. */
struct ref_cache {
    unsigned sets, ways, shift;
    uint64_t *tag, *stamp;
    bool *valid, *dirty;
    uint64_t clock, misses, writebacks;
};

static void ref_init(struct ref_cache *r, unsigned sets, unsigned ways, unsigned shift)
{
    r->sets = sets;
    r->ways = ways;
    r->shift = shift;
    r->tag = calloc((size_t)sets * ways, sizeof(uint64_t));
    r->stamp = calloc((size_t)sets * ways, sizeof(uint64_t));
    r->valid = calloc((size_t)sets * ways, sizeof(bool));
    r->dirty = calloc((size_t)sets * ways, sizeof(bool));
    r->clock = r->misses = r->writebacks = 0;
}

static void ref_free(struct ref_cache *r)
{
    free(r->tag);
    free(r->stamp);
    free(r->valid);
    free(r->dirty);
}

static bool ref_line(struct ref_cache *r, uint64_t block, bool write)
{
    size_t base = (size_t)(block % r->sets) * r->ways;
    r->clock++;
    for (unsigned i = 0; i < r->ways; i++) {
        if (r->valid[base + i] && r->tag[base + i] == block) {
            r->stamp[base + i] = r->clock;
            r->dirty[base + i] |= write;
            return true;
        }
    }
    size_t v = base;
    for (unsigned i = 0; i < r->ways; i++) {
        if (!r->valid[base + i]) {
            v = base + i;
            break;
        }
        if (r->stamp[base + i] < r->stamp[v])
            v = base + i;
    }
    if (r->valid[v] && r->dirty[v])
        r->writebacks++;
    r->valid[v] = true;
    r->tag[v] = block;
    r->stamp[v] = r->clock;
    r->dirty[v] = write;
    return false;
}

static void ref_access(struct ref_cache *r, uint64_t addr, unsigned size, bool write)
{
    bool miss = false;
    for (uint64_t b = addr >> r->shift; b <= (addr + size - 1) >> r->shift; b++)
        miss |= !ref_line(r, b, write);
    r->misses += miss;
}

START_TEST(random_streams_match_reference_lru)
{
    static const char *const geoms[][3] = {
        {"512", "1", "32"}, {"2k", "4", "64"}, {"4k", "16", "64"}, {"1k", "2", "16"}};
    uint64_t seed = 0x1234567;
    for (size_t g = 0; g < sizeof(geoms) / sizeof(geoms[0]); g++) {
        struct simulation sim;
        sim_init(&sim);
        struct cache *c = new_cache(&sim, "c", geoms[g][0], geoms[g][1], geoms[g][2]);
        test_set_param(&c->obj, "hit_latency", "3");
        test_set_param(&c->obj, "miss_latency", "50");
        instantiate(&sim);
        struct ref_cache r;
        ref_init(&r, c->nsets, c->assoc, c->line_shift);
        for (int i = 0; i < 100000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t x = seed >> 11;
            /* A working set a few times the cache, with a hot corner. */
            uint64_t span = (x & 3) ? c->size * 3 : 256;
            uint64_t addr = (x >> 8) % span;
            unsigned size = 1u << ((x >> 40) & 3);
            enum mem_op op = (enum mem_op)((x >> 44) % 3);
            uint64_t misses_before = cache_misses(c), wb_before = c->writebacks;
            uint64_t lat = cache_access(c, addr, size, op);
            ref_access(&r, addr, size, op != MEM_READ);
            /* A hit costs hit_latency; a miss adds miss_latency per line
             * fetched and per dirty line written back. */
            uint64_t missed = cache_misses(c) - misses_before;
            if (!missed)
                ck_assert_uint_eq(lat, 3);
            else
                ck_assert_uint_ge(lat, 3 + 50 * (1 + c->writebacks - wb_before));
        }
        ck_assert_uint_eq(cache_misses(c), r.misses);
        ck_assert_uint_eq(c->writebacks, r.writebacks);
        ck_assert_uint_eq(cache_accesses(c), 100000);
        ref_free(&r);
        sim_destroy(&sim);
    }
}
END_TEST

static struct ser_node *run_random_replacement(const char *seed, uint64_t *misses)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "1k", "4", "64");
    test_set_param(&c->obj, "replacement", "random");
    test_set_param(&c->obj, "seed", seed);
    instantiate(&sim);
    for (uint64_t i = 0; i < 20000; i++)
        cache_access(c, (i * 2654435761u) % 8192, 4, MEM_READ);
    *misses = cache_misses(c);
    struct ser_node *n = sim_serialize(&sim);
    sim_destroy(&sim);
    return n;
}

START_TEST(random_replacement_is_seeded)
{
    uint64_t m1, m2, m3;
    struct ser_node *a = run_random_replacement("7", &m1);
    struct ser_node *b = run_random_replacement("7", &m2);
    struct ser_node *c = run_random_replacement("8", &m3);
    ck_assert(ser_node_equal(a, b));
    ck_assert_uint_eq(m1, m2);
    ck_assert(!ser_node_equal(a, c));
    ser_node_free(a);
    ser_node_free(b);
    ser_node_free(c);
}
END_TEST

/* A synthetic-trace machine: L1I, L1D, shared L2, DRAM, a driver. */
static struct trace_driver *hierarchy(struct simulation *sim, const char *repl)
{
    sim_init(sim);
    struct sim_object *mem = test_new_object(sim, "DRAM", "mem");
    struct cache *l2 = new_cache(sim, "l2", "64k", "8", "64");
    test_set_param(&l2->obj, "replacement", repl);
    test_set_param(&l2->obj, "hit_latency", "12");
    test_set_ref(&l2->obj, "next_level", mem);
    struct cache *l1i = new_cache(sim, "l1i", "8k", "4", "64");
    test_set_ref(&l1i->obj, "next_level", &l2->obj);
    struct cache *l1d = new_cache(sim, "l1d", "8k", "4", "64");
    test_set_param(&l1d->obj, "replacement", repl);
    test_set_ref(&l1d->obj, "next_level", &l2->obj);
    struct sim_object *tlb = test_new_object(sim, "TLB", "dtlb");
    struct sim_object *drv = test_new_object(sim, "TraceDriver", "drv");
    test_set_param(drv, "source", "synthetic");
    test_set_param(drv, "synthetic_insts", "100000");
    test_set_param(drv, "data_footprint", "256k");
    test_set_param(drv, "batch", "1000");
    test_set_ref(drv, "icache", &l1i->obj);
    test_set_ref(drv, "dcache", &l1d->obj);
    test_set_ref(drv, "dtlb", tlb);
    instantiate(sim);
    return SIM_CAST(struct trace_driver, drv);
}

START_TEST(same_config_same_stats)
{
    struct simulation a, b;
    hierarchy(&a, "random");
    hierarchy(&b, "random");
    sim_run(&a, TICK_MAX);
    sim_run(&b, TICK_MAX);
    struct ser_node *na = sim_serialize(&a), *nb = sim_serialize(&b);
    ck_assert(ser_node_equal(na, nb));
    struct trace_driver *d = SIM_CAST(struct trace_driver, sim_find(&a, "drv"));
    ck_assert(d->finished);
    ck_assert_uint_eq(d->insts, 100000);
    ck_assert_uint_gt(SIM_CAST(struct cache, sim_find(&a, "l1d"))->read_misses, 100);
    ck_assert_uint_gt(SIM_CAST(struct cache, sim_find(&a, "l2"))->writebacks, 10);
    ck_assert_uint_gt(SIM_CAST(struct dram, sim_find(&a, "mem"))->reads, 100);
    ck_assert(stats_find(&a, "l1d.mpki"));
    double mpki = stat_value(stats_find(&a, "l1d.mpki"));
    ck_assert(mpki > 0.5 && mpki < 1000);
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

START_TEST(serialize_mid_run_continues_identically)
{
    struct simulation a, b;
    hierarchy(&a, "random");
    hierarchy(&b, "random");
    sim_run(&a, 50 * TICKS_PER_US); /* part way */
    struct trace_driver *da = SIM_CAST(struct trace_driver, sim_find(&a, "drv"));
    ck_assert(!da->finished);
    ck_assert_uint_gt(da->position, 0);
    struct ser_node *mid = sim_serialize(&a);
    ck_assert_msg(sim_unserialize(&b, mid) == 0, "%s", err_get());
    sim_run(&a, TICK_MAX);
    sim_run(&b, TICK_MAX);
    struct ser_node *na = sim_serialize(&a), *nb = sim_serialize(&b);
    ck_assert(ser_node_equal(na, nb));
    ck_assert(!ser_node_equal(na, mid));
    ser_node_free(mid);
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

/* A cold cache carries nothing its geometry matters to: it restores into
 * another geometry (cold); a warm one is refused. */
START_TEST(restore_into_other_geometry_only_when_cold)
{
    struct simulation a, b;
    sim_init(&a);
    struct cache *ca = new_cache(&a, "c", "32k", "8", "64");
    instantiate(&a);
    sim_init(&b);
    struct cache *cb = new_cache(&b, "c", "32k", "4", "64");
    instantiate(&b);
    cache_access(cb, 0x1000, 8, MEM_READ);
    struct ser_node *n = sim_serialize(&a);
    ck_assert_msg(sim_unserialize(&b, n) == 0, "%s", err_get());
    ser_node_free(n);
    ck_assert_uint_eq(cache_accesses(cb), 0);
    ck_assert_uint_eq(cache_access(cb, 0x1000, 8, MEM_READ), cb->hit_latency + cb->miss_latency);
    cache_access(ca, 0x2000, 8, MEM_READ);
    n = sim_serialize(&a);
    ck_assert_int_eq(sim_unserialize(&b, n), -1);
    ck_assert_msg(strstr(err_get(), "sets") && strstr(err_get(), "empty"), "%s", err_get());
    ser_node_free(n);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

START_TEST(mpki_uses_the_given_counter)
{
    struct simulation sim;
    sim_init(&sim);
    struct cache *c = new_cache(&sim, "c", "1k", "2", "64");
    instantiate(&sim);
    uint64_t insts = 2000;
    cache_set_inst_counter(c, &insts);
    for (int i = 0; i < 10; i++)
        cache_access(c, (uint64_t)i * 4096, 8, MEM_READ);
    ck_assert_double_eq_tol(stat_value(stats_find(&sim, "c.mpki")), 5.0, 1e-9);
    ck_assert_double_eq_tol(stat_value(stats_find(&sim, "c.missRate")), 1.0, 1e-9);
    stats_reset(&sim);
    ck_assert_uint_eq(cache_accesses(c), 0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(lackey_parser_reports_bad_lines)
{
    char *dir = test_tmpdir();
    char *good = write_temp_file(dir, "good.log",
                                 "==1== Lackey\nI  00401000,3\n L 7ff000,8\n S 7ff008,4\n"
                                 "--1-- WARNING: unhandled syscall\n\n M 601000,16\n");
    struct trace_buffer t;
    ck_assert_msg(trace_load_lackey(&t, good) == 0, "%s", err_get());
    ck_assert_uint_eq(t.count, 4);
    struct trace_access a = trace_record(&t, 3);
    ck_assert_uint_eq(a.addr, 0x601000);
    ck_assert_uint_eq(a.size, 16);
    ck_assert_int_eq(a.kind, TRACE_MODIFY);
    ck_assert_int_eq(trace_record(&t, 0).kind, TRACE_IFETCH);
    trace_buffer_free(&t);
    char *bad = write_temp_file(dir, "bad.log", "I  00401000,3\n X 1234,8\n");
    ck_assert_int_eq(trace_load_lackey(&t, bad), -1);
    ck_assert_msg(strstr(err_get(), "bad.log:2:"), "%s", err_get());
    char *badsize = write_temp_file(dir, "size.log", " L 1234,0\n");
    ck_assert_int_eq(trace_load_lackey(&t, badsize), -1);
    ck_assert_int_eq(trace_load_lackey(&t, "/nonexistent/trace"), -1);
    ck_assert(strstr(err_get(), "cannot open trace"));
    free(good);
    free(bad);
    free(badsize);
    free(dir);
}
END_TEST

/* Random configurations and random accesses, including sizes spanning
 * many lines and addresses at the top of the address space: counters stay
 * consistent, nothing crashes (the ASan/UBSan build runs this too). */
START_TEST(random_configurations_survive_random_accesses)
{
    static const char *const policies[] = {"writeback", "writethrough"};
    static const char *const repls[] = {"lru", "random"};
    uint64_t seed = 77;
    for (int round = 0; round < 24; round++) {
        struct simulation sim;
        sim_init(&sim);
        struct sim_object *mem = test_new_object(&sim, "DRAM", "mem");
        test_set_param(mem, "bandwidth_gbps", round & 1 ? "0.5" : "100");
        struct cache *l2 = new_cache(&sim, "l2", "8k", "8", "64");
        test_set_ref(&l2->obj, "next_level", mem);
        bool cg = round % 4 == 3;
        char size[32], assoc[16], line[16];
        unsigned line_size = 8u << (round % 4);
        unsigned ways = 1u << (round % 3);
        snprintf(line, sizeof(line), "%u", line_size);
        snprintf(assoc, sizeof(assoc), "%u", ways);
        snprintf(size, sizeof(size), "%u", line_size * ways * (1u << (round % 5)));
        struct cache *c = new_cache(&sim, "c", size, assoc, line);
        test_set_ref(&c->obj, "next_level", &l2->obj);
        if (cg) {
            test_set_param(&c->obj, "cachegrind", "true");
        } else {
            test_set_param(&c->obj, "write_policy", policies[(round / 2) % 2]);
            test_set_param(&c->obj, "replacement", repls[(round / 3) % 2]);
            test_set_param(&c->obj, "write_allocate", round % 5 ? "true" : "false");
        }
        instantiate(&sim);
        uint64_t now = 0;
        cache_attach_counters(c, NULL, &now);
        for (int i = 0; i < 20000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t x = seed >> 7;
            uint64_t addr = (x & 7) == 0 ? UINT64_MAX - (x >> 8) % 300 : (x >> 8) % 65536;
            unsigned sz = (x >> 40) % 5 == 0 ? 1 + (unsigned)((x >> 44) % 1023) : 1u << ((x >> 44) & 3);
            uint64_t lat = cache_access(c, addr, sz, (enum mem_op)((x >> 50) % 3));
            ck_assert_uint_ge(lat, c->hit_latency);
            now += 1 + lat % 7;
        }
        ck_assert_uint_eq(cache_accesses(c), 20000);
        ck_assert_uint_le(cache_misses(c), cache_accesses(c));
        ck_assert_uint_le(l2->read_misses, l2->read_accesses);
        if (cg)
            ck_assert_uint_eq(c->writebacks + c->write_throughs, 0);
        sim_destroy(&sim);
    }
}
END_TEST

START_TEST(dram_random_requests)
{
    struct simulation sim;
    sim_init(&sim);
    struct dram *d = SIM_CAST(struct dram, test_new_object(&sim, "DRAM", "mem"));
    test_set_param(&d->obj, "latency_ns", "45.5");
    test_set_param(&d->obj, "bandwidth_gbps", "3.3");
    instantiate(&sim);
    uint64_t now = 0, seed = 3, bytes = 0;
    dram_set_cycle_counter(d, &now);
    for (int i = 0; i < 100000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned size = 1 + (unsigned)((seed >> 20) % 4096);
        uint64_t lat = dram_access(d, seed, size, (seed >> 40) & 1 ? MEM_READ : MEM_WRITE);
        /* At least the fixed latency plus the transfer (0.606 cycles/byte). */
        ck_assert_uint_ge(lat, d->latency_cycles + size * 6 / 10);
        bytes += size;
        now += (seed >> 50) % 3000;
    }
    ck_assert_uint_eq(d->bytes_read + d->bytes_written, bytes);
    ck_assert_uint_eq(d->reads + d->writes, 100000);
    ck_assert_uint_gt(d->queue_cycles, 0);
    sim_destroy(&sim);
}
END_TEST

START_TEST(lua_sweep_config_prints_a_table)
{
    const char *src = getenv("TANDEM_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char *dir = test_tmpdir(), *out;
    int rc = run_tandem(&out, "run --quiet --outdir %s %s/configs/cache-sweep.lua -- insts=20000 "
                        "l1=4k,64k l2=128k footprint=64k", dir, src);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strstr(out, "L1D mpki") && strstr(out, "\n4k     128k") &&
                  strstr(out, "\n64k    128k"), "%s", out);
    free(out);
    /* A wrong parameter value names the object and the problem. */
    char *cfg = write_temp_file(dir, "bad.lua",
                                "tandem.new('Cache', {name = 'l1', size = '32k', assoc = 3})\n"
                                "sim.run()\n");
    rc = run_tandem(&out, "run --quiet --outdir %s %s", dir, cfg);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "l1") && strstr(out, "power-of-two number of sets"), "%s", out);
    free(out);
    free(cfg);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, direct_mapped_conflicts);
    tcase_add_test(tc, lru_evicts_least_recent);
    tcase_add_test(tc, straddling_access_is_one_access);
    tcase_add_test(tc, writeback_latency_through_hierarchy);
    tcase_add_test(tc, dram_requests_queue_on_the_channel);
    tcase_add_test(tc, cachegrind_mode_rules);
    tcase_add_test(tc, write_through_and_no_allocate);
    tcase_add_test(tc, bad_parameters_are_refused);
    tcase_add_test(tc, random_streams_match_reference_lru);
    tcase_add_test(tc, random_replacement_is_seeded);
    tcase_add_test(tc, same_config_same_stats);
    tcase_add_test(tc, serialize_mid_run_continues_identically);
    tcase_add_test(tc, restore_into_other_geometry_only_when_cold);
    tcase_add_test(tc, mpki_uses_the_given_counter);
    tcase_add_test(tc, lackey_parser_reports_bad_lines);
    tcase_add_test(tc, random_configurations_survive_random_accesses);
    tcase_add_test(tc, dram_random_requests);
    tcase_add_test(tc, lua_sweep_config_prints_a_table);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
