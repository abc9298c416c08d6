-- Driven by bench/engine-switch: in-memory engine switches against a
-- checkpoint-file round trip, on a running bare-metal guest.
--   program=PATH.elf  n=SWITCHES  ckpts=ROUND_TRIPS  dir=CHECKPOINT_DIR
local machine = require("machine")
local a = tandem.args
local n = tonumber(a.n or "200")
local ckpts = tonumber(a.ckpts or "5")
local system, cpu0 = machine.pc{engine = "interp", mem_size = "128M", console = "none",
                                capture = true}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = a.program})

-- Host wall-clock seconds (Lua's os.clock is CPU time and misses waits).
local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

sim.run{for_us = 100} -- the guest is up and running
stats.reset()
local engines = {"kvm", "interp"}
local t0 = now()
for i = 1, n do
  cpu.switch(cpu0, engines[(i - 1) % 2 + 1])
  local why = sim.run{for_us = 2}
  if why ~= "tick limit reached" then error("the guest stopped during the bench: " .. why) end
end
local call_us = (now() - t0) / n * 1e6 -- includes the 2 us runs and attach/detach
local switches = stats.get("system.cpu0.engineSwitches")
local transfer_us = stats.get("system.cpu0.engineSwitchTimeAvg") / 1000
local max_us = stats.get("system.cpu0.engineSwitchTimeMax") / 1000

t0 = now()
for _ = 1, ckpts do
  checkpoint.save(a.dir)
  checkpoint.restore(a.dir)
  checkpoint.wait() -- a lazy restore is done when all RAM is in place
  os.execute("rm -rf '" .. a.dir .. "'")
end
local ckpt_us = (now() - t0) / ckpts * 1e6
print(string.format("switches %d: state transfer (out + in) mean %.1f us, max %.1f us", switches,
                    transfer_us, max_us))
print(string.format("cpu.switch + 2 us of guest run, wall: %.1f us per switch (attach/detach "
                    .. "included)", call_us))
print(string.format("checkpoint save + restore (128 MiB guest RAM): %.1f us", ckpt_us))
print(string.format("engine-switch: %.1f us (peer checkpoint-file round trip %.1f us, ratio %.4f)",
                    transfer_us, ckpt_us, transfer_us / ckpt_us))
