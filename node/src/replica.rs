//! A replica's sealed stream, from both ends (design §5, steps 2 and 3).
//!
//! The encoder has each original block with hypercore's proof (as any reader fetches it),
//! checks it against the feed's signed tree *as the chain stores it*, encodes and seals it
//! with its private sealing key and sends the sealed block with the proof minus the
//! block's bytes. The hoster unseals each block with the encoder's public key (from the
//! chain), decodes it, puts the bytes back into the proof and checks it the same way, so it
//! never stores anything that does not unseal to the feed's data; then it builds the
//! segment tree. Neither side trusts the other, nor the node it fetched blocks from.

use crate::{evidence::Evidence, stream_log::StreamLog};
use codec::{Decode, Encode};
use datdot_primitives::{
	encoded::{decode_block, encode_block, ReplicaId, SEGMENT_SIZE},
	sealing::{Sealer, SealingKey, Unsealer},
	verify::verify_block_proof,
	DalekVerifier, Error as VerifyError, Proof,
};
use pallet_datdot::types::FeedState;
use std::{ops::Range, sync::Arc};

/// One block of a sealed stream as the encoder sends it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StreamBlock {
	/// The block encoded and sealed for the replica (whole segments; see
	/// `datdot_primitives::sealing`).
	pub sealed: Vec<u8>,
	/// hypercore's proof of the original block, with the block's bytes left out (the
	/// hoster gets them by unsealing and decoding `sealed`).
	pub proof: Proof,
}

/// Why a block or a stream was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
	/// The stream has blocks missing, extra or out of order.
	#[error("expected block {expected}, got {got:?}")]
	WrongBlock { expected: u64, got: Option<u64> },
	/// The block's proof does not verify.
	#[error("block {index}: invalid hypercore proof: {error:?}")]
	InvalidProof { index: u64, error: VerifyError },
	/// The proof verifies, but against another signed tree than the chain's.
	#[error("block {index}: proven against length {length}, not the chain's signed tree")]
	OtherTree { index: u64, length: u64 },
	/// The sealed block does not unseal (with the encoder's key) or does not decode.
	#[error("block {index}: the sealed block does not unseal and decode: {error:?}")]
	Undecodable { index: u64, error: VerifyError },
	/// The replica's tree cannot be built (an empty range), or the encoder's sealing key
	/// is unusable.
	#[error("cannot build the replica: {0:?}")]
	Replica(VerifyError),
	/// A block was refused already: the rest of the stream is evidence, not a replica.
	#[error("a block of this stream was refused already")]
	AfterRefusal,
}

impl StreamError {
	/// Whether whoever sent the block is at fault: a block an honest sender of the chain's
	/// feed never sends (so another sender may do better), not one any sender would send.
	pub fn is_senders_fault(&self) -> bool {
		matches!(self, Self::WrongBlock { .. } | Self::InvalidProof { .. } | Self::OtherTree { .. })
	}
}

/// Checks that `proof` proves block `expected` (with its bytes) into the chain's feed.
pub(crate) fn check_block(
	feed: &FeedState,
	expected: u64,
	proof: &Proof,
) -> Result<(), StreamError> {
	let got = proof.block.as_ref().map(|b| b.index);
	if got != Some(expected) {
		return Err(StreamError::WrongBlock { expected, got });
	}
	let verified = verify_block_proof(&feed.auth, proof, &DalekVerifier)
		.map_err(|error| StreamError::InvalidProof { index: expected, error })?;
	let tree = verified.tree;
	if tree.length != feed.length || tree.fork != feed.fork || tree.roots != feed.roots {
		return Err(StreamError::OtherTree { index: expected, length: tree.length });
	}
	Ok(())
}

/// Encoder: checks each original block of the replica's range (given by its proof, in
/// order), encodes and seals it into the stream the hoster fetches. It keeps only its place
/// in the stream: the blocks go to disk ([`crate::stream_log::StreamLog`]), which also gives
/// the root for `encoding_done`.
pub struct StreamEncoder {
	feed: FeedState,
	id: ReplicaId,
	range: Range<u64>,
	sealer: Arc<Sealer>,
	/// Blocks sealed so far.
	done: usize,
	/// Segments sealed so far (the next block's first segment).
	segments: u64,
}

