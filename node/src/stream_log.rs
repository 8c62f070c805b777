//! A replica's sealed stream on disk, as the encoder makes it and as the hoster receives
//! it: appended a chunk at a time, each chunk durable before the transfer goes on. Neither
//! end holds a replica in memory (only each block's length and hypercore proof, a few KB),
//! and both resume after a restart or `kill -9` from the last block on disk.
//!
//! One directory per stream:
//! - `head`: which stream it is ([`StreamHead`]), SCALE-encoded with a BLAKE2b checksum;
//!   a stream of another draw (another encoder key, feed state or range) starts afresh;
//! - `data`: the sealed blocks back to back (becomes the replica's `data` file);
//! - `index`: per block, `u32le(sealed length) ‖ u32le(proof length) ‖ proof ‖
//!   BLAKE2b(all three)`.
//!
//! `data` is synced before `index`, so every block the index lists is on disk whole; a
//! torn tail of either (a record that does not check out, or bytes past the last whole
//! block) is cut off when the stream is opened again. A stream is deleted by renaming it to
//! a `.tmp-` name first, so a crash mid-delete never leaves a stream that looks whole.

use crate::{
	durable::{sync_dir, write_synced},
	replica::StreamBlock,
};
use codec::{Decode, Encode};
use datdot_primitives::{
	encoded::{EncodedRoot, ReplicaId, SEGMENT_SIZE},
	hash::blake2b256,
	sealing::SealingKey,
	Hash, Proof,
};
use pallet_datdot::types::FeedState;
use std::{
	fs::{self, File, OpenOptions},
	io,
	ops::Range,
	os::unix::fs::FileExt,
	path::{Path, PathBuf},
};

/// What a stream is of: a block it holds is only good for the same replica, encoder key,
/// blocks and signed feed state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StreamHead {
	pub id: ReplicaId,
	/// The feed's signed state as the chain stated it for the draw, hashed.
	pub feed_state: Hash,
	pub blocks: (u64, u64),
	/// The encoder's sealing key (public part).
	pub key: SealingKey,
}

impl StreamHead {
	pub fn new(feed: &FeedState, id: ReplicaId, blocks: &Range<u64>, key: SealingKey) -> Self {
		let feed_state = blake2b256(&[&feed.encode()]);
		Self { id, feed_state, blocks: (blocks.start, blocks.end), key }
	}
}

/// A block the log holds: where its sealed bytes are in `data`, and its proof.
struct Logged {
	offset: u64,
	len: u32,
	proof: Proof,
}

/// An open stream log (see the module docs).
pub struct StreamLog {
	dir: PathBuf,
	head: StreamHead,
	data: File,
	index: File,
	blocks: Vec<Logged>,
	data_len: u64,
	index_len: u64,
}

impl StreamLog {
	/// Opens the stream `head` in directory `dir`: what an earlier run logged of the same
	/// stream is kept (up to its last whole block); anything else there is replaced.
	pub fn open(dir: &Path, head: StreamHead) -> io::Result<Self> {
		let encoded = head.encode();
		let same = fs::read(dir.join("head"))
			.ok()
			.and_then(|bytes| {
				let (body, checksum) = bytes.split_at(bytes.len().checked_sub(32)?);
				(blake2b256(&[body]) == checksum).then(|| body.to_vec())
			})
			.is_some_and(|body| body == encoded);
		if !same {
			if dir.exists() {
				fs::remove_dir_all(dir)?;
			}
			fs::create_dir_all(dir)?;
			for file in ["data", "index"] {
				write_synced(&dir.join(file), &[])?;
			}
			write_synced(&dir.join("head"), &[&encoded[..], &blake2b256(&[&encoded])].concat())?;
			sync_dir(dir)?;
			if let Some(parent) = dir.parent() {
				sync_dir(parent)?;
			}
		}
		// A file lost to a crash is an empty one: what it listed is dropped by `recover`.
		let open = |name| {
			OpenOptions::new()
				.read(true)
				.write(true)
				.create(true)
				.truncate(false)
				.open(dir.join(name))
		};
		let (data, index) = (open("data")?, open("index")?);
		let mut log = Self {
			dir: dir.to_owned(),
			head,
			data,
			index,
			blocks: Vec::new(),
			data_len: 0,
			index_len: 0,
		};
		log.recover()?;
		Ok(log)
	}

	/// Reads the index back, keeping the blocks whose record and bytes are whole, and cuts
	/// off what an interrupted append left after them.
	fn recover(&mut self) -> io::Result<()> {
		let index = fs::read(self.dir.join("index"))?;
		let on_disk = self.data.metadata()?.len();
		let mut at = 0usize;
		while let Some(record) = index.get(at..) {
			let word = |i: usize| -> Option<u32> {
				Some(u32::from_le_bytes(record.get(i..i + 4)?.try_into().ok()?))
			};
			let (Some(len), Some(proof_len)) = (word(0), word(4)) else { break };
			let end = 8 + proof_len as usize;
			let (Some(body), Some(checksum)) = (record.get(..end), record.get(end..end + 32))
			else {
				break;
			};
			if blake2b256(&[body]) != checksum || whole_segments(len as usize).is_none() {
				break;
			}
			let Ok(proof) = Proof::decode(&mut &body[8..]) else { break };
			if self.data_len + u64::from(len) > on_disk {
				break;
			}
			self.blocks.push(Logged { offset: self.data_len, len, proof });
			self.data_len += u64::from(len);
			at += end + 32;
		}
		self.index_len = at as u64;
		if at as u64 != index.len() as u64 || on_disk != self.data_len {
			self.data.set_len(self.data_len)?;
			self.index.set_len(self.index_len)?;
			self.data.sync_all()?;
			self.index.sync_all()?;
		}
		Ok(())
	}

