//! Performance challenges (design §6): who is drawn to attest, what a report must prove,
//! and that one attestor alone can neither fault a hoster nor be paid for a forged contact.

use super::*;
use crate::types::{contact_message, LatencyGrade, PerformanceOutcome, PerformanceReport};
use frame::deps::sp_runtime::testing::TestSignature;

type Report = PerformanceReport<TestSignature, ConstU32<PERFORMANCE_BLOCKS>>;

/// Sets the performance period (storage challenges off, so pauses are always allowed).
fn performance_period(period: u32) {
	let timing = Timing {
		challenge_period: u32::MAX,
		offline_grace: OFFLINE_GRACE,
		performance_period: period,
		setup_blocks: SETUP_BLOCKS,
	};
	assert_ok!(Datdot::set_timing(RuntimeOrigin::root(), Some(timing)));
}

/// An active network of 8 providers (8 blocks, 2 contracts, 2 replicas each) with one
/// block of performance challenges issued; returns the first challenge issued.
fn one_challenge() -> (u64, crate::PerformanceChallengeOf<Test>) {
	active_network(8, 8, 2);
	performance_period(1);
	run_to_block(System::block_number() + 1);
	performance_period(u32::MAX);
	PerformanceChallenges::<Test>::iter().min_by_key(|(id, _)| *id).expect("one issued")
}

/// The report an honest attestor sends: the leaf hashes it read and the hoster's signature.
fn served(id: u64, ch: &crate::PerformanceChallengeOf<Test>, latency_ms: u32) -> Report {
	let hashes: BoundedVec<_, _> =
		ch.blocks.iter().map(|b| [*b as u8; 32]).collect::<Vec<_>>().try_into().unwrap();
	let contact = TestSignature(duty_key(ch.hoster), contact_message(id, &ch.attestor, &hashes));
	PerformanceReport::Served { latency_ms, hashes, contact }
}

fn outcome(id: u64) -> Option<PerformanceOutcome> {
	events().iter().find_map(|e| match e {
		Event::PerformanceReported { challenge, outcome, .. } if *challenge == id => Some(*outcome),
		_ => None,
	})
}

fn recheck_of(
	first: &crate::PerformanceChallengeOf<Test>,
) -> (u64, crate::PerformanceChallengeOf<Test>) {
	PerformanceChallenges::<Test>::iter()
		.find(|(_, c)| c.recheck && c.hoster == first.hoster)
		.expect("a recheck was issued")
}

#[test]
fn attestors_neither_host_nor_sponsor_the_contract_and_read_its_blocks() {
	run(|| {
		active_network(8, 8, 2);
		performance_period(1);
		run_to_block(System::block_number() + 3);
		let issued: Vec<_> = PerformanceChallenges::<Test>::iter().collect();
		assert!(!issued.is_empty());
		for (_, ch) in issued {
			let contract = Contracts::<Test>::get(ch.replica.contract).unwrap();
			assert_ne!(ch.attestor, contract.sponsor);
			for r in 0..contract.replicas * 2 {
				if let Some(other) = Replicas::<Test>::get(ch.replica.contract, r) {
					assert_ne!(ch.attestor, other.hoster, "a hoster of the contract attests it");
				}
			}
			assert_eq!(
				Replicas::<Test>::get(ch.replica.contract, ch.replica.replica).unwrap().hoster,
				ch.hoster
			);
			assert_eq!(ch.blocks.len() as u32, PERFORMANCE_BLOCKS);
			assert!(ch
				.blocks
				.iter()
				.all(|b| contract.blocks.start <= *b && *b < contract.blocks.end));
			assert!(!ch.recheck);
		}
	});
}

