//! The one error type of the crate.
//!
//! Unit variants only, SCALE-encodable with a bounded size, so a pallet can store or emit
//! the exact reason a proof was refused.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Why a proof, tree, manifest, signature or encoded segment was refused.
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
pub enum Error {
	// --- tree shape ---
	/// A length or index is beyond what the crate supports (2^60 blocks).
	LengthTooLarge,
	/// A proof carries more nodes than any valid proof can.
	TooManyNodes,
	/// A proof lacks a node the tree needs.
	MissingNode,
	/// A proof node sits at another flat-tree index than the one expected.
	UnexpectedNode,
	/// A proof carries nodes that were not needed.
	ExtraNodes,
	/// Node sizes add up beyond 2^64.
	SizeOverflow,
	/// Roots do not match the full roots of the claimed length.
	InvalidRoots,
	/// The block index is not below the tree's length.
	BlockOutOfRange,
	/// The block's path does not reach the signed tree.
	BlockNotConnected,
	/// A trusted tree node and the proof disagree.
	RootMismatch,
	/// The tree would be empty: nothing can be signed or proven.
	EmptyTree,
	/// The proof has no upgrade, so nothing in it is signed.
	MissingUpgrade,
	/// The upgrade does not start where the trusted tree ends.
	UpgradeStartMismatch,
	/// The upgrade has length zero.
	EmptyUpgrade,
	/// The proof is for another fork than the trusted tree.
	ForkMismatch,
	/// The proof asks for something this crate does not verify (hash or seek proofs).
	UnsupportedProof,
	/// The signed length is shorter than the trusted one: not an extension.
	NotAnExtension,
	/// The binary (SCALE) proof is malformed or has trailing bytes.
	MalformedProof,
	/// A block proof was expected but the proof carries no block.
	MissingBlock,
	// --- signatures ---
	/// The ed25519 signature does not verify.
	BadSignature,
	/// A raw signature is not 64 bytes.
	BadSignatureLength,
	/// The one-signer signature container is malformed.
	MalformedSignatureContainer,
	/// The signature container holds several signer proofs (multisig is unsupported).
	SeveralSignatures,
	/// The signature container names a signer other than the only one.
	UnknownSigner,
	/// The signature container carries a patch (unsupported).
	SignaturePatch,
	// --- manifests and keys ---
	/// The manifest bytes are truncated, have trailing bytes or an invalid integer.
	MalformedManifest,
	/// Manifest version 0 or 2+ (only v1 is supported).
	UnsupportedManifestVersion,
	/// The manifest allows patches.
	ManifestPatch,
	/// The manifest has a prologue.
	ManifestPrologue,
	/// The manifest has linked cores or user data (v2 fields).
	ManifestExtraFields,
	/// The manifest has several signers, none, or a quorum other than one.
	ManifestSigners,
	/// The manifest names a hash other than blake2b.
	ManifestUnknownHash,
	/// The manifest names a signature scheme other than ed25519.
	ManifestUnknownSignature,
	/// The feed key is neither the manifest's hash nor its signer's key.
	KeyManifestMismatch,
	// --- encoded stream ---
	/// A segment index is not below the replica's segment count.
	SegmentOutOfRange,
	/// A segment is empty or longer than the segment size.
	BadSegmentLength,
	/// A segment proof has the wrong number of sibling hashes.
	BadSegmentPath,
	/// The segment does not hash to the replica's root.
	SegmentRootMismatch,
	/// An encoded block is malformed or does not decode to its stated length.
	BadEncoding,
	/// An encoded block states a decoded length above the allowed maximum.
	BlockTooLarge,
	// --- sealed stream ---
	/// A sealing key's modulus is below 2^2047 (not a 2048-bit key).
	SealingKeyTooSmall,
	/// A sealing key's modulus is even or has a small prime factor (not an RSA modulus).
	SealingKeyMalformed,
	/// A sealed word is not below the modulus or does not unseal to a word.
	BadSealedWord,
	/// An unsealed segment's label names another block or part, or its padding is not zero.
	BadSegmentLabel,
	// --- fraud proofs ---
	/// A fraud proof's second segment is not the one after its first.
	SegmentsNotConsecutive,
	/// A fraud proof needs the original block its segment's label names, and has none.
	OriginalBlockMissing,
	/// A fraud proof carries another original block than the one its segment's label names.
	WrongOriginalBlock,
	// --- JSON ---
	/// Not valid JSON, or a field is missing or of the wrong type.
	JsonSyntax,
	/// A hex field is not valid hex or not of the right length.
	JsonHex,
}

