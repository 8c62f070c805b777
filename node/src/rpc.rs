//! The node's JSON-RPC extensions beyond the standard set sc-service always serves.

use datdot_runtime::{opaque::Block, AccountId, Balance, Nonce};
use jsonrpsee::RpcModule;
use sc_consensus_babe::BabeWorkerHandle;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use sp_consensus::SelectChain;
use sp_keystore::KeystorePtr;
use std::sync::Arc;

/// What the RPC extensions need from the service.
pub struct FullDeps<C, P, SC> {
	/// The client, for runtime API calls.
	pub client: Arc<C>,
	/// The transaction pool, for nonce look-ups.
	pub pool: Arc<P>,
	/// The best-chain selection, for BABE's epoch queries.
	pub select_chain: SC,
	/// The handle of the BABE worker (which stops when the last handle is dropped).
	pub babe_worker_handle: BabeWorkerHandle<Block>,
	/// The node's keystore, to tell which slots its keys can claim.
	pub keystore: KeystorePtr,
	/// What `datdot_nodeStatus` answers: this node's providers, duties and stored replicas.
	pub datdot_status: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
	/// What `datdot_registration` answers for an account (see [`registration`]).
	pub datdot_registration: Registration,
}

/// Answers `datdot_registration(account)`: what `register` takes from this node for that
/// provider account.
pub type Registration = Arc<dyn Fn(AccountId) -> Result<serde_json::Value, String> + Send + Sync>;

/// The node's side of `register` for `account`: its PeerId and libp2p key's signature of
/// the account (`identity`, `None` when the network's key cannot be read back), its sealing
/// key, and the duty keys in its keystore, each with its consent to act for the account
/// (`register`'s `duty_key` and `duty_signature`; the provider picks one).
pub fn registration(
	identity: Option<sc_network::config::ed25519::Keypair>,
	sealing_key: [u8; 256],
	keystore: KeystorePtr,
) -> Registration {
	let to_hex = |bytes: &[u8]| format!("0x{}", datdot_primitives::json::to_hex(bytes));
	Arc::new(move |account: AccountId| {
		let identity = identity.as_ref().ok_or(
			"this node's libp2p key cannot be read back (it runs with a fresh key each start): \
			 start it with --node-key-file or the default key in its base path",
		)?;
		let message = pallet_datdot::identity::peer_id_message(&account);
		let peer_id = pallet_datdot::identity::ed25519_peer_id(identity.public().to_bytes());
		let consent = pallet_datdot::identity::duty_key_message(&account);
		let duty_keys = keystore
			.sr25519_public_keys(pallet_datdot::offchain::KEY_TYPE)
			.into_iter()
			.map(|key| {
				let signature = keystore
					.sr25519_sign(pallet_datdot::offchain::KEY_TYPE, &key, &consent)
					.map_err(|e| format!("the keystore failed to sign with duty key {key}: {e}"))?
					.ok_or_else(|| format!("duty key {key} left the keystore"))?;
				Ok(serde_json::json!({
					"dutyKey": AccountId::from(key).to_string(),
					"dutySignature": { "Sr25519": to_hex(&signature.0) },
				}))
			})
			.collect::<Result<Vec<_>, String>>()?;
		Ok(serde_json::json!({
			"account": account.to_string(),
			"peerId": to_hex(&peer_id),
			"peerSignature": to_hex(&identity.sign(&message)),
			"sealingKey": to_hex(&sealing_key),
			"dutyKeys": duty_keys,
		}))
	})
}

/// Builds the RPC extensions: `system_accountNextIndex`, `payment_queryInfo` & co,
/// `babe_epochAuthorship`, `datdot_nodeStatus` and `datdot_registration` (a feed's hosting status is the runtime
/// API `DatdotApi_plan_status`, callable with `state_call`).
pub fn create_full<C, P, SC>(
	deps: FullDeps<C, P, SC>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>
		+ HeaderBackend<Block>
		+ HeaderMetadata<Block, Error = BlockChainError>
		+ Send
		+ Sync
		+ 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	C::Api: sp_consensus_babe::BabeApi<Block>,
	P: TransactionPool + 'static,
	SC: SelectChain<Block> + Clone + 'static,
{
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use sc_consensus_babe_rpc::{Babe, BabeApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let mut module = RpcModule::new(());
	let FullDeps {
		client,
		pool,
		select_chain,
		babe_worker_handle,
		keystore,
		datdot_status,
		datdot_registration,
	} = deps;
	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module.merge(Babe::new(client, babe_worker_handle, keystore, select_chain).into_rpc())?;
	let mut datdot = RpcModule::new(datdot_status);
	datdot.register_method("datdot_nodeStatus", |_, status, _| {
		Ok::<_, jsonrpsee::types::ErrorObjectOwned>(status())
	})?;
	module.merge(datdot)?;
	let mut registration = RpcModule::new(datdot_registration);
	// Unsafe: the node's key signs any account asked for, so a public endpoint would let
	// anyone register this node's PeerId as theirs (`--rpc-methods unsafe` exposes it).
	registration.register_method("datdot_registration", |params, answer, ext| {
		use jsonrpsee::types::ErrorObjectOwned;
		use sp_core::crypto::Ss58Codec;
		sc_rpc_api::check_if_safe(ext)?;
		let account: String = params.one()?;
		let account = AccountId::from_ss58check(&account).map_err(|e| {
			ErrorObjectOwned::owned(-32602, format!("not an SS58 account: {e:?}"), None::<()>)
		})?;
		answer(account).map_err(|e| ErrorObjectOwned::owned(-32000, e, None::<()>))
	})?;
	module.merge(registration)?;
	Ok(module)
}
