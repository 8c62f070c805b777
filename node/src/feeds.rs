//! The feeds this node serves to encoders: hypercores created here (`feed create`) or
//! written by hypercore and imported (`feed import`).
//!
//! One directory per feed under `<base-path>/chains/<chain>/datdot/feeds/<key hex>/`, in
//! the same format `scripts/export-hypercore.mjs` exports a JS hypercore to:
//! - `tree.json`: key, manifest and signed tree in datdot's JSON format (docs/
//!   hypercore-json.md; `datdot-node hypercore verify` checks it, and its fields are
//!   `publish_feed`'s arguments);
//! - `blocks`: every block as a little-endian u32 length and the bytes.
//!
//! Every feed is checked when it is read (its blocks must rebuild the signed roots and the
//! signature must verify), so the node never serves what the feed's author did not sign.
//! Served feeds are held in memory (blocks and tree), and read again when their directory
//! was replaced since (a `feed import` of a newer length while the node runs).

use datdot_primitives::{
	json::{from_hex, signed_tree_from_json, to_hex, ProofFile},
	writer::FeedWriter,
	FeedAuth, SigningMode,
};
use std::{
	collections::BTreeMap,
	fs,
	path::{Path, PathBuf},
	sync::{Arc, RwLock},
};

/// Why a feed could not be read, written or created.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
	/// A filesystem operation failed.
	#[error("{path}: {source}")]
	Io { path: PathBuf, source: std::io::Error },
	/// `tree.json` is not a signed tree in datdot's JSON format.
	#[error("{path}: not a feed's tree.json: {why}")]
	BadTree { path: PathBuf, why: String },
	/// `blocks` is cut short or has bytes after the last block.
	#[error("{path}: the blocks file is truncated or has trailing bytes")]
	BadBlocks { path: PathBuf },
	/// The blocks do not rebuild the signed tree, or the signature does not verify.
	#[error("{path}: the blocks are not the feed its author signed: {why:?}")]
	NotSigned { path: PathBuf, why: datdot_primitives::Error },
	/// Nothing to put in a feed.
	#[error("no data: a feed needs at least one non-empty file")]
	Empty,
}

type Result<T> = std::result::Result<T, FeedError>;

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
	r.map_err(|source| FeedError::Io { path: path.to_owned(), source })
}

/// Reads and checks a feed directory (an export, or one of the store's).
pub fn read_feed_dir(dir: &Path) -> Result<FeedWriter> {
	let tree_path = dir.join("tree.json");
	let bad = |why: String| FeedError::BadTree { path: tree_path.clone(), why };
	let text = io(&tree_path, fs::read_to_string(&tree_path))?;
	let file: ProofFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
	let key: [u8; 32] = from_hex(&file.key)
		.ok()
		.and_then(|k| k.try_into().ok())
		.ok_or_else(|| bad("key is not 32 bytes of hex".into()))?;
	let manifest =
		file.manifest.as_deref().map(from_hex).transpose().map_err(|e| bad(format!("{e:?}")))?;
	let tree = file.tree.as_ref().ok_or_else(|| bad("no `tree`".into()))?;
	let tree = signed_tree_from_json(tree).map_err(|e| bad(format!("{e:?}")))?;
	let auth = FeedAuth::from_key(key, manifest.as_deref()).map_err(|e| bad(format!("{e:?}")))?;

	let blocks_path = dir.join("blocks");
	let bytes = io(&blocks_path, fs::read(&blocks_path))?;
	let blocks = split_blocks(&bytes).ok_or(FeedError::BadBlocks { path: blocks_path })?;
	FeedWriter::from_signed(auth, manifest.as_deref(), blocks, &tree)
		.map_err(|why| FeedError::NotSigned { path: dir.to_owned(), why })
}

/// The blocks of a `blocks` file, or `None` if it is malformed.
fn split_blocks(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
	let mut blocks = Vec::new();
	while !bytes.is_empty() {
		let (len, rest) = bytes.split_first_chunk::<4>()?;
		let len = u32::from_le_bytes(*len) as usize;
		if rest.len() < len {
			return None;
		}
		blocks.push(rest[..len].to_vec());
		bytes = &rest[len..];
	}
	Some(blocks)
}

