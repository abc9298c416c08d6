#!/bin/sh
# Runs one bare-metal guest program on tandem and checks that it printed
# "TEST <name>: PASS" AND that tandem exited with status 0.
#   run.sh TANDEM SOURCE_DIR PROGRAM.elf NAME ENGINE [extra script args...]
# Exit 77 (a ctest skip) for engine=kvm when /dev/kvm cannot be opened.
tandem=$1 src=$2 program=$3 name=$4 engine=$5
shift 5
if [ "$engine" = kvm ] && ! [ -r /dev/kvm ] || { [ "$engine" = kvm ] && ! [ -w /dev/kvm ]; }; then
  echo "SKIPPED: /dev/kvm is not usable"
  exit 77
fi
out=$("$tandem" run "$src/configs/baremetal.lua" --quiet -- "program=$program" "engine=$engine" "$@" 2>&1)
status=$?
printf '%s\n' "$out"
echo "run.sh: tandem exit status $status"
[ "$status" -eq 0 ] || exit 1
printf '%s\n' "$out" | grep -q "^TEST $name: PASS" || { echo "run.sh: no 'TEST $name: PASS' line"; exit 1; }
exit 0
