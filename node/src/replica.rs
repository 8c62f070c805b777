//! A replica's encoded stream, from both ends (design §5, steps 2 and 3).
//!
//! The encoder has each original block with hypercore's proof (as any reader fetches it),
//! checks it against the feed's signed tree *as the chain stores it*, encodes it and sends
//! the encoded block with the proof minus the block's bytes. The hoster decodes each
//! encoded block, puts the bytes back into the proof and checks it the same way, so it
//! never stores anything that does not decode to the feed's data; then it builds the
//! segment tree. Neither side trusts the other, nor the node it fetched blocks from.

use codec::{Decode, Encode};
use datdot_primitives::{
	encoded::{decode_block, encode_block, EncodedReplica, ReplicaId},
	verify::verify_block_proof,
	DalekVerifier, Error as VerifyError, FeedAuth, Node, Proof,
};
use std::ops::Range;

/// The feed's signed state as the chain stores it: what every block must prove into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainFeed {
	/// How the feed is signed (key, mode, manifest).
	pub auth: FeedAuth,
	/// Signed length.
	pub length: u64,
	/// Fork counter.
	pub fork: u64,
	/// Full roots at `length`.
	pub roots: Vec<Node>,
}

/// One block of an encoded stream as the encoder sends it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StreamBlock {
	/// The block encoded for the replica (see `datdot_primitives::encoded`).
	pub encoded: Vec<u8>,
	/// hypercore's proof of the original block, with the block's bytes left out (the
	/// hoster gets them by decoding `encoded`).
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
	/// The encoded block does not decode.
	#[error("block {index}: the encoded block does not decode: {error:?}")]
	Undecodable { index: u64, error: VerifyError },
	/// The replica's tree cannot be built (an empty range).
	#[error("cannot build the replica: {0:?}")]
	Replica(VerifyError),
}

