//! datdot's data plane on the node's own p2p network (design §5, §8): two request-response
//! protocols, Noise-encrypted like all of the network's traffic, so a request's peer is
//! authenticated by its PeerId.
//!
//! - **blocks** (`/datdot/<genesis>/blocks/1`): anyone may ask a node that serves a feed
//!   (its publisher's, or any hoster of the blocks asked for) for consecutive original
//!   blocks, each with hypercore's proof against the feed's signed tree, exactly what any
//!   hypercore reader gets.
//! - **encoded** (`/datdot/<genesis>/encoded/1`): a replica's hoster pulls the encoded
//!   stream from the replica's encoder, chunk by chunk from the next block it still needs,
//!   while the encoder still seals it (blocks past what is sealed are [`Refusal::NotReady`]);
//!   the encoder serves it only to the PeerId the hoster registered on chain. Pulling by
//!   position makes a transfer resume where it stopped after a dropped connection.
//!
//! Messages are SCALE-encoded and bounded: requests by [`MAX_REQUEST`], responses by
//! [`MAX_RESPONSE`] (a chunk holds whole blocks up to [`CHUNK_BYTES`], at least one).
//! A request that gets no answer within [`REQUEST_TIMEOUT`] fails, so a stalled peer
//! costs one timeout, after which the caller retries or tries another peer; and every
//! request ends within [`WHOLE_REQUEST_TIMEOUT`], dial included ([`Requester`]). Each request
//! says how many bytes of blocks it wants at most, and the asker sizes that to what the
//! link delivered ([`ChunkSize`]): a slow link gets smaller chunks, so it still moves data
//! well within the timeout instead of timing out on every whole chunk.
//!
//! Servers bound what a peer can take ([`PeerLimits`]): answers are built on blocking
//! threads, at most [`MAX_ANSWERING`] at once per protocol and [`MAX_ANSWERING_PER_PEER`]
//! for one peer (so at most that many chunks of response bytes in flight), and a peer
//! asking more than [`REQUESTS_PER_SEC`] on average is refused ([`Refusal::Busy`]) at a
//! reputation cost, which the network turns into a disconnection and a ban when it goes on.

use crate::replica::StreamBlock;
use codec::{Decode, Encode};
use datdot_primitives::{encoded::ReplicaId, Proof};
use datdot_runtime::opaque::Block;
use futures::{future::BoxFuture, FutureExt as _};
use sc_network::{
	config::{IncomingRequest, OutgoingResponse},
	service::traits::NetworkService,
	IfDisconnected, NetworkBackend, PeerId, ProtocolName,
};
use sc_network::{ReputationChange, RequestFailure};
use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};
use substrate_prometheus_endpoint::{Counter, U64};

type BlockHash = <Block as sp_runtime::traits::Block>::Hash;

/// The largest request accepted.
pub const MAX_REQUEST: u64 = 1024;
/// The largest response accepted (a chunk of blocks plus their proofs).
pub const MAX_RESPONSE: u64 = 16 << 20;
/// A chunk stops taking blocks once it holds this many bytes of them. Each chunk in flight
/// is held a few times over (built, encoded, sent; received, checked, sealed), by up to
/// [`MAX_ANSWERING`] answers per protocol and every setup part (two each: the one in hand
/// and the one asked ahead): 1 MiB keeps a node's peak memory near its idle size (4 MiB
/// cost ~200 MiB more; docs/benchmarks.md).
pub const CHUNK_BYTES: usize = 1 << 20;
/// How long a request may wait for its response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests queued per protocol before new ones are refused.
const INBOUND_QUEUE: usize = 64;
/// Answers built at once per protocol, over all peers.
pub const MAX_ANSWERING: usize = 16;
/// Answers built at once for one peer (a node with several setup parts asks concurrently).
pub const MAX_ANSWERING_PER_PEER: usize = 8;
/// Requests one peer may make per second on average, in bursts of twice that: 80 chunks
/// of up to [`CHUNK_BYTES`] is 80 MiB/s, the bytes 20 chunks of 4 MiB allowed before the
/// chunks shrank, so a fast honest puller (up to 8 parts at once) is not taken for a
/// flooder.
pub const REQUESTS_PER_SEC: f64 = 80.0;
/// What a request beyond [`REQUESTS_PER_SEC`] costs its peer: some 1 400 of them in a
/// row (reputation decays meanwhile) get it banned.
pub const FLOOD_COST: ReputationChange = ReputationChange::new(-(1 << 20), "datdot: flooding");
/// What an answer that does not check out (a bad proof, a block of another tree) costs the
/// peer that gave it: some 90 get it banned. Not fatal at once, since an honest hoster's
/// disk may have damaged a block it serves.
pub const BAD_ANSWER_COST: ReputationChange =
	ReputationChange::new(-(1 << 24), "datdot: answer does not check out");

