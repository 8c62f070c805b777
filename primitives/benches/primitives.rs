//! Criterion benchmarks of the figures the issue asks for: block-proof verification for
//! feeds of 2^10, 2^20 and 2^30 blocks; segment-proof size and verification for replicas
//! of 1 MiB, 1 GiB and 1 TiB (synthetic trees: a proof's cost depends only on its path
//! length); encode/decode throughput; and the codec candidates behind the choice of LZ4.
//!
//! Sealing: seal and unseal throughput per core against OpenSSL's own RSA-2048 private and
//! public operations on the same words (the baselines, measured in the same run).
//!
//! Run: CARGO_TARGET_DIR=... nice -n 19 cargo bench -j 1 -p datdot-primitives --features openssl

use std::time::Duration;

use codec::Encode;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datdot_primitives::encoded::{
	decode_block, encode_block, root_from_path, verify_segment, EncodedRoot, ReplicaId,
	SegmentProof, SEGMENT_SIZE,
};
use datdot_primitives::flat_tree::Iter;
use datdot_primitives::hash::{blake2b256, tree_hash, Node};
use datdot_primitives::signing::{encode_signature_container, Ed25519Verifier};
use datdot_primitives::testdata::{generate, TEST_SEALING_KEYS};
use datdot_primitives::verify::{verify_block_proof, verify_proof};
use datdot_primitives::{BlockData, DalekVerifier, FeedAuth, Manifest, Proof, UpgradeData};
use ed25519_dalek::{Signer, SigningKey};

struct AcceptAll;
impl Ed25519Verifier for AcceptAll {
	fn verify(&self, _: &[u8; 32], _: &[u8], _: &[u8; 64]) -> bool {
		true
	}
}

/// A valid manifest-mode proof of block `index` of a feed of exactly 2^`log` blocks of
/// 1 KiB each, built from synthetic sibling hashes (the one root covers everything).
fn synthetic_block_proof(log: u32, index: u64) -> (FeedAuth, Proof) {
	let key = SigningKey::from_bytes(&[9; 32]);
	let auth = FeedAuth::manifest(&Manifest::default_for(key.verifying_key().to_bytes()));
	let value = generate(1, index as u32, 1024);
	let mut node = Node::leaf(index, &value);
	let mut ite = Iter::new(2 * index);
	let mut nodes = Vec::new();
	for d in 0..log {
		let sibling = Node {
			index: ite.sibling(),
			size: 1024 << d,
			hash: blake2b256(&[&d.to_le_bytes(), &index.to_le_bytes()]),
		};
		node = Node::parent(ite.parent(), &node, &sibling).unwrap();
		nodes.push(sibling);
	}
	let length = 1u64 << log;
	let signable = auth.signable(&tree_hash(&[node]), length, 0);
	let signature = encode_signature_container(&key.sign(&signable).to_bytes());
	let proof = Proof {
		fork: 0,
		block: Some(BlockData { index, value, nodes }),
		upgrade: Some(UpgradeData {
			start: 0,
			length,
			nodes: vec![],
			additional_nodes: vec![],
			signature,
		}),
	};
	(auth, proof)
}

fn block_proofs(c: &mut Criterion) {
	let mut g = c.benchmark_group("block_proof_verify");
	for log in [10u32, 20, 30] {
		let index = (1u64 << log) / 3;
		let (auth, proof) = synthetic_block_proof(log, index);
		verify_block_proof(&auth, &proof, &DalekVerifier).expect("synthetic proof is valid");
		eprintln!("block proof 2^{log}: {} bytes SCALE (1 KiB block)", proof.encode().len());
		g.bench_with_input(BenchmarkId::new("with_ed25519", format!("2^{log}")), &proof, |b, p| {
			b.iter(|| verify_block_proof(&auth, p, &DalekVerifier).unwrap())
		});
		g.bench_with_input(BenchmarkId::new("tree_only", format!("2^{log}")), &proof, |b, p| {
			b.iter(|| verify_proof(&auth, None, p, &AcceptAll).unwrap())
		});
	}
	g.finish();
}

fn segment_proofs(c: &mut Criterion) {
	let id = ReplicaId { contract: 42, replica: 1 };
	let mut g = c.benchmark_group("segment_proof_verify");
	for (name, bytes) in [("1MiB", 1u64 << 20), ("1GiB", 1 << 30), ("1TiB", 1 << 40)] {
		let segments = bytes / SEGMENT_SIZE as u64;
		let index = segments / 3 + 1;
		let depth = 64 - (segments - 1).leading_zeros();
		let path: Vec<_> =
			(0..depth).map(|d| blake2b256(&[&d.to_le_bytes(), b"sibling"])).collect();
		let segment = generate(2, index as u32, SEGMENT_SIZE);
		let root = EncodedRoot {
			root: root_from_path(&id, segments, index, &segment, &path).unwrap(),
			segments,
		};
		let proof = SegmentProof { index, segment, path };
		verify_segment(&root, &id, &proof).unwrap();
		eprintln!("segment proof {name}: {} bytes SCALE", proof.encode().len());
		g.bench_with_input(BenchmarkId::from_parameter(name), &proof, |b, p| {
			b.iter(|| verify_segment(&root, &id, p).unwrap())
		});
	}
	g.finish();
}

