#include "sim/lua.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/log.h"
#include "sim/sim.h"

static struct lua_extension *extensions;
static const char sim_key = 's';
#define OBJECT_MT "tandem.object"

void lua_extension_register(struct lua_extension *e)
{
    e->next = extensions;
    extensions = e;
}

struct simulation *lua_sim(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sim_key);
    struct simulation *sim = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return sim;
}

void lua_sim_instantiate(lua_State *L)
{
    struct simulation *sim = lua_sim(L);
    if (!sim->instantiated && sim_instantiate(sim) < 0)
        luaL_error(L, "%s", err_get());
}

void lua_push_object(lua_State *L, struct sim_object *o)
{
    struct sim_object **ud = lua_newuserdatauv(L, sizeof(*ud), 0);
    *ud = o;
    luaL_setmetatable(L, OBJECT_MT);
}

struct sim_object *lua_check_object(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        struct sim_object *o = sim_find(lua_sim(L), lua_tostring(L, idx));
        if (!o)
            luaL_error(L, "no object at path '%s'", lua_tostring(L, idx));
        return o;
    }
    return *(struct sim_object **)luaL_checkudata(L, idx, OBJECT_MT);
}

/* Sets one parameter from the Lua value at idx, raising a Lua error. */
static void set_param(lua_State *L, struct sim_object *o, const char *name, int idx)
{
    const struct param_desc *p = sim_type_param(o->type, name);
    if (!p)
        luaL_error(L, "%s: type %s has no parameter '%s' (see 'tandem list-types %s')", o->path,
                   o->type->name, name, o->type->name);
    if (o->sim->instantiated)
        luaL_error(L, "%s: parameters cannot change after the simulation started", o->path);
    int rc;
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        rc = lua_isinteger(L, idx) ? param_set_int(o, p, lua_tointeger(L, idx))
                                   : param_set_double(o, p, lua_tonumber(L, idx));
        break;
    case LUA_TBOOLEAN:
        rc = p->type == PARAM_BOOL ? param_set_int(o, p, lua_toboolean(L, idx))
                                   : (err_set("parameter '%s' is not a boolean", name), -1);
        break;
    case LUA_TSTRING:
        rc = param_set_text(o, p, lua_tostring(L, idx));
        break;
    case LUA_TUSERDATA:
        rc = param_set_object(o, p, lua_check_object(L, idx));
        break;
    default:
        rc = (err_set("parameter '%s' cannot be a %s", name, luaL_typename(L, idx)), -1);
        break;
    }
    if (rc < 0)
        luaL_error(L, "%s: %s", o->path, err_get());
}

/* tandem.new(type, {name=..., parent=obj_or_path, param=value, ...}) */
static int l_new(lua_State *L)
{
    struct simulation *sim = lua_sim(L);
    const char *type = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "name");
    const char *name = lua_tostring(L, -1);
    if (!name)
        return luaL_error(L, "tandem.new('%s', ...): the table needs a 'name'", type);
    char *path;
    lua_getfield(L, 2, "parent");
    if (lua_isnil(L, -1)) {
        path = strdup(name);
    } else {
        struct sim_object *parent = lua_check_object(L, -1);
        if (asprintf(&path, "%s.%s", parent->path, name) < 0)
            return luaL_error(L, "out of memory");
    }
    lua_pop(L, 2);
    struct sim_object *o = sim_create(sim, type, path);
    free(path);
    if (!o)
        return luaL_error(L, "%s", err_get());
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "%s: parameter names must be strings", o->path);
        const char *key = lua_tostring(L, -2);
        if (strcmp(key, "name") && strcmp(key, "parent"))
            set_param(L, o, key, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_push_object(L, o);
    return 1;
}

static int l_obj_index(lua_State *L)
{
    struct sim_object *o = lua_check_object(L, 1);
    const char *key = luaL_checkstring(L, 2);
    if (!strcmp(key, "path")) {
        lua_pushstring(L, o->path);
        return 1;
    }
    if (!strcmp(key, "type")) {
        lua_pushstring(L, o->type->name);
        return 1;
    }
    const struct param_desc *p = sim_type_param(o->type, key);
    if (!p)
        return luaL_error(L, "%s: type %s has no parameter or field '%s'", o->path, o->type->name, key);
    char buf[4096];
    param_format(o, p, buf, sizeof(buf));
    if (p->type == PARAM_UINT || p->type == PARAM_INT)
        lua_pushinteger(L, (lua_Integer)strtoll(buf, NULL, 10));
    else if (p->type == PARAM_DOUBLE)
        lua_pushnumber(L, strtod(buf, NULL));
    else if (p->type == PARAM_BOOL)
        lua_pushboolean(L, buf[0] == 't');
    else
        lua_pushstring(L, buf);
    return 1;
}

