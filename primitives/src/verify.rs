//! Verification of hypercore proofs, signed trees and whole feeds.
//!
//! The proof walk is a port of hypercore's `verifyTree` + `verifyUpgrade`
//! (`lib/merkle-tree.js`), made stateless: the caller passes the tree it already trusts
//! (none for a fresh verifier), and gets back the newly signed tree. Every node list is
//! bounded and every index checked, so any input ends in `Ok` or a specific `Error`.

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

use crate::error::{Error, Result};
use crate::flat_tree::{self, Iter};
use crate::hash::{tree_hash, Hash, Node};
use crate::proof::{Proof, SignedTree, MAX_BLOCK_NODES, MAX_LENGTH, MAX_ROOTS, MAX_UPGRADE_NODES};
use crate::signing::{Ed25519Verifier, FeedAuth};

/// A tree whose signature has been checked.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct VerifiedTree {
	/// Number of blocks.
	pub length: u64,
	/// Fork counter.
	pub fork: u64,
	/// Full roots, left to right.
	pub roots: Vec<Node>,
	/// The tree hash that was signed.
	pub tree_hash: Hash,
	/// Total bytes of the feed.
	pub byte_length: u64,
}

/// What a verified proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
	/// The signed tree the proof leads to (the trusted one if it has no upgrade).
	pub tree: VerifiedTree,
	/// The block proven: its index and leaf node (value hash and size).
	pub block: Option<Node>,
	/// `start + length` of the upgrade (may be below `tree.length` when the signer's
	/// tree was longer and the proof carried additional nodes).
	pub upgrade_end: Option<u64>,
}

impl VerifiedTree {
	/// A tree from its roots, checking they are the full roots of some length.
	pub fn from_roots(roots: Vec<Node>, fork: u64) -> Result<Self> {
		let last = roots.last().ok_or(Error::EmptyTree)?;
		if last.index >= 2 * MAX_LENGTH {
			return Err(Error::LengthTooLarge);
		}
		let length = flat_tree::right_span(last.index) / 2 + 1;
		if length > MAX_LENGTH {
			return Err(Error::LengthTooLarge);
		}
		check_roots(&roots, length)?;
		let mut byte_length = 0u64;
		for r in &roots {
			byte_length = byte_length.checked_add(r.size).ok_or(Error::SizeOverflow)?;
		}
		Ok(VerifiedTree { length, fork, tree_hash: tree_hash(&roots), roots, byte_length })
	}
}

/// Check that `roots` are exactly the full roots of `length` (indexes, in order).
fn check_roots(roots: &[Node], length: u64) -> Result<()> {
	if roots.len() > MAX_ROOTS {
		return Err(Error::InvalidRoots);
	}
	let mut expected = flat_tree::full_roots(length);
	for r in roots {
		if expected.next() != Some(r.index) {
			return Err(Error::InvalidRoots);
		}
	}
	if expected.next().is_some() {
		return Err(Error::InvalidRoots);
	}
	Ok(())
}

/// Verify a signed tree (its roots and signature).
pub fn verify_signed_tree(
	auth: &FeedAuth,
	tree: &SignedTree,
	verifier: &impl Ed25519Verifier,
) -> Result<VerifiedTree> {
	if tree.length == 0 {
		return Err(Error::EmptyTree);
	}
	if tree.length > MAX_LENGTH {
		return Err(Error::LengthTooLarge);
	}
	check_roots(&tree.roots, tree.length)?;
	let verified = VerifiedTree::from_roots(tree.roots.clone(), tree.fork)?;
	auth.verify_tree_signature(
		&verified.tree_hash,
		verified.length,
		verified.fork,
		&tree.signature,
		verifier,
	)?;
	Ok(verified)
}

/// Verify a block proof for a fresh verifier: the block, its path, the other roots and
/// the signature (a proof from `core.proof({ block, upgrade: { start: 0, length } })`).
pub fn verify_block_proof(
	auth: &FeedAuth,
	proof: &Proof,
	verifier: &impl Ed25519Verifier,
) -> Result<VerifiedProof> {
	if proof.block.is_none() {
		return Err(Error::MissingBlock);
	}
	verify_proof(auth, None, proof, verifier)
}

