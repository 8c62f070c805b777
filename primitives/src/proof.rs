//! The proofs datdot verifies, shaped like hypercore's `core.proof()` output (block,
//! upgrade), and a feed's signed tree. SCALE-encodable so they can be extrinsic
//! arguments; the verifier bounds every node list, so no length read from a proof can
//! make it allocate or loop without limit.

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

use crate::error::{Error, Result};
use crate::hash::Node;

/// Feeds are limited to 2^60 blocks so flat-tree indexes never overflow.
pub const MAX_LENGTH: u64 = 1 << 60;
/// A block's sibling path never exceeds the tree depth.
pub const MAX_BLOCK_NODES: usize = 64;
/// Upgrade node lists: at most a grow path plus one node per full root.
pub const MAX_UPGRADE_NODES: usize = 192;
/// A tree of at most 2^60 blocks has at most 61 full roots.
pub const MAX_ROOTS: usize = 64;

/// A block with its sibling path (hypercore's `proof.block`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct BlockData {
	/// The block index.
	pub index: u64,
	/// The block's bytes.
	pub value: Vec<u8>,
	/// Siblings from the leaf up, ending below a root (or below the node the upgrade needs).
	pub nodes: Vec<Node>,
}

/// A signed extension of the tree (hypercore's `proof.upgrade`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct UpgradeData {
	/// The length the verifier already trusts (0 for a fresh verifier).
	pub start: u64,
	/// How many blocks the upgrade adds.
	pub length: u64,
	/// Nodes that, with the trusted roots and the block, give the roots at `start + length`.
	pub nodes: Vec<Node>,
	/// Nodes from `start + length` up to the length the signature covers, if longer.
	pub additional_nodes: Vec<Node>,
	/// The stored signature (raw 64 bytes in compat mode, the container in manifest mode).
	pub signature: Vec<u8>,
}

/// A hypercore proof: an optional block and an optional signed upgrade.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct Proof {
	/// The fork (truncation counter) the proof was made at.
	pub fork: u64,
	/// The block, if the proof carries one.
	pub block: Option<BlockData>,
	/// The upgrade, if the proof carries one.
	pub upgrade: Option<UpgradeData>,
}

/// A feed's signed state: its full roots at `length`, and the signature over them.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct SignedTree {
	/// Number of blocks.
	pub length: u64,
	/// Fork counter.
	pub fork: u64,
	/// The full roots of `length`, left to right.
	pub roots: Vec<Node>,
	/// The stored signature of the tree.
	pub signature: Vec<u8>,
}

impl Proof {
	/// Decode a SCALE-encoded proof from untrusted bytes; trailing bytes are an error.
	/// (SCALE pre-allocates at most a few KiB whatever length prefix it reads.)
	pub fn decode_untrusted(mut bytes: &[u8]) -> Result<Self> {
		let proof = Proof::decode(&mut bytes).map_err(|_| Error::MalformedProof)?;
		if !bytes.is_empty() {
			return Err(Error::MalformedProof);
		}
		Ok(proof)
	}
}
