//! Random selection of providers for replicas.
//!
//! Every replica of a new contract waits in the bounded draw queue until `on_initialize`
//! draws its encoder, hoster and attestor from the eligible-provider index (see
//! [`crate::index`]). A draw hashes the block's BABE randomness with a per-draw subject into
//! uniform indexes by rejection sampling (no modulo bias) and rejects candidates that are
//! excluded (the sponsor, the contract's other hosters) or cannot take this work. Attempts
//! are bounded; a draw that runs out goes back to the queue and is retried in a later block
//! — work is never dropped for want of providers.

use crate::{
	index::ProviderIndex, pallet::*, queue::StorageQueue, ProviderOf, RedrawHint, ReplicaOf,
};
use alloc::vec::Vec;
use datdot_primitives::encoded::ReplicaId;
use frame::prelude::*;

/// The draw queue.
type DrawQueueOf<T> =
	StorageQueue<DrawQueue<T>, DrawQueueBounds<T>, (ReplicaId, BlockNumberFor<T>)>;

/// Candidates tried per provider wanted before a draw gives up (and the work is requeued).
pub const ATTEMPTS_PER_PICK: u32 = 8;

/// A uniform index in `0..n` from `seed` and an attempt counter, without modulo bias.
///
/// Each attempt hashes `seed ‖ attempt` into four 64-bit words and returns the first word
/// below the largest multiple of `n` (reduced mod `n`); for `n ≤ 2⁶³` each word falls above
/// it with probability below ½, all four with probability below 1/16, and the caller's
/// next attempt draws fresh words. Returns `None` when `n == 0` or all four fall above.
pub fn random_index(seed: &[u8; 32], attempt: u32, n: u64) -> Option<u64> {
	if n == 0 {
		return None;
	}
	// Largest multiple of n that fits in u64: words at or above it would bias the result.
	let zone = u64::MAX - (u64::MAX % n);
	let mut input = [0u8; 36];
	input[..32].copy_from_slice(seed);
	input[32..].copy_from_slice(&attempt.to_le_bytes());
	let hash = frame::hashing::blake2_256(&input);
	hash.chunks_exact(8)
		.filter_map(|w| w.try_into().ok().map(u64::from_le_bytes))
		.find(|w| *w < zone)
		.map(|w| w % n)
}

/// How many of `n` independent trials succeed when each succeeds with probability
/// `1 / period`, counting at most `max`: a binomial draw made by jumping from one success to
/// the next over a geometric gap, so the work grows with the successes (at most 32 64-bit
/// fixed-point multiplications each, plus 32 for a table), never with `n`.
///
/// The gap before the next success is the largest `g` with `(1 - 1/period)^g ≥ u` for a
/// uniform `u`, which is `⌊ln u / ln(1 - 1/period)⌋`; it is found bit by bit from a table
/// of `(1 - 1/period)^(2^j)`, in 0.64 fixed point (no floats, no divisions).
pub fn bernoulli_successes(seed: &[u8; 32], n: u32, period: u32, max: u32) -> u32 {
	// `a · b` for 0.64 fixed-point numbers (u64::MAX standing for 1).
	fn mul(a: u64, b: u64) -> u64 {
		((u128::from(a) * u128::from(b)) >> 64) as u64
	}
	if period <= 1 {
		return n.min(max);
	}
	let miss = u64::MAX - u64::MAX / u64::from(period);
	// powers[j] = miss^(2^j).
	let mut powers = [0u64; 32];
	let mut power = miss;
	for slot in powers.iter_mut() {
		*slot = power;
		power = mul(power, power);
	}
	let (mut decided, mut successes) = (0u32, 0u32);
	// Each attempt yields a word but with probability below 2⁻¹⁰⁰, so twice `max` (plus
	// the final miss) bounds the loop without ever cutting a draw short in practice.
	for attempt in 0..max.saturating_mul(2).saturating_add(2) {
		if successes >= max || decided >= n {
			break;
		}
		let Some(u) = random_index(seed, attempt, u64::MAX) else { continue };
		let left = n - decided;
		// The largest gap ≤ left whose chance of no success so far is still ≥ u.
		let (mut gap, mut chance) = (0u32, u64::MAX);
		for j in (0..32).rev() {
			let step = 1u32 << j;
			if gap.saturating_add(step) <= left {
				let next = mul(chance, powers[j]);
				if next >= u {
					chance = next;
					gap += step;
				}
			}
		}
		if gap >= left {
			break;
		}
		successes += 1;
		decided += gap + 1;
	}
	successes
}

