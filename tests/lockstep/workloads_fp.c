/* Floating-point workloads: double arithmetic (compiled to SSE2) and long
 * double arithmetic (x87), with no library calls (-fno-math-errno lets
 * sqrt be the SQRTSD instruction). */
#include <stddef.h>
#include <stdint.h>

#include "lockstep.h"

static struct {
    double pos[8][3], vel[8][3], mass[8];
    long double terms[64];
} fm;

void ls_workload_fp_memory(void **base, size_t *size)
{
    *base = &fm;
    *size = sizeof(fm);
}

/* A small n-body integration. */
uint64_t ls_w_nbody(uint64_t steps)
{
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 3; k++) {
            fm.pos[i][k] = (double)((i * 7 + k * 3) % 11) - 5.0;
            fm.vel[i][k] = (double)((i + k) % 3) * 0.01;
        }
        fm.mass[i] = 1.0 + i * 0.25;
    }
    for (uint64_t s = 0; s < steps; s++) {
        for (int i = 0; i < 8; i++)
            for (int j = i + 1; j < 8; j++) {
                double d[3], r2 = 0.01;
                for (int k = 0; k < 3; k++) {
                    d[k] = fm.pos[j][k] - fm.pos[i][k];
                    r2 += d[k] * d[k];
                }
                double inv = 1.0 / (r2 * __builtin_sqrt(r2));
                for (int k = 0; k < 3; k++) {
                    fm.vel[i][k] += d[k] * fm.mass[j] * inv * 0.001;
                    fm.vel[j][k] -= d[k] * fm.mass[i] * inv * 0.001;
                }
            }
        for (int i = 0; i < 8; i++)
            for (int k = 0; k < 3; k++)
                fm.pos[i][k] += fm.vel[i][k] * 0.01;
    }
    double e = 0;
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 3; k++)
            e += fm.pos[i][k] * (double)(k + 1) + fm.vel[i][k];
    union { double d; uint64_t u; } bits = {.d = e};
    return bits.u;
}

/* Series in 80-bit extended precision, with conversions to and from
 * integers and doubles. */
uint64_t ls_w_ldseries(uint64_t n)
{
    long double sum = 0, x = 1.0L;
    for (uint64_t i = 1; i <= n; i++) {
        x = x * 0.999L + 1.0L / (long double)i;
        fm.terms[i & 63] = x;
        sum += (i & 1) ? x / (long double)(i + 1) : -x / (long double)(i * 2);
        if (sum > 1e6L)
            sum = (long double)(int64_t)(sum / 3);
    }
    union { double d; uint64_t u; } bits = {.d = (double)sum};
    return bits.u ^ (uint64_t)(int64_t)(fm.terms[5] * 1000);
}