	/// What the stream is of.
	pub fn head(&self) -> &StreamHead {
		&self.head
	}

	/// The directory the stream is in.
	pub fn dir(&self) -> &Path {
		&self.dir
	}

	/// Blocks logged.
	pub fn len(&self) -> usize {
		self.blocks.len()
	}

	/// Whether no block is logged yet.
	pub fn is_empty(&self) -> bool {
		self.blocks.is_empty()
	}

	/// Sealed bytes logged.
	pub fn data_len(&self) -> u64 {
		self.data_len
	}

	/// Segments logged (every sealed block is whole segments).
	pub fn segments(&self) -> u64 {
		self.data_len / SEGMENT_SIZE as u64
	}

	/// Each logged block's sealed length, in order.
	pub fn block_lens(&self) -> Vec<u32> {
		self.blocks.iter().map(|b| b.len).collect()
	}

	/// Each logged block's proof, in order.
	pub fn proofs(&self) -> Vec<Proof> {
		self.blocks.iter().map(|b| b.proof.clone()).collect()
	}

	/// Appends `blocks` and makes them durable: the sealed bytes first, then their records.
	pub fn append(&mut self, blocks: &[StreamBlock]) -> io::Result<()> {
		if blocks.is_empty() {
			return Ok(());
		}
		let whole = |b: &StreamBlock| whole_segments(b.sealed.len());
		if !blocks.iter().all(|b| whole(b).is_some()) {
			let e = "a sealed block must be whole segments: nothing of this chunk was logged";
			return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
		}
		let mut offset = self.data_len;
		let mut records = Vec::new();
		let mut logged = Vec::with_capacity(blocks.len());
		for (block, len) in blocks.iter().filter_map(|b| Some((b, whole(b)?))) {
			self.data.write_all_at(&block.sealed, offset)?;
			let proof = block.proof.encode();
			let start = records.len();
			records.extend_from_slice(&len.to_le_bytes());
			records.extend_from_slice(&(proof.len() as u32).to_le_bytes());
			records.extend_from_slice(&proof);
			let checksum = blake2b256(&[&records[start..]]);
			records.extend_from_slice(&checksum);
			logged.push(Logged { offset, len, proof: block.proof.clone() });
			offset += u64::from(len);
		}
		self.data.sync_data()?;
		self.index.write_all_at(&records, self.index_len)?;
		self.index.sync_data()?;
		self.data_len = offset;
		self.index_len += records.len() as u64;
		self.blocks.extend(logged);
		Ok(())
	}

	/// The logged blocks from block `from` (counted from the stream's first) that fit in
	/// `max_bytes` (at least one), read from disk.
	pub fn read(&self, from: usize, max_bytes: u32) -> io::Result<Vec<StreamBlock>> {
		let wanted = crate::net::chunk(
			self.blocks.get(from..).unwrap_or_default().iter(),
			|b: &&Logged| b.len as usize + b.proof.encoded_size(),
			max_bytes,
		);
		wanted
			.into_iter()
			.map(|b| Ok(StreamBlock { sealed: self.sealed(b)?, proof: b.proof.clone() }))
			.collect()
	}

	fn sealed(&self, block: &Logged) -> io::Result<Vec<u8>> {
		let mut sealed = vec![0u8; block.len as usize];
		self.data.read_exact_at(&mut sealed, block.offset)?;
		Ok(sealed)
	}

	/// Builds the segment tree of the logged stream into the directory's `tree` file and
	/// returns its root.
	pub fn root(&self) -> io::Result<EncodedRoot> {
		crate::tree_file::write_tree(&self.head.id, &self.dir.join("data"), &self.dir.join("tree"))
	}
}

/// A sealed block's length if it is whole segments (and some).
fn whole_segments(len: usize) -> Option<u32> {
	u32::try_from(len).ok().filter(|&l| l > 0 && (l as usize).is_multiple_of(SEGMENT_SIZE))
}

