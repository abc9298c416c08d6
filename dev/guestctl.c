/* The guest-control device: 16 I/O ports at PC_PORT_GUESTCTL through which
 * guest code asks tandem to exit, checkpoint, switch engine, reset or dump
 * stats, mark a region of interest, read host files into guest RAM and
 * print text. The register interface and all numbers are defined in
 * guest/include/tandemctl.h; docs/guest-control.md describes it.
 *
 * Checkpoint and engine-switch requests are carried out by handlers that
 * other parts of tandem register (dev/guestctl.h); the device runs the
 * handler from an event at the tick of the request, after the port write
 * has completed, and reports BUSY until then. ROI markers go the same way
 * when a handler is registered for them (a run script that acts at the
 * region's edges, dev/guestctl_lua.c), else they reset/dump stats at once. */
#include "dev/guestctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

_Static_assert(TANDEMCTL_PORT == PC_PORT_GUESTCTL, "guest header and layout disagree on the port");
_Static_assert(TANDEMCTL_PORT_COUNT == PC_PORT_GUESTCTL_SIZE, "guest-control port count");

DEBUG_FLAG_DEFINE(GuestCtl, "Guest-control device commands and register accesses");

#define HOST_FILE_CHUNK 65536

struct guestctl {
    struct sim_object obj;
    char *host_files; /* param: comma-separated paths */
    char *print_to;   /* param: "-" = stdout, else a file appended to */

    char **files;
    size_t nfiles;
    FILE *print_out;
    bool print_owned;

    struct {
        guestctl_handler_fn fn;
        void *opaque;
    } handlers[GUESTCTL_NREQUESTS];

    /* Registers. */
    uint32_t status;
    uint32_t select;
    uint64_t args[TANDEMCTL_NARGS];
    uint64_t result;

    /* A handler request waiting for its event. */
    struct event request_event;
    uint32_t pending_request;
    uint64_t pending_arg;

    uint64_t commands, unknown_commands, unsupported_requests, bad_accesses;
    uint64_t host_file_bytes, printed_bytes, exits;
    uint8_t warned_unknown; /* the first unknown command is a warning */
};

void guestctl_set_handler(struct sim_object *o, enum guestctl_request req, guestctl_handler_fn fn,
                          void *opaque)
{
    struct guestctl *g = SIM_CAST(struct guestctl, o);
    if ((unsigned)req >= GUESTCTL_NREQUESTS)
        fatal("%s: guestctl_set_handler with request %d out of range", o->path, (int)req);
    g->handlers[req].fn = fn;
    g->handlers[req].opaque = opaque;
}

static const char *request_name(unsigned req)
{
    static const char *const names[GUESTCTL_NREQUESTS] = {
        [GUESTCTL_REQ_CHECKPOINT] = "checkpoint", [GUESTCTL_REQ_SWITCH_ENGINE] = "switch-engine",
        [GUESTCTL_REQ_ROI_BEGIN] = "roi-begin", [GUESTCTL_REQ_ROI_END] = "roi-end"};
    return req < GUESTCTL_NREQUESTS ? names[req] : "?";
}

static void request_event_fn(struct event *ev, void *arg)
{
    (void)ev;
    struct guestctl *g = arg;
    unsigned req = g->pending_request;
    if (!g->handlers[req].fn) {
        /* The handler went away between request and event (e.g. a restore
         * into a machine without it). */
        g->unsupported_requests++;
        g->status = TANDEMCTL_UNSUPPORTED;
        DPRINTF(GuestCtl, &g->obj, "%s: no handler at delivery time", request_name(req));
        return;
    }
    g->status = g->handlers[req].fn(g->handlers[req].opaque, req, g->pending_arg);
    DPRINTF(GuestCtl, &g->obj, "%s(0x%llx) -> status %u", request_name(req),
            (unsigned long long)g->pending_arg, g->status);
}

