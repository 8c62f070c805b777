//! hypercore 11's replication messages (`lib/messages.js`, `wire.*`) in npm
//! `compact-encoding`: what a seeder reads from a reader and writes back.

pub use datdot_primitives::compact::encode_uint as put_uint;
use datdot_primitives::{
	proof::{BlockData, UpgradeData},
	Node,
};

/// A message that ended early or holds an impossible value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed hypercore message")]
pub struct Malformed;

/// A bounds-checked reader over a received message.
pub struct Cursor<'a>(pub &'a [u8]);

impl<'a> Cursor<'a> {
	/// The next `n` bytes.
	pub fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
		if self.0.len() < n {
			return Err(Malformed);
		}
		let (head, tail) = self.0.split_at(n);
		self.0 = tail;
		Ok(head)
	}

	/// A compact-encoded unsigned integer.
	pub fn uint(&mut self) -> Result<u64, Malformed> {
		let first = self.take(1)?[0];
		let wide = |c: &mut Self, n: usize| {
			let mut le = [0u8; 8];
			le[..n].copy_from_slice(c.take(n)?);
			Ok(u64::from_le_bytes(le))
		};
		match first {
			0xfd => wide(self, 2),
			0xfe => wide(self, 4),
			0xff => wide(self, 8),
			n => Ok(n as u64),
		}
	}

	/// A length-prefixed byte string.
	pub fn buffer(&mut self) -> Result<&'a [u8], Malformed> {
		let len = self.uint()?;
		self.take(usize::try_from(len).map_err(|_| Malformed)?)
	}

	/// 32 raw bytes.
	pub fn fixed32(&mut self) -> Result<[u8; 32], Malformed> {
		Ok(self.take(32)?.try_into().expect("32 bytes taken"))
	}

	/// Whatever is left (protomux's `raw`).
	pub fn rest(&mut self) -> &'a [u8] {
		core::mem::take(&mut self.0)
	}

	/// Whether nothing is left.
	pub fn is_empty(&self) -> bool {
		self.0.is_empty()
	}
}

/// Appends a length-prefixed byte string.
pub fn put_buffer(out: &mut Vec<u8>, bytes: &[u8]) {
	put_uint(out, bytes.len() as u64);
	out.extend_from_slice(bytes);
}

/// The message types of the `hypercore/alpha` channel, by their index on the wire.
pub mod kind {
	/// `sync`: lengths and capabilities.
	pub const SYNC: u64 = 0;
	/// `request`: a block, hash, seek and/or upgrade.
	pub const REQUEST: u64 = 1;
	/// `cancel`: forget a request.
	pub const CANCEL: u64 = 2;
	/// `data`: the proof answering a request.
	pub const DATA: u64 = 3;
	/// `noData`: a request that cannot be answered.
	pub const NO_DATA: u64 = 4;
	/// `want`: which blocks the peer would like to know about.
	pub const WANT: u64 = 5;
	/// `range`: blocks the sender has (or dropped).
	pub const RANGE: u64 = 8;
}

/// The channel's opening handshake: `seeks` flag and the capability.
pub fn encode_handshake(capability: &[u8; 32]) -> Vec<u8> {
	// Flags 0: we do not answer seeks, so readers never ask for one.
	let mut out = vec![0u8];
	out.extend_from_slice(capability);
	out
}

/// The capability in a peer's channel handshake.
pub fn decode_handshake(bytes: &[u8]) -> Result<[u8; 32], Malformed> {
	let mut c = Cursor(bytes);
	c.uint()?;
	c.fixed32()
}

/// `sync`: our view of the feed and of the peer's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncMessage {
	/// 1 canUpgrade, 2 uploading, 4 downloading, 8 hasManifest.
	pub flags: u64,
	/// Fork of the sender's tree.
	pub fork: u64,
	/// Length of the sender's tree.
	pub length: u64,
	/// The receiver's length as the sender last heard it.
	pub remote_length: u64,
}

/// `sync` flags.
pub mod sync_flags {
	/// The sender can upgrade the receiver to its length.
	pub const CAN_UPGRADE: u64 = 1;
	/// The sender serves blocks.
	pub const UPLOADING: u64 = 2;
	/// The sender wants blocks.
	pub const DOWNLOADING: u64 = 4;
	/// The sender can send the feed's manifest.
	pub const HAS_MANIFEST: u64 = 8;
}

impl SyncMessage {
	/// Encodes the message body.
	pub fn encode(&self) -> Vec<u8> {
		let mut out = Vec::with_capacity(8);
		for n in [self.flags, self.fork, self.length, self.remote_length] {
			put_uint(&mut out, n);
		}
		out
	}

	/// Decodes a message body.
	pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
		let mut c = Cursor(bytes);
		Ok(SyncMessage {
			flags: c.uint()?,
			fork: c.uint()?,
			length: c.uint()?,
			remote_length: c.uint()?,
		})
	}
}

