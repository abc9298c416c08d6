-- Debian's kernel + the busybox initramfs (configs/pc.lua's machine) carried
-- across engines through checkpoint files during the boot
-- (docs/engine-switching.md, tests/switching.cmake, label long):
--   at each tick of `points` (ms of simulated time, comma-separated) the run
--   saves a checkpoint, switches to the other engine, restores the
--   checkpoint from the file and goes on; the interpreter runs the first
--   leg. The boot must then reach /init and finish its command list
--   ("TANDEM: init started" and the guest's exit code 0, within `seconds`).
--   engine=auto instead runs the whole boot on the auto engine.
--   every=N,FROM,TO switches in memory (cpu.switch) between the engines
--   every N ms of simulated time from FROM to TO ms, after the points.
-- The console must show /init's lines in order (the same on every engine:
-- each command's echo, `uname`'s kernel line, the awk checksum, the
-- summary); kernel messages are not compared (KVM legs follow host time).
-- Arguments: kernel=PATH initrd=PATH dir=CHECKPOINT_DIR [points=...]
--            [every=N,FROM,TO] [engine=interp|auto] [seconds=N]
local machine = require("machine")
local a = tandem.args
for _, k in ipairs{"kernel", "initrd", "dir"} do
  if not a[k] then error("linux_switch.lua needs " .. k .. "=...") end
end
local system, cpu0 = machine.pc{engine = a.engine or "interp", mem_size = "512M",
                                console = "none", capture = true}
tandem.new("LinuxLoader", {
  name = "linux", parent = system, kernel = a.kernel, initrd = a.initrd,
  cmdline = machine.linux_cmdline(a.engine or "interp"),
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
local switches = 0
if a.every then
  local n, from, to = a.every:match("^(%d+),(%d+),(%d+)$")
  if not n then error("every=N,FROM,TO (ms), got " .. a.every) end
  for t = tonumber(from), tonumber(to), tonumber(n) do
    local why = run_until(t * sim.ms)
    if why ~= "tick limit reached" then
      error(string.format("the run ended (%s) before the switch at %d ms", why, t))
    end
    cpu.switch(cpu0, cpu.engine(cpu0) == "kvm" and "interp" or "kvm")
    switches = switches + 1
  end
  if cpu.engine(cpu0) == "kvm" then -- finish where the run is deterministic
    cpu.switch(cpu0, "interp")
    switches = switches + 1
  end
  legs[#legs + 1] = string.format("%d in-memory switches from %s to %s ms", switches, from, to)
end
local why, code = run_until(limit)
local out = uart.output(console)
for _, l in ipairs(legs) do print(l) end
if cpu.engine(cpu0) == "auto" then
  for _, s in ipairs{"autoSwitchesToKvm", "autoSwitchesToInterp", "autoTicksInterp",
                     "autoTicksKvm", "autoHostTimeInterp", "autoHostTimeKvm"} do
    print(string.format("%s %d", s, stats.get("system.cpu0." .. s)))
  end
  print(string.format("kvmSyscallRepairs %d", stats.get("system.cpu0.kvmSyscallRepairs")))
  if stats.get("system.cpu0.autoSwitchesToKvm") < 1 then
    error("the auto engine never moved to KVM (the awk loop runs in user mode for ~0.2 s)")
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
-- /init's lines, in order (guest/mkinitramfs's default command list).
local expect = {"TANDEM: init started", "+ uname -a", "Linux (none) ", "+ cat /proc/cpuinfo",
                "+ cat /proc/modules", "+ awk ", "checksum 36212",
                "TANDEM: commands done, failures 0"}
local at = 1
for _, want in ipairs(expect) do
  local found = nil
  for pos in out:gmatch("()[^\n]+") do
    if pos >= at and out:sub(pos, pos + #want - 1) == want then found = pos break end
  end
  if not found then
    error(string.format("the console lacks a line starting '%s' after offset %d", want, at))
  end
  at = found + #want
end
print(string.format("console: /init's %d expected lines in order", #expect))
print("linux switching: PASS")