impl StreamEncoder {
	/// Encodes replica `id` of blocks `range` of `feed`, sealed with `sealer`, after the
	/// `done` blocks (`segments` segments) sealed already (by an earlier run).
	pub fn new(
		feed: FeedState,
		id: ReplicaId,
		range: Range<u64>,
		sealer: Arc<Sealer>,
		(done, segments): (usize, u64),
	) -> Self {
		Self { feed, id, range, sealer, done, segments }
	}

	/// The feed index of the next block wanted, `None` when all are in.
	pub fn next_index(&self) -> Option<u64> {
		next_in(&self.range, self.done)
	}

	/// Checks the next block's proof against the chain's feed, encodes and seals the block;
	/// returns it as the hoster gets it.
	pub fn add(&mut self, mut proof: Proof) -> Result<StreamBlock, StreamError> {
		let index = self.next_index().ok_or(StreamError::WrongBlock {
			expected: self.range.end,
			got: proof.block.as_ref().map(|b| b.index),
		})?;
		check_block(&self.feed, index, &proof)?;
		let Some(block) = proof.block.as_mut() else { unreachable!("check_block saw the block") };
		let undecodable = |error| StreamError::Undecodable { index, error };
		let encoded = encode_block(&block.value).map_err(undecodable)?;
		let sealed = self
			.sealer
			.seal_block(&self.id, self.segments, index, &encoded)
			.map_err(undecodable)?;
		self.segments += (sealed.len() / SEGMENT_SIZE) as u64;
		self.done += 1;
		block.value = Vec::new();
		Ok(StreamBlock { sealed, proof })
	}
}

/// Hoster: unseals, decodes and checks each block of the stream as it arrives against the
/// chain's feed, before it goes to disk ([`crate::stream_log::StreamLog`]), from which the
/// store makes the replica the hoster confirms with `hosting_started`. A transfer resumes
/// from [`StreamAcceptor::next_index`] after a dropped connection or a restart.
pub struct StreamAcceptor {
	feed: FeedState,
	id: ReplicaId,
	range: Range<u64>,
	key: SealingKey,
	unsealer: Unsealer,
	/// Blocks accepted so far.
	done: usize,
	/// Segments accepted so far (the next block's first segment).
	segments: u64,
	/// The sealed bytes of the first block refused, kept as evidence against the encoder.
	refused: Option<Vec<u8>>,
}

impl StreamAcceptor {
	/// Accepts replica `id` of blocks `range` of `feed`, sealed by the encoder whose
	/// registered sealing key is `key`, after the `done` blocks (`segments` segments)
	/// accepted already (by an earlier run).
	pub fn new(
		feed: FeedState,
		id: ReplicaId,
		range: Range<u64>,
		key: SealingKey,
		(done, segments): (usize, u64),
	) -> Result<Self, StreamError> {
		let unsealer = Unsealer::new(&key).map_err(StreamError::Replica)?;
		Ok(Self { feed, id, range, key, unsealer, done, segments, refused: None })
	}

	/// The feed index of the next block wanted, `None` when all are in.
	pub fn next_index(&self) -> Option<u64> {
		next_in(&self.range, self.done)
	}

	/// Unseals and decodes the next block and checks it; nothing is accepted unless it
	/// checks out. Returns the block to keep (its proof without the block's bytes, which
	/// unsealing gives back). A refused block's bytes are kept for
	/// [`StreamAcceptor::into_evidence`].
	pub fn accept(&mut self, block: StreamBlock) -> Result<StreamBlock, StreamError> {
		if self.refused.is_some() {
			return Err(StreamError::AfterRefusal);
		}
		let StreamBlock { sealed, mut proof } = block;
		match self.check(&sealed, &mut proof) {
			Ok(()) => {
				self.segments += (sealed.len() / SEGMENT_SIZE) as u64;
				self.done += 1;
				Ok(StreamBlock { sealed, proof })
			}
			Err(e) => {
				self.refused = Some(sealed);
				Err(e)
			}
		}
	}

	/// After a refused block: the evidence against the encoder so far, the accepted blocks
	/// being those in `log`, kept up to `max_len` bytes in all (`None` if nothing was
	/// refused).
	pub fn into_evidence(self, log: &StreamLog, max_len: u64) -> Option<std::io::Result<Evidence>> {
		let refused = self.refused?;
		Some(Evidence::new(self.id, self.key, self.range, log, refused, max_len))
	}

