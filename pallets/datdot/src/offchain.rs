//! A provider node's duties that need only chain state and its replica store, run by the
//! runtime's `offchain_worker` hook (design §8): answering its storage challenges.
//!
//! The node acts for the provider accounts whose keys ([`KEY_TYPE`], sr25519) are in its
//! keystore, and only for them. Segment proofs come from the node's replica store through
//! the [`replica_store`] host function; the store itself lives in the node (files with
//! fsync, see the node's `store.rs`), since wasm has no file access and the node's
//! database commits asynchronously.

use crate::{Call, Challenges, Config, Pallet, Providers};
use alloc::vec::Vec;
use datdot_primitives::encoded::{ReplicaId, SegmentProof};
use frame::{
	deps::{
		sp_core::crypto::KeyTypeId,
		sp_runtime::offchain::storage::{StorageRetrievalError, StorageValueRef},
	},
	log,
	prelude::*,
};
use sp_runtime_interface::{
	pass_by::{AllocateAndReturnByCodec, PassFatPointerAndDecode},
	runtime_interface,
};

/// The keystore key type of provider accounts (`datdot-node key insert --key-type dtdt`).
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"dtdt");

/// The provider key's application crypto, and its glue to the runtime's signature types.
pub mod crypto {
	use super::KEY_TYPE;
	use frame::deps::{
		sp_core::sr25519,
		sp_runtime::{
			app_crypto::{app_crypto, sr25519 as app_sr25519},
			MultiSignature, MultiSigner,
		},
	};
	app_crypto!(app_sr25519, KEY_TYPE);

	/// Signs a provider's duty transactions with its `dtdt` key.
	pub struct ProviderKey;

	impl frame::deps::frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for ProviderKey {
		type RuntimeAppPublic = Public;
		type GenericSignature = sr25519::Signature;
		type GenericPublic = sr25519::Public;
	}
}

/// A runtime's session keys can name the pallet for its provider key, so dev nodes
/// (`--alice`, `--bob`, …) get their account's key.
impl<T: Config> frame::deps::sp_runtime::BoundToRuntimeAppPublic for Pallet<T> {
	type Public = crypto::Public;
}

/// Where the node's replica store answers from: the node registers a [`ReplicaStoreExt`]
/// for its off-chain workers.
#[cfg(feature = "std")]
pub trait ProofSource: Send + Sync {
	/// The proof of segment `index` of replica `id`, if it is stored here and reads back.
	fn prove(&self, id: &ReplicaId, index: u64) -> Option<SegmentProof>;
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The node's replica store, as the [`replica_store`] host functions see it.
	pub struct ReplicaStoreExt(std::sync::Arc<dyn ProofSource>);
}

/// The host functions through which the off-chain worker reads the node's replica store.
/// The node must provide them (`replica_store::HostFunctions`) to its executor.
#[runtime_interface]
pub trait ReplicaStore {
	/// Proofs of the given segments from this node's replica store, in order; `None` when
	/// the node has no store here (not a provider node) or lacks one of them.
	fn storage_proofs(
		&mut self,
		segments: PassFatPointerAndDecode<Vec<(ReplicaId, u64)>>,
	) -> AllocateAndReturnByCodec<Option<Vec<SegmentProof>>> {
		use sp_externalities::ExternalitiesExt;
		let store = self.extension::<ReplicaStoreExt>()?;
		segments.iter().map(|(id, index)| store.0.prove(id, *index)).collect()
	}
}

/// Key of the off-chain record of the challenge a provider last answered, and when: one
/// entry per local provider, overwritten by the next challenge.
fn answered_key<A: Encode>(provider: &A) -> Vec<u8> {
	(b"datdot/answered/", provider).encode()
}

/// Blocks after which an answer that has not closed its challenge (a dropped
/// transaction) is submitted again.
const RESUBMIT_AFTER: u32 = 3;

impl<T: Config> Pallet<T> {
	/// Answers the open storage challenges of every provider whose key this node holds,
	/// from the replica store, with signed `submit_storage_proof` transactions. An answer
	/// is sent again only if its challenge is still open [`RESUBMIT_AFTER`] blocks later.
	pub fn answer_storage_challenges(now: BlockNumberFor<T>) {
		let signer = Signer::<T, T::ProviderKey>::all_accounts();
		for account in signer.accounts_from_keys() {
			let Some(provider) = Providers::<T>::get(&account.id) else { continue };
			let Some(id) = provider.open_challenge else { continue };
			let Some(challenge) = Challenges::<T>::get(id) else { continue };
			if challenge.due < now {
				continue;
			}
			let key = answered_key(&account.id);
			let record = StorageValueRef::persistent(&key);
			let recently_sent = |sent: &Option<(u64, BlockNumberFor<T>)>| {
				matches!(sent, Some((last, at))
					if *last == id && now < at.saturating_add(RESUBMIT_AFTER.into()))
			};
			if recently_sent(&record.get().ok().flatten()) {
				continue;
			}
			let Some(proofs) = replica_store::storage_proofs(challenge.segments.to_vec()) else {
				log::warn!(
					target: "datdot",
					"challenge {id} of {:?}: the replica store lacks one of its segments; \
					 it will fail (check the node's replica store and its logs)",
					account.id,
				);
				continue;
			};
			// Claimed atomically: off-chain workers of consecutive blocks may overlap.
			let claimed = record.mutate(
				|sent: Result<Option<(u64, BlockNumberFor<T>)>, StorageRetrievalError>| {
					if recently_sent(&sent.ok().flatten()) {
						Err(())
					} else {
						Ok((id, now))
					}
				},
			);
			if claimed.is_err() {
				continue;
			}
			let Ok(proofs) = proofs.try_into() else { continue };
			let sent = Signer::<T, T::ProviderKey>::all_accounts()
				.with_filter(alloc::vec![account.public.clone()])
				.send_signed_transaction(|_| Call::submit_storage_proof {
					challenge: id,
					proofs: Clone::clone(&proofs),
				});
			for (_, result) in sent {
				match result {
					Ok(()) => {
						log::info!(target: "datdot", "answered challenge {id} of {:?}", account.id)
					}
					Err(()) => {
						log::warn!(target: "datdot", "could not submit the answer to challenge {id}")
					}
				}
			}
		}
	}
}
