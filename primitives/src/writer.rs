//! A native hypercore writer (std): append blocks, sign the tree, and produce the same
//! proofs `core.proof()` would, in either signing mode. It lets a user publish a feed
//! without JavaScript; the JS reference implementation verifies its output in a test.
//! A feed written elsewhere (by hypercore) is served the same way once imported with its
//! blocks and signed tree ([`FeedWriter::from_signed`]); it is read-only here.
//!
//! A writer may keep only its tree ([`FeedWriter::forget_blocks`],
//! [`FeedWriter::from_signed_tree_only`]) while its caller keeps the blocks on disk: memory
//! is then about 112 bytes per block whatever the block size, and proofs take each block's
//! bytes from the caller ([`FeedWriter::block_proof_with`]), checked against the tree.
//!
//! Key pairs come from a 32-byte seed exactly like libsodium's `crypto_sign_seed_keypair`
//! (hypercore-crypto's `keyPair(seed)`), so the same seed gives the same feed in both.

use ed25519_dalek::{Signer, SigningKey};

use crate::error::{Error, Result};
use crate::flat_tree::{self, Iter};
use crate::hash::{tree_hash, Node};
use crate::manifest::Manifest;
use crate::proof::{BlockData, Proof, SignedTree, UpgradeData, MAX_LENGTH};
use crate::signing::{encode_signature_container, DalekVerifier, FeedAuth, SigningMode};

/// An in-memory hypercore being written (or imported, and served).
pub struct FeedWriter {
	/// The author's key; `None` for an imported feed, which keeps its author's signature.
	signing_key: Option<SigningKey>,
	/// The imported feed's stored signature (unused when `signing_key` is set).
	imported_signature: Vec<u8>,
	manifest: Manifest,
	auth: FeedAuth,
	/// Every tree node by flat index (`None` for parents not complete yet).
	nodes: Vec<Option<Node>>,
	/// Every block, or none when `keeps_blocks` is false (the caller stores them).
	blocks: Vec<Vec<u8>>,
	keeps_blocks: bool,
	length: u64,
	roots: Vec<Node>,
	fork: u64,
}

impl FeedWriter {
	/// A new, empty feed whose key pair derives from `seed`.
	pub fn from_seed(seed: [u8; 32], mode: SigningMode) -> Self {
		let signing_key = SigningKey::from_bytes(&seed);
		let public_key = signing_key.verifying_key().to_bytes();
		let manifest = Manifest::default_for(public_key);
		let auth = match mode {
			SigningMode::Compat => FeedAuth::compat(public_key),
			SigningMode::ManifestV1 => FeedAuth::manifest(&manifest),
		};
		FeedWriter {
			signing_key: Some(signing_key),
			imported_signature: Vec::new(),
			manifest,
			auth,
			nodes: Vec::new(),
			blocks: Vec::new(),
			keeps_blocks: true,
			length: 0,
			roots: Vec::new(),
			fork: 0,
		}
	}

	/// This writer without its blocks, now and for those appended later: the caller stores
	/// them, and passes a block's bytes to [`FeedWriter::block_proof_with`] for its proof.
	pub fn forget_blocks(mut self) -> Self {
		self.blocks = Vec::new();
		self.keeps_blocks = false;
		self
	}

	/// A feed written elsewhere: its `blocks` and the signed `tree` over all of them. The
	/// tree is rebuilt from the blocks; its roots must be `tree`'s and the signature must
	/// verify, so an import never serves anything its author did not sign.
	pub fn from_signed(
		auth: FeedAuth,
		manifest: Option<&[u8]>,
		blocks: impl IntoIterator<Item = Vec<u8>>,
		tree: &SignedTree,
	) -> Result<Self> {
		Self::import(auth, manifest, blocks, tree, true)
	}

	/// As [`FeedWriter::from_signed`], keeping only the tree: `blocks` may be read one at a
	/// time (from disk), so checking a feed of any size holds one block in memory.
	pub fn from_signed_tree_only(
		auth: FeedAuth,
		manifest: Option<&[u8]>,
		blocks: impl IntoIterator<Item = Vec<u8>>,
		tree: &SignedTree,
	) -> Result<Self> {
		Self::import(auth, manifest, blocks, tree, false)
	}

