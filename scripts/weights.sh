#!/usr/bin/env bash
# Regenerates pallets/datdot/src/weights.rs from the pallet's benchmarks on this machine:
# builds datdot-node with the benchmarking CLI (--features runtime-benchmarks, ~130 more
# crates than the default build) and runs `benchmark pallet` with the repo's template.
# STEPS and REPEAT may be set in the environment (defaults: 50 and 20).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ensure_setup
# frame-benchmarking-cli's storage-access test runtime cannot build its wasm from crates.io
# (its wasm builder looks for a workspace entry that a registry crate lacks); only
# `benchmark storage` uses it, which datdot-node does not wire up.
export SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1
log "building datdot-node with runtime-benchmarks into $CARGO_TARGET_DIR"
timed "cargo build" cargo build --release --locked -p datdot-node --features runtime-benchmarks \
	--manifest-path "$REPO_ROOT/Cargo.toml"
log "benchmarking pallet_datdot (steps ${STEPS:-50}, repeat ${REPEAT:-20})"
timed "benchmark pallet" "$NODE_BIN" benchmark pallet \
	--chain dev \
	--pallet pallet_datdot --extrinsic '*' \
	--steps "${STEPS:-50}" --repeat "${REPEAT:-20}" \
	--template "$REPO_ROOT/scripts/frame-weight-template.hbs" \
	--output "$REPO_ROOT/pallets/datdot/src/weights.rs"
log "wrote pallets/datdot/src/weights.rs; run scripts/test.sh before committing it"
