//! The sealed stream of one replica (design §7): what makes a hoster hold its own copy.
//!
//! Every provider registers a [`SealingKey`], an RSA-2048 modulus with public exponent
//! 65537; the private key never leaves its node. An encoder cuts each encoded block (see
//! [`crate::encoded`]) into parts of [`SEGMENT_DATA`] bytes, prefixes each with a label
//! (block index, part, length), cuts that plain segment into [`WORDS_PER_SEGMENT`] words of
//! [`WORD_BYTES`], masks each word with a pad derived from (replica id, word index) and
//! applies its *private* RSA permutation. The result, [`SEGMENT_SIZE`] bytes per segment,
//! is what the hoster stores and what the merkle leaves commit to.
//!
//! Unsealing ([`Unsealer`]) is the public permutation (`x^65537 mod n`) and the pad: cheap,
//! `no_std`, and the same code in the hoster, the attestor and the chain (fraud proofs).
//! Producing a sealed word needs the encoder's private key, so a hoster that dropped its
//! copy cannot rebuild it from the public feed or from another replica, whatever its link.
//! Honest limit: an encoder and a hoster run by one operator can share a copy.
//!
//! A word is one byte shorter than the modulus, so every masked word is below any 2048-bit
//! modulus and the permutation is defined on it; a sealed word that does not unseal to a
//! value below 2^2040 was not produced by sealing, and is refused ([`Error::BadSealedWord`]).

use alloc::vec::Vec;

use blake2::{Blake2b512, Digest};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use crypto_bigint::{
	modular::runtime_mod::{DynResidue, DynResidueParams},
	Encoding, U2048,
};
use scale_info::TypeInfo;

use crate::encoded::{ReplicaId, SEGMENT_SIZE};
use crate::error::{Error, Result};

/// Bytes of an RSA-2048 modulus, and of one sealed word.
pub const MODULUS_BYTES: usize = 256;
/// The public exponent of every sealing key.
pub const PUBLIC_EXPONENT: u32 = 65_537;
/// Bytes of one plain word: one less than the modulus, so every word is below it.
pub const WORD_BYTES: usize = MODULUS_BYTES - 1;
/// Sealed words per segment (a sealed segment is exactly [`SEGMENT_SIZE`] bytes).
pub const WORDS_PER_SEGMENT: usize = SEGMENT_SIZE / MODULUS_BYTES;
/// Bytes of one plain segment: its label and data.
pub const PLAIN_SEGMENT: usize = WORDS_PER_SEGMENT * WORD_BYTES;
/// Label of a plain segment: `u64le block ‖ u32le part ‖ u16le length of data`.
pub const LABEL_LEN: usize = 8 + 4 + 2;
/// Bytes of an encoded block one segment carries.
pub const SEGMENT_DATA: usize = PLAIN_SEGMENT - LABEL_LEN;

const PAD_DOMAIN: &[u8] = b"datdot/seal-pad/v1";
const LIMBS: usize = U2048::LIMBS;

/// A provider's public sealing key: its RSA-2048 modulus, big-endian.
#[derive(
	Clone, Copy, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct SealingKey(pub [u8; MODULUS_BYTES]);

impl core::fmt::Debug for SealingKey {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		write!(f, "SealingKey(")?;
		for b in &self.0[..8] {
			write!(f, "{b:02x}")?;
		}
		write!(f, "…)")
	}
}

/// Odd primes below 256: a modulus divisible by one is not an RSA modulus (and a key
/// anyone can factor would let anyone seal).
const SMALL_PRIMES: [u16; 53] = [
	3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
	101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
	197, 199, 211, 223, 227, 229, 233, 239, 241, 251,
];

impl SealingKey {
	/// Checks that the modulus is 2048 bits, odd and free of small factors. It cannot
	/// prove the modulus is a product of two primes; a provider who registers a weaker key
	/// only weakens its own encodings (design §7, honest limits).
	pub fn check(&self) -> Result<()> {
		if self.0[0] & 0x80 == 0 {
			return Err(Error::SealingKeyTooSmall);
		}
		if self.0[MODULUS_BYTES - 1] & 1 == 0 {
			return Err(Error::SealingKeyMalformed);
		}
		for p in SMALL_PRIMES {
			let p = u32::from(p);
			if self.0.iter().fold(0u32, |r, &b| ((r << 8) | u32::from(b)) % p) == 0 {
				return Err(Error::SealingKeyMalformed);
			}
		}
		Ok(())
	}
}

