//! A provider node's duties that need only chain state and its replica store, run by the
//! runtime's `offchain_worker` hook (design §8): confirming the setups its encoder and
//! hoster workers finished, answering its storage challenges, and saying it is back
//! (`unpause`) after a fault once its store checks out and holds every replica the chain
//! lists for it (releasing those it lost first).
//!
//! The node acts for the providers whose duty keys ([`KEY_TYPE`], sr25519; see
//! [`crate::identity`]) are in its keystore, and only for them, signing with those keys. Segment proofs and finished setups come from the node
//! through the [`replica_store`] host functions; the store itself lives in the node (files
//! with fsync, see the node's `store.rs`), since wasm has no file access and the node's
//! database commits asynchronously. The node's workers do the bulk work (fetch, encode,
//! transfer, store); everything signed goes out from here.

use crate::{
	types::{ProviderStatus, ReplicaState, Role},
	Call, Challenges, Config, DutyKeyProviders, HostedReplicas, Pallet, PerformanceChallenges,
	ProviderOf, Providers, Replicas,
};
use alloc::vec::Vec;
use codec::{Decode, Encode};
use datdot_primitives::{
	encoded::{EncodedRoot, ReplicaId, SegmentProof},
	fraud::EncodingFraudProof,
};
use frame::{
	deps::{
		frame_system::offchain::{Account, SubmitTransaction},
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

/// The keystore key type of providers' duty keys (`datdot-node key insert --key-type dtdt`).
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"dtdt");

/// The duty key's application crypto, and its glue to the runtime's signature types.
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

	/// Signs a provider's duty transactions with its `dtdt` duty key.
	pub struct ProviderKey;

	impl frame::deps::frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for ProviderKey {
		type RuntimeAppPublic = Public;
		type GenericSignature = sr25519::Signature;
		type GenericPublic = sr25519::Public;
	}
}

/// A runtime's session keys can name the pallet for its duty key, so dev nodes (`--alice`,
/// `--bob`, …) hold their dev account's key, which a provider (e.g. `//Bob//stash`)
/// authorises as its duty key.
impl<T: Config> frame::deps::sp_runtime::BoundToRuntimeAppPublic for Pallet<T> {
	type Public = crypto::Public;
}

/// A setup part the node's workers finished: the encoder encoded and streamed the replica,
/// or the hoster verified and durably stored it. The off-chain worker confirms it on chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
pub struct ReadyRoot {
	/// Encoder (`encoding_done`) or hoster (`hosting_started`).
	pub role: Role,
	/// The replica.
	pub id: ReplicaId,
	/// The encoded root to confirm.
	pub root: EncodedRoot,
}

/// The node's replicas as its off-chain worker sees them: the node registers a
/// [`ReplicaStoreExt`] for its off-chain workers.
#[cfg(feature = "std")]
pub trait LocalReplicas: Send + Sync {
	/// The proof of segment `index` of replica `id`, if it is stored here and reads back.
	fn prove(&self, id: &ReplicaId, index: u64) -> Option<SegmentProof>;

	/// The setup parts finished here and not yet seen confirmed on chain.
	fn ready_roots(&self) -> Vec<ReadyRoot>;
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The node's replicas, as the [`replica_store`] host functions see them.
	pub struct ReplicaStoreExt(std::sync::Arc<dyn LocalReplicas>);
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

	/// The setup parts this node's workers finished (empty when it is not a provider node).
	fn ready_roots(&mut self) -> AllocateAndReturnByCodec<Vec<ReadyRoot>> {
		use sp_externalities::ExternalitiesExt;
		self.extension::<ReplicaStoreExt>().map(|s| s.0.ready_roots()).unwrap_or_default()
	}
}

/// The off-chain database key (persistent kind) under which the node's attestor leaves its
/// SCALE-encoded report on performance challenge `challenge` for the off-chain worker.
pub fn report_key(challenge: u64) -> Vec<u8> {
	(b"datdot/report/", challenge).encode()
}

/// Off-chain storage key (persistent kind) where the node's hoster leaves its fraud proofs
/// against encoders, SCALE `Vec<(ReplicaId, EncodingFraudProof)>`, for the off-chain worker
/// to send (`report_bad_encoding`). The node keeps only those of replicas still in setup.
pub const FRAUD_PROOFS_KEY: &[u8] = b"datdot/fraud-proofs";

