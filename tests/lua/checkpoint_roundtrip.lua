-- Checkpoint round trip of a running bare-metal guest:
--   phase=save:    run to at_ms, save a checkpoint to dir, run to the end;
--                  writes the whole console output to dir/../expected.txt
--   phase=restore: build the same machine (possibly another engine),
--                  restore dir, run to the end; the console output from the
--                  checkpoint on must equal the tail of expected.txt.
local machine = require("machine")
local a = tandem.args
local system = machine.pc{engine = a.engine or "kvm", mem_size = "128M", console = "none",
                          capture = true}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = a.program})
local console = tandem.find("system.uart0")
local at = tonumber(a.at_ms)
local expected_path = a.dir .. ".expected"
if a.phase == "save" then
  sim.run{until_ms = at}
  local before = uart.output(console)
  checkpoint.save(a.dir)
  local _, code = sim.run{until_s = 20}
  local all = uart.output(console)
  local f = assert(io.open(expected_path, "w"))
  f:write(string.format("%d\n", #before), all)
  f:close()
  print(string.format("saved at %d ms after %d console bytes; exit %d", at, #before, code))
else
  sim.instantiate()
  checkpoint.restore(a.dir)
  local _, code = sim.run{until_s = 20}
  local got = uart.output(console)
  local f = assert(io.open(expected_path))
  local before = tonumber(f:read("l"))
  local all = f:read("a")
  f:close()
  local tail = all:sub(before + 1)
  if got ~= tail then
    error(string.format("console after restore differs:\n--- expected\n%s\n--- got\n%s", tail, got))
  end
  print(string.format("restored: %d console bytes identical; exit %d", #got, code))
  sim.exit(code)
end
