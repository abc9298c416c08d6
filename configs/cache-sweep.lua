-- Cache-size sweep: the same access stream replayed through several
-- L1/L2 configurations side by side, then a table of miss rates and MPKI.
--   tandem run configs/cache-sweep.lua -- [trace=LACKEY.log] [insts=N]
--        [l1=16k,32k,64k] [l2=256k,1M]
-- With trace= the stream is a valgrind lackey --trace-mem=yes log;
-- without it, the synthetic generator (insts instructions). The driver is
-- the part to swap: a TraceDriver today, the interpreter's CPU with a
-- TimingModel for real guest workloads later (docs/timing.md).
local args = tandem.args

local function list(text, default)
  local out = {}
  for item in (text or default):gmatch("[^,]+") do out[#out + 1] = item end
  return out
end

local l1_sizes = list(args.l1, "16k,32k,64k")
local l2_sizes = list(args.l2, "256k,1M")

-- One hierarchy: split L1 (8-way, 4 cycles), unified L2 (16-way, 12
-- cycles), DRAM, and a 64-entry data TLB.
local function hierarchy(prefix, l1, l2)
  local mem = tandem.new("DRAM", {name = prefix .. "_mem", latency_ns = 60, bandwidth_gbps = 12.8})
  local l2c = tandem.new("Cache", {name = prefix .. "_l2", size = l2, assoc = 16,
                                   hit_latency = 12, next_level = mem})
  local l1i = tandem.new("Cache", {name = prefix .. "_l1i", size = l1, assoc = 8,
                                   hit_latency = 2, next_level = l2c})
  local l1d = tandem.new("Cache", {name = prefix .. "_l1d", size = l1, assoc = 8,
                                   hit_latency = 4, next_level = l2c})
  local dtlb = tandem.new("TLB", {name = prefix .. "_dtlb", entries = 64, assoc = 4,
                                  walk_latency = 30})
  local driver = {name = prefix .. "_drv", icache = l1i, dcache = l1d, dtlb = dtlb}
  if args.trace then
    driver.source = "lackey"
    driver.file = args.trace
  else
    driver.source = "synthetic"
    driver.synthetic_insts = tonumber(args.insts or "2000000")
    driver.data_footprint = args.footprint or "1M"
  end
  tandem.new("TraceDriver", driver)
end

local configs = {}
for _, l2 in ipairs(l2_sizes) do
  for _, l1 in ipairs(l1_sizes) do
    local prefix = "c" .. (#configs + 1)
    hierarchy(prefix, l1, l2)
    configs[#configs + 1] = {prefix = prefix, l1 = l1, l2 = l2}
  end
end

sim.run()

local function stat(name) return stats.get(name) end
print(string.format("%-6s %-6s %10s %9s %10s %9s %9s %9s %8s %6s", "L1", "L2", "L1I mpki",
                    "L1D miss", "L1D mpki", "L2 miss", "L2 mpki", "DTLB mpki", "DRAM MB", "IPC"))
for _, c in ipairs(configs) do
  local p = c.prefix
  print(string.format("%-6s %-6s %10.3f %8.2f%% %10.3f %8.2f%% %9.3f %9.3f %8.2f %6.3f", c.l1,
                      c.l2, stat(p .. "_l1i.mpki"), 100 * stat(p .. "_l1d.missRate"),
                      stat(p .. "_l1d.mpki"), 100 * stat(p .. "_l2.missRate"),
                      stat(p .. "_l2.mpki"), stat(p .. "_dtlb.mpki"),
                      (stat(p .. "_mem.bytesRead") + stat(p .. "_mem.bytesWritten")) / 1e6,
                      stat(p .. "_drv.ipc")))
end
