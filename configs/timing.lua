-- The interpreter's cycle-accounting hierarchy (docs/timing.md): L1I and
-- L1D (32 KiB, 8-way) over a unified L2 (256 KiB, 8-way), an optional L3,
-- DRAM, instruction and data TLBs and a gshare branch predictor, tied
-- together by a TimingModel that a CPU takes as its `timing` parameter:
--   local timing = require("timing")
--   local t = timing.model(system, {l1d = "64K", l3 = "8M"})
--   tandem.new("CPU", {..., engine = "interp", timing = t})
-- machine.pc{timing = true | {options}} does this for the standard PC.
--
-- cachegrind counting mode (docs/timing.md): opts.cachegrind = {I1 = ...,
-- D1 = ..., LL = ...} (geometries as valgrind's --I1/--D1/--LL take them,
-- "SIZE,ASSOC,LINE_SIZE" in bytes) adds a CachegrindCounter over
-- cachegrind-mode caches cg_i1, cg_d1 and cg_ll; opts.bare leaves out the
-- timed hierarchy (no caches, TLBs or predictor charge cycles).
local M = {}

-- The oracle test's geometry (tests/cachegrind/).
M.cachegrind_defaults = {I1 = "32768,8,64", D1 = "32768,8,64", LL = "262144,8,64"}

local function cg_cache(parent, name, what, spec, next_level)
  local size, assoc, line = tostring(spec):match("^(%d+),(%d+),(%d+)$")
  if not size then
    error(string.format("cachegrind %s geometry: expected SIZE,ASSOC,LINE_SIZE in bytes " ..
                        "(as valgrind's --%s=), got '%s'", what, what, tostring(spec)), 0)
  end
  return tandem.new("Cache", {name = name, parent = parent, size = size, assoc = tonumber(assoc),
                              line_size = tonumber(line), cachegrind = true,
                              next_level = next_level})
end

-- The CachegrindCounter with its I1, D1 and shared LL.
function M.cachegrind(parent, geometry)
  local g = {}
  for k, v in pairs(M.cachegrind_defaults) do g[k] = geometry[k] or v end
  local ll = cg_cache(parent, "cg_ll", "LL", g.LL)
  return tandem.new("CachegrindCounter", {
    name = "cachegrind", parent = parent,
    icache = cg_cache(parent, "cg_i1", "I1", g.I1, ll),
    dcache = cg_cache(parent, "cg_d1", "D1", g.D1, ll)})
end

-- opts: l1i, l1d, l2, l3 (sizes like "32K"; l3 absent = none), assoc
-- (L1/L2 ways), dram_latency_ns, bpred ("gshare" | "bimodal").
function M.model(parent, opts)
  opts = opts or {}
  local cg = nil
  if opts.cachegrind then cg = M.cachegrind(parent, opts.cachegrind) end
  if opts.bare then
    return tandem.new("TimingModel", {name = "timing", parent = parent, cachegrind = cg})
  end
  local below = tandem.new("DRAM", {name = "dram", parent = parent,
                                    latency_ns = opts.dram_latency_ns or 60,
                                    bandwidth_gbps = 12.8})
  if opts.l3 then
    below = tandem.new("Cache", {name = "l3", parent = parent, size = opts.l3, assoc = 16,
                                 hit_latency = 40, next_level = below})
  end
  local ways = opts.assoc or 8
  local l2 = tandem.new("Cache", {name = "l2", parent = parent, size = opts.l2 or "256K",
                                  assoc = ways, hit_latency = 12, next_level = below})
  local l1i = tandem.new("Cache", {name = "l1i", parent = parent, size = opts.l1i or "32K",
                                   assoc = ways, hit_latency = 2, next_level = l2})
  local l1d = tandem.new("Cache", {name = "l1d", parent = parent, size = opts.l1d or "32K",
                                   assoc = ways, hit_latency = 4, next_level = l2})
  local itlb = tandem.new("TLB", {name = "itlb", parent = parent, entries = 64, assoc = 8,
                                  walk_latency = 30})
  local dtlb = tandem.new("TLB", {name = "dtlb", parent = parent, entries = 64, assoc = 4,
                                  walk_latency = 30})
  local bp = tandem.new("BranchPredictor", {name = "bpred", parent = parent,
                                            kind = opts.bpred or "gshare"})
  return tandem.new("TimingModel", {name = "timing", parent = parent, icache = l1i, dcache = l1d,
                                    itlb = itlb, dtlb = dtlb, bpred = bp, cachegrind = cg})
end

-- The options a run script's KEY=VALUE arguments ask for (timing=1 turns
-- the model on; l1d=, l1i=, l2=, l3= size it; cachegrind=1 adds the
-- cachegrind counter, I1=, D1=, LL= its geometry, and alone gives a bare
-- model), or nil for functional mode.
function M.from_args(arg)
  local on, cg = arg("timing"), arg("cachegrind")
  on = on and on ~= "0"
  cg = cg and cg ~= "0" and {I1 = arg("I1"), D1 = arg("D1"), LL = arg("LL")} or nil
  if not on and not cg then return nil end
  return {l1i = arg("l1i"), l1d = arg("l1d"), l2 = arg("l2"), l3 = arg("l3"), cachegrind = cg,
          bare = not on}
end

return M
