//! The stream of one replica (design §7): each original block is compressed (the encoded
//! block), sealed into fixed-size segments by the encoder ([`crate::sealing`]), and every
//! sealed segment becomes a leaf of a merkle tree whose leaves also bind the replica's
//! identity, so two replicas of the same feed have different roots and a hoster cannot
//! answer a challenge with another replica's proof.
//!
//! A valid segment proof shows the hoster can produce the sealed segment, which needs
//! either the stored copy or the encoder's private key.
//!
//! Verification ([`verify_segment`]) and the codec ([`encode_block`], [`decode_block`]) are
//! `no_std` (the chain re-encodes a block to judge a fraud proof); tree building needs
//! `std`, sealing needs the `openssl` feature.

use alloc::{vec, vec::Vec};

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::error::{Error, Result};
use crate::hash::{blake2b256, Hash};

/// Segment size: four sealed RSA-2048 words (see [`crate::sealing`]), small enough that
/// one proof (segment + ~30 hashes) stays under 2 KiB for a 1 TiB replica.
pub const SEGMENT_SIZE: usize = 1024;
/// Largest decoded block accepted, so a forged header cannot make a decoder allocate
/// more than this.
pub const MAX_BLOCK_SIZE: usize = 64 << 20;
/// A tree over at most 2^64 leaves is at most 64 levels deep.
pub const MAX_PATH: usize = 64;

const LEAF_TYPE: u8 = 0x10;
const PARENT_TYPE: u8 = 0x11;
const ROOT_TYPE: u8 = 0x12;

/// Codec tag of an encoded block: the block as is (for incompressible data).
pub const CODEC_STORED: u8 = 0;
/// Codec tag of an encoded block: LZ4 block format (see docs/decisions.md).
pub const CODEC_LZ4: u8 = 1;
/// Encoded block header: codec tag + u32le decoded length.
pub const HEADER_LEN: usize = 5;

/// Which replica a segment belongs to; hashed into every leaf.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ReplicaId {
	/// The hosting contract's id.
	pub contract: u64,
	/// The replica's index within the contract.
	pub replica: u32,
}

/// What the chain stores about a replica: its root and how many segments it has.
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
pub struct EncodedRoot {
	/// `H(0x12 ‖ u64le(segments) ‖ top)`, committing to the count as well.
	pub root: Hash,
	/// Number of segments (leaves).
	pub segments: u64,
}

/// A hoster's answer for one segment: its bytes and sibling hashes up the tree.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct SegmentProof {
	/// Segment index in the replica.
	pub index: u64,
	/// The sealed segment's bytes (exactly `SEGMENT_SIZE`).
	pub segment: Vec<u8>,
	/// Sibling hashes from the leaf up (levels where the node was promoted have none).
	pub path: Vec<Hash>,
}

/// Leaf hash: `H(0x10 ‖ u64le(contract) ‖ u32le(replica) ‖ u64le(index) ‖ segment)`.
pub fn segment_leaf(id: &ReplicaId, index: u64, segment: &[u8]) -> Hash {
	blake2b256(&[
		&[LEAF_TYPE],
		&id.contract.to_le_bytes(),
		&id.replica.to_le_bytes(),
		&index.to_le_bytes(),
		segment,
	])
}

/// Parent hash: `H(0x11 ‖ left ‖ right)`.
pub fn segment_parent(left: &Hash, right: &Hash) -> Hash {
	blake2b256(&[&[PARENT_TYPE], left, right])
}

/// The root the chain stores: the tree's top node bound to the segment count
/// (`H(0x12 ‖ u64le(segments) ‖ top)`), public so a tree built on disk commits the same way.
pub fn commit_root(top: &Hash, segments: u64) -> Hash {
	blake2b256(&[&[ROOT_TYPE], &segments.to_le_bytes(), top])
}