	/// Checks that `sealed` is the next block's canonical sealed encoding (what the chain
	/// would not call a fraud) and that `proof` proves it; leaves the proof without the
	/// block's bytes, which unsealing the replica gives back, to serve the block.
	fn check(&self, sealed: &[u8], proof: &mut Proof) -> Result<(), StreamError> {
		let got = proof.block.as_ref().map(|b| b.index);
		let index =
			self.next_index().ok_or(StreamError::WrongBlock { expected: self.range.end, got })?;
		let undecodable = |error| StreamError::Undecodable { index, error };
		let encoded = self
			.unsealer
			.unseal_block(&self.id, self.segments, index, sealed)
			.map_err(undecodable)?;
		let value = decode_block(&encoded).map_err(undecodable)?;
		if encode_block(&value).map_err(undecodable)? != encoded {
			return Err(undecodable(VerifyError::BadEncoding));
		}
		if let Some(b) = proof.block.as_mut() {
			b.value = value;
		}
		check_block(&self.feed, index, proof)?;
		if let Some(b) = proof.block.as_mut() {
			b.value = Vec::new();
		}
		Ok(())
	}
}

/// The feed index of block `done` of `range`, if there is one.
fn next_in(range: &Range<u64>, done: usize) -> Option<u64> {
	let next = range.start.checked_add(done as u64)?;
	(next < range.end).then_some(next)
}

#[cfg(test)]
pub(crate) mod tests {
	use super::*;
	use crate::store::BlockProofs;
	use datdot_primitives::encoded::SealedReplica;
	use datdot_primitives::{writer::FeedWriter, FeedAuth, SigningMode};

	pub(crate) const ID: ReplicaId = ReplicaId { contract: 3, replica: 1 };

	pub(crate) fn test_sealer() -> Sealer {
		let pem = datdot_primitives::testdata::TEST_SEALING_KEYS[0];
		Sealer::from_pem(pem.as_bytes()).unwrap()
	}

	pub(crate) fn feed(blocks: u64) -> (FeedWriter, FeedState) {
		let mut w = FeedWriter::from_seed([9; 32], SigningMode::ManifestV1);
		for i in 0..blocks {
			let data: Vec<u8> = if i % 2 == 0 {
				vec![i as u8; 3000]
			} else {
				(0..1500u32).map(|x| (x * 7 + i as u32) as u8).collect()
			};
			w.append(&data).unwrap();
		}
		let chain = FeedState {
			auth: w.auth(),
			length: w.length(),
			fork: w.fork(),
			roots: w.roots().to_vec(),
		};
		(w, chain)
	}

	pub(crate) fn proofs(w: &FeedWriter, range: Range<u64>) -> Vec<Proof> {
		range.map(|i| w.block_proof(i).unwrap()).collect()
	}

	/// Runs the encoder over `proofs`: the replica its stream makes, and the stream.
	pub(crate) fn encode_stream(
		feed: &FeedState,
		range: Range<u64>,
		proofs: Vec<Proof>,
	) -> Result<(SealedReplica, Vec<StreamBlock>), StreamError> {
		encode_with(feed, range, proofs, Arc::new(test_sealer()))
	}

	fn encode_with(
		feed: &FeedState,
		range: Range<u64>,
		proofs: Vec<Proof>,
		sealer: Arc<Sealer>,
	) -> Result<(SealedReplica, Vec<StreamBlock>), StreamError> {
		let mut encoder =
			StreamEncoder::new(feed.clone(), ID, range.clone(), sealer.clone(), (0, 0));
		let stream = proofs.into_iter().map(|p| encoder.add(p)).collect::<Result<Vec<_>, _>>()?;
		if let Some(expected) = encoder.next_index() {
			return Err(StreamError::WrongBlock { expected, got: None });
		}
		Ok((replica_of(&stream, range.start, sealer.key())?, stream))
	}

	/// The replica a checked `stream` makes (what the store builds from it on disk).
	fn replica_of(
		stream: &[StreamBlock],
		first_block: u64,
		key: &SealingKey,
	) -> Result<SealedReplica, StreamError> {
		let sealed = stream.iter().map(|b| b.sealed.clone()).collect();
		SealedReplica::from_sealed(ID, key, first_block, sealed).map_err(StreamError::Replica)
	}

	/// Runs the hoster's side over `stream`.
	fn accept_stream(
		feed: &FeedState,
		range: Range<u64>,
		stream: Vec<StreamBlock>,
	) -> Result<SealedReplica, StreamError> {
		accept_with_proofs(feed, range, stream).map(|(replica, _)| replica)
	}