/// Off-chain storage key (persistent kind) where the node's workers leave the setup parts
/// of local providers that they cannot finish for want of room (a full disk, or a store
/// smaller than the capacity registered), each with its draw's setup deadline, SCALE
/// `Vec<(Role, ReplicaId, BlockNumber)>`: the off-chain worker gives them up
/// (`release_replica`), so the replica is drawn again at once instead of timing out and
/// striking the other party. A later draw of the replica is not given up by this entry.
pub const NO_ROOM_KEY: &[u8] = b"datdot/no-room";

/// The most fraud proofs one off-chain worker run submits (each carries up to a block).
const MAX_FRAUD_PROOFS_PER_RUN: usize = 4;

/// The most setup confirmations one off-chain worker run submits (the rest wait a block).
const MAX_CONFIRMATIONS_PER_RUN: usize = 32;

/// Off-chain storage key (persistent kind) the node sets to `true` once it has opened its
/// replica store (contents are checked on read and by a background scrub): a client that
/// never does (no datdot store) never tells the chain its providers are back.
pub const STORE_CHECKED_KEY: &[u8] = b"datdot/store-checked";

/// Off-chain storage key (persistent kind) the node sets to `true` when it shuts down
/// cleanly, and clears at start: the off-chain worker then pauses the node's active
/// providers, so the chain does not challenge them while the node is away.
pub const SHUTTING_DOWN_KEY: &[u8] = b"datdot/shutting-down";

/// Off-chain storage key (persistent kind) where the off-chain worker records, while the
/// node shuts down, `(block, local providers still active)` (SCALE `(u64, u32)`). The node
/// stops once that count is 0 (every pause included), or after a timeout.
pub const SHUTDOWN_HANDLED_KEY: &[u8] = b"datdot/shutdown-handled";

/// Off-chain storage key (persistent kind): the providers this node paused at a clean
/// shutdown. After its next start (once its store checks out) it unpauses them, and only
/// them: a pause its operator set by hand is left alone.
const PAUSED_BY_NODE_KEY: &[u8] = b"datdot/paused-by-node";

/// Blocks after which a duty transaction that has not taken effect (it was dropped) is
/// submitted again.
const RESUBMIT_AFTER: u32 = 3;

/// Blocks a duty transaction stays valid (its era): longer than the 10-block answer window
/// is useless, so a stale answer dies instead of lingering. The runtime signs duty
/// transactions with this period, and [`DutyNonce`] trusts a pending nonce no longer.
pub const DUTY_TRANSACTION_PERIOD: u32 = 16;

/// Off-chain storage key prefix (persistent kind) of each local duty account's
/// [`DutyNonce`], stored with the [`NODE_RUN_KEY`] it was written in.
const DUTY_NONCE_KEY: &[u8] = b"datdot/nonce/";

/// Off-chain storage key (persistent kind): a counter (SCALE `u64`) the node bumps at every
/// start. Its transaction pool starts empty, so a [`DutyNonce`] of an earlier run counts
/// transactions that are gone (a `kill -9` loses them) and is not used.
pub const NODE_RUN_KEY: &[u8] = b"datdot/node-run";

/// The nonces of one account's duty transactions across off-chain worker runs.
///
/// A run sees only the chain's nonce, which counts included transactions: two runs in
/// consecutive blocks would sign the same nonce, and the later transaction would replace
/// or be refused in favour of the earlier one (a `pause` could displace a challenge
/// answer). So the node remembers the next nonce it will use. A pending transaction that
/// the chain has not taken within [`DUTY_TRANSACTION_PERIOD`] has died (its era ended),
/// and every later one waits behind the gap: the record then falls back to the chain's nonce.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
pub struct DutyNonce<Nonce, BlockNumber> {
	/// The nonce of this node's next transaction for the account.
	pub next: Nonce,
	/// The chain's nonce when last looked at.
	pub chain: Nonce,
	/// The block since which the chain's nonce has stood at `chain` with this node's
	/// transaction of that nonce pending (or since that transaction was signed).
	pub since: BlockNumber,
}

