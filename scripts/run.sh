#!/usr/bin/env bash
# The main job: set up (target, QEMU), build the stage and run the A/B
# study (`cargo xtask bench`): exact instruction counts under -icount and
# wall-clock boots with bootstrap intervals; the terminal shows the tables
# and verdicts, the files go to target/bench/<time>/ (and target/bench/latest).
# Options go to the study, e.g. `scripts/run.sh --baseline target/bench/OLD`
# (`cargo xtask --help` lists them). One boot with QEMU arguments:
# `cargo run --release -- -append mode=info`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo xtask bench "$@"
