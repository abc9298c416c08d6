#include "sim/serialize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/object.h"

struct ser_node *ser_node_new(const char *name, const char *parent_path)
{
    struct ser_node *n = calloc(1, sizeof(*n));
    n->name = strdup(name);
    if (!*parent_path)
        n->path = strdup(name);
    else if (asprintf(&n->path, "%s/%s", parent_path, name) < 0)
        n->path = NULL;
    return n;
}

void ser_node_free(struct ser_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nprops; i++) {
        free(n->props[i].name);
        free(n->props[i].data);
    }
    for (size_t i = 0; i < n->nchildren; i++)
        ser_node_free(n->children[i]);
    free(n->props);
    free(n->children);
    free(n->name);
    free(n->path);
    free(n);
}

struct ser_node *ser_find_child(const struct ser_node *n, const char *name)
{
    for (size_t i = 0; i < n->nchildren; i++)
        if (strcmp(n->children[i]->name, name) == 0)
            return n->children[i];
    return NULL;
}

struct ser_node *ser_child(struct ser_node *n, const char *name)
{
    struct ser_node *c = ser_find_child(n, name);
    if (c)
        return c;
    if (n->nchildren == n->cap_children) {
        n->cap_children = n->cap_children ? 2 * n->cap_children : 4;
        n->children = realloc(n->children, n->cap_children * sizeof(*n->children));
    }
    c = ser_node_new(name, n->path);
    n->children[n->nchildren++] = c;
    return c;
}

const struct ser_prop *ser_find_prop(const struct ser_node *n, const char *name)
{
    for (size_t i = 0; i < n->nprops; i++)
        if (strcmp(n->props[i].name, name) == 0)
            return &n->props[i];
    return NULL;
}

void ser_put_bytes(struct ser_node *n, const char *key, const void *data, size_t len)
{
    struct ser_prop *p = (struct ser_prop *)ser_find_prop(n, key);
    if (!p) {
        if (n->nprops == n->cap_props) {
            n->cap_props = n->cap_props ? 2 * n->cap_props : 8;
            n->props = realloc(n->props, n->cap_props * sizeof(*n->props));
        }
        p = &n->props[n->nprops++];
        p->name = strdup(key);
    } else {
        free(p->data);
    }
    p->data = malloc(len ? len : 1);
    memcpy(p->data, data, len);
    p->len = len;
}

void ser_put_u64(struct ser_node *n, const char *key, uint64_t v)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    ser_put_bytes(n, key, be, 8);
}

void ser_put_f64(struct ser_node *n, const char *key, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    ser_put_u64(n, key, bits);
}

void ser_put_str(struct ser_node *n, const char *key, const char *s)
{
    ser_put_bytes(n, key, s, strlen(s) + 1);
}

static const struct ser_prop *need(const struct ser_node *n, const char *key)
{
    const struct ser_prop *p = ser_find_prop(n, key);
    if (!p)
        err_set("checkpoint node '%s' lacks property '%s'", n->path, key);
    return p;
}

int ser_get_bytes(const struct ser_node *n, const char *key, void *out, size_t len)
{
    const struct ser_prop *p = need(n, key);
    if (!p)
        return -1;
    if (p->len != len) {
        err_set("checkpoint property '%s/%s' has %zu bytes, expected %zu", n->path, key, p->len, len);
        return -1;
    }
    memcpy(out, p->data, len);
    return 0;
}

int ser_get_u64(const struct ser_node *n, const char *key, uint64_t *v)
{
    uint8_t be[8];
    if (ser_get_bytes(n, key, be, 8) < 0)
        return -1;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (x << 8) | be[i];
    *v = x;
    return 0;
}

int ser_get_f64(const struct ser_node *n, const char *key, double *v)
{
    uint64_t bits;
    if (ser_get_u64(n, key, &bits) < 0)
        return -1;
    memcpy(v, &bits, 8);
    return 0;
}

int ser_get_str(const struct ser_node *n, const char *key, const char **s)
{
    const struct ser_prop *p = need(n, key);
    if (!p)
        return -1;
    if (p->len == 0 || p->data[p->len - 1] != '\0' || memchr(p->data, '\0', p->len) != p->data + p->len - 1) {
        err_set("checkpoint property '%s/%s' is not a string", n->path, key);
        return -1;
    }
    *s = (const char *)p->data;
    return 0;
}

