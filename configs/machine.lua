-- Builders for tandem's standard PC, shared by every run script:
--   local machine = require("machine")
--   local system, cpu = machine.pc{engine = "kvm", mem_size = "512M"}
-- timing = true (or a table of configs/timing.lua options) gives the CPU a
-- cycle-accounting hierarchy (used by the interpreter engine).
-- Every device lives at the address, port and GSI of mem/pc_layout.h.
local M = {}

function M.pc(opts)
  opts = opts or {}
  local system = tandem.new("System", {name = "system", mem_size = opts.mem_size or "512M"})
  -- LAPIC before the CPU: CPU i attaches to LAPIC i at startup.
  tandem.new("LAPIC", {name = "lapic0", parent = system, apic_id = 0})
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

-- The value of a KEY=VALUE script argument, or a default.
function M.arg(key, default)
  local v = tandem.args[key]
  if v == nil or v == "" then return default end
  return v
end

return M
