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
	/// An account whose key the helper holds.
	fn hoster() -> AccountId;
	/// That account's signature over `message`.
	fn sign(hoster: &AccountId, message: &[u8]) -> Signature;
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
		let n = ProviderIndex::Challengeable.count::<T>() as u64;
		let mut picked: Vec<T::AccountId> = Vec::new();
		for i in 0..count {
			let seed = subject_seed(randomness, &(b"performance", i));
			let hoster_seed = subject_seed(&seed, b"hoster");
			// Distinct hosters: a repeat is redrawn (boundedly), so the count drawn is kept.
			let Some(hoster) = (0..crate::selection::ATTEMPTS_PER_PICK)
				.filter_map(|attempt| random_index(&hoster_seed, attempt, n))
				.filter_map(|at| ProviderIndex::Challengeable.get::<T>(at as u32))
				.find(|who| !picked.contains(who))
			else {
				continue;
			};
			let hosted = HostedReplicas::<T>::get(&hoster);
			let Some(replica) =
				random_index(&seed, 1, hosted.len() as u64).and_then(|at| hosted.get(at as usize))
			else {
				continue;
			};
			if Self::challenge_performance(now, &hoster, *replica, &seed, None).is_some() {
				picked.push(hoster);
			}
		}
		picked.len() as u32
	}

	/// Issues a performance challenge of `hoster` on `replica`, with an attestor drawn from
	/// `seed` that neither hosts nor sponsors the replica's contract and is not `not`;
	/// returns its id.
	/// `None` when the replica is not active, no attestor qualifies or the due slot is full.
	fn challenge_performance(
		now: BlockNumberFor<T>,
		hoster: &T::AccountId,
		id: ReplicaId,
		seed: &[u8; 32],
		not: Option<&T::AccountId>,
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
		exclude.extend(not.cloned());
		for r in 0..slots {
			if let Some(other) = Replicas::<T>::get(id.contract, r) {
				exclude.push(other.hoster);
			}
		}
		let among = plan.friends.as_ref().map(|f| f.as_slice());
		let attestor =
			Self::pick_providers(&subject_seed(seed, b"attestor"), 1, among, &exclude, |p| {
				p.can_take_work(0)
			})?
			.pop()?;
		let span = contract.blocks.end.saturating_sub(contract.blocks.start);
		let mut blocks = BoundedVec::<u64, T::PerformanceBlocks>::new();
		for k in 0..T::PerformanceBlocks::get() {
			let at = random_index(seed, k.saturating_add(2), span)?;
			blocks.try_push(contract.blocks.start.saturating_add(at)).ok()?;
		}
		let due = now.saturating_add(T::ReportBlocks::get());
		let challenge = NextChallengeId::<T>::get();
		PerformanceDue::<T>::try_mutate(due, |list| list.try_push(challenge)).ok()?;
		NextChallengeId::<T>::put(challenge.saturating_add(1));
		let recheck = not.is_some();
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

	/// Strikes the attestors of the performance challenges due at the previous block that
	/// are still open (no report). Returns how many were looked at.
	pub(crate) fn expire_performance_challenges(now: BlockNumberFor<T>) -> u32 {
		let due = PerformanceDue::<T>::take(now.saturating_sub(One::one()));
		let count = due.len() as u32;
		for challenge in due {
			if let Some(ch) = PerformanceChallenges::<T>::take(challenge) {
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
			ensure!(contact.verify(&message[..], &ch.hoster), Error::<T>::InvalidProofOfContact);
		}

		PerformanceChallenges::<T>::remove(challenge);
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
						let rechecked = Self::challenge_performance(
							now,
							&ch.hoster,
							ch.replica,
							&seed,
							Some(&who),
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
