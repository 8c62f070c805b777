//! The encoder and hoster workers (design §5, steps 2–4): native tasks that do a provider
//! node's bulk work for the providers whose duty keys its keystore holds.
//!
//! After each new best block the node asks the runtime (`DatdotApi::setup_duties`) which
//! replicas in setup its providers have a part in, then:
//! - as **encoder**, it gets the original blocks with hypercore proofs (from its own feed
//!   store, or over the blocks protocol from any connected node that serves the feed),
//!   checks each against the feed's signed tree as the chain stores it, encodes it, and
//!   keeps the encoded stream to serve to the replica's hoster;
//! - as **hoster**, it pulls the encoded stream from the encoder's registered PeerId,
//!   decodes and checks every block, and stores the replica durably.
//!
//! A finished part becomes a [`ReadyRoot`]; the runtime's off-chain worker reads those
//! through the `replica_store` host functions and signs the confirmation (`encoding_done`,
//! `hosting_started`). Work stops when its replica leaves setup (active, failed, or past
//! its deadline).

use crate::{
	evidence::Evidence,
	feeds::FeedStore,
	net::{self, BlocksRequest, EncodedRequest, FetchError, ProtocolNames, Refusal},
	replica::{check_block, StreamAcceptor, StreamBlock, StreamEncoder},
	store::{BlockProofs, Part, ReplicaMeta, ReplicaStore},
	stream_log::{StreamHead, StreamLog},
};
use codec::{Decode as _, Encode as _};
use datdot_primitives::{
	encoded::{EncodedRoot, ReplicaId, SegmentProof},
	fraud::EncodingFraudProof,
};
use datdot_runtime::{opaque::Block, AccountId, BlockNumber};
use futures::StreamExt;
use pallet_datdot::{
	offchain::{LocalReplicas, ReadyRoot, FRAUD_PROOFS_KEY, NO_ROOM_KEY},
	runtime_api::DatdotApi,
	types::{FeedState, Role, SetupDuty},
};
use sc_client_api::BlockchainEvents;
use sc_network::{service::traits::NetworkService, PeerId};
use sc_service::SpawnTaskHandle;
use sp_api::ProvideRuntimeApi;
use std::{
	collections::{BTreeMap, BTreeSet},
	ops::Range,
	sync::{Arc, Mutex, RwLock},
	time::{Duration, Instant},
};
use substrate_prometheus_endpoint::{register, Counter, Gauge, PrometheusError, Registry, U64};

type Duty = SetupDuty<AccountId, BlockNumber>;

/// How long a worker waits before asking again after a refusal or a network failure.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How long to wait before renewing a feed's block proofs again after no node had them.
const REFRESH_RETRY: Duration = Duration::from_secs(60);
/// How often a hoster asks for an original block it needs for a fraud proof.
const ORIGINAL_BLOCK_TRIES: usize = 5;
/// How often a running transfer logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Requests a flooder (a test) keeps in flight to each peer: four times what a server
/// answers at once for one peer.
const FLOOD_IN_FLIGHT: usize = 4 * net::MAX_ANSWERING_PER_PEER;

/// How long a transfer may get nothing before it warns (again) what it waits on.
const STALLED_WARN_EVERY: Duration = Duration::from_secs(30);

/// An encoded stream for its hoster: whole, or the part logged so far while it is encoded
/// (every logged block is durable and final, so the hoster checks it meanwhile).
struct Prepared {
	/// The draw it was made for, by its setup deadline: a replica drawn again (after a
	/// timeout) with this node as encoder is a new draw, encoded and confirmed anew.
	deadline: BlockNumber,
	/// The only peer it is served to: the PeerId the hoster registered on chain.
	hoster: PeerId,
	/// The feed blocks it encodes.
	range: Range<u64>,
	/// The stream, one entry per block of `range`, on disk. Reads share it; only the
	/// encoder's appends take it alone.
	stream: RwLock<StreamLog>,
}

impl Prepared {
	fn log(&self) -> std::sync::RwLockReadGuard<'_, StreamLog> {
		self.stream.read().unwrap_or_else(|p| p.into_inner())
	}

	fn log_mut(&self) -> std::sync::RwLockWriteGuard<'_, StreamLog> {
		self.stream.write().unwrap_or_else(|p| p.into_inner())
	}

	/// The blocks of the stream from feed index `from` that fit in `max_bytes`, for `peer`:
	/// only its hoster gets them, and only what is logged (past that, `NotReady`).
	fn serve(&self, peer: PeerId, from: u64, max_bytes: u32) -> Result<Vec<StreamBlock>, Refusal> {
		if peer != self.hoster {
			return Err(Refusal::NotTheHoster);
		}
		if !self.range.contains(&from) {
			return Err(Refusal::OutOfRange);
		}
		let skip = (from - self.range.start) as usize;
		let blocks = self.log().read(skip, max_bytes).map_err(|e| {
			log::error!(target: "datdot", "cannot read an encoded stream to serve it: {e}");
			Refusal::NotReady
		})?;
		// Past what is logged of a stream still being encoded.
		if blocks.is_empty() {
			return Err(Refusal::NotReady);
		}
		Ok(blocks)
	}
}

/// What the workers know, updated after each best block.
#[derive(Default)]
struct State {
	/// The setup parts of local providers, as of the best block.
	duties: BTreeMap<Part, Duty>,
	/// Parts a task is working on.
	running: BTreeSet<Part>,
	/// Parts finished and not yet seen confirmed on chain: the draw (its setup deadline)
	/// and the root to confirm.
	ready: BTreeMap<Part, (BlockNumber, EncodedRoot)>,
	/// Encoded streams this node serves to hosters.
	prepared: BTreeMap<ReplicaId, Arc<Prepared>>,
	/// Streams being encoded, whose logged blocks are served to hosters already (an
	/// encoder task's own: gone when the task ends).
	encoding: BTreeMap<ReplicaId, Arc<Prepared>>,
	/// Feeds whose stored block proofs are being renewed, or wait until the given time
	/// after a try that found no source.
	refreshing: BTreeMap<[u8; 32], Option<Instant>>,
	/// Fraud proofs of local hosters against their encoders, with the committed root each
	/// proves against; kept while that root is the replica's (see [`FRAUD_PROOFS_KEY`]).
	frauds: BTreeMap<ReplicaId, (EncodedRoot, EncodingFraudProof)>,
	/// Parts this node cannot finish (no room for the stream or replica), by draw: not
	/// started again for that draw, which the off-chain worker gives up on chain (see
	/// [`NO_ROOM_KEY`]); a new draw is tried afresh.
	no_room: BTreeMap<Part, BlockNumber>,
	/// Hoster parts whose encoder sent more than the evidence may hold (see
	/// [`Evidence`]), by draw: not started again for that draw, which times out.
	over_bound: BTreeMap<Part, BlockNumber>,
	/// Whether the duties were taken once in this run (see [`State::set_duties`]).
	written_once: bool,
	/// Parts with a stream or reservation in the store that no duty or task needed, by how
	/// many best blocks in a row (see [`State::unneeded`]).
	unneeded_for: BTreeMap<Part, u32>,
}

impl State {
	/// The stream of replica `id` this node serves to its hoster under the current draw,
	/// whole or while it is encoded; `NotReady` while an encoder task has none yet. A
	/// stream made for an earlier draw (its task not stopped yet) is not this draw's.
	fn served_stream(&self, id: &ReplicaId) -> Result<Arc<Prepared>, Refusal> {
		let duty = self.duties.get(&(Role::Encoder, *id));
		let this_draw = |p: &&Arc<Prepared>| duty.is_some_and(|d| d.deadline == p.deadline);
		match self.prepared.get(id).filter(this_draw).or(self.encoding.get(id).filter(this_draw)) {
			Some(p) => Ok(p.clone()),
			None if self.running.contains(&(Role::Encoder, *id)) => Err(Refusal::NotReady),
			None => Err(Refusal::UnknownReplica),
		}
	}
}

/// Best blocks in a row a part's stream must be needed by no duty before it is deleted: a
/// reorg that hides a duty for a block or two must not cost its transfer.
const STREAM_GRACE_BLOCKS: u32 = 3;

impl State {
	/// Of the parts with a stream or reservation in the store (`held`), those no duty or
	/// running task has needed for [`STREAM_GRACE_BLOCKS`] best blocks in a row, counting
	/// this one.
	fn unneeded(&mut self, held: BTreeSet<Part>) -> Vec<Part> {
		let State { duties, running, unneeded_for, .. } = self;
		let needed = |part: &Part| duties.contains_key(part) || running.contains(part);
		unneeded_for.retain(|part, _| held.contains(part) && !needed(part));
		let mut gone = Vec::new();
		for part in held.into_iter().filter(|p| !needed(p)) {
			let blocks = unneeded_for.entry(part).or_default();
			*blocks += 1;
			if *blocks >= STREAM_GRACE_BLOCKS {
				gone.push(part);
			}
		}
		gone
	}

