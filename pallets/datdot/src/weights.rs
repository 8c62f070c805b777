//! Weights of the datdot pallet's calls and `on_initialize` work.
//!
//! Until `benchmarking.rs` has been run on reference hardware (`datdot-node benchmark pallet`
//! with `--features runtime-benchmarks`, see docs/benchmarks.md) these figures are derived
//! from each path's worst-case storage accesses (`DbWeight`) plus a compute allowance well
//! above what the native benchmarks of `datdot-primitives` measured, so they over-estimate
//! rather than under-estimate.

#![allow(unused_parens, unused_imports, missing_docs)]

use core::marker::PhantomData;
use frame::{
	deps::frame_support::weights::{constants::RocksDbWeight, RuntimeDbWeight},
	prelude::*,
};

/// Weight functions needed by the datdot pallet.
pub trait WeightInfo {
	fn register() -> Weight;
	fn unregister() -> Weight;
	fn pause() -> Weight;
	fn unpause() -> Weight;
	fn publish_feed() -> Weight;
	/// `n`: contracts created (each with up to `MaxReplicas` replicas).
	fn publish_plan(n: u32) -> Weight;
	/// `n`: contracts ended (each with up to `MaxReplicas` replicas).
	fn cancel_plan(n: u32) -> Weight;
	fn confirm_setup() -> Weight;
	/// `s`: segments proven.
	fn submit_storage_proof(s: u32) -> Weight;
	fn on_initialize_pause_ends(n: u32) -> Weight;
	fn expire_challenges(n: u32) -> Weight;
	fn expire_setups(n: u32) -> Weight;
	fn draw_replicas(n: u32) -> Weight;
	/// One draw among `p` registered providers: measured to show it does not grow with `p`.
	fn draw_with_providers(p: u32) -> Weight;
	fn issue_challenges(n: u32) -> Weight;
}

/// Compute allowance of a call, on top of its storage accesses.
const BASE: u64 = 40_000_000;

/// Weights derived from storage accesses priced by the database weights `D`.
pub struct DbDerived<D>(PhantomData<D>);

/// Weights for the runtime, priced with its own database weights.
pub type SubstrateWeight<T> = DbDerived<<T as frame_system::Config>::DbWeight>;

/// The same figures with RocksDB prices, for tests and the mock runtime.
impl WeightInfo for () {
	fn register() -> Weight {
		DbDerived::<RocksDbWeight>::register()
	}
	fn unregister() -> Weight {
		DbDerived::<RocksDbWeight>::unregister()
	}
	fn pause() -> Weight {
		DbDerived::<RocksDbWeight>::pause()
	}
	fn unpause() -> Weight {
		DbDerived::<RocksDbWeight>::unpause()
	}
	fn publish_feed() -> Weight {
		DbDerived::<RocksDbWeight>::publish_feed()
	}
	fn publish_plan(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::publish_plan(n)
	}
	fn cancel_plan(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::cancel_plan(n)
	}
	fn confirm_setup() -> Weight {
		DbDerived::<RocksDbWeight>::confirm_setup()
	}
	fn submit_storage_proof(s: u32) -> Weight {
		DbDerived::<RocksDbWeight>::submit_storage_proof(s)
	}
	fn on_initialize_pause_ends(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::on_initialize_pause_ends(n)
	}
	fn expire_challenges(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::expire_challenges(n)
	}
	fn expire_setups(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::expire_setups(n)
	}
	fn draw_replicas(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::draw_replicas(n)
	}
	fn draw_with_providers(p: u32) -> Weight {
		DbDerived::<RocksDbWeight>::draw_with_providers(p)
	}
	fn issue_challenges(n: u32) -> Weight {
		DbDerived::<RocksDbWeight>::issue_challenges(n)
	}
}

impl<D: Get<RuntimeDbWeight>> DbDerived<D> {
	/// `fixed` plus `n` times `each`.
	fn linear(fixed: Weight, each: Weight, n: u32) -> Weight {
		fixed.saturating_add(each.saturating_mul(n as u64))
	}

