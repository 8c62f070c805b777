//! The replica store: where a hoster keeps the sealed replicas it has taken on, durably.
//!
//! One directory per replica under `<base-path>/datdot/replicas/`:
//! - `data`: the sealed blocks, back to back (what the chain's segments index into; every
//!   block is whole segments, so segment `i` is at `i * SEGMENT_SIZE`);
//! - `tree`: the segment tree's levels, leaves first, 32 bytes a node (proofs read
//!   `log2(segments)` hashes instead of rehashing the replica);
//! - `proofs`: hypercore's proof of each original block (without the block's bytes, which
//!   unsealing and decoding the replica gives back), SCALE-encoded, so the hoster serves the feed's
//!   blocks to readers and to the encoders of replacements like the publisher does;
//! - `meta`: the SCALE-encoded [`ReplicaMeta`], with a BLAKE2b checksum.
//!
//! A hoster receives a replica into a stream directory under `.receiving/`, each chunk
//! durable as it arrives ([`crate::stream_log`]; an encoder's streams are under
//! `.encoding/`). Once the stream is whole, [`ReplicaStore::adopt`] writes the tree, proofs
//! and meta beside its data, fsyncs them and renames the directory into place: after it
//! returns, the replica survives `kill -9` and power loss, and before it returns nothing of
//! it is visible as a replica. That is why a hoster confirms on chain only after `adopt`
//! (see docs/decisions.md: the node's ParityDB commits asynchronously, so it is not used
//! for replicas).
//!
//! Start-up reads only each replica's `meta` and file sizes, so a node with a full store
//! starts in seconds. Contents are checked on read (every storage proof against the
//! replica's root before it is answered) and by a rate-limited background scrub
//! ([`ReplicaStore::scrub_pass`]) that re-reads each replica whole; a damaged replica is
//! removed either way, and the chain faults and replaces it.

use crate::stream_log::{StreamHead, StreamLog};
use codec::{Decode, Encode};
#[cfg(test)]
use datdot_primitives::encoded::SealedReplica;
use datdot_primitives::{
	encoded::{decode_block, verify_segment, EncodedRoot, ReplicaId, SegmentProof, SEGMENT_SIZE},
	hash::blake2b256,
	sealing::{SealingKey, Unsealer},
	verify::verify_block_proof,
	DalekVerifier, FeedAuth, Proof,
};
use pallet_datdot::types::Role;
use std::{
	collections::BTreeMap,
	fs::{self, File},
	ops::Range,
	os::unix::fs::FileExt,
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
};

/// hypercore's proofs of a replica's original blocks, in order, with the blocks' bytes
/// left out, against the feed's signed tree at `length`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct BlockProofs {
	/// The signed length the proofs are against.
	pub length: u64,
	/// One proof per block of the replica (or none: the replica's blocks are not served).
	pub proofs: Vec<Proof>,
}

/// What the store keeps about a replica besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ReplicaMeta {
	/// Which replica (hashed into every leaf).
	pub id: ReplicaId,
	/// The feed it is a replica of.
	pub feed: [u8; 32],
	/// The feed's index of the first block it holds.
	pub first_block: u64,
	/// Root and segment count, as confirmed on chain.
	pub root: EncodedRoot,
	/// The encoder's sealing key (unsealing the blocks to serve them needs it).
	pub sealing_key: SealingKey,
	/// The length of each sealed block (whole segments), in order.
	pub block_lens: Vec<u32>,
	/// The signed length the stored block proofs are against (0: none stored).
	pub proven_length: u64,
	/// Bytes of `proofs`.
	pub proofs_len: u64,
}

impl ReplicaMeta {
	/// Bytes of `data`.
	fn data_len(&self) -> u64 {
		self.block_lens.iter().map(|&l| l as u64).sum()
	}

	/// Bytes of `tree`: every level of the tree, leaves first.
	fn tree_len(&self) -> u64 {
		level_widths(self.root.segments).iter().sum::<u64>() * 32
	}

	/// Bytes capacity counts for the replica: its sealed bytes, as the chain counts an
	/// active replica (segments × `SEGMENT_SIZE`). Its tree and proofs come on top.
	pub fn counted_len(&self) -> u64 {
		self.data_len()
	}

	/// Bytes the replica takes on disk.
	pub fn stored_len(&self) -> u64 {
		self.data_len() + self.tree_len() + self.proofs_len
	}

	/// The feed blocks the replica holds.
	pub fn blocks(&self) -> Range<u64> {
		self.first_block..self.first_block + self.block_lens.len() as u64
	}

	/// Where block `i` of the replica lies in `data`: (offset, length).
	fn block_span(&self, i: usize) -> Option<(u64, usize)> {
		let offset = self.block_lens.get(..i)?.iter().map(|&l| l as u64).sum();
		Some((offset, *self.block_lens.get(i)? as usize))
	}

	/// Where segment `index` lies in `data`: (offset, length).
	fn segment_span(&self, index: u64) -> Option<(u64, usize)> {
		let offset = index.checked_mul(SEGMENT_SIZE as u64)?;
		(offset < self.data_len()).then_some((offset, SEGMENT_SIZE))
	}

	/// The unsealer of this replica's encoder key (built once per read: it checks the key
	/// and derives the Montgomery parameters).
	fn unsealer(&self) -> Result<Unsealer> {
		Unsealer::new(&self.sealing_key).map_err(|e| StoreError::Damaged {
			id: self.id,
			what: format!("its encoder's sealing key is unusable: {e}"),
		})
	}

	/// The original bytes of block `i` of this replica from its sealed bytes, which start
	/// at `offset` in `data`.
	fn unseal(&self, unsealer: &Unsealer, i: usize, offset: u64, sealed: &[u8]) -> Result<Vec<u8>> {
		let damaged =
			|what: String| StoreError::Damaged { id: self.id, what: format!("block {i} {what}") };
		let first_segment = offset / SEGMENT_SIZE as u64;
		let encoded = unsealer
			.unseal_block(&self.id, first_segment, self.first_block + i as u64, sealed)
			.map_err(|e| damaged(format!("does not unseal: {e}")))?;
		decode_block(&encoded).map_err(|e| damaged(format!("does not decode: {e}")))
	}
}

use crate::tree_file::{level_widths, sibling_path};