/// Blocks `start..end` of feed `feed` (as many as fit in a chunk, from `start`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BlocksRequest {
	/// The feed key.
	pub feed: [u8; 32],
	/// The signed length the proofs must be against (the chain's).
	pub length: u64,
	/// First block wanted.
	pub start: u64,
	/// One past the last block wanted.
	pub end: u64,
	/// The most bytes of blocks wanted (at least one block is sent).
	pub max_bytes: u32,
}

/// The encoded stream of replica `id`, from block `from` of its range (as many blocks as
/// fit in a chunk).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EncodedRequest {
	/// The replica.
	pub id: ReplicaId,
	/// The feed index of the first block wanted.
	pub from: u64,
	/// The most bytes of blocks wanted (at least one block is sent).
	pub max_bytes: u32,
}

/// Why a request was not served.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Refusal {
	/// The request does not decode or asks for an empty range.
	#[error("malformed request")]
	Malformed,
	/// This node does not serve the feed.
	#[error("feed not served here")]
	UnknownFeed,
	/// This node serves the feed at another signed length than the one asked for.
	#[error("feed served at length {served}, not the requested one")]
	OtherLength {
		/// The length served here.
		served: u64,
	},
	/// The range reaches beyond the feed or the replica.
	#[error("range out of bounds")]
	OutOfRange,
	/// This node is not encoding the replica (or no longer).
	#[error("replica not encoded here")]
	UnknownReplica,
	/// The encoder has not sealed the replica up to the block asked for yet: ask again
	/// shortly.
	#[error("not sealed this far yet")]
	NotReady,
	/// The requesting peer is not the PeerId the replica's hoster registered on chain.
	#[error("only the replica's hoster may fetch it")]
	NotTheHoster,
	/// The peer has too many requests being answered, or asks too often: ask again later.
	#[error("too many requests from this peer: ask again later")]
	Busy,
}

/// Response of the blocks protocol: consecutive block proofs from the requested start.
pub type BlocksResponse = Result<Vec<Proof>, Refusal>;
/// Response of the encoded protocol: consecutive stream blocks from the requested block.
pub type EncodedResponse = Result<Vec<StreamBlock>, Refusal>;

/// The two protocols' names on this chain (genesis hash in them, so chains never mix).
#[derive(Clone, Debug)]
pub struct ProtocolNames {
	/// The blocks protocol.
	pub blocks: ProtocolName,
	/// The encoded-stream protocol.
	pub encoded: ProtocolName,
}

impl ProtocolNames {
	/// The names for the chain with genesis hash `genesis`.
	pub fn new(genesis: &[u8]) -> Self {
		let genesis = datdot_primitives::json::to_hex(genesis);
		Self {
			blocks: format!("/datdot/{genesis}/blocks/1").into(),
			encoded: format!("/datdot/{genesis}/encoded/1").into(),
		}
	}
}

/// Registers both protocols with the network configuration; returns their inbound queues
/// (blocks, encoded), which [`serve`] drains.
pub fn register<N: NetworkBackend<Block, BlockHash>>(
	names: &ProtocolNames,
	net_config: &mut sc_network::config::FullNetworkConfiguration<Block, BlockHash, N>,
) -> (async_channel::Receiver<IncomingRequest>, async_channel::Receiver<IncomingRequest>) {
	let mut queue = |name: &ProtocolName| {
		let (tx, rx) = async_channel::bounded(INBOUND_QUEUE);
		net_config.add_request_response_protocol(N::request_response_config(
			name.clone(),
			Vec::new(),
			MAX_REQUEST,
			MAX_RESPONSE,
			REQUEST_TIMEOUT,
			Some(tx),
		));
		rx
	};
	(queue(&names.blocks), queue(&names.encoded))
}

