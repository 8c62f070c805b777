//! Storage challenges.
//!
//! Each block challenges each challengeable hoster with probability 1/`ChallengePeriod`
//! (a Bernoulli schedule): the block draws how many are challenged from the binomial law
//! (see [`bernoulli_successes`], capped at `MaxChallengesPerBlock`) and picks that many
//! distinct hosters uniformly from the challengeable-hoster index. So every hoster sees
//! about one challenge per period at times nobody can predict — however few hosters exist,
//! a lone hoster is not challenged again the block after it answers — and the work per
//! block follows the challenges issued, never the number of providers or replicas. A challenge names
//! `ChallengeSegments` random segments of the hoster's active replicas; the hoster answers
//! with each segment and its merkle path to the replica's encoded root, verified on chain.

use crate::{
	index::ProviderIndex,
	pallet::*,
	plans::contract_of,
	selection::{bernoulli_successes, random_index, subject_seed},
	types::*,
};
use datdot_primitives::encoded::{verify_segment, ReplicaId, SegmentProof};
use frame::prelude::*;

impl<T: Config> Pallet<T> {
	/// Issues this block's storage challenges; returns how many.
	pub(crate) fn issue_challenges(now: BlockNumberFor<T>, randomness: &[u8; 32]) -> u32 {
		let count = Self::challenges_this_block(randomness);
		Self::challenge_hosters(now, randomness, count)
	}

	/// How many hosters this block challenges.
	pub(crate) fn challenges_this_block(randomness: &[u8; 32]) -> u32 {
		bernoulli_successes(
			&subject_seed(randomness, b"challenge count"),
			ProviderIndex::Challengeable.count::<T>(),
			Self::timing().challenge_period,
			T::MaxChallengesPerBlock::get(),
		)
	}

	/// Challenges `count` distinct random hosters (fewer if fewer are challengeable);
	/// returns how many.
	pub(crate) fn challenge_hosters(
		now: BlockNumberFor<T>,
		randomness: &[u8; 32],
		count: u32,
	) -> u32 {
		let due = now.saturating_add(T::AnswerBlocks::get());
		let mut due_list = ChallengesDue::<T>::get(due);
		let mut issued = 0;
		for i in 0..count {
			let seed = subject_seed(randomness, &(b"challenge", i));
			// Each issued challenge takes its hoster out of the index, so n shrinks.
			let n = ProviderIndex::Challengeable.count::<T>() as u64;
			let Some(hoster) = random_index(&seed, 0, n)
				.and_then(|at| ProviderIndex::Challengeable.get::<T>(at as u32))
			else {
				continue;
			};
			let Some(segments) = Self::pick_segments(&hoster, &seed) else { continue };
			let id = Self::new_challenge_id();
			if due_list.try_push(id).is_err() {
				// Unreachable: at most MaxChallengesPerBlock (the slot's bound) are issued.
				defensive!("challenge due slot overflow");
				break;
			}
			Challenges::<T>::insert(
				id,
				StorageChallenge { hoster: hoster.clone(), due, segments: segments.clone() },
			);
			Self::update_provider(&hoster, |p| p.open_challenge = Some(id));
			Self::deposit_event(Event::ChallengeIssued { challenge: id, hoster, due, segments });
			issued += 1;
		}
		ChallengesDue::<T>::insert(due, due_list);
		issued
	}

	/// A fresh id for a storage or performance challenge (they share one sequence).
	pub(crate) fn new_challenge_id() -> u64 {
		NextChallengeId::<T>::mutate(|id| {
			let this = *id;
			*id = id.saturating_add(1);
			this
		})
	}

	/// `ChallengeSegments` random (replica, segment) pairs from the hoster's active replicas.
	fn pick_segments(
		hoster: &T::AccountId,
		seed: &[u8; 32],
	) -> Option<BoundedVec<(ReplicaId, u64), T::ChallengeSegments>> {
		let hosted = HostedReplicas::<T>::get(hoster);
		let mut segments = BoundedVec::new();
		let mut attempt = 1u32;
		for _ in 0..T::ChallengeSegments::get() {
			let pick = random_index(seed, attempt, hosted.len() as u64)?;
			let id = *hosted.get(pick as usize)?;
			let replica = Replicas::<T>::get(id.contract, id.replica)?;
			let count = replica.encoded.map(|r| r.segments)?;
			let segment = random_index(seed, attempt.saturating_add(1), count)?;
			attempt = attempt.saturating_add(2);
			segments.try_push((id, segment)).ok()?;
		}
		Some(segments)
	}

