//! The node's attestor (design §6): for each open performance challenge naming one of the
//! node's providers as attestor, it reads the challenged blocks from the hoster's endpoint
//! over hypercore's replication protocol ([`crate::hypercore_wire::attestor`]), verifies them
//! against the chain's signed tree and the hoster's proof of contact, and writes the report
//! into the off-chain database, where the runtime's off-chain worker picks it up and signs
//! `report_performance` (see `pallet_datdot::offchain`). The database, rather than a host
//! function, carries it: the worker reads it in the same block, and the runtime stays free
//! of node-specific host calls (decision in docs/decisions.md).

use crate::hypercore_wire::attestor::{read_from_hoster, ReadRequest, Reading};
use codec::Encode as _;
use datdot_runtime::{AccountId, BlockNumber};
use pallet_datdot::{offchain::report_key, PerformanceDuty, PerformanceReport};
use sp_core::sr25519;
use sp_runtime::{traits::ConstU32, BoundedVec, MultiSignature};
use std::{
	collections::HashSet,
	sync::{Arc, Mutex},
	time::Duration,
};
use substrate_prometheus_endpoint::{Counter, U64};

/// Writes (`Some`) or deletes (`None`) a value of the off-chain database's persistent kind.
pub type ReportSink = Arc<dyn Fn(&[u8], Option<&[u8]>) + Send + Sync>;

/// A report as the node encodes it (the bound does not change the encoding; the runtime's
/// own bound is checked when the off-chain worker decodes it).
type Report = PerformanceReport<MultiSignature, ConstU32<64>>;

/// How long one read of a hoster may take: well inside the report window (10 blocks).
const READ_DEADLINE: Duration = Duration::from_secs(15);
/// A failed read is tried once more after this pause (a reconnecting hoster is not silent).
const RETRY_AFTER: Duration = Duration::from_secs(3);

/// The attestor's state: challenges being read and reports written.
pub struct Attestor {
	sink: ReportSink,
	/// Prometheus counters of reports made: served, silent.
	counters: Option<(Counter<U64>, Counter<U64>)>,
	/// Challenges being read now.
	running: Mutex<HashSet<u64>>,
	/// Challenges whose report is in the database (deleted when the challenge closes).
	written: Mutex<HashSet<u64>>,
}

impl Attestor {
	/// An attestor writing its reports through `sink`, counting them in `counters`
	/// (served, silent).
	pub fn new(sink: ReportSink, counters: Option<(Counter<U64>, Counter<U64>)>) -> Arc<Self> {
		let (running, written) = Default::default();
		Arc::new(Attestor { sink, counters, running, written })
	}

	/// Starts reading for every duty not started yet (each on its own task, via `spawn`),
	/// and deletes the reports of challenges that are no longer open.
	pub fn on_duties(
		self: &Arc<Self>,
		duties: Vec<PerformanceDuty<AccountId, BlockNumber>>,
		spawn: impl Fn(futures::future::BoxFuture<'static, ()>),
	) {
		let open: HashSet<u64> = duties.iter().map(|d| d.challenge).collect();
		{
			let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
			for closed in written.iter().filter(|c| !open.contains(c)) {
				(self.sink)(&report_key(*closed), None);
			}
			written.retain(|c| open.contains(c));
		}
		for duty in duties {
			let fresh = !self
				.written
				.lock()
				.unwrap_or_else(|e| e.into_inner())
				.contains(&duty.challenge)
				&& self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(duty.challenge);
			if !fresh {
				continue;
			}
			let this = self.clone();
			spawn(Box::pin(async move {
				let challenge = duty.challenge;
				let report = attest(&duty).await;
				if let Some((served, silent)) = &this.counters {
					match report {
						PerformanceReport::Served { .. } => served.inc(),
						PerformanceReport::NotServed => silent.inc(),
					}
				}
				(this.sink)(&report_key(challenge), Some(&report.encode()));
				this.written.lock().unwrap_or_else(|e| e.into_inner()).insert(challenge);
				this.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&challenge);
			}));
		}
	}
}

/// Reads the hoster of `duty` and makes the report: `Served` with its proof of contact, or
/// `NotServed` (after one retry) with the reason logged.
pub async fn attest(duty: &PerformanceDuty<AccountId, BlockNumber>) -> Report {
	let challenge = duty.challenge;
	let Some(endpoint) = duty.endpoint.as_ref().and_then(|e| String::from_utf8(e.clone()).ok())
	else {
		log::warn!(
			target: "datdot",
			"performance challenge {challenge}: hoster {} registered no endpoint; reporting it silent",
			duty.hoster
		);
		return PerformanceReport::NotServed;
	};
	let request = ReadRequest {
		key: duty.feed.auth.key,
		length: duty.feed.length,
		fork: duty.feed.fork,
		blocks: duty.blocks.clone(),
		challenge,
		attestor: duty.attestor.clone().into(),
		hoster: duty.hoster.clone().into(),
	};
	let verify = |index: u64, proof: &datdot_primitives::Proof| {
		crate::replica::check_block(&duty.feed, index, proof).map_err(|e| e.to_string())
	};
	let mut failure = String::new();
	for attempt in 0..2 {
		if attempt > 0 {
			tokio::time::sleep(RETRY_AFTER).await;
		}
		match read_from_hoster(&endpoint, &request, verify, READ_DEADLINE).await {
			Ok(reading) => match served(&request, duty.hoster_duty_key.as_ref(), reading) {
				Ok(report) => {
					log::info!(
						target: "datdot",
						"performance challenge {challenge}: {} blocks from {endpoint} verified",
						request.blocks.len(),
					);
					return report;
				}
				Err(e) => failure = e,
			},
			Err(e) => failure = e.to_string(),
		}
	}
	log::warn!(
		target: "datdot",
		"performance challenge {challenge}: hoster {} at {endpoint} did not serve ({failure}); \
		 reporting it silent",
		duty.hoster
	);
	PerformanceReport::NotServed
}

/// The `Served` report of `reading`, once the signature by the hoster's duty key checks out
/// (a report the chain would refuse is no report).
fn served(
	request: &ReadRequest,
	duty_key: Option<&AccountId>,
	reading: Reading,
) -> Result<Report, String> {
	let message =
		crate::serving::contact_message(request.challenge, request.attestor, &reading.hashes);
	let duty_key = duty_key.ok_or("the hoster has no duty key on chain")?;
	let public = sr25519::Public::from_raw(duty_key.clone().into());
	let signature = sr25519::Signature::from_raw(reading.signature);
	if !sp_io::crypto::sr25519_verify(&signature, &message, &public) {
		return Err("the proof of contact is not signed by the hoster's duty key".into());
	}
	let hashes = BoundedVec::try_from(reading.hashes).map_err(|_| "too many blocks")?;
	Ok(PerformanceReport::Served {
		latency_ms: reading.latency_ms,
		hashes,
		contact: MultiSignature::Sr25519(signature),
	})
}
