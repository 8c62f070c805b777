//! Hosting plans and their contracts.
//!
//! A plan is cut into contracts of at most `MaxBlocksPerContract` consecutive blocks, so one
//! contract is a unit a single provider can take on. Each contract wants `replicas` copies;
//! each copy is queued for a draw (see [`crate::selection`]). A contract's id is its plan's
//! id in the high 32 bits and its index in the plan in the low 32 bits, so a plan's
//! contracts stay consecutive however it grows.
//!
//! A plan of any size costs `publish_plan` the same: its whole budget is reckoned from its
//! ranges (in closed form, per range) and held at once, `publish_plan` makes its first
//! `MaxGrowthPerBlock` contracts, and the rest of its ranges wait in the **cut queue**,
//! where `on_initialize` makes up to `MaxGrowthPerBlock` contracts per block (waiting while
//! the draw queue has no room), so the work of a block stays flat however large the plan.
//!
//! A plan may **follow** its feed: when the feed is updated to a longer signed tree, the
//! feed joins the growth queue, and `on_initialize` makes contracts for the new blocks of
//! each following plan, at most `MaxGrowthPerBlock` per block (waiting while the draw queue
//! has no room), until the plan has `MaxContractsPerPlan` contracts and stops following.

use crate::{pallet::*, queue::StorageQueue, types::*, PlanOf};
use datdot_primitives::{
	encoded::{ReplicaId, HEADER_LEN, SEGMENT_SIZE},
	sealing::SEGMENT_DATA,
};
use frame::prelude::*;

/// The queue of feeds whose growth is still to be planned.
pub(crate) type GrowthQueueOf<T> = StorageQueue<GrowthQueue<T>, GrowthQueueBounds<T>, FeedKey>;

/// The queue of plans whose ranges are still to be cut into contracts.
pub(crate) type CutQueueOf<T> = StorageQueue<CutQueue<T>, CutQueueBounds<T>, u64>;

/// The id of contract `index` of plan `plan`.
pub fn contract_id(plan: u64, index: u32) -> u64 {
	(plan << 32) | u64::from(index)
}

/// The plan contract `contract` belongs to.
pub fn contract_of(contract: u64) -> u64 {
	contract >> 32
}

/// The terms of a plan as the runtime types them.
pub type PlanTermsOf<T> =
	PlanTerms<<T as frame_system::Config>::AccountId, BlockNumberFor<T>, <T as Config>::MaxFriends>;

