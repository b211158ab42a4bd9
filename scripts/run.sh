#!/usr/bin/env bash
# The main job: set up (target, QEMU), build the stage, boot it on QEMU
# virt and print its report. Arguments go to QEMU and win over the
# defaults, e.g. `scripts/run.sh -M virt,virtualization=on -append mode=info`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --release --locked --target aarch64-unknown-none -- "$@"
