#!/bin/sh
# The cachegrind oracle (docs/timing.md): run the workload under cachegrind
# (cache simulation with explicit I1/D1/LL geometry) and under lackey (every
# instruction fetch and data access), then replay the lackey trace through
# tandem's Cache objects in cachegrind mode and require equal counts.
#   oracle.sh WORKLOAD TANDEM WORKDIR
# Exit 77 (ctest: skipped) when valgrind is missing.
set -eu
workload=$1 tandem=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "valgrind not installed: skipping"; exit 77; }
mkdir -p "$work"
valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=262144,8,64 \
    --cachegrind-out-file="$work/cachegrind.out" "$workload" >"$work/cachegrind.stdout" \
    2>"$work/cachegrind.log"
valgrind --tool=lackey --trace-mem=yes --log-file="$work/lackey.log" "$workload" \
    >"$work/lackey.stdout"
# The same program run twice must have printed the same result.
cmp "$work/cachegrind.stdout" "$work/lackey.stdout"
exec "$tandem" run --quiet --outdir "$work/tandem-out" "$here/oracle.lua" -- \
    trace="$work/lackey.log" cgout="$work/cachegrind.out"
