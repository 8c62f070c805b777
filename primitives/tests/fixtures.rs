//! Compatibility with the JS reference implementation: every fixture in
//! `fixtures/generated/` (written by `fixtures/generate.js` with npm hypercore 11.35.1)
//! must verify, must be reproduced byte for byte by the Rust writer, and every tampered
//! variant must be refused.

use datdot_primitives::json::{
	from_hex, proof_from_json, signed_tree_from_json, verify_proof_json, ProofJson, SignedTreeJson,
};
use datdot_primitives::signing::SigningMode;
use datdot_primitives::testdata::generate;
use datdot_primitives::verify::{
	verify_block_proof, verify_feed, verify_proof, verify_signed_tree, verify_upgrade,
};
use datdot_primitives::writer::FeedWriter;
use datdot_primitives::{DalekVerifier, Error, FeedAuth, Manifest, Proof};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fixture {
	name: String,
	mode: String,
	key_seed: String,
	key: String,
	manifest: String,
	blocks: BlocksSpec,
	tree: TreeFixture,
	proofs: Vec<ProofFixture>,
	upgrades: Vec<UpgradeFixture>,
	partial: Option<ProofFixture>,
}

#[derive(Deserialize)]
struct BlocksSpec {
	seed: u32,
	sizes: Option<Vec<usize>>,
	length: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TreeFixture {
	#[serde(flatten)]
	tree: SignedTreeJson,
	tree_hash: String,
	byte_length: u64,
}

#[derive(Deserialize, Clone, Copy)]
struct GeneratorSpec {
	seed: u32,
	index: u32,
	size: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofFixture {
	proof: ProofJson,
	value_generator: Option<GeneratorSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpgradeFixture {
	from: SignedTreeJson,
	proof: ProofJson,
	value_generator: Option<GeneratorSpec>,
}

const V: DalekVerifier = DalekVerifier;

fn fixtures() -> Vec<Fixture> {
	let dir = format!(
		"{}/fixtures/generated",
		std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo")
	);
	let mut out: Vec<Fixture> = std::fs::read_dir(dir)
		.expect("fixtures/generated exists")
		.map(|e| e.unwrap().path())
		.filter(|p| p.extension().is_some_and(|x| x == "json"))
		.map(|path| {
			serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
				.unwrap_or_else(|err| panic!("{}: {err}", path.display()))
		})
		.collect();
	out.sort_by(|a, b| a.name.cmp(&b.name));
	assert_eq!(out.len(), 14, "both modes × 7 feeds");
	out
}

impl Fixture {
	fn auth(&self) -> FeedAuth {
		FeedAuth::from_key(self.key32(), Some(&from_hex(&self.manifest).unwrap())).unwrap()
	}
	fn key32(&self) -> [u8; 32] {
		from_hex(&self.key).unwrap().try_into().unwrap()
	}
	fn mode(&self) -> SigningMode {
		match self.mode.as_str() {
			"compat" => SigningMode::Compat,
			"manifest-v1" => SigningMode::ManifestV1,
			m => panic!("mode {m}"),
		}
	}
	/// Block i exactly as generate.js made it.
	fn block(&self, i: u64) -> Vec<u8> {
		let size = match &self.blocks.sizes {
			Some(sizes) => sizes[i as usize % sizes.len()],
			None => 1 + ((i as usize * 7) % 13),
		};
		generate(self.blocks.seed, i as u32, size)
	}
	fn blocks(&self) -> Vec<Vec<u8>> {
		(0..self.blocks.length).map(|i| self.block(i)).collect()
	}
}

fn with_value(proof: &ProofJson, generator: Option<GeneratorSpec>) -> Proof {
	let mut proof = proof.clone();
	if generator.is_some() {
		proof.block.as_mut().unwrap().value = Some(String::new());
	}
	let mut p = proof_from_json(&proof).unwrap();
	if let Some(g) = generator {
		p.block.as_mut().unwrap().value = generate(g.seed, g.index, g.size);
	}
	p
}

#[test]
fn keys_manifests_and_modes_match_hypercore() {
	for f in fixtures() {
		let auth = f.auth();
		assert_eq!(auth.mode, f.mode(), "{}", f.name);
		let manifest_bytes = from_hex(&f.manifest).unwrap();
		let manifest = Manifest::decode_hypercore(&manifest_bytes).unwrap();
		assert_eq!(manifest.encode_hypercore(), manifest_bytes, "{}", f.name);
		match auth.mode {
			SigningMode::ManifestV1 => assert_eq!(manifest.hash(), f.key32(), "{}", f.name),
			SigningMode::Compat => assert_eq!(manifest.public_key, f.key32(), "{}", f.name),
		}
	}
}

#[test]
fn whole_feeds_and_signed_trees_verify() {
	for f in fixtures() {
		let auth = f.auth();
		let blocks = f.blocks();
		let expected = signed_tree_from_json(&f.tree.tree).unwrap();
		let tree = verify_feed(
			&auth,
			blocks.iter().map(|b| b.as_slice()),
			expected.fork,
			&expected.signature,
			&V,
		)
		.unwrap_or_else(|e| panic!("{}: {e}", f.name));
		assert_eq!(tree.roots, expected.roots, "{}", f.name);
		assert_eq!(tree.tree_hash.to_vec(), from_hex(&f.tree.tree_hash).unwrap(), "{}", f.name);
		assert_eq!(tree.byte_length, f.tree.byte_length, "{}", f.name);
		assert_eq!(verify_signed_tree(&auth, &expected, &V).unwrap(), tree, "{}", f.name);
		// A prefix is not the signed feed.
		if blocks.len() > 1 {
			let short = verify_feed(
				&auth,
				blocks[..blocks.len() - 1].iter().map(|b| b.as_slice()),
				0,
				&expected.signature,
				&V,
			);
			assert_eq!(short, Err(Error::BadSignature), "{}", f.name);
		}
	}
}

#[test]
fn every_block_proof_verifies() {
	let mut count = 0;
	for f in fixtures() {
		let auth = f.auth();
		let tree =
			verify_signed_tree(&auth, &signed_tree_from_json(&f.tree.tree).unwrap(), &V).unwrap();
		if f.blocks.length <= 64 {
			assert_eq!(f.proofs.len() as u64, f.blocks.length, "{}: every block", f.name);
		}
		for p in &f.proofs {
			let proof = with_value(&p.proof, p.value_generator);
			let index = proof.block.as_ref().unwrap().index;
			assert_eq!(proof.block.as_ref().unwrap().value, f.block(index), "{}", f.name);
			let out = verify_block_proof(&auth, &proof, &V)
				.unwrap_or_else(|e| panic!("{} block {index}: {e}", f.name));
			assert_eq!(out.tree, tree, "{} block {index}", f.name);
			assert_eq!(out.block.unwrap().index, 2 * index);
			count += 1;
		}
	}
	assert!(count > 200, "{count} proofs");
}

#[test]
fn upgrade_proofs_extend_the_older_tree() {
	let mut count = 0;
	for f in fixtures() {
		let auth = f.auth();
		let newest =
			verify_signed_tree(&auth, &signed_tree_from_json(&f.tree.tree).unwrap(), &V).unwrap();
		for u in &f.upgrades {
			let old = verify_signed_tree(&auth, &signed_tree_from_json(&u.from).unwrap(), &V)
				.unwrap_or_else(|e| panic!("{}: {e}", f.name));
			let proof = with_value(&u.proof, u.value_generator);
			let out = verify_upgrade(&auth, &old, &proof, &V)
				.unwrap_or_else(|e| panic!("{} upgrade: {e}", f.name));
			assert_eq!(out.tree, newest, "{}", f.name);
			// The same proof does not extend a fresh verifier, nor another tree.
			assert_eq!(
				verify_proof(&auth, None, &proof, &V).unwrap_err(),
				Error::UpgradeStartMismatch
			);
			count += 1;
		}
		if let Some(p) = &f.partial {
			let proof = with_value(&p.proof, p.value_generator);
			let out = verify_proof(&auth, None, &proof, &V)
				.unwrap_or_else(|e| panic!("{} partial: {e}", f.name));
			assert_eq!(out.tree, newest, "{} partial", f.name);
			assert_eq!(out.upgrade_end, Some(f.blocks.length / 2 + 1));
		}
	}
	assert_eq!(count, 12);
}

#[test]
fn rust_writer_reproduces_hypercore_byte_for_byte() {
	for f in fixtures() {
		let seed: [u8; 32] = from_hex(&f.key_seed).unwrap().try_into().unwrap();
		let mut w = FeedWriter::from_seed(seed, f.mode());
		let upgrade_from = f.upgrades.first().map(|u| u.from.length);
		let mut old_tree = None;
		for (i, b) in f.blocks().iter().enumerate() {
			if Some(i as u64) == upgrade_from {
				old_tree = Some(w.signed_tree());
			}
			w.append(b).unwrap();
		}
		assert_eq!(w.key(), f.key32(), "{}", f.name);
		assert_eq!(w.manifest_bytes(), from_hex(&f.manifest).unwrap(), "{}", f.name);
		// ed25519 is deterministic, so even the signatures must be identical.
		assert_eq!(w.signed_tree(), signed_tree_from_json(&f.tree.tree).unwrap(), "{}", f.name);
		for p in &f.proofs {
			let js = with_value(&p.proof, p.value_generator);
			let rust = w.block_proof(js.block.as_ref().unwrap().index).unwrap();
			assert_eq!(rust, js, "{}", f.name);
		}
		for u in &f.upgrades {
			assert_eq!(old_tree.as_ref().unwrap(), &signed_tree_from_json(&u.from).unwrap());
			let js = with_value(&u.proof, u.value_generator);
			let rust = w.upgrade_proof(u.from.length, js.block.as_ref().map(|b| b.index)).unwrap();
			assert_eq!(rust, js, "{} upgrade", f.name);
		}
	}
}

#[test]
fn a_feed_written_by_hypercore_imports_and_serves_its_proofs() {
	for f in fixtures() {
		let tree = signed_tree_from_json(&f.tree.tree).unwrap();
		let manifest = from_hex(&f.manifest).unwrap();
		let imported = FeedWriter::from_signed(f.auth(), Some(&manifest), f.blocks(), &tree)
			.unwrap_or_else(|e| panic!("{}: {e:?}", f.name));
		assert_eq!(imported.signed_tree(), tree, "{}", f.name);
		for p in &f.proofs {
			let js = with_value(&p.proof, p.value_generator);
			let served = imported.block_proof(js.block.as_ref().unwrap().index).unwrap();
			assert_eq!(served, js, "{}", f.name);
		}

		// Anything the author did not sign is refused, and an import cannot grow.
		let mut blocks = f.blocks();
		blocks[0].push(0);
		let other = FeedWriter::from_signed(f.auth(), Some(&manifest), blocks, &tree);
		assert_eq!(other.err(), Some(Error::RootMismatch), "{}", f.name);
		let short = f.blocks()[1..].to_vec();
		let short = FeedWriter::from_signed(f.auth(), Some(&manifest), short, &tree);
		assert_eq!(short.err(), Some(Error::BlockOutOfRange), "{}", f.name);
		let mut forged = tree.clone();
		let last = forged.signature.len() - 3;
		forged.signature[last] ^= 1;
		let forged = FeedWriter::from_signed(f.auth(), Some(&manifest), f.blocks(), &forged);
		assert_eq!(forged.err(), Some(Error::BadSignature), "{}", f.name);
		let mut imported = imported;
		assert_eq!(imported.append(b"more"), Err(Error::UnknownSigner));
	}
}

#[test]
fn a_writer_keeping_only_its_tree_serves_hypercores_proofs_from_the_callers_blocks() {
	for f in fixtures() {
		let tree = signed_tree_from_json(&f.tree.tree).unwrap();
		let manifest = from_hex(&f.manifest).unwrap();
		let imported =
			FeedWriter::from_signed_tree_only(f.auth(), Some(&manifest), f.blocks(), &tree)
				.unwrap_or_else(|e| panic!("{}: {e:?}", f.name));
		let seed: [u8; 32] = from_hex(&f.key_seed).unwrap().try_into().unwrap();
		let mut written = FeedWriter::from_seed(seed, f.mode()).forget_blocks();
		for b in f.blocks() {
			written.append(&b).unwrap();
		}
		assert_eq!(written.signed_tree(), tree, "{}", f.name);
		for w in [&imported, &written] {
			assert_eq!(w.block(0), None, "{}: no block is kept", f.name);
			for p in &f.proofs {
				let js = with_value(&p.proof, p.value_generator);
				let block = js.block.as_ref().unwrap();
				// Without the caller's bytes there is no proof; with them, hypercore's own.
				assert_eq!(w.block_proof(block.index), Err(Error::MissingBlock), "{}", f.name);
				let served = w.block_proof_with(block.index, block.value.clone()).unwrap();
				assert_eq!(served, js, "{}", f.name);
				// Bytes the store no longer holds as signed are refused, not proven.
				let mut damaged = block.value.clone();
				damaged.push(0);
				let refused = w.block_proof_with(block.index, damaged);
				assert_eq!(refused, Err(Error::RootMismatch), "{}", f.name);
			}
			let beyond = w.block_proof_with(w.length(), Vec::new());
			assert_eq!(beyond, Err(Error::BlockOutOfRange), "{}", f.name);
		}
	}
}

/// Every way of tampering with a proof; each must be refused.
fn tampered(proof: &Proof) -> Vec<(String, Proof)> {
	let mut out = Vec::new();
	let mut push = |what: String, f: &dyn Fn(&mut Proof)| {
		let mut p = proof.clone();
		f(&mut p);
		out.push((what, p));
	};
	if let Some(b) = &proof.block {
		if b.value.is_empty() {
			push("data grown".into(), &|p| p.block.as_mut().unwrap().value.push(0));
		} else {
			for bit in [0, b.value.len() * 8 - 1] {
				push(format!("data bit {bit}"), &|p| {
					p.block.as_mut().unwrap().value[bit / 8] ^= 1 << (bit % 8)
				});
			}
		}
		push("block index".into(), &|p| p.block.as_mut().unwrap().index ^= 1);
		for i in 0..b.nodes.len() {
			push(format!("block node {i} hash"), &|p| {
				p.block.as_mut().unwrap().nodes[i].hash[7] ^= 4
			});
			push(format!("block node {i} size"), &|p| p.block.as_mut().unwrap().nodes[i].size ^= 1);
			push(format!("block node {i} index"), &|p| {
				p.block.as_mut().unwrap().nodes[i].index += 2
			});
		}
	}
	if let Some(u) = &proof.upgrade {
		for i in 0..u.nodes.len() {
			push(format!("upgrade node {i} hash"), &|p| {
				p.upgrade.as_mut().unwrap().nodes[i].hash[31] ^= 0x80
			});
			push(format!("upgrade node {i} size"), &|p| {
				p.upgrade.as_mut().unwrap().nodes[i].size += 1
			});
		}
		for i in 0..u.additional_nodes.len() {
			push(format!("additional node {i} hash"), &|p| {
				p.upgrade.as_mut().unwrap().additional_nodes[i].hash[0] ^= 1
			});
			push(format!("additional node {i} size"), &|p| {
				p.upgrade.as_mut().unwrap().additional_nodes[i].size += 1
			});
		}
		push("length + 1".into(), &|p| p.upgrade.as_mut().unwrap().length += 1);
		if u.length > 1 {
			push("length - 1".into(), &|p| p.upgrade.as_mut().unwrap().length -= 1);
		}
		for pos in [0, 1, 2, 33, u.signature.len() - 3, u.signature.len() - 1] {
			push(format!("signature byte {pos}"), &|p| {
				p.upgrade.as_mut().unwrap().signature[pos] ^= 1
			});
		}
		push("signature truncated".into(), &|p| {
			p.upgrade.as_mut().unwrap().signature.pop();
		});
	}
	push("fork".into(), &|p| p.fork += 1);
	out
}

#[test]
fn tampered_proofs_are_refused() {
	let mut refused = 0;
	for f in fixtures() {
		let auth = f.auth();
		let mut cases: Vec<(Option<SignedTreeJson>, Proof)> = f
			.proofs
			.iter()
			.take(6)
			.map(|p| (None, with_value(&p.proof, p.value_generator)))
			.collect();
		for u in &f.upgrades {
			cases.push((Some(u.from.clone()), with_value(&u.proof, u.value_generator)));
		}
		if let Some(p) = &f.partial {
			cases.push((None, with_value(&p.proof, p.value_generator)));
		}
		for (from, proof) in cases {
			let old = from.map(|t| {
				verify_signed_tree(&auth, &signed_tree_from_json(&t).unwrap(), &V).unwrap()
			});
			assert!(verify_proof(&auth, old.as_ref(), &proof, &V).is_ok(), "{} untampered", f.name);
			for (what, bad) in tampered(&proof) {
				let r = verify_proof(&auth, old.as_ref(), &bad, &V);
				assert!(r.is_err(), "{}: tampered {what} was accepted", f.name);
				refused += 1;
			}
			// Wrong key: flip a bit of the key (the signer stays the same).
			let mut wrong_key = auth;
			wrong_key.key[0] ^= 1;
			wrong_key.public_key[5] ^= 2;
			assert!(verify_proof(&wrong_key, old.as_ref(), &proof, &V).is_err(), "{} key", f.name);
			let mut other_signer = auth;
			other_signer.public_key[5] ^= 2;
			assert!(
				verify_proof(&other_signer, old.as_ref(), &proof, &V).is_err(),
				"{} signer",
				f.name
			);
			if auth.mode == SigningMode::ManifestV1 {
				// The manifest-mode key is in the signed message itself.
				let mut key_only = auth;
				key_only.key[31] ^= 1;
				assert_eq!(
					verify_proof(&key_only, old.as_ref(), &proof, &V).unwrap_err(),
					Error::BadSignature
				);
			}
		}
		// Tampered key or manifest bytes no longer describe the feed.
		let manifest = from_hex(&f.manifest).unwrap();
		let mut key = f.key32();
		key[3] ^= 8;
		assert!(FeedAuth::from_key(key, Some(&manifest)).is_err(), "{} key", f.name);
		for byte in 0..manifest.len() {
			let mut m = manifest.clone();
			m[byte] ^= 1;
			let r = FeedAuth::from_key(f.key32(), Some(&m));
			assert!(r.is_err(), "{}: manifest byte {byte} flipped was accepted", f.name);
		}
		// Tampered signed tree.
		let tree = signed_tree_from_json(&f.tree.tree).unwrap();
		for i in 0..tree.roots.len() {
			let mut t = tree.clone();
			t.roots[i].hash[2] ^= 1;
			assert_eq!(verify_signed_tree(&auth, &t, &V), Err(Error::BadSignature));
			let mut t = tree.clone();
			t.roots[i].size += 1;
			assert_eq!(verify_signed_tree(&auth, &t, &V), Err(Error::BadSignature));
		}
		let mut t = tree.clone();
		t.length += 1;
		assert!(verify_signed_tree(&auth, &t, &V).is_err());
		let mut t = tree.clone();
		t.fork += 1;
		assert_eq!(verify_signed_tree(&auth, &t, &V), Err(Error::BadSignature));
	}
	assert!(refused > 1000, "{refused}");
}

/// Files hypercore wrote in the CLI format (generated/cli) pass `verify_proof_json`, the
/// function behind `datdot-node hypercore verify`, and a flipped bit fails it.
#[test]
fn cli_files_written_by_hypercore_verify() {
	let dir = format!(
		"{}/fixtures/generated/cli",
		std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo")
	);
	let mut n = 0;
	for entry in std::fs::read_dir(dir).unwrap() {
		let path = entry.unwrap().path();
		let text = std::fs::read_to_string(&path).unwrap();
		let summary =
			verify_proof_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
		let name = path.file_name().unwrap().to_string_lossy().to_string();
		let want = if name.contains("len1000") {
			1000
		} else if name.contains("len64") {
			64
		} else {
			summary.length
		};
		assert_eq!(summary.length, want, "{name}");
		if name.contains("upgrade") {
			assert_eq!(summary.upgraded_from, Some(600), "{name}");
			assert_eq!(summary.block, Some((999, 1 + (999 * 7) % 13)), "{name}");
		}
		// Flip one bit inside the signature's ed25519 bytes: the file must no longer verify.
		let at = text.rfind("\"signature\": \"").unwrap() + 14 + 40;
		let mut bytes = text.into_bytes();
		bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
		let bad = String::from_utf8(bytes).unwrap();
		assert!(verify_proof_json(&bad).is_err(), "{name} tampered");
		n += 1;
	}
	assert_eq!(n, 22);
}