impl Error {
	/// A one-line, human-readable reason (what the CLI prints).
	pub fn message(&self) -> &'static str {
		use Error::*;
		match self {
			LengthTooLarge => "length or index beyond 2^60 blocks",
			TooManyNodes => "proof carries more nodes than any valid proof",
			MissingNode => "proof lacks a node the tree needs",
			UnexpectedNode => "proof node at an unexpected flat-tree index",
			ExtraNodes => "proof carries nodes that were not needed",
			SizeOverflow => "node sizes overflow 64 bits",
			InvalidRoots => "roots are not the full roots of the claimed length",
			BlockOutOfRange => "block index not below the tree length",
			BlockNotConnected => "block path does not reach the signed tree",
			RootMismatch => "trusted tree node and proof disagree",
			EmptyTree => "tree is empty",
			MissingUpgrade => "proof has no upgrade (nothing is signed)",
			UpgradeStartMismatch => "upgrade does not start at the trusted length",
			EmptyUpgrade => "upgrade has length zero",
			ForkMismatch => "proof is for another fork than the trusted tree",
			UnsupportedProof => "hash and seek proofs are not supported",
			NotAnExtension => "signed tree does not extend the trusted one",
			MalformedProof => "malformed binary proof",
			MissingBlock => "proof carries no block",
			BadSignature => "signature does not verify",
			BadSignatureLength => "signature is not 64 bytes",
			MalformedSignatureContainer => "malformed signature container",
			SeveralSignatures => {
				"signature container holds several signatures (multisig unsupported)"
			}
			UnknownSigner => "signature container names an unknown signer",
			SignaturePatch => "signature container carries a patch (unsupported)",
			MalformedManifest => "malformed manifest",
			UnsupportedManifestVersion => "manifest version is not 1",
			ManifestPatch => "manifest allows patches (unsupported)",
			ManifestPrologue => "manifest has a prologue (unsupported)",
			ManifestExtraFields => "manifest has linked cores or user data (unsupported)",
			ManifestSigners => "manifest does not have exactly one signer with quorum 1",
			ManifestUnknownHash => "manifest hash is not blake2b",
			ManifestUnknownSignature => "manifest signature scheme is not ed25519",
			KeyManifestMismatch => "key is neither the manifest hash nor its signer key",
			SegmentOutOfRange => "segment index out of range",
			BadSegmentLength => "segment empty or longer than the segment size",
			BadSegmentPath => "segment proof path has the wrong length",
			SegmentRootMismatch => "segment does not hash to the replica root",
			BadEncoding => "encoded block is malformed",
			BlockTooLarge => "encoded block states a length above the maximum",
			SealingKeyTooSmall => "sealing key modulus is not 2048 bits",
			SealingKeyMalformed => "sealing key modulus is even or has a small factor",
			BadSealedWord => "sealed word is not below the modulus or does not unseal",
			BadSegmentLabel => "unsealed segment carries the wrong block, part or padding",
			SegmentsNotConsecutive => "fraud proof segments are not consecutive",
			OriginalBlockMissing => "fraud proof lacks the original block its segment names",
			WrongOriginalBlock => {
				"fraud proof carries another original block than its segment names"
			}
			JsonSyntax => "invalid JSON or missing/mistyped field",
			JsonHex => "invalid hex or wrong byte length",
		}
	}
}

impl core::fmt::Display for Error {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(self.message())
	}
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Result with the crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