/// `request`, as far as a seeder needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
	/// The id the answer carries.
	pub id: u64,
	/// The fork the reader expects.
	pub fork: u64,
	/// A block and how many of its path nodes the reader lacks.
	pub block: Option<(u64, u64)>,
	/// Whether the reader asked for a tree node (`hash`) or a byte seek: we serve neither.
	pub hash_or_seek: bool,
	/// An upgrade: from the reader's length, by how many blocks.
	pub upgrade: Option<(u64, u64)>,
	/// The reader lacks the manifest.
	pub manifest: bool,
}

impl Request {
	/// Decodes a message body.
	pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
		let mut c = Cursor(bytes);
		let flags = c.uint()?;
		let mut r = Request { id: c.uint()?, fork: c.uint()?, ..Default::default() };
		if flags & 1 != 0 {
			r.block = Some((c.uint()?, c.uint()?));
		}
		if flags & 6 != 0 {
			r.hash_or_seek = true;
		}
		// The hash and seek bodies come before the upgrade; skip them.
		for bit in [2, 4] {
			if flags & bit != 0 {
				c.uint()?;
				c.uint()?;
			}
		}
		if flags & 8 != 0 {
			r.upgrade = Some((c.uint()?, c.uint()?));
		}
		r.manifest = flags & 16 != 0;
		Ok(r)
	}
}

impl Request {
	/// Encodes the message body (what an attestor asks a hoster: a block, maybe with the
	/// upgrade that proves it against the signed tree).
	pub fn encode(&self) -> Vec<u8> {
		let flags = u64::from(self.block.is_some())
			| (u64::from(self.upgrade.is_some()) << 3)
			| (u64::from(self.manifest) << 4);
		let mut out = Vec::with_capacity(16);
		for n in [flags, self.id, self.fork] {
			put_uint(&mut out, n);
		}
		for (a, b) in self.block.into_iter().chain(self.upgrade) {
			put_uint(&mut out, a);
			put_uint(&mut out, b);
		}
		out
	}
}

fn nodes(c: &mut Cursor<'_>) -> Result<Vec<Node>, Malformed> {
	let count = c.uint()?;
	// Each node takes at least 34 bytes: refuse a count the message cannot hold.
	if count > (c.0.len() / 34) as u64 {
		return Err(Malformed);
	}
	(0..count).map(|_| Ok(Node { index: c.uint()?, size: c.uint()?, hash: c.fixed32()? })).collect()
}

/// Decodes a `data` message into the request id it answers and its proof (block and
/// upgrade; a hash or seek part, which we never ask for, is refused).
pub fn decode_data(bytes: &[u8]) -> Result<(u64, datdot_primitives::Proof), Malformed> {
	let mut c = Cursor(bytes);
	let flags = c.uint()?;
	let request = c.uint()?;
	let fork = c.uint()?;
	if flags & 6 != 0 {
		return Err(Malformed);
	}
	let block = if flags & 1 != 0 {
		let index = c.uint()?;
		let value = c.buffer()?.to_vec();
		Some(BlockData { index, value, nodes: nodes(&mut c)? })
	} else {
		None
	};
	let upgrade = if flags & 8 != 0 {
		Some(UpgradeData {
			start: c.uint()?,
			length: c.uint()?,
			nodes: nodes(&mut c)?,
			additional_nodes: nodes(&mut c)?,
			signature: c.buffer()?.to_vec(),
		})
	} else {
		None
	};
	Ok((request, datdot_primitives::Proof { fork, block, upgrade }))
}

fn put_nodes(out: &mut Vec<u8>, nodes: &[Node]) {
	put_uint(out, nodes.len() as u64);
	for node in nodes {
		put_uint(out, node.index);
		put_uint(out, node.size);
		out.extend_from_slice(&node.hash);
	}
}

/// `data`: a proof answering request `request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data<'a> {
	/// The request's id.
	pub request: u64,
	/// The fork of the proof.
	pub fork: u64,
	/// The block with its sibling path.
	pub block: Option<&'a BlockData>,
	/// The signed upgrade.
	pub upgrade: Option<&'a UpgradeData>,
	/// The feed's manifest in hypercore's encoding.
	pub manifest: Option<&'a [u8]>,
}

impl Data<'_> {
	/// Encodes the message body.
	pub fn encode(&self) -> Vec<u8> {
		let block_len = self.block.map_or(0, |b| b.value.len() + 48 * b.nodes.len());
		let mut out = Vec::with_capacity(64 + block_len);
		let flags = u64::from(self.block.is_some())
			| (u64::from(self.upgrade.is_some()) << 3)
			| (u64::from(self.manifest.is_some()) << 4);
		put_uint(&mut out, flags);
		put_uint(&mut out, self.request);
		put_uint(&mut out, self.fork);
		if let Some(block) = self.block {
			put_uint(&mut out, block.index);
			put_buffer(&mut out, &block.value);
			put_nodes(&mut out, &block.nodes);
		}
		if let Some(upgrade) = self.upgrade {
			put_uint(&mut out, upgrade.start);
			put_uint(&mut out, upgrade.length);
			put_nodes(&mut out, &upgrade.nodes);
			put_nodes(&mut out, &upgrade.additional_nodes);
			put_buffer(&mut out, &upgrade.signature);
		}
		if let Some(manifest) = self.manifest {
			out.extend_from_slice(manifest);
		}
		out
	}
}

