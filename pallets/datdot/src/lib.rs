//! # datdot pallet
//!
//! The on-chain rules of datdot (see `shared/design/protocol.md`): providers, verified
//! hypercore feeds, hosting plans, random selection, hosting setup and storage challenges.
//!
//! ## Providers
//!
//! An account becomes a provider with [`Pallet::register`]: it names the libp2p PeerId of
//! the node that serves its data and the capacity it offers, and a deposit
//! ([`Config::ProviderDeposit`]) is held from its balance ([`HoldReason::ProviderDeposit`]).
//! Active providers with at least [`Config::MinFreeCapacity`] free bytes sit in an index
//! that random selection draws from (see [`selection`]). [`Pallet::pause`] takes a provider
//! out for planned downtime (at most [`Config::MaxPauseBlocks`]); the pause ends by itself
//! or with [`Pallet::unpause`], which also brings back a provider the chain put offline.
//! [`Pallet::unregister`] releases the deposit once the provider holds no replica.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod selection;
pub mod types;
pub mod weights;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;

pub use types::{Provider, ProviderStatus};
pub use weights::WeightInfo;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as frame::traits::fungible::Inspect<
	<T as frame_system::Config>::AccountId,
>>::Balance;

/// A provider record with the runtime's types.
pub type ProviderOf<T> = Provider<
	BalanceOf<T>,
	frame_system::pallet_prelude::BlockNumberFor<T>,
	<T as Config>::MaxPeerIdLen,
	<T as Config>::MaxRegionLen,
>;

/// The bytes of a libp2p PeerId as a provider registers it.
pub type PeerIdOf<T> = BoundedVec<u8, <T as Config>::MaxPeerIdLen>;
/// A provider's free-text region.
pub type RegionOf<T> = BoundedVec<u8, <T as Config>::MaxRegionLen>;

use frame::prelude::*;

#[frame::pallet]
pub mod pallet {
	use super::*;
	#[cfg(any(feature = "try-runtime", test))]
	use frame::deps::sp_runtime::TryRuntimeError;
	use frame::traits::{
		fungible::{Mutate, MutateHold},
		tokens::Precision,
	};