/// The root a proof leads to, given the segment count. The tree pairs nodes level by
/// level and promotes an odd last node unchanged, so the path length follows from
/// (index, count) and is checked exactly.
pub fn root_from_path(
	id: &ReplicaId,
	segments: u64,
	index: u64,
	segment: &[u8],
	path: &[Hash],
) -> Result<Hash> {
	if index >= segments {
		return Err(Error::SegmentOutOfRange);
	}
	if segment.len() != SEGMENT_SIZE {
		return Err(Error::BadSegmentLength);
	}
	if path.len() > MAX_PATH {
		return Err(Error::BadSegmentPath);
	}
	let mut hash = segment_leaf(id, index, segment);
	let mut i = index;
	let mut width = segments;
	let mut siblings = path.iter();
	while width > 1 {
		let sibling = i ^ 1;
		if sibling < width {
			let s = siblings.next().ok_or(Error::BadSegmentPath)?;
			hash = if i & 1 == 0 { segment_parent(&hash, s) } else { segment_parent(s, &hash) };
		}
		i >>= 1;
		width = width.div_ceil(2);
	}
	if siblings.next().is_some() {
		return Err(Error::BadSegmentPath);
	}
	Ok(commit_root(&hash, segments))
}

/// Verify a segment proof against a replica's root.
pub fn verify_segment(root: &EncodedRoot, id: &ReplicaId, proof: &SegmentProof) -> Result<()> {
	let got = root_from_path(id, root.segments, proof.index, &proof.segment, &proof.path)?;
	if got == root.root {
		Ok(())
	} else {
		Err(Error::SegmentRootMismatch)
	}
}

/// Encode one block: LZ4 if that makes it smaller, else stored as is. The output
/// starts with the codec tag and the decoded length.
pub fn encode_block(block: &[u8]) -> Result<Vec<u8>> {
	let len = u32::try_from(block.len()).map_err(|_| Error::BlockTooLarge)?;
	if block.len() > MAX_BLOCK_SIZE {
		return Err(Error::BlockTooLarge);
	}
	let bound = lz4_flex::block::get_maximum_output_size(block.len());
	let mut out = Vec::with_capacity(HEADER_LEN + bound);
	out.push(CODEC_LZ4);
	out.extend_from_slice(&len.to_le_bytes());
	out.resize(HEADER_LEN + bound, 0);
	let n = lz4_flex::block::compress_into(block, &mut out[HEADER_LEN..])
		.map_err(|_| Error::BadEncoding)?;
	if n < block.len() {
		out.truncate(HEADER_LEN + n);
	} else {
		out.truncate(HEADER_LEN);
		out[0] = CODEC_STORED;
		out.extend_from_slice(block);
	}
	Ok(out)
}

/// The codec tag and decoded length of an encoded block, checked against the limits.
fn check_header(encoded: &[u8]) -> Result<(u8, usize)> {
	if encoded.len() < HEADER_LEN || !matches!(encoded[0], CODEC_STORED | CODEC_LZ4) {
		return Err(Error::BadEncoding);
	}
	let mut len_bytes = [0u8; 4];
	len_bytes.copy_from_slice(&encoded[1..HEADER_LEN]);
	let len = u32::from_le_bytes(len_bytes) as usize;
	if len > MAX_BLOCK_SIZE {
		return Err(Error::BlockTooLarge);
	}
	Ok((encoded[0], len))
}

/// Decode an encoded block back to the original bytes. Allocates at most the
/// stated length, itself capped at [`MAX_BLOCK_SIZE`].
pub fn decode_block(encoded: &[u8]) -> Result<Vec<u8>> {
	let (codec, len) = check_header(encoded)?;
	let payload = &encoded[HEADER_LEN..];
	match codec {
		CODEC_STORED if payload.len() == len => Ok(payload.to_vec()),
		CODEC_LZ4 => {
			let mut out = vec![0u8; len];
			let n = lz4_flex::block::decompress_into(payload, &mut out)
				.map_err(|_| Error::BadEncoding)?;
			if n != len {
				return Err(Error::BadEncoding);
			}
			Ok(out)
		}
		_ => Err(Error::BadEncoding),
	}
}

#[cfg(feature = "std")]
pub use self::codec_impl::*;

#[cfg(feature = "std")]
mod codec_impl {
	use super::*;
	use crate::sealing::{SealingKey, Unsealer};
	use core::ops::Range;