/// Removes stream directory `dir` (a no-op if it is gone): renamed to a `.tmp-` name in
/// one step first, which the next listing ([`crate::durable::entries`]) clears if this is
/// cut off.
pub fn remove(dir: &Path) -> io::Result<()> {
	let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
		return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a stream directory"));
	};
	let doomed = parent.join(format!(".tmp-{}", name.to_string_lossy()));
	match fs::rename(dir, &doomed) {
		Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
		renamed => renamed?,
	}
	sync_dir(parent)?;
	fs::remove_dir_all(&doomed)
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::replica::tests::{encode_stream, feed, proofs, test_sealer, ID};

	fn head(feed: &FeedState, range: Range<u64>) -> StreamHead {
		StreamHead::new(feed, ID, &range, *test_sealer().key())
	}

	#[test]
	fn a_log_resumes_after_its_last_whole_block_and_serves_what_it_holds() {
		let (w, chain) = feed(10);
		let (replica, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("c3-r1");
		let mut log = StreamLog::open(&path, head(&chain, 2..8)).unwrap();
		log.append(&stream[..2]).unwrap();
		log.append(&stream[2..4]).unwrap();
		assert_eq!(log.read(1, u32::MAX).unwrap(), stream[1..4]);
		assert_eq!(log.read(1, 1).unwrap(), stream[1..2], "at least one block");
		drop(log);
		// A crash mid-append: block 4's bytes partly written, its record torn (whole in
		// length, but not what was written: its checksum is off).
		let data_len = fs::metadata(path.join("data")).unwrap().len();
		let extra = &stream[4].sealed[..SEGMENT_SIZE / 2];
		fs::write(
			path.join("data"),
			[fs::read(path.join("data")).unwrap(), extra.to_vec()].concat(),
		)
		.unwrap();
		let index = fs::read(path.join("index")).unwrap();
		// A whole-looking record whose checksum is off is torn too.
		let mut records = StreamLog::open(&dir.path().join("other"), head(&chain, 2..8)).unwrap();
		records.append(&stream[4..5]).unwrap();
		let mut torn = fs::read(dir.path().join("other/index")).unwrap();
		*torn.last_mut().unwrap() ^= 1;
		fs::write(path.join("index"), [&index[..], &torn].concat()).unwrap();
		let mut log = StreamLog::open(&path, head(&chain, 2..8)).unwrap();
		assert_eq!((log.len(), log.data_len()), (4, data_len));
		assert_eq!(fs::metadata(path.join("data")).unwrap().len(), data_len);
		assert_eq!(fs::read(path.join("index")).unwrap(), index);
		log.append(&stream[4..]).unwrap();
		assert_eq!(log.read(0, u32::MAX).unwrap(), stream);
		assert_eq!(log.root().unwrap(), replica.root());
		assert_eq!(log.segments(), replica.root().segments);
		// A record whose block's bytes never reached the disk is dropped too.
		drop(log);
		fs::write(path.join("data"), &fs::read(path.join("data")).unwrap()[..data_len as usize])
			.unwrap();
		let log = StreamLog::open(&path, head(&chain, 2..8)).unwrap();
		assert_eq!(log.len(), 4);
		// Another draw's stream (another key, range or feed state) starts afresh.
		let mut key = *test_sealer().key();
		key.0[0] ^= 1;
		let other_key = StreamHead { key, ..head(&chain, 2..8) };
		for other in [head(&chain, 2..9), other_key] {
			let log = StreamLog::open(&path, other).unwrap();
			assert_eq!(log.len(), 0);
			let log = StreamLog::open(&path, head(&chain, 2..8)).unwrap();
			assert_eq!(log.len(), 0);
		}
	}

	#[test]
	fn an_encoding_cut_off_by_a_restart_resumes_to_the_same_stream_and_root() {
		use crate::replica::StreamEncoder;
		let (w, chain) = feed(10);
		let (replica, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("c3-r1");
		let sealer = std::sync::Arc::new(test_sealer());
		let encode = |upto: u64| {
			let mut log = StreamLog::open(&path, head(&chain, 2..8)).unwrap();
			let resumed = (log.len(), log.segments());
			let mut encoder = StreamEncoder::new(chain.clone(), ID, 2..8, sealer.clone(), resumed);
			let from = encoder.next_index().unwrap();
			let blocks: Vec<_> =
				proofs(&w, from..upto).into_iter().map(|p| encoder.add(p).unwrap()).collect();
			log.append(&blocks).unwrap();
			(log, encoder.next_index())
		};
		let (log, next) = encode(5);
		assert_eq!((log.len(), next), (3, Some(5)));
		drop(log);
		assert_eq!(StreamLog::open(&path, head(&chain, 2..8)).unwrap().len(), 3, "resumed");
		let (log, next) = encode(8);
		assert_eq!((log.len(), next), (6, None));
		assert_eq!(log.read(0, u32::MAX).unwrap(), stream);
		assert_eq!(log.root().unwrap(), replica.root());
	}

	#[test]
	fn a_block_that_is_not_whole_segments_is_refused_and_nothing_is_logged() {
		let (w, chain) = feed(4);
		let (_, mut stream) = encode_stream(&chain, 0..4, proofs(&w, 0..4)).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let mut log = StreamLog::open(&dir.path().join("s"), head(&chain, 0..4)).unwrap();
		stream[1].sealed.pop();
		assert!(log.append(&stream[1..2]).is_err());
		stream[1].sealed.clear();
		assert!(log.append(&stream[1..2]).is_err());
		assert_eq!((log.len(), log.data_len()), (0, 0));
		remove(&dir.path().join("s")).unwrap();
		remove(&dir.path().join("s")).unwrap();
	}
}
