-- The interpreter's cycle-accounting hierarchy (docs/timing.md): L1I and
-- L1D (32 KiB, 8-way) over a unified L2 (256 KiB, 8-way), an optional L3,
-- DRAM, instruction and data TLBs and a gshare branch predictor, tied
-- together by a TimingModel that a CPU takes as its `timing` parameter:
--   local timing = require("timing")
--   local t = timing.model(system, {l1d = "64K", l3 = "8M"})
--   tandem.new("CPU", {..., engine = "interp", timing = t})
-- machine.pc{timing = true | {options}} does this for the standard PC.
local M = {}

-- opts: l1i, l1d, l2, l3 (sizes like "32K"; l3 absent = none), assoc
-- (L1/L2 ways), dram_latency_ns, bpred ("gshare" | "bimodal").
function M.model(parent, opts)
  opts = opts or {}
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
                                    itlb = itlb, dtlb = dtlb, bpred = bp})
end

-- The options a run script's KEY=VALUE arguments ask for (timing=1 turns
-- the model on; l1d=, l1i=, l2=, l3= size it), or nil for functional mode.
function M.from_args(arg)
  local on = arg("timing")
  if not on or on == "0" then return nil end
  return {l1i = arg("l1i"), l1d = arg("l1d"), l2 = arg("l2"), l3 = arg("l3")}
end

return M
