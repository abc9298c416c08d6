/* Sim objects: creation and lookup, parameter schema validation, --set
 * overrides, lifecycle order, serialization round trip, stats dumps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/serialize.h"
#include "sim/util.h"
#include "testlib.h"

static char lifecycle_log[1024];

static void logf_(const char *what, struct sim_object *o)
{
    size_t n = strlen(lifecycle_log);
    snprintf(lifecycle_log + n, sizeof(lifecycle_log) - n, "%s:%s ", what, o->path);
}

struct ticker {
    struct sim_object obj;
    uint64_t period;
    int64_t offset;
    bool enabled;
    double scale;
    char *label;
    int mode;
    struct sim_object *peer;
    struct event tick_event;
    uint64_t ticks;
    struct stat_dist gaps;
    tick_t last;
};

static void ticker_fire(struct event *ev, void *arg)
{
    struct ticker *t = arg;
    t->ticks++;
    stat_dist_sample(&t->gaps, sim_now(t->obj.sim) - t->last);
    t->last = sim_now(t->obj.sim);
    sim_schedule(t->obj.sim, ev, sim_now(t->obj.sim) + t->period);
}

static int ticker_init(struct sim_object *o)
{
    struct ticker *t = SIM_CAST(struct ticker, o);
    logf_("init", o);
    if (t->period == 0) {
        err_set("period must not be 0");
        return -1;
    }
    event_init(&t->tick_event, "tick", EVPRI_DEVICE, ticker_fire, t);
    stat_dist_init(&t->gaps, 0, 100, 10);
    stats_add_counter(o, "ticks", &t->ticks, "count", "Ticks fired");
    stats_add_dist(o, "gaps", &t->gaps, "tick", "Time between ticks");
    return 0;
}

static void ticker_startup(struct sim_object *o)
{
    struct ticker *t = SIM_CAST(struct ticker, o);
    logf_("startup", o);
    if (t->enabled)
        sim_schedule(o->sim, &t->tick_event, sim_now(o->sim) + t->period);
}

static void ticker_serialize(struct sim_object *o, struct ser_node *n)
{
    struct ticker *t = SIM_CAST(struct ticker, o);
    SER_PUT(n, t, ticks);
    SER_PUT(n, t, last);
    ser_put_event(n, "tick_event", &t->tick_event);
}

static int ticker_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct ticker *t = SIM_CAST(struct ticker, o);
    if (SER_GET(n, t, ticks) < 0 || SER_GET(n, t, last) < 0)
        return -1;
    return ser_get_event(n, "tick_event", &t->tick_event, &o->sim->eq);
}

static void ticker_destroy(struct sim_object *o)
{
    struct ticker *t = SIM_CAST(struct ticker, o);
    logf_("destroy", o);
    stat_dist_free(&t->gaps);
}

static const char *const modes[] = {"slow", "fast", NULL};
static const struct param_desc ticker_params[] = {
    PARAM_UINT_(struct ticker, period, "1000", 1, 1000000, "tick", "Period"),
    PARAM_INT_(struct ticker, offset, "-5", -10, 10, "tick", "Offset"),
    PARAM_BOOL_(struct ticker, enabled, "true", "Runs at all"),
    PARAM_DOUBLE_(struct ticker, scale, "1.5", "", "Scale"),
    PARAM_STRING_(struct ticker, label, "hello", "Label"),
    PARAM_ENUM_(struct ticker, mode, "slow", modes, "Mode"),
    PARAM_OBJECT_(struct ticker, peer, "TestTicker", "Another ticker"),
    PARAM_END,
};

static struct sim_type ticker_type = {
    .name = "TestTicker",
    .help = "A test object that ticks periodically",
    .size = sizeof(struct ticker),
    .params = ticker_params,
    .ops = {.init = ticker_init, .startup = ticker_startup, .serialize = ticker_serialize,
            .unserialize = ticker_unserialize, .destroy = ticker_destroy},
};
SIM_TYPE_REGISTER(ticker_type);

static struct ticker *mk_ticker(struct simulation *sim, const char *path)
{
    struct sim_object *o = sim_create(sim, "TestTicker", path);
    ck_assert_msg(o != NULL, "%s", err_get());
    return SIM_CAST(struct ticker, o);
}

START_TEST(test_create_and_defaults)
{
    struct simulation sim;
    sim_init(&sim);
    struct ticker *t = mk_ticker(&sim, "root");
    ck_assert_uint_eq(t->period, 1000);
    ck_assert_int_eq(t->offset, -5);
    ck_assert(t->enabled);
    ck_assert(t->scale == 1.5);
    ck_assert_str_eq(t->label, "hello");
    ck_assert_int_eq(t->mode, 0);
    ck_assert_ptr_null(t->peer);
    struct ticker *c = mk_ticker(&sim, "root.child");
    ck_assert_ptr_eq(c->obj.parent, &t->obj);
    ck_assert_ptr_eq(sim_find(&sim, "root.child"), &c->obj);
    ck_assert_ptr_eq(sim_find_ancestor(&c->obj, "TestTicker"), &c->obj);
    ck_assert_ptr_null(sim_create(&sim, "TestTicker", "root.child"));
    ck_assert(strstr(err_get(), "already exists"));
    ck_assert_ptr_null(sim_create(&sim, "TestTicker", "nope.child"));
    ck_assert(strstr(err_get(), "parent 'nope'"));
    ck_assert_ptr_null(sim_create(&sim, "NoSuchType", "x"));
    ck_assert(strstr(err_get(), "unknown object type 'NoSuchType'"));
    ck_assert_ptr_null(sim_create(&sim, "TestTicker", "root.bad name"));
    ck_assert(strstr(err_get(), "invalid object name"));
    sim_destroy(&sim);
}
END_TEST

START_TEST(test_param_validation)
{
    struct simulation sim;
    sim_init(&sim);
    struct ticker *t = mk_ticker(&sim, "t");
    struct sim_object *o = &t->obj;
    const struct sim_type *ty = o->type;
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "period"), "0x10"), 0);
    ck_assert_uint_eq(t->period, 16);
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "period"), "2k"), 0);
    ck_assert_uint_eq(t->period, 2048);
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "period"), "2000000"), -1);
    ck_assert(strstr(err_get(), "out of range [1, 1000000]"));
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "period"), "12abc"), -1);
    ck_assert(strstr(err_get(), "expects a unsigned integer, got '12abc'"));
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "period"), "-1"), -1);
    ck_assert_int_eq(param_set_int(o, sim_type_param(ty, "offset"), -11), -1);
    ck_assert_int_eq(param_set_int(o, sim_type_param(ty, "offset"), -10), 0);
    ck_assert_int_eq(t->offset, -10);
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "enabled"), "maybe"), -1);
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "enabled"), "off"), 0);
    ck_assert(!t->enabled);
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "mode"), "medium"), -1);
    ck_assert(strstr(err_get(), "must be one of {slow, fast}"));
    ck_assert_int_eq(param_set_text(o, sim_type_param(ty, "mode"), "fast"), 0);
    ck_assert_int_eq(t->mode, 1);
    ck_assert_int_eq(param_set_double(o, sim_type_param(ty, "period"), 2.5), -1);
    ck_assert_int_eq(param_set_double(o, sim_type_param(ty, "period"), 25.0), 0);
    ck_assert_int_eq(param_set_int(o, sim_type_param(ty, "label"), 3), -1);
    ck_assert(strstr(err_get(), "expects a string"));
    struct ticker *u = mk_ticker(&sim, "u");
    ck_assert_int_eq(param_set_text(&u->obj, sim_type_param(ty, "peer"), "t"), 0);
    ck_assert_ptr_eq(u->peer, o);
    ck_assert_int_eq(param_set_text(&u->obj, sim_type_param(ty, "peer"), "zz"), -1);
    ck_assert(strstr(err_get(), "no object at path 'zz'"));
    ck_assert_int_eq(param_set_object(&u->obj, sim_type_param(ty, "peer"),
                                      sim_create(&sim, "System", "system")), -1);
    ck_assert(strstr(err_get(), "expects an object of type TestTicker"));
    char buf[64];
    param_format(&u->obj, sim_type_param(ty, "peer"), buf, sizeof(buf));
    ck_assert_str_eq(buf, "t");
    param_format(o, sim_type_param(ty, "offset"), buf, sizeof(buf));
    ck_assert_str_eq(buf, "-10");
    sim_destroy(&sim);
}
END_TEST

START_TEST(test_overrides)
{
    struct simulation sim;
    sim_init(&sim);
    struct ticker *t = mk_ticker(&sim, "t");
    ck_assert_int_eq(sim_add_override(&sim, "t.period=77"), 0);
    ck_assert_int_eq(sim_add_override(&sim, "no-dot=1"), -1);
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert_uint_eq(t->period, 77);
    sim_destroy(&sim);

    sim_init(&sim);
    mk_ticker(&sim, "t");
    ck_assert_int_eq(sim_add_override(&sim, "t.nope=1"), 0);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert(strstr(err_get(), "type TestTicker has no parameter 'nope'"));
    sim_destroy(&sim);

    sim_init(&sim);
    mk_ticker(&sim, "t");
    ck_assert_int_eq(sim_add_override(&sim, "x.period=1"), 0);
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert(strstr(err_get(), "no object named 'x'"));
    sim_destroy(&sim);
}
END_TEST

START_TEST(test_lifecycle_order)
{
    struct simulation sim;
    sim_init(&sim);
    lifecycle_log[0] = '\0';
    mk_ticker(&sim, "a");
    mk_ticker(&sim, "a.b");
    mk_ticker(&sim, "c");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert(sim_create(&sim, "TestTicker", "late") == NULL);
    sim_destroy(&sim);
    ck_assert_str_eq(lifecycle_log, "init:a init:a.b init:c startup:a startup:a.b startup:c "
                                    "destroy:c destroy:a.b destroy:a ");
}
END_TEST

START_TEST(test_init_error_names_object)
{
    struct simulation sim;
    sim_init(&sim);
    lifecycle_log[0] = '\0';
    mk_ticker(&sim, "a");
    struct ticker *t = mk_ticker(&sim, "t");
    mk_ticker(&sim, "z");
    t->period = 0;
    ck_assert_int_eq(sim_instantiate(&sim), -1);
    ck_assert_str_eq(err_get(), "t (TestTicker): period must not be 0");
    sim_destroy(&sim);
    /* Objects init was called on are destroyed; z never got there. */
    ck_assert_str_eq(lifecycle_log, "init:a init:t destroy:t destroy:a ");
}
END_TEST

