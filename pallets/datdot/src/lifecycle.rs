//! The life of a provider's registration and the handover of its replicas (design §5.6, §6).
//!
//! - A **fault** (a failed or missed storage challenge, or staying offline past
//!   `OfflineGrace`) burns `FaultSlash` of the deposit and puts the hoster offline. `MaxFaults` faults within `FaultWindow`, or a deposit that
//!   no longer covers a fault, **end** the registration.
//! - A **strike** is for what the chain cannot attribute (a setup that timed out, or whose
//!   roots differ): nothing is burnt; each strike in the window lowers the provider's chance
//!   of being drawn, and `MaxStrikes` bench it for `StrikeBench` blocks.
//! - A provider that ended, unregistered while it had replicas (`Leaving`), or stayed
//!   offline past `OfflineGrace` is **evicted**: each of its active replicas gets a
//!   successor, drawn into the copy's other slot ([`successor_index`]). The old replica
//!   keeps its hoster's duty until the successor is active, then ends. A leaving or ended
//!   provider is removed, and what is left of its deposit released, after its last duty.
//! - A hoster that lost a replica **releases** it for `ReleasePenalty`, far below a fault;
//!   the copy is drawn again at once.

use crate::{pallet::*, plans::contract_of, queue::StorageQueue, types::*, ProviderOf, ReplicaOf};
use datdot_primitives::encoded::ReplicaId;
use frame::{
	prelude::*,
	traits::{fungible::MutateHold, tokens::Precision},
};

/// Providers whose replicas are being handed over.
pub(crate) type EvictionQueue<T> =
	StorageQueue<Evictions<T>, EvictionBounds<T>, <T as frame_system::Config>::AccountId>;

/// Providers that went offline, with the end of their grace.
type OfflineWatchQueue<T> = StorageQueue<
	OfflineWatch<T>,
	OfflineWatchBounds<T>,
	(<T as frame_system::Config>::AccountId, BlockNumberFor<T>),
>;

impl<T: Config> Pallet<T> {
	/// Records a proven fault of `who`: takes up to [`Config::FaultSlash`] of its deposit
	/// (into the budget of plan `hurt`, whose replica it hurt, if any), forfeits its unpaid
	/// hosting pay and puts it offline (a pending pause is cancelled); ends its registration
	/// when the fault is its `MaxFaults`-th in the window or its deposit no longer covers a
	/// fault.
	pub(crate) fn fault(who: &T::AccountId, hurt: Option<u64>) {
		let Some(provider) = Providers::<T>::get(who) else { return };
		if let ProviderStatus::Paused { until } = provider.status {
			PauseEnds::<T>::mutate(until, |ends| ends.retain(|a| a != who));
		}
		let (slashed, to_plan) = Self::take_deposit(who, &provider, T::FaultSlash::get(), hurt);
		let now = frame_system::Pallet::<T>::block_number();
		let Some((faults, recent, deposit, went_offline, ended)) =
			Self::update_provider(who, |p| {
				p.pay_floor = now;
				p.faults = p.faults.saturating_add(1);
				let recent = p.recent_faults.add(now, T::FaultWindow::get(), 1);
				// A leaving provider stays leaving: its replicas are being handed over anyway. An
				// offline one (still down at the end of its grace) starts a new grace.
				let went_offline = matches!(
					p.status,
					ProviderStatus::Active
						| ProviderStatus::Paused { .. }
						| ProviderStatus::Offline
				);
				if went_offline {
					p.status = ProviderStatus::Offline;
					p.offline_since = Some(now);
				}
				let ended = p.status == ProviderStatus::Ended;
				(p.faults, recent, p.deposit, went_offline, ended)
			})
		else {
			return;
		};
		Self::deposit_event(Event::ProviderOffline {
			provider: who.clone(),
			slashed,
			to_plan,
			faults,
		});
		if ended {
			// Already handing everything over (a challenge it had open when it ended).
		} else if recent >= T::MaxFaults::get() || deposit < T::FaultSlash::get() {
			Self::end_registration(who);
		} else if went_offline {
			// Each provider is watched at most once per fault, and `MaxFaults` end it.
			let cap = T::MaxProviders::get().saturating_mul(T::MaxFaults::get());
			if OfflineWatchQueue::<T>::push((who.clone(), now), cap).is_err() {
				defensive!("offline watch queue full");
			}
		}
	}