static uint32_t start_request(struct guestctl *g, enum guestctl_request req, uint64_t arg)
{
    if (!g->handlers[req].fn) {
        g->unsupported_requests++;
        DPRINTF(GuestCtl, &g->obj, "%s(0x%llx) requested; nothing handles it here",
                request_name(req), (unsigned long long)arg);
        return TANDEMCTL_UNSUPPORTED;
    }
    if (event_scheduled(&g->request_event))
        return TANDEMCTL_BUSY;
    g->pending_request = req;
    g->pending_arg = arg;
    sim_schedule(g->obj.sim, &g->request_event, sim_now(g->obj.sim));
    return TANDEMCTL_BUSY;
}

/* [gpa, gpa+len) must lie inside one guest RAM region. */
static bool ram_range_ok(struct guestctl *g, uint64_t gpa, uint64_t len)
{
    if (gpa + len < gpa)
        return false;
    return bus_ram_ptr(&system_of(&g->obj)->bus, gpa, len) != NULL;
}

static uint32_t cmd_host_file_size(struct guestctl *g)
{
    uint64_t index = g->args[0];
    if (index >= g->nfiles)
        return TANDEMCTL_BAD_ARGUMENT;
    struct stat st;
    if (stat(g->files[index], &st) < 0) {
        log_warn("%s: host file %llu (%s): %s", g->obj.path, (unsigned long long)index,
                 g->files[index], strerror(errno));
        return TANDEMCTL_IO_ERROR;
    }
    g->result = (uint64_t)st.st_size;
    return TANDEMCTL_OK;
}

static uint32_t cmd_read_host_file(struct guestctl *g)
{
    uint64_t index = g->args[0], gpa = g->args[1], len = g->args[2], offset = g->args[3];
    if (index >= g->nfiles) {
        DPRINTF(GuestCtl, &g->obj, "read-host-file: no file %llu (%zu configured)",
                (unsigned long long)index, g->nfiles);
        return TANDEMCTL_BAD_ARGUMENT;
    }
    if (!ram_range_ok(g, gpa, len)) {
        DPRINTF(GuestCtl, &g->obj, "read-host-file: buffer 0x%llx+0x%llx is not guest RAM",
                (unsigned long long)gpa, (unsigned long long)len);
        return TANDEMCTL_BAD_ADDRESS;
    }
    int fd = open(g->files[index], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_warn("%s: host file %llu (%s): %s", g->obj.path, (unsigned long long)index,
                 g->files[index], strerror(errno));
        return TANDEMCTL_IO_ERROR;
    }
    uint8_t *chunk = malloc(HOST_FILE_CHUNK);
    struct bus *bus = &system_of(&g->obj)->bus;
    uint32_t status = TANDEMCTL_OK;
    while (g->result < len) {
        uint64_t want = len - g->result < HOST_FILE_CHUNK ? len - g->result : HOST_FILE_CHUNK;
        if (offset + g->result < offset || offset + g->result > (uint64_t)INT64_MAX)
            break; /* beyond any file: end of file */
        ssize_t got = pread(fd, chunk, want, (off_t)(offset + g->result));
        if (got < 0) {
            log_warn("%s: reading host file %s: %s", g->obj.path, g->files[index],
                     strerror(errno));
            status = TANDEMCTL_IO_ERROR;
            break;
        }
        if (got == 0)
            break;
        bus_write(bus, gpa + g->result, chunk, (uint64_t)got);
        g->result += (uint64_t)got;
    }
    free(chunk);
    close(fd);
    g->host_file_bytes += g->result;
    DPRINTF(GuestCtl, &g->obj, "read-host-file %llu @%llu -> 0x%llx: %llu bytes",
            (unsigned long long)index, (unsigned long long)offset, (unsigned long long)gpa,
            (unsigned long long)g->result);
    return status;
}

