#include "sim/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/log.h"
#include "sim/sim.h"
#include "sim/util.h"

void stat_dist_init(struct stat_dist *d, uint64_t lo, uint64_t bucket_size, unsigned nbuckets)
{
    memset(d, 0, sizeof(*d));
    d->lo = lo;
    d->bucket_size = bucket_size ? bucket_size : 1;
    d->nbuckets = nbuckets ? nbuckets : 1;
    d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
}

void stat_dist_free(struct stat_dist *d)
{
    free(d->buckets);
    d->buckets = NULL;
}

void stat_dist_clear(struct stat_dist *d)
{
    memset(d->buckets, 0, d->nbuckets * sizeof(*d->buckets));
    d->samples = d->underflows = d->overflows = d->min_value = d->max_value = 0;
    d->sum = d->sum_sq = 0;
}

void stat_dist_sample(struct stat_dist *d, uint64_t v)
{
    if (d->samples == 0 || v < d->min_value)
        d->min_value = v;
    if (d->samples == 0 || v > d->max_value)
        d->max_value = v;
    d->samples++;
    d->sum += (double)v;
    d->sum_sq += (double)v * (double)v;
    if (v < d->lo)
        d->underflows++;
    else if ((v - d->lo) / d->bucket_size >= d->nbuckets)
        d->overflows++;
    else
        d->buckets[(v - d->lo) / d->bucket_size]++;
}

static struct stat_entry *add(struct sim_object *o, const char *name, enum stat_kind kind,
                              const char *unit, const char *desc)
{
    struct stats_registry *r = &o->sim->stats;
    if (r->count == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->entries = realloc(r->entries, r->cap * sizeof(*r->entries));
    }
    struct stat_entry *e = &r->entries[r->count++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->owner = o;
    if (asprintf(&e->name, "%s.%s", o->path, name) < 0)
        fatal("out of memory");
    e->unit = strdup(unit ? unit : "");
    e->desc = strdup(desc ? desc : "");
    return e;
}

void stats_add_counter(struct sim_object *o, const char *name, uint64_t *counter, const char *unit,
                       const char *desc)
{
    add(o, name, STAT_COUNTER, unit, desc)->data = counter;
}

void stats_add_average(struct sim_object *o, const char *name, struct stat_average *a,
                       const char *unit, const char *desc)
{
    add(o, name, STAT_AVERAGE, unit, desc)->data = a;
}

void stats_add_dist(struct sim_object *o, const char *name, struct stat_dist *d, const char *unit,
                    const char *desc)
{
    add(o, name, STAT_DIST, unit, desc)->data = d;
}

void stats_add_ratio(struct sim_object *o, const char *name, const uint64_t *num,
                     const uint64_t *den, const char *unit, const char *desc)
{
    struct stat_entry *e = add(o, name, STAT_RATIO, unit, desc);
    e->num = num;
    e->den = den;
}

void stats_add_formula(struct sim_object *o, const char *name, stat_formula_fn fn,
                       const char *unit, const char *desc)
{
    add(o, name, STAT_FORMULA, unit, desc)->formula = fn;
}

double stat_value(const struct stat_entry *e)
{
    switch (e->kind) {
    case STAT_COUNTER:
        return (double)*(const uint64_t *)e->data;
    case STAT_AVERAGE: {
        const struct stat_average *a = e->data;
        return a->count ? a->sum / (double)a->count : 0;
    }
    case STAT_RATIO:
        return *e->den ? (double)*e->num / (double)*e->den : 0;
    case STAT_FORMULA:
        return e->formula(e->owner);
    case STAT_DIST: {
        const struct stat_dist *d = e->data;
        return d->samples ? d->sum / (double)d->samples : 0;
    }
    }
    return 0;
}

const struct stat_entry *stats_find(const struct simulation *sim, const char *name)
{
    for (size_t i = 0; i < sim->stats.count; i++)
        if (strcmp(sim->stats.entries[i].name, name) == 0)
            return &sim->stats.entries[i];
    return NULL;
}

void stats_add_flush(struct sim_object *o, stats_flush_fn fn)
{
    struct stats_registry *r = &o->sim->stats;
    struct stats_flush *f = realloc(r->flushes, (r->nflushes + 1) * sizeof(*f));
    if (!f)
        fatal("out of memory registering a stats flush for %s", o->path);
    r->flushes = f;
    r->flushes[r->nflushes++] = (struct stats_flush){o, fn};
}

void stats_flush_all(struct simulation *sim)
{
    for (size_t i = 0; i < sim->stats.nflushes; i++)
        sim->stats.flushes[i].fn(sim->stats.flushes[i].owner);
}

void stats_reset(struct simulation *sim)
{
    stats_flush_all(sim);
    for (size_t i = 0; i < sim->stats.count; i++) {
        struct stat_entry *e = &sim->stats.entries[i];
        if (e->kind == STAT_COUNTER)
            *(uint64_t *)e->data = 0;
        else if (e->kind == STAT_AVERAGE)
            memset(e->data, 0, sizeof(struct stat_average));
        else if (e->kind == STAT_DIST)
            stat_dist_clear(e->data);
    }
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        if (o->type->ops.reset_stats)
            o->type->ops.reset_stats(o);
    }
}