	/// Takes the setup duties of the best block and forgets what belongs to no current
	/// draw. Returns the duties that need a task (marked running; at most `max_parts` of
	/// each role run, earliest deadline first) and whether what the off-chain worker reads
	/// changed: the fraud proofs, and the parts without room.
	fn set_duties(&mut self, duties: Vec<Duty>, max_parts: usize) -> (Vec<Duty>, bool, bool) {
		self.duties = duties.into_iter().map(|d| ((d.role, d.id), d)).collect();
		let State {
			duties,
			running,
			ready,
			prepared,
			frauds,
			no_room,
			over_bound,
			written_once,
			..
		} = self;
		// A root or stream of an earlier draw of the replica is not this draw's: the chain
		// saw the old one confirmed or failed, and the encoder or hoster may be another.
		ready.retain(|part, (draw, _)| {
			duties.get(part).is_some_and(|d| d.deadline == *draw && !d.confirmed)
		});
		prepared.retain(|id, p| {
			duties.get(&(Role::Encoder, *id)).is_some_and(|d| d.deadline == p.deadline)
		});
		let (proven, full) = (frauds.len(), no_room.len());
		// The parts without room an earlier run left for the off-chain worker are replaced
		// once at start (its fraud proofs stay: the chain judges each one anyway).
		let first = !std::mem::replace(written_once, true);
		let this_draw = |part: &Part, draw: &mut BlockNumber| {
			duties.get(part).is_some_and(|d| d.deadline == *draw)
		};
		no_room.retain(this_draw);
		over_bound.retain(this_draw);
		frauds.retain(|id, (root, _)| {
			duties.get(&(Role::Hoster, *id)).is_some_and(|d| d.encoded == Some(*root))
		});
		let mut needed: Vec<&Duty> = duties
			.iter()
			.filter(|&(part, duty)| {
				!running.contains(part)
					&& match part.0 {
						// The hoster may still fetch the stream after the encoder confirmed
						// (also after a restart): keep it served.
						Role::Encoder => {
							!prepared.contains_key(&part.1) && !no_room.contains_key(part)
						}
						// A hoster that proved its encoder cheated waits for the new draw.
						Role::Hoster => {
							!duty.confirmed
								&& !ready.contains_key(part)
								&& !frauds.contains_key(&part.1)
								&& !no_room.contains_key(part)
								&& !over_bound.contains_key(part)
						}
					}
			})
			.map(|(_, duty)| duty)
			.collect();
		needed.sort_by_key(|d| d.deadline);
		// Encoders and hosters have separate caps: a node full of receptions waiting for
		// other nodes' encoders must still encode what those nodes' hosters wait for.
		let busy = |role| running.iter().filter(|(r, _)| *r == role).count();
		let (mut encoders, mut hosters) = (
			max_parts.saturating_sub(busy(Role::Encoder)),
			max_parts.saturating_sub(busy(Role::Hoster)),
		);
		let mut start = Vec::new();
		for duty in needed {
			let room = match duty.role {
				Role::Encoder => &mut encoders,
				Role::Hoster => &mut hosters,
			};
			if *room > 0 {
				*room -= 1;
				running.insert((duty.role, duty.id));
				start.push(duty.clone());
			}
		}
		(start, frauds.len() != proven, first || no_room.len() != full)
	}
}

/// Counters exported on the node's Prometheus endpoint.
struct Metrics {
	encoded_blocks: Counter<U64>,
	accepted_blocks: Counter<U64>,
	served_blocks: Counter<U64>,
	served_encoded_blocks: Counter<U64>,
	bad_answers: Counter<U64>,
	floods: Counter<U64>,
	reader_blocks: Counter<U64>,
	reader_bytes: Counter<U64>,
	reader_refusals: Counter<U64>,
	stored_replicas: Gauge<U64>,
	attested_served: Counter<U64>,
	attested_silent: Counter<U64>,
}

impl Metrics {
	fn register(registry: &Registry) -> Result<Self, PrometheusError> {
		let counter = |name: &str, help: &str| register(Counter::new(name, help)?, registry);
		Ok(Self {
			encoded_blocks: counter(
				"datdot_encoded_blocks_total",
				"Original blocks checked and encoded by this node's encoders",
			)?,
			accepted_blocks: counter(
				"datdot_accepted_blocks_total",
				"Encoded blocks received, decoded and checked by this node's hosters",
			)?,
			served_blocks: counter(
				"datdot_served_blocks_total",
				"Original blocks with proofs served over the blocks protocol",
			)?,
			served_encoded_blocks: counter(
				"datdot_served_encoded_blocks_total",
				"Encoded blocks served to hosters over the encoded protocol",
			)?,
			bad_answers: counter(
				"datdot_bad_answers_total",
				"Chunks of original blocks from peers that did not check out (the peer is \
				 charged reputation and not asked again for that part)",
			)?,
			floods: counter(
				"datdot_refused_floods_total",
				"Requests of the data plane refused because their peer asked faster than its \
				 rate (each costs the peer reputation; the network bans a peer that goes on)",
			)?,
			reader_blocks: counter(
				"datdot_hypercore_served_blocks_total",
				"Blocks served to hypercore readers over the replication protocol",
			)?,
			reader_bytes: counter(
				"datdot_hypercore_served_bytes_total",
				"Bytes of blocks served to hypercore readers",
			)?,
			reader_refusals: counter(
				"datdot_hypercore_refused_requests_total",
				"Requests of hypercore readers answered with noData (not held here)",
			)?,
			stored_replicas: register(
				Gauge::new("datdot_stored_replicas", "Replicas in this node's replica store")?,
				registry,
			)?,
			attested_served: counter(
				"datdot_attested_served_total",
				"Performance challenges this node's attestor found served (reports left to send)",
			)?,
			attested_silent: counter(
				"datdot_attested_silent_total",
				"Performance challenges this node's attestor found the hoster silent",
			)?,
		})
	}
}

/// Logs a transfer's progress: blocks done of total, and MB/s; and what it waits on when
/// nothing comes.
struct Progress {
	what: &'static str,
	id: ReplicaId,
	total: u64,
	done: u64,
	bytes: u64,
	started: Instant,
	logged: Instant,
	/// The last chunk done, or the last time it said none came.
	moved: Instant,
}

impl Progress {
	fn new(what: &'static str, id: ReplicaId, total: u64) -> Self {
		let now = Instant::now();
		Self { what, id, total, done: 0, bytes: 0, started: now, logged: now, moved: now }
	}

	/// A request brought nothing (`why`): after [`STALLED_WARN_EVERY`] of that, says so, so
	/// a part that waits says on what instead of waiting silently until its setup deadline.
	/// An encoder still encoding is the expected wait (info); anything else warns.
	fn stalled(&mut self, why: &FetchError) {
		if self.moved.elapsed() >= STALLED_WARN_EVERY {
			let level = match why {
				FetchError::Refused { refusal: Refusal::NotReady, .. } => log::Level::Info,
				_ => log::Level::Warn,
			};
			log::log!(
				target: "datdot",
				level,
				"{} replica {}/{}: nothing for {} s at block {}/{} ({why}); still asking",
				self.what,
				self.id.contract,
				self.id.replica,
				self.moved.elapsed().as_secs(),
				self.done,
				self.total,
			);
			self.moved = Instant::now();
		}
	}

	/// Restarts the clock (the first request answered: waiting for the peer to be ready is
	/// not transfer time).
	fn restart_clock(&mut self, at: Instant) {
		if self.done == 0 {
			self.started = at;
		}
	}

	/// `blocks` more blocks of `bytes` bytes are done (a chunk).
	fn add(&mut self, blocks: u64, bytes: usize) {
		self.done += blocks;
		self.bytes += bytes as u64;
		self.moved = Instant::now();
		if self.done == self.total || self.logged.elapsed() >= PROGRESS_EVERY {
			self.logged = Instant::now();
			let secs = self.started.elapsed().as_secs_f64().max(1e-3);
			log::info!(
				target: "datdot",
				"{} replica {}/{}: {}/{} blocks, {:.1} MB in {:.1} s, {:.1} MB/s",
				self.what,
				self.id.contract,
				self.id.replica,
				self.done,
				self.total,
				self.bytes as f64 / 1e6,
				secs,
				self.bytes as f64 / 1e6 / secs,
			);
		}
	}
}

/// What the workers work with, from the node's service.
pub struct Parts<C> {
	/// The client: best blocks and the runtime API.
	pub client: Arc<C>,
	/// The network, for the data plane's requests.
	pub network: Arc<dyn NetworkService>,
	/// Lists the connected peers (where feeds are looked for).
	pub peers: Arc<dyn Fn() -> futures::future::BoxFuture<'static, Vec<PeerId>> + Send + Sync>,
	/// The providers this node acts for: those whose duty keys are in its keystore.
	pub local: Arc<crate::duty_keys::LocalProviders>,
	/// The replica store.
	pub store: Arc<ReplicaStore>,
	/// The node's private sealing key (its encodings are sealed with it).
	pub sealer: Arc<datdot_primitives::sealing::Sealer>,
	/// The feed store.
	pub feeds: Arc<FeedStore>,
	/// What the node seeds to hypercore readers; told the chain's view of hosted feeds.
	pub serving: Arc<crate::serving::NodeFeeds>,
	/// The data plane's protocol names.
	pub names: ProtocolNames,
	/// Where the setup tasks are spawned.
	pub spawner: SpawnTaskHandle,
	/// The most setup parts of one role running at once (`--max-setup-parts`).
	pub max_setup_parts: usize,
	/// Whether the node is catching up with the chain: then the best block is old news,
	/// and replicas it does not list yet must not be deleted.
	pub major_syncing: Arc<dyn Fn() -> bool + Send + Sync>,
	/// Writes the node's side of the off-chain database, where the off-chain worker finds
	/// the attestor's reports and the hosters' fraud proofs.
	pub offchain_db: crate::attest::ReportSink,
}

/// The node's encoder and hoster workers, and the servers of its data plane.
pub struct Workers<C> {
	parts: Parts<C>,
	state: Mutex<State>,
	metrics: Option<Metrics>,
	attestor: Arc<crate::attest::Attestor>,
	/// Sends the data plane's requests on `parts.network`.
	requests: net::Requester,
}

