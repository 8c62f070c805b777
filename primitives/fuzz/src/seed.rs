//! Writes a seed corpus of valid inputs (proofs, upgrades, trees, JSON, segments) so
//! fuzzing starts from deep in the verifier. Usage: cargo run --bin seed <corpus dir>.

use datdot_primitives::encoded::{encode_block, ReplicaId, SealedReplica};
use datdot_primitives::json::ProofFile;
use datdot_primitives::signing::SigningMode;
use datdot_primitives::writer::FeedWriter;
use parity_scale_codec::Encode;

fn main() {
	let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("corpus dir"));
	std::fs::create_dir_all(&dir).unwrap();
	let mut n = 0;
	let mut put = |sel: u8, bytes: Vec<u8>| {
		let mut v = vec![sel];
		v.extend(bytes);
		std::fs::write(dir.join(format!("seed-{n}")), v).unwrap();
		n += 1;
	};
	for (mode, high) in [(SigningMode::Compat, 0u8), (SigningMode::ManifestV1, 0x80)] {
		let mut w = FeedWriter::from_seed([11; 32], mode);
		for i in 0..3u8 {
			w.append(&[i; 5]).unwrap();
		}
		let old = w.signed_tree();
		for i in 3..11u8 {
			w.append(&[i; 9]).unwrap();
		}
		for i in [0, 4, 10] {
			put(high, w.block_proof(i).unwrap().encode());
		}
		let mut up = old.encode();
		up.extend(w.upgrade_proof(3, Some(7)).unwrap().encode());
		put(high | 1, up);
		let file =
			ProofFile::proof(&w.key(), Some(&w.manifest_bytes()), None, &w.block_proof(5).unwrap());
		put(high | 2, file.to_json().into_bytes());
		put(high | 3, w.manifest_bytes());
	}
	let id = ReplicaId { contract: 1, replica: 2 };
	let blocks = [vec![1u8; 3000], vec![2u8; 100]];
	let pem = datdot_primitives::testdata::TEST_SEALING_KEYS[0].as_bytes();
	let sealer = datdot_primitives::sealing::Sealer::from_pem(pem).unwrap();
	let r = SealedReplica::build(id, &sealer, 0, blocks.iter().map(|b| b.as_slice())).unwrap();
	let mut seg = r.root().encode();
	seg.extend(id.encode());
	seg.extend(r.prove(1).unwrap().encode());
	put(4, seg);
	put(5, encode_block(&[7u8; 4000]).unwrap());
}
