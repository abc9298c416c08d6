-- Debian's kernel + the busybox initramfs (configs/pc.lua's machine) carried
-- across engines through checkpoint files during the boot
-- (docs/engine-switching.md, tests/switching.cmake, label long):
--   at each tick of `points` (ms of simulated time, comma-separated) the run
--   saves a checkpoint, switches to the other engine, restores the
--   checkpoint from the file and goes on; the interpreter runs the first
--   leg. The boot must then reach /init and finish its command list
--   ("TANDEM: init started" and the guest's exit code 0, within `seconds`).
--   engine=auto instead runs the whole boot on the auto engine.
-- Arguments: kernel=PATH initrd=PATH dir=CHECKPOINT_DIR [points=...]
--            [engine=interp|auto] [seconds=N]
local machine = require("machine")
local a = tandem.args
for _, k in ipairs{"kernel", "initrd", "dir"} do
  if not a[k] then error("linux_switch.lua needs " .. k .. "=...") end
end
local system, cpu0 = machine.pc{engine = a.engine or "interp", mem_size = "512M",
                                console = "none", capture = true}
tandem.new("LinuxLoader", {
  name = "linux", parent = system, kernel = a.kernel, initrd = a.initrd,
  cmdline = "console=ttyS0 nokaslr mitigations=off nopti panic=-1 " ..
            "tsc_early_khz=2000000 mce=off quiet loglevel=4",
})
local console = tandem.find("system.uart0")
local limit = tonumber(a.seconds or "120") * sim.s
local legs = {}

local function run_until(t)
  local why, code = sim.run{until_tick = math.min(t, limit)}
  return why, code
end

for p in string.gmatch(a.points or "", "[^,]+") do
  local at = tonumber(p) * sim.ms
  local why = run_until(at)
  if why ~= "tick limit reached" then
    error(string.format("the run ended (%s) before the switch point at %s ms", why, p))
  end
  local from = cpu.engine(cpu0)
  local to = from == "kvm" and "interp" or "kvm"
  checkpoint.save(a.dir)
  cpu.switch(cpu0, to)
  checkpoint.restore(a.dir)
  os.execute("rm -rf '" .. a.dir .. "'")
  legs[#legs + 1] = string.format("%s ms: %s -> checkpoint -> %s (console %d bytes)", p, from, to,
                                  #uart.output(console))
end
local why, code = run_until(limit)
local out = uart.output(console)
for _, l in ipairs(legs) do print(l) end
if cpu.engine(cpu0) == "auto" then
  for _, s in ipairs{"autoSwitchesToKvm", "autoSwitchesToInterp", "autoTicksInterp",
                     "autoTicksKvm", "autoHostTimeInterp", "autoHostTimeKvm"} do
    print(string.format("%s %d", s, stats.get("system.cpu0." .. s)))
  end
end
print(string.format("ended at %.3f s simulated: %s, exit code %d", sim.now() / sim.s, why, code))
print(out:sub(-600))
if not out:find("TANDEM: init started", 1, true) then
  error("the boot never reached /init")
end
if not out:find("TANDEM: commands done, failures 0", 1, true) or code ~= 0 then
  error(string.format("the guest did not finish its commands (%s, exit code %d)", why, code))
end
print("linux switching: PASS")
