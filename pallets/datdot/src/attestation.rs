//! Performance challenges (design §6): attestors prove that hosters serve their feeds.
//!
//! Each block gives each challengeable hoster a performance challenge with probability
//! 1/`PerformancePeriod` (the Bernoulli schedule of storage challenges, from the same
//! index, so the work per block follows the challenges issued). A challenge names one of
//! the hoster's active replicas, `PerformanceBlocks` random blocks of its range, and an
//! attestor drawn like any worker but neither hosting that contract nor sponsoring it. The attestor's node
//! reads those blocks from the hoster's endpoint over hypercore's replication protocol,
//! verifies them against the feed's signed tree, and asks the hoster for a proof of
//! contact: its signature over [`contact_message`] (challenge, attestor, leaf hashes).
//!
//! The chain checks that signature, grades the slowest round trip ([`LatencyGrade`]) and
//! pays the attestor. Silence is not provable, so one attestor cannot fault a hoster: a
//! first `NotServed` draws a second attestor (a recheck, other than the first) and only its
//! `NotServed` faults the hoster. An attestor that does not report by `due` gets a strike.
//!
//! A hoster has one performance challenge at a time (`OpenPerformance`): while one is open
//! it gets no new periodic one, so a single outage is judged by one chain of first opinion
//! and recheck, not faulted again by every challenge already in flight.
//!
//! A replica's setup is spot-checked the same way (design §5.5): when it becomes active,
//! the attestor drawn with it gets a performance challenge on it.

use crate::{
	index::ProviderIndex,
	pallet::*,
	plans::contract_of,
	selection::{bernoulli_successes, random_index, subject_seed},
	types::*,
	PerformanceReportOf,
};
use alloc::vec::Vec;
use frame::{deps::sp_runtime::traits::Verify, prelude::*};

/// Signs proofs of contact in the benchmarks, where no node does.
#[cfg(feature = "runtime-benchmarks")]
pub trait ContactSigner<AccountId, Signature> {
	/// A hoster's duty key, held by the helper.
	fn duty_key() -> AccountId;
	/// That key's signature over `message`.
	fn sign(duty_key: &AccountId, message: &[u8]) -> Signature;
}

/// Who attests a performance challenge.
enum Attestor<AccountId> {
	/// Drawn at random.
	Draw,
	/// Drawn at random, not `not` (the first attestor of a recheck).
	Recheck {
		/// The first attestor.
		not: AccountId,
	},
	/// This provider (a replica's own attestor, for its spot check), unless it hosts the
	/// contract or cannot work now: then drawn at random.
	Assigned(AccountId),
}

impl<T: Config> Pallet<T> {
	/// Issues this block's performance challenges; returns how many.
	pub(crate) fn issue_performance_challenges(
		now: BlockNumberFor<T>,
		randomness: &[u8; 32],
	) -> u32 {
		// Half the due slot is for this block's draws, half for rechecks reported this block.
		let max = T::MaxPerformanceChallengesPerBlock::get() / 2;
		let count = bernoulli_successes(
			&subject_seed(randomness, b"performance count"),
			ProviderIndex::Challengeable.count::<T>(),
			Self::timing().performance_period,
			max,
		);
		let n = ProviderIndex::Challengeable.count::<T>();
		// Distinct hosters by a partial Fisher–Yates shuffle of the index positions, kept
		// sparse: position `i` is swapped with a uniform one in `i..n`, O(count) reads.
		let mut moved = alloc::collections::BTreeMap::<u32, u32>::new();
		let mut issued = 0;
		for i in 0..count.min(n) {
			let seed = subject_seed(randomness, &(b"performance", i));
			let Some(j) = random_index(&seed, 0, u64::from(n - i)).map(|k| i + k as u32) else {
				continue;
			};
			let at = moved.get(&j).copied().unwrap_or(j);
			moved.insert(j, moved.get(&i).copied().unwrap_or(i));
			let Some(hoster) = ProviderIndex::Challengeable.get::<T>(at) else { continue };
			if OpenPerformance::<T>::contains_key(&hoster) {
				continue;
			}
			let hosted = HostedReplicas::<T>::get(&hoster);
			let Some(replica) =
				random_index(&seed, 1, hosted.len() as u64).and_then(|at| hosted.get(at as usize))
			else {
				continue;
			};
			if Self::challenge_performance(now, &hoster, *replica, &seed, Attestor::Draw).is_some()
			{
				issued += 1;
			}
		}
		issued
	}

