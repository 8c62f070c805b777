//! A seeder: answers stock hypercore readers over the replication protocol, from a
//! [`FeedSource`] that holds some blocks of some feeds, each with hypercore's proof for a
//! fresh reader (`core.proof({ block: { index, nodes: 0 }, upgrade: { start: 0, length } })`).
//!
//! What it serves and how (the reasoning is in docs/decisions.md, "Serving the feed"):
//! - it announces the blocks it holds with `range` and never downloads;
//! - a block request is answered with the stored path, cut to the nodes the reader lacks;
//! - an upgrade is served to a reader at length 0 (any reader that first meets the feed
//!   here); a reader already at an older length gets `noData` and upgrades elsewhere;
//! - hash and seek requests are not served (our handshake says we do not seek).

use super::{
	messages::{self, kind, no_data, sync_flags, Data, Request, SyncMessage},
	protomux::{self, MuxMessage},
	secret_stream::{self, SecretWriter, StreamError},
};
use blake2::{
	digest::{consts::U32, Mac},
	Blake2bMac,
};
use datdot_primitives::{
	flat_tree, manifest::namespace, FeedAuth, Manifest, Node, Proof, SigningMode,
};
use std::{
	collections::HashMap,
	ops::Range,
	sync::Arc,
	time::{Duration, Instant},
};
use tokio::{
	io::AsyncWrite,
	net::{TcpListener, TcpStream},
	sync::Semaphore,
};

/// The feeds and blocks a seeder serves.
pub trait FeedSource: Send + Sync + 'static {
	/// The feed whose discovery key is `discovery_key`, if any of it is served.
	fn feed(&self, discovery_key: &[u8; 32]) -> Option<ServedFeed>;
	/// Block `index` of `feed` with its proof for a fresh reader against signed length
	/// `length`, if held. May read the disk: the seeder calls it off the async threads.
	fn block(&self, feed: &[u8; 32], length: u64, index: u64) -> Option<Proof>;
}

/// What a seeder announces about a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedFeed {
	/// Key and signing mode.
	pub auth: FeedAuth,
	/// The signed length the held blocks' proofs are against.
	pub length: u64,
	/// The fork of that tree.
	pub fork: u64,
	/// The blocks held, as disjoint sorted ranges.
	pub held: Vec<Range<u64>>,
}

impl ServedFeed {
	fn holds(&self, index: u64) -> bool {
		self.held.iter().any(|r| r.contains(&index))
	}
}

/// The protomux protocol on which an attestor asks for a proof of contact: it opens a
/// channel with the challenge id (u64 little-endian) as id and `attestor ‖ hoster` (two
/// 32-byte accounts) as handshake; the seeder answers with its own open whose handshake is
/// the hoster's 64-byte signature, or a reject.
pub const CONTACT_PROTOCOL: &str = "datdot/contact/v1";

/// What a hoster is asked to sign: that `attestor` read the blocks with these leaf hashes
/// from it on one connection, for performance challenge `challenge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
	/// The performance challenge.
	pub challenge: u64,
	/// The attestor's account.
	pub attestor: [u8; 32],
	/// The hoster's account, whose key signs.
	pub hoster: [u8; 32],
	/// Leaf hashes of the blocks served on this connection, in order.
	pub hashes: Vec<[u8; 32]>,
}

/// Signs a [`Contact`] with the hoster's key, if this node holds it.
pub type ContactSigner = Arc<dyn Fn(Contact) -> Option<[u8; 64]> + Send + Sync>;

/// Blocks whose hashes a connection remembers for a proof of contact (an attestor reads a
/// few on a fresh connection; a reader's long download keeps only the last ones).
const REMEMBERED_BLOCKS: usize = 16;
/// Proofs of contact one connection may ask for (each costs a signature).
const MAX_CONTACTS: u32 = 4;

/// Limits that keep one reader from starving the node.
#[derive(Clone, Debug)]
pub struct Limits {
	/// Connections served at once; more wait in the accept queue.
	pub connections: usize,
	/// Connections from one IP address at once; more are closed at once, so one host
	/// cannot take every slot.
	pub connections_per_ip: usize,
	/// Feeds (channels) one connection may open.
	pub channels: usize,
	/// Requests answered per connection per second; a faster reader is slowed down.
	pub requests_per_second: u32,
	/// A connection that sends nothing for this long is closed (readers keep alive every 5 s).
	pub idle: Duration,
	/// Largest message accepted from a reader (requests are a few bytes).
	pub max_message: usize,
}

