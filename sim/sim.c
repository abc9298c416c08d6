#include "sim/sim.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/util.h"

DEBUG_FLAG_DEFINE(Event, "every serviced event");

volatile sig_atomic_t sim_stop_requested;
volatile sig_atomic_t sim_host_limit_reached;

static void on_host_limit(int sig)
{
    (void)sig;
    sim_host_limit_reached = 1;
}

/* A one-shot SIGALRM after `seconds` (0 disarms); the signal also ends a
 * KVM_RUN in progress. */
static void arm_host_limit(double seconds)
{
    if (seconds > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_host_limit;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
    }
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)seconds;
    it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
    if (seconds > 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
        it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);
}

double host_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void periodic_stats(struct event *ev, void *arg)
{
    struct simulation *sim = arg;
    if (stats_dump(sim, "periodic") < 0)
        log_error("%s", err_get());
    eq_schedule(&sim->eq, ev, sim->eq.now + sim->periodic_stats_interval);
}

void sim_init(struct simulation *sim)
{
    memset(sim, 0, sizeof(*sim));
    eq_init(&sim->eq);
    event_init(&sim->periodic_stats_event, "periodic-stats", EVPRI_STATS, periodic_stats, sim);
    sim->host_start = host_seconds();
    sim->run_until = TICK_MAX;
    sim->max_tick = TICK_MAX;
    log_tick_source = &sim->eq.now;
}

void sim_destroy(struct simulation *sim)
{
    eq_deschedule(&sim->eq, &sim->periodic_stats_event);
    for (size_t i = sim->nobjects; i-- > 0;) {
        struct sim_object *o = sim->objects[i];
        if (o->init_called && o->type->ops.destroy)
            o->type->ops.destroy(o);
    }
    eq_destroy(&sim->eq);
    for (size_t i = sim->nobjects; i-- > 0;) {
        struct sim_object *o = sim->objects[i];
        for (const struct param_desc *p = o->type->params; p && p->name; p++)
            if (p->type == PARAM_STRING)
                free(*(char **)((char *)o + p->offset));
        free(o->name);
        free(o->path);
        free(o);
    }
    free(sim->objects);
    for (size_t i = 0; i < sim->noverrides; i++) {
        free(sim->overrides[i].object_path);
        free(sim->overrides[i].param);
        free(sim->overrides[i].value);
    }
    free(sim->overrides);
    free(sim->outdir);
    free(sim->inst_counters);
    stats_registry_free(&sim->stats);
    if (log_tick_source == &sim->eq.now) {
        static const uint64_t zero;
        log_tick_source = &zero;
    }
}

struct sim_object *sim_find(struct simulation *sim, const char *path)
{
    for (size_t i = 0; i < sim->nobjects; i++)
        if (strcmp(sim->objects[i]->path, path) == 0)
            return sim->objects[i];
    return NULL;
}

struct sim_object *sim_find_ancestor(struct sim_object *o, const char *type)
{
    for (; o; o = o->parent)
        if (strcmp(o->type->name, type) == 0)
            return o;
    return NULL;
}