/// Answers the requests of one protocol with `answer(peer, request)`, on blocking threads
/// within [`PeerLimits`], until the network stops; counts the requests refused as a flood
/// (past their peer's rate) in `floods`.
pub async fn serve<Req, Resp>(
	requests: async_channel::Receiver<IncomingRequest>,
	answer: impl Fn(PeerId, Req) -> Result<Resp, Refusal> + Send + Sync + 'static,
	floods: Option<Counter<U64>>,
) where
	Req: Decode + Send + 'static,
	Resp: Encode + Send + 'static,
{
	let answer = Arc::new(answer);
	let limits = Arc::new(Mutex::new(PeerLimits::default()));
	let slots = Arc::new(tokio::sync::Semaphore::new(MAX_ANSWERING));
	while let Ok(request) = requests.recv().await {
		let peer = request.peer;
		let admitted = limits.lock().unwrap_or_else(|p| p.into_inner()).admit(peer, Instant::now());
		if let Err(cost) = admitted {
			if let (Some(floods), Some(_)) = (&floods, cost) {
				floods.inc();
			}
			respond(request, Err::<Resp, Refusal>(Refusal::Busy), cost);
			continue;
		}
		let Ok(slot) = slots.clone().acquire_owned().await else { return };
		let (answer, limits) = (answer.clone(), limits.clone());
		tokio::task::spawn_blocking(move || {
			let response = match Req::decode(&mut &request.payload[..]) {
				Ok(req) => answer(peer, req),
				Err(_) => Err(Refusal::Malformed),
			};
			respond(request, response, None);
			limits.lock().unwrap_or_else(|p| p.into_inner()).done(peer);
			drop(slot);
		});
	}
}

/// Sends `response` for `request`, with a reputation `cost` for its peer if any.
fn respond<Resp: Encode>(
	request: IncomingRequest,
	response: Result<Resp, Refusal>,
	cost: Option<ReputationChange>,
) {
	let _ = request.pending_response.send(OutgoingResponse {
		result: Ok(response.encode()),
		reputation_changes: cost.into_iter().collect(),
		sent_feedback: None,
	});
}

/// What each peer may still ask of a server: answers being built, and a token bucket of
/// [`REQUESTS_PER_SEC`]. Peers with nothing running and a full bucket are forgotten, so
/// the map holds only recent askers.
#[derive(Default)]
pub struct PeerLimits {
	peers: HashMap<PeerId, PeerLimit>,
}

struct PeerLimit {
	answering: usize,
	tokens: f64,
	at: Instant,
}

impl PeerLimits {
	/// Admits a request of `peer` at `now` (counting it as being answered until
	/// [`PeerLimits::done`]), or refuses it: `Err(None)` while the peer has
	/// [`MAX_ANSWERING_PER_PEER`] answers running, `Err(Some(cost))` past its rate.
	pub fn admit(&mut self, peer: PeerId, now: Instant) -> Result<(), Option<ReputationChange>> {
		if self.peers.len() > 4096 {
			self.peers.retain(|_, p| p.answering > 0 || refill(p, now) < 2.0 * REQUESTS_PER_SEC);
		}
		let limit = self.peers.entry(peer).or_insert(PeerLimit {
			answering: 0,
			tokens: 2.0 * REQUESTS_PER_SEC,
			at: now,
		});
		limit.tokens = refill(limit, now);
		limit.at = now;
		if limit.tokens < 1.0 {
			return Err(Some(FLOOD_COST));
		}
		limit.tokens -= 1.0;
		if limit.answering >= MAX_ANSWERING_PER_PEER {
			return Err(None);
		}
		limit.answering += 1;
		Ok(())
	}

	/// `peer`'s answer is sent.
	pub fn done(&mut self, peer: PeerId) {
		if let Some(limit) = self.peers.get_mut(&peer) {
			limit.answering = limit.answering.saturating_sub(1);
		}
	}
}

/// `limit`'s tokens at `now`.
fn refill(limit: &PeerLimit, now: Instant) -> f64 {
	let earned = now.saturating_duration_since(limit.at).as_secs_f64() * REQUESTS_PER_SEC;
	(limit.tokens + earned).min(2.0 * REQUESTS_PER_SEC)
}

