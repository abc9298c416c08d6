-- Runs one bare-metal test program (tandem ELF boot protocol, docs/boot.md):
--   tandem run configs/baremetal.lua -- program=build/guest/hello.elf [engine=kvm|interp]
local machine = require("machine")
local program = machine.arg("program")
if not program then error("baremetal.lua needs program=PATH.elf") end
local system = machine.pc{engine = machine.arg("engine", "kvm"), mem_size = machine.arg("mem", "128M")}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = program})
sim.run{until_s = tonumber(machine.arg("seconds", "10"))}
