/* The Lua 5.4 binding: configs build the object graph through the parameter
 * schemas and drive the run. Other modules add functions to the Lua
 * namespace with LUA_EXTENSION_REGISTER (e.g. checkpoint.save). */
#ifndef TANDEM_SIM_LUA_H
#define TANDEM_SIM_LUA_H

#include <lua.h>
#include <lauxlib.h>

struct simulation;
struct sim_object;

struct lua_extension {
    const char *table; /* global table the functions go into, e.g. "checkpoint" */
    const luaL_Reg *funcs;
    struct lua_extension *next;
};
void lua_extension_register(struct lua_extension *e);
#define LUA_EXTENSION_REGISTER(var)                                            \
    __attribute__((constructor)) static void lua_ext_ctor_##var(void)        \
    {                                                                          \
        lua_extension_register(&var);                                          \
    }

/* The simulation a running config drives (upvalue-free access for
 * extensions). */
struct simulation *lua_sim(lua_State *L);
/* Instantiates on first use; raises a Lua error with the message. */
void lua_sim_instantiate(lua_State *L);
/* Pushes the Lua handle of an object. */
void lua_push_object(lua_State *L, struct sim_object *o);
/* The object at index idx: a handle or a path string; raises otherwise. */
struct sim_object *lua_check_object(lua_State *L, int idx);

/* Runs a config file with the script arguments; 0 on success, -1 after
 * printing "file:line: message". */
int lua_run_config(struct simulation *sim, const char *path, int argc, char **argv);

#endif
