/* Simulated time: one tick is one picosecond, and clock domains that convert
 * between a component's cycles and ticks. */
#ifndef TANDEM_SIM_TICK_H
#define TANDEM_SIM_TICK_H

#include <stdint.h>

typedef uint64_t tick_t;

#define TICK_MAX UINT64_MAX
#define TICKS_PER_NS 1000ULL
#define TICKS_PER_US (1000ULL * TICKS_PER_NS)
#define TICKS_PER_MS (1000ULL * TICKS_PER_US)
#define TICKS_PER_S (1000ULL * TICKS_PER_MS)

/* A clock domain has an integral period in ticks; frequencies that do not
 * divide 1e12 round to the nearest picosecond, as gem5 does. */
struct clock_domain {
    uint64_t period; /* ticks per cycle */
};

static inline void clock_domain_init_hz(struct clock_domain *cd, uint64_t hz)
{
    cd->period = (TICKS_PER_S + hz / 2) / hz;
    if (cd->period == 0)
        cd->period = 1;
}

static inline tick_t cycles_to_ticks(const struct clock_domain *cd, uint64_t cycles)
{
    return cycles * cd->period;
}

static inline uint64_t ticks_to_cycles(const struct clock_domain *cd, tick_t t)
{
    return t / cd->period;
}

/* The first tick at or after t that lies on a cycle edge. */
static inline tick_t clock_edge(const struct clock_domain *cd, tick_t t)
{
    return (t + cd->period - 1) / cd->period * cd->period;
}

#endif
