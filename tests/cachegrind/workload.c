/* The cachegrind-oracle workload: a small, deterministic user program whose
 * memory behaviour mixes the patterns a cache model must get right --
 * blocked-free matrix multiply (strided column walks), a pointer chase over
 * a shuffled linked list (one miss per node once it exceeds a cache level),
 * and memcpy of buffers larger than L1 (streaming reads and writes,
 * including unaligned, line-straddling copies). Run under valgrind's
 * cachegrind and lackey by tests/cachegrind.cmake. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 32
#define NODES 10000
#define COPY_BYTES (48 * 1024)

static double a[N][N], b[N][N], c[N][N];

struct node {
    struct node *next;
    uint64_t value;
    uint64_t pad[2];
};

static uint64_t lcg_state = 12345;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

static double matmul(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = i + j;
            b[i][j] = i - j;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++)
                s += a[i][k] * b[k][j];
            c[i][j] = s;
        }
    return c[N / 2][N / 3];
}

static uint64_t list_walk(void)
{
    struct node *nodes = malloc(NODES * sizeof(*nodes));
    unsigned *order = malloc(NODES * sizeof(*order));
    if (!nodes || !order)
        abort();
    for (unsigned i = 0; i < NODES; i++)
        order[i] = i;
    for (unsigned i = NODES - 1; i > 0; i--) {
        unsigned j = lcg() % (i + 1);
        unsigned t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (unsigned i = 0; i < NODES; i++) {
        nodes[order[i]].next = i + 1 < NODES ? &nodes[order[i + 1]] : NULL;
        nodes[order[i]].value = i;
    }
    uint64_t sum = 0;
    for (int pass = 0; pass < 2; pass++)
        for (struct node *n = &nodes[order[0]]; n; n = n->next)
            sum += n->value;
    free(order);
    free(nodes);
    return sum;
}

static uint64_t copies(void)
{
    uint8_t *src = malloc(COPY_BYTES + 64), *dst = malloc(COPY_BYTES + 64);
    if (!src || !dst)
        abort();
    for (unsigned i = 0; i < COPY_BYTES + 64; i++)
        src[i] = (uint8_t)lcg();
    uint64_t sum = 0;
    for (int round = 0; round < 2; round++) {
        memcpy(dst + round, src + 3 * round, COPY_BYTES);
        sum += dst[lcg() % COPY_BYTES];
    }
    free(src);
    free(dst);
    return sum;
}

int main(void)
{
    double m = matmul();
    uint64_t l = list_walk();
    uint64_t cp = copies();
    printf("matmul %.1f list %llu copy %llu\n", m, (unsigned long long)l, (unsigned long long)cp);
    return 0;
}
