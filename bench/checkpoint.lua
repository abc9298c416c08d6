-- Driven by bench/checkpoint: saves and restores the checkpoint of a guest
-- whose RAM bench_ckpt_fill filled, and checks that every restore brings
-- back the same RAM (memory.hash), also while the guest runs during a lazy
-- restore. Restores go into the same machine.
--   program=FILL.elf mem=512M dir=CHECKPOINT_DIR [reps=3]
local machine = require("machine")
local a = tandem.args
local reps = tonumber(a.reps or "3")
local system = machine.pc{engine = "interp", mem_size = a.mem, console = "none", capture = true}
tandem.new("ElfLoader", {name = "loader", parent = system, kernel = a.program})
sim.run{for_us = 100} -- the guest is up, reading its pages
local want = memory.hash()

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local save, save_cpu, lazy, loaded, eager, faulted = {}, {}, {}, {}, {}, 0
for i = 1, reps do
  os.execute("rm -rf '" .. a.dir .. "'")
  save[i], save_cpu[i] = checkpoint.save(a.dir)
end
for i = 1, reps do
  -- Eager: RAM is back before the guest runs. Then the guest (which sets
  -- accessed bits in its page tables as it walks) runs 100 us.
  eager[i] = checkpoint.restore(a.dir, {lazy = false})
  if memory.hash() ~= want then error("eager restore " .. i .. " changed guest RAM") end
  sim.run{for_us = 100}
  local after = memory.hash()
  -- Lazy: the guest runs the same 100 us at once, while the loader works;
  -- the interpreter is deterministic, so RAM must end the same.
  lazy[i] = checkpoint.restore(a.dir, {lazy = true})
  if sim.run{for_us = 100} ~= "tick limit reached" then error("the guest stopped") end
  local st = checkpoint.wait()
  loaded[i] = st.ms
  faulted = st.blocks_on_fault + st.zero_blocks_on_fault
  if memory.hash() ~= after then error("lazy restore " .. i .. " left different guest RAM") end
end
print(string.format("save %.1f ms (%.1f ms CPU), restore lazy %.1f ms (all RAM in place after "
                    .. "%.1f ms, %d blocks loaded on a first touch), restore eager %.1f ms",
                    median(save), median(save_cpu), median(lazy), median(loaded), faulted,
                    median(eager)))