/// Why a request to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
	/// No answer: the peer is unreachable, dropped the connection or timed out.
	#[error("peer {peer}: {failure}")]
	Network { peer: PeerId, failure: sc_network::RequestFailure },
	/// The peer answered with something that does not decode.
	#[error("peer {peer}: the response does not decode")]
	Undecodable { peer: PeerId },
	/// The peer refused.
	#[error("peer {peer} refused: {refusal}")]
	Refused { peer: PeerId, refusal: Refusal },
	/// Nothing came of the request within [`WHOLE_REQUEST_TIMEOUT`]: a dial, a wait for
	/// another request's dial, or a request the network lost. Not a slow link: the chunk
	/// size stays.
	#[error("peer {peer}: no answer within {} s (dial included)", WHOLE_REQUEST_TIMEOUT.as_secs())]
	Abandoned { peer: PeerId },
}

impl FetchError {
	/// Whether the peer did not answer within [`REQUEST_TIMEOUT`].
	pub fn is_timeout(&self) -> bool {
		use sc_network::{OutboundFailure, RequestFailure};
		matches!(
			self,
			Self::Network { failure: RequestFailure::Network(OutboundFailure::Timeout), .. }
		)
	}
}

/// The smallest chunk an asker shrinks to (a block is sent whole however small this is).
pub const MIN_CHUNK_BYTES: u32 = 64 << 10;

/// How many bytes an asker wants per request from one peer: [`CHUNK_BYTES`] at first,
/// halved when an answer took over half the timeout, quartered on a timeout (down to
/// [`MIN_CHUNK_BYTES`]), and doubled again when answers come in under a quarter of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkSize(u32);

impl Default for ChunkSize {
	fn default() -> Self {
		Self(CHUNK_BYTES as u32)
	}
}

impl ChunkSize {
	/// The bytes to ask for now.
	pub fn get(&self) -> u32 {
		self.0
	}

	/// An answer came after `took`.
	pub fn answered(&mut self, took: Duration) {
		if took > REQUEST_TIMEOUT / 2 {
			self.0 = (self.0 / 2).max(MIN_CHUNK_BYTES);
		} else if took < REQUEST_TIMEOUT / 4 {
			self.0 = self.0.saturating_mul(2).min(CHUNK_BYTES as u32);
		}
	}

	/// A request timed out.
	pub fn timed_out(&mut self) {
		self.0 = (self.0 / 4).max(MIN_CHUNK_BYTES);
	}
}

/// How long a whole request may take: a dial and a substream opening (litep2p bounds them
/// by some 20 s and 5 s), sending, and the answer ([`REQUEST_TIMEOUT`] each), with a margin.
/// Nothing below bounds the request as a whole, and a request litep2p loses (see
/// [`Requester`]) never completes; past this it is abandoned, so no part waits on it for
/// ever.
pub const WHOLE_REQUEST_TIMEOUT: Duration = Duration::from_secs(75);

/// What the data plane needs of the network: send one request (the node's
/// `NetworkService`; a fake in tests).
pub trait SendRequest: Send + Sync {
	/// Sends `payload` over `protocol` to `peer`; resolves with the answer's bytes.
	fn send(
		&self,
		peer: PeerId,
		protocol: ProtocolName,
		payload: Vec<u8>,
		connect: IfDisconnected,
	) -> BoxFuture<'_, Result<Vec<u8>, RequestFailure>>;
}

impl SendRequest for Arc<dyn NetworkService> {
	fn send(
		&self,
		peer: PeerId,
		protocol: ProtocolName,
		payload: Vec<u8>,
		connect: IfDisconnected,
	) -> BoxFuture<'_, Result<Vec<u8>, RequestFailure>> {
		async move {
			self.request(peer, protocol, payload, None, connect).await.map(|(bytes, _)| bytes)
		}
		.boxed()
	}
}

