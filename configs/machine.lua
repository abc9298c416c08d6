-- Builders for tandem's standard PC, shared by every run script:
--   local machine = require("machine")
--   local system, cpu = machine.pc{engine = "kvm", mem_size = "512M"}
-- timing = true (or a table of configs/timing.lua options) gives the CPU a
-- cycle-accounting hierarchy (used by the interpreter engine).
-- timer_min_interval_ns: the LAPIC's (late timer interrupts; dev/lapic.c).
-- Every device lives at the address, port and GSI of mem/pc_layout.h.
local M = {}

function M.pc(opts)
  opts = opts or {}
  local system = tandem.new("System", {name = "system", mem_size = opts.mem_size or "512M"})
  -- LAPIC before the CPU: CPU i attaches to LAPIC i at startup.
  tandem.new("LAPIC", {name = "lapic0", parent = system, apic_id = 0,
                       timer_min_interval_ns = opts.timer_min_interval_ns or 0})
  tandem.new("IOAPIC", {name = "ioapic", parent = system})
  tandem.new("PIC8259", {name = "pic", parent = system})
  tandem.new("PIT8254", {name = "pit", parent = system})
  tandem.new("RTC", {name = "rtc", parent = system})
  local console = {name = "uart0", parent = system, backend = opts.console or "stdio",
                   capture = opts.capture or false}
  if opts.console_path then console.path = opts.console_path end
  tandem.new("UART16550", console)
  tandem.new("I8042", {name = "i8042", parent = system})
  local guestctl = tandem.new("GuestControl", {name = "guestctl", parent = system,
                                               host_files = opts.host_files or ""})
  -- Carries out the guest's SWITCH_ENGINE requests (boot/engine_switch.c).
  tandem.new("EngineSwitch", {name = "engine_switch", parent = system, guestctl = guestctl})
  tandem.new("DebugExit", {name = "debug_exit", parent = system})
  tandem.new("AcpiTables", {name = "acpi", parent = system})
  tandem.new("AcpiPM", {name = "acpi_pm", parent = system})
  local cpu_params = {name = "cpu0", parent = system, engine = opts.engine or "kvm"}
  if opts.timing then
    cpu_params.timing = require("timing").model(system, opts.timing == true and {} or opts.timing)
  end
  local cpu = tandem.new("CPU", cpu_params)
  return system, cpu
end

-- The kernel command line for Debian's kernel on this PC with the CPU on
-- `engine` ("interp", "kvm" or "auto"):
--   tsc_early_khz: the CPU model's fixed TSC rate (cpu/model.h
--     CPU_MODEL_TSC_HZ), so Linux needs no calibration against a timer.
--   mce=off: kvm_pvm shows the guest the host's CPUID leaf 1 (MCE/MCA set)
--     whatever KVM_SET_CPUID2 says, and the model has no MCA MSRs.
--   clearcpuid (engines that can run KVM): the same leak shows POPCNT,
--     CMPXCHG16B, XSAVE, RDRAND, x2APIC... that the model and the
--     interpreter lack (cpu/model.c); where KVM_SET_CPUID2 works they are
--     clear already. The kernel reads at most 127 characters of it.
--   cryptomgr.notests=1: no crypto self-tests at boot; they are 43% of the
--     kernel's instructions to the end of /init's commands (2,052 M
--     kernel-mode instructions with them, 1,177 M without; RSA's
--     multi-precision arithmetic above all), which the guest never needs.
--   tsc=unstable (engine=auto on kvm_pvm): kvm_pvm shows the guest the
--     host's TSC whatever offset is set, so each move to KVM makes the TSC
--     jump ahead by the host time the interpreter spent beyond simulated
--     time; the kernel then keeps time by its timer ticks (simulated time,
--     the same on both engines) instead (docs/engine-switching.md).
function M.linux_cmdline(engine)
  local line = "console=ttyS0 earlyprintk=serial,ttyS0 nokaslr mitigations=off nopti " ..
               "panic=-1 tsc_early_khz=2000000 mce=off quiet loglevel=4 cryptomgr.notests=1"
  if engine ~= "interp" then
    line = line .. " clearcpuid=popcnt,xsave,cx16,rdrand,x2apic,pcid,hypervisor,movbe,mtrr," ..
           "mca,mce,sse4_1,sse4_2,ssse3,pni,aes,pclmulqdq,f16c,fma,avx"
  end
  if engine == "auto" and cpu.host_kvm_pvm() then
    line = line .. " tsc=unstable"
  end
  return line
end

-- The value of a KEY=VALUE script argument, or a default.
function M.arg(key, default)
  local v = tandem.args[key]
  if v == nil or v == "" then return default end
  return v
end

return M