/// Verify that `proof` extends the trusted tree `old` (an upgrade proof, optionally with
/// a block of the new part): the result is the newer signed tree.
pub fn verify_upgrade(
	auth: &FeedAuth,
	old: &VerifiedTree,
	proof: &Proof,
	verifier: &impl Ed25519Verifier,
) -> Result<VerifiedProof> {
	if proof.upgrade.is_none() {
		return Err(Error::MissingUpgrade);
	}
	let out = verify_proof(auth, Some(old), proof, verifier)?;
	if out.tree.length <= old.length {
		return Err(Error::NotAnExtension);
	}
	Ok(out)
}

/// Nodes handed out in the order the tree walk asks for them; `extra` is the block's
/// root, used once where the walk reaches its index (hypercore's `NodeQueue`).
struct NodeQueue<'a> {
	nodes: &'a [Node],
	next: usize,
	extra: Option<Node>,
}

impl NodeQueue<'_> {
	fn shift(&mut self, index: u64) -> Result<Node> {
		if let Some(extra) = self.extra {
			if extra.index == index {
				self.extra = None;
				return Ok(extra);
			}
		}
		let node = *self.nodes.get(self.next).ok_or(Error::MissingNode)?;
		if node.index != index {
			return Err(Error::UnexpectedNode);
		}
		self.next += 1;
		Ok(node)
	}
}

/// Push a root and merge it with its left neighbour while they are siblings
/// (hypercore's `appendRoot`).
fn append_root(roots: &mut Vec<Node>, node: Node, ite: &mut Iter) -> Result<()> {
	if roots.len() >= MAX_ROOTS + MAX_UPGRADE_NODES {
		return Err(Error::TooManyNodes);
	}
	roots.push(node);
	while roots.len() > 1 {
		let a = roots[roots.len() - 1];
		let b = roots[roots.len() - 2];
		if ite.sibling() != b.index {
			ite.sibling();
			break;
		}
		let parent = Node::parent(ite.parent(), &a, &b)?;
		roots.truncate(roots.len() - 2);
		roots.push(parent);
	}
	Ok(())
}

/// Verify any supported proof against the trusted tree (`None`: a fresh verifier).
pub fn verify_proof(
	auth: &FeedAuth,
	trusted: Option<&VerifiedTree>,
	proof: &Proof,
	verifier: &impl Ed25519Verifier,
) -> Result<VerifiedProof> {
	if let Some(t) = trusted {
		if t.fork != proof.fork {
			return Err(Error::ForkMismatch);
		}
	}

	// The block's path up to the highest node it reaches (hypercore's `verifyTree`).
	let block = match &proof.block {
		None => None,
		Some(b) => {
			if b.index >= MAX_LENGTH {
				return Err(Error::LengthTooLarge);
			}
			if b.nodes.len() > MAX_BLOCK_NODES {
				return Err(Error::TooManyNodes);
			}
			let leaf = Node::leaf(b.index, &b.value);
			let mut node = leaf;
			let mut ite = Iter::new(leaf.index);
			for sibling in &b.nodes {
				if ite.sibling() != sibling.index {
					return Err(Error::UnexpectedNode);
				}
				node = Node::parent(ite.parent(), &node, sibling)?;
			}
			Some((leaf, node))
		}
	};

	let Some(up) = &proof.upgrade else {
		// Nothing new is signed: the block must hang off a root we already trust.
		let t = trusted.ok_or(Error::MissingUpgrade)?;
		let (leaf, top) = block.ok_or(Error::MissingUpgrade)?;
		if leaf.index / 2 >= t.length {
			return Err(Error::BlockOutOfRange);
		}
		connect_to_roots(&top, &t.roots)?;
		return Ok(VerifiedProof { tree: t.clone(), block: Some(leaf), upgrade_end: None });
	};

	let (old_roots, old_length): (&[Node], u64) =
		trusted.map_or((&[], 0), |t| (&t.roots[..], t.length));
	if up.start != old_length {
		return Err(Error::UpgradeStartMismatch);
	}
	if up.length == 0 {
		return Err(Error::EmptyUpgrade);
	}
	let end = up.start.checked_add(up.length).ok_or(Error::LengthTooLarge)?;
	if end > MAX_LENGTH {
		return Err(Error::LengthTooLarge);
	}
	if up.nodes.len() > MAX_UPGRADE_NODES || up.additional_nodes.len() > MAX_UPGRADE_NODES {
		return Err(Error::TooManyNodes);
	}

	// hypercore's `verifyUpgrade`: rebuild the full roots at `end`.
	let mut roots: Vec<Node> = old_roots.to_vec();
	let mut q = NodeQueue { nodes: &up.nodes, next: 0, extra: block.map(|(_, top)| top) };
	let mut grow = !roots.is_empty();
	let mut i = 0;
	let to = 2 * end;
	let mut ite = Iter::new(0);
	while ite.full_root(to) {
		if i < roots.len() && roots[i].index == ite.index {
			i += 1;
			ite.next_tree();
			continue;
		}
		if grow {
			grow = false;
			let root = ite.index;
			if i < roots.len() {
				let last = roots.last().map(|n| n.index).unwrap_or_default();
				ite.seek(last);
				while ite.index != root {
					let node = q.shift(ite.sibling())?;
					append_root(&mut roots, node, &mut ite)?;
				}
				ite.next_tree();
				continue;
			}
		}
		let node = q.shift(ite.index)?;
		append_root(&mut roots, node, &mut ite)?;
		ite.next_tree();
	}

	// Nodes past `end`, up to the length the signer had signed.
	let extra = &up.additional_nodes;
	let last = roots.last().ok_or(Error::EmptyTree)?.index;
	ite.seek(last);
	let mut k = 0;
	while k < extra.len() && extra[k].index == ite.sibling() {
		append_root(&mut roots, extra[k], &mut ite)?;
		k += 1;
	}
	while k < extra.len() {
		let node = extra[k];
		k += 1;
		while node.index != ite.index {
			if ite.factor <= 2 {
				return Err(Error::UnexpectedNode);
			}
			ite.left_child();
		}
		append_root(&mut roots, node, &mut ite)?;
		ite.sibling();
	}

	if q.next != q.nodes.len() {
		return Err(Error::ExtraNodes);
	}
	let tree = VerifiedTree::from_roots(roots, proof.fork)?;
	if tree.length < end {
		return Err(Error::InvalidRoots);
	}

	let block = match block {
		None => None,
		Some((leaf, top)) => {
			if leaf.index / 2 >= end {
				return Err(Error::BlockOutOfRange);
			}
			// Not consumed by the upgrade walk: it must end at a root we trusted.
			if q.extra.is_some() {
				connect_to_roots(&top, old_roots)?;
			}
			Some(leaf)
		}
	};

	auth.verify_tree_signature(&tree.tree_hash, tree.length, tree.fork, &up.signature, verifier)?;
	Ok(VerifiedProof { tree, block, upgrade_end: Some(end) })
}

