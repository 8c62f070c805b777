//! Tree nodes and hypercore's hashes (BLAKE2b-256, type-prefixed, sizes as u64le).
//!
//! Prefixes 0x00 leaf, 0x01 parent, 0x02 tree keep a leaf from ever being read as a parent
//! (second-preimage defence); they and the layouts are those of `hypercore-crypto`.

use blake2::{digest::consts::U32, Blake2b, Digest};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::error::{Error, Result};

/// A 32-byte BLAKE2b-256 digest.
pub type Hash = [u8; 32];

/// BLAKE2b with a 32-byte output, the only hash hypercore uses.
pub type Blake2b256 = Blake2b<U32>;

const LEAF_TYPE: u8 = 0;
const PARENT_TYPE: u8 = 1;
const ROOT_TYPE: u8 = 2;

/// One merkle tree node: its flat-tree index, the bytes of data under it, and its hash.
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
pub struct Node {
	/// Flat-tree index (block `i` is `2i`).
	pub index: u64,
	/// Total byte length of the blocks under this node.
	pub size: u64,
	/// The node's hash.
	pub hash: Hash,
}

/// BLAKE2b-256 of the concatenation of `parts`.
pub fn blake2b256(parts: &[&[u8]]) -> Hash {
	let mut h = Blake2b256::new();
	for p in parts {
		h.update(p);
	}
	h.finalize().into()
}

/// Leaf hash of a block: `H(0x00 ‖ u64le(len) ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
	blake2b256(&[&[LEAF_TYPE], &(data.len() as u64).to_le_bytes(), data])
}

/// Parent hash: `H(0x01 ‖ u64le(left.size + right.size) ‖ left.hash ‖ right.hash)`,
/// children ordered by index as hypercore does.
pub fn parent_hash(a: &Node, b: &Node) -> Result<Hash> {
	let (left, right) = if a.index > b.index { (b, a) } else { (a, b) };
	let size = left.size.checked_add(right.size).ok_or(Error::SizeOverflow)?;
	Ok(blake2b256(&[&[PARENT_TYPE], &size.to_le_bytes(), &left.hash, &right.hash]))
}

/// The tree hash that is signed: `H(0x02 ‖ for each root: hash ‖ u64le(index) ‖ u64le(size))`.
pub fn tree_hash(roots: &[Node]) -> Hash {
	let mut h = Blake2b256::new();
	h.update([ROOT_TYPE]);
	for r in roots {
		h.update(r.hash);
		h.update(r.index.to_le_bytes());
		h.update(r.size.to_le_bytes());
	}
	h.finalize().into()
}

impl Node {
	/// The leaf node of block `block_index` holding `data`.
	pub fn leaf(block_index: u64, data: &[u8]) -> Node {
		Node { index: 2 * block_index, size: data.len() as u64, hash: leaf_hash(data) }
	}

	/// The parent node at `index` of two children.
	pub fn parent(index: u64, a: &Node, b: &Node) -> Result<Node> {
		Ok(Node {
			index,
			size: a.size.checked_add(b.size).ok_or(Error::SizeOverflow)?,
			hash: parent_hash(a, b)?,
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn leaf_hash_depends_on_length_and_data() {
		assert_ne!(leaf_hash(b""), leaf_hash(b"\0"));
		assert_ne!(leaf_hash(b"a"), leaf_hash(b"b"));
	}

	#[test]
	fn parent_orders_children_and_checks_size() {
		let a = Node::leaf(0, b"a");
		let b = Node::leaf(1, b"b");
		assert_eq!(parent_hash(&a, &b).unwrap(), parent_hash(&b, &a).unwrap());
		let huge = Node { size: u64::MAX, ..b };
		assert_eq!(parent_hash(&a, &huge), Err(Error::SizeOverflow));
	}
}