impl Default for Limits {
	fn default() -> Self {
		Limits {
			connections: 64,
			connections_per_ip: 8,
			channels: 128,
			requests_per_second: 2000,
			idle: Duration::from_secs(60),
			max_message: 64 * 1024,
		}
	}
}

/// hypercore-crypto's `discoveryKey(key)`: BLAKE2b-256 of "hypercore" keyed with the key.
pub fn discovery_key(key: &[u8; 32]) -> [u8; 32] {
	let mut mac = Blake2bMac::<U32>::new_from_slice(key).expect("32-byte key");
	mac.update(b"hypercore");
	mac.finalize().into_bytes().into()
}

/// hypercore's `caps.replicate`: proves knowledge of `key` on this very connection.
pub(super) fn capability(initiator: bool, key: &[u8; 32], handshake_hash: &[u8]) -> [u8; 32] {
	// namespace('hypercore', 6): 1 REPLICATE_INITIATOR, 2 REPLICATE_RESPONDER.
	let ns = namespace(b"hypercore", if initiator { 1 } else { 2 });
	let mut mac = Blake2bMac::<U32>::new_from_slice(handshake_hash).expect("64-byte key");
	mac.update(&ns);
	mac.update(key);
	mac.finalize().into_bytes().into()
}

/// The manifest a reader needs to check a manifest-mode feed's signatures: datdot feeds
/// carry hypercore's default manifest of their signer.
fn manifest_bytes(auth: &FeedAuth) -> Option<Vec<u8>> {
	let manifest = Manifest::default_for(auth.public_key);
	(auth.mode == SigningMode::ManifestV1 && manifest.hash() == auth.key)
		.then(|| manifest.encode_hypercore())
}

/// The full roots of the tree `proof` upgrades to: the block's root (hashed up its path)
/// merged by index with the upgrade's other roots.
fn full_roots(proof: &Proof) -> Option<Vec<Node>> {
	let block = proof.block.as_ref()?;
	let upgrade = proof.upgrade.as_ref()?;
	let mut node = Node::leaf(block.index, &block.value);
	for sibling in &block.nodes {
		let (left, right) =
			if sibling.index < node.index { (sibling, &node) } else { (&node, sibling) };
		node = Node::parent(flat_tree::parent(node.index), left, right).ok()?;
	}
	let mut roots = upgrade.nodes.clone();
	roots.push(node);
	roots.sort_by_key(|n| n.index);
	Some(roots)
}

/// Serves readers on `listener` until the task is dropped.
pub async fn serve(
	listener: TcpListener,
	source: Arc<dyn FeedSource>,
	seed: [u8; 32],
	limits: Limits,
	metrics: Option<ServedHook>,
	signer: Option<ContactSigner>,
) {
	let slots = Arc::new(Semaphore::new(limits.connections));
	let per_ip = IpSlots::default();
	loop {
		let Ok(permit) = slots.clone().acquire_owned().await else { return };
		let (socket, peer) = match listener.accept().await {
			Ok(accepted) => accepted,
			Err(e) => {
				log::warn!(target: "datdot", "hypercore listener: {e}");
				tokio::time::sleep(Duration::from_millis(100)).await;
				continue;
			}
		};
		let Some(ip_slot) = per_ip.take(peer.ip(), limits.connections_per_ip) else {
			log::debug!(target: "datdot", "hypercore reader {peer}: too many connections");
			continue;
		};
		let (source, limits, metrics) = (source.clone(), limits.clone(), metrics.clone());
		let signer = signer.clone();
		tokio::spawn(async move {
			match connection(socket, source, &seed, &limits, metrics, signer).await {
				Ok(()) | Err(StreamError::Io(_)) => {}
				Err(e) => log::debug!(target: "datdot", "hypercore reader {peer}: {e}"),
			}
			drop((permit, ip_slot));
		});
	}
}

