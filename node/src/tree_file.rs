//! A replica's segment tree as the store keeps it — the `tree` file: every level, leaves
//! first, 32 bytes a node — built and checked by streaming the sealed data from disk, so
//! neither the encoder, the hoster nor the scrub holds a replica (or its tree) in memory.
//! The tree is the one `SealedReplica` builds: nodes paired level by level, an odd last
//! node promoted unchanged.

use datdot_primitives::{
	encoded::{commit_root, segment_leaf, segment_parent, EncodedRoot, ReplicaId, SEGMENT_SIZE},
	Hash,
};
use std::{
	fs::File,
	io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write},
	os::unix::fs::FileExt,
	path::Path,
};

/// Read and write buffers: large enough for sequential disk throughput, small enough that
/// parts running at once stay within the node's memory bound.
const BUFFER: usize = 256 * 1024;

/// The widths of the tree's levels over `segments` leaves, leaves first.
pub fn level_widths(segments: u64) -> Vec<u64> {
	let mut widths = vec![segments];
	let mut width = segments;
	while width > 1 {
		width = width.div_ceil(2);
		widths.push(width);
	}
	widths
}

/// Builds the tree of replica `id` over the sealed bytes in `data` into file `out`
/// (created or truncated, and fsynced); returns the root the chain stores.
pub fn write_tree(id: &ReplicaId, data: &Path, out: &Path) -> io::Result<EncodedRoot> {
	let file = File::open(data)?;
	let len = file.metadata()?.len();
	write_tree_from(id, file, len, out)
}

/// As [`write_tree`], over `len` sealed bytes read from `sealed` (a stream kept in more
/// than one file, such as a hoster's evidence).
pub fn write_tree_from(
	id: &ReplicaId,
	sealed: impl Read,
	len: u64,
	out: &Path,
) -> io::Result<EncodedRoot> {
	if len == 0 || !len.is_multiple_of(SEGMENT_SIZE as u64) {
		return Err(io::Error::new(
			io::ErrorKind::InvalidData,
			format!("{len} bytes of sealed data are not whole segments"),
		));
	}
	let segments = len / SEGMENT_SIZE as u64;
	let file = File::create(out)?;
	let mut tree = BufWriter::with_capacity(BUFFER, &file);
	let mut sealed = BufReader::with_capacity(BUFFER, sealed);
	let mut segment = vec![0u8; SEGMENT_SIZE];
	let mut top = [0u8; 32];
	for index in 0..segments {
		sealed.read_exact(&mut segment)?;
		top = segment_leaf(id, index, &segment);
		tree.write_all(&top)?;
	}
	tree.flush()?;
	// Each level is read back from what was just written, so memory stays flat.
	let mut start = 0u64;
	for width in level_widths(segments).windows(2).map(|w| w[0]) {
		let mut children = level_reader(out, start)?;
		next_level(&mut children, width, |parent| {
			top = parent;
			tree.write_all(&parent)
		})?;
		tree.flush()?;
		start += width;
	}
	drop(tree);
	file.sync_all()?;
	Ok(EncodedRoot { root: commit_root(&top, segments), segments })
}

/// Checks that `tree` is the tree of replica `id`'s sealed `data` and commits to `root`:
/// every leaf against its segment, every parent against its children. `Err` says what
/// differs (or the I/O error that stopped the check).
pub fn check_tree(
	id: &ReplicaId,
	data: &Path,
	tree: &Path,
	root: &EncodedRoot,
) -> Result<(), String> {
	let io = |e: io::Error| format!("cannot read it: {e}");
	let segments = root.segments;
	let data_file = File::open(data).map_err(io)?;
	if data_file.metadata().map_err(io)?.len() != segments * SEGMENT_SIZE as u64 {
		return Err("its data is not as long as its segments".into());
	}
	let mut sealed = BufReader::with_capacity(BUFFER, data_file);
	let mut stored = level_reader(tree, 0).map_err(io)?;
	let mut segment = vec![0u8; SEGMENT_SIZE];
	for index in 0..segments {
		sealed.read_exact(&mut segment).map_err(io)?;
		if read_hash(&mut stored).map_err(io)? != segment_leaf(id, index, &segment) {
			return Err(format!("segment {index} no longer hashes to its leaf"));
		}
	}
	// `stored` now stands at the second level: each parent is compared as it is computed.
	let (mut start, mut top) = (0u64, None);
	for (level, width) in level_widths(segments).windows(2).map(|w| w[0]).enumerate() {
		let mut children = level_reader(tree, start).map_err(io)?;
		let mut i = 0u64;
		next_level(&mut children, width, |parent| {
			let kept = read_hash(&mut stored)?;
			if kept != parent {
				return Err(io::Error::new(
					io::ErrorKind::InvalidData,
					format!("node {i} of level {} differs from its children's hash", level + 1),
				));
			}
			(top, i) = (Some(parent), i + 1);
			Ok(())
		})
		.map_err(|e| e.to_string())?;
		start += width;
	}
	let top = match top {
		Some(top) => top,
		// One segment: the leaf is the top.
		None => read_hash(&mut level_reader(tree, 0).map_err(io)?).map_err(io)?,
	};
	if commit_root(&top, segments) != root.root {
		return Err("its tree no longer commits to the confirmed root".into());
	}
	Ok(())
}

