/* Guest-control device and isa-debug-exit: every command through the
 * register interface of guest/include/tandemctl.h, the host-file bounds
 * checks, handlers, serialization and random register traffic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/guestctl.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "sim/util.h"
#include "testlib.h"

#define RAM_SIZE (16ULL << 20)

struct machine {
    struct simulation sim;
    struct sim_object *gc;
    struct system *sys;
};

static char *tmpdir;
static char *file0, *file1, *print_path;

/* Builds System + GuestControl (+ DebugExit); extra "--set" style
 * overrides may replace the defaults. Returns sim_instantiate's result. */
static int machine_try(struct machine *m, const char *host_files)
{
    sim_init(&m->sim);
    ck_assert_ptr_nonnull(sim_create(&m->sim, "System", "system"));
    ck_assert_int_eq(sim_add_override(&m->sim, "system.mem_size=16M"), 0);
    m->gc = sim_create(&m->sim, "GuestControl", "system.gc");
    ck_assert_ptr_nonnull(m->gc);
    ck_assert_ptr_nonnull(sim_create(&m->sim, "DebugExit", "system.debugexit"));
    char *set;
    ck_assert_int_ge(asprintf(&set, "system.gc.host_files=%s", host_files), 0);
    ck_assert_int_eq(sim_add_override(&m->sim, set), 0);
    free(set);
    ck_assert_int_ge(asprintf(&set, "system.gc.print_to=%s", print_path), 0);
    ck_assert_int_eq(sim_add_override(&m->sim, set), 0);
    free(set);
    int rc = sim_instantiate(&m->sim);
    m->sys = system_of(m->gc);
    return rc;
}

static void machine_new(struct machine *m)
{
    char *files;
    ck_assert_int_ge(asprintf(&files, "%s,%s", file0, file1), 0);
    ck_assert_msg(machine_try(m, files) == 0, "%s", err_get());
    free(files);
}

static void outl(struct machine *m, unsigned reg, uint32_t v)
{
    bus_pio_write(&m->sys->bus, (uint16_t)(TANDEMCTL_PORT + reg), v, 4);
}

static uint32_t inl(struct machine *m, unsigned reg)
{
    return (uint32_t)bus_pio_read(&m->sys->bus, (uint16_t)(TANDEMCTL_PORT + reg), 4);
}

static void set_slot(struct machine *m, uint32_t slot, uint64_t v)
{
    outl(m, TANDEMCTL_REG_SELECT, slot);
    outl(m, TANDEMCTL_REG_DATA_LO, (uint32_t)v);
    outl(m, TANDEMCTL_REG_DATA_HI, (uint32_t)(v >> 32));
}

static uint64_t get_slot(struct machine *m, uint32_t slot)
{
    outl(m, TANDEMCTL_REG_SELECT, slot);
    uint64_t lo = inl(m, TANDEMCTL_REG_DATA_LO);
    return (uint64_t)inl(m, TANDEMCTL_REG_DATA_HI) << 32 | lo;
}

/* The same sequence tandemctl_command() issues, minus the BUSY wait. */
static uint32_t command(struct machine *m, uint32_t cmd, uint64_t a0, uint64_t a1, uint64_t a2,
                        uint64_t a3)
{
    set_slot(m, 0, a0);
    set_slot(m, 1, a1);
    set_slot(m, 2, a2);
    set_slot(m, 3, a3);
    outl(m, TANDEMCTL_REG_CMD, cmd);
    return inl(m, TANDEMCTL_REG_CMD);
}

static double stat(struct machine *m, const char *name)
{
    const struct stat_entry *e = stats_find(&m->sim, name);
    ck_assert_msg(e != NULL, "no stat %s", name);
    return stat_value(e);
}

static void setup(void)
{
    tmpdir = test_tmpdir();
    file0 = write_temp_file(tmpdir, "file0.txt", "hello world");
    file1 = write_temp_file(tmpdir, "file1.txt", "");
    print_path = path_join(tmpdir, "printed.txt");
}

static void teardown(void)
{
    free(file0);
    free(file1);
    free(print_path);
    free(tmpdir);
}

