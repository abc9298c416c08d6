#!/bin/sh
# Runs a bare-metal program through an engine-switching scenario and checks
# that its console output (and, with mem=1, the final guest-RAM hash) equals
# an unswitched interpreter run, which is deterministic
# (tests/lua/switching.lua prints both). Usage:
#   compare.sh TANDEM SWITCHING_LUA PROGRAM.elf mem=0|1 SCENARIO [ARGS...]
# Scenarios:
#   every US            in-memory switches interp<->kvm every US us (simulated)
#   chain US1 US2       interp -> checkpoint at US1 -> restore on kvm ->
#                       checkpoint at US2 -> restore on interp -> end
#   auto WINDOW SAMPLE_US TO_KVM TO_INTERP
#                       engine auto with that policy (cpu.auto); it must
#                       switch to KVM and back at least once each
set -eu
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not usable"
    exit 77
fi
tandem=$1 script=$2 program=$3 mem=$4 scenario=$5
shift 5
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-switching.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() { # OUT ARGS...: one tandem run; its stdout goes to OUT
    out=$1
    shift
    if ! "$tandem" run "$script" --quiet --outdir "$work/outdir" -- program="$program" "$@" >"$out"; then
        echo "FAIL: tandem run $* exited with an error:" >&2
        cat "$out" >&2
        exit 1
    fi
}
console() { # the console bytes between the markers of each file, in order
    for f in "$@"; do
        sed -n '/^==console==$/,/^==end==$/p' "$f" | sed '1d;$d'
    done
}

run "$work/ref" mode=plain engine=interp
case $scenario in
every)
    run "$work/a" mode=every engine=interp every_us="$1"
    parts="$work/a"
    ;;
chain)
    run "$work/a" mode=save engine=interp at_us="$1" dir="$work/ck1"
    run "$work/b" mode=restore engine=kvm dir="$work/ck1" at_us="$2" save="$work/ck2"
    run "$work/c" mode=restore engine=interp dir="$work/ck2"
    parts="$work/a $work/b $work/c"
    ;;
auto)
    run "$work/a" mode=auto engine=auto window="$1" sample_us="$2" to_kvm_ring0="$3" \
        to_interp_ring0="$4"
    parts="$work/a"
    for s in autoSwitchesToKvm autoSwitchesToInterp; do
        n=$(sed -n "s/^$s //p" "$work/a")
        if [ "${n:-0}" -lt 1 ]; then
            echo "FAIL: the auto engine never switched ($s = ${n:-missing})" >&2
            cat "$work/a" >&2
            exit 1
        fi
    done
    ;;
*)
    echo "compare.sh: unknown scenario '$scenario' (every, chain, auto)" >&2
    exit 2
    ;;
esac

console "$work/ref" >"$work/ref.console"
# shellcheck disable=SC2086 # parts is a list of paths without spaces
console $parts >"$work/got.console"
if ! cmp -s "$work/ref.console" "$work/got.console"; then
    echo "FAIL: console output differs from the unswitched interpreter run:" >&2
    diff "$work/ref.console" "$work/got.console" >&2 || true
    exit 1
fi
last=$(echo "$parts" | awk '{print $NF}')
if [ "$mem" = mem=1 ]; then
    want=$(sed -n 's/^memory //p' "$work/ref")
    got=$(sed -n 's/^memory //p' "$last")
    if [ -z "$want" ] || [ "$want" != "$got" ]; then
        echo "FAIL: guest RAM hash $got, unswitched interpreter run $want" >&2
        exit 1
    fi
    echo "memory hash $got identical"
fi
grep -h '^switch time\|^switches\|^auto' $parts || true
echo "PASS: $scenario $(basename "$program") console identical ($(wc -c <"$work/got.console") bytes)"
