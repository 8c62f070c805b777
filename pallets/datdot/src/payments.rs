//! Budgets and pay (design §9).
//!
//! A plan's budget is held from its sponsor ([`HoldReason::PlanBudget`]) when it is
//! published: `PricePerByteBlock` × bytes × replicas × duration for hosting, plus per
//! replica an `EncodingFee` and an `AttestationFee` per `PerformancePeriod` (and one more). Every payment is a transfer out of that
//! hold; what is left when the plan ends is released. So the pallet's holds always equal
//! the unspent budgets and deposits, and total issuance changes only when a deposit is
//! burnt (a fault or release with no plan left to receive it).
//!
//! - A **hoster** earns per block of *proven* storage, per byte of its replica's reserve.
//!   Its provider record keeps the block of its last passed challenge (`last_pass`) and of
//!   its last fault (`pay_floor`); a replica is paid for the blocks after
//!   `max(paid_until, pay_floor)` up to `min(last_pass, plan end)`. That settlement runs
//!   for each replica a passed challenge names and for every replica that ends, so a pass
//!   costs O(segments), never O(replicas hosted), and pay after a fault's floor can only
//!   be less than what was proven, never more.
//! - An **encoder** earns `EncodingFee` when its encoding is accepted (the replica becomes
//!   active).
//! - An **attestor** earns `AttestationFee` for each accepted performance report (see
//!   [`crate::attestation`]).
//! - A **fault's** slashed deposit goes into the budget of the plan whose replica was hurt,
//!   to pay for the replacement.

use crate::{pallet::*, plans::contract_of, types::*, BalanceOf, PlanOf, ProviderOf, ReplicaOf};
use datdot_primitives::encoded::ReplicaId;
use frame::{
	prelude::*,
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
	},
};

impl<T: Config> Pallet<T> {
	/// What hosting `bytes` for `blocks` blocks costs.
	pub fn hosting_cost(bytes: u64, blocks: BlockNumberFor<T>) -> BalanceOf<T> {
		let blocks: u64 = blocks.unique_saturated_into();
		T::PricePerByteBlock::get()
			.saturating_mul(bytes.saturated_into())
			.saturating_mul(blocks.saturated_into())
	}

	/// The budget `contracts` contracts of `bytes` billable bytes in all (one copy),
	/// `replicas` copies each, need for `blocks` blocks: hosting, plus per replica one
	/// encoding and the attestations it can expect at the runtime's `PerformancePeriod` (one
	/// more for a recheck or a successor's).
	pub fn plan_cost(
		bytes: u64,
		replicas: u32,
		contracts: u32,
		blocks: BlockNumberFor<T>,
	) -> BalanceOf<T> {
		let span: u64 = blocks.unique_saturated_into();
		let attestations = span / u64::from(T::PerformancePeriod::get().max(1)) + 1;
		let fees = T::EncodingFee::get()
			.saturating_add(T::AttestationFee::get().saturating_mul(attestations.saturated_into()));
		let copies = u64::from(replicas);
		Self::hosting_cost(bytes.saturating_mul(copies), blocks).saturating_add(
			fees.saturating_mul(copies.saturating_mul(contracts.into()).saturated_into()),
		)
	}

	/// Holds `amount` more of the sponsor's balance for the plan's budget.
	pub(crate) fn hold_budget(sponsor: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		T::Currency::hold(&HoldReason::PlanBudget.into(), sponsor, amount)
			.map_err(|_| Error::<T>::InsufficientBalanceForBudget.into())
	}

	/// Pays up to `amount` from `plan`'s budget to `to`; returns what was paid. Less than
	/// `amount` means the budget is spent: the plan ends now.
	fn pay(
		plan_id: u64,
		plan: &mut PlanOf<T>,
		to: &T::AccountId,
		amount: BalanceOf<T>,
		work: Work<BlockNumberFor<T>>,
	) -> BalanceOf<T> {
		let wanted = amount;
		let amount = amount.min(plan.budget);
		let paid = if amount.is_zero() {
			Zero::zero()
		} else {
			T::Currency::transfer_on_hold(
				&HoldReason::PlanBudget.into(),
				&plan.sponsor,
				to,
				amount,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)
			.unwrap_or_else(|_| {
				defensive!("plan budget not held");
				Zero::zero()
			})
		};
		plan.budget = plan.budget.saturating_sub(paid);
		if !paid.is_zero() {
			Self::deposit_event(Event::ProviderPaid {
				plan: plan_id,
				provider: to.clone(),
				work,
				amount: paid,
			});
		}
		if paid < wanted {
			// Ending already, or this block's list of ends is full: it keeps its end block,
			// and its budget is spent anyway.
			let _ = Self::end_plan_now(plan_id, plan, PlanEnd::BudgetSpent);
		}
		paid
	}