static int l_obj_newindex(lua_State *L)
{
    struct sim_object *o = lua_check_object(L, 1);
    set_param(L, o, luaL_checkstring(L, 2), 3);
    return 0;
}

static int l_obj_tostring(lua_State *L)
{
    struct sim_object *o = lua_check_object(L, 1);
    lua_pushfstring(L, "%s (%s)", o->path, o->type->name);
    return 1;
}

static int l_find(lua_State *L)
{
    struct sim_object *o = sim_find(lua_sim(L), luaL_checkstring(L, 1));
    if (o)
        lua_push_object(L, o);
    else
        lua_pushnil(L);
    return 1;
}

static int l_instantiate(lua_State *L)
{
    lua_sim_instantiate(L);
    return 0;
}

/* A non-negative number field of table t, or -1 when absent. */
static double field_number(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    if (!lua_isnumber(L, -1))
        luaL_error(L, "sim.run: '%s' must be a number", key);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (v < 0)
        luaL_error(L, "sim.run: '%s' must not be negative", key);
    return v;
}

/* A time field in ticks (the number times scale), or cur when absent. */
static tick_t field_ticks(lua_State *L, int t, const char *key, tick_t scale, tick_t cur)
{
    double v = field_number(L, t, key);
    return v < 0 ? cur : (tick_t)(v * (double)scale);
}

/* sim.run{until_tick=, until_ns=, until_us=, until_ms=, until_s=, for_ns=...,
 * for_insts=, for_host_ms=, for_host_s=} returns (reason, exit_code).
 * Simulated-time limits until_* are absolute, for_* relative; for_insts
 * stops after that many more retired instructions (the interpreter counts
 * them; KVM cannot), for_host_* after that much host (wall-clock) time.
 * The first limit reached ends the run. */
static int l_run(lua_State *L)
{
    struct simulation *sim = lua_sim(L);
    l_instantiate(L);
    tick_t until = TICK_MAX;
    double host_limit = 0;
    uint64_t insts_target = 0;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        static const struct { const char *key; tick_t scale; } units[] = {
            {"tick", 1}, {"ns", TICKS_PER_NS}, {"us", TICKS_PER_US}, {"ms", TICKS_PER_MS}, {"s", TICKS_PER_S}};
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            bool known = !strcmp(k, "for_insts") || !strcmp(k, "for_host_ms") ||
                         !strcmp(k, "for_host_s");
            for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                known |= (!strncmp(k, "until_", 6) && !strcmp(k + 6, units[i].key)) ||
                         (!strncmp(k, "for_", 4) && !strcmp(k + 4, units[i].key));
            if (!known)
                return luaL_error(L, "sim.run: unknown limit '%s' (until_/for_ tick, ns, us, ms, "
                                  "s; for_insts; for_host_ms, for_host_s)", k);
            lua_pop(L, 1);
        }
        double v = field_number(L, 1, "for_insts");
        if (v == 0)
            return luaL_error(L, "sim.run: 'for_insts' must be at least 1");
        if (v > 0)
            insts_target = sim_total_insts(sim) + (uint64_t)v;
        double ms = field_number(L, 1, "for_host_ms"), s = field_number(L, 1, "for_host_s");
        if (ms >= 0)
            host_limit = ms / 1e3;
        if (s >= 0 && (host_limit == 0 || s < host_limit))
            host_limit = s;
        if (host_limit == 0 && (ms == 0 || s == 0))
            host_limit = 1e-6;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            char key[16];
            snprintf(key, sizeof(key), "until_%s", units[i].key);
            until = field_ticks(L, 1, key, units[i].scale, until);
            snprintf(key, sizeof(key), "for_%s", units[i].key);
            tick_t rel = field_ticks(L, 1, key, units[i].scale, TICK_MAX);
            if (rel != TICK_MAX)
                until = sim_now(sim) + rel;
        }
    }
    sim->run_host_limit = host_limit;
    sim->run_insts_target = insts_target;
    const char *why = sim_run(sim, until);
    sim->config_ran = true;
    lua_pushstring(L, why);
    lua_pushinteger(L, sim->exit_code);
    return 2;
}

static int l_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sim_now(lua_sim(L)));
    return 1;
}

/* Host (wall-clock) seconds since the simulation was created: what stats
 * dumps print as hostSeconds. */
