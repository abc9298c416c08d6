#include "mem/system.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mem/pc_layout.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

#define HUGE_ALIGN (2ULL << 20)

struct system *system_of(struct sim_object *o)
{
    return SIM_CAST(struct system, sim_find_ancestor(o, "System"));
}

static int map_region(struct system *s, uint64_t gpa, uint64_t size, const char *name)
{
    struct ram_region *r = &s->ram[s->nram];
    r->map_len = size + HUGE_ALIGN;
    r->map_base = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->map_base == MAP_FAILED) {
        err_set("cannot map %llu MiB of guest RAM: %s", (unsigned long long)(size >> 20),
                strerror(errno));
        r->map_base = NULL;
        return -1;
    }
    uintptr_t aligned = ((uintptr_t)r->map_base + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
    r->host = (uint8_t *)aligned;
    r->gpa = gpa;
    r->size = size;
    madvise(r->host, size, MADV_HUGEPAGE);
    s->nram++;
    return bus_map_ram(&s->bus, gpa, size, r->host, name);
}

static int system_init(struct sim_object *o)
{
    struct system *s = SIM_CAST(struct system, o);
    if (s->mem_size & 0xfffff) {
        err_set("mem_size must be a whole number of MiB, got %llu bytes",
                (unsigned long long)s->mem_size);
        return -1;
    }
    bus_init(&s->bus, o);
    uint64_t low = s->mem_size < PC_LOW_RAM_END ? s->mem_size : PC_LOW_RAM_END;
    if (map_region(s, 0, low, "ram-low") < 0)
        return -1;
    if (s->mem_size > low && map_region(s, PC_HIGH_RAM_BASE, s->mem_size - low, "ram-high") < 0)
        return -1;
    stats_add_counter(o, "unmappedMemReads", &s->bus.mem.unmapped_reads, "count",
                      "Reads of unmapped guest-physical addresses");
    stats_add_counter(o, "unmappedMemWrites", &s->bus.mem.unmapped_writes, "count",
                      "Writes to unmapped guest-physical addresses");
    stats_add_counter(o, "unmappedPortReads", &s->bus.pio.unmapped_reads, "count",
                      "Reads of unmapped I/O ports");
    stats_add_counter(o, "unmappedPortWrites", &s->bus.pio.unmapped_writes, "count",
                      "Writes to unmapped I/O ports");
    stats_add_counter(o, "resetsRequested", &s->resets_requested, "count",
                      "Machine resets the guest requested");
    return 0;
}

static void system_destroy(struct sim_object *o)
{
    struct system *s = SIM_CAST(struct system, o);
    for (unsigned i = 0; i < s->nram; i++)
        munmap(s->ram[i].map_base, s->ram[i].map_len);
    bus_free(&s->bus);
}

/* RAM contents go to checkpoint/'s memory files; the tree records the layout
 * so a restore into a different machine is refused. */
static void system_serialize(struct sim_object *o, struct ser_node *n)
{
    struct system *s = SIM_CAST(struct system, o);
    SER_PUT(n, s, mem_size);
    SER_PUT(n, s, ncpus);
    SER_PUT(n, s, resets_requested);
    SER_PUT(n, s, bus.mem.unmapped_reads);
    SER_PUT(n, s, bus.mem.unmapped_writes);
    SER_PUT(n, s, bus.pio.unmapped_reads);
    SER_PUT(n, s, bus.pio.unmapped_writes);
}

static int system_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct system *s = SIM_CAST(struct system, o);
    uint64_t mem_size, ncpus;
    if (ser_get_u64(n, "mem_size", &mem_size) < 0 || ser_get_u64(n, "ncpus", &ncpus) < 0)
        return -1;
    if (mem_size != s->mem_size || ncpus != s->ncpus) {
        err_set("checkpoint machine has %llu MiB and %llu CPUs, this one %llu MiB and %u CPUs",
                (unsigned long long)(mem_size >> 20), (unsigned long long)ncpus,
                (unsigned long long)(s->mem_size >> 20), s->ncpus);
        return -1;
    }
    if (SER_GET(n, s, resets_requested) < 0 || SER_GET(n, s, bus.mem.unmapped_reads) < 0 ||
        SER_GET(n, s, bus.mem.unmapped_writes) < 0 || SER_GET(n, s, bus.pio.unmapped_reads) < 0 ||
        SER_GET(n, s, bus.pio.unmapped_writes) < 0)
        return -1;
    return 0;
}