	/// The datdot pallet.
	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A provider's registration deposit; faults cost part of it.
		ProviderDeposit,
	}

	/// Configuration of the datdot pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency deposits are held in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The deposit held from a provider while it is registered.
		#[pallet::constant]
		type ProviderDeposit: Get<BalanceOf<Self>>;

		/// The smallest capacity a provider may offer, in bytes.
		#[pallet::constant]
		type MinCapacity: Get<u64>;

		/// Free bytes a provider needs to be drawn for new work at all.
		#[pallet::constant]
		type MinFreeCapacity: Get<u64>;

		/// The longest planned pause, in blocks.
		#[pallet::constant]
		type MaxPauseBlocks: Get<BlockNumberFor<Self>>;

		/// Pauses that may end in one block (the `on_initialize` work they cause is bounded).
		#[pallet::constant]
		type MaxPauseEndsPerBlock: Get<u32>;

		/// The most providers that may be registered at once.
		#[pallet::constant]
		type MaxProviders: Get<u32>;

		/// The longest PeerId, in bytes.
		#[pallet::constant]
		type MaxPeerIdLen: Get<u32>;

		/// The longest region text, in bytes.
		#[pallet::constant]
		type MaxRegionLen: Get<u32>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Registered providers.
	#[pallet::storage]
	pub type Providers<T: Config> =
		CountedStorageMap<_, Blake2_128Concat, T::AccountId, ProviderOf<T>>;

	/// The eligibility index: providers that can be drawn for new work, densely numbered.
	#[pallet::storage]
	pub type EligibleProviders<T: Config> = StorageMap<_, Twox64Concat, u32, T::AccountId>;

	/// How many entries `EligibleProviders` has.
	#[pallet::storage]
	pub type EligibleCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Providers whose pause ends at a block, so `on_initialize` can bring them back.
	#[pallet::storage]
	pub type PauseEnds<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<T::AccountId, T::MaxPauseEndsPerBlock>,
		ValueQuery,
	>;

	/// Events of the datdot pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A provider registered and its deposit is held.
		ProviderRegistered {
			/// The provider's account.
			provider: T::AccountId,
			/// Its node's PeerId.
			peer_id: PeerIdOf<T>,
			/// Bytes it offers.
			capacity: u64,
			/// The deposit held.
			deposit: BalanceOf<T>,
		},
		/// A provider left and its deposit was released.
		ProviderUnregistered {
			/// The provider's account.
			provider: T::AccountId,
		},
		/// A provider paused until a block.
		ProviderPaused {
			/// The provider's account.
			provider: T::AccountId,
			/// The last block of the pause.
			until: BlockNumberFor<T>,
		},
		/// A provider is active again (after `unpause` or at the end of its pause).
		ProviderResumed {
			/// The provider's account.
			provider: T::AccountId,
		},
	}

	/// Errors of the datdot pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// This account is already a provider.
		AlreadyRegistered,
		/// This account is not a registered provider.
		NotRegistered,
		/// The PeerId is not a libp2p ed25519 PeerId (38 bytes: `00 24 08 01 12 20` and the
		/// 32-byte public key), which is what a datdot node has.
		InvalidPeerId,
		/// The capacity is below `MinCapacity`.
		CapacityTooSmall,
		/// `MaxProviders` providers are registered; none can join until one leaves.
		TooManyProviders,
		/// The balance cannot cover the provider deposit (plus the existential deposit).
		InsufficientBalanceForDeposit,
		/// The provider still holds replicas; they must be handed over before it leaves.
		ProviderHasReplicas,
		/// Only an active provider can pause.
		NotActive,
		/// The pause must end after the current block.
		PauseInPast,
		/// The pause is longer than `MaxPauseBlocks`.
		PauseTooLong,
		/// Too many pauses already end at that block; choose another.
		PauseScheduleFull,
		/// The provider is already active.
		AlreadyActive,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Brings back the providers whose pause ended with the previous block.
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let ending = PauseEnds::<T>::take(now.saturating_sub(One::one()));
			let count = ending.len() as u32;
			for who in ending {
				Self::resume(&who);
			}
			T::WeightInfo::on_initialize_pause_ends(count)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers the caller as a provider, holding [`Config::ProviderDeposit`] from its
		/// balance.
		///
		/// - `peer_id`: the libp2p PeerId (bytes) of the node that will serve the data.
		/// - `capacity`: bytes offered, at least [`Config::MinCapacity`].
		/// - `region`: optional free text saying where the node is.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register())]
		pub fn register(
			origin: OriginFor<T>,
			peer_id: PeerIdOf<T>,
			capacity: u64,
			region: Option<RegionOf<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Providers::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			ensure!(is_ed25519_peer_id(&peer_id), Error::<T>::InvalidPeerId);
			ensure!(capacity >= T::MinCapacity::get(), Error::<T>::CapacityTooSmall);
			ensure!(Providers::<T>::count() < T::MaxProviders::get(), Error::<T>::TooManyProviders);

			let deposit = T::ProviderDeposit::get();
			T::Currency::hold(&HoldReason::ProviderDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientBalanceForDeposit)?;

			let mut provider = Provider {
				peer_id: peer_id.clone(),
				capacity,
				free_capacity: capacity,
				region,
				deposit,
				status: ProviderStatus::Active,
				jobs_done: 0,
				faults: 0,
				replicas: 0,
				eligible_at: None,
			};
			Self::refresh_eligibility(&who, &mut provider);
			Providers::<T>::insert(&who, provider);
			Self::deposit_event(Event::ProviderRegistered {
				provider: who,
				peer_id,
				capacity,
				deposit,
			});
			Ok(())
		}

		/// Unregisters the caller and releases its deposit. Only a provider that holds no
		/// replica can leave.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::unregister())]
		pub fn unregister(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(provider.replicas == 0, Error::<T>::ProviderHasReplicas);

			if let ProviderStatus::Paused { until } = provider.status {
				PauseEnds::<T>::mutate(until, |ends| ends.retain(|a| a != &who));
			}
			provider.status = ProviderStatus::Offline;
			Self::refresh_eligibility(&who, &mut provider);
			T::Currency::release(
				&HoldReason::ProviderDeposit.into(),
				&who,
				provider.deposit,
				Precision::BestEffort,
			)?;
			Providers::<T>::remove(&who);
			Self::deposit_event(Event::ProviderUnregistered { provider: who });
			Ok(())
		}

		/// Pauses the caller (planned downtime) until block `until` inclusive: no new work
		/// and no storage challenges meanwhile. At most [`Config::MaxPauseBlocks`] ahead.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::pause())]
		pub fn pause(origin: OriginFor<T>, until: BlockNumberFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(provider.status == ProviderStatus::Active, Error::<T>::NotActive);
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(until > now, Error::<T>::PauseInPast);
			ensure!(until - now <= T::MaxPauseBlocks::get(), Error::<T>::PauseTooLong);
			PauseEnds::<T>::try_mutate(until, |ends| ends.try_push(who.clone()))
				.map_err(|_| Error::<T>::PauseScheduleFull)?;

			provider.status = ProviderStatus::Paused { until };
			Self::refresh_eligibility(&who, &mut provider);
			Providers::<T>::insert(&who, provider);
			Self::deposit_event(Event::ProviderPaused { provider: who, until });
			Ok(())
		}

		/// Makes the caller active again: ends its pause early, or says it is back after the
		/// chain put it offline.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::unpause())]
		pub fn unpause(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			match provider.status {
				ProviderStatus::Active => return Err(Error::<T>::AlreadyActive.into()),
				ProviderStatus::Paused { until } => {
					PauseEnds::<T>::mutate(until, |ends| ends.retain(|a| a != &who));
				}
				ProviderStatus::Offline => {}
			}
			Self::resume(&who);
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Makes a registered, inactive provider active and drawable again.
		pub(crate) fn resume(who: &T::AccountId) {
			let resumed = Providers::<T>::mutate(who, |p| match p {
				Some(p) if p.status != ProviderStatus::Active => {
					p.status = ProviderStatus::Active;
					Self::refresh_eligibility(who, p);
					true
				}
				_ => false,
			});
			if resumed {
				Self::deposit_event(Event::ProviderResumed { provider: who.clone() });
			}
		}

		/// The pallet's invariants: the eligibility index holds exactly the providers that can
		/// take work, each at the position its record names; capacities add up; every paused
		/// provider's pause end is scheduled.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), TryRuntimeError> {
			let count = EligibleCount::<T>::get();
			for at in 0..count {
				let who = EligibleProviders::<T>::get(at).ok_or("hole in the eligibility index")?;
				let p = Providers::<T>::get(&who).ok_or("index names an unregistered provider")?;
				ensure!(p.eligible_at == Some(at), "index position disagrees with the record");
			}
			ensure!(EligibleProviders::<T>::get(count).is_none(), "index entry past its count");
			let mut eligible = 0u32;
			for (who, p) in Providers::<T>::iter() {
				ensure!(p.free_capacity <= p.capacity, "free capacity above capacity");
				let should = p.can_take_work(T::MinFreeCapacity::get());
				ensure!(should == p.eligible_at.is_some(), "eligibility out of date");
				eligible += should as u32;
				if let ProviderStatus::Paused { until } = p.status {
					ensure!(PauseEnds::<T>::get(until).contains(&who), "pause end not scheduled");
				}
			}
			ensure!(eligible == count, "eligibility count disagrees with the records");
			Ok(())
		}
	}
}

/// Whether `bytes` is a libp2p PeerId of an ed25519 key: the identity multihash (`00`,
/// length `24`) of the protobuf-encoded public key (`08 01` = ed25519, `12 20` = 32 bytes).
pub fn is_ed25519_peer_id(bytes: &[u8]) -> bool {
	bytes.len() == 38 && bytes[..6] == [0x00, 0x24, 0x08, 0x01, 0x12, 0x20]
}