	/// A whole replica: its sealed blocks (see [`crate::sealing`]) and the segment tree
	/// over them. Each block's sealing starts a new segment, so any block unseals and
	/// decodes from its own segments.
	pub struct SealedReplica {
		id: ReplicaId,
		unsealer: Unsealer,
		key: SealingKey,
		/// Feed index of the first block.
		first_block: u64,
		blocks: Vec<Vec<u8>>,
		/// First segment of each block, plus the total at the end.
		block_starts: Vec<u64>,
		/// Tree levels, leaves first; the last level has one node.
		levels: Vec<Vec<Hash>>,
	}

	impl SealedReplica {
		/// Encodes and seals `blocks` (feed indexes from `first_block`) for replica `id`
		/// with the encoder's `sealer`, and builds the tree.
		#[cfg(feature = "openssl")]
		pub fn build<'a>(
			id: ReplicaId,
			sealer: &crate::sealing::Sealer,
			first_block: u64,
			blocks: impl IntoIterator<Item = &'a [u8]>,
		) -> Result<Self> {
			let mut sealed = Vec::new();
			let mut segment = 0u64;
			for (i, block) in blocks.into_iter().enumerate() {
				let encoded = encode_block(block)?;
				let s = sealer.seal_block(&id, segment, first_block + i as u64, &encoded)?;
				segment += (s.len() / SEGMENT_SIZE) as u64;
				sealed.push(s);
			}
			Self::from_sealed(id, sealer.key(), first_block, sealed)
		}

		/// Replica `id` from blocks already sealed with `key` (what a hoster receives or
		/// reads back from disk). Each must be whole segments; whether they unseal to the
		/// feed's data is the caller's check ([`SealedReplica::decode`]).
		pub fn from_sealed(
			id: ReplicaId,
			key: &SealingKey,
			first_block: u64,
			sealed_blocks: Vec<Vec<u8>>,
		) -> Result<Self> {
			let unsealer = Unsealer::new(key)?;
			let mut block_starts = vec![0u64];
			let mut leaves = Vec::new();
			for sealed in &sealed_blocks {
				if sealed.is_empty() || !sealed.len().is_multiple_of(SEGMENT_SIZE) {
					return Err(Error::BadSegmentLength);
				}
				for segment in sealed.chunks(SEGMENT_SIZE) {
					leaves.push(segment_leaf(&id, leaves.len() as u64, segment));
				}
				block_starts.push(leaves.len() as u64);
			}
			if leaves.is_empty() {
				return Err(Error::EmptyTree);
			}
			Ok(SealedReplica {
				id,
				unsealer,
				key: *key,
				first_block,
				blocks: sealed_blocks,
				block_starts,
				levels: build_levels(leaves),
			})
		}

		/// The sealed blocks, in order.
		pub fn sealed_blocks(&self) -> &[Vec<u8>] {
			&self.blocks
		}

		/// The tree's levels, leaves first; the last has one node.
		pub fn levels(&self) -> &[Vec<Hash>] {
			&self.levels
		}

		/// The replica's identity.
		pub fn id(&self) -> ReplicaId {
			self.id
		}

		/// The encoder's sealing key.
		pub fn key(&self) -> &SealingKey {
			&self.key
		}

		/// Feed index of the replica's first block.
		pub fn first_block(&self) -> u64 {
			self.first_block
		}

		/// Root and segment count, as the chain stores them.
		pub fn root(&self) -> EncodedRoot {
			let segments = self.levels[0].len() as u64;
			let top = self.levels.last().map(|l| l[0]).unwrap_or_default();
			EncodedRoot { root: commit_root(&top, segments), segments }
		}

		/// Total sealed bytes (what the hoster stores, tree excluded).
		pub fn sealed_len(&self) -> usize {
			self.blocks.iter().map(|b| b.len()).sum()
		}

		/// The segments of block `block` (counted from the replica's first block).
		pub fn block_segments(&self, block: usize) -> Option<Range<u64>> {
			Some(*self.block_starts.get(block)?..*self.block_starts.get(block + 1)?)
		}

		/// The bytes of segment `index`.
		pub fn segment(&self, index: u64) -> Option<&[u8]> {
			let block = self.block_starts.partition_point(|&s| s <= index).checked_sub(1)?;
			let offset = (index - self.block_starts[block]) as usize * SEGMENT_SIZE;
			self.blocks.get(block)?.get(offset..offset + SEGMENT_SIZE)
		}