/// The `tree.json` of `feed`: what `publish_feed` needs, and what `hypercore verify` checks.
pub fn tree_json(feed: &FeedWriter) -> String {
	let manifest = (feed.auth().mode == SigningMode::ManifestV1).then(|| feed.manifest_bytes());
	ProofFile::tree(&feed.key(), manifest.as_deref(), &feed.signed_tree()).to_json()
}

/// Writes `feed` as a feed directory `parent/name`, durably.
fn write_feed_dir(parent: &Path, name: &str, feed: &FeedWriter) -> Result<()> {
	let tree = tree_json(feed);
	let mut blocks: Vec<Vec<u8>> = Vec::new();
	for i in 0..feed.length() {
		let block = feed.block(i).unwrap_or_default();
		blocks.push((block.len() as u32).to_le_bytes().to_vec());
		blocks.push(block.to_vec());
	}
	let parts: Vec<&[u8]> = blocks.iter().map(|b| &b[..]).collect();
	let files: [(&str, &[&[u8]]); 2] = [("tree.json", &[tree.as_bytes()]), ("blocks", &parts)];
	io(parent, crate::durable::write_dir(parent, name, &files))
}

/// A new feed of `files`' bytes in order, cut into blocks of `block_size` bytes (a file's
/// last block may be shorter), signed with the ed25519 key from `seed`.
pub fn create_feed(
	files: &[PathBuf],
	block_size: usize,
	seed: [u8; 32],
	mode: SigningMode,
) -> Result<FeedWriter> {
	let mut feed = FeedWriter::from_seed(seed, mode);
	for path in files {
		let bytes = io(path, fs::read(path))?;
		for block in bytes.chunks(block_size.max(1)) {
			feed.append(block).map_err(|why| FeedError::NotSigned { path: path.clone(), why })?;
		}
	}
	if feed.length() == 0 {
		return Err(FeedError::Empty);
	}
	Ok(feed)
}

/// The feeds this node serves, by key, with the [`FileStamp`] of the `tree.json` each was
/// read from.
pub struct FeedStore {
	dir: PathBuf,
	feeds: RwLock<BTreeMap<[u8; 32], ServedFeed>>,
}

/// A feed as served: what it was read from, and the feed.
type ServedFeed = (Option<FileStamp>, Arc<FeedWriter>);

/// Which file a path names and when it was written: inode and modification time, so that a
/// replaced file is told apart even within the clock's granularity.
type FileStamp = (u64, i64, i64);

