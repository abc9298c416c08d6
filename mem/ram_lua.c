/* Lua functions on guest memory (sim/lua.h):
 *   memory.hash([system])  a 64-bit hash (16 hex digits) of all guest RAM of
 *                          the System object (handle or path, default
 *                          "system"), to compare the memory left by two runs
 *                          (tests/switching.cmake).
 * The hash is FNV-1a over 64-bit little-endian words, region by region in
 * address order, each region's base and size mixed in first: two runs with
 * the same RAM contents and layout give the same value. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mem/system.h"
#include "sim/lua.h"
#include "sim/object.h"
#include "sim/sim.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static uint64_t mix(uint64_t h, uint64_t word)
{
    return (h ^ word) * FNV64_PRIME;
}

static int l_hash(lua_State *L)
{
    lua_sim_instantiate(L);
    struct sim_object *o = lua_isnoneornil(L, 1) ? sim_find(lua_sim(L), "system")
                                                 : lua_check_object(L, 1);
    if (!o)
        return luaL_error(L, "memory.hash: there is no object 'system'");
    if (strcmp(o->type->name, "System") != 0)
        return luaL_error(L, "memory.hash: %s is a %s, not a System", o->path, o->type->name);
    const struct system *sys = SIM_CAST(struct system, o);
    uint64_t h = FNV64_OFFSET;
    for (unsigned r = 0; r < sys->nram; r++) {
        const struct ram_region *reg = &sys->ram[r];
        h = mix(mix(h, reg->gpa), reg->size);
        uint64_t words = reg->size / 8;
        for (uint64_t i = 0; i < words; i++) {
            uint64_t w;
            memcpy(&w, reg->host + i * 8, 8);
            h = mix(h, w);
        }
        for (uint64_t i = words * 8; i < reg->size; i++)
            h = mix(h, reg->host[i]);
    }
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, h);
    lua_pushstring(L, hex);
    return 1;
}

static const luaL_Reg memory_funcs[] = {{"hash", l_hash}, {NULL, NULL}};
static struct lua_extension memory_lua = {"memory", memory_funcs, NULL};
LUA_EXTENSION_REGISTER(memory_lua);
