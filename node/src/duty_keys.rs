//! Whom this node acts for: the providers whose duty keys (`dtdt`, sr25519) are in its
//! keystore, as the chain said at the last best block. The keystore holds no provider
//! account (design §1), so the node asks the chain which provider each key signs for.

use datdot_runtime::{opaque::Block, AccountId};
use pallet_datdot::{offchain::KEY_TYPE, runtime_api::DatdotApi};
use sp_api::ProvideRuntimeApi;
use sp_keystore::KeystorePtr;
use std::sync::{Arc, Mutex};

/// The node's providers, each with the duty key that signs for it.
pub struct LocalProviders {
	keystore: KeystorePtr,
	known: Mutex<Vec<(AccountId, AccountId)>>,
}

impl LocalProviders {
	/// No providers known until the first [`LocalProviders::refresh`].
	pub fn new(keystore: KeystorePtr) -> Arc<Self> {
		Arc::new(Self { keystore, known: Mutex::new(Vec::new()) })
	}

	/// Asks the chain at `hash` whom the keystore's duty keys sign for; returns those
	/// provider accounts (none if the chain cannot say).
	pub fn refresh<C>(
		&self,
		client: &C,
		hash: <Block as sp_runtime::traits::Block>::Hash,
	) -> Option<Vec<AccountId>>
	where
		C: ProvideRuntimeApi<Block>,
		C::Api: DatdotApi<Block, AccountId, datdot_runtime::BlockNumber>,
	{
		let keys: Vec<AccountId> =
			self.keystore.sr25519_public_keys(KEY_TYPE).into_iter().map(AccountId::from).collect();
		let known = if keys.is_empty() {
			Vec::new()
		} else {
			match client.runtime_api().duty_key_providers(hash, keys) {
				Ok(known) => known,
				Err(e) => {
					log::warn!(target: "datdot", "cannot read whom this node's duty keys sign for: {e}");
					return None;
				}
			}
		};
		let providers = known.iter().map(|(_, provider)| provider.clone()).collect();
		*self.known.lock().unwrap_or_else(|p| p.into_inner()) = known;
		Some(providers)
	}

	/// The duty key in this node's keystore that signs for `provider`, if any.
	pub fn duty_key(&self, provider: &AccountId) -> Option<AccountId> {
		let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
		known.iter().find(|(_, p)| p == provider).map(|(key, _)| key.clone())
	}

	/// `(duty key, provider)` for each provider this node acts for.
	pub fn list(&self) -> Vec<(AccountId, AccountId)> {
		self.known.lock().unwrap_or_else(|p| p.into_inner()).clone()
	}
}