void system_add_irq_sink(struct system *s, irq_sink_fn fn, void *opaque)
{
    if (s->nirq_sinks == SYSTEM_MAX_IRQ_SINKS)
        fatal("too many interrupt controllers on %s", s->obj.path);
    s->irq_sinks[s->nirq_sinks].fn = fn;
    s->irq_sinks[s->nirq_sinks++].opaque = opaque;
}

void system_set_irq(struct system *s, unsigned gsi, bool level)
{
    for (unsigned i = 0; i < s->nirq_sinks; i++)
        s->irq_sinks[i].fn(s->irq_sinks[i].opaque, gsi, level);
}

void system_pulse_irq(struct system *s, unsigned gsi)
{
    system_set_irq(s, gsi, true);
    system_set_irq(s, gsi, false);
}

void system_add_lapic(struct system *s, uint8_t apic_id, apic_deliver_fn deliver,
                      apic_logical_match_fn logical_match, void *opaque, void *cpu_intr)
{
    if (s->nlapics == SYSTEM_MAX_LAPICS)
        fatal("too many LAPICs on %s", s->obj.path);
    s->lapics[s->nlapics].apic_id = apic_id;
    s->lapics[s->nlapics].deliver = deliver;
    s->lapics[s->nlapics].logical_match = logical_match;
    s->lapics[s->nlapics].cpu_intr = cpu_intr;
    s->lapics[s->nlapics++].opaque = opaque;
}

void *system_cpu_intr(struct system *s, unsigned index)
{
    return index < s->nlapics ? s->lapics[index].cpu_intr : NULL;
}

void system_send_apic_msg(struct system *s, const struct apic_msg *msg)
{
    for (unsigned i = 0; i < s->nlapics; i++) {
        bool match;
        if (msg->dest_logical)
            match = s->lapics[i].logical_match(s->lapics[i].opaque, msg->dest);
        else
            match = msg->dest == 0xff || msg->dest == s->lapics[i].apic_id;
        if (match) {
            s->lapics[i].deliver(s->lapics[i].opaque, msg);
            /* Lowest priority goes to one CPU; with no arbitration model the
             * first match takes it. */
            if (msg->delivery_mode == APIC_DM_LOWEST)
                return;
        }
    }
}

void system_add_eoi_listener(struct system *s, eoi_listener_fn fn, void *opaque)
{
    if (s->neoi == SYSTEM_MAX_EOI_LISTENERS)
        fatal("too many EOI listeners on %s", s->obj.path);
    s->eoi[s->neoi].fn = fn;
    s->eoi[s->neoi++].opaque = opaque;
}

void system_broadcast_eoi(struct system *s, uint8_t vector)
{
    for (unsigned i = 0; i < s->neoi; i++)
        s->eoi[i].fn(s->eoi[i].opaque, vector);
}

void system_request_reset(struct system *s, const char *why)
{
    s->resets_requested++;
    log_info("%s: guest requested a reset (%s)", s->obj.path, why);
    if (s->on_reset == 0)
        sim_exit(s->obj.sim, 0, "guest requested reset");
}

void system_request_poweroff(struct system *s, const char *why)
{
    log_info("%s: guest powered off (%s)", s->obj.path, why);
    sim_exit(s->obj.sim, 0, "guest powered off");
}

static const char *const on_reset_choices[] = {"exit", "ignore", NULL};

static const struct param_desc system_params[] = {
    PARAM_UINT_(struct system, mem_size, "512M", 16 << 20, 1LL << 40, "byte",
                "Guest RAM size; RAM above 3 GiB is placed from 4 GiB up"),
    PARAM_UINT_(struct system, ncpus, "1", 1, SYSTEM_MAX_LAPICS, "count",
                "Number of CPUs the firmware tables describe"),
    PARAM_ENUM_(struct system, on_reset, "exit", on_reset_choices,
                "What a guest-requested reset does: end the run, or be ignored"),
    PARAM_END,
};

static struct sim_type system_type = {
    .name = "System",
    .help = "The machine root: guest RAM, the bus and platform interrupt wiring",
    .size = sizeof(struct system),
    .params = system_params,
    .ops = {.init = system_init, .serialize = system_serialize,
            .unserialize = system_unserialize, .destroy = system_destroy},
};
SIM_TYPE_REGISTER(system_type);