	/// A compute allowance and proof size plus `r` reads and `w` writes.
	fn rw(compute: u64, proof: u64, r: u64, w: u64) -> Weight {
		Weight::from_parts(compute, proof).saturating_add(D::get().reads_writes(r, w))
	}
}

impl<D: Get<RuntimeDbWeight>> WeightInfo for DbDerived<D> {
	fn register() -> Weight {
		// Providers (read, write, counter), holds + account, two indexes.
		Self::rw(BASE, 3_600, 6, 8)
	}
	fn unregister() -> Weight {
		// Provider, pause schedule, index swap-removes (moved records), holds + account.
		Self::rw(BASE, 5_000, 9, 10)
	}
	fn pause() -> Weight {
		Self::rw(BASE, 5_000, 6, 7)
	}
	fn unpause() -> Weight {
		Self::rw(BASE, 5_000, 6, 7)
	}
	fn publish_feed() -> Weight {
		// Two signature checks (tree and extension proof) and a proof walk of at most 256
		// nodes; the feed record, holds + account.
		Self::rw(400_000_000, 8_000, 3, 3)
	}
	fn publish_plan(n: u32) -> Weight {
		// Feed, ids, queue bounds; per contract the record and up to 8 queue entries.
		Self::linear(Self::rw(BASE, 4_000, 4, 4), Self::rw(10_000_000, 0, 0, 10), n)
	}
	fn cancel_plan(n: u32) -> Weight {
		// Per contract, for up to 8 replicas: the replica, two provider updates with index
		// moves, the hosted list.
		Self::linear(Self::rw(BASE, 3_000, 1, 1), Self::rw(40_000_000, 112_000, 64, 65), n)
	}
	fn confirm_setup() -> Weight {
		// Replica, contract, two provider updates with index moves, hosted list, or a failed
		// setup: release, two faults (holds + account) and a requeue.
		Self::rw(BASE, 20_000, 16, 16)
	}
	fn submit_storage_proof(s: u32) -> Weight {
		// Challenge, provider (+ index), or a fault; per segment a proof check (≤ 64 hashes)
		// and its replica's read and write.
		Self::linear(Self::rw(BASE, 6_000, 7, 7), Self::rw(60_000_000, 300, 1, 1), s)
	}
	fn on_initialize_pause_ends(n: u32) -> Weight {
		Self::linear(Self::rw(5_000_000, 1_500, 1, 1), Self::rw(20_000_000, 3_600, 4, 5), n)
	}
	fn expire_challenges(n: u32) -> Weight {
		// Per challenge: take it, two provider updates, a fault (holds + account).
		Self::linear(Self::rw(5_000_000, 1_500, 1, 1), Self::rw(20_000_000, 6_000, 8, 8), n)
	}
	fn expire_setups(n: u32) -> Weight {
		// Per setup: the replica and a failed setup (release, faults, requeue).
		Self::linear(Self::rw(5_000_000, 1_500, 1, 1), Self::rw(30_000_000, 12_000, 16, 14), n)
	}
	fn draw_replicas(n: u32) -> Weight {
		// Randomness, deadline slot; per draw: queue, nonce, contract, other replicas (≤ 8),
		// up to 24 candidate picks (index entry + provider), two provider updates, replica.
		Self::linear(Self::rw(5_000_000, 2_000, 3, 1), Self::rw(40_000_000, 60_000, 70, 14), n)
	}
	fn draw_with_providers(_p: u32) -> Weight {
		Self::draw_replicas(1)
	}
	fn issue_challenges(n: u32) -> Weight {
		// Per challenge: index, hosted list (≤ 12 KiB), the picked replicas (≤ 8), id,
		// challenge, provider update with index move.
		Self::linear(Self::rw(5_000_000, 1_500, 2, 1), Self::rw(20_000_000, 20_000, 16, 6), n)
	}
}
