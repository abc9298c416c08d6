/* TraceDriver; see mem/trace_driver.h and docs/timing.md. */
#include "mem/trace_driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/tlb_model.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

/* Synthetic source layout: code and data in separate regions, plus a hot
 * stack page, like a small user program. */
#define SYNTH_CODE_BASE 0x400000ULL
#define SYNTH_DATA_BASE 0x10000000ULL
#define SYNTH_STACK_BASE 0x7ffff000ULL
#define SYNTH_STACK_BYTES 4096ULL

static uint64_t parse_hex(const char **p, const char *end)
{
    uint64_t v = 0;
    const char *s = *p;
    for (; s < end; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (v >> 60)
            return UINT64_MAX; /* too long: caller rejects */
        v = v << 4 | d;
    }
    *p = s;
    return v;
}

/* One lackey line: "I  addr,size", " L addr,size", " S ...", " M ...";
 * valgrind's own "==pid== ..." messages and "--pid-- ..." warnings, which
 * share the log file, are skipped. 1 record, 0 skipped, -1 bad. */
static int parse_lackey_line(const char *s, const char *end, uint64_t *record)
{
    if (s == end || (end - s >= 2 && ((s[0] == '=' && s[1] == '=') || (s[0] == '-' && s[1] == '-'))))
        return 0;
    enum trace_kind kind;
    if (end - s > 3 && s[0] == 'I' && s[1] == ' ' && s[2] == ' ')
        kind = TRACE_IFETCH;
    else if (end - s > 3 && s[0] == ' ' && s[2] == ' ' && s[1] == 'L')
        kind = TRACE_LOAD;
    else if (end - s > 3 && s[0] == ' ' && s[2] == ' ' && s[1] == 'S')
        kind = TRACE_STORE;
    else if (end - s > 3 && s[0] == ' ' && s[2] == ' ' && s[1] == 'M')
        kind = TRACE_MODIFY;
    else
        return -1;
    const char *p = s + 3, *start = p;
    uint64_t addr = parse_hex(&p, end);
    if (p == start || p == end || *p != ',' || addr >> TRACE_ADDR_BITS)
        return -1;
    p++;
    uint64_t size = 0;
    start = p;
    for (; p < end && *p >= '0' && *p <= '9' && size <= TRACE_MAX_SIZE; p++)
        size = size * 10 + (uint64_t)(*p - '0');
    if (p == start || p != end || size == 0 || size > TRACE_MAX_SIZE)
        return -1;
    *record = addr | size << TRACE_ADDR_BITS | (uint64_t)kind << 62;
    return 1;
}