	/// Runs the hoster's side over `stream`, keeping the blocks' proofs.
	fn accept_with_proofs(
		feed: &FeedState,
		range: Range<u64>,
		stream: Vec<StreamBlock>,
	) -> Result<(SealedReplica, BlockProofs), StreamError> {
		let key = *test_sealer().key();
		let mut acceptor = StreamAcceptor::new(feed.clone(), ID, range.clone(), key, (0, 0))?;
		let kept = stream.into_iter().map(|b| acceptor.accept(b)).collect::<Result<Vec<_>, _>>()?;
		if let Some(expected) = acceptor.next_index() {
			return Err(StreamError::WrongBlock { expected, got: None });
		}
		let proofs = BlockProofs {
			length: feed.length,
			proofs: kept.iter().map(|b| b.proof.clone()).collect(),
		};
		Ok((replica_of(&kept, range.start, &key)?, proofs))
	}

	#[test]
	fn a_stored_replica_serves_the_original_blocks_with_proofs_a_reader_accepts() {
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let (replica, kept) = accept_with_proofs(&chain, 2..8, stream).unwrap();
		assert_eq!((kept.length, kept.proofs.len()), (10, 6));
		let dir = tempfile::tempdir().unwrap();
		let store = crate::store::ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		store.put(chain.auth.key, &replica, &kept).unwrap();
		// Reopened (as after a restart), from the middle of the replica to past its end.
		drop(store);
		let store = crate::store::ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		let served = store.original_blocks(&chain.auth, 10, 4..10, usize::MAX).unwrap().unwrap();
		assert_eq!(served.len(), 4, "blocks 4..8: the replica ends at 8");
		for (proof, index) in served.iter().zip(4..8) {
			check_block(&chain, index, proof).unwrap();
			assert_eq!(proof.block.as_ref().unwrap().value, w.block(index).unwrap());
		}
		// Chunks stop once enough bytes are in, with at least one block.
		assert_eq!(store.original_blocks(&chain.auth, 10, 2..8, 1).unwrap().unwrap().len(), 1);
		// Not at another length, not outside the replica, not another feed.
		assert_eq!(store.original_blocks(&chain.auth, 11, 4..8, usize::MAX).unwrap(), None);
		assert_eq!(store.original_blocks(&chain.auth, 10, 8..9, usize::MAX).unwrap(), None);
		assert_eq!(
			store
				.original_blocks(&FeedAuth { key: [0; 32], ..chain.auth }, 10, 4..8, usize::MAX)
				.unwrap(),
			None
		);
	}

	#[test]
	fn a_stored_block_whose_proof_the_disk_damaged_is_not_served() {
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let (replica, kept) = accept_with_proofs(&chain, 2..8, stream).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let store = crate::store::ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		store.put(chain.auth.key, &replica, &kept).unwrap();
		drop(store);
		// One bit of block 6's proof flips on disk: the file still decodes.
		let path = dir.path().join(format!("c{}-r{}", ID.contract, ID.replica)).join("proofs");
		let mut stored = Vec::<Proof>::decode(&mut &std::fs::read(&path).unwrap()[..]).unwrap();
		stored[4].block.as_mut().unwrap().nodes[0].hash[0] ^= 1;
		std::fs::write(&path, stored.encode()).unwrap();
		let store = crate::store::ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		// Blocks 4 and 5 go out, checked; block 6 and what follows do not.
		let served = store.original_blocks(&chain.auth, 10, 4..8, usize::MAX).unwrap().unwrap();
		assert_eq!(served.len(), 2);
		for (proof, index) in served.iter().zip(4..6) {
			check_block(&chain, index, proof).unwrap();
		}
		let refused = store.original_blocks(&chain.auth, 10, 6..8, usize::MAX);
		assert!(
			matches!(&refused, Err(crate::store::StoreError::Damaged { what, .. }) if what.contains("block 6")),
			"{refused:?}"
		);
		// Block 7 is still whole.
		let served = store.original_blocks(&chain.auth, 10, 7..8, usize::MAX).unwrap().unwrap();
		check_block(&chain, 7, &served[0]).unwrap();
	}

