-- Boots one bare-metal guest program through a chosen loader (tests/loaders.cmake):
--   tandem run tests/loaders/boot-program.lua -- loader=ElfLoader kernel=PATH [engine=kvm]
local args = tandem.args
assert(args.kernel, "pass kernel=PATH")
local system = tandem.new("System", {name = "system", mem_size = "128M"})
tandem.new("CPU", {name = "cpu0", parent = system, engine = args.engine or "kvm"})
tandem.new("LAPIC", {name = "lapic0", parent = system})
tandem.new("UART16550", {name = "uart0", parent = system, raw = false})
tandem.new("DebugExit", {name = "debugexit", parent = system})
tandem.new(args.loader or "ElfLoader", {name = "loader", parent = system, kernel = args.kernel})
sim.run{until_s = 5}
