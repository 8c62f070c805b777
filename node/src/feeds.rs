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
//! Every feed is checked when it is first read (its blocks must rebuild the signed roots
//! and the signature must verify), so the node never serves what the feed's author did not
//! sign. Blocks stay on disk: a served feed holds its tree in memory (about 120 bytes per
//! block, whatever the block size) and reads each block when asked for, checking it against
//! the tree, so a feed of any size is served in bounded memory and a disk that damages a
//! block after the check is caught, not passed on. Creating and importing stream the bytes
//! too. A feed is read again when its directory was replaced (a `feed import` of a newer
//! length while the node runs).

use datdot_primitives::{
	json::{from_hex, signed_tree_from_json, to_hex, ProofFile},
	writer::FeedWriter,
	FeedAuth, Proof, SignedTree, SigningMode,
};
use std::{
	collections::BTreeMap,
	fs::{self, File},
	io::{self, BufReader, BufWriter, Read, Write},
	os::unix::fs::FileExt,
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
	/// A block read from disk no longer matches the tree checked when the feed was read.
	#[error("{path}: block {index} no longer matches the signed tree (damaged on disk): import the feed again")]
	Damaged { path: PathBuf, index: u64 },
	/// Nothing to put in a feed.
	#[error("no data: a feed needs at least one non-empty file")]
	Empty,
}

type Result<T> = std::result::Result<T, FeedError>;

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
	r.map_err(|source| FeedError::Io { path: path.to_owned(), source })
}

/// A feed served from its directory: the tree in memory, the blocks read on demand.
pub struct StoredFeed {
	/// The checked tree, without blocks.
	tree: FeedWriter,
	blocks_path: PathBuf,
	blocks: File,
	/// Where each block's record starts in `blocks`, then where the file ends.
	offsets: Vec<u64>,
}

impl StoredFeed {
	/// The feed key.
	pub fn key(&self) -> [u8; 32] {
		self.tree.key()
	}

	/// Key, signer and mode.
	pub fn auth(&self) -> FeedAuth {
		self.tree.auth()
	}

	/// The signed length.
	pub fn length(&self) -> u64 {
		self.tree.length()
	}

	/// The fork counter.
	pub fn fork(&self) -> u64 {
		self.tree.fork()
	}

	/// The signed tree.
	pub fn signed_tree(&self) -> SignedTree {
		self.tree.signed_tree()
	}

	/// The `tree.json` of the feed: `publish_feed`'s arguments.
	pub fn tree_json(&self) -> String {
		tree_json(&self.tree)
	}

	/// The byte length of block `index`, if the feed has it.
	pub fn block_len(&self, index: u64) -> Option<usize> {
		let i = usize::try_from(index).ok()?;
		let (start, end) = (*self.offsets.get(i)?, *self.offsets.get(i + 1)?);
		Some((end - start - 4) as usize)
	}

	/// The bytes of all blocks.
	pub fn byte_length(&self) -> u64 {
		self.offsets.last().copied().unwrap_or_default() - 4 * self.length()
	}

	/// Block `index` with its proof for a fresh verifier, read from disk and checked
	/// against the tree.
	pub fn block_proof(&self, index: u64) -> Result<Proof> {
		let out_of_range = || FeedError::NotSigned {
			path: self.blocks_path.clone(),
			why: datdot_primitives::Error::BlockOutOfRange,
		};
		let len = self.block_len(index).ok_or_else(out_of_range)?;
		let mut value = vec![0; len];
		let at = self.offsets[index as usize] + 4;
		io(&self.blocks_path, self.blocks.read_exact_at(&mut value, at))?;
		self.tree.block_proof_with(index, value).map_err(|why| match why {
			datdot_primitives::Error::RootMismatch => {
				FeedError::Damaged { path: self.blocks_path.clone(), index }
			}
			why => FeedError::NotSigned { path: self.blocks_path.clone(), why },
		})
	}
}

/// Key, manifest and signed tree from `dir`'s `tree.json`.
fn read_tree(dir: &Path) -> Result<(FeedAuth, Option<Vec<u8>>, SignedTree)> {
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
	Ok((auth, manifest, tree))
}