/// The seed of one random choice: the block's randomness mixed with what is being chosen,
/// so that choices in one block are independent of each other.
pub fn subject_seed(randomness: &[u8; 32], subject: &impl Encode) -> [u8; 32] {
	frame::hashing::blake2_256(&(b"datdot", randomness, subject).encode())
}

impl<T: Config> Pallet<T> {
	/// Draws `count` distinct eligible providers for which `fits(position, account,
	/// provider)` holds (`position` is the number picked before it, so roles picked together
	/// can ask different things) and that are not in `exclude`, from `seed`. `None` when too few
	/// qualify (or the bounded attempts ran out): the caller requeues the work and retries
	/// later.
	///
	/// The first half of the attempts are uniform random picks. If they did not fill the
	/// set, the second half walks the candidates in order from a random start: in a small
	/// network where most providers are excluded (a contract's other hosters, the sponsor)
	/// random picks can miss the few that qualify (with 2 of 4, 8 picks all miss once in
	/// 256), and a spot check then went unissued; the walk finds them whenever it covers
	/// them. The number of attempts, so the weight, is unchanged.
	pub fn pick_providers(
		seed: &[u8; 32],
		count: u32,
		among: Option<&[T::AccountId]>,
		exclude: &[T::AccountId],
		fits: impl Fn(usize, &T::AccountId, &ProviderOf<T>) -> bool,
	) -> Option<Vec<T::AccountId>> {
		let n = match among {
			Some(friends) => friends.len() as u64,
			None => ProviderIndex::Eligible.count::<T>() as u64,
		};
		let mut picked: Vec<T::AccountId> = Vec::new();
		let max_attempts = count.saturating_mul(ATTEMPTS_PER_PICK);
		let random_attempts = max_attempts / 2;
		let walk_start = random_index(seed, max_attempts, n);
		for attempt in 0..max_attempts {
			if picked.len() as u32 == count {
				break;
			}
			let at = if attempt < random_attempts {
				random_index(seed, attempt, n)
			} else {
				walk_start.map(|start| (start + u64::from(attempt - random_attempts)) % n)
			};
			let Some(at) = at else { continue };
			let candidate = match among {
				Some(friends) => friends.get(at as usize).cloned(),
				None => ProviderIndex::Eligible.get::<T>(at as u32),
			};
			let Some(who) = candidate else { continue };
			if exclude.contains(&who) || picked.contains(&who) {
				continue;
			}
			// A friend must be as able to take work as a member of the eligible index.
			if Providers::<T>::get(&who).is_some_and(|p| {
				ProviderIndex::Eligible.admits::<T>(&p)
					&& fits(picked.len(), &who, &p)
					&& Self::strikes_allow(&p, seed, attempt)
			}) {
				picked.push(who);
			}
		}
		(picked.len() as u32 == count).then_some(picked)
	}

	/// Appends a replica to the draw queue, waiting from now.
	pub(crate) fn queue_draw(id: ReplicaId) -> Result<(), Error<T>> {
		let now = frame_system::Pallet::<T>::block_number();
		DrawQueueOf::<T>::push((id, now), T::MaxQueuedDraws::get())
			.map_err(|_| Error::<T>::DrawQueueFull)
	}

	/// Replicas waiting to be drawn.
	pub fn queued_draws() -> u32 {
		DrawQueueOf::<T>::len()
	}