/// Sends the data plane's requests. Each is bounded as a whole by [`WHOLE_REQUEST_TIMEOUT`].
/// Towards one peer on one protocol ([`Lane`]) at most [`MAX_ANSWERING_PER_PEER`] are in
/// flight, what a server answers at once for a peer: parts that ask ahead never make an
/// honest server refuse this node as [`Refusal::Busy`]; the rest wait their turn here. A peer
/// that is not connected is dialed by one request at a time per protocol: litep2p (0.15)
/// keeps one pending dial per peer and protocol, so a second request that dials a peer while
/// the first still does replaces the first, whose answer then never comes, and the part that
/// sent it waits for ever (holding the part, also through the replica's next draw).
pub struct Requester {
	network: Box<dyn SendRequest>,
	/// The lanes requests are in; lanes nobody holds are forgotten.
	lanes: Mutex<HashMap<(PeerId, ProtocolName), std::sync::Weak<Lane>>>,
}

/// This node's requests to one peer on one protocol.
struct Lane {
	/// A permit per request in flight.
	in_flight: tokio::sync::Semaphore,
	/// Held by the one request dialing the peer.
	dialing: tokio::sync::Mutex<()>,
}

impl Requester {
	/// Sends through `network`.
	pub fn new(network: Box<dyn SendRequest>) -> Self {
		Self { network, lanes: Mutex::default() }
	}

	/// Sends `request` over `protocol` to `peer` (connecting if needed) and decodes the
	/// answer; with the time the request took once it had its turn: what the link and the
	/// peer took ([`ChunkSize`] follows that, not this node's own queue).
	pub async fn request<Req: Encode, T: Decode>(
		&self,
		peer: PeerId,
		protocol: &ProtocolName,
		request: &Req,
	) -> (Result<T, FetchError>, Duration) {
		let payload = request.encode();
		let lane = self.lane(peer, protocol);
		// Waiting for a turn is not part of the request's time: each request ahead ends
		// within its own bound.
		let _turn = lane.in_flight.acquire().await;
		let started = Instant::now();
		let answer = self.send_in_turn(peer, protocol, &lane, payload).await;
		(answer, started.elapsed())
	}

	/// Sends `payload` to `peer` once the request has its turn in `lane`.
	async fn send_in_turn<T: Decode>(
		&self,
		peer: PeerId,
		protocol: &ProtocolName,
		lane: &Lane,
		payload: Vec<u8>,
	) -> Result<T, FetchError> {
		let connected = || {
			let payload = payload.clone();
			self.network.send(peer, protocol.clone(), payload, IfDisconnected::ImmediateError)
		};
		let sent = async {
			match connected().await {
				Err(RequestFailure::NotConnected) => {
					let _dialing = lane.dialing.lock().await;
					// The request that held the lock may have connected the peer meanwhile.
					match connected().await {
						Err(RequestFailure::NotConnected) => {
							let dial = IfDisconnected::TryConnect;
							self.network.send(peer, protocol.clone(), payload.clone(), dial).await
						}
						other => other,
					}
				}
				other => other,
			}
		};
		let bytes = tokio::time::timeout(WHOLE_REQUEST_TIMEOUT, sent)
			.await
			.map_err(|_| FetchError::Abandoned { peer })?
			.map_err(|failure| FetchError::Network { peer, failure })?;
		let response = Result::<T, Refusal>::decode(&mut &bytes[..])
			.map_err(|_| FetchError::Undecodable { peer })?;
		response.map_err(|refusal| FetchError::Refused { peer, refusal })
	}

	/// The lane to `peer` on `protocol`.
	fn lane(&self, peer: PeerId, protocol: &ProtocolName) -> Arc<Lane> {
		let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
		lanes.retain(|_, lane| lane.strong_count() > 0);
		let key = (peer, protocol.clone());
		if let Some(lane) = lanes.get(&key).and_then(std::sync::Weak::upgrade) {
			return lane;
		}
		let lane = Arc::new(Lane {
			in_flight: tokio::sync::Semaphore::new(MAX_ANSWERING_PER_PEER),
			dialing: tokio::sync::Mutex::new(()),
		});
		lanes.insert(key, Arc::downgrade(&lane));
		lane
	}
}

