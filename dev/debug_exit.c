/* QEMU isa-debug-exit compatible exit port at PC_PORT_DEBUG_EXIT (0xF4).
 * As QEMU configured with iobase=0xf4,iosize=0x04 (the usual setup of
 * bare-metal test harnesses): a write of value v of any width to any of the
 * four ports ends the simulation with exit code (v << 1) | 1, so a guest can
 * never produce exit code 0 through it; reads return 0. */
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(DebugExit, "isa-debug-exit port writes");

#define DEBUG_EXIT_PORTS 4

struct debug_exit {
    struct sim_object obj;
    uint64_t exits;
};

static uint64_t debug_exit_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0;
}

static void debug_exit_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct debug_exit *d = opaque;
    int code = (int)(((uint32_t)val << 1) | 1);
    d->exits++;
    DPRINTF(DebugExit, &d->obj, "out%u 0x%llx to port 0x%llx: exit code %d", size * 8,
            (unsigned long long)val, (unsigned long long)(PC_PORT_DEBUG_EXIT + off), code);
    sim_exit(d->obj.sim, code, "guest debug exit");
}

static const struct io_ops debug_exit_ops = {debug_exit_read, debug_exit_write};

static int debug_exit_init(struct sim_object *o)
{
    struct debug_exit *d = SIM_CAST(struct debug_exit, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("%s: a DebugExit device must be placed under the System object", o->path);
        return -1;
    }
    if (bus_map_pio(&sys->bus, PC_PORT_DEBUG_EXIT, DEBUG_EXIT_PORTS, &debug_exit_ops, d,
                    "debug-exit") < 0)
        return -1;
    stats_add_counter(o, "exits", &d->exits, "count", "Writes to the debug-exit port");
    return 0;
}

static void debug_exit_serialize(struct sim_object *o, struct ser_node *n)
{
    SER_PUT(n, SIM_CAST(struct debug_exit, o), exits);
}

static int debug_exit_unserialize(struct sim_object *o, struct ser_node *n)
{
    return SER_GET(n, SIM_CAST(struct debug_exit, o), exits);
}

static const struct param_desc debug_exit_params[] = {
    PARAM_END,
};

static struct sim_type debug_exit_type = {
    .name = "DebugExit",
    .help = "QEMU isa-debug-exit compatible port at 0xF4: write v, exit with (v << 1) | 1",
    .size = sizeof(struct debug_exit),
    .params = debug_exit_params,
    .ops = {.init = debug_exit_init, .serialize = debug_exit_serialize,
            .unserialize = debug_exit_unserialize},
};
SIM_TYPE_REGISTER(debug_exit_type);