int trace_load_lackey(struct trace_buffer *t, const char *path)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set("cannot open trace %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0, lineno = 0;
    uint64_t *records = malloc(cap * sizeof(*records));
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    int rc = 0;
    while (records && (n = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        const char *end = line + n;
        while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
            end--;
        uint64_t rec;
        int r = parse_lackey_line(line, end, &rec);
        if (r < 0) {
            err_set("%s:%zu: not a lackey --trace-mem line: '%.*s'", path, lineno,
                    (int)(end - line > 60 ? 60 : end - line), line);
            rc = -1;
            break;
        }
        if (!r)
            continue;
        if (len == cap) {
            uint64_t *grown = realloc(records, 2 * cap * sizeof(*records));
            if (!grown) {
                free(records);
                records = NULL;
                break;
            }
            records = grown;
            cap *= 2;
        }
        records[len++] = rec;
    }
    free(line);
    if (!records) {
        err_set("%s: out of memory after %zu records", path, len);
        rc = -1;
    } else if (rc == 0 && ferror(f)) {
        err_set("cannot read trace %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc < 0) {
        free(records);
        return -1;
    }
    t->records = records;
    t->count = len;
    return 0;
}

void trace_buffer_free(struct trace_buffer *t)
{
    free(t->records);
    t->records = NULL;
    t->count = 0;
}

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The synthetic stream: every instruction is a 4-byte fetch that mostly
 * runs straight on and sometimes jumps; 40% of instructions then access
 * data: the stack page, a strided stream, or a random word of the data
 * footprint. */
static bool synthetic_next(struct trace_driver *d, struct trace_access *a)
{
    bool data_turn = d->code_pc & 1;
    if (!data_turn && d->synth_emitted >= d->synthetic_insts)
        return false;
    d->code_pc &= ~1ULL;
    if (data_turn) {
        uint64_t r = rng_next(&d->rng);
        unsigned kind_pick = (unsigned)(r % 100), where = (unsigned)(r >> 8) % 10;
        a->kind = kind_pick < 70 ? TRACE_LOAD : kind_pick < 95 ? TRACE_STORE : TRACE_MODIFY;
        a->size = 8;
        if (where < 5) {
            a->addr = SYNTH_STACK_BASE + ((r >> 16) % SYNTH_STACK_BYTES & ~7ULL);
        } else if (where < 8) {
            a->addr = SYNTH_DATA_BASE + d->stream_pos;
            d->stream_pos = (d->stream_pos + 8) % d->data_footprint;
        } else {
            a->addr = SYNTH_DATA_BASE + ((r >> 20) % d->data_footprint & ~7ULL);
        }
        return true;
    }
    uint64_t r = rng_next(&d->rng);
    d->synth_emitted++;
    a->kind = TRACE_IFETCH;
    a->size = 4;
    a->addr = SYNTH_CODE_BASE + d->code_pc;
    if (r % 16 == 0)
        d->code_pc = (r >> 8) % d->code_footprint & ~3ULL;
    else
        d->code_pc = (d->code_pc + 4) % d->code_footprint;
    /* Bit 0 of code_pc (instructions are 4-aligned) says a data access of
     * this instruction comes next. */
    if ((r >> 4) % 10 < 4)
        d->code_pc |= 1;
    return true;
}

bool trace_driver_next(struct trace_driver *d, struct trace_access *a)
{
    if (d->source == TRACE_SOURCE_SYNTHETIC) {
        if (!synthetic_next(d, a))
            return false;
    } else {
        if (d->position >= d->trace.count)
            return false;
        *a = trace_record(&d->trace, d->position);
    }
    d->position++;
    if (a->size > d->max_access)
        a->size = d->max_access;
    return true;
}

uint64_t trace_driver_step(struct trace_driver *d, uint64_t max)
{
    uint64_t done = 0;
    struct trace_access a;
    while (done < max && trace_driver_next(d, &a)) {
        done++;
        if (a.kind == TRACE_IFETCH) {
            d->insts++;
            d->cycles += d->base_cycles;
            if (d->itlb)
                d->cycles += tlb_model_access(d->itlb, a.addr, TLB_PAGE_4K);
            /* An L1I hit is hidden by the pipeline; only the stall counts. */
            if (d->icache)
                d->cycles += cache_access(d->icache, a.addr, a.size, MEM_READ) -
                             d->icache->hit_latency;
            continue;
        }
        enum mem_op op = MEM_READ;
        if (a.kind == TRACE_LOAD) {
            d->loads++;
        } else if (a.kind == TRACE_STORE) {
            d->stores++;
            op = MEM_WRITE;
        } else {
            d->modifies++;
            op = MEM_MODIFY;
        }
        if (d->dtlb)
            d->cycles += tlb_model_access(d->dtlb, a.addr, TLB_PAGE_4K);
        if (d->dcache)
            d->cycles += cache_access(d->dcache, a.addr, a.size, op);
    }
    if (done < max)
        d->finished = true;
    return done;
}

static void step_event_fn(struct event *ev, void *arg)
{
    (void)ev;
    struct trace_driver *d = arg;
    uint64_t cycles_before = d->cycles;
    trace_driver_step(d, d->batch);
    if (d->finished)
        return;
    uint64_t delta = d->cycles - cycles_before;
    sim_schedule(d->obj.sim, &d->step_event,
                 sim_now(d->obj.sim) + cycles_to_ticks(&d->clock, delta ? delta : 1));
}

/* Points every level below a cache at this driver's counters, and finds
 * the smallest line of a cachegrind-mode cache (cachegrind clamps every
 * access to it). */
static void attach_hierarchy(struct trace_driver *d, struct cache *c)
{
    if (!c)
        return;
    cache_attach_counters(c, &d->insts, &d->cycles);
    while (c) {
        if (c->cachegrind && c->line_size < d->max_access)
            d->max_access = c->line_size;
        struct sim_object *next = c->next_level_obj;
        c = next && !strcmp(next->type->name, "Cache") ? SIM_CAST(struct cache, next) : NULL;
    }
}

static double stat_cycles(const struct sim_object *o)
{
    return (double)((const struct trace_driver *)o)->cycles;
}

static double stat_ipc(const struct sim_object *o)
{
    const struct trace_driver *d = (const struct trace_driver *)o;
    return d->cycles ? (double)d->insts / (double)d->cycles : 0.0;
}

static int driver_init(struct sim_object *o)
{
    struct trace_driver *d = SIM_CAST(struct trace_driver, o);
    struct sim_object *caches[2] = {d->icache_obj, d->dcache_obj};
    struct sim_object *tlbs[2] = {d->itlb_obj, d->dtlb_obj};
    static const char *const cache_names[2] = {"icache", "dcache"};
    static const char *const tlb_names[2] = {"itlb", "dtlb"};
    for (int i = 0; i < 2; i++) {
        if (caches[i] && strcmp(caches[i]->type->name, "Cache")) {
            err_set("%s must be a Cache, got %s (%s)", cache_names[i], caches[i]->path,
                    caches[i]->type->name);
            return -1;
        }
        if (tlbs[i] && strcmp(tlbs[i]->type->name, "TLB")) {
            err_set("%s must be a TLB, got %s (%s)", tlb_names[i], tlbs[i]->path,
                    tlbs[i]->type->name);
            return -1;
        }
    }
    d->icache = SIM_CAST(struct cache, d->icache_obj);
    d->dcache = SIM_CAST(struct cache, d->dcache_obj);
    d->itlb = SIM_CAST(struct tlb_model, d->itlb_obj);
    d->dtlb = SIM_CAST(struct tlb_model, d->dtlb_obj);
    if (d->source == TRACE_SOURCE_LACKEY) {
        if (!d->file || !*d->file) {
            err_set("source=lackey needs file= (a valgrind --tool=lackey --trace-mem=yes log)");
            return -1;
        }
        /* Drivers replaying one file side by side (a sweep) share it. */
        for (size_t i = 0; i < o->index && !d->trace_borrowed; i++) {
            struct sim_object *other = o->sim->objects[i];
            struct trace_driver *od = SIM_CAST(struct trace_driver, other);
            if (other->type == o->type && od->source == TRACE_SOURCE_LACKEY &&
                !od->trace_borrowed && od->trace.records && !strcmp(od->file, d->file)) {
                d->trace = od->trace;
                d->trace_borrowed = true;
            }
        }
        if (!d->trace_borrowed && trace_load_lackey(&d->trace, d->file) < 0)
            return -1;
    } else {
        if (d->code_footprint < 64 || d->data_footprint < 64) {
            err_set("code_footprint and data_footprint must be at least 64 bytes");
            return -1;
        }
        d->rng = d->seed ? d->seed : 0x9E3779B97F4A7C15ULL;
    }
    d->max_access = TRACE_MAX_SIZE;
    attach_hierarchy(d, d->icache);
    attach_hierarchy(d, d->dcache);
    if (d->itlb)
        tlb_model_set_inst_counter(d->itlb, &d->insts);
    if (d->dtlb)
        tlb_model_set_inst_counter(d->dtlb, &d->insts);
    clock_domain_init_hz(&d->clock, d->clock_hz);
    event_init(&d->step_event, "trace-step", EVPRI_CPU, step_event_fn, d);
    sim_add_inst_counter(o->sim, &d->insts);
    stats_add_counter(o, "insts", &d->insts, "count", "Instructions replayed");
    /* cycles is the driver's clock (DRAM reads it): a formula, so a stats
     * reset leaves it running; insts restarts with the miss counts MPKI
     * divides. */
    stats_add_formula(o, "cycles", stat_cycles, "cycle",
                      "Cycles since the start (not reset): base_cycles per instruction plus "
                      "memory stalls");
    stats_add_counter(o, "loads", &d->loads, "count", "Data reads replayed");
    stats_add_counter(o, "stores", &d->stores, "count", "Data writes replayed");
    stats_add_counter(o, "modifies", &d->modifies, "count", "Read-modify-writes replayed");
    stats_add_formula(o, "ipc", stat_ipc, "ratio", "insts / cycles");
    return 0;
}

static void driver_startup(struct sim_object *o)
{
    struct trace_driver *d = SIM_CAST(struct trace_driver, o);
    if (!d->finished)
        sim_schedule(o->sim, &d->step_event, sim_now(o->sim));
}

/* Destroyed in reverse creation order, so borrowers go before the owner. */
static void driver_destroy(struct sim_object *o)
{
    struct trace_driver *d = SIM_CAST(struct trace_driver, o);
    if (!d->trace_borrowed)
        trace_buffer_free(&d->trace);
}

static void driver_serialize(struct sim_object *o, struct ser_node *n)
{
    struct trace_driver *d = SIM_CAST(struct trace_driver, o);
    ser_put_u64(n, "trace_length", d->source == TRACE_SOURCE_LACKEY ? d->trace.count
                                                                    : d->synthetic_insts);
    SER_PUT(n, d, position);
    SER_PUT(n, d, rng);
    SER_PUT(n, d, code_pc);
    SER_PUT(n, d, stream_pos);
    SER_PUT(n, d, synth_emitted);
    SER_PUT(n, d, finished);
    SER_PUT(n, d, insts);
    SER_PUT(n, d, cycles);
    SER_PUT(n, d, loads);
    SER_PUT(n, d, stores);
    SER_PUT(n, d, modifies);
    ser_put_event(n, "step_event", &d->step_event);
}

static int driver_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct trace_driver *d = SIM_CAST(struct trace_driver, o);
    uint64_t length, expect = d->source == TRACE_SOURCE_LACKEY ? d->trace.count
                                                               : d->synthetic_insts;
    if (ser_get_u64(n, "trace_length", &length) < 0)
        return -1;
    if (length != expect) {
        err_set("%s: checkpoint trace has %llu accesses, this one %llu", o->path,
                (unsigned long long)length, (unsigned long long)expect);
        return -1;
    }
    if (SER_GET(n, d, position) < 0 || SER_GET(n, d, rng) < 0 || SER_GET(n, d, code_pc) < 0 ||
        SER_GET(n, d, stream_pos) < 0 ||
        SER_GET(n, d, synth_emitted) < 0 || SER_GET(n, d, finished) < 0 ||
        SER_GET(n, d, insts) < 0 || SER_GET(n, d, cycles) < 0 || SER_GET(n, d, loads) < 0 ||
        SER_GET(n, d, stores) < 0 || SER_GET(n, d, modifies) < 0)
        return -1;
    if ((d->source == TRACE_SOURCE_LACKEY && d->position > length) ||
        (d->source == TRACE_SOURCE_SYNTHETIC &&
         (d->synth_emitted > length || d->stream_pos >= d->data_footprint ||
          (d->code_pc & ~1ULL) >= d->code_footprint || !d->rng))) {
        err_set("%s: checkpoint trace position is out of range", o->path);
        return -1;
    }
    return ser_get_event(n, "step_event", &d->step_event, &o->sim->eq);
}

static const char *const source_choices[] = {"lackey", "synthetic", NULL};

static const struct param_desc driver_params[] = {
    PARAM_ENUM_(struct trace_driver, source, "synthetic", source_choices,
                "Where accesses come from: a lackey trace file or the synthetic generator"),
    PARAM_STRING_(struct trace_driver, file, "",
                  "valgrind --tool=lackey --trace-mem=yes log (source=lackey)"),
    {"icache", PARAM_OBJECT, PARAM_FIELD_(struct trace_driver, icache_obj), "", 1, 0, NULL,
     "Cache", "", "Cache instruction fetches go to (none: not modelled)"},
    {"dcache", PARAM_OBJECT, PARAM_FIELD_(struct trace_driver, dcache_obj), "", 1, 0, NULL,
     "Cache", "", "Cache data accesses go to (none: not modelled)"},
    {"itlb", PARAM_OBJECT, PARAM_FIELD_(struct trace_driver, itlb_obj), "", 1, 0, NULL, "TLB",
     "", "Instruction TLB (4 KiB pages)"},
    {"dtlb", PARAM_OBJECT, PARAM_FIELD_(struct trace_driver, dtlb_obj), "", 1, 0, NULL, "TLB",
     "", "Data TLB (4 KiB pages)"},
    PARAM_UINT_(struct trace_driver, clock_hz, "2000000000", 1000, 1000000000000LL, "Hz",
                "Clock the driver's cycles advance simulated time by"),
    PARAM_UINT_(struct trace_driver, batch, "65536", 1, 1LL << 32, "count",
                "Accesses replayed per event"),
    PARAM_UINT_(struct trace_driver, base_cycles, "1", 0, 1000, "cycle",
                "Cycles per instruction before memory stalls"),
    PARAM_UINT_(struct trace_driver, synthetic_insts, "1000000", 1, 1LL << 40, "count",
                "Synthetic source: instructions to generate"),
    PARAM_UINT_(struct trace_driver, code_footprint, "64k", 64, 1LL << 40, "byte",
                "Synthetic source: code region size"),
    PARAM_UINT_(struct trace_driver, data_footprint, "4M", 64, 1LL << 40, "byte",
                "Synthetic source: data region size"),
    PARAM_UINT_(struct trace_driver, seed, "1", 0, -1, "", "Synthetic source: generator seed"),
    PARAM_END,
};

static struct sim_type driver_type = {
    .name = "TraceDriver",
    .help = "Replays a memory-access trace (lackey file or synthetic) through caches and TLBs",
    .size = sizeof(struct trace_driver),
    .params = driver_params,
    .ops = {.init = driver_init, .startup = driver_startup, .serialize = driver_serialize,
            .unserialize = driver_unserialize, .destroy = driver_destroy},
};
SIM_TYPE_REGISTER(driver_type);
