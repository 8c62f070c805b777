//! `datdot-node hypercore …` and `datdot-node feed …`: hypercore tools for publishers and
//! operators.

use crate::cli::{FeedCreateCmd, FeedImportCmd, HypercoreCmd};
use datdot_node::feeds::{self, FeedStore};
use datdot_primitives::SigningMode;
use std::{io::Read, path::Path};

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
	let feed =
		feeds::create_feed(&cmd.files, cmd.block_size, seed, mode).map_err(|e| e.to_string())?;
	store(feed, feeds_dir)
}

/// `feed import`: checks the exported feed, stores it and prints its `tree.json`.
pub fn import(cmd: &FeedImportCmd, feeds_dir: &Path) -> sc_cli::Result<()> {
	let feed = feeds::read_feed_dir(&cmd.dir).map_err(|e| e.to_string())?;
	store(feed, feeds_dir)
}

fn store(feed: datdot_primitives::writer::FeedWriter, feeds_dir: &Path) -> sc_cli::Result<()> {
	let tree = feeds::tree_json(&feed);
	let (length, key) = (feed.length(), datdot_primitives::json::to_hex(&feed.key()));
	let bytes: usize = (0..length).filter_map(|i| feed.block(i)).map(|b| b.len()).sum();
	let store = FeedStore::open(feeds_dir).map_err(|e| e.to_string())?;
	let dir = store.add(feed).map_err(|e| e.to_string())?;
	eprintln!("feed {key}: {length} blocks, {bytes} bytes, stored in {}", dir.display());
	println!("{tree}");
	Ok(())
}
