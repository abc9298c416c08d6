-- A System with the PC's legacy character and time devices: COM1 (16550A),
-- the i8042 keyboard controller and the CMOS RTC, run for one simulated
-- second. Without a CPU nothing programs them; the run shows they build,
-- keep time (the RTC's update cycles) and report stats.
--
--   tandem run configs/uart-demo.lua [-- uart_backend=none|stdio|file|socket uart_path=PATH]
--
-- The lead folds these three objects into configs/pc.lua.
local args = tandem.args

local system = tandem.new("System", {name = "system", mem_size = "64M"})
local uart0 = tandem.new("UART16550", {
    name = "uart0", parent = system,
    port = 0x3F8, gsi = 4,            -- COM1
    backend = args.uart_backend or "stdio",
    path = args.uart_path or "",
    capture = true,                   -- uart.output(uart0) returns what was sent
})
tandem.new("I8042", {name = "i8042", parent = system})
tandem.new("RTC", {name = "rtc", parent = system, start_time = 1700000000})

local why = sim.run{for_s = 1}
-- The update event at exactly 1 s is not run (limits exclude their tick),
-- so a second of simulated time completes the RTC's first update at 1 s only
-- when the run goes one tick further.
sim.run{for_tick = 1}
print(string.format("uart-demo: stopped (%s) at %.6f s; rtc updates %d, uart0 txBytes %d, output '%s'",
    why, sim.now() / sim.s, stats.get("system.rtc.updates"), stats.get("system.uart0.txBytes"),
    uart.output(uart0)))
sim.exit(0, "uart-demo finished")