impl<Nonce, BlockNumber> DutyNonce<Nonce, BlockNumber>
where
	Nonce: Copy + Ord + frame::traits::One + core::ops::Add<Output = Nonce>,
	BlockNumber: Copy + Ord + frame::traits::Saturating + From<u32>,
{
	/// The nonce to sign with at block `now` when the chain's nonce is `chain`, and the
	/// record to keep once that transaction is in the pool.
	pub fn take(record: Option<Self>, chain: Nonce, now: BlockNumber) -> (Nonce, Self) {
		let (nonce, since) = match record {
			// Nothing pending, or this node's record is lost: the chain's nonce.
			None => (chain, now),
			Some(r) if r.next <= chain => (chain, now),
			// The chain took some: the rest are still on their way.
			Some(r) if r.chain != chain => (r.next, now),
			// The chain took none for a whole era: the oldest pending one died.
			Some(r) if now >= r.since.saturating_add(DUTY_TRANSACTION_PERIOD.into()) => {
				(chain, now)
			}
			Some(r) => (r.next, r.since),
		};
		(nonce, Self { next: nonce + Nonce::one(), chain, since })
	}
}

/// A provider whose duty key this node holds.
struct LocalProvider<T: Config> {
	/// The provider account.
	who: T::AccountId,
	/// Its record.
	record: ProviderOf<T>,
	/// Its duty key, which signs for it.
	key: Account<T>,
}

/// A duty nonce record as stored: with the node run it belongs to.
type StoredNonce<T> = Result<
	Option<(Option<u64>, DutyNonce<<T as frame_system::Config>::Nonce, BlockNumberFor<T>>)>,
	StorageRetrievalError,
>;

/// What a duty record remembers: which duty (a challenge id, a fault count) and when it
/// was taken up.
type DutyRecord<T> = (u64, BlockNumberFor<T>);

impl<T: Config> Pallet<T> {
	/// Claims duty `duty` of kind `kind` for `provider` at `now`, unless this node took up
	/// the same duty less than [`RESUBMIT_AFTER`] blocks ago. Off-chain workers of consecutive
	/// blocks may overlap, so the claim is an atomic compare-and-set in off-chain storage;
	/// one record per provider and kind, overwritten by the next duty.
	fn claim_duty(kind: &[u8], provider: &T::AccountId, duty: u64, now: BlockNumberFor<T>) -> bool {
		let key = (b"datdot/", kind, provider).encode();
		let record = StorageValueRef::persistent(&key);
		let recent = |sent: Result<Option<DutyRecord<T>>, StorageRetrievalError>| {
			matches!(sent, Ok(Some((last, at)))
				if last == duty && now < at.saturating_add(RESUBMIT_AFTER.into()))
		};
		record.mutate(|sent| if recent(sent) { Err(()) } else { Ok((duty, now)) }).is_ok()
	}

	/// Submits `call` signed by the duty key of `local`, with the next nonce of the key's
	/// [`DutyNonce`] record, and logs the outcome.
	fn submit_duty(local: &LocalProvider<T>, call: Call<T>, what: &str, now: BlockNumberFor<T>) {
		let account = &local.key;
		let key = (DUTY_NONCE_KEY, &account.id).encode();
		let record = StorageValueRef::persistent(&key);
		let run = StorageValueRef::persistent(NODE_RUN_KEY).get::<u64>().ok().flatten();
		let chain = frame_system::Pallet::<T>::account_nonce(&account.id);
		// Compare-and-set: overlapping runs of consecutive blocks never take one nonce twice.
		let mut nonce = chain;
		let taken = record.mutate::<_, (), _>(|stored: StoredNonce<T>| {
			let this_run = stored.ok().flatten().filter(|(r, _)| *r == run).map(|(_, n)| n);
			let (taken, next) = DutyNonce::take(this_run, chain, now);
			nonce = taken;
			Ok((run, next))
		});
		let Ok((_, DutyNonce { next, .. })) = taken else {
			log::warn!(
				target: "datdot",
				"{what} for {:?}: another off-chain worker run took the nonce record; retrying \
				 in {RESUBMIT_AFTER} blocks",
				local.who,
			);
			return;
		};
		let submitted = T::create_signed_transaction::<T::ProviderKey>(
			call.into(),
			account.public.clone(),
			account.id.clone(),
			nonce,
		)
		.ok_or("could not sign it (is its dtdt key in the keystore?)")
		.and_then(|xt| {
			SubmitTransaction::<T, Call<T>>::submit_transaction(xt)
				.map_err(|()| "the transaction pool refused it")
		});
		match submitted {
			Ok(()) => {
				log::info!(target: "datdot", "{what} for {:?}: submitted (nonce {nonce:?})", local.who)
			}
			Err(why) => {
				// Give the nonce back unless a later run already signed with the next one.
				let _ = record.mutate::<_, (), _>(|stored: StoredNonce<T>| match stored {
					Ok(Some((r, n))) if r == run && n.next == next => {
						Ok((r, DutyNonce { next: nonce, ..n }))
					}
					_ => Err(()),
				});
				log::warn!(
					target: "datdot",
					"{what} for {:?}: {why}; retrying in {RESUBMIT_AFTER} blocks",
					local.who,
				);
			}
		}
	}

