//! Encoding fraud proofs (design §5.6): evidence, checkable by anyone with no other state,
//! that an encoder committed a sealed stream that is not the feed's.
//!
//! The encoding is canonical: block `b`'s encoding is [`encode_block`] of its bytes, cut
//! into parts of [`SEGMENT_DATA`] bytes, each sealed with its label, blocks in order from
//! the contract's first. A stream that differs from it has a first segment that differs, and
//! that segment shows one of these, each seen with at most two consecutive segments of the
//! committed stream and the hypercore proof of one original block:
//! - it does not unseal with the encoder's key, or its label is malformed
//!   ([`EncodingFault::Unsealable`]);
//! - its label names a block outside the contract ([`EncodingFault::OutOfRange`]);
//! - segment 0 is not the first part of the first block ([`EncodingFault::WrongStart`]);
//! - its data is not that part of the block's encoding ([`EncodingFault::WrongData`]);
//! - the next segment is not the part that follows ([`EncodingFault::WrongOrder`]);
//! - the stream ends before, or goes on after, the last part of the last block
//!   ([`EncodingFault::WrongEnd`]).
//!
//! If none of them holds anywhere, every segment is the right part in the right place, so
//! the stream is exactly the canonical one: an honest encoder can never be shown at fault.

use core::ops::Range;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::encoded::{encode_block, verify_segment, EncodedRoot, ReplicaId, SegmentProof};
use crate::error::{Error, Result};
use crate::proof::Proof;
use crate::sealing::{
	segments_for, PlainSegment, SealingKey, SegmentLabel, Unsealer, SEGMENT_DATA,
};
use crate::signing::{Ed25519Verifier, FeedAuth};
use crate::verify::{verify_proof, VerifiedTree};

/// What a hoster submits against its encoder: one segment of the encoder's committed
/// stream, optionally the next one, and the original block the first one's label names.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct EncodingFraudProof {
	/// A segment of the committed stream with its path to the encoder's root.
	pub segment: SegmentProof,
	/// The segment after it (with its path), to show the two are out of order.
	pub next: Option<SegmentProof>,
	/// hypercore's proof of the block `segment`'s label names, with its bytes: against the
	/// chain's current tree of the feed, either without an upgrade or signed at that tree.
	pub original: Option<Proof>,
}

impl EncodingFraudProof {
	/// Bytes of the original block carried (what the weight of judging it grows with).
	pub fn block_len(&self) -> usize {
		self.original.as_ref().and_then(|p| p.block.as_ref()).map_or(0, |b| b.value.len())
	}
}

/// What a fraud proof showed the encoder did wrong.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum EncodingFault {
	/// A committed segment does not unseal with the encoder's key to a well-formed label.
	Unsealable,
	/// A segment's label names a block outside the contract.
	OutOfRange,
	/// The stream does not start with the first part of the contract's first block.
	WrongStart,
	/// A segment's data is not the part of the block's encoding its label names.
	WrongData,
	/// A segment is not followed by the part that comes next.
	WrongOrder,
	/// The stream ends before the last part of the last block, or goes on after it.
	WrongEnd,
}

/// What the chain knows about a setup, against which a fraud proof is judged.
pub struct CommittedEncoding<'a> {
	/// The replica.
	pub id: ReplicaId,
	/// The root the encoder committed (`encoding_done`).
	pub root: &'a EncodedRoot,
	/// The encoder's registered sealing key.
	pub key: &'a SealingKey,
	/// The contract's blocks.
	pub blocks: Range<u64>,
	/// The feed's key material.
	pub auth: &'a FeedAuth,
	/// The feed's current tree on chain.
	pub tree: &'a VerifiedTree,
}

