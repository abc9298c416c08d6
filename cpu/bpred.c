/* Branch predictor timing model; see cpu/bpred.h and docs/timing.md. */
#include "cpu/bpred.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

#define BPRED_MAX_HISTORY 32

static inline uint32_t counter_index(const struct bpred *b, uint64_t pc)
{
    uint64_t idx = pc;
    if (b->kind == BPRED_GSHARE)
        idx ^= b->history;
    return (uint32_t)idx & b->table_mask;
}

static inline struct bpred_btb_entry *btb_set(struct bpred *b, uint64_t pc)
{
    return b->btb + (size_t)(pc & b->btb_set_mask) * b->btb_assoc;
}

/* The BTB's predicted target of pc (true) or a miss (false); either way
 * the entry for pc ends up most recent in its set holding target. */
static bool btb_predict_update(struct bpred *b, uint64_t pc, uint64_t target, uint64_t *predicted)
{
    struct bpred_btb_entry *set = btb_set(b, pc);
    unsigned n = b->btb_assoc, i;
    b->btb_lookups++;
    for (i = 0; i < n; i++)
        if (set[i].pc == pc)
            break;
    bool hit = i < n;
    if (hit)
        *predicted = set[i].target;
    else
        b->btb_misses++;
    /* Hit: move to the front; miss: the last way (LRU or empty) goes. */
    unsigned from = hit ? i : n - 1;
    memmove(set + 1, set, from * sizeof(*set));
    set[0].pc = pc;
    set[0].target = target;
    return hit;
}

/* Whether a BTB lookup for pc predicts target; updates the BTB. */
static bool btb_correct(struct bpred *b, uint64_t pc, uint64_t target)
{
    uint64_t predicted = 0;
    return btb_predict_update(b, pc, target, &predicted) && predicted == target;
}

static void ras_push(struct bpred *b, uint64_t addr)
{
    b->ras[b->ras_top] = addr;
    b->ras_top = (b->ras_top + 1) % b->ras_depth;
    if (b->ras_count < b->ras_depth)
        b->ras_count++;
}

static bool ras_pop(struct bpred *b, uint64_t *addr)
{
    if (!b->ras_count)
        return false;
    b->ras_top = (b->ras_top + b->ras_depth - 1) % b->ras_depth;
    b->ras_count--;
    *addr = b->ras[b->ras_top];
    return true;
}

bool bpred_branch(struct bpred *b, uint64_t pc, uint64_t fallthrough, bool taken,
                  uint64_t target, enum branch_kind kind)
{
    bool wrong = false;
    b->lookups++;
    switch (kind) {
    case BRANCH_COND: {
        b->cond_branches++;
        uint8_t *ctr = &b->counters[counter_index(b, pc)];
        bool predict_taken = *ctr >= 2;
        if (predict_taken != taken) {
            wrong = true;
            b->cond_mispredicts++;
        }
        /* Taken branches need a target from the BTB (and train it). */
        if (taken && !btb_correct(b, pc, target))
            wrong = true;
        if (taken && *ctr < 3)
            (*ctr)++;
        else if (!taken && *ctr > 0)
            (*ctr)--;
        if (b->history_bits)
            b->history = ((b->history << 1) | taken) & ((1ULL << b->history_bits) - 1);
        break;
    }
    case BRANCH_UNCOND:
        wrong = !btb_correct(b, pc, target);
        break;
    case BRANCH_INDIRECT:
        wrong = !btb_correct(b, pc, target);
        b->indirect_mispredicts += wrong;
        break;
    case BRANCH_CALL:
        wrong = !btb_correct(b, pc, target);
        ras_push(b, fallthrough);
        break;
    case BRANCH_RET: {
        uint64_t predicted = 0;
        b->returns++;
        wrong = !ras_pop(b, &predicted) || predicted != target;
        b->ras_mispredicts += wrong;
        break;
    }
    }
    b->mispredicts += wrong;
    return wrong;
}

void bpred_set_inst_counter(struct bpred *b, const uint64_t *insts)
{
    b->insts = insts;
}

static double stat_mpki(const struct sim_object *o)
{
    const struct bpred *b = (const struct bpred *)o;
    uint64_t insts = b->insts ? *b->insts : sim_total_insts(o->sim);
    return insts ? (double)b->mispredicts * 1000.0 / (double)insts : 0.0;
}

