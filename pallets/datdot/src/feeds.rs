//! Verified hypercore feeds.
//!
//! A feed's signed tree is checked on chain with `datdot-primitives` (the same verifier
//! the node uses), over the runtime's ed25519 host function. A known feed only grows: its
//! new tree must carry the same fork counter and come with an upgrade proof from the stored
//! tree, so a feed record never moves to a tree that does not contain the old one.

use crate::{pallet::*, types::*, FeedOf, VerifyError};
use datdot_primitives::{
	verify::{verify_signed_tree, verify_upgrade},
	Ed25519Verifier, FeedAuth, Proof, SignedTree, VerifiedTree,
};
use frame::{
	deps::{sp_core::ed25519, sp_io},
	prelude::*,
	traits::fungible::MutateHold,
};

/// Ed25519 verification through the runtime's host function (fast native code in the node).
pub struct HostEd25519;

impl Ed25519Verifier for HostEd25519 {
	fn verify(&self, public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
		sp_io::crypto::ed25519_verify(
			&ed25519::Signature::from_raw(*signature),
			message,
			&ed25519::Public::from_raw(*public_key),
		)
	}
}

fn invalid<T: Config>(e: datdot_primitives::Error) -> Error<T> {
	Error::<T>::InvalidFeed(VerifyError(e))
}

impl<T: Config> Pallet<T> {
	/// Verifies and stores a new feed, or extends a known one (see [`Pallet::publish_feed`]).
	pub(crate) fn do_publish_feed(
		who: T::AccountId,
		key: FeedKey,
		manifest: Option<&[u8]>,
		tree: SignedTree,
		extension: Option<Proof>,
	) -> DispatchResult {
		let auth = FeedAuth::from_key(key, manifest).map_err(invalid::<T>)?;
		let verified = verify_signed_tree(&auth, &tree, &HostEd25519).map_err(invalid::<T>)?;
		let now = frame_system::Pallet::<T>::block_number();

		let Some(old) = Feeds::<T>::get(key) else {
			let deposit = T::FeedDeposit::get();
			T::Currency::hold(&HoldReason::FeedDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientBalanceForDeposit)?;
			Feeds::<T>::insert(
				key,
				Self::feed_record(auth, &verified, tree, who.clone(), deposit, now, 0),
			);
			Self::deposit_event(Event::FeedPublished {
				key,
				length: verified.length,
				publisher: who,
			});
			return Ok(());
		};

		ensure!(verified.fork == old.fork, Error::<T>::FeedForked);
		ensure!(verified.length > old.length, Error::<T>::FeedNotLonger);
		let proof = extension.ok_or(Error::<T>::ExtensionProofMissing)?;
		let trusted = VerifiedTree {
			length: old.length,
			fork: old.fork,
			roots: old.roots.to_vec(),
			tree_hash: old.tree_hash,
			byte_length: old.byte_length,
		};
		let extended =
			verify_upgrade(&old.auth, &trusted, &proof, &HostEd25519).map_err(invalid::<T>)?.tree;
		ensure!(
			extended.length == verified.length && extended.tree_hash == verified.tree_hash,
			Error::<T>::ExtensionMismatch
		);
		let old_length = old.length;
		Self::queue_growth(key)?;
		Feeds::<T>::insert(
			key,
			Self::feed_record(
				old.auth,
				&verified,
				tree,
				old.publisher,
				old.deposit,
				now,
				old.plans,
			),
		);
		Self::deposit_event(Event::FeedUpdated { key, old_length, length: verified.length });
		Ok(())
	}

	/// See [`Pallet::remove_feed`].
	pub(crate) fn do_remove_feed(who: T::AccountId, key: FeedKey) -> DispatchResult {
		let feed = Feeds::<T>::get(key).ok_or(Error::<T>::UnknownFeed)?;
		ensure!(feed.publisher == who, Error::<T>::NotPublisher);
		ensure!(feed.plans == 0, Error::<T>::FeedInUse);
		let released = T::Currency::release(
			&HoldReason::FeedDeposit.into(),
			&who,
			feed.deposit,
			frame::traits::tokens::Precision::BestEffort,
		);
		if released.is_err() {
			defensive!("feed deposit not held");
		}
		Feeds::<T>::remove(key);
		// A feed still waiting in the growth queue is cleaned up when its turn comes.
		FeedFollowers::<T>::mutate_exists(key, |f| {
			if f.as_ref().is_some_and(|f| !f.growth_queued) {
				*f = None;
			}
		});
		Self::deposit_event(Event::FeedRemoved { key });
		Ok(())
	}

	fn feed_record(
		auth: FeedAuth,
		verified: &VerifiedTree,
		tree: SignedTree,
		publisher: T::AccountId,
		deposit: crate::BalanceOf<T>,
		now: BlockNumberFor<T>,
		plans: u32,
	) -> FeedOf<T> {
		Feed {
			auth,
			length: verified.length,
			fork: verified.fork,
			byte_length: verified.byte_length,
			// Both fit: the call's arguments were bounded the same way.
			roots: BoundedVec::truncate_from(tree.roots),
			tree_hash: verified.tree_hash,
			signature: BoundedVec::truncate_from(tree.signature),
			publisher,
			deposit,
			updated_at: now,
			plans,
		}
	}
}
