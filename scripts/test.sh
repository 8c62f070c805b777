#!/usr/bin/env bash
# The test command: setup if needed, build, run every test (Rust unit and integration tests,
# then the end-to-end tests against real datdot-node processes on 127.0.0.1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
start=$(date +%s)

ensure_setup

# Release profile: the node must be optimized, and tests reuse its compiled dependencies.
build_all
log "cargo tests"
timed "cargo test" cargo test --release --locked --workspace --manifest-path "$REPO_ROOT/Cargo.toml"

log "pallet benchmarks run (as tests, in the mock runtime)"
timed "benchmark tests" cargo test --release --locked -p pallet-datdot --features runtime-benchmarks \
	--manifest-path "$REPO_ROOT/Cargo.toml" benchmarking

log "datdot-primitives builds without std (wasm)"
timed "no_std check" bash "$REPO_ROOT/primitives/check-no-std.sh"

log "end-to-end tests with $NODE_BIN"
# Any node the tests leave behind (their data lives in ${TMPDIR:-/tmp}/datdot-*) is killed
# when this script exits, pass or fail; a dev chain of yours is left alone.
trap 'pkill -KILL -f "^$NODE_BIN .*--base-path ${TMPDIR:-/tmp}/datdot-" 2>/dev/null || true' EXIT
(cd "$REPO_ROOT/e2e" && DATDOT_NODE="$NODE_BIN" timed "e2e tests" node --test --test-concurrency=10 tests/)

log "scripts/test.sh: all tests passed in $(( $(date +%s) - start )) s"
