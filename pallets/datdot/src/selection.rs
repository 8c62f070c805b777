//! Random selection of providers.
//!
//! Eligible providers (active, with enough free capacity) sit in a dense index
//! `EligibleProviders[0..EligibleCount]`, so the k-th eligible provider is one read away and
//! a draw costs O(R) reads however many providers are registered. Joining appends; leaving
//! moves the last entry into the hole (swap-remove), both O(1).
//!
//! A draw hashes the chain's randomness with a per-draw subject into uniform indexes by
//! rejection sampling (no modulo bias), and rejects candidates that are excluded (the
//! sponsor, providers already drawn for the same contract) or lack capacity for this work.
//! Attempts are bounded; when they run out the caller queues the work for later.

use crate::{pallet::*, ProviderOf};
use alloc::vec::Vec;
use frame::prelude::*;

/// Candidates tried per provider wanted before a draw gives up (and the work is queued).
pub const ATTEMPTS_PER_PICK: u32 = 8;

/// A uniform index in `0..n` from `seed` and an attempt counter, without modulo bias.
///
/// Each attempt hashes `seed ‖ attempt` into four 64-bit words and returns the first word
/// below the largest multiple of `n` (reduced mod `n`); all four fall above it with
/// probability below 2⁻¹²⁸·⁴ for any `n ≤ 2³²`. Returns `None` only when `n == 0` or that
/// happens.
pub fn random_index(seed: &[u8; 32], attempt: u32, n: u32) -> Option<u32> {
	if n == 0 {
		return None;
	}
	let n = n as u64;
	// Largest multiple of n that fits in u64: words at or above it would bias the result.
	let zone = u64::MAX - (u64::MAX % n);
	let mut input = [0u8; 36];
	input[..32].copy_from_slice(seed);
	input[32..].copy_from_slice(&attempt.to_le_bytes());
	let hash = frame::hashing::blake2_256(&input);
	hash.chunks_exact(8)
		.map(|w| u64::from_le_bytes(w.try_into().expect("chunks of 8 bytes")))
		.find(|w| *w < zone)
		.map(|w| (w % n) as u32)
}

impl<T: Config> Pallet<T> {
	/// Adds `who` to the eligibility index if it can take work and is not in it yet, or
	/// removes it if it no longer can. Call after every change to a provider's status or
	/// free capacity; `provider` is the record about to be stored.
	pub(crate) fn refresh_eligibility(who: &T::AccountId, provider: &mut ProviderOf<T>) {
		let eligible = provider.can_take_work(T::MinFreeCapacity::get());
		match (eligible, provider.eligible_at) {
			(true, None) => {
				let at = EligibleCount::<T>::get();
				EligibleProviders::<T>::insert(at, who);
				EligibleCount::<T>::put(at.saturating_add(1));
				provider.eligible_at = Some(at);
			}
			(false, Some(at)) => {
				Self::remove_from_index(at);
				provider.eligible_at = None;
			}
			_ => {}
		}
	}

	/// Swap-removes index entry `at`: the last entry moves into it.
	fn remove_from_index(at: u32) {
		let last = EligibleCount::<T>::get().saturating_sub(1);
		if at != last {
			if let Some(moved) = EligibleProviders::<T>::get(last) {
				EligibleProviders::<T>::insert(at, &moved);
				Providers::<T>::mutate(&moved, |p| {
					if let Some(p) = p {
						p.eligible_at = Some(at);
					}
				});
			}
		}
		EligibleProviders::<T>::remove(last);
		EligibleCount::<T>::put(last);
	}

	/// Draws `count` distinct eligible providers with at least `needed` free bytes, none of
	/// them in `exclude`, from `seed`. `None` when too few qualify (or the bounded attempts
	/// ran out): the caller queues the work and retries later.
	pub fn pick_providers(
		seed: &[u8; 32],
		count: u32,
		needed: u64,
		exclude: &[T::AccountId],
	) -> Option<Vec<T::AccountId>> {
		let n = EligibleCount::<T>::get();
		let mut picked: Vec<T::AccountId> = Vec::new();
		let mut attempt = 0u32;
		let max_attempts = count.saturating_mul(ATTEMPTS_PER_PICK);
		while (picked.len() as u32) < count {
			if attempt >= max_attempts {
				return None;
			}
			let at = random_index(seed, attempt, n)?;
			attempt += 1;
			let Some(who) = EligibleProviders::<T>::get(at) else { continue };
			if exclude.contains(&who) || picked.contains(&who) {
				continue;
			}
			let fits = Providers::<T>::get(&who).is_some_and(|p| p.can_take_work(needed));
			if fits {
				picked.push(who);
			}
		}
		Some(picked)
	}
}

#[cfg(test)]
mod tests {
	use super::random_index;

	#[test]
	fn random_index_is_in_range_and_deterministic() {
		for n in [1u32, 2, 3, 7, 1000, u32::MAX] {
			for attempt in 0..50 {
				let i = random_index(&[7; 32], attempt, n).unwrap();
				assert!(i < n);
				assert_eq!(Some(i), random_index(&[7; 32], attempt, n));
			}
		}
		assert_eq!(random_index(&[7; 32], 0, 0), None);
	}

	#[test]
	fn random_index_is_uniform_within_tolerance() {
		// 3 does not divide 2^64, so a plain `% 3` would be (very slightly) biased; here the
		// counts of 30 000 draws must each be within 4 % of 10 000.
		let mut counts = [0u32; 3];
		for attempt in 0..30_000 {
			counts[random_index(&[1; 32], attempt, 3).unwrap() as usize] += 1;
		}
		for c in counts {
			assert!((9_600..=10_400).contains(&c), "{counts:?}");
		}
	}
}
