#!/usr/bin/env bash
# Benchmark (not a test): how the throwaway linear map scales with RAM.
# Set-up, then `cargo xtask map-scale` (see xtask/src/mapscale.rs for the
# environment: MAP_SCALE_SIZES, MAP_SCALE_REPEAT, MAP_SCALE_TIMEOUT).
#   bash scripts/bench-map-scale.sh            # every size x every policy
#   bash scripts/bench-map-scale.sh --quick    # leaf=4k only up to 16G
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo xtask map-scale "$@"