	/// Room in the draw queue for new work (a plan's replicas, replacements), keeping room
	/// for every setup in flight to fail and go back to the queue (see `integrity_test`).
	pub(crate) fn draw_room() -> u32 {
		let setup: u32 = T::MaxSetupBlocks::get().unique_saturated_into();
		T::MaxQueuedDraws::get()
			.saturating_sub(T::MaxDrawsPerBlock::get().saturating_mul(setup.saturating_add(1)))
			.saturating_sub(Self::queued_draws())
	}

	/// Blocks a replica reserving `reserve` bytes has for its setup: `setup_blocks` (the
	/// setup time in force) plus one per `SetupBytesPerBlock`, at most `MaxSetupBlocks`.
	pub fn setup_time(setup_blocks: BlockNumberFor<T>, reserve: u64) -> BlockNumberFor<T> {
		let extra: BlockNumberFor<T> =
			(reserve / T::SetupBytesPerBlock::get().max(1)).unique_saturated_into();
		setup_blocks.saturating_add(extra).min(T::MaxSetupBlocks::get())
	}

	/// Draws queued replicas, at most `MaxDrawsPerBlock`; stops at the first that finds too
	/// few providers (it goes back to the queue). Returns the number of draws tried.
	pub(crate) fn draw_queued(now: BlockNumberFor<T>, randomness: &[u8; 32]) -> u32 {
		let setup_blocks = Self::timing().setup_blocks;
		let mut slots = DeadlineSlots::<T>::default();
		let mut tried = 0;
		// Each entry is tried at most once a block: one that goes back to the queue waits
		// for the next block (a draw that just passed over a replica's struck workers must
		// not at once be tried again without them).
		let max_tries = T::MaxDrawsPerBlock::get().min(Self::queued_draws());
		while tried < max_tries {
			let Some((id, since)) = DrawQueueOf::<T>::pop() else { break };
			tried += 1;
			let nonce = DrawNonce::<T>::mutate(|n| {
				*n = n.wrapping_add(1);
				*n
			});
			let seed = subject_seed(randomness, &(b"draw", id, nonce));
			match Self::draw_replica(id, &seed, now, setup_blocks, &mut slots) {
				DrawOutcome::Drawn | DrawOutcome::Stale => {}
				DrawOutcome::SlotFull => {
					// The queue had room for it a moment ago.
					let _ = DrawQueueOf::<T>::push((id, since), T::MaxQueuedDraws::get());
					Self::deposit_event(Event::DrawPostponed {
						contract: id.contract,
						replica: id.replica,
					});
				}
				outcome @ (DrawOutcome::TooFewProviders | DrawOutcome::TooFewForReplica) => {
					let (contract, replica) = (id.contract, id.replica);
					// A copy's first slot stops waiting after `MaxDrawWait`; a successor's
					// copy is still live, so that one waits for as long as it takes.
					let original =
						Contracts::<T>::get(contract).is_some_and(|c| replica < c.replicas);
					if original && now.saturating_sub(since) >= T::MaxDrawWait::get() {
						Self::deposit_event(Event::DrawAbandoned { contract, replica });
					} else {
						// The queue had room for it a moment ago.
						let _ = DrawQueueOf::<T>::push((id, since), T::MaxQueuedDraws::get());
						Self::deposit_event(Event::DrawPostponed { contract, replica });
					}
					// Too few providers at all: the next draws would fail too. Too few for
					// one replica says nothing about the next one.
					if matches!(outcome, DrawOutcome::TooFewProviders) {
						break;
					}
				}
			}
		}
		slots.save();
		tried
	}

