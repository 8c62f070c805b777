//! Hosting setup of a drawn replica.
//!
//! The encoder and the hoster each confirm the encoded root. Matching roots before the
//! deadline make the replica active; different roots fail the setup at once (the chain
//! cannot tell who is wrong, so neither is faulted); at the deadline whoever has not
//! confirmed is faulted. A failed replica is released and queued to be drawn again.

use crate::{pallet::*, types::*, ReplicaOf};
use datdot_primitives::encoded::{EncodedRoot, ReplicaId, SEGMENT_SIZE};
use frame::prelude::*;

impl<T: Config> Pallet<T> {
	/// Records an encoder's or hoster's confirmation and settles the setup when both are in.
	pub(crate) fn confirm_setup(
		who: T::AccountId,
		id: ReplicaId,
		root: EncodedRoot,
		role: Role,
	) -> DispatchResult {
		let mut replica =
			Replicas::<T>::get(id.contract, id.replica).ok_or(Error::<T>::UnknownReplica)?;
		let contract = Contracts::<T>::get(id.contract).ok_or(Error::<T>::UnknownReplica)?;
		let slot = match role {
			Role::Encoder => {
				ensure!(replica.encoder == who, Error::<T>::NotEncoder);
				&mut replica.encoded
			}
			Role::Hoster => {
				ensure!(replica.hoster == who, Error::<T>::NotHoster);
				&mut replica.hosted
			}
		};
		ensure!(matches!(replica.state, ReplicaState::Setup { .. }), Error::<T>::NotInSetup);
		ensure!(slot.is_none(), Error::<T>::AlreadyConfirmed);
		// Every block encodes to at least one segment of its own.
		let blocks = contract.blocks.end - contract.blocks.start;
		ensure!(root.segments >= blocks, Error::<T>::ImplausibleSegmentCount);
		*slot = Some(root);

		let (contract, replica_index) = (id.contract, id.replica);
		Self::deposit_event(match role {
			Role::Encoder => Event::EncodingConfirmed { contract, replica: replica_index, root },
			Role::Hoster => Event::HostingConfirmed { contract, replica: replica_index, root },
		});
		match (replica.encoded, replica.hosted) {
			(Some(a), Some(b)) if a == b => Self::activate(id, replica, a),
			(Some(_), Some(_)) => Self::fail_setup(id, replica, SetupFailure::Mismatch),
			_ => Replicas::<T>::insert(id.contract, id.replica, replica),
		}
		Ok(())
	}

	/// Makes a confirmed replica active: its reservation becomes its real encoded size and
	/// its hoster becomes challengeable for it.
	fn activate(id: ReplicaId, mut replica: ReplicaOf<T>, root: EncodedRoot) {
		let now = frame_system::Pallet::<T>::block_number();
		let size = root.segments.saturating_mul(SEGMENT_SIZE as u64);
		let previous = replica.reserved;
		HostedReplicas::<T>::mutate(&replica.hoster, |list| {
			if list.try_push(id).is_err() {
				// Unreachable: `hosting` (setups included) never exceeds the list's bound.
				defensive!("hosted replica list overflow");
			}
		});
		Self::update_provider(&replica.hoster, |p| {
			p.reserved = p.reserved.saturating_sub(previous).saturating_add(size);
			p.active_replicas = p.active_replicas.saturating_add(1);
			p.jobs_done = p.jobs_done.saturating_add(1);
		});
		Self::update_provider(&replica.encoder, |p| {
			p.encoding = p.encoding.saturating_sub(1);
			p.jobs_done = p.jobs_done.saturating_add(1);
		});
		replica.reserved = size;
		replica.state = ReplicaState::Active { since: now, last_proof: None };
		let hoster = replica.hoster.clone();
		Replicas::<T>::insert(id.contract, id.replica, replica);
		Self::deposit_event(Event::ReplicaActive {
			contract: id.contract,
			replica: id.replica,
			hoster,
			root,
		});
	}

	/// Fails a setup: faults the parties that did not confirm (on timeout), releases the
	/// replica and queues it to be drawn again.
	fn fail_setup(id: ReplicaId, replica: ReplicaOf<T>, reason: SetupFailure) {
		Replicas::<T>::remove(id.contract, id.replica);
		Self::release_replica(id, &replica);
		let timeout = reason == SetupFailure::Timeout;
		let faulted_encoder =
			(timeout && replica.encoded.is_none()).then(|| replica.encoder.clone());
		let faulted_hoster = (timeout && replica.hosted.is_none()).then(|| replica.hoster.clone());
		for who in faulted_encoder.iter().chain(faulted_hoster.iter()) {
			Self::fault(who);
		}
		if Self::queue_draw(id).is_err() {
			// Unreachable: publish_plan keeps room for every setup in flight.
			defensive!("draw queue full when requeueing a failed setup");
		}
		Self::deposit_event(Event::SetupFailed {
			contract: id.contract,
			replica: id.replica,
			reason,
			faulted_encoder,
			faulted_hoster,
		});
	}

	/// Gives back what a replica (already removed from storage) held: its hoster's
	/// reservation and counters, and the encoder's duty if setup was not finished.
	pub(crate) fn release_replica(id: ReplicaId, replica: &ReplicaOf<T>) {
		let active = matches!(replica.state, ReplicaState::Active { .. });
		if active {
			HostedReplicas::<T>::mutate(&replica.hoster, |list| list.retain(|r| *r != id));
		} else {
			Self::update_provider(&replica.encoder, |p| p.encoding = p.encoding.saturating_sub(1));
		}
		Self::update_provider(&replica.hoster, |p| {
			p.reserved = p.reserved.saturating_sub(replica.reserved);
			p.hosting = p.hosting.saturating_sub(1);
			if active {
				p.active_replicas = p.active_replicas.saturating_sub(1);
			}
		});
	}

	/// Fails the setups whose deadline was the previous block and that are still running.
	/// Returns how many were looked at.
	pub(crate) fn expire_setups(now: BlockNumberFor<T>) -> u32 {
		let ended = now.saturating_sub(One::one());
		let due = SetupDeadlines::<T>::take(ended);
		let count = due.len() as u32;
		for id in due {
			// A replica that failed and was drawn again since has a later deadline.
			match Replicas::<T>::get(id.contract, id.replica) {
				Some(replica) if replica.state == ReplicaState::Setup { deadline: ended } => {
					Self::fail_setup(id, replica, SetupFailure::Timeout)
				}
				_ => {}
			}
		}
		count
	}
}
