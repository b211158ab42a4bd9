#!/usr/bin/env bash
# Cargo runner: boots the built stage on QEMU virt.
#   cargo run --release [-- QEMU-ARGS...]
# Extra arguments are appended after the defaults, so they win
# (`-- -M virt,virtualization=on -m 3G -append mode=info`).
# Exits with QEMU's status (the stage's status, via semihosting); 124 if
# MMU_RELOC_TIMEOUT seconds (default 600) pass first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
elf=$1; shift
bash "$here/../scripts/setup.sh"
img="${elf}.Image"
"$here/mkimage.sh" "$elf" "$img"
set +e
timeout --foreground -k 5 "${MMU_RELOC_TIMEOUT:-600}" \
    qemu-system-aarch64 \
    -M virt -cpu cortex-a72 -m 1G \
    -nographic \
    -semihosting-config enable=on,target=native \
    -kernel "$img" \
    "$@"
status=$?
set -e
if [ "$status" -eq 124 ]; then
    echo "qemu/run.sh: timed out after ${MMU_RELOC_TIMEOUT:-600} s" >&2
fi
exit "$status"