/// Reads and checks a feed directory (an export, or one of the store's), one block at a
/// time.
pub fn read_feed_dir(dir: &Path) -> Result<StoredFeed> {
	let (auth, manifest, tree) = read_tree(dir)?;
	let blocks_path = dir.join("blocks");
	let blocks = io(&blocks_path, File::open(&blocks_path))?;
	let size = io(&blocks_path, blocks.metadata())?.len();
	let mut records = BlockRecords {
		reader: BufReader::with_capacity(1 << 20, &blocks),
		size,
		offsets: vec![0],
		failed: None,
	};
	let checked = FeedWriter::from_signed_tree_only(auth, manifest.as_deref(), &mut records, &tree);
	match records.failed {
		Some(Some(source)) => return Err(FeedError::Io { path: blocks_path, source }),
		Some(None) => return Err(FeedError::BadBlocks { path: blocks_path }),
		None => {}
	}
	let tree = checked.map_err(|why| FeedError::NotSigned { path: dir.to_owned(), why })?;
	let offsets = records.offsets;
	Ok(StoredFeed { tree, blocks_path, blocks, offsets })
}

/// The blocks of a `blocks` file one at a time, noting where each starts. A read error
/// (`Some(Some(_))`) or a malformed file (`Some(None)`) ends the iteration in `failed`.
struct BlockRecords<R> {
	reader: R,
	size: u64,
	offsets: Vec<u64>,
	failed: Option<Option<io::Error>>,
}

impl<R: Read> Iterator for BlockRecords<R> {
	type Item = Vec<u8>;

	fn next(&mut self) -> Option<Vec<u8>> {
		let at = *self.offsets.last()?;
		if self.failed.is_some() || at == self.size {
			return None;
		}
		let mut len = [0; 4];
		let mut read = || -> io::Result<Option<Vec<u8>>> {
			if self.size - at < 4 {
				return Ok(None);
			}
			self.reader.read_exact(&mut len)?;
			let len = u64::from(u32::from_le_bytes(len));
			// Checked before allocating: a damaged length never asks for 4 GiB.
			if self.size - at - 4 < len {
				return Ok(None);
			}
			let mut block = vec![0; len as usize];
			self.reader.read_exact(&mut block)?;
			Ok(Some(block))
		};
		match read() {
			Ok(Some(block)) => {
				self.offsets.push(at + 4 + block.len() as u64);
				Some(block)
			}
			Ok(None) => {
				self.failed = Some(None);
				None
			}
			Err(e) => {
				self.failed = Some(Some(e));
				None
			}
		}
	}
}

/// The `tree.json` of a feed: what `publish_feed` needs, and what `hypercore verify` checks.
fn tree_json(feed: &FeedWriter) -> String {
	let manifest = (feed.auth().mode == SigningMode::ManifestV1).then(|| feed.manifest_bytes());
	ProofFile::tree(&feed.key(), manifest.as_deref(), &feed.signed_tree()).to_json()
}

/// The feeds this node serves, by key, with the [`FileStamp`] of the `tree.json` each was
/// read from.
pub struct FeedStore {
	dir: PathBuf,
	feeds: RwLock<BTreeMap<[u8; 32], ServedFeed>>,
}

/// A feed as served: what it was read from, and the feed.
type ServedFeed = (Option<FileStamp>, Arc<StoredFeed>);

/// Which file a path names and when it was written: inode and modification time, so that a
/// replaced file is told apart even within the clock's granularity.
type FileStamp = (u64, i64, i64);

