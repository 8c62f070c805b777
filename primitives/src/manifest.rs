//! Hypercore's manifest, in the one shape datdot supports: version 1, blake2b, quorum 1,
//! one ed25519 signer, no patches, no prologue (hypercore 11's default for a new feed).
//!
//! The feed key of a manifest-mode feed is `BLAKE2b-256(MANIFEST ‖ encode(manifest))`.
//! Any other manifest is refused with the error naming the unsupported feature, so a
//! multisig or prologue feed can never be verified with the wrong rules.

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::compact::{encode_uint, Reader};
use crate::error::{Error, Result};
use crate::hash::{blake2b256, Hash};

/// hypercore's namespace `crypto.namespace('hypercore', 6)`, entry 0: signed trees.
pub const TREE: Hash = hex32("9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c");
/// Entry 3: prefix of the manifest hash.
pub const MANIFEST: Hash =
	hex32("e64b7108eacce47cfc61ac850568f55f8b15b82ec5ed78c4ec597b036e2a1498");
/// Entry 4: the default signer namespace.
pub const DEFAULT_NAMESPACE: Hash =
	hex32("4144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb");

/// Length of the encoding of a supported manifest.
pub const ENCODED_LEN: usize = 70;

const FLAG_PATCH: u64 = 1;
const FLAG_PROLOGUE: u64 = 2;
const FLAG_LINKED: u64 = 4;
const FLAG_USER_DATA: u64 = 8;

/// A supported (v1, single ed25519 signer) manifest.
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
pub struct Manifest {
	/// The signer's namespace (hashed into the key; hypercore's default unless chosen).
	pub namespace: Hash,
	/// The signer's ed25519 public key.
	pub public_key: [u8; 32],
}

impl Manifest {
	/// The default manifest hypercore 11 makes for a key pair.
	pub fn default_for(public_key: [u8; 32]) -> Self {
		Manifest { namespace: DEFAULT_NAMESPACE, public_key }
	}

	/// Hypercore's compact encoding of the manifest.
	pub fn encode_hypercore(&self) -> Vec<u8> {
		let mut out = Vec::with_capacity(ENCODED_LEN);
		encode_uint(&mut out, 1); // version
		encode_uint(&mut out, 0); // flags
		encode_uint(&mut out, 0); // hash: blake2b
		encode_uint(&mut out, 1); // quorum
		encode_uint(&mut out, 1); // signers.length
		encode_uint(&mut out, 0); // signature: ed25519
		out.extend_from_slice(&self.namespace);
		out.extend_from_slice(&self.public_key);
		out
	}

	/// Decode hypercore's encoding, refusing anything but the supported shape.
	pub fn decode_hypercore(bytes: &[u8]) -> Result<Self> {
		let mut r = Reader::new(bytes, Error::MalformedManifest);
		if r.uint()? != 1 {
			return Err(Error::UnsupportedManifestVersion);
		}
		let flags = r.uint()?;
		if flags & FLAG_PATCH != 0 {
			return Err(Error::ManifestPatch);
		}
		if flags & FLAG_PROLOGUE != 0 {
			return Err(Error::ManifestPrologue);
		}
		if flags & (FLAG_LINKED | FLAG_USER_DATA) != 0 {
			return Err(Error::ManifestExtraFields);
		}
		if flags != 0 {
			return Err(Error::MalformedManifest);
		}
		if r.uint()? != 0 {
			return Err(Error::ManifestUnknownHash);
		}
		let quorum = r.uint()?;
		let signers = r.uint()?;
		if quorum != 1 || signers != 1 {
			return Err(Error::ManifestSigners);
		}
		if r.uint()? != 0 {
			return Err(Error::ManifestUnknownSignature);
		}
		let namespace = r.array()?;
		let public_key = r.array()?;
		r.finish()?;
		Ok(Manifest { namespace, public_key })
	}

	/// The manifest hash: the feed key in manifest mode.
	pub fn hash(&self) -> Hash {
		blake2b256(&[&MANIFEST, &self.encode_hypercore()])
	}
}

/// A 64-digit hex literal as bytes, at compile time.
const fn hex32(s: &str) -> [u8; 32] {
	let b = s.as_bytes();
	let mut out = [0u8; 32];
	let mut i = 0;
	while i < 32 {
		out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
		i += 1;
	}
	out
}

const fn nibble(c: u8) -> u8 {
	match c {
		b'0'..=b'9' => c - b'0',
		b'a'..=b'f' => c - b'a' + 10,
		_ => panic!("not lowercase hex"),
	}
}

/// hypercore-crypto's `namespace(name, count)` entry `i`: `H(H(name) ‖ i)`.
pub fn namespace(name: &[u8], i: u8) -> Hash {
	let ns = blake2b256(&[name]);
	blake2b256(&[&ns, &[i]])
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn constants_are_hypercores_namespace() {
		assert_eq!(namespace(b"hypercore", 0), TREE);
		assert_eq!(namespace(b"hypercore", 3), MANIFEST);
		assert_eq!(namespace(b"hypercore", 4), DEFAULT_NAMESPACE);
	}

	#[test]
	fn encoding_round_trips() {
		let m = Manifest::default_for([7; 32]);
		let bytes = m.encode_hypercore();
		assert_eq!(bytes.len(), ENCODED_LEN);
		assert_eq!(Manifest::decode_hypercore(&bytes), Ok(m));
	}

	#[test]
	fn unsupported_manifests_are_named() {
		let good = Manifest::default_for([7; 32]).encode_hypercore();
		let with = |i: usize, v: u8| {
			let mut b = good.clone();
			b[i] = v;
			Manifest::decode_hypercore(&b)
		};
		assert_eq!(with(0, 0), Err(Error::UnsupportedManifestVersion));
		assert_eq!(with(0, 2), Err(Error::UnsupportedManifestVersion));
		assert_eq!(with(1, 1), Err(Error::ManifestPatch));
		assert_eq!(with(1, 2), Err(Error::ManifestPrologue));
		assert_eq!(with(1, 4), Err(Error::ManifestExtraFields));
		assert_eq!(with(1, 8), Err(Error::ManifestExtraFields));
		assert_eq!(with(1, 16), Err(Error::MalformedManifest));
		assert_eq!(with(2, 1), Err(Error::ManifestUnknownHash));
		assert_eq!(with(3, 2), Err(Error::ManifestSigners));
		assert_eq!(with(4, 2), Err(Error::ManifestSigners));
		assert_eq!(with(4, 0), Err(Error::ManifestSigners));
		assert_eq!(with(5, 1), Err(Error::ManifestUnknownSignature));
		assert_eq!(Manifest::decode_hypercore(&good[..69]), Err(Error::MalformedManifest));
		let mut long = good.clone();
		long.push(0);
		assert_eq!(Manifest::decode_hypercore(&long), Err(Error::MalformedManifest));
	}
}