/// Takes items from `items` while they fit in `max_bytes` and a chunk (at least one), by
/// `size`.
pub fn chunk<T>(
	items: impl Iterator<Item = T>,
	size: impl Fn(&T) -> usize,
	max_bytes: u32,
) -> Vec<T> {
	let limit = CHUNK_BYTES.min(max_bytes as usize);
	let mut out = Vec::new();
	let mut bytes = 0;
	for item in items {
		let s = size(&item);
		if !out.is_empty() && bytes + s > limit {
			break;
		}
		bytes += s;
		out.push(item);
	}
	out
}

#[cfg(test)]
mod tests {
	use super::*;
	use futures::channel::oneshot;

	#[test]
	fn a_peer_gets_a_bounded_share_and_a_flood_costs_reputation() {
		let (a, b) = (PeerId::random(), PeerId::random());
		let start = Instant::now();
		let mut limits = PeerLimits::default();
		for _ in 0..MAX_ANSWERING_PER_PEER {
			assert_eq!(limits.admit(a, start), Ok(()));
		}
		// Past its share of answers in progress: refused, free of cost; another peer is not.
		assert_eq!(limits.admit(a, start), Err(None));
		assert_eq!(limits.admit(b, start), Ok(()));
		limits.done(a);
		assert_eq!(limits.admit(a, start), Ok(()));
		// Asking faster than the rate empties the bucket; then each request costs.
		let mut refused = 0;
		for _ in 0..(2.0 * REQUESTS_PER_SEC) as usize {
			limits.done(a);
			if limits.admit(a, start).is_err() {
				refused += 1;
			}
		}
		// Every request so far spent a token, refused or not.
		assert_eq!(refused, MAX_ANSWERING_PER_PEER + 2, "the burst ran out exactly");
		assert_eq!(limits.admit(a, start), Err(Some(FLOOD_COST)));
		assert_eq!(limits.admit(b, start), Ok(()), "another peer is unaffected");
		// A second later the peer has a second's worth of requests again.
		let later = start + Duration::from_secs(1);
		(0..MAX_ANSWERING_PER_PEER).for_each(|_| limits.done(a));
		let admitted = (0..100).filter(|_| {
			let ok = limits.admit(a, later).is_ok();
			limits.done(a);
			ok
		});
		assert_eq!(admitted.count(), REQUESTS_PER_SEC as usize);
	}

	#[test]
	fn chunks_follow_what_the_link_delivers() {
		let mut size = ChunkSize::default();
		assert_eq!(size.get(), CHUNK_BYTES as u32);
		// A link that needs over half the timeout for a chunk gets half; a timeout, a quarter.
		size.answered(REQUEST_TIMEOUT * 3 / 4);
		assert_eq!(size.get(), CHUNK_BYTES as u32 / 2);
		size.timed_out();
		assert_eq!(size.get(), CHUNK_BYTES as u32 / 8);
		for _ in 0..10 {
			size.timed_out();
		}
		assert_eq!(size.get(), MIN_CHUNK_BYTES);
		// Answers in between keep the size; fast ones double it back, up to a chunk.
		size.answered(REQUEST_TIMEOUT / 3);
		assert_eq!(size.get(), MIN_CHUNK_BYTES);
		for _ in 0..10 {
			size.answered(Duration::from_millis(10));
		}
		assert_eq!(size.get(), CHUNK_BYTES as u32);
		// The server holds to the size asked for, and always sends one block.
		let blocks = [100_000usize, 100_000, 100_000];
		assert_eq!(chunk(blocks.iter(), |b| **b, 250_000).len(), 2);
		assert_eq!(chunk(blocks.iter(), |b| **b, 1).len(), 1);
		assert_eq!(chunk(blocks.iter(), |b| **b, u32::MAX).len(), 3);
	}

