#!/usr/bin/env bash
# Installs what a clean machine lacks to build and test datdot. Idempotent: a second run
# installs nothing and takes a few seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# System packages: protoc (libp2p's build), a C toolchain (wasm-opt, ring…), Node.js + npm
# (the end-to-end tests' client, @polkadot/api).
missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v git >/dev/null || missing+=(git)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing system packages: ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Rust: the runtime is compiled to wasm (wasm32v1-none when the toolchain has it, else
# wasm32-unknown-unknown), which needs the targets and rust-src.
if ! command -v rustup >/dev/null; then
	echo "setup: rustup is missing; install Rust with rustup first" >&2
	exit 1
fi
installed_targets="$(rustup target list --installed)"
for t in wasm32-unknown-unknown wasm32v1-none; do
	grep -qx "$t" <<<"$installed_targets" || { log "adding rust target $t"; rustup target add "$t"; }
done
rustup component list --installed | grep -q '^rust-src' || { log "adding rust-src"; rustup component add rust-src; }

# npm packages, exactly as locked: the end-to-end tests' client (@polkadot/api) and the
# hypercore reference implementation the primitives are tested against.
for dir in "$REPO_ROOT/e2e" "$REPO_ROOT/primitives/fixtures"; do
	if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		log "installing npm packages in ${dir#"$REPO_ROOT"/} (npm ci)"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
done
log "setup: ok"