	/// Draws encoder, hoster and attestor for one replica and reserves the hoster's space;
	/// its setup ends `setup_time` after `now`, in a slot of `deadlines`.
	fn draw_replica(
		id: ReplicaId,
		seed: &[u8; 32],
		now: BlockNumberFor<T>,
		setup_blocks: BlockNumberFor<T>,
		deadlines: &mut DeadlineSlots<T>,
	) -> DrawOutcome {
		let contract = Contracts::<T>::get(id.contract);
		let deadline = contract
			.as_ref()
			.map(|c| now.saturating_add(Self::setup_time(setup_blocks, c.reserve)));
		// Setups drawn in other blocks (longer ones, or before governance shortened the
		// setup time) may already fill this deadline's slot: the draw waits, hint and all.
		if deadline.is_some_and(|d| deadlines.is_full(d)) {
			return DrawOutcome::SlotFull;
		}
		// Whatever comes of this draw, the hint is spent, except a kept hoster's claim when
		// the draw must wait (below).
		let hint = RedrawHints::<T>::take(id.contract, id.replica);
		let (Some(contract), Some(deadline)) = (contract, deadline) else {
			return DrawOutcome::Stale; // cancelled while queued
		};
		if Replicas::<T>::contains_key(id.contract, id.replica) {
			return DrawOutcome::Stale;
		}
		// Hosters of one contract are distinct: a replica is only worth something on another
		// provider (a successor's hoster differs from the one it replaces, too). The
		// sponsor never works for its own plan.
		let slots = contract.replicas.saturating_mul(2);
		let mut exclude = Vec::with_capacity(slots as usize + 3);
		exclude.push(contract.sponsor.clone());
		for r in (0..slots).filter(|r| *r != id.replica) {
			if let Some(other) = Replicas::<T>::get(id.contract, r) {
				exclude.push(other.hoster);
			}
		}
		let Some(plan) = Plans::<T>::get(contract.plan) else { return DrawOutcome::Stale };
		// An ending plan's contracts are about to go: no new work for them.
		if plan.ends_at <= frame_system::Pallet::<T>::block_number() {
			return DrawOutcome::Stale;
		}
		let friends = plan.friends;
		let among = friends.as_ref().map(|f| f.as_slice());
		let too_few = match (&hint, among) {
			// Others than the struck workers may qualify in a later block, or the hint is
			// gone by then: the next replicas are drawn meanwhile.
			(Some(RedrawHint::AvoidStruck { .. } | RedrawHint::KeepHosterNewEncoder { .. }), _)
			| (_, Some(_)) => DrawOutcome::TooFewForReplica,
			_ => DrawOutcome::TooFewProviders,
		};
		let avoids = |who: &T::AccountId| hint.as_ref().is_some_and(|h| h.avoids(who));
		let max_hosting = T::MaxReplicasPerHoster::get();
		let fits = |p: &ProviderOf<T>| p.can_take_work(contract.reserve) && p.hosting < max_hosting;
		// A hoster whose encoder was proven to cheat, or gave up, keeps its place if it
		// still can.
		let pinned = match &hint {
			Some(
				RedrawHint::KeepHoster(who) | RedrawHint::KeepHosterNewEncoder { hoster: who, .. },
			) => Some(who.clone()),
			_ => None,
		};
		let keeps = pinned.clone().filter(|who| {
			!exclude.contains(who)
				&& Providers::<T>::get(who)
					.is_some_and(|p| ProviderIndex::Eligible.admits::<T>(&p) && fits(&p))
		});
		let wait = |outcome: DrawOutcome| {
			if let Some(who) = &pinned {
				RedrawHints::<T>::insert(
					id.contract,
					id.replica,
					RedrawHint::KeepHoster(who.clone()),
				);
			}
			outcome
		};
		let Some(hoster) = keeps.or_else(|| {
			Self::pick_providers(&subject_seed(seed, b"hoster"), 1, among, &exclude, |_, who, p| {
				!avoids(who) && fits(p)
			})
			.and_then(|mut v| v.pop())
		}) else {
			return wait(too_few);
		};
		// Encoder and attestor: distinct from the hoster (whose work they check) and each
		// other; the encoder (picked first) has a free encoding slot and room for the
		// stream it writes while the setup runs.
		let helpers_exclude = [contract.sponsor.clone(), hoster.clone()];
		let max_encoding = T::MaxEncodingsPerProvider::get();
		let reserve = contract.reserve;
		let Some([encoder, attestor]) = Self::pick_providers(
			&subject_seed(seed, b"helpers"),
			2,
			among,
			&helpers_exclude,
			|position, who, p| match position {
				0 => p.can_take_work(reserve) && p.encoding < max_encoding && !avoids(who),
				_ => p.can_take_work(0),
			},
		)
		.and_then(|v| <[T::AccountId; 2]>::try_from(v).ok()) else {
			return wait(too_few);
		};

		Self::assign_replica(id, contract.reserve, encoder, hoster, attestor, deadline);
		deadlines.push(deadline, id);
		DrawOutcome::Drawn
	}