START_TEST(test_run_limits_and_exit)
{
    struct simulation sim;
    sim_init(&sim);
    struct ticker *t = mk_ticker(&sim, "t");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ck_assert_str_eq(sim_run(&sim, 10500), "tick limit reached");
    ck_assert_uint_eq(t->ticks, 10);
    ck_assert_uint_eq(sim_now(&sim), 10500);
    sim_exit(&sim, 3, "test exit");
    ck_assert_str_eq(sim_run(&sim, TICK_MAX), "exit requested");
    ck_assert_int_eq(sim.exit_code, 3);
    sim_destroy(&sim);
}
END_TEST

static void build_pair(struct simulation *sim)
{
    sim_init(sim);
    mk_ticker(sim, "a");
    struct ticker *b = mk_ticker(sim, "a.b");
    b->period = 333;
    ck_assert_int_eq(sim_instantiate(sim), 0);
}

START_TEST(test_serialize_round_trip)
{
    struct simulation s1, s2;
    build_pair(&s1);
    sim_run(&s1, 5000);
    struct ser_node *snap = sim_serialize(&s1);
    build_pair(&s2);
    ck_assert_msg(sim_unserialize(&s2, snap) == 0, "%s", err_get());
    ck_assert_uint_eq(sim_now(&s2), 5000);
    sim_run(&s1, 20000);
    sim_run(&s2, 20000);
    struct ser_node *n1 = sim_serialize(&s1), *n2 = sim_serialize(&s2);
    ck_assert(ser_node_equal(n1, n2));
    ck_assert_uint_eq(SIM_CAST(struct ticker, sim_find(&s2, "a.b"))->ticks, 60);
    ser_node_free(n1);
    ser_node_free(n2);
    ser_node_free(snap);
    sim_destroy(&s1);
    sim_destroy(&s2);
}
END_TEST