	/// Fails the challenges due at the previous block that are still open (missed).
	/// Returns how many were looked at.
	pub(crate) fn expire_challenges(now: BlockNumberFor<T>) -> u32 {
		let due = ChallengesDue::<T>::take(now.saturating_sub(One::one()));
		let count = due.len() as u32;
		for id in due {
			if let Some(challenge) = Challenges::<T>::take(id) {
				let hurt = challenge.segments.first().map(|(r, _)| *r);
				Self::fail_challenge(id, challenge.hoster, ChallengeFailure::Missed, hurt);
			}
		}
		count
	}

	/// Checks a hoster's answer; `Ok(true)` when it passed, `Ok(false)` when a proof was
	/// wrong (the challenge failed and the hoster is faulted). Answers that do not even
	/// match the challenge's shape are refused and change nothing, so the hoster can retry.
	pub(crate) fn do_submit_storage_proof(
		who: T::AccountId,
		id: u64,
		proofs: BoundedVec<SegmentProof, T::ChallengeSegments>,
	) -> Result<bool, DispatchError> {
		let challenge = Challenges::<T>::get(id).ok_or(Error::<T>::UnknownChallenge)?;
		ensure!(challenge.hoster == who, Error::<T>::NotChallengedHoster);
		ensure!(
			proofs.len() == challenge.segments.len()
				&& proofs.iter().zip(challenge.segments.iter()).all(|(p, (_, s))| p.index == *s),
			Error::<T>::ProofsDoNotMatchChallenge
		);
		Challenges::<T>::remove(id);

		let now = frame_system::Pallet::<T>::block_number();
		for (position, (proof, (replica_id, _))) in
			proofs.iter().zip(challenge.segments.iter()).enumerate()
		{
			// A replica ended since (plan cancelled) needs no proof any more.
			let Some(replica) = Replicas::<T>::get(replica_id.contract, replica_id.replica) else {
				continue;
			};
			let Some(root) = replica.encoded else { continue };
			if let Err(error) = verify_segment(&root, replica_id, proof) {
				let reason = ChallengeFailure::InvalidProof { position: position as u32, error };
				Self::fail_challenge(id, who, reason, Some(*replica_id));
				return Ok(false);
			}
		}
		Self::update_provider(&who, |p| {
			p.open_challenge = None;
			p.jobs_done = p.jobs_done.saturating_add(1);
			p.last_pass = now;
		});
		// The replicas it just proved are paid up to now (the others when they are next
		// named, or when they end).
		for (at, (replica_id, _)) in challenge.segments.iter().enumerate() {
			// A replica named twice is settled once.
			if challenge.segments[..at].iter().any(|(r, _)| r == replica_id) {
				continue;
			}
			let Some(mut replica) = Replicas::<T>::get(replica_id.contract, replica_id.replica)
			else {
				continue;
			};
			if let ReplicaState::Active { last_proof, .. } = &mut replica.state {
				*last_proof = Some(now);
			}
			Self::settle_hosting(*replica_id, &mut replica);
			Replicas::<T>::insert(replica_id.contract, replica_id.replica, replica);
		}
		Self::deposit_event(Event::ChallengePassed { challenge: id, hoster: who });
		Ok(true)
	}

	/// Closes a failed challenge (already removed from storage) and faults its hoster; the
	/// slash goes to the plan of replica `hurt` (the one whose proof failed, or the first
	/// challenged).
	fn fail_challenge(
		id: u64,
		hoster: T::AccountId,
		reason: ChallengeFailure,
		hurt: Option<ReplicaId>,
	) {
		Self::update_provider(&hoster, |p| p.open_challenge = None);
		Self::fault(&hoster, hurt.map(|r| contract_of(r.contract)));
		Self::deposit_event(Event::ChallengeFailed { challenge: id, hoster, reason });
	}
}