/// The pad of word `word` of replica `id`: BLAKE2b-512 in counter mode, so two replicas (or
/// two words) never seal the same value.
fn pad(id: &ReplicaId, word: u64) -> [u8; MODULUS_BYTES] {
	let mut out = [0u8; MODULUS_BYTES];
	for (i, chunk) in out.chunks_mut(64).enumerate() {
		let h = Blake2b512::new()
			.chain_update(PAD_DOMAIN)
			.chain_update(id.contract.to_le_bytes())
			.chain_update(id.replica.to_le_bytes())
			.chain_update(word.to_le_bytes())
			.chain_update([i as u8])
			.finalize();
		chunk.copy_from_slice(&h);
	}
	out
}

/// Index of word `w` of segment `segment`.
fn word_index(segment: u64, w: usize) -> Result<u64> {
	segment
		.checked_mul(WORDS_PER_SEGMENT as u64)
		.and_then(|i| i.checked_add(w as u64))
		.ok_or(Error::SegmentOutOfRange)
}

/// What a plain segment says it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentLabel {
	/// Feed index of the original block.
	pub block: u64,
	/// Which part of the block's encoding (parts of [`SEGMENT_DATA`] bytes, from 0).
	pub part: u32,
	/// Bytes of data in this part (1 to [`SEGMENT_DATA`]; all but the last part are full).
	pub len: u16,
}

/// A segment unsealed: its label and the `label.len` bytes of encoded block it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainSegment {
	/// What the segment says it carries.
	pub label: SegmentLabel,
	/// The bytes of the encoded block.
	pub data: Vec<u8>,
}

/// Unseals segments sealed with one key: the public permutation and the pad.
#[derive(Clone, Copy, Debug)]
pub struct Unsealer {
	params: DynResidueParams<LIMBS>,
	/// The same modulus for the 64-bit fast path, and `R^2 mod n` to enter its form.
	#[cfg(target_pointer_width = "64")]
	fast: (crate::montgomery::Montgomery, crate::montgomery::Limbs),
}

impl Unsealer {
	/// An unsealer for `key`, which must pass [`SealingKey::check`].
	pub fn new(key: &SealingKey) -> Result<Self> {
		key.check()?;
		// `check` refused an even modulus, the one input `new` panics on.
		let params = DynResidueParams::new(&U2048::from_be_slice(&key.0));
		#[cfg(target_pointer_width = "64")]
		let fast = {
			use crate::montgomery::{from_be_bytes, Montgomery};
			// R mod n in Montgomery form is R^2 mod n.
			let r = *DynResidue::one(params).as_montgomery();
			let r2 = DynResidue::new(&r, params).as_montgomery().to_be_bytes();
			(Montgomery::new(from_be_bytes(&key.0)), from_be_bytes(&r2))
		};
		Ok(Self {
			params,
			#[cfg(target_pointer_width = "64")]
			fast,
		})
	}

	/// `sealed^65537 mod n`, refusing a sealed word that is not below the modulus (every
	/// sealed word has one canonical form, so a stored copy cannot differ from it).
	fn public_permutation(&self, sealed: &[u8]) -> Result<[u8; MODULUS_BYTES]> {
		let sealed: &[u8; MODULUS_BYTES] = sealed.try_into().map_err(|_| Error::BadSealedWord)?;
		#[cfg(target_pointer_width = "64")]
		return self.fast_permutation(sealed);
		#[cfg(not(target_pointer_width = "64"))]
		return self.reference_permutation(sealed);
	}