static uint32_t cmd_print(struct guestctl *g)
{
    uint64_t gpa = g->args[0], len = g->args[1];
    if (len > TANDEMCTL_PRINT_MAX)
        return TANDEMCTL_BAD_ARGUMENT;
    if (!ram_range_ok(g, gpa, len))
        return TANDEMCTL_BAD_ADDRESS;
    uint8_t *text = malloc(len ? len : 1);
    bus_read(&system_of(&g->obj)->bus, gpa, text, len);
    size_t put = fwrite(text, 1, len, g->print_out);
    fflush(g->print_out);
    free(text);
    g->result = put;
    g->printed_bytes += put;
    return put == len ? TANDEMCTL_OK : TANDEMCTL_IO_ERROR;
}

static uint32_t run_command(struct guestctl *g, uint32_t cmd)
{
    struct simulation *sim = g->obj.sim;
    switch (cmd) {
    case TANDEMCTL_CMD_EXIT: {
        int code = (int32_t)(uint32_t)g->args[0];
        g->exits++;
        DPRINTF(GuestCtl, &g->obj, "exit(%d)", code);
        sim_exit(sim, code, "guest exit");
        return TANDEMCTL_OK;
    }
    case TANDEMCTL_CMD_CHECKPOINT:
        return start_request(g, GUESTCTL_REQ_CHECKPOINT, g->args[0]);
    case TANDEMCTL_CMD_SWITCH_ENGINE:
        if (g->args[0] != TANDEMCTL_ENGINE_KVM && g->args[0] != TANDEMCTL_ENGINE_INTERP)
            return TANDEMCTL_BAD_ARGUMENT;
        return start_request(g, GUESTCTL_REQ_SWITCH_ENGINE, g->args[0]);
    case TANDEMCTL_CMD_ROI_BEGIN:
        if (g->handlers[GUESTCTL_REQ_ROI_BEGIN].fn)
            return start_request(g, GUESTCTL_REQ_ROI_BEGIN, 0);
        stats_reset(sim);
        return TANDEMCTL_OK;
    case TANDEMCTL_CMD_STATS_RESET:
        stats_reset(sim);
        return TANDEMCTL_OK;
    case TANDEMCTL_CMD_ROI_END:
        if (g->handlers[GUESTCTL_REQ_ROI_END].fn)
            return start_request(g, GUESTCTL_REQ_ROI_END, 0);
        /* fall through */
    case TANDEMCTL_CMD_STATS_DUMP:
        if (stats_dump(sim, cmd == TANDEMCTL_CMD_ROI_END ? "roi" : "guest") < 0) {
            log_warn("%s: stats dump the guest asked for failed: %s", g->obj.path, err_get());
            return TANDEMCTL_IO_ERROR;
        }
        return TANDEMCTL_OK;
    case TANDEMCTL_CMD_HOST_FILE_SIZE:
        return cmd_host_file_size(g);
    case TANDEMCTL_CMD_READ_HOST_FILE:
        return cmd_read_host_file(g);
    case TANDEMCTL_CMD_PRINT:
        return cmd_print(g);
    default:
        g->unknown_commands++;
        if (!g->warned_unknown) {
            g->warned_unknown = 1;
            log_warn("%s: guest wrote unknown command 0x%x (further ones are only counted)",
                     g->obj.path, cmd);
        }
        DPRINTF(GuestCtl, &g->obj, "unknown command 0x%x", cmd);
        return TANDEMCTL_UNKNOWN_COMMAND;
    }
}

static void write_cmd(struct guestctl *g, uint32_t cmd)
{
    g->commands++;
    if (event_scheduled(&g->request_event)) {
        /* One command at a time: the guest must wait for BUSY to clear. */
        DPRINTF(GuestCtl, &g->obj, "command 0x%x while busy: ignored", cmd);
        return;
    }
    g->result = 0;
    g->status = run_command(g, cmd);
    DPRINTF(GuestCtl, &g->obj, "command 0x%x -> status %u result 0x%llx", cmd, g->status,
            (unsigned long long)g->result);
}

static uint64_t slot_value(struct guestctl *g)
{
    if (g->select < TANDEMCTL_NARGS)
        return g->args[g->select];
    if (g->select == TANDEMCTL_SLOT_RESULT)
        return g->result;
    if (g->select == TANDEMCTL_SLOT_ID)
        return (uint64_t)TANDEMCTL_VERSION << 32 | TANDEMCTL_MAGIC;
    return 0;
}