START_TEST(id_and_registers)
{
    struct machine m;
    machine_new(&m);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_ID),
                      (uint64_t)TANDEMCTL_VERSION << 32 | TANDEMCTL_MAGIC);
    set_slot(&m, 2, 0x1122334455667788ULL);
    ck_assert_uint_eq(get_slot(&m, 2), 0x1122334455667788ULL);
    ck_assert_uint_eq(inl(&m, TANDEMCTL_REG_SELECT), 2);
    /* RESULT and ID are read-only; narrow accesses are ignored. */
    set_slot(&m, TANDEMCTL_SLOT_RESULT, 5);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 0);
    bus_pio_write(&m.sys->bus, TANDEMCTL_PORT + TANDEMCTL_REG_CMD, TANDEMCTL_CMD_EXIT, 1);
    ck_assert(!m.sim.exit_requested);
    ck_assert_uint_eq(bus_pio_read(&m.sys->bus, TANDEMCTL_PORT + 1, 2), 0xffff);
    ck_assert_double_eq(stat(&m, "system.gc.badAccesses"), 4);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(exit_command)
{
    struct machine m;
    machine_new(&m);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_EXIT, 42, 0, 0, 0), TANDEMCTL_OK);
    ck_assert(m.sim.exit_requested);
    ck_assert_int_eq(m.sim.exit_code, 42);
    ck_assert_str_eq(m.sim.exit_reason, "guest exit");
    sim_destroy(&m.sim);
    machine_new(&m);
    command(&m, TANDEMCTL_CMD_EXIT, 0xffffffffu, 0, 0, 0);
    ck_assert_int_eq(m.sim.exit_code, -1);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(stats_and_roi)
{
    struct machine m;
    machine_new(&m);
    char *out = path_join(tmpdir, "out");
    m.sim.outdir = out;
    bus_pio_read(&m.sys->bus, 0x1234, 1);
    ck_assert_double_eq(stat(&m, "system.unmappedPortReads"), 1);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_STATS_RESET, 0, 0, 0, 0), TANDEMCTL_OK);
    ck_assert_double_eq(stat(&m, "system.unmappedPortReads"), 0);
    bus_pio_read(&m.sys->bus, 0x1234, 1);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_ROI_BEGIN, 0, 0, 0, 0), TANDEMCTL_OK);
    ck_assert_double_eq(stat(&m, "system.unmappedPortReads"), 0);
    bus_pio_read(&m.sys->bus, 0x1234, 1);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_ROI_END, 0, 0, 0, 0), TANDEMCTL_OK);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_STATS_DUMP, 0, 0, 0, 0), TANDEMCTL_OK);
    char *json_path = path_join(out, "stats.json");
    size_t len;
    char *json = read_whole_file(json_path, &len);
    ck_assert_ptr_nonnull(json);
    char *roi = strstr(json, "\"roi\"");
    ck_assert_ptr_nonnull(roi);
    ck_assert_ptr_nonnull(strstr(roi, "\"guest\""));
    free(json);
    free(json_path);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(read_host_file)
{
    struct machine m;
    machine_new(&m);
    uint8_t *ram = bus_ram_ptr(&m.sys->bus, 0, RAM_SIZE);
    memset(ram + 0x1000, 0xAA, 64);
    uint64_t size = 0;
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_HOST_FILE_SIZE, 0, 0, 0, 0), TANDEMCTL_OK);
    size = get_slot(&m, TANDEMCTL_SLOT_RESULT);
    ck_assert_uint_eq(size, 11);
    /* Short file: fewer bytes than asked, nothing beyond them touched. */
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, 0x1000, 64, 0), TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 11);
    ck_assert_mem_eq(ram + 0x1000, "hello world", 11);
    ck_assert_uint_eq(ram[0x1000 + 11], 0xAA);
    /* Offset and length. */
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, 0x2000, 3, 6), TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 3);
    ck_assert_mem_eq(ram + 0x2000, "wor", 3);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, 0x2000, 3, 11), TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 0);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, 0x2000, 3, UINT64_MAX),
                      TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 0);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 1, 0x2000, 3, 0), TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 0);
    /* Bad index. */
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 2, 0x1000, 4, 0),
                      TANDEMCTL_BAD_ARGUMENT);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_HOST_FILE_SIZE, 1ULL << 32, 0, 0, 0),
                      TANDEMCTL_BAD_ARGUMENT);
    /* Buffers that leave guest RAM, even partly or by wrapping. */
    memset(ram + RAM_SIZE - 4, 0x55, 4);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, RAM_SIZE - 4, 8, 0),
                      TANDEMCTL_BAD_ADDRESS);
    ck_assert_uint_eq(ram[RAM_SIZE - 4], 0x55);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, PC_IOAPIC_BASE, 4, 0),
                      TANDEMCTL_BAD_ADDRESS);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_READ_HOST_FILE, 0, UINT64_MAX - 1, 4, 0),
                      TANDEMCTL_BAD_ADDRESS);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 0);
    ck_assert_double_eq(stat(&m, "system.gc.hostFileBytes"), 14);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(host_files_param_checked)
{
    struct machine m;
    ck_assert_int_eq(machine_try(&m, "/nonexistent/tandem-file"), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "host_files entry 0"));
    sim_destroy(&m.sim);
    char *bad;
    ck_assert_int_ge(asprintf(&bad, "%s,,%s", file0, file1), 0);
    ck_assert_int_eq(machine_try(&m, bad), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "empty entry"));
    sim_destroy(&m.sim);
    free(bad);
    ck_assert_int_eq(machine_try(&m, tmpdir), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "not a regular file"));
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(print_command)
{
    struct machine m;
    machine_new(&m);
    bus_write(&m.sys->bus, 0x3000, "guest says hi\n", 14);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_PRINT, 0x3000, 14, 0, 0), TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 14);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_PRINT, 0x3000, TANDEMCTL_PRINT_MAX + 1, 0, 0),
                      TANDEMCTL_BAD_ARGUMENT);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_PRINT, RAM_SIZE - 2, 4, 0, 0),
                      TANDEMCTL_BAD_ADDRESS);
    sim_destroy(&m.sim);
    size_t len;
    char *text = read_whole_file(print_path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, 14);
    ck_assert_mem_eq(text, "guest says hi\n", 14);
    free(text);
}
END_TEST