	/// [`Self::public_permutation`] with crypto-bigint: the wasm runtime's path, and the
	/// reference the 64-bit path is tested against.
	#[cfg_attr(all(target_pointer_width = "64", not(test)), allow(dead_code))]
	fn reference_permutation(&self, sealed: &[u8; MODULUS_BYTES]) -> Result<[u8; MODULUS_BYTES]> {
		let c = U2048::from_be_slice(sealed);
		if &c >= self.params.modulus() {
			return Err(Error::BadSealedWord);
		}
		let x = DynResidue::new(&c, self.params);
		let mut y = x;
		// 65537 = 2^16 + 1.
		for _ in 0..16 {
			y = y.square();
		}
		Ok(y.mul(&x).retrieve().to_be_bytes())
	}

	/// [`Self::public_permutation`] on 64-bit limbs (see [`crate::montgomery`]).
	#[cfg(target_pointer_width = "64")]
	fn fast_permutation(&self, sealed: &[u8; MODULUS_BYTES]) -> Result<[u8; MODULUS_BYTES]> {
		use crate::montgomery::{from_be_bytes, less_than, to_be_bytes};
		let (mont, r2) = &self.fast;
		let x = from_be_bytes(sealed);
		if !less_than(&x, mont.modulus()) {
			return Err(Error::BadSealedWord);
		}
		// x·R, squared 16 times: x^(2^16)·R; times plain x and R^-1: x^65537.
		let mut y = mont.mul(&x, r2);
		for _ in 0..16 {
			y = mont.square(&y);
		}
		Ok(to_be_bytes(&mont.mul(&y, &x)))
	}

	/// Plain word `word` of replica `id` from its sealed form.
	fn unseal_word(&self, id: &ReplicaId, word: u64, sealed: &[u8]) -> Result<[u8; WORD_BYTES]> {
		let masked = self.public_permutation(sealed)?;
		if masked[0] != 0 {
			return Err(Error::BadSealedWord);
		}
		let pad = pad(id, word);
		let mut out = [0u8; WORD_BYTES];
		for (i, o) in out.iter_mut().enumerate() {
			*o = masked[i + 1] ^ pad[i];
		}
		Ok(out)
	}

	/// Unseals segment `index` of replica `id` and reads its label. The label must be
	/// well formed (1 to [`SEGMENT_DATA`] bytes, zeros after them); whether it names the
	/// right block is the caller's check.
	pub fn unseal_segment(
		&self,
		id: &ReplicaId,
		index: u64,
		sealed: &[u8],
	) -> Result<PlainSegment> {
		if sealed.len() != SEGMENT_SIZE {
			return Err(Error::BadSegmentLength);
		}
		let mut plain = [0u8; PLAIN_SEGMENT];
		for (w, (out, word)) in
			plain.chunks_mut(WORD_BYTES).zip(sealed.chunks(MODULUS_BYTES)).enumerate()
		{
			out.copy_from_slice(&self.unseal_word(id, word_index(index, w)?, word)?);
		}
		let mut block = [0u8; 8];
		block.copy_from_slice(&plain[..8]);
		let mut part = [0u8; 4];
		part.copy_from_slice(&plain[8..12]);
		let len = u16::from_le_bytes([plain[12], plain[13]]);
		let label =
			SegmentLabel { block: u64::from_le_bytes(block), part: u32::from_le_bytes(part), len };
		let end = LABEL_LEN + usize::from(len);
		if len == 0 || end > PLAIN_SEGMENT || plain[end..].iter().any(|&b| b != 0) {
			return Err(Error::BadSegmentLabel);
		}
		Ok(PlainSegment { label, data: plain[LABEL_LEN..end].to_vec() })
	}

	/// The encoded block `block` from its sealed segments, the first of which is segment
	/// `first_segment` of replica `id`: every part must name this block, in order, and all
	/// but the last must be full.
	pub fn unseal_block(
		&self,
		id: &ReplicaId,
		first_segment: u64,
		block: u64,
		sealed: &[u8],
	) -> Result<Vec<u8>> {
		if sealed.is_empty() || !sealed.len().is_multiple_of(SEGMENT_SIZE) {
			return Err(Error::BadSegmentLength);
		}
		let parts = sealed.len() / SEGMENT_SIZE;
		let mut encoded = Vec::with_capacity(parts * SEGMENT_DATA);
		for (part, segment) in sealed.chunks(SEGMENT_SIZE).enumerate() {
			let index = first_segment.checked_add(part as u64).ok_or(Error::SegmentOutOfRange)?;
			let plain = self.unseal_segment(id, index, segment)?;
			let last = part + 1 == parts;
			if plain.label.block != block
				|| plain.label.part as usize != part
				|| (!last && plain.data.len() != SEGMENT_DATA)
			{
				return Err(Error::BadSegmentLabel);
			}
			encoded.extend_from_slice(&plain.data);
		}
		Ok(encoded)
	}
}

