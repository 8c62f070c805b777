//! The signed feed `publish_feed`'s benchmark publishes and extends (the wasm benchmark has
//! no key to sign with). Kept current by the test `benchmark_feed_fixture_is_current`.

use alloc::vec::Vec;
use codec::{Decode, Encode};
use datdot_primitives::{Proof, SignedTree};

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
