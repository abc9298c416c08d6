/* Logging: one format for errors and warnings ("tandem: error: ..."), and
 * gem5-style debug flags whose lines carry the tick and the object path.
 * A file declares its flags with DEBUG_FLAG_DEFINE; --debug-flags enables
 * them by name and rejects unknown names. */
#ifndef TANDEM_SIM_LOG_H
#define TANDEM_SIM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_object;

struct debug_flag {
    const char *name;
    const char *help;
    bool enabled;
    struct debug_flag *next;
};

void debug_flag_register(struct debug_flag *f);
/* Enables a comma-separated list; "All" enables every flag. Returns 0, or -1
 * with a message naming the unknown flag in err. */
int debug_flags_enable(const char *list, char *err, size_t errlen);
void debug_flags_disable_all(void);
struct debug_flag *debug_flags_first(void);

#define DEBUG_FLAG_DEFINE(id, help_text)                                       \
    struct debug_flag debug_flag_##id = {#id, help_text, false, 0};           \
    __attribute__((constructor)) static void debug_flag_ctor_##id(void)      \
    {                                                                          \
        debug_flag_register(&debug_flag_##id);                                 \
    }
#define DEBUG_FLAG_DECLARE(id) extern struct debug_flag debug_flag_##id

#define DPRINTF(id, obj, ...)                                                  \
    do {                                                                       \
        if (__builtin_expect(debug_flag_##id.enabled, 0))                      \
            debug_printf(&debug_flag_##id, (obj), __VA_ARGS__);                \
    } while (0)

void debug_printf(const struct debug_flag *f, const struct sim_object *obj,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The tick printed by debug lines; set by the running simulation. */
extern const uint64_t *log_tick_source;

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For broken invariants inside tandem, never for bad user input. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Quiet mode drops info lines (tests). */
void log_set_quiet(bool quiet);
/* Hook run before a fatal exit, e.g. to restore the terminal. */
void log_set_fatal_hook(void (*hook)(void));

#endif