START_TEST(unknown_command_counted)
{
    struct machine m;
    machine_new(&m);
    ck_assert_uint_eq(command(&m, 0x99, 0, 0, 0, 0), TANDEMCTL_UNKNOWN_COMMAND);
    ck_assert_uint_eq(command(&m, 0, 0, 0, 0, 0), TANDEMCTL_UNKNOWN_COMMAND);
    ck_assert_double_eq(stat(&m, "system.gc.unknownCommands"), 2);
    ck_assert(!m.sim.exit_requested);
    sim_destroy(&m.sim);
}
END_TEST

struct handler_log {
    unsigned calls;
    enum guestctl_request req;
    uint64_t arg;
    tick_t when;
    struct simulation *sim;
    enum tandemctl_status answer;
};

static enum tandemctl_status log_handler(void *opaque, enum guestctl_request req, uint64_t arg)
{
    struct handler_log *h = opaque;
    h->calls++;
    h->req = req;
    h->arg = arg;
    h->when = sim_now(h->sim);
    return h->answer;
}

START_TEST(handlers_and_unsupported)
{
    struct machine m;
    machine_new(&m);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_CHECKPOINT, 7, 0, 0, 0), TANDEMCTL_UNSUPPORTED);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_SWITCH_ENGINE, TANDEMCTL_ENGINE_INTERP, 0, 0, 0),
                      TANDEMCTL_UNSUPPORTED);
    ck_assert_double_eq(stat(&m, "system.gc.unsupportedRequests"), 2);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_SWITCH_ENGINE, 7, 0, 0, 0),
                      TANDEMCTL_BAD_ARGUMENT);

    struct handler_log h = {.sim = &m.sim, .answer = TANDEMCTL_OK};
    guestctl_set_handler(m.gc, GUESTCTL_REQ_CHECKPOINT, log_handler, &h);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_CHECKPOINT, 0xabcdef0123ULL, 0, 0, 0),
                      TANDEMCTL_BUSY);
    ck_assert_uint_eq(h.calls, 0);
    /* A second command while busy is ignored. */
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_EXIT, 1, 0, 0, 0), TANDEMCTL_BUSY);
    ck_assert(!m.sim.exit_requested);
    sim_run(&m.sim, 1);
    ck_assert_uint_eq(h.calls, 1);
    ck_assert_int_eq(h.req, GUESTCTL_REQ_CHECKPOINT);
    ck_assert_uint_eq(h.arg, 0xabcdef0123ULL);
    ck_assert_uint_eq(h.when, 0);
    ck_assert_uint_eq(inl(&m, TANDEMCTL_REG_CMD), TANDEMCTL_OK);

    guestctl_set_handler(m.gc, GUESTCTL_REQ_SWITCH_ENGINE, log_handler, &h);
    h.answer = TANDEMCTL_FAILED;
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_SWITCH_ENGINE, TANDEMCTL_ENGINE_KVM, 0, 0, 0),
                      TANDEMCTL_BUSY);
    ck_assert_int_eq(sim_drain(&m.sim), 0);
    ck_assert_uint_eq(h.calls, 2);
    ck_assert_int_eq(h.req, GUESTCTL_REQ_SWITCH_ENGINE);
    ck_assert_uint_eq(h.arg, TANDEMCTL_ENGINE_KVM);
    ck_assert_uint_eq(inl(&m, TANDEMCTL_REG_CMD), TANDEMCTL_FAILED);
    sim_destroy(&m.sim);
}
END_TEST

