//! Live interop of the node's seeder with npm hypercore 11.35.1 (primitives/fixtures): a
//! stock JS reader, given only the feed key and the seeder's address, replicates from a
//! replica store holding part of a feed, in both signing modes. Each block the reader
//! returns was verified by hypercore itself; the test checks the bytes are the feed's.

use datdot_node::{
	feeds::FeedStore,
	hypercore_wire::{
		attestor::{read_from_hoster, ReadError, ReadRequest},
		serve, Contact, ContactSigner, Limits,
	},
	replica::{StreamAcceptor, StreamEncoder},
	serving::NodeFeeds,
	store::ReplicaStore,
	stream_log::StreamHead,
};
use datdot_primitives::{encoded::ReplicaId, sealing::Sealer, writer::FeedWriter, SigningMode};
use pallet_datdot::types::{FeedState, Role};
use sha2::Digest;
use std::{path::PathBuf, process::Command, sync::Arc};

fn fixtures() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../primitives/fixtures")
}

/// Blocks of mixed sizes and compressibility, up to 64 KiB.
fn feed(mode: SigningMode, blocks: u64) -> FeedWriter {
	let mut feed = FeedWriter::from_seed([9; 32], mode);
	let mut x = 7u64;
	for i in 0..blocks {
		let len = [1, 100, 4096, 65536, 333][i as usize % 5];
		let block: Vec<u8> = (0..len)
			.map(|j| {
				x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
				if i % 3 == 0 {
					(j % 7) as u8
				} else {
					(x >> 56) as u8
				}
			})
			.collect();
		feed.append(&block).unwrap();
	}
	feed
}

/// Stores the replicas of `feed`'s `ranges` as setup does: encoded and sealed, checked and
/// logged by the hoster, then adopted by its store.
fn host(store: &ReplicaStore, feed: &FeedWriter, ranges: &[std::ops::Range<u64>]) {
	let chain = FeedState {
		auth: feed.auth(),
		length: feed.length(),
		fork: feed.fork(),
		roots: feed.roots().to_vec(),
	};
	for (contract, range) in ranges.iter().enumerate() {
		let id = ReplicaId { contract: contract as u64, replica: 0 };
		let pem = datdot_primitives::testdata::TEST_SEALING_KEYS[contract % 3];
		let sealer = Arc::new(Sealer::from_pem(pem.as_bytes()).unwrap());
		let key = *sealer.key();
		let mut encoder = StreamEncoder::new(chain.clone(), id, range.clone(), sealer, (0, 0));
		let mut acceptor =
			StreamAcceptor::new(chain.clone(), id, range.clone(), key, (0, 0)).unwrap();
		let stream: Vec<_> = range
			.clone()
			.map(|i| {
				let sealed = encoder.add(feed.block_proof(i).unwrap()).unwrap();
				acceptor.accept(sealed).unwrap()
			})
			.collect();
		let head = StreamHead::new(&chain, id, range, key);
		let mut log = store.stream_log(Role::Hoster, head).unwrap();
		log.append(&stream).unwrap();
		store.adopt(feed.key(), log, feed.length()).unwrap();
	}
}

#[derive(serde::Deserialize)]
struct Read {
	length: u64,
	blocks: Vec<ReadBlock>,
	missing: Option<String>,
	ms: f64,
	#[serde(rename = "latencyMs")]
	latency_ms: Option<Latency>,
}

#[derive(serde::Deserialize, Debug)]
struct Latency {
	p50: f64,
	p99: f64,
}

#[derive(serde::Deserialize)]
struct Baseline {
	#[serde(rename = "allMs")]
	all_ms: f64,
	#[serde(rename = "latencyMs")]
	latency_ms: Latency,
}

#[derive(serde::Deserialize)]
struct ReadBlock {
	index: u64,
	sha256: String,
}

