//! The chain service: client, ParityDB backend, transaction pool, network, BABE block
//! production, GRANDPA finality, RPC and the off-chain worker runner.

use datdot_runtime::{opaque::Block, RuntimeApi};
use futures::FutureExt;
use sc_client_api::{Backend, BlockBackend};
use sc_consensus_babe::{BabeWorkerHandle, SlotProportion};
use sc_consensus_grandpa::SharedVoterState;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use std::{sync::Arc, time::Duration};

/// The host functions datdot's runtime needs besides Substrate's: the off-chain worker's
/// window into the replica store (also given to the benchmark CLI).
pub type ExtraHostFunctions = pallet_datdot::offchain::replica_store::HostFunctions;

/// The host functions the runtime may call.
pub type HostFunctions = (sp_io::SubstrateHostFunctions, ExtraHostFunctions);

/// The node executes the runtime from its wasm blob only (no native runtime).
pub type FullClient =
	sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<HostFunctions>>;
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
type FullGrandpaBlockImport =
	sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;

/// GRANDPA justifications are imported and generated at least this often (in blocks).
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// The inherent data BABE blocks carry (timestamp and slot), for authoring and for
/// checking imported blocks.
#[derive(Clone, Copy)]
pub struct BabeInherents {
	slot_duration: sp_consensus_babe::SlotDuration,
}

type BabeInherentProviders =
	(sp_consensus_babe::inherents::InherentDataProvider, sp_timestamp::InherentDataProvider);

#[async_trait::async_trait]
impl sp_inherents::CreateInherentDataProviders<Block, ()> for BabeInherents {
	type InherentDataProviders = BabeInherentProviders;

	async fn create_inherent_data_providers(
		&self,
		_parent: <Block as sp_runtime::traits::Block>::Hash,
		_extra: (),
	) -> Result<BabeInherentProviders, Box<dyn std::error::Error + Send + Sync>> {
		let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
		let slot =
			sp_consensus_babe::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
				*timestamp,
				self.slot_duration,
			);
		Ok((slot, timestamp))
	}
}

/// What `new_partial` builds, shared by the full node and the CLI's chain commands.
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
	(
		sc_consensus_babe::BabeBlockImport<
			Block,
			FullClient,
			FullGrandpaBlockImport,
			BabeInherents,
			FullSelectChain,
		>,
		sc_consensus_babe::BabeLink<Block>,
		BabeWorkerHandle<Block>,
		sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
		Option<Telemetry>,
	),
>;

/// Builds the parts of the service that the chain commands (import, export, revert…) need.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			Vec::new(),
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|x| x.handle()),
	)?;
	let justification_import = grandpa_block_import.clone();

	let babe_config = sc_consensus_babe::configuration(&*client)?;
	let slot_duration = babe_config.slot_duration();
	let (block_import, babe_link) = sc_consensus_babe::block_import(
		babe_config,
		grandpa_block_import,
		client.clone(),
		BabeInherents { slot_duration },
		select_chain.clone(),
		OffchainTransactionPoolFactory::new(transaction_pool.clone()),
	)?;

	let (import_queue, babe_worker_handle) =
		sc_consensus_babe::import_queue(sc_consensus_babe::ImportQueueParams {
			link: babe_link.clone(),
			block_import: block_import.clone(),
			justification_import: Some(Box::new(justification_import)),
			client: client.clone(),
			slot_duration,
			spawner: &task_manager.spawn_essential_handle(),
			registry: config.prometheus_registry(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
		})?;

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (block_import, babe_link, babe_worker_handle, grandpa_link, telemetry),
	})
}

/// Where the node keeps the feeds it serves (`datdot-node feed create|import` write there).
pub fn feeds_dir(config: &Configuration) -> std::path::PathBuf {
	config.data_path.join("datdot").join("feeds")
}

/// Builds and starts the full node.
pub fn new_full<
	N: sc_network::NetworkBackend<Block, <Block as sp_runtime::traits::Block>::Hash>,