	/// Pays the hoster of active replica `id` for its proven, unpaid blocks (see the module
	/// docs) and records how far it is paid. Stores the plan; the caller stores the replica.
	pub(crate) fn settle_hosting(id: ReplicaId, replica: &mut ReplicaOf<T>) {
		let ReplicaState::Active { paid_until, .. } = &mut replica.state else { return };
		let Some(hoster) = Providers::<T>::get(&replica.hoster) else { return };
		let plan_id = contract_of(id.contract);
		let (Some(contract), Some(mut plan)) =
			(Contracts::<T>::get(id.contract), Plans::<T>::get(plan_id))
		else {
			return;
		};
		let from = (*paid_until).max(hoster.pay_floor);
		let to = hoster.last_pass.min(plan.ends_at);
		if to <= from {
			*paid_until = from;
			return;
		}
		let amount = Self::hosting_cost(contract.reserve, to - from);
		Self::pay(
			plan_id,
			&mut plan,
			&replica.hoster,
			amount,
			Work::Hosting { replica: id, from, to },
		);
		*paid_until = to;
		Plans::<T>::insert(plan_id, plan);
	}

	/// Pays the encoder of replica `id` for its accepted encoding.
	pub(crate) fn pay_encoder(id: ReplicaId, encoder: &T::AccountId) {
		let plan_id = contract_of(id.contract);
		let Some(mut plan) = Plans::<T>::get(plan_id) else { return };
		Self::pay(
			plan_id,
			&mut plan,
			encoder,
			T::EncodingFee::get(),
			Work::Encoding { replica: id },
		);
		Plans::<T>::insert(plan_id, plan);
	}

	/// Pays `attestor` for its accepted report on performance challenge `challenge` of
	/// replica `id`.
	pub(crate) fn pay_attestor(id: ReplicaId, challenge: u64, attestor: &T::AccountId) {
		let plan_id = contract_of(id.contract);
		let Some(mut plan) = Plans::<T>::get(plan_id) else { return };
		let work = Work::Attestation { replica: id, challenge };
		Self::pay(plan_id, &mut plan, attestor, T::AttestationFee::get(), work);
		Plans::<T>::insert(plan_id, plan);
	}

	/// Takes up to `amount` of `who`'s held deposit: into the budget of plan `to_plan` (the
	/// plan whose replica was hurt) while it exists, else burnt. Returns what was taken and
	/// the plan that got it.
	pub(crate) fn take_deposit(
		who: &T::AccountId,
		provider: &ProviderOf<T>,
		amount: BalanceOf<T>,
		to_plan: Option<u64>,
	) -> (BalanceOf<T>, Option<u64>) {
		let amount = amount.min(provider.deposit);
		let reason = HoldReason::ProviderDeposit.into();
		let plan = to_plan.and_then(|id| Plans::<T>::get(id).map(|p| (id, p)));
		let (taken, to_plan) = match plan {
			Some((id, mut plan)) => {
				let moved = T::Currency::transfer_on_hold(
					&reason,
					who,
					&plan.sponsor,
					amount,
					Precision::BestEffort,
					Restriction::Free,
					Fortitude::Force,
				)
				.unwrap_or_default();
				// Just received, so free: it cannot fail but by a bug, and then the sponsor
				// simply keeps it.
				if T::Currency::hold(&HoldReason::PlanBudget.into(), &plan.sponsor, moved).is_ok() {
					plan.budget = plan.budget.saturating_add(moved);
					Plans::<T>::insert(id, plan);
				} else {
					defensive!("could not hold a slashed deposit for its plan");
				}
				(moved, Some(id))
			}
			None => {
				let burnt = T::Currency::burn_held(
					&reason,
					who,
					amount,
					Precision::BestEffort,
					Fortitude::Force,
				)
				.unwrap_or_default();
				(burnt, None)
			}
		};
		Self::update_provider(who, |p| p.deposit = p.deposit.saturating_sub(taken));
		(taken, to_plan)
	}

	/// Gives the rest of a plan's budget and its deposit back to its sponsor; returns the
	/// budget returned.
	pub(crate) fn refund_plan(plan: &PlanOf<T>) -> BalanceOf<T> {
		let release = |reason: HoldReason, amount| {
			T::Currency::release(&reason.into(), &plan.sponsor, amount, Precision::BestEffort)
				.unwrap_or_else(|_| {
					defensive!("plan funds not held");
					Zero::zero()
				})
		};
		release(HoldReason::PlanDeposit, plan.deposit);
		release(HoldReason::PlanBudget, plan.budget)
	}

	/// Holds the sponsor's deposit for a new plan's records.
	pub(crate) fn hold_plan_deposit(sponsor: &T::AccountId) -> Result<BalanceOf<T>, Error<T>> {
		let deposit = T::PlanDeposit::get();
		T::Currency::hold(&HoldReason::PlanDeposit.into(), sponsor, deposit)
			.map_err(|_| Error::<T>::InsufficientBalanceForBudget)?;
		Ok(deposit)
	}
}