	/// Gives `who` a strike for a setup the chain cannot blame on anyone in particular.
	pub(crate) fn strike(who: &T::AccountId) {
		let now = frame_system::Pallet::<T>::block_number();
		let struck = Self::update_provider(who, |p| {
			let strikes = p.recent_strikes.add(now, T::FaultWindow::get(), 1);
			if strikes >= T::MaxStrikes::get() {
				p.benched_until = now.saturating_add(T::StrikeBench::get());
			}
			(strikes, p.benched_until.max(now))
		});
		if let Some((recent_strikes, benched_until)) = struck {
			Self::deposit_event(Event::ProviderStruck {
				provider: who.clone(),
				recent_strikes,
				benched_until,
			});
		}
	}

	/// Whether the draw for `attempt` of `seed` may pick `p` now: never while it is benched,
	/// otherwise with probability `1 / (1 + strikes in the window)`.
	pub(crate) fn strikes_allow(p: &ProviderOf<T>, seed: &[u8; 32], attempt: u32) -> bool {
		let now = frame_system::Pallet::<T>::block_number();
		if p.benched_until > now {
			return false;
		}
		let strikes = p.recent_strikes.current(now, T::FaultWindow::get());
		// Another stream of the seed than the one that picked the candidate.
		strikes == 0
			|| crate::selection::random_index(seed, attempt | (1 << 31), u64::from(strikes) + 1)
				== Some(0)
	}

	/// See [`Pallet::unregister`] (and [`Pallet::force_unregister`]).
	pub(crate) fn do_unregister(who: T::AccountId) -> DispatchResult {
		let provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
		ensure!(!provider.status.is_departing(), Error::<T>::RegistrationEnded);
		if let ProviderStatus::Paused { until } = provider.status {
			PauseEnds::<T>::mutate(until, |ends| ends.retain(|a| a != &who));
		}
		if !provider.has_duties() {
			Self::remove_provider(&who, provider);
			return Ok(());
		}
		Self::update_provider(&who, |p| {
			p.status = ProviderStatus::Leaving;
			p.offline_since = None;
		});
		Self::deposit_event(Event::ProviderLeaving { provider: who.clone() });
		Self::evict(&who);
		Ok(())
	}

	/// Ends `who`'s registration: no new work, no challenges; its replicas are handed over.
	pub(crate) fn end_registration(who: &T::AccountId) {
		let Some((recent_faults, deposit)) = Self::update_provider(who, |p| {
			p.status = ProviderStatus::Ended;
			p.offline_since = None;
			let now = frame_system::Pallet::<T>::block_number();
			(p.recent_faults.current(now, T::FaultWindow::get()), p.deposit)
		}) else {
			return;
		};
		Self::deposit_event(Event::ProviderEnded { provider: who.clone(), recent_faults, deposit });
		Self::evict(who);
	}

	/// Starts handing over `who`'s active replicas (once), and removes a leaving or ended
	/// provider that has nothing left to hand over.
	pub(crate) fn evict(who: &T::AccountId) {
		if Self::update_provider(who, |p| core::mem::replace(&mut p.evicting, true)) == Some(false)
			&& EvictionQueue::<T>::push(who.clone(), T::MaxProviders::get()).is_err()
		{
			// Unreachable: a provider is queued at most once while it is evicting.
			defensive!("eviction queue full");
		}
		Self::leave_if_done(who);
	}

	/// Removes a leaving or ended provider once it has no replica and no setup left.
	pub(crate) fn leave_if_done(who: &T::AccountId) {
		let Some(provider) = Providers::<T>::get(who) else { return };
		if provider.status.is_departing() && !provider.has_duties() {
			Self::remove_provider(who, provider);
		}
	}

	/// Takes `who` out of every index and storage and releases what is left of its deposit.
	pub(crate) fn remove_provider(who: &T::AccountId, mut provider: ProviderOf<T>) {
		provider.status = ProviderStatus::Ended;
		Self::refresh_indexes(who, &mut provider);
		let released = T::Currency::release(
			&HoldReason::ProviderDeposit.into(),
			who,
			provider.deposit,
			Precision::BestEffort,
		);
		if released.is_err() {
			defensive!("provider deposit not held");
		}
		Providers::<T>::remove(who);
		Self::forget_identity(who, &provider.peer_id);
		HostedReplicas::<T>::remove(who);
		Endpoints::<T>::remove(who);
		ServingRecords::<T>::remove(who);
		OpenPerformance::<T>::remove(who);
		Self::deposit_event(Event::ProviderUnregistered { provider: who.clone() });
	}