/// Connections open per IP address.
#[derive(Clone, Default)]
struct IpSlots(Arc<std::sync::Mutex<HashMap<std::net::IpAddr, usize>>>);

/// One connection counted against its IP address until dropped.
struct IpSlot {
	slots: IpSlots,
	ip: std::net::IpAddr,
}

impl IpSlots {
	fn open(&self) -> std::sync::MutexGuard<'_, HashMap<std::net::IpAddr, usize>> {
		self.0.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// A slot for `ip`, unless it already has `max` connections.
	fn take(&self, ip: std::net::IpAddr, max: usize) -> Option<IpSlot> {
		let mut open = self.open();
		let count = open.entry(ip).or_default();
		if *count >= max {
			return None;
		}
		*count += 1;
		Some(IpSlot { slots: self.clone(), ip })
	}
}

impl Drop for IpSlot {
	fn drop(&mut self) {
		let mut open = self.slots.open();
		if let Some(count) = open.get_mut(&self.ip) {
			*count -= 1;
			if *count == 0 {
				open.remove(&self.ip);
			}
		}
	}
}

/// Called with what each answer moved (the node's metrics).
pub type ServedHook = Arc<dyn Fn(Served) + Send + Sync>;

/// What one answer moved, for the node's metrics.
#[derive(Clone, Copy, Debug)]
pub struct Served {
	/// Blocks sent.
	pub blocks: u64,
	/// Bytes of block data sent.
	pub bytes: u64,
	/// Requests answered with `noData`.
	pub refused: u64,
}

/// A reader's open channel for one feed.
struct Channel {
	local_id: u64,
	feed: ServedFeed,
	manifest: Option<Vec<u8>>,
}

struct Connection<W> {
	writer: SecretWriter<W>,
	source: Arc<dyn FeedSource>,
	handshake_hash: Vec<u8>,
	/// By the reader's channel id.
	channels: HashMap<u64, Channel>,
	metrics: Option<ServedHook>,
	window: (Instant, u32),
	requests_per_second: u32,
	max_channels: usize,
	/// A reader that takes no bytes for this long is dropped (it would pin its slot).
	idle: Duration,
	/// Channel opens refused so far; a reader guessing feeds is cut off.
	refused_opens: u32,
	/// Leaf hashes of the last blocks served, oldest first (for a proof of contact).
	served: std::collections::VecDeque<[u8; 32]>,
	/// Proofs of contact asked for so far.
	contacts: u32,
	signer: Option<ContactSigner>,
}

/// Channel opens a connection may have refused before it is closed.
const MAX_REFUSED_OPENS: u32 = 16;

async fn connection(
	socket: TcpStream,
	source: Arc<dyn FeedSource>,
	seed: &[u8; 32],
	limits: &Limits,
	metrics: Option<ServedHook>,
	signer: Option<ContactSigner>,
) -> Result<(), StreamError> {
	let _ = socket.set_nodelay(true);
	let (read, write) = socket.into_split();
	let timeout = |what| StreamError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, what));
	let established = tokio::time::timeout(
		limits.idle,
		secret_stream::accept(read, write, seed, limits.max_message),
	)
	.await
	.map_err(|_| timeout("handshake"))??;
	let mut reader = established.reader;
	let mut conn = Connection {
		writer: established.writer,
		source,
		handshake_hash: established.handshake_hash,
		channels: HashMap::new(),
		metrics,
		window: (Instant::now(), 0),
		requests_per_second: limits.requests_per_second,
		max_channels: limits.channels,
		idle: limits.idle,
		refused_opens: 0,
		served: Default::default(),
		contacts: 0,
		signer,
	};
	loop {
		let message = tokio::time::timeout(limits.idle, reader.recv())
			.await
			.map_err(|_| timeout("idle reader"))??;
		if message.is_empty() {
			continue; // keep-alive
		}
		let Ok(messages) = protomux::decode(&message) else {
			return Err(StreamError::Handshake("malformed protomux message".into()));
		};
		for m in messages {
			if !conn.handle(m).await? {
				return Ok(());
			}
		}
	}
}

