-- Runs one bare-metal test program (tandem ELF boot protocol, docs/boot.md):
--   tandem run configs/baremetal.lua -- program=build/guest/hello.elf [engine=kvm|interp]
-- Cycle accounting (interp): timing=1 [l1d=64K l1i= l2= l3=] (configs/timing.lua).
-- roi=1 [checkpoint=DIR l1d= ...]: the main job's flow for a program with
-- ROI markers (configs/roi_run.lua, docs/roi.md).
-- Engine switching: switch_every_ns=N alternates the CPU between `engine`
-- and switch_to (default: the other engine) every N ns of simulated time
-- (with the interpreter, N ns is 2N instructions at the default 2 GHz).
local machine = require("machine")
local program = machine.arg("program")
if not program then error("baremetal.lua needs program=PATH.elf") end
local engine = machine.arg("engine", "kvm")
local system, cpu0 = machine.pc{engine = engine, mem_size = machine.arg("mem", "128M"),
                                timing = require("timing").from_args(machine.arg)}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = program})
local seconds = tonumber(machine.arg("seconds", "10"))
if machine.arg("roi") == "1" then
  require("roi_run").run(seconds, {script = "configs/baremetal.lua",
                                  args = "program=" .. program .. " engine=interp roi=1 "})
  return
end
local every = tonumber(machine.arg("switch_every_ns", "0"))
if every <= 0 then
  sim.run{until_s = seconds}
  return
end
local engines = {engine, machine.arg("switch_to", engine == "kvm" and "interp" or "kvm")}
local limit = seconds * sim.s
local n = 0
while sim.now() < limit do
  local why = sim.run{until_tick = math.min(sim.now() + every * sim.ns, limit)}
  if why ~= "tick limit reached" then break end
  n = n + 1
  cpu.switch(cpu0, engines[n % 2 + 1])
end
