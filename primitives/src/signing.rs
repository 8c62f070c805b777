//! What a feed's author signs, and how datdot checks it.
//!
//! Two modes, as in hypercore (`lib/caps.js`, `lib/verifier.js`):
//! - **compat**: key = ed25519 public key; message = `TREE ‖ treeHash ‖ u64le(length) ‖
//!   u64le(fork)` (80 bytes); the stored signature is the raw 64 bytes.
//! - **manifest v1**: key = manifest hash; message = `TREE ‖ key ‖ treeHash ‖
//!   u64le(length) ‖ u64le(fork)` (112 bytes); the stored signature is hypercore's
//!   one-signer container (68 bytes, see [`encode_signature_container`]).
//!
//! The ed25519 check itself is a trait so the runtime can use its host function.

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::compact::{encode_uint, Reader};
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::manifest::{Manifest, DEFAULT_NAMESPACE, TREE};

/// Length of the compat signable.
pub const COMPAT_SIGNABLE_LEN: usize = 80;
/// Length of the manifest-mode signable.
pub const MANIFEST_SIGNABLE_LEN: usize = 112;
/// Length of the one-signer signature container.
pub const SIGNATURE_CONTAINER_LEN: usize = 68;

/// Checks an ed25519 signature. The runtime implements it with `sp_io`'s host function;
/// [`DalekVerifier`] is the pure-Rust implementation.
pub trait Ed25519Verifier {
	/// True if `signature` is `public_key`'s signature of `message`.
	fn verify(&self, public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool;
}

/// Pure-Rust ed25519 (ed25519-dalek, strict: refuses the weak keys and malleable
/// signatures libsodium refuses).
#[cfg(feature = "dalek")]
#[derive(Clone, Copy, Debug, Default)]
pub struct DalekVerifier;

#[cfg(feature = "dalek")]
impl Ed25519Verifier for DalekVerifier {
	fn verify(&self, public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
		let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
			return false;
		};
		let sig = ed25519_dalek::Signature::from_bytes(signature);
		key.verify_strict(message, &sig).is_ok()
	}
}

/// How a feed signs its tree.
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
pub enum SigningMode {
	/// hypercore 10 style: the key is the public key.
	Compat,
	/// hypercore 11 default: the key is the manifest hash.
	ManifestV1,
}

/// Everything needed to check a feed's signatures: its key, signer and mode.
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
pub struct FeedAuth {
	/// The feed key (what readers know the feed by).
	pub key: [u8; 32],
	/// The signer's ed25519 public key.
	pub public_key: [u8; 32],
	/// Which message is signed and how the signature is stored.
	pub mode: SigningMode,
}

impl FeedAuth {
	/// A compat feed: the key is the public key.
	pub fn compat(public_key: [u8; 32]) -> Self {
		FeedAuth { key: public_key, public_key, mode: SigningMode::Compat }
	}

	/// A manifest-mode feed: the key is the manifest's hash.
	pub fn manifest(manifest: &Manifest) -> Self {
		FeedAuth {
			key: manifest.hash(),
			public_key: manifest.public_key,
			mode: SigningMode::ManifestV1,
		}
	}

	/// The auth of feed `key`, given the manifest hypercore stores with it (if any), by
	/// hypercore's own rule: no manifest means compat; a manifest whose hash is the key
	/// means manifest mode; the default manifest of the key's own signer means compat.
	pub fn from_key(key: [u8; 32], manifest: Option<&[u8]>) -> Result<Self> {
		let Some(bytes) = manifest else { return Ok(Self::compat(key)) };
		let manifest = Manifest::decode_hypercore(bytes)?;
		if manifest.hash() == key {
			Ok(Self::manifest(&manifest))
		} else if manifest.public_key == key && manifest.namespace == DEFAULT_NAMESPACE {
			// Stricter than hypercore, which ignores the namespace here: a compat feed's
			// manifest is always hypercore's default one, so anything else is tampering.
			Ok(Self::compat(key))
		} else {
			Err(Error::KeyManifestMismatch)
		}
	}

	/// The exact bytes signed for a tree (80 or 112 of them).
	pub fn signable(&self, tree_hash: &Hash, length: u64, fork: u64) -> Vec<u8> {
		match self.mode {
			SigningMode::Compat => signable_compat(tree_hash, length, fork).to_vec(),
			SigningMode::ManifestV1 => {
				signable_manifest(&self.key, tree_hash, length, fork).to_vec()
			}
		}
	}

	/// Check the stored signature (raw or container, by mode) of a tree.
	pub fn verify_tree_signature(
		&self,
		tree_hash: &Hash,
		length: u64,
		fork: u64,
		signature: &[u8],
		verifier: &impl Ed25519Verifier,
	) -> Result<()> {
		let raw = match self.mode {
			SigningMode::Compat => {
				<[u8; 64]>::try_from(signature).map_err(|_| Error::BadSignatureLength)?
			}
			SigningMode::ManifestV1 => decode_signature_container(signature)?,
		};
		if verifier.verify(&self.public_key, &self.signable(tree_hash, length, fork), &raw) {
			Ok(())
		} else {
			Err(Error::BadSignature)
		}
	}
}

