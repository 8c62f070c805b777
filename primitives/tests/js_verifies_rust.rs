//! The other direction of compatibility: feeds and proofs written by the Rust
//! [`FeedWriter`] are verified by the JS reference implementation
//! (`fixtures/verify-rust.js`, npm hypercore 11.35.1). Needs `node` and
//! `npm ci --prefix primitives/fixtures` beforehand.

use std::path::Path;
use std::process::Command;

use datdot_primitives::json::{proof_to_json, to_hex};
use datdot_primitives::signing::SigningMode;
use datdot_primitives::testdata::generate;
use datdot_primitives::writer::FeedWriter;
use serde_json::json;

const SIZES: [usize; 7] = [0, 3, 70_000, 1, 12, 1024, 5];

fn write_feed(dir: &Path, mode: SigningMode, seed: u8) {
	let mut w = FeedWriter::from_seed([seed; 32], mode);
	let blocks: Vec<Vec<u8>> =
		SIZES.iter().enumerate().map(|(i, &s)| generate(seed as u32, i as u32, s)).collect();
	for b in &blocks[..3] {
		w.append(b).unwrap();
	}
	let first = proof_to_json(&w.block_proof(2).unwrap());
	for b in &blocks[3..] {
		w.append(b).unwrap();
	}
	let upgrade = proof_to_json(&w.upgrade_proof(3, Some(5)).unwrap());
	let proofs: Vec<_> =
		(0..w.length()).map(|i| proof_to_json(&w.block_proof(i).unwrap())).collect();

	let mut tampered = Vec::new();
	let mut p = w.block_proof(4).unwrap();
	p.block.as_mut().unwrap().value[0] ^= 1;
	tampered.push(proof_to_json(&p));
	let mut p = w.block_proof(6).unwrap();
	p.upgrade.as_mut().unwrap().nodes[0].hash[3] ^= 1;
	tampered.push(proof_to_json(&p));
	let mut p = w.block_proof(1).unwrap();
	let sig = &mut p.upgrade.as_mut().unwrap().signature;
	let last = sig.len() - 10;
	sig[last] ^= 1;
	tampered.push(proof_to_json(&p));

	let mode_name = match mode {
		SigningMode::Compat => "compat",
		SigningMode::ManifestV1 => "manifest-v1",
	};
	let file = json!({
		"mode": mode_name,
		"key": to_hex(&w.key()),
		"manifest": to_hex(&w.manifest_bytes()),
		"length": w.length(),
		"proofs": proofs,
		"upgrade": { "first": first, "proof": upgrade },
		"tampered": tampered,
	});
	std::fs::write(dir.join(format!("{mode_name}.json")), file.to_string()).unwrap();
}

#[test]
fn js_reference_implementation_verifies_rust_feeds() {
	let dir = std::env::temp_dir().join(format!("datdot-rust-feeds-{}", std::process::id()));
	std::fs::create_dir_all(&dir).unwrap();
	write_feed(&dir, SigningMode::Compat, 11);
	write_feed(&dir, SigningMode::ManifestV1, 12);

	let script = format!(
		"{}/fixtures/verify-rust.js",
		std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo")
	);
	let out = Command::new("node")
		.arg(script)
		.arg(&dir)
		.output()
		.expect("node runs (needs `npm ci --prefix primitives/fixtures`)");
	let stdout = String::from_utf8_lossy(&out.stdout);
	let stderr = String::from_utf8_lossy(&out.stderr);
	std::fs::remove_dir_all(&dir).ok();
	assert!(out.status.success(), "JS refused Rust output:\n{stdout}\n{stderr}");
	// 2 feeds × (7 blocks × 3 checks + 3 upgrade checks + 3 tampered) + 1 manifest key.
	assert!(stdout.contains("55 passed, 0 failed"), "{stdout}\n{stderr}");
}