	/// Gives a replica its encoder, hoster and attestor, reserving `reserve` bytes of the
	/// hoster's and the encoder's capacity, with setup running until `deadline`.
	pub(crate) fn assign_replica(
		id: ReplicaId,
		reserve: u64,
		encoder: T::AccountId,
		hoster: T::AccountId,
		attestor: T::AccountId,
		deadline: BlockNumberFor<T>,
	) {
		Self::update_provider(&hoster, |p| {
			p.hosting = p.hosting.saturating_add(1);
			p.reserved = p.reserved.saturating_add(reserve);
		});
		// The encoder's node holds the sealed stream until the replica is active.
		Self::update_provider(&encoder, |p| {
			p.encoding = p.encoding.saturating_add(1);
			p.reserved = p.reserved.saturating_add(reserve);
		});
		let replica: ReplicaOf<T> = crate::types::Replica {
			encoder: encoder.clone(),
			hoster: hoster.clone(),
			attestor: attestor.clone(),
			state: crate::types::ReplicaState::Setup { deadline },
			reserved: reserve,
			encoded: None,
			hosted: None,
			replacing: false,
		};
		Replicas::<T>::insert(id.contract, id.replica, replica);
		Self::deposit_event(Event::ReplicaDrawn {
			contract: id.contract,
			replica: id.replica,
			encoder,
			hoster,
			attestor,
			deadline,
		});
	}
}

/// The setup-deadline slots one block's draws fill. A block's draws may end at different
/// blocks (setup time grows with a replica's bytes), so each slot they touch is read once
/// and, if a draw joined it, written back once: at most `MaxDrawsPerBlock` of each.
struct DeadlineSlots<T: Config> {
	slots: Vec<DeadlineSlot<T>>,
}

/// One setup deadline's replicas, as read, and whether a draw joined them.
struct DeadlineSlot<T: Config> {
	deadline: BlockNumberFor<T>,
	replicas: BoundedVec<ReplicaId, T::MaxDrawsPerBlock>,
	joined: bool,
}

impl<T: Config> Default for DeadlineSlots<T> {
	fn default() -> Self {
		Self { slots: Vec::new() }
	}
}

impl<T: Config> DeadlineSlots<T> {
	/// The slot of `deadline`, read from storage the first time.
	fn slot(&mut self, deadline: BlockNumberFor<T>) -> &mut DeadlineSlot<T> {
		let i = match self.slots.iter().position(|s| s.deadline == deadline) {
			Some(i) => i,
			None => {
				let replicas = SetupDeadlines::<T>::get(deadline);
				self.slots.push(DeadlineSlot { deadline, replicas, joined: false });
				self.slots.len() - 1
			}
		};
		&mut self.slots[i]
	}

	fn is_full(&mut self, deadline: BlockNumberFor<T>) -> bool {
		self.slot(deadline).replicas.is_full()
	}

	fn push(&mut self, deadline: BlockNumberFor<T>, id: ReplicaId) {
		let slot = self.slot(deadline);
		if slot.replicas.try_push(id).is_err() {
			// Unreachable: a draw into a full slot waits (`DrawOutcome::SlotFull`).
			defensive!("setup deadline slot overflow");
		}
		slot.joined = true;
	}

