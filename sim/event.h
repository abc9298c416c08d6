/* The event queue: events ordered by (when, priority, insertion sequence) so
 * that equal-time, equal-priority events run first-in first-out and every run
 * is deterministic. A binary heap gives O(log n) schedule, deschedule and
 * reschedule; each event remembers its heap slot. */
#ifndef TANDEM_SIM_EVENT_H
#define TANDEM_SIM_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/tick.h"

/* Lower runs first at the same tick. */
enum event_priority {
    EVPRI_FIRST = -100,   /* e.g. restoring state before anything reacts */
    EVPRI_DEVICE = 0,     /* device timers and completions */
    EVPRI_INTERRUPT = 10, /* interrupt delivery after the device that raised it */
    EVPRI_CPU = 50,       /* CPU batches see every device event of their tick */
    EVPRI_STATS = 90,     /* periodic stats dumps see the tick's final state */
    EVPRI_EXIT = 100,     /* exit requests run after everything else */
};

struct event;
typedef void (*event_fn)(struct event *ev, void *arg);

struct event {
    tick_t when;
    int priority;
    uint64_t seq;
    /* 1 + the event's heap slot, 0 when not scheduled: a zeroed event
     * (one whose owner never got to event_init) is safely unscheduled. */
    size_t heap_pos;
    event_fn fn;
    void *arg;
    const char *name;
};

struct event_queue {
    struct event **heap;
    size_t count, capacity;
    tick_t now;
    uint64_t next_seq;
    uint64_t serviced;
};

void event_init(struct event *ev, const char *name, int priority, event_fn fn, void *arg);
static inline bool event_scheduled(const struct event *ev)
{
    return ev->heap_pos != 0;
}

void eq_init(struct event_queue *q);
void eq_destroy(struct event_queue *q);
/* Scheduling in the past is a programming error and aborts with a message. */
void eq_schedule(struct event_queue *q, struct event *ev, tick_t when);
/* Restore path: keep the saved insertion sequence so restored ties order as
 * they did before the checkpoint. */
void eq_schedule_seq(struct event_queue *q, struct event *ev, tick_t when, uint64_t seq);
void eq_deschedule(struct event_queue *q, struct event *ev);
void eq_reschedule(struct event_queue *q, struct event *ev, tick_t when);
/* Tick of the earliest event, or TICK_MAX when empty. */
static inline tick_t eq_next_tick(const struct event_queue *q)
{
    return q->count ? q->heap[0]->when : TICK_MAX;
}
/* Pops the earliest event, advances now to it and runs it. False if empty. */
bool eq_service_one(struct event_queue *q);

#endif