impl<T: Config> Pallet<T> {
	/// Checks and stores a plan, creates its contracts and queues their replicas; returns
	/// the number of contracts.
	pub(crate) fn do_publish_plan(
		sponsor: T::AccountId,
		feed_key: FeedKey,
		ranges: BoundedVec<BlockRange, T::MaxRangesPerPlan>,
		terms: PlanTermsOf<T>,
	) -> Result<u32, DispatchError> {
		let PlanTerms { replicas, duration, friends, follow } = terms;
		let feed = Feeds::<T>::get(feed_key).ok_or(Error::<T>::UnknownFeed)?;
		ensure!(!ranges.is_empty(), Error::<T>::NoRanges);
		ensure!((1..=T::MaxReplicas::get()).contains(&replicas), Error::<T>::InvalidReplication);
		ensure!(!duration.is_zero(), Error::<T>::ZeroDuration);
		if let Some(friends) = &friends {
			Self::check_friends(&sponsor, friends, replicas)?;
		}

		let per_contract = T::MaxBlocksPerContract::get() as u64;
		let (mut contracts, mut bytes) = (0u64, 0u64);
		let mut previous_end = 0u64;
		for (i, r) in ranges.iter().enumerate() {
			let ordered = i == 0 || r.start >= previous_end;
			ensure!(r.start < r.end && r.end <= feed.length && ordered, Error::<T>::InvalidRange);
			previous_end = r.end;
			let (c, b) =
				range_reserve(feed.byte_length, feed.length, r.end - r.start, per_contract);
			contracts = contracts.saturating_add(c);
			bytes = bytes.saturating_add(b);
		}
		ensure!(contracts <= T::MaxContractsPerPlan::get() as u64, Error::<T>::PlanTooLarge);
		let contracts = contracts as u32;
		let plan = NextPlanId::<T>::get();
		ensure!(plan <= u64::from(u32::MAX), Error::<T>::TooManyPlans);
		if follow {
			FeedFollowers::<T>::try_mutate(feed_key, |f| f.plans.try_push(plan))
				.map_err(|_| Error::<T>::TooManyFollowers)?;
		}
		NextPlanId::<T>::put(plan.saturating_add(1));
		let now = frame_system::Pallet::<T>::block_number();
		let ends_at = now.saturating_add(duration);
		Self::schedule_end(plan, ends_at)?;
		let deposit = Self::hold_plan_deposit(&sponsor)?;

		let mut record: PlanOf<T> = Plan {
			sponsor: sponsor.clone(),
			feed: feed_key,
			ranges: ranges.clone(),
			replicas,
			ends_at,
			bytes,
			budget: Zero::zero(),
			deposit,
			ending: None,
			first_contract: contract_id(plan, 0),
			contracts: 0,
			uncut: ranges.first().map(|r| PlanCursor {
				range: 0,
				start: r.start,
				feed_length: feed.length,
				feed_bytes: feed.byte_length,
			}),
			friends: friends.clone(),
			follows: follow,
			covered: feed.length,
		};
		let budget = Self::plan_cost(bytes, replicas, contracts, duration);
		Self::hold_budget(&sponsor, budget)?;
		record.budget = budget;
		Self::cut_plan(plan, &mut record, T::MaxGrowthPerBlock::get());
		if record.uncut.is_some() {
			CutQueueOf::<T>::push(plan, T::MaxPlansBeingCut::get())
				.map_err(|_| Error::<T>::CutQueueFull)?;
		}
		let (first_contract, made) = (record.first_contract, record.contracts);
		Plans::<T>::insert(plan, record);
		Feeds::<T>::mutate(feed_key, |f| {
			if let Some(f) = f {
				f.plans = f.plans.saturating_add(1);
			}
		});
		Self::deposit_event(Event::PlanPublished {
			plan,
			sponsor,
			feed: feed_key,
			first_contract,
			contracts,
			replicas,
			friends,
			follows: follow,
		});
		Ok(made)
	}

	/// Cuts up to `max` more contracts from the uncut part of `plan`'s ranges (its record,
	/// stored by the caller), while the draw queue has room for their replicas. Returns the
	/// contracts made.
	fn cut_plan(plan: u64, record: &mut PlanOf<T>, max: u32) -> u32 {
		let per_contract = u64::from(T::MaxBlocksPerContract::get());
		let mut made = 0;
		while made < max && Self::draw_room() >= record.replicas {
			let Some(cursor) = record.uncut else { break };
			let Some(r) = record.ranges.get(cursor.range as usize).copied() else {
				defensive!("plan cursor past its ranges");
				record.uncut = None;
				break;
			};
			let (start, end) = (cursor.start, r.end.min(cursor.start.saturating_add(per_contract)));
			let size = (cursor.feed_bytes, cursor.feed_length);
			if Self::add_contract(plan, record, size, BlockRange { start, end }).is_err() {
				defensive!("draw queue full after its room was checked");
				break;
			}
			made += 1;
			record.uncut = if end < r.end {
				Some(PlanCursor { start: end, ..cursor })
			} else {
				let next = record.ranges.get(cursor.range as usize + 1);
				next.map(|n| PlanCursor { range: cursor.range + 1, start: n.start, ..cursor })
			};
		}
		made
	}

