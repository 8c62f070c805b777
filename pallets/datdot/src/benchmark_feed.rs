//! Fixtures the wasm benchmarks cannot make (they have no key to sign or seal with): the
//! signed feed `publish_feed`'s benchmark publishes and extends, and the sealed stream
//! `report_bad_encoding`'s benchmark proves a fraud against. Kept current by the tests
//! `benchmark_feed_fixture_is_current` and `benchmark_fraud_fixture_is_current`.

use alloc::vec::Vec;
use codec::{Decode, Encode};
use datdot_primitives::{encoded::EncodedRoot, fraud::EncodingFraudProof, Proof, SignedTree};

/// A manifest-mode feed at 2^15 - 1 blocks, and its extension to 2^16 - 1 blocks.
#[derive(Encode, Decode)]
pub struct BenchmarkFeed {
	/// The feed key.
	pub key: [u8; 32],
	/// Its manifest, as hypercore encodes it.
	pub manifest: Vec<u8>,
	/// The tree published first.
	pub old: SignedTree,
	/// The longer tree.
	pub new: SignedTree,
	/// hypercore's upgrade proof from `old` to `new`.
	pub extension: Proof,
}

impl BenchmarkFeed {
	/// The committed fixture.
	#[cfg(feature = "runtime-benchmarks")]
	pub fn load() -> Self {
		let bytes: &[u8] = include_bytes!("benchmark_feed.scale");
		Self::decode(&mut &bytes[..]).expect("benchmark_feed.scale decodes; regenerate it")
	}
}

/// A one-block feed whose block is `generate(FRAUD_SEED, 0, MAX_FRAUD_BLOCK)`, and an
/// encoder's stream of it with parts 1 and 2 swapped: the worst case of a fraud proof (two
/// segments unsealed, the largest block verified and re-encoded, the fault found last).
#[derive(Encode, Decode)]
pub struct BenchmarkFraud {
	/// The feed key.
	pub key: [u8; 32],
	/// Its manifest.
	pub manifest: Vec<u8>,
	/// Its signed tree (one block).
	pub tree: SignedTree,
	/// `testdata::test_sealing_key(sealing_key)` is the encoder's key.
	pub sealing_key: u32,
	/// The root the encoder commits.
	pub root: EncodedRoot,
	/// The hoster's proof, the original block's bytes left out (`generate` gives them).
	pub proof: EncodingFraudProof,
}

/// The seed of the fraud fixture's block.
pub const FRAUD_SEED: u32 = 77;

impl BenchmarkFraud {
	/// The committed fixture.
	#[cfg(feature = "runtime-benchmarks")]
	pub fn load() -> Self {
		let bytes: &[u8] = include_bytes!("benchmark_fraud.scale");
		Self::decode(&mut &bytes[..]).expect("benchmark_fraud.scale decodes; regenerate it")
	}
}