	/// The node's duties for the providers whose keys it holds, after each imported block.
	pub fn run_provider_duties(now: BlockNumberFor<T>) {
		let store_checked =
			matches!(StorageValueRef::persistent(STORE_CHECKED_KEY).get::<bool>(), Ok(Some(true)));
		let shutting_down =
			matches!(StorageValueRef::persistent(SHUTTING_DOWN_KEY).get::<bool>(), Ok(Some(true)));
		let providers: Vec<_> = Signer::<T, T::ProviderKey>::all_accounts()
			.accounts_from_keys()
			.filter_map(|key| {
				let who = DutyKeyProviders::<T>::get(&key.id)?;
				Some(LocalProvider { record: Providers::<T>::get(&who)?, who, key })
			})
			.collect();
		// Answers first: nothing else this run signs may come before them in the pool.
		for local in &providers {
			if let (ProviderStatus::Active | ProviderStatus::Leaving, Some(id)) =
				(&local.record.status, local.record.open_challenge)
			{
				Self::answer_storage_challenge(local, id, now);
			}
		}
		Self::confirm_setups(&providers, now);
		Self::send_fraud_proofs(&providers, now);
		Self::give_up_setups_without_room(&providers, now);
		Self::send_performance_reports(&providers, now);
		let paused_by_node = StorageValueRef::persistent(PAUSED_BY_NODE_KEY);
		let mut paused: Vec<T::AccountId> = paused_by_node.get().ok().flatten().unwrap_or_default();
		let paused_before = paused.clone();
		let mut still_active = 0u32;
		for local in providers {
			let LocalProvider { who, record: provider, .. } = &local;
			let by_node = paused.contains(who);
			// A provider whose pause budget is used up cannot pause: nothing to wait for.
			let pause_for = if shutting_down {
				let budget: BlockNumberFor<T> = Self::pause_budget(provider).into();
				budget.min(T::MaxPauseBlocks::get())
			} else {
				Zero::zero()
			};
			if shutting_down && provider.status == ProviderStatus::Active {
				if pause_for.is_zero() {
					log::warn!(
						target: "datdot",
						"{who:?} cannot pause: it used its paused blocks of this window; it will be \
						 challenged while the node is down",
					);
					continue;
				}
				still_active += 1;
			}
			match provider.status {
				// Going away cleanly: no challenges while the node is down. The chain refuses a
				// pause while a challenge is open, so an open one's answer went into the pool
				// first (above, or in an earlier run): signed with the next nonce, the pause
				// lands right after it, in the same block, before a new challenge can be
				// issued. Waiting for the answer's inclusion instead left a block in which a
				// new challenge could be issued first, refusing the pause (one in three at a
				// challenge period of 3).
				ProviderStatus::Active if shutting_down => {
					let until = now.saturating_add(pause_for);
					if Self::claim_duty(b"pause", who, 0, now) {
						Self::submit_duty(&local, Call::pause { until }, "pause at shutdown", now);
					}
					if !by_node {
						paused.push(who.clone());
					}
					continue;
				}
				// Back after a clean shutdown, once the store checks out.
				ProviderStatus::Paused { .. } if by_node && !shutting_down && store_checked => {
					if Self::claim_duty(b"resume", who, 0, now) {
						Self::rejoin(&local, "unpause after a restart", now);
					}
					continue;
				}
				ProviderStatus::Paused { .. } => continue,
				// Active (or offline) again: no longer this node's pause to end.
				_ if by_node && !shutting_down => paused.retain(|p| p != who),
				_ => {}
			}
			if provider.status == ProviderStatus::Offline {
				// Back after a fault once the store checks out (design §6: the chain
				// challenges it again and replaces what it lost).
				if store_checked && Self::claim_duty(b"rejoin", who, provider.faults.into(), now) {
					Self::rejoin(&local, "unpause after a fault", now);
				}
			}
		}
		if paused != paused_before {
			paused_by_node.set(&paused);
		}
		if shutting_down {
			let now: u64 = now.unique_saturated_into();
			StorageValueRef::persistent(SHUTDOWN_HANDLED_KEY).set(&(now, still_active));
		}
	}

