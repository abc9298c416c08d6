-- The standard tandem PC booting Debian's kernel with the busybox initramfs
-- (scripts/fetch-guest and guest/mkinitramfs provide them):
--   tandem run configs/pc.lua [-- engine=interp|kvm kernel=PATH initrd=PATH
--                                 cmdline="..." mem=512M seconds=N
--                                 timing=1 [l1d=64K ...]]   (cycle accounting, configs/timing.lua)
local machine = require("machine")
local src = tandem.source_dir
-- The interpreter is the default: on this host's kvm_pvm ring 0 is emulated
-- slowly (docs/kvm.md), and the interpreter boots the kernel in about a
-- minute.
local engine = machine.arg("engine", "interp")
-- engine=kvm on kvm_pvm: a timer interrupt costs ~10 ms of the host's
-- ring-0 emulation, and the kernel's 250 Hz tick follows the host clock, so
-- ticks alone would take most of the CPU (70% at 50 a second, measured);
-- at most 10 a second leaves the boot its time (docs/linux-on-kvm.md).
local pvm_kvm_only = engine == "kvm" and cpu.host_kvm_pvm()
local system = machine.pc{engine = engine,
                          timer_min_interval_ns = pvm_kvm_only and 100000000 or 0,
                          mem_size = machine.arg("mem", "512M"),
                          timing = require("timing").from_args(machine.arg)}
tandem.new("LinuxLoader", {
  name = "linux", parent = system,
  kernel = machine.arg("kernel", src .. "/cache/vmlinuz"),
  initrd = machine.arg("initrd", src .. "/build/guest/initramfs.cpio.gz"),
  cmdline = machine.arg("cmdline", machine.linux_cmdline(engine)),
})
local seconds = tonumber(machine.arg("seconds", "60"))
if machine.arg("roi") == "1" then
  -- configs/roi.lua: the main job (docs/roi.md)
  require("roi_run").run(seconds, {script = "configs/roi.lua", args = ""})
else
  sim.run{until_s = seconds}
end
