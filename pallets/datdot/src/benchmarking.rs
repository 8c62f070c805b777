//! Benchmarks of the datdot pallet's calls, each in its worst case.

use super::*;
use crate::Pallet as Datdot;
use frame::{benchmarking::prelude::*, traits::fungible::Mutate};

/// A provider account funded for its deposit many times over.
fn funded<T: Config>(name: &'static str, i: u32) -> T::AccountId {
	let who: T::AccountId = account(name, i, 0);
	let plenty = T::ProviderDeposit::get().saturating_mul(100u32.into());
	T::Currency::set_balance(&who, plenty);
	who
}

fn peer_id<T: Config>(i: u32) -> PeerIdOf<T> {
	let mut bytes = alloc::vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
	bytes.extend(i.to_le_bytes().iter().cycle().take(32));
	bytes.try_into().expect("38 bytes fit MaxPeerIdLen")
}

/// Registers providers `first..first + n`, returning them in index order.
fn providers<T: Config>(first: u32, n: u32) -> alloc::vec::Vec<T::AccountId> {
	(first..first + n)
		.map(|i| {
			let who = funded::<T>("provider", i);
			Datdot::<T>::register(
				RawOrigin::Signed(who.clone()).into(),
				peer_id::<T>(i),
				T::MinCapacity::get(),
				None,
			)
			.expect("registers");
			who
		})
		.collect()
}

/// Fills the pause schedule of block `until` with other providers, leaving one place.
fn crowd_pause_schedule<T: Config>(until: BlockNumberFor<T>) {
	let others = T::MaxPauseEndsPerBlock::get().saturating_sub(1);
	for who in providers::<T>(1_000, others) {
		Datdot::<T>::pause(RawOrigin::Signed(who).into(), until).expect("pauses");
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register() {
		providers::<T>(2_000, 3);
		let who = funded::<T>("new", 0);
		let region: RegionOf<T> =
			alloc::vec![b'r'; T::MaxRegionLen::get() as usize].try_into().expect("fits");
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), peer_id::<T>(999), T::MinCapacity::get(), Some(region));
		assert!(Providers::<T>::contains_key(&who));
	}

	#[benchmark]
	fn unregister() {
		// Worst case: paused in a crowded schedule, and first in the index so that the
		// last provider moves into its place.
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let first = providers::<T>(0, 1).remove(0);
		crowd_pause_schedule::<T>(until);
		providers::<T>(2_000, 3);
		Datdot::<T>::pause(RawOrigin::Signed(first.clone()).into(), until).expect("pauses");
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()));
		assert!(!Providers::<T>::contains_key(&first));
	}

	#[benchmark]
	fn pause() {
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let first = providers::<T>(0, 1).remove(0);
		crowd_pause_schedule::<T>(until);
		providers::<T>(2_000, 3);
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()), until);
		assert_eq!(
			Providers::<T>::get(&first).map(|p| p.status),
			Some(ProviderStatus::Paused { until })
		);
	}

	#[benchmark]
	fn unpause() {
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let first = providers::<T>(0, 1).remove(0);
		crowd_pause_schedule::<T>(until);
		Datdot::<T>::pause(RawOrigin::Signed(first.clone()).into(), until).expect("pauses");
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()));
		assert_eq!(Providers::<T>::get(&first).map(|p| p.status), Some(ProviderStatus::Active));
	}

	#[benchmark]
	fn on_initialize_pause_ends(n: Linear<0, { T::MaxPauseEndsPerBlock::get() }>) {
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		for who in providers::<T>(0, n) {
			Datdot::<T>::pause(RawOrigin::Signed(who).into(), until).expect("pauses");
		}
		#[block]
		{
			Datdot::<T>::on_initialize(until + 1u32.into());
		}
		assert_eq!(ProviderIndex::Eligible.count::<T>(), n);
	}

	impl_benchmark_test_suite!(Datdot, crate::mock::new_test_ext(), crate::mock::Test);
}
