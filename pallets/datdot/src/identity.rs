//! Who a provider is, and which key may act for it (design §1 and §3).
//!
//! - **PeerId, proven.** `register` carries the node's libp2p (ed25519) key signing
//!   [`peer_id_message`] of the registering account, so nobody can register a node that is
//!   not theirs; a PeerId belongs to one provider ([`PeerIdProviders`]) until it leaves.
//! - **A cold provider account and a hot duty key.** The node holds only the duty key
//!   ([`DutyKeys`]), which the provider account authorises at `register` and replaces with
//!   `set_duty_key`, each time with the duty key's signature of [`duty_key_message`] (nobody
//!   can name a key that is not theirs, which would lock its owner out). Duties
//!   (confirmations, challenge answers, reports, pause and unpause, releases, the endpoint)
//!   accept the duty key or the provider account and act for the
//!   provider ([`Pallet::duty_origin`]); what changes who the provider is or frees its
//!   deposit (`unregister`, `set_duty_key`) needs the provider account
//!   ([`Pallet::provider_account`]). A stolen node can therefore fail duties, for which
//!   the provider is faulted as for any lapse, but cannot move the provider's funds or
//!   lock the provider out.

use crate::{
	Config, DutyKeyProviders, DutyKeys, Error, Event, Pallet, PeerIdOf, PeerIdProviders,
	PeerSignature, Providers,
};
use alloc::vec::Vec;
use codec::Encode;
use frame::{
	deps::{sp_core, sp_io, sp_runtime::traits::Verify},
	prelude::*,
};

/// What a node's libp2p key signs to say it serves `account`: this context, then the
/// SCALE-encoded account (the raw 32 bytes for the runtime's `AccountId32`).
pub const PEER_ID_CONTEXT: &[u8] = b"datdot/peer-id-of/";

/// The message a node's libp2p key signs for the provider `account` it serves.
pub fn peer_id_message<AccountId: Encode>(account: &AccountId) -> Vec<u8> {
	let mut message = PEER_ID_CONTEXT.to_vec();
	account.encode_to(&mut message);
	message
}

/// What a duty key signs to consent to act for the provider `account`: this context, then
/// the SCALE-encoded account.
pub const DUTY_KEY_CONTEXT: &[u8] = b"datdot/duty-key-of/";

/// The message a duty key signs for the provider `account` it will act for.
pub fn duty_key_message<AccountId: Encode>(account: &AccountId) -> Vec<u8> {
	let mut message = DUTY_KEY_CONTEXT.to_vec();
	account.encode_to(&mut message);
	message
}

/// Makes node identities for the benchmarks (the runtime's from its keystore).
#[cfg(feature = "runtime-benchmarks")]
pub trait PeerSigner<AccountId> {
	/// A new node's PeerId and its libp2p key's signature of `account`.
	fn peer_identity(account: &AccountId) -> (Vec<u8>, PeerSignature);
}

/// The libp2p PeerId of the ed25519 key `public`: the identity multihash (`00 24`) of the
/// protobuf-encoded key (`08 01` ed25519, `12 20` 32 bytes).
pub fn ed25519_peer_id(public: [u8; 32]) -> Vec<u8> {
	let mut peer_id = PEER_ID_PREFIX.to_vec();
	peer_id.extend_from_slice(&public);
	peer_id
}

/// The ed25519 key of a PeerId, if it is one (see [`ed25519_peer_id`]).
pub fn peer_id_public(peer_id: &[u8]) -> Option<[u8; 32]> {
	peer_id.strip_prefix(&PEER_ID_PREFIX[..])?.try_into().ok()
}

const PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

impl<T: Config> Pallet<T> {
	/// The provider a duty is done for: the signer, or the provider whose duty key signed.
	pub fn duty_origin(origin: OriginFor<T>) -> Result<T::AccountId, DispatchError> {
		let who = ensure_signed(origin)?;
		Ok(DutyKeyProviders::<T>::get(&who).unwrap_or(who))
	}

	/// The signer, refused if it is a duty key: for what only the provider account may do.
	pub fn provider_account(origin: OriginFor<T>) -> Result<T::AccountId, DispatchError> {
		let who = ensure_signed(origin)?;
		ensure!(!DutyKeyProviders::<T>::contains_key(&who), Error::<T>::NeedsProviderAccount);
		Ok(who)
	}