		/// The proof of segment `index`.
		pub fn prove(&self, index: u64) -> Result<SegmentProof> {
			let segment = self.segment(index).ok_or(Error::SegmentOutOfRange)?.to_vec();
			let mut path = Vec::new();
			let mut i = index as usize;
			for level in &self.levels[..self.levels.len() - 1] {
				if let Some(s) = level.get(i ^ 1) {
					path.push(*s);
				}
				i >>= 1;
			}
			Ok(SegmentProof { index, segment, path })
		}

		/// Unseals and decodes block `block` (counted from the replica's first block).
		pub fn decode(&self, block: usize) -> Result<Vec<u8>> {
			let sealed = self.blocks.get(block).ok_or(Error::SegmentOutOfRange)?;
			let encoded = self.unsealer.unseal_block(
				&self.id,
				self.block_starts[block],
				self.first_block + block as u64,
				sealed,
			)?;
			decode_block(&encoded)
		}
	}

	/// Pair nodes level by level, promoting an odd last node.
	fn build_levels(leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
		let mut levels = vec![leaves];
		while levels.last().is_some_and(|l| l.len() > 1) {
			let prev = levels.last().expect("non-empty");
			let next = prev
				.chunks(2)
				.map(
					|pair| {
						if pair.len() == 2 {
							segment_parent(&pair[0], &pair[1])
						} else {
							pair[0]
						}
					},
				)
				.collect();
			levels.push(next);
		}
		levels
	}
}

#[cfg(all(test, feature = "openssl"))]
mod tests {
	use super::*;
	use crate::sealing::{Sealer, SEGMENT_DATA};
	use crate::testdata::{generate, TEST_SEALING_KEYS};

	const ID: ReplicaId = ReplicaId { contract: 7, replica: 2 };

	fn sealer() -> Sealer {
		Sealer::from_pem(TEST_SEALING_KEYS[0].as_bytes()).unwrap()
	}

	fn build(id: ReplicaId, blocks: &[Vec<u8>]) -> SealedReplica {
		SealedReplica::build(id, &sealer(), 10, blocks.iter().map(|b| &b[..])).unwrap()
	}

	#[test]
	fn encode_decode_round_trip_both_codecs() {
		let compressible = vec![b'a'; 10_000];
		let random = generate(1, 1, 10_000);
		for block in [&b""[..], b"abc", &compressible, &random] {
			let e = encode_block(block).unwrap();
			assert_eq!(decode_block(&e).unwrap(), block);
		}
		assert_eq!(encode_block(&compressible).unwrap()[0], CODEC_LZ4);
		assert!(encode_block(&compressible).unwrap().len() < 200);
		assert_eq!(encode_block(&random).unwrap()[0], CODEC_STORED);
	}

	#[test]
	fn a_replica_rebuilt_from_its_sealed_blocks_is_the_same_replica() {
		let blocks = [generate(1, 2, 3000), vec![b'z'; 9000], b"tail".to_vec()];
		let built = build(ID, &blocks);
		let rebuilt =
			SealedReplica::from_sealed(ID, sealer().key(), 10, built.sealed_blocks().to_vec())
				.unwrap();
		assert_eq!(rebuilt.root(), built.root());
		assert_eq!(rebuilt.levels(), built.levels());
		for i in 0..built.root().segments {
			assert_eq!(rebuilt.prove(i).unwrap(), built.prove(i).unwrap());
		}
		for (i, block) in blocks.iter().enumerate() {
			assert_eq!(&rebuilt.decode(i).unwrap(), block);
		}
		let mut torn = built.sealed_blocks().to_vec();
		torn[1].pop();
		assert_eq!(
			SealedReplica::from_sealed(ID, sealer().key(), 10, torn).err(),
			Some(Error::BadSegmentLength)
		);
		assert_eq!(
			SealedReplica::from_sealed(ID, sealer().key(), 10, Vec::new()).err(),
			Some(Error::EmptyTree)
		);
	}

	#[test]
	fn a_replica_read_with_the_wrong_key_id_or_first_block_does_not_decode() {
		let blocks = [generate(1, 2, 3000), vec![b'z'; 9000]];
		let built = build(ID, &blocks);
		let sealed = built.sealed_blocks().to_vec();
		let other_key = *Sealer::from_pem(TEST_SEALING_KEYS[1].as_bytes()).unwrap().key();
		let other_id = ReplicaId { replica: 3, ..ID };
		for (id, key, first) in
			[(ID, other_key, 10), (other_id, *sealer().key(), 10), (ID, *sealer().key(), 11)]
		{
			let read = SealedReplica::from_sealed(id, &key, first, sealed.clone()).unwrap();
			assert!(read.decode(0).is_err() && read.decode(1).is_err());
		}
	}

