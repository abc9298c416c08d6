-- The main job's run (configs/roi.lua, docs/roi.md): boot functionally
-- (engine=auto by default), stop at the guest's `tandemctl roi begin`,
-- checkpoint there, time the region of interest on the interpreter with the
-- cache hierarchy of configs/timing.lua, stop at `tandemctl roi end`, print
-- a summary from the stats, and let the guest finish. With checkpoint=DIR
-- it restores such a checkpoint instead of booting and times the region
-- again (caches sized by l1i=/l1d=/l2=/assoc=).
local machine = require("machine")
local timing = require("timing")
local M = {}

-- A stat's value, or nil when the run has no such stat (e.g. the auto
-- engine's counters on a run that never used it).
local function stat(name)
  local ok, v = pcall(stats.get, name)
  if ok then return v end
  return nil
end

local function exists(path)
  return os.rename(path, path) ~= nil
end

-- 1234567 -> "1,234,567"
local function grouped(n)
  local digits = string.format("%d", math.floor(n + 0.5))
  local out = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function fmt(v, spec)
  if v == nil then return "-" end
  return string.format(spec, v)
end

-- The boot's figures, read before the ROI's stats reset.
local function boot_summary(cpu0)
  local engine = cpu.engine(cpu0)
  local ok, inner = pcall(cpu.auto, cpu0, {})
  return {
    engine = engine,
    engine_at_roi = ok and inner or engine,
    host = sim.host_seconds(),
    simulated = sim.now() / sim.s,
    insts = stat("system.cpu0.insts"),
    switches = stat("system.cpu0.engineSwitches"),
    to_kvm = stat("system.cpu0.autoSwitchesToKvm"),
    to_interp = stat("system.cpu0.autoSwitchesToInterp"),
  }
end

-- Prints the summary of a finished region (its stats are still those of the
-- region: called right after the ROI dump).
local function print_summary(boot, roi_host, roi_start_tick, paths)
  local insts = stat("system.cpu0.insts")
  local cycles = stat("system.cpu0.cycles")
  local lines = {"", "==== tandem: region of interest summary ===="}
  local function add(...) lines[#lines + 1] = string.format(...) end
  if boot then
    local on_kvm = boot.engine == "kvm" or (boot.to_kvm or 0) > 0
    add("boot (engine %s): %.1f s host, %.3f s simulated, %s instructions%s",
        boot.engine, boot.host, boot.simulated, grouped(boot.insts or 0),
        on_kvm and " (on the interpreter: KVM does not count its own)" or "")
    add("engine switches during boot: %d (auto: %s to KVM, %s to the interpreter); "
        .. "on %s at ROI begin", boot.switches or 0, fmt(boot.to_kvm, "%d"),
        fmt(boot.to_interp, "%d"), boot.engine_at_roi)
  else
    add("restored from %s (no boot in this run)", paths.restored)
  end
  add("ROI on the interpreter with caches L1I %s, L1D %s, L2 %s (%d-way):",
      paths.sizes.l1i, paths.sizes.l1d, paths.sizes.l2, paths.sizes.assoc)
  add("  instructions %s, cycles %s, IPC %.3f (user %.3f, kernel %.3f)",
      grouped(insts), grouped(cycles), stat("system.cpu0.ipc"),
      stat("system.cpu0.ipcUser"), stat("system.cpu0.ipcKernel"))
  add("  %.4f s simulated, %.1f s host",
      (sim.now() - roi_start_tick) / sim.s, roi_host)
  add("  MPKI: L1I %.2f  L1D %.2f  L2 %.2f  ITLB %.2f  DTLB %.2f  branch %.2f",
      stat("system.l1i.mpki"), stat("system.l1d.mpki"), stat("system.l2.mpki"),
      stat("system.itlb.mpki"), stat("system.dtlb.mpki"), stat("system.bpred.mpki"))
  local total = stat("system.timing.cycles")
  local function share(name) return 100 * stat("system.timing." .. name) / math.max(total, 1) end
  add("  CPI stack: base %.0f%%, icache %.0f%%, dcache %.0f%%, TLB %.0f%%, branch %.0f%%, "
      .. "exceptions/interrupts %.0f%%", share("baseCycles"), share("icacheCycles"),
      share("dcacheCycles"), share("tlbCycles"), share("branchCycles"), share("eventCycles"))
  add("stats: %s/stats.txt, %s/stats.json (dumps: %s)", paths.outdir, paths.outdir,
      boot and "boot, roi, exit" or "roi, exit")
  if paths.saved then
    add("checkpoint at ROI begin: %s", paths.saved)
    add("re-run the ROI with another L1D: build/tandem run %s --outdir %s/roi-l1d64K -- %s"
        .. "checkpoint=%s l1d=64K", paths.rerun.script, paths.outdir, paths.rerun.args, paths.saved)
  end
  print(table.concat(lines, "\n"))
  io.stdout:flush()
end

-- Runs until the guest pauses the run with `expected`; raises otherwise.
local function run_until(seconds, expected, what)
  local why, code = sim.run{until_s = seconds}
  if why ~= expected then
    error(string.format("roi: the guest did not reach %s (run stopped: %s, exit code %d)",
                        what, why, code), 0)
  end
end

-- seconds: the run's limit (simulated, absolute); rerun = {script =
-- "configs/roi.lua", args = "KEY=VALUE ... "}: what the summary shows as
-- the command that re-runs the ROI from the checkpoint.
function M.run(seconds, rerun)
  local on = machine.arg("timing")
  if on and on ~= "0" then
    error("roi: the region of interest is always timed and the boot never is; size the "
          .. "caches with l1i=, l1d=, l2=, assoc= instead of timing=", 0)
  end
  local system, cpu0 = tandem.find("system"), tandem.find("system.cpu0")
  local sizes = {l1i = machine.arg("l1i", "32K"), l1d = machine.arg("l1d", "32K"),
                 l2 = machine.arg("l2", "256K"), assoc = tonumber(machine.arg("assoc", "8"))}
  if not sizes.assoc then error("roi: assoc must be a number of ways", 0) end
  local model = timing.model(system, {l1i = sizes.l1i, l1d = sizes.l1d, l2 = sizes.l2,
                                      assoc = sizes.assoc})
  if tandem.outdir == "" then error("roi: needs an output directory (--outdir)", 0) end
  local paths = {outdir = tandem.outdir, sizes = sizes, rerun = rerun}
  local restore = machine.arg("checkpoint")
  if restore then
    -- The region runs timed from the checkpoint on: the model is the CPU's
    -- from the start.
    cpu0.timing = model
  else
    paths.saved = machine.arg("ckpt_out", tandem.outdir .. "/roi-ckpt")
    if exists(paths.saved) then
      error("roi: " .. paths.saved .. " exists; remove it or pass ckpt_out=DIR", 0)
    end
  end
  guestctl.pause_on(system.path .. ".guestctl", {"roi-begin", "roi-end"})

  local boot
  if restore then
    checkpoint.restore(restore)
    paths.restored = restore
  else
    run_until(seconds, "guest roi-begin", "`tandemctl roi begin`")
    boot = boot_summary(cpu0)
    stats.dump("boot")
    cpu.switch(cpu0, "interp")
    checkpoint.save(paths.saved)
    cpu.set_timing(cpu0, model)
  end
  stats.reset()
  local roi_tick, roi_host = sim.now(), sim.host_seconds()
  run_until(seconds, "guest roi-end", "`tandemctl roi end`")
  stats.dump("roi")
  print_summary(boot, sim.host_seconds() - roi_host, roi_tick, paths)
  sim.run{until_s = seconds}
end

return M