/// `noData` for request `request`, with reason 1 (not available) or 2 (invalid).
pub fn encode_no_data(request: u64, reason: u64) -> Vec<u8> {
	let mut out = Vec::with_capacity(4);
	put_uint(&mut out, request);
	put_uint(&mut out, 1);
	put_uint(&mut out, reason);
	out
}

/// `noData` reasons.
pub mod no_data {
	/// The sender does not have it.
	pub const NOT_AVAILABLE: u64 = 1;
	/// The request cannot be answered by anyone.
	pub const INVALID: u64 = 2;
}

/// `range`: the sender has (or, with `drop`, no longer has) `length` blocks from `start`.
pub fn encode_range(drop: bool, start: u64, length: u64) -> Vec<u8> {
	let mut out = Vec::with_capacity(8);
	put_uint(&mut out, u64::from(drop) | if length == 1 { 2 } else { 0 });
	put_uint(&mut out, start);
	if length != 1 {
		put_uint(&mut out, length);
	}
	out
}

/// `want`: the block span the peer asks about.
pub fn decode_want(bytes: &[u8]) -> Result<(u64, u64), Malformed> {
	let mut c = Cursor(bytes);
	Ok((c.uint()?, c.uint()?))
}

#[cfg(test)]
mod tests {
	use super::*;

	// Byte strings below are from a trace between two stock hypercore 11.35.1 cores.
	#[test]
	fn decodes_and_encodes_as_hypercore_does() {
		assert_eq!(
			SyncMessage::decode(&[0x0f, 0, 5, 0]).unwrap(),
			SyncMessage { flags: 15, fork: 0, length: 5, remote_length: 0 }
		);
		assert_eq!(
			SyncMessage { flags: 15, fork: 0, length: 5, remote_length: 0 }.encode(),
			[15, 0, 5, 0]
		);
		let upgrade = Request::decode(&[0x18, 1, 0, 0, 5]).unwrap();
		assert_eq!(upgrade.upgrade, Some((0, 5)));
		assert!(upgrade.manifest && upgrade.block.is_none());
		let block = Request::decode(&[0x21, 1, 0, 3, 2, 1]).unwrap();
		assert_eq!((block.id, block.block, block.upgrade), (1, Some((3, 2)), None));
		assert_eq!(encode_range(false, 0, 5), [0, 0, 5]);
		assert_eq!(encode_range(true, 4, 1), [3, 4]);
		let data = BlockData { index: 3, value: b"block3".to_vec(), nodes: vec![] };
		let encoded =
			Data { request: 1, fork: 0, block: Some(&data), upgrade: None, manifest: None }
				.encode();
		assert_eq!(encoded, [1, 1, 0, 3, 6, b'b', b'l', b'o', b'c', b'k', b'3', 0]);
	}

	#[test]
	fn requests_and_data_round_trip() {
		let request = Request {
			id: 7,
			fork: 0,
			block: Some((300, 0)),
			upgrade: Some((0, 512)),
			..Default::default()
		};
		assert_eq!(Request::decode(&request.encode()).unwrap(), request);
		let block = BlockData {
			index: 300,
			value: vec![5; 70_000],
			nodes: vec![Node { index: 601, size: 9, hash: [3; 32] }],
		};
		let upgrade = UpgradeData {
			start: 0,
			length: 512,
			nodes: vec![Node { index: 511, size: 1 << 20, hash: [4; 32] }],
			additional_nodes: vec![],
			signature: vec![6; 64],
		};
		let data = Data {
			request: 7,
			fork: 0,
			block: Some(&block),
			upgrade: Some(&upgrade),
			manifest: None,
		}
		.encode();
		let (id, proof) = decode_data(&data).unwrap();
		assert_eq!((id, proof.block, proof.upgrade), (7, Some(block), Some(upgrade)));
		// Truncated anywhere, or claiming more nodes than it holds: refused.
		for cut in [1, 10, data.len() / 2, data.len() - 1] {
			assert_eq!(decode_data(&data[..cut]), Err(Malformed), "cut at {cut}");
		}
		assert_eq!(decode_data(&[1, 7, 0, 3, 0, 0xfd, 0xff, 0x00]), Err(Malformed));
	}

	#[test]
	fn truncated_messages_are_refused() {
		assert_eq!(SyncMessage::decode(&[0x0f, 0, 5]), Err(Malformed));
		assert_eq!(Request::decode(&[0x01, 1, 0, 3]), Err(Malformed));
		assert_eq!(Cursor(&[0xfe, 1, 2]).uint(), Err(Malformed));
	}
}
