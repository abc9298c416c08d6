-- Engine-switching round trips of a bare-metal program (tests/switching.cmake,
-- docs/engine-switching.md). Every run ends by printing its console output
-- and a hash of guest RAM between marker lines, for tests/switching/compare.sh:
--   ==console==  <console bytes written in this process>  ==end==
--   memory <16 hex digits>   (only when the guest finished)
-- Arguments (KEY=VALUE after --):
--   program=PATH.elf  engine=interp|kvm|auto
--   mode=plain        run to the end
--   mode=every        switch interp<->kvm every every_us of simulated time
--   mode=save         run to at_us (simulated), save checkpoint `dir`, stop
--   mode=restore      restore `dir`; with save=DIR2 and at_us: run to at_us
--                     and save DIR2 (a middle leg), else run to the end
--   mode=auto         engine auto, policy from window, sample_us,
--                     to_kvm_ring0, to_interp_ring0; prints the stats
local machine = require("machine")
local a = tandem.args
local function need(k)
  if not a[k] then error("switching.lua needs " .. k .. "=...") end
  return a[k]
end
local mode = need("mode")
local engine = a.engine or "interp"
local system, cpu0 = machine.pc{engine = engine, mem_size = "128M", console = "none",
                                capture = true}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = need("program")})
local console = tandem.find("system.uart0")
local limit = 20 * sim.s
local code = 0
local finished = true

local function run_to(t)
  local why, c = sim.run{until_tick = t}
  code = c
  return why
end

if mode == "plain" then
  run_to(limit)
elseif mode == "every" then
  local every = tonumber(need("every_us")) * sim.us
  local engines = {"interp", "kvm"}
  local n = 0
  while run_to(math.min(sim.now() + every, limit)) == "tick limit reached" and sim.now() < limit do
    n = n + 1
    cpu.switch(cpu0, engines[(n + (engine == "kvm" and 1 or 0)) % 2 + 1])
  end
  print(string.format("switches %d", n))
elseif mode == "save" then
  if run_to(tonumber(need("at_us")) * sim.us) ~= "tick limit reached" then
    error("the guest finished before at_us: pick an earlier point")
  end
  checkpoint.save(need("dir"))
  finished = false
elseif mode == "restore" then
  sim.instantiate()
  checkpoint.restore(need("dir"))
  if a.save then
    if run_to(tonumber(need("at_us")) * sim.us) ~= "tick limit reached" then
      error("the guest finished before at_us: pick an earlier point")
    end
    checkpoint.save(a.save)
    finished = false
  else
    run_to(limit)
  end
elseif mode == "auto" then
  sim.instantiate()
  local policy = {}
  for _, k in ipairs{"window", "sample_us", "to_kvm_ring0", "to_interp_ring0"} do
    if a[k] then policy[k] = tonumber(a[k]) end
  end
  print("auto starts on " .. cpu.auto(cpu0, policy))
  run_to(limit)
  for _, s in ipairs{"autoSwitchesToKvm", "autoSwitchesToInterp", "autoTicksInterp",
                     "autoTicksKvm", "autoHostTimeInterp", "autoHostTimeKvm"} do
    print(string.format("%s %d", s, stats.get("system.cpu0." .. s)))
  end
else
  error("unknown mode '" .. mode .. "' (plain, every, save, restore, auto)")
end

io.write("==console==\n", uart.output(console), "==end==\n")
if finished then
  print("memory " .. memory.hash())
end
print(string.format("switch time avg %.0f ns, max %d ns over %d switches",
                    stats.get("system.cpu0.engineSwitchTimeAvg"),
                    stats.get("system.cpu0.engineSwitchTimeMax"),
                    stats.get("system.cpu0.engineSwitches")))
sim.exit(code)