/// The sealed segments of an encoded block need this many segments.
pub fn segments_for(encoded_len: usize) -> usize {
	encoded_len.div_ceil(SEGMENT_DATA).max(1)
}

#[cfg(feature = "openssl")]
pub use self::sealer::*;

#[cfg(feature = "openssl")]
mod sealer {
	use super::*;
	use openssl::{
		bn::BigNum,
		pkey::Private,
		rsa::{Padding, Rsa},
	};

	/// Why a private sealing key cannot be used.
	#[derive(Debug)]
	pub enum SealerError {
		/// OpenSSL refused the key or the operation.
		Openssl(openssl::error::ErrorStack),
		/// The key is not an RSA-2048 key with exponent 65537 that passes
		/// [`SealingKey::check`].
		NotASealingKey(Error),
	}

	impl From<openssl::error::ErrorStack> for SealerError {
		fn from(e: openssl::error::ErrorStack) -> Self {
			Self::Openssl(e)
		}
	}

	impl core::fmt::Display for SealerError {
		fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
			match self {
				Self::Openssl(e) => write!(f, "OpenSSL: {e}"),
				Self::NotASealingKey(e) => {
					write!(f, "not a datdot sealing key (RSA-2048, e = 65537): {e}")
				}
			}
		}
	}

	impl std::error::Error for SealerError {}

	/// An encoder's private sealing key: seals segments with the RSA private permutation
	/// (OpenSSL, with CRT and blinding; see docs/decisions.md, "Sealed stream").
	pub struct Sealer {
		rsa: Rsa<Private>,
		key: SealingKey,
	}

	impl Sealer {
		/// A new random key.
		pub fn generate() -> core::result::Result<Self, SealerError> {
			let e = BigNum::from_u32(PUBLIC_EXPONENT)?;
			Self::from_rsa(Rsa::generate_with_e(2048, &e)?)
		}

		/// A key from its PEM form (PKCS#1 or PKCS#8).
		pub fn from_pem(pem: &[u8]) -> core::result::Result<Self, SealerError> {
			Self::from_rsa(Rsa::private_key_from_pem(pem)?)
		}

		fn from_rsa(rsa: Rsa<Private>) -> core::result::Result<Self, SealerError> {
			let not = SealerError::NotASealingKey;
			if rsa.e() != BigNum::from_u32(PUBLIC_EXPONENT)?.as_ref() {
				return Err(not(Error::SealingKeyMalformed));
			}
			let n = rsa
				.n()
				.to_vec_padded(MODULUS_BYTES as i32)
				.map_err(|_| not(Error::SealingKeyTooSmall))?;
			let mut modulus = [0u8; MODULUS_BYTES];
			modulus.copy_from_slice(&n);
			let key = SealingKey(modulus);
			key.check().map_err(not)?;
			rsa.check_key()?;
			Ok(Self { rsa, key })
		}

		/// The private key in PEM (PKCS#1), for the node's key file.
		pub fn to_pem(&self) -> core::result::Result<Vec<u8>, SealerError> {
			Ok(self.rsa.private_key_to_pem()?)
		}

		/// The public key, as registered on chain.
		pub fn key(&self) -> &SealingKey {
			&self.key
		}

		/// Seals one plain segment (label and data) as segment `index` of replica `id`.
		pub fn seal_segment(
			&self,
			id: &ReplicaId,
			index: u64,
			label: SegmentLabel,
			data: &[u8],
		) -> Result<[u8; SEGMENT_SIZE]> {
			let mut plain = [0u8; PLAIN_SEGMENT];
			plain[..8].copy_from_slice(&label.block.to_le_bytes());
			plain[8..12].copy_from_slice(&label.part.to_le_bytes());
			plain[12..14].copy_from_slice(&label.len.to_le_bytes());
			plain[LABEL_LEN..LABEL_LEN + data.len()].copy_from_slice(data);
			let mut sealed = [0u8; SEGMENT_SIZE];
			for (w, (word, out)) in
				plain.chunks(WORD_BYTES).zip(sealed.chunks_mut(MODULUS_BYTES)).enumerate()
			{
				let pad = pad(id, word_index(index, w)?);
				let mut masked = [0u8; MODULUS_BYTES];
				for (i, m) in masked[1..].iter_mut().enumerate() {
					*m = word[i] ^ pad[i];
				}
				let mut buf = [0u8; MODULUS_BYTES];
				let n = self
					.rsa
					.private_decrypt(&masked, &mut buf, Padding::NONE)
					.map_err(|_| Error::BadSealedWord)?;
				// OpenSSL writes the result left-aligned without its leading zeros.
				out[MODULUS_BYTES - n..].copy_from_slice(&buf[..n]);
			}
			Ok(sealed)
		}

		/// Seals encoded block `block` (feed index) whose first segment is segment
		/// `first_segment` of replica `id`: [`segments_for`] segments, concatenated.
		pub fn seal_block(
			&self,
			id: &ReplicaId,
			first_segment: u64,
			block: u64,
			encoded: &[u8],
		) -> Result<Vec<u8>> {
			let parts = segments_for(encoded.len());
			let mut out = Vec::with_capacity(parts * SEGMENT_SIZE);
			for part in 0..parts {
				let start = part * SEGMENT_DATA;
				let data = &encoded[start..(start + SEGMENT_DATA).min(encoded.len())];
				let label = SegmentLabel {
					block,
					part: u32::try_from(part).map_err(|_| Error::BlockTooLarge)?,
					len: data.len() as u16,
				};
				let index =
					first_segment.checked_add(part as u64).ok_or(Error::SegmentOutOfRange)?;
				out.extend_from_slice(&self.seal_segment(id, index, label, data)?);
			}
			Ok(out)
		}
	}
}

