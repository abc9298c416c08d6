#include "sim/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/object.h"

static struct debug_flag *flag_list;
static bool quiet;
static void (*fatal_hook)(void);
static const uint64_t zero_tick;
const uint64_t *log_tick_source = &zero_tick;

void debug_flag_register(struct debug_flag *f)
{
    /* Keep the list sorted so --help and list output are stable. */
    struct debug_flag **p = &flag_list;
    while (*p && strcmp((*p)->name, f->name) < 0)
        p = &(*p)->next;
    f->next = *p;
    *p = f;
}

struct debug_flag *debug_flags_first(void)
{
    return flag_list;
}

void debug_flags_disable_all(void)
{
    for (struct debug_flag *f = flag_list; f; f = f->next)
        f->enabled = false;
}

int debug_flags_enable(const char *list, char *err, size_t errlen)
{
    char *copy = strdup(list);
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        bool all = strcmp(tok, "All") == 0, found = false;
        for (struct debug_flag *f = flag_list; f; f = f->next) {
            if (all || strcmp(f->name, tok) == 0) {
                f->enabled = true;
                found = true;
            }
        }
        if (!found) {
            snprintf(err, errlen, "unknown debug flag '%s' (see 'tandem list-flags')", tok);
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

void debug_printf(const struct debug_flag *f, const struct sim_object *obj, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%12llu: %s: %s: ", (unsigned long long)*log_tick_source,
            obj ? obj->path : "global", f->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void vlog(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "tandem: %s", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error: ", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warning: ", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void log_set_quiet(bool q)
{
    quiet = q;
}

void log_set_fatal_hook(void (*hook)(void))
{
    fatal_hook = hook;
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("internal error: ", fmt, ap);
    va_end(ap);
    if (fatal_hook)
        fatal_hook();
    abort();
}