	#[test]
	fn answers_are_built_off_the_async_thread_and_a_flooder_is_refused_at_a_cost() {
		let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
		let async_thread = std::thread::current().id();
		let (tx, rx) = async_channel::bounded(1024);
		let ask = |peer: PeerId, n: u32| {
			let (pending_response, response) = oneshot::channel();
			tx.try_send(IncomingRequest { peer, payload: n.encode(), pending_response }).unwrap();
			response
		};
		let (flooder, honest) = (PeerId::random(), PeerId::random());
		// Twice the burst: the second half cannot be admitted, however fast the test runs.
		let flood_size = 4 * REQUESTS_PER_SEC as usize;
		let flood: Vec<_> = (0..flood_size as u32).map(|n| ask(flooder, n)).collect();
		let answer = ask(honest, 7);
		drop(tx);
		let started = Instant::now();
		let floods = Counter::new("floods", "test").unwrap();
		let double = move |_, n: u32| {
			assert_ne!(std::thread::current().id(), async_thread, "answered on the async thread");
			Ok(n * 2)
		};
		runtime.block_on(serve(rx, double, Some(floods.clone())));
		// Tokens the flooder earned while the test ran (none on an idle machine).
		let earned = (started.elapsed().as_secs_f64() * REQUESTS_PER_SEC).ceil() as usize;
		let burst = 2 * REQUESTS_PER_SEC as usize + earned;
		let decode = |r: OutgoingResponse| {
			let body = Result::<u32, Refusal>::decode(&mut &r.result.unwrap()[..]).unwrap();
			(body, r.reputation_changes)
		};
		let flood: Vec<_> =
			flood.into_iter().map(|r| decode(futures::executor::block_on(r).unwrap())).collect();
		let answered = flood.iter().filter(|(body, _)| body.is_ok()).count();
		let costly = flood.iter().filter(|(_, cost)| cost == &vec![FLOOD_COST]).count();
		assert!(answered <= burst, "{answered} answered");
		assert!(costly >= flood_size.saturating_sub(burst), "{costly} refused at a cost");
		assert_eq!(floods.get(), costly as u64, "each counted");
		assert!(flood
			.iter()
			.all(|(body, cost)| body.is_ok() || *body == Err(Refusal::Busy) && cost.len() <= 1));
		let (body, cost) = decode(futures::executor::block_on(answer).unwrap());
		assert_eq!((body, cost.len()), (Ok(14), 0));
	}

	/// A network that behaves as litep2p 0.15 does towards one peer on one protocol: not
	/// connected at first; a request that may dial starts a dial (1 s), and one made while a
	/// dial is pending replaces the pending one, whose answer never comes; once connected,
	/// requests are answered at once (`Ok` of their payload).
	#[derive(Default)]
	struct OneDialPerPeer(Mutex<Dialing>);

	#[derive(Default)]
	struct Dialing {
		connected: bool,
		dials: usize,
		pending: Option<(Vec<u8>, oneshot::Sender<Vec<u8>>)>,
		lost: Vec<oneshot::Sender<Vec<u8>>>,
	}

