/* Sim objects, their types and parameter schemas.
 *
 * Every component is a struct that embeds struct sim_object as its FIRST
 * member. A type (struct sim_type) names the struct size, the parameter
 * schema and the lifecycle ops, and registers itself at start-up with
 * SIM_TYPE_REGISTER. Parameters live directly in the component struct; the
 * schema records where (offset, width) so configs, --set and config.json all
 * go through one description.
 *
 * Lifecycle (docs/lifecycle.md):
 *   create (zeroed struct, defaults applied) -> parameters set by the config
 *   -> init (creation order: parents before children; check parameters,
 *      allocate, register stats, map into the bus)
 *   -> startup (creation order; schedule first events)
 *   -> run ... drain -> serialize / unserialize -> destroy (reverse order,
 *      for every object init was called on, also when it failed: destroy
 *      must cope with a partly initialised object, the struct starts zeroed
 *      and a zeroed struct event counts as unscheduled).
 */
#ifndef TANDEM_SIM_OBJECT_H
#define TANDEM_SIM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct simulation;
struct sim_object;
struct ser_node;

enum param_type {
    PARAM_UINT,   /* unsigned integer field of 1, 2, 4 or 8 bytes */
    PARAM_INT,    /* signed integer field of 1, 2, 4 or 8 bytes */
    PARAM_BOOL,   /* bool field */
    PARAM_DOUBLE, /* double field */
    PARAM_STRING, /* char * field, owned by the object */
    PARAM_ENUM,   /* int field holding an index into choices */
    PARAM_OBJECT, /* struct sim_object * field; obj_type restricts the type */
};

struct param_desc {
    const char *name;
    enum param_type type;
    size_t offset;
    size_t width;
    const char *def; /* default as text, parsed like --set; NULL: required
                     * (strings and objects only) */
    int64_t min, max; /* inclusive range for integers; min > max: any */
    const char *const *choices; /* PARAM_ENUM: NULL-terminated names */
    const char *obj_type;       /* PARAM_OBJECT: required type or NULL */
    const char *unit;
    const char *help;
};

#define PARAM_FIELD_(st, fld) offsetof(st, fld), sizeof(((st *)0)->fld)
#define PARAM_UINT_(st, fld, def, lo, hi, unit, help) \
    {#fld, PARAM_UINT, PARAM_FIELD_(st, fld), def, lo, hi, NULL, NULL, unit, help}
#define PARAM_INT_(st, fld, def, lo, hi, unit, help) \
    {#fld, PARAM_INT, PARAM_FIELD_(st, fld), def, lo, hi, NULL, NULL, unit, help}
#define PARAM_BOOL_(st, fld, def, help) \
    {#fld, PARAM_BOOL, PARAM_FIELD_(st, fld), def, 1, 0, NULL, NULL, "", help}
#define PARAM_DOUBLE_(st, fld, def, unit, help) \
    {#fld, PARAM_DOUBLE, PARAM_FIELD_(st, fld), def, 1, 0, NULL, NULL, unit, help}
#define PARAM_STRING_(st, fld, def, help) \
    {#fld, PARAM_STRING, PARAM_FIELD_(st, fld), def, 1, 0, NULL, NULL, "", help}
#define PARAM_ENUM_(st, fld, def, choices, help) \
    {#fld, PARAM_ENUM, PARAM_FIELD_(st, fld), def, 1, 0, choices, NULL, "", help}
#define PARAM_OBJECT_(st, fld, type, help) \
    {#fld, PARAM_OBJECT, PARAM_FIELD_(st, fld), "", 1, 0, NULL, type, "", help}
/* Required string or object parameters have no default (def NULL). */
#define PARAM_OBJECT_REQUIRED_(st, fld, type, help) \
    {#fld, PARAM_OBJECT, PARAM_FIELD_(st, fld), NULL, 1, 0, NULL, type, "", help}
#define PARAM_STRING_REQUIRED_(st, fld, help) \
    {#fld, PARAM_STRING, PARAM_FIELD_(st, fld), NULL, 1, 0, NULL, NULL, "", help}
#define PARAM_END {NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL, NULL, NULL}

struct sim_ops {
    /* Returns 0, or -1 after err_set() with a message naming the problem. */
    int (*init)(struct sim_object *o);
    void (*startup)(struct sim_object *o);
    /* Returns true when the object has nothing in flight; the simulation
     * keeps running events until every object is drained. */
    bool (*drain)(struct sim_object *o);
    void (*serialize)(struct sim_object *o, struct ser_node *node);
    int (*unserialize)(struct sim_object *o, struct ser_node *node);
    void (*reset_stats)(struct sim_object *o);
    void (*destroy)(struct sim_object *o);
};

struct sim_type {
    const char *name;
    const char *help;
    size_t size;
    const struct param_desc *params; /* terminated by PARAM_END */
    struct sim_ops ops;
    struct sim_type *next;
};

struct sim_object {
    const struct sim_type *type;
    char *name; /* last path component */
    char *path; /* e.g. "system.uart0" */
    struct sim_object *parent;
    struct simulation *sim;
    size_t index; /* creation order */
    bool init_called; /* destroy runs only for objects init was called on */
};

void sim_type_register(struct sim_type *t);
const struct sim_type *sim_type_find(const char *name);
const struct sim_type *sim_types_first(void);
const struct param_desc *sim_type_param(const struct sim_type *t, const char *name);

#define SIM_TYPE_REGISTER(var)                                                 \
    __attribute__((constructor)) static void sim_type_ctor_##var(void)       \
    {                                                                          \
        sim_type_register(&var);                                               \
    }

/* The struct of type T that embeds o (o must be its first member). */
#define SIM_CAST(T, o) ((T *)(o))

/* Error reporting for everything that can fail on user input: the failing
 * call sets a message, its caller adds context or prints it. */
void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_get(void);

/* Parameter handling; each returns 0 or -1 with err_set(). */
int param_set_text(struct sim_object *o, const struct param_desc *p, const char *text);
int param_set_int(struct sim_object *o, const struct param_desc *p, int64_t v);
int param_set_double(struct sim_object *o, const struct param_desc *p, double v);
int param_set_object(struct sim_object *o, const struct param_desc *p, struct sim_object *ref);
/* Writes the current value as text (as --set would accept it). */
void param_format(const struct sim_object *o, const struct param_desc *p, char *buf, size_t len);

#endif
