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

echo "== host and in-QEMU tests"
MMU_RELOC_ELF=$elf cargo test --release --locked --target "$host" "$@"

echo "== all tests passed in $(( $(date +%s) - start )) s"
