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
}

/// Builds the RPC extensions: `system_accountNextIndex`, `payment_queryInfo` & co,
/// `babe_epochAuthorship` and `datdot_nodeStatus` (a feed's hosting status is the runtime
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
	let FullDeps { client, pool, select_chain, babe_worker_handle, keystore, datdot_status } = deps;
	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module.merge(Babe::new(client, babe_worker_handle, keystore, select_chain).into_rpc())?;
	let mut datdot = RpcModule::new(datdot_status);
	datdot.register_method("datdot_nodeStatus", |_, status, _| {
		Ok::<_, jsonrpsee::types::ErrorObjectOwned>(status())
	})?;
	module.merge(datdot)?;
	Ok(module)
}