struct sim_object *sim_find_type(struct simulation *sim, const char *type)
{
    for (size_t i = 0; i < sim->nobjects; i++)
        if (strcmp(sim->objects[i]->type->name, type) == 0)
            return sim->objects[i];
    return NULL;
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

struct sim_object *sim_create(struct simulation *sim, const char *type_name, const char *path)
{
    const struct sim_type *t = sim_type_find(type_name);
    if (!t) {
        err_set("unknown object type '%s' (see 'tandem list-types')", type_name);
        return NULL;
    }
    if (sim->instantiated) {
        err_set("cannot create '%s' after the simulation was instantiated", path);
        return NULL;
    }
    if (sim_find(sim, path)) {
        err_set("an object named '%s' already exists", path);
        return NULL;
    }
    const char *dot = strrchr(path, '.');
    const char *leaf = dot ? dot + 1 : path;
    if (!valid_name(leaf)) {
        err_set("invalid object name '%s' (letters, digits, '_' and '-' only)", path);
        return NULL;
    }
    struct sim_object *parent = NULL;
    if (dot) {
        char *ppath = strndup(path, (size_t)(dot - path));
        parent = sim_find(sim, ppath);
        if (!parent) {
            err_set("parent '%s' of '%s' does not exist", ppath, path);
            free(ppath);
            return NULL;
        }
        free(ppath);
    }
    struct sim_object *o = calloc(1, t->size);
    o->type = t;
    o->name = strdup(leaf);
    o->path = strdup(path);
    o->parent = parent;
    o->sim = sim;
    o->index = sim->nobjects;
    for (const struct param_desc *p = t->params; p && p->name; p++) {
        if (p->def && param_set_text(o, p, p->def) < 0)
            fatal("type %s: bad default for '%s': %s", t->name, p->name, err_get());
    }
    if (sim->nobjects == sim->cap_objects) {
        sim->cap_objects = sim->cap_objects ? 2 * sim->cap_objects : 16;
        sim->objects = realloc(sim->objects, sim->cap_objects * sizeof(*sim->objects));
    }
    sim->objects[sim->nobjects++] = o;
    return o;
}

int sim_add_override(struct simulation *sim, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = eq ? memrchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
    if (!eq || !dot || dot == assignment || dot + 1 == eq) {
        err_set("--set '%s': expected OBJECT.PARAM=VALUE, e.g. system.uart0.port=0x2f8", assignment);
        return -1;
    }
    sim->overrides = realloc(sim->overrides, (sim->noverrides + 1) * sizeof(*sim->overrides));
    struct param_override *ov = &sim->overrides[sim->noverrides++];
    ov->object_path = strndup(assignment, (size_t)(dot - assignment));
    ov->param = strndup(dot + 1, (size_t)(eq - dot - 1));
    ov->value = strdup(eq + 1);
    return 0;
}

static int apply_overrides(struct simulation *sim)
{
    for (size_t i = 0; i < sim->noverrides; i++) {
        struct param_override *ov = &sim->overrides[i];
        struct sim_object *o = sim_find(sim, ov->object_path);
        if (!o) {
            err_set("--set %s.%s: no object named '%s'", ov->object_path, ov->param, ov->object_path);
            return -1;
        }
        const struct param_desc *p = sim_type_param(o->type, ov->param);
        if (!p) {
            err_set("--set %s.%s: type %s has no parameter '%s'", ov->object_path, ov->param,
                    o->type->name, ov->param);
            return -1;
        }
        if (param_set_text(o, p, ov->value) < 0) {
            err_set("--set %s.%s: %s", ov->object_path, ov->param, err_get());
            return -1;
        }
    }
    return 0;
}

int sim_instantiate(struct simulation *sim)
{
    if (sim->instantiated)
        return 0;
    if (apply_overrides(sim) < 0)
        return -1;
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        for (const struct param_desc *p = o->type->params; p && p->name; p++) {
            if (!p->def && !*(void **)((char *)o + p->offset)) {
                err_set("%s: required parameter '%s' is not set", o->path, p->name);
                return -1;
            }
        }
    }
    sim->instantiated = true;
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        /* destroy also runs after a failed init: it frees what init got to. */
        o->init_called = true;
        if (o->type->ops.init && o->type->ops.init(o) < 0) {
            err_set("%s (%s): %s", o->path, o->type->name, err_get());
            return -1;
        }
    }
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        if (o->type->ops.startup)
            o->type->ops.startup(o);
    }
    if (sim->outdir) {
        if (make_dirs(sim->outdir) < 0)
            return -1;
        char *path = path_join(sim->outdir, "config.json");
        int rc = sim_write_config_json(sim, path);
        free(path);
        if (rc < 0)
            return -1;
    }
    return 0;
}

void sim_exit(struct simulation *sim, int code, const char *reason)
{
    if (sim->exit_requested)
        return;
    sim->exit_requested = true;
    sim->exit_code = code;
    snprintf(sim->exit_reason, sizeof(sim->exit_reason), "%s", reason);
}

void sim_pause(struct simulation *sim, const char *reason)
{
    sim->pause_requested = true;
    snprintf(sim->pause_reason, sizeof(sim->pause_reason), "%s", reason);
}

void sim_add_inst_counter(struct simulation *sim, const uint64_t *counter)
{
    sim->inst_counters = realloc(sim->inst_counters,
                                 (sim->ninst_counters + 1) * sizeof(*sim->inst_counters));
    sim->inst_counters[sim->ninst_counters++] = counter;
}

uint64_t sim_total_insts(const struct simulation *sim)
{
    uint64_t n = 0;
    for (size_t i = 0; i < sim->ninst_counters; i++)
        n += *sim->inst_counters[i];
    return n;
}

