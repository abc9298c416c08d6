#!/bin/sh
# Runs one bare-metal guest program twice on tandem: on KVM alone, and
# switching between KVM and the interpreter every SWITCH_NS ns of simulated
# time. Both must pass (exit status 0, "TEST <name>: PASS") and print the
# same output (with COMPARE=pass-only: both pass, for programs whose
# output depends on host timing under KVM).
#   switch.sh TANDEM SOURCE_DIR PROGRAM.elf NAME SWITCH_NS [COMPARE]
# Exit 77 (a ctest skip) when /dev/kvm cannot be opened.
tandem=$1 src=$2 program=$3 name=$4 every=$5 compare=${6:-exact}
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "SKIPPED: /dev/kvm is not usable"
  exit 77
fi
run() {
  "$tandem" run "$src/configs/baremetal.lua" --quiet --outdir "$1" -- "program=$program" engine=kvm "$2" 2>&1
}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
straight=$(run "$tmp/straight" switch_every_ns=0); s1=$?
switched=$(run "$tmp/switched" "switch_every_ns=$every"); s2=$?
printf '%s\n--- switched every %s ns ---\n%s\n' "$straight" "$every" "$switched"
grep 'engineSwitches' "$tmp/switched/stats.txt"
[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] || { echo "switch.sh: exit status $s1 straight, $s2 switched"; exit 1; }
printf '%s\n' "$switched" | grep -q "^TEST $name: PASS" || { echo "switch.sh: no PASS line"; exit 1; }
printf '%s\n' "$straight" | grep -q "^TEST $name: PASS" || { echo "switch.sh: no PASS line (straight)"; exit 1; }
if [ "$compare" = exact ] && [ "$straight" != "$switched" ]; then
  echo "switch.sh: the outputs differ"
  exit 1
fi
grep -q 'engineSwitches *0 ' "$tmp/switched/stats.txt" && { echo "switch.sh: no switch happened"; exit 1; }
exit 0