#[cfg(all(test, feature = "openssl"))]
mod tests {
	use super::*;
	use crate::encoded::{decode_block, encode_block};
	use crate::testdata::{generate, TEST_SEALING_KEYS};

	const ID: ReplicaId = ReplicaId { contract: 4, replica: 1 };

	fn sealer(i: usize) -> Sealer {
		Sealer::from_pem(TEST_SEALING_KEYS[i].as_bytes()).unwrap()
	}

	#[test]
	fn blocks_of_every_size_unseal_to_their_encoding() {
		let s = sealer(0);
		let unsealer = Unsealer::new(s.key()).unwrap();
		let mut first = 0;
		for (block, size) in
			[0usize, 1, SEGMENT_DATA - 5, SEGMENT_DATA - 4, 5000, 70_000].iter().enumerate()
		{
			let data = generate(2, block as u32, *size);
			let encoded = encode_block(&data).unwrap();
			let sealed = s.seal_block(&ID, first, block as u64, &encoded).unwrap();
			assert_eq!(sealed.len(), segments_for(encoded.len()) * SEGMENT_SIZE);
			let unsealed = unsealer.unseal_block(&ID, first, block as u64, &sealed).unwrap();
			assert_eq!(unsealed, encoded);
			assert_eq!(decode_block(&unsealed).unwrap(), data);
			// Read as another block, at another place or as another replica: refused.
			assert_eq!(
				unsealer.unseal_block(&ID, first, block as u64 + 1, &sealed),
				Err(Error::BadSegmentLabel)
			);
			assert!(unsealer.unseal_block(&ID, first + 1, block as u64, &sealed).is_err());
			let other = ReplicaId { contract: 5, ..ID };
			assert!(unsealer.unseal_block(&other, first, block as u64, &sealed).is_err());
			first += (sealed.len() / SEGMENT_SIZE) as u64;
		}
	}

