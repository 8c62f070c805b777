//! Exhaustive tree shapes: for a feed of 24 blocks the Rust writer's block proofs
//! and upgrade proofs (from every shorter length, with and without a block) verify, and
//! the error paths name the right fault. The writer itself is pinned to hypercore by
//! `tests/fixtures.rs`, so these shapes are hypercore's.

use datdot_primitives::proof::MAX_LENGTH;
use datdot_primitives::signing::SigningMode;
use datdot_primitives::verify::{
	verify_block_proof, verify_proof, verify_signed_tree, verify_upgrade,
};
use datdot_primitives::writer::FeedWriter;
use datdot_primitives::{DalekVerifier, Error, Proof, SignedTree};

const V: DalekVerifier = DalekVerifier;

fn feed(mode: SigningMode, length: u64) -> (FeedWriter, Vec<SignedTree>) {
	let mut w = FeedWriter::from_seed([3; 32], mode);
	let mut trees = vec![SignedTree { length: 0, fork: 0, roots: vec![], signature: vec![] }];
	for i in 0..length {
		w.append(format!("block {i}").as_bytes()).unwrap();
		trees.push(w.signed_tree());
	}
	(w, trees)
}

#[test]
fn every_block_and_upgrade_of_small_feeds_verifies() {
	for mode in [SigningMode::Compat, SigningMode::ManifestV1] {
		let (w, trees) = feed(mode, 24);
		let auth = w.auth();
		let newest = verify_signed_tree(&auth, &w.signed_tree(), &V).unwrap();
		for index in 0..w.length() {
			let out = verify_block_proof(&auth, &w.block_proof(index).unwrap(), &V).unwrap();
			assert_eq!(out.tree, newest);
			assert_eq!(out.block.unwrap().index, 2 * index);
		}
		for start in 1..w.length() {
			let old = verify_signed_tree(&auth, &trees[start as usize], &V).unwrap();
			let plain = w.upgrade_proof(start, None).unwrap();
			assert_eq!(
				verify_upgrade(&auth, &old, &plain, &V).unwrap().tree,
				newest,
				"from {start}"
			);
			for index in start..w.length() {
				let p = w.upgrade_proof(start, Some(index)).unwrap();
				let out = verify_upgrade(&auth, &old, &p, &V)
					.unwrap_or_else(|e| panic!("from {start} block {index}: {e}"));
				assert_eq!(out.tree, newest);
				assert_eq!(out.block.unwrap().index, 2 * index);
			}
			// An upgrade from `start` does not apply to any other trusted length.
			if start > 1 {
				let other = verify_signed_tree(&auth, &trees[start as usize - 1], &V).unwrap();
				assert_eq!(
					verify_upgrade(&auth, &other, &plain, &V).unwrap_err(),
					Error::UpgradeStartMismatch
				);
			}
		}
	}
}

#[test]
fn block_against_trusted_roots_without_upgrade() {
	let (w, _) = feed(SigningMode::ManifestV1, 13);
	let auth = w.auth();
	let tree = verify_signed_tree(&auth, &w.signed_tree(), &V).unwrap();
	for index in 0..w.length() {
		let mut p = w.block_proof(index).unwrap();
		p.upgrade = None;
		let out = verify_proof(&auth, Some(&tree), &p, &V).unwrap();
		assert_eq!(out.block.unwrap().index, 2 * index);
		p.block.as_mut().unwrap().value.push(1);
		assert_eq!(verify_proof(&auth, Some(&tree), &p, &V).unwrap_err(), Error::RootMismatch);
		// Without a trusted tree there is nothing signed to check against.
		assert_eq!(verify_proof(&auth, None, &p, &V).unwrap_err(), Error::MissingUpgrade);
	}
	let mut p = w.block_proof(12).unwrap();
	p.upgrade = None;
	p.block.as_mut().unwrap().nodes.clear();
	p.block.as_mut().unwrap().index = 11;
	assert_eq!(verify_proof(&auth, Some(&tree), &p, &V).unwrap_err(), Error::BlockNotConnected);
}