/* With a handler, the ROI markers become requests: BUSY, then the handler
 * runs from the event (and the built-in reset/dump does not happen); a
 * handler that pauses the run makes sim_run return at the guest's marker. */
static enum tandemctl_status pausing_handler(void *opaque, enum guestctl_request req, uint64_t arg)
{
    enum tandemctl_status st = log_handler(opaque, req, arg);
    struct handler_log *h = opaque;
    sim_pause(h->sim, req == GUESTCTL_REQ_ROI_BEGIN ? "roi-begin" : "roi-end");
    return st;
}

START_TEST(roi_handlers)
{
    struct machine m;
    machine_new(&m);
    char *out = path_join(tmpdir, "roi-out");
    m.sim.outdir = out;
    struct handler_log h = {.sim = &m.sim, .answer = TANDEMCTL_OK};
    guestctl_set_handler(m.gc, GUESTCTL_REQ_ROI_BEGIN, pausing_handler, &h);
    guestctl_set_handler(m.gc, GUESTCTL_REQ_ROI_END, pausing_handler, &h);
    bus_pio_read(&m.sys->bus, 0x1234, 1);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_ROI_BEGIN, 0, 0, 0, 0), TANDEMCTL_BUSY);
    ck_assert_double_eq(stat(&m, "system.unmappedPortReads"), 1); /* not reset */
    ck_assert_str_eq(sim_run(&m.sim, TICK_MAX), "roi-begin");
    ck_assert_uint_eq(h.calls, 1);
    ck_assert_int_eq(h.req, GUESTCTL_REQ_ROI_BEGIN);
    ck_assert_uint_eq(inl(&m, TANDEMCTL_REG_CMD), TANDEMCTL_OK);
    ck_assert_double_eq(stat(&m, "system.unmappedPortReads"), 1);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_ROI_END, 0, 0, 0, 0), TANDEMCTL_BUSY);
    ck_assert_str_eq(sim_run(&m.sim, TICK_MAX), "roi-end");
    ck_assert_int_eq(h.req, GUESTCTL_REQ_ROI_END);
    ck_assert_uint_eq(inl(&m, TANDEMCTL_REG_CMD), TANDEMCTL_OK);
    char *json_path = path_join(out, "stats.json");
    ck_assert_int_ne(access(json_path, F_OK), 0); /* the handler dumps, not the device */
    /* A plain STATS_DUMP still dumps at once. */
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_STATS_DUMP, 0, 0, 0, 0), TANDEMCTL_OK);
    ck_assert_int_eq(access(json_path, F_OK), 0);
    free(json_path);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(debug_exit)
{
    struct machine m;
    machine_new(&m);
    bus_pio_write(&m.sys->bus, PC_PORT_DEBUG_EXIT, 0x10, 1);
    ck_assert(m.sim.exit_requested);
    ck_assert_int_eq(m.sim.exit_code, 0x21);
    ck_assert_uint_eq(bus_pio_read(&m.sys->bus, PC_PORT_DEBUG_EXIT, 1), 0);
    sim_destroy(&m.sim);
    machine_new(&m);
    bus_pio_write(&m.sys->bus, PC_PORT_DEBUG_EXIT, 0, 4);
    ck_assert_int_eq(m.sim.exit_code, 1);
    sim_destroy(&m.sim);
}
END_TEST

