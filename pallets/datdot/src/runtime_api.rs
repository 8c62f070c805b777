//! The runtime API provider nodes and clients read datdot's state through: a node's setup
//! duties (what its encoder and hoster workers must do), the replicas it must keep, a
//! plan's hosting status and a feed's signed state.
//!
//! Every answer is bounded by the runtime's constants (`MaxSetupBlocks × MaxDrawsPerBlock`
//! replicas in setup; a page of a plan's status covers at most [`STATUS_PAGE_CONTRACTS`]
//! contracts, `2 × MaxReplicas` replicas each, counting successors being set up).

use crate::{pallet::*, types::*};
use alloc::vec::Vec;
use datdot_primitives::encoded::ReplicaId;
use frame::prelude::*;

/// The most contracts one page of [`DatdotApi::plan_status`] covers (a few hundred KiB of
/// answer, within a JSON-RPC response's default limit).
pub const STATUS_PAGE_CONTRACTS: u32 = 256;

frame::runtime::apis::decl_runtime_apis! {
	/// datdot's queries for provider nodes and clients.
	pub trait DatdotApi<AccountId, BlockNumber>
	where
		AccountId: codec::Codec,
		BlockNumber: codec::Codec,
	{
		/// The replicas in setup in which one of `providers` is encoder or hoster, with what
		/// its node needs to do its part.
		fn setup_duties(providers: Vec<AccountId>) -> Vec<SetupDuty<AccountId, BlockNumber>>;

		/// The replicas (hoster, state, root, endpoint) of plan `plan`'s contracts `from`,
		/// `from + 1`, … (indexes within the plan), at most `count` of them and at most
		/// [`STATUS_PAGE_CONTRACTS`]: page through a large plan by its `contracts`. `None`
		/// if there is no such plan.
		fn plan_status(plan: u64, from: u32, count: u32) -> Option<Vec<ReplicaStatus<AccountId, BlockNumber>>>;

		/// Feed `key`'s signed state as the chain stores it; `None` if it is not published.
		fn feed_state(key: FeedKey) -> Option<FeedState>;

		/// The replicas `providers` host or are setting up as hoster: what their node must
		/// keep; anything else in its store can go.
		fn hosted_replicas(providers: Vec<AccountId>) -> Vec<ReplicaId>;

		/// The open performance challenges `attestors` must report on, with what their
		/// node needs to read the hoster.
		fn performance_duties(attestors: Vec<AccountId>) -> Vec<PerformanceDuty<AccountId, BlockNumber>>;

		/// The providers `duty_keys` sign for, as `(duty key, provider)`, skipping keys of
		/// no provider: whom a node with these keys in its keystore acts for.
		fn duty_key_providers(duty_keys: Vec<AccountId>) -> Vec<(AccountId, AccountId)>;
	}
}

impl<T: Config> Pallet<T> {
	/// See [`DatdotApi::performance_duties`]. Open challenges are bounded by
	/// `MaxPerformanceChallengesPerBlock × ReportBlocks`.
	pub fn performance_duties(
		attestors: Vec<T::AccountId>,
	) -> Vec<PerformanceDuty<T::AccountId, BlockNumberFor<T>>> {
		PerformanceChallenges::<T>::iter()
			.filter(|(_, ch)| attestors.contains(&ch.attestor))
			.filter_map(|(challenge, ch)| {
				let contract = Contracts::<T>::get(ch.replica.contract)?;
				Some(PerformanceDuty {
					challenge,
					feed: Self::feed_state(contract.feed)?,
					endpoint: Endpoints::<T>::get(&ch.hoster).map(|e| e.into_inner()),
					blocks: ch.blocks.into_inner(),
					hoster_duty_key: DutyKeys::<T>::get(&ch.hoster),
					hoster: ch.hoster,
					attestor: ch.attestor,
					due: ch.due,
				})
			})
			.collect()
	}

	/// See [`DatdotApi::feed_state`].
	pub fn feed_state(key: FeedKey) -> Option<FeedState> {
		Feeds::<T>::get(key).map(|feed| FeedState {
			auth: feed.auth,
			length: feed.length,
			fork: feed.fork,
			roots: feed.roots.to_vec(),
		})
	}

	/// See [`DatdotApi::duty_key_providers`].
	pub fn duty_key_providers(duty_keys: Vec<T::AccountId>) -> Vec<(T::AccountId, T::AccountId)> {
		duty_keys
			.into_iter()
			.filter_map(|key| Some((key.clone(), DutyKeyProviders::<T>::get(&key)?)))
			.collect()
	}