/// Judges `proof` against `setup`: `Ok(Some(fault))` when it shows the encoder's stream is
/// not the feed's, `Ok(None)` when everything it shows is right, `Err` when the proof itself
/// is invalid (a segment not in the committed stream, an original block that does not
/// verify or is not the one needed, a missing part).
pub fn judge_encoding(
	setup: &CommittedEncoding,
	proof: &EncodingFraudProof,
	verifier: &impl Ed25519Verifier,
) -> Result<Option<EncodingFault>> {
	let EncodingFraudProof { segment, next, original } = proof;
	verify_segment(setup.root, &setup.id, segment)?;
	if let Some(next) = next {
		if segment.index.checked_add(1) != Some(next.index) {
			return Err(Error::SegmentsNotConsecutive);
		}
		verify_segment(setup.root, &setup.id, next)?;
	}
	let unsealer = Unsealer::new(setup.key)?;
	let Some(plain) = unseal(&unsealer, &setup.id, segment)? else {
		return Ok(Some(EncodingFault::Unsealable));
	};
	let SegmentLabel { block, part, .. } = plain.label;
	if !setup.blocks.contains(&block) {
		return Ok(Some(EncodingFault::OutOfRange));
	}
	if segment.index == 0 && (block, part) != (setup.blocks.start, 0) {
		return Ok(Some(EncodingFault::WrongStart));
	}

	// The rest needs the block's encoding, from its verified original bytes.
	let original = original.as_ref().ok_or(Error::OriginalBlockMissing)?;
	let value = original_block(setup, original, verifier, block)?;
	let encoded = encode_block(value)?;
	let parts = segments_for(encoded.len()) as u64;
	let from = u64::from(part).saturating_mul(SEGMENT_DATA as u64);
	let expected = usize::try_from(from)
		.ok()
		.filter(|_| u64::from(part) < parts)
		.and_then(|from| encoded.get(from..encoded.len().min(from + SEGMENT_DATA)));
	if expected != Some(&plain.data[..]) {
		return Ok(Some(EncodingFault::WrongData));
	}
	let last_part = u64::from(part) + 1 == parts;
	let last_block = block + 1 == setup.blocks.end;
	let last_segment = segment.index + 1 == setup.root.segments;
	if last_segment != (last_part && last_block) {
		return Ok(Some(EncodingFault::WrongEnd));
	}
	let Some(next) = next else { return Ok(None) };
	let Some(following) = unseal(&unsealer, &setup.id, next)? else {
		return Ok(Some(EncodingFault::Unsealable));
	};
	let wanted = if last_part { (block + 1, 0) } else { (block, part + 1) };
	if (following.label.block, following.label.part) != wanted {
		return Ok(Some(EncodingFault::WrongOrder));
	}
	Ok(None)
}

/// The segment unsealed, or `None` if it does not unseal to a well-formed label (which is
/// the encoder's fault once the segment is proven in its committed stream).
fn unseal(
	unsealer: &Unsealer,
	id: &ReplicaId,
	proof: &SegmentProof,
) -> Result<Option<PlainSegment>> {
	match unsealer.unseal_segment(id, proof.index, &proof.segment) {
		Ok(plain) => Ok(Some(plain)),
		Err(Error::BadSealedWord | Error::BadSegmentLabel) => Ok(None),
		Err(e) => Err(e),
	}
}

/// The bytes of block `index`, proven against the feed's tree on chain.
fn original_block<'p>(
	setup: &CommittedEncoding,
	proof: &'p Proof,
	verifier: &impl Ed25519Verifier,
	index: u64,
) -> Result<&'p [u8]> {
	let block = proof.block.as_ref().ok_or(Error::MissingBlock)?;
	if block.index != index {
		return Err(Error::WrongOriginalBlock);
	}
	let tree = match proof.upgrade {
		None => verify_proof(setup.auth, Some(setup.tree), proof, verifier)?.tree,
		Some(_) => verify_proof(setup.auth, None, proof, verifier)?.tree,
	};
	if tree.length != setup.tree.length || tree.tree_hash != setup.tree.tree_hash {
		return Err(Error::RootMismatch);
	}
	Ok(&block.value)
}

#[cfg(all(test, feature = "openssl"))]
mod tests {
	use super::*;
	use crate::encoded::{SealedReplica, SEGMENT_SIZE};
	use crate::sealing::Sealer;
	use crate::testdata::{generate, TEST_SEALING_KEYS};
	use crate::verify::verify_signed_tree;
	use crate::writer::FeedWriter;
	use crate::{DalekVerifier, SigningMode};
	use alloc::{vec, vec::Vec};

	const ID: ReplicaId = ReplicaId { contract: 7, replica: 2 };
	const BLOCKS: Range<u64> = 1..5;

	struct Setup {
		feed: FeedWriter,
		tree: VerifiedTree,
		sealer: Sealer,
	}

	/// A feed of 6 blocks (the contract covers 1..5): one-part, three-part and
	/// compressible blocks.
	fn setup() -> Setup {
		let mut feed = FeedWriter::from_seed([3; 32], SigningMode::ManifestV1);
		for (i, size) in [500usize, 2500, 40, 3000, 900, 10].into_iter().enumerate() {
			feed.append(&generate(5, i as u32, size)).unwrap();
		}
		feed.append(&[b'a'; 5000]).unwrap();
		let tree = verify_signed_tree(&feed.auth(), &feed.signed_tree(), &DalekVerifier).unwrap();
		let sealer = Sealer::from_pem(TEST_SEALING_KEYS[1].as_bytes()).unwrap();
		Setup { feed, tree, sealer }
	}