static bool aligned_dword(struct guestctl *g, uint64_t off, unsigned size, const char *what)
{
    if (size == 4 && (off & 3) == 0)
        return true;
    g->bad_accesses++;
    DPRINTF(GuestCtl, &g->obj, "%s of size %u at offset %llu ignored (32-bit only)", what, size,
            (unsigned long long)off);
    return false;
}

static uint64_t guestctl_read(void *opaque, uint64_t off, unsigned size)
{
    struct guestctl *g = opaque;
    if (!aligned_dword(g, off, size, "read"))
        return UINT64_MAX;
    switch (off) {
    case TANDEMCTL_REG_CMD:
        return g->status;
    case TANDEMCTL_REG_SELECT:
        return g->select;
    case TANDEMCTL_REG_DATA_LO:
        return (uint32_t)slot_value(g);
    default:
        return (uint32_t)(slot_value(g) >> 32);
    }
}

static void guestctl_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct guestctl *g = opaque;
    if (!aligned_dword(g, off, size, "write"))
        return;
    uint32_t v = (uint32_t)val;
    switch (off) {
    case TANDEMCTL_REG_CMD:
        write_cmd(g, v);
        break;
    case TANDEMCTL_REG_SELECT:
        g->select = v;
        break;
    default:
        if (g->select >= TANDEMCTL_NARGS) {
            g->bad_accesses++;
            DPRINTF(GuestCtl, &g->obj, "write to read-only slot %u ignored", g->select);
            break;
        }
        if (off == TANDEMCTL_REG_DATA_LO)
            g->args[g->select] = (g->args[g->select] & 0xffffffff00000000ULL) | v;
        else
            g->args[g->select] = (g->args[g->select] & 0xffffffffULL) | (uint64_t)v << 32;
        break;
    }
}

static const struct io_ops guestctl_ops = {guestctl_read, guestctl_write};

static int parse_host_files(struct guestctl *g)
{
    const char *s = g->host_files;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == 0) {
            err_set("%s: host_files has an empty entry at position %zu in \"%s\"", g->obj.path,
                    g->nfiles, g->host_files);
            return -1;
        }
        char *path = strndup(s, len);
        g->files = realloc(g->files, (g->nfiles + 1) * sizeof(*g->files));
        g->files[g->nfiles++] = path;
        struct stat st;
        if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
            err_set("%s: host_files entry %zu \"%s\" cannot be read: %s", g->obj.path,
                    g->nfiles - 1, path, strerror(errno));
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            err_set("%s: host_files entry %zu \"%s\" is not a regular file", g->obj.path,
                    g->nfiles - 1, path);
            return -1;
        }
        if (!end)
            break;
        s = end + 1;
        if (!*s) {
            err_set("%s: host_files \"%s\" ends with a comma", g->obj.path, g->host_files);
            return -1;
        }
    }
    return 0;
}

static int guestctl_init(struct sim_object *o)
{
    struct guestctl *g = SIM_CAST(struct guestctl, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("%s: a GuestControl device must be placed under the System object", o->path);
        return -1;
    }
    if (parse_host_files(g) < 0)
        return -1;
    if (!strcmp(g->print_to, "-")) {
        g->print_out = stdout;
    } else {
        g->print_out = fopen(g->print_to, "a");
        if (!g->print_out) {
            err_set("%s: print_to \"%s\" cannot be opened: %s", o->path, g->print_to,
                    strerror(errno));
            return -1;
        }
        g->print_owned = true;
    }
    event_init(&g->request_event, "guestctl-request", EVPRI_DEVICE, request_event_fn, g);
    if (bus_map_pio(&sys->bus, PC_PORT_GUESTCTL, PC_PORT_GUESTCTL_SIZE, &guestctl_ops, g,
                    "guestctl") < 0)
        return -1;
    stats_add_counter(o, "commands", &g->commands, "count", "Commands the guest wrote");
    stats_add_counter(o, "unknownCommands", &g->unknown_commands, "count",
                      "Commands with an unknown number");
    stats_add_counter(o, "unsupportedRequests", &g->unsupported_requests, "count",
                      "Checkpoint/switch requests nothing in this setup handles");
    stats_add_counter(o, "badAccesses", &g->bad_accesses, "count",
                      "Register accesses that were not aligned 32-bit, or wrote read-only slots");
    stats_add_counter(o, "hostFileBytes", &g->host_file_bytes, "byte",
                      "Bytes copied from host files into guest RAM");
    stats_add_counter(o, "printedBytes", &g->printed_bytes, "byte", "Bytes the guest printed");
    stats_add_counter(o, "exits", &g->exits, "count", "Exit commands");
    return 0;
}

