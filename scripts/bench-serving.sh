#!/usr/bin/env bash
# Serving figures (issue 10): a stock npm hypercore reader downloading a whole feed from the
# node's seeder, and reading random blocks, against npm hypercore replicating to npm
# hypercore, on 127.0.0.1 in the same run. DATDOT_BENCH_BLOCKS sets the feed size in 64 KiB
# blocks (default 1024: 64 MiB).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
cargo test --release --locked -q -p datdot-node --test hypercore_interop \
	-- --ignored --nocapture seeder_throughput_against_js
