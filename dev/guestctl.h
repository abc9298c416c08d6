/* The guest-control device (dev/guestctl.c, docs/guest-control.md): the
 * hooks through which later parts of tandem (checkpointing, engine
 * switching) act on guest requests. */
#ifndef TANDEM_DEV_GUESTCTL_H
#define TANDEM_DEV_GUESTCTL_H

#include <stdint.h>

#define TANDEMCTL_ABI_ONLY
#include "guest/include/tandemctl.h"
#undef TANDEMCTL_ABI_ONLY

struct sim_object;

/* Requests carried out by a registered handler. */
enum guestctl_request {
    GUESTCTL_REQ_CHECKPOINT,    /* arg: the guest's 64-bit tag */
    GUESTCTL_REQ_SWITCH_ENGINE, /* arg: enum tandemctl_engine */
    /* ROI markers: without a handler the device resets (begin) or dumps
     * (end) the stats itself, at once; a handler replaces that and runs
     * from the request's event like the others. arg: 0. */
    GUESTCTL_REQ_ROI_BEGIN,
    GUESTCTL_REQ_ROI_END,
    GUESTCTL_NREQUESTS,
};

/* Runs from an event at the tick of the guest's command, after the port
 * write has completed (so the CPU is at an instruction boundary). Returns
 * the status the guest reads back (TANDEMCTL_OK, TANDEMCTL_FAILED, ...). */
typedef enum tandemctl_status (*guestctl_handler_fn)(void *opaque, enum guestctl_request req,
                                                     uint64_t arg);

/* One handler per request; fn NULL removes it. Without a handler the
 * request is counted, logged under the GuestCtl debug flag and answered
 * with TANDEMCTL_UNSUPPORTED. */
void guestctl_set_handler(struct sim_object *gc, enum guestctl_request req,
                          guestctl_handler_fn fn, void *opaque);

#endif
