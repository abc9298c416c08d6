#include "sim/object.h"

#include "sim/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sim_type *type_list;
static _Thread_local char err_buf[1024];

void err_set(const char *fmt, ...)
{
    char tmp[sizeof(err_buf)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap); /* fmt may mention err_get() */
    va_end(ap);
    memcpy(err_buf, tmp, sizeof(err_buf));
}

const char *err_get(void)
{
    return err_buf;
}

void sim_type_register(struct sim_type *t)
{
    struct sim_type **p = &type_list;
    while (*p && strcmp((*p)->name, t->name) < 0)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
}

const struct sim_type *sim_type_find(const char *name)
{
    for (struct sim_type *t = type_list; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

const struct sim_type *sim_types_first(void)
{
    return type_list;
}

const struct param_desc *sim_type_param(const struct sim_type *t, const char *name)
{
    for (const struct param_desc *p = t->params; p && p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void *field(struct sim_object *o, const struct param_desc *p)
{
    return (char *)o + p->offset;
}

static const void *cfield(const struct sim_object *o, const struct param_desc *p)
{
    return (const char *)o + p->offset;
}

static void store_uint(void *f, size_t width, uint64_t v)
{
    switch (width) {
    case 1: *(uint8_t *)f = (uint8_t)v; break;
    case 2: *(uint16_t *)f = (uint16_t)v; break;
    case 4: *(uint32_t *)f = (uint32_t)v; break;
    default: *(uint64_t *)f = v; break;
    }
}

static uint64_t load_uint(const void *f, size_t width)
{
    switch (width) {
    case 1: return *(const uint8_t *)f;
    case 2: return *(const uint16_t *)f;
    case 4: return *(const uint32_t *)f;
    default: return *(const uint64_t *)f;
    }
}

static int64_t load_int(const void *f, size_t width)
{
    switch (width) {
    case 1: return *(const int8_t *)f;
    case 2: return *(const int16_t *)f;
    case 4: return *(const int32_t *)f;
    default: return *(const int64_t *)f;
    }
}

static const char *type_word(enum param_type t)
{
    static const char *const words[] = {"unsigned integer", "integer", "boolean", "number",
                                        "string", "choice", "object"};
    return words[t];
}

int param_set_int(struct sim_object *o, const struct param_desc *p, int64_t v)
{
    switch (p->type) {
    case PARAM_UINT:
    case PARAM_INT: {
        uint64_t maxw = p->width >= 8 ? UINT64_MAX : (1ULL << (8 * p->width)) - 1;
        int64_t smax = (int64_t)(maxw >> 1), smin = -smax - 1;
        bool fits = p->type == PARAM_UINT ? v >= 0 && (uint64_t)v <= maxw : v >= smin && v <= smax;
        if (!fits) {
            err_set("parameter '%s' = %" PRId64 " does not fit a %zu-byte %s field", p->name, v,
                    p->width, p->type == PARAM_UINT ? "unsigned" : "signed");
            return -1;
        }
        if (p->min <= p->max && (v < p->min || v > p->max)) {
            err_set("parameter '%s' = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
                    p->name, v, p->min, p->max);
            return -1;
        }
        store_uint(field(o, p), p->width, (uint64_t)v);
        return 0;
    }
    case PARAM_DOUBLE:
        *(double *)field(o, p) = (double)v;
        return 0;
    case PARAM_BOOL:
        if (v != 0 && v != 1) {
            err_set("parameter '%s' is a boolean, got %" PRId64, p->name, v);
            return -1;
        }
        *(bool *)field(o, p) = v;
        return 0;
    default:
        err_set("parameter '%s' expects a %s, got an integer", p->name, type_word(p->type));
        return -1;
    }
}

int param_set_double(struct sim_object *o, const struct param_desc *p, double v)
{
    if (p->type == PARAM_DOUBLE) {
        *(double *)field(o, p) = v;
        return 0;
    }
    if ((p->type == PARAM_UINT || p->type == PARAM_INT) && v == floor(v) && fabs(v) < 9.2e18)
        return param_set_int(o, p, (int64_t)v);
    err_set("parameter '%s' expects a %s, got %g", p->name, type_word(p->type), v);
    return -1;
}

int param_set_object(struct sim_object *o, const struct param_desc *p, struct sim_object *ref)
{
    if (p->type != PARAM_OBJECT) {
        err_set("parameter '%s' expects a %s, got an object", p->name, type_word(p->type));
        return -1;
    }
    if (ref && p->obj_type && strcmp(ref->type->name, p->obj_type) != 0) {
        err_set("parameter '%s' expects an object of type %s, got %s (%s)", p->name,
                p->obj_type, ref->path, ref->type->name);
        return -1;
    }
    *(struct sim_object **)field(o, p) = ref;
    return 0;
}

static int parse_int(const char *text, int64_t *out, bool is_unsigned)
{
    char *end;
    errno = 0;
    if (is_unsigned) {
        if (text[0] == '-')
            return -1;
        uint64_t u = strtoull(text, &end, 0);
        if (u > INT64_MAX)
            return -1;
        *out = (int64_t)u;
    } else {
        *out = strtoll(text, &end, 0);
    }
    if (errno || end == text)
        return -1;
    /* Size suffixes, as memory sizes are written: 512M, 4G, 32k. */
    int64_t mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1LL << 10; end++; break;
    case 'M': mult = 1LL << 20; end++; break;
    case 'G': mult = 1LL << 30; end++; break;
    case 'T': mult = 1LL << 40; end++; break;
    default: break;
    }
    if (*end)
        return -1;
    if (*out != 0 && (*out > INT64_MAX / mult || *out < INT64_MIN / mult))
        return -1;
    *out *= mult;
    return 0;
}

int param_set_text(struct sim_object *o, const struct param_desc *p, const char *text)
{
    switch (p->type) {
    case PARAM_UINT:
    case PARAM_INT: {
        int64_t v;
        if (parse_int(text, &v, p->type == PARAM_UINT) < 0) {
            err_set("parameter '%s' expects a %s, got '%s'", p->name, type_word(p->type), text);
            return -1;
        }
        return param_set_int(o, p, v);
    }
    case PARAM_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "on"))
            *(bool *)field(o, p) = true;
        else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "off"))
            *(bool *)field(o, p) = false;
        else {
            err_set("parameter '%s' expects true or false, got '%s'", p->name, text);
            return -1;
        }
        return 0;
    case PARAM_DOUBLE: {
        char *end;
        double v = strtod(text, &end);
        if (end == text || *end) {
            err_set("parameter '%s' expects a number, got '%s'", p->name, text);
            return -1;
        }
        *(double *)field(o, p) = v;
        return 0;
    }
    case PARAM_STRING: {
        char **s = field(o, p);
        free(*s);
        *s = strdup(text);
        return 0;
    }
    case PARAM_ENUM:
        for (int i = 0; p->choices[i]; i++) {
            if (strcmp(p->choices[i], text) == 0) {
                *(int *)field(o, p) = i;
                return 0;
            }
        }
        {
            char list[256] = "";
            for (int i = 0; p->choices[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, p->choices[i], sizeof(list) - strlen(list) - 1);
            }
            err_set("parameter '%s' must be one of {%s}, got '%s'", p->name, list, text);
        }
        return -1;
    case PARAM_OBJECT: {
        if (text[0] == '\0')
            return param_set_object(o, p, NULL);
        struct sim_object *ref = sim_find(o->sim, text);
        if (!ref) {
            err_set("parameter '%s': no object at path '%s'", p->name, text);
            return -1;
        }
        return param_set_object(o, p, ref);
    }
    }
    return -1;
}

void param_format(const struct sim_object *o, const struct param_desc *p, char *buf, size_t len)
{
    const void *f = cfield(o, p);
    switch (p->type) {
    case PARAM_UINT:
        snprintf(buf, len, "%" PRIu64, load_uint(f, p->width));
        break;
    case PARAM_INT:
        snprintf(buf, len, "%" PRId64, load_int(f, p->width));
        break;
    case PARAM_BOOL:
        snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
        break;
    case PARAM_DOUBLE:
        snprintf(buf, len, "%.17g", *(const double *)f);
        break;
    case PARAM_STRING:
        snprintf(buf, len, "%s", *(char *const *)f ? *(char *const *)f : "");
        break;
    case PARAM_ENUM:
        snprintf(buf, len, "%s", p->choices[*(const int *)f]);
        break;
    case PARAM_OBJECT: {
        const struct sim_object *ref = *(struct sim_object *const *)f;
        snprintf(buf, len, "%s", ref ? ref->path : "");
        break;
    }
    }
}