	/// Issues the setup spot check of replica `id`, just activated with `hoster` (design
	/// §5.5): `attestor`, drawn with the replica, reads it as in a performance challenge.
	/// Returns its id.
	pub(crate) fn spot_check(
		id: ReplicaId,
		hoster: &T::AccountId,
		attestor: T::AccountId,
	) -> Option<u64> {
		let now = frame_system::Pallet::<T>::block_number();
		let parent = frame_system::Pallet::<T>::parent_hash();
		let seed = frame::hashing::blake2_256(&(b"spot check", id, parent).encode());
		Self::challenge_performance(now, hoster, id, &seed, Attestor::Assigned(attestor))
	}

	/// Issues a performance challenge of `hoster` on `replica`, with an attestor that
	/// neither hosts nor sponsors the replica's contract (see [`Attestor`]); returns its
	/// id. `None` when the replica is not active, no attestor qualifies or the due slot is
	/// full.
	fn challenge_performance(
		now: BlockNumberFor<T>,
		hoster: &T::AccountId,
		id: ReplicaId,
		seed: &[u8; 32],
		attestor: Attestor<T::AccountId>,
	) -> Option<u64> {
		let replica = Replicas::<T>::get(id.contract, id.replica)?;
		if !matches!(replica.state, ReplicaState::Active { .. }) || &replica.hoster != hoster {
			return None;
		}
		let contract = Contracts::<T>::get(id.contract)?;
		let plan = Plans::<T>::get(contract.plan)?;
		// No hoster of this contract (each could vouch for another copy of the same blocks)
		// and not its sponsor. Its encoders may attest: their part ended when the replica
		// became active (decision in docs/decisions.md).
		let slots = contract.replicas.saturating_mul(2);
		let mut exclude = Vec::with_capacity(slots as usize + 3);
		exclude.push(contract.sponsor.clone());
		exclude.push(hoster.clone());
		if let Attestor::Recheck { not } = &attestor {
			exclude.push(not.clone());
		}
		for r in 0..slots {
			if let Some(other) = Replicas::<T>::get(id.contract, r) {
				exclude.push(other.hoster);
			}
		}
		let among = plan.friends.as_ref().map(|f| f.as_slice());
		let recheck = matches!(attestor, Attestor::Recheck { .. });
		let assigned = match attestor {
			Attestor::Assigned(who)
				if !exclude.contains(&who)
					&& Providers::<T>::get(&who).is_some_and(|p| p.can_take_work(0)) =>
			{
				Some(who)
			}
			_ => None,
		};
		let attestor = match assigned {
			Some(who) => who,
			None => Self::pick_providers(
				&subject_seed(seed, b"attestor"),
				1,
				among,
				&exclude,
				|_, _, p| p.can_take_work(0),
			)?
			.pop()?,
		};
		let span = contract.blocks.end.saturating_sub(contract.blocks.start);
		let mut blocks = BoundedVec::<u64, T::PerformanceBlocks>::new();
		for k in 0..T::PerformanceBlocks::get() {
			let at = random_index(seed, k.saturating_add(2), span)?;
			blocks.try_push(contract.blocks.start.saturating_add(at)).ok()?;
		}
		let due = now.saturating_add(T::ReportBlocks::get());
		// An id is taken only when the due slot has room for it.
		let challenge = PerformanceDue::<T>::try_mutate(due, |list| {
			let challenge = (!list.is_full()).then(Self::new_challenge_id).ok_or(())?;
			list.try_push(challenge).map(|_| challenge).map_err(|_| ())
		})
		.ok()?;
		OpenPerformance::<T>::insert(hoster, challenge);
		PerformanceChallenges::<T>::insert(
			challenge,
			PerformanceChallenge {
				hoster: hoster.clone(),
				attestor: attestor.clone(),
				replica: id,
				blocks: blocks.clone(),
				due,
				recheck,
				seed: *seed,
			},
		);
		Self::deposit_event(Event::PerformanceChallengeIssued {
			challenge,
			hoster: hoster.clone(),
			attestor,
			replica: id,
			blocks,
			due,
			recheck,
		});
		Some(challenge)
	}

