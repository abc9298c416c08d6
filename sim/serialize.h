/* The serialization tree every sim object writes its state into: a node per
 * object (nested by path), a property per field. Properties are byte strings
 * in the flattened-device-tree convention (integers big-endian), so
 * checkpoint/ can write the tree with libfdt unchanged. Getters check the
 * property exists and has the expected size, and report the node path. */
#ifndef TANDEM_SIM_SERIALIZE_H
#define TANDEM_SIM_SERIALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/event.h"

struct ser_prop {
    char *name;
    uint8_t *data;
    size_t len;
};

struct ser_node {
    char *name;
    char *path;
    struct ser_prop *props;
    size_t nprops, cap_props;
    struct ser_node **children;
    size_t nchildren, cap_children;
};

struct ser_node *ser_node_new(const char *name, const char *parent_path);
void ser_node_free(struct ser_node *n);
/* Finds or creates the named child. */
struct ser_node *ser_child(struct ser_node *n, const char *name);
struct ser_node *ser_find_child(const struct ser_node *n, const char *name);
const struct ser_prop *ser_find_prop(const struct ser_node *n, const char *name);
/* Adds a property; replacing an existing one. */
void ser_put_bytes(struct ser_node *n, const char *key, const void *data, size_t len);
void ser_put_u64(struct ser_node *n, const char *key, uint64_t v);
void ser_put_f64(struct ser_node *n, const char *key, double v);
void ser_put_str(struct ser_node *n, const char *key, const char *s);

/* Each returns 0, or -1 with err_set() naming node path and key. */
int ser_get_bytes(const struct ser_node *n, const char *key, void *out, size_t len);
int ser_get_u64(const struct ser_node *n, const char *key, uint64_t *v);
int ser_get_f64(const struct ser_node *n, const char *key, double *v);
/* Returns a pointer into the tree (valid while it lives). */
int ser_get_str(const struct ser_node *n, const char *key, const char **s);
/* An unsigned integer field of width 1/2/4/8; rejects values that do not fit. */
int ser_get_uint(const struct ser_node *n, const char *key, void *field, size_t width);

/* An event's schedule (scheduled?, when, seq). Restoring deschedules the
 * event if needed and reschedules it with the saved sequence number. */
void ser_put_event(struct ser_node *n, const char *key, const struct event *ev);
int ser_get_event(const struct ser_node *n, const char *key, struct event *ev,
                  struct event_queue *q);

/* Deep equality (names, properties, children, in order). */
bool ser_node_equal(const struct ser_node *a, const struct ser_node *b);
/* Describes the first difference into buf (for test failure messages);
 * returns false when the trees are equal. */
bool ser_node_diff(const struct ser_node *a, const struct ser_node *b, char *buf, size_t len);

/* Field helpers: the key is the field's name, so save and restore agree. */
#define SER_PUT(n, s, f) ser_put_u64((n), #f, (uint64_t)(s)->f)
#define SER_GET(n, s, f) ser_get_uint((n), #f, &(s)->f, sizeof((s)->f))
#define SER_PUT_ARRAY(n, s, f) ser_put_bytes((n), #f, (s)->f, sizeof((s)->f))
#define SER_GET_ARRAY(n, s, f) ser_get_bytes((n), #f, (s)->f, sizeof((s)->f))

#endif