>(
	config: Configuration,
	provider: &crate::cli::ProviderParams,
) -> Result<(TaskManager, CleanShutdown), ServiceError> {
	let replica_store = Arc::new(
		datdot_node::store::ReplicaStore::open(
			&config.data_path.join("datdot").join("replicas"),
			provider.store_capacity,
		)
		.map_err(|e| ServiceError::Other(e.to_string()))?,
	);
	let sealer = Arc::new(
		datdot_node::sealing_key::load_or_create(&config.data_path.join("datdot"))
			.map_err(|e| ServiceError::Other(e.to_string()))?,
	);
	let feed_store = Arc::new(
		datdot_node::feeds::FeedStore::open(&feeds_dir(&config))
			.map_err(|e| ServiceError::Other(e.to_string()))?,
	);
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (block_import, babe_link, babe_worker_handle, grandpa_link, mut telemetry),
	} = new_partial(&config)?;

	// The store is open (each replica's meta and file sizes read above). Its contents are
	// checked on every read and by a background scrub, so a full store starts in seconds
	// and the off-chain worker may tell the chain at once that this node's providers are
	// back; a node that never opened the store (another client) never says so.
	if let Some(mut db) = backend.offchain_storage() {
		use codec::Encode;
		use sp_core::offchain::OffchainStorage;
		let key = pallet_datdot::offchain::STORE_CHECKED_KEY;
		db.set(sp_core::offchain::STORAGE_PREFIX, key, &true.encode());
	}
	let clean_shutdown = clean_shutdown(
		backend.offchain_storage(),
		config.offchain_worker.enabled,
		keystore_container.keystore(),
	);
	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as sp_runtime::traits::Block>::Hash,
		N,
	>::new(&config.network, config.prometheus_registry().cloned());
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	let peer_store_handle = net_config.peer_store_handle();
	let genesis_hash = client
		.block_hash(0)
		.ok()
		.flatten()
		.ok_or_else(|| ServiceError::Other("the database has no genesis block".into()))?;
	let grandpa_protocol_name =
		sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
	let (grandpa_protocol_config, grandpa_notification_service) =
		sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
			grandpa_protocol_name.clone(),
			metrics.clone(),
			peer_store_handle,
		);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let datdot_protocols = datdot_node::net::ProtocolNames::new(genesis_hash.as_ref());
	let (blocks_requests, encoded_requests) =
		datdot_node::net::register(&datdot_protocols, &mut net_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::default(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;
	// The libp2p key, read back from where the network read it, signs `register`'s proof
	// that this node serves an account; never if it is not the key the network runs with.
	let node_identity = config
		.network
		.node_key
		.clone()
		.into_keypair()
		.ok()
		.filter(|k| k.public().to_peer_id().to_bytes() == network.local_peer_id().to_bytes());

	// The encoder and hoster workers, and the data plane's servers.
	let peers = {
		let sync = sync_service.clone();
		Arc::new(move || {
			let sync = sync.clone();
			async move {
				sync.peers_info()
					.await
					.map(|peers| peers.into_iter().map(|(peer, _)| peer).collect())
					.unwrap_or_default()
			}
			.boxed()
		})
	};
	let serving =
		Arc::new(datdot_node::serving::NodeFeeds::new(feed_store.clone(), replica_store.clone()));
	let local_providers =
		datdot_node::duty_keys::LocalProviders::new(keystore_container.keystore());
	let workers = datdot_node::worker::Workers::new(
		datdot_node::worker::Parts {
			client: client.clone(),
			network: network.clone(),
			peers,
			local: local_providers.clone(),
			store: replica_store.clone(),
			sealer,
			feeds: feed_store.clone(),
			serving: serving.clone(),
			names: datdot_protocols,
			spawner: task_manager.spawn_handle(),
			max_setup_parts: provider.max_setup_parts as usize,
			major_syncing: {
				let sync = sync_service.clone();
				Arc::new(move || sp_consensus::SyncOracle::is_major_syncing(&*sync))
			},
			offchain_db: {
				let db = std::sync::Mutex::new(backend.offchain_storage());
				Arc::new(move |key: &[u8], value: Option<&[u8]>| {
					use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
					let mut db = db.lock().unwrap_or_else(|e| e.into_inner());
					let Some(db) = db.as_mut() else { return };
					match value {
						Some(value) => db.set(STORAGE_PREFIX, key, value),
						None => db.remove(STORAGE_PREFIX, key),
					}
				})
			},
		},
		config.prometheus_registry(),
	);
	task_manager.spawn_handle().spawn("datdot-workers", Some("datdot"), workers.clone().run());
	let scrub = workers.clone().scrub(provider.scrub_rate * 1_000_000);
	task_manager.spawn_handle().spawn("datdot-store-scrub", Some("datdot"), scrub);
	if provider.hypercore_listen != "off" {
		let seeder = seed_hypercore(
			&provider.hypercore_listen,
			serving,
			workers.clone(),
			keystore_container.keystore(),
			local_providers.clone(),
		)?;
		task_manager.spawn_handle().spawn("datdot-hypercore", Some("datdot"), seeder);
	}
	let w = workers.clone();
	task_manager.spawn_handle().spawn(
		"datdot-blocks-server",
		Some("datdot"),
		datdot_node::net::serve(
			blocks_requests,
			move |_, request| w.answer_blocks(request),
			workers.flood_counter(),
		),
	);
	let w = workers.clone();
	task_manager.spawn_handle().spawn(
		"datdot-encoded-server",
		Some("datdot"),
		datdot_node::net::serve(
			encoded_requests,
			move |peer, request| w.answer_encoded(peer, request),
			workers.flood_counter(),
		),
	);

	// datdot's duties run in off-chain workers on provider nodes, which are usually not
	// validators; `command.rs` enables them by default.
	if config.offchain_worker.enabled {
		let local_replicas = workers.clone();
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: false,
				custom_extensions: move |_| {
					let local: Arc<dyn pallet_datdot::offchain::LocalReplicas> =
						local_replicas.clone();
					vec![Box::new(pallet_datdot::offchain::ReplicaStoreExt(local)) as Box<_>]
				},
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();

	let rpc_extensions_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		let select_chain = select_chain.clone();
		let keystore = keystore_container.keystore();
		let status = workers.clone();
		let datdot_status: Arc<dyn Fn() -> serde_json::Value + Send + Sync> =
			Arc::new(move || status.status());
		let datdot_registration = crate::rpc::registration(
			node_identity,
			workers.sealing_key(),
			keystore_container.keystore(),
		);
		Box::new(move |_| {
			let deps = crate::rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				select_chain: select_chain.clone(),
				babe_worker_handle: babe_worker_handle.clone(),
				keystore: keystore.clone(),
				datdot_status: datdot_status.clone(),
				datdot_registration: datdot_registration.clone(),
			};
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	let _rpc_handlers = sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: Arc::new(network.clone()),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder: rpc_extensions_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	if role.is_authority() {
		let proposer_factory = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		);
		let slot_duration = babe_link.config().slot_duration();
		let babe = sc_consensus_babe::start_babe(sc_consensus_babe::BabeParams {
			keystore: keystore_container.keystore(),
			client: client.clone(),
			select_chain,
			env: proposer_factory,
			block_import,
			sync_oracle: sync_service.clone(),
			justification_sync_link: sync_service.clone(),
			create_inherent_data_providers: BabeInherents { slot_duration },
			force_authoring,
			backoff_authoring_blocks: None::<()>,
			babe_link,
			block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
			max_block_proposal_slot_portion: None,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
		})?;
		// Block production is essential: if it fails, the node stops.
		task_manager.spawn_essential_handle().spawn_blocking(
			"babe-proposer",
			Some("block-authoring"),
			babe,
		);
	}

	if enable_grandpa {
		// Only authorities vote, and only they need the keystore.
		let keystore = if role.is_authority() { Some(keystore_container.keystore()) } else { None };
		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: Duration::from_millis(333),
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			protocol_name: grandpa_protocol_name,
		};
		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: Arc::new(sync_service),
			notification_service: grandpa_notification_service,
			voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
			prometheus_registry,
			shared_voter_state: SharedVoterState::empty(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};
		// Finality is essential: if the voter fails, the node stops.
		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok((task_manager, clean_shutdown))
}

/// What the node does after SIGINT/SIGTERM, before it stops: see [`clean_shutdown`].
pub type CleanShutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// How long a stopping node waits for its providers' pauses to be included.
pub const CLEAN_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest a clean stop (SIGINT/SIGTERM) takes: the wait for the pauses, then the
/// tasks' own shutdown. A second signal stops the node at once.
pub const CLEAN_STOP_BOUND: Duration = Duration::from_secs(90);

/// At start, clears the shutdown flags in off-chain storage and counts a new node run (the
/// off-chain worker's nonce records of earlier runs no longer apply); returns what to run at a clean
/// shutdown: set `datdot/shutting-down`, so that the off-chain worker pauses the node's
/// active providers (`pallet_datdot::offchain`), and wait until it reports none still
/// active (every pause included) or [`CLEAN_SHUTDOWN_TIMEOUT`] passed. Without provider
/// keys or off-chain workers there is nothing to wait for.
fn clean_shutdown<S>(
	offchain_storage: Option<S>,
	offchain_workers: bool,
	keystore: sp_keystore::KeystorePtr,
) -> CleanShutdown
where
	S: sp_core::offchain::OffchainStorage + 'static,
{
	use codec::{Decode, Encode};
	use pallet_datdot::offchain::{NODE_RUN_KEY, SHUTDOWN_HANDLED_KEY, SHUTTING_DOWN_KEY};
	use sp_core::offchain::STORAGE_PREFIX;
	let Some(mut db) = offchain_storage else { return Box::pin(async {}) };
	let runs = db.get(STORAGE_PREFIX, NODE_RUN_KEY).and_then(|b| u64::decode(&mut &b[..]).ok());
	db.set(STORAGE_PREFIX, NODE_RUN_KEY, &runs.unwrap_or(0).wrapping_add(1).encode());
	db.set(STORAGE_PREFIX, SHUTTING_DOWN_KEY, &false.encode());
	db.remove(STORAGE_PREFIX, SHUTDOWN_HANDLED_KEY);
	if !offchain_workers {
		return Box::pin(async {});
	}
	Box::pin(async move {
		// Read now: dev keys are inserted after the service is built.
		if keystore.sr25519_public_keys(pallet_datdot::offchain::KEY_TYPE).is_empty() {
			return;
		}
		db.set(STORAGE_PREFIX, SHUTTING_DOWN_KEY, &true.encode());
		log::info!(
			target: "datdot",
			"pausing this node's providers on chain before stopping (at most {} s)",
			CLEAN_SHUTDOWN_TIMEOUT.as_secs()
		);
		let started = std::time::Instant::now();
		while started.elapsed() < CLEAN_SHUTDOWN_TIMEOUT {
			let handled = db.get(STORAGE_PREFIX, SHUTDOWN_HANDLED_KEY);
			match handled.and_then(|b| <(u64, u32)>::decode(&mut &b[..]).ok()) {
				Some((block, 0)) => {
					log::info!(target: "datdot", "no provider of this node is active as of block {block}; stopping");
					return;
				}
				_ => futures_timer::Delay::new(Duration::from_millis(500)).await,
			}
		}
		log::warn!(
			target: "datdot",
			"stopping although a provider of this node may still be active on chain (its pause was \
			 not included within {} s): it will be challenged and faulted while away; restart the \
			 node soon",
			CLEAN_SHUTDOWN_TIMEOUT.as_secs()
		);
	})
}

/// Binds the hypercore seeder on `addr` (a bind error stops start-up: the operator asked
/// for that address) and returns the task that serves readers there.
fn seed_hypercore<C>(
	addr: &str,
	serving: Arc<datdot_node::serving::NodeFeeds>,
	workers: Arc<datdot_node::worker::Workers<C>>,
	keystore: sp_keystore::KeystorePtr,
	local: Arc<datdot_node::duty_keys::LocalProviders>,
) -> Result<impl std::future::Future<Output = ()>, ServiceError>
where
	C: Send + Sync + 'static,
{
	let listener = std::net::TcpListener::bind(addr)
		.and_then(|l| l.set_nonblocking(true).map(|_| l))
		.map_err(|e| {
			ServiceError::Other(format!(
				"cannot serve hypercore readers on {addr}: {e}; pass another --hypercore-listen \
				 address, or `off`"
			))
		})?;
	let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| addr.into());
	log::info!(target: "datdot", "seeding feeds to hypercore readers on {bound}");
	// The Noise key only encrypts the connection (readers authenticate feeds, not seeders),
	// so a fresh one per start is enough.
	let seed: [u8; 32] = rand::random();
	Ok(async move {
		let listener = match tokio::net::TcpListener::from_std(listener) {
			Ok(l) => l,
			Err(e) => return log::error!(target: "datdot", "hypercore listener: {e}"),
		};
		let hook: datdot_node::hypercore_wire::seeder::ServedHook =
			Arc::new(move |served| workers.served_reader(served));
		let limits = datdot_node::hypercore_wire::Limits::default();
		let signer = datdot_node::serving::contact_signer(keystore, local);
		datdot_node::hypercore_wire::serve(
			listener,
			serving,
			seed,
			limits,
			Some(hook),
			Some(signer),
		)
		.await
	})
}
