/* Lua functions for CPUs (sim/lua.h):
 *   cpu.switch(cpu, "interp")  switches the CPU's engine (state carried in
 *                              memory); cpu is a handle or a path string
 *   cpu.engine(cpu)            the name of the attached engine
 *   cpu.auto(cpu [, policy])   for a CPU on the "auto" engine: changes the
 *                              policy fields given (window, to_kvm_ring0,
 *                              to_interp_ring0, sample_us, kvm_fast_ring0)
 *                              and returns the engine it runs now
 * Between sim.run calls the switch happens at once; the machine is
 * instantiated first if the config has not run yet. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/engine_auto.h"
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

/* policy field `key` from the table at index 2, when present */
static bool opt_uint(lua_State *L, const char *key, lua_Integer max, lua_Integer *out)
{
    int t = lua_getfield(L, 2, key);
    bool present = t != LUA_TNIL;
    if (present) {
        int ok;
        *out = lua_tointegerx(L, -1, &ok);
        if (!ok || *out < 0 || *out > max)
            luaL_error(L, "cpu.auto: %s must be an integer in 0..%d", key, (int)max);
    }
    lua_pop(L, 1);
    return present;
}

static int l_auto(lua_State *L)
{
    lua_sim_instantiate(L);
    struct cpu *cpu = check_cpu(L, 1);
    struct engine_auto_policy *p = engine_auto_policy(cpu);
    if (!p)
        return luaL_error(L, "cpu.auto: %s", err_get());
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = {"window", "to_kvm_ring0", "to_interp_ring0",
                                            "sample_us", "kvm_fast_ring0", NULL};
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            bool ok = false;
            for (int i = 0; known[i]; i++)
                ok |= strcmp(k, known[i]) == 0;
            if (!ok)
                return luaL_error(L, "cpu.auto: unknown policy field '%s' (known: window, "
                                  "to_kvm_ring0, to_interp_ring0, sample_us, kvm_fast_ring0)", k);
            lua_pop(L, 1);
        }
        struct engine_auto_policy np = *p;
        lua_Integer v;
        if (opt_uint(L, "window", ENGINE_AUTO_MAX_WINDOW, &v))
            np.window = (unsigned)v;
        if (opt_uint(L, "to_kvm_ring0", ENGINE_AUTO_MAX_WINDOW, &v))
            np.to_kvm_ring0 = (unsigned)v;
        if (opt_uint(L, "to_interp_ring0", ENGINE_AUTO_MAX_WINDOW, &v))
            np.to_interp_ring0 = (unsigned)v;
        if (opt_uint(L, "sample_us", 1000000000, &v))
            np.sample_ticks = (tick_t)v * TICKS_PER_US;
        if (lua_getfield(L, 2, "kvm_fast_ring0") != LUA_TNIL)
            np.kvm_fast_ring0 = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (engine_auto_policy_check(&np) < 0)
            return luaL_error(L, "cpu.auto: %s", err_get());
        *p = np;
    }
    lua_pushstring(L, engine_auto_current(cpu));
    return 1;
}

static int l_host_kvm_pvm(lua_State *L)
{
    lua_pushboolean(L, cpu_host_kvm_pvm());
    return 1;
}

static const luaL_Reg cpu_funcs[] = {{"switch", l_switch}, {"engine", l_engine}, {"auto", l_auto},
                                     {"host_kvm_pvm", l_host_kvm_pvm}, {NULL, NULL}};
static struct lua_extension cpu_lua = {"cpu", cpu_funcs, NULL};
LUA_EXTENSION_REGISTER(cpu_lua);