/// Bytes the given replicas take in the store.
fn used_by(replicas: &BTreeMap<ReplicaId, ReplicaMeta>) -> u64 {
	replicas.values().map(ReplicaMeta::counted_len).sum()
}

/// The tree file's bytes: every level of the replica's segment tree, leaves first.
#[cfg(test)]
fn tree_bytes(replica: &SealedReplica) -> Vec<u8> {
	replica.levels().iter().flatten().flatten().copied().collect()
}

/// Why the store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// Storing the replica would exceed the configured capacity.
	#[error("no room for replica {id:?}: it needs {needed} bytes, {free} of the store's capacity are free (raise --store-capacity or free replicas)")]
	CapacityExceeded { id: ReplicaId, needed: u64, free: u64 },
	/// The store already holds this replica with another root.
	#[error("replica {0:?} is already stored with another root")]
	Conflict(ReplicaId),
	/// The replica is not in the store.
	#[error("replica {0:?} is not stored here")]
	UnknownReplica(ReplicaId),
	/// The replica has no such segment.
	#[error("replica {id:?} has no segment {index}")]
	SegmentOutOfRange { id: ReplicaId, index: u64 },
	/// What is on disk does not match what was stored.
	#[error("replica {id:?} is damaged on disk: {what}")]
	Damaged { id: ReplicaId, what: String },
	/// A filesystem operation failed.
	#[error("replica store at {path}: {source}")]
	Io { path: PathBuf, source: std::io::Error },
}

type Result<T> = std::result::Result<T, StoreError>;

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
	r.map_err(|source| StoreError::Io { path: path.to_owned(), source })
}

/// A provider's part in a replica's setup.
pub type Part = (Role, ReplicaId);

/// The durable store of this node's encoded replicas, bounded by a capacity in bytes.
pub struct ReplicaStore {
	dir: PathBuf,
	capacity: u64,
	replicas: Mutex<BTreeMap<ReplicaId, ReplicaMeta>>,
	/// Bytes held for the streams of setups (a replica being encoded, or received), as the
	/// chain holds them from the encoder's and the hoster's capacity
	/// (`SetupDuty::reserved`). Locked only while `replicas` is.
	reservations: Mutex<BTreeMap<Part, u64>>,
	/// The decoded block proofs of the replicas read last, so serving one block at a time
	/// does not decode a replica's whole `proofs` file per block.
	proof_cache: Mutex<Vec<CachedProofs>>,
}

/// A replica's decoded block proofs, by replica and the signed length they are against.
type CachedProofs = (ReplicaId, u64, Arc<Vec<Proof>>);

/// Replicas whose decoded block proofs are kept in memory (a few MB at most).
const PROOF_CACHE: usize = 8;

