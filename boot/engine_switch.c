/* EngineSwitch: carries out the guest's SWITCH_ENGINE request (guest
 * control device, docs/guest-control.md) by switching every CPU of the
 * machine to the engine the guest named.
 *
 * Why here: cpu/ must not see dev/ and dev/ sees the CPU only through the
 * interrupt interface, so the glue between the GuestControl device and the
 * CPU objects is its own small object in boot/ (the part of tandem that
 * prepares and wires the machine). It registers its handler at startup;
 * configs/machine.lua creates it next to the device. */
#include <string.h>

#include "cpu/cpu.h"
#include "dev/guestctl.h"
#include "sim/log.h"
#include "sim/object.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

DEBUG_FLAG_DEFINE(EngineSwitch, "Engine switches requested by the guest");

struct engine_switch {
    struct sim_object obj;
    struct sim_object *guestctl; /* param */
    uint64_t switches, failures;
};

static const char *engine_name(uint64_t arg)
{
    switch (arg) {
    case TANDEMCTL_ENGINE_KVM: return "kvm";
    case TANDEMCTL_ENGINE_INTERP: return "interp";
    default: return NULL;
    }
}

static enum tandemctl_status switch_engine(void *opaque, enum guestctl_request req, uint64_t arg)
{
    struct engine_switch *es = opaque;
    (void)req;
    const char *name = engine_name(arg);
    if (!name) {
        DPRINTF(EngineSwitch, &es->obj, "unknown engine number %llu", (unsigned long long)arg);
        es->failures++;
        return TANDEMCTL_FAILED;
    }
    struct simulation *sim = es->obj.sim;
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        if (strcmp(o->type->name, "CPU") != 0)
            continue;
        struct cpu *cpu = SIM_CAST(struct cpu, o);
        DPRINTF(EngineSwitch, &es->obj, "%s: %s -> %s", o->path, cpu->engine->name, name);
        if (cpu_switch_engine(cpu, name) < 0) {
            log_error("%s: guest-requested switch of %s to '%s' failed: %s", es->obj.path, o->path,
                      name, err_get());
            es->failures++;
            return TANDEMCTL_FAILED;
        }
    }
    es->switches++;
    return TANDEMCTL_OK;
}

static int es_init(struct sim_object *o)
{
    struct engine_switch *es = SIM_CAST(struct engine_switch, o);
    stats_add_counter(o, "switches", &es->switches, "count", "Guest-requested engine switches done");
    stats_add_counter(o, "failures", &es->failures, "count", "Guest-requested engine switches refused");
    return 0;
}

static void es_startup(struct sim_object *o)
{
    struct engine_switch *es = SIM_CAST(struct engine_switch, o);
    guestctl_set_handler(es->guestctl, GUESTCTL_REQ_SWITCH_ENGINE, switch_engine, es);
}

static void es_serialize(struct sim_object *o, struct ser_node *n)
{
    struct engine_switch *es = SIM_CAST(struct engine_switch, o);
    SER_PUT(n, es, switches);
    SER_PUT(n, es, failures);
}

static int es_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct engine_switch *es = SIM_CAST(struct engine_switch, o);
    if (SER_GET(n, es, switches) < 0 || SER_GET(n, es, failures) < 0)
        return -1;
    return 0;
}

static void es_reset_stats(struct sim_object *o)
{
    struct engine_switch *es = SIM_CAST(struct engine_switch, o);
    es->switches = es->failures = 0;
}

static void es_destroy(struct sim_object *o)
{
    struct engine_switch *es = SIM_CAST(struct engine_switch, o);
    if (es->guestctl && o->sim->instantiated)
        guestctl_set_handler(es->guestctl, GUESTCTL_REQ_SWITCH_ENGINE, NULL, NULL);
}

static const struct param_desc es_params[] = {
    PARAM_OBJECT_REQUIRED_(struct engine_switch, guestctl, "GuestControl",
                           "The guest-control device whose SWITCH_ENGINE requests this carries out"),
    PARAM_END,
};

static struct sim_type engine_switch_type = {
    .name = "EngineSwitch",
    .help = "Switches every CPU's engine when the guest asks through the guest-control device",
    .size = sizeof(struct engine_switch),
    .params = es_params,
    .ops = {.init = es_init, .startup = es_startup, .serialize = es_serialize,
            .unserialize = es_unserialize, .reset_stats = es_reset_stats, .destroy = es_destroy},
};
SIM_TYPE_REGISTER(engine_switch_type);