#[test]
fn malformed_proofs_name_the_fault() {
	let (w, _) = feed(SigningMode::Compat, 6);
	let auth = w.auth();
	let good = w.block_proof(2).unwrap();
	let check = |f: &dyn Fn(&mut Proof), want: Error| {
		let mut p = good.clone();
		f(&mut p);
		assert_eq!(verify_proof(&auth, None, &p, &V).unwrap_err(), want);
	};
	check(&|p| p.block = None, Error::UnexpectedNode);
	check(&|p| p.upgrade.as_mut().unwrap().nodes.clear(), Error::MissingNode);
	check(
		&|p| p.upgrade.as_mut().unwrap().nodes.push(p.block.as_ref().unwrap().nodes[0]),
		Error::ExtraNodes,
	);
	check(&|p| p.block.as_mut().unwrap().nodes[0].index += 1, Error::UnexpectedNode);
	check(
		&|p| p.block.as_mut().unwrap().nodes = vec![p.block.as_ref().unwrap().nodes[0]; 65],
		Error::TooManyNodes,
	);
	check(&|p| p.block.as_mut().unwrap().index = MAX_LENGTH, Error::LengthTooLarge);
	check(&|p| p.upgrade.as_mut().unwrap().length = 0, Error::EmptyUpgrade);
	check(&|p| p.upgrade.as_mut().unwrap().length = u64::MAX, Error::LengthTooLarge);
	check(&|p| p.upgrade.as_mut().unwrap().start = 1, Error::UpgradeStartMismatch);
	check(&|p| p.upgrade.as_mut().unwrap().signature.truncate(63), Error::BadSignatureLength);
	check(&|p| p.upgrade.as_mut().unwrap().nodes[0].size = u64::MAX, Error::SizeOverflow);
	check(&|p| p.upgrade = None, Error::MissingUpgrade);
	assert_eq!(
		verify_block_proof(&auth, &w.upgrade_proof(0, None).unwrap(), &V).unwrap_err(),
		Error::MissingBlock
	);
	let empty = SignedTree { length: 0, fork: 0, roots: vec![], signature: vec![0; 64] };
	assert_eq!(verify_signed_tree(&auth, &empty, &V).unwrap_err(), Error::EmptyTree);
	let mut t = w.signed_tree();
	t.roots.pop();
	assert_eq!(verify_signed_tree(&auth, &t, &V).unwrap_err(), Error::InvalidRoots);
	// Upgrade proofs are not extensions of a newer tree, and forks must match.
	let newest = verify_signed_tree(&auth, &w.signed_tree(), &V).unwrap();
	assert_eq!(verify_upgrade(&auth, &newest, &good, &V).unwrap_err(), Error::UpgradeStartMismatch);
	let mut forked = newest.clone();
	forked.fork = 1;
	assert_eq!(verify_upgrade(&auth, &forked, &good, &V).unwrap_err(), Error::ForkMismatch);
}

#[test]
fn binary_proofs_round_trip_and_refuse_trailing_bytes() {
	use codec::Encode;
	let (w, _) = feed(SigningMode::ManifestV1, 9);
	let p = w.block_proof(4).unwrap();
	let bytes = p.encode();
	assert_eq!(Proof::decode_untrusted(&bytes).unwrap(), p);
	let mut long = bytes.clone();
	long.push(0);
	assert_eq!(Proof::decode_untrusted(&long), Err(Error::MalformedProof));
	assert_eq!(Proof::decode_untrusted(&bytes[..bytes.len() - 1]), Err(Error::MalformedProof));
	// A length prefix claiming 2^30 nodes in a tiny input does not allocate them.
	let mut huge = vec![0u8; 8]; // fork
	huge.push(1); // Some(block)
	huge.extend([0u8; 8]); // index
	huge.extend([0xfe, 0xff, 0xff, 0xff]); // value: compact length ~2^30
	assert_eq!(Proof::decode_untrusted(&huge), Err(Error::MalformedProof));
}
