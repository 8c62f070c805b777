#!/usr/bin/env bash
# Starts a single-node development chain on 127.0.0.1 (after setup and build if needed).
#   RPC_PORT=9944 scripts/dev.sh          # port of the JSON-RPC/WebSocket endpoint
#   DATDOT_BASE_PATH=~/datdot-dev …       # keep the chain between runs (default: a temp dir)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ensure_setup
build_all

rpc_port="${RPC_PORT:-9944}"
args=(--dev --rpc-port "$rpc_port" --prometheus-port "${PROMETHEUS_PORT:-9615}" --no-mdns --no-telemetry
	--listen-addr "/ip4/127.0.0.1/tcp/${P2P_PORT:-30333}")
if [ -n "${DATDOT_BASE_PATH:-}" ]; then args+=(--base-path "$DATDOT_BASE_PATH"); fi

cat >&2 <<MSG

  datdot dev chain: JSON-RPC on ws://127.0.0.1:$rpc_port
  polkadot.js apps: https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$rpc_port#/explorer
  (or in apps: Settings > custom endpoint > ws://127.0.0.1:$rpc_port)
  Prometheus metrics: http://127.0.0.1:${PROMETHEUS_PORT:-9615}/metrics
  Dev accounts (Alice, Bob, …) are funded; Alice is sudo and the only validator. Ctrl-C stops it.

MSG
exec "$NODE_BIN" "${args[@]}" "$@"