impl<W: AsyncWrite + Unpin> Connection<W> {
	/// Handles one message; `false` ends the connection (the reader broke the protocol).
	async fn handle(&mut self, message: MuxMessage) -> Result<bool, StreamError> {
		// Every message costs the reader its share of the rate, not only requests.
		self.pace().await;
		match message {
			MuxMessage::Open { remote_id, protocol, id, handshake } => {
				self.open(remote_id, &protocol, &id, &handshake).await
			}
			MuxMessage::Close { remote_id } => {
				self.channels.remove(&remote_id);
				Ok(true)
			}
			MuxMessage::Reject { .. } => Ok(true),
			MuxMessage::Message { remote_id, kind, payload } => {
				let Some(channel) = self.channels.get(&remote_id) else { return Ok(true) };
				let local = channel.local_id;
				match kind {
					kind::SYNC => {
						let Ok(sync) = SyncMessage::decode(&payload) else { return Ok(false) };
						// Acknowledge a reader behind us, as hypercore does, so it upgrades.
						if sync.length < channel.feed.length {
							let ours = self.sync_for(channel, sync.length);
							self.send(&[protomux::message(local, kind::SYNC, &ours.encode())])
								.await?;
						}
						Ok(true)
					}
					kind::REQUEST => {
						let Ok(request) = Request::decode(&payload) else { return Ok(false) };
						let answer = self.answer(remote_id, request).await;
						self.send(&answer).await?;
						Ok(true)
					}
					kind::WANT => {
						let Ok((start, length)) = messages::decode_want(&payload) else {
							return Ok(false);
						};
						let want = start..start.saturating_add(length);
						let ranges: Vec<_> = channel
							.feed
							.held
							.iter()
							.filter(|r| r.start < want.end && want.start < r.end)
							.map(|r| {
								let body = messages::encode_range(false, r.start, r.end - r.start);
								protomux::message(local, kind::RANGE, &body)
							})
							.collect();
						self.send(&ranges).await?;
						Ok(true)
					}
					// cancel (answers are immediate), data, noData, bitfield, range,
					// extension: nothing to do for a seeder.
					_ => Ok(true),
				}
			}
		}
	}

	fn sync_for(&self, channel: &Channel, reader_length: u64) -> SyncMessage {
		let mut flags = sync_flags::UPLOADING;
		// Our start-0 proofs upgrade only a reader that has no tree yet.
		if reader_length == 0 {
			flags |= sync_flags::CAN_UPGRADE;
		}
		if channel.manifest.is_some() {
			flags |= sync_flags::HAS_MANIFEST;
		}
		SyncMessage {
			flags,
			fork: channel.feed.fork,
			length: channel.feed.length,
			remote_length: reader_length,
		}
	}

	async fn open(
		&mut self,
		remote_id: u64,
		protocol: &str,
		id: &[u8],
		handshake: &[u8],
	) -> Result<bool, StreamError> {
		if self.channels.contains_key(&remote_id) {
			// protomux never reopens an open id; only a broken or hostile peer does.
			return Ok(false);
		}
		if protocol == CONTACT_PROTOCOL {
			return self.contact(remote_id, id, handshake).await;
		}
		let hypercore = protocol == "hypercore/alpha" || protocol == "hypercore";
		let wanted = <[u8; 32]>::try_from(id).ok().filter(|_| hypercore);
		let feed = match wanted {
			Some(dk) if self.channels.len() < self.max_channels => {
				// The lookup may list and stat the stores: off the async threads.
				let source = self.source.clone();
				tokio::task::spawn_blocking(move || source.feed(&dk)).await.ok().flatten()
			}
			_ => None,
		};
		let Some(feed) = feed else {
			self.refused_opens += 1;
			if self.refused_opens > MAX_REFUSED_OPENS {
				return Ok(false);
			}
			self.send(&[protomux::reject(remote_id)]).await?;
			return Ok(true);
		};
		let expected = capability(true, &feed.auth.key, &self.handshake_hash);
		if messages::decode_handshake(handshake) != Ok(expected) {
			// hypercore destroys the stream on a bad capability; so do we.
			return Ok(false);
		}
		let local_id = self.free_local_id();
		let ours = capability(false, &feed.auth.key, &self.handshake_hash);
		let channel = Channel { local_id, manifest: manifest_bytes(&feed.auth), feed };
		let mut out = vec![protomux::open(
			local_id,
			"hypercore/alpha",
			id,
			&messages::encode_handshake(&ours),
		)];
		// Ranges before the sync, so a reader asks for a block and the upgrade together.
		for r in &channel.feed.held {
			let body = messages::encode_range(false, r.start, r.end - r.start);
			out.push(protomux::message(local_id, kind::RANGE, &body));
		}
		out.push(protomux::message(local_id, kind::SYNC, &self.sync_for(&channel, 0).encode()));
		self.channels.insert(remote_id, channel);
		self.send(&out).await?;
		Ok(true)
	}

