/* CachegrindCounter: counting one guest process like cachegrind; see
 * cpu/cg_counter.h and docs/timing.md. */
#include "cpu/cg_counter.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

DEBUG_FLAG_DEFINE(Cachegrind, "cachegrind counting mode: every counted instruction and access");

void cg_record(struct cg_counter *cg, uint64_t la, unsigned size, enum mem_op op)
{
    if (cg->n) {
        struct cg_access *prev = &cg->acc[cg->n - 1];
        /* cachegrind turns a load followed by a store to the same address
         * and size into one "modify" event. */
        if (prev->op == MEM_READ && op == MEM_WRITE && prev->addr == la && prev->size == size) {
            prev->op = MEM_MODIFY;
            return;
        }
        /* One wide operand the interpreter moved in pieces. */
        if (prev->op == (uint32_t)op && op != MEM_MODIFY && prev->addr + prev->size == la) {
            prev->size += size;
            return;
        }
    }
    if (cg->n == CG_MAX_ACCESSES) {
        cg->dropped++;
        return;
    }
    cg->acc[cg->n++] = (struct cg_access){.addr = la, .size = size, .op = (uint32_t)op};
}

void cg_commit(struct cg_counter *cg)
{
    if (!cg->fetch_len)
        return;
    cg->insts++;
    cache_access(cg->i1, cg->fetch_la, cg->fetch_len, MEM_READ);
    DPRINTF(Cachegrind, &cg->obj, "I %" PRIx64 ",%u", cg->fetch_la, cg->fetch_len);
    for (unsigned i = 0; i < cg->n; i++) {
        const struct cg_access *a = &cg->acc[i];
        unsigned size = a->size < cg->max_access ? a->size : cg->max_access;
        DPRINTF(Cachegrind, &cg->obj, "%c %" PRIx64 ",%u", "LSM"[a->op], a->addr, size);
        cache_access(cg->d1, a->addr, size, (enum mem_op)a->op);
        cg->modifies += a->op == MEM_MODIFY;
    }
    cg->data_accesses += cg->n;
    cg->n = 0;
}

void cg_begin(struct cg_counter *cg)
{
    if (!cg->state)
        return;
    cg->cr3 = cg->state->cr3 & CG_CR3_BASE_MASK;
    cg->counting = true;
    cg->regions++;
    cache_invalidate_all(cg->i1);
    cache_invalidate_all(cg->d1);
    cg->counted = cg_in_process(cg);
}

void cg_stop(struct cg_counter *cg)
{
    cg->counting = false;
    cg->counted = false;
}

/* A cachegrind-mode Cache, and every Cache below it too; the smallest line
 * size of them all lowers *min_line. */
static int check_hierarchy(struct sim_object *o, const char *param, struct cache **out,
                           unsigned *min_line)
{
    if (!o) {
        err_set("%s: a cachegrind-mode Cache is required", param);
        return -1;
    }
    *out = SIM_CAST(struct cache, o);
    while (o && !strcmp(o->type->name, "Cache")) {
        struct cache *c = SIM_CAST(struct cache, o);
        if (!c->cachegrind) {
            err_set("%s: %s must be in cachegrind mode (cachegrind = true), like every cache "
                    "below it", param, o->path);
            return -1;
        }
        if (c->line_size < *min_line)
            *min_line = c->line_size;
        o = c->next_level_obj;
    }
    return 0;
}

static int cg_init(struct sim_object *o)
{
    struct cg_counter *cg = SIM_CAST(struct cg_counter, o);
    unsigned min_line = UINT32_MAX;
    if (check_hierarchy(cg->icache_obj, "icache", &cg->i1, &min_line) < 0 ||
        check_hierarchy(cg->dcache_obj, "dcache", &cg->d1, &min_line) < 0)
        return -1;
    cg->max_access = min_line;
    stats_add_counter(o, "insts", &cg->insts, "count",
                      "Instructions of the marked process counted (cachegrind's Ir)");
    stats_add_counter(o, "dataAccesses", &cg->data_accesses, "count",
                      "Data accesses counted (a read-modify-write once)");
    stats_add_counter(o, "modifies", &cg->modifies, "count",
                      "Read-modify-write accesses (cachegrind's modify events)");
    stats_add_counter(o, "droppedAccesses", &cg->dropped, "count",
                      "Accesses not counted: more than the per-instruction buffer holds");
    stats_add_counter(o, "regions", &cg->regions, "count", "Region begin markers executed");
    return 0;
}

