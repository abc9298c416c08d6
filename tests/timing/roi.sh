#!/bin/sh
# The main job's flow (configs/roi_run.lua, docs/roi.md) on a bare-metal
# program with ROI markers (memwalk), through configs/baremetal.lua roi=1:
#  - a functional run stops at the guest's ROI begin, dumps "boot", saves a
#    checkpoint, attaches the timing model, stops at ROI end, dumps "roi" and
#    prints the summary; the program still passes;
#  - restoring the checkpoint with the same caches reproduces the ROI dump
#    bit for bit (apart from host time);
#  - restoring it with a 128 KiB L1D (memwalk's working set) runs with cold
#    caches of the new geometry: far fewer L1D misses, the same instructions;
#  - bad uses are refused with a message: an existing checkpoint directory,
#    a missing checkpoint, timing= next to roi=1.
#   roi.sh TANDEM SOURCE_DIR MEMWALK.elf
set -u
tandem=$1 src=$2 program=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "roi.sh: $*"; exit 1; }

run() { # run OUTDIR [script args...]: must pass
  dir=$1
  shift
  "$tandem" run "$src/configs/baremetal.lua" --quiet --outdir "$dir" -- "program=$program" engine=interp roi=1 "$@" \
    >"$dir.log" 2>&1
  status=$?
  [ "$status" -eq 0 ] || { cat "$dir.log"; fail "tandem exited $status ($*)"; }
  grep -q "^TEST memwalk: PASS" "$dir.log" || { cat "$dir.log"; fail "no 'TEST memwalk: PASS' line ($*)"; }
}
refused() { # refused MESSAGE [script args...]: must fail with MESSAGE
  msg=$1
  shift
  if "$tandem" run "$src/configs/baremetal.lua" --quiet --outdir "$work/bad" -- "program=$program" engine=interp \
       roi=1 "$@" >"$work/bad.log" 2>&1; then
    fail "accepted: $*"
  fi
  grep -q "$msg" "$work/bad.log" || { cat "$work/bad.log"; fail "no '$msg' for: $*"; }
}
block() { # block OUTDIR N: the Nth stats.txt dump without the host-time lines
  awk -v n="$2" '/Begin Simulation Statistics/ { b++ } b == n && !/^(hostSeconds|hostInstRate) /' "$1/stats.txt"
}
stat() { # stat OUTDIR N NAME
  block "$1" "$2" | awk -v k="$3" '$1 == k { print $2; found = 1 } END { if (!found) print "missing" }'
}

run "$work/a"
reasons=$(grep -o '"reason": "[a-z]*"' "$work/a/stats.json" | tr '\n' ' ')
[ "$reasons" = '"reason": "boot" "reason": "roi" "reason": "exit" ' ] || fail "dumps: $reasons"
[ -f "$work/a/roi-ckpt/tree.dtb" ] || fail "no checkpoint at $work/a/roi-ckpt"
insts=$(stat "$work/a" 2 system.cpu0.insts)
grep -q "instructions $(printf "%s" "$insts" | rev | sed 's/[0-9]\{3\}/&,/g; s/,$//' | rev), cycles" "$work/a.log" ||
  { cat "$work/a.log"; fail "the summary does not show the ROI dump's $insts instructions"; }
[ "$(stat "$work/a" 1 system.timing.insts)" = 0 ] || fail "the boot was timed"
[ "$(stat "$work/a" 2 system.timing.insts)" = "$insts" ] || fail "ROI: timing.insts != cpu0.insts ($insts)"
[ "$(stat "$work/a" 2 system.timing.cycles)" = "$(stat "$work/a" 2 system.cpu0.cycles)" ] ||
  fail "ROI: cpu0.cycles is not the model's"
echo "ROI: $insts instructions, $(stat "$work/a" 2 system.cpu0.cycles) cycles, L1D misses $(stat "$work/a" 2 system.l1d.misses)"

run "$work/b" checkpoint="$work/a/roi-ckpt"
block "$work/a" 2 >"$work/a.roi"
block "$work/b" 1 >"$work/b.roi"
cmp -s "$work/a.roi" "$work/b.roi" || { diff "$work/a.roi" "$work/b.roi" | head; fail "restored ROI differs"; }
echo "restored ROI: identical dump ($(wc -l <"$work/b.roi") lines)"

run "$work/c" checkpoint="$work/a/roi-ckpt" l1d=128K
[ "$(stat "$work/c" 1 system.cpu0.insts)" = "$insts" ] || fail "128K L1D: another instruction count"
big=$(stat "$work/c" 1 system.l1d.misses) small=$(stat "$work/a" 2 system.l1d.misses)
echo "L1D misses: 32K $small, 128K $big"
[ "$big" -lt $((small / 100)) ] || fail "a 128 KiB L1D did not remove the misses ($small -> $big)"
grep -q "L1D 128K" "$work/c.log" || fail "the summary does not name the 128K L1D"

refused "exists; remove it or pass ckpt_out" ckpt_out="$work/a/roi-ckpt"
refused "roi-ckpt-missing" checkpoint="$work/roi-ckpt-missing"
refused "always timed" timing=1
echo "roi.sh: PASS"