START_TEST(test_unserialize_rejects_mismatch)
{
    struct simulation s1, s2;
    build_pair(&s1);
    struct ser_node *snap = sim_serialize(&s1);
    sim_init(&s2);
    mk_ticker(&s2, "a");
    mk_ticker(&s2, "other");
    ck_assert_int_eq(sim_instantiate(&s2), 0);
    ck_assert_int_eq(sim_unserialize(&s2, snap), -1);
    ck_assert(strstr(err_get(), "no state for 'other'"));
    sim_destroy(&s2);

    sim_init(&s2);
    mk_ticker(&s2, "a");
    ck_assert_int_eq(sim_instantiate(&s2), 0);
    ck_assert_int_eq(sim_unserialize(&s2, snap), -1);
    ck_assert(strstr(err_get(), "checkpoint has object 'a.b' that this configuration lacks"));
    sim_destroy(&s2);

    /* A damaged property is named with its node. */
    struct ser_node *b = ser_find_child(ser_find_child(ser_find_child(snap, "objects"), "a"), "b");
    ser_put_bytes(b, "ticks", "xx", 2);
    build_pair(&s2);
    ck_assert_int_eq(sim_unserialize(&s2, snap), -1);
    ck_assert(strstr(err_get(), "objects/a/b/ticks' has 2 bytes, expected 8"));
    sim_destroy(&s2);
    ser_node_free(snap);
    sim_destroy(&s1);
}
END_TEST

