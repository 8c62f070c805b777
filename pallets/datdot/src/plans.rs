//! Hosting plans and their contracts.
//!
//! A plan is cut into contracts of at most `MaxBlocksPerContract` consecutive blocks, so one
//! contract is a unit a single provider can take on. Each contract wants `replicas` copies;
//! each copy is queued for a draw (see [`crate::selection`]).

use crate::{pallet::*, types::*, PlanOf};
use datdot_primitives::encoded::{ReplicaId, HEADER_LEN, SEGMENT_SIZE};
use frame::prelude::*;

impl<T: Config> Pallet<T> {
	/// Checks and stores a plan, creates its contracts and queues their replicas; returns
	/// the number of contracts.
	pub(crate) fn do_publish_plan(
		sponsor: T::AccountId,
		feed_key: FeedKey,
		ranges: BoundedVec<BlockRange, T::MaxRangesPerPlan>,
		replicas: u32,
		duration: BlockNumberFor<T>,
		friends: Option<BoundedVec<T::AccountId, T::MaxFriends>>,
	) -> Result<u32, DispatchError> {
		let feed = Feeds::<T>::get(feed_key).ok_or(Error::<T>::UnknownFeed)?;
		ensure!(!ranges.is_empty(), Error::<T>::NoRanges);
		ensure!((1..=T::MaxReplicas::get()).contains(&replicas), Error::<T>::InvalidReplication);
		ensure!(!duration.is_zero(), Error::<T>::ZeroDuration);
		if let Some(friends) = &friends {
			Self::check_friends(&sponsor, friends, replicas)?;
		}

		let per_contract = T::MaxBlocksPerContract::get() as u64;
		let mut contracts = 0u64;
		let mut previous_end = 0u64;
		for (i, r) in ranges.iter().enumerate() {
			let ordered = i == 0 || r.start >= previous_end;
			ensure!(r.start < r.end && r.end <= feed.length && ordered, Error::<T>::InvalidRange);
			previous_end = r.end;
			contracts = contracts.saturating_add((r.end - r.start).div_ceil(per_contract));
		}
		ensure!(contracts <= T::MaxContractsPerPlan::get() as u64, Error::<T>::PlanTooLarge);
		let contracts = contracts as u32;
		ensure!(contracts.saturating_mul(replicas) <= Self::draw_room(), Error::<T>::DrawQueueFull);

		let plan = NextPlanId::<T>::mutate(|id| {
			let this = *id;
			*id = id.saturating_add(1);
			this
		});
		let first_contract = NextContractId::<T>::get();
		let mut id = first_contract;
		for range in ranges.iter() {
			let mut start = range.start;
			while start < range.end {
				let end = range.end.min(start.saturating_add(per_contract));
				let blocks = BlockRange { start, end };
				let reserve = replica_reserve(feed.byte_length, feed.length, end - start);
				Contracts::<T>::insert(
					id,
					Contract {
						plan,
						sponsor: sponsor.clone(),
						feed: feed_key,
						blocks,
						replicas,
						reserve,
					},
				);
				for replica in 0..replicas {
					Self::queue_draw(ReplicaId { contract: id, replica })?;
				}
				id = id.saturating_add(1);
				start = end;
			}
		}
		NextContractId::<T>::put(id);
		let record: PlanOf<T> = Plan {
			sponsor: sponsor.clone(),
			feed: feed_key,
			ranges,
			replicas,
			duration,
			first_contract,
			contracts,
			friends: friends.clone(),
		};
		Plans::<T>::insert(plan, record);
		Self::deposit_event(Event::PlanPublished {
			plan,
			sponsor,
			feed: feed_key,
			first_contract,
			contracts,
			replicas,
			friends,
		});
		Ok(contracts)
	}

	/// A friends list must name enough distinct, registered providers other than the
	/// sponsor for every replica to be drawn.
	fn check_friends(
		sponsor: &T::AccountId,
		friends: &[T::AccountId],
		replicas: u32,
	) -> DispatchResult {
		ensure!(friends.len() as u32 >= replicas.max(3), Error::<T>::TooFewFriends);
		for (i, friend) in friends.iter().enumerate() {
			ensure!(friend != sponsor, Error::<T>::SponsorAmongFriends);
			ensure!(!friends[..i].contains(friend), Error::<T>::DuplicateFriend);
			ensure!(
				Providers::<T>::get(friend).is_some_and(|p| !p.status.is_departing()),
				Error::<T>::FriendNotProvider
			);
		}
		Ok(())
	}

	/// Ends every replica of the sponsor's plan and removes it; returns its number of
	/// contracts (for the actual weight).
	pub(crate) fn do_cancel_plan(who: T::AccountId, plan_id: u64) -> Result<u32, DispatchError> {
		let plan = Plans::<T>::get(plan_id).ok_or(Error::<T>::UnknownPlan)?;
		ensure!(plan.sponsor == who, Error::<T>::NotSponsor);
		for contract in
			plan.first_contract..plan.first_contract.saturating_add(plan.contracts.into())
		{
			// Each copy has two slots (a replica and its successor, see `successor_index`).
			for replica in 0..plan.replicas.saturating_mul(2) {
				if let Some(r) = Replicas::<T>::take(contract, replica) {
					Self::free_replica(ReplicaId { contract, replica }, &r);
				}
			}
			Contracts::<T>::remove(contract);
		}
		Plans::<T>::remove(plan_id);
		Self::deposit_event(Event::PlanCancelled { plan: plan_id });
		Ok(plan.contracts)
	}
}

/// Bytes a hoster reserves for a replica of `blocks` blocks of a feed of `length` blocks and
/// `byte_length` bytes, before the encoded size is known: the range's share of the feed's
/// bytes plus, per block, an encoded-block header and a partly filled last segment (each
/// block starts a new segment). Exact for equal-sized incompressible blocks; corrected to
/// the confirmed size when the replica becomes active.
pub fn replica_reserve(byte_length: u64, length: u64, blocks: u64) -> u64 {
	let share = (byte_length as u128 * blocks as u128).div_ceil(length.max(1) as u128);
	let overhead = blocks as u128 * (HEADER_LEN + SEGMENT_SIZE) as u128;
	u64::try_from(share + overhead).unwrap_or(u64::MAX)
}
