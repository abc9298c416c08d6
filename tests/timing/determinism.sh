#!/bin/sh
# Cycle accounting on the interpreter (docs/timing.md), one bare-metal
# program run three times through configs/baremetal.lua:
#  - twice with timing=1: the program passes, and stats.txt is bit-identical
#    between the runs except the host-time lines (hostSeconds, hostInstRate);
#  - the model really drove the CPU: every retired instruction was charged
#    (timing.insts = cpu0.insts), the CPU's cycles are the model's
#    (cpu0.cycles = timing.cycles, i.e. simulated time follows the model),
#    more cycles than instructions, and the caches, TLBs and predictor saw
#    traffic;
#  - a program with ROI markers (memwalk) dumps stats at ROI_END: in that
#    dump, taken inside a batch, the CPU's counters agree with the model's
#    and with each other (cycles = cyclesUser + cyclesKernel, ipc =
#    insts / cycles);
#  - every exception and interrupt delivered is charged event_cycles;
#  - once functional: one cycle per instruction, no model objects.
#   determinism.sh TANDEM SOURCE_DIR PROGRAM.elf NAME
set -u
tandem=$1 src=$2 program=$3 name=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "determinism.sh: $*"; exit 1; }

run() { # run OUTDIR [script args...]
  dir=$1
  shift
  "$tandem" run "$src/configs/baremetal.lua" --quiet --outdir "$dir" -- "program=$program" engine=interp "$@" \
    >"$dir.log" 2>&1
  status=$?
  [ "$status" -eq 0 ] || { cat "$dir.log"; fail "tandem exited $status ($*)"; }
  grep -q "^TEST $name: PASS" "$dir.log" || { cat "$dir.log"; fail "no 'TEST $name: PASS' line ($*)"; }
}
stat() { # stat OUTDIR NAME: the value of one stats.txt line (the last dump's)
  awk -v k="$2" '$1 == k { v = $2; found = 1 } END { print found ? v : "missing" }' "$1/stats.txt"
}
stat_first() { # stat_first OUTDIR NAME: the value in the first dump
  awk -v k="$2" '$1 == k && !found { print $2; found = 1 } END { if (!found) print "missing" }' "$1/stats.txt"
}

run "$work/a" timing=1
run "$work/b" timing=1
run "$work/f"
for d in a b; do
  grep -v -E '^(hostSeconds|hostInstRate) ' "$work/$d/stats.txt" >"$work/$d.stats"
done
if ! cmp -s "$work/a.stats" "$work/b.stats"; then
  diff "$work/a.stats" "$work/b.stats" | head -20
  fail "two runs of the same configuration gave different stats"
fi
echo "stats.txt identical across two timed runs ($(wc -l <"$work/a.stats") lines)"

insts=$(stat "$work/a" system.cpu0.insts)
cycles=$(stat "$work/a" system.cpu0.cycles)
echo "timed: insts=$insts cycles=$cycles timing.cycles=$(stat "$work/a" system.timing.cycles)"
[ "$(stat "$work/a" system.timing.insts)" = "$insts" ] || fail "timing.insts differs from cpu0.insts ($insts)"
dumps=$(grep -c "Begin Simulation Statistics" "$work/a/stats.txt")
[ "$(stat "$work/a" system.timing.cycles)" = "$cycles" ] || fail "cpu0.cycles is not the model's cycle count"
[ "$(stat "$work/a" system.timing.cycles)" -gt "$insts" ] || fail "the model charged no more cycles ($cycles) than instructions ($insts)"
for k in system.l1i.accesses system.l1d.accesses system.l2.accesses system.itlb.hits system.dtlb.hits \
         system.bpred.lookups system.timing.dcacheCycles system.timing.branchCycles; do
  v=$(stat "$work/a" $k)
  [ "$v" != missing ] && [ "$v" != 0 ] || fail "$k is $v after a timed run"