/// A part's task is running while this lives.
struct Running<'a, C>(&'a Workers<C>, Part);

impl<C> Drop for Running<'_, C> {
	fn drop(&mut self) {
		let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
		state.running.remove(&self.1);
		if self.1 .0 == Role::Encoder {
			state.encoding.remove(&self.1 .1);
		}
	}
}

impl<C> Workers<C>
where
	C: ProvideRuntimeApi<Block> + BlockchainEvents<Block> + Send + Sync + 'static,
	C::Api: DatdotApi<Block, AccountId, BlockNumber>,
{
	/// The workers, exporting their metrics to `registry` if given.
	pub fn new(parts: Parts<C>, registry: Option<&Registry>) -> Arc<Self> {
		let metrics = registry.and_then(|r| {
			Metrics::register(r)
				.map_err(|e| log::warn!(target: "datdot", "no datdot metrics: {e}"))
				.ok()
		});
		let counters =
			metrics.as_ref().map(|m| (m.attested_served.clone(), m.attested_silent.clone()));
		let attestor = crate::attest::Attestor::new(parts.offchain_db.clone(), counters);
		let _ = misbehaviour();
		let requests = net::Requester::new(Box::new(parts.network.clone()));
		Arc::new(Self { parts, state: Mutex::default(), metrics, attestor, requests })
	}

	/// Follows the best chain and starts the work each new best block brings.
	pub async fn run(self: Arc<Self>) {
		if misbehaviour() == Some(Misbehaviour::Flooder) {
			let flood = self.clone().flood();
			self.parts.spawner.spawn("datdot-flood", Some("datdot"), flood);
		}
		let mut blocks = self.parts.client.import_notification_stream();
		while let Some(block) = blocks.next().await {
			if block.is_new_best {
				self.on_best_block(block.hash);
			}
		}
	}

	/// A flooder (a test): asks each connected peer for blocks of a feed nobody serves,
	/// [`FLOOD_IN_FLIGHT`] requests at once past any lane ([`Workers::flood_peer`]); logs
	/// what came of them every 10 s.
	async fn flood(self: Arc<Self>) {
		let outcomes = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
		let mut flooded = BTreeSet::new();
		for second in 0u64.. {
			for peer in (self.parts.peers)().await {
				if flooded.insert(peer) {
					for _ in 0..FLOOD_IN_FLIGHT {
						let flood = self.clone().flood_peer(peer, outcomes.clone());
						self.parts.spawner.spawn("datdot-flood", Some("datdot"), flood);
					}
				}
			}
			if second % 10 == 9 {
				let so_far = outcomes.lock().unwrap_or_else(|p| p.into_inner()).clone();
				log::warn!(target: "datdot", "TEST ONLY: flooded {} peers: {so_far:?}", flooded.len());
			}
			futures_timer::Delay::new(Duration::from_secs(1)).await;
		}
	}

	/// One of a flooder's request loops to `peer`: asks again as soon as answered, a second
	/// after a failure, and counts each outcome in `outcomes`.
	async fn flood_peer(
		self: Arc<Self>,
		peer: PeerId,
		outcomes: Arc<Mutex<BTreeMap<String, u64>>>,
	) {
		use net::SendRequest as _;
		let request = BlocksRequest { feed: [0xf1; 32], length: 1, start: 0, end: 1, max_bytes: 1 };
		let (network, blocks, payload) =
			(&self.parts.network, &self.parts.names.blocks, request.encode());
		loop {
			let connect = sc_network::IfDisconnected::TryConnect;
			let send = network.send(peer, blocks.clone(), payload.clone(), connect);
			// A request litep2p lost would hold this loop for ever.
			let sent = tokio::time::timeout(net::WHOLE_REQUEST_TIMEOUT, send).await;
			let outcome = match &sent {
				Ok(Ok(answer)) => match net::BlocksResponse::decode(&mut &answer[..]) {
					Ok(Err(refusal)) => format!("{refusal:?}"),
					_ => "answered".into(),
				},
				Ok(Err(e)) => format!("{e:?}"),
				Err(_) => "abandoned".into(),
			};
			*outcomes.lock().unwrap_or_else(|p| p.into_inner()).entry(outcome).or_default() += 1;
			// Refused by the network (banned, say): asking again at once would spin on this
			// node's own cores.
			if !matches!(sent, Ok(Ok(_))) {
				futures_timer::Delay::new(Duration::from_secs(1)).await;
			}
		}
	}

	/// Reads the local providers' setup duties at `hash` and starts what is not done.
	fn on_best_block(self: &Arc<Self>, hash: <Block as sp_runtime::traits::Block>::Hash) {
		let accounts = self.parts.local.refresh(&*self.parts.client, hash);
		self.metric(|m| m.stored_replicas.set(self.parts.store.replica_count() as u64));
		self.refresh_proofs(hash);
		// A failed read changes nothing; no local provider (any more: unregistered, or its
		// duty key rotated away) ends this node's parts and attestations, which would
		// otherwise wait for ever on the last duties read. Nothing stored is deleted then:
		// a rotated key's successor may be on chain a block later.
		let Some(accounts) = accounts else { return };
		let acts_for_someone = !accounts.is_empty();
		let spawner = self.parts.spawner.clone();
		let spawn_attestation = |task| spawner.spawn("datdot-attest", Some("datdot"), task);
		let duties = if accounts.is_empty() {
			self.attestor.on_duties(Vec::new(), spawn_attestation);
			Vec::new()
		} else {
			self.prune_store(hash, accounts.clone());
			match self.parts.client.runtime_api().performance_duties(hash, accounts.clone()) {
				Ok(duties) => self.attestor.on_duties(duties, spawn_attestation),
				Err(e) => log::warn!(target: "datdot", "cannot read this node's attestations: {e}"),
			}
			match self.parts.client.runtime_api().setup_duties(hash, accounts) {
				Ok(duties) => duties,
				Err(e) => {
					log::warn!(target: "datdot", "cannot read this node's setup duties: {e}");
					return;
				}
			}
		};
		let start = {
			let mut state = self.state();
			let (start, frauds_changed, no_room_changed) =
				state.set_duties(duties, self.parts.max_setup_parts);
			if frauds_changed {
				self.write_frauds(&state);
			}
			if no_room_changed {
				self.write_no_room(&state);
			}
			start
		};
		if acts_for_someone {
			// Directory listings and deletes of streams (up to a replica each) stay off
			// the block-import task.
			let workers = self.clone();
			self.parts.spawner.spawn_blocking("datdot-prune", Some("datdot"), async move {
				workers.prune_streams()
			});
		}
		for duty in start {
			let workers = self.clone();
			// Encoding and checking are CPU work: each part gets a blocking thread.
			self.parts.spawner.spawn_blocking("datdot-setup", Some("datdot"), async move {
				let part = (duty.role, duty.id);
				// Even if the task panics, the part is free to start again.
				let _running = Running(&workers, part);
				let result = match duty.role {
					Role::Encoder => workers.encode(&duty).await,
					Role::Hoster => workers.host(&duty).await,
				};
				match result {
					Ok(Some(root)) => {
						workers.state().ready.insert(part, (duty.deadline, root));
					}
					Ok(None) => {}
					Err(e) => log::error!(
						target: "datdot",
						"{:?} of replica {}/{} failed: {e}",
						duty.role,
						duty.id.contract,
						duty.id.replica,
					),
				}
			});
		}
	}

	/// Deletes the stored replicas the chain no longer lists for a local provider (their
	/// plan ended, or they were replaced, released or their setup failed), so the disk
	/// frees what the chain freed. Not while syncing, and not a replica a task works on.
	fn prune_store(
		&self,
		hash: <Block as sp_runtime::traits::Block>::Hash,
		accounts: Vec<AccountId>,
	) {
		if (self.parts.major_syncing)() {
			return;
		}
		let listed: BTreeSet<ReplicaId> =
			match self.parts.client.runtime_api().hosted_replicas(hash, accounts) {
				Ok(ids) => ids.into_iter().collect(),
				Err(e) => {
					log::warn!(target: "datdot", "cannot read the replicas this node keeps: {e}");
					return;
				}
			};
		let busy: BTreeSet<ReplicaId> = self.state().running.iter().map(|(_, id)| *id).collect();
		for id in self.parts.store.ids() {
			if listed.contains(&id) || busy.contains(&id) {
				continue;
			}
			match self.parts.store.remove(&id) {
				Ok(()) => log::info!(
					target: "datdot",
					"deleted replica {}/{}: the chain no longer lists it for this node (its \
					 plan ended, or it was replaced, released or its setup failed)",
					id.contract,
					id.replica,
				),
				Err(e) => log::warn!(
					target: "datdot",
					"cannot delete replica {}/{}, which the chain no longer lists: {e}",
					id.contract,
					id.replica,
				),
			}
		}
	}

	/// Deletes the streams on disk (encoded, or being received) that no current draw of a
	/// local provider resumes or serves, and lets go of the store's reservations for them:
	/// their setup ended (the replica is active, or the draw failed) or another provider
	/// took the part. Not while syncing, when the duties read are old.
	fn prune_streams(&self) {
		if (self.parts.major_syncing)() {
			return;
		}
		let store = &self.parts.store;
		let held: BTreeSet<Part> = [Role::Encoder, Role::Hoster]
			.into_iter()
			.flat_map(|role| store.stream_logs(role).into_iter().map(move |id| (role, id)))
			.chain(store.reserved_parts())
			.collect();
		let unneeded = self.state().unneeded(held);
		for (role, id) in unneeded {
			store.release(role, &id);
			match store.remove_stream_log(role, &id) {
				Ok(()) => log::debug!(
					target: "datdot",
					"deleted the {role:?} stream of replica {}/{}: no draw needs it",
					id.contract,
					id.replica,
				),
				Err(e) => log::warn!(target: "datdot", "cannot delete a stream: {e}"),
			}
		}
	}

	/// Scrubs the replica store for ever: a pass at `bytes_per_sec`, then 10 minutes' rest
	/// (a small store is not re-read over and over).
	pub async fn scrub(self: Arc<Self>, bytes_per_sec: u64) {
		if misbehaviour() == Some(Misbehaviour::UncheckedStore) {
			return;
		}
		loop {
			if let Err(e) = self.parts.store.scrub_pass(bytes_per_sec).await {
				log::error!(target: "datdot", "replica store scrub failed: {e}; retrying later");
			}
			tokio::time::sleep(Duration::from_secs(600)).await;
		}
	}

	/// Starts a task per feed whose stored block proofs are against a shorter tree than the
	/// chain's (the feed grew), so that this node keeps serving the blocks it hosts.
	fn refresh_proofs(self: &Arc<Self>, hash: <Block as sp_runtime::traits::Block>::Hash) {
		for feed in self.parts.store.served_feeds() {
			match self.state().refreshing.get(&feed) {
				Some(None) => continue,
				Some(Some(retry_at)) if Instant::now() < *retry_at => continue,
				_ => {}
			}
			let Ok(Some(state)) = self.parts.client.runtime_api().feed_state(hash, feed) else {
				continue;
			};
			self.parts.serving.learn(state.auth, state.fork);
			let stale = self.parts.store.stale_proofs(&feed, state.length);
			if stale.is_empty() {
				self.state().refreshing.remove(&feed);
				continue;
			}
			self.state().refreshing.insert(feed, None);
			let workers = self.clone();
			self.parts.spawner.spawn_blocking("datdot-proofs", Some("datdot"), async move {
				let mut failed = false;
				for meta in stale {
					if let Err(e) = workers.refresh_replica(&state, &meta).await {
						log::warn!(
							target: "datdot",
							"cannot renew the block proofs of replica {}/{} for length {}: {e}; \
							 trying again in a minute",
							meta.id.contract,
							meta.id.replica,
							state.length,
						);
						failed = true;
					}
				}
				let retry_at = failed.then(|| Instant::now() + REFRESH_RETRY);
				let mut s = workers.state();
				match retry_at {
					Some(at) => s.refreshing.insert(feed, Some(at)),
					None => s.refreshing.remove(&feed),
				};
			});
		}
	}

	/// Fetches hypercore's proofs of replica `meta`'s blocks against the chain's tree
	/// `state` (from the publisher or another hoster that serves that length), checks them,
	/// and stores them in place of the old ones.
	async fn refresh_replica(&self, state: &FeedState, meta: &ReplicaMeta) -> Result<(), String> {
		let range = meta.blocks();
		let mut proofs = Vec::with_capacity(meta.block_lens.len());
		let (mut sources, mut misses) = (Sources::default(), 0);
		loop {
			let next = range.start + proofs.len() as u64;
			if next >= range.end {
				break;
			}
			let Some(chunk) = self.original_blocks(state, next..range.end, &mut sources).await
			else {
				misses += 1;
				if misses >= 3 {
					return Err("no connected node serves the new length".into());
				}
				futures_timer::Delay::new(RETRY_AFTER).await;
				continue;
			};
			for proof in chunk {
				let index = range.start + proofs.len() as u64;
				if let Err(e) = check_block(state, index, &proof) {
					self.bad_source(&mut sources, &e, meta.id)?;
					break;
				}
				proofs.push(proof);
			}
		}
		let renewed = BlockProofs { length: state.length, proofs };
		self.parts.store.replace_proofs(&meta.id, &renewed).map_err(|e| e.to_string())?;
		log::info!(
			target: "datdot",
			"renewed the block proofs of replica {}/{} for the feed's length {}",
			meta.id.contract,
			meta.id.replica,
			state.length,
		);
		Ok(())
	}

	fn still_due(&self, part: &Part) -> bool {
		self.state().duties.contains_key(part)
	}

	/// Encoder: fetches, checks and encodes the replica's blocks; keeps the stream to serve
	/// to the hoster. Returns the root to confirm, or `None` if it stopped being due.
	async fn encode(&self, duty: &Duty) -> Result<Option<EncodedRoot>, String> {
		let hoster = PeerId::from_bytes(&duty.hoster_peer)
			.map_err(|e| format!("the hoster's registered PeerId is invalid: {e}"))?;
		let range = duty.blocks.start..duty.blocks.end;
		let head = StreamHead::new(&duty.feed, duty.id, &range, *self.parts.sealer.key());
		let log = self.open_stream(duty, head).await?;
		let mut encoder = StreamEncoder::new(
			duty.feed.clone(),
			duty.id,
			range.clone(),
			self.parts.sealer.clone(),
			(log.len(), log.segments()),
		);
		// Served to the hoster as it grows, so receiving overlaps encoding.
		let stream = Arc::new(Prepared {
			deadline: duty.deadline,
			hoster,
			range: range.clone(),
			stream: RwLock::new(log),
		});
		self.state().encoding.insert(duty.id, stream.clone());
		let mut progress = Progress::new("encoding", duty.id, range.end - range.start);
		let mut sources = Sources::default();
		// The one block a garbage encoder (a test) spoils: the second, or the only one.
		let garbage = (misbehaviour() == Some(Misbehaviour::GarbageEncoder))
			.then(|| range.start + 1.min((range.end - range.start).saturating_sub(1)));
		// The chunk after the one in hand is fetched while that one is checked, sealed and
		// logged, with who gave it: a request's round trip overlaps the sealing before it.
		let mut ahead = None;
		while let Some(next) = encoder.next_index() {
			if !self.still_due(&(Role::Encoder, duty.id)) {
				return Ok(None);
			}
			let fetched = match ahead.take() {
				Some((at, fetched, gave)) if at == next => {
					sources.gave = gave;
					fetched
				}
				_ => self.original_blocks(&duty.feed, next..range.end, &mut sources).await,
			};
			let Some(proofs) = fetched else {
				futures_timer::Delay::new(RETRY_AFTER).await;
				continue;
			};
			let bytes: usize =
				proofs.iter().map(|p| p.block.as_ref().map_or(0, |b| b.value.len())).sum();
			let after = next + proofs.len() as u64;
			let gave = sources.gave;
			let appending = stream.clone();
			let seal = on_blocking_thread(move || {
				let mut sealed = Vec::with_capacity(proofs.len());
				let mut added = Ok(());
				for proof in proofs {
					let index = encoder.next_index();
					match encoder.add(proof) {
						Ok(mut block) => {
							if index == garbage {
								seal_garbage(&mut block);
							}
							sealed.push(block);
						}
						Err(e) => {
							added = Err(e);
							break;
						}
					}
				}
				let logged = appending.log_mut().append(&sealed);
				(encoder, logged.map(|()| added))
			});
			let ask_ahead = async {
				match after < range.end {
					true => {
						let fetched =
							self.original_blocks(&duty.feed, after..range.end, &mut sources).await;
						Some((after, fetched, sources.gave))
					}
					false => None,
				}
			};
			let (sealed, next_chunk) = futures::join!(seal, ask_ahead);
			let (back, added) = sealed?;
			encoder = back;
			sources.gave = gave;
			let added = added.map_err(|e| {
				// The stream's lock is let go before `cannot_store` takes the state's.
				let e = stream_error(&stream.log(), e);
				self.cannot_store(duty, e)
			})?;
			let blocks = encoder.next_index().unwrap_or(range.end) - next;
			self.metric(|m| m.encoded_blocks.inc_by(blocks));
			match added {
				Ok(()) => {
					progress.add(blocks, bytes);
					ahead = next_chunk;
				}
				// The blocks before the bad one are kept; the rest come from another source
				// (the chunk fetched meanwhile may be the same peer's: it is dropped).
				Err(e) => self.bad_source(&mut sources, &e, duty.id)?,
			}
		}
		let finished = stream.clone();
		let root = on_blocking_thread(move || finished.log().root()).await?;
		let root = root.map_err(|e| {
			let e = stream_error(&stream.log(), e);
			self.cannot_store(duty, e)
		})?;
		let mut state = self.state();
		state.encoding.remove(&duty.id);
		state.prepared.insert(duty.id, stream);
		drop(state);
		log::info!(
			target: "datdot",
			"encoded replica {}/{}: {} segments, root {}; serving it to hoster {hoster}",
			duty.id.contract,
			duty.id.replica,
			root.segments,
			datdot_primitives::json::to_hex(&root.root),
		);
		Ok(Some(root))
	}

	/// Opens `role`'s stream `head` on disk, resuming what an earlier run of this draw
	/// logged, once the room the chain holds for it is held in the store too.
	async fn open_stream(&self, duty: &Duty, head: StreamHead) -> Result<StreamLog, String> {
		let (id, role) = (head.id, duty.role);
		// A part already confirmed on chain (an encoder restarted with less room) is not
		// given up: the chain no longer lets it, and its stream is on disk already.
		if let Err(e) = self.parts.store.reserve(role, id, duty.reserved) {
			if !duty.confirmed {
				return Err(self.cannot_store(duty, e));
			}
			log::warn!(
				target: "datdot",
				"replica {}/{}: keeping the confirmed {role:?} stream although the store is \
				 over its capacity: {e}",
				id.contract,
				id.replica,
			);
		}
		let store = self.parts.store.clone();
		let log = on_blocking_thread(move || store.stream_log(role, head))
			.await?
			.map_err(|e| self.cannot_store(duty, e))?;
		if !log.is_empty() {
			log::info!(
				target: "datdot",
				"replica {}/{}: resuming the {} after block {} ({} bytes kept on disk)",
				id.contract,
				id.replica,
				match role {
					Role::Encoder => "encoding",
					Role::Hoster => "reception",
				},
				log.len(),
				log.data_len(),
			);
		}
		Ok(log)
	}

	/// Original blocks of `range` with proofs: from the local feed store or a local replica
	/// if either serves the feed at the chain's length, else from the last peer that gave
	/// some or any connected peer that does — a publisher or a hoster — except the peers
	/// that gave blocks that did not check out (`sources` remembers both, and who gave
	/// this chunk). `None` if nobody had them this time.
	async fn original_blocks(
		&self,
		feed: &FeedState,
		range: Range<u64>,
		sources: &mut Sources,
	) -> Option<Vec<datdot_primitives::Proof>> {
		sources.gave = None;
		// Local copies are read off the async threads (disk reads there stall the node's
		// other tasks); a local feed that cannot be read leaves the blocks to peers.
		let (feeds, store, auth, wanted) =
			(self.parts.feeds.clone(), self.parts.store.clone(), feed.auth, range.clone());
		let length = feed.length;
		let local = on_blocking_thread(move || {
			if let Some(local) = feeds.get(&auth.key).filter(|f| f.length() == length) {
				return Ok(blocks_chunk(&local, wanted, net::CHUNK_BYTES as u32).ok());
			}
			store.original_blocks(&auth, length, wanted, net::CHUNK_BYTES)
		})
		.await;
		match local {
			Ok(Ok(Some(proofs))) => return Some(proofs),
			Ok(Ok(None)) => {}
			// A damaged local copy: the blocks come from peers instead.
			Ok(Err(e)) => {
				log::warn!(target: "datdot", "{e}; asking other nodes for these blocks")
			}
			Err(e) => log::warn!(target: "datdot", "reading local blocks: {e}"),
		}
		let request = BlocksRequest {
			feed: feed.auth.key,
			length: feed.length,
			start: range.start,
			end: range.end,
			max_bytes: sources.chunk.get(),
		};
		let last = sources.last;
		let mut candidates: Vec<PeerId> = last.iter().copied().collect();
		candidates.extend((self.parts.peers)().await.into_iter().filter(|p| Some(*p) != last));
		for peer in candidates.into_iter().filter(|p| !sources.shunned.contains(p)) {
			let (answer, took) =
				self.requests.request(peer, &self.parts.names.blocks, &request).await;
			match answer {
				Ok(proofs) => {
					let proofs: Vec<datdot_primitives::Proof> = proofs;
					sources.chunk.answered(took);
					if !proofs.is_empty() {
						(sources.last, sources.gave) = (Some(peer), Some(peer));
						return Some(proofs);
					}
				}
				Err(FetchError::Refused { refusal: Refusal::UnknownFeed, .. }) => {}
				Err(e) => {
					if e.is_timeout() {
						sources.chunk.timed_out();
					}
					log::debug!(target: "datdot", "blocks from {peer}: {e}")
				}
			}
		}
		log::warn!(
			target: "datdot",
			"no connected node serves feed {} at length {}; retrying (the publisher's node, or a \
			 hoster of these blocks, must be connected: `datdot-node feed import`/`feed create`)",
			datdot_primitives::json::to_hex(&feed.auth.key),
			feed.length,
		);
		sources.last = None;
		None
	}

	/// The blocks `sources` last gave did not check out (`error`): that peer pays in
	/// reputation and is not asked again for this part. An error that is not the sender's
	/// fault, or blocks from this node's own stores, end the part.
	fn bad_source(
		&self,
		sources: &mut Sources,
		error: &crate::replica::StreamError,
		id: ReplicaId,
	) -> Result<(), String> {
		let Some(peer) = sources.gave.filter(|_| error.is_senders_fault()) else {
			return Err(format!("the feed's blocks do not check out: {error}"));
		};
		log::warn!(
			target: "datdot",
			"replica {}/{}: peer {peer} sent original blocks that do not check out ({error}); \
			 keeping the blocks checked so far and asking other peers",
			id.contract,
			id.replica,
		);
		self.parts.network.report_peer(peer, net::BAD_ANSWER_COST);
		self.metric(|m| m.bad_answers.inc());
		sources.shunned.insert(peer);
		(sources.last, sources.gave) = (None, None);
		Ok(())
	}

	/// Hoster: pulls the encoded stream from the encoder, checks each block, stores the
	/// replica durably. Returns the root to confirm, or `None` if it stopped being due.
	async fn host(&self, duty: &Duty) -> Result<Option<EncodedRoot>, String> {
		if let Some(meta) = self.parts.store.meta(&duty.id) {
			// Stored before a restart: confirm what is on disk, if this draw's encoder
			// sealed it. A copy from an earlier draw of the replica (another encoder) is not.
			if Some(&meta.sealing_key) == duty.encoder_key.as_ref() {
				return Ok(Some(meta.root));
			}
			self.parts
				.store
				.remove(&duty.id)
				.map_err(|e| format!("cannot remove an earlier draw's copy: {e}"))?;
		}
		let encoder = PeerId::from_bytes(&duty.encoder_peer)
			.map_err(|e| format!("the encoder's registered PeerId is invalid: {e}"))?;
		let range = duty.blocks.start..duty.blocks.end;
		let key = duty.encoder_key.ok_or("the encoder left: no sealing key to unseal with")?;
		let mut log =
			self.open_stream(duty, StreamHead::new(&duty.feed, duty.id, &range, key)).await?;
		let mut acceptor = StreamAcceptor::new(
			duty.feed.clone(),
			duty.id,
			range.clone(),
			key,
			(log.len(), log.segments()),
		)
		.map_err(|e| format!("the encoder's registered sealing key is unusable: {e}"))?;
		let mut progress = Progress::new("receiving", duty.id, range.end - range.start);
		let mut chunk = net::ChunkSize::default();
		// The chunk after the one in hand is asked for while that one is checked and logged,
		// so each request's round trip overlaps the work on the chunk before it.
		let mut ahead = None;
		while let Some(from) = acceptor.next_index() {
			if !self.same_duty(duty) {
				return Ok(None);
			}
			let asked = Instant::now();
			let fetched = match ahead.take() {
				Some((at, fetched)) if at == from => fetched,
				_ => self.encoded_blocks(encoder, duty.id, from, &mut chunk).await,
			};
			let blocks = match fetched {
				Ok(blocks) => blocks,
				Err(e) => {
					progress.stalled(&e);
					continue;
				}
			};
			progress.restart_clock(asked);
			let bytes: usize = blocks.iter().map(|b| b.sealed.len()).sum();
			let after = from + blocks.len() as u64;
			let check = on_blocking_thread(move || {
				let mut kept = Vec::with_capacity(blocks.len());
				let mut accepted = Ok(());
				for block in blocks {
					match acceptor.accept(block) {
						Ok(block) => kept.push(block),
						Err(e) => {
							accepted = Err(e);
							break;
						}
					}
				}
				// What checked out is kept, also before a refused block (it is evidence).
				let logged = log.append(&kept);
				(acceptor, log, logged.map(|()| (kept.len() as u64, accepted)))
			});
			let ask_ahead = async {
				match after < range.end {
					true => Some(self.encoded_blocks(encoder, duty.id, after, &mut chunk).await),
					false => None,
				}
			};
			let (checked, next_chunk) = futures::join!(check, ask_ahead);
			let (back, back_log, accepted) = checked?;
			(acceptor, log) = (back, back_log);
			ahead = next_chunk.map(|chunk| (after, chunk));
			let (count, accepted) =
				accepted.map_err(|e| self.cannot_store(duty, stream_error(&log, e)))?;
			progress.add(count, bytes);
			self.metric(|m| m.accepted_blocks.inc_by(count));
			if let Err(e) = accepted {
				log::warn!(
					target: "datdot",
					"replica {}/{}: the encoder {encoder} sent a bad stream ({e}); receiving the \
					 rest of it as evidence",
					duty.id.contract,
					duty.id.replica,
				);
				// An honest stream is about its reservation (the range's share of the feed's
				// bytes); one twice that is not kept, so a cheater cannot fill the disk. The
				// store holds that room too, or as much of it as it has.
				let doubled = duty.reserved.saturating_mul(2);
				let bound = self.parts.store.reserve_up_to(Role::Hoster, duty.id, doubled);
				if bound < doubled {
					log::warn!(
						target: "datdot",
						"replica {}/{}: the store has room for {bound} bytes of evidence, not \
						 {doubled}: a longer stream from this encoder is only struck, not proven",
						duty.id.contract,
						duty.id.replica,
					);
				}
				let evidence = acceptor
					.into_evidence(&log, bound)
					.ok_or(e.to_string())?
					.map_err(|e| self.evidence_error(duty, e))?;
				return self.prove_fraud(duty, encoder, evidence).await;
			}
		}
		let store = self.parts.store.clone();
		let (feed, length) = (duty.feed.auth.key, duty.feed.length);
		let adopted = on_blocking_thread(move || store.adopt(feed, log, length)).await?;
		let root = adopted.map_err(|e| self.cannot_store(duty, e))?;
		log::info!(
			target: "datdot",
			"stored replica {}/{} ({} segments) durably",
			duty.id.contract,
			duty.id.replica,
			root.segments,
		);
		Ok(Some(root))
	}

	/// The error ending part `duty`, which cannot keep its stream or replica on disk (`e`).
	/// Without room (the store's capacity or the disk), fetching again cannot help: the draw
	/// is given up (it times out, and the chain draws another provider) instead of fetching
	/// every block again.
	fn cannot_store(&self, duty: &Duty, e: crate::store::StoreError) -> String {
		let full = match &e {
			crate::store::StoreError::CapacityExceeded { .. } => true,
			crate::store::StoreError::Io { source, .. } => {
				matches!(source.kind(), std::io::ErrorKind::StorageFull)
			}
			_ => false,
		};
		if !full {
			return format!("cannot keep the replica on disk: {e}");
		}
		let mut state = self.state();
		state.no_room.insert((duty.role, duty.id), duty.deadline);
		self.write_no_room(&state);
		format!(
			"cannot keep the replica on disk: {e}; giving this setup up on chain \
			 (release_replica: a small penalty, and the replica goes to another provider). \
			 Free disk or raise --store-capacity, and register no more capacity than the node \
			 has"
		)
	}

	/// The error ending hoster part `duty`, which cannot keep the evidence against its
	/// encoder (`e`). A stream over the evidence's bound ends the part for this draw:
	/// fetching it again could only bring the same bytes.
	fn evidence_error(&self, duty: &Duty, e: std::io::Error) -> String {
		if e.kind() == std::io::ErrorKind::FileTooLarge {
			self.state().over_bound.insert((duty.role, duty.id), duty.deadline);
		}
		format!("cannot keep the evidence against the encoder: {e}")
	}

	/// Whether the hoster's `duty` is still this node's, with the same encoder (a replica
	/// whose encoder was proven to cheat is drawn again with the same hoster).
	fn same_duty(&self, duty: &Duty) -> bool {
		self.state().duties.get(&(duty.role, duty.id)).is_some_and(|now| {
			now.encoder_peer == duty.encoder_peer && now.encoder_key == duty.encoder_key
		})
	}

	/// The next chunk of replica `id`'s sealed stream from its encoder, from block `from`;
	/// the failure (after a pause) if the encoder did not give it this time.
	async fn encoded_blocks(
		&self,
		encoder: PeerId,
		id: ReplicaId,
		from: u64,
		chunk: &mut net::ChunkSize,
	) -> Result<Vec<StreamBlock>, FetchError> {
		let request = EncodedRequest { id, from, max_bytes: chunk.get() };
		let (answer, took) =
			self.requests.request(encoder, &self.parts.names.encoded, &request).await;
		match answer {
			Ok(blocks) => {
				chunk.answered(took);
				Ok(blocks)
			}
			Err(e) => {
				if e.is_timeout() {
					chunk.timed_out();
				}
				// Not encoded yet, a dropped connection or a timeout: ask again from the
				// same block.
				log::debug!(target: "datdot", "encoded stream at block {from}: {e}");
				futures_timer::Delay::new(RETRY_AFTER).await;
				Err(e)
			}
		}
	}

	/// Hoster, after a refused block: receives the rest of the encoder's stream, waits for
	/// the root the encoder commits, and leaves a fraud proof for the off-chain worker if
	/// the stream is that root's and shows a fault (design §5.6). Never confirms.
	async fn prove_fraud(
		&self,
		duty: &Duty,
		encoder: PeerId,
		mut evidence: Evidence,
	) -> Result<Option<EncodedRoot>, String> {
		let mut chunk = net::ChunkSize::default();
		while let Some(from) = evidence.next_index() {
			if !self.same_duty(duty) {
				return Ok(None);
			}
			let blocks = self.encoded_blocks(encoder, duty.id, from, &mut chunk).await;
			for block in blocks.unwrap_or_default() {
				evidence.push(block).map_err(|e| self.evidence_error(duty, e))?;
			}
		}
		let replica = evidence
			.replica()
			.map_err(|e| format!("nothing to prove against the encoder's stream: {e}"))?;
		let committed = loop {
			if !self.same_duty(duty) {
				return Ok(None);
			}
			let root = self.state().duties.get(&(duty.role, duty.id)).and_then(|d| d.encoded);
			if let Some(root) = root {
				break root;
			}
			futures_timer::Delay::new(RETRY_AFTER).await;
		};
		let mut originals = BTreeMap::new();
		let mut sources = Sources::default();
		for block in evidence.blocks_needed(&replica) {
			for _ in 0..ORIGINAL_BLOCK_TRIES {
				if !self.same_duty(duty) {
					return Ok(None);
				}
				let found = self.original_blocks(&duty.feed, block..block + 1, &mut sources).await;
				match found.and_then(|p| p.into_iter().next()) {
					Some(proof) => match check_block(&duty.feed, block, &proof) {
						Ok(()) => {
							originals.insert(block, proof);
							break;
						}
						Err(e) => self.bad_source(&mut sources, &e, duty.id)?,
					},
					None => futures_timer::Delay::new(RETRY_AFTER).await,
				}
			}
		}
		let (proof, fault) = evidence.fraud_proof(&replica, &committed, &duty.feed, &originals)?;
		log::warn!(
			target: "datdot",
			"replica {}/{}: proved the encoder {encoder} cheated ({fault:?}, segment {}); \
			 sending report_bad_encoding",
			duty.id.contract,
			duty.id.replica,
			proof.segment.index,
		);
		let mut state = self.state();
		state.frauds.insert(duty.id, (committed, proof));
		self.write_frauds(&state);
		Ok(None)
	}

	/// Leaves the current fraud proofs where the off-chain worker reads them
	/// ([`FRAUD_PROOFS_KEY`]).
	fn write_frauds(&self, state: &State) {
		let frauds: Vec<(ReplicaId, &EncodingFraudProof)> =
			state.frauds.iter().map(|(id, (_, proof))| (*id, proof)).collect();
		self.write_offchain(FRAUD_PROOFS_KEY, &frauds);
	}

	/// Leaves the current parts without room where the off-chain worker reads them
	/// ([`NO_ROOM_KEY`]).
	fn write_no_room(&self, state: &State) {
		let no_room: Vec<(Role, ReplicaId, BlockNumber)> =
			state.no_room.iter().map(|(&(role, id), &draw)| (role, id, draw)).collect();
		self.write_offchain(NO_ROOM_KEY, &no_room);
	}

	/// Sets off-chain `key` to `list`, or clears it when the list is empty.
	fn write_offchain<T: codec::Encode>(&self, key: &[u8], list: &[T]) {
		let bytes = list.encode();
		(self.parts.offchain_db)(key, (!list.is_empty()).then_some(&bytes[..]));
	}

	/// Answers a blocks request from the feed store (a publisher's feeds) or, failing that,
	/// from a stored replica holding the first block asked for, decoded, with the proofs
	/// its hoster kept (so a feed stays readable, and its replicas replaceable, without its
	/// publisher).
	pub fn answer_blocks(
		&self,
		request: BlocksRequest,
	) -> Result<Vec<datdot_primitives::Proof>, Refusal> {
		let range = request.start..request.end;
		let mut proofs = match self.parts.feeds.get(&request.feed) {
			Some(feed) if feed.length() == request.length => {
				blocks_chunk(&feed, range, request.max_bytes)?
			}
			local => {
				if range.is_empty() {
					return Err(Refusal::Malformed);
				}
				// The signer is learnt from the chain once a replica of the feed is stored.
				let from_replicas = match self.parts.serving.hosted_auth(&request.feed) {
					Some(auth) => self
						.parts
						.store
						.original_blocks(
							&auth,
							request.length,
							range,
							(request.max_bytes as usize).min(net::CHUNK_BYTES),
						)
						.map_err(|e| {
							log::error!(target: "datdot", "serving blocks from a replica: {e}");
							Refusal::UnknownFeed
						})?,
					None => None,
				};
				match (from_replicas, local) {
					(Some(proofs), _) => proofs,
					(None, Some(feed)) => {
						return Err(Refusal::OtherLength { served: feed.length() })
					}
					(None, None) => return Err(Refusal::UnknownFeed),
				}
			}
		};
		if misbehaviour() == Some(Misbehaviour::BadBlocks) {
			for block in proofs.iter_mut().filter_map(|p| p.block.as_mut()) {
				if let Some(byte) = block.value.first_mut() {
					*byte ^= 1;
				}
			}
		}
		self.metric(|m| m.served_blocks.inc_by(proofs.len() as u64));
		Ok(proofs)
	}

	/// Answers a hoster's request for an encoded stream, only to that hoster's PeerId.
	pub fn answer_encoded(
		&self,
		peer: PeerId,
		request: EncodedRequest,
	) -> Result<Vec<StreamBlock>, Refusal> {
		let prepared = self.state().served_stream(&request.id)?;
		if misbehaviour() == Some(Misbehaviour::WithholdingEncoder) {
			return Err(Refusal::NotReady);
		}
		let blocks = prepared.serve(peer, request.from, request.max_bytes)?;
		self.metric(|m| m.served_encoded_blocks.inc_by(blocks.len() as u64));
		Ok(blocks)
	}
}

