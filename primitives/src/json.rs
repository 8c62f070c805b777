//! The JSON form of hypercore proofs and signed trees (std), documented in
//! `docs/hypercore-json.md`, and [`verify_proof_json`] behind `datdot-node hypercore verify`.
//!
//! A proof file wraps exactly what hypercore's `core.proof()` returns (same field names,
//! bytes as lowercase hex) with the feed key and manifest a verifier needs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::Node;
use crate::proof::{BlockData, Proof, SignedTree, UpgradeData};
use crate::signing::{DalekVerifier, FeedAuth, SigningMode};
use crate::verify::{verify_proof, verify_signed_tree, verify_upgrade};

/// A tree node: `{ "index", "size", "hash" }`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeJson {
	/// Flat-tree index.
	pub index: u64,
	/// Bytes under the node.
	pub size: u64,
	/// 32-byte hash, hex.
	pub hash: String,
}

/// `proof.block`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlockJson {
	/// Block index.
	pub index: u64,
	/// Block bytes, hex (null only in fixtures that regenerate large blocks).
	pub value: Option<String>,
	/// Sibling path.
	pub nodes: Vec<NodeJson>,
}

/// `proof.upgrade`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradeJson {
	/// Trusted length the upgrade starts from.
	pub start: u64,
	/// Blocks added.
	pub length: u64,
	/// Upgrade nodes.
	pub nodes: Vec<NodeJson>,
	/// Nodes beyond `start + length` up to the signed length.
	pub additional_nodes: Vec<NodeJson>,
	/// Stored signature, hex.
	pub signature: String,
}

/// `core.proof()`'s result. `hash` and `seek` must be null (unsupported);
/// `manifest` is ignored (the file's top-level manifest is used).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProofJson {
	/// Fork counter.
	pub fork: u64,
	/// The block, if any.
	#[serde(default)]
	pub block: Option<BlockJson>,
	/// Must be null.
	#[serde(default)]
	pub hash: Option<serde_json::Value>,
	/// Must be null.
	#[serde(default)]
	pub seek: Option<serde_json::Value>,
	/// The upgrade, if any.
	#[serde(default)]
	pub upgrade: Option<UpgradeJson>,
	/// Ignored.
	#[serde(default)]
	pub manifest: Option<serde_json::Value>,
}

/// A signed tree: `{ "length", "fork", "roots", "signature" }`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeJson {
	/// Number of blocks.
	pub length: u64,
	/// Fork counter.
	pub fork: u64,
	/// Full roots.
	pub roots: Vec<NodeJson>,
	/// Stored signature, hex.
	pub signature: String,
}

/// A file `datdot-node hypercore verify` accepts: the key, the manifest (hex of
/// hypercore's encoding; null for a compat feed), and either a `tree`, or a `proof`
/// optionally preceded by the trusted tree `from` it extends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProofFile {
	/// Feed key, hex.
	pub key: String,
	/// Manifest, hex, or null.
	#[serde(default)]
	pub manifest: Option<String>,
	/// A signed tree to verify on its own.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub tree: Option<SignedTreeJson>,
	/// The trusted tree an upgrade proof starts from.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub from: Option<SignedTreeJson>,
	/// The proof.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub proof: Option<ProofJson>,
}

impl ProofFile {
	/// A file for `proof` of feed `key`, extending the trusted tree `from` if given.
	pub fn proof(
		key: &[u8; 32],
		manifest: Option<&[u8]>,
		from: Option<&SignedTree>,
		proof: &Proof,
	) -> Self {
		ProofFile {
			key: to_hex(key),
			manifest: manifest.map(to_hex),
			tree: None,
			from: from.map(signed_tree_to_json),
			proof: Some(proof_to_json(proof)),
		}
	}

	/// A file for a feed's signed tree.
	pub fn tree(key: &[u8; 32], manifest: Option<&[u8]>, tree: &SignedTree) -> Self {
		ProofFile {
			key: to_hex(key),
			manifest: manifest.map(to_hex),
			tree: Some(signed_tree_to_json(tree)),
			from: None,
			proof: None,
		}
	}

	/// The file as pretty-printed JSON.
	pub fn to_json(&self) -> String {
		serde_json::to_string_pretty(self).unwrap_or_default()
	}
}

/// What a valid file proved, printed on one line by the CLI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
	/// Feed key.
	pub key: [u8; 32],
	/// Signing mode.
	pub mode: SigningMode,
	/// Signed length.
	pub length: u64,
	/// Fork.
	pub fork: u64,
	/// Signed tree hash.
	pub tree_hash: [u8; 32],
	/// Total bytes of the feed at `length`.
	pub byte_length: u64,
	/// Proven block: index and size.
	pub block: Option<(u64, u64)>,
	/// Length of the trusted tree an upgrade extended.
	pub upgraded_from: Option<u64>,
}