	/// Faults and evicts the hosters whose offline grace ended at or before `now` and that
	/// are still offline since then: staying down is a fault of its own, so a hoster that
	/// never comes back ends after `MaxFaults` graces at most. Returns the watch entries
	/// looked at (at most `MaxReplacementsPerBlock`).
	pub(crate) fn watch_offline(now: BlockNumberFor<T>) -> u32 {
		let grace = Self::timing().offline_grace;
		let mut looked = 0;
		while looked < T::MaxReplacementsPerBlock::get() {
			// Entries are in offline-since order, so with one grace for all the queue's
			// head is always the first to be due, even after governance changes the grace.
			match OfflineWatchQueue::<T>::peek() {
				Some((_, since)) if since.saturating_add(grace) <= now => {}
				_ => break,
			}
			let Some((who, since)) = OfflineWatchQueue::<T>::pop() else { break };
			looked += 1;
			let still_offline = Providers::<T>::get(&who).is_some_and(|p| {
				p.status == ProviderStatus::Offline && p.offline_since == Some(since)
			});
			if still_offline {
				// Staying down hurts every replica it hosts; the first one's plan gets the
				// slash.
				let hurt = HostedReplicas::<T>::get(&who).first().map(|r| contract_of(r.contract));
				Self::fault(&who, hurt);
				Self::evict(&who);
			}
		}
		looked
	}

	/// Hands over replicas of evicted providers, oldest eviction first: each active replica
	/// gets a successor queued for drawing. At most `MaxReplacementsPerBlock` replicas (and
	/// queue entries) are looked at; the rest wait for the next block, as they do when the
	/// draw queue has no room. Returns how many were looked at.
	pub(crate) fn replace_evicted() -> u32 {
		let budget = T::MaxReplacementsPerBlock::get();
		let mut looked = 0;
		while looked < budget {
			let Some(who) = EvictionQueue::<T>::peek() else { break };
			let provider = Providers::<T>::get(&who);
			// An offline hoster that came back keeps what is not handed over yet.
			let evicting = provider.as_ref().is_some_and(|p| {
				p.evicting
					&& matches!(
						p.status,
						ProviderStatus::Offline | ProviderStatus::Leaving | ProviderStatus::Ended
					)
			});
			let hosted = HostedReplicas::<T>::get(&who);
			let mut cursor = EvictionCursor::<T>::get();
			if !evicting || cursor as usize >= hosted.len() {
				EvictionQueue::<T>::pop();
				EvictionCursor::<T>::kill();
				looked += 1;
				// Leaving and ended providers stay marked: a setup of theirs that still
				// becomes active is handed over at once (see `after_activation`).
				if provider.is_some_and(|p| !p.status.is_departing()) {
					Self::update_provider(&who, |p| p.evicting = false);
				}
				continue;
			}
			while let Some(id) = hosted.get(cursor as usize).copied() {
				if looked >= budget {
					break;
				}
				looked += 1;
				if Self::schedule_replacement(id).is_err() {
					EvictionCursor::<T>::put(cursor);
					return looked;
				}
				cursor += 1;
			}
			EvictionCursor::<T>::put(cursor);
		}
		looked
	}

	/// Queues a successor for replica `id` (unless one is already being set up). Fails,
	/// changing nothing, when the draw queue has no room for new work.
	pub(crate) fn schedule_replacement(id: ReplicaId) -> Result<(), Error<T>> {
		let Some(mut replica) = Replicas::<T>::get(id.contract, id.replica) else { return Ok(()) };
		let Some(contract) = Contracts::<T>::get(id.contract) else { return Ok(()) };
		if replica.replacing {
			return Ok(());
		}
		ensure!(Self::draw_room() > 0, Error::<T>::DrawQueueFull);
		let successor = successor_index(id.replica, contract.replicas);
		Self::queue_draw(ReplicaId { contract: id.contract, replica: successor })?;
		replica.replacing = true;
		let hoster = replica.hoster.clone();
		Replicas::<T>::insert(id.contract, id.replica, replica);
		Self::deposit_event(Event::ReplacementQueued {
			contract: id.contract,
			replica: id.replica,
			successor,
			hoster,
		});
		Ok(())
	}

	/// After replica `id` became active: ends the replica it succeeds, if any, and hands
	/// it over in turn if its own hoster is being evicted.
	pub(crate) fn after_activation(id: ReplicaId, replicas: u32, hoster: &T::AccountId) {
		let partner = successor_index(id.replica, replicas);
		if let Some(old) = Replicas::<T>::get(id.contract, partner).filter(|r| r.replacing) {
			Replicas::<T>::remove(id.contract, partner);
			Self::free_replica(ReplicaId { contract: id.contract, replica: partner }, &old);
			Self::deposit_event(Event::ReplicaReplaced {
				contract: id.contract,
				replica: partner,
				successor: id.replica,
				old_hoster: old.hoster,
				new_hoster: hoster.clone(),
			});
		}
		let evicted =
			Providers::<T>::get(hoster).is_some_and(|p| p.evicting && p.status.is_departing());
		// The eviction pass may be over: queue the provider again if there is no room now.
		if evicted
			&& Self::schedule_replacement(id).is_err()
			&& EvictionQueue::<T>::push(hoster.clone(), T::MaxProviders::get()).is_err()
		{
			defensive!("eviction queue full");
		}
	}