/// Checks that `proof` proves block `expected` (with its bytes) into the chain's feed.
fn check_block(feed: &ChainFeed, expected: u64, proof: &Proof) -> Result<(), StreamError> {
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

/// Encoder: checks every original block of `range` (given by its proofs, in order) and
/// encodes it, returning the replica (for `encoding_done`) and the stream for the hoster.
pub fn encode_stream(
	feed: &ChainFeed,
	id: ReplicaId,
	range: Range<u64>,
	proofs: impl IntoIterator<Item = Proof>,
) -> Result<(EncodedReplica, Vec<StreamBlock>), StreamError> {
	let end = range.end;
	let mut stream = Vec::new();
	let mut proofs = proofs.into_iter();
	for index in range {
		let mut proof =
			proofs.next().ok_or(StreamError::WrongBlock { expected: index, got: None })?;
		check_block(feed, index, &proof)?;
		let Some(block) = proof.block.as_mut() else { unreachable!("check_block saw the block") };
		let encoded = encode_block(&block.value)
			.map_err(|error| StreamError::Undecodable { index, error })?;
		block.value = Vec::new();
		stream.push(StreamBlock { encoded, proof });
	}
	if let Some(extra) = proofs.next() {
		return Err(StreamError::WrongBlock { expected: end, got: extra.block.map(|b| b.index) });
	}
	let replica =
		EncodedReplica::from_encoded(id, stream.iter().map(|b| b.encoded.clone()).collect())
			.map_err(StreamError::Replica)?;
	Ok((replica, stream))
}

/// Hoster: decodes and checks every block of the stream against the chain's feed and
/// builds the replica it will store (and confirm with `hosting_started`).
pub fn accept_stream(
	feed: &ChainFeed,
	id: ReplicaId,
	range: Range<u64>,
	stream: Vec<StreamBlock>,
) -> Result<EncodedReplica, StreamError> {
	let end = range.end;
	let mut encoded_blocks = Vec::with_capacity(stream.len());
	let mut stream = stream.into_iter();
	for index in range {
		let StreamBlock { encoded, mut proof } =
			stream.next().ok_or(StreamError::WrongBlock { expected: index, got: None })?;
		let value =
			decode_block(&encoded).map_err(|error| StreamError::Undecodable { index, error })?;
		if let Some(b) = proof.block.as_mut() {
			b.value = value;
		}
		check_block(feed, index, &proof)?;
		encoded_blocks.push(encoded);
	}
	if let Some(extra) = stream.next() {
		let got = extra.proof.block.map(|b| b.index);
		return Err(StreamError::WrongBlock { expected: end, got });
	}
	EncodedReplica::from_encoded(id, encoded_blocks).map_err(StreamError::Replica)
}

#[cfg(test)]
mod tests {
	use super::*;
	use datdot_primitives::{writer::FeedWriter, SigningMode};

	const ID: ReplicaId = ReplicaId { contract: 3, replica: 1 };

	fn feed(blocks: u64) -> (FeedWriter, ChainFeed) {
		let mut w = FeedWriter::from_seed([9; 32], SigningMode::ManifestV1);
		for i in 0..blocks {
			let data: Vec<u8> = if i % 2 == 0 {
				vec![i as u8; 3000]
			} else {
				(0..1500u32).map(|x| (x * 7 + i as u32) as u8).collect()
			};
			w.append(&data).unwrap();
		}
		let chain = ChainFeed {
			auth: w.auth(),
			length: w.length(),
			fork: w.fork(),
			roots: w.roots().to_vec(),
		};
		(w, chain)
	}

	fn proofs(w: &FeedWriter, range: Range<u64>) -> Vec<Proof> {
		range.map(|i| w.block_proof(i).unwrap()).collect()
	}

	#[test]
	fn what_the_encoder_sends_the_hoster_accepts_with_the_same_root() {
		let (w, chain) = feed(10);
		let (replica, stream) = encode_stream(&chain, ID, 2..8, proofs(&w, 2..8)).unwrap();
		assert!(stream.iter().all(|b| b.proof.block.as_ref().unwrap().value.is_empty()));
		let accepted = accept_stream(&chain, ID, 2..8, stream).unwrap();
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
			encode_stream(&chain, ID, 0..4, tampered),
			Err(StreamError::InvalidProof { index: 2, .. })
		));
		// A longer feed than the chain knows: the proofs are valid, but not of its tree.
		let (longer, _) = feed(12);
		assert_eq!(
			encode_stream(&chain, ID, 0..4, proofs(&longer, 0..4)).err(),
			Some(StreamError::OtherTree { index: 0, length: 12 })
		);
		assert_eq!(
			encode_stream(&chain, ID, 0..4, proofs(&w, 1..5)).err(),
			Some(StreamError::WrongBlock { expected: 0, got: Some(1) })
		);
		assert_eq!(
			encode_stream(&chain, ID, 0..4, proofs(&w, 0..3)).err(),
			Some(StreamError::WrongBlock { expected: 3, got: None })
		);
	}

	#[test]
	fn the_hoster_refuses_a_stream_that_does_not_decode_to_the_feed() {
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, ID, 0..5, proofs(&w, 0..5)).unwrap();

		// Another block's encoding in place of block 3.
		let mut swapped = stream.clone();
		swapped[3].encoded = swapped[1].encoded.clone();
		assert!(matches!(
			accept_stream(&chain, ID, 0..5, swapped),
			Err(StreamError::InvalidProof { index: 3, .. })
		));
		// Garbage that does not decode.
		let mut garbage = stream.clone();
		garbage[0].encoded = vec![9, 9, 9];
		assert!(matches!(
			accept_stream(&chain, ID, 0..5, garbage),
			Err(StreamError::Undecodable { index: 0, .. })
		));
		// A block missing.
		let mut short = stream.clone();
		short.pop();
		assert_eq!(
			accept_stream(&chain, ID, 0..5, short).err(),
			Some(StreamError::WrongBlock { expected: 4, got: None })
		);
	}
}
