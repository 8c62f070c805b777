//! Hosting setup of a drawn replica.
//!
//! The encoder and then the hoster confirm the sealed root. Matching roots before the
//! deadline make the replica active (and end the replica it succeeds, if any); different
//! roots fail the setup at once; at the deadline the setup fails if either has not
//! confirmed. The chain cannot tell who withheld or lied, so a failed setup slashes nobody:
//! both parties of a mismatch or of a stream committed but never confirmed get a strike, an
//! encoder that never committed gets one alone (see [`crate::lifecycle`]). A failed replica
//! is released and queued to be drawn again. Only a proven fraud (`report_bad_encoding`)
//! faults the encoder. A party without room may give the setup up first
//! (`release_replica`, in [`crate::lifecycle`]): it alone pays a small penalty.

use crate::{feeds::HostEd25519, pallet::*, types::*, ReplicaOf, VerifyError, MAX_FRAUD_BLOCK};
use datdot_primitives::{
	encoded::{EncodedRoot, ReplicaId, SEGMENT_SIZE},
	fraud::{judge_encoding, CommittedEncoding, EncodingFraudProof},
	VerifiedTree,
};
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
				// The encoder commits first (design §5.4), so a hoster cannot confirm a root
				// it computed from the public feed without receiving the sealed stream.
				ensure!(
					replica.encoded.is_some()
						|| !matches!(replica.state, ReplicaState::Setup { .. }),
					Error::<T>::EncoderNotConfirmed
				);
				&mut replica.hosted
			}
		};
		ensure!(matches!(replica.state, ReplicaState::Setup { .. }), Error::<T>::NotInSetup);
		ensure!(slot.is_none(), Error::<T>::AlreadyConfirmed);
		// Every block encodes to at least one segment of its own.
		let blocks = contract.blocks.end - contract.blocks.start;
		ensure!(root.segments >= blocks, Error::<T>::ImplausibleSegmentCount);
		*slot = Some(root);

		let copies = contract.replicas;
		let (contract, replica_index) = (id.contract, id.replica);
		Self::deposit_event(match role {
			Role::Encoder => Event::EncodingConfirmed { contract, replica: replica_index, root },
			Role::Hoster => Event::HostingConfirmed { contract, replica: replica_index, root },
		});
		match (replica.encoded, replica.hosted) {
			(Some(a), Some(b)) if a == b => {
				let hoster = replica.hoster.clone();
				let encoder = replica.encoder.clone();
				Self::activate(id, replica, a);
				Self::pay_encoder(id, &encoder);
				Self::after_activation(id, copies, &hoster);
			}
			(Some(_), Some(_)) => Self::fail_setup(id, replica, SetupFailure::Mismatch),
			_ => Replicas::<T>::insert(id.contract, id.replica, replica),
		}
		Ok(())
	}

	/// Judges a hoster's fraud proof against its encoder (see [`Pallet::report_bad_encoding`]).
	pub(crate) fn do_report_bad_encoding(
		who: T::AccountId,
		id: ReplicaId,
		proof: &EncodingFraudProof,
	) -> DispatchResult {
		let replica =
			Replicas::<T>::get(id.contract, id.replica).ok_or(Error::<T>::UnknownReplica)?;
		ensure!(replica.hoster == who, Error::<T>::NotHoster);
		ensure!(matches!(replica.state, ReplicaState::Setup { .. }), Error::<T>::NotInSetup);
		let root = replica.encoded.ok_or(Error::<T>::EncoderNotConfirmed)?;
		ensure!(proof.block_len() <= MAX_FRAUD_BLOCK, Error::<T>::FraudBlockTooLarge);
		let contract = Contracts::<T>::get(id.contract).ok_or(Error::<T>::UnknownReplica)?;
		let feed = Feeds::<T>::get(contract.feed).ok_or(Error::<T>::UnknownFeed)?;
		let key =
			Providers::<T>::get(&replica.encoder).ok_or(Error::<T>::NotRegistered)?.sealing_key;
		let tree = VerifiedTree {
			length: feed.length,
			fork: feed.fork,
			roots: feed.roots.to_vec(),
			tree_hash: feed.tree_hash,
			byte_length: feed.byte_length,
		};
		let setup = CommittedEncoding {
			id,
			root: &root,
			key: &key,
			blocks: contract.blocks.start..contract.blocks.end,
			auth: &feed.auth,
			tree: &tree,
		};
		let fault = judge_encoding(&setup, proof, &HostEd25519)
			.map_err(|e| Error::<T>::InvalidFraudProof(VerifyError(e)))?
			.ok_or(Error::<T>::NoFraudShown)?;

		// Only the encoder is at fault: the hoster keeps its place in the next draw.
		Replicas::<T>::remove(id.contract, id.replica);
		Self::free_replica(id, &replica);
		RedrawHints::<T>::insert(
			id.contract,
			id.replica,
			RedrawHint::KeepHoster(replica.hoster.clone()),
		);
		if Self::queue_draw(id).is_err() {
			// Unreachable: new work leaves room for every setup in flight (`draw_room`).
			defensive!("draw queue full when requeueing a replica after a fraud proof");
		}
		Self::fault(&replica.encoder, Some(contract.plan));
		Self::deposit_event(Event::EncodingFraudProven {
			contract: id.contract,
			replica: id.replica,
			encoder: replica.encoder,
			hoster: replica.hoster,
			fault,
		});
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
			p.reserved = p.reserved.saturating_sub(previous);
			p.jobs_done = p.jobs_done.saturating_add(1);
		});
		replica.reserved = size;
		replica.state = ReplicaState::Active { since: now, last_proof: None, paid_until: now };
		let (hoster, encoder) = (replica.hoster.clone(), replica.encoder.clone());
		let attestor = replica.attestor.clone();
		Replicas::<T>::insert(id.contract, id.replica, replica);
		Self::spot_check(id, &hoster, attestor);
		Self::deposit_event(Event::ReplicaActive {
			contract: id.contract,
			replica: id.replica,
			hoster,
			root,
		});
		// An encoder that is leaving may have had this as its last duty.
		Self::leave_if_done(&encoder);
	}

	/// Fails a setup, releases the replica and queues it to be drawn again. Strikes: both
	/// parties when the roots differ; at a timeout, the encoder alone if it never committed
	/// (the hoster could not confirm before it), both if it committed and the hoster did not
	/// (a withholding encoder and a hoster that does not store look the same on chain).
	fn fail_setup(id: ReplicaId, replica: ReplicaOf<T>, reason: SetupFailure) {
		Replicas::<T>::remove(id.contract, id.replica);
		Self::free_replica(id, &replica);
		let mismatch = reason == SetupFailure::Mismatch;
		let committed = replica.encoded.is_some();
		let struck_encoder =
			(mismatch || !committed || replica.hosted.is_none()).then(|| replica.encoder.clone());
		let struck_hoster =
			(mismatch || (committed && replica.hosted.is_none())).then(|| replica.hoster.clone());
		for who in struck_encoder.iter().chain(struck_hoster.iter()) {
			Self::strike(who);
		}
		let hint = RedrawHint::AvoidStruck {
			encoder: struck_encoder.clone(),
			hoster: struck_hoster.clone(),
		};
		RedrawHints::<T>::insert(id.contract, id.replica, hint);
		if Self::queue_draw(id).is_err() {
			// Unreachable: new work leaves room for every setup in flight (`draw_room`).
			defensive!("draw queue full when requeueing a failed setup");
		}
		Self::deposit_event(Event::SetupFailed {
			contract: id.contract,
			replica: id.replica,
			reason,
			struck_encoder,
			struck_hoster,
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
