//! A hoster's evidence against its encoder (design §5.6): once a block of the sealed stream
//! is refused, the hoster keeps receiving the rest as is, rebuilds the encoder's tree and,
//! if it is the tree the encoder committed on chain, finds the segments that prove the
//! fraud. The proof is judged here by the same code the chain runs
//! (`datdot_primitives::fraud::judge_encoding`), so the node only sends proofs that hold.

use crate::{replica::StreamBlock, stream_log::StreamLog, tree_file};
use datdot_primitives::{
	encoded::{EncodedRoot, ReplicaId, SegmentProof, SEGMENT_SIZE},
	fraud::{judge_encoding, CommittedEncoding, EncodingFault, EncodingFraudProof},
	sealing::{SealingKey, Unsealer},
	DalekVerifier, Proof, VerifiedTree,
};
use pallet_datdot::types::FeedState;
use std::{
	collections::{BTreeMap, BTreeSet},
	fs::{File, OpenOptions},
	io::{self, Read, Write},
	ops::Range,
	os::unix::fs::FileExt,
	path::PathBuf,
};

/// The files evidence adds to a stream's directory: the unchecked rest of the stream and
/// the tree over the whole of it.
pub const EVIDENCE_FILES: [&str; 2] = ["evidence", "evidence-tree"];

/// Everything the encoder sent, the refused block included, in order, on disk: the
/// accepted blocks are the stream log's data, and the refused block and the rest, unchecked,
/// go to a file beside it (`evidence`). A cheating encoder can make its hoster keep a whole
/// replica, but not hold it in memory.
pub struct Evidence {
	id: ReplicaId,
	key: SealingKey,
	range: Range<u64>,
	/// The stream log's data file and the length of its accepted blocks.
	accepted: (PathBuf, u64),
	/// The refused block and what came after it, unchecked, and its length.
	rest: (PathBuf, File, u64),
	/// Blocks of the stream so far (accepted, refused and after).
	blocks: u64,
	/// The refused block (counted from the range's start) and its segments (counted from
	/// the stream's start).
	refused: (u64, Range<u64>),
	/// Whether every block so far is whole segments: otherwise no committed root can be
	/// this stream's.
	whole: bool,
	/// The most bytes the stream may have (accepted and rest), so that a cheating encoder
	/// cannot fill its hoster's disk.
	max_len: u64,
}

impl Evidence {
	/// Evidence of replica `id` (blocks `range`, sealed with `key`): the blocks `log`
	/// accepted, then the `refused` one.
	pub fn new(
		id: ReplicaId,
		key: SealingKey,
		range: Range<u64>,
		log: &StreamLog,
		refused: Vec<u8>,
		max_len: u64,
	) -> io::Result<Self> {
		let path = log.dir().join(EVIDENCE_FILES[0]);
		let file = OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
		let first = log.segments();
		let mut evidence = Self {
			id,
			key,
			range,
			accepted: (log.dir().join("data"), log.data_len()),
			rest: (path, file, 0),
			blocks: log.len() as u64,
			refused: (log.len() as u64, first..first + (refused.len() / SEGMENT_SIZE) as u64),
			whole: true,
			max_len,
		};
		evidence.append(&refused)?;
		Ok(evidence)
	}

	/// The feed index of the next block wanted, `None` when all are in.
	pub fn next_index(&self) -> Option<u64> {
		let next = self.range.start.checked_add(self.blocks)?;
		(next < self.range.end).then_some(next)
	}

	/// Keeps the next block's sealed bytes, unchecked (not fsynced: evidence lost to a
	/// crash is received again).
	pub fn push(&mut self, block: StreamBlock) -> io::Result<()> {
		self.append(&block.sealed)
	}

	fn append(&mut self, sealed: &[u8]) -> io::Result<()> {
		let (_, file, len) = &mut self.rest;
		let total = self.accepted.1.saturating_add(*len).saturating_add(sealed.len() as u64);
		if total > self.max_len {
			return Err(io::Error::new(
				io::ErrorKind::FileTooLarge,
				format!(
				"the stream passes {} bytes, twice what the chain reserved for the replica: not \
				 kept (only a range of unusually large blocks encodes that large; the setup \
				 times out)",
				self.max_len
			),
			));
		}
		file.write_all(sealed)?;
		*len += sealed.len() as u64;
		self.blocks += 1;
		self.whole &= !sealed.is_empty() && sealed.len().is_multiple_of(SEGMENT_SIZE);
		Ok(())
	}

	/// The encoder's tree over what it sent, built on disk beside the stream
	/// (`evidence-tree`). Fails if the stream is not whole segments (then it cannot be the
	/// stream of any committed root).
	pub fn replica(&self) -> Result<SentStream, String> {
		if !self.whole {
			return Err("a block is not whole segments".into());
		}
		let io = |e: io::Error| format!("cannot read the evidence: {e}");
		let accepted = File::open(&self.accepted.0).map_err(io)?;
		let rest = File::open(&self.rest.0).map_err(io)?;
		let len = self.accepted.1 + self.rest.2;
		let sealed = (&accepted).take(self.accepted.1).chain(&rest);
		let tree_path = self.rest.0.with_file_name(EVIDENCE_FILES[1]);
		let root = tree_file::write_tree_from(&self.id, sealed, len, &tree_path).map_err(io)?;
		let tree = File::open(&tree_path).map_err(io)?;
		Ok(SentStream { root, accepted: (accepted, self.accepted.1), rest, tree })
	}

