//! Fuzz proof decoding and verification: SCALE proofs (fresh and upgrade), signed trees,
//! the JSON format, manifests, signature containers, segment proofs and encoded blocks.
//! Any input must end in Ok or an Error, never a panic, hang or huge allocation.
#![no_main]

use datdot_primitives::encoded::{
	decode_block, verify_segment, EncodedRoot, ReplicaId, SegmentProof,
};
use datdot_primitives::json::verify_proof_json;
use datdot_primitives::manifest::Manifest;
use datdot_primitives::signing::{decode_signature_container, Ed25519Verifier, SigningMode};
use datdot_primitives::verify::{verify_proof, verify_signed_tree, verify_upgrade};
use datdot_primitives::{DalekVerifier, FeedAuth, Proof, SignedTree};
use libfuzzer_sys::fuzz_target;
use parity_scale_codec::Decode;

/// Accepts every signature, so the fuzzer reaches the code behind the signature check.
struct AcceptAll;
impl Ed25519Verifier for AcceptAll {
	fn verify(&self, _: &[u8; 32], _: &[u8], _: &[u8; 64]) -> bool {
		true
	}
}

fn auths() -> [FeedAuth; 2] {
	let m = Manifest::default_for([11; 32]);
	[
		FeedAuth::compat([11; 32]),
		FeedAuth { mode: SigningMode::ManifestV1, ..FeedAuth::manifest(&m) },
	]
}

fuzz_target!(|data: &[u8]| {
	let Some((&sel, rest)) = data.split_first() else { return };
	let auth = auths()[(sel >> 7) as usize];
	match sel & 7 {
		0 => {
			if let Ok(p) = Proof::decode_untrusted(rest) {
				let _ = verify_proof(&auth, None, &p, &AcceptAll);
				let _ = verify_proof(&auth, None, &p, &DalekVerifier);
			}
		}
		1 => {
			let mut input = rest;
			let Ok(tree) = SignedTree::decode(&mut input) else { return };
			let Ok(p) = Proof::decode(&mut input) else { return };
			if let Ok(old) = verify_signed_tree(&auth, &tree, &AcceptAll) {
				let _ = verify_upgrade(&auth, &old, &p, &AcceptAll);
				let _ = verify_proof(&auth, Some(&old), &p, &AcceptAll);
			}
		}
		2 => {
			if let Ok(text) = std::str::from_utf8(rest) {
				let _ = verify_proof_json(text);
			}
		}
		3 => {
			let _ = Manifest::decode_hypercore(rest);
			let _ = decode_signature_container(rest);
			let key: [u8; 32] = [11; 32];
			let _ = FeedAuth::from_key(key, Some(rest));
		}
		4 => {
			let mut input = rest;
			let Ok(root) = EncodedRoot::decode(&mut input) else { return };
			let Ok(id) = ReplicaId::decode(&mut input) else { return };
			let Ok(proof) = SegmentProof::decode(&mut input) else { return };
			let _ = verify_segment(&root, &id, &proof);
		}
		_ => {
			let _ = decode_block(rest);
		}
	}
});