static void cg_serialize(struct sim_object *o, struct ser_node *n)
{
    struct cg_counter *cg = SIM_CAST(struct cg_counter, o);
    SER_PUT(n, cg, cr3);
    SER_PUT(n, cg, counting);
    SER_PUT(n, cg, counted);
    SER_PUT(n, cg, fetch_la);
    SER_PUT(n, cg, fetch_len);
    SER_PUT(n, cg, n);
    for (unsigned i = 0; i < cg->n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "acc%u.addr", i);
        ser_put_u64(n, key, cg->acc[i].addr);
        snprintf(key, sizeof(key), "acc%u.size", i);
        ser_put_u64(n, key, cg->acc[i].size);
        snprintf(key, sizeof(key), "acc%u.op", i);
        ser_put_u64(n, key, cg->acc[i].op);
    }
    SER_PUT(n, cg, insts);
    SER_PUT(n, cg, data_accesses);
    SER_PUT(n, cg, modifies);
    SER_PUT(n, cg, dropped);
    SER_PUT(n, cg, regions);
}

static int cg_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct cg_counter *cg = SIM_CAST(struct cg_counter, o);
    if (SER_GET(n, cg, cr3) < 0 || SER_GET(n, cg, counting) < 0 || SER_GET(n, cg, counted) < 0 ||
        SER_GET(n, cg, fetch_la) < 0 || SER_GET(n, cg, fetch_len) < 0 || SER_GET(n, cg, n) < 0)
        return -1;
    if (cg->n > CG_MAX_ACCESSES) {
        err_set("%s: %u buffered accesses, at most %u", o->path, cg->n, CG_MAX_ACCESSES);
        return -1;
    }
    for (unsigned i = 0; i < cg->n; i++) {
        char key[32];
        uint64_t size, op;
        snprintf(key, sizeof(key), "acc%u.addr", i);
        if (ser_get_u64(n, key, &cg->acc[i].addr) < 0)
            return -1;
        snprintf(key, sizeof(key), "acc%u.size", i);
        if (ser_get_u64(n, key, &size) < 0)
            return -1;
        snprintf(key, sizeof(key), "acc%u.op", i);
        if (ser_get_u64(n, key, &op) < 0)
            return -1;
        if (size == 0 || size > UINT32_MAX || op > MEM_MODIFY) {
            err_set("%s: buffered access %u has size %llu, op %llu", o->path, i,
                    (unsigned long long)size, (unsigned long long)op);
            return -1;
        }
        cg->acc[i].size = (uint32_t)size;
        cg->acc[i].op = (uint32_t)op;
    }
    return SER_GET(n, cg, insts) < 0 || SER_GET(n, cg, data_accesses) < 0 ||
                   SER_GET(n, cg, modifies) < 0 || SER_GET(n, cg, dropped) < 0 ||
                   SER_GET(n, cg, regions) < 0
               ? -1
               : 0;
}

static const struct param_desc cg_params[] = {
    {"icache", PARAM_OBJECT, PARAM_FIELD_(struct cg_counter, icache_obj), NULL, 1, 0, NULL,
     "Cache", "", "I1: a cachegrind-mode Cache (its next_level the LL)"},
    {"dcache", PARAM_OBJECT, PARAM_FIELD_(struct cg_counter, dcache_obj), NULL, 1, 0, NULL,
     "Cache", "", "D1: a cachegrind-mode Cache (its next_level the LL)"},
    PARAM_END,
};

static struct sim_type cg_type = {
    .name = "CachegrindCounter",
    .help = "Counts one guest process's user-mode accesses like valgrind's cachegrind "
            "(attached to a TimingModel; the process is the one a region marker names)",
    .size = sizeof(struct cg_counter),
    .params = cg_params,
    .ops = {.init = cg_init, .serialize = cg_serialize, .unserialize = cg_unserialize},
};
SIM_TYPE_REGISTER(cg_type);