static int l_host_seconds(lua_State *L)
{
    lua_pushnumber(L, host_seconds() - lua_sim(L)->host_start);
    return 1;
}

static int l_exit(lua_State *L)
{
    sim_exit(lua_sim(L), (int)luaL_optinteger(L, 1, 0), luaL_optstring(L, 2, "exit from config"));
    return 0;
}

static int l_stats_dump(lua_State *L)
{
    if (stats_dump(lua_sim(L), luaL_optstring(L, 1, "dump")) < 0)
        return luaL_error(L, "%s", err_get());
    return 0;
}

static int l_stats_reset(lua_State *L)
{
    stats_reset(lua_sim(L));
    return 0;
}

static int l_stats_periodic(lua_State *L)
{
    lua_Integer t = luaL_checkinteger(L, 1);
    if (t < 0)
        return luaL_error(L, "stats.periodic: interval must not be negative");
    stats_set_periodic(lua_sim(L), (uint64_t)t);
    return 0;
}

static int l_stats_get(lua_State *L)
{
    stats_flush_all(lua_sim(L));
    const struct stat_entry *e = stats_find(lua_sim(L), luaL_checkstring(L, 1));
    if (!e)
        return luaL_error(L, "no stat named '%s'", lua_tostring(L, 1));
    lua_pushnumber(L, stat_value(e));
    return 1;
}

static void set_funcs(lua_State *L, const char *table, const luaL_Reg *funcs)
{
    if (lua_getglobal(L, table) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    luaL_setfuncs(L, funcs, 0);
    lua_setglobal(L, table);
}

static int msg_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

int lua_run_config(struct simulation *sim, const char *path, int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushlightuserdata(L, sim);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sim_key);

    luaL_newmetatable(L, OBJECT_MT);
    static const luaL_Reg obj_mt[] = {{"__index", l_obj_index}, {"__newindex", l_obj_newindex},
                                      {"__tostring", l_obj_tostring}, {NULL, NULL}};
    luaL_setfuncs(L, obj_mt, 0);
    lua_pop(L, 1);

    static const luaL_Reg tandem_funcs[] = {{"new", l_new}, {"find", l_find}, {NULL, NULL}};
    static const luaL_Reg sim_funcs[] = {{"run", l_run}, {"instantiate", l_instantiate},
                                         {"now", l_now}, {"exit", l_exit},
                                         {"host_seconds", l_host_seconds}, {NULL, NULL}};
    static const luaL_Reg stats_funcs[] = {{"dump", l_stats_dump}, {"reset", l_stats_reset},
                                           {"periodic", l_stats_periodic}, {"get", l_stats_get},
                                           {NULL, NULL}};
    set_funcs(L, "tandem", tandem_funcs);
    set_funcs(L, "sim", sim_funcs);
    set_funcs(L, "stats", stats_funcs);
    for (struct lua_extension *e = extensions; e; e = e->next)
        set_funcs(L, e->table, e->funcs);

    lua_getglobal(L, "tandem");
    lua_pushstring(L, sim->outdir ? sim->outdir : "");
    lua_setfield(L, -2, "outdir");
    lua_pushstring(L, TANDEM_SOURCE_DIR);
    lua_setfield(L, -2, "source_dir");
    lua_pushstring(L, TANDEM_VERSION);
    lua_setfield(L, -2, "version");
    lua_newtable(L);
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (eq) {
            lua_pushlstring(L, argv[i], (size_t)(eq - argv[i]));
            lua_pushstring(L, eq + 1);
            lua_settable(L, -3);
        }
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "args");
    lua_pop(L, 1);
    lua_getglobal(L, "sim");
    static const struct { const char *name; tick_t v; } units[] = {
        {"ns", TICKS_PER_NS}, {"us", TICKS_PER_US}, {"ms", TICKS_PER_MS}, {"s", TICKS_PER_S}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        lua_pushinteger(L, (lua_Integer)units[i].v);
        lua_setfield(L, -2, units[i].name);
    }
    lua_pop(L, 1);

    /* require() finds modules next to the config and in configs/. */
    char *dir = strdup(path), *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/configs/?.lua;", slash ? dir : ".", TANDEM_SOURCE_DIR);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    free(dir);

    lua_pushcfunction(L, msg_handler);
    int rc = luaL_loadfile(L, path);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, -2);
    if (rc != LUA_OK) {
        log_error("%s", lua_tostring(L, -1));
        lua_close(L);
        return -1;
    }
    lua_close(L);
    return 0;
}