	#[test]
	fn after_the_feed_grows_the_renewed_proofs_serve_the_new_length_and_wrong_ones_are_refused() {
		let (mut w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let (replica, kept) = accept_with_proofs(&chain, 2..8, stream).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let store = crate::store::ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		store.put(chain.auth.key, &replica, &kept).unwrap();
		for i in 10..15 {
			w.append(&[i as u8; 100]).unwrap();
		}
		let grown = FeedState { length: 15, roots: w.roots().to_vec(), ..chain.clone() };
		let key = chain.auth.key;
		assert_eq!(store.stale_proofs(&key, 15).len(), 1);
		// Proofs of other blocks' bytes, or too few, change nothing.
		let mut shifted = proofs(&w, 2..8);
		shifted[3] = w.block_proof(9).unwrap();
		let renewal = |proofs| BlockProofs { length: 15, proofs };
		assert!(store.replace_proofs(&replica.id(), &renewal(shifted)).is_err());
		assert!(store.replace_proofs(&replica.id(), &renewal(proofs(&w, 2..7))).is_err());
		assert_eq!(store.original_blocks(&chain.auth, 15, 2..8, usize::MAX).unwrap(), None);
		// The right ones: served at the new length (checked against the grown tree), from disk.
		store.replace_proofs(&replica.id(), &renewal(proofs(&w, 2..8))).unwrap();
		drop(store);
		let store = crate::store::ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		assert!(store.stale_proofs(&key, 15).is_empty());
		let served = store.original_blocks(&chain.auth, 15, 2..8, usize::MAX).unwrap().unwrap();
		for (proof, index) in served.iter().zip(2..8) {
			check_block(&grown, index, proof).unwrap();
		}
		assert_eq!(store.original_blocks(&chain.auth, 10, 2..8, usize::MAX).unwrap(), None);
		store.verify(&replica.id()).unwrap();
	}

	#[test]
	fn what_the_encoder_sends_the_hoster_accepts_with_the_same_root() {
		let (w, chain) = feed(10);
		let (replica, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		assert!(stream.iter().all(|b| b.proof.block.as_ref().unwrap().value.is_empty()));
		let accepted = accept_stream(&chain, 2..8, stream).unwrap();
		assert_eq!(accepted.root(), replica.root());
		for (i, index) in (2..8).enumerate() {
			assert_eq!(accepted.decode(i).unwrap(), w.block(index).unwrap());
		}
	}

	#[test]
	fn the_encoder_refuses_blocks_that_are_not_the_chains_feed() {
		let (w, chain) = feed(10);
		let mut tampered = proofs(&w, 0..4);
		tampered[2].block.as_mut().unwrap().value[0] ^= 1;
		assert!(matches!(
			encode_stream(&chain, 0..4, tampered),
			Err(StreamError::InvalidProof { index: 2, .. })
		));
		// A longer feed than the chain knows: the proofs are valid, but not of its tree.
		let (longer, _) = feed(12);
		assert_eq!(
			encode_stream(&chain, 0..4, proofs(&longer, 0..4)).err(),
			Some(StreamError::OtherTree { index: 0, length: 12 })
		);
		assert_eq!(
			encode_stream(&chain, 0..4, proofs(&w, 1..5)).err(),
			Some(StreamError::WrongBlock { expected: 0, got: Some(1) })
		);
		assert_eq!(
			encode_stream(&chain, 0..4, proofs(&w, 0..3)).err(),
			Some(StreamError::WrongBlock { expected: 3, got: None })
		);
	}

	#[test]
	fn the_hoster_refuses_a_stream_that_does_not_decode_to_the_feed() {
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 0..5, proofs(&w, 0..5)).unwrap();

		// Another block's sealing in place of block 3: its labels name block 1.
		let mut swapped = stream.clone();
		swapped[3].sealed = swapped[1].sealed.clone();
		assert!(matches!(
			accept_stream(&chain, 0..5, swapped),
			Err(StreamError::Undecodable { index: 3, error: VerifyError::BadSegmentLabel })
		));
		// Garbage that does not unseal.
		let mut garbage = stream.clone();
		garbage[0].sealed = vec![9; SEGMENT_SIZE];
		assert!(matches!(
			accept_stream(&chain, 0..5, garbage),
			Err(StreamError::Undecodable { index: 0, .. })
		));
		// The right blocks sealed with another key than the encoder's registered one.
		let other =
			Sealer::from_pem(datdot_primitives::testdata::TEST_SEALING_KEYS[1].as_bytes()).unwrap();
		let (_, foreign) = encode_with(&chain, 0..5, proofs(&w, 0..5), Arc::new(other)).unwrap();
		assert!(matches!(
			accept_stream(&chain, 0..5, foreign),
			Err(StreamError::Undecodable { index: 0, .. })
		));
		// A block missing.
		let mut short = stream.clone();
		short.pop();
		assert_eq!(
			accept_stream(&chain, 0..5, short).err(),
			Some(StreamError::WrongBlock { expected: 4, got: None })
		);
	}
}