int ser_get_uint(const struct ser_node *n, const char *key, void *field, size_t width)
{
    uint64_t v;
    if (ser_get_u64(n, key, &v) < 0)
        return -1;
    if (width < 8 && v >> (8 * width)) {
        err_set("checkpoint property '%s/%s' = %llu does not fit %zu bytes", n->path, key,
                (unsigned long long)v, width);
        return -1;
    }
    switch (width) {
    case 1: *(uint8_t *)field = (uint8_t)v; break;
    case 2: *(uint16_t *)field = (uint16_t)v; break;
    case 4: *(uint32_t *)field = (uint32_t)v; break;
    case 8: *(uint64_t *)field = v; break;
    default:
        err_set("checkpoint property '%s/%s': unsupported width %zu", n->path, key, width);
        return -1;
    }
    return 0;
}

void ser_put_event(struct ser_node *n, const char *key, const struct event *ev)
{
    uint8_t buf[24] = {0};
    /* An idle event's stale when/seq are not state: write zeros. */
    bool on = event_scheduled(ev);
    uint64_t vals[3] = {on, on ? ev->when : 0, on ? ev->seq : 0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 8; i++)
            buf[8 * k + i] = (uint8_t)(vals[k] >> (56 - 8 * i));
    ser_put_bytes(n, key, buf, sizeof(buf));
}

int ser_get_event(const struct ser_node *n, const char *key, struct event *ev, struct event_queue *q)
{
    uint8_t buf[24];
    if (ser_get_bytes(n, key, buf, sizeof(buf)) < 0)
        return -1;
    uint64_t vals[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 8; i++)
            vals[k] = (vals[k] << 8) | buf[8 * k + i];
    eq_deschedule(q, ev);
    if (vals[0] > 1 || (vals[0] && vals[1] < q->now)) {
        err_set("checkpoint event '%s/%s' is invalid (scheduled %llu at %llu, now %llu)", n->path,
                key, (unsigned long long)vals[0], (unsigned long long)vals[1],
                (unsigned long long)q->now);
        return -1;
    }
    if (vals[0])
        eq_schedule_seq(q, ev, vals[1], vals[2]);
    return 0;
}

bool ser_node_equal(const struct ser_node *a, const struct ser_node *b)
{
    if (strcmp(a->name, b->name) || a->nprops != b->nprops || a->nchildren != b->nchildren)
        return false;
    for (size_t i = 0; i < a->nprops; i++) {
        const struct ser_prop *pa = &a->props[i], *pb = &b->props[i];
        if (strcmp(pa->name, pb->name) || pa->len != pb->len || memcmp(pa->data, pb->data, pa->len))
            return false;
    }
    for (size_t i = 0; i < a->nchildren; i++)
        if (!ser_node_equal(a->children[i], b->children[i]))
            return false;
    return true;
}

bool ser_node_diff(const struct ser_node *a, const struct ser_node *b, char *buf, size_t len)
{
    if (strcmp(a->name, b->name)) {
        snprintf(buf, len, "node '%s' vs '%s'", a->path, b->path);
        return true;
    }
    for (size_t i = 0; i < a->nprops || i < b->nprops; i++) {
        const struct ser_prop *pa = i < a->nprops ? &a->props[i] : NULL;
        const struct ser_prop *pb = i < b->nprops ? &b->props[i] : NULL;
        if (!pa || !pb || strcmp(pa->name, pb->name)) {
            snprintf(buf, len, "%s: property '%s' vs '%s'", a->path, pa ? pa->name : "(none)",
                     pb ? pb->name : "(none)");
            return true;
        }
        if (pa->len != pb->len || memcmp(pa->data, pb->data, pa->len)) {
            size_t k = 0;
            while (k < pa->len && k < pb->len && pa->data[k] == pb->data[k])
                k++;
            snprintf(buf, len, "%s/%s differs at byte %zu (%zu vs %zu bytes)", a->path, pa->name, k,
                     pa->len, pb->len);
            return true;
        }
    }
    for (size_t i = 0; i < a->nchildren || i < b->nchildren; i++) {
        if (i >= a->nchildren || i >= b->nchildren) {
            snprintf(buf, len, "%s: %zu vs %zu children", a->path, a->nchildren, b->nchildren);
            return true;
        }
        if (ser_node_diff(a->children[i], b->children[i], buf, len))
            return true;
    }
    return false;
}