	#[test]
	fn only_the_private_key_seals_what_its_public_key_unseals() {
		let encoded = encode_block(&generate(3, 0, 4000)).unwrap();
		let sealed = sealer(1).seal_block(&ID, 0, 0, &encoded).unwrap();
		let wrong = Unsealer::new(sealer(0).key()).unwrap();
		assert!(wrong.unseal_block(&ID, 0, 0, &sealed).is_err());
		let right = Unsealer::new(sealer(1).key()).unwrap();
		assert_eq!(right.unseal_block(&ID, 0, 0, &sealed).unwrap(), encoded);
	}

	#[test]
	fn forged_sealed_words_are_refused() {
		let s = sealer(0);
		let unsealer = Unsealer::new(s.key()).unwrap();
		let encoded = encode_block(&generate(3, 1, 900)).unwrap();
		let sealed = s.seal_block(&ID, 0, 0, &encoded).unwrap();
		// A word at or above the modulus has no preimage of canonical form.
		let mut at_modulus = sealed.clone();
		at_modulus[..MODULUS_BYTES].copy_from_slice(&s.key().0);
		assert_eq!(unsealer.unseal_segment(&ID, 0, &at_modulus), Err(Error::BadSealedWord));
		// Bytes that are not a sealing (here the plain encoding, padded) do not unseal.
		let mut plain = encoded.clone();
		plain.resize(SEGMENT_SIZE, 0);
		assert!(unsealer.unseal_segment(&ID, 0, &plain).is_err());
		assert_eq!(unsealer.unseal_segment(&ID, 0, &sealed[1..]), Err(Error::BadSegmentLength));
	}

	#[test]
	fn the_64_bit_path_and_the_wasm_runtime_s_path_give_the_same_bytes() {
		use blake2::{Blake2b512, Digest};
		use codec::Encode;
		for k in 0..3 {
			let unsealer = Unsealer::new(sealer(k).key()).unwrap();
			let n = sealer(k).key().0;
			let mut n_minus_1 = n;
			n_minus_1[MODULUS_BYTES - 1] -= 1; // n is odd
			let mut words = vec![[0u8; MODULUS_BYTES], n_minus_1, n, [0xff; MODULUS_BYTES]];
			let mut one = [0u8; MODULUS_BYTES];
			one[MODULUS_BYTES - 1] = 1;
			words.push(one);
			// Pseudo-random words, half of them with the modulus' top byte (some above it).
			for i in 0..200u32 {
				let mut w = [0u8; MODULUS_BYTES];
				for (c, chunk) in w.chunks_mut(64).enumerate() {
					chunk.copy_from_slice(&Blake2b512::digest((k as u32, i, c as u32).encode()));
				}
				if i % 2 == 0 {
					w[0] = n[0];
				}
				words.push(w);
			}
			for w in &words {
				assert_eq!(unsealer.fast_permutation(w), unsealer.reference_permutation(w));
			}
		}
	}

	#[test]
	fn malformed_or_tiny_keys_are_refused() {
		let good = *sealer(2).key();
		good.check().unwrap();
		for i in 0..3 {
			assert_eq!(crate::testdata::test_sealing_key(i), *sealer(i).key());
		}
		let mut tiny = good;
		tiny.0[0] = 0x7f;
		assert_eq!(tiny.check(), Err(Error::SealingKeyTooSmall));
		let mut even = good;
		even.0[MODULUS_BYTES - 1] &= !1;
		assert_eq!(even.check(), Err(Error::SealingKeyMalformed));
		// 2^2048 - 1: odd, 2048 bits, and a multiple of 3 (2^2 ≡ 1 mod 3).
		let multiple_of_three = SealingKey([0xff; MODULUS_BYTES]);
		let rem3 = multiple_of_three.0.iter().fold(0u32, |r, &b| ((r << 8) | u32::from(b)) % 3);
		assert_eq!(rem3, 0, "test key must be a multiple of 3");
		assert_eq!(multiple_of_three.check(), Err(Error::SealingKeyMalformed));
		assert_eq!(Unsealer::new(&tiny).err(), Some(Error::SealingKeyTooSmall));
		let generated = Sealer::generate().unwrap();
		generated.key().check().unwrap();
		let again = Sealer::from_pem(&generated.to_pem().unwrap()).unwrap();
		assert_eq!(again.key(), generated.key());
	}
}