/// Where one part gets original blocks from: the peer that last gave some (asked first
/// next time), the peer that gave the latest chunk (`None` if this node's own stores did),
/// and the peers whose blocks did not check out (not asked again for this part).
#[derive(Default)]
struct Sources {
	last: Option<PeerId>,
	gave: Option<PeerId>,
	shunned: std::collections::HashSet<PeerId>,
	/// The bytes to ask a peer for, as the links have delivered.
	chunk: net::ChunkSize,
}

/// The proofs of the blocks of `range` of `feed` that fit in one chunk of at most
/// `max_bytes`, read from disk.
fn blocks_chunk(
	feed: &crate::feeds::StoredFeed,
	range: Range<u64>,
	max_bytes: u32,
) -> Result<Vec<datdot_primitives::Proof>, Refusal> {
	if range.start >= range.end {
		return Err(Refusal::Malformed);
	}
	if range.end > feed.length() {
		return Err(Refusal::OutOfRange);
	}
	let sizes = |i: &u64| feed.block_len(*i).unwrap_or_default() + 1024;
	let indexes = net::chunk(range, sizes, max_bytes);
	let proofs: Result<Vec<_>, _> = indexes.into_iter().map(|i| feed.block_proof(i)).collect();
	proofs.map_err(|e| {
		log::error!(target: "datdot", "not serving a feed: {e}");
		Refusal::UnknownFeed
	})
}