/// Runs the stock reader against `endpoint` for `what` (see read-from-seeder.js).
fn read(endpoint: &str, key: &[u8; 32], what: &str) -> Read {
	let storage = tempfile::tempdir().unwrap();
	let out = Command::new("node")
		.arg(fixtures().join("read-from-seeder.js"))
		.args([endpoint, &datdot_primitives::json::to_hex(key)])
		.arg(storage.path())
		.arg(what)
		.output()
		.expect("node runs (scripts/setup.sh installs it)");
	assert!(out.status.success(), "reader failed: {}", String::from_utf8_lossy(&out.stderr));
	serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn check(feed: &FeedWriter, read: &Read, expected: &[u64]) {
	assert_eq!(read.length, feed.length());
	let indices: Vec<u64> = read.blocks.iter().map(|b| b.index).collect();
	assert_eq!(indices, expected);
	for block in &read.blocks {
		let original = sha2::Sha256::digest(feed.block(block.index).unwrap());
		assert_eq!(
			block.sha256,
			datdot_primitives::json::to_hex(&original),
			"block {}",
			block.index
		);
	}
}

/// A seeder on 127.0.0.1 serving a replica store that holds `feed`'s blocks in `ranges`.
struct Seeding {
	runtime: tokio::runtime::Runtime,
	endpoint: String,
	key: [u8; 32],
	_dir: tempfile::TempDir,
}

impl Seeding {
	fn start(feed: &FeedWriter, ranges: &[std::ops::Range<u64>]) -> Self {
		Self::start_signing(feed, ranges, None)
	}

	/// As [`Seeding::start`], the seeder signing proofs of contact with `signer`.
	fn start_signing(
		feed: &FeedWriter,
		ranges: &[std::ops::Range<u64>],
		signer: Option<ContactSigner>,
	) -> Self {
		let dir = tempfile::tempdir().unwrap();
		let store = Arc::new(ReplicaStore::open(&dir.path().join("replicas"), 1 << 40).unwrap());
		let feeds = Arc::new(FeedStore::open(&dir.path().join("feeds")).unwrap());
		host(&store, feed, ranges);
		let source = Arc::new(NodeFeeds::new(feeds, store));
		source.learn(feed.auth(), feed.fork());
		let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
		let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
		let endpoint = listener.local_addr().unwrap().to_string();
		runtime.spawn(serve(listener, source, [5; 32], Limits::default(), None, signer));
		Seeding { runtime, endpoint, key: feed.key(), _dir: dir }
	}

	/// Runs a fresh stock reader per entry of `whats`, one after the other, while the
	/// seeder serves.
	fn read(&self, whats: &[String]) -> Vec<Read> {
		let (endpoint, key, whats) = (self.endpoint.clone(), self.key, whats.to_vec());
		self.runtime.block_on(async move {
			tokio::task::spawn_blocking(move || {
				whats.iter().map(|what| read(&endpoint, &key, what)).collect()
			})
			.await
			.unwrap()
		})
	}
}

fn interop(mode: SigningMode) {
	let feed = feed(mode, 60);
	// Two of three contracts hosted here: the reader must see a sparse seeder.
	let seeding = Seeding::start(&feed, &[0..25, 40..60]);
	let held: Vec<u64> = (0..25).chain(40..60).collect();
	let list = |l: &[u64]| l.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
	let reads = seeding.read(&[
		format!("blocks:{}", list(&[41, 3, 59, 24, 0, 40])),
		"missing:30".into(),
		format!("blocks:{}", list(&held)),
	]);
	check(&feed, &reads[0], &[41, 3, 59, 24, 0, 40]);
	assert_eq!(reads[1].missing.as_deref(), Some("REQUEST_TIMEOUT"));
	check(&feed, &reads[2], &held);
}

#[test]
fn stock_reader_replicates_a_manifest_feed_from_a_sparse_seeder() {
	interop(SigningMode::ManifestV1);
}

#[test]
fn stock_reader_replicates_a_compat_feed_from_a_sparse_seeder() {
	interop(SigningMode::Compat);
}

/// A hoster's key signing proofs of contact, as `serving::contact_signer` does with the
/// keystore: only for its own account.
fn hoster_signer(pair: sp_core::sr25519::Pair) -> ContactSigner {
	use sp_core::Pair as _;
	Arc::new(move |c: Contact| {
		let message = datdot_node::serving::contact_message(c.challenge, c.attestor, &c.hashes);
		(c.hoster == pair.public().0).then(|| pair.sign(&message).0)
	})
}

#[test]
fn attestor_reads_verified_blocks_and_gets_the_hosters_proof_of_contact() {
	use datdot_primitives::{hash::leaf_hash, verify::verify_block_proof, DalekVerifier};
	use sp_core::Pair as _;
	let feed = feed(SigningMode::ManifestV1, 30);
	let hoster = sp_core::sr25519::Pair::from_seed(&[3; 32]);
	// Two of its contracts hosted here; blocks 20..25 are not.
	let held = [0..20, 25..30];
	let seeding = Seeding::start_signing(&feed, &held, Some(hoster_signer(hoster.clone())));
	let request = |blocks: Vec<u64>, hoster: [u8; 32]| ReadRequest {
		key: feed.key(),
		length: feed.length(),
		fork: feed.fork(),
		blocks,
		challenge: 42,
		attestor: [8; 32],
		hoster,
	};
	// What the node's attestor checks: each block proves into the signed tree.
	let verify = |index: u64, proof: &datdot_primitives::Proof| {
		let verified = verify_block_proof(&feed.auth(), proof, &DalekVerifier)
			.map_err(|e| format!("{e:?}"))?;
		let ok = verified.block.map(|b| b.index) == Some(index * 2)
			&& verified.tree.length == feed.length();
		ok.then_some(()).ok_or_else(|| "another block or tree".to_string())
	};
	let deadline = std::time::Duration::from_secs(10);
	let run = |r: ReadRequest| {
		seeding.runtime.block_on(read_from_hoster(&seeding.endpoint, &r, verify, deadline))
	};

	let reading = run(request(vec![17, 27, 2], hoster.public().0)).expect("served");
	let hashes: Vec<[u8; 32]> =
		[17, 27, 2].iter().map(|i| leaf_hash(feed.block(*i).unwrap())).collect();
	assert_eq!(reading.hashes, hashes);
	let message = datdot_node::serving::contact_message(42, [8; 32], &hashes);
	let signature = sp_core::sr25519::Signature::from_raw(reading.signature);
	assert!(sp_core::sr25519::Pair::verify(&signature, &message, &hoster.public()));
	assert!(reading.latency_ms < 10_000);

	// A block the hoster does not hold: refused, no proof of contact.
	assert!(matches!(run(request(vec![3, 22], hoster.public().0)), Err(ReadError::Refused(_))));
	// A hoster whose key the node does not hold signs nothing.
	let stranger = sp_core::sr25519::Pair::from_seed(&[4; 32]).public().0;
	assert!(matches!(run(request(vec![3], stranger)), Err(ReadError::Refused(_))));
	// A seeder of another feed is refused at the channel.
	let other = self::feed(SigningMode::Compat, 5);
	let mut wrong = request(vec![1], hoster.public().0);
	wrong.key = other.key();
	assert!(matches!(run(wrong), Err(ReadError::Refused(_))));
}

/// The figures of issue 10: a stock JS reader downloading a whole feed from the seeder, and
/// reading random blocks, against npm hypercore replicating the same shape of feed to npm
/// hypercore, in the same run. Run by `scripts/bench-serving.sh` (feed size from
/// `DATDOT_BENCH_BLOCKS`, 64 KiB blocks of incompressible bytes).
#[test]
#[ignore = "a benchmark: scripts/bench-serving.sh"]
fn seeder_throughput_against_js() {
	let blocks: u64 =
		std::env::var("DATDOT_BENCH_BLOCKS").ok().and_then(|b| b.parse().ok()).unwrap_or(1024);
	let reads = 200;
	let mut feed = FeedWriter::from_seed([4; 32], SigningMode::ManifestV1);
	let mut x = 11u64;
	for _ in 0..blocks {
		let block: Vec<u8> = (0..65536)
			.map(|_| {
				x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
				(x >> 56) as u8
			})
			.collect();
		feed.append(&block).unwrap();
	}
	let contracts: Vec<_> = (0..blocks).step_by(64).map(|s| s..(s + 64).min(blocks)).collect();
	let seeding = Seeding::start(&feed, &contracts);
	let random: Vec<String> = (0..reads)
		.map(|_| {
			x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
			((x >> 33) % blocks).to_string()
		})
		.collect();
	let mut runs = seeding.read(&["all".into(), format!("blocks:{}", random.join(","))]);
	let (sparse, all) = (runs.pop().unwrap(), runs.pop().unwrap());
	check(&feed, &all, &(0..blocks).collect::<Vec<_>>());
	let out = Command::new("node")
		.arg(fixtures().join("bench-js-replication.js"))
		.args([blocks.to_string(), "65536".into(), reads.to_string()])
		.output()
		.expect("node runs");
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let js: Baseline = serde_json::from_slice(&out.stdout).unwrap();
	let mb = (blocks * 65536) as f64 / 1e6;
	let latency = sparse.latency_ms.expect("latencies of a blocks: read");
	println!(
		"whole feed ({mb:.1} MB): datdot seeder → JS {:.0} ms ({:.1} MB/s); JS → JS {:.0} ms \
		 ({:.1} MB/s); ratio {:.2}x",
		all.ms,
		mb / all.ms * 1e3,
		js.all_ms,
		mb / js.all_ms * 1e3,
		js.all_ms / all.ms,
	);
	println!(
		"random 64 KiB block reads ({reads}): datdot seeder p50 {:.2} ms p99 {:.2} ms; JS → JS \
		 p50 {:.2} ms p99 {:.2} ms",
		latency.p50, latency.p99, js.latency_ms.p50, js.latency_ms.p99,
	);
}