	/// Answers a request for a proof of contact (see [`CONTACT_PROTOCOL`]): the hoster's
	/// signature over the hashes of the blocks this connection was served.
	async fn contact(
		&mut self,
		remote_id: u64,
		id: &[u8],
		handshake: &[u8],
	) -> Result<bool, StreamError> {
		self.contacts += 1;
		if self.contacts > MAX_CONTACTS {
			return Ok(false);
		}
		let parsed = (<[u8; 8]>::try_from(id), handshake.len() == 64);
		let (Ok(challenge), true, Some(signer)) = (parsed.0, parsed.1, self.signer.clone()) else {
			self.send(&[protomux::reject(remote_id)]).await?;
			return Ok(true);
		};
		let contact = Contact {
			challenge: u64::from_le_bytes(challenge),
			attestor: handshake[..32].try_into().expect("64 bytes"),
			hoster: handshake[32..].try_into().expect("64 bytes"),
			hashes: self.served.iter().copied().collect(),
		};
		// The keystore may touch the disk: off the async threads.
		let signature = tokio::task::spawn_blocking(move || signer(contact)).await.ok().flatten();
		let Some(signature) = signature else {
			self.send(&[protomux::reject(remote_id)]).await?;
			return Ok(true);
		};
		let local_id = self.free_local_id();
		// The answer is the open itself; the channel has nothing more to carry.
		let answer = protomux::open(local_id, CONTACT_PROTOCOL, id, &signature);
		self.send(&[answer, protomux::close(local_id)]).await?;
		Ok(true)
	}

	/// The smallest channel id of ours not in use (protomux wants them dense from 1).
	fn free_local_id(&self) -> u64 {
		let mut local_id = 1;
		while self.channels.values().any(|c| c.local_id == local_id) {
			local_id += 1;
		}
		local_id
	}

	/// Slows a reader down to `requests_per_second`.
	async fn pace(&mut self) {
		let (since, count) = &mut self.window;
		if since.elapsed() >= Duration::from_secs(1) {
			*since = Instant::now();
			*count = 0;
		}
		*count += 1;
		if *count > self.requests_per_second {
			tokio::time::sleep_until((*since + Duration::from_secs(1)).into()).await;
			self.window = (Instant::now(), 1);
		}
	}