impl<C> Workers<C> {
	/// Counts what the seeder served to a hypercore reader.
	pub fn served_reader(&self, served: crate::hypercore_wire::Served) {
		self.metric(|m| {
			m.reader_blocks.inc_by(served.blocks);
			m.reader_bytes.inc_by(served.bytes);
			m.reader_refusals.inc_by(served.refused);
		});
	}

	/// Counts the data plane's requests refused as floods ([`net::serve`]).
	pub fn flood_counter(&self) -> Option<Counter<U64>> {
		self.metrics.as_ref().map(|m| m.floods.clone())
	}

	/// Updates a metric, if metrics are exported.
	fn metric(&self, update: impl FnOnce(&Metrics)) {
		if let Some(m) = &self.metrics {
			update(m);
		}
	}

	fn state(&self) -> std::sync::MutexGuard<'_, State> {
		// Every update is one insert, remove or replace: a poisoned lock is still consistent.
		self.state.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// The public sealing key (modulus) of this node, as `register` takes it.
	pub fn sealing_key(&self) -> [u8; 256] {
		self.parts.sealer.key().0
	}

	/// This node's providers, their setup duties and where each stands, and the replicas in
	/// its store (RPC `datdot_nodeStatus`).
	pub fn status(&self) -> serde_json::Value {
		use datdot_primitives::json::to_hex;
		use serde_json::json;
		let providers: Vec<_> = self
			.parts
			.local
			.list()
			.into_iter()
			.map(
				|(key, provider)| json!({ "provider": provider.to_string(), "dutyKey": key.to_string() }),
			)
			.collect();
		let state = self.state();
		let duties: Vec<_> = state
			.duties
			.iter()
			.map(|(part, d)| {
				let progress = if d.confirmed {
					"confirmed"
				} else if state.ready.contains_key(part) {
					"ready to confirm"
				} else if state.running.contains(part) {
					"working"
				} else {
					"waiting"
				};
				json!({
					"role": format!("{:?}", d.role),
					"provider": d.provider.to_string(),
					"contract": d.id.contract,
					"replica": d.id.replica,
					"blocks": [d.blocks.start, d.blocks.end],
					"deadline": d.deadline,
					"progress": progress,
					"serving": d.role == Role::Encoder && state.prepared.contains_key(&d.id),
				})
			})
			.collect();
		drop(state);
		let stored: Vec<_> = self
			.parts
			.store
			.ids()
			.iter()
			.filter_map(|id| self.parts.store.meta(id))
			.map(|m| {
				json!({
					"contract": m.id.contract,
					"replica": m.id.replica,
					"feed": to_hex(&m.feed),
					"firstBlock": m.first_block,
					"blocks": m.block_lens.len(),
					"segments": m.root.segments,
					"root": to_hex(&m.root.root),
					"bytes": m.stored_len(),
					"provenLength": m.proven_length,
				})
			})
			.collect();
		json!({
			"providers": providers,
			// What `register` takes as `sealing_key` for this node.
			"sealingKey": to_hex(&self.parts.sealer.key().0),
			"duties": duties,
			"stored": stored,
			"store": {
				"used": self.parts.store.used(),
				"reserved": self.parts.store.reserved(),
				"capacity": self.parts.store.capacity(),
			},
		})
	}
}