	/// A plain segment: its label and data.
	type Part = (SegmentLabel, Vec<u8>);

	/// (label, data) of every segment of the honest stream, in order.
	fn honest_parts(s: &Setup) -> Vec<Part> {
		let mut parts = Vec::new();
		for block in BLOCKS {
			let encoded = encode_block(s.feed.block(block).unwrap()).unwrap();
			for (part, data) in encoded.chunks(SEGMENT_DATA).enumerate() {
				let label = SegmentLabel { block, part: part as u32, len: data.len() as u16 };
				parts.push((label, data.to_vec()));
			}
		}
		parts
	}

	/// The replica an encoder commits when it seals `parts` in this order.
	fn seal(s: &Setup, parts: &[Part]) -> SealedReplica {
		let sealed = parts
			.iter()
			.enumerate()
			.map(|(i, (label, data))| {
				s.sealer.seal_segment(&ID, i as u64, *label, data).unwrap().to_vec()
			})
			.collect();
		SealedReplica::from_sealed(ID, s.sealer.key(), BLOCKS.start, sealed).unwrap()
	}

	/// The fraud proof a hoster builds for segment `index` (with the next one if `pair`),
	/// carrying the original block the segment claims to hold.
	fn proof(s: &Setup, replica: &SealedReplica, index: u64, pair: bool) -> EncodingFraudProof {
		let segment = replica.prove(index).unwrap();
		let unsealer = Unsealer::new(s.sealer.key()).unwrap();
		let original = unsealer
			.unseal_segment(&ID, index, &segment.segment)
			.ok()
			.filter(|p| p.label.block < s.feed.length())
			.map(|p| s.feed.block_proof(p.label.block).unwrap());
		let next = pair.then(|| replica.prove(index + 1).unwrap());
		EncodingFraudProof { segment, next, original }
	}

	fn judge(
		s: &Setup,
		replica: &SealedReplica,
		p: &EncodingFraudProof,
	) -> Result<Option<EncodingFault>> {
		let root = replica.root();
		let setup = CommittedEncoding {
			id: ID,
			root: &root,
			key: s.sealer.key(),
			blocks: BLOCKS,
			auth: &s.feed.auth(),
			tree: &s.tree,
		};
		judge_encoding(&setup, p, &DalekVerifier)
	}

	/// Every single-segment and every pair proof over the stream: the faults they show.
	fn every_verdict(s: &Setup, replica: &SealedReplica) -> Vec<EncodingFault> {
		let n = replica.root().segments;
		let mut faults = Vec::new();
		for index in 0..n {
			for pair in [false, true] {
				if pair && index + 1 == n {
					continue;
				}
				if let Ok(Some(f)) = judge(s, replica, &proof(s, replica, index, pair)) {
					faults.push(f);
				}
			}
		}
		faults
	}

	#[test]
	fn no_proof_faults_the_honest_encoder() {
		let s = setup();
		let parts = honest_parts(&s);
		let replica = seal(&s, &parts);
		// The honest stream is what `SealedReplica::build` (the node's encoder) produces.
		let blocks: Vec<&[u8]> = BLOCKS.map(|b| s.feed.block(b).unwrap()).collect();
		let built = SealedReplica::build(ID, &s.sealer, BLOCKS.start, blocks).unwrap();
		assert_eq!(built.root(), replica.root());
		assert!(parts.len() >= 8, "several multi-part blocks");
		for index in 0..replica.root().segments {
			let single = judge(&s, &replica, &proof(&s, &replica, index, false));
			assert_eq!(single, Ok(None), "segment {index}");
			if index + 1 < replica.root().segments {
				let pair = judge(&s, &replica, &proof(&s, &replica, index, true));
				assert_eq!(pair, Ok(None), "segments {index}, {}", index + 1);
			}
		}
		// The original block proven without an upgrade, against the chain's roots, too.
		let mut p = proof(&s, &replica, 3, false);
		p.original.as_mut().unwrap().upgrade = None;
		assert_eq!(judge(&s, &replica, &p), Ok(None));
	}

