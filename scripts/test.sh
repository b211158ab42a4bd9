#!/usr/bin/env bash
# Every test: host unit and property tests, the in-QEMU tests and the
# study's own tests, against one fresh release build of the stage
# (`cargo xtask test`). Does its own set-up (target, QEMU) first.
# Arguments go to `cargo test` (then only the stage package is tested,
# e.g. `scripts/test.sh --test hostile`).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh

echo "== the model plugin (qemu/model, its own workspace): build and host tests"
if ! qemu-system-aarch64 -help | grep -q -- '-plugin'; then
    echo "scripts/test.sh: $(command -v qemu-system-aarch64) has no TCG plugin support (no -plugin option); the model needs a QEMU built with plugins" >&2
    exit 1
fi
(cd qemu/model && cargo build --release --locked --target host-tuple && cargo test --release --locked --target host-tuple)
host=$(rustc -vV | sed -n 's/^host: //p')
export MMU_RELOC_MODEL=$PWD/qemu/model/target/$host/release/libmmu_reloc_model.so

echo "== build the stage and xtask, then host and in-QEMU tests"
cargo xtask test "$@"

echo "== all tests passed in $(( $(date +%s) - start )) s"
