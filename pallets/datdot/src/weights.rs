//! Weights of the datdot pallet's calls.
//!
//! Until `benchmarking.rs` has been run on reference hardware (`datdot-node benchmark pallet`
//! with `--features runtime-benchmarks`, see docs/benchmarks.md) these figures are derived
//! from each call's storage accesses (`DbWeight`) plus a fixed compute allowance, and they
//! over-estimate rather than under-estimate.

#![allow(unused_parens, unused_imports, missing_docs)]

use core::marker::PhantomData;
use frame::{deps::frame_support::weights::constants::RocksDbWeight, prelude::*};

/// Weight functions needed by the datdot pallet.
pub trait WeightInfo {
	fn register() -> Weight;
	fn unregister() -> Weight;
	fn pause() -> Weight;
	fn unpause() -> Weight;
	fn on_initialize_pause_ends(n: u32) -> Weight;
}

/// Compute allowance of a call, on top of its storage accesses.
const BASE: u64 = 40_000_000;

/// Weights for the datdot pallet using the runtime's database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register() -> Weight {
		// Providers (read, write, counter), holds + account, eligibility index (2 writes).
		Weight::from_parts(BASE, 3_600).saturating_add(T::DbWeight::get().reads_writes(5, 6))
	}
	fn unregister() -> Weight {
		// Provider, pause schedule, index swap-remove (moved record), holds + account.
		Weight::from_parts(BASE, 5_000).saturating_add(T::DbWeight::get().reads_writes(7, 8))
	}
	fn pause() -> Weight {
		Weight::from_parts(BASE, 5_000).saturating_add(T::DbWeight::get().reads_writes(4, 5))
	}
	fn unpause() -> Weight {
		Weight::from_parts(BASE, 5_000).saturating_add(T::DbWeight::get().reads_writes(4, 5))
	}
	fn on_initialize_pause_ends(n: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_500)
			.saturating_add(T::DbWeight::get().reads_writes(1, 1))
			.saturating_add(
				Weight::from_parts(20_000_000, 3_600)
					.saturating_add(T::DbWeight::get().reads_writes(2, 3))
					.saturating_mul(n as u64),
			)
	}
}

/// The same figures with RocksDB weights, for tests and the mock runtime.
impl WeightInfo for () {
	fn register() -> Weight {
		Weight::from_parts(BASE, 3_600).saturating_add(RocksDbWeight::get().reads_writes(5, 6))
	}
	fn unregister() -> Weight {
		Weight::from_parts(BASE, 5_000).saturating_add(RocksDbWeight::get().reads_writes(7, 8))
	}
	fn pause() -> Weight {
		Weight::from_parts(BASE, 5_000).saturating_add(RocksDbWeight::get().reads_writes(4, 5))
	}
	fn unpause() -> Weight {
		Weight::from_parts(BASE, 5_000).saturating_add(RocksDbWeight::get().reads_writes(4, 5))
	}
	fn on_initialize_pause_ends(n: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_500)
			.saturating_add(RocksDbWeight::get().reads_writes(1, 1))
			.saturating_add(
				Weight::from_parts(20_000_000, 3_600)
					.saturating_add(RocksDbWeight::get().reads_writes(2, 3))
					.saturating_mul(n as u64),
			)
	}
}
