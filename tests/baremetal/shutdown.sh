#!/bin/sh
# A triple fault (guest/faults/triple_fault.c) under each setting of the
# CPU's on_shutdown parameter, on one engine:
#   stop (default)          the run ends with an error naming the triple fault
#   reset                   a platform reset request; System.on_reset=exit ends
#                           the run with status 0
#   reset + on_reset=ignore the CPU stays in shutdown until the time limit
#   shutdown.sh TANDEM SOURCE_DIR PROGRAM.elf ENGINE
# Exit 77 (a ctest skip) for engine=kvm when /dev/kvm cannot be opened.
tandem=$1 src=$2 program=$3 engine=$4
if [ "$engine" = kvm ] && { ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; }; then
  echo "SKIPPED: /dev/kvm is not usable"
  exit 77
fi
fail() { echo "shutdown.sh: $*"; exit 1; }
run() {
  out=$("$tandem" run "$src/configs/baremetal.lua" "$@" -- "program=$program" "engine=$engine" \
        seconds=0.05 2>&1)
  status=$?
  printf '%s\n' "$out"
  echo "shutdown.sh: exit status $status"
  printf '%s\n' "$out" | grep -q "triple fault next" || fail "the program did not start"
  printf '%s\n' "$out" | grep -q "still running" && fail "the CPU ran on after the triple fault"
  return 0
}
run
[ "$status" -ne 0 ] || fail "on_shutdown=stop: the run ended with status 0"
printf '%s\n' "$out" | grep -q "triple fault (shutdown)" || fail "on_shutdown=stop: no triple-fault report"
run --set system.cpu0.on_shutdown=reset
[ "$status" -eq 0 ] || fail "on_shutdown=reset: status $status, want 0 (guest requested reset)"
printf '%s\n' "$out" | grep -q "guest requested a reset (triple fault)" || fail "on_shutdown=reset: no reset request"
run --set system.cpu0.on_shutdown=reset --set system.on_reset=ignore
[ "$status" -eq 0 ] || fail "on_reset=ignore: status $status, want 0"
printf '%s\n' "$out" | grep -q "guest requested a reset (triple fault)" || fail "on_reset=ignore: no reset request"
echo "shutdown.sh: PASS"
