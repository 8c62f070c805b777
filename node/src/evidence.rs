//! A hoster's evidence against its encoder (design §5.6): once a block of the sealed stream
//! is refused, the hoster keeps receiving the rest as is, rebuilds the encoder's tree and,
//! if it is the tree the encoder committed on chain, finds the segments that prove the
//! fraud. The proof is judged here by the same code the chain runs
//! (`datdot_primitives::fraud::judge_encoding`), so the node only sends proofs that hold.

use crate::replica::StreamBlock;
use datdot_primitives::{
	encoded::{EncodedRoot, ReplicaId, SealedReplica},
	fraud::{judge_encoding, CommittedEncoding, EncodingFault, EncodingFraudProof},
	sealing::{SealingKey, Unsealer},
	DalekVerifier, Error as VerifyError, Proof, VerifiedTree,
};
use pallet_datdot::types::FeedState;
use std::{
	collections::{BTreeMap, BTreeSet},
	ops::Range,
};

/// Everything the encoder sent, the refused block included, in order.
pub struct Evidence {
	id: ReplicaId,
	key: SealingKey,
	range: Range<u64>,
	sealed: Vec<Vec<u8>>,
	/// Position (from the range's start) of the first refused block.
	refused: usize,
}

impl Evidence {
	/// Evidence of replica `id` (blocks `range`, sealed with `key`): the blocks accepted
	/// before, then the refused one.
	pub fn new(
		id: ReplicaId,
		key: SealingKey,
		range: Range<u64>,
		mut accepted: Vec<Vec<u8>>,
		refused: Vec<u8>,
	) -> Self {
		let at = accepted.len();
		accepted.push(refused);
		Self { id, key, range, sealed: accepted, refused: at }
	}

	/// The feed index of the next block wanted, `None` when all are in.
	pub fn next_index(&self) -> Option<u64> {
		let next = self.range.start.checked_add(self.sealed.len() as u64)?;
		(next < self.range.end).then_some(next)
	}

	/// Keeps the next block's sealed bytes, unchecked.
	pub fn push(&mut self, block: StreamBlock) {
		self.sealed.push(block.sealed);
	}

	/// The encoder's tree over what it sent. Fails if the stream is not whole segments
	/// (then it cannot be the stream of any committed root).
	pub fn replica(&self) -> Result<SealedReplica, VerifyError> {
		SealedReplica::from_sealed(self.id, &self.key, self.range.start, self.sealed.clone())
	}

	/// The segments a proof may point at: those of the refused block, and the one before
	/// it (its successor may be the one out of place).
	fn candidates(&self, replica: &SealedReplica) -> Range<u64> {
		let segments = replica.block_segments(self.refused).unwrap_or(0..0);
		segments.start.saturating_sub(1)..segments.end
	}

	/// The original blocks the candidate proofs need: those the candidate segments' labels
	/// name (a segment that does not unseal needs none).
	pub fn blocks_needed(&self, replica: &SealedReplica) -> BTreeSet<u64> {
		let Ok(unsealer) = Unsealer::new(&self.key) else { return BTreeSet::new() };
		self.candidates(replica)
			.filter_map(|index| {
				let segment = replica.segment(index)?;
				let label = unsealer.unseal_segment(&self.id, index, segment).ok()?.label;
				self.range.contains(&label.block).then_some(label.block)
			})
			.collect()
	}

	/// A fraud proof the chain accepts against `committed`, from `originals` (the blocks
	/// [`Evidence::blocks_needed`] named, with proofs at the chain's tree), if the stream
	/// shows one; with what it shows.
	pub fn fraud_proof(
		&self,
		replica: &SealedReplica,
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
		for index in self.candidates(replica) {
			let Ok(segment) = replica.prove(index) else { continue };
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
			self.range.start + self.refused as u64
		))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::replica::tests::{encode_stream, feed, proofs, ID};
	use crate::replica::StreamAcceptor;
	use datdot_primitives::encoded::SEGMENT_SIZE;

	/// Runs the hoster over `stream` until a block is refused, then collects the rest as
	/// evidence; returns it (or `None` if every block was accepted).
	fn evidence_of(
		chain: &FeedState,
		range: Range<u64>,
		stream: Vec<StreamBlock>,
	) -> Option<Evidence> {
		let key = *crate::replica::tests::test_sealer().key();
		let mut acceptor = StreamAcceptor::new(chain.clone(), ID, range, key, (0, 0)).unwrap();
		let mut blocks = stream.into_iter();
		let mut accepted = Vec::new();
		for block in blocks.by_ref() {
			match acceptor.accept(block) {
				Ok(kept) => accepted.push(kept.sealed),
				Err(_) => {
					let mut evidence = acceptor.into_evidence(accepted)?;
					for rest in blocks.by_ref() {
						evidence.push(rest);
					}
					return Some(evidence);
				}
			}
		}
		None
	}

	/// The proofs of the original blocks `evidence` needs, from the feed's writer.
	fn originals_of(
		w: &datdot_primitives::writer::FeedWriter,
		evidence: &Evidence,
		replica: &SealedReplica,
	) -> BTreeMap<u64, Proof> {
		let needed = evidence.blocks_needed(replica);
		needed.into_iter().map(|b| (b, w.block_proof(b).unwrap())).collect()
	}

	#[test]
	fn a_bad_block_is_proven_and_a_stream_the_encoder_did_not_commit_is_not() {
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();

		// Garbage in place of block 4: some segment does not unseal.
		let mut garbage = stream.clone();
		garbage[2].sealed = vec![0x77; garbage[2].sealed.len()];
		let evidence = evidence_of(&chain, 2..8, garbage).unwrap();
		let replica = evidence.replica().unwrap();
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
		let evidence = evidence_of(&chain, 2..8, changed).unwrap();
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
		let evidence = evidence_of(&chain, 2..8, ragged).unwrap();
		assert!(evidence.replica().is_err());

		// An honest stream leaves no evidence.
		assert!(evidence_of(&chain, 2..8, stream).is_none());
	}
}