	#[test]
	fn decode_refuses_forged_headers() {
		assert_eq!(decode_block(&[1, 0, 0]), Err(Error::BadEncoding));
		assert_eq!(decode_block(&[1, 0xff, 0xff, 0xff, 0xff]), Err(Error::BlockTooLarge));
		assert_eq!(decode_block(&[0, 3, 0, 0, 0, 1, 2]), Err(Error::BadEncoding));
		assert_eq!(decode_block(&[9, 0, 0, 0, 0]), Err(Error::BadEncoding));
		let mut e = encode_block(&vec![b'x'; 5000]).unwrap();
		e[1] ^= 1; // stated length off by one
		assert_eq!(decode_block(&e), Err(Error::BadEncoding));
	}

	#[test]
	fn every_segment_proof_verifies_and_binds_replica() {
		for count in [1usize, 2, 3, 5] {
			let blocks: Vec<Vec<u8>> =
				(0..count).map(|i| generate(3, i as u32, 700 + 900 * i)).collect();
			let replica = build(ID, &blocks);
			let root = replica.root();
			for i in 0..root.segments {
				let proof = replica.prove(i).unwrap();
				verify_segment(&root, &ID, &proof).unwrap();
				let other = ReplicaId { replica: 3, ..ID };
				assert_eq!(verify_segment(&root, &other, &proof), Err(Error::SegmentRootMismatch));
				let mut bad = proof.clone();
				bad.segment[0] ^= 1;
				assert_eq!(verify_segment(&root, &ID, &bad), Err(Error::SegmentRootMismatch));
				if !proof.path.is_empty() {
					let mut short = proof.clone();
					short.path.pop();
					assert_eq!(verify_segment(&root, &ID, &short), Err(Error::BadSegmentPath));
				}
				let mut long = proof.clone();
				long.path.push([0; 32]);
				assert_eq!(verify_segment(&root, &ID, &long), Err(Error::BadSegmentPath));
				let moved = SegmentProof { index: i ^ 1, ..proof.clone() };
				if moved.index < root.segments {
					assert!(verify_segment(&root, &ID, &moved).is_err());
				}
			}
			for (i, block) in blocks.iter().enumerate() {
				assert_eq!(&replica.decode(i).unwrap(), block);
				let range = replica.block_segments(i).unwrap();
				let expected = encode_block(block).unwrap().len().div_ceil(SEGMENT_DATA);
				assert_eq!((range.end - range.start) as usize, expected);
			}
		}
	}

	#[test]
	fn replicas_of_same_data_have_different_roots_and_segments() {
		let blocks = [generate(1, 0, 3000)];
		let a = build(ID, &blocks);
		let b = build(ReplicaId { replica: 9, ..ID }, &blocks);
		assert_ne!(a.root().root, b.root().root);
		assert_ne!(a.segment(0), b.segment(0), "each replica is sealed apart");
	}

	#[test]
	fn out_of_range_and_bad_lengths() {
		let root = EncodedRoot { root: [0; 32], segments: 4 };
		let p = SegmentProof { index: 4, segment: vec![1; SEGMENT_SIZE], path: vec![] };
		assert_eq!(verify_segment(&root, &ID, &p), Err(Error::SegmentOutOfRange));
		let p = SegmentProof { index: 0, segment: vec![], path: vec![] };
		assert_eq!(verify_segment(&root, &ID, &p), Err(Error::BadSegmentLength));
		let p = SegmentProof { index: 0, segment: vec![0; SEGMENT_SIZE - 1], path: vec![] };
		assert_eq!(verify_segment(&root, &ID, &p), Err(Error::BadSegmentLength));
		let p = SegmentProof { index: 0, segment: vec![0; SEGMENT_SIZE + 1], path: vec![] };
		assert_eq!(verify_segment(&root, &ID, &p), Err(Error::BadSegmentLength));
	}
}
