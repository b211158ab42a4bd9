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

echo "== build the stage and xtask, then host and in-QEMU tests"
cargo xtask test "$@"

echo "== all tests passed in $(( $(date +%s) - start )) s"