	/// Checks that `peer_id` is a free ed25519 PeerId whose key signed `who`.
	pub(crate) fn check_peer_id(
		who: &T::AccountId,
		peer_id: &PeerIdOf<T>,
		signature: &PeerSignature,
	) -> DispatchResult {
		let public = peer_id_public(peer_id).ok_or(Error::<T>::InvalidPeerId)?;
		ensure!(!PeerIdProviders::<T>::contains_key(peer_id), Error::<T>::PeerIdTaken);
		let signature = sp_core::ed25519::Signature::from_raw(*signature);
		let public = sp_core::ed25519::Public::from_raw(public);
		let valid = sp_io::crypto::ed25519_verify(&signature, &peer_id_message(who), &public);
		ensure!(valid, Error::<T>::InvalidPeerSignature);
		Ok(())
	}

	/// Checks that `duty_key` may act for `who`: not `who` itself, no provider account, no
	/// other provider's duty key (it stays `who`'s own if it already is), and it signed
	/// [`duty_key_message`] of `who`.
	pub(crate) fn check_duty_key(
		who: &T::AccountId,
		duty_key: &T::AccountId,
		signature: &T::DutySignature,
	) -> DispatchResult {
		ensure!(duty_key != who, Error::<T>::DutyKeyIsProviderAccount);
		ensure!(!Providers::<T>::contains_key(duty_key), Error::<T>::DutyKeyTaken);
		if let Some(owner) = DutyKeyProviders::<T>::get(duty_key) {
			ensure!(&owner == who, Error::<T>::DutyKeyTaken);
		}
		let consented = signature.verify(&duty_key_message(who)[..], duty_key);
		ensure!(consented, Error::<T>::InvalidDutyKeySignature);
		Ok(())
	}

	/// Replaces `who`'s duty key with `duty_key`, which signed its consent.
	pub(crate) fn do_set_duty_key(
		who: T::AccountId,
		duty_key: T::AccountId,
		signature: T::DutySignature,
	) -> DispatchResult {
		ensure!(Providers::<T>::contains_key(&who), Error::<T>::NotRegistered);
		Self::check_duty_key(&who, &duty_key, &signature)?;
		if let Some(old) = DutyKeys::<T>::get(&who) {
			DutyKeyProviders::<T>::remove(old);
		}
		DutyKeys::<T>::insert(&who, &duty_key);
		DutyKeyProviders::<T>::insert(&duty_key, &who);
		Self::deposit_event(Event::DutyKeySet { provider: who, duty_key });
		Ok(())
	}

	/// Frees the PeerId and duty key of a provider that left.
	pub(crate) fn forget_identity(who: &T::AccountId, peer_id: &PeerIdOf<T>) {
		PeerIdProviders::<T>::remove(peer_id);
		if let Some(duty_key) = DutyKeys::<T>::take(who) {
			DutyKeyProviders::<T>::remove(duty_key);
		}
	}

	/// Every provider has one duty key and one PeerId that map back to it, and nothing else
	/// is mapped.
	#[cfg(any(feature = "try-runtime", test))]
	pub(crate) fn try_state_identity() -> Result<(), frame::deps::sp_runtime::TryRuntimeError> {
		let providers = Providers::<T>::count();
		for (who, p) in Providers::<T>::iter() {
			ensure!(PeerIdProviders::<T>::get(&p.peer_id) == Some(who.clone()), "PeerId owner");
			let duty_key = DutyKeys::<T>::get(&who).ok_or("provider without duty key")?;
			ensure!(DutyKeyProviders::<T>::get(&duty_key) == Some(who.clone()), "duty key owner");
			ensure!(!Providers::<T>::contains_key(&duty_key), "duty key is a provider");
		}
		ensure!(PeerIdProviders::<T>::iter().count() as u32 == providers, "stray PeerIds");
		ensure!(DutyKeys::<T>::iter().count() as u32 == providers, "stray duty keys");
		ensure!(DutyKeyProviders::<T>::iter().count() as u32 == providers, "stray duty key owners");
		Ok(())
	}
}
