#!/usr/bin/env bash
# Every test: host unit and property tests, then the in-QEMU tests against
# a fresh release build of the stage. Does its own set-up (target, QEMU).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
host=$(rustc -vV | sed -n 's/^host: //p')

echo "== build the stage (aarch64-unknown-none, release)"
cargo build --release --locked --target aarch64-unknown-none
elf=$PWD/target/aarch64-unknown-none/release/mmu-reloc

echo "== the model plugin (qemu/model, a host cdylib): build and host tests"
if ! qemu-system-aarch64 -help | grep -q -- '-plugin'; then
    echo "scripts/test.sh: $(command -v qemu-system-aarch64) has no TCG plugin support (no -plugin option); the model needs a QEMU built with plugins" >&2
    exit 1
fi
(cd qemu/model && cargo build --release --locked --target "$host" && cargo test --release --locked --target "$host")
model=$PWD/qemu/model/target/$host/release/libmmu_reloc_model.so

echo "== host and in-QEMU tests"
MMU_RELOC_ELF=$elf MMU_RELOC_MODEL=$model cargo test --release --locked --target "$host" "$@"

echo "== all tests passed in $(( $(date +%s) - start )) s"