/* Every registered type either round-trips through serialization on a
 * default instance under a System, or is exempt here with the test that
 * covers it instead. */
static const char *const exempt[][2] = {
    {"CPU", "needs an engine; covered by test_cpu and the kvm tests"},
    {"LinuxLoader", "needs a kernel file; covered by test_linux_loader"},
    {"ElfLoader", "needs a kernel file; covered by test_elf_loader"},
    {"MultibootLoader", "needs a kernel file; covered by test_multiboot"},
    {"EngineSwitch", "needs a GuestControl; covered by the engine_switch guest program"},
    {"CachegrindCounter", "needs cachegrind-mode caches; covered by test_cg_counter"},
};

static const char *exemption(const char *type)
{
    for (size_t i = 0; i < sizeof(exempt) / sizeof(exempt[0]); i++)
        if (!strcmp(exempt[i][0], type))
            return exempt[i][1];
    return NULL;
}

START_TEST(test_every_type_round_trips)
{
    unsigned checked = 0;
    for (const struct sim_type *t = sim_types_first(); t; t = t->next) {
        if (exemption(t->name) || !strncmp(t->name, "Test", 4))
            continue;
        struct simulation s1, s2;
        for (int k = 0; k < 2; k++) {
            struct simulation *s = k ? &s2 : &s1;
            sim_init(s);
            ck_assert(sim_create(s, "System", "system"));
            if (strcmp(t->name, "System"))
                ck_assert_msg(sim_create(s, t->name, "system.dut"), "%s: %s", t->name, err_get());
            ck_assert_msg(sim_instantiate(s) == 0, "%s: %s", t->name, err_get());
        }
        sim_run(&s1, 3 * TICKS_PER_MS);
        struct ser_node *snap = sim_serialize(&s1);
        ck_assert_msg(sim_unserialize(&s2, snap) == 0, "%s: %s", t->name, err_get());
        struct ser_node *again = sim_serialize(&s2);
        char diff[512];
        ck_assert_msg(!ser_node_diff(snap, again, diff, sizeof(diff)), "%s does not round-trip: %s",
                      t->name, diff);
        ser_node_free(snap);
        ser_node_free(again);
        sim_destroy(&s1);
        sim_destroy(&s2);
        checked++;
    }
    ck_assert_uint_ge(checked, 1);
}
END_TEST

/* A pause ends one sim_run with its reason, once; the next run goes on. */
static void pause_at_third_tick(struct event *ev, void *arg)
{
    (void)ev;
    struct simulation *sim = arg;
    sim_pause(sim, "test pause");
}

START_TEST(test_pause_is_not_sticky)
{
    struct simulation sim;
    sim_init(&sim);
    struct ticker *t = mk_ticker(&sim, "t");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    struct event pause_event;
    event_init(&pause_event, "pause", EVPRI_DEVICE, pause_at_third_tick, &sim);
    sim_schedule(&sim, &pause_event, 3500);
    ck_assert_str_eq(sim_run(&sim, 10500), "test pause");
    ck_assert_uint_eq(sim_now(&sim), 3500);
    ck_assert_uint_eq(t->ticks, 3);
    ck_assert_str_eq(sim_run(&sim, 10500), "tick limit reached");
    ck_assert_uint_eq(t->ticks, 10);
    ck_assert(!sim.exit_requested);
    sim_destroy(&sim);
}
END_TEST