	/// Says a local provider is back (`unpause`) if its store holds every active replica
	/// the chain lists for it; otherwise releases those it lost (`release_replica`, a small
	/// penalty instead of a failed challenge each) and says it is back once the chain took
	/// the releases (the duty is claimed again a few blocks later).
	fn rejoin(local: &LocalProvider<T>, what: &str, now: BlockNumberFor<T>) {
		let lost: Vec<ReplicaId> = HostedReplicas::<T>::get(&local.who)
			.into_iter()
			.filter(|id| replica_store::storage_proofs(alloc::vec![(*id, 0)]).is_none())
			.collect();
		if lost.is_empty() {
			return Self::submit_duty(local, Call::unpause {}, what, now);
		}
		log::warn!(
			target: "datdot",
			"{:?}: the replica store lacks {} of its replicas; releasing them before it says \
			 it is back",
			local.who,
			lost.len(),
		);
		for id in lost {
			if Self::claim_duty(&(b"release", id).encode(), &local.who, 0, now) {
				let call = Call::release_replica { contract: id.contract, replica: id.replica };
				Self::submit_duty(local, call, "release of a lost replica", now);
			}
		}
	}

	/// Signs and sends the reports the node's attestor left (see [`report_key`]) on the
	/// open performance challenges of local attestors. Open challenges are bounded by
	/// `MaxPerformanceChallengesPerBlock × ReportBlocks`.
	fn send_performance_reports(providers: &[LocalProvider<T>], now: BlockNumberFor<T>) {
		for (id, challenge) in PerformanceChallenges::<T>::iter() {
			let Some(local) = providers.iter().find(|p| p.who == challenge.attestor) else {
				continue;
			};
			let key = report_key(id);
			let stored = StorageValueRef::persistent(&key);
			let Ok(Some(report)) = stored.get::<crate::PerformanceReportOf<T>>() else { continue };
			if challenge.due < now || !Self::claim_duty(b"report", &local.who, id, now) {
				continue;
			}
			let call = Call::report_performance { challenge: id, report };
			Self::submit_duty(local, call, "performance report", now);
		}
	}

	/// Confirms on chain the setup parts the node's workers finished for local providers:
	/// `encoding_done` for an encoder, `hosting_started` for a hoster (sent only once the
	/// replica is durably stored).
	fn confirm_setups(providers: &[LocalProvider<T>], now: BlockNumberFor<T>) {
		for ready in replica_store::ready_roots().into_iter().take(MAX_CONFIRMATIONS_PER_RUN) {
			let ReadyRoot { role, id, root } = ready;
			let Some(replica) = Replicas::<T>::get(id.contract, id.replica) else { continue };
			if !matches!(replica.state, ReplicaState::Setup { .. }) {
				continue;
			}
			let (who, confirmed) = match role {
				Role::Encoder => (&replica.encoder, replica.encoded.is_some()),
				// Not before the encoder's root is on chain (`EncoderNotConfirmed`).
				Role::Hoster if replica.encoded.is_none() => continue,
				Role::Hoster => (&replica.hoster, replica.hosted.is_some()),
			};
			let Some(local) = providers.iter().find(|p| &p.who == who) else { continue };
			// One record per replica and part, so parts of one provider do not displace
			// each other's records.
			let kind = (b"confirm", role, id).encode();
			if confirmed || !Self::claim_duty(&kind, who, 0, now) {
				continue;
			}
			let (contract, replica) = (id.contract, id.replica);
			let (call, what) = match role {
				Role::Encoder => (Call::encoding_done { contract, replica, root }, "encoding_done"),
				Role::Hoster => {
					(Call::hosting_started { contract, replica, root }, "hosting_started")
				}
			};
			Self::submit_duty(local, call, what, now);
		}
	}

