/* guestctl.pause_on: lets a run script act on guest requests between two
 * sim.run calls (docs/guest-control.md, docs/roi.md). The requests named
 * get a handler that answers OK and pauses the run (sim_pause); sim.run
 * returns "guest <request>" and the script does the work (a checkpoint, an
 * engine switch, stats) with the machine stopped at the instruction after
 * the guest's command, then calls sim.run again. The guest sees its command
 * complete when it resumes. */
#include <string.h>

#include "dev/guestctl.h"
#include "sim/lua.h"
#include "sim/sim.h"

static const struct {
    const char *name;
    enum guestctl_request req;
    const char *reason; /* what sim.run returns */
} pausable[] = {
    {"roi-begin", GUESTCTL_REQ_ROI_BEGIN, "guest roi-begin"},
    {"roi-end", GUESTCTL_REQ_ROI_END, "guest roi-end"},
    {"checkpoint", GUESTCTL_REQ_CHECKPOINT, "guest checkpoint"},
};
#define NPAUSABLE (sizeof(pausable) / sizeof(pausable[0]))

static enum tandemctl_status pause_handler(void *opaque, enum guestctl_request req, uint64_t arg)
{
    struct sim_object *gc = opaque;
    (void)arg;
    for (size_t i = 0; i < NPAUSABLE; i++)
        if (pausable[i].req == req)
            sim_pause(gc->sim, pausable[i].reason);
    return TANDEMCTL_OK;
}

/* guestctl.pause_on(gc, {"roi-begin", "roi-end", "checkpoint"}): gc is the
 * GuestControl object (handle or path); each request named gets the pausing
 * handler (replacing any other handler of that request). */
static int l_pause_on(lua_State *L)
{
    struct sim_object *gc = lua_check_object(L, 1);
    if (strcmp(gc->type->name, "GuestControl") != 0)
        return luaL_error(L, "guestctl.pause_on: %s is a %s, not a GuestControl", gc->path,
                          gc->type->name);
    luaL_checktype(L, 2, LUA_TTABLE);
    bool want[NPAUSABLE] = {false};
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        const char *name = lua_tostring(L, -1);
        size_t k = 0;
        while (name && k < NPAUSABLE && strcmp(pausable[k].name, name) != 0)
            k++;
        if (!name || k == NPAUSABLE)
            return luaL_error(L, "guestctl.pause_on: entry %d is '%s'; requests that can pause "
                              "the run: roi-begin, roi-end, checkpoint",
                              (int)i, name ? name : luaL_typename(L, -1));
        want[k] = true;
        lua_pop(L, 1);
    }
    lua_sim_instantiate(L);
    for (size_t k = 0; k < NPAUSABLE; k++)
        if (want[k])
            guestctl_set_handler(gc, pausable[k].req, pause_handler, gc);
    return 0;
}

static const luaL_Reg guestctl_funcs[] = {{"pause_on", l_pause_on}, {NULL, NULL}};
static struct lua_extension guestctl_lua = {"guestctl", guestctl_funcs, NULL};
LUA_EXTENSION_REGISTER(guestctl_lua);