	/// Cuts the plans in the cut queue into contracts, oldest first, while the draw queue
	/// has room. Each plan looked at and each contract made is one step, at most
	/// `MaxGrowthPerBlock` per block. A plan that ended stops being cut; a following plan
	/// whose feed grew meanwhile queues that growth once it is cut. Returns the steps taken.
	pub(crate) fn cut_plans(now: BlockNumberFor<T>) -> u32 {
		let budget = T::MaxGrowthPerBlock::get();
		let mut steps = 0u32;
		while steps < budget {
			let Some(plan_id) = CutQueueOf::<T>::peek() else { break };
			steps += 1;
			let Some(mut plan) = Plans::<T>::get(plan_id) else {
				CutQueueOf::<T>::pop();
				continue;
			};
			let feed = Feeds::<T>::get(plan.feed);
			let made = match &feed {
				Some(_) if plan.ends_at > now => Self::cut_plan(plan_id, &mut plan, budget - steps),
				// An ending plan's contracts are about to go: no new ones.
				_ => {
					plan.uncut = None;
					0
				}
			};
			steps += made;
			let done = plan.uncut.is_none();
			if made > 0 || done {
				Self::deposit_event(Event::PlanCut {
					plan: plan_id,
					contracts: plan.contracts,
					done,
				});
			}
			if done {
				CutQueueOf::<T>::pop();
				if feed.is_some_and(|f| plan.follows && plan.covered < f.length) {
					// Growth queued while the plan was being cut passed it by.
					let _ = Self::queue_growth(plan.feed);
				}
			}
			Plans::<T>::insert(plan_id, plan);
			if !done {
				break; // no room in the draw queue, or no steps left
			}
		}
		steps
	}

	/// Appends a contract for `blocks` to `plan` (its record, stored by the caller) and
	/// queues its replicas; returns the bytes one copy reserves, reckoned on a feed of
	/// `(bytes, length)`.
	fn add_contract(
		plan: u64,
		record: &mut PlanOf<T>,
		(feed_bytes, feed_length): (u64, u64),
		blocks: BlockRange,
	) -> Result<u64, DispatchError> {
		let id = contract_id(plan, record.contracts);
		let reserve = replica_reserve(feed_bytes, feed_length, blocks.end - blocks.start);
		Contracts::<T>::insert(
			id,
			Contract {
				plan,
				sponsor: record.sponsor.clone(),
				feed: record.feed,
				blocks,
				replicas: record.replicas,
				reserve,
			},
		);
		for replica in 0..record.replicas {
			Self::queue_draw(ReplicaId { contract: id, replica })?;
		}
		record.contracts = record.contracts.saturating_add(1);
		Ok(reserve)
	}

	/// Queues a feed that just grew for its following plans' new contracts (no-op when no
	/// plan follows it or it is queued already).
	pub(crate) fn queue_growth(feed: FeedKey) -> DispatchResult {
		FeedFollowers::<T>::try_mutate(feed, |f| {
			if f.plans.is_empty() || f.growth_queued {
				return Ok(());
			}
			GrowthQueueOf::<T>::push(feed, T::MaxGrowingFeeds::get())
				.map_err(|_| Error::<T>::GrowthQueueFull)?;
			f.growth_queued = true;
			Ok(())
		})
	}

