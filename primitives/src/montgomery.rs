//! `x^65537 mod n` for a 2048-bit odd modulus on 64-bit targets: Montgomery squaring and
//! multiplication on plain `u64` limbs with `u128` products, in variable time (every input
//! of unsealing is public). crypto-bigint's constant-time generic code spends a third of
//! unsealing on branches and carries this avoids; on 32-bit targets (the wasm runtime),
//! whose `u128` products are emulated, [`crate::sealing`] keeps crypto-bigint, and the
//! tests check that both give the same bytes.

/// Limbs of a 2048-bit number.
const N: usize = 32;

/// A number as little-endian 64-bit limbs.
pub type Limbs = [u64; N];

/// Montgomery arithmetic modulo one odd modulus, with `R = 2^2048`.
#[derive(Clone, Copy, Debug)]
pub struct Montgomery {
	n: Limbs,
	/// `-n^-1 mod 2^64`.
	n0: u64,
}

impl Montgomery {
	/// For the odd modulus `n`.
	pub fn new(n: Limbs) -> Self {
		// Newton's iteration doubles the correct low bits each step: 1 → 64 in 6 steps.
		let mut inv: u64 = 1;
		for _ in 0..6 {
			inv = inv.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inv)));
		}
		Self { n, n0: inv.wrapping_neg() }
	}

	/// The modulus.
	pub fn modulus(&self) -> &Limbs {
		&self.n
	}

	/// `a * b * R^-1 mod n`, for `a, b < n`.
	pub fn mul(&self, a: &Limbs, b: &Limbs) -> Limbs {
		let mut t = [0u64; 2 * N + 1];
		for (i, &ai) in a.iter().enumerate() {
			t[i + N] = mul_add(&mut t[i..i + N], ai, b);
		}
		self.reduce(&mut t)
	}

	/// `a^2 * R^-1 mod n`, for `a < n`, by columns (product scanning with the reduction
	/// interleaved): each column's sum stays in registers, each cross product is computed
	/// once and doubled, and no intermediate product is written to memory.
	pub fn square(&self, a: &Limbs) -> Limbs {
		let mut m = [0u64; N];
		let mut out = [0u64; N];
		let mut acc = Acc::default();
		for k in 0..2 * N - 1 {
			let first = k.saturating_sub(N - 1);
			let mut cross = Acc::default();
			let mut j = first;
			while j < k - j {
				cross.add_product(a[j], a[k - j]);
				j += 1;
			}
			cross.double();
			acc.add(cross);
			if k % 2 == 0 {
				acc.add_product(a[k / 2], a[k / 2]);
			}
			// m[j]·n[k-j] for the m already chosen. Indexed: the zipped form measured 15 %
			// slower.
			#[allow(clippy::needless_range_loop)]
			for j in first..k.min(N) {
				acc.add_product(m[j], self.n[k - j]);
			}
			if k < N {
				// Choose m[k] so that this column's low limb becomes zero.
				m[k] = (acc.low as u64).wrapping_mul(self.n0);
				acc.add_product(m[k], self.n[0]);
				acc.shift();
			} else {
				out[k - N] = acc.shift();
			}
		}
		out[N - 1] = acc.shift();
		self.subtract_if_needed(out, acc.low != 0)
	}

	/// `t * R^-1 mod n` for `t < n * R` (Montgomery reduction, one limb at a time).
	fn reduce(&self, t: &mut [u64; 2 * N + 1]) -> Limbs {
		for i in 0..N {
			let m = t[i].wrapping_mul(self.n0);
			let mut carry = mul_add(&mut t[i..i + N], m, &self.n);
			// Carry into the upper limbs; the total stays below 2nR < 2^4097.
			let mut k = i + N;
			while carry != 0 {
				let (sum, overflow) = t[k].overflowing_add(carry);
				t[k] = sum;
				carry = overflow as u64;
				k += 1;
			}
		}
		let mut out = [0u64; N];
		out.copy_from_slice(&t[N..2 * N]);
		self.subtract_if_needed(out, t[2 * N] != 0)
	}

	/// `out` (plus `2^2048` if `overflow`), known below `2n`, reduced below `n`.
	fn subtract_if_needed(&self, mut out: Limbs, overflow: bool) -> Limbs {
		if overflow || !less_than(&out, &self.n) {
			let mut borrow = false;
			for (o, n) in out.iter_mut().zip(self.n.iter()) {
				let (d, b1) = o.overflowing_sub(*n);
				let (d, b2) = d.overflowing_sub(borrow as u64);
				*o = d;
				borrow = b1 || b2;
			}
		}
		out
	}
}

/// A column sum of up to 2^192: a `u128` and the limb above it.
#[derive(Clone, Copy, Default)]
struct Acc {
	low: u128,
	high: u64,
}

impl Acc {
	#[inline(always)]
	fn add_product(&mut self, a: u64, b: u64) {
		let (sum, carry) = self.low.overflowing_add((a as u128) * (b as u128));
		self.low = sum;
		self.high += carry as u64;
	}

	#[inline(always)]
	fn add(&mut self, other: Acc) {
		let (sum, carry) = self.low.overflowing_add(other.low);
		self.low = sum;
		self.high += other.high + carry as u64;
	}

	#[inline(always)]
	fn double(&mut self) {
		self.high = (self.high << 1) | (self.low >> 127) as u64;
		self.low <<= 1;
	}

	/// Takes out the lowest limb and moves the rest down.
	#[inline(always)]
	fn shift(&mut self) -> u64 {
		let limb = self.low as u64;
		self.low = (self.low >> 64) | ((self.high as u128) << 64);
		self.high = 0;
		limb
	}
}

/// `acc += a * b` over `acc.len() == b.len()` limbs; returns the carry out.
#[inline(always)]
fn mul_add(acc: &mut [u64], a: u64, b: &[u64]) -> u64 {
	let mut carry = 0u64;
	for (t, &bj) in acc.iter_mut().zip(b) {
		let v = (a as u128) * (bj as u128) + *t as u128 + carry as u128;
		*t = v as u64;
		carry = (v >> 64) as u64;
	}
	carry
}

/// `a < b`.
pub fn less_than(a: &Limbs, b: &Limbs) -> bool {
	for i in (0..N).rev() {
		if a[i] != b[i] {
			return a[i] < b[i];
		}
	}
	false
}

/// Big-endian bytes to limbs.
pub fn from_be_bytes(bytes: &[u8; 8 * N]) -> Limbs {
	let mut limbs = [0u64; N];
	for (i, chunk) in bytes.rchunks(8).enumerate() {
		let mut word = [0u8; 8];
		word.copy_from_slice(chunk);
		limbs[i] = u64::from_be_bytes(word);
	}
	limbs
}

/// Limbs to big-endian bytes.
pub fn to_be_bytes(limbs: &Limbs) -> [u8; 8 * N] {
	let mut bytes = [0u8; 8 * N];
	for (i, chunk) in bytes.rchunks_mut(8).enumerate() {
		chunk.copy_from_slice(&limbs[i].to_be_bytes());
	}
	bytes
}