struct progress {
    double last_print, last_host;
    uint64_t last_insts;
};

/* A progress line on stderr once a run has taken a few seconds: whole
 * lines every 10 s, so they never overwrite a guest console on stdout. */
static void progress_update(struct simulation *sim, struct progress *pr)
{
    double now = host_seconds();
    if (now - sim->host_start < 3.0 || now - pr->last_print < 10.0)
        return;
    uint64_t insts = sim_total_insts(sim);
    if (insts)
        fprintf(stderr, "\n[tandem] sim %.6f s, host %.1f s, %llu insts, %.1f MIPS\n",
                (double)sim->eq.now / TICKS_PER_S, now - sim->host_start,
                (unsigned long long)insts,
                pr->last_host > 0 ? (insts - pr->last_insts) / (now - pr->last_host) / 1e6 : 0);
    else
        fprintf(stderr, "\n[tandem] sim %.6f s, host %.1f s\n", (double)sim->eq.now / TICKS_PER_S,
                now - sim->host_start);
    pr->last_print = pr->last_host = now;
    pr->last_insts = insts;
}

const char *sim_run(struct simulation *sim, tick_t until)
{
    struct progress pr = {0};
    const char *why;
    unsigned n = 0;
    if (until > sim->max_tick)
        until = sim->max_tick;
    sim->run_until = until;
    sim_host_limit_reached = 0;
    if (sim->run_host_limit > 0)
        arm_host_limit(sim->run_host_limit);
    for (;;) {
        if (sim->exit_requested) {
            why = "exit requested";
            break;
        }
        if (sim_stop_requested) {
            why = "stopped by signal";
            break;
        }
        if (sim_host_limit_reached) {
            why = "host time limit reached";
            break;
        }
        if (sim->pause_requested) {
            sim->pause_requested = false;
            why = sim->pause_reason;
            break;
        }
        tick_t next = eq_next_tick(&sim->eq);
        if (next == TICK_MAX) {
            why = "no more events";
            break;
        }
        if (next >= until) {
            sim->eq.now = until;
            why = "tick limit reached";
            break;
        }
        if (__builtin_expect(debug_flag_Event.enabled, 0)) {
            struct event *ev = sim->eq.heap[0];
            debug_printf(&debug_flag_Event, NULL, "%s at %llu (pri %d)", ev->name,
                         (unsigned long long)ev->when, ev->priority);
        }
        eq_service_one(&sim->eq);
        if (sim->progress && (++n & 0x3ff) == 0)
            progress_update(sim, &pr);
    }
    sim->run_until = TICK_MAX;
    if (sim->run_host_limit > 0)
        arm_host_limit(0);
    sim_host_limit_reached = 0;
    sim->run_host_limit = 0;
    sim->run_insts_target = 0;
    return why;
}

int sim_drain(struct simulation *sim)
{
    for (unsigned round = 0; round < 1000000; round++) {
        bool drained = true;
        for (size_t i = 0; i < sim->nobjects; i++) {
            struct sim_object *o = sim->objects[i];
            if (o->type->ops.drain && !o->type->ops.drain(o))
                drained = false;
        }
        if (drained)
            return 0;
        if (!eq_service_one(&sim->eq))
            break;
    }
    err_set("the machine did not drain (an object keeps reporting work in flight)");
    return -1;
}