	/// Makes contracts for the blocks grown feeds gained, oldest growth first, for each plan
	/// following them, while the draw queue has room for their replicas (else the rest waits
	/// for a later block). Each plan looked at and each contract made is one step, at most
	/// `MaxGrowthPerBlock` per block. Returns the steps taken.
	pub(crate) fn grow_plans() -> u32 {
		let budget = T::MaxGrowthPerBlock::get();
		let now = frame_system::Pallet::<T>::block_number();
		let per_contract = u64::from(T::MaxBlocksPerContract::get());
		let mut steps = 0u32;
		// With more steps than followers per feed (see `integrity_test`), each block makes a
		// contract or finishes a feed, unless the draw queue is full.
		'feeds: while steps < budget {
			let Some(key) = GrowthQueueOf::<T>::peek() else { break };
			let Some(feed) = Feeds::<T>::get(key) else {
				GrowthQueueOf::<T>::pop();
				FeedFollowers::<T>::remove(key);
				steps += 1;
				continue;
			};
			let mut followers = FeedFollowers::<T>::get(key);
			for &plan_id in followers.plans.iter() {
				if steps >= budget {
					break 'feeds;
				}
				steps += 1;
				let Some(mut plan) = Plans::<T>::get(plan_id) else { continue };
				// Still being cut: it queues this growth again once cut (`cut_plans`).
				if plan.uncut.is_some() {
					continue;
				}
				let mut added = 0u32;
				let mut waiting = false;
				while plan.follows && plan.covered < feed.length && plan.ends_at > now {
					if steps >= budget || Self::draw_room() < plan.replicas {
						waiting = true;
						break;
					}
					let start = plan.covered;
					let end = feed.length.min(start.saturating_add(per_contract));
					// The new contract's replicas are paid for until the plan's end, from
					// more of the sponsor's balance.
					let reserve = replica_reserve(feed.byte_length, feed.length, end - start);
					let cost = Self::plan_cost(reserve, plan.replicas, 1, plan.ends_at - now);
					let full = plan.contracts >= T::MaxContractsPerPlan::get();
					if full || Self::hold_budget(&plan.sponsor, cost).is_err() {
						plan.follows = false;
						Self::deposit_event(Event::PlanStoppedFollowing {
							plan: plan_id,
							covered: plan.covered,
							reason: if full {
								FollowStop::PlanFull
							} else {
								FollowStop::BudgetRefused
							},
						});
						break;
					}
					plan.budget = plan.budget.saturating_add(cost);
					let size = (feed.byte_length, feed.length);
					match Self::add_contract(plan_id, &mut plan, size, BlockRange { start, end }) {
						Ok(reserve) => plan.bytes = plan.bytes.saturating_add(reserve),
						Err(_) => {
							defensive!("draw queue full after its room was checked");
							waiting = true;
							break;
						}
					}
					plan.covered = end;
					steps += 1;
					added += 1;
				}
				if added > 0 {
					Self::deposit_event(Event::PlanGrew {
						plan: plan_id,
						contracts: added,
						covered: plan.covered,
					});
				}
				Plans::<T>::insert(plan_id, plan);
				if waiting {
					break 'feeds;
				}
			}
			GrowthQueueOf::<T>::pop();
			followers.growth_queued = false;
			followers.plans.retain(|p| Plans::<T>::get(p).is_some_and(|plan| plan.follows));
			if followers.plans.is_empty() {
				FeedFollowers::<T>::remove(key);
			} else {
				FeedFollowers::<T>::insert(key, followers);
			}
		}
		steps
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
}

/// The contracts a range of `blocks` blocks of a feed of `length` blocks and `byte_length`
/// bytes is cut into (`per_contract` blocks each, the last one shorter) and the bytes one
/// copy of them reserves: the sum of their [`replica_reserve`]s, in two terms rather than
/// one per contract.
pub fn range_reserve(byte_length: u64, length: u64, blocks: u64, per_contract: u64) -> (u64, u64) {
	let per_contract = per_contract.max(1);
	let (full, rest) = (blocks / per_contract, blocks % per_contract);
	let mut bytes = full.saturating_mul(replica_reserve(byte_length, length, per_contract));
	if rest > 0 {
		bytes = bytes.saturating_add(replica_reserve(byte_length, length, rest));
	}
	(full + u64::from(rest > 0), bytes)
}

/// Bytes a hoster reserves for a replica of `blocks` blocks of a feed of `length` blocks and
/// `byte_length` bytes, before the encoded size is known: the range's share of the feed's
/// bytes, grown by the sealing's labels (`SEGMENT_SIZE` sealed bytes per `SEGMENT_DATA`
/// encoded ones), plus, per block, an encoded-block header and a partly filled last segment
/// (each block starts a new segment). An upper bound for incompressible blocks; corrected
/// to the confirmed size when the replica becomes active.
pub fn replica_reserve(byte_length: u64, length: u64, blocks: u64) -> u64 {
	let share = (byte_length as u128 * blocks as u128).div_ceil(length.max(1) as u128);
	let share = (share * SEGMENT_SIZE as u128).div_ceil(SEGMENT_DATA as u128);
	let overhead = blocks as u128 * (HEADER_LEN + SEGMENT_SIZE) as u128;
	u64::try_from(share + overhead).unwrap_or(u64::MAX)
}
