#!/usr/bin/env bash
# Proves datdot-primitives builds without std: for wasm32v1-none (a target that has no
# std at all, so any std use fails to link) and for the runtime's wasm32-unknown-unknown.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/datdot-target-primitives}"
nice -n 19 cargo build -j 1 -p datdot-primitives --no-default-features --features dalek --target wasm32v1-none
nice -n 19 cargo build -j 1 -p datdot-primitives --no-default-features --target wasm32-unknown-unknown
echo "datdot-primitives: no_std builds ok"