	/// Writes back the slots draws joined.
	fn save(self) {
		for slot in self.slots.into_iter().filter(|s| s.joined) {
			SetupDeadlines::<T>::insert(slot.deadline, slot.replicas);
		}
	}
}

/// What came of one queued draw.
enum DrawOutcome {
	/// Encoder, hoster and attestor are assigned.
	Drawn,
	/// The replica no longer needs drawing (its plan was cancelled).
	Stale,
	/// Its setup would end at a block whose slot is full; it waits for a later block.
	SlotFull,
	/// Too few providers qualify now; the replica waits for a later block.
	TooFewProviders,
	/// Too few qualify for this replica alone (of a friends plan's providers, or besides
	/// its struck workers); it waits for a later block, the next replicas are drawn.
	TooFewForReplica,
}

#[cfg(test)]
mod tests {
	use super::{bernoulli_successes, random_index, subject_seed};

	#[test]
	fn random_index_is_in_range_and_deterministic() {
		for n in [1u64, 2, 3, 7, 1000, u32::MAX as u64, u64::MAX / 3] {
			for attempt in 0..50 {
				let Some(i) = random_index(&[7; 32], attempt, n) else { continue };
				assert!(i < n);
				assert_eq!(Some(i), random_index(&[7; 32], attempt, n));
			}
		}
		assert_eq!(random_index(&[7; 32], 0, 0), None);
	}

	#[test]
	fn random_index_is_uniform_within_tolerance() {
		// 3 does not divide 2^64, so a plain `% 3` would be (very slightly) biased; here the
		// counts of 30 000 draws must each be within 4 % of 10 000.
		let mut counts = [0u32; 3];
		for attempt in 0..30_000 {
			counts[random_index(&[1; 32], attempt, 3).unwrap() as usize] += 1;
		}
		for c in counts {
			assert!((9_600..=10_400).contains(&c), "{counts:?}");
		}
	}

	#[test]
	fn bernoulli_successes_follow_the_binomial_law() {
		// Over 20 000 seeds the mean of Bin(n, 1/period) must be within 3 % (plus a little
		// for small means) and the variance within 6 % of n·p·(1-p).
		for (n, period) in [(1u32, 20u32), (5, 20), (100, 20), (1000, 4), (3, 2), (10_000, 20)] {
			let p = 1.0 / period as f64;
			let draws: Vec<f64> = (0..20_000u32)
				.map(|i| {
					let seed = subject_seed(&[5; 32], &(n, i));
					bernoulli_successes(&seed, n, period, u32::MAX) as f64
				})
				.collect();
			let mean = draws.iter().sum::<f64>() / draws.len() as f64;
			let var =
				draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / draws.len() as f64;
			let (want_mean, want_var) = (n as f64 * p, n as f64 * p * (1.0 - p));
			println!(
				"{n} hosters, period {period}: {:.4} challenges per hoster per block",
				mean / n as f64
			);
			assert!(
				(mean - want_mean).abs() <= 0.03 * want_mean + 0.005,
				"n {n} p {period}: mean {mean}"
			);
			assert!((var - want_var).abs() <= 0.06 * want_var, "n {n} p {period}: var {var}");
		}
	}

	#[test]
	fn bernoulli_successes_stay_within_their_bounds() {
		for i in 0..200u32 {
			let seed = subject_seed(&[6; 32], &i);
			assert!(bernoulli_successes(&seed, 1000, 2, 7) <= 7);
			assert_eq!(bernoulli_successes(&seed, 0, 5, 7), 0);
			assert_eq!(bernoulli_successes(&seed, 9, 1, 7), 7, "period 1 challenges everyone");
			assert!(bernoulli_successes(&seed, 3, 10, 100) <= 3);
		}
	}
}