	fn import(
		auth: FeedAuth,
		manifest: Option<&[u8]>,
		blocks: impl IntoIterator<Item = Vec<u8>>,
		tree: &SignedTree,
		keeps_blocks: bool,
	) -> Result<Self> {
		let manifest = match manifest {
			Some(bytes) => Manifest::decode_hypercore(bytes)?,
			None => Manifest::default_for(auth.public_key),
		};
		let mut feed = FeedWriter {
			signing_key: None,
			imported_signature: tree.signature.clone(),
			manifest,
			auth,
			nodes: Vec::new(),
			blocks: Vec::new(),
			keeps_blocks,
			length: 0,
			roots: Vec::new(),
			fork: tree.fork,
		};
		for block in blocks {
			feed.push(block)?;
		}
		if feed.length() != tree.length {
			return Err(Error::BlockOutOfRange);
		}
		if feed.roots != tree.roots {
			return Err(Error::RootMismatch);
		}
		auth.verify_tree_signature(
			&tree_hash(&feed.roots),
			feed.length(),
			feed.fork,
			&tree.signature,
			&DalekVerifier,
		)?;
		Ok(feed)
	}

	/// The feed key.
	pub fn key(&self) -> [u8; 32] {
		self.auth.key
	}

	/// Key, signer and mode: what a verifier needs.
	pub fn auth(&self) -> FeedAuth {
		self.auth
	}

	/// The manifest as hypercore encodes it (hypercore stores it in both modes).
	pub fn manifest_bytes(&self) -> Vec<u8> {
		self.manifest.encode_hypercore()
	}

	/// Number of blocks.
	pub fn length(&self) -> u64 {
		self.length
	}

	/// The fork counter (always 0: this writer never truncates).
	pub fn fork(&self) -> u64 {
		self.fork
	}

	/// Block `index`, if written and kept here.
	pub fn block(&self, index: u64) -> Option<&[u8]> {
		self.blocks.get(usize::try_from(index).ok()?).map(|b| b.as_slice())
	}

	/// The current full roots.
	pub fn roots(&self) -> &[Node] {
		&self.roots
	}

	/// Append one block; returns its index. An imported feed cannot grow here: its author's
	/// key signs it ([`Error::UnknownSigner`]).
	pub fn append(&mut self, data: &[u8]) -> Result<u64> {
		if self.signing_key.is_none() {
			return Err(Error::UnknownSigner);
		}
		self.push(data.to_vec())
	}

	/// Adds block `data` to the tree (keeping every parent for proofs).
	fn push(&mut self, data: Vec<u8>) -> Result<u64> {
		let index = self.length();
		if index >= MAX_LENGTH {
			return Err(Error::LengthTooLarge);
		}
		let leaf = Node::leaf(index, &data);
		self.put(leaf);
		self.roots.push(leaf);
		// Merge with the left neighbour while siblings, keeping every parent for proofs.
		while self.roots.len() > 1 {
			let a = self.roots[self.roots.len() - 1];
			let b = self.roots[self.roots.len() - 2];
			if flat_tree::sibling(a.index) != b.index {
				break;
			}
			let parent = Node::parent(flat_tree::parent(a.index), &b, &a)?;
			self.put(parent);
			self.roots.truncate(self.roots.len() - 2);
			self.roots.push(parent);
		}
		if self.keeps_blocks {
			self.blocks.push(data);
		}
		self.length += 1;
		Ok(index)
	}

	fn put(&mut self, node: Node) {
		let i = node.index as usize;
		if self.nodes.len() <= i {
			self.nodes.resize(i + 1, None);
		}
		self.nodes[i] = Some(node);
	}

	fn node(&self, index: u64) -> Option<Node> {
		self.nodes.get(usize::try_from(index).ok()?).copied().flatten()
	}

	fn node_or_err(&self, index: u64) -> Result<Node> {
		self.node(index).ok_or(Error::MissingNode)
	}

	/// The stored signature of the current tree (raw or container, by mode).
	pub fn signature(&self) -> Vec<u8> {
		let Some(signing_key) = &self.signing_key else {
			return self.imported_signature.clone();
		};
		let message = self.auth.signable(&tree_hash(&self.roots), self.length(), self.fork);
		let raw = signing_key.sign(&message).to_bytes();
		match self.auth.mode {
			SigningMode::Compat => raw.to_vec(),
			SigningMode::ManifestV1 => encode_signature_container(&raw),
		}
	}

