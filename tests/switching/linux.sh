#!/bin/sh
# ctest driver for the Linux engine-switching runs (tests/switching.cmake,
# docs/engine-switching.md): builds the default initramfs, then boots
# Debian's kernel with tests/lua/linux_switch.lua.
# Usage: tests/switching/linux.sh TANDEM BUILD_DIR [SCRIPT-ARGS...]
# Exit status: 0 pass, 1 fail, 77 skip (no kernel in the cache, no /dev/kvm).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tandem=${1:?usage: $0 TANDEM BUILD_DIR [ARGS...]}
build=${2:?usage: $0 TANDEM BUILD_DIR [ARGS...]}
shift 2
cache=${TANDEM_CACHE:-$root/cache}
[ -f "$cache/kernel/current" ] || { echo "SKIP: no kernel (run scripts/fetch-guest)"; exit 77; }
{ [ -r /dev/kvm ] && [ -w /dev/kvm ]; } || { echo "SKIP: /dev/kvm is not usable"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-linux-switch.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$root/guest/mkinitramfs" -o "$work/initramfs.cpio.gz" -t "$build/guest/tandemctl" || exit 1
"$tandem" run "$root/tests/lua/linux_switch.lua" --quiet --outdir "$work/out" -- \
    kernel="$cache/vmlinuz" initrd="$work/initramfs.cpio.gz" dir="$work/ckpt" "$@"