static bool guestctl_drain(struct sim_object *o)
{
    return !event_scheduled(&SIM_CAST(struct guestctl, o)->request_event);
}

static void guestctl_destroy(struct sim_object *o)
{
    struct guestctl *g = SIM_CAST(struct guestctl, o);
    for (size_t i = 0; i < g->nfiles; i++)
        free(g->files[i]);
    free(g->files);
    if (g->print_owned)
        fclose(g->print_out);
}

static void guestctl_serialize(struct sim_object *o, struct ser_node *n)
{
    struct guestctl *g = SIM_CAST(struct guestctl, o);
    SER_PUT(n, g, status);
    SER_PUT(n, g, select);
    SER_PUT_ARRAY(n, g, args);
    SER_PUT(n, g, result);
    SER_PUT(n, g, pending_request);
    SER_PUT(n, g, pending_arg);
    ser_put_event(n, "request_event", &g->request_event);
    SER_PUT(n, g, commands);
    SER_PUT(n, g, unknown_commands);
    SER_PUT(n, g, unsupported_requests);
    SER_PUT(n, g, bad_accesses);
    SER_PUT(n, g, host_file_bytes);
    SER_PUT(n, g, printed_bytes);
    SER_PUT(n, g, exits);
    SER_PUT(n, g, warned_unknown);
}

static int guestctl_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct guestctl *g = SIM_CAST(struct guestctl, o);
    if (SER_GET(n, g, status) < 0 || SER_GET(n, g, select) < 0 || SER_GET_ARRAY(n, g, args) < 0 ||
        SER_GET(n, g, result) < 0 || SER_GET(n, g, pending_request) < 0 ||
        SER_GET(n, g, pending_arg) < 0 || SER_GET(n, g, commands) < 0 ||
        SER_GET(n, g, unknown_commands) < 0 || SER_GET(n, g, unsupported_requests) < 0 ||
        SER_GET(n, g, bad_accesses) < 0 || SER_GET(n, g, host_file_bytes) < 0 ||
        SER_GET(n, g, printed_bytes) < 0 || SER_GET(n, g, exits) < 0 ||
        SER_GET(n, g, warned_unknown) < 0)
        return -1;
    if (g->pending_request >= GUESTCTL_NREQUESTS) {
        err_set("%s: pending request %u out of range", o->path, g->pending_request);
        return -1;
    }
    return ser_get_event(n, "request_event", &g->request_event, &o->sim->eq);
}

static const struct param_desc guestctl_params[] = {
    PARAM_STRING_(struct guestctl, host_files, "",
                  "Comma-separated host files the guest may read, by index (0 = first)"),
    PARAM_STRING_(struct guestctl, print_to, "-",
                  "Where PRINT commands write: - for standard output, or a file appended to"),
    PARAM_END,
};

static struct sim_type guestctl_type = {
    .name = "GuestControl",
    .help = "Guest-control device: exit, checkpoint, engine switch, stats, ROI, host files",
    .size = sizeof(struct guestctl),
    .params = guestctl_params,
    .ops = {.init = guestctl_init, .drain = guestctl_drain, .serialize = guestctl_serialize,
            .unserialize = guestctl_unserialize, .destroy = guestctl_destroy},
};
SIM_TYPE_REGISTER(guestctl_type);