/// How this node misbehaves on purpose, for the end-to-end tests of cheating encoders
/// (`DATDOT_TEST_MISBEHAVE`); never set on a real node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Misbehaviour {
	/// `garbage-encoder`: seals garbage in place of each replica's second block (its first
	/// if it has one) and commits the root of that stream.
	GarbageEncoder,
	/// `withholding-encoder`: commits the right root and never sends the stream.
	WithholdingEncoder,
	/// `bad-blocks`: serves original blocks with one byte of each altered (their proofs
	/// then fail), as a hostile or damaged peer would.
	BadBlocks,
	/// `unchecked-store`: neither checks storage proofs before answering nor scrubs, so a
	/// lazy hoster's answers from data that is not its own reach the chain, which must
	/// refuse them.
	UncheckedStore,
	/// `flooder`: asks every connected peer for blocks as fast as it can.
	Flooder,
}

/// The misbehaviour the environment asks for, read once.
fn misbehaviour() -> Option<Misbehaviour> {
	static READ: std::sync::OnceLock<Option<Misbehaviour>> = std::sync::OnceLock::new();
	*READ.get_or_init(|| {
		let asked = std::env::var("DATDOT_TEST_MISBEHAVE").ok()?;
		let m = match asked.as_str() {
			"garbage-encoder" => Misbehaviour::GarbageEncoder,
			"withholding-encoder" => Misbehaviour::WithholdingEncoder,
			"bad-blocks" => Misbehaviour::BadBlocks,
			"unchecked-store" => Misbehaviour::UncheckedStore,
			"flooder" => Misbehaviour::Flooder,
			other => {
				log::error!(target: "datdot", "unknown DATDOT_TEST_MISBEHAVE={other}: ignored");
				return None;
			}
		};
		log::warn!(target: "datdot", "TEST ONLY: this node misbehaves as {m:?}");
		Some(m)
	})
}

