/* Event-queue throughput with 64 self-rescheduling timers (the shape of a
 * machine's device and CPU events), against a bare binary heap of 64-bit
 * keys doing the same pops and pushes. */
#include <stdio.h>
#include <stdlib.h>

#include "sim/event.h"
#include "sim/sim.h"

enum { TIMERS = 64, EVENTS = 20000000 };

struct timer {
    struct event ev;
    struct event_queue *q;
    uint64_t period;
};

static void fire(struct event *ev, void *arg)
{
    struct timer *t = arg;
    eq_schedule(t->q, ev, t->q->now + t->period);
}

static uint64_t heap[TIMERS];
static size_t heap_n;

static void heap_push(uint64_t v)
{
    size_t i = heap_n++;
    while (i && heap[(i - 1) / 2] > v) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = v;
}

static uint64_t heap_pop(void)
{
    uint64_t top = heap[0], v = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap_n)
            break;
        if (c + 1 < heap_n && heap[c + 1] < heap[c])
            c++;
        if (heap[c] >= v)
            break;
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = v;
    return top;
}

int main(void)
{
    struct event_queue q;
    eq_init(&q);
    static struct timer timers[TIMERS];
    for (int i = 0; i < TIMERS; i++) {
        timers[i].q = &q;
        timers[i].period = 1000 + 37 * (uint64_t)i;
        event_init(&timers[i].ev, "timer", EVPRI_DEVICE, fire, &timers[i]);
        eq_schedule(&q, &timers[i].ev, timers[i].period);
    }
    double t0 = host_seconds();
    for (long n = 0; n < EVENTS; n++)
        eq_service_one(&q);
    double tandem_s = host_seconds() - t0;

    for (int i = 0; i < TIMERS; i++)
        heap_push(((1000 + 37 * (uint64_t)i) << 8) | (uint64_t)i);
    t0 = host_seconds();
    uint64_t sink = 0;
    for (long n = 0; n < EVENTS; n++) {
        uint64_t v = heap_pop();
        unsigned idx = v & 0xff;
        sink += v;
        heap_push(v + ((1000 + 37 * (uint64_t)idx) << 8));
    }
    double heap_s = host_seconds() - t0;
    double ours = EVENTS / tandem_s / 1e6, peer = EVENTS / heap_s / 1e6;
    printf("tandem event queue: %.1f M events/s; bare heap: %.1f M pops+pushes/s (checksum %llu)\n",
           ours, peer, (unsigned long long)(sink & 0xff));
    printf("eventq: %.1f Mevents/s (peer bare-heap %.1f Mevents/s, ratio %.2f)\n", ours, peer,
           ours / peer);
    eq_destroy(&q);
    return 0;
}