static double stat_cond_accuracy(const struct sim_object *o)
{
    const struct bpred *b = (const struct bpred *)o;
    return b->cond_branches
               ? 1.0 - (double)b->cond_mispredicts / (double)b->cond_branches
               : 0.0;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int bpred_init(struct sim_object *o)
{
    struct bpred *b = SIM_CAST(struct bpred, o);
    if (!is_pow2(b->table_entries)) {
        err_set("table_entries must be a power of two, got %u", b->table_entries);
        return -1;
    }
    if (b->history_bits > BPRED_MAX_HISTORY) {
        err_set("history_bits must be at most %u, got %u", BPRED_MAX_HISTORY, b->history_bits);
        return -1;
    }
    if (b->btb_assoc == 0 || b->btb_entries % b->btb_assoc ||
        !is_pow2(b->btb_entries / b->btb_assoc)) {
        err_set("btb_entries (%u) / btb_assoc (%u) must be a power-of-two number of sets",
                b->btb_entries, b->btb_assoc);
        return -1;
    }
    b->table_mask = b->table_entries - 1;
    b->btb_sets = b->btb_entries / b->btb_assoc;
    b->btb_set_mask = b->btb_sets - 1;
    b->counters = malloc(b->table_entries);
    b->btb = malloc((size_t)b->btb_entries * sizeof(*b->btb));
    b->ras = calloc(b->ras_depth, sizeof(*b->ras));
    if (!b->counters || !b->btb || !b->ras) {
        err_set("cannot allocate the predictor tables");
        return -1;
    }
    /* Weakly not taken: the first taken outcome flips a counter. */
    memset(b->counters, 1, b->table_entries);
    for (size_t i = 0; i < b->btb_entries; i++)
        b->btb[i] = (struct bpred_btb_entry){BPRED_NO_PC, 0};
    stats_add_counter(o, "lookups", &b->lookups, "count", "Branches predicted");
    stats_add_counter(o, "condBranches", &b->cond_branches, "count", "Conditional branches");
    stats_add_counter(o, "condMispredicts", &b->cond_mispredicts, "count",
                      "Conditional branches whose direction was mispredicted");
    stats_add_counter(o, "btbLookups", &b->btb_lookups, "count", "Taken-target lookups");
    stats_add_counter(o, "btbMisses", &b->btb_misses, "count", "Target lookups that missed");
    stats_add_counter(o, "indirectMispredicts", &b->indirect_mispredicts, "count",
                      "Indirect jumps whose target was mispredicted");
    stats_add_counter(o, "returns", &b->returns, "count", "Returns");
    stats_add_counter(o, "rasMispredicts", &b->ras_mispredicts, "count",
                      "Returns the return-address stack predicted wrongly");
    stats_add_counter(o, "mispredicts", &b->mispredicts, "count",
                      "Branches mispredicted (direction or target)");
    stats_add_formula(o, "condAccuracy", stat_cond_accuracy, "ratio",
                      "Conditional branches whose direction was right");
    stats_add_formula(o, "mpki", stat_mpki, "count", "Mispredicts per 1000 instructions");
    return 0;
}

static void bpred_destroy(struct sim_object *o)
{
    struct bpred *b = SIM_CAST(struct bpred, o);
    free(b->counters);
    free(b->btb);
    free(b->ras);
}

static void put_be64_array(struct ser_node *n, const char *key, const uint64_t *v, size_t count)
{
    uint64_t *be = malloc((count ? count : 1) * sizeof(*be));
    if (!be)
        fatal("out of memory serializing %s", key);
    for (size_t i = 0; i < count; i++)
        be[i] = htobe64(v[i]);
    ser_put_bytes(n, key, be, count * sizeof(*be));
    free(be);
}

static int get_be64_array(const struct ser_node *n, const char *key, uint64_t *v, size_t count)
{
    if (ser_get_bytes(n, key, v, count * sizeof(*v)) < 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        v[i] = be64toh(v[i]);
    return 0;
}

static void bpred_serialize(struct sim_object *o, struct ser_node *n)
{
    struct bpred *b = SIM_CAST(struct bpred, o);
    SER_PUT(n, b, table_entries);
    SER_PUT(n, b, btb_entries);
    SER_PUT(n, b, btb_assoc);
    SER_PUT(n, b, ras_depth);
    ser_put_bytes(n, "counters", b->counters, b->table_entries);
    /* The BTB as pc, target pairs. */
    put_be64_array(n, "btb", &b->btb[0].pc, (size_t)b->btb_entries * 2);
    put_be64_array(n, "ras", b->ras, b->ras_depth);
    SER_PUT(n, b, history);
    SER_PUT(n, b, ras_top);
    SER_PUT(n, b, ras_count);
    SER_PUT(n, b, lookups);
    SER_PUT(n, b, cond_branches);
    SER_PUT(n, b, cond_mispredicts);
    SER_PUT(n, b, btb_lookups);
    SER_PUT(n, b, btb_misses);
    SER_PUT(n, b, indirect_mispredicts);
    SER_PUT(n, b, returns);
    SER_PUT(n, b, ras_mispredicts);
    SER_PUT(n, b, mispredicts);
}

static int bpred_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct bpred *b = SIM_CAST(struct bpred, o);
    uint64_t table_entries, btb_entries, btb_assoc, ras_depth;
    if (ser_get_u64(n, "table_entries", &table_entries) < 0 ||
        ser_get_u64(n, "btb_entries", &btb_entries) < 0 ||
        ser_get_u64(n, "btb_assoc", &btb_assoc) < 0 || ser_get_u64(n, "ras_depth", &ras_depth) < 0)
        return -1;
    if (table_entries != b->table_entries || btb_entries != b->btb_entries ||
        btb_assoc != b->btb_assoc || ras_depth != b->ras_depth) {
        err_set("%s: checkpoint predictor has %llu counters, a %llu-entry %llu-way BTB and a "
                "%llu-deep RAS; this one %u, %u, %u, %u", o->path,
                (unsigned long long)table_entries, (unsigned long long)btb_entries,
                (unsigned long long)btb_assoc, (unsigned long long)ras_depth, b->table_entries,
                b->btb_entries, b->btb_assoc, b->ras_depth);
        return -1;
    }
    if (ser_get_bytes(n, "counters", b->counters, b->table_entries) < 0 ||
        get_be64_array(n, "btb", &b->btb[0].pc, (size_t)b->btb_entries * 2) < 0 ||
        get_be64_array(n, "ras", b->ras, b->ras_depth) < 0 || SER_GET(n, b, history) < 0 ||
        SER_GET(n, b, ras_top) < 0 || SER_GET(n, b, ras_count) < 0 ||
        SER_GET(n, b, lookups) < 0 || SER_GET(n, b, cond_branches) < 0 ||
        SER_GET(n, b, cond_mispredicts) < 0 || SER_GET(n, b, btb_lookups) < 0 ||
        SER_GET(n, b, btb_misses) < 0 || SER_GET(n, b, indirect_mispredicts) < 0 ||
        SER_GET(n, b, returns) < 0 || SER_GET(n, b, ras_mispredicts) < 0 ||
        SER_GET(n, b, mispredicts) < 0)
        return -1;
    for (uint32_t i = 0; i < b->table_entries; i++) {
        if (b->counters[i] > 3) {
            err_set("%s: checkpoint counter %u holds %u (2-bit counters hold 0..3)", o->path, i,
                    b->counters[i]);
            return -1;
        }
    }
    if (b->ras_top >= b->ras_depth || b->ras_count > b->ras_depth ||
        (b->history_bits < 64 && b->history >> b->history_bits)) {
        err_set("%s: checkpoint RAS position or history is out of range", o->path);
        return -1;
    }
    return 0;
}

static const char *const kind_choices[] = {"bimodal", "gshare", NULL};

static const struct param_desc bpred_params[] = {
    PARAM_ENUM_(struct bpred, kind, "gshare", kind_choices,
                "Direction predictor: bimodal (PC-indexed) or gshare (PC xor global history)"),
    PARAM_UINT_(struct bpred, table_entries, "4096", 1, 1 << 26, "count",
                "2-bit counters (power of two)"),
    PARAM_UINT_(struct bpred, history_bits, "12", 0, BPRED_MAX_HISTORY, "bit",
                "Global history length (gshare)"),
    PARAM_UINT_(struct bpred, btb_entries, "2048", 1, 1 << 24, "count", "BTB entries"),
    PARAM_UINT_(struct bpred, btb_assoc, "4", 1, 1 << 10, "count", "BTB ways per set"),
    PARAM_UINT_(struct bpred, ras_depth, "16", 1, 1 << 16, "count", "Return-address stack depth"),
    PARAM_UINT_(struct bpred, mispredict_penalty, "15", 0, 1 << 16, "cycle",
                "Cycles a mispredicted branch costs"),
    PARAM_END,
};

static struct sim_type bpred_type = {
    .name = "BranchPredictor",
    .help = "Branch predictor timing model: bimodal/gshare, BTB, return-address stack",
    .size = sizeof(struct bpred),
    .params = bpred_params,
    .ops = {.init = bpred_init, .serialize = bpred_serialize, .unserialize = bpred_unserialize,
            .destroy = bpred_destroy},
};
SIM_TYPE_REGISTER(bpred_type);