/// Compressible data: JSON-like log lines with varying numbers (what feeds often hold).
fn compressible(len: usize) -> Vec<u8> {
	let mut out = Vec::with_capacity(len + 128);
	let mut i = 0u64;
	while out.len() < len {
		let line = format!(
			"{{\"seq\":{i},\"ts\":{},\"user\":\"user-{}\",\"event\":\"view\",\"path\":\"/feeds/{}\"}}\n",
			1_700_000_000 + i * 37,
			i % 977,
			(i * 7919) % 10007
		);
		out.extend_from_slice(line.as_bytes());
		i += 1;
	}
	out.truncate(len);
	out
}

fn encoding(c: &mut Criterion) {
	let mut g = c.benchmark_group("encoded_stream");
	for size in [64 << 10, 1 << 20] {
		for (kind, data) in [("compressible", compressible(size)), ("random", generate(5, 0, size))]
		{
			let encoded = encode_block(&data).unwrap();
			eprintln!("{kind} {size} B -> {} B encoded", encoded.len());
			g.throughput(Throughput::Bytes(size as u64));
			g.bench_with_input(BenchmarkId::new(format!("encode_{kind}"), size), &data, |b, d| {
				b.iter(|| encode_block(d).unwrap())
			});
			g.bench_with_input(
				BenchmarkId::new(format!("decode_{kind}"), size),
				&encoded,
				|b, e| b.iter(|| decode_block(e).unwrap()),
			);
		}
	}
	g.finish();
}

fn sealing(c: &mut Criterion) {
	use datdot_primitives::sealing::{Sealer, Unsealer, MODULUS_BYTES, WORD_BYTES};
	let id = ReplicaId { contract: 42, replica: 1 };
	let sealer = Sealer::from_pem(TEST_SEALING_KEYS[0].as_bytes()).unwrap();
	let unsealer = Unsealer::new(sealer.key()).unwrap();
	let mut g = c.benchmark_group("sealing");
	// Incompressible data: the encoded block is as long as the block, so this is the most
	// sealing work per original byte.
	let block = generate(5, 0, 64 << 10);
	let encoded = encode_block(&block).unwrap();
	let sealed = sealer.seal_block(&id, 0, 0, &encoded).unwrap();
	g.throughput(Throughput::Bytes(encoded.len() as u64));
	g.bench_function("seal_64KiB", |b| b.iter(|| sealer.seal_block(&id, 0, 0, &encoded).unwrap()));
	g.bench_function("unseal_64KiB", |b| {
		b.iter(|| unsealer.unseal_block(&id, 0, 0, &sealed).unwrap())
	});
	// Baselines: OpenSSL's raw RSA-2048 operations, one per word of the same bytes.
	let rsa = openssl::rsa::Rsa::private_key_from_pem(TEST_SEALING_KEYS[0].as_bytes()).unwrap();
	let words = encoded.len().div_ceil(WORD_BYTES);
	let mut word = [0u8; MODULUS_BYTES];
	word[1..].fill(0x5a);
	let mut out = [0u8; MODULUS_BYTES];
	g.bench_function("openssl_private_64KiB", |b| {
		b.iter(|| {
			for _ in 0..words {
				rsa.private_decrypt(&word, &mut out, openssl::rsa::Padding::NONE).unwrap();
			}
		})
	});
	g.bench_function("openssl_public_64KiB", |b| {
		b.iter(|| {
			for _ in 0..words {
				rsa.public_encrypt(&word, &mut out, openssl::rsa::Padding::NONE).unwrap();
			}
		})
	});
	g.finish();
}

fn codec_candidates(c: &mut Criterion) {
	let mut g = c.benchmark_group("codec_candidates");
	let size = 1 << 20;
	for (kind, data) in [("compressible", compressible(size)), ("random", generate(5, 0, size))] {
		g.throughput(Throughput::Bytes(size as u64));
		let lz4 = lz4_flex::block::compress(&data);
		let deflate1 = miniz_oxide::deflate::compress_to_vec(&data, 1);
		let deflate6 = miniz_oxide::deflate::compress_to_vec(&data, 6);
		eprintln!(
			"{kind} 1 MiB: lz4_flex {} B, miniz level1 {} B, miniz level6 {} B",
			lz4.len(),
			deflate1.len(),
			deflate6.len()
		);
		g.bench_function(BenchmarkId::new("lz4_flex_compress", kind), |b| {
			b.iter(|| lz4_flex::block::compress(&data))
		});
		g.bench_function(BenchmarkId::new("lz4_flex_decompress", kind), |b| {
			b.iter(|| lz4_flex::block::decompress(&lz4, size).unwrap())
		});
		g.bench_function(BenchmarkId::new("miniz_level1_compress", kind), |b| {
			b.iter(|| miniz_oxide::deflate::compress_to_vec(&data, 1))
		});
		g.bench_function(BenchmarkId::new("miniz_level6_compress", kind), |b| {
			b.iter(|| miniz_oxide::deflate::compress_to_vec(&data, 6))
		});
		g.bench_function(BenchmarkId::new("miniz_decompress", kind), |b| {
			b.iter(|| miniz_oxide::inflate::decompress_to_vec(&deflate1).unwrap())
		});
	}
	g.finish();
}

criterion_group! {
	name = benches;
	config = Criterion::default()
		.sample_size(20)
		.warm_up_time(Duration::from_millis(500))
		.measurement_time(Duration::from_secs(2));
	targets = block_proofs, segment_proofs, encoding, sealing, codec_candidates
}
criterion_main!(benches);
