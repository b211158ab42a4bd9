#!/usr/bin/env bash
# ELF -> raw arm64 Image (what QEMU -kernel, U-Boot booti and the Pi
# firmware load). Uses the toolchain's own rust-objcopy, which needs the
# toolchain's libLLVM on the library path.
set -euo pipefail
elf=$1 out=$2
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
LD_LIBRARY_PATH="$sysroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$sysroot/lib/rustlib/$host/bin/rust-objcopy" -O binary "$elf" "$out"
# The header's magic must be where loaders look for it.
magic=$(od -An -c -j 56 -N 4 "$out" | tr -d ' ')
[ "$magic" = 'ARMd' ] || { echo "mkimage: $out has no arm64 Image magic" >&2; exit 1; }