#[test]
fn no_challenges_while_the_period_is_off() {
	run(|| {
		active_network(8, 8, 2);
		run_to_block(System::block_number() + 20);
		assert_eq!(PerformanceChallenges::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_served_report_with_the_hosters_contact_is_graded_and_paid() {
	run(|| {
		let (id, ch) = one_challenge();
		let before = Balances::balance(&ch.attestor);
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(ch.attestor),
			id,
			served(id, &ch, 1_200)
		));
		assert_eq!(outcome(id), Some(PerformanceOutcome::Served(LatencyGrade::Good)));
		assert_eq!(ServingRecords::<Test>::get(ch.hoster).good, 1, "spot checks report fast");
		assert_eq!(Balances::balance(&ch.attestor), before + ATTESTATION_FEE);
		assert!(PerformanceChallenges::<Test>::get(id).is_none());
		assert!(!PerformanceDue::<Test>::get(ch.due).contains(&id));
		assert_eq!(Providers::<Test>::get(ch.hoster).unwrap().faults, 0);
		// Reported once only.
		assert_noop!(
			Datdot::report_performance(RuntimeOrigin::signed(ch.attestor), id, served(id, &ch, 1)),
			Error::<Test>::UnknownPerformanceChallenge
		);
	});
}

#[test]
fn latency_is_graded_into_buckets() {
	assert_eq!(LatencyGrade::of(0), LatencyGrade::Fast);
	assert_eq!(LatencyGrade::of(500), LatencyGrade::Fast);
	assert_eq!(LatencyGrade::of(501), LatencyGrade::Good);
	assert_eq!(LatencyGrade::of(2_000), LatencyGrade::Good);
	assert_eq!(LatencyGrade::of(2_001), LatencyGrade::Slow);
}

#[test]
fn forged_or_misdirected_reports_are_refused_and_change_nothing() {
	run(|| {
		let (id, ch) = one_challenge();
		let honest = served(id, &ch, 10);
		let PerformanceReport::Served { hashes, .. } = honest.clone() else { unreachable!() };
		// Signed by the attestor itself, not the hoster.
		let forged = PerformanceReport::Served {
			latency_ms: 10,
			hashes: hashes.clone(),
			contact: TestSignature(ch.attestor, contact_message(id, &ch.attestor, &hashes)),
		};
		assert_noop!(
			Datdot::report_performance(RuntimeOrigin::signed(ch.attestor), id, forged),
			Error::<Test>::InvalidProofOfContact
		);
		// The hoster's signature, but for other blocks than those reported.
		let other: BoundedVec<_, _> =
			vec![[0xee; 32]; PERFORMANCE_BLOCKS as usize].try_into().unwrap();
		let replayed = PerformanceReport::Served {
			latency_ms: 10,
			hashes: other,
			contact: TestSignature(duty_key(ch.hoster), contact_message(id, &ch.attestor, &hashes)),
		};
		assert_noop!(
			Datdot::report_performance(RuntimeOrigin::signed(ch.attestor), id, replayed),
			Error::<Test>::InvalidProofOfContact
		);
		// The hoster's signature for another challenge.
		let stale = PerformanceReport::Served {
			latency_ms: 10,
			hashes: hashes.clone(),
			contact: TestSignature(
				duty_key(ch.hoster),
				contact_message(id + 1, &ch.attestor, &hashes),
			),
		};
		assert_noop!(
			Datdot::report_performance(RuntimeOrigin::signed(ch.attestor), id, stale),
			Error::<Test>::InvalidProofOfContact
		);
		let short: BoundedVec<_, _> = hashes[..1].to_vec().try_into().unwrap();
		let truncated = PerformanceReport::Served {
			latency_ms: 10,
			contact: TestSignature(duty_key(ch.hoster), contact_message(id, &ch.attestor, &short)),
			hashes: short,
		};
		assert_noop!(
			Datdot::report_performance(RuntimeOrigin::signed(ch.attestor), id, truncated),
			Error::<Test>::ContactDoesNotMatchChallenge
		);
		// Another provider may not report, not even the hoster about itself.
		assert_noop!(
			Datdot::report_performance(RuntimeOrigin::signed(ch.hoster), id, honest.clone()),
			Error::<Test>::NotChallengeAttestor
		);
		assert_noop!(
			Datdot::report_performance(
				RuntimeOrigin::signed(ch.attestor),
				id + 100,
				honest.clone()
			),
			Error::<Test>::UnknownPerformanceChallenge
		);
		// The honest report still goes through.
		assert_ok!(Datdot::report_performance(RuntimeOrigin::signed(ch.attestor), id, honest));
	});
}

#[test]
fn one_silent_report_asks_a_second_attestor_and_only_its_silence_faults() {
	run(|| {
		let (id, ch) = one_challenge();
		let deposit = Providers::<Test>::get(ch.hoster).unwrap().deposit;
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(ch.attestor),
			id,
			PerformanceReport::NotServed
		));
		assert_eq!(outcome(id), Some(PerformanceOutcome::Rechecking));
		let hoster = Providers::<Test>::get(ch.hoster).unwrap();
		assert_eq!((hoster.faults, hoster.deposit), (0, deposit), "one attestor faults nobody");
		let (second, recheck) = recheck_of(&ch);
		assert_ne!(recheck.attestor, ch.attestor, "the second opinion is another attestor's");
		assert_eq!(recheck.replica, ch.replica);
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(recheck.attestor),
			second,
			PerformanceReport::NotServed
		));
		assert_eq!(outcome(second), Some(PerformanceOutcome::Faulted));
		let hoster = Providers::<Test>::get(ch.hoster).unwrap();
		assert_eq!((hoster.faults, hoster.deposit), (1, deposit - SLASH));
		assert_eq!(ServingRecords::<Test>::get(ch.hoster).not_served, 2);
	});
}