/// The node a block path reached must be one of the trusted roots, hash and size alike.
fn connect_to_roots(top: &Node, roots: &[Node]) -> Result<()> {
	match roots.iter().find(|r| r.index == top.index) {
		Some(r) if r == top => Ok(()),
		Some(_) => Err(Error::RootMismatch),
		None => Err(Error::BlockNotConnected),
	}
}

/// Append a block's leaf to a list of roots, merging siblings (how a writer grows its tree).
pub fn append_leaf(roots: &mut Vec<Node>, leaf: Node) -> Result<()> {
	roots.push(leaf);
	while roots.len() > 1 {
		let a = roots[roots.len() - 1];
		let b = roots[roots.len() - 2];
		if flat_tree::sibling(a.index) != b.index {
			break;
		}
		let parent = Node::parent(flat_tree::parent(a.index), &b, &a)?;
		roots.truncate(roots.len() - 2);
		roots.push(parent);
	}
	Ok(())
}

/// The full roots of a feed made of `blocks`.
pub fn roots_of_blocks<'a>(blocks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Node>> {
	let mut roots = Vec::new();
	for (i, block) in blocks.into_iter().enumerate() {
		if i as u64 >= MAX_LENGTH {
			return Err(Error::LengthTooLarge);
		}
		append_leaf(&mut roots, Node::leaf(i as u64, block))?;
	}
	Ok(roots)
}

/// Verify a whole feed prefix from its blocks: rebuild its roots and check `signature`
/// (the feed's stored signature at exactly that length and fork).
pub fn verify_feed<'a>(
	auth: &FeedAuth,
	blocks: impl IntoIterator<Item = &'a [u8]>,
	fork: u64,
	signature: &[u8],
	verifier: &impl Ed25519Verifier,
) -> Result<VerifiedTree> {
	let roots = roots_of_blocks(blocks)?;
	let tree = VerifiedTree::from_roots(roots, fork)?;
	auth.verify_tree_signature(&tree.tree_hash, tree.length, fork, signature, verifier)?;
	Ok(tree)
}