done
user=$(stat "$work/a" system.cpu0.instsUser) kernel=$(stat "$work/a" system.cpu0.instsKernel)
[ $((user + kernel)) -eq "$insts" ] || fail "instsUser $user + instsKernel $kernel != insts $insts"
[ $(($(stat "$work/a" system.cpu0.cyclesUser) + $(stat "$work/a" system.cpu0.cyclesKernel))) -eq \
  "$(stat "$work/a" system.timing.cycles)" ] || fail "cyclesUser + cyclesKernel != timing.cycles"
if [ "$dumps" -gt 1 ]; then
  roi_insts=$(stat_first "$work/a" system.timing.insts)
  roi_cycles=$(stat_first "$work/a" system.cpu0.cycles)
  echo "ROI dump: timing.insts=$roi_insts cpu0.insts=$(stat_first "$work/a" system.cpu0.insts) cycles=$roi_cycles"
  [ "$(stat_first "$work/a" system.cpu0.insts)" = "$roi_insts" ] || fail "ROI dump: cpu0.insts != timing.insts"
  [ $(($(stat_first "$work/a" system.cpu0.cyclesUser) + $(stat_first "$work/a" system.cpu0.cyclesKernel))) -eq \
    "$(stat_first "$work/a" system.timing.cycles)" ] || fail "ROI dump: per-CPL cycles != timing.cycles"
  # The dump is taken inside a CPU quantum: cycles and ipc must be current
  # there too (the CPU's stats flush), not lag to the quantum's end.
  [ $(($(stat_first "$work/a" system.cpu0.cyclesUser) + $(stat_first "$work/a" system.cpu0.cyclesKernel))) -eq \
    "$roi_cycles" ] || fail "ROI dump: cpu0.cycles $roi_cycles != cyclesUser + cyclesKernel"
  awk -v i="$roi_insts" -v c="$roi_cycles" -v ipc="$(stat_first "$work/a" system.cpu0.ipc)" \
    'BEGIN { d = (ipc - i / c) * c / i; exit !(c > 0 && d < 1e-5 && d > -1e-5) }' ||
    fail "ROI dump: cpu0.ipc $(stat_first "$work/a" system.cpu0.ipc) != insts / cycles ($roi_insts / $roi_cycles)"
  [ "$roi_insts" -gt 0 ] && [ "$roi_insts" -le "$insts" ] || fail "ROI dump: $roi_insts instructions"
fi
# Exception and interrupt delivery is charged (timing.event_cycles, default
# 100 cycles each) once per delivered event.
events=$(stat "$work/a" system.timing.events)
delivered=$(($(stat "$work/a" system.cpu0.interpExceptions) + $(stat "$work/a" system.cpu0.interpInterrupts) + \
             $(stat "$work/a" system.cpu0.interpNmis)))
echo "events charged: $events (delivered $delivered), eventCycles $(stat "$work/a" system.timing.eventCycles)"
[ "$events" = "$delivered" ] || fail "timing.events $events != exceptions + interrupts + NMIs delivered ($delivered)"
[ "$(stat "$work/a" system.timing.eventCycles)" -eq $((events * 100)) ] || fail "eventCycles is not 100 per event"
[ "$(stat "$work/f" system.cpu0.cyclesKernel)" = "$(stat "$work/f" system.cpu0.instsKernel)" ] &&
  [ "$(stat "$work/f" system.cpu0.cyclesUser)" = "$(stat "$work/f" system.cpu0.instsUser)" ] ||
  fail "functional mode: cycles differ from instructions"
[ "$(stat "$work/f" system.cpu0.cycles)" = "$(stat "$work/f" system.cpu0.insts)" ] ||
  fail "functional mode: cpu0.cycles differs from cpu0.insts"
[ "$(stat "$work/f" system.timing.insts)" = missing ] || fail "functional mode has a timing model"
echo "determinism.sh: PASS"
