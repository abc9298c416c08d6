-- The cachegrind oracle: replays a lackey trace of a program through
-- tandem's caches in cachegrind mode (same geometry as cachegrind was given)
-- and requires the miss counts cachegrind reported for the same program.
--   tandem run tests/cachegrind/oracle.lua -- trace=LACKEY.log cgout=cachegrind.out
local args = tandem.args
assert(args.trace and args.cgout, "usage: -- trace=LACKEY.log cgout=cachegrind.out.PID")

local ll = tandem.new("Cache", {name = "ll", size = "256k", assoc = 8, line_size = 64,
                                 cachegrind = true})
local i1 = tandem.new("Cache", {name = "i1", size = "32k", assoc = 8, line_size = 64,
                                 cachegrind = true, next_level = ll})
local d1 = tandem.new("Cache", {name = "d1", size = "32k", assoc = 8, line_size = 64,
                                 cachegrind = true, next_level = ll})
tandem.new("TraceDriver", {name = "driver", source = "lackey", file = args.trace,
                           icache = i1, dcache = d1})
sim.run()

-- cachegrind.out: "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw" and a
-- "summary:" line with the totals in that order.
local f = assert(io.open(args.cgout, "r"))
local names, totals = {}, {}
for line in f:lines() do
  local ev = line:match("^events:%s*(.-)%s*$")
  if ev then for n in ev:gmatch("%S+") do names[#names + 1] = n end end
  local sm = line:match("^summary:%s*(.-)%s*$")
  if sm then
    local i = 1
    for v in sm:gmatch("%S+") do totals[names[i]] = tonumber(v); i = i + 1 end
  end
end
f:close()
assert(totals.Ir and totals.D1mw, args.cgout .. ": no events/summary lines")

local function s(name) return math.tointeger(stats.get(name)) end
local rows = {
  {"I refs", totals.Ir, s("i1.readAccesses")},
  {"I1 misses", totals.I1mr, s("i1.readMisses")},
  {"D1 read refs", totals.Dr, s("d1.readAccesses")},
  {"D1 write refs", totals.Dw, s("d1.writeAccesses")},
  {"D1 read misses", totals.D1mr, s("d1.readMisses")},
  {"D1 write misses", totals.D1mw, s("d1.writeMisses")},
  {"LL read misses", totals.ILmr + totals.DLmr, s("ll.readMisses")},
  {"LL write misses", totals.DLmw, s("ll.writeMisses")},
}
local bad = 0
print(string.format("%-16s %12s %12s", "", "cachegrind", "tandem"))
for _, r in ipairs(rows) do
  local mark = r[2] == r[3] and "" or "   MISMATCH"
  if r[2] ~= r[3] then bad = bad + 1 end
  print(string.format("%-16s %12d %12d%s", r[1], r[2], r[3], mark))
end
if bad > 0 then
  sim.exit(1, bad .. " counts differ from cachegrind")
else
  print("all counts equal")
end
