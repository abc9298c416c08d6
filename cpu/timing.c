/* TimingModel: the per-class cost table and the CPI stack; see
 * cpu/timing.h and docs/timing.md. */
#include "cpu/timing.h"

#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "sim/lua.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/stats.h"

const char *const inst_class_names[IC_NCLASSES] = {
    [IC_ALU] = "alu",       [IC_MUL] = "mul",         [IC_DIV] = "div",
    [IC_LOAD] = "load",     [IC_STORE] = "store",     [IC_BRANCH] = "branch",
    [IC_X87] = "x87",       [IC_X87_DIV] = "x87_div", [IC_X87_TRANSC] = "x87_transc",
    [IC_SSE] = "sse",       [IC_SSE_MUL] = "sse_mul", [IC_SSE_DIV] = "sse_div",
    [IC_STRING] = "string", [IC_LOCKED] = "locked",   [IC_FENCE] = "fence",
    [IC_SYSTEM] = "system", [IC_SERIALIZING] = "serializing", [IC_IO] = "io",
    [IC_NOP] = "nop",
};

void timing_attach_counters(struct timing_model *t, const uint64_t *insts, const uint64_t *cycles)
{
    if (t->icache)
        cache_attach_counters(t->icache, insts, cycles);
    if (t->dcache)
        cache_attach_counters(t->dcache, insts, cycles);
    if (t->itlb)
        tlb_model_set_inst_counter(t->itlb, insts);
    if (t->dtlb)
        tlb_model_set_inst_counter(t->dtlb, insts);
    if (t->bpred)
        bpred_set_inst_counter(t->bpred, insts);
}

static double stat_cycles(const struct sim_object *o)
{
    return (double)cpi_stack_total(&((const struct timing_model *)o)->cpi);
}

static double stat_cpi(const struct sim_object *o)
{
    const struct timing_model *t = (const struct timing_model *)o;
    return t->insts ? (double)cpi_stack_total(&t->cpi) / (double)t->insts : 0.0;
}

/* Resolves one optional object reference of the expected type. */
static int resolve(struct sim_object *ref, const char *param, const char *type, void **out)
{
    *out = NULL;
    if (!ref)
        return 0;
    if (strcmp(ref->type->name, type)) {
        err_set("%s must be a %s, got %s (%s)", param, type, ref->path, ref->type->name);
        return -1;
    }
    *out = ref;
    return 0;
}

static int timing_init(struct sim_object *o)
{
    struct timing_model *t = SIM_CAST(struct timing_model, o);
    if (resolve(t->icache_obj, "icache", "Cache", (void **)&t->icache) < 0 ||
        resolve(t->dcache_obj, "dcache", "Cache", (void **)&t->dcache) < 0 ||
        resolve(t->itlb_obj, "itlb", "TLB", (void **)&t->itlb) < 0 ||
        resolve(t->dtlb_obj, "dtlb", "TLB", (void **)&t->dtlb) < 0 ||
        resolve(t->bpred_obj, "bpred", "BranchPredictor", (void **)&t->bpred) < 0 ||
        resolve(t->cg_obj, "cachegrind", "CachegrindCounter", (void **)&t->cg) < 0)
        return -1;
    stats_add_counter(o, "insts", &t->insts, "count", "Instructions charged");
    stats_add_counter(o, "baseCycles", &t->cpi.base, "cycle", "CPI stack: base costs");
    stats_add_counter(o, "icacheCycles", &t->cpi.icache, "cycle",
                      "CPI stack: instruction-fetch stalls");
    stats_add_counter(o, "dcacheCycles", &t->cpi.dcache, "cycle", "CPI stack: data accesses");
    stats_add_counter(o, "tlbCycles", &t->cpi.tlb, "cycle", "CPI stack: TLB and page walks");
    stats_add_counter(o, "branchCycles", &t->cpi.branch, "cycle",
                      "CPI stack: branch mispredicts");
    stats_add_counter(o, "eventCycles", &t->cpi.event, "cycle",
                      "CPI stack: exception and interrupt delivery");
    stats_add_counter(o, "events", &t->events, "count",
                      "Exceptions, interrupts and NMIs delivered (each costs event_cycles)");
    stats_add_formula(o, "cycles", stat_cycles, "cycle", "Sum of the CPI stack");
    stats_add_formula(o, "cpi", stat_cpi, "ratio", "cycles / insts");
    for (int c = 0; c < IC_NCLASSES; c++) {
        char name[48];
        snprintf(name, sizeof(name), "insts_%s", inst_class_names[c]);
        /* The registry keeps the description pointer: a static string. */
        stats_add_counter(o, name, &t->class_insts[c], "count",
                          "Instructions of the class the name ends with");
    }
    return 0;
}

static void timing_serialize(struct sim_object *o, struct ser_node *n)
{
    struct timing_model *t = SIM_CAST(struct timing_model, o);
    SER_PUT(n, t, insts);
    SER_PUT(n, t, cpi.base);
    SER_PUT(n, t, cpi.icache);
    SER_PUT(n, t, cpi.dcache);
    SER_PUT(n, t, cpi.tlb);
    SER_PUT(n, t, cpi.branch);
    SER_PUT(n, t, cpi.event);
    SER_PUT(n, t, events);
    for (int c = 0; c < IC_NCLASSES; c++) {
        char key[48];
        snprintf(key, sizeof(key), "insts_%s", inst_class_names[c]);
        ser_put_u64(n, key, t->class_insts[c]);
    }
}