	/// Gives back what a replica (already removed from storage) held: its hoster's
	/// reservation and counters, and the encoder's duty if setup was not finished; then
	/// removes a leaving or ended party that has nothing left.
	pub(crate) fn free_replica(id: ReplicaId, replica: &ReplicaOf<T>) {
		let active = matches!(replica.state, ReplicaState::Active { .. });
		if active {
			// Its hoster is paid up to its last passed challenge before the replica goes.
			Self::settle_hosting(id, &mut replica.clone());
			HostedReplicas::<T>::mutate(&replica.hoster, |list| {
				let Some(at) = list.iter().position(|r| *r == id) else { return };
				list.remove(at);
				// The eviction pass over this list must not skip the entry moved into `at`.
				if EvictionQueue::<T>::peek().as_ref() == Some(&replica.hoster) {
					EvictionCursor::<T>::mutate(|c| {
						if (at as u32) < *c {
							*c -= 1;
						}
					});
				}
			});
		} else {
			Self::update_provider(&replica.encoder, |p| {
				p.encoding = p.encoding.saturating_sub(1);
				p.reserved = p.reserved.saturating_sub(replica.reserved);
			});
		}
		Self::update_provider(&replica.hoster, |p| {
			p.reserved = p.reserved.saturating_sub(replica.reserved);
			p.hosting = p.hosting.saturating_sub(1);
			if active {
				p.active_replicas = p.active_replicas.saturating_sub(1);
			}
		});
		Self::leave_if_done(&replica.hoster);
		if !active {
			Self::leave_if_done(&replica.encoder);
		}
	}

	/// See [`Pallet::release_replica`].
	pub(crate) fn do_release_replica(who: T::AccountId, id: ReplicaId) -> DispatchResult {
		let replica =
			Replicas::<T>::get(id.contract, id.replica).ok_or(Error::<T>::UnknownReplica)?;
		let in_setup = matches!(replica.state, ReplicaState::Setup { .. });
		// An encoder may give its part up only before it commits: after that, a release
		// would dodge the fraud proof its hoster may be sending.
		let encoder = in_setup && replica.encoder == who;
		if encoder {
			ensure!(replica.encoded.is_none(), Error::<T>::EncodingCommitted);
		} else {
			ensure!(replica.hoster == who, Error::<T>::NotHoster);
		}
		let provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
		let challenged = provider
			.open_challenge
			.and_then(Challenges::<T>::get)
			.is_some_and(|ch| ch.segments.iter().any(|(r, _)| *r == id));
		ensure!(!challenged, Error::<T>::ChallengeOpen);
		// A copy being replaced just ends; any other is drawn again in its slot. The queue
		// always has room for a setup in flight (`draw_room`), as for one that fails.
		if !replica.replacing && !in_setup {
			ensure!(Self::draw_room() > 0, Error::<T>::DrawQueueFull);
		}

		let (penalty, _) = Self::take_deposit(
			&who,
			&provider,
			T::ReleasePenalty::get(),
			Some(contract_of(id.contract)),
		);
		Replicas::<T>::remove(id.contract, id.replica);
		Self::free_replica(id, &replica);
		if !replica.replacing {
			Self::queue_draw(id)?;
			// A setup given up (no room, typically) goes to another hoster or encoder next
			// time; when the encoder gives up, the hoster, who did nothing wrong, keeps its
			// place (also the place it kept after proving an earlier encoder's fraud).
			if in_setup {
				let hint = if encoder {
					RedrawHint::KeepHosterNewEncoder {
						hoster: replica.hoster.clone(),
						encoder: who.clone(),
					}
				} else {
					RedrawHint::AvoidStruck { encoder: None, hoster: Some(who.clone()) }
				};
				RedrawHints::<T>::insert(id.contract, id.replica, hint);
			}
		}
		let (contract, replica) = (id.contract, id.replica);
		Self::deposit_event(if encoder {
			Event::EncodingReleased { contract, replica, encoder: who.clone(), penalty }
		} else {
			Event::ReplicaReleased { contract, replica, hoster: who.clone(), penalty }
		});
		if Providers::<T>::get(&who)
			.is_some_and(|p| p.deposit < T::FaultSlash::get() && !p.status.is_departing())
		{
			Self::end_registration(&who);
		}
		Ok(())
	}
}