void stats_registry_free(struct stats_registry *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->entries[i].name);
        free(r->entries[i].unit);
        free(r->entries[i].desc);
    }
    free(r->entries);
    free(r->flushes);
    free(r->json_dumps);
    memset(r, 0, sizeof(*r));
}

static void txt_line(FILE *f, const char *name, const char *value, const char *desc, const char *unit)
{
    fprintf(f, "%-56s %20s  # %s (%s)\n", name, value, desc, unit);
}

static void txt_num(FILE *f, const char *name, double v, const char *desc, const char *unit)
{
    char buf[64];
    if (v == floor(v) && fabs(v) < 1e18)
        snprintf(buf, sizeof(buf), "%.0f", v);
    else
        snprintf(buf, sizeof(buf), "%.6f", v);
    txt_line(f, name, buf, desc, unit);
}

static void json_num(FILE *f, double v)
{
    if (!isfinite(v))
        fputs("null", f);
    else if (v == floor(v) && fabs(v) < 1e18)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.17g", v);
}

static void write_txt(struct simulation *sim, FILE *f, double host)
{
    tick_t now = sim->eq.now;
    uint64_t insts = sim_total_insts(sim);
    fputs("\n---------- Begin Simulation Statistics ----------\n", f);
    txt_num(f, "simSeconds", (double)now / TICKS_PER_S, "Number of seconds simulated", "second");
    txt_num(f, "simTicks", (double)now, "Number of ticks simulated", "tick");
    txt_num(f, "simInsts", (double)insts, "Number of instructions simulated", "count");
    txt_num(f, "hostSeconds", host, "Real time elapsed on the host", "second");
    txt_num(f, "hostInstRate", host > 0 ? insts / host : 0, "Simulator instruction rate", "count/second");
    for (size_t i = 0; i < sim->stats.count; i++) {
        const struct stat_entry *e = &sim->stats.entries[i];
        if (e->kind != STAT_DIST) {
            txt_num(f, e->name, stat_value(e), e->desc, e->unit);
            continue;
        }
        const struct stat_dist *d = e->data;
        char name[512], val[64];
        double mean = d->samples ? d->sum / d->samples : 0;
        double var = d->samples > 1 ? (d->sum_sq - d->sum * mean) / (d->samples - 1) : 0;
        snprintf(name, sizeof(name), "%s::samples", e->name);
        txt_num(f, name, (double)d->samples, e->desc, "count");
        snprintf(name, sizeof(name), "%s::mean", e->name);
        txt_num(f, name, mean, e->desc, e->unit);
        snprintf(name, sizeof(name), "%s::stdev", e->name);
        txt_num(f, name, var > 0 ? sqrt(var) : 0, e->desc, e->unit);
        snprintf(name, sizeof(name), "%s::underflows", e->name);
        txt_num(f, name, (double)d->underflows, e->desc, "count");
        for (unsigned b = 0; b < d->nbuckets; b++) {
            uint64_t lo = d->lo + b * d->bucket_size;
            snprintf(name, sizeof(name), "%s::%llu-%llu", e->name, (unsigned long long)lo,
                     (unsigned long long)(lo + d->bucket_size - 1));
            snprintf(val, sizeof(val), "%llu", (unsigned long long)d->buckets[b]);
            txt_line(f, name, val, e->desc, "count");
        }
        snprintf(name, sizeof(name), "%s::overflows", e->name);
        txt_num(f, name, (double)d->overflows, e->desc, "count");
        snprintf(name, sizeof(name), "%s::min_value", e->name);
        txt_num(f, name, (double)d->min_value, e->desc, e->unit);
        snprintf(name, sizeof(name), "%s::max_value", e->name);
        txt_num(f, name, (double)d->max_value, e->desc, e->unit);
    }
    fputs("\n---------- End Simulation Statistics   ----------\n", f);
}

