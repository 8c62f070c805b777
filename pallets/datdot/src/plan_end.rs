//! The end of plans (design §6, "End of a plan").
//!
//! A plan ends at its end block, when its sponsor (or governance) cancels it, or when its
//! budget cannot pay what its providers earned. Each plan is listed in `PlanEnds` under the
//! block it ends at; `on_initialize` works through those lists in block order, ending at
//! most `MaxPlanEndStepsPerBlock` contracts per block (a contract's replicas end: hosters
//! are paid up to their last passed challenge and their space is free), then refunds the
//! plan's unspent budget and deposit. However many plans end in one block, a block's work
//! stays within that bound; the rest carries over (`PlanEndProgress`).

use crate::{pallet::*, plans::contract_id, types::*, PlanOf};
use datdot_primitives::encoded::ReplicaId;
use frame::prelude::*;

impl<T: Config> Pallet<T> {
	/// Lists `plan` among the plans ending at block `at`.
	pub(crate) fn schedule_end(plan: u64, at: BlockNumberFor<T>) -> Result<(), Error<T>> {
		PlanEnds::<T>::try_mutate(at, |list| list.try_push(plan))
			.map_err(|_| Error::<T>::PlanEndScheduleFull)
	}

	/// Takes `plan` off the list of block `at` (a later block than the one being ended).
	fn unschedule_end(plan: u64, at: BlockNumberFor<T>) {
		PlanEnds::<T>::mutate(at, |list| list.retain(|p| *p != plan));
	}

	/// Moves a running plan's end to `at` (later or now); fails, changing nothing, when that
	/// block's list is full.
	fn move_end(plan_id: u64, plan: &mut PlanOf<T>, at: BlockNumberFor<T>) -> DispatchResult {
		Self::schedule_end(plan_id, at)?;
		Self::unschedule_end(plan_id, plan.ends_at);
		plan.ends_at = at;
		Ok(())
	}

	/// See [`Pallet::cancel_plan`]; `who` is `None` for governance.
	pub(crate) fn do_cancel_plan(who: Option<T::AccountId>, plan_id: u64) -> DispatchResult {
		let mut plan = Plans::<T>::get(plan_id).ok_or(Error::<T>::UnknownPlan)?;
		let reason = match who {
			Some(who) => {
				ensure!(plan.sponsor == who, Error::<T>::NotSponsor);
				PlanEnd::Cancelled
			}
			None => PlanEnd::ForceCancelled,
		};
		Self::end_plan_now(plan_id, &mut plan, reason)?;
		Plans::<T>::insert(plan_id, plan);
		Self::deposit_event(Event::PlanCancelled { plan: plan_id });
		Ok(())
	}

	/// Ends a running plan now for `reason` (the caller stores the plan); fails, changing
	/// nothing, when it is ending already or this block's list of ends is full.
	pub(crate) fn end_plan_now(
		plan_id: u64,
		plan: &mut PlanOf<T>,
		reason: PlanEnd,
	) -> DispatchResult {
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(plan.ends_at > now, Error::<T>::PlanEnding);
		Self::move_end(plan_id, plan, now)?;
		plan.ending = Some(reason);
		Ok(())
	}

	/// See [`Pallet::top_up_plan`].
	pub(crate) fn do_top_up_plan(
		who: T::AccountId,
		plan_id: u64,
		blocks: BlockNumberFor<T>,
	) -> DispatchResult {
		ensure!(!blocks.is_zero(), Error::<T>::ZeroDuration);
		let mut plan = Plans::<T>::get(plan_id).ok_or(Error::<T>::UnknownPlan)?;
		ensure!(plan.sponsor == who, Error::<T>::NotSponsor);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(plan.ends_at > now, Error::<T>::PlanEnding);
		let added = Self::hosting_cost(plan.bytes.saturating_mul(plan.replicas.into()), blocks);
		Self::hold_budget(&who, added)?;
		let ends_at = plan.ends_at.saturating_add(blocks);
		Self::move_end(plan_id, &mut plan, ends_at)?;
		plan.budget = plan.budget.saturating_add(added);
		Plans::<T>::insert(plan_id, plan);
		Self::deposit_event(Event::PlanToppedUp { plan: plan_id, added, ends_at });
		Ok(())
	}

	/// Works through the plans that ended at or before `now`, oldest end first, for at
	/// most `MaxPlanEndStepsPerBlock` steps (a block's list read, a contract ended, a plan
	/// closed). Returns the steps taken.
	pub(crate) fn end_plans(now: BlockNumberFor<T>) -> u32 {
		let budget = T::MaxPlanEndStepsPerBlock::get();
		let mut cursor = PlanEndProgress::<T>::get();
		let mut steps = 0u32;
		'blocks: while steps < budget && cursor.block <= now {
			let list = PlanEnds::<T>::get(cursor.block);
			steps += 1;
			while let Some(&plan) = list.get(cursor.position as usize) {
				if steps >= budget {
					break 'blocks;
				}
				let (used, done) = Self::end_plan_step(plan, &mut cursor.contract, budget - steps);
				steps = steps.saturating_add(used);
				if !done {
					break 'blocks;
				}
				cursor.position += 1;
				cursor.contract = 0;
			}
			// Plans cancelled later in this block join its list: it is done next block.
			if cursor.block == now {
				break;
			}
			PlanEnds::<T>::remove(cursor.block);
			cursor =
				EndCursor { block: cursor.block.saturating_add(One::one()), ..Default::default() };
		}
		PlanEndProgress::<T>::put(cursor);
		steps
	}

	/// Ends contracts of `plan_id` from `*next` on, within `max` steps, then closes the
	/// plan; returns the steps taken and whether the plan is closed.
	fn end_plan_step(plan_id: u64, next: &mut u32, max: u32) -> (u32, bool) {
		let Some(plan) = Plans::<T>::get(plan_id) else { return (1, true) };
		let mut steps = 1;
		while *next < plan.contracts {
			if steps >= max {
				return (steps, false);
			}
			let contract = contract_id(plan_id, *next);
			// Each copy has two slots (a replica and its successor, see `successor_index`).
			for replica in 0..plan.replicas.saturating_mul(2) {
				if let Some(r) = Replicas::<T>::take(contract, replica) {
					Self::free_replica(ReplicaId { contract, replica }, &r);
				}
			}
			Contracts::<T>::remove(contract);
			*next += 1;
			steps += 1;
		}
		if steps >= max {
			return (steps, false);
		}
		Self::close_plan(plan_id);
		(steps + 1, true)
	}

	/// Removes a plan whose contracts have all ended and refunds its sponsor.
	fn close_plan(plan_id: u64) {
		let Some(plan) = Plans::<T>::take(plan_id) else { return };
		let refunded = Self::refund_plan(&plan);
		if plan.follows {
			FeedFollowers::<T>::mutate_exists(plan.feed, |f| {
				if let Some(followers) = f {
					followers.plans.retain(|p| *p != plan_id);
					if followers.plans.is_empty() && !followers.growth_queued {
						*f = None;
					}
				}
			});
		}
		Feeds::<T>::mutate(plan.feed, |f| {
			if let Some(f) = f {
				f.plans = f.plans.saturating_sub(1);
			}
		});
		let reason = plan.ending.unwrap_or(PlanEnd::Expired);
		Self::deposit_event(Event::PlanEnded { plan: plan_id, reason, refunded });
	}
}
