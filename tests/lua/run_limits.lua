-- sim.run's limits beyond simulated time (sim/lua.c), on guest/tests/phases
-- (tests/engine.cmake):
--   for_insts stops after exactly that many more retired instructions on the
--   interpreter, and ends the run with an error on KVM (it counts none);
--   for_host_ms / for_host_s stop after that much host time (only the
--   reason is checked: tests never assert on timings);
--   unknown limits and for_insts = 0 are refused with a message.
-- Arguments: program=ELF engine=interp|kvm
local machine = require("machine")
local a = tandem.args
local system, cpu0 = machine.pc{engine = a.engine, mem_size = "128M"}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = a.program})

local function expect(cond, ...)
  if not cond then error(string.format(...), 2) end
end
local function refused(limits, message)
  local ok, err = pcall(sim.run, limits)
  expect(not ok and tostring(err):find(message, 1, true),
         "sim.run refused nothing or said '%s', want '%s'", tostring(err), message)
end

refused({for_msec = 3}, "unknown limit 'for_msec'")
refused({for_insts = 0}, "'for_insts' must be at least 1")
refused({for_host_ms = -1}, "'for_host_ms' must not be negative")

if a.engine == "interp" then
  local why = sim.run{for_insts = 100000}
  expect(why == "instruction limit reached", "first run ended: %s", why)
  expect(stats.get("system.cpu0.insts") == 100000, "retired %d, want 100000",
         stats.get("system.cpu0.insts"))
  why = sim.run{for_insts = 12345, for_ms = 1000}
  expect(why == "instruction limit reached", "second run ended: %s", why)
  expect(stats.get("system.cpu0.insts") == 112345, "retired %d, want 112345",
         stats.get("system.cpu0.insts"))
else
  local why, code = sim.run{for_insts = 1000}
  expect(why == "exit requested" and code ~= 0,
         "for_insts on KVM ended with '%s', exit code %d; want an error", why, code)
  print("run limits: PASS")
  return
end
local before = sim.now()
local why = sim.run{for_host_ms = 100}
expect(why == "host time limit reached", "host-limited run ended: %s", why)
expect(sim.now() > before, "no simulated time passed in 100 ms of host time")
why = sim.run{for_host_s = 0.05, for_ms = 1000}
expect(why == "host time limit reached" or why == "exit requested", "last run ended: %s", why)
print("run limits: PASS")