/// An I/O error of stream `log`, as the store reports it.
fn stream_error(log: &StreamLog, source: std::io::Error) -> crate::store::StoreError {
	crate::store::StoreError::Io { path: log.dir().to_owned(), source }
}

/// [`Misbehaviour::GarbageEncoder`]: the block's sealed bytes replaced by garbage of the
/// same length.
fn seal_garbage(block: &mut StreamBlock) {
	block.sealed = (0..block.sealed.len()).map(|i| (i.wrapping_mul(31) ^ 0x5a) as u8).collect();
}

/// Runs `work` on a blocking thread: sealing (an RSA private operation per 255 bytes),
/// unsealing, the fsyncs of a stream's chunks and reads of local blocks must not hold the
/// async threads, which serve the network meanwhile.
async fn on_blocking_thread<T: Send + 'static>(
	work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
	tokio::task::spawn_blocking(work)
		.await
		.map_err(|e| format!("a task on a blocking thread failed: {e}"))
}

/// The off-chain worker's view of this node: proofs from the replica store, and the setup
/// parts finished here.
impl<C: Send + Sync> LocalReplicas for Workers<C> {
	fn prove(&self, id: &ReplicaId, index: u64) -> Option<SegmentProof> {
		let store = &self.parts.store;
		let checked = misbehaviour() != Some(Misbehaviour::UncheckedStore);
		store
			.prove_as(id, index, checked)
			.map_err(|e| {
				log::error!(target: "datdot", "cannot answer a storage challenge: {e}");
				// Damage found on read: the replica goes now, not at the scrub's next pass.
				if matches!(e, crate::store::StoreError::Damaged { .. }) {
					if let Err(e) = store.remove(id) {
						log::error!(target: "datdot", "removing damaged replica: {e}");
					}
				}
			})
			.ok()
	}

