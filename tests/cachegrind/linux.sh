#!/bin/sh
# The cachegrind oracle, run by tandem (docs/timing.md): the same static
# user program (linux_workload.c) runs under valgrind's cachegrind on the
# host and as a process of the Debian guest on tandem's interpreter with
# the cachegrind counting mode, with the same I1/D1/LL geometry; every count
# of cachegrind's summary must equal tandem's.
#   linux.sh WORKLOAD TANDEM TANDEMCTL SOURCE_DIR KERNEL_CACHE WORKDIR
# Exit 77 (ctest: skipped) when valgrind is missing.
set -eu
workload=$1 tandem=$2 tandemctl=$3 src=$4 kcache=$5 work=$6
I1=32768,8,64 D1=32768,8,64 LL=262144,8,64
fail() { echo "cachegrind_linux: FAIL: $*" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind not installed: skipping"; exit 77; }
rm -rf "$work"
mkdir -p "$work"

# The interpreter retires REP string iterations in chunks, cachegrind
# counts each: the program must have none.
if command -v objdump >/dev/null; then
    if objdump -d --no-show-raw-insn "$workload" |
        grep -E '[[:space:]](rep|repz|repe|repnz|repne|movs|stos|lods|cmps|scas)[bwlq]?([[:space:]]|$)'; then
        fail "$workload has string instructions"
    fi
fi

valgrind --tool=cachegrind --cache-sim=yes --I1=$I1 --D1=$D1 --LL=$LL \
    --cachegrind-out-file="$work/cachegrind.out" "$workload" >"$work/valgrind.stdout" \
    2>"$work/valgrind.log" || fail "valgrind run failed (see $work/valgrind.log)"

name=$(basename "$workload")
TANDEM_CACHE=$kcache "$src/guest/mkinitramfs" -o "$work/initramfs.cpio.gz" -t "$tandemctl" \
    -b "$workload" -c "/bin/$name" >/dev/null
"$tandem" run "$src/configs/pc.lua" --quiet --outdir "$work/tandem-out" -- engine=interp \
    kernel="$kcache/vmlinuz" initrd="$work/initramfs.cpio.gz" seconds=60 \
    cachegrind=1 I1=$I1 D1=$D1 LL=$LL 2>&1 | tr -d '\r' >"$work/console.log" ||
    fail "tandem run failed (see $work/console.log)"
grep -q "TANDEM: commands done, failures 0" "$work/console.log" ||
    fail "the guest did not run $name to completion (see $work/console.log)"

# The region ended at the exit call: a dump with reason "roi".
grep -q '"reason": "roi"' "$work/tandem-out/stats.json" ||
    fail "no region-end stats dump in $work/tandem-out/stats.json"

# Both runs computed the same thing.
expected=$(cat "$work/valgrind.stdout")
grep -qxF "$expected" "$work/console.log" ||
    fail "the guest did not print the host's result '$expected' (see $work/console.log)"

# cachegrind.out: "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw" and the
# totals on the "summary:" line; tandem's in the last stats.txt dump.
awk -v stats="$work/tandem-out/stats.txt" '
    /^events:/ { for (i = 2; i <= NF; i++) name[i - 1] = $i }
    /^summary:/ { for (i = 2; i <= NF; i++) cg[name[i - 1]] = $i }
    END {
        while ((getline l < stats) > 0) {
            split(l, f, " ")
            if (f[1] ~ /^system\.(cg_|cachegrind\.)/) t[f[1]] = f[2]
        }
        if (!("Ir" in cg)) { print "no summary in cachegrind.out"; exit 1 }
        if (!("system.cg_i1.readAccesses" in t)) { print "no cachegrind counts in stats.txt"; exit 1 }
        n = 0
        row("I refs", cg["Ir"], t["system.cg_i1.readAccesses"])
        row("I1 misses", cg["I1mr"], t["system.cg_i1.readMisses"])
        row("D1 read refs", cg["Dr"], t["system.cg_d1.readAccesses"])
        row("D1 write refs", cg["Dw"], t["system.cg_d1.writeAccesses"])
        row("D1 read misses", cg["D1mr"], t["system.cg_d1.readMisses"])
        row("D1 write misses", cg["D1mw"], t["system.cg_d1.writeMisses"])
        row("LL read refs", cg["I1mr"] + cg["D1mr"], t["system.cg_ll.readAccesses"])
        row("LL write refs", cg["D1mw"], t["system.cg_ll.writeAccesses"])
        row("LL read misses", cg["ILmr"] + cg["DLmr"], t["system.cg_ll.readMisses"])
        row("LL write misses", cg["DLmw"], t["system.cg_ll.writeMisses"])
        row("instructions", cg["Ir"], t["system.cachegrind.insts"])
        row("regions", 1, t["system.cachegrind.regions"])
        row("dropped", 0, t["system.cachegrind.droppedAccesses"])
        printf "modifies (in D1 read refs): %d\n", t["system.cachegrind.modifies"]
        if (bad) { printf "%d counts differ from cachegrind\n", bad; exit 1 }
        print "all counts equal"
    }
    function row(label, want, got) {
        mark = (want + 0 == got + 0) ? "" : "   MISMATCH"
        if (mark != "") bad++
        if (n++ == 0) printf "%-16s %12s %12s\n", "", "cachegrind", "tandem"
        printf "%-16s %12d %12d%s\n", label, want, got, mark
    }
' "$work/cachegrind.out" || fail "counts differ (see above)"
echo "cachegrind_linux: PASS"