	/// The current signed tree.
	pub fn signed_tree(&self) -> SignedTree {
		SignedTree {
			length: self.length(),
			fork: self.fork,
			roots: self.roots.clone(),
			signature: self.signature(),
		}
	}

	/// A proof of block `index` for a fresh verifier (upgrade from 0 to the current length).
	pub fn block_proof(&self, index: u64) -> Result<Proof> {
		self.upgrade_proof(0, Some(index))
	}

	/// As [`FeedWriter::block_proof`], with the block's bytes `value` from the caller's
	/// store. They must hash to the tree's leaf ([`Error::RootMismatch`] if not: the store
	/// no longer holds what was signed), so a damaged store never serves a bad proof.
	pub fn block_proof_with(&self, index: u64, value: Vec<u8>) -> Result<Proof> {
		let leaf = self.node_or_err(2 * index).map_err(|_| Error::BlockOutOfRange)?;
		if Node::leaf(index, &value) != leaf {
			return Err(Error::RootMismatch);
		}
		self.proof(0, Some((index, value)))
	}

	/// A proof that extends a verifier at length `start` to the current length, with
	/// block `block` (which must be at or after `start`) if given. Same node order as
	/// hypercore's `upgradeProof`.
	pub fn upgrade_proof(&self, start: u64, block: Option<u64>) -> Result<Proof> {
		let block = match block {
			Some(b) => match self.block(b) {
				Some(value) => Some((b, value.to_vec())),
				// Kept by the caller: see `block_proof_with`.
				None if b < self.length() => return Err(Error::MissingBlock),
				None => return Err(Error::BlockOutOfRange),
			},
			None => None,
		};
		self.proof(start, block)
	}

	/// The proof [`FeedWriter::upgrade_proof`] describes, with block `(index, value)`.
	fn proof(&self, start: u64, block: Option<(u64, Vec<u8>)>) -> Result<Proof> {
		let head = 2 * self.length();
		let from = 2 * start;
		if from >= head {
			return Err(Error::EmptyUpgrade);
		}
		if let Some((b, _)) = block {
			if b < start || b >= self.length() {
				return Err(Error::BlockOutOfRange);
			}
		}
		let sub_tree = block.as_ref().map(|(b, _)| 2 * b);
		let mut block_nodes: Option<Vec<Node>> = None;
		let mut upgrade: Option<Vec<Node>> = if from == 0 { Some(Vec::new()) } else { None };
		let mut ite = Iter::new(0);
		while ite.full_root(head) {
			if ite.index + ite.factor / 2 < from {
				ite.next_tree();
				continue;
			}
			if upgrade.is_none() && ite.contains(from - 2) {
				let mut nodes = Vec::new();
				let root = ite.index;
				let target = from - 2;
				ite.seek(target);
				while ite.index != root {
					ite.sibling();
					if ite.index > target {
						match sub_tree {
							Some(s) if block_nodes.is_none() && ite.contains(s) => {
								block_nodes = Some(self.path(s, ite.index)?)
							}
							_ => nodes.push(self.node_or_err(ite.index)?),
						}
					}
					ite.parent();
				}
				upgrade = Some(nodes);
				ite.next_tree();
				continue;
			}
			let nodes = upgrade.get_or_insert_with(Vec::new);
			match sub_tree {
				Some(s) if block_nodes.is_none() && ite.contains(s) => {
					block_nodes = Some(self.path(s, ite.index)?)
				}
				_ => nodes.push(self.node_or_err(ite.index)?),
			}
			ite.next_tree();
		}
		let block = match block {
			None => None,
			Some((index, value)) => {
				Some(BlockData { index, value, nodes: block_nodes.ok_or(Error::MissingNode)? })
			}
		};
		Ok(Proof {
			fork: self.fork,
			block,
			upgrade: Some(UpgradeData {
				start,
				length: self.length() - start,
				nodes: upgrade.unwrap_or_default(),
				additional_nodes: Vec::new(),
				signature: self.signature(),
			}),
		})
	}

	/// Siblings from leaf `leaf` up to (not including) `root`.
	fn path(&self, leaf: u64, root: u64) -> Result<Vec<Node>> {
		let mut ite = Iter::new(leaf);
		let mut out = Vec::new();
		while ite.index != root {
			out.push(self.node_or_err(ite.sibling())?);
			ite.parent();
		}
		Ok(out)
	}
}