	impl SendRequest for Arc<OneDialPerPeer> {
		fn send(
			&self,
			_: PeerId,
			_: ProtocolName,
			payload: Vec<u8>,
			connect: IfDisconnected,
		) -> BoxFuture<'_, Result<Vec<u8>, RequestFailure>> {
			let payload = [&[0u8][..], &payload].concat();
			let mut state = self.0.lock().unwrap();
			if state.connected {
				return futures::future::ready(Ok(payload)).boxed();
			}
			if matches!(connect, IfDisconnected::ImmediateError) {
				return futures::future::ready(Err(RequestFailure::NotConnected)).boxed();
			}
			let (tx, rx) = oneshot::channel();
			if let Some((_, replaced)) = state.pending.replace((payload, tx)) {
				state.lost.push(replaced);
			} else {
				state.dials += 1;
				let this = self.clone();
				tokio::spawn(async move {
					tokio::time::sleep(Duration::from_secs(1)).await;
					let mut state = this.0.lock().unwrap();
					state.connected = true;
					if let Some((payload, tx)) = state.pending.take() {
						let _ = tx.send(payload);
					}
				});
			}
			async move { rx.await.map_err(|_| RequestFailure::Refused) }.boxed()
		}
	}

	#[tokio::test(start_paused = true)]
	async fn requests_racing_to_a_peer_being_dialed_all_get_their_answers() {
		let network = Arc::new(OneDialPerPeer::default());
		let requests = Requester::new(Box::new(network.clone()));
		let (peer, protocol) = (PeerId::random(), ProtocolName::from("/test/1"));
		let asked = tokio::time::Instant::now();
		let asks = [0u32, 1, 2, 3];
		let answers = futures::future::join_all(
			asks.iter().map(|n| async { requests.request::<u32, u32>(peer, &protocol, n).await.0 }),
		)
		.await;
		// Each request had its own answer: none was lost to another's dial, none waited for
		// the whole-request timeout.
		let decoded: Vec<u32> = answers.into_iter().map(|a| a.expect("answered")).collect();
		assert_eq!(decoded, asks);
		assert!(asked.elapsed() < Duration::from_secs(5), "took {:?}", asked.elapsed());
		let state = network.0.lock().unwrap();
		assert_eq!((state.dials, state.lost.len()), (1, 0), "one dial, no request lost");
	}

	/// A connected network that answers each request (`Ok` of its payload) after 100 ms,
	/// and counts each peer's requests in flight.
	#[derive(Default)]
	struct Counting(Mutex<HashMap<PeerId, (usize, usize)>>);

	impl SendRequest for Arc<Counting> {
		fn send(
			&self,
			peer: PeerId,
			_: ProtocolName,
			payload: Vec<u8>,
			_: IfDisconnected,
		) -> BoxFuture<'_, Result<Vec<u8>, RequestFailure>> {
			let count = move |change: fn(usize) -> usize| {
				let mut peers = self.0.lock().unwrap();
				let (now, most) = peers.entry(peer).or_default();
				*now = change(*now);
				*most = (*most).max(*now);
			};
			async move {
				count(|n| n + 1);
				tokio::time::sleep(Duration::from_millis(100)).await;
				count(|n| n - 1);
				Ok([&[0u8][..], &payload].concat())
			}
			.boxed()
		}
	}

	#[tokio::test(start_paused = true)]
	async fn requests_to_a_peer_wait_for_a_turn_within_what_its_server_answers_at_once() {
		let network = Arc::new(Counting::default());
		let requests = Requester::new(Box::new(network.clone()));
		let (busy, other, protocol) = (PeerId::random(), PeerId::random(), "/test/1".into());
		let asked = tokio::time::Instant::now();
		let timed = |peer, n: u32| {
			let (requests, protocol) = (&requests, &protocol);
			async move {
				let (answer, _) = requests.request::<u32, u32>(peer, protocol, &n).await;
				(answer.expect("answered"), asked.elapsed())
			}
		};
		let many = (0..3 * MAX_ANSWERING_PER_PEER as u32).map(|n| timed(busy, n));
		let (many, (one, one_took)) =
			futures::join!(futures::future::join_all(many), timed(other, 99));
		// Every request is answered, in three turns of what the peer's server takes at once.
		let answers: Vec<u32> = many.iter().map(|(n, _)| *n).collect();
		assert_eq!(answers, (0..3 * MAX_ANSWERING_PER_PEER as u32).collect::<Vec<_>>());
		let last = many.iter().map(|(_, took)| *took).max().unwrap();
		assert_eq!(last, Duration::from_millis(300));
		let peers = network.0.lock().unwrap();
		assert_eq!(peers[&busy], (0, MAX_ANSWERING_PER_PEER), "never more in flight");
		// Another peer does not wait behind them.
		assert_eq!((one, one_took), (99, Duration::from_millis(100)));
		assert!(requests.lanes.lock().unwrap().values().all(|l| l.strong_count() == 0));
	}

	/// A network whose requests never complete (as a request litep2p lost).
	struct Silent;

	impl SendRequest for Silent {
		fn send(
			&self,
			_: PeerId,
			_: ProtocolName,
			_: Vec<u8>,
			_: IfDisconnected,
		) -> BoxFuture<'_, Result<Vec<u8>, RequestFailure>> {
			futures::future::pending().boxed()
		}
	}

	#[tokio::test(start_paused = true)]
	async fn a_request_that_never_completes_is_abandoned_after_the_whole_request_timeout() {
		let requests = Requester::new(Box::new(Silent));
		let asked = tokio::time::Instant::now();
		let (answer, _) = requests
			.request::<u32, u32>(PeerId::random(), &ProtocolName::from("/test/1"), &7)
			.await;
		let error = answer.expect_err("no answer");
		assert!(matches!(error, FetchError::Abandoned { .. }), "{error}");
		assert!(!error.is_timeout(), "not a slow link: the chunk size stays");
		assert_eq!(asked.elapsed(), WHOLE_REQUEST_TIMEOUT);
	}
}