	/// Sends the fraud proofs the node's hosters left (see [`FRAUD_PROOFS_KEY`]) against the
	/// encoders of replicas still in setup whose encoder has committed a root.
	fn send_fraud_proofs(providers: &[LocalProvider<T>], now: BlockNumberFor<T>) {
		let stored = StorageValueRef::persistent(FRAUD_PROOFS_KEY);
		let Ok(Some(proofs)) = stored.get::<Vec<(ReplicaId, EncodingFraudProof)>>() else {
			return;
		};
		for (id, proof) in proofs.into_iter().take(MAX_FRAUD_PROOFS_PER_RUN) {
			let Some(replica) = Replicas::<T>::get(id.contract, id.replica) else { continue };
			if !matches!(replica.state, ReplicaState::Setup { .. }) || replica.encoded.is_none() {
				continue;
			}
			let Some(local) = providers.iter().find(|p| p.who == replica.hoster) else {
				continue;
			};
			let kind = (b"fraud", id).encode();
			if !Self::claim_duty(&kind, &replica.hoster, 0, now) {
				continue;
			}
			let (contract, replica) = (id.contract, id.replica);
			let call = Call::report_bad_encoding { contract, replica, proof };
			Self::submit_duty(local, call, "report_bad_encoding", now);
		}
	}

	/// Gives up the setup parts the node's workers have no room for (see [`NO_ROOM_KEY`]):
	/// a hoster's at any time of the setup, an encoder's only before it committed (the
	/// chain refuses it after). The list is bounded by the node's cap on parts at once.
	fn give_up_setups_without_room(providers: &[LocalProvider<T>], now: BlockNumberFor<T>) {
		let stored = StorageValueRef::persistent(NO_ROOM_KEY);
		let Ok(Some(parts)) = stored.get::<Vec<(Role, ReplicaId, BlockNumberFor<T>)>>() else {
			return;
		};
		let mut sent = 0;
		for (role, id, deadline) in parts {
			if sent == MAX_CONFIRMATIONS_PER_RUN {
				break;
			}
			let Some(replica) = Replicas::<T>::get(id.contract, id.replica) else { continue };
			// Only the draw the node found no room for.
			if replica.state != (ReplicaState::Setup { deadline }) {
				continue;
			}
			let who = match role {
				Role::Encoder if replica.encoded.is_some() => continue,
				Role::Encoder => &replica.encoder,
				Role::Hoster => &replica.hoster,
			};
			let Some(local) = providers.iter().find(|p| &p.who == who) else { continue };
			if !Self::claim_duty(&(b"release", id).encode(), who, 0, now) {
				continue;
			}
			let call = Call::release_replica { contract: id.contract, replica: id.replica };
			Self::submit_duty(local, call, "release of a setup without room", now);
			sent += 1;
		}
	}

	/// Answers challenge `id` of the local provider `local` from the replica store with a
	/// signed `submit_storage_proof`.
	fn answer_storage_challenge(local: &LocalProvider<T>, id: u64, now: BlockNumberFor<T>) {
		let Some(challenge) = Challenges::<T>::get(id) else { return };
		// Claimed before the store is read, so the blocks after an answer went out do not
		// read the same segments from disk again.
		if challenge.due < now || !Self::claim_duty(b"answer", &local.who, id, now) {
			return;
		}
		let Some(proofs) = replica_store::storage_proofs(challenge.segments.to_vec()) else {
			log::warn!(
				target: "datdot",
				"challenge {id} of {:?}: the replica store lacks one of its segments; it will \
				 fail unless found within {RESUBMIT_AFTER} blocks (check the node's replica \
				 store and its logs)",
				local.who,
			);
			return;
		};
		let Ok(proofs) = proofs.try_into() else { return };
		let call = Call::submit_storage_proof { challenge: id, proofs };
		Self::submit_duty(local, call, "answer to storage challenge", now);
	}
}
