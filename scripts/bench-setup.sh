#!/usr/bin/env bash
# Setup benchmark of issue 5: a 1 MiB and a 100 MiB feed, R = 3, on a local network of real
# datdot-node processes (figures in docs/benchmarks.md). Builds the node first if needed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_setup
build_all
for mib in 1 100; do
	log "setup benchmark: ${mib} MiB, R = 3"
	(cd "$REPO_ROOT/e2e" && DATDOT_NODE="$NODE_BIN" node bench/setup-time.js --mib "$mib" --replicas 3)
done
