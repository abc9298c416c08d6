/* Statistics: counters, averages, distributions and formulas registered by
 * sim objects against storage they own (hot paths just increment a field).
 * Dumps go to stats.txt in gem5's format and to stats.json. */
#ifndef TANDEM_SIM_STATS_H
#define TANDEM_SIM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_object;
struct simulation;

struct stat_average {
    double sum;
    uint64_t count;
};

static inline void stat_average_sample(struct stat_average *a, double v)
{
    a->sum += v;
    a->count++;
}

struct stat_dist {
    uint64_t lo, bucket_size;
    unsigned nbuckets;
    uint64_t *buckets;
    uint64_t samples, underflows, overflows, min_value, max_value;
    double sum, sum_sq;
};

/* Buckets [lo, lo+bucket_size), ... nbuckets of them. */
void stat_dist_init(struct stat_dist *d, uint64_t lo, uint64_t bucket_size, unsigned nbuckets);
void stat_dist_free(struct stat_dist *d);
void stat_dist_sample(struct stat_dist *d, uint64_t v);
void stat_dist_clear(struct stat_dist *d);

enum stat_kind { STAT_COUNTER, STAT_AVERAGE, STAT_DIST, STAT_RATIO, STAT_FORMULA };

typedef double (*stat_formula_fn)(const struct sim_object *o);

struct stat_entry {
    enum stat_kind kind;
    struct sim_object *owner; /* NULL: simulation-wide */
    char *name;               /* full dotted name */
    char *unit;               /* unit and desc are copies: callers may */
    char *desc;               /* pass formatted buffers */
    void *data;               /* counter, average or dist */
    const uint64_t *num, *den; /* ratio */
    stat_formula_fn formula;
};

/* Brings an object's lazily kept counters up to date (see stats_add_flush). */
typedef void (*stats_flush_fn)(struct sim_object *o);

struct stats_flush {
    struct sim_object *owner;
    stats_flush_fn fn;
};

struct stats_registry {
    struct stat_entry *entries;
    size_t count, cap;
    struct stats_flush *flushes;
    size_t nflushes;
    unsigned dumps;
    char *json_dumps; /* every dump so far, as JSON objects joined by "," */
    size_t json_len;
};

void stats_add_counter(struct sim_object *o, const char *name, uint64_t *counter,
                       const char *unit, const char *desc);
void stats_add_average(struct sim_object *o, const char *name, struct stat_average *a,
                       const char *unit, const char *desc);
void stats_add_dist(struct sim_object *o, const char *name, struct stat_dist *d,
                    const char *unit, const char *desc);
/* num / den, 0 when den is 0 (e.g. ipc = insts / cycles). */
void stats_add_ratio(struct sim_object *o, const char *name, const uint64_t *num,
                     const uint64_t *den, const char *unit, const char *desc);
void stats_add_formula(struct sim_object *o, const char *name, stat_formula_fn fn,
                       const char *unit, const char *desc);

/* fn runs before every stats_dump and stats_reset, so an object that folds
 * some counters in lazily (a CPU's busy time at the end of its quantum) has
 * them current in any dump, and a reset splits them at the right point. */
void stats_add_flush(struct sim_object *o, stats_flush_fn fn);
/* Runs every flush function (stats_dump and stats_reset do). */
void stats_flush_all(struct simulation *sim);

/* The value a scalar stat prints (counter, average, ratio, formula). */
double stat_value(const struct stat_entry *e);
const struct stat_entry *stats_find(const struct simulation *sim, const char *name);

void stats_reset(struct simulation *sim);
/* Appends a block to OUTDIR/stats.txt and rewrites OUTDIR/stats.json
 * atomically. 0 or -1 (err_set). Without an outdir it does nothing. */
int stats_dump(struct simulation *sim, const char *reason);
/* Dumps every interval ticks (0 stops). */
void stats_set_periodic(struct simulation *sim, uint64_t interval);
void stats_registry_free(struct stats_registry *r);

#endif