/// The sibling hashes up the tree of `segments` leaves in file `tree`, from leaf `index` to
/// the top: the path of a segment's storage proof.
pub fn sibling_path(tree: &File, segments: u64, index: u64) -> io::Result<Vec<Hash>> {
	let widths = level_widths(segments);
	let (mut level_start, mut i) = (0u64, index);
	let mut siblings = Vec::new();
	for &width in &widths[..widths.len() - 1] {
		if (i ^ 1) < width {
			let mut hash: Hash = [0; 32];
			tree.read_exact_at(&mut hash, (level_start + (i ^ 1)) * 32)?;
			siblings.push(hash);
		}
		level_start += width;
		i >>= 1;
	}
	Ok(siblings)
}

/// A buffered reader of `tree` from node `start` on.
fn level_reader(tree: &Path, start: u64) -> io::Result<BufReader<File>> {
	let mut file = File::open(tree)?;
	file.seek(SeekFrom::Start(start * 32))?;
	Ok(BufReader::with_capacity(BUFFER, file))
}

fn read_hash(from: &mut impl Read) -> io::Result<Hash> {
	let mut hash = [0u8; 32];
	from.read_exact(&mut hash)?;
	Ok(hash)
}

/// Reads a level of `width` nodes from `children` and emits the next level's nodes in order.
fn next_level(
	children: &mut impl Read,
	width: u64,
	mut emit: impl FnMut(Hash) -> io::Result<()>,
) -> io::Result<()> {
	for _ in 0..width / 2 {
		let (left, right) = (read_hash(children)?, read_hash(children)?);
		emit(segment_parent(&left, &right))?;
	}
	if width % 2 == 1 {
		emit(read_hash(children)?)?;
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use datdot_primitives::encoded::SealedReplica;

	fn replica(segments_per_block: &[usize]) -> SealedReplica {
		let pem = datdot_primitives::testdata::TEST_SEALING_KEYS[0];
		let sealer = datdot_primitives::sealing::Sealer::from_pem(pem.as_bytes()).unwrap();
		// Noise, so that a block of `n * 900` bytes does not compress below `n` segments.
		let mut x = 1u64;
		let mut noise = |n: usize| -> Vec<u8> {
			(0..n)
				.map(|_| {
					x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
					(x >> 56) as u8
				})
				.collect()
		};
		let blocks: Vec<Vec<u8>> = segments_per_block.iter().map(|&n| noise(n * 900)).collect();
		let id = ReplicaId { contract: 5, replica: 1 };
		SealedReplica::build(id, &sealer, 0, blocks.iter().map(|b| &b[..])).unwrap()
	}

	#[test]
	fn the_tree_built_on_disk_is_the_replicas_and_checks_out_for_any_segment_count() {
		let dir = tempfile::tempdir().unwrap();
		// 1 segment (the leaf is the top), odd and even widths at several levels.
		for blocks in [&[1][..], &[1, 1], &[2, 1], &[3, 4], &[5, 2, 6], &[16, 1]] {
			let r = replica(blocks);
			// About one segment per 900 bytes (the sealing's headers and labels add some).
			let segments = r.root().segments;
			assert!(segments.abs_diff(blocks.iter().sum::<usize>() as u64) <= 1, "{blocks:?}");
			let (data, tree) = (dir.path().join("data"), dir.path().join("tree"));
			std::fs::write(&data, r.sealed_blocks().concat()).unwrap();
			let root = write_tree(&r.id(), &data, &tree).unwrap();
			assert_eq!(root, r.root(), "{blocks:?}");
			let expected: Vec<u8> = r.levels().iter().flatten().flatten().copied().collect();
			assert_eq!(std::fs::read(&tree).unwrap(), expected, "{blocks:?}");
			check_tree(&r.id(), &data, &tree, &root).unwrap();
			let other = ReplicaId { replica: 2, ..r.id() };
			assert!(check_tree(&other, &data, &tree, &root).unwrap_err().contains("segment 0"));
		}
	}

	#[test]
	fn check_tree_finds_a_flipped_bit_anywhere() {
		let dir = tempfile::tempdir().unwrap();
		let r = replica(&[3, 4]);
		let (data, tree) = (dir.path().join("data"), dir.path().join("tree"));
		let sealed = r.sealed_blocks().concat();
		std::fs::write(&data, &sealed).unwrap();
		let root = write_tree(&r.id(), &data, &tree).unwrap();
		let nodes = std::fs::read(&tree).unwrap();
		// A leaf, an inner node and the top node.
		for at in [0, 7 * 32 + 3, nodes.len() - 1] {
			let mut damaged = nodes.clone();
			damaged[at] ^= 1;
			std::fs::write(&tree, &damaged).unwrap();
			assert!(check_tree(&r.id(), &data, &tree, &root).is_err(), "byte {at}");
		}
		std::fs::write(&tree, &nodes).unwrap();
		let mut damaged = sealed.clone();
		damaged[SEGMENT_SIZE * 6 + 10] ^= 1;
		std::fs::write(&data, &damaged).unwrap();
		assert_eq!(
			check_tree(&r.id(), &data, &tree, &root),
			Err("segment 6 no longer hashes to its leaf".into())
		);
		std::fs::write(&data, &sealed[..SEGMENT_SIZE * 6]).unwrap();
		assert!(check_tree(&r.id(), &data, &tree, &root).is_err());
		assert!(write_tree(&r.id(), &dir.path().join("missing"), &tree).is_err());
		std::fs::write(&data, &sealed[..SEGMENT_SIZE - 1]).unwrap();
		assert!(write_tree(&r.id(), &data, &tree).is_err());
	}
}
