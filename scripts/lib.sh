# Shared by the scripts: paths and small helpers. Source it, don't run it.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One cargo target dir outside the clone, so that CI and every clone reuse the same build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/datdot-target}"
NODE_BIN="$CARGO_TARGET_DIR/release/datdot-node"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# `timed NAME CMD…` runs CMD and logs how long it took.
timed() {
	local name="$1" start end
	shift
	start=$(date +%s)
	"$@"
	end=$(date +%s)
	log "$name took $((end - start)) s"
}

# `ensure_setup` runs setup.sh unless this shell already did.
ensure_setup() {
	if [ -z "${DATDOT_SETUP_DONE:-}" ]; then
		bash "$REPO_ROOT/scripts/setup.sh"
		export DATDOT_SETUP_DONE=1
	fi
}

# `build_all` builds the release datdot-node (with its wasm runtime) and every test.
# Building them in one cargo run gives one feature set, so the node binary that dev.sh
# runs and the one the tests use are the same artifacts, compiled once (a separate
# `cargo build -p datdot-node` would unify features differently and rebuild most crates).
build_all() {
	log "building datdot-node and the tests (release) into $CARGO_TARGET_DIR"
	timed "cargo build" \
		cargo test --release --locked --workspace --no-run --manifest-path "$REPO_ROOT/Cargo.toml"
}