/* One dump as a JSON object, appended to the registry's list. */
static void append_json(struct simulation *sim, const char *reason, double host)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "{\"reason\": ");
    json_put_string(f, reason);
    fprintf(f, ", \"tick\": %llu, \"simSeconds\": ", (unsigned long long)sim->eq.now);
    json_num(f, (double)sim->eq.now / TICKS_PER_S);
    fprintf(f, ", \"simInsts\": %llu, \"hostSeconds\": ", (unsigned long long)sim_total_insts(sim));
    json_num(f, host);
    fputs(", \"stats\": {", f);
    for (size_t i = 0; i < sim->stats.count; i++) {
        const struct stat_entry *e = &sim->stats.entries[i];
        fputs(i ? ",\n    " : "\n    ", f);
        json_put_string(f, e->name);
        fputs(": {\"value\": ", f);
        json_num(f, stat_value(e));
        fputs(", \"unit\": ", f);
        json_put_string(f, e->unit);
        fputs(", \"desc\": ", f);
        json_put_string(f, e->desc);
        if (e->kind == STAT_DIST) {
            const struct stat_dist *d = e->data;
            fprintf(f, ", \"samples\": %llu, \"lo\": %llu, \"bucket_size\": %llu, \"underflows\": %llu, "
                       "\"overflows\": %llu, \"min\": %llu, \"max\": %llu, \"buckets\": [",
                    (unsigned long long)d->samples, (unsigned long long)d->lo,
                    (unsigned long long)d->bucket_size, (unsigned long long)d->underflows,
                    (unsigned long long)d->overflows, (unsigned long long)d->min_value,
                    (unsigned long long)d->max_value);
            for (unsigned b = 0; b < d->nbuckets; b++)
                fprintf(f, "%s%llu", b ? ", " : "", (unsigned long long)d->buckets[b]);
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputs("}}", f);
    fclose(f);
    struct stats_registry *r = &sim->stats;
    r->json_dumps = realloc(r->json_dumps, r->json_len + len + 8);
    if (r->json_len) {
        memcpy(r->json_dumps + r->json_len, ",\n  ", 4);
        r->json_len += 4;
    }
    memcpy(r->json_dumps + r->json_len, buf, len + 1);
    r->json_len += len;
    free(buf);
}

int stats_dump(struct simulation *sim, const char *reason)
{
    if (!sim->outdir)
        return 0;
    stats_flush_all(sim);
    if (make_dirs(sim->outdir) < 0)
        return -1;
    double host = host_seconds() - sim->host_start;
    char *txt = path_join(sim->outdir, "stats.txt");
    FILE *f = fopen(txt, sim->stats.dumps ? "a" : "w");
    if (!f) {
        err_set("cannot write %s", txt);
        free(txt);
        return -1;
    }
    write_txt(sim, f, host);
    int bad = ferror(f) | fclose(f);
    free(txt);
    if (bad) {
        err_set("error writing stats.txt in %s", sim->outdir);
        return -1;
    }
    append_json(sim, reason, host);
    sim->stats.dumps++;
    char *json = path_join(sim->outdir, "stats.json");
    struct atomic_file af;
    int rc = atomic_file_open(&af, json);
    free(json);
    if (rc < 0)
        return -1;
    fprintf(af.f, "{\"tandem_version\": \"%s\", \"dumps\": [\n  %s\n]}\n", TANDEM_VERSION,
            sim->stats.json_dumps);
    return atomic_file_commit(&af);
}

void stats_set_periodic(struct simulation *sim, uint64_t interval)
{
    eq_deschedule(&sim->eq, &sim->periodic_stats_event);
    sim->periodic_stats_interval = interval;
    if (interval)
        eq_schedule(&sim->eq, &sim->periodic_stats_event, sim->eq.now + interval);
}
