//! `datdot-node hypercore …` and `datdot-node feed …`: hypercore tools for publishers and
//! operators.

use crate::cli::{FeedCreateCmd, FeedImportCmd, HypercoreCmd};
use datdot_node::feeds::{FeedStore, StoredFeed};
use datdot_primitives::SigningMode;
use std::{
	io::Read,
	path::{Path, PathBuf},
	sync::Arc,
};

/// Runs a `hypercore` sub-command. A proof that does not verify is a user-facing result,
/// not a node error: it prints the reason and exits with status 1.
pub fn run(cmd: &HypercoreCmd) -> sc_cli::Result<()> {
	match cmd {
		HypercoreCmd::Verify { file } => {
			let text = read_input(file)?;
			match datdot_primitives::json::verify_proof_json(&text) {
				Ok(summary) => {
					println!("{summary}");
					Ok(())
				}
				Err(e) => {
					eprintln!("invalid: {e}");
					std::process::exit(1);
				}
			}
		}
	}
}

fn read_input(file: &std::path::Path) -> sc_cli::Result<String> {
	let mut text = String::new();
	let read = if file.as_os_str() == "-" {
		std::io::stdin().read_to_string(&mut text).map(|_| ())
	} else {
		std::fs::read_to_string(file).map(|t| text = t)
	};
	read.map_err(|e| format!("cannot read {}: {e}", file.display()).into()).map(|_| text)
}

/// `feed create`: builds the feed, stores it in the feed store under `feeds_dir` (a running
/// node serves it from its next request) and prints its `tree.json`.
pub fn create(cmd: &FeedCreateCmd, feeds_dir: &Path) -> sc_cli::Result<()> {
	let seed: [u8; 32] = match &cmd.seed {
		Some(hex) => datdot_primitives::json::from_hex(hex)
			.ok()
			.and_then(|s| s.try_into().ok())
			.ok_or("--seed must be 32 bytes of hex")?,
		None => {
			use sp_core::Pair;
			let (_, seed) = sp_core::ed25519::Pair::generate();
			eprintln!(
				"secret seed (keep it to extend the feed later): {}",
				datdot_primitives::json::to_hex(&seed)
			);
			seed
		}
	};
	let mode = if cmd.compat { SigningMode::Compat } else { SigningMode::ManifestV1 };
	let store = FeedStore::open(feeds_dir).map_err(|e| e.to_string())?;
	let stored = store.create(&cmd.files, cmd.block_size, seed, mode);
	report(stored.map_err(|e| e.to_string())?)
}

/// `feed import`: checks the exported feed, stores it and prints its `tree.json`.
pub fn import(cmd: &FeedImportCmd, feeds_dir: &Path) -> sc_cli::Result<()> {
	let store = FeedStore::open(feeds_dir).map_err(|e| e.to_string())?;
	report(store.import(&cmd.dir).map_err(|e| e.to_string())?)
}

/// Says where a feed was stored and prints its `tree.json`.
fn report((dir, feed): (PathBuf, Arc<StoredFeed>)) -> sc_cli::Result<()> {
	let tree = feed.tree_json();
	let (length, bytes) = (feed.length(), feed.byte_length());
	let key = datdot_primitives::json::to_hex(&feed.key());
	eprintln!("feed {key}: {length} blocks, {bytes} bytes, stored in {}", dir.display());
	println!("{tree}");
	Ok(())
}