	/// See [`DatdotApi::hosted_replicas`].
	pub fn hosted_replicas(providers: Vec<T::AccountId>) -> Vec<ReplicaId> {
		let mut ids: Vec<ReplicaId> =
			providers.iter().flat_map(|p| HostedReplicas::<T>::get(p).into_inner()).collect();
		ids.extend(
			Self::setup_duties(providers)
				.into_iter()
				.filter(|d| d.role == Role::Hoster)
				.map(|d| d.id),
		);
		ids
	}

	/// See [`DatdotApi::setup_duties`].
	pub fn setup_duties(
		providers: Vec<T::AccountId>,
	) -> Vec<SetupDuty<T::AccountId, BlockNumberFor<T>>> {
		let now = frame_system::Pallet::<T>::block_number();
		let last = now.saturating_add(T::MaxSetupBlocks::get());
		let mut duties = Vec::new();
		let mut deadline = now;
		while deadline <= last {
			for id in SetupDeadlines::<T>::get(deadline) {
				Self::duties_in(id, &providers, &mut duties);
			}
			deadline = deadline.saturating_add(One::one());
		}
		duties
	}

	/// Appends the parts `providers` have in replica `id`, if it is in setup.
	fn duties_in(
		id: ReplicaId,
		providers: &[T::AccountId],
		duties: &mut Vec<SetupDuty<T::AccountId, BlockNumberFor<T>>>,
	) {
		let Some(replica) = Replicas::<T>::get(id.contract, id.replica) else { return };
		let ReplicaState::Setup { deadline } = replica.state else { return };
		let parts = [
			(Role::Encoder, &replica.encoder, replica.encoded.is_some()),
			(Role::Hoster, &replica.hoster, replica.hosted.is_some()),
		];
		if !parts.iter().any(|(_, who, _)| providers.contains(who)) {
			return;
		}
		let Some(contract) = Contracts::<T>::get(id.contract) else { return };
		let Some(feed) = Feeds::<T>::get(contract.feed) else { return };
		let peer = |who: &T::AccountId| {
			Providers::<T>::get(who).map(|p| p.peer_id.into_inner()).unwrap_or_default()
		};
		for (role, who, confirmed) in parts {
			if providers.contains(who) {
				duties.push(SetupDuty {
					id,
					role,
					provider: who.clone(),
					feed: FeedState {
						auth: feed.auth,
						length: feed.length,
						fork: feed.fork,
						roots: feed.roots.to_vec(),
					},
					blocks: contract.blocks,
					encoder_peer: peer(&replica.encoder),
					encoder_key: Providers::<T>::get(&replica.encoder).map(|p| p.sealing_key),
					hoster_peer: peer(&replica.hoster),
					encoded: replica.encoded,
					deadline,
					confirmed,
					reserved: replica.reserved,
				});
			}
		}
	}

	/// See [`DatdotApi::plan_status`].
	pub fn plan_status(
		plan: u64,
		from: u32,
		count: u32,
	) -> Option<Vec<ReplicaStatus<T::AccountId, BlockNumberFor<T>>>> {
		let plan = Plans::<T>::get(plan)?;
		let end = plan.contracts.min(from.saturating_add(count.min(STATUS_PAGE_CONTRACTS)));
		let mut status = Vec::new();
		for index in from..end {
			let contract_id = plan.first_contract + u64::from(index);
			let Some(contract) = Contracts::<T>::get(contract_id) else { continue };
			// Each copy's slot, then any successor being set up in its second slot.
			for index in 0..contract.replicas.saturating_mul(2) {
				let id = ReplicaId { contract: contract_id, replica: index };
				let replica = Replicas::<T>::get(contract_id, index);
				// An empty slot is a copy waiting to be drawn, unless the copy lives in its
				// other slot.
				let partner = successor_index(index, contract.replicas);
				if replica.is_none()
					&& (index >= contract.replicas
						|| Replicas::<T>::contains_key(contract_id, partner))
				{
					continue;
				}
				let active =
					replica.as_ref().filter(|r| matches!(r.state, ReplicaState::Active { .. }));
				status.push(ReplicaStatus {
					id,
					blocks: contract.blocks,
					hoster: replica.as_ref().map(|r| r.hoster.clone()),
					state: replica.as_ref().map(|r| r.state),
					root: active.and_then(|r| r.encoded),
					endpoint: replica
						.as_ref()
						.and_then(|r| Endpoints::<T>::get(&r.hoster))
						.map(|e| e.into_inner()),
				});
			}
		}
		Some(status)
	}
}
