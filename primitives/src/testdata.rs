//! The deterministic block generator shared with `fixtures/common.js`, so fixtures can
//! describe megabyte blocks by (seed, index, size) instead of committing them.

use alloc::vec::Vec;

/// Bytes of block `index` of a generated feed (xorshift32, seeded from seed and index).
pub fn generate(seed: u32, index: u32, size: usize) -> Vec<u8> {
	let mut x =
		(seed.wrapping_mul(0x9e37_79b1) ^ index.wrapping_add(1).wrapping_mul(0x85eb_ca77)) | 1;
	let mut out = Vec::with_capacity(size);
	for _ in 0..size {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out.push(x as u8);
	}
	out
}
