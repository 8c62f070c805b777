//! What this node seeds to hypercore readers (design §8): the feeds it publishes (from the
//! feed store, any block) and the blocks of the replicas it hosts (decoded from the replica
//! store, with the proofs kept at setup). The seeder itself is [`crate::hypercore_wire`].

use crate::{
	feeds::FeedStore,
	hypercore_wire::{discovery_key, FeedSource, ServedFeed},
	store::ReplicaStore,
};
use datdot_primitives::{FeedAuth, Proof};
use std::{
	collections::HashMap,
	sync::{Arc, RwLock},
};

/// The node's feeds and replicas as a [`FeedSource`].
pub struct NodeFeeds {
	feeds: Arc<FeedStore>,
	store: Arc<ReplicaStore>,
	/// Key, signer and fork of the feeds hosted here, by discovery key: the replica store
	/// keeps only feed keys, the chain knows the rest ([`NodeFeeds::learn`]).
	hosted: RwLock<HashMap<[u8; 32], (FeedAuth, u64)>>,
}

impl NodeFeeds {
	/// Serves `feeds` and `store`.
	pub fn new(feeds: Arc<FeedStore>, store: Arc<ReplicaStore>) -> Self {
		NodeFeeds { feeds, store, hosted: RwLock::new(HashMap::new()) }
	}

	/// Records a hosted feed's key, signer and fork as the chain has them.
	pub fn learn(&self, auth: FeedAuth, fork: u64) {
		let dk = discovery_key(&auth.key);
		self.hosted.write().unwrap_or_else(|p| p.into_inner()).insert(dk, (auth, fork));
	}

	/// The key and signer of hosted feed `key`, once learnt from the chain.
	pub fn hosted_auth(&self, key: &[u8; 32]) -> Option<FeedAuth> {
		let hosted = self.hosted.read().unwrap_or_else(|p| p.into_inner());
		hosted.get(&discovery_key(key)).map(|(auth, _)| *auth)
	}
}

impl FeedSource for NodeFeeds {
	fn feed(&self, dk: &[u8; 32]) -> Option<ServedFeed> {
		let published = self.feeds.keys().into_iter().find(|key| discovery_key(key) == *dk);
		if let Some(feed) = published.and_then(|key| self.feeds.get(&key)) {
			let length = feed.length();
			return Some(ServedFeed {
				auth: feed.auth(),
				length,
				fork: feed.fork(),
				held: core::iter::once(0..length).collect(),
			});
		}
		let (auth, fork) = *self.hosted.read().unwrap_or_else(|p| p.into_inner()).get(dk)?;
		let (length, held) = self.store.served_blocks(&auth.key)?;
		Some(ServedFeed { auth, length, fork, held })
	}

	fn block(&self, key: &[u8; 32], length: u64, index: u64) -> Option<Proof> {
		if let Some(feed) = self.feeds.get(key).filter(|f| f.length() == length) {
			return feed
				.block_proof(index)
				.map_err(|e| log::error!(target: "datdot", "serving a hypercore reader: {e}"))
				.ok();
		}
		let auth = self.hosted_auth(key)?;
		match self.store.original_blocks(&auth, length, index..index + 1, 1) {
			Ok(blocks) => blocks?.pop(),
			Err(e) => {
				log::error!(target: "datdot", "serving block {index} to a hypercore reader: {e}");
				None
			}
		}
	}
}

/// Signs proofs of contact for attestors with the hoster's duty key from `keystore` (only
/// for a hoster this node acts for).
pub fn contact_signer(
	keystore: sp_keystore::KeystorePtr,
	local: Arc<crate::duty_keys::LocalProviders>,
) -> crate::hypercore_wire::ContactSigner {
	Arc::new(move |contact: crate::hypercore_wire::Contact| {
		let message = contact_message(contact.challenge, contact.attestor, &contact.hashes);
		let duty_key = local.duty_key(&datdot_runtime::AccountId::from(contact.hoster))?;
		let public = sp_core::sr25519::Public::from_raw(duty_key.into());
		let signature = keystore
			.sr25519_sign(pallet_datdot::offchain::KEY_TYPE, &public, &message)
			.ok()
			.flatten()?;
		Some(signature.0)
	})
}

/// The message a hoster signs for an attestor, as the chain rebuilds it.
pub fn contact_message(challenge: u64, attestor: [u8; 32], hashes: &[[u8; 32]]) -> Vec<u8> {
	let attestor = datdot_runtime::AccountId::from(attestor);
	pallet_datdot::contact_message(challenge, &attestor, hashes)
}
