//! The attestor's side of a performance challenge (design §6): it reads blocks from a
//! hoster's endpoint as any hypercore reader would (a fresh reader: each block comes with
//! the upgrade proving it against the signed tree), times each round trip, and asks the
//! hoster for its proof of contact over the hashes of what it served.

use super::{
	messages::{self, kind, Request},
	protomux::{self, MuxMessage},
	secret_stream::{self, SecretReader, StreamError},
	seeder::{capability, discovery_key, CONTACT_PROTOCOL},
};
use datdot_primitives::{hash::leaf_hash, Proof};
use std::time::{Duration, Instant};
use tokio::net::{tcp::OwnedReadHalf, TcpStream};

/// What an attestor reads from a hoster: which blocks, of which feed, for which challenge.
#[derive(Clone, Debug)]
pub struct ReadRequest {
	/// The feed's key.
	pub key: [u8; 32],
	/// The signed tree's length and fork, as the chain stores them.
	pub length: u64,
	/// The fork of that tree.
	pub fork: u64,
	/// The blocks to read, in order.
	pub blocks: Vec<u64>,
	/// The challenge, the attestor's and the hoster's accounts (for the proof of contact).
	pub challenge: u64,
	/// The attestor's account.
	pub attestor: [u8; 32],
	/// The hoster's account.
	pub hoster: [u8; 32],
}

/// What the hoster served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
	/// The slowest block's round trip, in milliseconds.
	pub latency_ms: u32,
	/// Leaf hashes of the blocks read, in order.
	pub hashes: Vec<[u8; 32]>,
	/// The hoster's signature over the proof-of-contact message.
	pub signature: [u8; 64],
}

/// Why a hoster did not serve.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
	/// No connection, or it broke.
	#[error("connection: {0}")]
	Stream(#[from] StreamError),
	/// Nothing within the deadline.
	#[error("no answer within {0:?}")]
	Timeout(Duration),
	/// The hoster refused the feed, a block or the proof of contact.
	#[error("refused: {0}")]
	Refused(&'static str),
	/// A block did not verify against the chain's signed tree.
	#[error("block {index}: {error}")]
	Invalid {
		/// The block.
		index: u64,
		/// What was wrong.
		error: String,
	},
}

/// Largest message accepted from a hoster (a block of hypercore's largest plus its proof).
const MAX_MESSAGE: usize = 16 << 20;

/// Reads `request.blocks` from `addr`, checking each with `verify`, then asks for the proof
/// of contact; all within `deadline`.
pub async fn read_from_hoster(
	addr: &str,
	request: &ReadRequest,
	verify: impl Fn(u64, &Proof) -> Result<(), String>,
	deadline: Duration,
) -> Result<Reading, ReadError> {
	tokio::time::timeout(deadline, read(addr, request, verify))
		.await
		.map_err(|_| ReadError::Timeout(deadline))?
}

async fn read(
	addr: &str,
	request: &ReadRequest,
	verify: impl Fn(u64, &Proof) -> Result<(), String>,
) -> Result<Reading, ReadError> {
	let socket = TcpStream::connect(addr).await.map_err(StreamError::from)?;
	let _ = socket.set_nodelay(true);
	let (read, write) = socket.into_split();
	let established = secret_stream::connect(read, write, MAX_MESSAGE).await?;
	let (mut reader, mut writer) = (established.reader, established.writer);
	let hh = established.handshake_hash;
	let ours = capability(true, &request.key, &hh);
	let open = protomux::open(
		1,
		"hypercore/alpha",
		&discovery_key(&request.key),
		&messages::encode_handshake(&ours),
	);
	writer.send(&[open]).await?;

	let mut latency = Duration::ZERO;
	let mut hashes = Vec::with_capacity(request.blocks.len());
	for (n, &index) in request.blocks.iter().enumerate() {
		let ask = Request {
			id: n as u64 + 1,
			fork: request.fork,
			block: Some((index, 0)),
			upgrade: Some((0, request.length)),
			..Default::default()
		};
		let started = Instant::now();
		writer.send(&[protomux::message(1, kind::REQUEST, &ask.encode())]).await?;
		let proof = data_for(&mut reader, ask.id).await?;
		latency = latency.max(started.elapsed());
		verify(index, &proof).map_err(|error| ReadError::Invalid { index, error })?;
		let value = proof.block.map(|b| b.value).unwrap_or_default();
		hashes.push(leaf_hash(&value));
	}

	let mut who = request.attestor.to_vec();
	who.extend_from_slice(&request.hoster);
	let id = request.challenge.to_le_bytes();
	writer.send(&[protomux::open(2, CONTACT_PROTOCOL, &id, &who)]).await?;
	loop {
		for m in next(&mut reader).await? {
			match m {
				MuxMessage::Open { protocol, id: answered, handshake, .. }
					if protocol == CONTACT_PROTOCOL && answered == id =>
				{
					let signature: [u8; 64] = handshake
						.try_into()
						.map_err(|_| ReadError::Refused("a malformed proof of contact"))?;
					return Ok(Reading {
						latency_ms: latency.as_millis().min(u32::MAX as u128) as u32,
						hashes,
						signature,
					});
				}
				MuxMessage::Reject { local_id: 2 } => {
					return Err(ReadError::Refused("the hoster would not sign a proof of contact"))
				}
				_ => {}
			}
		}
	}
}

/// The next batch of protomux messages from the hoster.
async fn next(reader: &mut SecretReader<OwnedReadHalf>) -> Result<Vec<MuxMessage>, ReadError> {
	loop {
		let message = reader.recv().await?;
		if message.is_empty() {
			continue; // keep-alive
		}
		return protomux::decode(&message)
			.map_err(|_| StreamError::Handshake("malformed protomux message".into()).into());
	}
}

/// Waits for the `data` answering request `id` (skipping `sync`, `range` and the like).
async fn data_for(reader: &mut SecretReader<OwnedReadHalf>, id: u64) -> Result<Proof, ReadError> {
	loop {
		for m in next(reader).await? {
			match m {
				MuxMessage::Message { kind: kind::DATA, payload, .. } => {
					let (answered, proof) = messages::decode_data(&payload).map_err(|_| {
						ReadError::Invalid { index: id, error: "malformed data message".into() }
					})?;
					if answered == id {
						return Ok(proof);
					}
				}
				MuxMessage::Message { kind: kind::NO_DATA, .. } => {
					return Err(ReadError::Refused("a block it should hold"))
				}
				MuxMessage::Reject { local_id: 1 } => return Err(ReadError::Refused("the feed")),
				MuxMessage::Close { .. } => return Err(ReadError::Refused("the feed (closed)")),
				_ => {}
			}
		}
	}
}
