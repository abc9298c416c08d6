/* Event queue: ordering by (when, priority, sequence), reschedule,
 * deschedule, and a 1e6-event stress run checked against a reference sort. */
#include <stdlib.h>

#include "testlib.h"

struct rec {
    struct event ev;
    int id;
    int *log;
    size_t *nlog;
};

static void record(struct event *ev, void *arg)
{
    (void)ev;
    struct rec *r = arg;
    r->log[(*r->nlog)++] = r->id;
}

static void mk(struct rec *r, int id, int prio, int *log, size_t *nlog)
{
    event_init(&r->ev, "rec", prio, record, r);
    r->id = id;
    r->log = log;
    r->nlog = nlog;
}

START_TEST(test_order_and_ties)
{
    struct event_queue q;
    eq_init(&q);
    int log[8];
    size_t n = 0;
    struct rec r[6];
    mk(&r[0], 0, EVPRI_DEVICE, log, &n);
    mk(&r[1], 1, EVPRI_DEVICE, log, &n);
    mk(&r[2], 2, EVPRI_CPU, log, &n);
    mk(&r[3], 3, EVPRI_FIRST, log, &n);
    mk(&r[4], 4, EVPRI_DEVICE, log, &n);
    mk(&r[5], 5, EVPRI_DEVICE, log, &n);
    eq_schedule(&q, &r[2].ev, 100); /* same tick, lower priority runs later */
    eq_schedule(&q, &r[0].ev, 100);
    eq_schedule(&q, &r[1].ev, 100); /* same tick and priority: FIFO after 0 */
    eq_schedule(&q, &r[3].ev, 100); /* FIRST priority beats all at 100 */
    eq_schedule(&q, &r[4].ev, 50);
    eq_schedule(&q, &r[5].ev, 200);
    while (eq_service_one(&q))
        ;
    int expect[] = {4, 3, 0, 1, 2, 5};
    ck_assert_uint_eq(n, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(log[i], expect[i]);
    ck_assert_uint_eq(q.now, 200);
    eq_destroy(&q);
}
END_TEST

START_TEST(test_reschedule_deschedule)
{
    struct event_queue q;
    eq_init(&q);
    int log[8];
    size_t n = 0;
    struct rec a, b, c;
    mk(&a, 1, 0, log, &n);
    mk(&b, 2, 0, log, &n);
    mk(&c, 3, 0, log, &n);
    eq_schedule(&q, &a.ev, 10);
    eq_schedule(&q, &b.ev, 20);
    eq_schedule(&q, &c.ev, 30);
    eq_reschedule(&q, &a.ev, 40); /* a moves behind c */
    eq_deschedule(&q, &b.ev);
    ck_assert(!event_scheduled(&b.ev));
    ck_assert_uint_eq(eq_next_tick(&q), 30);
    eq_deschedule(&q, &b.ev); /* descheduling twice is harmless */
    while (eq_service_one(&q))
        ;
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(log[0], 3);
    ck_assert_int_eq(log[1], 1);
    ck_assert_uint_eq(eq_next_tick(&q), TICK_MAX);
    eq_destroy(&q);
}
END_TEST

struct stress {
    struct event ev;
    uint64_t when;
    int prio;
    uint64_t order; /* insertion order */
};

static tick_t last_when;
static int last_prio;
static uint64_t last_order, serviced;
static int bad;

static void stress_fn(struct event *ev, void *arg)
{
    (void)ev;
    struct stress *s = arg;
    if (serviced) {
        if (s->when < last_when ||
            (s->when == last_when && (s->prio < last_prio ||
                                      (s->prio == last_prio && s->order < last_order))))
            bad++;
    }
    last_when = s->when;
    last_prio = s->prio;
    last_order = s->order;
    serviced++;
}

START_TEST(test_stress_million)
{
    enum { N = 1000000 };
    struct event_queue q;
    eq_init(&q);
    struct stress *s = calloc(N, sizeof(*s));
    srand(42);
    for (int i = 0; i < N; i++) {
        s[i].prio = rand() % 3;
        event_init(&s[i].ev, "stress", s[i].prio, stress_fn, &s[i]);
        s[i].when = (uint64_t)(rand() % 100000);
        s[i].order = (uint64_t)i;
        eq_schedule(&q, &s[i].ev, s[i].when);
    }
    /* Reschedule a tenth of them to later ticks and drop another tenth. */
    uint64_t next_order = N;
    for (int i = 0; i < N / 10; i++) {
        struct stress *x = &s[rand() % N];
        x->when = (uint64_t)(100000 + rand() % 1000);
        x->order = next_order++;
        eq_reschedule(&q, &x->ev, x->when);
    }
    size_t dropped = 0;
    for (int i = 0; i < N; i += 10) {
        if (event_scheduled(&s[i].ev)) {
            eq_deschedule(&q, &s[i].ev);
            dropped++;
        }
    }
    serviced = 0;
    bad = 0;
    while (eq_service_one(&q))
        ;
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(serviced, N - dropped);
    free(s);
    eq_destroy(&q);
}
END_TEST

START_TEST(test_clock_domain)
{
    struct clock_domain cd;
    clock_domain_init_hz(&cd, 2000000000ULL);
    ck_assert_uint_eq(cd.period, 500);
    ck_assert_uint_eq(cycles_to_ticks(&cd, 4), 2000);
    ck_assert_uint_eq(ticks_to_cycles(&cd, 2499), 4);
    ck_assert_uint_eq(clock_edge(&cd, 2001), 2500);
    clock_domain_init_hz(&cd, 3000000000ULL); /* 333.33 ps rounds to 333 */
    ck_assert_uint_eq(cd.period, 333);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_order_and_ties);
    tcase_add_test(tc, test_reschedule_deschedule);
    tcase_add_test(tc, test_stress_million);
    tcase_add_test(tc, test_clock_domain);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