impl core::fmt::Display for Summary {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		let mode = match self.mode {
			SigningMode::Compat => "compat",
			SigningMode::ManifestV1 => "manifest-v1",
		};
		write!(
			f,
			"valid: feed {} ({mode}) length {} fork {} bytes {} tree {}",
			to_hex(&self.key),
			self.length,
			self.fork,
			self.byte_length,
			to_hex(&self.tree_hash)
		)?;
		if let Some(from) = self.upgraded_from {
			write!(f, ", extends length {from}")?;
		}
		if let Some((index, size)) = self.block {
			write!(f, ", block {index} ({size} bytes)")?;
		}
		Ok(())
	}
}

/// Parse and fully verify a proof file (signature checked with [`DalekVerifier`]).
pub fn verify_proof_json(text: &str) -> Result<Summary> {
	let file: ProofFile = serde_json::from_str(text).map_err(|_| Error::JsonSyntax)?;
	let key = hex32(&file.key)?;
	let manifest = file.manifest.as_deref().map(from_hex).transpose()?;
	let auth = FeedAuth::from_key(key, manifest.as_deref())?;
	let v = DalekVerifier;
	let summary =
		|tree: &crate::verify::VerifiedTree, block: Option<Node>, from: Option<u64>| Summary {
			key,
			mode: auth.mode,
			length: tree.length,
			fork: tree.fork,
			tree_hash: tree.tree_hash,
			byte_length: tree.byte_length,
			block: block.map(|b| (b.index / 2, b.size)),
			upgraded_from: from,
		};
	match (&file.tree, &file.proof) {
		(Some(tree), None) if file.from.is_none() => {
			let t = verify_signed_tree(&auth, &signed_tree_from_json(tree)?, &v)?;
			Ok(summary(&t, None, None))
		}
		(None, Some(proof)) => {
			let proof = proof_from_json(proof)?;
			match &file.from {
				Some(from) => {
					let old = verify_signed_tree(&auth, &signed_tree_from_json(from)?, &v)?;
					let out = verify_upgrade(&auth, &old, &proof, &v)?;
					Ok(summary(&out.tree, out.block, Some(old.length)))
				}
				None => {
					let out = verify_proof(&auth, None, &proof, &v)?;
					Ok(summary(&out.tree, out.block, None))
				}
			}
		}
		_ => Err(Error::JsonSyntax),
	}
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
	const DIGITS: &[u8; 16] = b"0123456789abcdef";
	let mut s = String::with_capacity(bytes.len() * 2);
	for b in bytes {
		s.push(DIGITS[(b >> 4) as usize] as char);
		s.push(DIGITS[(b & 15) as usize] as char);
	}
	s
}

/// Bytes of a hex string (either case).
pub fn from_hex(s: &str) -> Result<Vec<u8>> {
	fn nibble(c: u8) -> Result<u8> {
		match c {
			b'0'..=b'9' => Ok(c - b'0'),
			b'a'..=b'f' => Ok(c - b'a' + 10),
			b'A'..=b'F' => Ok(c - b'A' + 10),
			_ => Err(Error::JsonHex),
		}
	}
	let b = s.as_bytes();
	if !b.len().is_multiple_of(2) {
		return Err(Error::JsonHex);
	}
	b.chunks(2).map(|p| Ok((nibble(p[0])? << 4) | nibble(p[1])?)).collect()
}

fn hex32(s: &str) -> Result<[u8; 32]> {
	from_hex(s)?.try_into().map_err(|_| Error::JsonHex)
}

fn node_from_json(n: &NodeJson) -> Result<Node> {
	Ok(Node { index: n.index, size: n.size, hash: hex32(&n.hash)? })
}

fn nodes_from_json(ns: &[NodeJson]) -> Result<Vec<Node>> {
	ns.iter().map(node_from_json).collect()
}

/// JSON form of a node.
pub fn node_to_json(n: &Node) -> NodeJson {
	NodeJson { index: n.index, size: n.size, hash: to_hex(&n.hash) }
}