	/// The segments a proof may point at: those of the refused block, and the one before
	/// it (its successor may be the one out of place).
	fn candidates(&self) -> Range<u64> {
		let segments = &self.refused.1;
		segments.start.saturating_sub(1)..segments.end
	}

	/// The original blocks the candidate proofs need: those the candidate segments' labels
	/// name (a segment that does not unseal needs none).
	pub fn blocks_needed(&self, sent: &SentStream) -> BTreeSet<u64> {
		let Ok(unsealer) = Unsealer::new(&self.key) else { return BTreeSet::new() };
		self.candidates()
			.filter_map(|index| {
				let segment = sent.segment(index).ok()?;
				let label = unsealer.unseal_segment(&self.id, index, &segment).ok()?.label;
				self.range.contains(&label.block).then_some(label.block)
			})
			.collect()
	}

	/// A fraud proof the chain accepts against `committed`, from `originals` (the blocks
	/// [`Evidence::blocks_needed`] named, with proofs at the chain's tree), if the stream
	/// shows one; with what it shows.
	pub fn fraud_proof(
		&self,
		replica: &SentStream,
		committed: &EncodedRoot,
		feed: &FeedState,
		originals: &BTreeMap<u64, Proof>,
	) -> Result<(EncodingFraudProof, EncodingFault), String> {
		if replica.root() != *committed {
			return Err("the encoder committed another root than the stream it sent: nothing \
			            to prove (the setup times out and strikes it)"
				.into());
		}
		let tree = VerifiedTree::from_roots(feed.roots.clone(), feed.fork)
			.map_err(|e| format!("the chain's tree of the feed is unusable: {e}"))?;
		let setup = CommittedEncoding {
			id: self.id,
			root: committed,
			key: &self.key,
			blocks: self.range.clone(),
			auth: &feed.auth,
			tree: &tree,
		};
		let unsealer = Unsealer::new(&self.key).map_err(|e| e.to_string())?;
		for index in self.candidates() {
			let segment =
				replica.prove(index).map_err(|e| format!("cannot read the evidence: {e}"))?;
			let original = unsealer
				.unseal_segment(&self.id, index, &segment.segment)
				.ok()
				.and_then(|plain| originals.get(&plain.label.block).cloned());
			let next = (index + 1 < committed.segments).then(|| replica.prove(index + 1).ok());
			for next in [None, next.flatten()] {
				let proof = EncodingFraudProof {
					segment: segment.clone(),
					next,
					original: original.clone(),
				};
				if let Ok(Some(fault)) = judge_encoding(&setup, &proof, &DalekVerifier) {
					return Ok((proof, fault));
				}
			}
		}
		Err(format!(
			"no segment of block {} proves a fault: the sealing is right, so the encoder's \
			 hypercore proof must have been bad (the setup times out and strikes it)",
			self.range.start + self.refused.0
		))
	}
}

/// The stream the encoder sent, as evidence: its sealed bytes in two files and its tree
/// in a third, read one segment at a time.
pub struct SentStream {
	root: EncodedRoot,
	/// The log's data file and the length of the accepted blocks in it.
	accepted: (File, u64),
	/// The refused block and the rest.
	rest: File,
	tree: File,
}

impl SentStream {
	/// The root of the stream as sent (what an honest commitment of it is).
	pub fn root(&self) -> EncodedRoot {
		self.root
	}

	/// The bytes of segment `index`.
	fn segment(&self, index: u64) -> io::Result<Vec<u8>> {
		if index >= self.root.segments {
			return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such segment"));
		}
		let mut segment = vec![0u8; SEGMENT_SIZE];
		let at = index * SEGMENT_SIZE as u64;
		let (accepted, accepted_len) = &self.accepted;
		if at < *accepted_len {
			accepted.read_exact_at(&mut segment, at)?;
		} else {
			self.rest.read_exact_at(&mut segment, at - accepted_len)?;
		}
		Ok(segment)
	}