/* Flush functions run before every dump and reset: a lazily kept counter
 * is current in the dump and split at the reset. */
static uint64_t lazy_pending, lazy_counter;
static unsigned flushes;

static void flush_lazy(struct sim_object *o)
{
    (void)o;
    flushes++;
    lazy_counter += lazy_pending;
    lazy_pending = 0;
}

START_TEST(test_stats_flush_before_dump_and_reset)
{
    struct simulation sim;
    sim_init(&sim);
    char *dir = test_tmpdir();
    sim.outdir = strdup(dir);
    struct ticker *t = mk_ticker(&sim, "t");
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    lazy_counter = 0;
    lazy_pending = 5;
    flushes = 0;
    stats_add_counter(&t->obj, "lazy", &lazy_counter, "count", "A lazily kept counter");
    stats_add_flush(&t->obj, flush_lazy);
    ck_assert_int_eq(stats_dump(&sim, "first"), 0);
    ck_assert_uint_eq(flushes, 1);
    char *path = path_join(dir, "stats.json");
    size_t len;
    char *json = read_whole_file(path, &len);
    ck_assert_ptr_nonnull(strstr(json, "\"t.lazy\": {\"value\": 5"));
    free(json);
    lazy_pending = 7; /* before the reset: must not survive it */
    stats_reset(&sim);
    ck_assert_uint_eq(flushes, 2);
    ck_assert_uint_eq(lazy_counter, 0);
    ck_assert_uint_eq(lazy_pending, 0);
    free(path);
    sim_destroy(&sim);
    free(dir);
}
END_TEST

START_TEST(test_stats_dump_and_reset)
{
    struct simulation sim;
    sim_init(&sim);
    char *dir = test_tmpdir();
    sim.outdir = strdup(dir);
    struct ticker *t = mk_ticker(&sim, "t");
    t->period = 250;
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    uint64_t num = 6, den = 4;
    stats_add_ratio(&t->obj, "ratio", &num, &den, "ratio", "A ratio");
    sim_run(&sim, 1000);
    ck_assert_int_eq(stats_dump(&sim, "first"), 0);
    const struct stat_entry *e = stats_find(&sim, "t.ticks");
    ck_assert(stat_value(e) == 3);
    ck_assert(stat_value(stats_find(&sim, "t.ratio")) == 1.5);
    stats_reset(&sim);
    ck_assert(stat_value(e) == 0);
    sim_run(&sim, 2000);
    ck_assert_int_eq(stats_dump(&sim, "second"), 0);
    size_t len;
    char *path = path_join(dir, "stats.txt");
    char *txt = read_whole_file(path, &len);
    ck_assert_ptr_nonnull(txt);
    ck_assert(strstr(txt, "---------- Begin Simulation Statistics ----------"));
    ck_assert(strstr(txt, "t.ticks"));
    ck_assert(strstr(txt, "# Ticks fired (count)"));
    ck_assert(strstr(txt, "t.gaps::200-299"));
    ck_assert(strstr(txt, "t.ratio                                                              1.500000"));
    /* Two dump blocks, the second after the reset: 4 ticks in (1000, 2000]. */
    char *second = strstr(strstr(txt, "End Simulation") + 1, "t.ticks");
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(atoi(second + 56), 4);
    free(txt);
    free(path);
    path = path_join(dir, "stats.json");
    char *json = read_whole_file(path, &len);
    ck_assert(strstr(json, "\"reason\": \"first\""));
    ck_assert(strstr(json, "\"reason\": \"second\""));
    ck_assert(strstr(json, "\"t.ticks\": {\"value\": 4"));
    free(json);
    free(path);
    sim_destroy(&sim);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_create_and_defaults);
    tcase_add_test(tc, test_param_validation);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_lifecycle_order);
    tcase_add_test(tc, test_init_error_names_object);
    tcase_add_test(tc, test_run_limits_and_exit);
    tcase_add_test(tc, test_serialize_round_trip);
    tcase_add_test(tc, test_unserialize_rejects_mismatch);
    tcase_add_test(tc, test_every_type_round_trips);
    tcase_add_test(tc, test_stats_dump_and_reset);
    tcase_add_test(tc, test_pause_is_not_sticky);
    tcase_add_test(tc, test_stats_flush_before_dump_and_reset);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