	/// The messages answering `request` on the reader's channel `remote_id`.
	async fn answer(&mut self, remote_id: u64, request: Request) -> Vec<Vec<u8>> {
		let Some(channel) = self.channels.get(&remote_id) else { return Vec::new() };
		let (local, feed) = (channel.local_id, &channel.feed);
		let refuse = |reason| {
			vec![protomux::message(
				local,
				kind::NO_DATA,
				&messages::encode_no_data(request.id, reason),
			)]
		};
		let upgrade_ok = match request.upgrade {
			None => true,
			Some((start, length)) => start == 0 && length == feed.length,
		};
		if request.fork != feed.fork || request.hash_or_seek || !upgrade_ok {
			self.report(0, 0, 1);
			return refuse(no_data::NOT_AVAILABLE);
		}
		let manifest = channel.manifest.as_deref().filter(|_| request.manifest);
		// The block asked for, or (for an upgrade alone) any block we hold.
		let wanted = match (request.block, request.upgrade) {
			(Some((index, _)), _) => Some(index),
			(None, Some(_)) => feed.held.first().map(|r| r.start),
			(None, None) => None,
		};
		let proof = match wanted {
			Some(index) if feed.holds(index) => {
				let (source, key, length) = (self.source.clone(), feed.auth.key, feed.length);
				tokio::task::spawn_blocking(move || source.block(&key, length, index))
					.await
					.ok()
					.flatten()
			}
			_ => None,
		};
		let data = match (proof, request.block, request.upgrade) {
			(Some(proof), Some((_, nodes)), upgrade) => {
				let mut block = proof.block.clone().expect("a block proof holds its block");
				if upgrade.is_none() {
					block.nodes.truncate(nodes as usize);
				}
				let upgrade = if upgrade.is_some() { proof.upgrade.clone() } else { None };
				self.report(1, block.value.len() as u64, 0);
				if self.served.len() == REMEMBERED_BLOCKS {
					self.served.pop_front();
				}
				self.served.push_back(datdot_primitives::hash::leaf_hash(&block.value));
				Data {
					request: request.id,
					fork: feed.fork,
					block: Some(&block),
					upgrade: upgrade.as_ref(),
					manifest,
				}
				.encode()
			}
			(Some(proof), None, Some(_)) => {
				let Some(roots) = full_roots(&proof) else { return refuse(no_data::INVALID) };
				let mut upgrade = proof.upgrade.clone().expect("checked by full_roots");
				upgrade.nodes = roots;
				Data {
					request: request.id,
					fork: feed.fork,
					block: None,
					upgrade: Some(&upgrade),
					manifest,
				}
				.encode()
			}
			(None, None, None) if manifest.is_some() => {
				Data { request: request.id, fork: feed.fork, block: None, upgrade: None, manifest }
					.encode()
			}
			(None, Some((index, _)), _) => {
				// Not held (or unreadable): say so first, or the reader asks again at once.
				self.report(0, 0, 1);
				let dropped = messages::encode_range(true, index, 1);
				let mut out = vec![protomux::message(local, kind::RANGE, &dropped)];
				out.extend(refuse(no_data::NOT_AVAILABLE));
				return out;
			}
			_ => {
				self.report(0, 0, 1);
				return refuse(no_data::NOT_AVAILABLE);
			}
		};
		vec![protomux::message(local, kind::DATA, &data)]
	}

	fn report(&self, blocks: u64, bytes: u64, refused: u64) {
		if let Some(metrics) = &self.metrics {
			metrics(Served { blocks, bytes, refused });
		}
	}

	async fn send(&mut self, messages: &[Vec<u8>]) -> Result<(), StreamError> {
		if messages.is_empty() {
			return Ok(());
		}
		tokio::time::timeout(self.idle, self.writer.send(messages)).await.map_err(|_| {
			StreamError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "reader not reading"))
		})?
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn one_ip_holds_at_most_its_share_of_connections() {
		let slots = IpSlots::default();
		let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
		let first = slots.take(a, 2).unwrap();
		let _second = slots.take(a, 2).unwrap();
		assert!(slots.take(a, 2).is_none(), "a third from the same address is refused");
		assert!(slots.take(b, 2).is_some(), "another address is not held up");
		drop(first);
		assert!(slots.take(a, 2).is_some(), "a closed connection frees its slot");
	}

	#[test]
	fn discovery_key_is_hypercore_cryptos() {
		// Vector from hypercore-crypto: the all-zero key.
		let dk = discovery_key(&[0; 32]);
		assert_eq!(
			datdot_primitives::json::to_hex(&dk),
			"6b7ecf9ce456d56e5145ec4c5661e0c79ee47ddcc9c0504e90aa6fd60746365c"
		);
	}

	#[test]
	fn full_roots_of_a_block_proof_are_the_writers() {
		use datdot_primitives::writer::FeedWriter;
		let mut feed = FeedWriter::from_seed([3; 32], SigningMode::ManifestV1);
		for i in 0..13u8 {
			feed.append(&[i; 100]).unwrap();
		}
		for index in [0, 3, 12] {
			let proof = feed.block_proof(index).unwrap();
			assert_eq!(full_roots(&proof).unwrap(), feed.roots());
		}
		assert!(manifest_bytes(&feed.auth()).is_some());
		let compat = FeedWriter::from_seed([3; 32], SigningMode::Compat);
		assert!(manifest_bytes(&compat.auth()).is_none());
	}
}