	/// Forgets `challenge` as `hoster`'s open one (a later spot check or recheck may have
	/// taken its place).
	fn close_performance(hoster: &T::AccountId, challenge: u64) {
		OpenPerformance::<T>::mutate_exists(hoster, |open| {
			if *open == Some(challenge) {
				*open = None;
			}
		});
	}

	/// Strikes the attestors of the performance challenges due at the previous block that
	/// are still open (no report). Returns how many were looked at.
	pub(crate) fn expire_performance_challenges(now: BlockNumberFor<T>) -> u32 {
		let due = PerformanceDue::<T>::take(now.saturating_sub(One::one()));
		let count = due.len() as u32;
		for challenge in due {
			if let Some(ch) = PerformanceChallenges::<T>::take(challenge) {
				Self::close_performance(&ch.hoster, challenge);
				Self::strike(&ch.attestor);
				Self::deposit_event(Event::PerformanceReportMissed {
					challenge,
					attestor: ch.attestor,
				});
			}
		}
		count
	}

	/// Checks and applies an attestor's report (see the module docs). A report refused
	/// with an error changes nothing.
	pub(crate) fn do_report_performance(
		who: T::AccountId,
		challenge: u64,
		report: PerformanceReportOf<T>,
	) -> DispatchResult {
		let ch = PerformanceChallenges::<T>::get(challenge)
			.ok_or(Error::<T>::UnknownPerformanceChallenge)?;
		ensure!(ch.attestor == who, Error::<T>::NotChallengeAttestor);
		if let PerformanceReport::Served { hashes, contact, .. } = &report {
			ensure!(hashes.len() == ch.blocks.len(), Error::<T>::ContactDoesNotMatchChallenge);
			let message = contact_message(challenge, &who, hashes);
			// Signed by the hoster's node, which holds its duty key (design §6).
			let duty_key =
				crate::DutyKeys::<T>::get(&ch.hoster).ok_or(Error::<T>::InvalidProofOfContact)?;
			ensure!(contact.verify(&message[..], &duty_key), Error::<T>::InvalidProofOfContact);
		}

		PerformanceChallenges::<T>::remove(challenge);
		Self::close_performance(&ch.hoster, challenge);
		PerformanceDue::<T>::mutate(ch.due, |list| list.retain(|c| *c != challenge));
		let now = frame_system::Pallet::<T>::block_number();
		// A hoster that paused (or left) since the challenge was issued owes no serving.
		let on_duty = Providers::<T>::get(&ch.hoster)
			.map(|p| matches!(p.status, ProviderStatus::Active | ProviderStatus::Leaving));
		let record = |f: fn(&mut ServingRecord)| {
			if on_duty.is_some() {
				ServingRecords::<T>::mutate(&ch.hoster, f);
			}
		};
		let outcome = match report {
			PerformanceReport::Served { latency_ms, .. } => {
				let grade = LatencyGrade::of(latency_ms);
				record(match grade {
					LatencyGrade::Fast => |r| r.fast = r.fast.saturating_add(1),
					LatencyGrade::Good => |r| r.good = r.good.saturating_add(1),
					LatencyGrade::Slow => |r| r.slow = r.slow.saturating_add(1),
				});
				PerformanceOutcome::Served(grade)
			}
			PerformanceReport::NotServed => {
				record(|r| r.not_served = r.not_served.saturating_add(1));
				match (on_duty, ch.recheck) {
					(Some(true), true) => {
						Self::fault(&ch.hoster, Some(contract_of(ch.replica.contract)));
						PerformanceOutcome::Faulted
					}
					(Some(true), false) => {
						let seed = subject_seed(&ch.seed, b"recheck");
						let attestor = Attestor::Recheck { not: who.clone() };
						let rechecked = Self::challenge_performance(
							now, &ch.hoster, ch.replica, &seed, attestor,
						);
						if rechecked.is_some() {
							PerformanceOutcome::Rechecking
						} else {
							PerformanceOutcome::Unconfirmed
						}
					}
					_ => PerformanceOutcome::Unconfirmed,
				}
			}
		};
		Self::update_provider(&who, |p| p.jobs_done = p.jobs_done.saturating_add(1));
		Self::pay_attestor(ch.replica, challenge, &who);
		Self::deposit_event(Event::PerformanceReported {
			challenge,
			hoster: ch.hoster,
			attestor: who,
			outcome,
		});
		Ok(())
	}
}