	fn ready_roots(&self) -> Vec<ReadyRoot> {
		let state = self.state();
		state.ready.iter().map(|(&(role, id), &(_, root))| ReadyRoot { role, id, root }).collect()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use datdot_primitives::signing::{FeedAuth, SigningMode};

	/// This node's encoder part of replica 1/0, drawn with setup deadline `deadline`.
	fn encoder_duty(deadline: BlockNumber, confirmed: bool) -> Duty {
		Duty {
			id: ReplicaId { contract: 1, replica: 0 },
			role: Role::Encoder,
			provider: AccountId::new([1; 32]),
			feed: FeedState {
				auth: FeedAuth { key: [2; 32], public_key: [2; 32], mode: SigningMode::Compat },
				length: 4,
				fork: 0,
				roots: Vec::new(),
			},
			blocks: pallet_datdot::types::BlockRange { start: 0, end: 4 },
			encoder_peer: Vec::new(),
			encoder_key: None,
			hoster_peer: Vec::new(),
			encoded: None,
			deadline,
			confirmed,
			reserved: 0,
		}
	}

	/// An empty stream of `duty`'s replica made for the draw with setup deadline `deadline`.
	fn empty_stream(duty: &Duty, deadline: BlockNumber) -> Arc<Prepared> {
		let key = *crate::replica::tests::test_sealer().key();
		let head = StreamHead::new(&duty.feed, duty.id, &(0..4), key);
		// Open files outlive the directory, which goes with the test.
		let dir = tempfile::tempdir().unwrap();
		let stream = RwLock::new(StreamLog::open(&dir.path().join("stream"), head).unwrap());
		Arc::new(Prepared { deadline, hoster: PeerId::random(), range: 0..4, stream })
	}

	/// The encoder's part of `duty` as done: its stream prepared, its root confirmed.
	fn encoded(state: &mut State, duty: &Duty) {
		state.running.remove(&(duty.role, duty.id));
		state.prepared.insert(duty.id, empty_stream(duty, duty.deadline));
	}

	#[test]
	fn a_stream_is_served_to_its_hoster_as_far_as_it_is_logged() {
		use crate::replica::tests::{encode_stream, feed, proofs, test_sealer, ID};
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let head = StreamHead::new(&chain, ID, &(2..8), *test_sealer().key());
		let mut log = StreamLog::open(&dir.path().join("stream"), head).unwrap();
		log.append(&stream[..2]).unwrap();
		let hoster = PeerId::random();
		let encoding = Prepared { deadline: 10, hoster, range: 2..8, stream: RwLock::new(log) };
		let all = u32::MAX;
		assert_eq!(encoding.serve(hoster, 2, all), Ok(stream[..2].to_vec()));
		assert_eq!(encoding.serve(hoster, 3, all), Ok(stream[1..2].to_vec()));
		// Past what is sealed so far: ask again later, not an empty answer to spin on.
		assert_eq!(encoding.serve(hoster, 4, all), Err(Refusal::NotReady));
		assert_eq!(encoding.serve(PeerId::random(), 2, all), Err(Refusal::NotTheHoster));
		assert_eq!(encoding.serve(hoster, 8, all), Err(Refusal::OutOfRange));
		assert_eq!(encoding.serve(hoster, 1, all), Err(Refusal::OutOfRange));
		encoding.log_mut().append(&stream[2..]).unwrap();
		assert_eq!(encoding.serve(hoster, 4, all), Ok(stream[2..].to_vec()));
	}

	#[test]
	fn a_stream_of_an_earlier_draw_is_not_served() {
		let mut state = State::default();
		let duty = encoder_duty(10, false);
		assert_eq!(state.set_duties(vec![duty.clone()], 8).0, vec![duty.clone()]);
		// The task runs and has registered nothing yet.
		assert_eq!(state.served_stream(&duty.id).err(), Some(Refusal::NotReady));
		let stream = |deadline| empty_stream(&duty, deadline);
		// Streams of the draw before (setup deadline 5), whole or being encoded, are not
		// this draw's.
		state.encoding.insert(duty.id, stream(5));
		state.prepared.insert(duty.id, stream(5));
		assert_eq!(state.served_stream(&duty.id).err(), Some(Refusal::NotReady));
		state.encoding.insert(duty.id, stream(10));
		assert_eq!(state.served_stream(&duty.id).map(|p| p.deadline), Ok(10));
		state.prepared.insert(duty.id, stream(10));
		assert!(state
			.served_stream(&duty.id)
			.is_ok_and(|p| Arc::ptr_eq(&p, &state.prepared[&duty.id])));
		// Nobody encodes it here: unknown.
		state.running.clear();
		state.encoding.clear();
		state.prepared.clear();
		assert_eq!(state.served_stream(&duty.id).err(), Some(Refusal::UnknownReplica));
	}

	#[test]
	fn an_encoder_drawn_again_for_the_same_replica_encodes_and_confirms_anew() {
		let mut state = State::default();
		let first = encoder_duty(10, false);
		assert_eq!(state.set_duties(vec![first.clone()], 8).0, vec![first.clone()]);
		encoded(&mut state, &first);
		// Confirmed on chain: the stream stays served, nothing restarts.
		assert!(state.set_duties(vec![encoder_duty(10, true)], 8).0.is_empty());
		assert!(state.prepared.contains_key(&first.id));
		// The setup timed out (the hoster never confirmed) and the replica was drawn again
		// with this node as its encoder, in the same block: a new draw, encoded anew.
		let again = encoder_duty(20, false);
		assert_eq!(state.set_duties(vec![again.clone()], 8).0, vec![again.clone()]);
		assert!(state.prepared.is_empty(), "the earlier draw's stream is not served");
		encoded(&mut state, &again);
		assert!(state.set_duties(vec![again.clone()], 8).0.is_empty());
	}

	#[test]
	fn a_hoster_drawn_again_for_the_same_replica_receives_and_confirms_anew() {
		let mut state = State::default();
		let hoster_duty = |deadline| Duty { role: Role::Hoster, ..encoder_duty(deadline, false) };
		let first = hoster_duty(10);
		assert_eq!(state.set_duties(vec![first.clone()], 8).0, vec![first.clone()]);
		// Stored, its root ready to confirm: nothing restarts.
		state.running.remove(&(Role::Hoster, first.id));
		let root = EncodedRoot { root: [3; 32], segments: 1 };
		state.ready.insert((Role::Hoster, first.id), (10, root));
		assert!(state.set_duties(vec![first.clone()], 8).0.is_empty());
		// Timed out before the confirmation landed and drawn again with this hoster (and
		// perhaps another encoder): the earlier root is not confirmed for the new draw.
		let again = hoster_duty(20);
		assert_eq!(state.set_duties(vec![again.clone()], 8).0, vec![again]);
		assert!(state.ready.is_empty());
	}

	#[test]
	fn a_hoster_without_room_gives_up_the_draw_instead_of_fetching_again_every_block() {
		let mut state = State::default();
		let hoster_duty = |deadline| Duty { role: Role::Hoster, ..encoder_duty(deadline, false) };
		let first = hoster_duty(10);
		let part = (Role::Hoster, first.id);
		let (start, _, changed) = state.set_duties(vec![first.clone()], 8);
		assert_eq!(start, vec![first.clone()]);
		assert!(changed, "what an earlier run left for the off-chain worker is replaced");
		// The stream came in, the store had no room (what `host` records), the task ended.
		state.no_room.insert(part, first.deadline);
		state.running.remove(&part);
		for _ in 0..3 {
			let (start, _, changed) = state.set_duties(vec![first.clone()], 8);
			assert!(start.is_empty(), "not fetched again");
			assert!(!changed);
		}
		// A new draw of the replica with this hoster (room may have been freed) is tried.
		let again = hoster_duty(20);
		let (start, _, changed) = state.set_duties(vec![again.clone()], 8);
		assert_eq!(start, vec![again]);
		assert!(state.no_room.is_empty());
		assert!(changed, "the parts the off-chain worker gives up are written again");
	}

	#[test]
	fn a_hoster_whose_encoder_sent_too_much_evidence_does_not_fetch_it_again_for_that_draw() {
		let mut state = State::default();
		let hoster_duty = |deadline| Duty { role: Role::Hoster, ..encoder_duty(deadline, false) };
		let first = hoster_duty(10);
		let part = (Role::Hoster, first.id);
		assert_eq!(state.set_duties(vec![first.clone()], 8).0, vec![first.clone()]);
		// What `evidence_error` records when the stream passed the evidence's bound.
		state.over_bound.insert(part, first.deadline);
		state.running.remove(&part);
		let (start, frauds, no_room) = state.set_duties(vec![first.clone()], 8);
		assert!(start.is_empty(), "not fetched again for this draw");
		assert!(!frauds && !no_room, "nothing for the off-chain worker to do");
		let again = hoster_duty(20);
		assert_eq!(state.set_duties(vec![again.clone()], 8).0, vec![again]);
		assert!(state.over_bound.is_empty());
	}

	#[test]
	fn a_stream_no_duty_needs_goes_only_after_the_grace_blocks_in_a_row() {
		let mut state = State::default();
		let duty = encoder_duty(10, false);
		let (ours, other) = ((Role::Encoder, duty.id), (Role::Hoster, duty.id));
		state.set_duties(vec![duty.clone()], 8);
		let held = || BTreeSet::from([ours, other]);
		// Kept while its duty is listed or its task runs; the other part's counts down.
		for _ in 1..STREAM_GRACE_BLOCKS {
			assert!(state.unneeded(held()).is_empty());
		}
		assert_eq!(state.unneeded(held()), vec![other]);
		// A duty hidden for fewer blocks than the grace (a reorg) costs nothing.
		state.set_duties(Vec::new(), 8);
		state.running.clear();
		for _ in 1..STREAM_GRACE_BLOCKS {
			assert_eq!(state.unneeded(BTreeSet::from([ours])), vec![]);
		}
		state.set_duties(vec![duty], 8);
		assert!(state.unneeded(BTreeSet::from([ours])).is_empty());
		state.set_duties(Vec::new(), 8);
		state.running.clear();
		for _ in 1..STREAM_GRACE_BLOCKS {
			assert!(state.unneeded(BTreeSet::from([ours])).is_empty(), "counted afresh");
		}
		assert_eq!(state.unneeded(BTreeSet::from([ours])), vec![ours]);
		// What is no longer held is forgotten.
		assert!(state.unneeded(BTreeSet::new()).is_empty());
		assert!(state.unneeded_for.is_empty());
	}

	#[test]
	fn at_most_the_cap_of_parts_of_each_role_run_earliest_deadline_first() {
		let mut state = State::default();
		let part = |contract: u64, role: Role, deadline: BlockNumber| {
			let mut duty = encoder_duty(deadline, false);
			(duty.id.contract, duty.role) = (contract, role);
			duty
		};
		let duties = vec![
			part(1, Role::Encoder, 30),
			part(2, Role::Encoder, 10),
			part(3, Role::Encoder, 20),
			part(4, Role::Hoster, 40),
			part(5, Role::Hoster, 15),
		];
		let started = |s: &[Duty]| s.iter().map(|d| d.id.contract).collect::<Vec<_>>();
		// Two encodings, the earliest deadlines; the hosters' receptions are not held up
		// by the encoders' cap.
		let (start, _, _) = state.set_duties(duties.clone(), 2);
		assert_eq!(started(&start), vec![2, 5, 3, 4]);
		// Still two running: nothing more starts.
		assert!(state.set_duties(duties.clone(), 2).0.is_empty());
		// One encoding is done: the waiting one starts.
		encoded(&mut state, &duties[1]);
		assert_eq!(started(&state.set_duties(duties, 2).0), vec![1]);
	}
}