START_TEST(serialize_round_trip)
{
    struct machine a, b;
    machine_new(&a);
    machine_new(&b);
    struct handler_log ha = {.sim = &a.sim, .answer = TANDEMCTL_OK};
    struct handler_log hb = {.sim = &b.sim, .answer = TANDEMCTL_OK};
    guestctl_set_handler(a.gc, GUESTCTL_REQ_CHECKPOINT, log_handler, &ha);
    guestctl_set_handler(b.gc, GUESTCTL_REQ_CHECKPOINT, log_handler, &hb);
    command(&a, 0x77, 0, 0, 0, 0);
    command(&a, TANDEMCTL_CMD_READ_HOST_FILE, 0, 0x1000, 5, 0);
    /* Mid-request: BUSY with the handler event pending. */
    ck_assert_uint_eq(command(&a, TANDEMCTL_CMD_CHECKPOINT, 99, 1, 2, 3), TANDEMCTL_BUSY);
    outl(&a, TANDEMCTL_REG_SELECT, 3);
    struct ser_node *na = sim_serialize(&a.sim);
    ck_assert_msg(sim_unserialize(&b.sim, na) == 0, "%s", err_get());
    struct ser_node *nb = sim_serialize(&b.sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    ck_assert_uint_eq(inl(&b, TANDEMCTL_REG_CMD), TANDEMCTL_BUSY);
    ck_assert_uint_eq(inl(&b, TANDEMCTL_REG_SELECT), 3);
    sim_run(&a.sim, 10);
    sim_run(&b.sim, 10);
    ck_assert_uint_eq(ha.calls, 1);
    ck_assert_uint_eq(hb.calls, 1);
    ck_assert_uint_eq(hb.arg, 99);
    ck_assert_uint_eq(ha.when, hb.when);
    ck_assert_uint_eq(command(&a, TANDEMCTL_CMD_HOST_FILE_SIZE, 0, 0, 0, 0),
                      command(&b, TANDEMCTL_CMD_HOST_FILE_SIZE, 0, 0, 0, 0));
    na = sim_serialize(&a.sim);
    nb = sim_serialize(&b.sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    sim_destroy(&a.sim);
    sim_destroy(&b.sim);
}
END_TEST

static uint64_t random_arg(void)
{
    switch (rand() % 5) {
    case 0:
        return (uint64_t)(rand() % 64);
    case 1:
        return RAM_SIZE - (uint64_t)(rand() % 256);
    case 2:
        return (uint64_t)rand() % RAM_SIZE;
    case 3:
        return UINT64_MAX - (uint64_t)(rand() % 16);
    default:
        return (uint64_t)rand() << 33 ^ (uint64_t)rand();
    }
}

START_TEST(random_port_access)
{
    struct machine m;
    free(print_path);
    print_path = strdup("/dev/null");
    machine_new(&m);
    struct handler_log h = {.sim = &m.sim, .answer = TANDEMCTL_OK};
    guestctl_set_handler(m.gc, GUESTCTL_REQ_CHECKPOINT, log_handler, &h);
    static const unsigned sizes[] = {1, 2, 4};
    srand(777);
    tick_t t = 0;
    unsigned exits = 0;
    for (int i = 0; i < 200000; i++) {
        uint16_t port = (uint16_t)(TANDEMCTL_PORT + rand() % 16);
        unsigned size = sizes[rand() % 3];
        if (rand() % 3 == 0) {
            bus_pio_read(&m.sys->bus, port, size);
            continue;
        }
        uint64_t v;
        unsigned reg = (port - TANDEMCTL_PORT) & 0xc;
        if (reg == TANDEMCTL_REG_CMD)
            v = (uint64_t)(rand() % 16);
        else if (reg == TANDEMCTL_REG_SELECT)
            v = (uint64_t)(rand() % 8);
        else
            v = random_arg() >> (reg == TANDEMCTL_REG_DATA_HI ? 32 : 0);
        bus_pio_write(&m.sys->bus, port, v, size);
        exits += m.sim.exit_requested;
        m.sim.exit_requested = false; /* keep going past random EXITs */
        if (i % 64 == 0)
            sim_run(&m.sim, ++t);
    }
    ck_assert_uint_gt(exits, 0);
    ck_assert_uint_gt(h.calls, 0);
    /* The device still answers normally. */
    sim_run(&m.sim, ++t);
    ck_assert_uint_eq(command(&m, TANDEMCTL_CMD_HOST_FILE_SIZE, 0, 0, 0, 0), TANDEMCTL_OK);
    ck_assert_uint_eq(get_slot(&m, TANDEMCTL_SLOT_RESULT), 11);
    sim_destroy(&m.sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("guestctl");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, id_and_registers);
    tcase_add_test(tc, exit_command);
    tcase_add_test(tc, stats_and_roi);
    tcase_add_test(tc, read_host_file);
    tcase_add_test(tc, host_files_param_checked);
    tcase_add_test(tc, print_command);
    tcase_add_test(tc, unknown_command_counted);
    tcase_add_test(tc, handlers_and_unsupported);
    tcase_add_test(tc, roi_handlers);
    tcase_add_test(tc, debug_exit);
    tcase_add_test(tc, serialize_round_trip);
    tcase_add_test(tc, random_port_access);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
