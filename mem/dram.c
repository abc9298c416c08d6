/* DRAM timing model; see mem/dram.h and docs/timing.md. */
#include "mem/dram.h"

#include <math.h>

#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

uint64_t dram_access(struct dram *d, uint64_t addr, unsigned size, enum mem_op op)
{
    (void)addr; /* one channel, no banks: the address does not matter */
    uint64_t now = d->cycle_counter ? *d->cycle_counter
                                    : ticks_to_cycles(&d->clock, sim_now(d->obj.sim));
    /* A clock that went backwards (its owner reset it) must not leave the
     * channel busy for the time it jumped. */
    if (now < d->last_now && d->busy_until > now << DRAM_FRAC_SHIFT)
        d->busy_until = now << DRAM_FRAC_SHIFT;
    d->last_now = now;
    uint64_t now_frac = now << DRAM_FRAC_SHIFT;
    uint64_t start = d->busy_until > now_frac ? d->busy_until : now_frac;
    d->busy_until = start + (uint64_t)size * d->frac_cycles_per_byte;
    d->queue_cycles += (start - now_frac) >> DRAM_FRAC_SHIFT;
    if (op == MEM_READ) {
        d->reads++;
        d->bytes_read += size;
    } else {
        d->writes++;
        d->bytes_written += size;
    }
    /* Waiting plus transfer, rounded up to whole cycles, plus the fixed
     * latency. */
    uint64_t occupied = d->busy_until - now_frac;
    return d->latency_cycles + ((occupied + (1u << DRAM_FRAC_SHIFT) - 1) >> DRAM_FRAC_SHIFT);
}

void dram_set_cycle_counter(struct dram *d, const uint64_t *cycles)
{
    d->cycle_counter = cycles;
}

static double stat_bandwidth_used(const struct sim_object *o)
{
    const struct dram *d = (const struct dram *)o;
    uint64_t now = d->cycle_counter ? *d->cycle_counter
                                    : ticks_to_cycles(&d->clock, sim_now(o->sim));
    if (!now)
        return 0.0;
    return (double)(d->bytes_read + d->bytes_written) / (double)now;
}

static int dram_init(struct sim_object *o)
{
    struct dram *d = SIM_CAST(struct dram, o);
    if (!(d->latency_ns >= 0) || d->latency_ns > 1e6) {
        err_set("latency_ns must be 0..1000000, got %g", d->latency_ns);
        return -1;
    }
    if (!(d->bandwidth_gbps >= 0.001) || d->bandwidth_gbps > 1e6) {
        err_set("bandwidth_gbps must be 0.001..1000000, got %g", d->bandwidth_gbps);
        return -1;
    }
    clock_domain_init_hz(&d->clock, d->clock_hz);
    d->latency_cycles = (uint64_t)llround(d->latency_ns * (double)d->clock_hz / 1e9);
    double cycles_per_byte = (double)d->clock_hz / (d->bandwidth_gbps * 1e9);
    d->frac_cycles_per_byte = (uint64_t)llround(cycles_per_byte * (1u << DRAM_FRAC_SHIFT));
    if (d->frac_cycles_per_byte == 0)
        d->frac_cycles_per_byte = 1;
    /* Keeps size * cost per byte far from overflow for any request. */
    if (d->frac_cycles_per_byte > (1ULL << 28)) {
        err_set("bandwidth_gbps %g is below one byte per %llu cycles of clock_hz %llu",
                d->bandwidth_gbps, 1ULL << (28 - DRAM_FRAC_SHIFT),
                (unsigned long long)d->clock_hz);
        return -1;
    }
    cache_level_of(o);
    stats_add_counter(o, "reads", &d->reads, "count", "Read requests (line fills)");
    stats_add_counter(o, "writes", &d->writes, "count", "Write requests (write-backs)");
    stats_add_counter(o, "bytesRead", &d->bytes_read, "byte", "Bytes read");
    stats_add_counter(o, "bytesWritten", &d->bytes_written, "byte", "Bytes written");
    stats_add_counter(o, "queueCycles", &d->queue_cycles, "cycle",
                      "Cycles requests waited for the busy channel");
    stats_add_formula(o, "bytesPerCycle", stat_bandwidth_used, "byte/cycle",
                      "Bytes moved per elapsed cycle");
    return 0;
}

static void dram_serialize(struct sim_object *o, struct ser_node *n)
{
    struct dram *d = SIM_CAST(struct dram, o);
    SER_PUT(n, d, busy_until);
    SER_PUT(n, d, last_now);
    SER_PUT(n, d, reads);
    SER_PUT(n, d, writes);
    SER_PUT(n, d, bytes_read);
    SER_PUT(n, d, bytes_written);
    SER_PUT(n, d, queue_cycles);
}

static int dram_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct dram *d = SIM_CAST(struct dram, o);
    if (SER_GET(n, d, busy_until) < 0 || SER_GET(n, d, last_now) < 0 || SER_GET(n, d, reads) < 0 || SER_GET(n, d, writes) < 0 ||
        SER_GET(n, d, bytes_read) < 0 || SER_GET(n, d, bytes_written) < 0 ||
        SER_GET(n, d, queue_cycles) < 0)
        return -1;
    return 0;
}

static const struct param_desc dram_params[] = {
    PARAM_DOUBLE_(struct dram, latency_ns, "50", "ns", "Fixed latency of every request"),
    PARAM_DOUBLE_(struct dram, bandwidth_gbps, "12.8", "GB/s",
                  "Channel bandwidth (1 GB = 1e9 bytes); a request holds the channel for "
                  "size / bandwidth"),
    PARAM_UINT_(struct dram, clock_hz, "2000000000", 1000, 1000000000000LL, "Hz",
                "Clock whose cycles latencies are returned in (the CPU clock)"),
    PARAM_END,
};

static struct sim_type dram_type = {
    .name = "DRAM",
    .help = "Memory timing model: fixed latency and one channel of finite bandwidth",
    .size = sizeof(struct dram),
    .params = dram_params,
    .ops = {.init = dram_init, .serialize = dram_serialize, .unserialize = dram_unserialize},
};
SIM_TYPE_REGISTER(dram_type);
