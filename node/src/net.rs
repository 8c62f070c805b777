//! datdot's data plane on the node's own p2p network (design §5, §8): two request-response
//! protocols, Noise-encrypted like all of the network's traffic, so a request's peer is
//! authenticated by its PeerId.
//!
//! - **blocks** (`/datdot/<genesis>/blocks/1`): anyone may ask a node that serves a feed
//!   (its publisher's, or any hoster of the blocks asked for) for consecutive original
//!   blocks, each with hypercore's proof against the feed's signed tree, exactly what any
//!   hypercore reader gets.
//! - **encoded** (`/datdot/<genesis>/encoded/1`): a replica's hoster pulls the encoded
//!   stream from the replica's encoder, chunk by chunk from the next block it still needs;
//!   the encoder serves it only to the PeerId the hoster registered on chain. Pulling by
//!   position makes a transfer resume where it stopped after a dropped connection.
//!
//! Messages are SCALE-encoded and bounded: requests by [`MAX_REQUEST`], responses by
//! [`MAX_RESPONSE`] (a chunk holds whole blocks up to [`CHUNK_BYTES`], at least one).
//! A request that gets no answer within [`REQUEST_TIMEOUT`] fails, so a stalled peer
//! costs one timeout, after which the caller retries or tries another peer.

use crate::replica::StreamBlock;
use codec::{Decode, Encode};
use datdot_primitives::{encoded::ReplicaId, Proof};
use datdot_runtime::opaque::Block;
use sc_network::{
	config::{IncomingRequest, OutgoingResponse},
	service::traits::NetworkService,
	IfDisconnected, NetworkBackend, PeerId, ProtocolName,
};
use std::time::Duration;

type BlockHash = <Block as sp_runtime::traits::Block>::Hash;

/// The largest request accepted.
pub const MAX_REQUEST: u64 = 1024;
/// The largest response accepted (a chunk of blocks plus their proofs).
pub const MAX_RESPONSE: u64 = 16 << 20;
/// A chunk stops taking blocks once it holds this many bytes of them.
pub const CHUNK_BYTES: usize = 4 << 20;
/// How long a request may wait for its response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests queued per protocol before new ones are refused.
const INBOUND_QUEUE: usize = 64;

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
}

/// The encoded stream of replica `id`, from block `from` of its range (as many blocks as
/// fit in a chunk).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EncodedRequest {
	/// The replica.
	pub id: ReplicaId,
	/// The feed index of the first block wanted.
	pub from: u64,
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
	/// The encoder has not finished encoding the replica yet: ask again shortly.
	#[error("encoding not finished yet")]
	NotReady,
	/// The requesting peer is not the PeerId the replica's hoster registered on chain.
	#[error("only the replica's hoster may fetch it")]
	NotTheHoster,
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

/// Answers the requests of one protocol with `answer(peer, request)` until the network
/// stops.
pub async fn serve<Req: Decode, Resp: Encode>(
	requests: async_channel::Receiver<IncomingRequest>,
	answer: impl Fn(PeerId, Req) -> Result<Resp, Refusal>,
) {
	while let Ok(request) = requests.recv().await {
		let response = match Req::decode(&mut &request.payload[..]) {
			Ok(req) => answer(request.peer, req),
			Err(_) => Err(Refusal::Malformed),
		};
		let _ = request.pending_response.send(OutgoingResponse {
			result: Ok(response.encode()),
			reputation_changes: Vec::new(),
			sent_feedback: None,
		});
	}
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
}

/// Sends `request` over `protocol` to `peer` (connecting if needed) and decodes the answer.
pub async fn request<Req: Encode, T: Decode>(
	network: &dyn NetworkService,
	peer: PeerId,
	protocol: &ProtocolName,
	request: &Req,
) -> Result<T, FetchError> {
	let (bytes, _) = network
		.request(peer, protocol.clone(), request.encode(), None, IfDisconnected::TryConnect)
		.await
		.map_err(|failure| FetchError::Network { peer, failure })?;
	let response = Result::<T, Refusal>::decode(&mut &bytes[..])
		.map_err(|_| FetchError::Undecodable { peer })?;
	response.map_err(|refusal| FetchError::Refused { peer, refusal })
}

/// Takes items from `items` while they fit in a chunk (at least one), by `size`.
pub fn chunk<T>(items: impl Iterator<Item = T>, size: impl Fn(&T) -> usize) -> Vec<T> {
	let mut out = Vec::new();
	let mut bytes = 0;
	for item in items {
		let s = size(&item);
		if !out.is_empty() && bytes + s > CHUNK_BYTES {
			break;
		}
		bytes += s;
		out.push(item);
	}
	out
}