impl ReplicaStore {
	/// Opens (or creates) the store in `dir`. Leftovers of an interrupted `put` are
	/// removed; replicas whose files are missing or truncated are reported and dropped
	/// (the chain faults and replaces them, which is what should happen to lost data).
	pub fn open(dir: &Path, capacity: u64) -> Result<Self> {
		let mut replicas = BTreeMap::new();
		for path in io(dir, crate::durable::entries(dir))? {
			// `.encoding` and `.receiving` hold streams, not replicas.
			if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
				continue;
			}
			match load_replica(&path) {
				Ok(meta) => {
					replicas.insert(meta.id, meta);
				}
				Err(e) => log::error!(target: "datdot", "dropping {}: {e}", path.display()),
			}
		}
		let store = Self {
			dir: dir.to_owned(),
			capacity,
			replicas: Mutex::new(replicas),
			reservations: Mutex::new(BTreeMap::new()),
			proof_cache: Mutex::new(Vec::new()),
		};
		log::info!(
			target: "datdot",
			"replica store {}: {} replicas, {} of {} bytes used",
			dir.display(),
			store.replica_count(),
			store.used(),
			capacity,
		);
		Ok(store)
	}

	fn replicas(&self) -> std::sync::MutexGuard<'_, BTreeMap<ReplicaId, ReplicaMeta>> {
		// A panic while holding the lock cannot leave the map half-updated (each update is
		// one insert or remove), so a poisoned lock is still consistent.
		self.replicas.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// Bytes the stored replicas count against capacity (their sealed bytes).
	pub fn used(&self) -> u64 {
		used_by(&self.replicas())
	}

	/// Bytes of capacity held for setups' streams (being encoded or received).
	pub fn reserved(&self) -> u64 {
		let _replicas = self.replicas();
		self.reservations().values().sum()
	}

	fn reservations(&self) -> std::sync::MutexGuard<'_, BTreeMap<Part, u64>> {
		// Each update is one insert or remove: a poisoned lock is still consistent.
		self.reservations.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// Holds `bytes` of capacity for `role`'s stream of replica `id` before it is written
	/// (what the chain holds from that provider for it), so the setups running at once
	/// cannot together take more than the store has. Holding it again replaces the
	/// amount; a stored replica needs none to be received.
	pub fn reserve(&self, role: Role, id: ReplicaId, bytes: u64) -> Result<()> {
		let replicas = self.replicas();
		if role == Role::Hoster && replicas.contains_key(&id) {
			return Ok(());
		}
		let mut reservations = self.reservations();
		let part = (role, id);
		let others: u64 = reservations.iter().filter(|(p, _)| **p != part).map(|(_, b)| b).sum();
		let used = used_by(&replicas) + others;
		if used.saturating_add(bytes) > self.capacity {
			let free = self.capacity.saturating_sub(used);
			return Err(StoreError::CapacityExceeded { id, needed: bytes, free });
		}
		reservations.insert(part, bytes);
		Ok(())
	}

	/// Raises `role`'s hold for replica `id` towards `bytes`, as far as the store has room
	/// (this part's own hold counts as room), never below what it holds; returns the bytes
	/// now held. For what may outgrow its reservation: a hoster's evidence.
	pub fn reserve_up_to(&self, role: Role, id: ReplicaId, bytes: u64) -> u64 {
		let replicas = self.replicas();
		let mut reservations = self.reservations();
		let part = (role, id);
		let others: u64 = reservations.iter().filter(|(p, _)| **p != part).map(|(_, b)| b).sum();
		let free = self.capacity.saturating_sub(used_by(&replicas) + others);
		let held = reservations.get(&part).copied().unwrap_or(0);
		let now = bytes.min(free).max(held);
		reservations.insert(part, now);
		now
	}

	/// Lets go of `role`'s reservation for replica `id` (its setup ended, or the reception
	/// ended without a replica).
	pub fn release(&self, role: Role, id: &ReplicaId) {
		let _replicas = self.replicas();
		self.reservations().remove(&(role, *id));
	}

	/// The setup parts capacity is reserved for.
	pub fn reserved_parts(&self) -> Vec<Part> {
		let _replicas = self.replicas();
		self.reservations().keys().copied().collect()
	}

	/// The configured capacity in bytes.
	pub fn capacity(&self) -> u64 {
		self.capacity
	}

	/// Number of stored replicas.
	pub fn replica_count(&self) -> usize {
		self.replicas().len()
	}

	/// What the store knows of replica `id`.
	pub fn meta(&self, id: &ReplicaId) -> Option<ReplicaMeta> {
		self.replicas().get(id).cloned()
	}

	/// The ids of every stored replica.
	pub fn ids(&self) -> Vec<ReplicaId> {
		self.replicas().keys().copied().collect()
	}

	fn replica_dir(&self, id: &ReplicaId) -> PathBuf {
		self.dir.join(replica_dir_name(id))
	}

	/// Stores `replica` (of `feed`) with its blocks' `proofs` durably, from memory (the
	/// tests' way; a node adopts the stream it received: [`ReplicaStore::adopt`]). Storing
	/// the same replica again is a no-op; storing it with another root is refused.
	#[cfg(test)]
	pub fn put(&self, feed: [u8; 32], replica: &SealedReplica, proofs: &BlockProofs) -> Result<()> {
		let id = replica.id();
		let proof_bytes = proofs.proofs.encode();
		let meta = ReplicaMeta {
			id,
			feed,
			first_block: replica.first_block(),
			root: replica.root(),
			sealing_key: *replica.key(),
			block_lens: replica.sealed_blocks().iter().map(|b| b.len() as u32).collect(),
			proven_length: if proofs.proofs.is_empty() { 0 } else { proofs.length },
			proofs_len: proof_bytes.len() as u64,
		};
		// Held across the write so two puts cannot both fit in the last free bytes.
		let mut replicas = self.replicas();
		if self.admit(&replicas, &meta)? {
			return Ok(());
		}
		let data: Vec<&[u8]> = replica.sealed_blocks().iter().map(|b| &b[..]).collect();
		// A replica dropped at `open` (damaged) may have left its directory behind: the
		// write replaces it.
		self.write_replica(&meta, &data, &tree_bytes(replica), &proof_bytes)?;
		replicas.insert(id, meta);
		Ok(())
	}

	/// Whether `meta`'s replica may go in beside `replicas`: `Ok(true)` if it is there
	/// already (same root), `Ok(false)` if it fits; a conflict or no room is an error.
	fn admit(
		&self,
		replicas: &BTreeMap<ReplicaId, ReplicaMeta>,
		meta: &ReplicaMeta,
	) -> Result<bool> {
		let id = meta.id;
		if let Some(existing) = replicas.get(&id) {
			return if existing.root == meta.root {
				Ok(true)
			} else {
				Err(StoreError::Conflict(id))
			};
		}
		// A reserved replica goes in whatever its real size, as the chain's reservation
		// becomes the real size at activation; the reservation ends.
		let mut reservations = self.reservations();
		if reservations.remove(&(Role::Hoster, id)).is_some() {
			return Ok(false);
		}
		let used = used_by(replicas) + reservations.values().sum::<u64>();
		let needed = meta.counted_len();
		if used.saturating_add(needed) > self.capacity {
			let free = self.capacity.saturating_sub(used);
			return Err(StoreError::CapacityExceeded { id, needed, free });
		}
		Ok(false)
	}

	/// The directory of `role`'s stream of replica `id` (see [`crate::stream_log`]).
	fn stream_dir(&self, role: Role, id: &ReplicaId) -> PathBuf {
		self.dir.join(stream_parent(role)).join(replica_dir_name(id))
	}

	/// Opens (resuming, if an earlier run logged some of it) `role`'s stream `head`.
	pub fn stream_log(&self, role: Role, head: StreamHead) -> Result<StreamLog> {
		let dir = self.stream_dir(role, &head.id);
		io(&dir, StreamLog::open(&dir, head))
	}

	/// The replicas `role`'s streams on disk are of.
	pub fn stream_logs(&self, role: Role) -> Vec<ReplicaId> {
		// Also clears what a cut-off delete left (`.tmp-…`).
		let Ok(entries) = crate::durable::entries(&self.dir.join(stream_parent(role))) else {
			return Vec::new();
		};
		entries
			.iter()
			.filter_map(|path| parse_replica_dir_name(path.file_name()?.to_str()?))
			.collect()
	}

	/// Deletes `role`'s stream of replica `id` (a no-op if there is none).
	pub fn remove_stream_log(&self, role: Role, id: &ReplicaId) -> Result<()> {
		let dir = self.stream_dir(role, id);
		io(&dir, crate::stream_log::remove(&dir))
	}

	/// Makes the whole stream a hoster received (`log`, every block checked) replica of
	/// `feed`, its blocks' proofs against signed length `length`: builds its tree and meta
	/// beside the stream's data, then renames the directory into the store, so the bytes are
	/// never copied and a crash leaves the stream (resumed) or the replica, never a part.
	/// Returns its root. The same replica again is a no-op; another root is refused.
	pub fn adopt(&self, feed: [u8; 32], log: StreamLog, length: u64) -> Result<EncodedRoot> {
		let dir = log.dir().to_owned();
		let head = log.head().clone();
		let root = io(&dir, log.root())?;
		let proof_bytes = log.proofs().encode();
		let meta = ReplicaMeta {
			id: head.id,
			feed,
			first_block: head.blocks.0,
			root,
			sealing_key: head.key,
			block_lens: log.block_lens(),
			proven_length: length,
			proofs_len: proof_bytes.len() as u64,
		};
		drop(log);
		let encoded = meta.encode();
		let checksum = blake2b256(&[&encoded]);
		let write = crate::durable::write_synced;
		io(&dir, write(&dir.join("proofs"), &proof_bytes))?;
		io(&dir, write(&dir.join("meta"), &[&encoded[..], &checksum].concat()))?;
		// Held across the rename so two replicas cannot both fit in the last free bytes.
		let mut replicas = self.replicas();
		if self.admit(&replicas, &meta)? {
			self.remove_stream_log(Role::Hoster, &head.id)?;
			return Ok(root);
		}
		let target = self.replica_dir(&head.id);
		io(&dir, crate::durable::move_dir(&dir, &target))?;
		replicas.insert(head.id, meta);
		// What only the stream needed (and evidence of an earlier try of this draw); a crash
		// before this leaves files that nothing reads (the next proof renewal rewrites the
		// directory without them).
		for name in ["head", "index"].into_iter().chain(crate::evidence::EVIDENCE_FILES) {
			match fs::remove_file(target.join(name)) {
				Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
					log::warn!(target: "datdot", "cannot remove {name} of a stored stream: {e}")
				}
				_ => {}
			}
		}
		Ok(root)
	}

	/// Writes replica `meta`'s directory (data, tree, proofs and checksummed meta) and swaps
	/// it in whole.
	#[cfg(test)]
	fn write_replica(
		&self,
		meta: &ReplicaMeta,
		data: &[&[u8]],
		tree: &[u8],
		proofs: &[u8],
	) -> Result<()> {
		let encoded = meta.encode();
		let checksum = blake2b256(&[&encoded]);
		let files: [(&str, &[&[u8]]); 4] = [
			("data", data),
			("tree", &[tree]),
			("proofs", &[proofs]),
			("meta", &[&encoded, &checksum]),
		];
		io(&self.dir, crate::durable::write_dir(&self.dir, &replica_dir_name(&meta.id), &files))
	}

	/// Removes replica `id` (released on chain). Removing an unknown replica is a no-op.
	pub fn remove(&self, id: &ReplicaId) -> Result<()> {
		let mut replicas = self.replicas();
		if replicas.remove(id).is_some() {
			io(&self.dir, crate::durable::remove_dir(&self.dir, &replica_dir_name(id)))?;
		}
		Ok(())
	}

	/// Original blocks of feed `auth` from `range.start` on, with hypercore's proofs against
	/// signed length `length`, decoded from a stored replica holding block `range.start`:
	/// consecutive blocks up to `range.end` or the replica's end, stopping once `max_bytes`
	/// of blocks are in (at least one block). `Ok(None)` when no stored replica serves that
	/// block at that length.
	///
	/// Each block is checked against its proof and the author's signature before it goes
	/// out: a disk that damaged a block must not make this node serve bytes its reader
	/// would refuse (and charge it reputation for). The blocks before a damaged one are
	/// served; a damaged first block is [`StoreError::Damaged`], and the caller asks
	/// elsewhere while the scrub deals with the replica.
	pub fn original_blocks(
		&self,
		auth: &FeedAuth,
		length: u64,
		range: Range<u64>,
		max_bytes: usize,
	) -> Result<Option<Vec<Proof>>> {
		let found = self
			.replicas()
			.values()
			.find(|m| {
				m.feed == auth.key && m.proven_length == length && m.blocks().contains(&range.start)
			})
			.cloned();
		let Some(meta) = found else { return Ok(None) };
		let id = meta.id;
		let damaged = |what: String| StoreError::Damaged { id, what };
		let proofs = self.block_proofs(&meta)?;
		let dir = self.replica_dir(&id);
		let data_path = dir.join("data");
		let data = io(&data_path, File::open(&data_path))?;
		let unsealer = meta.unsealer()?;
		let first = (range.start - meta.first_block) as usize;
		let last = (range.end.min(meta.blocks().end) - meta.first_block) as usize;
		let mut served = Vec::new();
		let mut bytes_in = 0usize;
		for i in first..last {
			if bytes_in >= max_bytes {
				break;
			}
			let (offset, len) = meta.block_span(i).ok_or_else(|| damaged("short meta".into()))?;
			let mut sealed = vec![0u8; len];
			io(&data_path, data.read_exact_at(&mut sealed, offset))?;
			let value = meta.unseal(&unsealer, i, offset, &sealed)?;
			let mut proof = proofs
				.get(i)
				.cloned()
				.ok_or_else(|| damaged("fewer block proofs than blocks".into()))?;
			bytes_in += value.len();
			match proof.block.as_mut() {
				Some(block) => block.value = value,
				None => return Err(damaged(format!("the proof of block {i} has no block"))),
			}
			let checked = verify_block_proof(auth, &proof, &DalekVerifier)
				.map_err(|e| format!("{e:?}"))
				.and_then(|v| {
					(v.tree.length == length).then_some(()).ok_or_else(|| {
						format!("its proof is against length {}, not {length}", v.tree.length)
					})
				});
			if let Err(e) = checked {
				let index = meta.first_block + i as u64;
				if served.is_empty() {
					return Err(damaged(format!("block {index} does not match its proof: {e}")));
				}
				log::warn!(
					target: "datdot",
					"replica {}/{}: block {index} does not match its proof ({e}); serving the \
					 blocks before it",
					id.contract,
					id.replica,
				);
				break;
			}
			served.push(proof);
		}
		Ok(Some(served))
	}

	/// The block proofs of replica `meta` (without the blocks' bytes), from the cache or
	/// read and decoded once.
	fn block_proofs(&self, meta: &ReplicaMeta) -> Result<Arc<Vec<Proof>>> {
		let key = (meta.id, meta.proven_length);
		let cache = || self.proof_cache.lock().unwrap_or_else(|p| p.into_inner());
		if let Some((.., proofs)) = cache().iter().find(|(id, l, _)| (*id, *l) == key) {
			return Ok(proofs.clone());
		}
		let dir = self.replica_dir(&meta.id);
		let bytes = io(&dir, fs::read(dir.join("proofs")))?;
		let proofs = Vec::<Proof>::decode(&mut &bytes[..]).map_err(|_| StoreError::Damaged {
			id: meta.id,
			what: "its block proofs do not decode".into(),
		})?;
		let proofs = Arc::new(proofs);
		let mut cache = cache();
		if cache.len() >= PROOF_CACHE {
			cache.remove(0);
		}
		cache.push((key.0, key.1, proofs.clone()));
		Ok(proofs)
	}

	/// What this store serves of `feed`: the longest signed length its replicas' proofs are
	/// against, and the blocks held at that length as sorted disjoint ranges.
	pub fn served_blocks(&self, feed: &[u8; 32]) -> Option<(u64, Vec<Range<u64>>)> {
		let replicas = self.replicas();
		let of_feed = || replicas.values().filter(|m| m.feed == *feed && m.proven_length != 0);
		let length = of_feed().map(|m| m.proven_length).max()?;
		let mut held: Vec<Range<u64>> =
			of_feed().filter(|m| m.proven_length == length).map(|m| m.blocks()).collect();
		held.sort_by_key(|r| r.start);
		let mut merged: Vec<Range<u64>> = Vec::with_capacity(held.len());
		for r in held {
			match merged.last_mut() {
				Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
				_ => merged.push(r),
			}
		}
		Some((length, merged))
	}

	/// The original bytes of block `i` of replica `meta` (unsealed from `data`).
	fn original_block(&self, meta: &ReplicaMeta, unsealer: &Unsealer, i: usize) -> Result<Vec<u8>> {
		let id = meta.id;
		let damaged = |what: String| StoreError::Damaged { id, what };
		let (offset, len) = meta.block_span(i).ok_or_else(|| damaged(format!("no block {i}")))?;
		let path = self.replica_dir(&id).join("data");
		let file = io(&path, File::open(&path))?;
		let mut sealed = vec![0u8; len];
		io(&path, file.read_exact_at(&mut sealed, offset))?;
		meta.unseal(unsealer, i, offset, &sealed)
	}

	/// Replaces replica `id`'s block proofs with `proofs` (against a longer signed tree, after
	/// the feed grew), after checking that each proves the very block the replica holds.
	/// The replica directory is rewritten and swapped in whole, so a crash leaves the old or
	/// the new proofs, never a mix.
	pub fn replace_proofs(&self, id: &ReplicaId, proofs: &BlockProofs) -> Result<()> {
		let meta = self.meta(id).ok_or(StoreError::UnknownReplica(*id))?;
		let damaged = |what: String| StoreError::Damaged { id: *id, what };
		if proofs.proofs.len() != meta.block_lens.len() {
			return Err(damaged("one proof per block is needed".into()));
		}
		let unsealer = meta.unsealer()?;
		let mut stripped = proofs.proofs.clone();
		for (i, proof) in stripped.iter_mut().enumerate() {
			let index = meta.first_block + i as u64;
			let block = proof.block.as_mut().filter(|b| b.index == index);
			let Some(block) = block else {
				return Err(damaged(format!("the new proof {i} is not of block {index}")));
			};
			if block.value != self.original_block(&meta, &unsealer, i)? {
				return Err(damaged(format!("the new proof of block {index} has other bytes")));
			}
			block.value = Vec::new();
		}
		let dir = self.replica_dir(id);
		let proof_bytes = stripped.encode();
		let new_meta = ReplicaMeta {
			proven_length: proofs.length,
			proofs_len: proof_bytes.len() as u64,
			..meta
		};
		// Held across the write; the replica may have been released meanwhile.
		let mut replicas = self.replicas();
		if replicas.get(id).map(|m| m.root) != Some(new_meta.root) {
			return Err(StoreError::UnknownReplica(*id));
		}
		// `data` and `tree` never change once written: the new directory links them, so a
		// renewal copies no replica bytes.
		let encoded = new_meta.encode();
		let checksum = blake2b256(&[&encoded]);
		let written = crate::durable::write_dir_with(&self.dir, &replica_dir_name(id), |tmp| {
			for kept in ["data", "tree"] {
				fs::hard_link(dir.join(kept), tmp.join(kept))?;
			}
			fs::write(tmp.join("proofs"), &proof_bytes)?;
			fs::write(tmp.join("meta"), [&encoded[..], &checksum].concat())
		});
		io(&self.dir, written)?;
		replicas.insert(*id, new_meta);
		Ok(())
	}

	/// The replicas of feed `feed` whose block proofs are against a signed length below
	/// `length` (stale after the feed grew).
	pub fn stale_proofs(&self, feed: &[u8; 32], length: u64) -> Vec<ReplicaMeta> {
		self.replicas()
			.values()
			.filter(|m| m.feed == *feed && m.proven_length != 0 && m.proven_length < length)
			.cloned()
			.collect()
	}

	/// The feeds this store holds replicas of whose blocks it serves.
	pub fn served_feeds(&self) -> Vec<[u8; 32]> {
		let mut feeds: Vec<_> =
			self.replicas().values().filter(|m| m.proven_length != 0).map(|m| m.feed).collect();
		feeds.sort();
		feeds.dedup();
		feeds
	}

	/// The bytes of segment `index` of the replica `meta` describes.
	fn read_segment(&self, meta: &ReplicaMeta, index: u64) -> Result<Vec<u8>> {
		let id = meta.id;
		let (offset, len) =
			meta.segment_span(index).ok_or(StoreError::SegmentOutOfRange { id, index })?;
		let path = self.replica_dir(&id).join("data");
		let file = io(&path, File::open(&path))?;
		let mut segment = vec![0u8; len];
		io(&path, file.read_exact_at(&mut segment, offset))?;
		Ok(segment)
	}

	/// The storage proof of segment `index` of replica `id`: its bytes and the sibling
	/// hashes up the tree, read from disk and checked against the replica's root.
	pub fn prove(&self, id: &ReplicaId, index: u64) -> Result<SegmentProof> {
		self.prove_as(id, index, true)
	}

	/// As [`ReplicaStore::prove`], checking the proof only if `checked` (a node that does
	/// not, for the e2e tests' lazy hoster, answers what it holds and lets the chain judge).
	pub fn prove_as(&self, id: &ReplicaId, index: u64, checked: bool) -> Result<SegmentProof> {
		let meta = self.meta(id).ok_or(StoreError::UnknownReplica(*id))?;
		if index >= meta.root.segments {
			return Err(StoreError::SegmentOutOfRange { id: *id, index });
		}
		let segment = self.read_segment(&meta, index)?;
		let path = self.replica_dir(id).join("tree");
		let tree = io(&path, File::open(&path))?;
		let siblings = io(&path, sibling_path(&tree, meta.root.segments, index))?;
		let proof = SegmentProof { index, segment, path: siblings };
		// Checked on read: a damaged replica is caught here, not by the chain's verdict.
		if checked {
			verify_segment(&meta.root, id, &proof).map_err(|e| StoreError::Damaged {
				id: *id,
				what: format!("segment {index} no longer proves its root ({e:?})"),
			})?;
		}
		Ok(proof)
	}

	/// Re-reads replica `id` whole and checks it against its confirmed root: every
	/// segment, every tree node. What the background scrub runs.
	pub fn verify(&self, id: &ReplicaId) -> Result<()> {
		let meta = self.meta(id).ok_or(StoreError::UnknownReplica(*id))?;
		let dir = self.replica_dir(id);
		crate::tree_file::check_tree(id, &dir.join("data"), &dir.join("tree"), &meta.root)
			.map_err(|what| StoreError::Damaged { id: *id, what })
	}

	/// Verifies every stored replica (see [`ReplicaStore::verify`]), reading at most
	/// `bytes_per_sec` on average (each replica on a blocking thread), and removes the
	/// damaged ones, logging progress; returns how many were kept and how many removed.
	pub async fn scrub_pass(self: &Arc<Self>, bytes_per_sec: u64) -> Result<(usize, usize)> {
		let ids = self.ids();
		let started = std::time::Instant::now();
		let (mut kept, mut removed, mut bytes) = (0, 0, 0u64);
		for (i, id) in ids.iter().enumerate() {
			let Some(meta) = self.meta(id) else { continue };
			let store = self.clone();
			let id = *id;
			let verified = tokio::task::spawn_blocking(move || store.verify(&id)).await;
			match verified.unwrap_or_else(|e| Err(StoreError::Damaged { id, what: e.to_string() }))
			{
				Ok(()) => kept += 1,
				Err(StoreError::UnknownReplica(_)) => {}
				Err(e) => {
					log::error!(target: "datdot", "{e}; removing it (the chain will replace it)");
					self.remove(&id)?;
					removed += 1;
				}
			}
			bytes += meta.stored_len();
			if (i + 1) % 100 == 0 || i + 1 == ids.len() {
				let secs = started.elapsed().as_secs_f64().max(1e-3);
				log::info!(
					target: "datdot",
					"replica store scrub: {}/{} replicas, {removed} damaged, {:.1} MB/s",
					i + 1,
					ids.len(),
					bytes as f64 / 1e6 / secs,
				);
			}
			let due =
				std::time::Duration::from_secs_f64(bytes as f64 / bytes_per_sec.max(1) as f64);
			if let Some(ahead) = due.checked_sub(started.elapsed()) {
				tokio::time::sleep(ahead).await;
			}
		}
		Ok((kept, removed))
	}
}