/// The stamp of `dir`'s `tree.json` (`None` if there is none).
fn written_at(dir: &Path) -> Option<FileStamp> {
	use std::os::unix::fs::MetadataExt;
	let meta = fs::metadata(dir.join("tree.json")).ok()?;
	Some((meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

/// A [`FeedError`] carried through an `io::Error` (out of [`crate::durable::write_dir_with`]).
fn carried(e: FeedError) -> io::Error {
	io::Error::other(e)
}

/// The [`FeedError`] an `io::Error` carries, or the `io::Error` as one for `path`.
fn uncarried(path: &Path, e: io::Error) -> FeedError {
	match e.downcast::<FeedError>() {
		Ok(e) => e,
		Err(source) => FeedError::Io { path: path.to_owned(), source },
	}
}

impl FeedStore {
	/// Opens (or creates) the store in `dir`, removing leftovers of interrupted writes.
	/// Feeds are read and checked when first requested ([`FeedStore::get`]), so start-up does
	/// not read every feed's blocks.
	pub fn open(dir: &Path) -> Result<Self> {
		let on_disk = io(dir, crate::durable::entries(dir))?.len();
		log::info!(
			target: "datdot",
			"feed store {}: {on_disk} feeds, each read and checked when first requested",
			dir.display()
		);
		Ok(Self { dir: dir.to_owned(), feeds: RwLock::new(BTreeMap::new()) })
	}

	/// A new feed of `files`' bytes in order, cut into blocks of `block_size` bytes (a
	/// file's last block may be shorter), signed with the ed25519 key from `seed`, stored
	/// durably (replacing a feed with the same key) and served. The files are streamed: one
	/// block is in memory at a time.
	pub fn create(
		&self,
		files: &[PathBuf],
		block_size: usize,
		seed: [u8; 32],
		mode: SigningMode,
	) -> Result<(PathBuf, Arc<StoredFeed>)> {
		let mut feed = FeedWriter::from_seed(seed, mode).forget_blocks();
		let name = to_hex(&feed.key());
		let written = crate::durable::write_dir_with(&self.dir, &name, |tmp| {
			let mut out = BufWriter::with_capacity(1 << 20, File::create(tmp.join("blocks"))?);
			let mut offsets = vec![0u64];
			let mut block = Vec::with_capacity(block_size.max(1));
			for path in files {
				let input = File::open(path)
					.map_err(|source| carried(FeedError::Io { path: path.clone(), source }))?;
				let mut input = BufReader::with_capacity(1 << 20, input);
				loop {
					block.clear();
					(&mut input).take(block_size.max(1) as u64).read_to_end(&mut block)?;
					if block.is_empty() {
						break;
					}
					feed.append(&block)
						.map_err(|why| carried(FeedError::NotSigned { path: path.clone(), why }))?;
					out.write_all(&(block.len() as u32).to_le_bytes())?;
					out.write_all(&block)?;
					offsets.push(offsets[offsets.len() - 1] + 4 + block.len() as u64);
				}
			}
			if feed.length() == 0 {
				return Err(carried(FeedError::Empty));
			}
			out.flush()?;
			fs::write(tmp.join("tree.json"), tree_json(&feed))?;
			Ok(offsets)
		});
		let offsets = written.map_err(|e| uncarried(&self.dir, e))?;
		self.serve_stored(&name, feed, offsets)
	}

	/// Checks the feed exported in `export` (one block in memory at a time), stores it
	/// durably (replacing a feed with the same key) and serves it.
	pub fn import(&self, export: &Path) -> Result<(PathBuf, Arc<StoredFeed>)> {
		let checked = read_feed_dir(export)?;
		let name = to_hex(&checked.key());
		let blocks = &checked.blocks_path;
		crate::durable::write_dir_with(&self.dir, &name, |tmp| {
			fs::copy(blocks, tmp.join("blocks"))?;
			fs::write(tmp.join("tree.json"), tree_json(&checked.tree))
		})
		.map_err(|e| uncarried(&self.dir, e))?;
		let StoredFeed { tree, offsets, .. } = checked;
		self.serve_stored(&name, tree, offsets)
	}

	/// Serves the feed just stored as `name`, checked as `tree` with `offsets`.
	fn serve_stored(
		&self,
		name: &str,
		tree: FeedWriter,
		offsets: Vec<u64>,
	) -> Result<(PathBuf, Arc<StoredFeed>)> {
		let dir = self.dir.join(name);
		let blocks_path = dir.join("blocks");
		let blocks = io(&blocks_path, File::open(&blocks_path))?;
		let feed = Arc::new(StoredFeed { tree, blocks_path, blocks, offsets });
		let entry = (written_at(&dir), feed.clone());
		self.feeds.write().unwrap_or_else(|p| p.into_inner()).insert(feed.key(), entry);
		Ok((dir, feed))
	}

	/// The keys of the feeds in the store's directory (read or not yet).
	pub fn keys(&self) -> Vec<[u8; 32]> {
		// Not `durable::entries`: that clears `.tmp-` leftovers, which a running `create` or
		// `import` writes.
		let Ok(dir) = fs::read_dir(&self.dir) else { return Vec::new() };
		dir.filter_map(|entry| from_hex(entry.ok()?.file_name().to_str()?).ok()?.try_into().ok())
			.collect()
	}

	/// The feed with key `key`, if served here. A feed added to the directory since the
	/// store was opened, or replaced there since it was read (`feed create`/`feed import`
	/// while the node runs, e.g. a newer length), is read then.
	pub fn get(&self, key: &[u8; 32]) -> Option<Arc<StoredFeed>> {
		let dir = self.dir.join(to_hex(key));
		let written = written_at(&dir);
		if let Some((read, feed)) = self.feeds.read().unwrap_or_else(|p| p.into_inner()).get(key) {
			if *read == written {
				return Some(feed.clone());
			}
		}
		written?;
		let started = std::time::Instant::now();
		match read_feed_dir(&dir) {
			Ok(feed) if feed.key() == *key => {
				let feed = Arc::new(feed);
				let entry = (written, feed.clone());
				self.feeds.write().unwrap_or_else(|p| p.into_inner()).insert(*key, entry);
				log::info!(
					target: "datdot",
					"serving feed {} ({} blocks, {} bytes, checked in {:.1} s)",
					to_hex(key),
					feed.length(),
					feed.byte_length(),
					started.elapsed().as_secs_f64()
				);
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

	/// 10 000 bytes numbered mod 251, in `dir/input`.
	fn input(dir: &Path) -> (PathBuf, Vec<u8>) {
		let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
		let path = dir.join("input");
		fs::write(&path, &bytes).unwrap();
		(path, bytes)
	}

	#[test]
	fn created_feeds_are_stored_durably_and_served_again_after_reopening() {
		let dir = tempfile::tempdir().unwrap();
		let (input, bytes) = input(dir.path());
		let store = FeedStore::open(&dir.path().join("feeds")).unwrap();
		let (stored, feed) =
			store.create(&[input.clone(), input], 4096, [3; 32], SigningMode::ManifestV1).unwrap();
		// Two files of 10 000 bytes, 3 blocks each (4096, 4096, 1808).
		assert_eq!(feed.length(), 6);
		assert_eq!(feed.block_len(2), Some(1808));
		assert_eq!(feed.byte_length(), 20_000);
		let (key, tree) = (feed.key(), feed.signed_tree());
		// What `feed create` wrote is what the same seed writes in memory.
		let mut in_memory = FeedWriter::from_seed([3; 32], SigningMode::ManifestV1);
		for block in [&bytes[..4096], &bytes[4096..8192], &bytes[8192..]].repeat(2) {
			in_memory.append(block).unwrap();
		}
		assert_eq!(tree, in_memory.signed_tree());
		assert_eq!(store.get(&key).unwrap().signed_tree(), tree);
		drop(store);

		let reopened = FeedStore::open(&dir.path().join("feeds")).unwrap();
		let served = reopened.get(&key).unwrap();
		assert_eq!(served.signed_tree(), tree);
		assert_eq!(served.block_proof(4).unwrap(), in_memory.block_proof(4).unwrap());
		assert!(matches!(served.block_proof(6), Err(FeedError::NotSigned { .. })));

		// A tampered block is not served after a restart.
		let blocks = stored.join("blocks");
		let mut bytes = fs::read(&blocks).unwrap();
		let last = bytes.len() - 1;
		bytes[last] ^= 1;
		fs::write(&blocks, &bytes).unwrap();
		assert!(matches!(read_feed_dir(&stored), Err(FeedError::NotSigned { .. })));
		assert!(FeedStore::open(&dir.path().join("feeds")).unwrap().get(&key).is_none());
		// Nor is a truncated or overlong blocks file, even one whose length field lies.
		fs::write(&blocks, &bytes[..last]).unwrap();
		assert!(matches!(read_feed_dir(&stored), Err(FeedError::BadBlocks { .. })));
		fs::write(&blocks, [&bytes[..], &[0]].concat()).unwrap();
		assert!(matches!(read_feed_dir(&stored), Err(FeedError::BadBlocks { .. })));
		fs::write(&blocks, [&u32::MAX.to_le_bytes()[..], &bytes[4..]].concat()).unwrap();
		assert!(matches!(read_feed_dir(&stored), Err(FeedError::BadBlocks { .. })));
	}

	#[test]
	fn a_block_damaged_on_disk_after_the_check_is_refused_not_served() {
		let dir = tempfile::tempdir().unwrap();
		let (input, _) = input(dir.path());
		let store = FeedStore::open(&dir.path().join("feeds")).unwrap();
		let (stored, feed) = store.create(&[input], 4096, [4; 32], SigningMode::Compat).unwrap();
		assert!(feed.block_proof(1).is_ok());
		// One byte of block 1 flips in place (same file, so the store does not re-read it).
		let blocks = fs::OpenOptions::new().write(true).open(stored.join("blocks")).unwrap();
		let at = 4 + 4096 + 4 + 100;
		blocks.write_all_at(&[!((100 + 4096) % 251) as u8], at).unwrap();
		let served = store.get(&feed.key()).unwrap();
		assert!(matches!(served.block_proof(1), Err(FeedError::Damaged { index: 1, .. })));
		assert!(served.block_proof(0).is_ok());
		assert!(served.block_proof(2).is_ok());
	}

	#[test]
	fn an_export_is_checked_then_imported_and_a_bad_one_leaves_nothing() {
		let dir = tempfile::tempdir().unwrap();
		let (input, _) = input(dir.path());
		let publisher = FeedStore::open(&dir.path().join("publisher")).unwrap();
		let (export, feed) =
			publisher.create(&[input], 1000, [6; 32], SigningMode::ManifestV1).unwrap();
		let node = FeedStore::open(&dir.path().join("node")).unwrap();
		let (stored, imported) = node.import(&export).unwrap();
		assert_eq!(imported.signed_tree(), feed.signed_tree());
		assert_eq!(
			fs::read(stored.join("blocks")).unwrap(),
			fs::read(export.join("blocks")).unwrap()
		);
		assert_eq!(imported.block_proof(9).unwrap(), feed.block_proof(9).unwrap());

		// A damaged export is refused and the feed already stored stays as it was.
		let mut bytes = fs::read(export.join("blocks")).unwrap();
		bytes[10] ^= 1;
		fs::write(export.join("blocks"), &bytes).unwrap();
		assert!(matches!(node.import(&export), Err(FeedError::NotSigned { .. })));
		assert_eq!(node.get(&feed.key()).unwrap().signed_tree(), feed.signed_tree());
		let leftovers = fs::read_dir(dir.path().join("node")).unwrap().count();
		assert_eq!(leftovers, 1);
	}

	#[test]
	fn a_running_node_serves_the_newer_length_a_later_import_stored() {
		let dir = tempfile::tempdir().unwrap();
		let (input, _) = input(dir.path());
		let feeds = dir.path().join("feeds");
		let node = FeedStore::open(&feeds).unwrap();
		let short = std::slice::from_ref(&input);
		let (_, feed) = node.create(short, 4096, [5; 32], SigningMode::Compat).unwrap();
		let key = feed.key();
		assert_eq!(node.get(&key).unwrap().length(), 3);
		// `feed create` of the feed at a newer length, from another process.
		let long = [input.clone(), input];
		FeedStore::open(&feeds).unwrap().create(&long, 4096, [5; 32], SigningMode::Compat).unwrap();
		assert_eq!(node.get(&key).unwrap().length(), 6);
		// The copy read before stays readable to whoever still holds it.
		assert!(feed.block_proof(2).is_ok());
	}

	#[test]
	fn nothing_to_publish_is_an_error_and_leaves_nothing() {
		let dir = tempfile::tempdir().unwrap();
		let empty = dir.path().join("empty");
		fs::write(&empty, b"").unwrap();
		let store = FeedStore::open(&dir.path().join("feeds")).unwrap();
		let created = store.create(&[empty], 4096, [1; 32], SigningMode::Compat);
		assert!(matches!(created, Err(FeedError::Empty)));
		let missing =
			store.create(&[dir.path().join("missing")], 4096, [1; 32], SigningMode::Compat);
		assert!(matches!(missing, Err(FeedError::Io { path, .. }) if path.ends_with("missing")));
		assert_eq!(fs::read_dir(dir.path().join("feeds")).unwrap().count(), 0);
	}
}