/// The [`Proof`] a JSON proof describes.
pub fn proof_from_json(p: &ProofJson) -> Result<Proof> {
	if p.hash.as_ref().is_some_and(|v| !v.is_null())
		|| p.seek.as_ref().is_some_and(|v| !v.is_null())
	{
		return Err(Error::UnsupportedProof);
	}
	let block = match &p.block {
		None => None,
		Some(b) => Some(BlockData {
			index: b.index,
			value: from_hex(b.value.as_deref().ok_or(Error::JsonSyntax)?)?,
			nodes: nodes_from_json(&b.nodes)?,
		}),
	};
	let upgrade = match &p.upgrade {
		None => None,
		Some(u) => Some(UpgradeData {
			start: u.start,
			length: u.length,
			nodes: nodes_from_json(&u.nodes)?,
			additional_nodes: nodes_from_json(&u.additional_nodes)?,
			signature: from_hex(&u.signature)?,
		}),
	};
	Ok(Proof { fork: p.fork, block, upgrade })
}

/// The JSON form of a [`Proof`] (what `core.proof()` would print, hex for bytes).
pub fn proof_to_json(p: &Proof) -> ProofJson {
	ProofJson {
		fork: p.fork,
		block: p.block.as_ref().map(|b| BlockJson {
			index: b.index,
			value: Some(to_hex(&b.value)),
			nodes: b.nodes.iter().map(node_to_json).collect(),
		}),
		hash: None,
		seek: None,
		upgrade: p.upgrade.as_ref().map(|u| UpgradeJson {
			start: u.start,
			length: u.length,
			nodes: u.nodes.iter().map(node_to_json).collect(),
			additional_nodes: u.additional_nodes.iter().map(node_to_json).collect(),
			signature: to_hex(&u.signature),
		}),
		manifest: None,
	}
}

/// The [`SignedTree`] a JSON signed tree describes.
pub fn signed_tree_from_json(t: &SignedTreeJson) -> Result<SignedTree> {
	Ok(SignedTree {
		length: t.length,
		fork: t.fork,
		roots: nodes_from_json(&t.roots)?,
		signature: from_hex(&t.signature)?,
	})
}

/// The JSON form of a [`SignedTree`].
pub fn signed_tree_to_json(t: &SignedTree) -> SignedTreeJson {
	SignedTreeJson {
		length: t.length,
		fork: t.fork,
		roots: t.roots.iter().map(node_to_json).collect(),
		signature: to_hex(&t.signature),
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::writer::FeedWriter;

	fn file_for(w: &FeedWriter, proof: &Proof) -> String {
		ProofFile::proof(&w.key(), Some(&w.manifest_bytes()), None, proof).to_json()
	}

	#[test]
	fn verify_proof_json_accepts_valid_and_names_the_fault() {
		let mut w = FeedWriter::from_seed([4; 32], SigningMode::ManifestV1);
		for i in 0..5u8 {
			w.append(&[i; 3]).unwrap();
		}
		let proof = w.block_proof(3).unwrap();
		let summary = verify_proof_json(&file_for(&w, &proof)).unwrap();
		assert_eq!(summary.length, 5);
		assert_eq!(summary.block, Some((3, 3)));
		assert!(summary.to_string().starts_with("valid: feed "), "{summary}");

		let mut bad = proof.clone();
		bad.block.as_mut().unwrap().value[0] ^= 1;
		assert_eq!(verify_proof_json(&file_for(&w, &bad)), Err(Error::BadSignature));
		assert_eq!(verify_proof_json("{"), Err(Error::JsonSyntax));

		// Upgrade file and tree file.
		let mut w2 = FeedWriter::from_seed([4; 32], SigningMode::Compat);
		w2.append(b"one").unwrap();
		let old = w2.signed_tree();
		w2.append(b"two").unwrap();
		let up = w2.upgrade_proof(1, Some(1)).unwrap();
		let text = ProofFile::proof(&w2.key(), None, Some(&old), &up).to_json();
		let s = verify_proof_json(&text).unwrap();
		assert_eq!((s.length, s.upgraded_from, s.block), (2, Some(1), Some((1, 3))));
		let tree = ProofFile::tree(&w2.key(), None, &w2.signed_tree()).to_json();
		assert_eq!(verify_proof_json(&tree).unwrap().length, 2);
		let stale = ProofFile::proof(&w2.key(), None, None, &up).to_json();
		assert_eq!(verify_proof_json(&stale), Err(Error::UpgradeStartMismatch));
		let mut forked = up.clone();
		forked.fork = 1;
		let text = ProofFile::proof(&w2.key(), None, Some(&old), &forked).to_json();
		assert_eq!(verify_proof_json(&text), Err(Error::ForkMismatch));
		let text = file_for(&w, &proof).replace("\"key\": \"", "\"key\": \"zz");
		assert_eq!(verify_proof_json(&text), Err(Error::JsonHex));
	}
}