	#[test]
	fn each_kind_of_bad_stream_is_shown_by_some_proof() {
		let s = setup();
		let honest = honest_parts(&s);
		let cases: Vec<(EncodingFault, Vec<Part>)> = vec![
			// One byte of a part changed, label intact.
			(EncodingFault::WrongData, {
				let mut p = honest.clone();
				p[2].1[7] ^= 1;
				p
			}),
			// A part sealed for another block's place: its data is that block's.
			(EncodingFault::WrongData, {
				let mut p = honest.clone();
				p[0].1 = honest[1].1.clone();
				p
			}),
			// Two blocks swapped.
			(EncodingFault::WrongOrder, {
				let mut p = honest.clone();
				let one_part = p.iter().position(|(l, _)| l.block == 3).unwrap();
				let moved = p.remove(one_part);
				p.insert(1, moved);
				p
			}),
			// A part left out in the middle.
			(EncodingFault::WrongOrder, {
				let mut p = honest.clone();
				p.remove(2);
				p
			}),
			// Starts at the second block.
			(EncodingFault::WrongStart, honest[1..].to_vec()),
			// Stops before the last block.
			(EncodingFault::WrongEnd, {
				let mut p = honest.clone();
				p.pop();
				p
			}),
			// A block past the contract appended.
			(EncodingFault::OutOfRange, {
				let mut p = honest.clone();
				let encoded = encode_block(s.feed.block(5).unwrap()).unwrap();
				let label = SegmentLabel { block: 5, part: 0, len: encoded.len() as u16 };
				p.push((label, encoded));
				p
			}),
			// The last part repeated.
			(EncodingFault::WrongEnd, {
				let mut p = honest.clone();
				p.push(p.last().unwrap().clone());
				p
			}),
		];
		for (i, (fault, parts)) in cases.into_iter().enumerate() {
			let replica = seal(&s, &parts);
			let faults = every_verdict(&s, &replica);
			assert!(faults.contains(&fault), "case {i}: {faults:?}");
		}

		// Garbage in place of a segment: unsealable, proven with no original block.
		let mut replica = seal(&s, &honest);
		let mut sealed = replica.sealed_blocks().to_vec();
		sealed[1] = vec![0xa5; SEGMENT_SIZE];
		replica = SealedReplica::from_sealed(ID, s.sealer.key(), BLOCKS.start, sealed).unwrap();
		let p =
			EncodingFraudProof { segment: replica.prove(1).unwrap(), next: None, original: None };
		assert_eq!(judge(&s, &replica, &p), Ok(Some(EncodingFault::Unsealable)));
		// The honest segment before it, with it as the next one: unsealable as well.
		let p = proof(&s, &replica, 0, true);
		assert_eq!(judge(&s, &replica, &p), Ok(Some(EncodingFault::Unsealable)));
	}

	#[test]
	fn invalid_proofs_are_refused_whatever_they_claim() {
		let s = setup();
		let mut parts = honest_parts(&s);
		parts[2].1[0] ^= 1;
		let replica = seal(&s, &parts);
		let good = proof(&s, &replica, 2, false);
		assert_eq!(judge(&s, &replica, &good), Ok(Some(EncodingFault::WrongData)));

		// A segment that is not in the committed stream (an honest one, not committed).
		let honest = seal(&s, &honest_parts(&s));
		let mut p = good.clone();
		p.segment = honest.prove(2).unwrap();
		assert_eq!(judge(&s, &replica, &p), Err(Error::SegmentRootMismatch));
		// A next segment that does not follow.
		let mut p = good.clone();
		p.next = Some(replica.prove(4).unwrap());
		assert_eq!(judge(&s, &replica, &p), Err(Error::SegmentsNotConsecutive));
		// No original block, another one, or its bytes changed.
		let mut p = good.clone();
		p.original = None;
		assert_eq!(judge(&s, &replica, &p), Err(Error::OriginalBlockMissing));
		let mut p = good.clone();
		p.original = Some(s.feed.block_proof(3).unwrap());
		assert_eq!(judge(&s, &replica, &p), Err(Error::WrongOriginalBlock));
		let mut p = good.clone();
		p.original.as_mut().unwrap().block.as_mut().unwrap().value[0] ^= 1;
		assert!(judge(&s, &replica, &p).is_err());
		// A proof signed at another length of the feed than the chain's.
		let mut longer = setup();
		longer.feed.append(b"more").unwrap();
		let mut p = good.clone();
		p.original =
			Some(longer.feed.block_proof(p.original.unwrap().block.unwrap().index).unwrap());
		assert_eq!(judge(&s, &replica, &p), Err(Error::RootMismatch));
	}
}