/// Reads a replica directory's meta and checks its files' sizes.
fn load_replica(dir: &Path) -> Result<ReplicaMeta> {
	let bytes = io(dir, fs::read(dir.join("meta")))?;
	let bad = |what: &str| StoreError::Io {
		path: dir.to_owned(),
		source: std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned()),
	};
	let (encoded, checksum) =
		bytes.split_at(bytes.len().checked_sub(32).ok_or_else(|| bad("meta is truncated"))?);
	if blake2b256(&[encoded]) != checksum {
		return Err(bad("meta checksum mismatch"));
	}
	let meta = ReplicaMeta::decode(&mut &encoded[..]).map_err(|_| bad("meta does not decode"))?;
	for (file, len) in
		[("data", meta.data_len()), ("tree", meta.tree_len()), ("proofs", meta.proofs_len)]
	{
		let path = dir.join(file);
		if io(&path, fs::metadata(&path))?.len() != len {
			return Err(bad(&format!("{file} has the wrong size")));
		}
	}
	Ok(meta)
}

/// The name of replica `id`'s directory in the store.
fn replica_dir_name(id: &ReplicaId) -> String {
	format!("c{}-r{}", id.contract, id.replica)
}

/// The replica a directory named by [`replica_dir_name`] is of.
fn parse_replica_dir_name(name: &str) -> Option<ReplicaId> {
	let (contract, replica) = name.strip_prefix('c')?.split_once("-r")?;
	Some(ReplicaId { contract: contract.parse().ok()?, replica: replica.parse().ok()? })
}

