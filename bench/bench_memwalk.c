/* The native twin of guest/tests/memwalk.c for bench/interp-timing: the
 * same workload (guest/include/memwalk.h) on the host, timed in CPU
 * seconds. Prints "rounds R seconds S checksum C".
 *   bench_memwalk [ROUNDS]   (default 20000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "guest/include/memwalk.h"

static struct memwalk_node nodes[MEMWALK_NODES] __attribute__((aligned(64)));

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long rounds = argc > 1 ? strtol(argv[1], &end, 10) : 20000;
    if (argc > 1 && (*end || rounds <= 0)) {
        fprintf(stderr, "bench_memwalk: ROUNDS must be a positive integer, got '%s'\n", argv[1]);
        return 2;
    }
    memwalk_init(nodes);
    double start = cpu_seconds();
    uint64_t first = 0;
    for (long r = 0; r < rounds; r++) {
        uint32_t lap;
        uint64_t sum = memwalk_round(nodes, &lap);
        if (lap != MEMWALK_NODES || (r && sum != first)) {
            fprintf(stderr, "bench_memwalk: round %ld went wrong (lap %u)\n", r, lap);
            return 1;
        }
        first = sum;
    }
    printf("rounds %ld seconds %.6f checksum 0x%llx\n", rounds, cpu_seconds() - start,
           (unsigned long long)first);
    return 0;
}