#[test]
fn a_served_recheck_clears_the_hoster() {
	run(|| {
		let (id, ch) = one_challenge();
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(ch.attestor),
			id,
			PerformanceReport::NotServed
		));
		let (second, recheck) = recheck_of(&ch);
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(recheck.attestor),
			second,
			served(second, &recheck, 100)
		));
		assert_eq!(outcome(second), Some(PerformanceOutcome::Served(LatencyGrade::Fast)));
		assert_eq!(Providers::<Test>::get(ch.hoster).unwrap().faults, 0);
	});
}

#[test]
fn a_hoster_that_paused_since_is_not_faulted_for_silence() {
	run(|| {
		let (id, ch) = one_challenge();
		let until = System::block_number() + 50;
		assert_ok!(Datdot::pause(RuntimeOrigin::signed(ch.hoster), until));
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(ch.attestor),
			id,
			PerformanceReport::NotServed
		));
		assert_eq!(outcome(id), Some(PerformanceOutcome::Unconfirmed));
		assert!(PerformanceChallenges::<Test>::iter().all(|(_, c)| !c.recheck));
		assert_eq!(Providers::<Test>::get(ch.hoster).unwrap().faults, 0);
	});
}

#[test]
fn an_attestor_that_does_not_report_gets_a_strike() {
	run(|| {
		let (id, ch) = one_challenge();
		let strikes = |who| {
			Providers::<Test>::get(who)
				.unwrap()
				.recent_strikes
				.current(System::block_number(), FAULT_WINDOW)
		};
		assert_eq!(strikes(ch.attestor), 0);
		run_to_block(ch.due);
		assert!(PerformanceChallenges::<Test>::get(id).is_some(), "open until its due block");
		run_to_block(ch.due + 1);
		assert!(PerformanceChallenges::<Test>::get(id).is_none());
		assert!(events().iter().any(|e| matches!(
			e,
			Event::PerformanceReportMissed { challenge, attestor } if *challenge == id && *attestor == ch.attestor
		)));
		assert!(strikes(ch.attestor) >= 1);
		assert_eq!(Providers::<Test>::get(ch.hoster).unwrap().faults, 0);
	});
}

#[test]
fn a_departed_providers_serving_record_goes_with_it() {
	run(|| {
		let (id, ch) = one_challenge();
		let before = ServingRecords::<Test>::get(ch.hoster).fast;
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(ch.attestor),
			id,
			served(id, &ch, 10)
		));
		assert_eq!(ServingRecords::<Test>::get(ch.hoster).fast, before + 1);
		assert_ok!(Datdot::force_unregister(RuntimeOrigin::root(), ch.hoster));
		// try_state (run by `run`) checks no record outlives its provider once it is gone.
	});
}

#[test]
fn a_new_replica_is_spot_checked_by_the_attestor_drawn_with_it() {
	run(|| {
		let w = publish_network(8, 8, 2, 100_000);
		let mut encoded = BTreeMap::new();
		run_to_block(System::block_number() + 1);
		confirm_all(&w, &mut encoded);
		assert_eq!(encoded.len(), 4, "every replica drawn and active in one block");
		let checks: Vec<_> = PerformanceChallenges::<Test>::iter().map(|(_, ch)| ch).collect();
		assert_eq!(checks.len(), encoded.len(), "one spot check per activated replica");
		for ch in checks {
			let replica = Replicas::<Test>::get(ch.replica.contract, ch.replica.replica).unwrap();
			assert_eq!(ch.hoster, replica.hoster);
			assert!(!ch.recheck);
			let contract_hosters: Vec<_> = (0..4)
				.filter_map(|r| Replicas::<Test>::get(ch.replica.contract, r))
				.map(|r| r.hoster)
				.collect();
			assert!(!contract_hosters.contains(&ch.attestor));
			// Its own attestor, unless that one hosts another copy of the contract.
			if !contract_hosters.contains(&replica.attestor) {
				assert_eq!(ch.attestor, replica.attestor);
			}
		}
	});
}

#[test]
fn a_hoster_has_one_performance_challenge_at_a_time() {
	run(|| {
		active_network(8, 8, 2);
		performance_period(1);
		run_to_block(System::block_number() + 4);
		let mut open = BTreeMap::<AccountId, u32>::new();
		for (id, ch) in PerformanceChallenges::<Test>::iter() {
			*open.entry(ch.hoster).or_default() += 1;
			assert_eq!(OpenPerformance::<Test>::get(ch.hoster), Some(id));
		}
		assert!(!open.is_empty());
		assert!(open.values().all(|n| *n == 1), "{open:?}");
		// Reported, the hoster can be challenged again.
		let (id, ch) = PerformanceChallenges::<Test>::iter().next().unwrap();
		assert_ok!(Datdot::report_performance(
			RuntimeOrigin::signed(ch.attestor),
			id,
			served(id, &ch, 10)
		));
		assert_eq!(OpenPerformance::<Test>::get(ch.hoster), None);
	});
}
