/* The simulation: the event queue, the object graph in creation order, the
 * stats registry, the exit state and the run loop. */
#ifndef TANDEM_SIM_SIM_H
#define TANDEM_SIM_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/event.h"
#include "sim/object.h"
#include "sim/stats.h"

struct param_override {
    char *object_path;
    char *param;
    char *value;
};

struct simulation {
    struct event_queue eq;
    struct sim_object **objects;
    size_t nobjects, cap_objects;
    bool instantiated;
    struct stats_registry stats;

    /* The limit of the sim_run in progress (TICK_MAX outside one): CPUs end
     * their batches there, so a run stops at its tick limit. */
    tick_t run_until;
    /* Further limits of the next sim_run (0: none), cleared when it returns:
     * host seconds of running (sim.run's for_host_*), and a total of retired
     * instructions (sim_total_insts; for_insts; engines that count them). */
    double run_host_limit;
    uint64_t run_insts_target;

    bool exit_requested;
    int exit_code;
    char exit_reason[256];
    /* sim_pause: the sim_run in progress returns pause_reason (once). */
    bool pause_requested;
    char pause_reason[128];

    char *outdir; /* NULL: write no files */
    struct param_override *overrides;
    size_t noverrides;

    /* Instruction counters of the CPUs, summed for the progress line. */
    const uint64_t **inst_counters;
    size_t ninst_counters;
    bool progress; /* print a progress line on long runs */
    bool config_ran; /* the config drove the run itself (sim.run) */
    tick_t max_tick; /* --max-tick: no run goes past it */
    double host_start;

    struct event periodic_stats_event;
    tick_t periodic_stats_interval;
};

/* Set by SIGINT/SIGTERM: the run loop stops cleanly at the next event. */
extern volatile sig_atomic_t sim_stop_requested;
/* Set when the run_host_limit of the sim_run in progress has passed. */
extern volatile sig_atomic_t sim_host_limit_reached;

/* Whether an engine should end its batch and return: a stop, an exit or a
 * host time limit is pending. */
static inline bool sim_interrupted(const struct simulation *sim)
{
    return sim_stop_requested || sim_host_limit_reached || sim->exit_requested;
}

void sim_init(struct simulation *sim);
/* Destroys every object in reverse creation order. */
void sim_destroy(struct simulation *sim);

/* Creates an object of a registered type at path (its parent must exist).
 * Defaults are applied; returns NULL with err_set() on failure. */
struct sim_object *sim_create(struct simulation *sim, const char *type, const char *path);
struct sim_object *sim_find(struct simulation *sim, const char *path);
/* Nearest ancestor (or o itself) of the given type, or NULL. */
struct sim_object *sim_find_ancestor(struct sim_object *o, const char *type);
/* First object of a type, in creation order, or NULL. */
struct sim_object *sim_find_type(struct simulation *sim, const char *type);

/* "--set path.param=value": applied at instantiation; 0 or -1 (err_set). */
int sim_add_override(struct simulation *sim, const char *assignment);
/* Applies overrides, checks required params, runs init then startup on every
 * object, writes config.json. 0 or -1 (err_set). */
int sim_instantiate(struct simulation *sim);

/* Runs events until an exit request, a pause (sim_pause), the tick limit
 * (events at until are not run), a stop request, or an empty queue. Returns
 * a string naming why it stopped: static, or the pause's reason (valid until
 * the next sim_pause). */
const char *sim_run(struct simulation *sim, tick_t until);
/* Keeps servicing events until every object reports drained (or a limit of
 * events passes, which is reported). 0 or -1 (err_set). */
int sim_drain(struct simulation *sim);
/* Ends the run after the current event with this exit code. */
void sim_exit(struct simulation *sim, int code, const char *reason);
/* Makes the sim_run in progress return `reason` after the current event,
 * without ending the simulation: a later sim_run continues (e.g. a run
 * script acting on a guest request between two sim.run calls). */
void sim_pause(struct simulation *sim, const char *reason);
static inline tick_t sim_now(const struct simulation *sim)
{
    return sim->eq.now;
}
static inline void sim_schedule(struct simulation *sim, struct event *ev, tick_t when)
{
    eq_schedule(&sim->eq, ev, when);
}

void sim_add_inst_counter(struct simulation *sim, const uint64_t *counter);
uint64_t sim_total_insts(const struct simulation *sim);

/* The object graph as a serialization tree, and back. unserialize checks
 * that every object has its node and rejects unknown nodes. */
struct ser_node *sim_serialize(struct simulation *sim);
int sim_unserialize(struct simulation *sim, struct ser_node *root);

/* Writes config.json (object tree with resolved parameters) to path. */
int sim_write_config_json(struct simulation *sim, const char *path);

double host_seconds(void);

#endif