static void serialize_object(struct sim_object *o, struct ser_node *root)
{
    /* Walk the path so the tree nests as the object graph does. */
    struct ser_node *n = root;
    char *copy = strdup(o->path);
    for (char *save = NULL, *tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        n = ser_child(n, tok);
    free(copy);
    ser_put_str(n, "type", o->type->name);
    if (o->type->ops.serialize)
        o->type->ops.serialize(o, n);
}

struct ser_node *sim_serialize(struct simulation *sim)
{
    struct ser_node *root = ser_node_new("", "");
    struct ser_node *s = ser_child(root, "simulation");
    ser_put_u64(s, "now", sim->eq.now);
    ser_put_u64(s, "next_seq", sim->eq.next_seq);
    ser_put_u64(s, "periodic_stats_interval", sim->periodic_stats_interval);
    ser_put_event(s, "periodic_stats_event", &sim->periodic_stats_event);
    struct ser_node *objs = ser_child(root, "objects");
    for (size_t i = 0; i < sim->nobjects; i++)
        serialize_object(sim->objects[i], objs);
    return root;
}

static struct ser_node *find_object_node(struct ser_node *objs, const char *path)
{
    struct ser_node *n = objs;
    char *copy = strdup(path);
    for (char *save = NULL, *tok = strtok_r(copy, ".", &save); tok && n; tok = strtok_r(NULL, ".", &save))
        n = ser_find_child(n, tok);
    free(copy);
    return n;
}

/* Every node under objects/ that carries a type must be an object we have. */
static int check_no_extra(struct simulation *sim, const struct ser_node *n, const char *prefix)
{
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct ser_node *c = n->children[i];
        char *path;
        if (asprintf(&path, "%s%s%s", prefix, *prefix ? "." : "", c->name) < 0)
            return -1;
        if (ser_find_prop(c, "type") && !sim_find(sim, path)) {
            err_set("checkpoint has object '%s' that this configuration lacks", path);
            free(path);
            return -1;
        }
        int rc = check_no_extra(sim, c, path);
        free(path);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int sim_unserialize(struct simulation *sim, struct ser_node *root)
{
    struct ser_node *s = ser_find_child(root, "simulation");
    struct ser_node *objs = ser_find_child(root, "objects");
    if (!s || !objs) {
        err_set("checkpoint lacks the 'simulation' or 'objects' node");
        return -1;
    }
    /* Check the shape before touching any state, so a mismatch never leaves
     * a half-restored machine. */
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        struct ser_node *n = find_object_node(objs, o->path);
        const char *type;
        if (!n) {
            err_set("checkpoint has no state for '%s' (%s)", o->path, o->type->name);
            return -1;
        }
        if (ser_get_str(n, "type", &type) < 0)
            return -1;
        if (strcmp(type, o->type->name) != 0) {
            err_set("checkpoint object '%s' is a %s, the configuration has a %s", o->path, type,
                    o->type->name);
            return -1;
        }
    }
    if (check_no_extra(sim, objs, "") < 0)
        return -1;
    uint64_t now, next_seq, interval;
    if (ser_get_u64(s, "now", &now) < 0 || ser_get_u64(s, "next_seq", &next_seq) < 0 ||
        ser_get_u64(s, "periodic_stats_interval", &interval) < 0)
        return -1;
    /* Objects reschedule their own events; drop what the queue holds now. */
    while (sim->eq.count)
        eq_deschedule(&sim->eq, sim->eq.heap[0]);
    sim->eq.now = now;
    sim->eq.next_seq = next_seq;
    sim->periodic_stats_interval = interval;
    if (ser_get_event(s, "periodic_stats_event", &sim->periodic_stats_event, &sim->eq) < 0)
        return -1;
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        struct ser_node *n = find_object_node(objs, o->path);
        if (o->type->ops.unserialize && o->type->ops.unserialize(o, n) < 0) {
            err_set("restoring %s: %s", o->path, err_get());
            return -1;
        }
    }
    sim->eq.next_seq = next_seq > sim->eq.next_seq ? next_seq : sim->eq.next_seq;
    return 0;
}

int sim_write_config_json(struct simulation *sim, const char *path)
{
    struct atomic_file af;
    if (atomic_file_open(&af, path) < 0)
        return -1;
    FILE *f = af.f;
    fprintf(f, "{\n  \"tandem_version\": \"%s\",\n  \"objects\": [", TANDEM_VERSION);
    for (size_t i = 0; i < sim->nobjects; i++) {
        struct sim_object *o = sim->objects[i];
        fprintf(f, "%s\n    {\"path\": ", i ? "," : "");
        json_put_string(f, o->path);
        fprintf(f, ", \"type\": ");
        json_put_string(f, o->type->name);
        fprintf(f, ", \"params\": {");
        for (const struct param_desc *p = o->type->params; p && p->name; p++) {
            char buf[4096];
            param_format(o, p, buf, sizeof(buf));
            fprintf(f, "%s", p == o->type->params ? "" : ", ");
            json_put_string(f, p->name);
            fputs(": ", f);
            if (p->type == PARAM_UINT || p->type == PARAM_INT || p->type == PARAM_BOOL ||
                p->type == PARAM_DOUBLE)
                fputs(buf, f);
            else
                json_put_string(f, buf);
        }
        fputs("}}", f);
    }
    fputs("\n  ]\n}\n", f);
    return atomic_file_commit(&af);
}