	/// The storage proof of segment `index` against [`SentStream::root`].
	fn prove(&self, index: u64) -> io::Result<SegmentProof> {
		let segment = self.segment(index)?;
		let path = tree_file::sibling_path(&self.tree, self.root.segments, index)?;
		Ok(SegmentProof { index, segment, path })
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::replica::tests::{encode_stream, feed, proofs, ID};
	use crate::{replica::StreamAcceptor, stream_log::StreamHead};
	use datdot_primitives::encoded::SealedReplica;

	/// Runs the hoster over `stream` until a block is refused, logging what it accepts in
	/// a stream log under `dir`, then collects the rest as evidence of at most `max_len`
	/// bytes; returns it (or `None` if every block was accepted).
	fn evidence_of(
		dir: &std::path::Path,
		chain: &FeedState,
		range: Range<u64>,
		stream: Vec<StreamBlock>,
		max_len: u64,
	) -> Option<io::Result<Evidence>> {
		let key = *crate::replica::tests::test_sealer().key();
		let head = StreamHead::new(chain, ID, &range, key);
		let mut log = StreamLog::open(dir, head).unwrap();
		let mut acceptor = StreamAcceptor::new(chain.clone(), ID, range, key, (0, 0)).unwrap();
		let mut blocks = stream.into_iter();
		for block in blocks.by_ref() {
			match acceptor.accept(block) {
				Ok(kept) => log.append(&[kept]).unwrap(),
				Err(_) => {
					let evidence = acceptor.into_evidence(&log, max_len)?;
					return Some(evidence.and_then(|mut evidence| {
						for rest in blocks.by_ref() {
							evidence.push(rest)?;
						}
						Ok(evidence)
					}));
				}
			}
		}
		None
	}

	/// The proofs of the original blocks `evidence` needs, from the feed's writer.
	fn originals_of(
		w: &datdot_primitives::writer::FeedWriter,
		evidence: &Evidence,
		sent: &SentStream,
	) -> BTreeMap<u64, Proof> {
		let needed = evidence.blocks_needed(sent);
		needed.into_iter().map(|b| (b, w.block_proof(b).unwrap())).collect()
	}

	#[test]
	fn a_bad_block_is_proven_and_a_stream_the_encoder_did_not_commit_is_not() {
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();

		let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
		// Garbage in place of block 4: some segment does not unseal.
		let mut garbage = stream.clone();
		garbage[2].sealed = vec![0x77; garbage[2].sealed.len()];
		let len: u64 = garbage.iter().map(|b| b.sealed.len() as u64).sum();
		// A stream longer than the bound is not kept; one of exactly the bound is.
		let over = evidence_of(dirs[4].path(), &chain, 2..8, garbage.clone(), len - 1).unwrap();
		assert!(over.is_err());
		let evidence = evidence_of(dirs[0].path(), &chain, 2..8, garbage.clone(), len);
		let evidence = evidence.unwrap().unwrap();
		let replica = evidence.replica().unwrap();
		// The tree built on disk over the log and the evidence file is the encoder's tree,
		// as one built in memory over the whole stream.
		let key = *crate::replica::tests::test_sealer().key();
		let whole = garbage.iter().map(|b| b.sealed.clone()).collect();
		let in_memory = SealedReplica::from_sealed(ID, &key, 2, whole).unwrap();
		assert_eq!(replica.root(), in_memory.root());
		for index in 0..in_memory.root().segments {
			assert_eq!(replica.prove(index).unwrap(), in_memory.prove(index).unwrap());
		}
		assert!(replica.prove(in_memory.root().segments).is_err());
		let originals = originals_of(&w, &evidence, &replica);
		let (_, fault) =
			evidence.fraud_proof(&replica, &replica.root(), &chain, &originals).unwrap();
		assert_eq!(fault, EncodingFault::Unsealable);

		// Another root committed than the stream sent: nothing to prove.
		let mut other = replica.root();
		other.root[0] ^= 1;
		assert!(evidence.fraud_proof(&replica, &other, &chain, &originals).is_err());

		// Block 5's encoding changed before sealing (labels intact): proven with block 5's
		// original bytes, which the proof carries.
		let sealer = crate::replica::tests::test_sealer();
		let mut changed = stream.clone();
		let first = (0..3).map(|i| (stream[i].sealed.len() / SEGMENT_SIZE) as u64).sum();
		let mut encoded = datdot_primitives::encoded::encode_block(w.block(5).unwrap()).unwrap();
		let last = encoded.len() - 1;
		encoded[last] ^= 0x55;
		changed[3].sealed = sealer.seal_block(&ID, first, 5, &encoded).unwrap();
		let evidence = evidence_of(dirs[1].path(), &chain, 2..8, changed, u64::MAX);
		let evidence = evidence.unwrap().unwrap();
		let replica = evidence.replica().unwrap();
		let originals = originals_of(&w, &evidence, &replica);
		assert!(originals.contains_key(&5));
		let (proof, fault) =
			evidence.fraud_proof(&replica, &replica.root(), &chain, &originals).unwrap();
		assert_eq!(fault, EncodingFault::WrongData);
		assert_eq!(proof.original.unwrap().block.unwrap().index, 5);
		// Without the original block, that fault cannot be shown.
		assert!(evidence.fraud_proof(&replica, &replica.root(), &chain, &BTreeMap::new()).is_err());

		// A stream that is not whole segments cannot be any committed stream.
		let mut ragged = stream.clone();
		ragged[1].sealed.truncate(SEGMENT_SIZE / 2);
		let evidence = evidence_of(dirs[2].path(), &chain, 2..8, ragged, u64::MAX);
		let evidence = evidence.unwrap().unwrap();
		assert!(evidence.replica().is_err());

		// An honest stream leaves no evidence.
		assert!(evidence_of(dirs[3].path(), &chain, 2..8, stream, u64::MAX).is_none());
	}
}