/// Where `role`'s streams are kept in the store's directory (skipped when it is opened).
fn stream_parent(role: Role) -> &'static str {
	match role {
		Role::Encoder => ".encoding",
		Role::Hoster => ".receiving",
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use datdot_primitives::encoded::verify_segment;

	fn replica(contract: u64, blocks: &[Vec<u8>]) -> SealedReplica {
		let pem = datdot_primitives::testdata::TEST_SEALING_KEYS[0];
		let sealer = datdot_primitives::sealing::Sealer::from_pem(pem.as_bytes()).unwrap();
		let id = ReplicaId { contract, replica: 0 };
		SealedReplica::build(id, &sealer, 0, blocks.iter().map(|b| &b[..])).unwrap()
	}

	/// Blocks of mixed sizes and compressibility, so segments end mid-block.
	fn blocks() -> Vec<Vec<u8>> {
		let noise = |n: usize, seed: u64| {
			let mut x = seed;
			(0..n)
				.map(|_| {
					x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
					(x >> 56) as u8
				})
				.collect::<Vec<u8>>()
		};
		vec![noise(5000, 1), vec![7; 20_000], noise(1, 2), noise(3072, 3), b"hello".to_vec()]
	}

	#[test]
	fn every_segment_proof_read_from_disk_verifies() {
		let dir = tempfile::tempdir().unwrap();
		let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		let r = replica(3, &blocks());
		store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		for index in 0..r.root().segments {
			let proof = store.prove(&r.id(), index).unwrap();
			assert_eq!(proof, r.prove(index).unwrap());
			verify_segment(&r.root(), &r.id(), &proof).unwrap();
		}
		assert!(matches!(
			store.prove(&r.id(), r.root().segments),
			Err(StoreError::SegmentOutOfRange { .. })
		));
		store.verify(&r.id()).unwrap();
	}

	#[test]
	fn replicas_survive_reopening_and_interrupted_writes_vanish() {
		let dir = tempfile::tempdir().unwrap();
		let r = replica(1, &blocks());
		{
			let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
			store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		}
		// A put cut off before its rename leaves only a temporary directory.
		fs::create_dir(dir.path().join(".tmp-c2-r0")).unwrap();
		fs::write(dir.path().join(".tmp-c2-r0/data"), b"partial").unwrap();
		let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		assert_eq!(store.ids(), vec![r.id()]);
		assert!(!dir.path().join(".tmp-c2-r0").exists());
		assert_eq!(store.meta(&r.id()).unwrap().root, r.root());
		store.verify(&r.id()).unwrap();
	}

	#[test]
	fn capacity_is_never_exceeded_and_counts_sealed_bytes_as_the_chain_does() {
		let dir = tempfile::tempdir().unwrap();
		let first = replica(1, &blocks());
		// What the chain counts for an active replica.
		let size = first.root().segments * SEGMENT_SIZE as u64;
		let store = ReplicaStore::open(dir.path(), size * 2 - 1).unwrap();
		store.put([1; 32], &first, &BlockProofs::default()).unwrap();
		assert_eq!(store.used(), size);
		let second = replica(2, &blocks());
		let err = store.put([1; 32], &second, &BlockProofs::default()).unwrap_err();
		assert!(
			matches!(err, StoreError::CapacityExceeded { needed, free, .. } if needed == size && free == size - 1)
		);
		assert_eq!(store.replica_count(), 1);
		assert!(!dir.path().join("c2-r0").exists());
		store.remove(&first.id()).unwrap();
		store.put([1; 32], &second, &BlockProofs::default()).unwrap();
		assert_eq!(store.used(), size);
	}

	#[test]
	fn receptions_hold_the_chains_reservation_before_they_start() {
		use crate::replica::tests::{encode_stream, feed, proofs, ID};
		let (w, chain) = feed(10);
		let (replica, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let size = replica.root().segments * SEGMENT_SIZE as u64;
		let dir = tempfile::tempdir().unwrap();
		let store = ReplicaStore::open(dir.path(), 3 * size).unwrap();
		let other = ReplicaId { contract: 9, replica: 0 };
		// Two receptions may not together hold more than the capacity.
		store.reserve(Role::Hoster, other, 2 * size).unwrap();
		let err = store.reserve(Role::Hoster, ID, size + 1).unwrap_err();
		assert!(matches!(err, StoreError::CapacityExceeded { free, .. } if free == size), "{err}");
		assert_eq!((store.used(), store.reserved()), (0, 2 * size));
		// A smaller reservation fits; holding it again replaces the amount.
		store.reserve(Role::Hoster, ID, size / 2).unwrap();
		store.reserve(Role::Hoster, ID, size / 2).unwrap();
		assert_eq!(store.reserved(), 2 * size + size / 2);
		// The received replica goes in at its real size (over its reservation), as on chain.
		let log = receive(&store, &chain, &stream, 6);
		store.adopt(chain.auth.key, log, chain.length).unwrap();
		assert_eq!((store.used(), store.reserved()), (size, 2 * size));
		assert_eq!(store.reserved_parts(), vec![(Role::Hoster, other)]);
		// A stored replica needs no reservation; a released one frees its bytes.
		store.reserve(Role::Hoster, ID, size).unwrap();
		assert_eq!(store.reserved(), 2 * size);
		store.release(Role::Hoster, &other);
		assert_eq!((store.used(), store.reserved(), store.reserved_parts()), (size, 0, vec![]));
		// Now there is room for two more.
		store.reserve(Role::Hoster, other, 2 * size).unwrap();
		// A hold raised towards more than is free gets what is free, its own hold included.
		assert_eq!(store.reserve_up_to(Role::Hoster, other, 4 * size), 2 * size);
		store.release(Role::Hoster, &other);
		store.reserve(Role::Hoster, other, size).unwrap();
		assert_eq!(store.reserve_up_to(Role::Hoster, other, 3 * size), 2 * size);
		assert_eq!(store.reserved(), 2 * size);
	}

	#[test]
	fn an_encoders_stream_holds_room_apart_from_any_reception() {
		let dir = tempfile::tempdir().unwrap();
		let store = ReplicaStore::open(dir.path(), 3 << 20).unwrap();
		let id = ReplicaId { contract: 9, replica: 0 };
		// Encoding and receiving one replica (a later draw of it) are two parts, each with
		// its own room.
		store.reserve(Role::Encoder, id, 2 << 20).unwrap();
		let err = store.reserve(Role::Hoster, id, 2 << 20).unwrap_err();
		assert!(
			matches!(err, StoreError::CapacityExceeded { free, .. } if free == 1 << 20),
			"{err}"
		);
		store.reserve(Role::Hoster, id, 1 << 20).unwrap();
		assert_eq!(store.reserved_parts(), vec![(Role::Encoder, id), (Role::Hoster, id)]);
		// Releasing one part keeps the other's room held.
		store.release(Role::Encoder, &id);
		assert_eq!((store.reserved(), store.reserved_parts()), (1 << 20, vec![(Role::Hoster, id)]));
		// An encoder's room is held even while a copy of the replica is stored: its stream
		// is another file.
		let stored = replica(1, &blocks());
		store.put([1; 32], &stored, &BlockProofs::default()).unwrap();
		store.reserve(Role::Encoder, stored.id(), 1 << 10).unwrap();
		assert!(store.reserved_parts().contains(&(Role::Encoder, stored.id())));
	}

	#[test]
	fn same_replica_twice_is_a_no_op_another_root_a_conflict() {
		let dir = tempfile::tempdir().unwrap();
		let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		let r = replica(1, &blocks());
		store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		let other = replica(1, &blocks()[..2]);
		assert!(matches!(
			store.put([1; 32], &other, &BlockProofs::default()),
			Err(StoreError::Conflict(_))
		));
		assert_eq!(store.meta(&r.id()).unwrap().root, r.root());
	}

	/// Hoster-side reception of `stream` (of `chain`'s blocks 2..8) up to block `upto` of the
	/// stream, resuming after what `store` has logged already, as `Workers::host` does.
	fn receive(
		store: &ReplicaStore,
		chain: &pallet_datdot::types::FeedState,
		stream: &[crate::replica::StreamBlock],
		upto: usize,
	) -> StreamLog {
		use crate::replica::{tests::test_sealer, tests::ID, StreamAcceptor};
		let key = *test_sealer().key();
		let mut log =
			store.stream_log(Role::Hoster, StreamHead::new(chain, ID, &(2..8), key)).unwrap();
		let resumed = (log.len(), log.segments());
		let mut acceptor = StreamAcceptor::new(chain.clone(), ID, 2..8, key, resumed).unwrap();
		let kept: Vec<_> =
			stream[resumed.0..upto].iter().map(|b| acceptor.accept(b.clone()).unwrap()).collect();
		log.append(&kept).unwrap();
		log
	}

	#[test]
	fn a_reception_cut_off_by_a_restart_resumes_and_becomes_the_replica_without_a_copy() {
		use crate::replica::tests::{encode_stream, feed, proofs, ID};
		let (w, chain) = feed(10);
		let (replica, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let dir = tempfile::tempdir().unwrap();
		{
			let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
			receive(&store, &chain, &stream, 3);
		}
		// Restarted: no replica is listed, the stream resumes after its third block.
		let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		assert_eq!((store.replica_count(), store.stream_logs(Role::Hoster)), (0, vec![ID]));
		let key = *crate::replica::tests::test_sealer().key();
		let head = StreamHead::new(&chain, ID, &(2..8), key);
		assert_eq!(store.stream_log(Role::Hoster, head).unwrap().len(), 3, "resumed");
		let log = receive(&store, &chain, &stream, 6);
		let data_inode = {
			use std::os::unix::fs::MetadataExt;
			fs::metadata(dir.path().join(".receiving/c3-r1/data")).unwrap().ino()
		};
		assert_eq!(store.adopt(chain.auth.key, log, chain.length).unwrap(), replica.root());
		assert!(store.stream_logs(Role::Hoster).is_empty());
		// The received bytes were renamed in, not copied; the files are what a whole put writes.
		{
			use std::os::unix::fs::MetadataExt;
			assert_eq!(fs::metadata(dir.path().join("c3-r1/data")).unwrap().ino(), data_inode);
		}
		let whole = tempfile::tempdir().unwrap();
		let kept = BlockProofs {
			length: chain.length,
			proofs: stream.iter().map(|b| b.proof.clone()).collect(),
		};
		ReplicaStore::open(whole.path(), 1 << 30)
			.unwrap()
			.put(chain.auth.key, &replica, &kept)
			.unwrap();
		for file in ["data", "tree", "proofs", "meta"] {
			let read = |d: &Path| fs::read(d.join("c3-r1").join(file)).unwrap();
			assert_eq!(read(dir.path()), read(whole.path()), "{file}");
		}
		let mut names: Vec<_> = fs::read_dir(dir.path().join("c3-r1"))
			.unwrap()
			.map(|e| e.unwrap().file_name().into_string().unwrap())
			.collect();
		names.sort();
		assert_eq!(names, ["data", "meta", "proofs", "tree"]);
		drop(store);
		let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		store.verify(&ID).unwrap();
		let served = store.original_blocks(&chain.auth, 10, 2..8, usize::MAX).unwrap().unwrap();
		assert_eq!(served.len(), 6);
		// Adopting the same replica again is a no-op that removes the stream.
		let log = receive(&store, &chain, &stream, 6);
		assert_eq!(store.adopt(chain.auth.key, log, chain.length).unwrap(), replica.root());
		assert!(store.stream_logs(Role::Hoster).is_empty());
	}

	#[test]
	fn a_received_stream_without_room_stays_a_stream_and_takes_no_capacity() {
		use crate::replica::tests::{encode_stream, feed, proofs, ID};
		let (w, chain) = feed(10);
		let (_, stream) = encode_stream(&chain, 2..8, proofs(&w, 2..8)).unwrap();
		let dir = tempfile::tempdir().unwrap();
		let store = ReplicaStore::open(dir.path(), 4096).unwrap();
		let log = receive(&store, &chain, &stream, 6);
		let err = store.adopt(chain.auth.key, log, chain.length).unwrap_err();
		assert!(matches!(err, StoreError::CapacityExceeded { free: 4096, .. }), "{err}");
		assert_eq!((store.replica_count(), store.used()), (0, 0));
		assert!(!dir.path().join("c3-r1").exists());
		assert_eq!(store.stream_logs(Role::Hoster), vec![ID]);
		store.remove_stream_log(Role::Hoster, &ID).unwrap();
		assert!(store.stream_logs(Role::Hoster).is_empty());
		assert_eq!(fs::read_dir(dir.path().join(".receiving")).unwrap().count(), 0);
	}

	#[test]
	fn damage_on_disk_is_found_on_read_and_by_the_scrub_not_at_open() {
		let scrub = |store: &Arc<ReplicaStore>| {
			let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
			runtime.unwrap().block_on(store.scrub_pass(1 << 30)).unwrap()
		};
		let dir = tempfile::tempdir().unwrap();
		let r = replica(1, &blocks());
		assert!(r.root().segments > 1);
		{
			let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
			store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		}
		// One flipped bit in segment 0: opening reads no data, so the replica is listed.
		let data = dir.path().join("c1-r0/data");
		let mut bytes = fs::read(&data).unwrap();
		bytes[100] ^= 1;
		fs::write(&data, &bytes).unwrap();
		let store = Arc::new(ReplicaStore::open(dir.path(), 1 << 30).unwrap());
		assert_eq!(store.replica_count(), 1);
		// A challenge of the damaged segment finds it; one of another segment is answered.
		assert!(matches!(store.prove(&r.id(), 0), Err(StoreError::Damaged { .. })));
		assert_eq!(store.prove(&r.id(), 1).unwrap(), r.prove(1).unwrap());
		assert!(matches!(store.verify(&r.id()), Err(StoreError::Damaged { .. })));
		// The scrub removes it.
		assert_eq!(scrub(&store), (0, 1));
		assert_eq!(store.replica_count(), 0);
		assert!(!dir.path().join("c1-r0").exists());
		store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		assert_eq!(scrub(&store), (1, 0));
		let store = Arc::into_inner(store).unwrap();
		// A truncated file: the replica is dropped at open.
		drop(store);
		fs::write(&data, &bytes[..10]).unwrap();
		let store = ReplicaStore::open(dir.path(), 1 << 30).unwrap();
		assert_eq!(store.replica_count(), 0);
		// And the slot can be stored again.
		store.put([1; 32], &r, &BlockProofs::default()).unwrap();
		store.verify(&r.id()).unwrap();
	}
}
