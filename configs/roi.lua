-- The main job (docs/roi.md; scripts/demo runs it): configs/pc.lua boots
-- Debian's kernel on engine=auto with no timing model; the initramfs marks
-- its region of interest with `tandemctl roi begin` / `tandemctl roi end`
-- (scripts/demo builds build/guest/roi.cpio.gz). At ROI begin the run
-- dumps the boot's stats, moves the CPU to the interpreter, saves a
-- checkpoint (OUTDIR/roi-ckpt), attaches the cache hierarchy of
-- configs/timing.lua and times the region; at ROI end it dumps the region's
-- stats and prints a summary. Restoring the checkpoint re-runs only the
-- region, e.g. with a bigger L1D:
--   tandem run configs/roi.lua [-- engine=auto|interp|kvm seconds=N ckpt_out=DIR
--                                 l1i=32K l1d=32K l2=256K assoc=8 initrd=PATH ...]
--   tandem run configs/roi.lua -- checkpoint=tandem-out/roi-ckpt l1d=64K
-- Other arguments are configs/pc.lua's.
local args = tandem.args
if args.roi and args.roi ~= "1" then error("roi.lua: roi=" .. args.roi .. " (only roi=1)", 0) end
if args.checkpoint then
  if args.engine and args.engine ~= "interp" then
    error("roi.lua: a restored region runs on the interpreter (engine=interp), not " .. args.engine, 0)
  end
  args.engine = "interp"
else
  args.engine = args.engine or "auto"
end
args.roi = "1"
args.initrd = args.initrd or tandem.source_dir .. "/build/guest/roi.cpio.gz"
dofile(tandem.source_dir .. "/configs/pc.lua")
