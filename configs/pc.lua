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
local system = machine.pc{engine = engine,
                          mem_size = machine.arg("mem", "512M"),
                          timing = require("timing").from_args(machine.arg)}
tandem.new("LinuxLoader", {
  name = "linux", parent = system,
  kernel = machine.arg("kernel", src .. "/cache/vmlinuz"),
  initrd = machine.arg("initrd", src .. "/build/guest/initramfs.cpio.gz"),
  -- tsc_early_khz: the CPU model's fixed TSC rate (cpu/model.h
  -- CPU_MODEL_TSC_HZ), so Linux needs no calibration against a timer.
  -- mce=off: kvm_pvm shows the guest the host's CPUID leaf 1 (MCE/MCA set)
  -- whatever KVM_SET_CPUID2 says, and the model has no MCA MSRs.
  -- clearcpuid (engines that can run KVM): the same leak shows POPCNT,
  -- CMPXCHG16B, XSAVE, RDRAND, x2APIC... that the model and the interpreter
  -- lack (cpu/model.c); where KVM_SET_CPUID2 works they are clear already.
  -- The kernel reads at most 127 characters of it.
  -- tsc=unstable (engine=auto on kvm_pvm): kvm_pvm shows the guest the
  -- host's TSC whatever offset is set, so each move to KVM makes the TSC
  -- jump ahead by the host time the interpreter spent beyond simulated time;
  -- the kernel then keeps time by its timer ticks (simulated time, the same
  -- on both engines) instead (docs/engine-switching.md).
  cmdline = machine.arg("cmdline",
    "console=ttyS0 earlyprintk=serial,ttyS0 nokaslr mitigations=off nopti panic=-1 " ..
    "tsc_early_khz=2000000 mce=off quiet loglevel=4" ..
    (engine == "interp" and "" or
     " clearcpuid=popcnt,xsave,cx16,rdrand,x2apic,pcid,hypervisor,movbe,mtrr,mca,mce," ..
     "sse4_1,sse4_2,ssse3,pni,aes,pclmulqdq,f16c,fma,avx") ..
    ((engine == "auto" and cpu.host_kvm_pvm()) and " tsc=unstable" or "")),
})
local seconds = tonumber(machine.arg("seconds", "60"))
if machine.arg("roi") == "1" then
  -- configs/roi.lua: the main job (docs/roi.md)
  require("roi_run").run(seconds, {script = "configs/roi.lua", args = ""})
else
  sim.run{until_s = seconds}
end
