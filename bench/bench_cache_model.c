/* Cache-model throughput: a lackey trace replayed through I1/D1/LL Cache
 * objects in cachegrind mode (the oracle test's geometry), in accesses per
 * second of host time. The peer is cachegrind's own run of the same program
 * (instrumented execution plus its cache simulation), measured in CPU
 * seconds by bench/cache-model and passed in.
 *   bench_cache_model LACKEY.log [PEER_SECONDS PEER_ACCESSES] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mem/cache.h"
#include "mem/trace_driver.h"
#include "sim/sim.h"

/* CPU time, not wall time: the host is shared, and the peer is measured
 * the same way (user + system time of the valgrind process). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct cache *cache(struct simulation *sim, const char *path, const char *size,
                           struct sim_object *next)
{
    struct sim_object *o = sim_create(sim, "Cache", path);
    if (!o || param_set_text(o, sim_type_param(o->type, "size"), size) < 0 ||
        param_set_text(o, sim_type_param(o->type, "cachegrind"), "true") < 0 ||
        (next && param_set_object(o, sim_type_param(o->type, "next_level"), next) < 0)) {
        fprintf(stderr, "%s\n", err_get());
        exit(1);
    }
    return SIM_CAST(struct cache, o);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s LACKEY.log [PEER_SECONDS PEER_ACCESSES]\n", argv[0]);
        return 2;
    }
    struct trace_buffer t;
    if (trace_load_lackey(&t, argv[1]) < 0) {
        fprintf(stderr, "%s\n", err_get());
        return 1;
    }
    struct simulation sim;
    sim_init(&sim);
    struct cache *ll = cache(&sim, "ll", "256k", NULL);
    struct cache *i1 = cache(&sim, "i1", "32k", &ll->obj);
    struct cache *d1 = cache(&sim, "d1", "32k", &ll->obj);
    if (sim_instantiate(&sim) < 0) {
        fprintf(stderr, "%s\n", err_get());
        return 1;
    }
    /* Replay until at least a CPU second has passed, whole traces at a
     * time (the first replay starts cold, the others warm). */
    uint64_t accesses = 0, latency = 0;
    unsigned reps = 0;
    double start = cpu_seconds(), elapsed;
    do {
        for (size_t i = 0; i < t.count; i++) {
            struct trace_access a = trace_record(&t, i);
            unsigned size = a.size > 64 ? 64 : a.size;
            if (a.kind == TRACE_IFETCH)
                latency += cache_access(i1, a.addr, size, MEM_READ);
            else
                latency += cache_access(d1, a.addr, size,
                                        a.kind == TRACE_LOAD    ? MEM_READ
                                        : a.kind == TRACE_STORE ? MEM_WRITE
                                                                : MEM_MODIFY);
        }
        accesses += t.count;
        reps++;
        elapsed = cpu_seconds() - start;
    } while (elapsed < 1.0);
    double rate = (double)accesses / elapsed / 1e6;
    printf("trace: %zu accesses, replayed %u times in %.3f CPU s (latency sum %llu)\n", t.count,
           reps, elapsed, (unsigned long long)latency);
    printf("mean misses per replay: I1 %llu D1 %llu LL %llu\n",
           (unsigned long long)(cache_misses(i1) / reps), (unsigned long long)(cache_misses(d1) / reps),
           (unsigned long long)(cache_misses(ll) / reps));
    if (argc == 4) {
        double peer_s = atof(argv[2]), peer_n = atof(argv[3]);
        double peer = peer_s > 0 ? peer_n / peer_s / 1e6 : 0;
        printf("cache-model: %.1f Maccess/s (peer cachegrind %.1f Maccess/s over its whole run "
               "of the program, ratio %.1f)\n", rate, peer, peer > 0 ? rate / peer : 0.0);
    } else {
        printf("cache-model: %.1f Maccess/s (peer cachegrind not measured, ratio n/a)\n", rate);
    }
    sim_destroy(&sim);
    trace_buffer_free(&t);
    return 0;
}