/// The stamp of `dir`'s `tree.json` (`None` if there is none).
fn written_at(dir: &Path) -> Option<FileStamp> {
	use std::os::unix::fs::MetadataExt;
	let meta = fs::metadata(dir.join("tree.json")).ok()?;
	Some((meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

impl FeedStore {
	/// Opens (or creates) the store in `dir`, removing leftovers of interrupted writes.
	/// Feeds are read and checked when first requested ([`FeedStore::get`]), so start-up does
	/// not read every feed's blocks and memory holds only the feeds encoders ask for.
	pub fn open(dir: &Path) -> Result<Self> {
		let on_disk = io(dir, crate::durable::entries(dir))?.len();
		log::info!(
			target: "datdot",
			"feed store {}: {on_disk} feeds, each read and checked when first requested",
			dir.display()
		);
		Ok(Self { dir: dir.to_owned(), feeds: RwLock::new(BTreeMap::new()) })
	}

	/// Stores `feed` durably and serves it; returns where it is stored. A feed with the
	/// same key is replaced.
	pub fn add(&self, feed: FeedWriter) -> Result<PathBuf> {
		let name = to_hex(&feed.key());
		write_feed_dir(&self.dir, &name, &feed)?;
		let dir = self.dir.join(name);
		let entry = (written_at(&dir), Arc::new(feed));
		self.feeds.write().unwrap_or_else(|p| p.into_inner()).insert(entry.1.key(), entry);
		Ok(dir)
	}

	/// The keys of the feeds in the store's directory (read or not yet).
	pub fn keys(&self) -> Vec<[u8; 32]> {
		// Not `durable::entries`: that clears `.tmp-` leftovers, which a running `add` writes.
		let Ok(dir) = fs::read_dir(&self.dir) else { return Vec::new() };
		dir.filter_map(|entry| from_hex(entry.ok()?.file_name().to_str()?).ok()?.try_into().ok())
			.collect()
	}

	/// The feed with key `key`, if served here. A feed added to the directory since the
	/// store was opened, or replaced there since it was read (`feed create`/`feed import`
	/// while the node runs, e.g. a newer length), is read then.
	pub fn get(&self, key: &[u8; 32]) -> Option<Arc<FeedWriter>> {
		let dir = self.dir.join(to_hex(key));
		let written = written_at(&dir);
		if let Some((read, feed)) = self.feeds.read().unwrap_or_else(|p| p.into_inner()).get(key) {
			if *read == written {
				return Some(feed.clone());
			}
		}
		written?;
		match read_feed_dir(&dir) {
			Ok(feed) if feed.key() == *key => {
				let feed = Arc::new(feed);
				let entry = (written, feed.clone());
				self.feeds.write().unwrap_or_else(|p| p.into_inner()).insert(*key, entry);
				log::info!(target: "datdot", "serving feed {} ({} blocks)", to_hex(key), feed.length());
				Some(feed)
			}
			Ok(_) => None,
			Err(e) => {
				log::error!(target: "datdot", "not serving {}: {e}", dir.display());
				None
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn created_feeds_are_stored_durably_and_served_again_after_reopening() {
		let dir = tempfile::tempdir().unwrap();
		let input = dir.path().join("input");
		fs::write(&input, (0..10_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()).unwrap();
		let feed =
			create_feed(&[input.clone(), input], 4096, [3; 32], SigningMode::ManifestV1).unwrap();
		// Two files of 10 000 bytes, 3 blocks each (4096, 4096, 1808).
		assert_eq!(feed.length(), 6);
		assert_eq!(feed.block(2).unwrap().len(), 1808);
		let key = feed.key();
		let tree = feed.signed_tree();

		let store = FeedStore::open(&dir.path().join("feeds")).unwrap();
		let stored = store.add(feed).unwrap();
		assert_eq!(store.get(&key).unwrap().signed_tree(), tree);
		drop(store);

		let reopened = FeedStore::open(&dir.path().join("feeds")).unwrap();
		let served = reopened.get(&key).unwrap();
		assert_eq!(served.signed_tree(), tree);
		assert_eq!(served.block_proof(4).unwrap().block.unwrap().value, served.block(4).unwrap());

		// A tampered block is not served after a restart.
		let blocks = stored.join("blocks");
		let mut bytes = fs::read(&blocks).unwrap();
		let last = bytes.len() - 1;
		bytes[last] ^= 1;
		fs::write(&blocks, &bytes).unwrap();
		assert!(matches!(read_feed_dir(&stored), Err(FeedError::NotSigned { .. })));
		assert!(FeedStore::open(&dir.path().join("feeds")).unwrap().get(&key).is_none());
		fs::write(&blocks, &bytes[..last]).unwrap();
		assert!(matches!(read_feed_dir(&stored), Err(FeedError::BadBlocks { .. })));
	}

	#[test]
	fn a_running_node_serves_the_newer_length_a_later_import_stored() {
		let dir = tempfile::tempdir().unwrap();
		let input = dir.path().join("input");
		fs::write(&input, vec![7u8; 10_000]).unwrap();
		let feeds = dir.path().join("feeds");
		let short =
			create_feed(std::slice::from_ref(&input), 4096, [5; 32], SigningMode::Compat).unwrap();
		let key = short.key();
		let node = FeedStore::open(&feeds).unwrap();
		node.add(short).unwrap();
		assert_eq!(node.get(&key).unwrap().length(), 3);
		// `feed import` of the feed at a newer length, from another process.
		let long = create_feed(&[input.clone(), input], 4096, [5; 32], SigningMode::Compat);
		FeedStore::open(&feeds).unwrap().add(long.unwrap()).unwrap();
		assert_eq!(node.get(&key).unwrap().length(), 6);
	}

	#[test]
	fn nothing_to_publish_is_an_error() {
		let dir = tempfile::tempdir().unwrap();
		let empty = dir.path().join("empty");
		fs::write(&empty, b"").unwrap();
		assert!(matches!(
			create_feed(&[empty], 4096, [1; 32], SigningMode::Compat),
			Err(FeedError::Empty)
		));
	}
}
