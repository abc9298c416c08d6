/* Lua functions for CPUs (sim/lua.h):
 *   cpu.switch(cpu, "interp")  switches the CPU's engine (state carried in
 *                              memory); cpu is a handle or a path string
 *   cpu.engine(cpu)            the name of the attached engine
 * Between sim.run calls the switch happens at once; the machine is
 * instantiated first if the config has not run yet. */
#include <string.h>

#include "cpu/cpu.h"
#include "sim/lua.h"
#include "sim/object.h"

static struct cpu *check_cpu(lua_State *L, int idx)
{
    struct sim_object *o = lua_check_object(L, idx);
    if (strcmp(o->type->name, "CPU") != 0)
        luaL_error(L, "%s is a %s, not a CPU", o->path, o->type->name);
    return SIM_CAST(struct cpu, o);
}

static int l_switch(lua_State *L)
{
    lua_sim_instantiate(L);
    struct cpu *cpu = check_cpu(L, 1);
    const char *engine = luaL_checkstring(L, 2);
    if (cpu_switch_engine(cpu, engine) < 0)
        return luaL_error(L, "cpu.switch: %s", err_get());
    return 0;
}

static int l_engine(lua_State *L)
{
    lua_sim_instantiate(L);
    struct cpu *cpu = check_cpu(L, 1);
    lua_pushstring(L, cpu->engine ? cpu->engine->name : "none");
    return 1;
}

static const luaL_Reg cpu_funcs[] = {{"switch", l_switch}, {"engine", l_engine}, {NULL, NULL}};
static struct lua_extension cpu_lua = {"cpu", cpu_funcs, NULL};
LUA_EXTENSION_REGISTER(cpu_lua);
