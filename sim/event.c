#include "sim/event.h"

#include <stdio.h>
#include <stdlib.h>

#include "sim/log.h"

void event_init(struct event *ev, const char *name, int priority, event_fn fn, void *arg)
{
    ev->when = 0;
    ev->priority = priority;
    ev->seq = 0;
    ev->heap_pos = 0;
    ev->fn = fn;
    ev->arg = arg;
    ev->name = name;
}

void eq_init(struct event_queue *q)
{
    q->heap = NULL;
    q->count = q->capacity = 0;
    q->now = 0;
    q->next_seq = 0;
    q->serviced = 0;
}

void eq_destroy(struct event_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        q->heap[i]->heap_pos = 0;
    free(q->heap);
    eq_init(q);
}

static bool before(const struct event *a, const struct event *b)
{
    if (a->when != b->when)
        return a->when < b->when;
    if (a->priority != b->priority)
        return a->priority < b->priority;
    return a->seq < b->seq;
}

static void place(struct event_queue *q, size_t i, struct event *ev)
{
    q->heap[i] = ev;
    ev->heap_pos = i + 1;
}

static void sift_up(struct event_queue *q, size_t i)
{
    struct event *ev = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(ev, q->heap[parent]))
            break;
        place(q, i, q->heap[parent]);
        i = parent;
    }
    place(q, i, ev);
}

static void sift_down(struct event_queue *q, size_t i)
{
    struct event *ev = q->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->count)
            break;
        if (child + 1 < q->count && before(q->heap[child + 1], q->heap[child]))
            child++;
        if (!before(q->heap[child], ev))
            break;
        place(q, i, q->heap[child]);
        i = child;
    }
    place(q, i, ev);
}

void eq_schedule_seq(struct event_queue *q, struct event *ev, tick_t when, uint64_t seq)
{
    if (event_scheduled(ev))
        fatal("event '%s' scheduled twice", ev->name);
    if (when < q->now)
        fatal("event '%s' scheduled in the past (%llu < %llu)", ev->name,
              (unsigned long long)when, (unsigned long long)q->now);
    if (q->count == q->capacity) {
        size_t cap = q->capacity ? q->capacity * 2 : 64;
        struct event **h = realloc(q->heap, cap * sizeof(*h));
        if (!h)
            fatal("out of memory growing the event queue");
        q->heap = h;
        q->capacity = cap;
    }
    ev->when = when;
    ev->seq = seq;
    if (seq >= q->next_seq)
        q->next_seq = seq + 1;
    place(q, q->count++, ev);
    sift_up(q, ev->heap_pos - 1);
}

void eq_schedule(struct event_queue *q, struct event *ev, tick_t when)
{
    eq_schedule_seq(q, ev, when, q->next_seq);
}

void eq_deschedule(struct event_queue *q, struct event *ev)
{
    if (!event_scheduled(ev))
        return;
    size_t i = ev->heap_pos - 1;
    ev->heap_pos = 0;
    q->count--;
    if (i == q->count)
        return;
    struct event *moved = q->heap[q->count];
    place(q, i, moved);
    sift_up(q, i);
    sift_down(q, moved->heap_pos - 1);
}

void eq_reschedule(struct event_queue *q, struct event *ev, tick_t when)
{
    eq_deschedule(q, ev);
    eq_schedule(q, ev, when);
}

bool eq_service_one(struct event_queue *q)
{
    if (q->count == 0)
        return false;
    struct event *ev = q->heap[0];
    ev->heap_pos = 0;
    q->count--;
    if (q->count) {
        place(q, 0, q->heap[q->count]);
        sift_down(q, 0);
    }
    q->now = ev->when;
    q->serviced++;
    ev->fn(ev, ev->arg);
    return true;
}