/// `TREE ‖ treeHash ‖ u64le(length) ‖ u64le(fork)`: hypercore's `treeSignableCompat`.
pub fn signable_compat(tree_hash: &Hash, length: u64, fork: u64) -> [u8; COMPAT_SIGNABLE_LEN] {
	let mut out = [0u8; COMPAT_SIGNABLE_LEN];
	out[..32].copy_from_slice(&TREE);
	out[32..64].copy_from_slice(tree_hash);
	out[64..72].copy_from_slice(&length.to_le_bytes());
	out[72..].copy_from_slice(&fork.to_le_bytes());
	out
}

/// `TREE ‖ key ‖ treeHash ‖ u64le(length) ‖ u64le(fork)`: hypercore's `treeSignable`.
pub fn signable_manifest(
	key: &Hash,
	tree_hash: &Hash,
	length: u64,
	fork: u64,
) -> [u8; MANIFEST_SIGNABLE_LEN] {
	let mut out = [0u8; MANIFEST_SIGNABLE_LEN];
	out[..32].copy_from_slice(&TREE);
	out[32..64].copy_from_slice(key);
	out[64..96].copy_from_slice(tree_hash);
	out[96..104].copy_from_slice(&length.to_le_bytes());
	out[104..].copy_from_slice(&fork.to_le_bytes());
	out
}

/// Hypercore's `multisig.assemble` for one signer: `[1 proof] [signer 0] [sig 64]
/// [patch 0] [0 patch nodes]`.
pub fn encode_signature_container(signature: &[u8; 64]) -> Vec<u8> {
	let mut out = Vec::with_capacity(SIGNATURE_CONTAINER_LEN);
	encode_uint(&mut out, 1);
	encode_uint(&mut out, 0);
	out.extend_from_slice(signature);
	encode_uint(&mut out, 0);
	encode_uint(&mut out, 0);
	out
}

/// The raw signature inside a one-signer container; multisig, patches and unknown
/// signers are refused by name.
pub fn decode_signature_container(bytes: &[u8]) -> Result<[u8; 64]> {
	let mut r = Reader::new(bytes, Error::MalformedSignatureContainer);
	match r.uint()? {
		1 => {}
		0 => return Err(Error::MalformedSignatureContainer),
		_ => return Err(Error::SeveralSignatures),
	}
	if r.uint()? != 0 {
		return Err(Error::UnknownSigner);
	}
	let signature = r.array::<64>()?;
	if r.uint()? != 0 || r.uint()? != 0 {
		return Err(Error::SignaturePatch);
	}
	r.finish()?;
	Ok(signature)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn container_round_trips_and_refuses_variants() {
		let sig = [9u8; 64];
		let c = encode_signature_container(&sig);
		assert_eq!(c.len(), SIGNATURE_CONTAINER_LEN);
		assert_eq!(decode_signature_container(&c), Ok(sig));
		let with = |i: usize, v: u8| {
			let mut b = c.clone();
			b[i] = v;
			decode_signature_container(&b)
		};
		assert_eq!(with(0, 2), Err(Error::SeveralSignatures));
		assert_eq!(with(0, 0), Err(Error::MalformedSignatureContainer));
		assert_eq!(with(1, 1), Err(Error::UnknownSigner));
		assert_eq!(with(66, 3), Err(Error::SignaturePatch));
		assert_eq!(with(67, 1), Err(Error::SignaturePatch));
		assert_eq!(decode_signature_container(&c[..67]), Err(Error::MalformedSignatureContainer));
		assert_eq!(decode_signature_container(&sig), Err(Error::SeveralSignatures));
	}

	#[test]
	fn signables_have_hypercores_layout() {
		let s = signable_compat(&[1; 32], 5, 2);
		assert_eq!(&s[..32], &TREE);
		assert_eq!(&s[64..72], &5u64.to_le_bytes());
		let m = signable_manifest(&[3; 32], &[1; 32], 5, 2);
		assert_eq!(&m[32..64], &[3; 32]);
		assert_eq!(&m[104..], &2u64.to_le_bytes());
	}

	#[test]
	fn from_key_follows_hypercores_rule() {
		let m = Manifest::default_for([5; 32]);
		let bytes = m.encode_hypercore();
		assert_eq!(
			FeedAuth::from_key(m.hash(), Some(&bytes)).unwrap().mode,
			SigningMode::ManifestV1
		);
		assert_eq!(FeedAuth::from_key([5; 32], Some(&bytes)).unwrap().mode, SigningMode::Compat);
		assert_eq!(FeedAuth::from_key([5; 32], None).unwrap().mode, SigningMode::Compat);
		assert_eq!(FeedAuth::from_key([6; 32], Some(&bytes)), Err(Error::KeyManifestMismatch));
	}
}