static int timing_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct timing_model *t = SIM_CAST(struct timing_model, o);
    if (SER_GET(n, t, insts) < 0 || SER_GET(n, t, cpi.base) < 0 ||
        SER_GET(n, t, cpi.icache) < 0 || SER_GET(n, t, cpi.dcache) < 0 ||
        SER_GET(n, t, cpi.tlb) < 0 || SER_GET(n, t, cpi.branch) < 0)
        return -1;
    /* Delivery costs came later: checkpoints without them restore zeros. */
    if (ser_find_prop(n, "cpi.event") &&
        (SER_GET(n, t, cpi.event) < 0 || SER_GET(n, t, events) < 0))
        return -1;
    for (int c = 0; c < IC_NCLASSES; c++) {
        char key[48];
        snprintf(key, sizeof(key), "insts_%s", inst_class_names[c]);
        if (ser_get_u64(n, key, &t->class_insts[c]) < 0)
            return -1;
    }
    return 0;
}

#define COST(cls, fname, def, help)                                                          \
    {fname, PARAM_UINT, offsetof(struct timing_model, cost[cls]), sizeof(uint32_t), def, 0,    \
     1 << 20, NULL, NULL, "cycle", help}
#define REF(fld, fname, type, help)                                                          \
    {fname, PARAM_OBJECT, PARAM_FIELD_(struct timing_model, fld), "", 1, 0, NULL, type, "", help}

/* Defaults: latencies of a recent x86 core (Agner Fog's tables, rounded),
 * charged in full because the model is in-order; see docs/timing.md. */
static const struct param_desc timing_params[] = {
    COST(IC_ALU, "alu_cycles", "1", "Integer ALU, moves, lea, setcc, cmov"),
    COST(IC_MUL, "mul_cycles", "3", "Integer multiply"),
    COST(IC_DIV, "div_cycles", "20", "Integer divide"),
    COST(IC_LOAD, "load_cycles", "1", "Load (plus the data access latency)"),
    COST(IC_STORE, "store_cycles", "1", "Store (plus the data access latency)"),
    COST(IC_BRANCH, "branch_cycles", "1", "Branch (plus the mispredict penalty)"),
    COST(IC_X87, "x87_cycles", "3", "x87 add, multiply, load, store, compare"),
    COST(IC_X87_DIV, "x87_div_cycles", "15", "x87 divide and square root"),
    COST(IC_X87_TRANSC, "x87_transc_cycles", "60", "x87 transcendental functions"),
    COST(IC_SSE, "sse_cycles", "3", "SSE move, logic, add, compare, convert"),
    COST(IC_SSE_MUL, "sse_mul_cycles", "4", "SSE multiply"),
    COST(IC_SSE_DIV, "sse_div_cycles", "13", "SSE divide and square root"),
    COST(IC_STRING, "string_cycles", "1", "One string-instruction iteration (plus its accesses)"),
    COST(IC_LOCKED, "locked_cycles", "18", "Locked read-modify-write"),
    COST(IC_FENCE, "fence_cycles", "30", "Memory fences"),
    COST(IC_SYSTEM, "system_cycles", "50", "System instructions (syscall, int, rdmsr, ...)"),
    COST(IC_SERIALIZING, "serializing_cycles", "100", "Serializing instructions (cpuid, iret, "
                                                       "mov to CR, wrmsr)"),
    COST(IC_IO, "io_cycles", "500", "Port I/O instructions"),
    COST(IC_NOP, "nop_cycles", "1", "nop, pause"),
    {"event_cycles", PARAM_UINT, offsetof(struct timing_model, event_cost), sizeof(uint32_t), "100",
     0, 1 << 20, NULL, NULL, "cycle",
     "Delivering an exception, interrupt or NMI through the IDT (the handler's instructions "
     "are charged as usual)"},
    REF(icache_obj, "icache", "Cache", "L1 instruction cache (none: fetches are free)"),
    REF(dcache_obj, "dcache", "Cache", "L1 data cache (none: data accesses are free)"),
    REF(itlb_obj, "itlb", "TLB", "Instruction TLB"),
    REF(dtlb_obj, "dtlb", "TLB", "Data TLB"),
    REF(bpred_obj, "bpred", "BranchPredictor", "Branch predictor (none: no mispredicts)"),
    REF(cg_obj, "cachegrind", "CachegrindCounter",
        "Also count the marked process like cachegrind (docs/timing.md); none: off"),
    PARAM_END,
};

static struct sim_type timing_type = {
    .name = "TimingModel",
    .help = "Per-instruction-class base costs and the CPI stack of an in-order CPU",
    .size = sizeof(struct timing_model),
    .params = timing_params,
    .ops = {.init = timing_init, .serialize = timing_serialize,
            .unserialize = timing_unserialize},
};
SIM_TYPE_REGISTER(timing_type);

/* cpu.set_timing(cpu, model | nil): attaches a TimingModel to a CPU between
 * sim.run calls (or detaches it): the interpreter charges cycles through it
 * from then on, so a run can boot functionally and time only its region of
 * interest (docs/roi.md). */
static int l_set_timing(lua_State *L)
{
    struct sim_object *o = lua_check_object(L, 1);
    if (strcmp(o->type->name, "CPU") != 0)
        return luaL_error(L, "cpu.set_timing: %s is a %s, not a CPU", o->path, o->type->name);
    struct sim_object *model = lua_isnoneornil(L, 2) ? NULL : lua_check_object(L, 2);
    lua_sim_instantiate(L);
    if (cpu_set_timing(SIM_CAST(struct cpu, o), model) < 0)
        return luaL_error(L, "cpu.set_timing: %s", err_get());
    return 0;
}

static const luaL_Reg timing_cpu_funcs[] = {{"set_timing", l_set_timing}, {NULL, NULL}};
static struct lua_extension timing_lua = {"cpu", timing_cpu_funcs, NULL};
LUA_EXTENSION_REGISTER(timing_lua);
